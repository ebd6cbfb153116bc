"""Every contract suite runs once per adapter, through the ``backend`` fixture (stores and
their writers) or the ``log_backend`` fixture (event logs and the writers that append to them).

To put another adapter under contract, write a builder like the ones below and add it to
``BACKENDS`` or ``LOG_BACKENDS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import orjson
import pytest

from tests.conftest import in_threads
from tests.contract.postgres_writer import PostgresWriter
from tests.nats_support import delete_stream, machine_nats, unique_prefix
from wayfare.errors import Violation
from wayfare.log.embedded import EmbeddedLog
from wayfare.log.jetstream import NatsSettings
from wayfare.log.memory import MemoryLog, MemoryLogWriter
from wayfare.log.nats import NatsEventLog, NatsWriter
from wayfare.log.ports import EventLog
from wayfare.model.matching import EventMatch
from wayfare.model.records import IncomingMessage, WriteOutcome
from wayfare.model.resources import Schema
from wayfare.model.runs import EngineBatch
from wayfare.model.schema import SchemaDefinition, build_json_schema
from wayfare.store.memory import MemoryStore, MemoryWriter
from wayfare.store.memory_audiences import MemoryAudienceStore
from wayfare.store.memory_identities import MemoryIdentityGraph
from wayfare.store.memory_journeys import MemoryJourneyStore
from wayfare.store.memory_profiles import MemoryProfileStore
from wayfare.store.ports import (
    AudienceStore,
    IdentityGraph,
    JourneyStore,
    MessageWriter,
    ProfileStore,
    ResourceStore,
)
from wayfare.store.postgres.audiences import PostgresAudienceStore
from wayfare.store.postgres.connection import open_pool
from wayfare.store.postgres.identities import PostgresIdentityGraph
from wayfare.store.postgres.journeys import PostgresJourneyStore
from wayfare.store.postgres.profiles import PostgresProfileStore
from wayfare.store.postgres.resources import PostgresStore
from wayfare.store.sqlite.audiences import SQLiteAudienceStore
from wayfare.store.sqlite.connection import migrate
from wayfare.store.sqlite.identities import SQLiteIdentityGraph
from wayfare.store.sqlite.journeys import SQLiteJourneyStore
from wayfare.store.sqlite.profiles import SQLiteProfileStore
from wayfare.store.sqlite.resources import SQLiteStore
from wayfare.store.sqlite.writer import SQLiteWriter

T = TypeVar("T")

ORG = "ACME@AdobeOrg"
OTHER_ORG = "OTHER@AdobeOrg"
T0 = 1_700_000_000_000


A = TypeVar("A")


def closed_later(closers: list[Callable[[], None]], adapter: A) -> A:
    """``adapter``, its ``close`` (if it has one) added to ``closers``."""
    close = getattr(adapter, "close", None)
    if close is not None:
        closers.append(close)
    return adapter


@dataclass
class Backend:
    """One adapter family: a store and writers over the same data."""

    name: str
    store: ResourceStore
    _new_writer: Callable[[], MessageWriter]
    _reopen: Callable[[], ResourceStore]
    _journeys: Callable[[], JourneyStore]
    _graph: Callable[[], IdentityGraph]
    _profiles: Callable[[], ProfileStore]
    _writers: list[MessageWriter] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _audiences: Callable[[], AudienceStore] | None = None

    def new_writer(self) -> MessageWriter:
        writer = self._new_writer()
        self._writers.append(writer)
        return writer

    def reopen_store(self) -> ResourceStore:
        """A store opened afresh over the same data (the same object when nothing persists)."""
        store = self._reopen()
        if store is not self.store:
            self._closers.append(store.close)
        return store

    def open_journeys(self) -> JourneyStore:
        """A journey store over the same data: each call another connection where the
        backend has connections (as a server and its journey engines each open their own)."""
        return closed_later(self._closers, self._journeys())

    def open_identity_graph(self) -> IdentityGraph:
        """The identity graph over the same data, that journey stores' commits link in."""
        return closed_later(self._closers, self._graph())

    def open_profiles(self) -> ProfileStore:
        """The profile fragments over the same data, that journey stores' commits update
        and their audience checks read."""
        return closed_later(self._closers, self._profiles())

    def open_audiences(self) -> AudienceStore:
        """Audiences over the same data, whose memberships commits' audience checks keep."""
        assert self._audiences is not None
        return closed_later(self._closers, self._audiences())

    def close(self) -> None:
        async def stop_all() -> None:
            for writer in self._writers:
                await writer.stop()

        asyncio.run(stop_all())
        for close in [*self._closers, self.store.close]:
            close()


