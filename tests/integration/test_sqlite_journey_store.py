"""What the SQLite journey store does beyond the contract (tests/contract/test_journey_store.py):
commits handed to a running group-commit writer (as ``wayfare serve`` does), lists longer
than SQLite's variable limit, concurrent commits, failures, and its migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
from yoyo import get_backend, read_migrations

from tests.contract.test_journey_store import action, instance, step
from wayfare.errors import ConflictError
from wayfare.model.runs import EngineBatch, OutboxItem
from wayfare.store.sqlite.connection import migrate
from wayfare.store.sqlite.journeys import SQLiteJourneyStore
from wayfare.store.sqlite.writer import SQLiteWriter

ORG = "ACME@AdobeOrg"
PEOPLE = [f"person-{n:04d}@example.com" for n in range(1_100)]  # more than two IN chunks


class CountingWriter(SQLiteWriter):
    """The real writer, counting the work handed to it."""

    handed_over = 0

    def run_in_transaction(self, fn: Any) -> Any:
        self.handed_over += 1
        return super().run_in_transaction(fn)


class Stores:
    def __init__(self, path: Path, writer: CountingWriter | None) -> None:
        self.path = path
        self.writer = writer
        self.store = SQLiteJourneyStore(path, fsync=False, writer=writer)


@pytest.fixture(params=["own connection", "through the writer"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    path = tmp_path / "wayfare.sqlite3"
    migrate(path)
    writer = None
    if request.param == "through the writer":
        writer = CountingWriter(path, fsync=False)
        asyncio.run(writer.start())
    built = Stores(path, writer)
    try:
        yield built
    finally:
        built.store.close()
        if writer is not None:
            asyncio.run(writer.stop())


def outbox_rows(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT id, key, state FROM outbox ORDER BY id").fetchall()


def test_commits_go_through_a_running_writer_and_number_the_outbox_from_one(
    stores: Stores,
) -> None:
    store = stores.store
    first = store.commit(EngineBatch(new_actions=[action("a"), action("b"), action("c")]))
    assert [o.outbox_id for o in first] == [1, 2, 3]
    second = store.commit(EngineBatch(new_actions=[action("d")], positions={0: 9}))
    assert [o.outbox_id for o in second] == [4]
    assert outbox_rows(stores.path) == [
        (1, "a:notify", "pending"),
        (2, "b:notify", "pending"),
        (3, "c:notify", "pending"),
        (4, "d:notify", "pending"),
    ]
    assert store.commit(EngineBatch()) == []
    if stores.writer is not None:  # the two non-empty commits went through the writer
        assert stores.writer.handed_over == 2


def test_lists_longer_than_sqlites_variable_limit_are_read_in_chunks(stores: Stores) -> None:
    store = stores.store
    people = [instance(f"w-{n}", p, entered_ms=n) for n, p in enumerate(PEOPLE)]
    store.commit(EngineBatch(instances=people))
    strangers = [f"stranger-{n}" for n in range(260_000)]  # over this build's 250,000
    assert len(store.live_instances(ORG, [*strangers, *PEOPLE])) == 1_100
    assert len(store.latest_stays(ORG, [*strangers, *PEOPLE])) == 1_100
    assert sorted(i.instance_id for i in store.instances([*strangers, "w-5", "w-3"])) == [
        "w-3",
        "w-5",
    ]
    assert len(store.stopped_instances(range(1_000), 10)) == 0


def test_concurrent_commits_get_distinct_consecutive_ids(stores: Stores) -> None:
    store = stores.store
    results: list[list[OutboxItem]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def engine(n: int) -> None:
        try:
            for b in range(5):
                items = store.commit(
                    EngineBatch(new_actions=[action(f"t{n}-b{b}", node=f"n{k}") for k in range(4)])
                )
                with lock:
                    results.append(items)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=engine, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert len(results) == 30
    for items in results:
        ids = [o.outbox_id for o in items]
        assert ids == list(range(ids[0], ids[0] + 4))
        assert {o.instance_id for o in items} == {items[0].instance_id}
    assert sorted(o.outbox_id for items in results for o in items) == list(range(1, 121))
    everything = sorted((o for items in results for o in items), key=lambda o: o.outbox_id)
    assert store.pending_outbox([0], 0, 1_000) == everything


def test_a_failing_batch_writes_nothing(stores: Stores) -> None:
    store = stores.store
    broken = instance("i-2", "bob@example.com")
    broken.identity = None  # type: ignore[assignment]
    # the same error whichever way the commit goes: the store's own, not the driver's
    with pytest.raises(ConflictError, match="NOT NULL"):
        store.commit(
            EngineBatch(
                instances=[instance("i-1", "ada@example.com"), broken],
                new_actions=[action("i-1")],
                positions={0: 5},
            )
        )
    assert store.instances(["i-1", "i-2"]) == []
    assert store.pending_outbox([0], 0, 10) == []
    assert store.log_positions([0]) == {}
    assert store.commit(EngineBatch(new_actions=[action("i-1")]))[0].outbox_id == 1


def _migrated_up_to(path: Path, *, without: str) -> None:
    source = resources.files("wayfare.store.sqlite") / "migrations"
    with resources.as_file(source) as folder:
        migrations = read_migrations(str(folder))
    backend = get_backend(f"sqlite:///{path}")
    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations).filter(lambda m: m.id < without))
    backend.connection.close()


def test_the_migration_counts_the_step_events_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _migrated_up_to(path, without="0005.step_counts")
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany(
            "INSERT INTO step_events (org_id, journey, version, node, node_type, instance_id, "
            "identity, status, detail, at_ms, entered_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (s.org_id, s.journey, s.version, s.node, s.node_type, s.instance_id, s.identity,
                 s.status, s.detail, s.at_ms, s.entered_ms)
                for s in [step("entry", "entry", "ended", f"i-{n}") for n in range(3)]
                + [step("hook", "http", "timedout")]
            ],
        )  # fmt: skip
    migrate(path)
    upgraded = SQLiteJourneyStore(path, fsync=False)
    assert upgraded.report(ORG, "welcome")["nodes"] == {
        "entry": {"type": "entry", "ended": 3},
        "hook": {"type": "http", "timedout": 1},
    }


def test_the_migration_to_partitions_keeps_the_engines_place_and_its_work(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _migrated_up_to(path, without="0008.partitions")
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO cursors (name, seq) VALUES ('journey-matches', 41)")
        conn.executemany(
            "INSERT INTO event_matches (seq, org_id, event_name, xaction_id, received_ms, "
            "matched, record_seq) VALUES (?, 'o', 'e', ?, 0, 1, ?)",
            [(40, "x6", 6), (41, "x7", 7), (42, "x8", 8)],
        )
        conn.execute(
            "INSERT INTO timers (instance_id, due_ms, token, kind) VALUES ('i-1', 5, 1, 'wait')"
        )
        conn.execute(
            "INSERT INTO outbox (instance_id, node, token, kind, request, key, state, next_ms) "
            "VALUES ('i-1', 'hook', 2, 'http', '{}', 'i-1:hook', 'pending', 0)"
        )
    migrate(path)
    upgraded = SQLiteJourneyStore(path, fsync=False)
    # outcome 41 (0008), then record 7, that of outcome 41 (0014: the log reads records)
    assert upgraded.log_positions([0]) == {0: 7}
    assert [t.instance_id for t in upgraded.due_timers([0], 10, 10)] == ["i-1"]
    assert [o.key for o in upgraded.pending_outbox([0], 0, 10)] == ["i-1:hook"]


def test_the_migration_counts_the_people_already_waiting(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _migrated_up_to(path, without="0022.waiting_counts")
    live = [instance(f"i-{n}", f"p{n}@x.io", status="waiting") for n in range(3)]
    elsewhere = instance("i-9", "q@x.io")
    elsewhere.node = "check"
    ended = instance("i-e", "e@x.io", status="finished", ended_ms=1)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany(
            "INSERT INTO instances (instance_id, org_id, journey, version, identity, status, "
            "entered_ms, ended_ms, partition, state) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (i.instance_id, i.org_id, i.journey, i.version, i.identity, i.status,
                 i.entered_ms, i.ended_ms, i.partition, orjson.dumps(i).decode())
                for i in [*live, elsewhere, ended]
            ],
        )  # fmt: skip
    migrate(path)
    upgraded = SQLiteJourneyStore(path, fsync=False)
    assert upgraded.live_by_node(ORG, "welcome") == {"wait-a-day": 3, "check": 1}
    moved = live[0].copy()
    moved.node = "check"
    upgraded.commit(EngineBatch(instances=[moved]))
    assert upgraded.live_by_node(ORG, "welcome") == {"wait-a-day": 2, "check": 2}
