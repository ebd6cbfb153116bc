"""The journey store on PostgreSQL where the contract cannot show it: engines committing and
claiming at once on connections of their own, fencing against a takeover in flight, and a
server killed -9 under a store that then serves again. Concurrency is ordered with the
server's own locks (``pg_blocking_pids``), never with sleeps."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
import pytest

from tests.conftest import wait_until
from tests.contract.conftest import ORG
from tests.contract.test_journey_store import action, instance, step
from tests.postgres import PrivatePostgres
from wayfare.errors import FencedError, StoreError
from wayfare.model.runs import EngineBatch, OutboxItem
from wayfare.store.postgres.batches import write_batch
from wayfare.store.postgres.connection import connect, migrate, open_pool
from wayfare.store.postgres.journeys import PostgresJourneyStore

pytestmark = pytest.mark.integration

T = TypeVar("T")
TTL = 60_000
SHORT_TTL = 200


@pytest.fixture
def open_store(pg_database: str) -> Iterator[Callable[[], PostgresJourneyStore]]:
    """Journey stores on pools of their own, as engines in separate processes hold them."""
    opened: list[PostgresJourneyStore] = []

    def new_store() -> PostgresJourneyStore:
        store = PostgresJourneyStore(open_pool(pg_database, max_size=2))
        opened.append(store)
        return store

    yield new_store
    for store in opened:
        store.close()


@pytest.fixture
def observer(pg_database: str) -> Iterator[psycopg.Connection[Any]]:
    """Sees who waits on whom (autocommit: a transaction would keep its first look)."""
    with connect(pg_database) as conn:
        yield conn


@pytest.fixture
def holder(pg_database: str) -> Iterator[psycopg.Connection[Any]]:
    """Holds row locks in a transaction of its own, to stop another one where it wants."""
    with psycopg.connect(pg_database) as conn:
        yield conn


def waiting_on(observer: psycopg.Connection[Any], pid: int) -> int:
    """The one backend waiting for a lock that ``pid`` holds, once there is one."""

    def blocked() -> list[int]:
        rows = observer.execute(
            "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (pid,)
        )
        return [waiting for (waiting,) in rows]

    found = wait_until(blocked)
    assert len(found) == 1, found
    return int(found[0])


def late_commit() -> EngineBatch:
    """What engine "a" commits under its first epoch after its lease lapsed: a person and
    an action on partition 0, and the partition's next position."""
    return EngineBatch(
        instances=[instance("i-1", "ada@x.io", partition=0)],
        new_actions=[action("i-1")],
        positions={0: 2},
        owner="a",
        fences={0: 1},
    )


def lapse(store: PostgresJourneyStore) -> None:
    """Wait for every lease taken with SHORT_TTL to lapse (the server's clock runs)."""
    wait_until(lambda: store.holders() == {})


def in_thread(pool: ThreadPoolExecutor, call: Callable[[], T]) -> Future[T]:
    return pool.submit(call)


def test_step_events_followed_are_never_passed_by_a_commit_that_ends_first(
    open_store: Callable[[], PostgresJourneyStore], holder: psycopg.Connection[Any]
) -> None:
    """An engine's commit draws its step events' seqs, another's draws later ones and ends
    first: a page of the step-events dataset stops before the first's until it commits.
    Step events written outside the engine's steps (a privacy delete, a merge) are
    announced the same way (a trigger on every insert)."""
    store = open_store()

    def nodes(after: int | None) -> list[str]:
        return [s.node for s in store.step_event_records(ORG, limit=10, after_seq=after)]

    def insert_step(node: str) -> None:  # as the privacy delete and a merge do
        holder.execute(
            "INSERT INTO step_events (org_id, journey, version, node, node_type, instance_id, "
            "identity, status, at_ms, entered_ms) VALUES (%s, 'welcome', 1, %s, 'end', "
            "'i-2', 'x', 'ended', 1, 1)",
            (ORG, node),
        )

    write_batch(holder, EngineBatch(steps=[step("first", "wait", "ended")]))
    insert_step("erased")
    store.commit(EngineBatch(steps=[step("second", "wait", "ended")]))
    assert nodes(None) == []
    assert nodes(0) == []
    holder.commit()
    assert nodes(0) == ["first", "erased", "second"]
    insert_step("later")  # outside the engine's commit: the trigger announces it
    store.commit(EngineBatch(steps=[step("last", "wait", "ended")]))
    assert nodes(None) == ["first", "erased", "second"]
    holder.commit()
    assert nodes(None) == ["first", "erased", "second", "later", "last"]


def test_a_retention_pass_skips_the_step_events_another_pass_holds(
    open_store: Callable[[], PostgresJourneyStore], holder: psycopg.Connection[Any]
) -> None:
    store = open_store()
    store.commit(EngineBatch(steps=[step(f"n{i}", "wait", "ended") for i in range(4)]))
    holder.execute("SELECT seq FROM step_events ORDER BY seq LIMIT 1 FOR UPDATE")
    with ThreadPoolExecutor(1) as pool:
        deleting = pool.submit(store.delete_step_events_before, 2, 10)
        try:
            assert deleting.result(timeout=10) == 3  # never waits for the held one
        finally:
            holder.rollback()
    assert store.delete_step_events_before(2, 10) == 1


