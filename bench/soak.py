"""The ``soak`` scenario (only when named): ``--soak-minutes`` (10) of mixed traffic at half
the measured capacity, with a live journey, then a reconciliation.

Setup as the journeys scenario (bench/journeys.py): a fresh ``wayfare serve``, the demo, the
webhook receiver, and the journey ``entry -> http POST to the receiver -> end``. First the
capacity: batches of 100 valid events as fast as the server takes them for 15 s, then until
the journey has caught up; capacity = events entered ÷ that time. Then, every 100 ms, a
tick's share of half that rate, mixed as:

    valid new event (batch)          70%   acknowledged; stored; enters; one action
    retry of an acknowledged event   10%   acknowledged as a duplicate; nothing new
    invalid event (batch)            15%   acknowledged as a failed record (async validation)
    unknown inlet (single)            4%   404
    oversized single (1.1 MB)         1%   413

At the end, after the journey drained: every message sent is accounted for exactly once
(sent = stored + failed records + rejected, stored = valid acknowledged), every valid event
entered once and its action arrived once (the receiver counts by identity), and the resident
memory of the server's processes at the end is within 20% of what it was after warm-up.
Figures are printed with ``OK`` or ``MISSED``; nothing is asserted.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cpu import processes, tree
from journeys import (
    Driver,
    event_template,
    identity_of,
    journey_document,
    journey_servers,
    run_async,
)
from load import PLACEHOLDER
from rawhttp import HttpConnection
from servers import Demo
from wayfare.store.sqlite.connection import database_path

TICK_S = 0.1
IDLE_S = 2.0
CAPACITY_S = 15.0
RSS_GROWTH_AIM = 0.20
OVERSIZED_BYTES = 1_100_000
MIX = (("valid", 0.70), ("retry", 0.10), ("invalid", 0.15), ("unknown", 0.04), ("big", 0.01))


@dataclass
class Tally:
    sent: dict[str, int] = field(default_factory=dict)
    answers: dict[str, dict[int, int]] = field(default_factory=dict)
    valid: list[str] = field(default_factory=list)
    """Tags of the valid events acknowledged (each its own identity)."""
    duplicates: int = 0
    invalid_acked: int = 0
    unexpected: list[str] = field(default_factory=list)

    def count(self, kind: str, status: int, n: int = 1) -> None:
        self.sent[kind] = self.sent.get(kind, 0) + n
        by_status = self.answers.setdefault(kind, {})
        by_status[status] = by_status.get(status, 0) + n


def rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and every process it started."""
    total = 0
    for pid in tree(processes(), root):
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            continue
        total += int(fields[1]) * 4096
    return total


def _invalid(template: bytes, tag: str) -> bytes:
    message = orjson.loads(template.replace(PLACEHOLDER, tag.encode()))
    message["body"]["xdmEntity"]["_id"] = 5  # a number where the schema wants a string
    return orjson.dumps(message)


