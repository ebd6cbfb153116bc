"""Where a batch message's CPU goes in the inlet, without storing it.

    .venv/bin/python bench/inlet_path.py [--runs 5] [--batches 40]

Starts ``wayfare serve`` on a free port only to apply the demo, then, in this process, reads
the demo inlet through the store as the server does and times each part of the HTTP path for
batches of 500 demo messages: parsing (orjson, then the repeated-key check), reading the
envelope, routing, validation, matching, the stored JSON, the msgId's digest, ``prepare``
(all of these for one message) and the whole request (``parse_json``, ``ingest_batch`` with
a writer that answers at once, the answer's JSON). Each figure is the best of ``--runs``
runs of ``--batches`` batches, in µs a message, printed next to the baseline of the same run:
orjson's parse of the body alone. The garbage collector is off while timing (the server
collects rarely: ``wayfare.cli.server._collect_less``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import apply_demo, wayfare_server
from wayfare.api.json_body import parse_json
from wayfare.clock import SystemClock
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.inlet import Caller, InletService, _dumps, message_digest
from wayfare.ingest.rate_limit import RateLimiter
from wayfare.model.envelope import read_envelope
from wayfare.model.matching import match_message
from wayfare.model.records import IncomingMessage, WriteOutcome
from wayfare.store.sqlite.resources import SQLiteStore

BATCH = 500


class AnsweringWriter:
    """A writer that stores nothing and answers every message at once."""

    pending = 0

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        return [WriteOutcome(m.xaction_id, False) for m in messages]


def best_us(part: Callable[[], object], runs: int, batches: int) -> float:
    """The best of ``runs`` timings of ``batches`` calls of ``part``, in µs a message."""
    for _ in range(3):
        part()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(batches):
            part()
        best = min(best, (time.perf_counter() - start) / batches / BATCH * 1e6)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wayfare-inlet-path-") as tmp:
        with wayfare_server(Path(tmp)) as server:
            demo = apply_demo(server.url)
        clock = SystemClock()
        store = SQLiteStore(Path(tmp) / "wayfare-data" / "wayfare.sqlite3")
        catalog = Catalog(store, clock)
        service = InletService(catalog, AnsweringWriter(), clock, RateLimiter(clock, 0, 0), 10**9)
        inlet = service.open_inlet(demo.inlet_id, Caller())
        body = orjson.dumps(
            {"messages": [demo.message(msg_id=f"m-{i}", entity_id=f"e-{i}") for i in range(BATCH)]}
        )
        messages = parse_json(body)["messages"]
        envelopes = [read_envelope(m) for m in messages]
        first = envelopes[0]
        route = catalog.route(inlet.org_id, first.schema_id, first.schema_version)
        loop = asyncio.new_event_loop()

        async def request() -> bytes:
            payload = parse_json(body)
            answer = await service.ingest_batch(inlet, payload, Caller(), request_bytes=len(body))
            return orjson.dumps(answer)

        parts: dict[str, Callable[[], Any]] = {
            "orjson parse (baseline)": lambda: orjson.loads(body),
            "parse and repeated-key check": lambda: parse_json(body),
            "read the envelope": lambda: [read_envelope(m) for m in messages],
            "route": lambda: [
                catalog.route(inlet.org_id, e.schema_id, e.schema_version) for e in envelopes
            ],
            "validate": lambda: [route.compiled.violations(e.entity) for e in envelopes],
            "match": lambda: [match_message(route.events, e.entity) for e in envelopes],
            "the stored JSON": lambda: [_dumps(m) for m in messages],
            "the msgId's digest": lambda: [message_digest(m) for m in messages],
            "prepare (all of the above but parsing)": lambda: [
                service.prepare(inlet, m, None, sync=False, xaction_id="x", received_ms=1)
                for m in messages
            ],
            "the whole request, no writer": lambda: loop.run_until_complete(request()),
        }
        gc.collect()
        gc.disable()
        try:
            figures = {name: best_us(part, args.runs, args.batches) for name, part in parts.items()}
        finally:
            gc.enable()
            loop.close()
            store.close()
    baseline = figures["orjson parse (baseline)"]
    print(f"batches of {BATCH} demo messages ({len(body) // BATCH} bytes each), µs a message")
    for name, us in figures.items():
        print(f"{name:42s} {us:6.2f}  ({us / baseline:4.1f}x the parse)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