def commit_from_two_connections(
    backend: Backend, batches: Callable[[int], Iterator[EngineBatch]]
) -> None:
    """Commit ``batches(0)`` and ``batches(1)`` on two journey stores at once, each on a
    thread of its own (memory stores, used from one thread, one after the other)."""
    if backend.name == "memory":
        journeys = backend.open_journeys()
        for n in (0, 1):
            for batch in batches(n):
                journeys.commit(batch)
        return
    stores = [backend.open_journeys() for _ in range(2)]

    def commit(n: int) -> None:
        for batch in batches(n):
            stores[n].commit(batch)

    in_threads(2, commit)


def memory_backend(request: pytest.FixtureRequest) -> Backend:
    store = MemoryStore()
    journeys = MemoryJourneyStore(store)
    return Backend(
        "memory",
        store,
        lambda: MemoryWriter(store),
        lambda: store,
        lambda: journeys,
        lambda: journeys.identities,
        lambda: journeys.profiles,
        _audiences=lambda: journeys.audiences,
    )


def sqlite_backend(request: pytest.FixtureRequest) -> Backend:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    path = tmp_path / "wayfare.sqlite3"
    migrate(path)
    return Backend(
        "sqlite",
        SQLiteStore(path, fsync=False),
        lambda: SQLiteWriter(path, fsync=False),
        lambda: SQLiteStore(path, fsync=False),
        lambda: SQLiteJourneyStore(path, fsync=False),
        lambda: SQLiteIdentityGraph(path, fsync=False),
        lambda: SQLiteProfileStore(path, fsync=False),
        _audiences=lambda: SQLiteAudienceStore(path, fsync=False),
    )


def postgres_backend(request: pytest.FixtureRequest) -> Backend:
    url: str = request.getfixturevalue("pg_database")  # the session's, emptied
    pool = open_pool(url, max_size=2)
    return Backend(
        "postgres",
        PostgresStore(pool),
        lambda: PostgresWriter(pool),
        lambda: PostgresStore(open_pool(url, max_size=1)),
        lambda: PostgresJourneyStore(open_pool(url, max_size=2)),
        lambda: PostgresIdentityGraph(open_pool(url, max_size=1)),
        lambda: PostgresProfileStore(open_pool(url, max_size=1)),
        _audiences=lambda: PostgresAudienceStore(open_pool(url, max_size=1)),
    )


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Backend]] = {
    "memory": memory_backend,
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
}


class Closable(Protocol):
    def close(self) -> None: ...


B = TypeVar("B", bound=Closable)


def built(
    builders: dict[str, Callable[[pytest.FixtureRequest], B]], request: pytest.FixtureRequest
) -> Iterator[B]:
    """The adapter the fixture's parameter names, closed after the test."""
    adapter = builders[request.param](request)
    try:
        yield adapter
    finally:
        adapter.close()


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from built(BACKENDS, request)


@dataclass
class ProfileBackend:
    """One profile store adapter, and more stores over the same data."""

    name: str
    store: ProfileStore
    _open: Callable[[], ProfileStore]
    _opened: list[ProfileStore] = field(default_factory=list)

    def open_another(self) -> ProfileStore:
        """Another store over the same data: another connection where the backend has
        connections (the same object in memory)."""
        store = self._open()
        if store is not self.store:
            self._opened.append(store)
        return store

    def close(self) -> None:
        for store in [*self._opened, self.store]:
            store.close()


def memory_profile_backend(request: pytest.FixtureRequest) -> ProfileBackend:
    store = MemoryProfileStore()
    return ProfileBackend("memory", store, lambda: store)


def sqlite_profile_backend(request: pytest.FixtureRequest) -> ProfileBackend:
    path = request.getfixturevalue("tmp_path") / "wayfare.sqlite3"
    migrate(path)
    return ProfileBackend(
        "sqlite",
        SQLiteProfileStore(path, fsync=False),
        lambda: SQLiteProfileStore(path, fsync=False),
    )


def postgres_profile_backend(request: pytest.FixtureRequest) -> ProfileBackend:
    url: str = request.getfixturevalue("pg_database")
    return ProfileBackend(
        "postgres",
        PostgresProfileStore(open_pool(url, max_size=2)),
        lambda: PostgresProfileStore(open_pool(url, max_size=2)),
    )


