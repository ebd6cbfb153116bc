"""The ``scaleout`` scenarios: ingest msgs/s with 1 and 2 ``wayfare serve`` processes and
journey entries/s with 1 and 2 ``wayfare worker`` processes, on the machine's PostgreSQL and
NATS JetStream, each next to the embedded figure measured the same way in the same run.

Each scale-out measurement gets a deployment of its own (deployments.py: a fresh database and
stream, dropped and deleted on the way out, after its processes are stopped). Every Wayfare
process is a child of the benchmark (servers.py), so an error, Ctrl-C or SIGTERM stops it.

1. ``ingest``: wrk batch500 (load.py's script, as ``batch500``) against a fresh embedded
   server; then, against a scale-out deployment with no worker (the inlet tier alone:
   ``serve`` and JetStream), one wrk on one ``serve``, then one wrk on each of two ``serve``
   processes at once, with half the connections each (the same concurrency in total). The
   check counts the stream's entries: what JetStream stored must match what was
   acknowledged, plus at most the requests in flight when wrk stopped.
2. ``entries``: the journeys benchmark's journey (journeys.py: every message enters, and its
   first activity is a webhook to the receiver) on a fresh embedded server, then on a
   scale-out deployment with one ``serve`` and 1, then 2, workers (a deployment each, the
   workers holding their share of the 16 partitions before any load). After a warm-up,
   ``--scaleout-messages`` events go in batches of 500 on 4 connections as fast as the inlet
   takes them; the journey's report (``entered``) is polled until every one has entered.
   entries/s = entered ÷ time from the first POST until the last entered. The workers store
   every message they read (records, message ids, matches) in the same commit as the
   journeys' changes, so this is the whole scale-out write path. Scale-out rows also say
   the WAL PostgreSQL wrote meanwhile and, once every instance has ended, the rows each
   table took per entry.

CPU is sampled from /proc for each tier over each measurement (cpu.py): the ``serve``
processes; the journey engines (the workers, or embedded the server's ``wayfare engine``);
their couriers (the child processes making the actions' attempts); PostgreSQL (the client
backends of the deployment's database) and "PG shared" (the server's own processes: WAL
writer, checkpointer, autovacuum..., which work for other databases too); NATS (the machine's
server, shared with anything else using it); the load generator (wrk, or this process for
the entries); the receiver; and the rest of the machine. A second table divides each tier's
CPU by the rate: µs per message or entry, a cost that stays meaningful when the machine is
shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cpu import CpuWatch, Selector, Shares, Table, postgres_backends, postgres_shared, trees
from deployments import (
    Backends,
    analyze,
    deployment,
    entry_counter,
    find_backends,
    row_writes,
    settled_stream_entries,
    wait_for_leases,
    wal_position,
)
from journeys import (
    JOURNEY,
    WARMUP_RATE,
    Driver,
    event_template,
    journey_document,
    journey_servers,
    receiver_server,
    run_async,
)
from load import lua_script, run_wrk_together
from servers import Demo, Process, apply_demo, message_template, wayfare_server, wayfare_worker
from wayfare.registry.demo import DEMO_EVENT
from wayfare.store.sqlite.connection import database_path

BATCH = 500
BLAST_CONNECTIONS = 4
POLL_S = 0.2
STALL_S = 15.0
WARM_ENTRIES = int(WARMUP_RATE)  # one second of it
SCALE_AIM = 1.8
HEADERS = {"Content-Type": "application/json", "x-gw-ims-org-id": "DEMO@WayfareOrg"}
TIERS = ("serve", "engines", "courier", "PostgreSQL", "PG shared", "NATS")
HEAD = ("figure", "mode", "per s", "vs embedded", "p99 ms", *TIERS, "load", "receiver")
HEAD += ("other", "bound")


@dataclass
class ScaleSettings:
    duration: float = 8.0
    warmup: float = 2.0
    connections: int = 16
    threads: int = 1
    timeout: float = 10.0
    messages: int = 30_000
    drain: float = 90.0
    postgres: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    nats: str = "nats://127.0.0.1:4222"


@dataclass
class ScaleRow:
    figure: str  # "ingest batch500" or "journey entries"
    mode: str
    processes: int  # serve processes (ingest) or engines (entries)
    rate: float  # msgs/s or entries/s
    p99_ms: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    busiest: dict[str, float] = field(default_factory=dict)
    machine_pct: float = 0.0
    other_pct: float = 0.0
    bound: str = ""
    notes: list[str] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)


# CPU
def groups(
    backends: Backends,
    database: str | None,
    serves: list[Process],
    engines: list[Process],
    receiver: Process | None = None,
) -> dict[str, Selector]:
    """The tiers to sample. The journey engines are the workers, or, embedded (``engines``
    empty), the server's child; the courier (their actions' attempts) is the engines' child.
    PostgreSQL and NATS are sampled for a scale-out ``database`` only."""
    serve_pids = [s.pid for s in serves]
    worker_pids = [e.pid for e in engines]

    def engine_pids(table: Table) -> set[int]:
        if worker_pids:
            return set(worker_pids)
        return {p.pid for p in table.values() if p.ppid in serve_pids}

    chosen: dict[str, Selector] = {
        "serve": lambda _t: serve_pids,
        "engines": engine_pids,
        "courier": lambda t: {p.pid for p in t.values() if p.ppid in engine_pids(t)},
    }
    pg, nats_pid = backends.postmaster, backends.nats_pid
    if database is not None and pg is not None:  # embedded runs use neither server
        chosen["PostgreSQL"] = postgres_backends(pg, database)
        chosen["PG shared"] = postgres_shared(pg)
    if database is not None and nats_pid is not None:
        chosen["NATS"] = lambda _t: [nats_pid]
    if receiver is not None:
        chosen["receiver"] = trees(receiver.pid)
    return chosen


def bound_of(row: ScaleRow, cores: int) -> str:
    """A hint at what held the figure: a full machine, or a process at one core."""
    shares = [(row.cpu.get(t, 0.0), t) for t in (*TIERS, "load", "receiver")]
    top = sorted([*shares, (row.other_pct, "other")], reverse=True)
    pegged = [t for t in TIERS if row.busiest.get(t, 0.0) >= 85.0]
    if row.machine_pct >= 85.0 * cores:
        busiest = ", ".join(f"{t} {pct:.0f}%" for pct, t in top[:3])
        what = f"all {cores} cores ({busiest})"
        return what + (f"; {' and '.join(pegged)} at a core" if pegged else "")
    if pegged:
        return " and ".join(f"{t} at a core" for t in pegged)
    return "no tier at a core (waits)"


def _apply_shares(row: ScaleRow, shares: Shares) -> None:
    row.cpu, row.busiest = shares.groups, shares.busiest
    row.machine_pct, row.other_pct = shares.machine, shares.other


# ingest
def _wrk_batch(
    wrk: str,
    tmp: Path,
    s: ScaleSettings,
    demo: Demo,
    targets: list[Process],
    tag: str,
    duration: float,
    watch: CpuWatch | None,
) -> tuple[int, float, float, Shares | None]:
    """One wrk per target at once, ``s.connections`` split among them: the messages
    acknowledged, msgs/s, the worst p99 and the CPU shares."""
    template = message_template(demo)
    runs = []
    for n, target in enumerate(targets):
        script = lua_script(
            path=demo.batch_path, template=template, batch=BATCH, tag=f"{tag}{n}", headers=HEADERS
        )
        runs.append((target.url + demo.batch_path, script, tmp / f"{tag}{n}.lua"))
    connections = max(1, s.connections // len(targets))
    if watch is not None:
        watch.begin()
    results, wrk_cpu = run_wrk_together(
        wrk,
        runs,
        duration_s=duration,
        connections=connections,
        threads=s.threads,
        timeout_s=s.timeout,
    )
    shares = watch.end({"load": wrk_cpu}) if watch is not None else None
    acked = sum(r.ok_requests for r in results) * BATCH
    rate = sum(r.ok_rps for r in results) * BATCH
    errors = sum(r.status_errors + r.socket_errors + r.timeouts for r in results)
    if errors:
        print(f"  {tag}: {errors} wrk errors", flush=True)
    return acked, rate, max(r.p99_ms for r in results), shares


def ingest_embedded(wrk: str, tmp: Path, s: ScaleSettings, backends: Backends) -> ScaleRow:
    home = tmp / "scaleout-embedded-ingest"
    home.mkdir()
    with wayfare_server(home) as server:
        demo = apply_demo(server.url)
        watch = CpuWatch(groups(backends, None, [server], []))
        if s.warmup:
            _wrk_batch(wrk, home, s, demo, [server], "ewarm", s.warmup, None)
        before = demo.settled_record_count()
        acked, rate, p99, shares = _wrk_batch(
            wrk, home, s, demo, [server], "eing", s.duration, watch
        )
        stored = demo.settled_record_count() - before
    row = ScaleRow("ingest batch500", "embedded", 1, rate, p99)
    assert shares is not None
    _apply_shares(row, shares)
    row.check = _check(acked, stored, s.connections * BATCH, "records stored")
    return row


def _check(acked: int, stored: int, slack: int, what: str) -> dict[str, Any]:
    return {
        "acknowledged": acked,
        "stored": stored,
        "what": what,
        "allowed": f"0..{slack}",
        "ok": 0 <= stored - acked <= slack,
    }


def ingest_scaled(wrk: str, tmp: Path, s: ScaleSettings, backends: Backends) -> list[ScaleRow]:
    """One deployment, two servers, no worker: 1 server driven, then both."""
    home = tmp / "scaleout-ingest"
    rows: list[ScaleRow] = []
    with contextlib.ExitStack() as stack:
        where = stack.enter_context(deployment(backends))
        (home / "a").mkdir(parents=True)
        (home / "b").mkdir(parents=True)
        first = stack.enter_context(wayfare_server(home / "a", where.args, where.env))
        demo = apply_demo(first.url)  # migrations and the stream exist once this is up
        second = stack.enter_context(wayfare_server(home / "b", where.args, where.env))
        for targets in ([first], [first, second]):
            n = len(targets)
            watch = CpuWatch(groups(backends, where.database, targets, []))
            if s.warmup:
                _wrk_batch(wrk, home, s, demo, targets, f"w{n}-", s.warmup, None)
            before = settled_stream_entries(where.log, where.prefix)
            acked, rate, p99, shares = _wrk_batch(
                wrk, home, s, demo, targets, f"s{n}-", s.duration, watch
            )
            stored = settled_stream_entries(where.log, where.prefix) - before
            row = ScaleRow("ingest batch500", f"scale-out, {n} serve", n, rate, p99)
            assert shares is not None
            _apply_shares(row, shares)
            row.check = _check(acked, stored, s.connections * BATCH, "stream entries")
            rows.append(row)
            print(_line(row), flush=True)
    return rows


# journey entries
async def _warm(driver: Driver, template: bytes, timeout_s: float) -> None:
    """WARM_ENTRIES events at 500/s: each one enters and its action arrives; then forget
    them."""
    conn = driver.connection()
    try:
        before = (await driver.report(conn))["entered"]
        await driver.reset_receiver()
        warm, _ = await driver.paced("warm", template, WARMUP_RATE, 1.0, 16)
        stats = await driver.wait_for_actions(warm.ok, timeout_s=timeout_s)
        deadline = time.monotonic() + timeout_s
        while (await driver.report(conn))["entered"] - before < warm.ok:
            if time.monotonic() > deadline:
                raise RuntimeError(f"warm-up: {warm.ok} sent, not all entered in {timeout_s}s")
            await asyncio.sleep(POLL_S)
        if stats["count"] < warm.ok:
            raise RuntimeError(f"warm-up: {warm.ok} sent, {stats['count']} actions received")
        await driver.reset_receiver()
    finally:
        await conn.close()


async def _entries(
    driver: Driver,
    template: bytes,
    s: ScaleSettings,
    watch: CpuWatch,
    row: ScaleRow,
    entered_now: Callable[[], int],
    wal_of: str | None,
) -> None:
    """Blast ``s.messages`` events, poll ``entered_now`` until all entered; fill ``row``.
    With a PostgreSQL URL ``wal_of``, also the WAL it wrote meanwhile (the whole server's)."""
    receiver_conn = driver.connection(driver.receiver)
    samples: list[tuple[float, int, int]] = []

    async def sample() -> None:
        received = (await driver.receiver_stats(receiver_conn))["count"]
        samples.append((time.perf_counter(), entered_now(), received))

    async def keep_sampling() -> None:
        while True:
            await sample()
            await asyncio.sleep(POLL_S)

    await sample()
    _, entered0, _ = samples[0]
    self0 = _self_cpu()
    wal0 = wal_position(wal_of) if wal_of else 0
    watch.begin()
    started = time.perf_counter()
    phase = await driver.blast(
        "max", template, BATCH, 3600.0, s.messages, BLAST_CONNECTIONS, keep_sampling
    )
    sent_at = time.perf_counter()
    deadline, last_change = sent_at + s.drain, time.monotonic()
    await sample()
    while samples[-1][1] - entered0 < phase.ok or samples[-1][2] < phase.ok:
        if time.perf_counter() > deadline or time.monotonic() - last_change > STALL_S:
            break
        await asyncio.sleep(POLL_S)
        previous = samples[-1]
        await sample()
        if samples[-1][1:] != previous[1:]:
            last_change = time.monotonic()
    shares = watch.end({"load": _self_cpu() - self0})
    wal = wal_position(wal_of) - wal0 if wal_of else 0
    await receiver_conn.close()
    _, entered_end, received_end = samples[-1]
    entered = entered_end - entered0
    entered_at = next(t for t, n, _ in samples if n == entered_end)
    received_at = next(t for t, _, n in samples if n == received_end)
    by_sent = max((n for t, n, _ in samples if t <= sent_at), default=entered0) - entered0
    row.rate = entered / max(1e-9, entered_at - started)
    _apply_shares(row, shares)
    after = (entered - by_sent) / max(1e-9, entered_at - sent_at) if entered > by_sent else 0.0
    row.notes.append(
        f"sent {phase.ok:,} in {phase.seconds:.1f}s ({phase.msgs_per_s:,.0f} msgs/s); "
        f"{by_sent:,} entered by the last POST, all {entered:,} {entered_at - sent_at:+.1f}s "
        f"after it ({after:,.0f}/s after it); {received_end:,} actions, the last "
        f"{received_at - sent_at:+.1f}s after it"
    )
    row.check = _check(phase.ok, entered, 0, "entered")
    if wal_of and entered:
        row.check["wal_bytes_per_entry"] = wal / entered
        row.notes.append(
            f"PostgreSQL wrote {wal / 1e6:,.0f} MB of WAL meanwhile ({wal / entered:,.0f} bytes "
            "per entry; the whole server's, other databases' included)"
        )
    if entered < phase.ok:
        row.notes.append(
            f"only {entered:,} of {phase.ok:,} entered within {s.drain:.0f}s after the last "
            "POST: the rate is a lower bound"
        )


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def entries_embedded(tmp: Path, s: ScaleSettings, backends: Backends) -> ScaleRow:
    home = tmp / "scaleout-embedded-entries"
    home.mkdir()
    row = ScaleRow("journey entries", "embedded", 1, 0.0)
    with journey_servers(home) as (server, receiver, demo, event_id):
        driver = Driver(server, receiver, demo)
        watch = CpuWatch(groups(backends, None, [server], [], receiver))
        # the data directory journey_servers and wayfare_server give the server
        store = database_path(home / "journeys" / "wayfare-data")
        run_async(_journey(driver, demo, event_id, s, watch, row, store))
    return row


def entries_scaled(tmp: Path, s: ScaleSettings, backends: Backends, workers: int) -> ScaleRow:
    home = tmp / f"scaleout-entries-{workers}"
    home.mkdir()
    row = ScaleRow("journey entries", f"scale-out, {workers} worker", workers, 0.0)
    with contextlib.ExitStack() as stack:
        where = stack.enter_context(deployment(backends))
        server = stack.enter_context(wayfare_server(home, where.args, where.env))
        receiver = stack.enter_context(receiver_server(home))
        demo = apply_demo(server.url)
        with demo.admin() as admin:
            event = admin.get(f"/api/v1/events/{DEMO_EVENT}").raise_for_status().json()
        engines = [
            stack.enter_context(wayfare_worker(home / f"worker-{n}.log", where.args, where.env))
            for n in range(workers)
        ]
        wait_for_leases(where, workers)
        driver = Driver(server, receiver, demo)
        watch = CpuWatch(groups(backends, where.database, [server], engines, receiver))
        run_async(_journey(driver, demo, str(event["eventID"]), s, watch, row, where.store))
        for process in (*engines, server):  # their backends report their last counts
            process.stop()
        writes = row_writes(where)
        entered = row.check["stored"] + WARM_ENTRIES
        row.check["row_writes_per_entry"] = {k: v / entered for k, v in writes.items()}
        total = sum(writes.values()) / entered
        row.notes.append(
            f"PostgreSQL row writes per entry (warm-up included): {total:.1f}: "
            + ", ".join(f"{k} {v / entered:.2f}" for k, v in writes.items() if v >= entered / 100)
        )
    return row


async def _journey(
    driver: Driver,
    demo: Demo,
    event_id: str,
    s: ScaleSettings,
    watch: CpuWatch,
    row: ScaleRow,
    store: str | Path,
) -> None:
    """Apply the journey, warm up, measure entries (counted in ``store``: a PostgreSQL URL
    or a SQLite file), then wait for every instance to end. A PostgreSQL store is analyzed
    after the warm-up, as a deployment that has run a while would be (deployments.analyze)."""
    template = event_template(demo, event_id)
    conn = driver.connection()
    try:
        status, body = await conn.request(
            "POST",
            "/api/v1/apply",
            orjson.dumps({"documents": [journey_document(driver.receiver.url)]}),
        )
    finally:
        await conn.close()
    if status != 200:
        raise RuntimeError(f"applying the journey failed: {status} {body[:500]!r}")
    await _warm(driver, template, s.drain)
    if isinstance(store, str):
        analyze(store)
    with entry_counter(store, demo.org, JOURNEY) as entered_now:
        wal_of = store if isinstance(store, str) else None
        await _entries(driver, template, s, watch, row, entered_now, wal_of)
        await _wait_ended(driver, row, s.drain, entered_now)


async def _wait_ended(
    driver: Driver, row: ScaleRow, timeout_s: float, entered_now: Callable[[], int]
) -> None:
    """After the measurement: until no instance is left in the journey (each action's
    outcome recorded), so that what the store holds afterwards is complete; and the
    report's count of instances must match the entry step's."""
    conn = driver.connection()
    started = time.monotonic()
    try:
        while True:
            report = await driver.report(conn)
            if not report["inJourney"] or time.monotonic() - started > timeout_s:
                break
            await asyncio.sleep(POLL_S)
    finally:
        await conn.close()
    row.check["in_journey_at_end"] = report["inJourney"]
    if report["inJourney"]:
        row.notes.append(
            f"{report['inJourney']:,} instances were still in the journey {timeout_s:.0f}s later"
        )
    if report["entered"] != entered_now():
        row.notes.append(
            f"the report says {report['entered']:,} entered, the entry step {entered_now():,}"
        )


# the whole group
def run_scaleout(wrk: str, tmp: Path, s: ScaleSettings, cores: int) -> list[ScaleRow]:
    backends = find_backends(s.postgres, s.nats)
    print(
        f"scaleout: {backends.versions}; PostgreSQL pid {backends.postmaster}, NATS pid "
        f"{backends.nats_pid}; a database and a stream of its own per deployment",
        flush=True,
    )
    rows = [ingest_embedded(wrk, tmp, s, backends)]
    print(_line(rows[-1]), flush=True)
    rows += ingest_scaled(wrk, tmp, s, backends)
    rows.append(entries_embedded(tmp, s, backends))
    print(_line(rows[-1]), flush=True)
    for workers in (1, 2):
        rows.append(entries_scaled(tmp, s, backends, workers))
        print(_line(rows[-1]), flush=True)
    for row in rows:
        row.bound = bound_of(row, cores)
        if row.processes > 1:
            row.notes.append(
                "the busiest single process: "
                + ", ".join(f"{t} {row.busiest.get(t, 0):.0f}%" for t in TIERS[:3])
            )
    return rows


def _line(row: ScaleRow) -> str:
    check = row.check
    verdict = "OK" if check.get("ok") else "MISMATCH"
    return (
        f"{row.figure} {row.mode}: {row.rate:,.0f}/s  check: {check.get('what')} "
        f"{check.get('stored'):,} vs {check.get('acknowledged'):,} "
        f"(allowed +{check.get('allowed')}) {verdict}"
    )


def _show(head: tuple[str, ...], lines: list[tuple[str, ...]], left: set[int]) -> None:
    """A table, the columns ``left`` aligned to the left and the others to the right."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    for cells in (head, *lines):
        print(
            "  ".join(
                c.ljust(w) if i in left else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )


def print_scaleout(rows: list[ScaleRow]) -> None:
    embedded = {r.figure: r.rate for r in rows if r.mode == "embedded"}
    print("(scale-out: CPU in % of one core over each measurement)")
    _show(
        HEAD,
        [
            (
                r.figure,
                r.mode,
                f"{r.rate:,.0f}",
                f"{r.rate / embedded[r.figure]:.2f}" if embedded.get(r.figure) else "-",
                "-" if r.p99_ms is None else f"{r.p99_ms:,.0f}",
                *(f"{r.cpu[k]:.0f}%" if k in r.cpu else "-" for k in (*TIERS, "load", "receiver")),
                f"{r.other_pct:.0f}%",
                r.bound,
            )
            for r in rows
        ],
        {0, 1, len(HEAD) - 1},
    )
    print("\n(CPU per message, or per entry, in µs: what each tier costs whatever its share)")
    _show(
        ("figure", "mode", *TIERS, "together"),
        [
            (
                r.figure,
                r.mode,
                *(f"{cost_us(r, k):,.0f}" if k in r.cpu else "-" for k in TIERS),
                f"{sum(cost_us(r, k) for k in TIERS):,.0f}",
            )
            for r in rows
        ],
        {0, 1},
    )
    for r in rows:
        for note in r.notes:
            print(f"  {r.figure}, {r.mode}: {note}")


def cost_us(row: ScaleRow, tier: str) -> float:
    """CPU µs ``tier`` spent per message (or entry) of ``row``."""
    return 1e4 * row.cpu.get(tier, 0.0) / row.rate if row.rate else 0.0


def scaleout_ratios(rows: list[ScaleRow]) -> list[dict[str, Any]]:
    """Twice the processes ÷ one, for each figure (DESIGN.md: ≥ 1.8 with hosts of their own)."""
    out: list[dict[str, Any]] = []
    for figure, what in (("ingest batch500", "serve"), ("journey entries", "worker")):
        by = {r.processes: r.rate for r in rows if r.figure == figure and r.mode != "embedded"}
        if by.get(1) and 2 in by:
            value = by[2] / by[1]
            out.append(
                {
                    "what": f"2 {what}s ÷ 1 {what} ({figure})",
                    "value": value,
                    "aim": f">= {SCALE_AIM:.2f}*",
                    "met": value >= SCALE_AIM,
                }
            )
    return out
