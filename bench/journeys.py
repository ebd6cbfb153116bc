"""The ``journeys`` scenario: journey entries/s at the maximum rate, and the latency from the
inlet's 200 to the first action's arrival at a webhook, each next to the same measurement
without a journey, from the same run on the same server.

Setup: a fresh ``wayfare serve`` (its own temp data dir, so the ~0.5 M records the ingestion
scenarios leave behind don't weigh on it), the demo applied, and a webhook receiver
(bench/receiver.py) in its own process. The journey, applied through ``POST /api/v1/apply``
once the no-journey baselines have run, is::

    entry newsletter_signup -> notify (http POST to the receiver, body {"id": <identity>}) -> end

with re-entrance allowed and ``waitSeconds: 0``. Every message carries the event's ``eventID``
(from ``GET /api/v1/events/newsletter_signup``) and its own identity
(``identityMap.Email[0].id`` = ``<tag>-<n>@bench.example``), so every message enters.

Phases, in this order (the driver is this process, on a minimal keep-alive HTTP client,
bench/rawhttp.py):

1. ``inlet 1,000/s``: single-message POSTs paced open-loop at ``--journey-rate`` for half of
   ``--journey-duration``; no journey is live. HTTP latency is measured from each message's
   scheduled send time to its 200.
2. ``inlet max``: batches of 500 as fast as the inlet takes them on 4 connections, for half
   of ``--journey-duration`` or ``--journey-max-messages`` messages; no journey.
3. The journey is applied; a short warm-up (its actions checked, then forgotten).
4. ``journey 1,000/s``: as (1) with the journey live, for ``--journey-duration``; for each
   200, ``time.time()`` is recorded, and the receiver records ``time.time()`` when the action
   carrying that identity arrives. Latency = arrival - 200 (one clock, one machine). An
   action that has not arrived ``--journey-drain`` seconds after the last POST counts as
   infinitely late.
5. ``journey max``: as (2) with the journey live, then up to ``--journey-drain`` seconds more.
   ``GET /api/v1/journeys/{name}/report`` (``entered``) and the receiver's count are polled
   every 0.5 s. entries/s = instances entered ÷ time from the first POST until ``entered``
   stopped growing (or the window closed); actions/s likewise with the actions received.
   Phase 4's backlog, if any, is still being worked through; as long as the runtime is
   behind for the whole window, these are its saturated (maximum) rates.
6. ``journey 5,000/s``: the aim's rate, batches of 100 paced open-loop (50/s) on 4
   connections for ``--journey-duration``; entries/s = entered ÷ time until all had entered.
7. ``journey max, condition``: a new version of the journey is published whose first
   activity is a condition reading no profile (``'gold' == 'silver'``; both of its paths
   lead to ``notify``); then as (5), with messages of their own.
8. ``journey max, profile condition``: a Profile schema is applied, and a new version whose
   condition reads ``#{profile._instance_name.loyalty.tier}``; then as (7). Each entry now
   reads the person's merged profile (the identity graph's person, grown by the links of
   the engine's cycle, and the fragments of its identities): its entries/s next to (7)'s
   are what reading profiles costs, the journeys' shape (and step events) being the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
import sys
import time
import types
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from cpu import tree_cpu_seconds
from load import PLACEHOLDER, process_cpu_seconds, system_busy_seconds
from rawhttp import HttpConnection
from servers import BENCH_DIR, HOST, Demo, Process, apply_demo, free_port, wayfare_server
from wayfare.registry.demo import DEMO_EVENT, sample_message

JOURNEY = "bench_first_action"
IDENTITY_DOMAIN = "@bench.example"
ENTRIES_AIM = 5_000.0
LATENCY_P99_AIM_MS = 100.0
LATENCY_AIM_RATE = 1000.0
WARMUP_RATE = 500.0
REPORT_POLL_S = 0.5
STALL_S = 5.0
CATCH_UP_S = 300.0
"""How long the engine may take to read what a phase sent before the next phase starts."""
LAG_MEASURED_S = 1.2
"""The server measures its engine's lag once a second: a zero held longer than this is fresh."""
SUSTAINED_BATCH = 100
T = TypeVar("T")


