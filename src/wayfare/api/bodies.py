"""Request bodies, read under the process's limits (the inlet's and the admin API's).

- A body over its limit is refused with 413: from ``Content-Length`` before it is read, or
  as it arrives when it is chunked.
- The bytes of bodies being read and handled at once are capped for the whole process
  (``BytesInFlight``): a request that would pass the cap gets 503 with ``Retry-After``
  before its body is read (a chunked one as soon as it would), so that many large requests
  at once wait at their clients instead of in memory.
- An answer sent before the body was read whole (an error) first reads and throws away up
  to ``max_discard_bytes`` of the rest, so that clients which write their whole body
  before reading (Python's urllib, for one) see the answer rather than a reset
  connection. A body longer still is not read: the answer closes the connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from wayfare.api.problems import problem
from wayfare.errors import InvalidRequestError, OverloadedError, PayloadTooLargeError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

_CLOSE = (b"connection", b"close")


class BytesInFlight:
    """Bytes of request bodies this process holds at once, up to ``limit``.

    A request is let in when it fits, or when nothing else is held (so that a limit
    below the largest request slows requests down but never refuses one for good)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self.held = 0

    def take(self, count: int) -> None:
        if self.held and self.held + count > self._limit:
            raise OverloadedError(
                "The server is reading as many request bodies as it takes at once; retry shortly",
                retry_after=1,
            )
        self.held += count

    def give_back(self, count: int) -> None:
        self.held -= count


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """What the bodies of one kind of request may be, and the process's shared cap."""

    max_bytes: int
    """Over this, 413."""
    in_flight: BytesInFlight
    """The bytes every request of the process holds at once."""
    max_discard_bytes: int
    """How much of a body refused unread is read and dropped before the answer."""


def content_length(scope: Scope) -> int:
    """The request's ``Content-Length``, or -1 when it has none (chunked) or a bad one."""
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else -1
    return -1


class RequestBody:
    """One request's body, read through the ASGI ``receive`` it came with."""

    __slots__ = ("_held", "_limits", "_receive", "complete", "declared")

    def __init__(self, receive: Receive, limits: BodyLimits) -> None:
        self._receive = receive
        self._limits = limits
        self._held = 0
        self.declared = -1
        """The Content-Length, once ``admit`` was told it (-1: none, chunked)."""
        self.complete = False
        """Whether the last of the body was received (read or thrown away)."""

    def admit(self, declared: int) -> None:
        """Refuse before reading: 413 over the limit, 503 when the process holds too much."""
        self.declared = declared
        if declared > self._limits.max_bytes:
            raise self._too_large()
        if declared > 0:
            self._hold(declared)

    async def receive(self) -> dict[str, Any]:
        """The next ASGI event, counted against the limits (a chunked body as it arrives)."""
        event = await self._receive()
        if event["type"] != "http.request":
            return event
        if not event.get("more_body", False):
            self.complete = True
        size = len(event.get("body", b""))
        if self.declared < 0 and size:
            if self._held + size > self._limits.max_bytes:
                raise self._too_large()
            self._hold(size)
        return event

    async def read(self) -> bytes:
        """The whole body; InvalidRequestError when the client goes away first."""
        chunks: list[bytes] = []
        while True:
            event = await self.receive()
            if event["type"] == "http.disconnect":
                raise InvalidRequestError("The client went away before sending the whole body")
            chunks.append(event.get("body", b""))
            if self.complete:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def release(self) -> None:
        """Give back what this body held of the process's bytes in flight."""
        self._limits.in_flight.give_back(self._held)
        self._held = 0

    async def discard(self) -> None:
        """Read and drop the rest of the body, up to ``max_discard_bytes``; not at all when
        its declared length is over that (the connection is closed after the answer)."""
        bound = self._limits.max_discard_bytes
        if self.declared > bound:
            return
        dropped = 0
        while not self.complete and dropped <= bound:
            event = await self._receive()
            if event["type"] != "http.request":
                return
            dropped += len(event.get("body", b""))
            if not event.get("more_body", False):
                self.complete = True

    def _hold(self, count: int) -> None:
        self._limits.in_flight.take(count)
        self._held += count

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"The request is over {self._limits.max_bytes} bytes")

    async def before_answer(self, headers: Headers) -> Headers:
        """The answer's headers, once the rest of an unread body was dropped (up to the
        bound): with ``connection: close`` when even that did not reach its end."""
        if self.complete:
            return headers
        self.release()
        await self.discard()
        return headers if self.complete else [*headers, _CLOSE]


async def send_problem(send: Send, error: Exception, body: RequestBody) -> None:
    """The problem answer for ``error``, readable by any client (see the module's doc)."""
    status, headers, content = problem(error)
    headers = await body.before_answer(headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


class AdminBodyLimits:
    """ASGI middleware for the admin app: bodies of at most ``max_bytes``, counted in the
    process's bytes in flight, and error answers readable by any client (above)."""

    def __init__(self, app: Any, limits: BodyLimits) -> None:
        self._app = app
        self._limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        body = RequestBody(receive, self._limits)
        try:
            try:
                body.admit(content_length(scope))
            except (PayloadTooLargeError, OverloadedError) as exc:
                await send_problem(send, exc, body)
                return

            async def send_after_body(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start" and not body.complete:
                    headers = await body.before_answer(list(message.get("headers", [])))
                    message = {**message, "headers": headers}
                await send(message)

            await self._app(scope, body.receive, send_after_body)
        finally:
            body.release()
