"""Every contract suite runs once per adapter, through the ``backend`` fixture.

To put another adapter under contract, write a builder like the ones below and add it to
``BACKENDS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from wayfare.errors import Violation
from wayfare.model.records import IncomingMessage, WriteOutcome
from wayfare.model.resources import Schema
from wayfare.model.schema import SchemaDefinition, build_json_schema
from wayfare.store.memory import MemoryStore, MemoryWriter
from wayfare.store.ports import MessageWriter, ResourceStore
from wayfare.store.postgres.connection import open_pool
from wayfare.store.postgres.resources import PostgresStore
from wayfare.store.postgres.writer import PostgresWriter
from wayfare.store.sqlite.connection import migrate
from wayfare.store.sqlite.resources import SQLiteStore
from wayfare.store.sqlite.writer import SQLiteWriter

T = TypeVar("T")

ORG = "ACME@AdobeOrg"
OTHER_ORG = "OTHER@AdobeOrg"
T0 = 1_700_000_000_000


@dataclass
class Backend:
    """One adapter family: a store and writers over the same data."""

    name: str
    store: ResourceStore
    _new_writer: Callable[[], MessageWriter]
    _reopen: Callable[[], ResourceStore]
    _writers: list[MessageWriter] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list)

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

    def close(self) -> None:
        async def stop_all() -> None:
            for writer in self._writers:
                await writer.stop()

        asyncio.run(stop_all())
        for close in [*self._closers, self.store.close]:
            close()


def memory_backend(request: pytest.FixtureRequest) -> Backend:
    store = MemoryStore()
    return Backend("memory", store, lambda: MemoryWriter(store), lambda: store)


def sqlite_backend(request: pytest.FixtureRequest) -> Backend:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    path = tmp_path / "wayfare.sqlite3"
    migrate(path)
    return Backend(
        "sqlite",
        SQLiteStore(path, fsync=False),
        lambda: SQLiteWriter(path, fsync=False),
        lambda: SQLiteStore(path, fsync=False),
    )


def postgres_backend(request: pytest.FixtureRequest) -> Backend:
    url: str = request.getfixturevalue("pg_database")  # the session's, emptied
    pool = open_pool(url, max_size=2)
    return Backend(
        "postgres",
        PostgresStore(pool),
        lambda: PostgresWriter(pool),
        lambda: PostgresStore(open_pool(url, max_size=1)),
    )


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Backend]] = {
    "memory": memory_backend,
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    built = BACKENDS[request.param](request)
    try:
        yield built
    finally:
        built.close()


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
    )


def make_schema(
    name: str,
    *,
    org_id: str = ORG,
    hex_id: str = "0" * 32,
    version: int = 1,
    title: str | None = None,
    created_ms: int = T0,
) -> Schema:
    definition = SchemaDefinition.from_json(
        {
            "name": name,
            "title": title or name,
            "class": "ExperienceEvent",
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
