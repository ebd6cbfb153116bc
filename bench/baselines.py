"""The two baselines measured in the same run as Wayfare.

bare endpoint
    A minimal ASGI app served by uvicorn with the options ``wayfare serve`` uses (uvloop,
    httptools, access log off, lifespan on): it reads the body, parses it with orjson and
    answers 200 ``{}``. Started as a child process: ``python bench/baselines.py serve-bare``.

plain loop
    No server: parse each message with the standard library's ``json``, pull out what a
    store needs (msgId, schema id) and insert it into SQLite (a file in a temp dir, WAL,
    synchronous=FULL like Wayfare's default, one transaction per 500 messages, executemany).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

PLAIN_TX_SIZE = 500


# bare endpoint
async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks: list[bytes] = []
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return
        chunks.append(event.get("body", b""))
        if not event.get("more_body", False):
            break
    body = b"".join(chunks)
    if body:
        orjson.loads(body)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b"{}"})


def serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(
        bare_app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        lifespan="on",
    )


# plain loop
@dataclass(frozen=True)
class PlainLoopResult:
    messages: int
    seconds: float

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


_PLAIN_SCHEMA = """
CREATE TABLE records (
    seq         INTEGER PRIMARY KEY,
    msg_id      TEXT,
    schema_id   TEXT,
    received_ms INTEGER NOT NULL,
    message     BLOB NOT NULL
)
"""


def plain_loop(raw_messages: Sequence[bytes], db_path: Path) -> PlainLoopResult:
    """Parse (json) and insert (sqlite3) every message; the time of that loop alone."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(_PLAIN_SCHEMA)
        insert = "INSERT INTO records (msg_id, schema_id, received_ms, message) VALUES (?, ?, ?, ?)"
        started = time.perf_counter()
        for start in range(0, len(raw_messages), PLAIN_TX_SIZE):
            rows = []
            now_ms = time.time_ns() // 1_000_000
            for raw in raw_messages[start : start + PLAIN_TX_SIZE]:
                message = json.loads(raw)
                header = message["header"]
                rows.append((header.get("msgId"), header["schemaRef"]["id"], now_ms, raw))
            conn.execute("BEGIN")
            conn.executemany(insert, rows)
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        (stored,) = conn.execute("SELECT COUNT(*) FROM records").fetchone()
    finally:
        conn.close()
    if stored != len(raw_messages):
        raise RuntimeError(f"plain loop stored {stored} of {len(raw_messages)} messages")
    return PlainLoopResult(len(raw_messages), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve-bare", help="serve the bare endpoint on 127.0.0.1")
    serve.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.command == "serve-bare":
        serve_bare(args.port)


if __name__ == "__main__":
    main()
