"""A live stream's events, relayed so the stream is never silent and can be stopped.

The pipeline may be busy without having anything to send: the output check holds
text until a sentence ends while a slow provider is still writing it. A sidecar
in front counts silence towards the client and cuts the stream. So the pipeline
runs in a task of its own and the relay waits for its next event at most
``keepalive_s``; when none came it yields a ``Keepalive`` instead.

``stop(reason)`` (a server shutting down, the stream's time limit) cancels the
pipeline, which stops the upstream call; the relay then ends and ``stopped`` is
set, and the caller sends the terminal event itself, saying ``reason``.

One task runs the whole pipeline: timers it opens across its own yields (the
provider's deadline and idle timers) belong to the task that entered them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from novaos.domain import ChatEvent, Completed, Keepalive
from novaos.tasks import cancel_and_wait


class _Stop:
    pass


@dataclass(frozen=True, slots=True)
class _End:
    error: BaseException | None


_STOP = _Stop()
KEEPALIVE = Keepalive()
# How far the pipeline may run ahead of a slow client (a few sentences). Waiting
# for the client after every event instead costs a task switch each way, ~10 us
# an event.
_AHEAD = 8


class EventPump:
    def __init__(self, events: AsyncGenerator[ChatEvent, None], keepalive_s: float) -> None:
        self._events = events
        self._keepalive_s = keepalive_s
        # Unbounded so that stop() and the end can always be queued; the pipeline
        # itself waits (``join``) once it is ``_AHEAD`` events ahead of the client.
        self._queue: asyncio.Queue[ChatEvent | _Stop | _End] = asyncio.Queue()
        self.stopped = False
        self.reason = ""  # why it was stopped (the first reason given)

    def stop(self, reason: str = "") -> None:
        """End the stream early: the pipeline is cancelled, ``stopped`` is set."""
        self.reason = self.reason or reason
        self._queue.put_nowait(_STOP)

    async def _run(self) -> None:
        # aclosing: cancelled while it waits for the client, the pipeline sits at a
        # yield; it must clean up now, not whenever it is garbage-collected.
        async with aclosing(self._events) as events:
            async for event in events:
                _stop_if_cancelled()
                self._queue.put_nowait(event)
                # Never parked after the terminal event: what follows it (the error
                # a truncated run raises) must reach the queue even if stop() comes.
                if self._queue.qsize() >= _AHEAD and not isinstance(event, Completed):
                    await self._queue.join()

    def _ended(self, task: asyncio.Task[None]) -> None:
        error = asyncio.CancelledError() if task.cancelled() else task.exception()
        self._queue.put_nowait(_End(error))

    async def relay(self) -> AsyncGenerator[ChatEvent, None]:
        """The pipeline's events with keepalives in its silences; raises what it raised."""
        task = asyncio.create_task(self._run(), name="chat-pipeline")
        task.add_done_callback(self._ended)
        try:
            while True:
                item = await self._next()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                if isinstance(item, _Stop):
                    await _cancel(task)
                    # What it produced before it stopped counts as released: send it
                    # (a terminal event among it means the run had finished), and
                    # raise what it raised before the stop (a truncation's error must
                    # not end the call OK).
                    failure: BaseException | None = None
                    while not self._queue.empty():
                        rest = self._queue.get_nowait()
                        if isinstance(rest, _End):
                            if not isinstance(rest.error, asyncio.CancelledError):
                                failure = rest.error
                        elif not isinstance(rest, _Stop):
                            yield rest
                    self.stopped = True
                    if failure is not None:
                        raise failure
                    return
                yield item
        finally:
            await _cancel(task)

    async def _next(self) -> ChatEvent | _Stop | _End:
        if not self._queue.empty():
            item = self._queue.get_nowait()
        else:
            try:
                async with asyncio.timeout(self._keepalive_s):
                    item = await self._queue.get()
            except TimeoutError:
                return KEEPALIVE
        self._queue.task_done()
        return item


def _stop_if_cancelled() -> None:
    """Raise a cancel this task was given but lost (see ``novaos.tasks``): at its
    next event, rather than when ``_cancel`` cancels it again."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _cancel(task: asyncio.Task[None]) -> None:
    # Its cleanup (the upstream call's close) runs now; a pipeline that lost its
    # cancel in a Redis call is cancelled again rather than waited for forever.
    await cancel_and_wait(task)
