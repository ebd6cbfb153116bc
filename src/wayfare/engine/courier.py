"""Delivering actions in a child process, so HTTP and SMTP work runs on another core.

``CourierSender`` has ``ActionSender``'s interface; the dispatcher uses either. It starts
``python -m wayfare.engine.courier`` and talks to it over its stdin and stdout, one JSON
array per line: ``[n, kind, request, key]`` out, ``[n, ok, response, error, retryable,
timed_out]`` back. The child only makes attempts; what to send, how many at once, and
retries stay with the dispatcher and the outbox. If the child dies, attempts in flight fail
as retryable and a new child is started; if the parent dies, the child sees its stdin close,
finishes what it holds and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
import sys
from typing import Any

import orjson

from wayfare.engine.actions import ActionSender, Delivery
from wayfare.engine.stdio import LINE_LIMIT, open_stdio
from wayfare.observability.logs import configure_logging

log = logging.getLogger(__name__)


class CourierSender:
    def __init__(
        self, *, log_format: str = "text", log_level: str = "warning", **sender_options: Any
    ) -> None:
        """``sender_options`` go to the child's ``ActionSender``; the child writes its log
        lines in ``log_format`` from ``log_level`` up."""
        self._options = {"log": [log_format, log_level], **sender_options}
        self._proc: asyncio.subprocess.Process | None = None
        self._reading: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[Delivery]] = {}
        """The current child's attempts in flight, by number."""
        self._numbers = itertools.count(1)
        self._stopping = False
        self._starting: asyncio.Lock | None = None

    async def start(self) -> None:
        self._stopping = False
        self._starting = asyncio.Lock()
        await self._spawn()

    async def _spawn(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wayfare.engine.courier",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        assert proc.stdin is not None
        proc.stdin.write(orjson.dumps(self._options) + b"\n")
        self._proc = proc
        self._waiting = {}
        self._reading = asyncio.create_task(self._read(proc, self._waiting))

    async def stop(self) -> None:
        self._stopping = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()  # the child finishes what it holds, then exits
        try:
            await asyncio.wait_for(proc.wait(), 35)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reading is not None:
            await asyncio.gather(self._reading, return_exceptions=True)

    async def send(
        self, kind: str, request: dict[str, Any], key: str, not_after: float | None = None
    ) -> Delivery:
        # The child checks ``not_after`` right before it sends: a monotonic time, the same
        # clock in every process of the machine.
        proc = await self._running()
        if proc is None:
            return Delivery(False, error="the action courier is not running", retryable=True)
        n = next(self._numbers)
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._waiting[n] = future
        assert proc.stdin is not None
        try:
            proc.stdin.write(orjson.dumps([n, kind, request, key, not_after]) + b"\n")
            await proc.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            self._waiting.pop(n, None)
            return Delivery(False, error=f"the action courier failed: {exc}", retryable=True)
        return await future

    async def _running(self) -> asyncio.subprocess.Process | None:
        if self._stopping or (self._proc is not None and self._proc.returncode is None):
            return self._proc
        assert self._starting is not None, "CourierSender.start() first"
        async with self._starting:
            if self._proc is None or self._proc.returncode is not None:
                log.warning("the action courier exited; starting a new one")
                await self._spawn()
        return self._proc

    async def _read(
        self, proc: asyncio.subprocess.Process, waiting: dict[int, asyncio.Future[Delivery]]
    ) -> None:
        assert proc.stdout is not None
        try:
            while line := await proc.stdout.readline():
                n, ok, response, error, retryable, timed_out, attempted = orjson.loads(line)
                future = waiting.pop(n, None)
                if future is not None and not future.done():
                    future.set_result(
                        Delivery(ok, response, error, retryable, timed_out, attempted)
                    )
        except (ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            log.exception("unreadable answer from the action courier")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        finally:
            await proc.wait()
            lost = list(waiting.values())
            waiting.clear()
            for future in lost:
                if not future.done():
                    future.set_result(
                        Delivery(False, error="the action courier exited", retryable=True)
                    )


def _answer(n: int, d: Delivery) -> bytes:
    try:
        fields = [n, d.ok, d.response, d.error, d.retryable, d.timed_out, d.attempted]
        return orjson.dumps(fields) + b"\n"
    except (TypeError, orjson.JSONEncodeError) as exc:
        response = {"text": f"the response could not be passed on: {exc}"}
        fields = [n, d.ok, response, d.error, d.retryable, d.timed_out, d.attempted]
        return orjson.dumps(fields) + b"\n"


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    stdio = await open_stdio()
    reader, transport = stdio.reader, stdio.writer
    options = orjson.loads(await reader.readline())
    log_format, log_level = options.pop("log", ["text", "warning"])
    configure_logging(log_level, log_format)
    sender = ActionSender(**options)
    await sender.start()
    attempts: set[asyncio.Task[None]] = set()

    async def attempt(
        n: int, kind: str, request: dict[str, Any], key: str, not_after: float | None
    ) -> None:
        try:
            delivery = await sender.send(kind, request, key, not_after)
        except Exception as exc:  # every attempt gets an answer, or its sender waits forever
            delivery = Delivery(False, error=f"{type(exc).__name__}: {exc}", retryable=True)
        transport.write(_answer(n, delivery))

    try:
        while line := await reader.readline():
            task = loop.create_task(attempt(*orjson.loads(line)))
            attempts.add(task)
            task.add_done_callback(attempts.discard)
        await asyncio.gather(*attempts, return_exceptions=True)
    finally:
        await sender.stop()
        await stdio.close()  # the answers still buffered reach the parent before the exit


def main() -> None:
    # Its lines go to the server's stderr, shaped like the server's own once its options
    # are read.
    configure_logging("warning")
    # Ctrl-C reaches the whole process group; the parent then closes stdin, and what is in
    # flight is finished and answered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve())
    else:
        uvloop.run(_serve())


if __name__ == "__main__":
    main()
