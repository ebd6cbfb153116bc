"""What one process changes, another process's inlet sees: two catalogs (two inlet processes)
on one in-memory store and a fake clock. Each request checks the store's resource generation
first; while the store fails, what was cached is used."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from wayfare.clock import FakeClock
from wayfare.errors import ForbiddenError, InvalidRequestError, StoreError
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.inlet import Caller, InletService
from wayfare.ingest.rate_limit import RateLimiter
from wayfare.model.records import AccessToken
from wayfare.model.resources import Dataset, Inlet, Schema
from wayfare.registry.events import EventRegistry
from wayfare.registry.inlets import InletRegistry
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.memory import MemoryStore, MemoryWriter

ORG = "ACME@AdobeOrg"
SIGNUP = {
    "name": "signup",
    "class": "ExperienceEvent",
    "fields": {"person": {"type": "object", "properties": {"plan": {"type": "string"}}}},
}
SIGNUP_EVENT = {
    "name": "signup",
    "schemaId": "signup",
    "namespace": "Email",
    "eventIdType": "rule",
    "condition": 'eventType == "signup"',
}


class FlakyStore(MemoryStore):
    """A store that can fail (restarting, say): while ``reads_fail``, every read of resources
    the inlet makes raises; while ``generation_fails``, reading the generation does."""

    reads_fail = False
    generation_fails = False

    def fail(self, failing: bool = True) -> None:
        self.reads_fail = self.generation_fails = failing

    def _check(self) -> None:
        if self.reads_fail:
            raise StoreError("the store failed: connection refused")

    def resource_generation(self) -> int:
        if self.generation_fails:
            raise StoreError("the store failed: connection refused")
        return super().resource_generation()

    def get_inlet(self, inlet_id: str) -> Inlet | None:
        self._check()
        return super().get_inlet(inlet_id)

    def get_token(self, token_hash: str) -> AccessToken | None:
        self._check()
        return super().get_token(token_hash)

    def get_schema(self, schema_id: str, version: int | None = None) -> Schema | None:
        self._check()
        return super().get_schema(schema_id, version)

    def list_datasets(self, org_id: str, schema_id: str | None = None) -> list[Dataset]:
        self._check()
        return super().list_datasets(org_id, schema_id)


@dataclass
class Process:
    """One ``serve`` process: its inlet and its admin use cases."""

    inlet: InletService
    schemas: SchemaRegistry
    inlets: InletRegistry
    events: EventRegistry

    def open(self, inlet_id: str, caller: Caller | None = None) -> Inlet:
        """A request to the inlet, as far as its admission."""
        return self.inlet.open_inlet(inlet_id, caller or Caller())

    def send(self, inlet_id: str, schema_id: str, person: str) -> None:
        """A request with one signup message of ``person``."""
        ref = {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
        entity = {
            "_id": f"signup-{person}",
            "timestamp": "2026-11-28T10:00:00.000Z",
            "eventType": "signup",
            "identityMap": {"Email": [{"id": person}]},
        }
        body = {
            "header": {"schemaRef": ref, "imsOrgId": ORG, "msgType": "xdmEntityCreate"},
            "body": {"xdmMeta": {"schemaRef": ref}, "xdmEntity": entity},
        }
        inlet = self.open(inlet_id)
        asyncio.run(self.inlet.ingest_message(inlet, body, None, Caller()))


def process(store: MemoryStore, clock: FakeClock, check_every_ms: int = 0) -> Process:
    catalog = Catalog(store, clock, ttl_seconds=2.0, check_every_ms=check_every_ms)
    writer = MemoryWriter(store)
    asyncio.run(writer.start())
    schemas = SchemaRegistry(store, catalog, clock)
    return Process(
        InletService(catalog, writer, clock, RateLimiter(clock, 0.0, 0.0), 100),
        schemas,
        InletRegistry(store, catalog, clock),
        EventRegistry(store, catalog, clock, schemas),
    )


@dataclass
class World:
    clock: FakeClock
    store: FlakyStore
    a: Process
    b: Process
    schema_id: str
    inlet_id: str

    def send_through_b(self, person: str) -> None:
        self.b.send(self.inlet_id, self.schema_id, person)

    def stored_last(self) -> str:
        """The ``_id`` of the last message stored."""
        return str(self.store.records[-1].message["body"]["xdmEntity"]["_id"])


def build_world(b_checks_every_ms: int = 0) -> World:
    """Processes ``a`` and ``b`` on one store: a schema and an inlet, made through ``a``."""
    clock = FakeClock()
    store = FlakyStore()
    a = process(store, clock)
    b = process(store, clock, b_checks_every_ms)
    schema = a.schemas.create(ORG, SIGNUP)
    inlet, _ = a.inlets.create(ORG, {"name": "web"})
    return World(clock, store, a, b, schema.schema_id, inlet.inlet_id)


@pytest.fixture
def world() -> World:
    return build_world()


def test_an_event_created_through_one_process_matches_the_next_message_the_other_takes(
    world: World,
) -> None:
    world.send_through_b("ada@example.com")  # b has the route cached
    world.a.events.create(ORG, SIGNUP_EVENT)
    world.send_through_b("bob@example.com")
    outcomes = world.store.list_event_matches(ORG, "signup", limit=10)
    assert [(m.match.identity, m.match.matched) for m in outcomes] == [("bob@example.com", True)]


def test_an_inlet_disabled_through_one_process_is_refused_by_the_other_at_once(
    world: World,
) -> None:
    world.b.open(world.inlet_id)
    world.a.inlets.set_enabled(ORG, "web", False)
    with pytest.raises(InvalidRequestError, match="disabled"):
        world.b.open(world.inlet_id)


def test_tokens_revoked_through_one_process_are_refused_by_the_other_at_once(
    world: World,
) -> None:
    secured, token = world.a.inlets.create(ORG, {"name": "secured", "authenticationRequired": True})
    assert token is not None
    caller = Caller(bearer=token.token)
    world.b.open(secured.inlet_id, caller)
    world.a.inlets.revoke_tokens(ORG, "secured")
    with pytest.raises(ForbiddenError):
        world.b.open(secured.inlet_id, caller)


def test_the_store_is_checked_at_most_every_check_every_ms() -> None:
    world = build_world(b_checks_every_ms=250)
    world.b.open(world.inlet_id)
    world.a.inlets.set_enabled(ORG, "web", False)
    world.clock.advance(249)
    assert world.b.open(world.inlet_id).enabled  # not checked yet
    world.clock.advance(1)
    with pytest.raises(InvalidRequestError, match="disabled"):
        world.b.open(world.inlet_id)


def test_while_the_store_fails_what_was_cached_is_used(world: World) -> None:
    world.send_through_b("ada@example.com")
    world.store.fail()
    world.send_through_b("bob@example.com")  # the inlet and route as they were
    assert world.stored_last() == "signup-bob@example.com"
    world.store.fail(False)
    world.a.events.create(ORG, SIGNUP_EVENT)
    world.clock.advance(2000)  # a failed check is made again after the cache's time to live
    world.send_through_b("cy@example.com")
    outcomes = world.store.list_event_matches(ORG, "signup", limit=10)
    assert [m.match.identity for m in outcomes] == ["cy@example.com"]


def test_what_the_store_cannot_read_again_after_a_change_is_used_as_it_was(
    world: World,
) -> None:
    world.send_through_b("ada@example.com")
    world.a.events.create(ORG, SIGNUP_EVENT)  # the generation moves
    world.store.reads_fail = True  # the check sees the change; reading it again fails
    world.send_through_b("bob@example.com")
    assert world.stored_last() == "signup-bob@example.com"