def receiver_server(tmp: Path) -> Process:
    """The webhook receiver (bench/receiver.py) on a free port."""
    port = free_port()
    command = [sys.executable, str(BENCH_DIR / "receiver.py"), "--port", str(port)]
    return Process("receiver", command, tmp / "receiver.log", port, health_path="/")


def journey_document(receiver_url: str) -> dict[str, Any]:
    identity = f"@event{{{DEMO_EVENT}.identityMap.Email[0].id}}"
    return {
        "kind": "Journey",
        "name": JOURNEY,
        "state": "live",
        "description": "Benchmark: the first activity is a webhook",
        "entry": {"event": DEMO_EVENT, "next": "notify"},
        "reentrance": {"allowed": True, "waitSeconds": 0},
        "activities": {
            "notify": {
                "type": "http",
                "method": "POST",
                "url": f"{receiver_url}/hook",
                "timeoutSeconds": 10,
                "body": {"id": f"{{{{ {identity} }}}}"},
                "next": "done",
            },
            "done": {"type": "end"},
        },
    }


PROFILE_SCHEMA = {
    "kind": "Schema",
    "name": "bench_customers",
    "title": "Benchmark customers",
    "class": "Profile",
    "fields": {"loyalty": {"type": "object", "properties": {"tier": {"type": "string"}}}},
}


PROFILE_CONDITION = "#{profile._instance_name.loyalty.tier} == 'gold'"


def condition_journey_document(receiver_url: str, when: str) -> dict[str, Any]:
    """The journey of ``journey_document`` behind a condition ``when``."""
    document = journey_document(receiver_url)
    document["description"] = "Benchmark: a condition, then a webhook"
    document["entry"]["next"] = "check"
    document["activities"]["check"] = {
        "type": "condition",
        "branches": [{"label": "gold", "when": when, "next": "notify"}],
        "otherwise": "notify",
    }
    return document


def event_template(demo: Demo, event_id: str) -> bytes:
    """A ``newsletter_signup`` event (the demo's ``sample_message`` with the eventID) whose
    msgId, ``_id`` and identity (``<placeholder>@bench.example``) carry the placeholder."""
    schema = types.SimpleNamespace(
        schema_id=demo.schema_id, version=demo.schema_version, org_id=demo.org
    )
    message = sample_message(schema, event_id=event_id)  # type: ignore[arg-type]
    marker = PLACEHOLDER.decode()
    email = marker + IDENTITY_DOMAIN
    message["header"]["msgId"] = marker
    entity = message["body"]["xdmEntity"]
    entity["_id"] = marker
    entity["identityMap"]["Email"][0]["id"] = email
    entity["_instance_name"]["person"]["emailAddress"] = email
    return orjson.dumps(message)


def identity_of(tag: str) -> str:
    return tag + IDENTITY_DOMAIN


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


@dataclass
class Cpu:
    """CPU seconds of the server, the receiver and this process (the driver) over a phase."""

    server_pid: int
    receiver_pid: int
    start: tuple[float, float, float, float, float] = (0, 0, 0, 0, 0)

    @staticmethod
    def _self() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def _now(self) -> tuple[float, float, float, float, float]:
        return (
            time.perf_counter(),
            tree_cpu_seconds(self.server_pid),  # its HTTP processes and engine too
            process_cpu_seconds(self.receiver_pid),
            self._self(),
            system_busy_seconds(),
        )

    def begin(self) -> None:
        self.start = self._now()

    def end(self) -> dict[str, float]:
        now = self._now()
        wall = max(1e-9, now[0] - self.start[0])
        server, receiver, driver, busy = (now[i] - self.start[i] for i in range(1, 5))
        return {
            "server": 100 * server / wall,
            "receiver": 100 * receiver / wall,
            "driver": 100 * driver / wall,
            "other": 100 * max(0.0, busy - server - receiver - driver) / wall,
        }


