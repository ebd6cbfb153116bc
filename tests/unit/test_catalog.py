"""The catalog's inlet and token caches stay bounded whatever callers send."""

from __future__ import annotations

import secrets

import pytest

from wayfare.clock import FakeClock
from wayfare.errors import ForbiddenError, NotFoundError
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.lru import LruMap
from wayfare.model.records import AccessToken
from wayfare.model.resources import Inlet
from wayfare.registry.inlets import InletRegistry
from wayfare.store.memory import MemoryStore

ORG = "ACME@AdobeOrg"


class CountingStore(MemoryStore):
    """The memory store, counting the inlet and token lookups the catalog makes."""

    def __init__(self) -> None:
        super().__init__()
        self.inlet_reads = 0
        self.token_reads = 0

    def get_inlet(self, inlet_id: str) -> Inlet | None:
        self.inlet_reads += 1
        return super().get_inlet(inlet_id)

    def get_token(self, token_hash: str) -> AccessToken | None:
        self.token_reads += 1
        return super().get_token(token_hash)


def test_unknown_inlets_are_remembered_but_only_the_most_recent_ones() -> None:
    store = CountingStore()
    catalog = Catalog(store, FakeClock(), max_entries=100)
    first = secrets.token_hex(32)
    with pytest.raises(NotFoundError):
        catalog.inlet(first)
    with pytest.raises(NotFoundError):
        catalog.inlet(first)
    assert store.inlet_reads == 1  # a miss is cached...

    for _ in range(1000):
        with pytest.raises(NotFoundError):
            catalog.inlet(secrets.token_hex(32))
    with pytest.raises(NotFoundError):
        catalog.inlet(first)
    assert store.inlet_reads == 1002  # ...until newer ones push it out


def test_an_inlet_in_use_stays_cached_while_unknown_ids_pass_by() -> None:
    store = CountingStore()
    catalog = Catalog(store, FakeClock(), max_entries=10)
    inlet, _ = InletRegistry(store, catalog, FakeClock()).create(ORG, {"name": "web"})
    for _ in range(100):
        catalog.inlet(inlet.inlet_id)
        with pytest.raises(NotFoundError):
            catalog.inlet(secrets.token_hex(32))
    assert store.inlet_reads == 101


def test_an_inlet_id_longer_than_any_real_one_is_not_looked_up() -> None:
    store = CountingStore()
    catalog = Catalog(store, FakeClock())
    with pytest.raises(NotFoundError) as caught:
        catalog.inlet("a" * 60_000)
    assert store.inlet_reads == 0
    assert len(caught.value.message) < 300


def test_unknown_tokens_are_remembered_but_only_the_most_recent_ones() -> None:
    store = CountingStore()
    clock = FakeClock()
    catalog = Catalog(store, clock, max_entries=50)
    inlet, token = InletRegistry(store, catalog, clock).create(
        ORG, {"name": "web", "authenticationRequired": True}
    )
    assert token is not None
    first = "wf_" + secrets.token_urlsafe(32)
    for guess in [first, first] + ["wf_" + secrets.token_urlsafe(32) for _ in range(500)]:
        with pytest.raises(ForbiddenError):
            catalog.check_token(inlet, guess)
    assert store.token_reads == 501
    with pytest.raises(ForbiddenError):
        catalog.check_token(inlet, first)
    assert store.token_reads == 502
    catalog.check_token(inlet, token.token)  # the real one still works


def test_a_token_longer_than_any_real_one_is_not_looked_up() -> None:
    store = CountingStore()
    catalog = Catalog(store, FakeClock())
    inlet, _ = InletRegistry(store, catalog, FakeClock()).create(
        ORG, {"name": "web", "authenticationRequired": True}
    )
    with pytest.raises(ForbiddenError):
        catalog.check_token(inlet, "x" * 100_000)
    assert store.token_reads == 0


def test_the_lru_map_drops_the_least_recently_used() -> None:
    entries: LruMap[str, int] = LruMap(2)
    entries["a"] = 1
    entries["b"] = 2
    assert entries.get("a") == 1  # a is now the most recent
    entries["c"] = 3
    assert (entries.get("a"), entries.get("b"), entries.get("c")) == (1, None, 3)
    assert len(entries) == 2
    del entries["a"]
    assert entries.pop("c") == 3
    assert len(entries) == 0
