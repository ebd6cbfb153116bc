"""The console's pages with 1 million records and 100 journeys in the store.

``make bench ARGS="--scenarios console"``. Two parts:

1. **The fill** (cached). A ``wayfare serve`` on a data directory of its own; the demo
   documents, a second dataset and inlet, ten journey events and 100 live journeys are
   applied through ``POST /api/v1/apply``; then ``--console-records`` messages are POSTed to
   the two inlets in batches of 500 (``/collection/batch/{inletId}``), the way a data system
   sends them, so every record, failed record, msgId, event match, instance, timer and step
   event is written by the serving code itself (the inlet's group-commit writer and the
   journey runtime), nothing behind its back. One message in 20 is invalid (a failed record
   with its violation); one in 100 carries one of the ten events' ``eventID`` and enters the
   ten journeys on it. The fill waits until the journeys have taken every entry. The data
   directory is kept under ``bench/results/console-store-<key>/`` (git-ignored), the key
   being the fill's parameters and the store's migrations, and reused by later runs.
2. **The pages.** A fresh ``wayfare serve`` on that data directory; the console is signed
   into (no admin token on loopback: straight in) and the org chosen through its own form;
   then every page and htmx fragment is fetched over loopback ``--console-runs`` times after
   one untimed fetch: the time from sending the request to having the whole answer, median
   and worst, next to ``/healthz`` and the admin API's inlet list measured the same way in
   the same run.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from servers import HOST, apply_demo, wayfare_server
from wayfare.model.schema import content_type
from wayfare.registry.demo import DEMO_DOCUMENTS, DEMO_ORG, DEMO_SCHEMA, DEMO_TENANT

AIM_MS = 200.0
BATCH = 500
INVALID_EVERY = 20
JOURNEY_EVENT_EVERY = 100
EVENTS = 10
JOURNEYS_PER_EVENT = 10
IDENTITIES = 200_000
"""Distinct people across the records: each appears in about five records."""
SECOND_DATASET = "newsletter_archive"
SECOND_INLET = "archive-inlet"
FILL_DRAIN_S = 900.0
STORE_ROOT = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class ConsoleSettings:
    records: int = 1_000_000
    runs: int = 5
    refill: bool = False


@dataclass
class PageTime:
    page: str
    path: str
    status: int
    bytes: int
    median_ms: float
    worst_ms: float
    baseline: bool = False


def event_name(n: int) -> str:
    return f"bench_event_{n:02d}"


def journey_name(event: int, n: int) -> str:
    return f"bench_journey_{event:02d}_{n}"


def fill_documents() -> list[dict[str, Any]]:
    """The demo, a second dataset and inlet, ten events and ten journeys on each."""
    person = f"_{DEMO_TENANT}.person"
    docs: list[dict[str, Any]] = [
        *DEMO_DOCUMENTS,
        {"kind": "Dataset", "name": SECOND_DATASET, "schemaId": DEMO_SCHEMA},
        {
            "kind": "Inlet",
            "name": SECOND_INLET,
            "description": "The archive's streaming connection",
            "sourceId": "bench",
            "dataType": "xdm",
            "authenticationRequired": False,
        },
    ]
    for e in range(EVENTS):
        docs.append(
            {
                "kind": "Event",
                "name": event_name(e),
                "description": f"Benchmark event {e}",
                "schemaId": DEMO_SCHEMA,
                "namespace": "Email",
                "eventIdType": "system",
                "fields": [f"{person}.firstName", f"{person}.birthYear", f"{person}.emailAddress"],
            }
        )
        for j in range(JOURNEYS_PER_EVENT):
            year = f"@event{{{event_name(e)}.{person}.birthYear}}"
            docs.append(
                {
                    "kind": "Journey",
                    "name": journey_name(e, j),
                    "state": "live",
                    "description": f"Journey {j} on {event_name(e)}",
                    "entry": {"event": event_name(e), "next": "check_year"},
                    "reentrance": {"allowed": True, "waitSeconds": 0},
                    "activities": {
                        "check_year": {
                            "type": "condition",
                            "branches": [
                                {
                                    "label": "born in 1990 or later",
                                    "when": f"{year} >= 1990",
                                    "next": "wait_a_week",
                                }
                            ],
                            "otherwise": "log_older",
                        },
                        "wait_a_week": {"type": "wait", "duration": "7d", "next": "done"},
                        "log_older": {"type": "log", "message": "older", "next": "done"},
                        "done": {"type": "end"},
                    },
                }
            )
    return docs


def store_key(settings: ConsoleSettings) -> str:
    """The fill's parameters. A kept store made before a new migration is migrated when the
    timed server starts, as an upgraded server's would be; ``--console-refill`` fills anew."""
    parts = [
        str(settings.records),
        f"{BATCH}/{INVALID_EVERY}/{JOURNEY_EVENT_EVERY}/{EVENTS}/{JOURNEYS_PER_EVENT}/{IDENTITIES}",
        orjson.dumps(fill_documents()).decode(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


# the fill
def _message(
    n: int, schema: dict[str, Any], dataset_id: str, event_ids: list[str]
) -> dict[str, Any]:
    person = n % IDENTITIES
    email = f"person-{person}@bench.example"
    ref = {"id": schema["id"], "contentType": schema["contentType"]}
    entity: dict[str, Any] = {
        "_id": f"console-{n}",
        "timestamp": "2026-11-30T12:00:00.000Z",
        "identityMap": {"Email": [{"id": email, "primary": True}]},
        f"_{DEMO_TENANT}": {
            "person": {
                "firstName": f"First{person}",
                "lastName": f"Last{person}",
                "gender": "not_specified",
                "birthYear": 1960 + person % 50,
                "emailAddress": email,
            }
        },
    }
    if n % INVALID_EVERY == 7:
        entity["_id"] = n  # a number where the schema wants a string: a failed record
    if n % JOURNEY_EVENT_EVERY == 3:
        event_id = event_ids[(n // JOURNEY_EVENT_EVERY) % len(event_ids)]
        entity["_experience"] = {"campaign": {"orchestration": {"eventID": event_id}}}
    return {
        "header": {
            "msgType": "xdmEntityCreate",
            "msgVersion": "1.0",
            "msgId": f"console-{n}",
            "imsOrgId": DEMO_ORG,
            "datasetId": dataset_id,
            "schemaRef": ref,
            "source": {"name": "bench"},
        },
        "body": {"xdmMeta": {"schemaRef": ref}, "xdmEntity": entity},
    }


def _batches(
    total: int, schema: dict[str, Any], targets: list[tuple[str, str]], event_ids: list[str]
) -> Iterator[tuple[str, bytes]]:
    """(inlet id, body) of each batch; batches alternate between the inlets (and datasets):
    three of four to the first."""
    for index, start in enumerate(range(0, total, BATCH)):
        inlet_id, dataset_id = targets[0] if index % 4 else targets[1]
        messages = [
            _message(n, schema, dataset_id, event_ids)
            for n in range(start, min(total, start + BATCH))
        ]
        yield inlet_id, orjson.dumps({"messages": messages})


def _post_all(url: str, batches: Iterator[tuple[str, bytes]], total: int) -> None:
    headers = {"content-type": "application/json", "x-gw-ims-org-id": DEMO_ORG}
    done = 0
    started = time.monotonic()
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:

        def post(item: tuple[str, bytes]) -> int:
            inlet_id, body = item
            answer = client.post(f"/collection/batch/{inlet_id}", content=body)
            if answer.status_code != 207:
                raise RuntimeError(f"batch answered {answer.status_code}: {answer.text[:300]}")
            return len(answer.json()["responses"])

        with ThreadPoolExecutor(max_workers=3) as pool:
            for count in pool.map(post, batches):
                done += count
                if done % 100_000 < BATCH:
                    rate = done / (time.monotonic() - started)
                    print(f"  fill: {done:,} of {total:,} messages ({rate:,.0f}/s)", flush=True)


def _entered(admin: httpx.Client) -> int:
    total = 0
    for e in range(EVENTS):
        for j in range(JOURNEYS_PER_EVENT):
            report = admin.get(f"/api/v1/journeys/{journey_name(e, j)}/report")
            total += int(report.raise_for_status().json()["entered"])
    return total


def fill(data_root: Path, settings: ConsoleSettings) -> None:
    """Fill ``data_root/wayfare-data`` through a running server's inlets (see the module)."""
    with wayfare_server(data_root) as server:
        demo = apply_demo(server.url)
        with httpx.Client(
            base_url=server.url, headers={"x-gw-ims-org-id": DEMO_ORG}, timeout=120
        ) as admin:
            applied = admin.post("/api/v1/apply", json={"documents": fill_documents()})
            if applied.status_code != 200:
                raise RuntimeError(f"apply failed: {applied.status_code} {applied.text[:500]}")
            schema = admin.get(f"/api/v1/schemas/{DEMO_SCHEMA}").raise_for_status().json()
            archive = admin.get(f"/api/v1/inlets/{SECOND_INLET}").raise_for_status().json()
            datasets = admin.get("/api/v1/datasets").raise_for_status().json()["datasets"]
            second = next(d["id"] for d in datasets if d["name"] == SECOND_DATASET)
            event_ids = [
                admin.get(f"/api/v1/events/{event_name(e)}").raise_for_status().json()["eventID"]
                for e in range(EVENTS)
            ]
            schema["contentType"] = content_type(int(schema["version"]))
            targets = [(demo.inlet_id, demo.dataset_id), (archive["inletId"], second)]
            started = time.monotonic()
            _post_all(
                server.url,
                _batches(settings.records, schema, targets, event_ids),
                settings.records,
            )
            print(f"  fill: posted in {time.monotonic() - started:.0f}s", flush=True)
            journey_events = len(range(3, settings.records, JOURNEY_EVENT_EVERY)) - len(
                [
                    n
                    for n in range(3, settings.records, JOURNEY_EVENT_EVERY)
                    if n % INVALID_EVERY == 7
                ]
            )
            expected = journey_events * JOURNEYS_PER_EVENT
            deadline = time.monotonic() + FILL_DRAIN_S
            entered = _entered(admin)
            shown = 0.0
            while entered < expected and time.monotonic() < deadline:
                if time.monotonic() - shown >= 30.0:
                    print(f"  fill: {entered:,} of {expected:,} journey entries", flush=True)
                    shown = time.monotonic()
                time.sleep(5.0)
                entered = _entered(admin)
            if entered < expected:
                raise RuntimeError(f"only {entered:,} of {expected:,} entries after the drain")
            print(f"  fill: {entered:,} journey entries", flush=True)


def prepared_store(settings: ConsoleSettings) -> tuple[Path, bool]:
    """The filled data root (cached): its path and whether this run filled it."""
    root = STORE_ROOT / f"console-store-{store_key(settings)}"
    marker = root / "filled.json"
    if marker.exists() and not settings.refill:
        return root, False
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    started = time.monotonic()
    fill(root, settings)
    seconds = time.monotonic() - started
    marker.write_text(json.dumps({"records": settings.records, "seconds": round(seconds)}) + "\n")
    for old in STORE_ROOT.glob("console-store-*"):
        if old != root:
            shutil.rmtree(old, ignore_errors=True)
    return root, True


# the pages
def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if found is None:
        raise RuntimeError("no CSRF token on the console's org page")
    return found.group(1)


def signed_in_client(url: str) -> httpx.Client:
    """A console session (straight in: no admin token on loopback) with the demo org chosen
    through the console's own org form."""
    client = httpx.Client(base_url=url, timeout=60)
    signin = client.get("/signin")
    if signin.status_code != 303 or "wayfare" not in str(client.cookies.keys()).lower():
        raise RuntimeError(f"signing in answered {signin.status_code}, no session cookie")
    org_page = client.get("/org")
    org_page.raise_for_status()
    chosen = client.post("/org", data={"org": DEMO_ORG, "csrf": _csrf(org_page.text), "next": "/"})
    if chosen.status_code not in (200, 303):
        raise RuntimeError(f"choosing the org answered {chosen.status_code}")
    return client


def page_paths(admin: httpx.Client) -> list[tuple[str, str, bool]]:
    """(name, path, htmx fragment?) of every console page, with the ids of the fill."""
    datasets = admin.get("/api/v1/datasets").raise_for_status().json()["datasets"]
    dataset = next(d["id"] for d in datasets if d["name"] != SECOND_DATASET)
    event, journey = event_name(0), journey_name(0, 0)
    someone = f"person-{JOURNEY_EVENT_EVERY + 3}@bench.example"
    condition = f"@event{{{event}._{DEMO_TENANT}.person.birthYear}} > 1990"
    return [
        ("home", "/", False),
        ("home: flow", "/home/flow", True),
        ("org", "/org", False),
        ("schemas", "/schemas", False),
        ("schema", f"/schemas/{DEMO_SCHEMA}", False),
        ("dataset", f"/datasets/{dataset}", False),
        ("dataset: identity search", f"/datasets/{dataset}?identity={someone}", False),
        ("inlets", "/inlets", False),
        ("inlet", f"/inlets/{SECOND_INLET}", False),
        ("events", "/events", False),
        ("event", f"/events/{event}", False),
        ("event: messages", f"/events/{event}/messages", True),
        ("event: new", "/events/-/new", False),
        ("event: fields", f"/events/-/fields?schemaId={DEMO_SCHEMA}", True),
        (
            "event: check",
            "/events/-/check?"
            + httpx.QueryParams({"schemaId": DEMO_SCHEMA, "condition": condition}).__str__(),
            True,
        ),
        ("event: edit", f"/events/{event}/edit", False),
        ("journeys", "/journeys", False),
        ("journey", f"/journeys/{journey}", False),
        ("journey: counts", f"/journeys/{journey}/counts", True),
        ("journey: follow", f"/journeys/{journey}/counts?identity={someone}", True),
        ("journey: steps", f"/journeys/{journey}/steps?identity={someone}", True),
        ("journey: edit", f"/journeys/{journey}/edit", False),
        ("journey: versions", f"/journeys/{journey}/versions", False),
        ("journey: new", "/journeys/-/new", False),
        ("failures", "/failures", False),
        ("failures: inlet", f"/failures?inlet={SECOND_INLET}", False),
        ("failures: time", "/failures?since=2026-01-01T00:00&until=2026-01-02T00:00", False),
    ]


def time_get(client: httpx.Client, path: str, runs: int, headers: dict[str, str]) -> PageTime:
    """One untimed GET, then ``runs`` timed ones: request sent to whole answer read."""
    first = client.get(path, headers=headers)
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path, headers=headers)
        times.append(1000 * (time.perf_counter() - started))
    return PageTime(
        page="",
        path=path,
        status=answer.status_code if first.status_code == answer.status_code else -1,
        bytes=len(answer.content),
        median_ms=statistics.median(times),
        worst_ms=max(times),
    )


def measure(url: str, runs: int) -> list[PageTime]:
    found: list[PageTime] = []
    console = signed_in_client(url)
    try:
        with httpx.Client(base_url=url, headers={"x-gw-ims-org-id": DEMO_ORG}, timeout=60) as admin:
            for name, path in (("/healthz", "/healthz"), ("admin API: inlets", "/api/v1/inlets")):
                timed = time_get(admin, path, runs, {})
                timed.page, timed.baseline = name, True
                found.append(timed)
            for name, path, fragment in page_paths(admin):
                timed = time_get(console, path, runs, {"hx-request": "true"} if fragment else {})
                timed.page = name
                found.append(timed)
    finally:
        console.close()
    return found


def run_console(tmp: Path, settings: ConsoleSettings) -> tuple[list[PageTime], dict[str, Any]]:
    started = time.monotonic()
    root, filled = prepared_store(settings)
    fill_s = time.monotonic() - started
    print(
        f"console store: {root} ({'filled now' if filled else 'cached'}, "
        f"{fill_s:.0f}s; {settings.records:,} messages)",
        flush=True,
    )
    server = wayfare_server(root)
    server.log_path = tmp / "wayfare-console.log"
    with server:
        found = measure(server.url, settings.runs)
        with httpx.Client(
            base_url=server.url, headers={"x-gw-ims-org-id": DEMO_ORG}, timeout=60
        ) as admin:
            datasets = admin.get("/api/v1/datasets").raise_for_status().json()["datasets"]
            counts = {
                d["name"]: int(
                    admin.get(f"/api/v1/datasets/{d['id']}")
                    .raise_for_status()
                    .json()["recordCount"]
                )
                for d in datasets
            }
    print(
        "  records: " + ", ".join(f"{name} {n:,}" for name, n in counts.items()),
        flush=True,
    )
    info = {"store": str(root), "filled_now": filled, "record_counts": counts, "host": HOST}
    return found, info


def print_pages(found: list[PageTime], runs: int) -> None:
    width = max(len(p.page) for p in found)
    print(f"{'page':<{width}}  status  {'kB':>6}  {'median ms':>9}  {'worst ms':>8}")
    for p in found:
        flag = "" if p.baseline else ("" if p.worst_ms < AIM_MS else "  OVER")
        print(
            f"{p.page:<{width}}  {p.status:>6}  {p.bytes / 1024:>6.1f}  "
            f"{p.median_ms:>9.1f}  {p.worst_ms:>8.1f}{flag}"
            + ("  (baseline)" if p.baseline else "")
        )
    pages = [p for p in found if not p.baseline]
    worst = max(pages, key=lambda p: p.worst_ms)
    print(
        f"  {runs} timed GETs per page after one untimed; time from sending the request to the "
        "whole answer over loopback"
    )
    print(f"  worst page: {worst.page} {worst.worst_ms:.1f} ms")


def console_ratios(found: list[PageTime]) -> list[dict[str, Any]]:
    pages = [p for p in found if not p.baseline]
    if not pages:
        return []
    worst = max(pages, key=lambda p: p.worst_ms)
    bad = [p.page for p in pages if p.status != 200]
    out = [
        {
            "what": f"console worst page ms ({worst.page})",
            "value": worst.worst_ms,
            "aim": f"< {AIM_MS:.0f}",
            "met": worst.worst_ms < AIM_MS,
        }
    ]
    if bad:
        out.append(
            {
                "what": f"console pages not 200: {', '.join(bad)}",
                "value": len(bad),
                "aim": "0",
                "met": False,
            }
        )
    return out


def as_json(found: list[PageTime]) -> list[dict[str, Any]]:
    return [asdict(p) for p in found]
