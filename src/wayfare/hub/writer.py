"""What the HTTP processes of ``serve --workers N`` share on an embedded store, through the
process that started them (the hub).

An HTTP process parses, validates and commits what it accepts itself, through a group-commit
writer of its own on the store's file (``store/sqlite/writer.py``: the writers of one file
take turns on its lock, so the processes' Python work runs on every core and only SQLite's
own runs one at a time). Before writing, ``HubWriter`` asks the hub to admit the messages
(``ADMIT``): the backlog limit and each inlet's rate are counted there, once for every
process, and the messages count as pending until the HTTP process says they are committed
or failed (``RELEASE``), or goes away. Without a rate limit only the backlog is counted,
and an HTTP process reserves a share of it at a time (``RESERVE``: ``reservation_block``
messages) and admits its writes from that share itself: no round trip to the hub per
request. It gives back what it holds beyond two shares; what it holds counts as pending,
so the messages pending in all processes stay within the limit. The same socket carries
wakes for the journey engine (after a commit that gives it work) and the demo webhook's
calls.

A frame is a header (kind, request id, body length) and a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import socket
import struct
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

import orjson

from wayfare.errors import OverloadedError, RateLimitedError, StoreError
from wayfare.model.records import IncomingMessage, WriteOutcome
from wayfare.store.ports import MessageWriter
from wayfare.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!BII")
_COUNT = struct.Struct("!I")
_RESERVE = struct.Struct("!II")
"""How many messages a reservation needs at least, and how many it would like."""
RESERVATION_MAX = 1000
# asked of the hub
ADMIT, WAKE, INBOX_ADD, INBOX_LIST, RELEASE, RESERVE = 1, 2, 3, 4, 5, 6
# answered
DONE, FAILED = 10, 11
INBOX_SIZE = 100
OVERLOADED = "The inlet is busy writing what it already accepted; retry shortly"

Admit = Callable[[int, Mapping[str, int]], None]
"""Given the messages pending in every process and how many more each inlet asks to write,
raises OverloadedError or RateLimitedError when they may not be written now."""


def reservation_block(max_pending: int, processes: int, rate_limited: bool) -> int:
    """The share of the backlog an HTTP process reserves at a time: 0 (each write asks the
    hub) when inlets have a rate limit, whose tokens are counted per write; else an eighth
    of the backlog limit per process, at most RESERVATION_MAX, at least 1: the two shares
    an idle process may keep leave the others most of the backlog."""
    if rate_limited:
        return 0
    return max(1, min(RESERVATION_MAX, max_pending // (8 * max(1, processes))))


class _Frames:
    """Frames for one socket, sent together once a turn of the event loop: one system call
    (and one wake of the other side) for all that a turn's requests send, not one each."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._parts: list[bytes] = []
        self._released = 0

    def send(self, kind: int, request_id: int, body: bytes = b"") -> None:
        self._schedule()
        self._parts.append(_HEADER.pack(kind, request_id, len(body)))
        self._parts.append(body)

    def release(self, count: int) -> None:
        """Add ``count`` to the RELEASE frame of this turn (one, however many writes end)."""
        self._schedule()
        self._released += count

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def _schedule(self) -> None:
        if not self._parts and not self._released:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        if self._released:
            self._parts.append(_HEADER.pack(RELEASE, 0, _COUNT.size))
            self._parts.append(_COUNT.pack(self._released))
            self._released = 0
        parts, self._parts = self._parts, []
        if parts and not self._writer.is_closing():
            self._writer.write(b"".join(parts))


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
        self._frames: _Frames | None = None
        self._reading: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._gone: str | None = None

    async def start(self) -> None:
        if self._frames is not None:
            return
        reader, writer = await asyncio.open_connection(sock=self._sock)
        self._frames = _Frames(writer)
        self._reading = asyncio.create_task(self._read(reader))

    async def stop(self) -> None:
        await cancel_and_wait(self._reading)
        if self._frames is not None:
            self._frames.close()
        self._fail_all("the HTTP process is stopping")

    def tell(self, kind: int, body: bytes = b"") -> None:
        """Send without waiting for an answer."""
        if self._frames is not None and self._gone is None:
            self._frames.send(kind, 0, body)

    def release(self, count: int) -> None:
        """Tell the hub that ``count`` admitted messages are no longer pending."""
        if self._frames is not None and self._gone is None:
            self._frames.release(count)

    async def ask(self, kind: int, body: bytes = b"") -> bytes:
        if self._frames is None or self._gone is not None:
            raise StoreError(f"the writer process cannot be reached: {self._gone or 'not started'}")
        request_id = next(self._ids) & 0xFFFFFFFF or 1
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        self._frames.send(kind, request_id, body)
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
    """A ``MessageWriter`` that writes through ``local`` (this process's group-commit
    writer) what the hub admits: each write asked for, or, with a ``block`` (see
    ``reservation_block``), admitted from the share of the backlog this process reserved."""

    def __init__(self, client: HubClient, local: MessageWriter, block: int = 0) -> None:
        self._client = client
        self._local = local
        self._block = block
        self._reserved = 0
        """Messages the hub counts as pending for this process."""
        self._in_use = 0
        """Of those, messages being written now."""

    @property
    def pending(self) -> int:
        return self._local.pending

    async def start(self) -> None:
        await self._client.start()
        await self._local.start()

    async def stop(self) -> None:
        await self._local.stop()  # commits what it holds, then the hub hears of it
        await self._client.stop()

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        count = len(messages)
        if not self._block:
            await self._ask(
                ADMIT,
                orjson.dumps(Counter(m.inlet_id for m in messages)),
                functools.partial(self._release_admitted, count),  # admitted all the same
            )
            try:
                return await self._local.write(messages)
            finally:
                self._client.release(count)
        await self._reserve(count)
        self._in_use += count
        try:
            return await self._local.write(messages)
        finally:
            self._in_use -= count
            self._give_back()

    def _give_back(self, *_: object) -> None:
        """Release what the reservation holds beyond two blocks more than is in use."""
        surplus = self._reserved - self._in_use - 2 * self._block
        if surplus > 0:
            self._reserved -= surplus
            self._client.release(surplus)

    async def _reserve(self, count: int) -> None:
        """Have at least ``count`` messages of the reservation free, asking the hub for more
        (a block, or what is left of the backlog if that is less but enough). A grant that
        comes to a write cancelled meanwhile is counted (the hub counts it) and given back."""
        while self._in_use + count > self._reserved:
            needed = self._in_use + count - self._reserved
            packed = _RESERVE.pack(needed, max(needed, self._block))
            await self._ask(RESERVE, packed, self._give_back, answered=self._granted)

    async def _ask(
        self,
        kind: int,
        body: bytes,
        abandoned: Callable[[asyncio.Future[bytes]], object],
        *,
        answered: Callable[[asyncio.Future[bytes]], object] | None = None,
    ) -> bytes:
        """The hub's answer. A write cancelled meanwhile leaves the question to be answered
        all the same (the hub counts what it grants), and ``abandoned`` then gives it back;
        ``answered`` runs first, whether the write still waits or not."""
        asking = asyncio.ensure_future(self._client.ask(kind, body))
        if answered is not None:
            asking.add_done_callback(answered)
        try:
            return await asyncio.shield(asking)
        except asyncio.CancelledError:
            asking.add_done_callback(abandoned)
            raise

    def _release_admitted(self, count: int, asking: asyncio.Future[bytes]) -> None:
        if _answered(asking):
            self._client.release(count)

    def _granted(self, asking: asyncio.Future[bytes]) -> None:
        if _answered(asking):
            (granted,) = _COUNT.unpack(asking.result())
            self._reserved += granted


