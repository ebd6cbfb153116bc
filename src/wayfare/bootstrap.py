"""The one place that wires concrete adapters to the use cases.

The scale-out adapters (PostgreSQL, NATS) are imported only when the settings choose them,
so an embedded server does not load their drivers.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wayfare.clock import Clock, SystemClock
from wayfare.config import CONSOLE_SECRET_FILE, Settings, dump_settings
from wayfare.engine.actions import ActionSender, Sender
from wayfare.engine.control import JourneyEngine
from wayfare.engine.courier import CourierSender
from wayfare.engine.ownership import LeasedOwnership, Ownership
from wayfare.engine.process import EngineProcess
from wayfare.engine.profiles import EngineProfiles
from wayfare.engine.runtime import JourneyRuntime
from wayfare.errors import InvalidRequestError, StoreError
from wayfare.hub.writer import (
    DemoInbox,
    HubClient,
    HubEngine,
    HubInbox,
    HubWriter,
    LocalInbox,
    WriterHub,
    admit_all,
    reservation_block,
)
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.inlet import InletService
from wayfare.ingest.rate_limit import RateLimiter
from wayfare.ingest.shared_rates import SharedRateWriter
from wayfare.log.embedded import EmbeddedLog
from wayfare.log.ports import EventLog
from wayfare.model.destinations import DestinationPolicy
from wayfare.model.person_events import PersonEventLimits
from wayfare.model.records import FirstMessage
from wayfare.observability.readiness import Readiness, files_writable, lock_held
from wayfare.registry.apply import Applier
from wayfare.registry.audiences import AudienceRegistry
from wayfare.registry.events import EventRegistry
from wayfare.registry.inlets import InletRegistry
from wayfare.registry.journeys import JourneyRegistry
from wayfare.registry.people import ProfileRegistry
from wayfare.registry.privacy import PrivacyDeletes
from wayfare.registry.profiles import MergePolicies
from wayfare.registry.retention import run_retention
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.ports import (
    AudienceStore,
    IdentityGraph,
    JourneyStore,
    MessageWriter,
    ProfileStore,
    ResourceStore,
)
from wayfare.store.sqlite.audiences import SQLiteAudienceStore
from wayfare.store.sqlite.connection import database_path, migrate
from wayfare.store.sqlite.files import prepare_data_dir, prepare_database
from wayfare.store.sqlite.identities import SQLiteIdentityGraph
from wayfare.store.sqlite.journeys import SQLiteJourneyStore
from wayfare.store.sqlite.profiles import SQLiteProfileStore
from wayfare.store.sqlite.resources import SQLiteStore
from wayfare.store.sqlite.writer import SQLiteWriter
from wayfare.tasks import cancel_and_wait

if TYPE_CHECKING:  # the scale-out adapters are imported when settings ask for them
    from wayfare.log.jetstream import NatsSettings


EMBEDDED_CHECK_MS = 10
"""How often the inlet's catalog reads SQLite's resource generation, at most. The read is
local and small, yet made on every request it took about 45% more server CPU per message in
the single-message benchmark; at most every 10 ms, the benchmark shows no difference. A
request that comes 10 ms or more after the one before it always checks."""

SCALED_OUT_CHECK_MS = 250
"""The same for PostgreSQL's, where each read is a round trip to the server."""


@dataclass
class EngineServices:
    """A journey engine and what it commits through, started in that order and stopped in
    the other: ``wayfare engine`` runs an engine with a SQLite writer of its own, ``wayfare
    worker`` one on PostgreSQL; a server, its inlet's writer and the engine (in its process,
    an ``EngineProcess``, or none when engines are workers of their own)."""

    writer: MessageWriter | None
    runtime: JourneyEngine
    closers: list[Callable[[], None]] = field(default_factory=list)

    async def start(self) -> None:
        if self.writer is not None:
            await self.writer.start()
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()  # its last commits may go through the writer
        if self.writer is not None:
            await self.writer.stop()
        for close in self.closers:
            close()


