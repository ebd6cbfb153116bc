"""The MessageWriter contract: commits in order, deduplicates msgIds per org, loses nothing."""

from __future__ import annotations

import asyncio

import pytest

from tests.contract.conftest import (
    ORG,
    OTHER_ORG,
    Backend,
    message,
    with_writer,
    write,
)
from wayfare.errors import StoreError, Violation
from wayfare.model.records import WriteOutcome
from wayfare.store.ports import MessageWriter

BROKEN = [Violation("#/timestamp", "format", "not a date-time")]


def test_outcomes_come_in_order_valid_to_records_invalid_to_failures(backend: Backend) -> None:
    outcomes = write(
        backend,
        message("x1", msg_id="m1"),
        message("x2", reasons=BROKEN),
        message("x3"),
    )
    assert outcomes == [
        WriteOutcome("x1", False),
        WriteOutcome("x2", False),
        WriteOutcome("x3", False),
    ]
    records = backend.store.list_records("dataset-1", limit=10)
    assert [r.xaction_id for r in records] == ["x1", "x3"]
    assert records[0].seq < records[1].seq
    assert [f.xaction_id for f in backend.store.list_failures(ORG)] == ["x2"]


def test_a_retried_msg_id_returns_the_first_xaction_id_and_is_not_stored_again(
    backend: Backend,
) -> None:
    write(backend, message("first", msg_id="m1"))
    outcomes = write(backend, message("retry", msg_id="m1"), message("new", msg_id="m2"))
    assert outcomes == [WriteOutcome("first", True), WriteOutcome("new", False)]
    records = backend.store.list_records("dataset-1", limit=10)
    assert [r.xaction_id for r in records] == ["first", "new"]


def test_a_msg_id_repeated_within_one_call_is_stored_once(backend: Backend) -> None:
    outcomes = write(
        backend,
        message("a", msg_id="m1"),
        message("b", msg_id="m1"),
        message("c", msg_id="m1", reasons=BROKEN),
    )
    assert outcomes == [WriteOutcome("a", False), WriteOutcome("a", True), WriteOutcome("a", True)]
    assert backend.store.count_records("dataset-1") == 1
    assert backend.store.list_failures(ORG) == []


SAID = b"a" * 16
"""The digest of one message; ``OTHER`` of another."""
OTHER = b"b" * 16


def test_a_msg_id_reused_with_another_message_is_a_conflict_naming_the_first(
    backend: Backend,
) -> None:
    write(backend, message("first", msg_id="m1", digest=SAID))
    outcomes = write(
        backend,
        message("changed", msg_id="m1", digest=OTHER),
        message("retry", msg_id="m1", digest=SAID),
    )
    assert outcomes == [WriteOutcome("first", True, True), WriteOutcome("first", True)]
    assert [r.xaction_id for r in backend.store.list_records("dataset-1", limit=10)] == ["first"]


def test_a_msg_id_reused_with_another_message_within_one_call_is_a_conflict(
    backend: Backend,
) -> None:
    outcomes = write(
        backend,
        message("a", msg_id="m1", digest=SAID),
        message("b", msg_id="m1", digest=OTHER),
        message("c", msg_id="m1", digest=SAID),
    )
    assert outcomes == [
        WriteOutcome("a", False),
        WriteOutcome("a", True, True),
        WriteOutcome("a", True),
    ]
    assert backend.store.count_records("dataset-1") == 1


def test_a_msg_id_stored_without_a_digest_takes_any_retry_as_a_duplicate(
    backend: Backend,
) -> None:
    write(backend, message("old", msg_id="m1"))
    assert write(backend, message("retry", msg_id="m1", digest=OTHER)) == [
        WriteOutcome("old", True)
    ]


def test_a_failed_message_is_deduplicated_too(backend: Backend) -> None:
    write(backend, message("bad", msg_id="m1", reasons=BROKEN))
    assert write(backend, message("fixed", msg_id="m1")) == [WriteOutcome("bad", True)]
    assert backend.store.count_records("dataset-1") == 0
    assert len(backend.store.list_failures(ORG)) == 1


def test_the_same_msg_id_in_two_orgs_is_not_a_duplicate(backend: Backend) -> None:
    outcomes = write(
        backend,
        message("ours", msg_id="m1", org_id=ORG),
        message("theirs", msg_id="m1", org_id=OTHER_ORG),
    )
    assert outcomes == [WriteOutcome("ours", False), WriteOutcome("theirs", False)]
    assert backend.store.count_records("dataset-1") == 2


def test_messages_without_msg_id_are_never_deduplicated(backend: Backend) -> None:
    write(backend, message("a", body={"same": True}))
    outcomes = write(backend, message("b", body={"same": True}), message("c", body={"same": True}))
    assert outcomes == [WriteOutcome("b", False), WriteOutcome("c", False)]
    assert backend.store.count_records("dataset-1") == 3


def test_concurrent_writes_from_many_tasks_are_all_committed(backend: Backend) -> None:
    tasks, per_task = 40, 5

    async def scenario(writer: MessageWriter) -> list[list[WriteOutcome]]:
        async def send(t: int) -> list[WriteOutcome]:
            batch = [message(f"t{t}-{i}", msg_id=f"m{t}-{i}") for i in range(per_task)]
            return await writer.write(batch)

        results = await asyncio.gather(*(send(t) for t in range(tasks)))
        assert writer.pending == 0
        return results

    results = with_writer(backend, scenario)
    for t, outcomes in enumerate(results):
        assert outcomes == [WriteOutcome(f"t{t}-{i}", False) for i in range(per_task)]
    records = backend.store.list_records("dataset-1", limit=tasks * per_task + 1)
    xaction_ids = [r.xaction_id for r in records]
    assert len(xaction_ids) == len(set(xaction_ids)) == tasks * per_task
    seqs = [r.seq for r in records]
    assert seqs == sorted(set(seqs))
    assert backend.store.count_records("dataset-1") == tasks * per_task


def test_everything_is_still_there_for_a_new_writer_and_a_reopened_store(
    backend: Backend,
) -> None:
    write(backend, message("x1", msg_id="m1"), message("x2", reasons=BROKEN))
    outcomes = write(backend, message("retry", msg_id="m1"), message("x3", msg_id="m3"))
    assert outcomes == [WriteOutcome("x1", True), WriteOutcome("x3", False)]
    reopened = backend.reopen_store()
    assert [r.xaction_id for r in reopened.list_records("dataset-1", limit=10)] == ["x1", "x3"]
    assert [f.xaction_id for f in reopened.list_failures(ORG)] == ["x2"]


def test_a_writer_that_is_not_running_refuses_to_write(backend: Backend) -> None:
    async def scenario() -> None:
        writer = backend.new_writer()
        with pytest.raises(StoreError):
            await writer.write([message("x1")])
        await writer.start()
        await writer.stop()
        with pytest.raises(StoreError):
            await writer.write([message("x2")])

    asyncio.run(scenario())
    assert backend.store.count_records("dataset-1") == 0