def test_concurrent_commits_get_distinct_ids_increasing_in_each_batch(
    open_store: Callable[[], PostgresJourneyStore],
) -> None:
    engines = [open_store(), open_store()]
    rounds, size = 30, 20
    start = threading.Barrier(len(engines))

    def commit_rounds(n: int) -> list[list[OutboxItem]]:
        committed = []
        for r in range(rounds):
            batch = EngineBatch(
                new_actions=[action(f"e{n}-r{r}-a{k}", partition=n) for k in range(size)]
            )
            start.wait()  # both engines commit at once, round after round
            committed.append(engines[n].commit(batch))
        return committed

    with ThreadPoolExecutor(len(engines)) as pool:
        results = list(pool.map(commit_rounds, range(len(engines))))

    ids = []
    for n, batches in enumerate(results):
        for r, items in enumerate(batches):
            assert [o.instance_id for o in items] == [f"e{n}-r{r}-a{k}" for k in range(size)]
            batch_ids = [o.outbox_id for o in items]
            assert batch_ids == sorted(batch_ids)
            ids += batch_ids
    assert len(set(ids)) == len(ids) == len(engines) * rounds * size
    stored = engines[0].pending_outbox([0, 1], 0, 10_000)
    assert sorted(o.outbox_id for o in stored) == sorted(ids)
    committed = {o.outbox_id: o for batches in results for items in batches for o in items}
    assert all(committed[o.outbox_id] == o for o in stored)


def test_engines_claiming_at_once_share_the_partitions_without_deadlock(
    open_store: Callable[[], PostgresJourneyStore],
) -> None:
    engines = {name: open_store() for name in ("a", "b", "c")}
    start = threading.Barrier(len(engines))

    def claim_rounds(name: str) -> dict[int, int]:
        held: dict[int, int] = {}
        for _ in range(12):
            start.wait()  # every engine claims at once, renewal after renewal
            claim = engines[name].claim(name, 8, TTL)
            engines[name].release(name, claim.surplus)  # nothing in flight to hand over
            held = {p: e for p, e in claim.held.items() if p not in claim.surplus}
        return held

    with ThreadPoolExecutor(len(engines)) as pool:
        held = dict(zip(engines, pool.map(claim_rounds, engines), strict=True))

    assert sorted(len(partitions) for partitions in held.values()) == [2, 3, 3]
    assert sorted(p for partitions in held.values() for p in partitions) == list(range(8))
    assert engines["a"].holders() == {
        p: (name, epoch) for name, partitions in held.items() for p, epoch in partitions.items()
    }


def test_a_takeover_waits_for_a_commit_that_holds_its_fence_check(
    open_store: Callable[[], PostgresJourneyStore],
    observer: psycopg.Connection[Any],
    holder: psycopg.Connection[Any],
) -> None:
    a, b = open_store(), open_store()
    assert a.claim("a", 2, SHORT_TTL).held == {0: 1, 1: 1}
    a.commit(EngineBatch(positions={0: 1}, owner="a", fences={0: 1}))
    lapse(a)  # a paused: its leases lapse, nobody has taken them yet

    # a's commit checks its fence, then stops at the log position the holder keeps locked
    holder.execute("SELECT 1 FROM log_positions WHERE partition = 0 FOR UPDATE")
    late = late_commit()
    with ThreadPoolExecutor(2) as pool:
        try:
            committing = in_thread(pool, lambda: a.commit(late))
            commit_pid = waiting_on(observer, holder.info.backend_pid)
            claiming = in_thread(pool, lambda: b.claim("b", 2, TTL))
            assert waiting_on(observer, commit_pid)  # the takeover waits for the commit
            assert not claiming.done()
        finally:  # nothing is left waiting, whatever failed
            holder.rollback()
        assert [o.key for o in committing.result(timeout=10)] == ["i-1:notify"]
        assert claiming.result(timeout=10).held == {0: 2, 1: 2}

    assert [i.instance_id for i in b.instances(["i-1"])] == ["i-1"]
    assert b.log_positions([0]) == {0: 2}
    with pytest.raises(FencedError):  # whatever a commits next under its old epoch
        a.commit(EngineBatch(positions={0: 3}, owner="a", fences={0: 1}))
    assert b.log_positions([0]) == {0: 2}


