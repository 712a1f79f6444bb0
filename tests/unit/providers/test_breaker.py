"""Circuit breaker state machine with a stepped clock (no sleeping)."""

from __future__ import annotations

from novaos.providers.breaker import CircuitBreaker, CircuitState


class StepClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(clock: StepClock, changes: list[tuple[str, CircuitState]]) -> CircuitBreaker:
    return CircuitBreaker(
        "openai",
        failure_threshold=3,
        reset_timeout_s=30.0,
        clock=clock,
        wall_clock=lambda: 5_000.0 + clock.now,
        on_change=lambda name, state: changes.append((name, state)),
    )


def fail_times(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        assert breaker.try_acquire()
        breaker.record_failure()


def test_opens_after_three_consecutive_failures() -> None:
    clock, changes = StepClock(), []
    breaker = make(clock, changes)
    fail_times(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    fail_times(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    assert not breaker.try_acquire()
    assert changes == [("openai", CircuitState.OPEN)]
    info = breaker.info()
    assert (info.state, info.consecutive_failures) == (1, 3)
    assert info.retry_at_unix == 5_000.0 + 1000.0 + 30.0


def test_success_resets_the_consecutive_count() -> None:
    breaker = make(StepClock(), [])
    fail_times(breaker, 2)
    assert breaker.try_acquire()
    breaker.record_success()
    fail_times(breaker, 2)
    assert breaker.state is CircuitState.CLOSED


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = StepClock()
    breaker = make(clock, [])
    fail_times(breaker, 3)
    clock.now += 29.999
    assert not breaker.try_acquire()
    clock.now += 0.001
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.try_acquire()
    assert not breaker.try_acquire(), "a second caller must not probe concurrently"


def test_probe_success_closes() -> None:
    clock, changes = StepClock(), []
    breaker = make(clock, changes)
    fail_times(breaker, 3)
    clock.now += 30
    assert breaker.try_acquire()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.try_acquire() and breaker.try_acquire()
    assert [s for _, s in changes] == [
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.CLOSED,
    ]


def test_probe_failure_reopens_for_a_full_timeout() -> None:
    clock = StepClock()
    breaker = make(clock, [])
    fail_times(breaker, 3)
    clock.now += 30
    assert breaker.try_acquire()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now += 29
    assert not breaker.try_acquire()
    clock.now += 1
    assert breaker.try_acquire()


def test_released_probe_frees_the_slot_without_a_verdict() -> None:
    clock = StepClock()
    breaker = make(clock, [])
    fail_times(breaker, 3)
    clock.now += 30
    assert breaker.try_acquire()
    breaker.release()
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.try_acquire()


def test_admin_reset_closes_an_open_breaker() -> None:
    breaker = make(StepClock(), [])
    fail_times(breaker, 3)
    breaker.reset()
    info = breaker.info()
    assert (info.state, info.consecutive_failures, info.retry_at_unix) == (0, 0, 0.0)