@dataclass
class Services:
    """Everything the server runs: the inlet, the registries, and ``engine``, which starts
    the inlet's writer and, embedded, the journey engine."""

    engine: EngineServices
    settings: Settings
    clock: Clock
    store: ResourceStore
    catalog: Catalog
    inlet: InletService
    schemas: SchemaRegistry
    inlets: InletRegistry
    events: EventRegistry
    journey_store: JourneyStore
    journeys: JourneyRegistry
    merge_policies: MergePolicies
    applier: Applier
    profiles: ProfileRegistry
    privacy: PrivacyDeletes
    audiences: AudienceRegistry
    inbox: DemoInbox
    readiness: Readiness
    runs_retention: bool = True
    """Whether this process deletes what is past its retention (``registry/retention.py``):
    the embedded server's HTTP processes leave it to the process that started them."""
    _retention: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    async def start(self) -> None:
        await self.engine.start()
        if self.runs_retention:
            self._retention = asyncio.create_task(
                run_retention(
                    self.store,
                    self.journey_store,
                    self.clock,
                    step_event_days=self.settings.step_event_retention_days,
                    interval_seconds=self.settings.retention_interval_seconds,
                    audiences=self.audiences.store,
                    profiles=self.profiles.store,
                    person_event_days=self.settings.person_event_retention_days,
                ),
                name="retention",
            )

    async def stop(self) -> None:
        await cancel_and_wait(self._retention)
        self._retention = None
        await self.engine.stop()


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where state and the event log live, as the settings say: SQLite and the embedded log,
    or PostgreSQL and NATS JetStream. Nothing else is offered, and a PostgreSQL or NATS that
    cannot be reached is an error, never a quiet fall back to SQLite."""

    sqlite: Path | None = None
    postgresql: str | None = None
    nats: str | None = None


def deployment(settings: Settings) -> Deployment:
    store, event_log = settings.store, settings.log
    scheme = store.split("://", 1)[0] if store is not None else "sqlite"
    if scheme in ("postgresql", "postgres"):
        if not event_log.startswith("nats://"):
            raise InvalidRequestError(
                f"store {scheme}://… needs the NATS event log: add --log nats://host:4222"
            )
        assert store is not None
        return Deployment(postgresql=store, nats=event_log)
    if scheme != "sqlite" or (store is not None and not store.startswith("sqlite:///")):
        raise InvalidRequestError(
            f"store {store!r}: give sqlite:///path/to/file or postgresql://user@host/database"
        )
    if event_log != "embedded":
        raise InvalidRequestError(
            f"log {event_log!r}: a SQLite store works with the embedded event log only; "
            "give --store postgresql://… for the NATS one"
        )
    path = Path(store.removeprefix("sqlite:///")) if store else database_path(settings.data_dir)
    return Deployment(sqlite=path)


def nats_settings(settings: Settings, url: str) -> NatsSettings:
    from wayfare.log.jetstream import NatsSettings

    return NatsSettings(url=url, prefix=settings.log_prefix, partitions=settings.log_partitions)


def build(settings: Settings, clock: Clock | None = None) -> Services:
    """Migrate the store and wire everything the server runs; nothing is started yet.
    Embedded, the journey engine runs in a process of its own unless settings say otherwise
    or a clock is given (a test's clock can only drive an engine in this process)."""
    where = deployment(settings)
    if where.postgresql is not None:
        assert where.nats is not None
        return _scaled_out_server(settings, where.postgresql, where.nats, clock or SystemClock())
    assert where.sqlite is not None
    path = where.sqlite
    prepare_data_dir(
        settings.data_dir, files=(engine_lock_path(settings).name, CONSOLE_SECRET_FILE)
    )
    prepare_database(path)
    migrate(path)
    store = SQLiteStore(path, fsync=settings.fsync)
    writer = SQLiteWriter(path, fsync=settings.fsync, on_commit=lambda: runtime.wake())
    journey_store = SQLiteJourneyStore(path, fsync=settings.fsync, writer=writer)
    runtime: JourneyEngine
    if settings.engine_process and clock is None:
        runtime = EngineProcess(
            [sys.executable, "-m", "wayfare", "engine"], dump_settings(settings).encode()
        )
    else:
        graph, profiles = _embedded_people(settings, path)
        runtime = _runtime(
            settings,
            journey_store.another_connection(),
            EmbeddedLog(path),
            clock,
            identity_graph=graph,
            audiences=SQLiteAudienceStore(path, fsync=settings.fsync),
            profiles=profiles,
        )
    return _server(
        settings,
        clock or SystemClock(),
        store,
        journey_store,
        SQLiteIdentityGraph(path, fsync=settings.fsync),
        writer,
        runtime,
        1,
        check_every_ms=EMBEDDED_CHECK_MS,
        readiness=_embedded_readiness(settings, path, journey_store),
        profiles=SQLiteProfileStore(path, fsync=settings.fsync),
        audiences=SQLiteAudienceStore(path, fsync=settings.fsync),
    )


def build_http_process(settings: Settings, hub: socket.socket) -> Services:
    """An HTTP process of ``serve --workers N`` on an embedded store: it reads the store and
    commits what it accepts itself, once the process that started it has admitted it over
    ``hub`` (which counts the backlog and the rate limits of every process, wakes the
    journey engine and keeps the demo webhook's calls)."""
    path = deployment(settings).sqlite
    assert path is not None, "scale-out HTTP processes are whole servers (build)"
    client = HubClient(hub)
    engine = HubEngine(client)
    writer = SQLiteWriter(path, fsync=settings.fsync, on_commit=engine.wake)
    journey_store = SQLiteJourneyStore(path, fsync=settings.fsync)
    services = _server(
        settings,
        SystemClock(),
        SQLiteStore(path, fsync=settings.fsync),
        journey_store,
        SQLiteIdentityGraph(path, fsync=settings.fsync),
        HubWriter(
            client,
            writer,
            reservation_block(
                settings.max_pending_messages,
                settings.http_processes,
                settings.inlet_rate_limit > 0,
            ),
        ),
        engine,
        1,
        EMBEDDED_CHECK_MS,
        HubInbox(client),
        readiness=_embedded_readiness(settings, path, journey_store),
        profiles=SQLiteProfileStore(path, fsync=settings.fsync),
        audiences=SQLiteAudienceStore(path, fsync=settings.fsync),
    )
    services.runs_retention = False
    return services


def _embedded_readiness(settings: Settings, path: Path, journey_store: JourneyStore) -> Readiness:
    """The database writable, the engine process holding its lock, its lag read from the
    store (the last match outcome against the position the engine's commits stored)."""
    heads: list[EmbeddedLog] = []  # its connection opened by the first look
    lock = engine_lock_path(settings)

    def engine() -> str | None:
        if not settings.engine_process:
            return None  # it runs in the server's own process
        return lock_held(lock, "the journey engine")

    def lag() -> int:
        if not heads:
            heads.append(EmbeddedLog(path))
        stored = journey_store.log_positions((0,)).get(0, 0)
        return max(0, heads[0].last_position() - stored)

    return Readiness(lambda: files_writable(path), engine, lag, settings.ready_max_lag)


def writer_hub(services: Services) -> WriterHub:
    """What serves the HTTP processes of an embedded server: one count of pending messages
    and one rate limit per inlet for all of them, the journey engine's wakes, the demo
    webhook's calls."""
    settings = services.settings
    limiter = RateLimiter(services.clock, settings.inlet_rate_limit, settings.inlet_rate_burst)
    return WriterHub(
        admit_all(settings.max_pending_messages, limiter.take),
        services.engine.runtime.wake,
        services.inbox,
        settings.max_pending_messages,
    )


def _scaled_out_server(settings: Settings, url: str, log_url: str, clock: Clock) -> Services:
    """Stateless: the inlet writes to JetStream, the admin API to PostgreSQL; the journey
    engines are ``wayfare worker`` processes."""
    from wayfare.log.nats import NatsWriter
    from wayfare.store.postgres.audiences import PostgresAudienceStore
    from wayfare.store.postgres.connection import migrate as postgres_migrate
    from wayfare.store.postgres.connection import open_pool
    from wayfare.store.postgres.identities import PostgresIdentityGraph
    from wayfare.store.postgres.journeys import PostgresJourneyStore
    from wayfare.store.postgres.messages import known_message_ids
    from wayfare.store.postgres.profiles import PostgresProfileStore
    from wayfare.store.postgres.rates import PostgresRateBuckets
    from wayfare.store.postgres.resources import PostgresStore

    postgres_migrate(url)
    pool = open_pool(url, max_size=8)
    store = PostgresStore(pool)

    async def known(org_id: str, msg_ids: Sequence[str]) -> Mapping[str, FirstMessage]:
        # msgIds stored before JetStream's window; while PostgreSQL is away, the window
        # alone (and the store's unique key, when the workers store the messages) must do.
        try:
            return await asyncio.to_thread(known_message_ids, pool, org_id, msg_ids)
        except StoreError as exc:
            logging.getLogger(__name__).warning("msgIds not looked up: %s", exc)
            return {}

    log_settings = nats_settings(settings, log_url)
    writer: MessageWriter = NatsWriter(log_settings, known=known)
    if settings.inlet_rate_limit > 0:
        writer = SharedRateWriter(
            writer,
            PostgresRateBuckets(pool),  # the store's pool: closed with it
            clock,
            settings.inlet_rate_limit,
            settings.inlet_rate_burst,
        )
    journeys = PostgresJourneyStore(pool)

    def reachable() -> str | None:
        store.get_org("")  # a StoreError says what is wrong
        return None

    readiness = Readiness(
        reachable,
        lambda: None,
        lambda: None,
        settings.ready_max_lag,
        engine_note="journey engines run as wayfare worker processes, not in this server",
    )
    return _server(
        settings,
        clock,
        store,
        journeys,
        PostgresIdentityGraph(pool),  # the store's pool: closed with it
        writer,
        NoEngine(),
        log_settings.partitions,
        check_every_ms=SCALED_OUT_CHECK_MS,
        readiness=readiness,
        profiles=PostgresProfileStore(pool),  # the store's pool: closed by either, once
        audiences=PostgresAudienceStore(pool),  # the same
    )


def _server(
    settings: Settings,
    clock: Clock,
    store: ResourceStore,
    journey_store: JourneyStore,
    identity_graph: IdentityGraph,
    writer: MessageWriter,
    runtime: JourneyEngine,
    partitions: int,
    check_every_ms: int,
    inbox: DemoInbox | None = None,
    *,
    readiness: Readiness,
    profiles: ProfileStore,
    audiences: AudienceStore,
) -> Services:
    catalog = Catalog(
        store,
        clock,
        settings.cache_ttl_seconds,
        check_every_ms,
        max_entries=settings.catalog_cache_entries,
    )
    limiter = RateLimiter(clock, settings.inlet_rate_limit, settings.inlet_rate_burst)
    schemas = SchemaRegistry(store, catalog, clock)
    inlets = InletRegistry(store, catalog, clock)
    events = EventRegistry(
        store, catalog, clock, schemas, lambda org_id, name: journeys.journeys_using(org_id, name)
    )
    journeys = JourneyRegistry(
        journey_store,
        clock,
        events,
        schemas,
        DestinationPolicy(settings.action_allow),
        partitions=partitions,
        wake_engine=runtime.wake,
        audiences=audiences,
    )
    merge_policies = MergePolicies(profiles, schemas)
    people = ProfileRegistry(identity_graph, clock, profiles, journey_store, store, audiences)
    audience_registry = AudienceRegistry(audiences, people, events, schemas, clock)
    closers = [store.close, profiles.close, identity_graph.close, audiences.close]
    return Services(
        engine=EngineServices(writer, runtime, closers),
        settings=settings,
        clock=clock,
        store=store,
        catalog=catalog,
        inlet=InletService(
            catalog,
            writer,
            clock,
            limiter,
            settings.max_pending_messages,
            max_batch_messages=settings.max_batch_messages,
        ),
        schemas=schemas,
        inlets=inlets,
        events=events,
        journey_store=journey_store,
        journeys=journeys,
        merge_policies=merge_policies,
        applier=Applier(
            store,
            clock,
            schemas,
            inlets,
            events,
            journeys,
            merge_policies,
            people,
            audience_registry,
        ),
        profiles=people,
        privacy=PrivacyDeletes(identity_graph, journey_store, profiles, audiences, store, clock),
        audiences=audience_registry,
        inbox=inbox or LocalInbox(),
        readiness=readiness,
    )


def build_engine(settings: Settings) -> EngineServices:
    """The journey engine for ``wayfare engine``: the server has migrated the store."""
    path = deployment(settings).sqlite
    if path is None:
        raise InvalidRequestError("wayfare engine runs embedded engines; use wayfare worker")
    writer = SQLiteWriter(
        path, fsync=settings.fsync, on_commit=lambda: runtime.wake(), name="engine"
    )
    graph, profiles = _embedded_people(settings, path)
    runtime = _runtime(
        settings,
        SQLiteJourneyStore(path, fsync=settings.fsync, writer=writer),
        EmbeddedLog(path),
        identity_graph=graph,
        audiences=SQLiteAudienceStore(path, fsync=settings.fsync),
        profiles=profiles,
    )
    return EngineServices(writer, runtime)


def build_worker(settings: Settings) -> EngineServices:
    """A journey engine of ``wayfare worker``: partitions of the NATS event log by lease,
    state in PostgreSQL."""
    from wayfare.log.nats import NatsEventLog
    from wayfare.store.postgres.audiences import PostgresAudienceStore
    from wayfare.store.postgres.connection import migrate as postgres_migrate
    from wayfare.store.postgres.connection import open_pool
    from wayfare.store.postgres.identities import PostgresIdentityGraph
    from wayfare.store.postgres.journeys import PostgresJourneyStore
    from wayfare.store.postgres.profiles import PostgresProfileStore
    from wayfare.store.postgres.resources import PostgresStore

    where = deployment(settings)
    if where.postgresql is None or where.nats is None:
        raise InvalidRequestError(
            "wayfare worker needs --store postgresql://… and --log nats://… (embedded, "
            "wayfare serve runs the journey engine itself)"
        )
    postgres_migrate(where.postgresql)
    # A worker paused or cut off inside a commit or a claim holds lease rows locked: the
    # server ends its transaction within a lease, so the others go on (leases.py).
    pool = open_pool(where.postgresql, max_size=4, stuck_after_seconds=settings.lease_seconds / 3)
    journey_store = PostgresJourneyStore(pool)
    log_settings = nats_settings(settings, where.nats)
    ownership = LeasedOwnership(
        journey_store, log_settings.partitions, ttl_seconds=settings.lease_seconds
    )
    graph = PostgresIdentityGraph(pool)
    runtime = _runtime(
        settings,
        journey_store,
        NatsEventLog(log_settings),
        ownership=ownership,
        identity_graph=graph,
        audiences=PostgresAudienceStore(pool),
        profiles=EngineProfiles(
            PostgresStore(pool), PostgresProfileStore(pool), graph, person_event_limits(settings)
        ),
    )
    return EngineServices(None, runtime, [pool.close])


class NoEngine:
    """The server's engine when journey engines are workers of their own: they learn of
    changes from the store, so there is nobody here to wake."""

    async def start(self) -> None:
        pass

    async def stop(self, grace: float = 5.0) -> None:
        pass

    def wake(self) -> None:
        pass


def _embedded_people(settings: Settings, path: Path) -> tuple[IdentityGraph, EngineProfiles]:
    """What an embedded journey engine reads of people (its identity graph, and profiles
    over the same graph), on connections of its own."""
    graph = SQLiteIdentityGraph(path, fsync=settings.fsync)
    profiles = SQLiteProfileStore(path, fsync=settings.fsync)
    resources = SQLiteStore(path, fsync=settings.fsync)
    return graph, EngineProfiles(resources, profiles, graph, person_event_limits(settings))


def person_event_limits(settings: Settings) -> PersonEventLimits:
    """How much of people's experience events journey engines keep."""
    return PersonEventLimits(
        settings.person_event_retention_days, settings.person_events_per_identity
    )


def engine_lock_path(settings: Settings) -> Path:
    """Held by the running journey engine of a data directory: one at a time."""
    return settings.data_dir / "engine.lock"


def _runtime(
    settings: Settings,
    journey_store: JourneyStore,
    event_log: EventLog,
    clock: Clock | None = None,
    ownership: Ownership | None = None,
    identity_graph: IdentityGraph | None = None,
    audiences: AudienceStore | None = None,
    profiles: EngineProfiles | None = None,
) -> JourneyRuntime:
    sender_options: dict[str, Any] = {
        "smtp_host": settings.smtp_host,
        "smtp_port": settings.smtp_port,
        "smtp_from": settings.smtp_from,
        "rate_per_host": settings.action_rate_per_host,
        "connections_per_host": settings.actions_per_host,
        "allow": list(settings.action_allow),
    }
    sender: Sender = (
        CourierSender(
            log_format=settings.log_format, log_level=settings.log_level, **sender_options
        )
        if settings.action_worker
        else ActionSender(**sender_options)
    )
    return JourneyRuntime(
        journey_store,
        event_log,
        clock or SystemClock(),
        sender,
        ownership=ownership,
        test_wait_ms=int(settings.test_wait_seconds * 1000),
        per_host=settings.actions_per_host,
        failure_limit=settings.journey_failure_limit,
        identity_graph=identity_graph,
        audiences=audiences,
        profiles=profiles,
    )