def test_a_commit_whose_fence_check_waits_for_a_takeover_is_refused(
    open_store: Callable[[], PostgresJourneyStore],
    observer: psycopg.Connection[Any],
    holder: psycopg.Connection[Any],
) -> None:
    a, b = open_store(), open_store()
    assert a.claim("a", 2, SHORT_TTL).held == {0: 1, 1: 1}
    assert b.claim("b", 2, TTL).held == {}  # b is alive, a holds everything
    a.commit(EngineBatch(positions={0: 1}, owner="a", fences={0: 1}))
    lapse(a)

    # b's claim locks every lease, then stops at its own row of live engines
    holder.execute("SELECT 1 FROM workers WHERE worker_id = 'b' FOR UPDATE")
    late = late_commit()
    with ThreadPoolExecutor(2) as pool:
        try:
            claiming = in_thread(pool, lambda: b.claim("b", 2, TTL))
            claim_pid = waiting_on(observer, holder.info.backend_pid)
            committing = in_thread(pool, lambda: a.commit(late))
            assert waiting_on(observer, claim_pid)  # the fence check waits for the takeover
            assert not committing.done()
        finally:
            holder.rollback()
        assert claiming.result(timeout=10).held == {0: 2, 1: 2}
        with pytest.raises(FencedError):
            committing.result(timeout=10)

    assert b.instances(["i-1"]) == []
    assert b.pending_outbox([0], 0, 10) == []
    assert b.log_positions([0]) == {0: 1}
    b.commit(EngineBatch(positions={0: 2}, owner="b", fences={0: 2}))
    assert b.log_positions([0]) == {0: 2}


def test_a_store_fails_fast_while_its_server_is_down_and_commits_again_once_it_is_back(
    private_postgres: PrivatePostgres,
) -> None:
    migrate(private_postgres.url)
    store = PostgresJourneyStore(open_pool(private_postgres.url, timeout=1.0))
    try:
        fences = store.claim("a", 2, TTL).held
        store.commit(
            EngineBatch(
                instances=[instance("i-1", "ada@x.io")],
                new_actions=[action("i-1")],
                positions={0: 1},
                owner="a",
                fences=fences,
            )
        )
        private_postgres.kill()

        later = EngineBatch(
            instances=[instance("i-2", "bob@x.io")],
            new_actions=[action("i-2")],
            positions={0: 2},
            owner="a",
            fences=fences,
        )
        for attempt in (lambda: store.commit(later), lambda: store.claim("a", 2, TTL)):
            started = time.monotonic()
            with pytest.raises(StoreError):
                attempt()
            assert time.monotonic() - started < 5  # the pool's timeout, not a hang

        private_postgres.start()

        def committed() -> list[OutboxItem] | None:
            try:
                return store.commit(later)
            except StoreError:
                return None  # the pool is still reconnecting

        assert [o.key for o in wait_until(committed, timeout=30)] == ["i-2:notify"]
        assert sorted(i.instance_id for i in store.instances(["i-1", "i-2"])) == ["i-1", "i-2"]
        assert [o.key for o in store.pending_outbox([0], 0, 10)] == ["i-1:notify", "i-2:notify"]
        assert store.log_positions([0]) == {0: 2}
        assert store.claim("a", 2, TTL).held == fences
    finally:
        store.close()


class _AnswerLost:
    """A connection whose transactions end as ``outcome`` says (``commit`` or
    ``rollback``), after which the answer is lost: the connection breaks."""

    def __init__(self, conn: psycopg.Connection[Any], outcome: str) -> None:
        self._conn, self._outcome = conn, outcome

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN")
        yield
        self._conn.execute(self._outcome.upper())
        raise psycopg.OperationalError("server closed the connection unexpectedly")


class AnswerLostStore(PostgresJourneyStore):
    """The next commit's COMMIT (or ROLLBACK, as the server may end it) is carried out, and
    its answer lost."""

    outcome: str | None = None

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        outcome, self.outcome = self.outcome, None
        with super()._connection() as conn:
            yield conn if outcome is None else _AnswerLost(conn, outcome)


def test_a_commit_whose_answer_is_lost_is_asked_of_the_server_and_not_applied_twice(
    pg_database: str,
) -> None:
    """The engine took a committed step whose answer the connection lost for a failed one,
    and applied it again: its step events were recorded twice (PostgreSQL killed as it
    committed)."""
    store = AnswerLostStore(open_pool(pg_database, max_size=2))
    try:
        fences = store.claim("a", 2, TTL).held

        def batch(n: int) -> EngineBatch:
            return EngineBatch(
                instances=[instance(f"i-{n}", f"p{n}@x.io")],
                new_actions=[action(f"i-{n}")],
                owner="a",
                fences=fences,
            )

        store.outcome = "commit"
        assert [o.key for o in store.commit(batch(1))] == ["i-1:notify"]
        store.outcome = "rollback"
        with pytest.raises(StoreError, match="closed the connection"):
            store.commit(batch(2))
        assert [i.instance_id for i in store.instances(["i-1", "i-2"])] == ["i-1"]
        assert [o.key for o in store.pending_outbox([0], 0, 10)] == ["i-1:notify"]
    finally:
        store.close()