def _answered(asking: asyncio.Future[bytes]) -> bool:
    """Whether the hub answered a request (it was neither cancelled nor failed)."""
    return not asking.cancelled() and asking.exception() is None


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
        """Safe from any thread (the writer's commit listener calls it)."""
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
    """Serves HTTP processes: admits their writes (``admit``), counting what is pending in
    all of them, wakes the journey engine, keeps the demo webhook's calls."""

    def __init__(
        self, admit: Admit, wake: Callable[[], None], inbox: DemoInbox, max_pending: int
    ) -> None:
        """``max_pending``: the backlog limit ``admit`` counts, which reservations count
        against too."""
        self._admit = admit
        self._max_pending = max_pending
        self._wake = wake
        self._inbox = inbox
        self._pending = 0

    @property
    def pending(self) -> int:
        """Messages admitted and not yet committed or failed, in every HTTP process."""
        return self._pending

    async def serve(self, sock: socket.socket) -> None:
        """Answer one HTTP process until it goes away."""
        reader, writer = await asyncio.open_connection(sock=sock)
        frames = _Frames(writer)
        tasks: set[asyncio.Task[None]] = set()
        held = 0  # this process's share of the pending messages
        try:
            while True:
                kind, request_id, size = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                body = await reader.readexactly(size)
                if kind == ADMIT:  # answered at once: the hot path, no task
                    count = self._admit_write(frames, request_id, body)
                    held += count
                    self._pending += count
                elif kind == RESERVE:
                    count = self._reserve(frames, request_id, body)
                    held += count
                    self._pending += count
                elif kind == RELEASE:
                    (count,) = _COUNT.unpack(body)
                    count = min(count, held)
                    held -= count
                    self._pending -= count
                elif kind == WAKE:
                    self._wake()
                else:
                    task = asyncio.create_task(self._answer(frames, kind, request_id, body))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the HTTP process ended: nothing of it is pending any more
        finally:
            self._pending -= held
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            frames.close()

    def _admit_write(self, frames: _Frames, request_id: int, body: bytes) -> int:
        """Admit a write or refuse it; how many messages are now pending for it."""
        counts: dict[str, int] = orjson.loads(body)
        try:
            self._admit(self._pending, counts)
        except (OverloadedError, RateLimitedError) as exc:
            frames.send(FAILED, request_id, orjson.dumps(_failure(exc)))
            return 0
        frames.send(DONE, request_id)
        return sum(counts.values())

    def _reserve(self, frames: _Frames, request_id: int, body: bytes) -> int:
        """Grant what a reservation would like, or as much of it as the backlog leaves if
        that covers what it needs; refuse it otherwise. How many messages are granted."""
        needed, wanted = cast(tuple[int, int], _RESERVE.unpack(body))
        granted = min(wanted, self._max_pending - self._pending)
        if granted < needed:
            failure = OverloadedError(OVERLOADED, retry_after=1)
            frames.send(FAILED, request_id, orjson.dumps(_failure(failure)))
            return 0
        frames.send(DONE, request_id, _COUNT.pack(granted))
        return granted

    async def _answer(self, frames: _Frames, kind: int, request_id: int, body: bytes) -> None:
        try:
            frames.send(DONE, request_id, await self._handle(kind, body))
        except Exception as exc:  # every failure goes back to the request that caused it
            log.exception("the hub failed a request")
            frames.send(FAILED, request_id, orjson.dumps(_failure(exc)))

    async def _handle(self, kind: int, body: bytes) -> bytes:
        if kind == INBOX_ADD:
            return orjson.dumps(await self._inbox.add(orjson.loads(body)))
        if kind == INBOX_LIST:
            return orjson.dumps(await self._inbox.recent())
        raise ValueError(f"unknown request kind {kind}")


def admit_all(max_pending: int, take: Callable[[str, int], None]) -> Admit:
    """What the hub admits: no more than ``max_pending`` messages pending in all processes,
    each inlet within its rate (``take`` spends an inlet's tokens or raises)."""

    def admit(pending: int, counts: Mapping[str, int]) -> None:
        if pending + sum(counts.values()) > max_pending:
            raise OverloadedError(OVERLOADED, retry_after=1)
        for inlet_id, count in counts.items():
            take(inlet_id, count)

    return admit


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