@dataclass
class Phase:
    name: str
    title: str
    key: str = ""  # inlet-paced, inlet-max, journey-paced, journey-max
    rate: float | None = None  # paced phases: the offered events/s
    offered: int = 0
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    msgs_per_s: float = 0.0
    http_p50_ms: float | None = None
    http_p99_ms: float | None = None
    action_p50_ms: float | None = None
    action_p99_ms: float | None = None
    action_max_ms: float | None = None
    actions_missing: int | None = None
    entries_per_s: float | None = None
    actions_per_s: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def counted(cls, offered: int, ok: int, errors: int, seconds: float) -> Phase:
        """A load phase's counts (named by the caller)."""
        return cls("", "", offered=offered, ok=ok, errors=errors, seconds=seconds,
                   msgs_per_s=ok / seconds)  # fmt: skip


class Driver:
    """Talks to the server and the receiver from this process."""

    def __init__(self, server: Process, receiver: Process, demo: Demo) -> None:
        self.server = server
        self.receiver = receiver
        self.demo = demo
        self.headers = {"content-type": "application/json", "x-gw-ims-org-id": demo.org}

    def connection(self, to: Process | None = None) -> HttpConnection:
        target = to or self.server
        return HttpConnection(HOST, target.port, self.headers)

    # receiver and report
    async def receiver_stats(self, conn: HttpConnection) -> dict[str, Any]:
        _status, body = await conn.request("GET", "/stats")
        result: dict[str, Any] = orjson.loads(body)
        return result

    async def reset_receiver(self) -> None:
        conn = self.connection(self.receiver)
        try:
            await conn.request("POST", "/reset")
        finally:
            await conn.close()

    async def arrivals(self) -> dict[str, float]:
        conn = self.connection(self.receiver)
        try:
            _, body = await conn.request("GET", "/arrivals")
        finally:
            await conn.close()
        found: dict[str, float] = orjson.loads(body)["arrivals"]
        return found

    async def report(self, conn: HttpConnection) -> dict[str, Any]:
        status, body = await conn.request("GET", f"/api/v1/journeys/{JOURNEY}/report")
        if status != 200:
            raise RuntimeError(f"journey report: {status} {body[:300]!r}")
        result: dict[str, Any] = orjson.loads(body)
        return result

    async def caught_up(self, conn: HttpConnection, timeout_s: float) -> None:
        """Wait until the journey engine has read every message stored (``/readyz``'s lag,
        measured once a second: zero for more than a second), so that what the phase before
        sent is behind it; a RuntimeError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        zero_since: float | None = None
        while True:
            _status, body = await conn.request("GET", "/readyz")
            behind = orjson.loads(body).get("lag", {}).get("events")
            now = time.monotonic()
            zero_since = (zero_since or now) if behind == 0 else None
            if zero_since is not None and now - zero_since > LAG_MEASURED_S:
                return
            if now > deadline:
                raise RuntimeError(
                    f"the journey engine is {behind} events behind after {timeout_s} s"
                )
            await asyncio.sleep(0.2)

    async def wait_for_actions(
        self, expected: int, timeout_s: float, stall_s: float = STALL_S
    ) -> dict[str, Any]:
        """Poll the receiver until ``expected`` actions arrived, they stall or time runs out."""
        conn = self.connection(self.receiver)
        try:
            deadline = time.monotonic() + timeout_s
            last_count, last_change = -1, time.monotonic()
            while True:
                stats = await self.receiver_stats(conn)
                now = time.monotonic()
                if stats["count"] != last_count:
                    last_count, last_change = stats["count"], now
                if stats["count"] >= expected or now > deadline or now - last_change > stall_s:
                    return stats
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    # load
    async def paced(
        self, tag: str, template: bytes, rate: float, seconds: float, connections: int
    ) -> tuple[Phase, dict[str, float]]:
        """Single messages, open loop at ``rate``/s. The phase, and the wall time of each 200
        by identity."""
        count = max(1, int(rate * seconds))
        bodies = [template.replace(PLACEHOLDER, f"{tag}-{i}".encode()) for i in range(count)]
        queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
        latencies: list[float] = []
        done_at: dict[str, float] = {}
        errors = 0
        conns = [await self.connection().open() for _ in range(connections)]

        async def worker(conn: HttpConnection) -> None:
            nonlocal errors
            while True:
                item = await queue.get()
                if item is None:
                    return
                i, scheduled = item
                try:
                    status, _ = await conn.request("POST", self.demo.single_path, bodies[i])
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    await conn.close()
                    continue
                wall, finished = time.time(), time.perf_counter()
                if status == 200:
                    latencies.append(1000 * (finished - scheduled))
                    done_at[identity_of(f"{tag}-{i}")] = wall
                else:
                    errors += 1

        workers = [asyncio.create_task(worker(c)) for c in conns]
        started = time.perf_counter() + 0.01
        sent = 0
        while sent < count:
            due = min(count, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                queue.put_nowait((sent, started + sent / rate))
                sent += 1
            await asyncio.sleep(0.001)
        for _ in conns:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
        for c in conns:
            await c.close()
        phase = Phase(
            name="",
            title="",
            offered=count,
            ok=len(latencies),
            errors=errors,
            seconds=elapsed,
            msgs_per_s=len(latencies) / elapsed,
            http_p50_ms=percentile(latencies, 50),
            http_p99_ms=percentile(latencies, 99),
        )
        return phase, done_at

    async def post_batch(self, conn: HttpConnection, body: bytes, size: int) -> int:
        """POST one batch; how many of its ``size`` messages were accepted."""
        try:
            status, answer = await conn.request("POST", self.demo.batch_path, body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            await conn.close()
            return 0
        if status != 207:
            return 0
        answers = orjson.loads(answer)["responses"]
        return size - sum(1 for r in answers if r.get("statusCode", 200) >= 400)

    async def paced_batches(
        self, tag: str, template: bytes, rate: float, seconds: float, batch: int, connections: int
    ) -> Phase:
        """Batches of ``batch`` messages, open loop at ``rate`` messages/s for ``seconds``."""
        count = max(1, int(rate * seconds / batch))
        bodies = batch_bodies(template, tag, count, batch)
        queue: asyncio.Queue[int | None] = asyncio.Queue()
        ok = errors = 0
        conns = [await self.connection().open() for _ in range(connections)]

        async def worker(conn: HttpConnection) -> None:
            nonlocal ok, errors
            while (k := await queue.get()) is not None:
                accepted = await self.post_batch(conn, bodies[k], batch)
                ok += accepted
                errors += batch - accepted

        workers = [asyncio.create_task(worker(c)) for c in conns]
        started = time.perf_counter()
        per_s = rate / batch
        for k in range(count):
            await asyncio.sleep(max(0.0, started + k / per_s - time.perf_counter()))
            queue.put_nowait(k)
        for _ in conns:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
        for c in conns:
            await c.close()
        return Phase.counted(count * batch, ok, errors, elapsed)

    async def blast(
        self,
        tag: str,
        template: bytes,
        batch: int,
        seconds: float,
        max_messages: int,
        connections: int,
        while_running: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> Phase:
        """Batches as fast as the inlet answers, for ``seconds`` or ``max_messages``."""
        batches = max(1, max_messages // batch)
        bodies = batch_bodies(template, tag, batches, batch)
        next_batch = 0
        ok = errors = 0
        conns = [await self.connection().open() for _ in range(connections)]
        started = time.perf_counter()
        stop_at = started + seconds

        async def worker(conn: HttpConnection) -> None:
            nonlocal next_batch, ok, errors
            while next_batch < batches and time.perf_counter() < stop_at:
                body = bodies[next_batch]
                next_batch += 1
                accepted = await self.post_batch(conn, body, batch)
                ok += accepted
                errors += batch - accepted

        side = asyncio.create_task(while_running()) if while_running else None
        await asyncio.gather(*(worker(c) for c in conns))
        elapsed = time.perf_counter() - started
        if side is not None:
            side.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await side
        for c in conns:
            await c.close()
        return Phase.counted(next_batch * batch, ok, errors, elapsed)


def batch_bodies(template: bytes, tag: str, count: int, batch: int) -> list[bytes]:
    """``count`` batch bodies of ``batch`` messages, each with its own identity."""
    return [
        b'{"messages":['
        + b",".join(template.replace(PLACEHOLDER, f"{tag}-{k}-{j}".encode()) for j in range(batch))
        + b"]}"
        for k in range(count)
    ]


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop (what ``wayfare serve`` uses), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    result: T = uvloop.run(coro)
    return result


@dataclass
class JourneySettings:
    duration: float = 10.0
    rate: float = 1000.0
    connections: int = 16
    batch: int = 500
    batch_connections: int = 4
    max_messages: int = 50_000
    drain_timeout: float = 20.0


async def _paced_latency(
    driver: Driver, template: bytes, s: JourneySettings, conn: HttpConnection
) -> tuple[Phase, int]:
    """Phase 4; also the report's ``entered`` at its end."""
    before = (await driver.report(conn))["entered"]
    phase, done_at = await driver.paced("lat", template, s.rate, s.duration, s.connections)
    stats = await driver.wait_for_actions(phase.ok, timeout_s=s.drain_timeout)
    arrivals = await driver.arrivals()
    delays = [1000 * (arrivals[k] - t) if k in arrivals else math.inf for k, t in done_at.items()]
    phase.action_p50_ms = percentile(delays, 50)
    phase.action_p99_ms = percentile(delays, 99)
    phase.action_max_ms = max(delays) if delays else None
    phase.actions_missing = sum(1 for d in delays if d == math.inf)
    if phase.actions_missing:
        phase.notes.append(
            f"{phase.actions_missing:,} of {len(done_at):,} actions had not arrived "
            f"{s.drain_timeout:.0f}s after the last POST (latency counted as infinite)"
        )
    if stats["duplicates"]:
        phase.notes.append(f"{stats['duplicates']} actions arrived twice")
    phase.notes.append(
        f"{stats['count']:,} actions came over {stats['connections']:,} TCP connections"
    )
    after = (await driver.report(conn))["entered"]
    if after - before != phase.ok:
        phase.notes.append(f"entered {after - before:,} of {phase.ok:,} acknowledged")
    return phase, after


