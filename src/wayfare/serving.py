"""``wayfare serve``: the HTTP server in one process, or in N (``--workers N``) that share
one port, each on a listening socket of its own.

With N, the process started by ``serve`` binds the sockets and starts the HTTP processes
(``wayfare http-process``), starting each again if it dies. Embedded, it also runs the
journey engine and the hub (hub/writer.py): the HTTP processes parse, validate and commit
what they accept themselves, once the hub has admitted it (one backlog and one rate limit
per inlet for all of them). In scale-out each HTTP process is a whole stateless server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import uvicorn
import uvloop

from wayfare.api.app import create_app
from wayfare.api.http_protocol import http_protocol
from wayfare.bootstrap import Services, build, build_http_process, deployment, writer_hub
from wayfare.config import Settings, dump_settings, read_settings
from wayfare.console.routes import console_routes
from wayfare.errors import InvalidRequestError
from wayfare.hub.children import ChildProcess, Start
from wayfare.hub.writer import WriterHub, socket_pair
from wayfare.observability.logs import configure_logging

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 30.0


def _app(services: Services) -> Any:
    """The server's app: the API, and the console at ``/``."""
    return create_app(services, console_routes(services))


def run(settings: Settings, services: Services, listening: list[socket.socket]) -> None:
    """Serve on ``listening`` (from ``bind``) until SIGINT or SIGTERM."""
    if settings.http_processes <= 1:
        uvicorn.Server(uvicorn.Config(_app(services), **uvicorn_options(settings))).run(
            sockets=listening
        )
    else:
        uvloop.run(_run_processes(settings, services, listening))


def listening_line(settings: Settings) -> str:
    """What ``serve`` prints once its socket listens: the one line that says where."""
    processes = settings.http_processes
    noun = "process" if processes == 1 else "processes"
    return (
        f"Wayfare is listening on {settings.base_url} ({processes} HTTP {noun}, pid {os.getpid()})"
    )


def bind(settings: Settings) -> list[socket.socket]:
    """The listening sockets, one for each HTTP process, bound before anything is printed: a
    busy port fails here. With more than one they share the port (``SO_REUSEPORT``), so the
    kernel spreads new connections evenly over the processes; on one shared socket, the
    process that wakes first accepts most of a burst of them and keeps them."""
    count = max(1, settings.http_processes)
    _check_free(settings)
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(_listen(settings, shared=count > 1))
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise _busy(settings, exc) from exc
    return sockets


def _check_free(settings: Settings) -> None:
    """Fail when another server holds the port, even one that shares it the same way (which
    the sockets of ``bind`` would silently join)."""
    try:
        with _socket(settings) as probe:
            probe.bind((settings.host, settings.port))
    except OSError as exc:
        raise _busy(settings, exc) from exc


def _listen(settings: Settings, *, shared: bool) -> socket.socket:
    sock = _socket(settings)
    try:
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((settings.host, settings.port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _socket(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _busy(settings: Settings, exc: OSError) -> InvalidRequestError:
    return InvalidRequestError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}")


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "loop": "uvloop",
        "http": http_protocol(settings),  # httptools, with header and body deadlines
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": False,  # client addresses are not used; skip the middleware
        "lifespan": "on",
    }


async def _run_processes(
    settings: Settings, services: Services, listening: list[socket.socket]
) -> None:
    embedded = deployment(settings).sqlite is not None
    hub: WriterHub | None = None
    if embedded:
        await services.start()  # the journey engine
        hub = writer_hub(services)
    serving: set[asyncio.Task[None]] = set()

    def prepare(listen: int) -> Start:
        """What a start of the HTTP process that listens on ``listen`` gets (the same socket
        every time: connections the kernel gave it wait there while it starts again)."""
        greeting: dict[str, Any] = {"settings": dump_settings(settings), "listen": listen}
        if hub is None:
            return Start(orjson.dumps(greeting), pass_fds=(listen,))
        ours, theirs = socket_pair()
        task = asyncio.create_task(hub.serve(ours))
        serving.add(task)
        task.add_done_callback(serving.discard)
        greeting["hub"] = theirs.fileno()
        return Start(
            orjson.dumps(greeting),
            pass_fds=(listen, theirs.fileno()),
            closers=(theirs.close,),
        )

    children = [
        ChildProcess(
            [sys.executable, "-m", "wayfare", "http-process"],
            name=f"HTTP process {number}",
            prepare=functools.partial(prepare, sock.fileno()),
        )
        for number, sock in enumerate(listening, 1)
    ]
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        for child in children:
            await child.start()
        await stopping.wait()
    finally:
        # The HTTP processes end their requests, committing the last, before the engine stops.
        await asyncio.gather(*(child.stop(STOP_GRACE_SECONDS) for child in children))
        if serving:
            await asyncio.gather(*serving, return_exceptions=True)
        if embedded:
            await services.stop()
        else:
            for close in services.engine.closers:
                close()
        for sock in listening:
            sock.close()


# an HTTP process
def run_http_process(greeting: bytes) -> None:
    """One HTTP process of ``serve --workers N``, as its greeting says; it stops when its
    stdin closes (or on SIGTERM), after its requests in flight."""
    told = orjson.loads(greeting)
    settings = read_settings(told["settings"])
    configure_logging(settings.log_level, settings.log_format)
    listening = socket.socket(fileno=told["listen"])
    hub = told.get("hub")
    services = (
        build(settings) if hub is None else build_http_process(settings, socket.socket(fileno=hub))
    )
    server = _Server(uvicorn.Config(_app(services), **uvicorn_options(settings)))
    uvloop.run(_serve_until_told(server, listening))


async def _serve_until_told(server: uvicorn.Server, listening: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def stop() -> None:
        server.should_exit = True

    async def watch_stdin() -> None:
        while await reader.readline():
            pass
        stop()

    loop.add_signal_handler(signal.SIGTERM, stop)
    watching = asyncio.create_task(watch_stdin())
    try:
        await server.serve(sockets=[listening])
    finally:
        watching.cancel()


class _Server(uvicorn.Server):
    """Stops when told (stdin, SIGTERM): Ctrl-C reaches the whole process group, and the
    process that started it stops the HTTP processes in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
