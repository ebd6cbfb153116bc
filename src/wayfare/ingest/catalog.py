"""What the hot path looks up per message, cached: inlets, tokens, and routes (a compiled
schema version with its datasets and its org's event configurations).

Any process may change these resources (another ``serve`` on the same store). The store
keeps a resource generation that every change moves in its own transaction; ``refresh``,
once per request, reads it (at most every ``check_every_ms``) and, when it moved, has
everything cached read again before its next use. So a change made through any process is
seen by every request that starts ``check_every_ms`` or more after the change committed
(bootstrap.py: 10 ms on SQLite, 250 ms on PostgreSQL), and by every request after it when
requests come further apart than that. Inlets and tokens are also re-read after
``ttl_seconds``, and the admin use cases in this process forget what they changed at once.

While the store fails, what was read last is used: a failed check keeps the cache as it
is, and an entry the store cannot read again is served as it was.

Inlets and tokens are looked up by what a caller sends, so their caches (misses included)
keep at most ``max_entries`` each, and an id or token longer than any Wayfare issues is
refused without a lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from wayfare.clock import Clock
from wayfare.errors import (
    ForbiddenError,
    InvalidRequestError,
    MessageFormatError,
    NotFoundError,
    StoreError,
    Violation,
)
from wayfare.ingest.lru import LruMap
from wayfare.ingest.validation import CompiledSchema
from wayfare.model.matching import EventIndex
from wayfare.model.records import AccessToken
from wayfare.model.resources import Inlet
from wayfare.model.tokens import hash_token
from wayfare.store.ports import ResourceStore

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_INLET_ID_LENGTH = 128
"""Inlet ids are 64 characters; a longer one names no inlet."""
MAX_TOKEN_LENGTH = 256
"""Access tokens are 46 characters; a longer one is no token."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message of one schema version goes, and how it is checked."""

    compiled: CompiledSchema
    default_dataset_id: str | None
    dataset_ids: frozenset[str]
    events: EventIndex
    """The org's event configurations on this schema."""


@dataclass(frozen=True, slots=True)
class _Read(Generic[T]):
    """What the store said, and when."""

    value: T
    generation: int | None
    """The store's resource generation last seen before the read (None: not seen yet)."""
    until_ms: int
    """When it is read again whatever the generation."""


_FOREVER = 2**63
"""How long a route is kept while the generation stays (schema versions never change)."""