async def _saturated(
    driver: Driver, template: bytes, s: JourneySettings, conn: HttpConnection, tag: str = "max"
) -> Phase:
    """Phase 5 (and 7, under another ``tag``: the messages' ids): blast, then watch
    ``entered`` and the actions until both stop growing."""
    receiver_conn = driver.connection(driver.receiver)
    samples: list[tuple[float, int, int]] = []  # (time, entered, actions received)

    async def sample() -> None:
        entered = (await driver.report(conn))["entered"]
        received = (await driver.receiver_stats(receiver_conn))["count"]
        samples.append((time.time(), entered, received))

    async def keep_sampling() -> None:
        while True:
            await sample()
            await asyncio.sleep(REPORT_POLL_S)

    await driver.reset_receiver()
    await sample()
    started = time.time()
    phase = await driver.blast(
        tag, template, s.batch, s.duration, s.max_messages, s.batch_connections, keep_sampling
    )
    sending_s = phase.seconds
    deadline = time.monotonic() + s.drain_timeout
    last_change = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_change < STALL_S:
        await asyncio.sleep(REPORT_POLL_S)
        previous = samples[-1]
        await sample()
        if samples[-1][1:] != previous[1:]:
            last_change = time.monotonic()
    connections = (await driver.receiver_stats(receiver_conn))["connections"]
    await receiver_conn.close()
    _t0, entered0, _ = samples[0]
    _, entered_end, received_end = samples[-1]
    entered_at = next(t for t, n, _ in samples if n == entered_end)
    received_at = next(t for t, _, n in samples if n == received_end)
    phase.entries_per_s = (entered_end - entered0) / max(1e-9, entered_at - started)
    phase.actions_per_s = received_end / max(1e-9, received_at - started)
    while_sending = max((n for t, n, _ in samples if t <= started + sending_s), default=entered0)
    phase.notes.append(
        f"sent {phase.ok:,} in {sending_s:.1f}s; {entered_end - entered0:,} entered in "
        f"{entered_at - started:.1f}s ({while_sending - entered0:,} while sending); "
        f"{received_end:,} actions received in {received_at - started:.1f}s, over "
        f"{connections:,} TCP connections"
    )
    backlog = phase.ok - (entered_end - entered0)
    if backlog > 0:
        phase.notes.append(
            f"the runtime was still behind when the window closed ({s.drain_timeout:.0f}s "
            f"after the last POST): entries/s and actions/s are its saturated rates"
        )
    return phase


