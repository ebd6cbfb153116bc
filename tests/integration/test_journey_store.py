"""The SQLite journey store's batch reads and its one write, on a real file.

Every test runs twice: committing on the store's own connection, and through a running
group-commit writer on the same file (as ``wayfare serve`` does).
"""

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

from wayfare.engine.instance import Instance
from wayfare.errors import ConflictError
from wayfare.model.runs import EngineBatch, InstanceRow, OutboxItem
from wayfare.store.sqlite.connection import migrate
from wayfare.store.sqlite.journeys import SQLiteJourneyStore
from wayfare.store.sqlite.writer import SQLiteWriter

ORG = "ACME@AdobeOrg"
OTHER_ORG = "OTHER@AdobeOrg"
T0 = 1_700_000_000_000
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


@pytest.fixture
def store(stores: Stores) -> SQLiteJourneyStore:
    return stores.store


def state(
    instance_id: str,
    identity: str,
    *,
    org_id: str = ORG,
    journey: str = "welcome",
    status: str = "running",
    entered_ms: int = T0,
    ended_ms: int | None = None,
) -> dict[str, Any]:
    return Instance(
        instance_id=instance_id,
        org_id=org_id,
        journey=journey,
        version=2,
        identity=identity,
        seed=7,
        entered_ms=entered_ms,
        status=status,  # type: ignore[arg-type]
        node="wait-a-day",
        events={"signup": {"plan": "pro", "n": instance_id}},
        wait_kind="timer" if status == "waiting" else None,
        ended_ms=ended_ms,
    ).as_json()


def row(data: dict[str, Any]) -> InstanceRow:
    """The row the engine commits for an instance (its state as JSON text)."""
    return (
        data["instance_id"],
        data["org_id"],
        data["journey"],
        data["version"],
        data["identity"],
        data["status"],
        data["entered_ms"],
        data["ended_ms"],
        orjson.dumps(data).decode(),
    )


def outbox_entry(
    instance_id: str, *, node: str = "notify", due: int = T0, url: str = "https://h.example/x"
) -> tuple[str, str, int, str, dict[str, Any], str, int]:
    return (
        instance_id,
        node,
        3,
        "http",
        {"url": url, "body": {"who": instance_id}},
        f"{instance_id}:{node}",
        due,
    )


