"""A tiny webhook receiver for the journeys benchmark, run as its own process.

    python bench/receiver.py --port P

It answers every ``POST`` with 200 ``{}`` and records, per request, the wall-clock arrival
time (``time.time()``, the same clock the benchmark's sender reads on the same machine) under
the request's marker: the ``"id"`` field of its JSON body (the journey puts the person's
identity there), else its ``Idempotency-Key`` header. A repeated marker keeps its first
arrival and counts as a duplicate.

``GET /stats`` answers ``{"count", "duplicates", "connections", "first", "last"}``
(``connections``: TCP connections opened since the last reset, the stats' own included);
``GET /arrivals`` answers ``{"arrivals": {marker: time}}``; ``POST /reset`` forgets
everything; any other ``GET`` answers 200 (the health check).

It is a raw asyncio protocol on uvloop (no framework), so that it costs the two shared cores
as little as possible: a keep-alive HTTP/1.1 server reading ``Content-Length`` bodies, which
is what the journey runtime's httpx client sends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from typing import Any, cast

import orjson

_OK = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
    b"connection: keep-alive\r\n\r\n{}"
)


def _answer(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: keep-alive\r\n\r\n" + body
    )


class Arrivals:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.times: dict[str, float] = {}
        self.duplicates = 0
        self.connections = 0
        self.first: float | None = None
        self.last: float | None = None

    def record(self, marker: str, at: float) -> None:
        if marker in self.times:
            self.duplicates += 1
            return
        self.times[marker] = at
        if self.first is None:
            self.first = at
        self.last = at

    def stats(self) -> dict[str, Any]:
        return {
            "count": len(self.times),
            "duplicates": self.duplicates,
            "connections": self.connections,
            "first": self.first,
            "last": self.last,
        }


class ReceiverProtocol(asyncio.Protocol):
    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.arrivals.connections += 1

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            method, _, rest = lines[0].partition(" ")
            path = rest.split(" ", 1)[0]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            self.handle(method, path, headers, body, now)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes, now: float
    ) -> None:
        assert self.transport is not None
        if method == "POST" and path == "/reset":
            self.arrivals.reset()
            self.transport.write(_OK)
        elif method == "POST":
            marker = headers.get("idempotency-key", "")
            with contextlib.suppress(ValueError, AttributeError):
                marker = str(orjson.loads(body).get("id") or marker)
            self.arrivals.record(marker, now)
            self.transport.write(_OK)
        elif path == "/stats":
            self.transport.write(_answer(orjson.dumps(self.arrivals.stats())))
        elif path == "/arrivals":
            self.transport.write(_answer(orjson.dumps({"arrivals": self.arrivals.times})))
        else:
            self.transport.write(_OK)


async def serve(port: int) -> None:
    arrivals = Arrivals()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: ReceiverProtocol(arrivals), "127.0.0.1", port, backlog=1024
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port))
    except ImportError:
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