class Catalog:
    """The inlet's cache of what it looks up in ``store``. ``ttl_seconds``: how long an inlet
    or token is used before it is read again, whatever the store's generation says;
    ``check_every_ms``: how often ``refresh`` reads the generation (0: on every call);
    ``max_entries``: how many inlets, and tokens, are kept at most."""

    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        ttl_seconds: float = 2.0,
        check_every_ms: int = 0,
        *,
        max_entries: int = 10_000,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl_ms = int(ttl_seconds * 1000)
        self._check_every_ms = check_every_ms
        self._next_check_ms = 0
        self._generation: int | None = None
        """The store's resource generation, as the last check that worked read it."""
        self._failing = False
        self._inlets: LruMap[str, _Read[Inlet | None]] = LruMap(max_entries)
        self._tokens: LruMap[str, _Read[AccessToken | None]] = LruMap(max_entries)
        self._routes: dict[tuple[str, str, int | None], _Read[Route]] = {}

    def refresh(self) -> None:
        """At the start of a request: if the store's resources changed since the last check
        (through any process), everything cached is read again before its next use. Checks
        at most every ``check_every_ms``; after a failed check, not before ``ttl_seconds``
        (each check while the store is away may wait for it), and the cache stays in use."""
        now = self._clock.now_ms()
        if now < self._next_check_ms:
            return
        try:
            generation = self._store.resource_generation()
        except StoreError as exc:
            self._next_check_ms = self._clock.now_ms() + max(self._check_every_ms, self._ttl_ms)
            if not self._failing:
                log.warning("the store failed; keeping what was cached: %s", exc)
            self._failing = True
            return
        self._next_check_ms = now + self._check_every_ms
        self._failing = False
        self._generation = generation

    def _holds(self, read: _Read[Any], now_ms: int) -> bool:
        return read.generation == self._generation and now_ms < read.until_ms

    def _look_up(
        self, read: Callable[[], T], cached: _Read[T] | None, now_ms: int, keep_ms: int
    ) -> _Read[T]:
        """What the store says now, kept for ``keep_ms``; while the store fails (restarting,
        say), what it said last time, for ``ttl_seconds``, so inlets that were known keep
        taking messages."""
        seen = self._generation
        try:
            return _Read(read(), seen, now_ms + keep_ms)
        except StoreError:
            if cached is None:
                raise
            log.warning("the store failed; using what it said before")
            return _Read(cached.value, seen, now_ms + self._ttl_ms)

    # inlets
    def inlet(self, inlet_id: str) -> Inlet:
        if len(inlet_id) > MAX_INLET_ID_LENGTH:
            raise NotFoundError(f"Inlet {inlet_id[:MAX_INLET_ID_LENGTH]}... was not found")
        now = self._clock.now_ms()
        cached = self._inlets.get(inlet_id)
        if cached is None or not self._holds(cached, now):
            cached = self._inlets[inlet_id] = self._look_up(
                lambda: self._store.get_inlet(inlet_id), cached, now, self._ttl_ms
            )
        inlet = cached.value
        if inlet is None:
            raise NotFoundError(f"Inlet {inlet_id} was not found")
        return inlet

    def forget_inlet(self, inlet_id: str) -> None:
        self._inlets.pop(inlet_id, None)
        stale = [
            h for h, t in self._tokens.items() if t.value is None or t.value.inlet_id == inlet_id
        ]
        for token_hash in stale:
            del self._tokens[token_hash]

    # tokens
    def check_token(self, inlet: Inlet, token: str) -> None:
        """Raise ForbiddenError unless ``token`` is a live token of ``inlet``."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise ForbiddenError("The access token is not valid for this inlet")
        token_hash = hash_token(token)
        now = self._clock.now_ms()
        cached = self._tokens.get(token_hash)
        if cached is None or not self._holds(cached, now):
            cached = self._tokens[token_hash] = self._look_up(
                lambda: self._store.get_token(token_hash), cached, now, self._ttl_ms
            )
        record = cached.value
        if record is None or record.inlet_id != inlet.inlet_id:
            raise ForbiddenError("The access token is not valid for this inlet")
        if record.expires_ms is not None and record.expires_ms <= now:
            raise ForbiddenError("The access token has expired")

    # schemas
    def route(self, org_id: str, schema_id: str, version: int | None) -> Route:
        key = (org_id, schema_id, version)
        now = self._clock.now_ms()
        cached = self._routes.get(key)
        if cached is None or not self._holds(cached, now):
            cached = self._routes[key] = self._look_up(
                lambda: self._load_route(org_id, schema_id, version), cached, now, _FOREVER
            )
        return cached.value

    def forget_schema(self, schema_id: str) -> None:
        for key in [k for k in self._routes if k[1] == schema_id]:
            del self._routes[key]

    def _load_route(self, org_id: str, schema_id: str, version: int | None) -> Route:
        schema = self._store.get_schema(schema_id, version)
        if schema is None or schema.org_id != org_id:
            known = self._store.get_schema(schema_id)
            if known is not None and known.org_id == org_id and version is not None:
                raise MessageFormatError(
                    f"Schema {schema_id} has no version {version} (latest is {known.version})",
                    violations=(
                        Violation(
                            "/header/schemaRef/contentType",
                            "enum",
                            f"version {version} of the schema does not exist",
                        ),
                    ),
                )
            raise MessageFormatError(
                f"Unknown schema {schema_id} in org {org_id}",
                violations=(
                    Violation("/header/schemaRef/id", "enum", "no such schema in this org"),
                ),
            )
        datasets = self._store.list_datasets(org_id, schema_id)
        default = next((d.dataset_id for d in datasets if d.is_default), None)
        return Route(
            compiled=CompiledSchema.compile(schema),
            default_dataset_id=default,
            dataset_ids=frozenset(d.dataset_id for d in datasets),
            events=EventIndex.of(self._store.list_events(org_id, schema_id)),
        )

    def dataset_for(self, route: Route, dataset_id: str | None) -> str:
        if dataset_id is None:
            if route.default_dataset_id is None:
                raise InvalidRequestError(
                    "The schema has no default dataset; name one in header.datasetId",
                    violations=(Violation("/header/datasetId", "required", "datasetId needed"),),
                )
            return route.default_dataset_id
        if dataset_id not in route.dataset_ids:
            # A dataset created after the route was cached: look again once.
            schema = route.compiled.schema
            self.forget_schema(schema.schema_id)
            fresh = self.route(schema.org_id, schema.schema_id, schema.version)
            if dataset_id not in fresh.dataset_ids:
                raise InvalidRequestError(
                    f"Dataset {dataset_id} does not exist or does not belong to schema "
                    f"{schema.schema_id}",
                    violations=(
                        Violation(
                            "/header/datasetId", "enum", "not a dataset of the message's schema"
                        ),
                    ),
                )
        return dataset_id
