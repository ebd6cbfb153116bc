"""The ``send`` scenario: ``wayfare send`` of a CSV file against the running server.

The real CLI runs as a subprocess, exactly as a user would run it::

    .venv/bin/wayfare send --inlet-url URL --org DEMO@WayfareOrg --event newsletter_signup \\
        --input rows.csv --map ... --omit _instance_name.person.gender \\
        --concurrency 4 --batch-size 500

The template is the demo event's payload preview (``--event newsletter_signup``), so every
message carries the event's eventID; each of the preview's placeholders is mapped from a CSV
column (first, last, email, year) or omitted (gender). ``wayfare send`` asks for
``syncValidation=true`` by default, which the ``batch500`` wrk scenario does not.

rows/s = rows ÷ wall time of the subprocess, start-up included. The records are checked
through the dataset's ``recordCount``. The start-up cost alone (imports, fetching the preview
and the schema) is measured separately with ``--dry-run`` on a one-row file.
"""

from __future__ import annotations

import csv
import random
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cpu import tree_cpu_seconds
from load import system_busy_seconds
from servers import Demo, Process, _venv_command
from wayfare.registry.demo import DEMO_EVENT

SEND_RATIO_AIM = 0.80
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
PERSON = "_instance_name.person"
MAPPING = (
    f"{PERSON}.firstName=first",
    f"{PERSON}.lastName=last",
    f"{PERSON}.emailAddress=email",
    "identityMap.Email[0].id=email",
    f"{PERSON}.birthYear=year",
)
OMIT = (f"{PERSON}.gender",)


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """``rows`` valid rows: first,last,email,year."""
    rng = random.Random(seed)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["first", "last", "email", "year"])
        for i in range(rows):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            writer.writerow(
                [first, last, f"{first}.{last}.{i}@example.com".lower(), rng.randint(1940, 2008)]
            )


def send_command(demo: Demo, input_path: Path, concurrency: int, batch: int) -> list[str]:
    command = [
        *_venv_command("wayfare"),
        "send",
        "--inlet-url",
        demo.url + demo.single_path,
        "--org",
        demo.org,
        "--event",
        DEMO_EVENT,
        "--input",
        str(input_path),
        "--concurrency",
        str(concurrency),
        "--batch-size",
        str(batch),
    ]
    for pair in MAPPING:
        command += ["--map", pair]
    for path in OMIT:
        command += ["--omit", path]
    return command


@dataclass
class SendResult:
    rows: int
    seconds: float
    startup_s: float
    summary: str
    stored: int
    server_cpu_pct: float
    sender_cpu_pct: float
    other_cpu_pct: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return self.stored == self.rows and f"accepted {self.rows}," in self.summary


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_send(
    server: Process, demo: Demo, tmp: Path, rows: int, concurrency: int = 4, batch: int = 500
) -> SendResult:
    rows_path = tmp / "send-rows.csv"
    write_csv(rows_path, rows)
    one_row = tmp / "send-one-row.csv"
    write_csv(one_row, 1)

    # start-up alone: imports, the payload preview and the schema, no message sent
    started = time.perf_counter()
    dry = subprocess.run(
        [*send_command(demo, one_row, concurrency, batch), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    startup_s = time.perf_counter() - started
    if dry.returncode != 0:
        raise RuntimeError(f"wayfare send --dry-run failed ({dry.returncode}):\n{dry.stderr}")

    before = demo.settled_record_count()
    cpu_before, busy_before, children_before = (
        tree_cpu_seconds(server.pid),
        system_busy_seconds(),
        _children_cpu(),
    )
    started = time.perf_counter()
    done = subprocess.run(
        send_command(demo, rows_path, concurrency, batch),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - started
    server_cpu = tree_cpu_seconds(server.pid) - cpu_before
    sender_cpu = _children_cpu() - children_before
    busy = system_busy_seconds() - busy_before
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if done.returncode != 0:
        raise RuntimeError(
            f"wayfare send failed ({done.returncode}): {summary}\n{done.stderr[-2000:]}"
        )
    stored = demo.settled_record_count() - before
    return SendResult(
        rows=rows,
        seconds=seconds,
        startup_s=startup_s,
        summary=summary,
        stored=stored,
        server_cpu_pct=100 * server_cpu / seconds,
        sender_cpu_pct=100 * sender_cpu / seconds,
        other_cpu_pct=100 * max(0.0, busy - server_cpu - sender_cpu) / seconds,
    )