async def _sustained(
    driver: Driver, template: bytes, s: JourneySettings, conn: HttpConnection
) -> Phase:
    """Phase 6: the aim's rate, paced in batches of 100; does the runtime keep up?"""
    samples: list[tuple[float, int]] = []
    target = [math.inf]  # known once the sending is done
    all_in = asyncio.Event()

    async def keep_sampling() -> None:
        while True:
            samples.append((time.perf_counter(), (await driver.report(conn))["entered"]))
            if samples[-1][1] >= target[0]:
                all_in.set()
            await asyncio.sleep(REPORT_POLL_S)

    sampler = asyncio.create_task(keep_sampling())
    await asyncio.sleep(0.05)
    phase = await driver.paced_batches(
        "aim", template, ENTRIES_AIM, s.duration, SUSTAINED_BATCH, s.batch_connections
    )
    sent_at = time.perf_counter()
    entered0 = samples[0][1]
    target[0] = entered0 + phase.ok
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_in.wait(), s.drain_timeout)
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    at_end = max((n for t, n in samples if t <= sent_at), default=entered0) - entered0
    done_t, done_n = next(((t, n) for t, n in samples if n >= target[0]), samples[-1])
    phase.entries_per_s = (done_n - entered0) / max(1e-9, done_t - samples[0][0])
    phase.notes.append(
        f"offered {ENTRIES_AIM:,.0f}/s in batches of {SUSTAINED_BATCH} for "
        f"{phase.seconds:.1f}s ({phase.ok:,} accepted); {at_end:,} entered by the last "
        f"POST, all {done_n - entered0:,} {done_t - sent_at:+.1f}s after it"
    )
    return phase


