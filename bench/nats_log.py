"""The JetStream event log's own rates: NatsWriter publishing batches, NatsEventLog reading
every partition in turn (as one worker owning them all), and, for comparison, the same reads
through pull consumers (one fetch round trip per read).

    .venv/bin/python bench/nats_log.py                     # the machine's NATS, 50,000 messages
    .venv/bin/python bench/nats_log.py --messages 200000 --url nats://127.0.0.1:4222

It uses a stream of its own (``bench<random>``) and deletes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid

import nats
import orjson
from nats.js import api

from wayfare.log.jetstream import NatsSettings
from wayfare.log.nats import NatsEventLog, NatsWriter
from wayfare.model.matching import EventMatch
from wayfare.model.records import IncomingMessage

ORG = "BENCH@AdobeOrg"


def sample(i: int) -> IncomingMessage:
    """About 750 bytes, the event of one of 10,000 people."""
    person = f"person-{i % 10_000}@example.com"
    payload = {
        "header": {"msgId": f"m{i}", "imsOrgId": ORG, "schemaRef": {"id": "s" * 60}},
        "body": {
            "xdmEntity": {
                "_id": str(uuid.uuid4()),
                "timestamp": "2026-11-28T10:00:00.000Z",
                "identityMap": {"Email": [{"id": person}]},
                "_instance_name": {"person": {"name": "Ada Lovelace", "note": "x" * 400}},
            }
        },
    }
    return IncomingMessage(
        xaction_id=f"x{i}",
        msg_id=f"m{i}",
        org_id=ORG,
        inlet_id="inlet",
        dataset_id="dataset",
        schema_id="schema",
        received_ms=0,
        payload=orjson.dumps(payload),
        matches=[EventMatch("signup", person)],
    )


async def write(settings: NatsSettings, count: int, batch: int, concurrency: int) -> float:
    writer = NatsWriter(settings)
    await writer.start()
    messages = [sample(i) for i in range(count)]
    batches = [messages[i : i + batch] for i in range(0, count, batch)]
    queue: asyncio.Queue[list[IncomingMessage]] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)

    async def sender() -> None:
        while not queue.empty():
            await writer.write(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await writer.stop()
    return count / elapsed


async def read(settings: NatsSettings, count: int, limit: int) -> float:
    log = NatsEventLog(settings)
    await log.start()
    after = dict.fromkeys(range(log.partitions), 0)
    got = 0
    started = time.perf_counter()
    while got < count:
        for p in after:
            found = await log.read(p, after[p], limit)
            got += len(found.messages)
            after[p] = found.last
    elapsed = time.perf_counter() - started
    await log.stop()
    return count / elapsed


async def read_pull(settings: NatsSettings, count: int, limit: int) -> float:
    """The same reads through one pull consumer per partition (no decoding: a lower bound)."""
    client = await nats.connect(settings.url)
    js = client.jetstream()
    subs = []
    for p in range(settings.partitions):
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE, mem_storage=True, inactive_threshold=30
        )
        subs.append(
            await js.pull_subscribe(settings.subject(p), stream=settings.stream, config=config)
        )
    got = 0
    started = time.perf_counter()
    while got < count:
        for sub in subs:
            with contextlib.suppress(TimeoutError):
                got += len(await sub.fetch(limit, timeout=0.05))
    elapsed = time.perf_counter() - started
    await client.close()
    return count / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100, help="messages per write")
    parser.add_argument("--concurrency", type=int, default=8, help="writes at once")
    parser.add_argument("--limit", type=int, default=500, help="entries per read")
    args = parser.parse_args()
    settings = NatsSettings(
        url=args.url, prefix=f"bench{uuid.uuid4().hex[:8]}", partitions=args.partitions
    )
    try:
        rate = await write(settings, args.messages, args.batch, args.concurrency)
        print(f"write: {rate:,.0f} messages/s ({args.batch} a write, {args.concurrency} at once)")
        rate = await read(settings, args.messages, args.limit)
        print(f"read (push consumers, decoded, matched): {rate:,.0f} messages/s")
        rate = await read_pull(settings, args.messages, args.limit)
        print(f"read (pull consumers, fetch only): {rate:,.0f} messages/s")
    finally:
        client = await nats.connect(args.url)
        await client.jetstream().delete_stream(settings.stream)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
