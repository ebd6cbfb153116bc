"""Ending asyncio tasks that run loops: cancelled until they have ended.

A single ``task.cancel()`` can be lost on Python 3.11: ``asyncio.wait_for`` (which nats-py's
requests and some of Wayfare's own waits use) returns what it awaited, and drops the
cancellation, when the cancellation arrives as that completes. A loop cancelled once at that
moment runs on, and whoever awaited its end (a worker stopping on SIGTERM) waits for good.
"""

from __future__ import annotations

import asyncio
from typing import Any

RECANCEL_SECONDS = 0.5
"""How long a cancelled task has to end before it is cancelled again."""


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel ``tasks`` (None stands for no task) and return once each has ended, cancelling
    again every ``RECANCEL_SECONDS`` what runs on. Their exceptions are taken (not raised)."""
    for task in tasks:
        if task is None:
            continue
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=RECANCEL_SECONDS)
        if not task.cancelled():
            task.exception()
