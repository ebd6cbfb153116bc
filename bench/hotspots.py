"""Where Wayfare's time goes under load: py-spy samples of the server while wrk drives it.

    .venv/bin/pip install py-spy          # once; not a project dependency
    .venv/bin/python bench/hotspots.py [--duration 10] [--scenarios single,batch500]

For each scenario, starts wrk (same scripts as bench/run.py), attaches ``py-spy record`` to
the server for the middle of the run (``--nonblocking``, every thread), and prints per thread
(MainThread = the event loop, wayfare-writer = the group-commit thread) the functions with the
most samples: "self" (the frame on top of the stack) and "total" (anywhere on the stack).

``--scenarios journeys`` instead starts a fresh server with the journeys benchmark's journey
live (bench/journeys.py: entry, a webhook to bench/receiver.py, end), sends
``--journey-messages`` events at once and profiles, at the same time, the server (the inlet)
and its journey engine process (``wayfare engine``: thread ``wayfare-journeys_0`` runs the
cycles, ``wayfare-writer`` commits them, the event loop dispatches the actions) while they
work through them. The attempts themselves run in the courier, a child process of the
engine this does not sample.

``--gil`` samples only the thread holding the GIL: the Python work that bounds throughput.
``--native`` adds C frames (uvloop, orjson, sqlite, the GC); py-spy must then pause the
process for each sample, which slows it down, so read proportions, not rates. The raw collapsed
stacks are written to bench/results/profile-<scenario>.txt (feed them to flamegraph.pl or
https://www.speedscope.app).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journeys import (
    JOURNEY,
    Driver,
    event_template,
    journey_document,
    journey_servers,
    run_async,
)
from load import ensure_wrk, lua_script
from servers import apply_demo, message_template, wayfare_server

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    """``func (path/to/pkg/mod.py:12)`` -> ``pkg/mod.py:func``, line numbers dropped."""
    m = _FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{m['func']}"


# Frames every sample of a thread shares (launcher, click, uvicorn.run): no information.
_BORING = (
    "click/",
    "wayfare:<module>",
    "wayfare/cli.py",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "asyncio/runners.py",
    "threading.py",
)


def analyse(raw: Path, top: int) -> None:
    """Print, per thread, the functions with the most samples on top of / anywhere on the stack."""
    self_time: dict[str, Counter[str]] = {}
    total_time: dict[str, Counter[str]] = {}
    samples: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = "all"
        if frames[0].startswith(("thread", "process")):
            thread = frames.pop(0).split(": ", 1)[-1]
        if not frames:
            continue
        samples[thread] += count
        self_time.setdefault(thread, Counter())[_short(frames[-1])] += count
        inclusive = total_time.setdefault(thread, Counter())
        for name in {_short(f) for f in frames}:
            inclusive[name] += count
    everything = sum(samples.values()) or 1
    for thread, n in samples.most_common():
        own, inclusive = self_time[thread], total_time[thread]
        print(f"\n  [{thread}] {n} samples, {100 * n / everything:.0f}% of all samples")
        print("    self%  total%  function (by self)")
        for name, c in own.most_common(top):
            print(f"    {100 * c / n:5.1f}  {100 * inclusive[name] / n:6.1f}  {name}")
        print("    self%  total%  function (by total)")
        shown = [x for x in inclusive.most_common() if not x[0].startswith(_BORING)][:top]
        for name, c in shown:
            print(f"    {100 * own[name] / n:5.1f}  {100 * c / n:6.1f}  {name}")


def _record(py_spy: str, pid: int, raw: Path, args: argparse.Namespace) -> None:
    """``py-spy record`` of ``pid`` for the middle of a run, raw collapsed stacks to ``raw``."""
    subprocess.run(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(args.duration) - 2)),
            "--rate",
            str(args.rate),
            *([] if args.native else ["--nonblocking"]),
            "--threads",
            "--format",
            "raw",
            "--output",
            str(raw),
            *(["--native"] if args.native else []),
            *(["--gil"] if args.gil else []),
        ],
        check=True,
        capture_output=True,
        timeout=args.duration + 60,
    )


def profile_journeys(py_spy: str, tmp: Path, args: argparse.Namespace, suffix: str) -> None:
    """A fresh server with the journeys benchmark's journey live (bench/journeys.py), sent
    ``--journey-messages`` events in batches of 500 as fast as it takes them, profiled while
    its journey runtime works through them (entry, the webhook action, the end)."""
    with journey_servers(tmp) as (server, receiver, demo, event_id):
        with demo.admin() as admin:
            applied = admin.post(
                "/api/v1/apply", json={"documents": [journey_document(receiver.url)]}
            )
            applied.raise_for_status()
        template = event_template(demo, event_id)
        driver = Driver(server, receiver, demo)
        load = threading.Thread(
            target=lambda: run_async(
                driver.blast("prof", template, 500, args.duration, args.journey_messages, 4)
            ),
            daemon=True,
        )
        load.start()
        time.sleep(1.0)
        raws = {"server": RESULTS_DIR / f"profile-journeys{suffix}.txt"}
        pids = {"server": server.pid}
        engine = _engine_pid(server.pid)
        if engine is not None:
            raws["engine"] = RESULTS_DIR / f"profile-journeys-engine{suffix}.txt"
            pids["engine"] = engine
        _record_all(py_spy, pids, raws, args)
        load.join(timeout=60)
        with demo.admin() as admin:
            report = admin.get(f"/api/v1/journeys/{JOURNEY}/report").json()
        print(
            f"\n== journeys: {args.journey_messages:,} events sent; after "
            f"{args.duration:g}s: entered {report['entered']:,}, exited {report['exited']:,}"
        )
        for name, raw in raws.items():
            print(f"\n-- {name} process (pid {pids[name]})")
            analyse(raw, args.top)
            print(f"  raw stacks: {raw}")


def _engine_pid(server_pid: int) -> int | None:
    """The server's journey engine process (``wayfare engine``), if it runs one."""
    found = _children(server_pid, b"engine")
    return found[0] if found else None


