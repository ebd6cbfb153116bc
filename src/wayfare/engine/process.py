"""The journey engine in a process of its own, so it runs on another core than the inlet.

``EngineProcess`` (in the server) is a ``JourneyEngine``: it starts ``wayfare engine`` and
writes to the child's stdin: first the server's settings (``read_first_line`` reads them in
the child), then an empty line whenever there may be new work (the server's writer committed
matched events, a journey was stopped, a test entry was queued). The child commits on a
connection of its own; everything else it needs it reads from the store (journey changes,
stopped journeys, test entries) and the event log.

``serve_engine`` is the child's side. It holds an exclusive lock on ``engine.lock`` in the
data directory while it runs, so an engine left behind by a killed server finishes before
the next one starts, and it stops (deliveries in flight get their grace) when its stdin
closes or on SIGTERM. If the child dies, a new one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

from wayfare.engine.control import JourneyEngine
from wayfare.engine.stdio import LINE_LIMIT
from wayfare.hub.children import ChildProcess

log = logging.getLogger(__name__)
LOCK_POLL_SECONDS = 0.05


class EngineProcess(ChildProcess):
    """A ``JourneyEngine`` whose work is done by a child process started from ``argv``;
    ``greeting`` is the first line each child reads (its settings)."""

    def __init__(self, argv: Sequence[str], greeting: bytes = b"") -> None:
        super().__init__(argv, greeting, name="journey engine")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_queued = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake_queued = False
        await super().start()  # wakes before the child is ready wait in its pipe

    async def stop(self, grace: float = 5.0) -> None:
        await super().stop(grace)
        self._loop = None

    def wake(self) -> None:
        loop = self._loop
        if loop is None or self._wake_queued:
            return
        self._wake_queued = True
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody to wake
            loop.call_soon_threadsafe(self._send_wake)

    def _send_wake(self) -> None:
        self._wake_queued = False
        self.send_line()


# the child's side
class EngineHost(Protocol):
    """What the child runs: the engine and what it needs (its own writer)."""

    @property
    def runtime(self) -> JourneyEngine: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


async def serve_engine(host: EngineHost, lock_path: Path) -> None:
    """Wait for the engine lock, start, wake the engine on each line of stdin until it
    closes (or SIGTERM), stop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    closed = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, closed.set)

    async def read_lines() -> None:
        while await reader.readline():
            host.runtime.wake()
        closed.set()

    reading = asyncio.create_task(read_lines())
    with os.fdopen(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as lock:
        if not await _hold(lock, closed):
            return
        await host.start()
        try:
            await closed.wait()
        finally:
            reading.cancel()
            await host.stop()


async def _hold(lock: IO[bytes], closed: asyncio.Event) -> bool:
    """Take the engine lock, waiting for an engine still stopping; False if told to stop
    (or the server went away) meanwhile."""
    waited = False
    while True:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if not waited:
                log.warning("waiting for the previous journey engine to stop")
                waited = True
        if closed.is_set():
            return False
        await asyncio.sleep(LOCK_POLL_SECONDS)


def read_first_line(fd: int = 0) -> bytes:
    """The first line of ``fd`` (stdin), read a byte at a time so that nothing after it is
    taken from the pipe before ``serve_engine`` reads it."""
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return bytes(line)


async def serve_worker(host: EngineHost) -> None:
    """``wayfare worker``: start, run until SIGTERM or Ctrl-C, stop in order (deliveries in
    flight get their grace, the partitions are given up for the others to take at once)."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await host.start()
    log.info("journey engine running")
    try:
        await stopping.wait()
    finally:
        log.info("journey engine stopping")
        await host.stop()
