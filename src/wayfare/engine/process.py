"""The journey engine in a process of its own, so it runs on another core than the inlet.

``EngineProcess`` (in the server) is a ``JourneyEngine``: it starts ``wayfare engine`` and
talks to it over the child's stdin and stdout, one line each way. The first line out is the
server's settings (``read_first_line`` reads it in the child); then an empty line means
"there may be new work" (the server's writer committed matched events); ``[n, command,
args]`` asks for a command and ``[n, result, error]`` answers it. The child commits on a
connection of its own; what it needs to know of journey changes it reads from the store
(see ``JourneyStore.generation``).

``serve_engine`` is the child's side. It holds an exclusive lock on ``engine.lock`` in the
data directory while it runs, so an engine left behind by a killed server finishes before
the next one starts, and it stops (deliveries in flight get their grace) when its stdin
closes or on SIGTERM. If the child dies, commands waiting on it fail and a new child starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from wayfare.engine.control import JourneyEngine
from wayfare.engine.stdio import LINE_LIMIT, open_stdio
from wayfare.errors import EngineError, OverloadedError
from wayfare.model.runs import JourneyVersion

log = logging.getLogger(__name__)
RESTART_SECONDS = 1.0
LOCK_POLL_SECONDS = 0.05


class EngineProcess:
    """A ``JourneyEngine`` whose work is done by a child process started from ``argv``;
    ``greeting`` is the first line each child reads (its settings: kept off the command line,
    which every user of the machine can read)."""

    def __init__(self, argv: Sequence[str], greeting: bytes = b"") -> None:
        self._argv = list(argv)
        self._greeting = greeting.rstrip(b"\n")
        self._proc: asyncio.subprocess.Process | None = None
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        """The current child's commands awaiting an answer, by number."""
        self._numbers = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._supervising: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake_queued = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._wake_queued = False
        spawned: asyncio.Future[None] = self._loop.create_future()
        self._supervising = asyncio.create_task(self._supervise(spawned))
        await spawned  # started, not necessarily ready: commands and wakes wait in its pipe

    async def stop(self, grace: float = 5.0) -> None:
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            assert proc.stdin is not None
            proc.stdin.close()  # the child stops in order: deliveries in flight get `grace`
            try:
                await asyncio.wait_for(proc.wait(), grace + 60)
            except TimeoutError:
                log.error("the journey engine did not stop; killing it")
                proc.kill()
        if self._supervising is not None:
            self._supervising.cancel()
            await asyncio.gather(self._supervising, return_exceptions=True)
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
        proc = self._proc
        if proc is not None and proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.write(b"\n")

    async def stop_instances(self, org_id: str, journey: str, reason: str) -> int:
        return int(await self._ask("stop_instances", org_id, journey, reason))

    async def enter_test_event(
        self, version: JourneyVersion, identity: str, entity: dict[str, Any]
    ) -> None:
        await self._ask("enter_test_event", version, identity, entity)

    async def _ask(self, command: str, *args: Any) -> Any:
        proc = self._proc
        if proc is None or proc.returncode is not None or self._stopping:
            raise OverloadedError("The journey engine is restarting; try again", retry_after=1)
        assert proc.stdin is not None and self._loop is not None
        n = next(self._numbers)
        answer: asyncio.Future[Any] = self._loop.create_future()
        self._waiting[n] = answer
        try:
            proc.stdin.write(orjson.dumps([n, command, args]) + b"\n")
            await proc.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            self._waiting.pop(n, None)
            raise OverloadedError("The journey engine is restarting; try again", 1) from exc
        return await answer

    async def _supervise(self, spawned: asyncio.Future[None]) -> None:
        while not self._stopping:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self._argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    limit=LINE_LIMIT,
                )
            except OSError as exc:
                if not spawned.done():
                    spawned.set_exception(exc)
                    return
                log.error("the journey engine could not start: %s", exc)
                await asyncio.sleep(RESTART_SECONDS)
                continue
            assert proc.stdin is not None
            if self._greeting:
                proc.stdin.write(self._greeting + b"\n")
            waiting: dict[int, asyncio.Future[Any]] = {}
            self._proc, self._waiting = proc, waiting
            if not spawned.done():
                spawned.set_result(None)
            await self._read(proc, waiting)
            code = await proc.wait()
            for answer in waiting.values():
                if not answer.done():
                    answer.set_exception(EngineError("The journey engine exited before answering"))
            waiting.clear()
            if not self._stopping:
                log.warning("the journey engine exited with %s; starting a new one", code)
                await asyncio.sleep(RESTART_SECONDS)

    @staticmethod
    async def _read(
        proc: asyncio.subprocess.Process, waiting: dict[int, asyncio.Future[Any]]
    ) -> None:
        assert proc.stdout is not None
        try:
            while line := await proc.stdout.readline():
                n, result, error = orjson.loads(line)
                answer = waiting.pop(n, None)
                if answer is None or answer.done():
                    continue
                if error is None:
                    answer.set_result(result)
                else:
                    answer.set_exception(EngineError(error))
        except (ValueError, TypeError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            # not [n, result, error]: the child is replaced, its waiting commands fail
            log.exception("unreadable answer from the journey engine")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


# the child's side
class EngineHost(Protocol):
    """What the child runs: the engine and what it needs (its own writer)."""

    @property
    def runtime(self) -> JourneyEngine: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


async def serve_engine(host: EngineHost, lock_path: Path) -> None:
    """Wait for the engine lock, start, answer the server until stdin closes, stop."""
    loop = asyncio.get_running_loop()
    stdio = await open_stdio()
    reader, transport = stdio.reader, stdio.writer
    lines: asyncio.Queue[bytes | None] = asyncio.Queue()
    closed = asyncio.Event()

    def close() -> None:
        closed.set()
        lines.put_nowait(None)

    async def read_lines() -> None:
        while line := await reader.readline():
            lines.put_nowait(line)
        close()

    reading = asyncio.create_task(read_lines())
    loop.add_signal_handler(signal.SIGTERM, close)
    with lock_path.open("a+b") as lock:
        if not await _hold(lock, closed):
            return
        await host.start()
        commands: set[asyncio.Task[None]] = set()

        async def answer(n: int, command: str, args: list[Any]) -> None:
            try:
                line = orjson.dumps([n, await _run(host.runtime, command, args), None])
            except Exception as exc:  # every command gets an answer, or its caller waits
                log.exception("journey engine command %s failed", command)
                line = orjson.dumps([n, None, f"{type(exc).__name__}: {exc}"])
            transport.write(line + b"\n")

        try:
            while (line := await lines.get()) is not None:
                if line == b"\n":
                    host.runtime.wake()
                    continue
                task = asyncio.create_task(answer(*orjson.loads(line)))
                commands.add(task)
                task.add_done_callback(commands.discard)
            await asyncio.gather(*commands, return_exceptions=True)
        finally:
            reading.cancel()
            await host.stop()
            await stdio.close()  # answers still buffered reach the server before the exit


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


async def _run(runtime: JourneyEngine, command: str, args: list[Any]) -> Any:
    if command == "stop_instances":
        org_id, journey, reason = args
        return await runtime.stop_instances(org_id, journey, reason)
    if command == "enter_test_event":
        version, identity, entity = args
        return await runtime.enter_test_event(JourneyVersion(**version), identity, entity)
    raise ValueError(f"unknown command {command!r}")


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