def _file_suffix(who: str) -> str:
    """``server`` -> "", ``HTTP process 2`` -> "-http2", ``engine`` -> "-engine"."""
    if who == "server":
        return ""
    return f"-http{who[-1]}" if who.startswith("HTTP") else f"-{who}"


def _children(server_pid: int, command: bytes) -> list[int]:
    """The server's child processes running ``wayfare <command>``."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    found = []
    for pid in children:
        with contextlib.suppress(OSError):
            if command in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                found.append(int(pid))
    return found


def _record_all(
    py_spy: str, pids: dict[str, int], raws: dict[str, Path], args: argparse.Namespace
) -> None:
    """``_record`` of every process in ``pids`` at once."""
    recorders = [
        threading.Thread(target=_record, args=(py_spy, pids[name], raws[name], args))
        for name in raws
    ]
    for recorder in recorders:
        recorder.start()
    for recorder in recorders:
        recorder.join()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per scenario")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument(
        "--scenarios",
        default="single,batch500",
        help="single,single-sync,batch100,batch500,journeys",
    )
    p.add_argument(
        "--journey-messages",
        type=int,
        default=30_000,
        help="journeys: events sent at the start (30000)",
    )
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--native", action="store_true", help="include C frames (py-spy --native)")
    p.add_argument("--gil", action="store_true", help="only the GIL holder (py-spy --gil)")
    args = p.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy is missing: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    wrk = ensure_wrk()
    RESULTS_DIR.mkdir(exist_ok=True)
    suffix = ("-native" if args.native else "") + ("-gil" if args.gil else "")
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="wayfare-hotspots-") as tmp_name:
        tmp = Path(tmp_name)
        if "journeys" in chosen:
            chosen.remove("journeys")
            profile_journeys(py_spy, tmp, args, suffix)
        if not chosen:
            return 0
        with wayfare_server(tmp) as server:
            demo = apply_demo(server.url)
            template = message_template(demo)
            paths = {
                "single": (demo.single_path, 0),
                "single-sync": (demo.single_path + "?syncValidation=true", 0),
                "batch100": (demo.batch_path, 100),
                "batch500": (demo.batch_path, 500),
            }
            unknown = sorted(set(chosen) - set(paths))
            if unknown:
                raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}")
            for name in chosen:
                path, batch = paths[name]
                script = tmp / f"{name}.lua"
                script.write_text(
                    lua_script(
                        path=path,
                        template=template,
                        batch=batch,
                        tag=f"prof-{name}",
                        headers={
                            "Content-Type": "application/json",
                            "x-gw-ims-org-id": demo.org,
                        },
                    )
                )
                load = subprocess.Popen(
                    [
                        wrk,
                        "-t1",
                        f"-c{args.connections}",
                        f"-d{round(args.duration)}s",
                        "--timeout=10s",
                        f"-s{script}",
                        server.url + path,
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                pids = {"server": server.pid}
                for number, pid in enumerate(_children(server.pid, b"http-process"), 1):
                    pids[f"HTTP process {number}"] = pid
                engine = _engine_pid(server.pid)
                if engine is not None:
                    pids["engine"] = engine
                raws = {
                    who: RESULTS_DIR / f"profile-{name}{_file_suffix(who)}{suffix}.txt"
                    for who in pids
                }
                try:
                    time.sleep(1.0)  # let the load settle before sampling
                    _record_all(py_spy, pids, raws, args)
                finally:
                    out, _ = load.communicate(timeout=args.duration + 60)
                summary = next((x for x in out.splitlines() if x.startswith("WRK_JSON")), "")
                print(f"\n== {name}: {summary.removeprefix('WRK_JSON ')}")
                for who, raw in raws.items():
                    print(f"\n-- {who} (pid {pids[who]})")
                    analyse(raw, args.top)
                    print(f"  raw stacks: {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
