"""Wayfare's benchmark: figures next to baselines measured in the same run.

``make bench`` (or ``.venv/bin/python bench/run.py [flags]``). Prints figures; asserts none.
See bench/README.md for what each scenario measures and the aims.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import plain_loop
from console import ConsoleSettings, as_json, console_ratios, print_pages, run_console
from cpu import tree_cpu_seconds
from journeys import JourneySettings, Phase, journey_ratios, print_phases, run_journeys
from load import (
    PLACEHOLDER,
    WrkResult,
    ensure_wrk,
    lua_script,
    run_wrk,
    system_busy_seconds,
    wrk_version,
)
from profiles import print_profiles, run_profiles
from scaleout import ScaleRow, ScaleSettings, print_scaleout, run_scaleout, scaleout_ratios
from sendrows import SEND_RATIO_AIM, SendResult, run_send
from servers import Process, apply_demo, bare_server, message_template, wayfare_server
from soak import SoakSettings, print_soak, run_soak

RESULTS_DIR = Path(__file__).resolve().parent / "results"
WRK_SCENARIOS = ("single", "single-sync", "batch100", "batch500")
SCENARIOS = (*WRK_SCENARIOS, "send", "journeys", "profiles")
OPTIONAL_SCENARIOS = ("scaleout", "soak", "console")
"""Run only when named: scaleout needs PostgreSQL and NATS and takes about three minutes;
soak takes --soak-minutes (10) and a few more; console fills a store of --console-records
(1,000,000) the first time (about 12 minutes; kept in bench/results/ for the next runs)."""
P99_AIM_MS = 20.0
SINGLE_RATIO_AIM = 0.40
BATCH_RATIO_AIM = 1.0


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    path: str
    batch: int  # 0: one message per request

    @property
    def per_request(self) -> int:
        return max(1, self.batch)


@dataclass
class Row:
    scenario: str
    title: str
    msgs_per_s: float
    req_per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    server_cpu_pct: float | None = None
    wrk_cpu_pct: float | None = None
    other_cpu_pct: float | None = None
    requests: int | None = None
    errors: int | None = None
    check: dict[str, Any] = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--duration", type=float, default=8.0, help="seconds per scenario (8)")
    p.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (1: leave a core)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per server (2)")
    p.add_argument(
        "--plain-messages", type=int, default=200_000, help="messages in the plain loop (200000)"
    )
    p.add_argument("--timeout", type=float, default=10.0, help="wrk request timeout, s (10)")
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS + OPTIONAL_SCENARIOS)} "
        f"(default: all but {','.join(OPTIONAL_SCENARIOS)})",
    )
    p.add_argument(
        "--send-rows", type=int, default=100_000, help="CSV rows for the send scenario (100000)"
    )
    p.add_argument(
        "--profile-records", type=int, default=3000, help="upserts of the profiles scenario (3000)"
    )
    p.add_argument(
        "--profile-identities", type=int, default=500, help="people of the profiles scenario (500)"
    )
    p.add_argument(
        "--profiles-on-postgres",
        action="store_true",
        help="profiles: on PostgreSQL too (a database made and dropped on --postgres)",
    )
    p.add_argument(
        "--journey-duration",
        type=float,
        default=10.0,
        help="seconds of each journeys phase with the journey live; the no-journey baselines "
        "run half as long (10)",
    )
    p.add_argument(
        "--journey-rate", type=float, default=1000.0, help="paced events/s for latency (1000)"
    )
    p.add_argument(
        "--journey-max-messages",
        type=int,
        default=50_000,
        help="at most this many messages in each max-rate phase (50000)",
    )
    p.add_argument(
        "--journey-drain",
        type=float,
        default=20.0,
        help="seconds to wait for the journey runtime to catch up after a phase (20)",
    )
    p.add_argument(
        "--scaleout-messages",
        type=int,
        default=30_000,
        help="events sent in each scaleout entries measurement (30000)",
    )
    p.add_argument(
        "--scaleout-drain",
        type=float,
        default=90.0,
        help="seconds the scaleout entries wait, after the last POST, for all to enter (90)",
    )
    p.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="scaleout: a PostgreSQL on 127.0.0.1 to create (and drop) databases on",
    )
    p.add_argument(
        "--nats",
        default="nats://127.0.0.1:4222",
        help="scaleout: a NATS server with JetStream on 127.0.0.1",
    )
    p.add_argument(
        "--soak-minutes", type=float, default=10.0, help="soak: minutes of mixed traffic (10)"
    )
    p.add_argument(
        "--console-records",
        type=int,
        default=1_000_000,
        help="console: messages in the filled store (1000000)",
    )
    p.add_argument("--console-runs", type=int, default=5, help="console: timed GETs per page (5)")
    p.add_argument(
        "--console-refill",
        action="store_true",
        help="console: fill the store again even when a kept one matches",
    )
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = p.parse_args(argv)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS + OPTIONAL_SCENARIOS))
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)}")
    args.scenarios = [s for s in SCENARIOS + OPTIONAL_SCENARIOS if s in chosen]
    if not 2 <= args.soak_minutes <= 600:
        p.error("--soak-minutes must be 2..600 (the first minute warms up)")
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        p.error("--duration must be 1..600 s and --warmup 0..60 s")
    if not 1 <= args.connections <= 1024 or not 1 <= args.plain_messages <= 10_000_000:
        p.error("--connections must be 1..1024 and --plain-messages 1..10,000,000")
    if not 1 <= args.send_rows <= 10_000_000:
        p.error("--send-rows must be 1..10,000,000")
    if not 2 <= args.journey_duration <= 600 or not 1 <= args.journey_drain <= 600:
        p.error("--journey-duration must be 2..600 s and --journey-drain 1..600 s")
    if not 10 <= args.journey_rate <= 100_000 or not 500 <= args.journey_max_messages <= 10**7:
        p.error("--journey-rate must be 10..100,000 and --journey-max-messages 500..10,000,000")
    if not 500 <= args.scaleout_messages <= 10**7 or not 5 <= args.scaleout_drain <= 3600:
        p.error("--scaleout-messages must be 500..10,000,000 and --scaleout-drain 5..3,600 s")
    if not 1_000 <= args.console_records <= 10**8 or not 1 <= args.console_runs <= 1_000:
        p.error("--console-records must be 1,000..100,000,000 and --console-runs 1..1,000")
    return args


# machine
def _fs_type(path: Path) -> str:
    best, kind = "", "?"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    target = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3 and target.startswith(parts[1]) and len(parts[1]) > len(best):
            best, kind = parts[1], parts[2]
    return kind


def _wayfare_revision() -> str:
    """The git commit the benchmark runs against, ``+dirty`` when src/ has local edits."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"
    return (head or "?") + ("+dirty" if dirty else "")


