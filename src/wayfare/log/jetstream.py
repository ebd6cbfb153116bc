"""The event log's JetStream stream: settings, the connection, and the stream's setup.

One stream per deployment, named by ``prefix`` (default ``wayfare``), with one subject per
partition, ``<prefix>.msgs.<partition>``, listed one by one: the list is the partition count,
fixed when the stream is created. File storage, limits retention with no limit at all (only
``acknowledge`` purges, and only what a worker committed), a duplicate window for
``Nats-Msg-Id``, direct get for reading an original message by its sequence.

``prepare_stream`` is the one place that creates the stream or checks it; ``check_log`` (for
``wayfare doctor``) connects, checks without creating, and raises LogError with one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext, api

from wayfare.errors import LogError

log = logging.getLogger(__name__)

_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_DRIVER_ERRORS = (nats.errors.Error, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class NatsSettings:
    """Where the event log lives and how long to wait for it."""

    url: str = "nats://127.0.0.1:4222"
    """``nats://host:port``; several servers of one cluster comma-separated."""
    prefix: str = "wayfare"
    """The stream's name and its subjects' first token: letters, digits, ``-`` and ``_``."""
    partitions: int = 16
    """Partitions of a stream this creates; a stream that exists must have as many."""
    replicas: int = 1
    """Copies of a stream this creates: 1 on a single server, 3 in a cluster."""
    duplicate_window: float = 600.0
    """Seconds JetStream remembers a ``Nats-Msg-Id`` (beyond: the ``known`` lookup)."""
    timeout: float = 5.0
    """Seconds a write, a read or a setup call waits for NATS before a LogError."""
    reconnect_wait: float = 0.5
    """Seconds between attempts to reconnect; the client never stops trying."""
    heartbeat: float = 1.0
    """Idle heartbeat of a reader's consumer; three missed ones and it is re-created."""
    buffer: int = 2_000
    """Messages a reader holds per partition ahead of reads (flow control holds the rest)."""

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.url.split(",") if s.strip()]

    @property
    def stream(self) -> str:
        return self.prefix

    def subject(self, partition: int) -> str:
        return f"{self.prefix}.msgs.{partition}"

    def subjects(self, partitions: int) -> list[str]:
        return [self.subject(p) for p in range(partitions)]


@contextlib.contextmanager
def log_errors(doing: str) -> Iterator[None]:
    """NATS client errors (and timeouts) as LogError, saying what was being done."""
    try:
        yield
    except LogError:
        raise
    except _DRIVER_ERRORS as exc:
        detail = str(exc) or type(exc).__name__
        raise LogError(f"NATS failed {doing}: {detail}") from exc


async def connect(
    settings: NatsSettings, reconnected: Callable[[], Awaitable[None]] | None = None
) -> Client:
    """A client that keeps reconnecting once connected (``reconnected`` is awaited after
    each reconnection); LogError when no server answers within ``settings.timeout``."""
    if not settings.servers:
        raise LogError("no NATS server given (expected nats://host:port)")
    if not _PREFIX.match(settings.prefix):
        raise LogError(f"the NATS prefix {settings.prefix!r} is not letters, digits, - and _")

    async def error(exc: Exception) -> None:
        log.warning("NATS: %s", exc or type(exc).__name__)

    async def disconnected() -> None:
        if not client.is_closed:
            log.warning("NATS: disconnected, reconnecting")

    async def on_reconnect() -> None:
        log.warning("NATS: reconnected to %s", client.connected_url)
        if reconnected is not None:
            await reconnected()

    client = Client()
    try:
        await asyncio.wait_for(
            client.connect(
                settings.servers,
                error_cb=error,
                disconnected_cb=disconnected,
                reconnected_cb=on_reconnect,
                name="wayfare",
                connect_timeout=max(1, round(settings.timeout)),
                reconnect_time_wait=settings.reconnect_wait,  # type: ignore[arg-type]
                max_reconnect_attempts=-1,
                # Nothing is buffered while disconnected: a publish then fails at once, and
                # what a write was refused for is never stored behind its back later.
                pending_size=0,
            ),
            settings.timeout,
        )
    except _DRIVER_ERRORS as exc:
        await client.close()
        raise LogError(
            f"NATS at {settings.url} cannot be reached: {exc or type(exc).__name__}"
        ) from exc
    return client


