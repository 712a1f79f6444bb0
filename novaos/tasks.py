"""Stopping a task for certain; starting one that outlives the request it came from.

A cancel can be lost: on Python 3.11 ``asyncio.wait_for``, which redis-py sends
every command through, returns its inner result instead of raising when the
cancel and that result come at once. The task then runs on with its cancel
used up; a caller that waits for it to end can wait for good (a stream that
never ends, a lease refreshed forever).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# How long cancelled tasks may take to clean up before those still running are
# cancelled again: long enough for an upstream call's close on a busy loop.
AGAIN_AFTER_S = 1.0


async def cancel_and_wait(
    *tasks: asyncio.Future[Any], again_after_s: float = AGAIN_AFTER_S
) -> None:
    """Cancel ``tasks`` and wait until all have ended, cancelling those still
    running again every ``again_after_s``. All are cancelled before the first
    wait, so a cancel of the caller leaves none uncancelled. Their own errors or
    cancels are not raised here; a cancel of the caller is."""
    running = {task for task in tasks if not task.done()}
    while running:
        for task in running:
            task.cancel()
        _, running = await asyncio.wait(running, timeout=again_after_s)


def detached(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """A task for the process (a reconnect loop, retries for many requests) that a
    request may happen to start: it runs in a context of its own, not a copy of the
    request's, so what it logs later does not name that request
    (``novaos.observability.logging.bind_request_id``)."""
    return asyncio.create_task(coro, name=name, context=contextvars.Context())
