"""The group-commit writer on a real SQLite file: work handed to it (``run_in_transaction``),
and what its callers get when a group's COMMIT fails.

Each task runs in a savepoint of the writer's next group transaction; the caller gets its
result once that group has committed, or its own exception back with its changes undone. When
the COMMIT itself fails, every write and task of the group gets the store's error, nothing of
it is stored, and the writer carries on with the next group.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec
import pytest

from tests.conftest import make_message
from tests.contract.conftest import message
from wayfare.api.bodies import BodyLimits, BytesInFlight
from wayfare.api.collection import CollectionEndpoint
from wayfare.clock import SystemClock
from wayfare.errors import StoreError
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.inlet import InletService
from wayfare.ingest.rate_limit import RateLimiter
from wayfare.model.matching import EventMatch
from wayfare.model.records import WriteOutcome
from wayfare.registry.demo import DEMO_DOCUMENTS, DEMO_ORG, DEMO_TENANT
from wayfare.registry.inlets import InletRegistry
from wayfare.registry.orgs import set_tenant
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.sqlite.connection import migrate
from wayfare.store.sqlite.resources import SQLiteStore
from wayfare.store.sqlite.writer import SQLiteWriter

T = TypeVar("T")
Task = Callable[[sqlite3.Connection], T]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    db = tmp_path / "wayfare.sqlite3"
    migrate(db)
    with closing(sqlite3.connect(db)) as conn, conn:  # a table of the tests' own
        conn.execute("CREATE TABLE cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)")
    return db


def cursors(path: Path) -> dict[str, int]:
    """What another connection sees committed."""
    with closing(sqlite3.connect(path)) as conn:
        return dict(conn.execute("SELECT name, seq FROM cursors").fetchall())


def set_cursor(name: str, seq: int) -> Task[None]:
    def fn(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO cursors (name, seq) VALUES (?, ?)", (name, seq))

    return fn


class Blocker:
    """A task that holds the writer thread (inside its group transaction) until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO cursors (name, seq) VALUES ('blocker', 1)")
        self.started.set()
        assert self.release.wait(10), "never released"
        return "blocker"


POISON = "commit-fails"
"""A message whose payload holds this makes its group's COMMIT fail (``CommitFails``)."""


class CommitFails(sqlite3.Connection):
    """The writer's connection, whose COMMIT fails, as on a full disk, while the transaction
    holds a record with ``POISON`` in its payload: every statement before
    it has succeeded, the commit does not."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if sql == "COMMIT" and self._poisoned():
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, parameters)

    def _poisoned(self) -> bool:
        probe = "SELECT 1 FROM records WHERE instr(CAST(message AS TEXT), ?)"
        return super().execute(probe, (POISON,)).fetchone() is not None


@asynccontextmanager
async def started(
    path: Path, factory: type[sqlite3.Connection] = sqlite3.Connection
) -> AsyncIterator[SQLiteWriter]:
    writer = SQLiteWriter(path, fsync=False, factory=factory)
    await writer.start()
    try:
        yield writer
    finally:
        await writer.stop()


def hand_over(writer: SQLiteWriter, fn: Task[T]) -> asyncio.Future[T]:
    """``run_in_transaction`` blocks: call it from a worker thread, never the event loop."""
    return asyncio.get_running_loop().run_in_executor(None, writer.run_in_transaction, fn)


class DaemonThreads(ThreadPoolExecutor):
    """The loop's default executor in these tests: each call on a daemon thread, and nothing
    waited for at shutdown. Should the writer ever leave a caller (or its own stop) waiting,
    the test fails on its timeout instead of hanging the whole run."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def call() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=call, name="caller", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


async def wait_for_thread(event: threading.Event) -> None:
    await asyncio.get_running_loop().run_in_executor(None, event.wait, 5)
    assert event.is_set()


