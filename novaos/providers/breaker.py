"""A circuit breaker per provider: closed -> open -> half-open -> closed.

Closed counts consecutive failures; at the threshold it opens and refuses calls
for the reset timeout. Then exactly one probe is let through (half-open): its
success closes the breaker, its failure re-opens it for another full timeout.
The clock is injected so tests step time instead of sleeping.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from novaos.ports import CircuitInfo


class CircuitState(enum.IntEnum):
    """Values of the ``circuit_breaker_state`` gauge (the guide: open = 1)."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


Clock = Callable[[], float]
StateListener = Callable[[str, CircuitState], None]


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
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(self._retry_at() - self._clock(), 0.0)

    def try_acquire(self) -> bool:
        """May a call go out now? In half-open only the first caller gets the probe."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._probe_out = False
        self._set(CircuitState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        was_probe = self._state is CircuitState.HALF_OPEN
        self._probe_out = False
        if was_probe or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._set(CircuitState.OPEN)

    def release(self) -> None:
        """The call ended without a verdict (cancelled, request error): free the probe slot."""
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

    def _retry_at(self) -> float:
        return self._opened_at + self._reset_timeout_s

    def _set(self, state: CircuitState) -> None:
        if state is self._state:
            return
        self._state = state
        if self._on_change is not None:
            self._on_change(self.name, state)
