"""The stop signals change hands from the event loop back to StopSignal before
the loop closes (which closes the socket the signal module writes to)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest

from novaos.stop_signal import STOP_SIGNALS, StopSignal


@pytest.fixture
def restored_signals() -> Iterator[None]:
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    yield
    for sig, handler in before.items():
        signal.signal(sig, handler)


def test_signals_come_back_to_stop_signal_before_the_loop_closes(restored_signals: None) -> None:
    seen: list[str] = []
    stop = StopSignal(stop_now=lambda _sig: seen.append("now"))  # not the real exit
    stop.install()

    async def serve() -> None:
        with stop.routed_through(asyncio.get_running_loop()):
            stop.on_signal(lambda: seen.append("inside"))
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100):  # the loop runs it as a callback
                if seen:
                    break
                await asyncio.sleep(0)
        # handed back while the loop still runs: no wakeup fd left for close() to break
        assert signal.set_wakeup_fd(-1) == -1

    asyncio.run(serve())
    assert seen == ["inside"] and stop.received == signal.SIGTERM
    for sig in STOP_SIGNALS:  # not the default: no death by the signal, no KeyboardInterrupt
        assert signal.getsignal(sig) == stop._handle
    os.kill(os.getpid(), signal.SIGINT)  # after the loop: noted, not raised
    assert seen == ["inside", "inside", "now"]  # the second signal


def test_a_second_signal_stops_now_but_not_a_repeated_sigterm() -> None:
    now: list[int] = []
    single = StopSignal(stop_now=now.append)
    single.note(signal.SIGTERM)
    assert now == []  # the first drains
    single.note(signal.SIGTERM)  # an orchestrator asking again: still the drain
    single.note(signal.SIGHUP)  # the session that sent it ending
    assert now == []
    single.note(signal.SIGINT)
    assert now == [signal.SIGINT]
    # A worker's first signal reached its whole group (Ctrl-C); the supervisor's
    # SIGTERM that follows asks for the same stop. The next Ctrl-C is a second one.
    # They come in either order.
    for order in ((signal.SIGINT, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT)):
        now.clear()
        worker = StopSignal(worker=True, stop_now=now.append)
        for sig in order:
            worker.note(sig)
        assert now == [] and worker.received == order[0]
        worker.note(signal.SIGQUIT)  # Ctrl-\ to the group
        assert now == [signal.SIGQUIT]
