"""The EventLog contract: what the inlet's writer appended is read back per partition, in
order, after a position; a msgId is appended once; waiting wakes on a write.

Entries are named by their messages' xactionIds (``read_ids``): from the messages a slice
carries, or, for the embedded log (whose entries are its store's match outcomes), from the
outcomes journeys act on. What only logs that carry messages, with several partitions, can
show runs over ``message_log_backend``."""

from __future__ import annotations

import asyncio
import time

from tests.contract.conftest import ORG, T0, LogBackend, message, with_log
from wayfare.errors import Violation
from wayfare.log.ports import EventLog, LogSlice
from wayfare.model.events import Unmatched
from wayfare.model.matching import EventMatch
from wayfare.model.partitions import partition_of
from wayfare.model.records import IncomingMessage, WriteOutcome
from wayfare.store.ports import MessageWriter

BROKEN = [Violation("#/timestamp", "format", "not a date-time")]


def about(person: str, xaction_id: str, **kwargs: object) -> IncomingMessage:
    """A message that is the ``signup`` event of ``person``."""
    return message(
        xaction_id,
        body={"body": {"xdmEntity": {"person": person, "x": xaction_id}}},
        matches=[EventMatch("signup", person)],
        **kwargs,  # type: ignore[arg-type]
    )


def partition(log: EventLog, m: IncomingMessage) -> int:
    return partition_of(m.org_id, m.partition_key, log.partitions)


def people_in(log: EventLog, count: int, *, avoid: int | None = None) -> list[str]:
    """``count`` people who share one partition (not ``avoid``)."""
    by_partition: dict[int, list[str]] = {}
    n = 0
    while True:
        person = f"person-{n}@example.com"
        p = partition_of(ORG, person, log.partitions)
        if p != avoid:
            by_partition.setdefault(p, []).append(person)
            if len(by_partition[p]) == count:
                return by_partition[p]
        n += 1


def positions(found: LogSlice) -> list[int]:
    return [m.position for m in found.matched]


async def read_all(log: EventLog, partition: int, after: int) -> LogSlice:
    """Every entry after ``after`` that the log holds now, as one slice: reads in turn until
    one comes back empty (a read may hand out what it holds before the rest arrives; it never
    skips, and an empty read means nothing acknowledged is left)."""
    matched, messages, identities, last = [], [], [], after
    while not (found := await log.read(partition, last, 1000)).empty:
        matched += found.matched
        messages += found.messages
        identities += found.identities
        last = found.last
    return LogSlice(partition, after, last, matched, messages, identities)


def read_ids(found: LogSlice) -> list[str]:
    """The xactionIds of the messages read, in order, whatever the log carries."""
    if found.messages:
        return [m.xaction_id for m in found.messages]
    return list(dict.fromkeys(m.xaction_id for m in found.matched))