def machine_info(wrk: str, tmp: Path) -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    import uvicorn

    return {
        "wayfare": _wayfare_revision(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": usable,
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "uvicorn": uvicorn.__version__,
        "wrk": wrk_version(wrk),
        "tmp": f"{tmp} ({_fs_type(tmp)})",
    }


# messages
def plain_messages(template: bytes, count: int) -> list[bytes]:
    return [template.replace(PLACEHOLDER, f"plain-{i}".encode()) for i in range(count)]


# running
def drive(
    wrk: str,
    target: Process,
    scenario: Scenario,
    template: bytes,
    tag: str,
    tmp: Path,
    args: argparse.Namespace,
    duration: float,
) -> tuple[WrkResult, float, float]:
    """One wrk run against ``target``: the result, and the CPU seconds the server used (its
    HTTP processes and journey engine too) and the whole machine was busy (every process)."""
    script = lua_script(
        path=scenario.path,
        template=template,
        batch=scenario.batch,
        tag=tag,
        headers={"Content-Type": "application/json", "x-gw-ims-org-id": "DEMO@WayfareOrg"},
    )
    cpu_before = tree_cpu_seconds(target.pid)
    busy_before = system_busy_seconds()
    result = run_wrk(
        wrk,
        target.url + scenario.path,
        script,
        tmp / f"{tag}.lua",
        duration_s=duration,
        connections=args.connections,
        threads=args.threads,
        timeout_s=args.timeout,
    )
    cpu = tree_cpu_seconds(target.pid) - cpu_before
    return result, cpu, system_busy_seconds() - busy_before


def row_from(scenario: Scenario, result: WrkResult, server_cpu_s: float, busy_s: float) -> Row:
    other_s = max(0.0, busy_s - server_cpu_s - result.cpu_s)
    return Row(
        scenario=scenario.name,
        title=scenario.title,
        msgs_per_s=result.ok_rps * scenario.per_request,
        req_per_s=result.ok_rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        max_ms=result.max_ms,
        server_cpu_pct=100 * server_cpu_s / result.duration_s,
        wrk_cpu_pct=100 * result.cpu_s / result.duration_s,
        other_cpu_pct=100 * other_s / result.duration_s,
        requests=result.requests,
        errors=result.status_errors + result.socket_errors + result.timeouts,
    )


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(rows: list[Row]) -> None:
    head = (
        "scenario",
        "msgs/s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "server CPU",
        "load CPU",
        "other CPU",
        "errors",
    )
    lines = [
        (
            r.scenario,
            _fmt(r.msgs_per_s),
            _fmt(r.req_per_s),
            _fmt(r.p50_ms, 2),
            _fmt(r.p99_ms, 2),
            _fmt(r.max_ms, 1),
            "-" if r.server_cpu_pct is None else f"{r.server_cpu_pct:.0f}%",
            "-" if r.wrk_cpu_pct is None else f"{r.wrk_cpu_pct:.0f}%",
            "-" if r.other_cpu_pct is None else f"{r.other_cpu_pct:.0f}%",
            "-" if r.errors is None else str(r.errors),
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    print(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    )
    for line in lines:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )


def send_row(result: SendResult) -> Row:
    return Row(
        scenario="send",
        title="wayfare send (the CLI, a subprocess), CSV rows, --concurrency 4 --batch-size 500",
        msgs_per_s=result.rows_per_s,
        server_cpu_pct=result.server_cpu_pct,
        wrk_cpu_pct=result.sender_cpu_pct,
        other_cpu_pct=result.other_cpu_pct,
        requests=-(-result.rows // 500),
        errors=result.rows - result.stored,
        check={"rows": result.rows, "stored": result.stored, "ok": result.ok},
    )


def send_ratios(rows: dict[str, Row], phases: list[Phase]) -> list[dict[str, Any]]:
    """send next to the journeys benchmark's inlet max batch500 (no aim): the same kind of
    messages (events of a new person each, no journey live) sent by an optimal driver, so
    what is left between them is the sender's share of the cores."""
    inlet_max = next((p for p in phases if p.key == "inlet-max"), None)
    if "send" not in rows or inlet_max is None or not inlet_max.msgs_per_s:
        return []
    return [
        {
            "what": "send rows/s ÷ journeys' inlet max msgs/s",
            "value": rows["send"].msgs_per_s / inlet_max.msgs_per_s,
            "aim": "-",
            "met": None,
        }
    ]


def ratios(rows: dict[str, Row]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    plain = rows.get("plain-loop")
    bare = rows.get("bare")
    for name in ("batch100", "batch500"):
        if name in rows and plain and plain.msgs_per_s:
            value = rows[name].msgs_per_s / plain.msgs_per_s
            out.append(
                {
                    "what": f"{name} msgs/s ÷ plain-loop msgs/s",
                    "value": value,
                    "aim": f">= {BATCH_RATIO_AIM:.2f}",
                    "met": value >= BATCH_RATIO_AIM,
                }
            )
    for name in ("single", "single-sync"):
        if name in rows and bare and bare.req_per_s:
            value = rows[name].msgs_per_s / bare.req_per_s
            out.append(
                {
                    "what": f"{name} msgs/s ÷ bare req/s",
                    "value": value,
                    "aim": f">= {SINGLE_RATIO_AIM:.2f}",
                    "met": value >= SINGLE_RATIO_AIM,
                }
            )
    if "send" in rows and "batch500" in rows and rows["batch500"].msgs_per_s:
        value = rows["send"].msgs_per_s / rows["batch500"].msgs_per_s
        out.append(
            {
                "what": "send rows/s ÷ batch500 msgs/s",
                "value": value,
                "aim": f">= {SEND_RATIO_AIM:.2f}",
                "met": value >= SEND_RATIO_AIM,
            }
        )
    for name in ("single", "single-sync"):
        if name in rows and rows[name].p99_ms is not None:
            p99 = rows[name].p99_ms or 0.0
            out.append(
                {
                    "what": f"{name} p99 ms",
                    "value": p99,
                    "aim": f"< {P99_AIM_MS:.0f}",
                    "met": p99 < P99_AIM_MS,
                }
            )
    return out


def _finite(value: Any) -> Any:
    """JSON has no infinity: a latency that never ended is saved as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _ingest_scenarios(
    wrk: str, tmp: Path, args: argparse.Namespace, rows: dict[str, Row]
) -> SendResult | None:
    """The baselines, the wrk scenarios and ``send``, against one server. The send result."""
    wrk_chosen = [n for n in args.scenarios if n in WRK_SCENARIOS]
    sent: SendResult | None = None
    with wayfare_server(tmp) as wayfare:
        demo = apply_demo(wayfare.url)
        template = message_template(demo)
        print(
            f"wayfare pid {wayfare.pid} on {wayfare.url}: inlet {demo.inlet_id[:12]}…, "
            f"schema {demo.schema_id}, dataset {demo.dataset_id}; "
            f"message {len(template.replace(PLACEHOLDER, b'single-0-1'))} bytes",
            flush=True,
        )
        if wrk_chosen:
            # baseline (b): the plain loop, while the servers are idle
            raw = plain_messages(template, args.plain_messages)
            plain = plain_loop(raw, tmp / "plain.sqlite3")
            del raw
            rows["plain-loop"] = Row(
                "plain-loop",
                f"json.loads + sqlite3 executemany, {args.plain_messages:,} msgs, "
                "500 per transaction",
                plain.msgs_per_s,
            )
            print(f"plain-loop   {plain.msgs_per_s:>10,.0f} msgs/s ({plain.seconds:.2f}s)")

            # baseline (a): the bare endpoint on the same server stack
            bare_scenario = Scenario("bare", "minimal ASGI + orjson, uvicorn", demo.single_path, 0)
            with bare_server(tmp) as bare:
                if args.warmup:
                    drive(wrk, bare, bare_scenario, template, "bare-warm", tmp, args, args.warmup)
                result_b, cpu_b, busy_b = drive(
                    wrk, bare, bare_scenario, template, "bare", tmp, args, args.duration
                )
            rows["bare"] = row_from(bare_scenario, result_b, cpu_b, busy_b)
            print(f"bare         {result_b.ok_rps:>10,.0f} req/s  p99 {result_b.p99_ms:.2f} ms")

        scenarios = {
            "single": Scenario("single", "one message per POST", demo.single_path, 0),
            "single-sync": Scenario(
                "single-sync",
                "one message per POST, ?syncValidation=true",
                demo.single_path + "?syncValidation=true",
                0,
            ),
            "batch100": Scenario("batch100", "batch of 100 per POST", demo.batch_path, 100),
            "batch500": Scenario("batch500", "batch of 500 per POST", demo.batch_path, 500),
        }
        if args.warmup and wrk_chosen:
            drive(wrk, wayfare, scenarios["single"], template, "warm", tmp, args, args.warmup)
        for name in wrk_chosen:
            scenario = scenarios[name]
            before = demo.settled_record_count()
            result, cpu, busy = drive(
                wrk, wayfare, scenario, template, name, tmp, args, args.duration
            )
            after = demo.settled_record_count()
            row = row_from(scenario, result, cpu, busy)
            acked = result.ok_requests * scenario.per_request
            stored = after - before
            slack = args.connections * scenario.per_request
            row.check = {
                "acknowledged": acked,
                "stored": stored,
                "difference": stored - acked,
                "allowed": f"0..{slack} (requests in flight when wrk stopped)",
                "ok": 0 <= stored - acked <= slack,
            }
            rows[name] = row
            print(
                f"{name:<12} {row.msgs_per_s:>10,.0f} msgs/s  p99 {result.p99_ms:.2f} ms  "
                f"check: stored {stored:,} vs acknowledged {acked:,} "
                f"(diff {stored - acked:+,}; allowed 0..{slack:,}) "
                f"{'OK' if row.check['ok'] else 'MISMATCH'}"
                + (f"  errors {row.errors}" if row.errors else ""),
                flush=True,
            )

        if "send" in args.scenarios:
            sent = run_send(wayfare, demo, tmp, args.send_rows)
            rows["send"] = send_row(sent)
            print(
                f"send         {sent.rows_per_s:>10,.0f} rows/s  {sent.rows:,} rows in "
                f"{sent.seconds:.2f}s (start-up alone {sent.startup_s:.2f}s)  "
                f"check: stored {sent.stored:,} of {sent.rows:,} "
                f"{'OK' if sent.ok else 'MISMATCH'}  [{sent.summary}]",
                flush=True,
            )
    return sent


def run(args: argparse.Namespace) -> dict[str, Any]:
    wrk = ensure_wrk()
    rows: dict[str, Row] = {}
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="wayfare-bench-") as tmp_name:
        tmp = Path(tmp_name)
        info = machine_info(wrk, tmp)
        busy_before = system_busy_seconds()
        time.sleep(1.0)
        idle_load = system_busy_seconds() - busy_before  # CPU-seconds over one second
        info["busy_before_start"] = f"{100 * idle_load:.0f}% of a core"
        print("machine: " + "  ".join(f"{k}={v}" for k, v in info.items()))
        if idle_load > 0.25:
            print(
                "WARNING: other processes keep this machine busy; the figures will be noisy "
                "(see the 'other CPU' column)."
            )
        print(
            f"load: wrk, {args.connections} connections, {args.threads} thread(s), "
            f"{args.duration:g}s per scenario, {args.warmup:g}s warm-up, 127.0.0.1 only\n",
            flush=True,
        )
        sent: SendResult | None = None
        if any(n in (*WRK_SCENARIOS, "send") for n in args.scenarios):
            sent = _ingest_scenarios(wrk, tmp, args, rows)
        phases: list[Phase] = []
        if "journeys" in args.scenarios:
            settings = JourneySettings(
                duration=args.journey_duration,
                rate=args.journey_rate,
                max_messages=args.journey_max_messages,
                drain_timeout=args.journey_drain,
            )
            print(flush=True)
            phases, journey_info = run_journeys(tmp, settings)
            report["journeys"] = {
                "settings": asdict(settings),
                "info": journey_info,
                "phases": [asdict(p) for p in phases],
            }
        if "profiles" in args.scenarios:
            print(flush=True)
            profiled = run_profiles(
                tmp,
                args.profile_records,
                args.profile_identities,
                args.postgres if args.profiles_on_postgres else None,
            )
            print_profiles(profiled)
            report["profiles"] = [asdict(r) | {"ratio": r.ratio} for r in profiled]
        scaled: list[ScaleRow] = []
        if "scaleout" in args.scenarios:
            print(flush=True)
            settings_s = ScaleSettings(
                duration=args.duration,
                warmup=args.warmup,
                connections=args.connections,
                threads=args.threads,
                timeout=args.timeout,
                messages=args.scaleout_messages,
                drain=args.scaleout_drain,
                postgres=args.postgres,
                nats=args.nats,
            )
            scaled = run_scaleout(wrk, tmp, settings_s, int(info["nproc"]) or 2)
            report["scaleout"] = {
                "settings": asdict(settings_s),
                "rows": [asdict(r) for r in scaled],
            }
        soaked: list[dict[str, Any]] = []
        if "soak" in args.scenarios:
            print(flush=True)
            soak = run_soak(tmp, SoakSettings(minutes=args.soak_minutes))
            report["soak"] = soak
            soaked = print_soak(soak)
        console_pages: list[Any] = []
        if "console" in args.scenarios:
            print(flush=True)
            settings_c = ConsoleSettings(
                records=args.console_records, runs=args.console_runs, refill=args.console_refill
            )
            console_pages, console_info = run_console(tmp, settings_c)
            report["console"] = {
                "settings": asdict(settings_c),
                "info": console_info,
                "pages": as_json(console_pages),
            }
    order = ["plain-loop", "bare", *args.scenarios]
    table = [rows[n] for n in order if n in rows]
    if table:
        print()
        print_table(table)
    if sent is not None:
        print(
            f"  send: {sent.rows:,} CSV rows; wall time of the subprocess, start-up included "
            f"({sent.startup_s:.2f}s alone); load CPU = the wayfare send process; "
            "it shares the 2 cores with the server"
        )
    if phases:
        print()
        print_phases(phases)
    if scaled:
        print()
        print_scaleout(scaled)
    if console_pages:
        print()
        print_pages(console_pages, args.console_runs)
    found = (
        ratios(rows)
        + send_ratios(rows, phases)
        + journey_ratios(phases)
        + scaleout_ratios(scaled)
        + console_ratios(console_pages)
    )
    print()
    for r in found:
        verdict = "-" if r["met"] is None else ("met" if r["met"] else "MISSED")
        value = "not arrived" if r["value"] == math.inf else f"{r['value']:>8.2f}"
        print(f"{r['what']:<40} {value:>8}   aim {r['aim']:<7} {verdict}")
    if scaled:
        print("(* the aim is for processes on hosts of their own; here they share 2 cores)")
    if soaked:
        missed = [r["figure"] for r in soaked if not r["ok"]]
        print(f"soak: {'MISSED ' + ', '.join(missed) if missed else 'every check met'}")
    if "send" in rows and "batch500" not in rows:
        print("(send rows/s ÷ batch500 msgs/s needs the batch500 scenario in the same run)")
    report_json: dict[str, Any] = _finite(
        {
            "machine": info,
            "settings": {
                "duration_s": args.duration,
                "connections": args.connections,
                "wrk_threads": args.threads,
                "warmup_s": args.warmup,
                "plain_messages": args.plain_messages,
                "send_rows": args.send_rows,
            },
            "rows": [asdict(r) for r in table],
            "ratios": found,
            **report,
        }
    )
    return report_json


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the with-blocks: the servers are stopped


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = time.monotonic()
    report = run(args)
    print(f"\ntotal {time.monotonic() - started:.0f}s")
    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"bench-{stamp}.json"
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(
            f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
