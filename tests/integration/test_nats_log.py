"""The JetStream event log on the machine's NATS: the stream's setup and checks, what the
writer does beyond the EventLog contract (the ``known`` lookup, msgIds that are no header
value, sizes), and a reader's bounded buffer."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import nats
import pytest
from nats.js import api

from tests.contract.conftest import ORG, message
from tests.nats_support import read_until
from wayfare.errors import LogError, PayloadTooLargeError
from wayfare.log.jetstream import NatsSettings, check_log, prepare_stream, stream_config
from wayfare.log.nats import NatsEventLog, NatsWriter
from wayfare.log.nats_writer import MAX_MSG_ID, msg_id_of
from wayfare.model.partitions import partition_of
from wayfare.model.records import FirstMessage, IncomingMessage, WriteOutcome

pytestmark = pytest.mark.integration

T = TypeVar("T")


def run(coroutine: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coroutine())  # type: ignore[arg-type]


async def read_all(log: NatsEventLog, partition: int) -> list[str]:
    found = await log.read(partition, 0, 10_000)
    return [m.xaction_id for m in found.messages]


def partition(settings: NatsSettings, m: IncomingMessage) -> int:
    return partition_of(m.org_id, m.partition_key, settings.partitions)


def test_the_stream_is_created_with_one_subject_per_partition(
    nats_settings: NatsSettings,
) -> None:
    async def scenario() -> api.StreamConfig:
        writer = NatsWriter(nats_settings)
        await writer.start()
        await writer.stop()
        client = await nats.connect(nats_settings.url)
        try:
            return (await client.jetstream().stream_info(nats_settings.stream)).config
        finally:
            await client.close()

    config = run(scenario)
    assert config.subjects == [f"{nats_settings.prefix}.msgs.{p}" for p in range(4)]
    assert config.storage == api.StorageType.FILE
    assert config.duplicate_window == nats_settings.duplicate_window
    assert not config.max_age


def test_another_partition_count_is_refused_in_one_line(nats_settings: NatsSettings) -> None:
    async def scenario() -> None:
        first = NatsWriter(nats_settings)
        await first.start()
        await first.stop()
        other = NatsEventLog(dataclasses.replace(nats_settings, partitions=8))
        await other.start()

    with pytest.raises(LogError) as refused:
        run(scenario)
    assert "has 4 partitions, not 8" in refused.value.message
    assert "\n" not in refused.value.message


def test_a_stream_that_would_drop_uncommitted_entries_is_refused(
    nats_settings: NatsSettings,
) -> None:
    async def scenario() -> None:
        client = await nats.connect(nats_settings.url)
        js = client.jetstream()
        config = dataclasses.replace(
            stream_config(nats_settings), max_age=3600.0, storage=api.StorageType.MEMORY
        )
        await js.add_stream(config)
        try:
            await prepare_stream(js, nats_settings)
        finally:
            await client.close()

    with pytest.raises(LogError) as refused:
        run(scenario)
    assert "storage is memory" in refused.value.message
    assert "max_age is 3600.0s" in refused.value.message


def test_checking_says_what_is_wrong_and_creates_nothing(nats_settings: NatsSettings) -> None:
    with pytest.raises(LogError, match="does not exist"):
        asyncio.run(check_log(nats_settings))
    with pytest.raises(LogError, match="cannot be reached"):
        asyncio.run(
            check_log(dataclasses.replace(nats_settings, url="nats://127.0.0.1:1", timeout=1))
        )

    async def create() -> None:
        writer = NatsWriter(nats_settings)
        await writer.start()
        await writer.stop()

    run(create)
    assert asyncio.run(check_log(nats_settings)).subjects == nats_settings.subjects(4)


def test_an_unreachable_server_fails_start_within_the_timeout() -> None:
    settings = NatsSettings(url="nats://127.0.0.1:1", timeout=1.0)
    started = time.monotonic()
    with pytest.raises(LogError, match="cannot be reached"):
        run(NatsWriter(settings).start)
    assert time.monotonic() - started < 5


def test_known_msg_ids_are_answered_without_publishing(nats_settings: NatsSettings) -> None:
    asked: list[tuple[str, list[str]]] = []

    async def known(org_id: str, msg_ids: Sequence[str]) -> Mapping[str, FirstMessage]:
        asked.append((org_id, sorted(msg_ids)))
        stored = {
            "old": FirstMessage("x-stored", b"s" * 16),
            "reused": FirstMessage("x-first", b"s" * 16),
        }
        return {m: stored[m] for m in msg_ids if m in stored}

    async def scenario() -> tuple[list[WriteOutcome], list[str]]:
        writer, log = NatsWriter(nats_settings, known), NatsEventLog(nats_settings)
        await writer.start()
        await log.start()
        try:
            sent = [
                message("x1", msg_id="old", digest=b"s" * 16),
                message("x2", msg_id="new"),
                message("x3"),
                message("x4", msg_id="reused", digest=b"t" * 16),
            ]
            outcomes = await writer.write(sent)
            stored = []
            for p in range(log.partitions):
                stored += await read_all(log, p)
            return outcomes, stored
        finally:
            await log.stop()
            await writer.stop()

    outcomes, stored = run(scenario)
    assert outcomes == [
        WriteOutcome("x-stored", True),
        WriteOutcome("x2", False),
        WriteOutcome("x3", False),
        WriteOutcome("x-first", True, conflict=True),
    ]
    assert sorted(stored) == ["x2", "x3"]
    assert asked == [(ORG, ["new", "old", "reused"])]


def test_a_duplicate_of_a_purged_original_is_answered_by_the_store(
    nats_settings: NatsSettings,
) -> None:
    asked: list[list[str]] = []

    async def known(org_id: str, msg_ids: Sequence[str]) -> Mapping[str, FirstMessage]:
        # The store has m1 from its third question on: its commit landed just after the
        # writer's look-up before publishing the retry.
        asked.append(list(msg_ids))
        return {"m1": FirstMessage("first", None)} if len(asked) >= 3 else {}

    async def scenario() -> list[WriteOutcome]:
        writer, log = NatsWriter(nats_settings, known), NatsEventLog(nats_settings)
        await writer.start()
        await log.start()
        try:
            first = message("first", msg_id="m1")
            await writer.write([first])
            p = partition(nats_settings, first)
            found = await log.read(p, 0, 10)
            await log.acknowledge(p, found.last)
            assert await read_all(log, p) == []
            answered = await writer.write([message("retry", msg_id="m1")])
            # Without a store to ask, the duplicate is still one, under its own xactionId.
            blind = NatsWriter(nats_settings)
            await blind.start()
            try:
                answered += await blind.write([message("blind", msg_id="m1")])
            finally:
                await blind.stop()
            assert await read_all(log, p) == []
            return answered
        finally:
            await log.stop()
            await writer.stop()

    assert run(scenario) == [WriteOutcome("first", True), WriteOutcome("blind", True)]
    assert asked == [["m1"], ["m1"], ["m1"]]


@pytest.mark.parametrize(
    "msg_id", ["m" * (MAX_MSG_ID + 1), "caf\u00e9 \u2603", "two\r\nlines", " padded "]
)
def test_msg_ids_that_are_no_plain_header_value_still_deduplicate(
    nats_settings: NatsSettings, msg_id: str
) -> None:
    header = msg_id_of(message("x", msg_id=msg_id))
    assert header.startswith("h:") and len(header) <= MAX_MSG_ID

    async def scenario() -> list[WriteOutcome]:
        writer = NatsWriter(nats_settings)
        await writer.start()
        try:
            first = await writer.write([message("first", msg_id=msg_id)])
            return first + await writer.write([message("retry", msg_id=msg_id)])
        finally:
            await writer.stop()

    assert run(scenario) == [WriteOutcome("first", False), WriteOutcome("first", True)]


def test_msg_ids_of_two_orgs_never_share_a_header() -> None:
    a = message("x", org_id="a:b", msg_id="c")
    b = message("x", org_id="a", msg_id="b:c")
    assert msg_id_of(a) != msg_id_of(b)
    assert msg_id_of(message("x1")) != msg_id_of(message("x2"))


def test_a_message_over_the_servers_max_payload_is_too_large(nats_settings: NatsSettings) -> None:
    async def scenario() -> None:
        writer = NatsWriter(nats_settings)
        await writer.start()
        try:
            await writer.write([message("big", body={"x": "y" * 1_100_000})])
        finally:
            await writer.stop()

    with pytest.raises(PayloadTooLargeError, match="over the NATS server's limit"):
        run(scenario)


def test_a_reader_with_a_small_buffer_reads_everything_in_order(
    nats_settings: NatsSettings,
) -> None:
    settings = dataclasses.replace(nats_settings, partitions=1, buffer=5)
    count = 300

    async def scenario() -> list[str]:
        writer, log = NatsWriter(settings), NatsEventLog(settings)
        await writer.start()
        await log.start()
        try:
            await writer.write([message(f"x{i}") for i in range(count)])
            got, _ = await read_until(log, 0, 0, count, limit=7)
            return got
        finally:
            await log.stop()
            await writer.stop()

    assert run(scenario) == [f"x{i}" for i in range(count)]


def test_how_far_behind_a_reader_is_counts_what_it_holds_and_what_waits_at_the_server(
    nats_settings: NatsSettings,
) -> None:
    """The engine's lag on the NATS log: entries buffered, and those the server holds back
    until the reader makes room (more than its flow-control window delivers at once)."""
    settings = dataclasses.replace(nats_settings, partitions=1, buffer=5)
    count = 15_000

    async def scenario() -> list[int | None]:
        writer, log = NatsWriter(settings), NatsEventLog(settings)
        await writer.start()
        await log.start()
        try:
            seen = [await log.behind(0, 0)]  # no reader yet: not known
            for start in range(0, count, 1_000):
                await writer.write([message(f"x{i}") for i in range(start, start + 1_000)])
            first = await log.read(0, 0, 7)
            deadline = time.monotonic() + 10  # deliveries on their way count in neither
            while (behind := await log.behind(0, first.last)) != count - 7:
                assert time.monotonic() < deadline, behind
                await asyncio.sleep(0.02)
            seen.append(behind)
            _, last = await read_until(log, 0, first.last, count - 7)
            seen.append(await log.behind(0, last))
            await log.release(0)
            seen.append(await log.behind(0, last))
            return seen
        finally:
            await log.stop()
            await writer.stop()

    assert run(scenario) == [None, count - 7, 0, None]


def test_acknowledging_purges_the_partition_up_to_the_position(
    nats_settings: NatsSettings,
) -> None:
    async def scenario() -> tuple[int, int]:
        writer, log = NatsWriter(nats_settings), NatsEventLog(nats_settings)
        await writer.start()
        await log.start()
        try:
            await writer.write([message(f"x{i}", msg_id=f"m{i}") for i in range(20)])
            p = partition(nats_settings, message("x0"))
            found = await log.read(p, 0, 1000)
            await log.acknowledge(p, found.last)
            client = await nats.connect(nats_settings.url)
            try:
                info = await client.jetstream().stream_info(nats_settings.stream)
            finally:
                await client.close()
            return info.state.messages, 20 - len(found.messages)
        finally:
            await log.stop()
            await writer.stop()

    left, others = run(scenario)
    assert left == others


def test_a_reader_whose_consumer_vanished_goes_on_without_gaps_or_repeats(
    nats_settings: NatsSettings,
) -> None:
    settings = dataclasses.replace(nats_settings, partitions=1, heartbeat=0.2)

    async def scenario() -> list[str]:
        writer, log = NatsWriter(settings), NatsEventLog(settings)
        await writer.start()
        await log.start()
        client = await nats.connect(settings.url)
        try:
            await writer.write([message(f"x{i}") for i in range(5)])
            first = await log.read(0, 0, 3)
            js = client.jetstream()
            for consumer in await js.consumers_info(settings.stream):
                await js.delete_consumer(settings.stream, consumer.name)
            await writer.write([message(f"x{i}") for i in range(5, 10)])
            rest, _ = await read_until(log, 0, first.last, 7)
            return [m.xaction_id for m in first.messages] + rest
        finally:
            await client.close()
            await log.stop()
            await writer.stop()

    assert run(scenario) == [f"x{i}" for i in range(10)]


def test_a_released_partition_is_read_afresh(nats_settings: NatsSettings) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        writer, log = NatsWriter(nats_settings), NatsEventLog(nats_settings)
        await writer.start()
        await log.start()
        try:
            sent = message("x1")
            await writer.write([sent])
            p = partition(nats_settings, sent)
            before = await read_all(log, p)
            await log.release(p)
            return before, await read_all(log, p)
        finally:
            await log.stop()
            await writer.stop()

    assert run(scenario) == (["x1"], ["x1"])


def test_several_servers_may_be_given_and_a_dead_one_is_passed_over(
    nats_settings: NatsSettings,
) -> None:
    settings = dataclasses.replace(
        nats_settings, url=f"nats://127.0.0.1:1, {nats_settings.url}", partitions=1
    )
    assert settings.servers == ["nats://127.0.0.1:1", nats_settings.url]

    async def scenario() -> list[WriteOutcome]:
        writer = NatsWriter(settings)
        await writer.start()
        try:
            return await writer.write([message("x1")])
        finally:
            await writer.stop()

    assert run(scenario) == [WriteOutcome("x1", False)]