PROFILE_BACKENDS: dict[str, Callable[[pytest.FixtureRequest], ProfileBackend]] = {
    "memory": memory_profile_backend,
    "sqlite": sqlite_profile_backend,
    "postgres": postgres_profile_backend,
}


@pytest.fixture(params=list(PROFILE_BACKENDS))
def profile_backend(request: pytest.FixtureRequest) -> Iterator[ProfileBackend]:
    yield from built(PROFILE_BACKENDS, request)


S = TypeVar("S")


@dataclass
class Connections(Generic[S]):
    """One adapter of a port: ``open`` gives it over the same data on another connection
    each call, where the backend has connections (as each process opens its own)."""

    name: str
    open: Callable[[], S]
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def connect(self) -> S:
        return closed_later(self._closers, self.open())

    def close(self) -> None:
        for close in self._closers:
            close()


GraphBackend = Connections[IdentityGraph]
"""One identity graph adapter."""


def memory_graph(request: pytest.FixtureRequest) -> GraphBackend:
    graph = MemoryIdentityGraph()
    return GraphBackend("memory", lambda: graph)


def sqlite_graph(request: pytest.FixtureRequest) -> GraphBackend:
    path = request.getfixturevalue("tmp_path") / "wayfare.sqlite3"
    migrate(path)
    return GraphBackend("sqlite", lambda: SQLiteIdentityGraph(path, fsync=False))


def postgres_graph(request: pytest.FixtureRequest) -> GraphBackend:
    url: str = request.getfixturevalue("pg_database")
    return GraphBackend("postgres", lambda: PostgresIdentityGraph(open_pool(url, max_size=2)))


GRAPH_BACKENDS: dict[str, Callable[[pytest.FixtureRequest], GraphBackend]] = {
    "memory": memory_graph,
    "sqlite": sqlite_graph,
    "postgres": postgres_graph,
}


@pytest.fixture(params=list(GRAPH_BACKENDS))
def graph_backend(request: pytest.FixtureRequest) -> Iterator[GraphBackend]:
    yield from built(GRAPH_BACKENDS, request)


@dataclass
class LogBackend:
    """One event log adapter: a log, and a writer that appends to it (started first)."""

    name: str
    new_log: Callable[[], EventLog]
    new_writer: Callable[[EventLog], MessageWriter]
    close: Callable[[], None] = lambda: None
    """Removes what the log left (its stream)."""
    carries_messages: bool = True
    """Its slices carry the messages to store, failed ones included (the embedded log's
    entries are its store's match outcomes: the inlet's writer stored the messages)."""


LOG_PARTITIONS = 4


def memory_log_backend(request: pytest.FixtureRequest) -> LogBackend:
    def new_writer(log: EventLog) -> MessageWriter:
        assert isinstance(log, MemoryLog)
        return MemoryLogWriter(log)

    return LogBackend("memory", lambda: MemoryLog(LOG_PARTITIONS), new_writer)


def nats_log_backend(request: pytest.FixtureRequest) -> LogBackend:
    settings = NatsSettings(url=machine_nats(), prefix=unique_prefix(), partitions=LOG_PARTITIONS)
    return LogBackend(
        "nats",
        lambda: NatsEventLog(settings),
        lambda log: NatsWriter(settings),
        lambda: delete_stream(settings.url, settings.stream),
    )


def embedded_log_backend(request: pytest.FixtureRequest) -> LogBackend:
    path = request.getfixturevalue("tmp_path") / "wayfare.sqlite3"
    migrate(path)
    return LogBackend(
        "embedded",
        lambda: EmbeddedLog(path),
        lambda log: SQLiteWriter(path, fsync=False),
        carries_messages=False,
    )


LOG_BACKENDS: dict[str, Callable[[pytest.FixtureRequest], LogBackend]] = {
    "memory": memory_log_backend,
    "nats": nats_log_backend,
    "embedded": embedded_log_backend,
}
MESSAGE_LOGS = ["memory", "nats"]
"""The logs whose slices carry messages, with several partitions."""


@pytest.fixture(params=list(LOG_BACKENDS))
def log_backend(request: pytest.FixtureRequest) -> Iterator[LogBackend]:
    yield from built(LOG_BACKENDS, request)


