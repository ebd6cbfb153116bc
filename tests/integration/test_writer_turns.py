"""Group-commit writers of one SQLite file in several processes (the HTTP processes of
``serve --workers N``, the journey engine) take turns on the file's lock: what reaches a
writer while it waits for its turn is committed with the group it is about to write, sharing
its fsync, not in one more commit after it."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from tests.contract.conftest import message
from wayfare.store.sqlite.connection import migrate
from wayfare.store.sqlite.writer import SQLiteWriter, writers_lock_path

COMMITS: list[str] = []


class CountingCommits(sqlite3.Connection):
    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            COMMITS.append(sql)
        return super().execute(sql, *args)


def test_writes_that_come_while_another_process_commits_join_the_waiting_group(
    tmp_path: Path,
) -> None:
    db = tmp_path / "wayfare.sqlite3"
    migrate(db)
    COMMITS.clear()

    async def scenario() -> None:
        writer = SQLiteWriter(db, factory=CountingCommits)
        await writer.start()
        turns = os.open(writers_lock_path(db), os.O_RDWR)
        try:
            fcntl.flock(turns, fcntl.LOCK_EX)  # another process's writer is committing
            first = asyncio.create_task(writer.write([message("x-1", msg_id="m-1")]))
            deadline = time.monotonic() + 10
            while not (writer.pending and writer._queue.empty()):  # taken; waits its turn
                assert time.monotonic() < deadline, "the writer never took the first write"
                await asyncio.sleep(0.005)
            later = [
                asyncio.create_task(writer.write([message(f"x-{n}", msg_id=f"m-{n}")]))
                for n in (2, 3)
            ]
            await asyncio.sleep(0)  # handed over while the lock is still held
            fcntl.flock(turns, fcntl.LOCK_UN)
            outcomes = await asyncio.gather(first, *later)
        finally:
            os.close(turns)
            await writer.stop()
        assert [o[0].xaction_id for o in outcomes] == ["x-1", "x-2", "x-3"]

    asyncio.run(scenario())
    assert len(COMMITS) == 1
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM records").fetchone() == (3,)