def test_what_a_writer_wrote_is_read_back_in_order_per_partition(log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        written = [about(f"p{i % 7}@example.com", f"x{i}") for i in range(40)]
        for start in range(0, len(written), 10):
            await writer.write(written[start : start + 10])
        seen = []
        for p in range(log.partitions):
            found = await read_all(log, p, 0)
            assert found.partition == p and found.after == 0
            expected = [m.xaction_id for m in written if partition(log, m) == p]
            assert read_ids(found) == expected
            assert positions(found) == sorted(set(positions(found)))
            assert found.last == (positions(found)[-1] if expected else 0)
            seen += read_ids(found)
        assert sorted(seen) == sorted(m.xaction_id for m in written)

    with_log(log_backend, scenario)


def test_messages_come_back_whole(message_log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        sent = about("ada@example.com", "x1", msg_id="m1")
        await writer.write([sent])
        found = await read_all(log, partition(log, sent), 0)
        assert found.messages == [sent]

    with_log(message_log_backend, scenario)


def test_a_read_after_a_position_returns_only_later_entries(log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        people = people_in(log, 1)
        written = [about(people[0], f"x{i}") for i in range(6)]
        await writer.write(written)
        p = partition(log, written[0])
        first = await log.read(p, 0, 2)
        assert read_ids(first) == ["x0", "x1"]
        rest = await read_all(log, p, first.last)
        assert rest.after == first.last
        assert read_ids(rest) == ["x2", "x3", "x4", "x5"]
        assert min(positions(rest)) > first.last
        again = await read_all(log, p, positions(rest)[1])
        assert read_ids(again) == ["x4", "x5"]
        from_start = await read_all(log, p, 0)
        assert read_ids(from_start) == [f"x{i}" for i in range(6)]

    with_log(log_backend, scenario)


def test_a_read_returns_at_most_limit_entries_in_turn(log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        person = people_in(log, 1)[0]
        await writer.write([about(person, f"x{i}") for i in range(7)])
        p = partition_of(ORG, person, log.partitions)
        after, got = 0, []
        while not (found := await log.read(p, after, 3)).empty:
            assert 1 <= len(read_ids(found)) <= 3
            assert found.last > after
            got += read_ids(found)
            after = found.last
        assert got == [f"x{i}" for i in range(7)]
        assert found.last == found.after == after

    with_log(log_backend, scenario)


def test_a_read_stopped_by_its_limit_says_more_may_wait(log_backend: LogBackend) -> None:
    """The engine reads again at once only after a read that may have left entries behind;
    a log that can tell says when one took everything there was."""

    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        person = people_in(log, 1)[0]
        await writer.write([about(person, f"x{i}") for i in range(5)])
        p = partition_of(ORG, person, log.partitions)
        first = await log.read(p, 0, 3)
        assert read_ids(first) == ["x0", "x1", "x2"] and first.more
        rest = await read_all(log, p, first.last)
        assert read_ids(rest) == ["x3", "x4"]
        if log_backend.name in ("memory", "embedded"):  # NATS may deliver in pieces
            assert not (await log.read(p, first.last, 10)).more
        assert not (await log.read(p, rest.last, 10)).more

    with_log(log_backend, scenario)


def test_partitions_are_independent(message_log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        ours = people_in(log, 1)[0]
        p = partition_of(ORG, ours, log.partitions)
        theirs = people_in(log, 1, avoid=p)[0]
        q = partition_of(ORG, theirs, log.partitions)
        await writer.write([about(ours, "a1"), about(theirs, "b1")])
        a = await read_all(log, p, 0)
        await writer.write([about(theirs, "b2")])
        b = await read_all(log, q, 0)
        assert read_ids(a) == ["a1"]
        assert read_ids(b) == ["b1", "b2"]
        assert (await log.read(p, a.last, 10)).empty
        await log.acknowledge(q, b.last)
        assert read_ids(await read_all(log, p, 0)) == ["a1"]

    with_log(message_log_backend, scenario)


def test_a_retried_msg_id_is_one_entry_answered_with_the_first_xaction_id(
    log_backend: LogBackend,
) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        person = people_in(log, 1)[0]
        first = await writer.write([about(person, "first", msg_id="m1")])
        retry = await writer.write(
            [about(person, "retry", msg_id="m1"), about(person, "new", msg_id="m2")]
        )
        same_call = await writer.write(
            [about(person, "a", msg_id="m3"), about(person, "b", msg_id="m3", reasons=BROKEN)]
        )
        assert first == [WriteOutcome("first", False)]
        assert retry == [WriteOutcome("first", True), WriteOutcome("new", False)]
        assert same_call == [WriteOutcome("a", False), WriteOutcome("a", True)]
        found = await read_all(log, partition_of(ORG, person, log.partitions), 0)
        assert read_ids(found) == ["first", "new", "a"]

    with_log(log_backend, scenario)


def test_a_msg_id_reused_with_another_message_is_a_conflict_naming_the_first(
    log_backend: LogBackend,
) -> None:
    said, other = b"a" * 16, b"b" * 16

    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        person = people_in(log, 1)[0]
        await writer.write([about(person, "first", msg_id="m1", digest=said)])
        again = await writer.write(
            [
                about(person, "retry", msg_id="m1", digest=said),
                about(person, "changed", msg_id="m1", digest=other),
            ]
        )
        same_call = await writer.write(
            [
                about(person, "a", msg_id="m2", digest=said),
                about(person, "b", msg_id="m2", digest=other),
            ]
        )
        assert again == [WriteOutcome("first", True), WriteOutcome("first", True, True)]
        assert same_call == [WriteOutcome("a", False), WriteOutcome("a", True, True)]
        found = await read_all(log, partition_of(ORG, person, log.partitions), 0)
        assert read_ids(found) == ["first", "a"]

    with_log(log_backend, scenario)


def test_the_same_msg_id_in_two_orgs_is_two_entries(log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        ours = about("ada@example.com", "ours", msg_id="m1")
        theirs = about("ada@example.com", "theirs", msg_id="m1", org_id="OTHER@AdobeOrg")
        assert await writer.write([ours, theirs]) == [
            WriteOutcome("ours", False),
            WriteOutcome("theirs", False),
        ]
        for m in (ours, theirs):
            found = await read_all(log, partition(log, m), 0)
            assert m.xaction_id in read_ids(found)

    with_log(log_backend, scenario)


def test_failed_messages_are_entries_without_matched_outcomes(
    message_log_backend: LogBackend,
) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        failed = message("bad", reasons=BROKEN, dataset_id=None)
        await writer.write([failed])
        found = await read_all(log, partition(log, failed), 0)
        assert found.messages == [failed]
        assert found.matched == []
        assert found.last > found.after

    with_log(message_log_backend, scenario)


def test_outcomes_journeys_act_on_are_matched_with_entity_and_position(
    log_backend: LogBackend,
) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        person = people_in(log, 1)[0]
        entity = {"person": person, "n": 1}
        outcomes = [
            EventMatch("signup", person),
            EventMatch("visit", None, Unmatched.CONDITION_NOT_MET, "condition not met"),
            EventMatch("order", None, Unmatched.IDENTITY_MISSING, "identity missing"),
        ]
        sent = message("x1", body={"body": {"xdmEntity": entity}}, matches=outcomes)
        await writer.write([sent])
        found = await read_all(log, partition(log, sent), 0)
        assert [(m.event, m.identity, m.cause) for m in found.matched] == [
            ("signup", person, None),
            ("order", None, Unmatched.IDENTITY_MISSING),
        ]
        at = positions(found)
        assert at == sorted(at) and all(found.after < p <= found.last for p in at)
        assert all(m.entity == entity and m.org_id == ORG for m in found.matched)

    with_log(log_backend, scenario)


def test_wait_wakes_on_a_write(log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        person = people_in(log, 1)[0]
        p = partition_of(ORG, person, log.partitions)
        assert (await log.read(p, 0, 10)).empty
        waiting = asyncio.create_task(log.wait(30))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        started = time.monotonic()
        await writer.write([about(person, "x1")])
        await asyncio.wait_for(waiting, 10)
        assert time.monotonic() - started < 5
        assert read_ids(await read_all(log, p, 0)) == ["x1"]

    with_log(log_backend, scenario)


def test_wait_wakes_for_a_write_made_between_a_read_and_the_wait(
    log_backend: LogBackend,
) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        person = people_in(log, 1)[0]
        p = partition_of(ORG, person, log.partitions)
        assert (await log.read(p, 0, 10)).empty
        await writer.write([about(person, "x1")])
        started = time.monotonic()
        await asyncio.wait_for(log.wait(30), 10)
        assert time.monotonic() - started < 5
        assert read_ids(await read_all(log, p, 0)) == ["x1"]

    with_log(log_backend, scenario)


def test_wait_returns_after_its_time_when_nothing_comes(log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        assert (await log.read(0, 0, 10)).empty
        started = time.monotonic()
        await log.wait(0.2)
        assert 0.15 < time.monotonic() - started < 5

    with_log(log_backend, scenario)


def test_reading_after_last_gives_nothing_new(log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        person = people_in(log, 1)[0]
        p = partition_of(ORG, person, log.partitions)
        await writer.write([about(person, "x1"), about(person, "x2")])
        found = await read_all(log, p, 0)
        nothing = await log.read(p, found.last, 10)
        assert nothing.empty and nothing.last == found.last == nothing.after
        assert nothing.messages == [] and nothing.matched == []

    with_log(log_backend, scenario)


def test_acknowledged_entries_may_go_and_later_ones_stay(log_backend: LogBackend) -> None:
    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        person = people_in(log, 1)[0]
        p = partition_of(ORG, person, log.partitions)
        await writer.write([about(person, f"x{i}") for i in range(4)])
        first = await log.read(p, 0, 2)
        await log.acknowledge(p, first.last)
        rest = await read_all(log, p, first.last)
        assert read_ids(rest) == ["x2", "x3"]
        await writer.write([about(person, "x4")])
        latest = await read_all(log, p, rest.last)
        assert read_ids(latest) == ["x4"]

    with_log(log_backend, scenario)


def test_the_identity_maps_of_valid_messages_are_read_in_order(log_backend: LogBackend) -> None:
    """Whether or not the message is an event: what the engine links in the identity graph.
    Failed messages, and messages without an identityMap, give none."""

    def sent(xaction_id: str, identity_map: object, **kwargs: object) -> IncomingMessage:
        entity = {"identityMap": identity_map, "x": xaction_id}
        return message(xaction_id, body={"body": {"xdmEntity": entity}}, **kwargs)  # type: ignore[arg-type]

    async def scenario(log: EventLog, writer: MessageWriter) -> None:
        first = sent("x1", {"ECID": [{"id": "e1"}]}, received_ms=T0 + 1)
        event = sent("x2", {"Email": [{"id": "a@x.org"}]}, matches=[EventMatch("signup", "p")])
        failed = sent("x3", {"ECID": [{"id": "e3"}]}, reasons=BROKEN, dataset_id=None)
        without = message("x4", body={"body": {"xdmEntity": {"x": 4}}})
        empty = sent("x5", {})
        last = sent("x6", {"ECID": [{"id": "e1"}], "Email": [{"id": "a@x.org"}]})
        for m in (first, event, failed, without, empty, last):
            await writer.write([m])  # one partition per message at most: read them all
        found = [
            (i.org_id, i.received_ms, i.identity_map)
            for p in range(log.partitions)
            for i in (await read_all(log, p, 0)).identities
        ]
        assert sorted(found, key=lambda f: str(f[2])) == sorted(
            [
                (ORG, T0 + 1, {"ECID": [{"id": "e1"}]}),
                (ORG, T0, {"Email": [{"id": "a@x.org"}]}),
                (ORG, T0, {"ECID": [{"id": "e1"}], "Email": [{"id": "a@x.org"}]}),
            ],
            key=lambda f: str(f[2]),
        )

    with_log(log_backend, scenario)
