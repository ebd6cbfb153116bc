"""Group commit: one writer thread turns many concurrent writes into one SQLite transaction.

Requests hand their messages over and await a future; the writer drains everything waiting,
writes it in one transaction, commits (fsync), then resolves every future with one wake-up
per event loop. An HTTP 200 is sent only after that commit.

Other busy writers in the process hand their work over too (``run_in_transaction``), and
share each fsync. Group-commit writers in other processes on the same file (the journey
engine's, the other HTTP processes' of ``serve --workers N``) take turns on a file lock held
around each transaction: the one waiting wakes as soon as the other has committed, where
SQLite's own busy wait sleeps up to 100 ms between tries.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from wayfare.errors import StoreError
from wayfare.model.records import FirstMessage, IncomingMessage, WriteOutcome, repeat_of
from wayfare.observability.metrics import process_metrics
from wayfare.store.sqlite.connection import connect, roll_back, store_failure
from wayfare.store.sqlite.statements import in_chunks, insert_numbered, insert_rows

log = logging.getLogger(__name__)

_MAX_GROUP = 20_000

T = TypeVar("T")
_Job = tuple[Sequence[IncomingMessage], "asyncio.Future[list[WriteOutcome]]"]


@dataclass(frozen=True, slots=True)
class _Task:
    """Work from another writer, run in a savepoint of the next group's transaction."""

    fn: Callable[[sqlite3.Connection], Any]
    future: concurrent.futures.Future[Any]


@dataclass(slots=True)
class _Group:
    """What one transaction writes: message writes and other writers' tasks."""

    jobs: list[_Job] = field(default_factory=list)
    tasks: list[_Task] = field(default_factory=list)
    size: int = 0

    def add(self, item: _Job | _Task) -> None:
        if isinstance(item, _Task):
            self.tasks.append(item)
            self.size += 1
        else:
            self.jobs.append(item)
            self.size += len(item[0])