def stream_config(settings: NatsSettings) -> api.StreamConfig:
    return api.StreamConfig(
        name=settings.stream,
        description=f"Wayfare event log: {settings.partitions} partitions",
        subjects=settings.subjects(settings.partitions),
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        max_msgs=-1,
        max_bytes=-1,
        max_age=0,
        max_msgs_per_subject=-1,
        discard=api.DiscardPolicy.NEW,
        duplicate_window=settings.duplicate_window,
        num_replicas=settings.replicas,
        allow_direct=True,
    )


def stream_problems(settings: NatsSettings, config: api.StreamConfig) -> list[str]:
    """What keeps an existing stream from serving as this event log, in words."""
    problems = []
    subjects = config.subjects or []
    partitions = len(subjects)
    if subjects != settings.subjects(partitions):
        problems.append(f"its subjects are not {settings.prefix}.msgs.0 .. N-1: {subjects}")
    elif partitions != settings.partitions:
        problems.append(
            f"it has {partitions} partitions, not {settings.partitions} "
            "(partitions are fixed when the stream is created)"
        )
    if config.retention != api.RetentionPolicy.LIMITS:
        problems.append(f"its retention is {config.retention}, not limits")
    if config.storage != api.StorageType.FILE:
        problems.append(f"its storage is {config.storage}, not file")
    limits = {
        "max_msgs": config.max_msgs,
        "max_bytes": config.max_bytes,
        "max_msgs_per_subject": config.max_msgs_per_subject,
    }
    for name, value in limits.items():
        if value not in (None, -1):
            problems.append(f"{name} is {value}: it would drop what no worker committed")
    if config.max_age:
        problems.append(f"max_age is {config.max_age}s: it would drop what no worker committed")
    if config.duplicate_window != settings.duplicate_window:
        problems.append(
            f"its duplicate window is {config.duplicate_window}s, not {settings.duplicate_window}s"
        )
    if config.sealed or config.deny_purge:
        problems.append("it is sealed or denies purges")
    return problems


async def prepare_stream(
    js: JetStreamContext, settings: NatsSettings, *, create: bool = True
) -> api.StreamConfig:
    """The stream's configuration, after creating it if it is missing (and ``create``).
    LogError, in one line, when it is missing or does not fit the settings; an existing
    stream is never changed."""
    with log_errors(f"looking up the stream {settings.stream!r}"):
        try:
            info = await js.stream_info(settings.stream)
        except nats.js.errors.NotFoundError:
            if not create:
                raise LogError(f"the NATS stream {settings.stream!r} does not exist") from None
            try:
                info = await js.add_stream(stream_config(settings))
            except nats.js.errors.BadRequestError as exc:
                raise LogError(
                    f"NATS refused to create the stream {settings.stream!r}: {exc.description}"
                ) from exc
            log.info("created the NATS stream %r", settings.stream)
    problems = stream_problems(settings, info.config)
    if problems:
        raise LogError(
            f"the NATS stream {settings.stream!r} does not fit the event log: "
            + "; ".join(problems)
        )
    return info.config


async def check_log(settings: NatsSettings) -> api.StreamConfig:
    """Connect, check the stream without creating or changing it, disconnect. LogError, in
    one line, for what is wrong (unreachable, missing, not fit for the event log)."""
    client = await connect(settings)
    try:
        return await prepare_stream(
            client.jetstream(timeout=settings.timeout), settings, create=False
        )
    finally:
        await client.close()
