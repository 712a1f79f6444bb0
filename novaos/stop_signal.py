"""The first stop signal a serving process gets, however early it comes.

The stop signals are SIGTERM, SIGINT (Ctrl-C), SIGHUP (the terminal closed, ``docker
kill -s HUP``) and SIGQUIT (Ctrl-\\): each drains as SIGTERM does. Left to their
defaults, SIGHUP and SIGQUIT ended the process at once: open streams cut without
their terminal event, audit records still queued lost, and a supervisor's metrics
directory left behind. ``scripts/run_dev.py`` stops on the same four.

A stop signal other than SIGTERM that was ignored when the process started stays
ignored, as shells and Python's own SIGINT handler do: ``nohup novaos serve &``
ignores SIGHUP (the terminal hanging up at logout), and a non-interactive shell's
background job SIGINT and SIGQUIT. The supervisor then leaves it ignored too, and its
workers inherit that. SIGTERM is always taken: it is how an orchestrator asks for the
drain.

``novaos serve`` installs it before anything else, so a signal during start-up
(about 5 s: imports, the shield model, an audit database that does not answer)
ends start-up cleanly instead of killing the process by the signal (exit 143),
or raising KeyboardInterrupt into a half-built event loop. While the event loop
runs, ``routed_through(loop)`` makes the signals loop callbacks, and hands them
back to this object's own handler before the loop closes.

A second stop signal stops at once (``stop_now``): Ctrl-C again, or Ctrl-\\, during a
drain that waits on open streams for ``SHUTDOWN_GRACE_S``. Not a SIGTERM or a SIGHUP:
an orchestrator or process manager that repeats its stop request, or a session that
ends after ``kill <pid>`` (systemd's ``SendSIGHUP``), still gets the drain it asked for
(a SIGKILL comes after the grace). A worker does not count the
supervisor's SIGTERM (a second signal makes the supervisor kill it): beside a signal to
the whole process group (a terminal's Ctrl-C reaches every process in it) it is the
same stop, asked twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as shells report a Ctrl-C
# The second signals that stop at once: a person at the terminal asking again.
_ESCALATING = (signal.SIGINT, signal.SIGQUIT)


def _taken_signals() -> tuple[signal.Signals, ...]:
    """The stop signals this process handles: not those ignored as it started."""
    return tuple(
        sig
        for sig in STOP_SIGNALS
        if sig == signal.SIGTERM or signal.getsignal(sig) is not signal.SIG_IGN
    )


@dataclass
class StopSignal:
    received: int | None = None  # the first signal's number
    _listeners: list[Callable[[], None]] = field(default_factory=list)
    # Read when made: ``novaos serve`` makes it before anything changes a handler.
    taken: tuple[signal.Signals, ...] = field(default_factory=_taken_signals)
    worker: bool = False  # a supervisor's worker: its SIGTERM may repeat a group's signal
    who: int | None = None  # the worker's index, named in its line
    # What a second signal does; the supervisor stops its workers instead.
    stop_now: Callable[[int], None] | None = None
    _group_signals: int = 0  # a worker's stop signals other than SIGTERM

    def install(self) -> None:
        """Take the stop signals over from their defaults (death, KeyboardInterrupt)."""
        for sig in self.taken:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.note(signum)

    def note(self, signum: int) -> None:
        first = self.received is None
        if first:
            self.received = signum
        for listener in self._listeners:
            listener()
        if self.worker:
            # Its supervisor's SIGTERM and a signal to the whole group come in either
            # order (each may reach a different thread): only a second signal of
            # the group's stops it now.
            if signum == signal.SIGTERM:
                return
            self._group_signals += 1
            first = self._group_signals == 1
        if not first and signum in _ESCALATING:
            (self.stop_now or self._exit_now)(signum)

    def _exit_now(self, signum: int) -> None:
        """End the process at once: open streams are cut, as by the signal's default."""
        who = "novaos: " if self.who is None else f"novaos: worker {self.who} "
        # One raw write: this may run inside a write to stdout, whose buffer refuses
        # a reentrant call.
        with contextlib.suppress(OSError, ValueError):
            os.write(sys.stdout.fileno(), f"{who}second signal; stopping now\n".encode())
        os._exit(128 + signum)

    @contextmanager
    def routed_through(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        """Signals as ``loop`` callbacks while inside; this object's own handler after.

        Handed back before the loop closes: ``loop.close()`` closes the socket the
        signal module writes a signal's byte to before it removes its handlers, so a
        signal in that window (a supervisor's SIGTERM after the group's Ctrl-C)
        printed "Exception ignored ... Bad file descriptor", and one after it met
        the default handler (death by the signal, or KeyboardInterrupt).
        """
        for sig in self.taken:
            loop.add_signal_handler(sig, self.note, sig)
        try:
            yield
        finally:
            # Blocked while they change hands: one arriving in between waits, then
            # reaches this object's handler instead of the default.
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            try:
                for sig in self.taken:
                    loop.remove_signal_handler(sig)  # the last one unsets the wakeup fd
                self.install()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def on_signal(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` at every signal from now on; at once if one came already."""
        self._listeners.append(listener)
        if self.received is not None:
            listener()

    @property
    def startup_exit_code(self) -> int:
        """A process stopped before it served: 0 for SIGTERM, SIGHUP or SIGQUIT (the
        stop that was asked for), 130 for SIGINT (interrupted)."""
        return EXIT_INTERRUPTED if self.received == signal.SIGINT else 0