class Soak:
    def __init__(self, driver: Driver, demo: Demo, template: bytes) -> None:
        self.driver = driver
        self.demo = demo
        self.template = template
        self.tally = Tally()
        self.serial = 0
        self.random = random.Random(7)
        self.big = b'{"header": {}, "body": "' + b"x" * OVERSIZED_BYTES + b'"}'
        self.idle: list[tuple[HttpConnection, float]] = []

    def _tag(self) -> str:
        self.serial += 1
        return f"soak-{self.serial}"

    async def batch(self, conn: HttpConnection, kinds: list[str]) -> None:
        bodies, tags = [], []
        for kind in kinds:
            if kind == "retry" and self.tally.valid:
                tag = self.random.choice(self.tally.valid)
                bodies.append(self.template.replace(PLACEHOLDER, tag.encode()))
            elif kind == "invalid":
                tag = self._tag()
                bodies.append(_invalid(self.template, tag))
            else:
                kind, tag = "valid", self._tag()
                bodies.append(self.template.replace(PLACEHOLDER, tag.encode()))
            tags.append((kind, tag))
        try:
            status, answer = await conn.request(
                "POST", self.demo.batch_path, b'{"messages":[' + b",".join(bodies) + b"]}"
            )
        except (OSError, asyncio.IncompleteReadError) as exc:
            await conn.close()
            status, answer = 0, repr(exc).encode()  # not acknowledged: counted as rejected
        if status != 207:
            for kind, _ in tags:
                self.tally.count(kind, status)
            self.tally.unexpected.append(f"batch answered {status}: {answer[:200]!r}")
            return
        for (kind, tag), entry in zip(tags, orjson.loads(answer)["responses"], strict=True):
            code = int(entry.get("statusCode", 200))
            self.tally.count(kind, code)
            if code != 200:
                self.tally.unexpected.append(f"{kind} entry answered {code}")
            elif "duplicateOf" in entry:
                self.tally.duplicates += 1
            elif kind == "invalid":
                self.tally.invalid_acked += 1
            elif kind == "valid":
                self.tally.valid.append(tag)

    async def single(self, conn: HttpConnection, kind: str) -> None:
        if kind == "unknown":
            path, body = f"/collection/{'f' * 64}", self.template.replace(PLACEHOLDER, b"x")
        else:
            path, body = self.demo.single_path, self.big
        try:
            status, _ = await conn.request("POST", path, body)
        except (OSError, asyncio.IncompleteReadError):
            status = 0  # the server closed the connection after its answer
            await conn.close()
        if status == 413:
            await conn.close()  # the server closes it after a 413
        self.tally.count(kind, status)
        if status not in (404, 413):
            self.tally.unexpected.append(f"{kind} single answered {status}")

    async def run(self, rate: float, seconds: float) -> None:
        """Open loop: each tick's share of ``rate``, whatever the answers take; a request
        takes an idle connection or opens one."""
        per_tick = max(1, round(rate * TICK_S))
        names, weights = [k for k, _ in MIX], [w for _, w in MIX]
        start = time.perf_counter()
        pending: set[asyncio.Future[Any]] = set()
        for n in range(int(seconds / TICK_S)):
            kinds = self.random.choices(names, weights, k=per_tick)
            batched = [k for k in kinds if k in ("valid", "retry", "invalid")]
            jobs = [self._on_idle(self.batch, batched)] if batched else []
            jobs += [self._on_idle(self.single, k) for k in kinds if k in ("unknown", "big")]
            task = asyncio.ensure_future(asyncio.gather(*jobs))
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(max(0.0, start + (n + 1) * TICK_S - time.perf_counter()))
        await asyncio.gather(*pending)

    async def _on_idle(self, send: Any, what: Any) -> None:
        conn, last_used = self.idle.pop() if self.idle else (self.driver.connection(), 0.0)
        if conn.is_open and time.monotonic() - last_used > IDLE_S:
            await conn.close()  # the server may have closed it meanwhile (keep-alive timeout)
        if not conn.is_open:  # new, stale, or closed after a 413
            await conn.open()
        try:
            await send(conn, what)
        finally:
            self.idle.append((conn, time.monotonic()))

    async def close(self) -> None:
        for conn, _ in self.idle:
            await conn.close()


@dataclass
class SoakSettings:
    minutes: float = 10.0
    drain_s: float = 120.0


async def _capacity(driver: Driver, template: bytes, conn: HttpConnection) -> float:
    """Events/s the server takes into the live journey: batches of 100 on 4 connections for
    CAPACITY_S, then until ``entered`` stops growing."""
    before = (await driver.report(conn))["entered"]
    conns = [await driver.connection().open() for _ in range(4)]
    started = time.perf_counter()
    serial = 0

    async def blast(c: HttpConnection) -> None:
        nonlocal serial
        while time.perf_counter() - started < CAPACITY_S:
            serial += 1
            body = (
                b'{"messages":['
                + b",".join(
                    template.replace(PLACEHOLDER, f"cap-{serial}-{j}".encode()) for j in range(100)
                )
                + b"]}"
            )
            await c.request("POST", driver.demo.batch_path, body)

    await asyncio.gather(*(blast(c) for c in conns))
    for c in conns:
        await c.close()
    last, last_at = -1, time.perf_counter()
    while True:
        entered = (await driver.report(conn))["entered"] - before
        if entered != last:
            last, last_at = entered, time.perf_counter()
        elif time.perf_counter() - last_at > 3.0:
            return last / (last_at - started)
        await asyncio.sleep(0.5)


async def _arrivals_of(driver: Driver, expected: set[str], settings: SoakSettings) -> int:
    """How many of the ``expected`` identities' actions arrived, waiting until all did, they
    stopped coming for 30 s, or ``drain_s`` passed."""
    deadline = time.monotonic() + settings.drain_s
    last, last_change = -1, time.monotonic()
    while True:
        arrived = len(expected.intersection(await driver.arrivals()))
        if arrived != last:
            last, last_change = arrived, time.monotonic()
        if arrived == len(expected) or time.monotonic() > min(deadline, last_change + 30.0):
            return arrived
        await asyncio.sleep(1.0)


def _stored(data_dir: Path, dataset_id: str) -> tuple[int, int]:
    """Records of the dataset and failed records, read from the SQLite file."""
    path = database_path(data_dir / "wayfare-data")  # where servers.wayfare_server puts it
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        records = db.execute(
            "SELECT count(*) FROM records WHERE dataset_id = ?", (dataset_id,)
        ).fetchone()[0]
        failed = db.execute("SELECT count(*) FROM failures").fetchone()[0]
    return int(records), int(failed)


