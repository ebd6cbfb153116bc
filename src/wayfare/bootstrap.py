"""The one place that wires concrete adapters to the use cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wayfare.clock import Clock, SystemClock
from wayfare.config import Settings
from wayfare.engine.actions import ActionSender, Sender
from wayfare.engine.courier import CourierSender
from wayfare.engine.runtime import JourneyRuntime
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.inlet import InletService
from wayfare.ingest.rate_limit import RateLimiter
from wayfare.log.ports import EventLog
from wayfare.log.sqlite import SQLiteEventLog
from wayfare.registry.apply import Applier
from wayfare.registry.events import EventRegistry
from wayfare.registry.inlets import InletRegistry
from wayfare.registry.journeys import JourneyRegistry
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.ports import JourneyStore, MessageWriter, ResourceStore
from wayfare.store.sqlite import SQLiteStore, database_path, migrate
from wayfare.store.sqlite_journeys import SQLiteJourneyStore
from wayfare.store.sqlite_writer import SQLiteWriter


@dataclass
class Services:
    settings: Settings
    clock: Clock
    store: ResourceStore
    writer: MessageWriter
    event_log: EventLog
    catalog: Catalog
    inlet: InletService
    schemas: SchemaRegistry
    inlets: InletRegistry
    events: EventRegistry
    journey_store: JourneyStore
    runtime: JourneyRuntime
    journeys: JourneyRegistry
    applier: Applier

    async def start(self) -> None:
        await self.writer.start()
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()  # its last commits go through the writer
        await self.writer.stop()
        self.store.close()


def build(settings: Settings, clock: Clock | None = None) -> Services:
    """Migrate the embedded store and wire everything; nothing is started yet."""
    clock = clock or SystemClock()
    path = database_path(settings.data_dir)
    migrate(path)
    store = SQLiteStore(path, fsync=settings.fsync)
    writer = SQLiteWriter(path, fsync=settings.fsync, on_commit=lambda: runtime.wake())
    journey_store = SQLiteJourneyStore(path, fsync=settings.fsync, writer=writer)
    sender_options: dict[str, Any] = {
        "smtp_host": settings.smtp_host,
        "smtp_port": settings.smtp_port,
        "smtp_from": settings.smtp_from,
        "rate_per_host": settings.action_rate_per_host,
        "connections_per_host": settings.actions_per_host,
    }
    sender: Sender = (
        CourierSender(**sender_options)
        if settings.action_worker
        else ActionSender(**sender_options)
    )
    runtime = JourneyRuntime(
        journey_store.another_connection(),  # admin reads never hold up the engine
        clock,
        sender,
        test_wait_ms=int(settings.test_wait_seconds * 1000),
        per_host=settings.actions_per_host,
    )
    catalog = Catalog(store, clock, settings.cache_ttl_seconds)
    limiter = RateLimiter(clock, settings.inlet_rate_limit, settings.inlet_rate_burst)
    schemas = SchemaRegistry(store, catalog, clock)
    inlets = InletRegistry(store, catalog, clock)
    events = EventRegistry(store, catalog, clock, schemas, journey_store.journeys_using_event)
    journeys = JourneyRegistry(journey_store, clock, events, schemas, runtime)
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        writer=writer,
        event_log=SQLiteEventLog(path),
        catalog=catalog,
        inlet=InletService(catalog, writer, clock, limiter, settings.max_pending_messages),
        schemas=schemas,
        inlets=inlets,
        events=events,
        journey_store=journey_store,
        runtime=runtime,
        journeys=journeys,
        applier=Applier(store, clock, schemas, inlets, events, journeys),
    )