async def _measure(
    driver: Driver, demo: Demo, template: bytes, cpu: Cpu, s: JourneySettings
) -> list[Phase]:
    phases: list[Phase] = []
    half = max(2.0, s.duration / 2)
    rate_label = f"{s.rate:,.0f}/s"
    conn = driver.connection()

    # 1-2: no journey
    cpu.begin()
    phase, _ = await driver.paced("base", template, s.rate, half, s.connections)
    phase.cpu = cpu.end()
    phase.name, phase.title = f"inlet {rate_label}", "no journey, single POSTs, paced"
    phase.key, phase.rate = "inlet-paced", s.rate
    phases.append(phase)
    await asyncio.sleep(1.0)
    cpu.begin()
    phase = await driver.blast(
        "baseb", template, s.batch, half, s.max_messages, s.batch_connections
    )
    phase.cpu = cpu.end()
    phase.name, phase.key = f"inlet max batch{s.batch}", "inlet-max"
    phase.title = f"no journey, batches of {s.batch} on {s.batch_connections} connections"
    phases.append(phase)
    await driver.caught_up(conn, CATCH_UP_S)  # no journey is entered by these

    # 3: the journey, and a warm-up whose actions are awaited, then forgotten
    status, body = await conn.request(
        "POST",
        "/api/v1/apply",
        orjson.dumps({"documents": [journey_document(driver.receiver.url)]}),
    )
    if status != 200:
        raise RuntimeError(f"applying the journey failed: {status} {body[:500]!r}")
    await driver.reset_receiver()
    warm, _ = await driver.paced("warm", template, WARMUP_RATE, 1.0, s.connections)
    stats = await driver.wait_for_actions(warm.ok, timeout_s=s.drain_timeout)
    report = await driver.report(conn)
    if stats["count"] < warm.ok or report["entered"] != warm.ok:
        raise RuntimeError(
            f"warm-up: {warm.ok} sent, {report['entered']} entered, {stats['count']} actions "
            f"received; report {report}"
        )
    await driver.reset_receiver()

    # 4: latency from the 200 to the first action, at the paced rate
    cpu.begin()
    phase, _ = await _paced_latency(driver, template, s, conn)
    phase.cpu = cpu.end()
    phase.name, phase.title = f"journey {rate_label}", "journey live, single POSTs, paced"
    phase.key, phase.rate = "journey-paced", s.rate
    phases.append(phase)

    # 5: entries/s and actions/s with the runtime saturated
    cpu.begin()
    phase = await _saturated(driver, template, s, conn)
    phase.cpu = cpu.end()
    phase.name, phase.key = f"journey max batch{s.batch}", "journey-max"
    phase.title = f"journey live, batches of {s.batch}, then drained"
    phases.append(phase)

    # 6: the aim's rate, paced
    await driver.caught_up(conn, CATCH_UP_S)
    cpu.begin()
    phase = await _sustained(driver, template, s, conn)
    phase.cpu = cpu.end()
    phase.name, phase.key = f"journey {ENTRIES_AIM:,.0f}/s", "journey-aim"
    phase.title = f"journey live, {ENTRIES_AIM:,.0f} events/s in batches of {SUSTAINED_BATCH}"
    phases.append(phase)

    # 7-8: as 5, behind a condition reading no profile, then one reading the profile
    url = driver.receiver.url
    for tag, documents, label in (
        ("cond", [condition_journey_document(url, "'gold' == 'silver'")], "condition"),
        ("prof", [PROFILE_SCHEMA, condition_journey_document(url, PROFILE_CONDITION)], "profile"),
    ):
        status, body = await conn.request(
            "POST", "/api/v1/apply", orjson.dumps({"documents": documents})
        )
        if status != 200:
            raise RuntimeError(f"applying the {label} journey failed: {status} {body[:500]!r}")
        await driver.caught_up(conn, CATCH_UP_S)
        cpu.begin()
        phase = await _saturated(driver, template, s, conn, tag)
        phase.cpu = cpu.end()
        phase.name, phase.key = f"journey max batch{s.batch}, {label}", f"journey-max-{label}"
        phase.title = f"journey behind a {label} condition, batches of {s.batch}, then drained"
        phases.append(phase)
    await conn.close()
    return phases


