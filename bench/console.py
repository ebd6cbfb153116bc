"""The console's pages with a full store: ``--console-records`` records (1,000,000) in the
demo dataset, 1,000 failed records, ``--console-journeys`` live journeys (100); then each
page is asked for ``ROUNDS`` times, one request at a time, and its median and slowest time
printed next to the 200 ms aim. The time is the request's over loopback, as the client sees
it: the server's time and little else.

The journeys enter on a rule-based event that no message meets, so loading the records does
not start 100 million journey instances; the home page still reads each journey's report.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from servers import Demo, apply_demo, wayfare_server

ROUNDS = 20
AIM_MS = 200.0
BATCH = 500
SENDERS = 2
FAILED = 1_000
BENCH_EVENT = "console_bench"


@dataclass(frozen=True)
class ConsoleSettings:
    records: int = 1_000_000
    journeys: int = 100


def _journey(n: int) -> dict[str, Any]:
    return {
        "kind": "Journey",
        "name": f"bench_{n:03d}",
        "state": "live",
        "entry": {"event": BENCH_EVENT, "next": "pause"},
        "activities": {
            "pause": {"type": "wait", "duration": "1h", "next": "done"},
            "done": {"type": "end"},
        },
    }


def _set_up(demo: Demo, journeys: int) -> None:
    event = {
        "kind": "Event",
        "name": BENCH_EVENT,
        "schemaId": demo.schema_id,
        "namespace": "Email",
        "eventIdType": "rule",
        "condition": "_instance_name.person.birthYear < 0",
    }
    with demo.admin() as admin:
        documents = [event, *(_journey(n) for n in range(journeys))]
        admin.post("/api/v1/apply", json={"documents": documents}).raise_for_status()


def _load(demo: Demo, records: int) -> float:
    """``records`` valid messages in batches from ``SENDERS`` threads, and ``FAILED`` invalid
    ones; the seconds it took."""
    started = time.monotonic()
    template = demo.message()
    url = f"{demo.url}{demo.batch_path}"

    def send(sender: int) -> None:
        with httpx.Client(timeout=60) as client:
            for start in range(sender * BATCH, records, BATCH * SENDERS):
                messages = []
                for i in range(start, min(start + BATCH, records)):
                    message = orjson.loads(orjson.dumps(template))
                    message["header"]["msgId"] = f"console-{i}"
                    message["body"]["xdmEntity"]["_id"] = f"console-{i}"
                    message["body"]["xdmEntity"]["identityMap"]["Email"][0]["id"] = (
                        f"person-{i}@example.com"
                    )
                    messages.append(message)
                client.post(url, json={"messages": messages}).raise_for_status()

    threads = [threading.Thread(target=send, args=(s,)) for s in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bad = demo.message()
    bad["body"]["xdmEntity"]["_instance_name"] = {"person": {"birthYear": "unknown"}}
    with httpx.Client(timeout=60) as client:
        for start in range(0, FAILED, BATCH):
            batch = []
            for i in range(start, min(start + BATCH, FAILED)):
                bad["header"]["msgId"] = f"console-bad-{i}"
                batch.append(orjson.loads(orjson.dumps(bad)))
            client.post(url, json={"messages": batch}).raise_for_status()
    return time.monotonic() - started


@contextmanager
def _browser(demo: Demo) -> Iterator[httpx.Client]:
    """A client signed in to the console (no admin token: straight in) with the org chosen."""
    with httpx.Client(base_url=demo.url, follow_redirects=True, timeout=60) as client:
        page = client.get("/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, page.text[:300]
        client.post("/org", data={"org": demo.org, "csrf": csrf.group(1)}).raise_for_status()
        yield client


def _pages(demo: Demo) -> list[str]:
    return [
        "/",
        "/home/flow",
        "/schemas",
        f"/schemas/{demo.schema_id}",
        f"/datasets/{demo.dataset_id}",
        f"/datasets/{demo.dataset_id}?identity=Email:person-1@example.com",
        "/inlets",
        f"/inlets/{demo.inlet_id}",
        "/events",
        "/events/newsletter_signup",
        "/events/newsletter_signup/messages",
        "/failures",
        f"/failures?inlet={demo.inlet_id}",
        "/journeys",
        "/journeys/bench_000",
        "/journeys/bench_000/counts",
        "/journeys/bench_000/edit",
        "/journeys/bench_000/versions",
    ]


def run_console(tmp: Path, settings: ConsoleSettings) -> dict[str, Any]:
    root = tmp / "console"
    root.mkdir(parents=True, exist_ok=True)
    with wayfare_server(root, ["--workers", "1"]) as server:
        demo = apply_demo(server.url)
        _set_up(demo, settings.journeys)
        print(
            f"console: loading {settings.records:,} records, {FAILED:,} failures and "
            f"{settings.journeys} live journeys ...",
            flush=True,
        )
        load_s = _load(demo, settings.records)
        stored = demo.settled_record_count(timeout_s=120)
        rows = []
        with _browser(demo) as browser:
            for path in _pages(demo):
                times = []
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    answer = browser.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
                rows.append(
                    {"page": path, "median_ms": statistics.median(times), "max_ms": max(times)}
                )
    return {"records": stored, "load_s": load_s, "journeys": settings.journeys, "pages": rows}


def print_console(result: dict[str, Any]) -> bool:
    """The table; whether every page's median met the aim."""
    print(
        f"console pages: {result['records']:,} records in the dataset (loaded in "
        f"{result['load_s']:.0f}s), {FAILED:,} failures, {result['journeys']} live journeys; "
        f"{ROUNDS} requests per page, one at a time"
    )
    print(f"{'page':<58} {'median ms':>10} {'max ms':>8}   aim {AIM_MS:.0f} ms")
    met = True
    for row in result["pages"]:
        ok = row["median_ms"] < AIM_MS
        met = met and ok
        page = row["page"] if len(row["page"]) <= 58 else row["page"][:55] + "..."
        verdict = "met" if ok else "MISSED"
        print(f"{page:<58} {row['median_ms']:>10.1f} {row['max_ms']:>8.1f}   {verdict}")
    return met
