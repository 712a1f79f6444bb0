"""Stopping a task for certain.

A cancel can be lost: on Python 3.11 ``asyncio.wait_for``, which redis-py sends
every command through, returns its inner result instead of raising when the
cancel and that result come at once. The task then runs on with its cancel
used up; a caller that waits for it to end can wait for good (a stream that
never ends, a lease refreshed forever).
"""

from __future__ import annotations

import asyncio
from typing import Any

# How long a cancelled task may take to clean up before it is cancelled again.
AGAIN_AFTER_S = 0.05


async def cancel_and_wait(
    task: asyncio.Future[Any], *, again_after_s: float = AGAIN_AFTER_S
) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling it again every
    ``again_after_s`` while it runs on. Its own error or cancel is not raised
    here; a cancel of the caller is."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=again_after_s)