@contextlib.contextmanager
def journey_servers(tmp: Path) -> Iterator[tuple[Process, Process, Demo, str]]:
    """A fresh server with the demo applied, the webhook receiver, and the demo event's
    eventID; both stopped on the way out."""
    data = tmp / "journeys"
    data.mkdir(exist_ok=True)
    with wayfare_server(data) as server, receiver_server(data) as receiver:
        demo = apply_demo(server.url)
        with demo.admin() as admin:
            event = admin.get(f"/api/v1/events/{DEMO_EVENT}").raise_for_status().json()
        yield server, receiver, demo, str(event["eventID"])


def run_journeys(tmp: Path, settings: JourneySettings) -> tuple[list[Phase], dict[str, Any]]:
    """Start a fresh server and the receiver, run every phase, stop both."""
    with journey_servers(tmp) as (server, receiver, demo, event_id):
        template = event_template(demo, event_id)
        info = {
            "server_pid": server.pid,
            "receiver_pid": receiver.pid,
            "event_id": event_id,
            "message_bytes": len(template.replace(PLACEHOLDER, b"lat-1000")),
        }
        print(
            f"journeys: wayfare pid {server.pid} on {server.url} (fresh data dir), receiver pid "
            f"{receiver.pid} on {receiver.url}; eventID {event_id[:12]}…; "
            f"message {info['message_bytes']} bytes",
            flush=True,
        )
        driver = Driver(server, receiver, demo)
        cpu = Cpu(server.pid, receiver.pid)
        phases = run_async(_measure(driver, demo, template, cpu, settings))
    return phases, info


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return "not arrived" if value == math.inf else f"{value:,.{digits}f}"