async def _soak(
    driver: Driver, demo: Demo, template: bytes, settings: SoakSettings, data: Path
) -> dict[str, Any]:
    conn = await driver.connection().open()
    with demo.admin() as admin:
        admin.post("/api/v1/apply", json={"documents": [journey_document(driver.receiver.url)]})
    capacity = await _capacity(driver, template, conn)
    rate = capacity / 2
    await driver.reset_receiver()
    entered_before = (await driver.report(conn))["entered"]
    records_before, failed_before = _stored(data, demo.dataset_id)
    print(
        f"soak: capacity {capacity:,.0f} events/s with the journey; offering {rate:,.0f}/s "
        f"for {settings.minutes:g} min",
        flush=True,
    )
    soak = Soak(driver, demo, template)
    await soak.run(rate, 60.0)  # warm-up: caches, pools and heaps reach their size
    rss_warm = rss_bytes(driver.server.pid)
    await soak.run(rate, settings.minutes * 60 - 60.0)
    await soak.close()
    valid = len(soak.tally.valid)
    arrived = await _arrivals_of(driver, {identity_of(tag) for tag in soak.tally.valid}, settings)
    receiver = driver.connection(driver.receiver)
    twice = (await driver.receiver_stats(await receiver.open()))["duplicates"]
    await receiver.close()
    entered = (await driver.report(conn))["entered"] - entered_before
    await conn.close()
    records, failed = _stored(data, demo.dataset_id)
    rss_end = rss_bytes(driver.server.pid)
    t = soak.tally
    rejected = sum(
        n for by_status in t.answers.values() for status, n in by_status.items() if status != 200
    )
    return {
        "capacity": capacity,
        "rate": rate,
        "sent": sum(t.sent.values()),
        "answers": t.answers,
        "valid_acknowledged": valid,
        "duplicates_acknowledged": t.duplicates,
        "invalid_acknowledged": t.invalid_acked,
        "rejected": rejected,
        "stored": records - records_before,
        "failed_records": failed - failed_before,
        "entered": entered,
        "actions": arrived,
        "actions_twice": twice,
        "rss_warm_mb": rss_warm / 2**20,
        "rss_end_mb": rss_end / 2**20,
        "unexpected": t.unexpected[:20],
    }


def run_soak(tmp: Path, settings: SoakSettings) -> dict[str, Any]:
    with journey_servers(tmp) as (server, receiver, demo, event_id):
        driver = Driver(server, receiver, demo)
        template = event_template(demo, event_id)
        return run_async(_soak(driver, demo, template, settings, tmp / "journeys"))


def print_soak(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The reconciliation and memory, each with its verdict; the verdicts as ratio rows."""
    r = result
    checks = [
        ("sent = acknowledged + rejected",
         r["sent"] == r["valid_acknowledged"] + r["duplicates_acknowledged"]
         + r["invalid_acknowledged"] + r["rejected"]),
        ("stored = valid acknowledged", r["stored"] == r["valid_acknowledged"]),
        ("failed records = invalid acknowledged", r["failed_records"] == r["invalid_acknowledged"]),
        ("entered = valid acknowledged", r["entered"] == r["valid_acknowledged"]),
        ("actions = valid acknowledged, none twice",
         r["actions"] == r["valid_acknowledged"] and r["actions_twice"] == 0),
        (f"RSS end within {RSS_GROWTH_AIM:.0%} of warm",
         r["rss_end_mb"] <= r["rss_warm_mb"] * (1 + RSS_GROWTH_AIM)),
    ]  # fmt: skip
    print(
        f"\nsoak at {r['rate']:,.0f} events/s (half of {r['capacity']:,.0f}): sent {r['sent']:,}, "
        f"valid {r['valid_acknowledged']:,}, retries {r['duplicates_acknowledged']:,}, "
        f"invalid {r['invalid_acknowledged']:,}, rejected {r['rejected']:,}; stored "
        f"{r['stored']:,}, failed records {r['failed_records']:,}, entered {r['entered']:,}, "
        f"actions {r['actions']:,} ({r['actions_twice']} twice); RSS {r['rss_warm_mb']:.0f} MB "
        f"after warm-up, {r['rss_end_mb']:.0f} MB at the end"
    )
    for line in r["unexpected"]:
        print(f"  unexpected: {line}")
    rows = []
    for name, ok in checks:
        print(f"  {name:<45} {'OK' if ok else 'MISSED'}")
        rows.append({"figure": f"soak: {name}", "ok": ok})
    return rows
