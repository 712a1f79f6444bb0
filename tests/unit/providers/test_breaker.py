"""Circuit breaker state machine with a stepped clock (no sleeping)."""

from __future__ import annotations

from novaos.providers.breaker import PROBE_WAIT_S, CircuitBreaker, CircuitState, Permit


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


def admitted(breaker: CircuitBreaker) -> Permit:
    permit = breaker.try_acquire()
    assert permit is not None, "the breaker refused the call"
    return permit


def fail_times(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        breaker.record_failure(admitted(breaker))


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
    breaker.record_success(admitted(breaker))
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
    breaker.record_success(admitted(breaker))
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
    breaker.record_failure(admitted(breaker))
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
    breaker.release(admitted(breaker))
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.try_acquire()


def _probe_out_with_a_stale_call() -> tuple[CircuitBreaker, Permit, Permit]:
    """A call let through while closed, then the opening, then the probe out."""
    clock = StepClock()
    breaker = make(clock, [])
    old = admitted(breaker)
    fail_times(breaker, 3)
    clock.now += 30
    return breaker, old, admitted(breaker)


def test_a_call_from_before_the_opening_cannot_free_the_probe_slot() -> None:
    # LLM streams outlive the reset timeout: a call let through while closed may
    # end (cancelled, a 4xx) while the probe is out. Only the probe frees its slot.
    breaker, old, probe = _probe_out_with_a_stale_call()
    breaker.release(old)
    assert breaker.try_acquire() is None, "a second probe while the first is out"
    breaker.release(probe)
    assert breaker.try_acquire() is not None


def test_a_call_from_before_the_opening_cannot_reopen_over_the_probe() -> None:
    breaker, old, probe = _probe_out_with_a_stale_call()
    breaker.record_failure(old)  # the stale call's verdict, while the probe is out
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.record_success(probe)
    assert breaker.state is CircuitState.CLOSED


def test_a_stale_failure_does_not_extend_an_open_breaker() -> None:
    clock = StepClock()
    breaker = make(clock, [])
    old = admitted(breaker)
    fail_times(breaker, 3)
    clock.now += 20
    breaker.record_failure(old)
    clock.now += 10
    assert breaker.state is CircuitState.HALF_OPEN


def test_while_the_probe_is_out_callers_are_told_to_wait_not_retry_at_once() -> None:
    clock = StepClock()
    breaker = make(clock, [])
    fail_times(breaker, 3)
    assert breaker.seconds_until_retry() == 30.0
    clock.now += 30
    assert breaker.seconds_until_retry() == 0.0  # the probe slot is free: come now
    admitted(breaker)
    assert breaker.try_acquire() is None
    assert breaker.seconds_until_retry() == PROBE_WAIT_S > 0


def test_admin_reset_closes_an_open_breaker() -> None:
    breaker = make(StepClock(), [])
    fail_times(breaker, 3)
    breaker.reset()
    info = breaker.info()
    assert (info.state, info.consecutive_failures, info.retry_at_unix) == (0, 0, 0.0)