def print_phases(phases: list[Phase]) -> None:
    head = (
        "phase",
        "msgs/s",
        "HTTP p50",
        "HTTP p99",
        "200→action p50",
        "p99",
        "max",
        "entries/s",
        "actions/s",
        "server CPU",
        "receiver",
        "driver",
        "other",
        "errors",
    )
    lines = [
        (
            p.name,
            _fmt(p.msgs_per_s),
            _fmt(p.http_p50_ms, 2),
            _fmt(p.http_p99_ms, 2),
            _fmt(p.action_p50_ms, 1),
            _fmt(p.action_p99_ms, 1),
            _fmt(p.action_max_ms, 1),
            _fmt(p.entries_per_s),
            _fmt(p.actions_per_s),
            *(f"{p.cpu.get(k, 0):.0f}%" for k in ("server", "receiver", "driver", "other")),
            str(p.errors),
        )
        for p in phases
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]

    def show(cells: tuple[str, ...]) -> None:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )

    print("(latencies in ms)")
    show(head)
    for line in lines:
        show(line)
    for p in phases:
        for note in p.notes:
            print(f"  {p.name}: {note}")


def journey_ratios(phases: list[Phase]) -> list[dict[str, Any]]:
    by = {p.key: p for p in phases}
    out: list[dict[str, Any]] = []
    jmax, imax = by.get("journey-max"), by.get("inlet-max")
    if jmax and jmax.entries_per_s is not None:
        out.append(
            {
                "what": "journey entries/s",
                "value": jmax.entries_per_s,
                "aim": f">= {ENTRIES_AIM:,.0f}",
                "met": jmax.entries_per_s >= ENTRIES_AIM,
            }
        )
        if imax and imax.msgs_per_s:
            out.append(
                {
                    "what": "journey entries/s ÷ inlet-only msgs/s",
                    "value": jmax.entries_per_s / imax.msgs_per_s,
                    "aim": "-",
                    "met": None,
                }
            )
    jcond, jprofile = by.get("journey-max-condition"), by.get("journey-max-profile")
    if jcond and jcond.entries_per_s and jprofile and jprofile.entries_per_s is not None:
        out.append(
            {
                "what": "journey entries/s, a profile condition ÷ another condition",
                "value": jprofile.entries_per_s / jcond.entries_per_s,
                "aim": "-",
                "met": None,
            }
        )
    jaim = by.get("journey-aim")
    if jaim and jaim.entries_per_s is not None:
        out.append(
            {
                "what": f"journey entries/s offered {ENTRIES_AIM:,.0f}/s",
                "value": jaim.entries_per_s,
                "aim": f">= {0.95 * ENTRIES_AIM:,.0f}",
                "met": jaim.entries_per_s >= 0.95 * ENTRIES_AIM,
            }
        )
    jpaced = by.get("journey-paced")
    if jpaced and jpaced.action_p99_ms is not None:
        out.append(
            {
                "what": f"200→first action p99 ms at {jpaced.name.split(' ', 1)[1]}",
                "value": jpaced.action_p99_ms,
                "aim": f"< {LATENCY_P99_AIM_MS:.0f}",
                "met": (
                    jpaced.action_p99_ms < LATENCY_P99_AIM_MS
                    if (jpaced.rate or 0) >= LATENCY_AIM_RATE
                    else None  # the aim is set at 1,000 events/s
                ),
            }
        )
    return out


if __name__ == "__main__":  # a quick standalone run: python bench/journeys.py
    import tempfile

    with tempfile.TemporaryDirectory(prefix="wayfare-bench-journeys-") as name:
        found, _ = run_journeys(Path(name), JourneySettings())
    print_phases(found)
    for r in journey_ratios(found):
        print(r)