@pytest.fixture(params=MESSAGE_LOGS)
def message_log_backend(request: pytest.FixtureRequest) -> Iterator[LogBackend]:
    """A log whose slices carry messages, with several partitions."""
    yield from built(LOG_BACKENDS, request)


def with_log(backend: LogBackend, scenario: Callable[[EventLog, MessageWriter], Awaitable[T]]) -> T:
    """Run ``scenario`` against a started log and writer in a fresh event loop."""

    async def main() -> T:
        log = backend.new_log()
        writer = backend.new_writer(log)
        await writer.start()
        await log.start()
        try:
            return await scenario(log, writer)
        finally:
            await log.stop()
            await writer.stop()

    return asyncio.run(main())


# helpers shared by the suites


def with_writer(backend: Backend, scenario: Callable[[MessageWriter], Awaitable[T]]) -> T:
    """Run ``scenario`` against a started writer in a fresh event loop, then stop the writer."""

    async def main() -> T:
        writer = backend.new_writer()
        await writer.start()
        try:
            return await scenario(writer)
        finally:
            await writer.stop()

    return asyncio.run(main())


def write(backend: Backend, *messages: IncomingMessage) -> list[WriteOutcome]:
    async def scenario(writer: MessageWriter) -> list[WriteOutcome]:
        return await writer.write(messages)

    return with_writer(backend, scenario)


def message(
    xaction_id: str,
    *,
    msg_id: str | None = None,
    org_id: str = ORG,
    inlet_id: str = "inlet-1",
    dataset_id: str | None = "dataset-1",
    received_ms: int = T0,
    body: Any = None,
    reasons: Sequence[Violation] | None = None,
    matches: list[EventMatch] | None = None,
    digest: bytes | None = None,
) -> IncomingMessage:
    """An IncomingMessage; with ``reasons`` it is invalid and goes to failed records."""
    return IncomingMessage(
        xaction_id=xaction_id,
        msg_id=msg_id,
        org_id=org_id,
        inlet_id=inlet_id,
        dataset_id=dataset_id,
        schema_id="https://ns.adobe.com/acme/schemas/1",
        received_ms=received_ms,
        payload=orjson.dumps(body if body is not None else {"x": xaction_id}),
        reasons=None if reasons is None else orjson.dumps([v.as_json() for v in reasons]),
        matches=matches,
        digest=digest,
    )


def make_schema(
    name: str,
    *,
    org_id: str = ORG,
    hex_id: str = "0" * 32,
    version: int = 1,
    title: str | None = None,
    created_ms: int = T0,
    xdm_class: str = "ExperienceEvent",
) -> Schema:
    definition = SchemaDefinition.from_json(
        {
            "name": name,
            "title": title or name,
            "class": xdm_class,
            "fields": {"person": {"type": "object"}},
        }
    )
    schema_id = f"https://ns.adobe.com/acme/schemas/{hex_id}"
    return Schema(
        schema_id=schema_id,
        version=version,
        org_id=org_id,
        definition=definition,
        json_schema=build_json_schema(
            definition, schema_id=schema_id, tenant_id="acme", version=version
        ),
        created_ms=created_ms,
    )


AudienceBackend = Connections[AudienceStore]
"""One audience store adapter."""


def memory_audience_backend(request: pytest.FixtureRequest) -> AudienceBackend:
    store = MemoryAudienceStore()
    return AudienceBackend("memory", lambda: store)


def sqlite_audience_backend(request: pytest.FixtureRequest) -> AudienceBackend:
    path = request.getfixturevalue("tmp_path") / "wayfare.sqlite3"
    migrate(path)
    return AudienceBackend("sqlite", lambda: SQLiteAudienceStore(path, fsync=False))


def postgres_audience_backend(request: pytest.FixtureRequest) -> AudienceBackend:
    url: str = request.getfixturevalue("pg_database")
    return AudienceBackend("postgres", lambda: PostgresAudienceStore(open_pool(url, max_size=2)))


AUDIENCE_BACKENDS: dict[str, Callable[[pytest.FixtureRequest], AudienceBackend]] = {
    "memory": memory_audience_backend,
    "sqlite": sqlite_audience_backend,
    "postgres": postgres_audience_backend,
}


@pytest.fixture(params=list(AUDIENCE_BACKENDS))
def audience_backend(request: pytest.FixtureRequest) -> Iterator[AudienceBackend]:
    yield from built(AUDIENCE_BACKENDS, request)
