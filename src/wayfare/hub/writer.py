"""The one writer of a data directory, shared by the HTTP processes of ``serve --workers N``.

An HTTP process parses and validates; ``HubWriter`` hands the accepted messages over a
socket pair to the process that started it, where ``WriterHub`` admits them (backpressure
and the inlets' rate limits are counted there, once for every process) and writes them
through the group-commit writer; the answer comes back once they are committed. The same
socket carries wakes for the journey engine and the demo webhook's calls.

A frame is a header (kind, request id, body length) and a body. Messages travel as the
event log encodes them (``log/codec.py``): their payloads are never parsed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import struct
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from wayfare.errors import OverloadedError, RateLimitedError, StoreError
from wayfare.log.codec import decode, encode
from wayfare.model.records import IncomingMessage, WriteOutcome
from wayfare.store.ports import MessageWriter

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!BII")
_LENGTH = struct.Struct("!I")
# asked of the hub
WRITE, WAKE, INBOX_ADD, INBOX_LIST = 1, 2, 3, 4
# answered
DONE, FAILED = 10, 11
INBOX_SIZE = 100

Admit = Callable[[Sequence[IncomingMessage]], None]
"""Raises OverloadedError or RateLimitedError when messages may not be written now."""


class DemoInbox(Protocol):
    """What the demo webhook received: the last ``INBOX_SIZE`` calls, oldest first."""

    async def add(self, call: dict[str, Any]) -> int:
        """Keep ``call``; how many are kept now."""
        ...

    async def recent(self) -> list[dict[str, Any]]: ...


class LocalInbox:
    def __init__(self) -> None:
        self._calls: deque[dict[str, Any]] = deque(maxlen=INBOX_SIZE)

    async def add(self, call: dict[str, Any]) -> int:
        self._calls.append(call)
        return len(self._calls)

    async def recent(self) -> list[dict[str, Any]]:
        return list(self._calls)


# the HTTP process's side
class HubClient:
    """Requests to the hub over ``sock``, answered in any order."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._gone: str | None = None

    async def start(self) -> None:
        if self._writer is not None:
            return
        reader, self._writer = await asyncio.open_connection(sock=self._sock)
        self._reading = asyncio.create_task(self._read(reader))

    async def stop(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            await asyncio.gather(self._reading, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()
        self._fail_all("the HTTP process is stopping")

    def tell(self, kind: int, body: bytes = b"") -> None:
        """Send without waiting for an answer."""
        if self._writer is not None and self._gone is None:
            self._writer.write(_HEADER.pack(kind, 0, len(body)) + body)

    async def ask(self, kind: int, body: bytes = b"") -> bytes:
        if self._writer is None or self._gone is not None:
            raise StoreError(f"the writer process cannot be reached: {self._gone or 'not started'}")
        request_id = next(self._ids) & 0xFFFFFFFF or 1
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        self._writer.write(_HEADER.pack(kind, request_id, len(body)) + body)
        return await answer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, request_id, size = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                body = await reader.readexactly(size)
                answer = self._waiting.pop(request_id, None)
                if answer is None or answer.done():
                    continue
                if kind == DONE:
                    answer.set_result(body)
                else:
                    answer.set_exception(_error(orjson.loads(body)))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            log.error("the writer process went away: %s", exc)
            self._fail_all("the writer process went away")

    def _fail_all(self, why: str) -> None:
        self._gone = why
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(StoreError(why))
        self._waiting.clear()


class HubWriter:
    """A ``MessageWriter`` whose writes the hub's writer commits."""

    def __init__(self, client: HubClient) -> None:
        self._client = client
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    async def start(self) -> None:
        await self._client.start()

    async def stop(self) -> None:
        await self._client.stop()

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        self._pending += len(messages)
        try:
            answer = await self._client.ask(WRITE, encode_batch(messages))
        finally:
            self._pending -= len(messages)
        return [
            WriteOutcome(xaction_id, duplicate, conflict)
            for xaction_id, duplicate, conflict in orjson.loads(answer)
        ]


class HubEngine:
    """The journey engine as an HTTP process sees it: it runs beside the hub, which wakes it."""

    def __init__(self, client: HubClient) -> None:
        self._client = client
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self, grace: float = 5.0) -> None:
        self._loop = None

    def wake(self) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody to wake
                loop.call_soon_threadsafe(self._client.tell, WAKE)


class HubInbox:
    def __init__(self, client: HubClient) -> None:
        self._client = client

    async def add(self, call: dict[str, Any]) -> int:
        count: int = orjson.loads(await self._client.ask(INBOX_ADD, orjson.dumps(call)))
        return count

    async def recent(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = orjson.loads(await self._client.ask(INBOX_LIST))
        return calls


# the hub's side
class WriterHub:
    """Serves HTTP processes: writes through ``writer`` what ``admit`` lets through."""

    def __init__(
        self, writer: MessageWriter, admit: Admit, wake: Callable[[], None], inbox: DemoInbox
    ) -> None:
        self._writer = writer
        self._admit = admit
        self._wake = wake
        self._inbox = inbox

    async def serve(self, sock: socket.socket) -> None:
        """Answer one HTTP process until it goes away."""
        reader, writer = await asyncio.open_connection(sock=sock)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                kind, request_id, size = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                body = await reader.readexactly(size)
                if kind == WAKE:
                    self._wake()
                    continue
                task = asyncio.create_task(self._answer(writer, kind, request_id, body))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the HTTP process ended; what it handed over is still being written
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()

    async def _answer(
        self, writer: asyncio.StreamWriter, kind: int, request_id: int, body: bytes
    ) -> None:
        try:
            answer = await self._handle(kind, body)
            reply = _HEADER.pack(DONE, request_id, len(answer)) + answer
        except Exception as exc:  # every failure goes back to the request that caused it
            if not isinstance(exc, OverloadedError | RateLimitedError | StoreError):
                log.exception("the writer process failed a request")
            failure = orjson.dumps(_failure(exc))
            reply = _HEADER.pack(FAILED, request_id, len(failure)) + failure
        if not writer.is_closing():
            writer.write(reply)

    async def _handle(self, kind: int, body: bytes) -> bytes:
        if kind == WRITE:
            messages = decode_batch(body)
            self._admit(messages)
            outcomes = await self._writer.write(messages)
            return orjson.dumps([[o.xaction_id, o.duplicate, o.conflict] for o in outcomes])
        if kind == INBOX_ADD:
            return orjson.dumps(await self._inbox.add(orjson.loads(body)))
        if kind == INBOX_LIST:
            return orjson.dumps(await self._inbox.recent())
        raise ValueError(f"unknown request kind {kind}")


def admit_all(writer: MessageWriter, max_pending: int, take: Callable[[str, int], None]) -> Admit:
    """What the hub admits: no more than ``max_pending`` messages waiting for the writer,
    each inlet within its rate (``take`` spends an inlet's tokens or raises)."""

    def admit(messages: Sequence[IncomingMessage]) -> None:
        if writer.pending + len(messages) > max_pending:
            raise OverloadedError(
                "The inlet is busy writing what it already accepted; retry shortly",
                retry_after=1,
            )
        for inlet_id, count in Counter(m.inlet_id for m in messages).items():
            take(inlet_id, count)

    return admit


def encode_batch(messages: Sequence[IncomingMessage]) -> bytes:
    parts = []
    for message in messages:
        data = encode(message)
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_batch(body: bytes) -> list[IncomingMessage]:
    messages = []
    view = memoryview(body)
    at = 0
    while at < len(body):
        (size,) = _LENGTH.unpack_from(view, at)
        at += _LENGTH.size
        messages.append(decode(bytes(view[at : at + size])))
        at += size
    return messages


def _failure(exc: Exception) -> dict[str, Any]:
    kind = "internal"
    if isinstance(exc, OverloadedError):
        kind = "overloaded"
    elif isinstance(exc, RateLimitedError):
        kind = "rate"
    elif isinstance(exc, StoreError):
        kind = "store"
    return {"kind": kind, "message": str(exc), "retryAfter": getattr(exc, "retry_after", 1)}


def _error(failure: dict[str, Any]) -> Exception:
    message, retry_after = failure["message"], failure["retryAfter"]
    match failure["kind"]:
        case "overloaded":
            return OverloadedError(message, retry_after=retry_after)
        case "rate":
            return RateLimitedError(message, retry_after=retry_after)
        case "store":
            error = StoreError(message)
            error.retry_after = retry_after
            return error
    return RuntimeError(f"the writer process failed: {message}")


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """The hub's end and the HTTP process's end (inheritable) of a new connection."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.set_inheritable(True)
    return ours, theirs