class SQLiteWriter:
    def __init__(
        self,
        path: Path,
        *,
        fsync: bool = True,
        on_commit: Callable[[], None] | None = None,
        factory: type[sqlite3.Connection] = sqlite3.Connection,
        name: str = "inlet",
    ) -> None:
        """``factory``: the class of the writer's connection (a test's subclass can make a
        COMMIT fail); ``name``: what its metrics are labelled (the inlet's, the engine's)."""
        self._name = name
        self._on_commit = on_commit
        self._path = path
        self._fsync = fsync
        self._factory = factory
        self._queue: queue.SimpleQueue[_Job | _Task | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    async def start(self) -> None:
        if self._thread is not None:
            return
        conn = connect(self._path, fsync=self._fsync, factory=self._factory)
        turns = os.open(writers_lock_path(self._path), os.O_RDWR | os.O_CREAT, 0o600)
        self._thread = threading.Thread(
            target=self._run, args=(conn, turns), name="wayfare-writer", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        if self._thread is None:
            raise StoreError("the writer is not running")
        future: asyncio.Future[list[WriteOutcome]] = asyncio.get_running_loop().create_future()
        count = len(messages)
        self._pending += count
        self._queue.put((messages, future))
        try:
            return await future
        finally:
            self._pending -= count

    @property
    def running(self) -> bool:
        return self._thread is not None

    def run_in_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the next group's transaction and return its result once that has
        committed. Blocks: call it from a worker thread, never the event loop. If ``fn``
        raises, its changes are rolled back and the error raised here; the group's other
        writes are not affected."""
        if self._thread is None:
            raise StoreError("the writer is not running")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(_Task(fn, future))
        return future.result()

    # writer thread
    def _run(self, conn: sqlite3.Connection, turns: int) -> None:
        metrics = process_metrics()
        queued = metrics.writer_queue.labels(self._name)
        commits = metrics.commit_seconds.labels(self._name)
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                if first is None:
                    break
                group = _Group()
                group.add(first)
                stopping = self._drain(group)
                queued.set(self._queue.qsize())  # once a group, not once a message
                fcntl.flock(turns, fcntl.LOCK_EX)  # the other processes' writers wait
                started = time.perf_counter()
                try:
                    # What came while another process's writer committed joins this group:
                    # its commit then shares the fsync, where it would wait for one more.
                    if not stopping:
                        stopping = self._drain(group)
                    self._commit_group(conn, group.jobs, group.tasks)
                finally:
                    fcntl.flock(turns, fcntl.LOCK_UN)
                commits.observe(time.perf_counter() - started)
        finally:
            conn.close()
            os.close(turns)
            while True:  # nobody waits forever on work handed over after the stop
                try:
                    left = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(left, _Task):
                    left.future.set_exception(StoreError("the writer has stopped"))

    def _drain(self, group: _Group) -> bool:
        """Add what waits in the queue to ``group``, up to its size; True if a stop came."""
        while group.size < _MAX_GROUP:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is None:
                return True
            group.add(item)
        return False

    def _commit_group(self, conn: sqlite3.Connection, jobs: list[_Job], tasks: list[_Task]) -> None:
        # Nothing may escape this thread: every waiter gets an answer, the loop goes on.
        done: list[tuple[Any, BaseException | None]] = []
        error: BaseException | None = None
        try:
            results, actionable = _write_group(conn, jobs, tasks, done)
        except Exception as exc:
            results, actionable = [], False
            error = store_failure(exc)
            log.error("group commit failed: %s", error.message, exc_info=exc)
        if actionable and self._on_commit is not None:
            try:
                self._on_commit()
            except Exception:
                log.exception("the commit listener failed")
        for i, task in enumerate(tasks):
            result, failure = done[i] if error is None else (None, error)
            if failure is not None:
                task.future.set_exception(failure)
            else:
                task.future.set_result(result)
        by_loop: dict[asyncio.AbstractEventLoop, list[int]] = defaultdict(list)
        for i, (_, future) in enumerate(jobs):
            by_loop[future.get_loop()].append(i)
        for loop, indexes in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(
                    _resolve,
                    [jobs[i][1] for i in indexes],
                    [results[i] for i in indexes] if error is None else None,
                    error,
                )


def writers_lock_path(database: Path) -> Path:
    """The file group-commit writers of ``database`` take turns on."""
    return database.with_name(database.name + "-writers")


def _resolve(
    futures: list[asyncio.Future[list[WriteOutcome]]],
    results: list[list[WriteOutcome]] | None,
    error: BaseException | None,
) -> None:
    for i, future in enumerate(futures):
        if future.done():
            continue
        if results is not None:
            future.set_result(results[i])
        elif error is not None:
            future.set_exception(error)


def _known_ids(
    conn: sqlite3.Connection, messages: Sequence[IncomingMessage]
) -> dict[tuple[str, str], FirstMessage]:
    wanted: dict[str, list[str]] = defaultdict(list)
    for m in messages:
        if m.msg_id is not None:
            wanted[m.org_id].append(m.msg_id)
    known: dict[tuple[str, str], FirstMessage] = {}
    for org_id, ids in wanted.items():
        known.update(((org_id, k), v) for k, v in known_message_ids(conn, org_id, ids).items())
    return known


def known_message_ids(
    conn: sqlite3.Connection, org_id: str, msg_ids: Sequence[str]
) -> dict[str, FirstMessage]:
    """msgId -> the first message stored under it."""
    known: dict[str, FirstMessage] = {}
    for marks, chunk in in_chunks(msg_ids):
        rows = conn.execute(
            "SELECT msg_id, xaction_id, digest FROM message_ids "
            f"WHERE org_id = ? AND msg_id IN ({marks})",
            (org_id, *chunk),
        )
        known.update(
            (msg_id, FirstMessage(xaction_id, digest)) for msg_id, xaction_id, digest in rows
        )
    return known


def _run_tasks(
    conn: sqlite3.Connection, tasks: list[_Task], done: list[tuple[Any, BaseException | None]]
) -> None:
    for task in tasks:
        conn.execute("SAVEPOINT task")
        try:
            done.append((task.fn(conn), None))
        except Exception as exc:
            if not conn.in_transaction:  # SQLite ended the group's transaction (a full disk)
                raise
            conn.execute("ROLLBACK TO task")
            done.append((None, exc))
        conn.execute("RELEASE task")


def _write_group(
    conn: sqlite3.Connection,
    jobs: list[_Job],
    tasks: list[_Task],
    done: list[tuple[Any, BaseException | None]],
) -> tuple[list[list[WriteOutcome]], bool]:
    """Write a group in one transaction; also says whether journeys have work from it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _run_tasks(conn, tasks, done)
        messages = [m for batch, _ in jobs for m in batch]
        outcomes = store_messages(conn, messages)
        conn.execute("COMMIT")
    except BaseException:
        roll_back(conn)  # what failed is raised, not a failed ROLLBACK; the connection goes on
        raise
    results: list[list[WriteOutcome]] = []
    start = 0
    for batch, _ in jobs:
        results.append(outcomes[start : start + len(batch)])
        start += len(batch)
    return results, any(e.counts for m in messages for e in m.matches or ())


def store_messages(
    conn: sqlite3.Connection, messages: Sequence[IncomingMessage]
) -> list[WriteOutcome]:
    """Store accepted messages in the open transaction: valid ones as records, invalid ones
    as failed records, their match outcomes, their msgIds. A msgId already stored, or seen
    earlier in ``messages``, is a duplicate: not stored again, answered with the first
    xactionId (a conflict when the message differs from the first one's)."""
    if not messages:
        return []
    known = _known_ids(conn, messages)
    records: list[tuple[object, ...]] = []
    failures: list[tuple[object, ...]] = []
    ids: list[tuple[str, str, str, bytes | None]] = []
    matches: list[tuple[int | None, tuple[object, ...]]] = []
    """(index of the record in ``records``, or None for a failed record; the outcome)"""
    outcomes: list[WriteOutcome] = []
    for m in messages:
        if m.msg_id is not None:
            key = (m.org_id, m.msg_id)
            first = known.get(key)
            if first is not None:
                outcomes.append(repeat_of(first, m))
                continue
            known[key] = FirstMessage(m.xaction_id, m.digest)
            ids.append((m.org_id, m.msg_id, m.xaction_id, m.digest))
        index = None
        if m.reasons is None:
            index = len(records)
            records.append(
                (
                    m.org_id,
                    m.dataset_id,
                    m.inlet_id,
                    m.schema_id,
                    m.xaction_id,
                    m.msg_id,
                    m.received_ms,
                    m.payload,
                )
            )
        else:
            failures.append(
                (
                    m.org_id,
                    m.inlet_id,
                    m.dataset_id,
                    m.schema_id,
                    m.xaction_id,
                    m.msg_id,
                    m.received_ms,
                    m.reasons,
                    m.payload,
                )
            )
        matches.extend(
            (
                index,
                (
                    m.org_id,
                    e.event_name,
                    m.xaction_id,
                    m.received_ms,
                    e.matched,
                    e.identity,
                    e.cause,
                    e.reason,
                ),
            )
            for e in m.matches or ()
        )
        outcomes.append(WriteOutcome(m.xaction_id, False))
    seqs = insert_numbered(
        conn,
        "records (org_id, dataset_id, inlet_id, schema_id, xaction_id, msg_id, "
        "received_ms, message)",
        records,
    )
    insert_rows(
        conn,
        "failures (org_id, inlet_id, dataset_id, schema_id, xaction_id, msg_id, "
        "received_ms, reasons, message)",
        failures,
    )
    insert_rows(
        conn,
        "event_matches (record_seq, org_id, event_name, xaction_id, received_ms, matched, "
        "identity, cause, reason)",
        [(None if i is None else seqs[i], *outcome) for i, outcome in matches],
    )
    insert_rows(conn, "message_ids (org_id, msg_id, xaction_id, digest)", ids)
    return outcomes
