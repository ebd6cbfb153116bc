"""The HTTP/1.1 protocol ``wayfare serve`` runs: uvicorn's httptools protocol, with deadlines
and a bound on the request head.

uvicorn's keep-alive timeout covers only idle time after an answer and is cancelled by the
next byte, and it has no header or body timeout, so a client trickling a request holds its
connection, and what was buffered for it, for as long as it likes. Here:

- a request's line and headers must arrive within ``header_timeout`` of the connection being
  ready for them (opened, or done with the previous answer), and be at most
  ``max_head_bytes``; else 408 (or 431) and the connection is closed. A connection on which
  no request began is closed without an answer;
- a request's body must arrive within ``body_timeout`` of its headers; else 408 when no
  answer was started, and the connection is closed. The application then sees the client
  as gone.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from wayfare.api.problems import problem
from wayfare.config import Settings
from wayfare.errors import ClientError, HeadersTooLargeError, RequestTimeoutError


class _BoundedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: float
    body_timeout: float
    max_head_bytes: int

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # the bytes arriving are a request's line and headers
        self._head_began = False
        self._head_bytes = 0
        self._heads = 0  # heads completed on this connection
        self._in_body = False
        self._arm(self.header_timeout, self._head_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        counting, heads = self._in_head, self._heads
        super().data_received(data)
        if counting and self._in_head and self._heads == heads:  # all of it was head
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
                self._refuse(
                    HeadersTooLargeError(
                        f"The request line and headers are over {self.max_head_bytes} bytes"
                    )
                )

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the connection is another protocol's now
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_began = True

    def on_headers_complete(self) -> None:
        self._in_head, self._head_began, self._head_bytes = False, False, 0
        self._heads += 1
        self._in_body = True
        self._arm(self.body_timeout, self._body_late)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._in_body = True, False
        self._disarm()
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and not self.pipeline:
            # answered before the body ended: now the connection waits for the next request
            self._arm(self.header_timeout, self._head_late)

    def on_response_complete(self) -> None:
        queued = bool(self.pipeline)
        super().on_response_complete()
        if not queued and not self._in_body and not self.transport.is_closing():
            self._arm(self.header_timeout, self._head_late)

    def _arm(self, seconds: float, late: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if not self._head_began:  # idle: close as keep-alive would
            self.transport.close()
            return
        self._refuse(
            RequestTimeoutError(
                f"The request's headers did not arrive within {self.header_timeout:g} s"
            )
        )

    def _body_late(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if self.transport.is_closing():
            return
        if cycle is None:
            self.transport.close()
            return
        if cycle.response_started:
            if cycle.response_complete:
                self.transport.close()
            else:
                cycle.keep_alive = False  # close once the answer is out
            return
        cycle.disconnected = True  # the application's receive() now says so
        cycle.message_event.set()
        self._refuse(
            RequestTimeoutError(f"The request's body did not arrive within {self.body_timeout:g} s")
        )

    def _refuse(self, error: ClientError) -> None:
        """Answer ``error`` (as every problem is answered) and close the connection."""
        status, headers, content = problem(error)
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
        head += [name + b": " + value + b"\r\n" for name, value in headers]
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(content))
        self.transport.write(b"".join(head) + content)
        self.transport.close()
        self._disarm()


def http_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with the settings' limits."""

    class BoundedHttpToolsProtocol(_BoundedHttpToolsProtocol):
        header_timeout = settings.header_timeout_seconds
        body_timeout = settings.body_timeout_seconds
        max_head_bytes = settings.max_header_bytes

    return BoundedHttpToolsProtocol
