"""Accepted messages into PostgreSQL (store_messages): in the caller's transaction, and
deduplicated by msgId against transactions of other connections (other processes) running at
the same time. Concurrency is ordered with the server's own locks, never with sleeps."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import orjson
import psycopg
import pytest

from tests.conftest import wait_until
from tests.contract.conftest import ORG, OTHER_ORG, T0, message
from wayfare.errors import StoreError, Violation
from wayfare.model.events import Unmatched
from wayfare.model.matching import EventMatch
from wayfare.model.records import FirstMessage, IncomingMessage, WriteOutcome
from wayfare.store.postgres.connection import connect, open_pool
from wayfare.store.postgres.messages import known_message_ids, store_messages
from wayfare.store.postgres.resources import PostgresStore

pytestmark = pytest.mark.integration

BROKEN = [Violation("#/_id", "type", "not a string")]


@pytest.fixture
def transactions(pg_database: str) -> Iterator[tuple[psycopg.Connection[Any], ...]]:
    """Two connections as two processes' writers would hold them (transactions begin with
    their first statement and end at commit or rollback), and a third that watches."""
    first = psycopg.connect(pg_database)
    second = psycopg.connect(pg_database)
    watcher = connect(pg_database)
    try:
        yield first, second, watcher
    finally:
        for conn in (first, second, watcher):
            conn.close()


def blocked_by(watcher: psycopg.Connection[Any], waiting: int, holding: int) -> bool:
    row = watcher.execute("SELECT %s = ANY(pg_blocking_pids(%s))", (holding, waiting)).fetchone()
    return bool(row and row[0])


def store_and_commit(
    conn: psycopg.Connection[Any], messages: Sequence[IncomingMessage]
) -> list[WriteOutcome]:
    outcomes = store_messages(conn, messages)
    conn.commit()
    return outcomes


def stored_xaction_ids(watcher: psycopg.Connection[Any]) -> list[str]:
    rows = watcher.execute(
        "SELECT xaction_id FROM records UNION ALL SELECT xaction_id FROM failures ORDER BY 1"
    )
    return [xaction_id for (xaction_id,) in rows]


def race(
    transactions: tuple[psycopg.Connection[Any], ...],
    first_messages: Sequence[IncomingMessage],
    second_messages: Sequence[IncomingMessage],
    *,
    first_commits: bool,
) -> tuple[list[WriteOutcome], list[WriteOutcome]]:
    """The first transaction stores and holds its claims; the second stores the same msgIds
    and waits on them; the first then commits (or rolls back), and the second goes on."""
    first, second, watcher = transactions
    first_outcomes = store_messages(first, first_messages)
    with ThreadPoolExecutor(1) as pool:
        later = pool.submit(store_and_commit, second, second_messages)
        try:
            wait_until(lambda: blocked_by(watcher, second.info.backend_pid, first.info.backend_pid))
        finally:  # the second transaction is never left waiting
            if first_commits:
                first.commit()
            else:
                first.rollback()
        return first_outcomes, later.result(timeout=30)


@pytest.mark.parametrize(
    ("first_commits", "second_learns", "stored"),
    [
        pytest.param(True, WriteOutcome("first", True), ["first"], id="first-commits"),
        pytest.param(False, WriteOutcome("second", False), ["second"], id="first-rolls-back"),
    ],
)
def test_two_transactions_storing_one_msg_id_store_it_once_and_both_learn_the_first(
    transactions: tuple[psycopg.Connection[Any], ...],
    first_commits: bool,
    second_learns: WriteOutcome,
    stored: list[str],
) -> None:
    """The second waits for the first: it stores the message only if the first's claim was
    rolled back, else it learns the first xactionId."""
    ours, theirs = race(
        transactions,
        [message("first", msg_id="m1")],
        [message("second", msg_id="m1")],
        first_commits=first_commits,
    )
    assert ours == [WriteOutcome("first", False)]
    assert theirs == [second_learns]
    assert stored_xaction_ids(transactions[2]) == stored


def test_of_overlapping_msg_ids_the_new_ones_are_stored_and_the_others_are_duplicates(
    transactions: tuple[psycopg.Connection[Any], ...],
) -> None:
    ours, theirs = race(
        transactions,
        [message("a2", msg_id="m2"), message("a1", msg_id="m1", reasons=BROKEN)],
        [message("b1", msg_id="m1"), message("b3", msg_id="m3"), message("b2", msg_id="m2")],
        first_commits=True,
    )
    assert ours == [WriteOutcome("a2", False), WriteOutcome("a1", False)]
    assert theirs == [
        WriteOutcome("a1", True),
        WriteOutcome("b3", False),
        WriteOutcome("a2", True),
    ]
    assert stored_xaction_ids(transactions[2]) == ["a1", "a2", "b3"]


def test_nothing_is_committed_by_store_messages_itself(
    transactions: tuple[psycopg.Connection[Any], ...],
) -> None:
    first, _, watcher = transactions
    store_messages(first, [message("x1", msg_id="m1"), message("x2", reasons=BROKEN)])
    assert stored_xaction_ids(watcher) == []
    first.rollback()
    assert stored_xaction_ids(watcher) == []
    assert store_and_commit(first, [message("x3", msg_id="m1")]) == [WriteOutcome("x3", False)]


def test_an_autocommit_connection_outside_a_transaction_is_refused(pg_database: str) -> None:
    with connect(pg_database) as conn:
        with pytest.raises(StoreError, match="transaction"):
            store_messages(conn, [message("x1")])
        with conn.transaction():
            assert store_messages(conn, [message("x1")]) == [WriteOutcome("x1", False)]


def test_records_keep_the_bytes_received_and_match_outcomes_point_at_their_record(
    pg_database: str,
) -> None:
    payload = b'{"z": 1,  "a": [1.0, 1e2, 12345678901234567890], "n": "\\u0000"}'
    matched = EventMatch("signup", "ada@example.com")
    missing = EventMatch("signup", None, Unmatched.IDENTITY_MISSING, "identity missing: x")
    messages = [
        msgspec.structs.replace(message("x1"), payload=payload, matches=[matched]),
        msgspec.structs.replace(message("x2", reasons=BROKEN), matches=[missing]),
        msgspec.structs.replace(message("x3"), matches=[missing, matched]),
    ]
    with connect(pg_database) as conn:
        with conn.transaction():
            store_messages(conn, messages)
        (stored,) = conn.execute("SELECT message FROM records WHERE xaction_id = 'x1'")
        assert stored == (payload,)
        rows = conn.execute(
            "SELECT m.xaction_id, m.matched, m.cause, r.xaction_id FROM event_matches m "
            "LEFT JOIN records r ON r.seq = m.record_seq ORDER BY m.seq"
        ).fetchall()
    assert rows == [
        ("x1", True, None, "x1"),
        ("x2", False, "identity missing", None),
        ("x3", False, "identity missing", "x3"),
        ("x3", True, None, "x3"),
    ]
    store = PostgresStore(open_pool(pg_database, max_size=1))
    try:
        (record, _) = store.list_records("dataset-1", limit=10)
        assert record.message == orjson.loads(payload)
    finally:
        store.close()


def test_a_page_followed_never_passes_records_a_transaction_still_running_adds(
    transactions: tuple[psycopg.Connection[Any], ...], pg_database: str
) -> None:
    """Seqs are drawn in one order and committed in another: the first transaction draws
    its seq, the second draws a later one and commits first. A follower's page then stops
    before the first's seq (or it would go on after the second's and never see it), where
    a plain read sees every record committed."""
    first, second, _ = transactions
    store = PostgresStore(open_pool(pg_database, max_size=1))

    def page(after: int | None, *, following: bool = True) -> list[str]:
        found = store.list_records("dataset-1", limit=10, after_seq=after, following=following)
        return [r.xaction_id for r in found]

    try:
        store_and_commit(first, [message("a0")])
        store_messages(first, [message("a1"), message("a2", reasons=BROKEN)])
        store_and_commit(second, [message("b1"), message("b2")])
        assert page(None) == ["a0"]
        assert page(0) == ["a0"]
        assert page(0, following=False) == ["a0", "b1", "b2"]
        first.commit()
        assert page(0) == ["a0", "a1", "b1", "b2"]
        assert page(None) == ["a0", "a1", "b1", "b2"]
        second.rollback()  # a transaction that draws and rolls back leaves a gap, no wait
        store_messages(second, [message("c1")])
        second.rollback()
        store_and_commit(first, [message("d1")])
        (*_, last) = store.list_records("dataset-1", limit=10, after_seq=0, following=True)
        assert page(last.seq - 1) == ["d1"]
    finally:
        store.close()


def test_retention_passes_at_once_delete_different_records_and_never_wait(
    transactions: tuple[psycopg.Connection[Any], ...], pg_database: str
) -> None:
    """Scaled out, every server runs retention passes: one pass skips the rows another
    holds (``FOR UPDATE SKIP LOCKED``) instead of waiting for them, or deadlocking."""
    first, _, watcher = transactions
    store_and_commit(first, [message(f"r{i}") for i in range(6)])
    held = first.execute("SELECT seq FROM records ORDER BY seq LIMIT 2 FOR UPDATE").fetchall()
    assert len(held) == 2  # as another pass's chunk holds them until it commits
    store = PostgresStore(open_pool(pg_database, max_size=1))
    try:
        with ThreadPoolExecutor(1) as pool:
            deleting = pool.submit(store.delete_records_before, "dataset-1", T0 + 1, 3)
            try:
                assert deleting.result(timeout=10) == 3
            finally:
                first.rollback()  # a pass that waited goes on, and the test ends
        assert stored_xaction_ids(watcher) == ["r0", "r1", "r5"]
        assert store.delete_records_before("dataset-1", T0 + 1, 10) == 3
        assert stored_xaction_ids(watcher) == []
    finally:
        store.close()


def test_known_message_ids_gives_the_first_xaction_id_of_those_stored_in_the_org(
    pg_database: str,
) -> None:
    pool = open_pool(pg_database, max_size=1)
    try:
        with pool.connection() as conn, conn.transaction():
            store_messages(
                conn,
                [
                    message("x1", msg_id="m1", digest=b"d" * 16),
                    message("x2", msg_id="m2", reasons=BROKEN),
                    message("theirs", msg_id="m3", org_id=OTHER_ORG),
                ],
            )
        wanted = ["m1", "m2", "m3", "m4"]
        assert known_message_ids(pool, ORG, wanted) == {
            "m1": FirstMessage("x1", b"d" * 16),
            "m2": FirstMessage("x2", None),
        }
        with pool.connection() as conn:
            assert known_message_ids(conn, OTHER_ORG, wanted) == {
                "m3": FirstMessage("theirs", None)
            }
        assert known_message_ids(pool, ORG, []) == {}
    finally:
        pool.close()


def test_a_nul_character_in_a_msg_id_or_an_identity_fails_nothing(pg_database: str) -> None:
    """PostgreSQL's text cannot hold NUL: such a message must not fail its whole group."""
    odd = msgspec.structs.replace(
        message("x1", msg_id="m\x001"), matches=[EventMatch("signup", "ada\x00@example.com")]
    )
    pool = open_pool(pg_database, max_size=1)
    try:
        for attempt, xaction_id in enumerate(["x1", "retry"]):
            retry = msgspec.structs.replace(odd, xaction_id=xaction_id)
            with pool.connection() as conn, conn.transaction():
                outcomes = store_messages(conn, [retry, message("ok")])
            assert outcomes[0] == WriteOutcome("x1", attempt > 0)
        assert known_message_ids(pool, ORG, ["m\x001", "m1"]) == {
            "m\x001": FirstMessage("x1", None)
        }
        with pool.connection() as conn:
            assert stored_xaction_ids(conn) == ["ok", "ok", "x1"]
            identities = conn.execute("SELECT identity FROM event_matches").fetchall()
        assert identities == [("ada\ufffd@example.com",)]
    finally:
        pool.close()