def outbox_rows(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT id, key, state FROM outbox ORDER BY id").fetchall()


# batch reads


@pytest.fixture
def people(store: SQLiteJourneyStore) -> dict[str, dict[str, Any]]:
    """For each of 1,100 people: a live 'welcome' instance, and for every other person an
    older ended one (committed later); 'winback' ended for every third; the first ten also
    in another org. Returns every state by instance id."""
    states: dict[str, dict[str, Any]] = {}
    for n, person in enumerate(PEOPLE):
        states[f"w-{n}"] = state(
            f"w-{n}", person, status="waiting" if n % 2 else "running", entered_ms=T0 + n
        )
    for n, person in enumerate(PEOPLE):
        if n % 2 == 0:
            states[f"old-{n}"] = state(
                f"old-{n}", person, status="finished", entered_ms=T0 - 5_000, ended_ms=T0 + 9_999
            )
        if n % 3 == 0:
            states[f"wb-{n}"] = state(
                f"wb-{n}",
                person,
                journey="winback",
                status="exited",
                entered_ms=T0 + 5,
                ended_ms=T0 + 9,
            )
    for n, person in enumerate(PEOPLE[:10]):
        states[f"other-{n}"] = state(f"other-{n}", person, org_id=OTHER_ORG, entered_ms=T0 + 50)
    rows = [row(s) for s in states.values()]
    store.commit(EngineBatch(instances=rows[:1_500]))
    store.commit(EngineBatch(instances=rows[1_500:]))
    return states


def by_id(states: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {s["instance_id"]: s for s in states}
    assert len(found) == len(states), "an instance came back twice"
    return found


def test_instances_reads_the_states_asked_for_across_chunks(
    store: SQLiteJourneyStore, people: dict[str, dict[str, Any]]
) -> None:
    wanted = [f"w-{n}" for n in range(0, 1_100, 2)] + [f"old-{n}" for n in range(0, 1_100, 2)]
    found = by_id(store.instances([*wanted, "no-such-instance"]))
    assert len(wanted) == 1_100
    assert found == {i: people[i] for i in wanted}
    assert Instance.from_json(found["w-1098"]).events == {"signup": {"plan": "pro", "n": "w-1098"}}
    assert store.instances([]) == []


def test_live_instances_are_the_running_and_waiting_ones_of_these_people_in_this_org(
    store: SQLiteJourneyStore, people: dict[str, dict[str, Any]]
) -> None:
    found = by_id(store.live_instances(ORG, PEOPLE))
    assert found == {f"w-{n}": people[f"w-{n}"] for n in range(1_100)}
    assert {s["status"] for s in found.values()} == {"running", "waiting"}

    some = by_id(store.live_instances(ORG, PEOPLE[600:603]))
    assert sorted(some) == ["w-600", "w-601", "w-602"]
    assert sorted(by_id(store.live_instances(OTHER_ORG, PEOPLE))) == [
        f"other-{n}" for n in range(10)
    ]
    assert store.live_instances(ORG, ["nobody@example.com"]) == []


def test_latest_entries_come_from_each_persons_latest_instance_of_each_journey(
    store: SQLiteJourneyStore, people: dict[str, dict[str, Any]]
) -> None:
    found = store.latest_entries(ORG, PEOPLE)
    expected: dict[tuple[str, str], tuple[int, int | None]] = {}
    for n, person in enumerate(PEOPLE):
        # the live one entered last: its ended_ms (None), not the older one's
        expected[("welcome", person)] = (T0 + n, None)
        if n % 3 == 0:
            expected[("winback", person)] = (T0 + 5, T0 + 9)
    assert found == expected
    assert store.latest_entries(OTHER_ORG, PEOPLE[:2]) == {
        ("welcome", PEOPLE[0]): (T0 + 50, None),
        ("welcome", PEOPLE[1]): (T0 + 50, None),
    }


def test_lists_longer_than_sqlites_variable_limit_are_read_in_chunks(
    store: SQLiteJourneyStore, people: dict[str, dict[str, Any]]
) -> None:
    strangers = [f"stranger-{n}" for n in range(260_000)]  # over this build's 250,000
    assert by_id(store.live_instances(ORG, [*strangers, *PEOPLE])) == by_id(
        store.live_instances(ORG, PEOPLE)
    )
    assert len(store.latest_entries(ORG, [*strangers, *PEOPLE])) == 1_100 + 367
    assert sorted(by_id(store.instances([*strangers, "w-5", "wb-3"]))) == ["w-5", "wb-3"]


def test_latest_entry_is_the_latest_even_when_an_older_instance_ended_later(
    store: SQLiteJourneyStore,
) -> None:
    newer = state(
        "newer", "ada@example.com", status="finished", entered_ms=T0 + 100, ended_ms=T0 + 200
    )
    older = state("older", "ada@example.com", status="exited", entered_ms=T0, ended_ms=T0 + 900)
    store.commit(EngineBatch(instances=[row(newer), row(older)]))
    assert store.latest_entries(ORG, ["ada@example.com"]) == {
        ("welcome", "ada@example.com"): (T0 + 100, T0 + 200)
    }


def test_committing_an_instance_again_replaces_its_state(store: SQLiteJourneyStore) -> None:
    first = state("i-1", "ada@example.com", status="waiting")
    store.commit(EngineBatch(instances=[row(first)]))
    done = {**first, "status": "finished", "ended_ms": T0 + 60_000, "node": None, "steps": 4}
    store.commit(EngineBatch(instances=[row(done)]))
    assert store.instances(["i-1"]) == [done]
    assert store.live_instances(ORG, ["ada@example.com"]) == []
    assert store.latest_entries(ORG, ["ada@example.com"]) == {
        ("welcome", "ada@example.com"): (T0, T0 + 60_000)
    }


# the outbox


def test_commit_numbers_new_outbox_items_above_the_highest_id(stores: Stores) -> None:
    store = stores.store
    first = store.commit(
        EngineBatch(new_outbox=[outbox_entry("a"), outbox_entry("b"), outbox_entry("c")])
    )
    assert first == [
        OutboxItem(
            1,
            "a",
            "notify",
            3,
            "http",
            {"url": "https://h.example/x", "body": {"who": "a"}},
            "a:notify",
            0,
            T0,
        ),
        OutboxItem(
            2,
            "b",
            "notify",
            3,
            "http",
            {"url": "https://h.example/x", "body": {"who": "b"}},
            "b:notify",
            0,
            T0,
        ),
        OutboxItem(
            3,
            "c",
            "notify",
            3,
            "http",
            {"url": "https://h.example/x", "body": {"who": "c"}},
            "c:notify",
            0,
            T0,
        ),
    ]
    # delivered items still count: ids are never given twice
    store.commit(
        EngineBatch(
            outbox_done=[(1, "done", 1, None), (2, "done", 1, None), (3, "failed", 5, "HTTP 404")]
        )
    )
    second = store.commit(EngineBatch(new_outbox=[outbox_entry("d"), outbox_entry("e")]))
    assert [(o.outbox_id, o.key) for o in second] == [(4, "d:notify"), (5, "e:notify")]
    assert outbox_rows(stores.path) == [
        (1, "a:notify", "done"),
        (2, "b:notify", "done"),
        (3, "c:notify", "failed"),
        (4, "d:notify", "pending"),
        (5, "e:notify", "pending"),
    ]
    assert store.commit(EngineBatch()) == []
    assert store.commit(EngineBatch(cursor=("journeys", 9))) == []
    assert store.cursor("journeys") == 9
    if stores.writer is not None:  # the four non-empty commits went through the writer
        assert stores.writer.handed_over == 4


def test_the_items_commit_returns_are_the_ones_pending_outbox_reads(
    store: SQLiteJourneyStore,
) -> None:
    new = store.commit(
        EngineBatch(
            instances=[row(state("i-1", "ada@example.com"))],
            new_outbox=[outbox_entry("i-1", node=f"n{k}", due=T0 + k) for k in range(250)],
        )
    )
    assert [o.outbox_id for o in new] == list(range(1, 251))
    assert store.pending_outbox(0, 1_000) == new


def test_pending_outbox_reads_pending_items_by_id_whatever_their_time(
    store: SQLiteJourneyStore,
) -> None:
    # the later the id, the sooner due: the order must still be by id
    store.commit(
        EngineBatch(new_outbox=[outbox_entry(f"i-{k}", due=T0 + 10_000 - k) for k in range(1, 8)])
    )
    store.commit(
        EngineBatch(
            outbox_done=[(2, "done", 1, None), (5, "failed", 3, "HTTP 403")],
            outbox_retry=[(3, 2, T0 + 99_000, "HTTP 503")],
        )
    )
    assert [o.outbox_id for o in store.pending_outbox(0, 100)] == [1, 3, 4, 6, 7]
    assert [o.outbox_id for o in store.pending_outbox(3, 100)] == [4, 6, 7]
    assert [o.outbox_id for o in store.pending_outbox(0, 2)] == [1, 3]
    assert [o.outbox_id for o in store.pending_outbox(4, 1)] == [6]
    assert store.pending_outbox(7, 100) == []
    retried = store.pending_outbox(2, 1)[0]
    assert retried == OutboxItem(
        3,
        "i-3",
        "notify",
        3,
        "http",
        {"url": "https://h.example/x", "body": {"who": "i-3"}},
        "i-3:notify",
        2,
        T0 + 99_000,
    )


def test_concurrent_commits_get_distinct_consecutive_ids(stores: Stores) -> None:
    store = stores.store
    results: list[list[OutboxItem]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def engine(n: int) -> None:
        try:
            for b in range(5):
                items = store.commit(
                    EngineBatch(
                        new_outbox=[outbox_entry(f"t{n}-b{b}", node=f"n{k}") for k in range(4)]
                    )
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
    assert store.pending_outbox(0, 1_000) == everything


def test_a_failing_batch_writes_nothing(stores: Stores) -> None:
    store = stores.store
    good = row(state("i-2", "bob@example.com"))
    broken = (*good[:4], None, *good[5:])  # no identity
    # the same error whichever way the commit goes: the store's own, not the driver's
    with pytest.raises(ConflictError, match="NOT NULL"):
        store.commit(
            EngineBatch(
                instances=[row(state("i-1", "ada@example.com")), broken],  # type: ignore[list-item]
                new_outbox=[outbox_entry("i-1")],
                cursor=("journeys", 5),
            )
        )
    assert store.instances(["i-1", "i-2"]) == []
    assert store.pending_outbox(0, 10) == []
    assert store.cursor("journeys") == 0
    assert store.commit(EngineBatch(new_outbox=[outbox_entry("i-1")]))[0].outbox_id == 1


def test_a_batch_that_only_clears_timers_is_not_empty() -> None:
    assert not EngineBatch(clear_timers=["i-1"]).empty
    assert EngineBatch().empty


def step(node: str, kind: str, status: str, instance: str = "i-1") -> tuple[Any, ...]:
    return (ORG, "welcome", 1, node, kind, instance, "ada@example.com", status, None, 1, 1)


def test_a_report_counts_the_step_events_as_they_are_written(store: SQLiteJourneyStore) -> None:
    store.commit(
        EngineBatch(steps=[step("entry", "entry", "ended"), step("hook", "http", "ended")])
    )
    store.commit(
        EngineBatch(
            steps=[
                step("entry", "entry", "ended", "i-2"),
                step("hook", "http", "error", "i-2"),
                step("entry", "entry", "ended", "i-3"),
            ]
        )
    )
    assert store.report(ORG, "welcome")["nodes"] == {
        "entry": {"type": "entry", "ended": 3},
        "hook": {"type": "http", "ended": 1, "error": 1},
    }
    assert store.report(ORG, "other")["nodes"] == {}


def test_the_migration_counts_the_step_events_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    source = resources.files("wayfare.store.sqlite") / "migrations"
    with resources.as_file(source) as folder:
        migrations = read_migrations(str(folder))
    backend = get_backend(f"sqlite:///{path}")
    with backend.lock():
        backend.apply_migrations(
            backend.to_apply(migrations).filter(lambda m: m.id != "0005.step_counts")
        )
    backend.connection.close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany(
            "INSERT INTO step_events (org_id, journey, version, node, node_type, instance_id, "
            "identity, status, detail, at_ms, entered_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [step("entry", "entry", "ended", f"i-{n}") for n in range(3)]
            + [step("hook", "http", "timedout")],
        )
    migrate(path)
    upgraded = SQLiteJourneyStore(path, fsync=False)
    assert upgraded.report(ORG, "welcome")["nodes"] == {
        "entry": {"type": "entry", "ended": 3},
        "hook": {"type": "http", "timedout": 1},
    }
