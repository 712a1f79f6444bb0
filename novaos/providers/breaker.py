"""A circuit breaker per provider: closed -> open -> half-open -> closed.

Closed counts consecutive failures; at the threshold it opens and refuses calls
for the reset timeout. Then exactly one probe is let through (half-open): its
success closes the breaker, its failure re-opens it for another full timeout.
Every admitted call holds a ``Permit`` that says whether it is that probe, so
a call let through before the breaker opened (an LLM stream can outlive the
reset timeout) can neither free the probe's slot nor re-open the breaker
over it when it ends. The clock is injected so tests step time instead of
sleeping.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

from novaos.ports import CircuitInfo


class CircuitState(enum.IntEnum):
    """Values of the ``circuit_breaker_state`` gauge (the guide: open = 1)."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


Clock = Callable[[], float]
StateListener = Callable[[str, CircuitState], None]

# While the probe is out the breaker cannot say when it will close; callers are
# told to come back after this long rather than "now" (a RetryInfo of zero).
PROBE_WAIT_S = 1.0


@dataclass(frozen=True, slots=True)
class Permit:
    """One admitted call; hand it back with its verdict (or ``release``)."""

    probe: bool = False


_CALL = Permit()
_PROBE = Permit(probe=True)


class CircuitBreaker:
    """Not thread-safe: one event loop owns it (no awaits inside, so no races)."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        reset_timeout_s: float = 30.0,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        on_change: StateListener | None = None,
    ) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._wall = wall_clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_out = False

    @property
    def state(self) -> CircuitState:
        """Current state; an open breaker whose timeout passed reports half-open."""
        if self._state is CircuitState.OPEN and self._clock() >= self._retry_at():
            self._set(CircuitState.HALF_OPEN)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def seconds_until_retry(self) -> float:
        state = self.state
        if state is CircuitState.HALF_OPEN and self._probe_out:
            return min(PROBE_WAIT_S, self._reset_timeout_s)
        if state is not CircuitState.OPEN:
            return 0.0
        return max(self._retry_at() - self._clock(), 0.0)

    def try_acquire(self) -> Permit | None:
        """May a call go out now? In half-open only the first caller gets the probe."""
        state = self.state
        if state is CircuitState.CLOSED:
            return _CALL
        if state is CircuitState.HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return _PROBE
        return None

    def record_success(self, permit: Permit) -> None:
        """Any success closes the breaker: the provider answers."""
        self._failures = 0
        if permit.probe:
            self._probe_out = False
        self._set(CircuitState.CLOSED)

    def record_failure(self, permit: Permit) -> None:
        self._failures += 1
        if permit.probe:
            self._probe_out = False
            if self._state is CircuitState.HALF_OPEN:
                self._open()
                return
        if self._state is CircuitState.CLOSED and self._failures >= self._threshold:
            self._open()

    def release(self, permit: Permit) -> None:
        """The call ended without a verdict (cancelled, request error): a probe frees its slot."""
        if permit.probe:
            self._probe_out = False

    def reset(self) -> None:
        """Admin action: close a stuck breaker."""
        self._failures = 0
        self._probe_out = False
        self._set(CircuitState.CLOSED)

    def info(self) -> CircuitInfo:
        state = self.state
        retry_at_unix = 0.0
        if state is CircuitState.OPEN:
            retry_at_unix = self._wall() + self.seconds_until_retry()
        return CircuitInfo(
            provider=self.name,
            state=int(state),
            consecutive_failures=self._failures,
            retry_at_unix=retry_at_unix,
        )

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._set(CircuitState.OPEN)

    def _retry_at(self) -> float:
        return self._opened_at + self._reset_timeout_s

    def _set(self, state: CircuitState) -> None:
        if state is self._state:
            return
        self._state = state
        if self._on_change is not None:
            self._on_change(self.name, state)