async def until_queued(writer: SQLiteWriter, count: int) -> None:
    """Wait until ``count`` pieces of work wait for the writer, so that the next group takes
    them all (the queue is private: this only lines the test up, it asserts nothing)."""
    deadline = time.monotonic() + 5
    while writer._queue.qsize() < count:
        assert time.monotonic() < deadline, "the work never reached the writer"
        await asyncio.sleep(0.001)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        asyncio.get_running_loop().set_default_executor(DaemonThreads())
        await asyncio.wait_for(scenario(), timeout=10)

    asyncio.run(main())


def test_the_result_comes_back_once_the_transaction_has_committed(path: Path) -> None:
    seen_inside: list[dict[str, int]] = []

    def fn(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO cursors (name, seq) VALUES ('engine', 41)")
        seen_inside.append(cursors(path))  # another connection: nothing committed yet
        row = conn.execute("SELECT seq FROM cursors WHERE name = 'engine'").fetchone()
        return int(row[0]) + 1

    async def scenario() -> None:
        async with started(path) as writer:
            result = await hand_over(writer, fn)
            assert result == 42
            assert cursors(path) == {"engine": 41}

    run(scenario)
    assert seen_inside == [{}]


def test_a_failing_task_is_undone_and_raised_while_the_rest_of_its_group_commits(
    path: Path,
) -> None:
    failure = ValueError("the engine gave up")

    def failing(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO cursors (name, seq) VALUES ('failing', 1)")
        conn.execute("UPDATE cursors SET seq = 99 WHERE name = 'before'")
        raise failure

    def after(conn: sqlite3.Connection) -> dict[str, int]:
        conn.execute("INSERT INTO cursors (name, seq) VALUES ('after', 3)")
        return dict(conn.execute("SELECT name, seq FROM cursors").fetchall())

    async def scenario() -> None:
        async with started(path) as writer:
            blocker = Blocker()
            held = hand_over(writer, blocker)
            await wait_for_thread(blocker.started)
            # the next group: a task, the failing one, another task and a message write
            before = hand_over(writer, set_cursor("before", 2))
            await until_queued(writer, 1)
            failed = hand_over(writer, failing)
            await until_queued(writer, 2)
            later = hand_over(writer, after)
            await until_queued(writer, 3)
            written = asyncio.create_task(writer.write([message("x1", msg_id="m1")]))
            await until_queued(writer, 4)
            blocker.release.set()

            assert await held == "blocker"
            await before  # committed, or this raises
            with pytest.raises(ValueError) as caught:
                await failed
            assert caught.value is failure
            assert await later == {"blocker": 1, "before": 2, "after": 3}
            assert await written == [WriteOutcome("x1", False)]

        assert cursors(path) == {"blocker": 1, "before": 2, "after": 3}
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("SELECT xaction_id FROM records").fetchall() == [("x1",)]

    run(scenario)


def test_a_failing_sql_statement_is_raised_as_is_and_the_group_goes_on(path: Path) -> None:
    async def scenario() -> None:
        async with started(path) as writer:
            await hand_over(writer, set_cursor("taken", 1))
            with pytest.raises(sqlite3.IntegrityError):
                await hand_over(writer, set_cursor("taken", 2))
            await hand_over(writer, set_cursor("next", 3))
        assert cursors(path) == {"taken": 1, "next": 3}

    run(scenario)


def test_concurrent_tasks_run_one_after_another(path: Path) -> None:
    def bump(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT seq FROM cursors WHERE name = 'n'").fetchone()
        conn.execute("UPDATE cursors SET seq = ? WHERE name = 'n'", (row[0] + 1,))
        return int(row[0]) + 1

    async def scenario() -> None:
        async with started(path) as writer:
            await hand_over(writer, set_cursor("n", 0))
            results: list[Any] = await asyncio.gather(*(hand_over(writer, bump) for _ in range(40)))
            assert sorted(results) == list(range(1, 41))
        assert cursors(path) == {"n": 40}

    run(scenario)


def test_work_handed_over_before_stop_is_done_and_later_work_raises(path: Path) -> None:
    async def scenario() -> None:
        writer = SQLiteWriter(path, fsync=False)
        await writer.start()
        blocker = Blocker()
        held = hand_over(writer, blocker)
        await wait_for_thread(blocker.started)
        queued = hand_over(writer, set_cursor("queued", 7))
        await until_queued(writer, 1)
        stopping = asyncio.create_task(writer.stop())
        await asyncio.sleep(0)  # stop() has begun: it waits for the writer thread
        assert not writer.running
        blocker.release.set()
        await stopping
        assert await held == "blocker"
        await queued  # committed, or this raises
        assert cursors(path) == {"blocker": 1, "queued": 7}

        with pytest.raises(StoreError, match="not running"):
            await asyncio.wait_for(hand_over(writer, set_cursor("late", 1)), 5)
        assert "late" not in cursors(path)

    run(scenario)


def test_a_writer_that_never_started_raises_rather_than_waits(path: Path) -> None:
    async def scenario() -> None:
        writer = SQLiteWriter(path, fsync=False)
        with pytest.raises(StoreError):
            await asyncio.wait_for(hand_over(writer, set_cursor("x", 1)), 5)

    run(scenario)
    assert cursors(path) == {}


def test_a_failing_commit_listener_neither_stops_the_writer_nor_its_answers(path: Path) -> None:
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)
        raise RuntimeError("Event loop is closed")

    matched = msgspec.structs.replace(
        message("m1", msg_id="m1"), matches=[EventMatch("signup", "ada@example.com")]
    )

    async def scenario() -> None:
        writer = SQLiteWriter(path, fsync=False, on_commit=listener)
        await writer.start()
        try:
            assert await writer.write([matched]) == [WriteOutcome("m1", False)]
            assert calls == [1]
            # the thread is still there: the next write and task are answered
            second = msgspec.structs.replace(matched, xaction_id="m2", msg_id="m2")
            assert await writer.write([second]) == [WriteOutcome("m2", False)]
            await asyncio.wait_for(hand_over(writer, set_cursor("after", 1)), 5)
        finally:
            await writer.stop()
        assert calls == [1, 1]

    run(scenario)
    assert cursors(path) == {"after": 1}


# a COMMIT that fails


def stored(path: Path) -> dict[str, list[str]]:
    """The xactionIds another connection sees committed, by table."""
    with closing(sqlite3.connect(path)) as conn:
        return {
            table: [row[0] for row in conn.execute(f"SELECT xaction_id FROM {table}")]
            for table in ("records", "failures", "message_ids")
        }


def test_when_the_commit_fails_every_write_and_task_of_the_group_gets_the_store_error(
    path: Path,
) -> None:
    async def scenario() -> None:
        async with started(path, CommitFails) as writer:
            blocker = Blocker()
            held = hand_over(writer, blocker)
            await wait_for_thread(blocker.started)
            # the next group: a good message, a task, and the message its COMMIT fails on
            good = asyncio.create_task(writer.write([message("x1", msg_id="m1")]))
            await until_queued(writer, 1)
            task = hand_over(writer, set_cursor("engine", 5))
            await until_queued(writer, 2)
            bad = asyncio.create_task(
                writer.write([message("x2", msg_id="m2", body={"name": POISON})])
            )
            await until_queued(writer, 3)
            blocker.release.set()
            assert await held == "blocker"

            for failed in (good, task, bad):
                with pytest.raises(StoreError, match="database or disk is full"):
                    await failed
            assert stored(path) == {"records": [], "failures": [], "message_ids": []}
            assert cursors(path) == {"blocker": 1}

            # the writer goes on; a retry of the message is new, not a duplicate of a write
            # that never committed
            retried = await writer.write([message("x3", msg_id="m1")])
            assert retried == [WriteOutcome("x3", False)]
            await hand_over(writer, set_cursor("engine", 6))

        assert stored(path) == {"records": ["x3"], "failures": [], "message_ids": ["x3"]}
        assert cursors(path) == {"blocker": 1, "engine": 6}

    run(scenario)


def test_the_inlet_answers_503_and_stores_nothing_when_its_group_commit_fails(path: Path) -> None:
    """The inlet's own path (catalog, validation, writer, the collection endpoint and its
    error mapping) in this process, over ASGI, on the real SQLite file."""
    clock = SystemClock()
    store = SQLiteStore(path, fsync=False)
    catalog = Catalog(store, clock)
    set_tenant(store, clock, DEMO_ORG, DEMO_TENANT)
    schema = SchemaRegistry(store, catalog, clock).create(DEMO_ORG, DEMO_DOCUMENTS[1])
    inlet, _ = InletRegistry(store, catalog, clock).create(DEMO_ORG, {"name": "web"})
    single = f"/collection/{inlet.inlet_id}"
    batch = f"/collection/batch/{inlet.inlet_id}"

    def signup(first_name: str) -> dict[str, Any]:
        return make_message(schema.schema_id, msg_id=first_name, firstName=first_name)

    async def scenario() -> None:
        async with started(path, CommitFails) as writer:
            service = InletService(catalog, writer, clock, RateLimiter(clock, 0, 0), 1_000)
            limits = BodyLimits(1024 * 1024, BytesInFlight(32 * 1024 * 1024), 16 * 1024 * 1024)
            transport = httpx.ASGITransport(app=CollectionEndpoint(service, limits))
            async with httpx.AsyncClient(transport=transport, base_url="http://wayfare") as client:
                refused = await client.post(single, json=signup(POISON))
                refused_batch = await client.post(
                    batch, json={"messages": [signup("Ada"), signup(POISON)]}
                )
                accepted = await client.post(single, json=signup("Ada"))

        for answer in (refused, refused_batch):
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "1"
            assert answer.headers["content-type"] == "application/problem+json"
            assert "database or disk is full" in answer.json()["detail"]
        # Ada's msgId was in the failed batch: her message is new, not a duplicate
        assert accepted.status_code == 200, accepted.text
        xaction_id = accepted.json()["xactionId"]
        assert stored(path) == {
            "records": [xaction_id],
            "failures": [],
            "message_ids": [xaction_id],
        }

    try:
        run(scenario)
    finally:
        store.close()


# a disk that fills up


class NoRoom(sqlite3.Connection):
    """The writer's connection on a file that cannot grow (``PRAGMA max_page_count`` at the
    size the file has): a write that needs a new page gets SQLite's own "database or disk is
    full", and SQLite rolls the whole transaction back itself, as on a full disk."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pages = super().execute("PRAGMA page_count").fetchone()[0]
        super().execute(f"PRAGMA max_page_count = {pages}")


def make_room(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA max_page_count = 1000000")


def test_a_full_disk_is_named_to_every_waiter_and_the_writer_goes_on_once_there_is_room(
    path: Path,
) -> None:
    big = {"padding": "x" * 200_000}  # more pages than the file has free

    async def scenario() -> None:
        async with started(path, NoRoom) as writer:
            for attempt in range(2):  # the connection stays usable for the next group
                with pytest.raises(StoreError, match=r"disk full \(database or disk is full\)"):
                    await writer.write([message(f"x{attempt}", msg_id="m1", body=big)])
                with pytest.raises(StoreError, match="disk full"):
                    await hand_over(writer, set_cursor("x" * 200_000, attempt))
            assert stored(path) == {"records": [], "failures": [], "message_ids": []}

            await hand_over(writer, make_room)  # the disk has room again
            assert await writer.write([message("x2", msg_id="m1", body=big)]) == [
                WriteOutcome("x2", False)
            ]
            await hand_over(writer, set_cursor("engine", 1))

        assert stored(path) == {"records": ["x2"], "failures": [], "message_ids": ["x2"]}
        assert cursors(path) == {"engine": 1}

    run(scenario)
