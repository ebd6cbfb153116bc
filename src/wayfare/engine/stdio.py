"""A child process's end of the line pipes the server talks to it over (the journey engine,
the action courier): one JSON document per line each way."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

LINE_LIMIT = 64 * 1024 * 1024


class _Output(asyncio.Protocol):
    """stdout: ``gone`` resolves once everything written has left (or the pipe broke)."""

    def __init__(self) -> None:
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.gone.done():
            self.gone.set_result(None)


@dataclass
class Stdio:
    reader: asyncio.StreamReader
    writer: asyncio.WriteTransport
    _output: _Output

    async def close(self) -> None:
        """Close stdout once the lines still buffered have reached the parent."""
        self.writer.close()
        await self._output.gone


async def open_stdio() -> Stdio:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, output = await loop.connect_write_pipe(_Output, sys.stdout)
    return Stdio(reader, transport, output)
