"""What the contract suite writes messages through on PostgreSQL: ``store_messages``, which
the workers run in their commits (messages reach PostgreSQL through the NATS log, never
through a writer of the server's), here as a group commit like the embedded writer's.

Writes hand their messages over and await a future; one task takes everything waiting,
stores it with ``store_messages`` in one transaction on a pooled connection (in a worker
thread, off the event loop), commits, then resolves every future. It lives on the event
loop that started it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from wayfare.errors import StoreError
from wayfare.model.records import IncomingMessage, WriteOutcome
from wayfare.store.postgres.connection import Pool, store_errors
from wayfare.store.postgres.messages import store_messages

log = logging.getLogger(__name__)

_MAX_GROUP = 20_000

_Job = tuple[Sequence[IncomingMessage], "asyncio.Future[list[WriteOutcome]]"]


class PostgresWriter:
    """MessageWriter on PostgreSQL, over ``pool`` (which it does not close)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._queue: asyncio.Queue[_Job | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    async def start(self) -> None:
        if self._task is None:
            self._queue = asyncio.Queue()  # of this loop
            self._task = asyncio.create_task(self._run(self._queue), name="postgres-writer")

    async def stop(self) -> None:
        """Commit what was handed over before, then stop."""
        task, self._task = self._task, None
        if task is not None and self._queue is not None:
            self._queue.put_nowait(None)
            await task

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        if self._task is None or self._queue is None:
            raise StoreError("the writer is not running")
        future: asyncio.Future[list[WriteOutcome]] = asyncio.get_running_loop().create_future()
        count = len(messages)
        self._pending += count
        self._queue.put_nowait((messages, future))
        try:
            return await future
        finally:
            self._pending -= count

    async def _run(self, queue: asyncio.Queue[_Job | None]) -> None:
        stopping = False
        while not stopping:
            first = await queue.get()
            if first is None:
                break
            jobs = [first]
            size = len(first[0])
            while size < _MAX_GROUP and not queue.empty():
                item = queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                jobs.append(item)
                size += len(item[0])
            await self._commit_group(jobs)

    async def _commit_group(self, jobs: list[_Job]) -> None:
        # Nothing may escape: every waiter gets an answer, the loop goes on.
        messages = [m for batch, _ in jobs for m in batch]
        error: StoreError | None = None
        try:
            outcomes = await asyncio.to_thread(self._store, messages)
        except StoreError as exc:
            log.exception("group commit failed")
            error = exc
        except Exception as exc:
            log.exception("group commit failed")
            error = StoreError(f"the store failed: {exc}")
            error.__cause__ = exc
        if error is not None:
            for _, future in jobs:
                if not future.done():
                    future.set_exception(error)
            return
        start = 0
        for batch, future in jobs:
            if not future.done():  # its request may have gone
                future.set_result(outcomes[start : start + len(batch)])
            start += len(batch)

    def _store(self, messages: list[IncomingMessage]) -> list[WriteOutcome]:
        with store_errors(), self._pool.connection() as conn, conn.transaction():
            return store_messages(conn, messages)
