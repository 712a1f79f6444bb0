"""The first SIGTERM or SIGINT a serving process gets, however early it comes.

``novaos serve`` installs it before anything else, so a signal during start-up
(about 5 s: imports, the shield model, an audit database that does not answer)
ends start-up cleanly instead of killing the process by the signal (exit 143),
or raising KeyboardInterrupt into a half-built event loop. Inside the event loop
the signals are routed through the loop (``loop.add_signal_handler(sig,
stop.note, sig)``) so listeners run as loop callbacks.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as shells report a Ctrl-C


@dataclass
class StopSignal:
    received: int | None = None  # the first signal's number
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def install(self) -> None:
        """Take over SIGTERM and SIGINT from their defaults (death, KeyboardInterrupt)."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.note(signum)

    def note(self, signum: int) -> None:
        if self.received is None:
            self.received = signum
        for listener in self._listeners:
            listener()

    def on_signal(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` at every signal from now on; at once if one came already."""
        self._listeners.append(listener)
        if self.received is not None:
            listener()

    @property
    def startup_exit_code(self) -> int:
        """A process stopped before it served: 0 for SIGTERM (the stop that was
        asked for), 130 for SIGINT (interrupted)."""
        return EXIT_INTERRUPTED if self.received == signal.SIGINT else 0
