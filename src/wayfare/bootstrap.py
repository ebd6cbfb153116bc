"""The one place that wires concrete adapters to the use cases."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wayfare.clock import Clock, SystemClock
from wayfare.config import Settings, dump_settings
from wayfare.engine.actions import ActionSender, Sender
from wayfare.engine.control import JourneyEngine
from wayfare.engine.courier import CourierSender
from wayfare.engine.process import EngineProcess
from wayfare.engine.runtime import JourneyRuntime
from wayfare.errors import InvalidRequestError
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.inlet import InletService
from wayfare.ingest.rate_limit import RateLimiter
from wayfare.log.embedded import EmbeddedLog
from wayfare.log.ports import EventLog
from wayfare.registry.apply import Applier
from wayfare.registry.events import EventRegistry
from wayfare.registry.inlets import InletRegistry
from wayfare.registry.journeys import JourneyRegistry
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.ports import JourneyStore, MessageWriter, ResourceStore
from wayfare.store.sqlite.connection import database_path, migrate
from wayfare.store.sqlite.journeys import SQLiteJourneyStore
from wayfare.store.sqlite.resources import SQLiteStore
from wayfare.store.sqlite.writer import SQLiteWriter


@dataclass
class EngineServices:
    """A group-commit writer and a journey engine, started in that order and stopped in the
    other. ``wayfare engine`` runs an engine with a writer of its own; a server, its inlet's
    writer and the engine (in its process, or an ``EngineProcess``)."""

    writer: MessageWriter
    runtime: JourneyEngine

    async def start(self) -> None:
        await self.writer.start()
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()  # its last commits go through the writer
        await self.writer.stop()


@dataclass
class Services(EngineServices):
    """Everything the server runs: the engine (in this process or its own), the inlet, the
    registries."""

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
    applier: Applier

    async def stop(self) -> None:
        await super().stop()
        self.store.close()


def embedded_path(settings: Settings) -> Path:
    """The SQLite file of the embedded store, or an InvalidRequestError naming what the
    settings ask for instead (a scale-out store is never swapped for SQLite)."""
    store, event_log = settings.store, settings.log
    if store is not None and not store.startswith("sqlite:///"):
        scheme = store.split("://", 1)[0]
        raise InvalidRequestError(
            f"store {scheme}://…: only sqlite:///path is supported"
            if scheme not in ("postgresql", "postgres")
            else "a PostgreSQL store needs the scale-out adapters, which this build lacks"
        )
    if event_log != "embedded":
        raise InvalidRequestError(
            f"log {event_log!r}: a SQLite store works with the embedded event log only"
        )
    if store is not None:
        return Path(store.removeprefix("sqlite:///"))
    return database_path(settings.data_dir)


def build(settings: Settings, clock: Clock | None = None) -> Services:
    """Migrate the embedded store and wire everything; nothing is started yet. The journey
    engine runs in a process of its own unless settings say otherwise or a clock is given
    (a test's clock can only drive an engine in this process)."""
    path = embedded_path(settings)
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
        runtime = _runtime(settings, journey_store.another_connection(), EmbeddedLog(path), clock)
    clock = clock or SystemClock()
    catalog = Catalog(store, clock, settings.cache_ttl_seconds)
    limiter = RateLimiter(clock, settings.inlet_rate_limit, settings.inlet_rate_burst)
    schemas = SchemaRegistry(store, catalog, clock)
    inlets = InletRegistry(store, catalog, clock)
    events = EventRegistry(
        store, catalog, clock, schemas, lambda org_id, name: journeys.journeys_using(org_id, name)
    )
    journeys = JourneyRegistry(
        journey_store, clock, events, schemas, partitions=1, wake_engine=runtime.wake
    )
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        writer=writer,
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


def build_engine(settings: Settings) -> EngineServices:
    """The journey engine for ``wayfare engine``: the server has migrated the store."""
    path = embedded_path(settings)
    writer = SQLiteWriter(path, fsync=settings.fsync, on_commit=lambda: runtime.wake())
    runtime = _runtime(
        settings, SQLiteJourneyStore(path, fsync=settings.fsync, writer=writer), EmbeddedLog(path)
    )
    return EngineServices(writer, runtime)


def engine_lock_path(settings: Settings) -> Path:
    """Held by the running journey engine of a data directory: one at a time."""
    return settings.data_dir / "engine.lock"


def _runtime(
    settings: Settings,
    journey_store: JourneyStore,
    event_log: EventLog,
    clock: Clock | None = None,
) -> JourneyRuntime:
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
    return JourneyRuntime(
        journey_store,
        event_log,
        clock or SystemClock(),
        sender,
        test_wait_ms=int(settings.test_wait_seconds * 1000),
        per_host=settings.actions_per_host,
    )
