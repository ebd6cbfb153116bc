"""The JetStream event log when its server dies: kill -9 and restart a private nats-server
under a writer and a reader that stay up."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.contract.conftest import message
from tests.nats_support import PrivateNats, read_until
from wayfare.errors import LogError
from wayfare.log.jetstream import NatsSettings
from wayfare.log.nats import NatsEventLog, NatsWriter
from wayfare.model.records import IncomingMessage, WriteOutcome

pytestmark = pytest.mark.integration

BOUND = 1.0
"""The writer's and reader's timeout in these tests."""


def settings_for(server: PrivateNats) -> NatsSettings:
    return NatsSettings(url=server.url, prefix="faults", partitions=1, timeout=BOUND, heartbeat=0.5)


def batch(first: int, count: int) -> list[IncomingMessage]:
    return [message(f"x{i}", msg_id=f"m{i}") for i in range(first, first + count)]


async def write_when_back(writer: NatsWriter, messages: list[IncomingMessage]) -> None:
    """Write once the client has reconnected (LogError until then), within 20 s."""
    deadline = time.monotonic() + 20
    while True:
        try:
            await writer.write(messages)
            return
        except LogError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def test_everything_acknowledged_survives_kill_9_and_the_same_objects_go_on(
    private_nats: PrivateNats,
) -> None:
    settings = settings_for(private_nats)

    async def scenario() -> None:
        writer, log = NatsWriter(settings), NatsEventLog(settings)
        await writer.start()
        await log.start()
        try:
            assert await writer.write(batch(0, 50)) == [
                WriteOutcome(f"x{i}", False) for i in range(50)
            ]
            got, after = await read_until(log, 0, 0, 20, limit=20)
            assert got == [f"x{i}" for i in range(20)]

            private_nats.kill()
            started = time.monotonic()
            with pytest.raises(LogError):
                await writer.write(batch(1000, 5))
            assert time.monotonic() - started < BOUND + 1
            buffered = await log.read(0, after, 1000)  # delivered before the kill
            got += [m.xaction_id for m in buffered.messages]
            with pytest.raises(LogError):
                await log.read(0, buffered.last, 1000)

            private_nats.start()
            await write_when_back(writer, batch(50, 10))
            rest, _ = await read_until(log, 0, buffered.last, 60 - len(got))
            everything = got + rest
            assert everything == [f"x{i}" for i in range(60)], "gaps or repeats"
            assert await writer.write(batch(0, 1)) == [WriteOutcome("x0", True)]
        finally:
            await log.stop()
            await writer.stop()

    asyncio.run(scenario())


def test_a_new_reader_after_a_restart_reads_everything_acknowledged(
    private_nats: PrivateNats,
) -> None:
    settings = settings_for(private_nats)

    async def write() -> None:
        writer = NatsWriter(settings)
        await writer.start()
        try:
            for first in range(0, 200, 50):
                await writer.write(batch(first, 50))
        finally:
            await writer.stop()

    async def read() -> list[str]:
        log = NatsEventLog(settings)
        await log.start()
        try:
            got, _ = await read_until(log, 0, 0, 200)
            return got
        finally:
            await log.stop()

    asyncio.run(write())
    private_nats.restart()
    assert asyncio.run(read()) == [f"x{i}" for i in range(200)]


def test_a_write_in_flight_when_the_server_dies_fails_within_the_bound_and_is_not_pending(
    private_nats: PrivateNats,
) -> None:
    settings = settings_for(private_nats)

    async def scenario() -> None:
        writer = NatsWriter(settings)
        await writer.start()
        try:
            private_nats.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            started = time.monotonic()
            writing = asyncio.create_task(writer.write(batch(0, 100)))
            await asyncio.sleep(0.1)
            assert writer.pending == 100
            with pytest.raises(LogError, match="did not acknowledge"):
                await writing
            assert BOUND - 0.1 < time.monotonic() - started < BOUND + 1
            assert writer.pending == 0
        finally:
            private_nats.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
            await writer.stop()

    asyncio.run(scenario())
