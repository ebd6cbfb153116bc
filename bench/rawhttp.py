"""A minimal keep-alive HTTP/1.1 client on asyncio streams, for the journeys benchmark.

The journeys benchmark drives the server from the benchmark's own Python process, which shares
the two cores with the server. httpx costs several times more CPU per request than this,
which would be taken from the server; a request here is one ``write`` of prebuilt bytes and a
``Content-Length`` read. It only talks to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib


class HttpConnection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        if host != "127.0.0.1":
            raise ValueError(f"the benchmark only targets 127.0.0.1, not {host}")
        self.host = host
        self.port = port
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def open(self) -> HttpConnection:
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=1 << 22
        )
        return self

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = self._reader = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request; the status and the body of the answer. A ``GET`` on a
        connection the server closed while idle (keep-alive timeout) is sent again once on
        a new one."""
        try:
            return await self._request(method, path, body)
        except (OSError, asyncio.IncompleteReadError):
            await self.close()
            if method != "GET":
                raise
        except BaseException:  # cancelled mid-request: the answer would be read by the next
            self._drop()
            raise
        return await self._request(method, path, body)

    def _drop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._writer = self._reader = None

    async def _request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            await self.open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(
            f"{method} {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n".encode()
            + self._fixed
            + b"content-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                if size == 0:
                    await self._reader.readuntil(b"\r\n")
                    break
                parts.append(await self._reader.readexactly(size))
                await self._reader.readexactly(2)
            return status, b"".join(parts)
        return status, (await self._reader.readexactly(length)) if length else b""
