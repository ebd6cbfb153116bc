"""The in-memory store: a ResourceStore and a MessageWriter over plain dicts and lists.

It ships in the package, like dramatiq's stub broker, so that unit tests run the real use
cases without a file, and the contract suite holds it to the same behaviour as SQLite.
Nothing survives the process; use it from one thread (one event loop).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import orjson

from wayfare.errors import ConflictError, StoreError
from wayfare.model.events import EventConfig
from wayfare.model.matching import MatchRecord
from wayfare.model.records import (
    AccessToken,
    FailedRecord,
    FirstMessage,
    IncomingMessage,
    Record,
    WriteOutcome,
    repeat_of,
)
from wayfare.model.resources import Dataset, Inlet, Org, Schema


class MemoryStore:
    """ResourceStore in memory. ``records``, ``failures`` and ``message_ids`` are the tables
    a MemoryWriter appends to, in ``seq`` order."""

    def __init__(self) -> None:
        self._orgs: dict[str, Org] = {}
        self._schemas: dict[tuple[str, int], Schema] = {}
        self._datasets: dict[str, Dataset] = {}
        self._inlets: dict[str, Inlet] = {}
        self._tokens: dict[str, AccessToken] = {}
        self.records: list[Record] = []
        self._record_seqs = itertools.count(1)
        self.failures: list[FailedRecord] = []
        self.message_ids: dict[tuple[str, str], FirstMessage] = {}
        self._events: dict[tuple[str, str], EventConfig] = {}
        self.matches: list[tuple[str, MatchRecord]] = []
        self._generation = 0

    def resource_generation(self) -> int:
        return self._generation

    def _changed(self) -> None:
        """A schema, dataset, inlet, token or event configuration changed."""
        self._generation += 1

    # orgs
    def get_org(self, org_id: str) -> Org | None:
        return self._orgs.get(org_id)

    def put_org(self, org: Org) -> None:
        known = self._orgs.get(org.org_id)
        self._orgs[org.org_id] = (
            dataclasses.replace(known, tenant_id=org.tenant_id) if known else org
        )

    def list_orgs(self) -> list[Org]:
        return sorted(self._orgs.values(), key=lambda org: org.org_id)

    # schemas
    def add_schema(self, schema: Schema, default_dataset: Dataset | None) -> None:
        if any(
            s.org_id == schema.org_id and s.name == schema.name and s.schema_id != schema.schema_id
            for s in self._schemas.values()
        ):
            raise ConflictError(f"a schema named {schema.name!r} already exists")
        key = (schema.schema_id, schema.version)
        if key in self._schemas:
            raise ConflictError(f"version {schema.version} of {schema.schema_id} already exists")
        if default_dataset is not None:
            self._check_new_dataset(default_dataset)
            self._datasets[default_dataset.dataset_id] = default_dataset
        self._schemas[key] = schema
        self._changed()

    def get_schema(self, schema_id: str, version: int | None = None) -> Schema | None:
        if version is not None:
            return self._schemas.get((schema_id, version))
        return _latest(s for s in self._schemas.values() if s.schema_id == schema_id)

    def find_schema(self, org_id: str, key: str) -> Schema | None:
        # A schema answers to the name of its latest version only (a renamed one lets go).
        return next(
            (s for s in self.list_schemas(org_id) if key in (s.schema_id, s.alt_id, s.name)),
            None,
        )

    def list_schemas(self, org_id: str) -> list[Schema]:
        latest: dict[str, Schema] = {}
        for s in sorted(self._schemas.values(), key=lambda s: s.version):
            if s.org_id == org_id:
                latest[s.schema_id] = s
        return sorted(latest.values(), key=lambda s: s.name)

    def schema_versions(self, schema_id: str) -> list[Schema]:
        found = [s for s in self._schemas.values() if s.schema_id == schema_id]
        return sorted(found, key=lambda s: s.version)

    # datasets
    def _check_new_dataset(self, dataset: Dataset) -> None:
        if dataset.dataset_id in self._datasets:
            raise ConflictError(f"dataset {dataset.dataset_id} already exists")

    def add_dataset(self, dataset: Dataset) -> None:
        self._check_new_dataset(dataset)
        self._datasets[dataset.dataset_id] = dataset
        self._changed()

    def get_dataset(self, dataset_id: str) -> Dataset | None:
        return self._datasets.get(dataset_id)

    def list_datasets(self, org_id: str, schema_id: str | None = None) -> list[Dataset]:
        found = [d for d in self._datasets.values() if d.org_id == org_id]
        if schema_id is None:
            return sorted(found, key=lambda d: (d.created_ms, d.name))
        found = [d for d in found if d.schema_id == schema_id]
        return sorted(found, key=lambda d: (not d.is_default, d.created_ms))

    def set_dataset_retention(self, dataset_id: str, days: int | None) -> None:
        dataset = self._datasets[dataset_id]
        self._datasets[dataset_id] = dataclasses.replace(dataset, retention_days=days)
        self._changed()

    def enable_dataset_profile(self, dataset_id: str) -> None:
        dataset = self._datasets[dataset_id]
        self._datasets[dataset_id] = dataclasses.replace(dataset, profile=True)
        self._changed()

    def datasets_with_retention(self) -> list[Dataset]:
        return [d for d in self._datasets.values() if d.retention_days is not None]

    def delete_records_before(self, dataset_id: str, before_ms: int, limit: int) -> int:
        def old(r: Record | FailedRecord) -> bool:
            return r.dataset_id == dataset_id and r.received_ms < before_ms

        gone_records = {r.seq for r in [r for r in self.records if old(r)][:limit]}
        gone_failures = {f.seq for f in [f for f in self.failures if old(f)][:limit]}
        self.records = [r for r in self.records if r.seq not in gone_records]
        self.failures = [f for f in self.failures if f.seq not in gone_failures]
        return len(gone_records) + len(gone_failures)

    def delete_failures(self, org_id: str, seqs: Collection[int]) -> int:
        gone = {f.seq for f in self.failures if f.org_id == org_id and f.seq in seqs}
        self.failures = [f for f in self.failures if f.seq not in gone]
        return len(gone)

    def delete_records(self, dataset_id: str, seqs: Collection[int]) -> int:
        gone = {r.seq: r for r in self.records if r.dataset_id == dataset_id and r.seq in seqs}
        self.records = [r for r in self.records if r.seq not in gone]
        self.matches = [(o, m) for o, m in self.matches if m.seq not in gone]
        return len(gone)

    # inlets
    def _check_inlet_name(self, inlet: Inlet) -> None:
        if any(
            i.org_id == inlet.org_id and i.name == inlet.name and i.inlet_id != inlet.inlet_id
            for i in self._inlets.values()
        ):
            raise ConflictError(f"an inlet named {inlet.name!r} already exists")

    def add_inlet(self, inlet: Inlet) -> None:
        if inlet.inlet_id in self._inlets:
            raise ConflictError(f"inlet {inlet.inlet_id} already exists")
        self._check_inlet_name(inlet)
        self._inlets[inlet.inlet_id] = dataclasses.replace(inlet, extra={})  # as SQLite keeps it
        self._changed()

    def update_inlet(self, inlet: Inlet) -> None:
        current = self._inlets.get(inlet.inlet_id)
        if current is None:
            return
        self._check_inlet_name(inlet)
        self._inlets[inlet.inlet_id] = dataclasses.replace(
            inlet, org_id=current.org_id, created_ms=current.created_ms, extra={}
        )
        self._changed()

    def delete_inlet(self, inlet_id: str) -> None:
        if self._inlets.pop(inlet_id, None) is not None:
            self._changed()
        self.revoke_tokens(inlet_id)

    def get_inlet(self, inlet_id: str) -> Inlet | None:
        return self._inlets.get(inlet_id)

    def list_inlets(self, org_id: str) -> list[Inlet]:
        found = [i for i in self._inlets.values() if i.org_id == org_id]
        return sorted(found, key=lambda i: i.created_ms)

    # tokens
    def add_token(self, token: AccessToken) -> None:
        if token.token_hash in self._tokens:
            raise ConflictError("the token already exists")
        self._tokens[token.token_hash] = token
        self._changed()

    def get_token(self, token_hash: str) -> AccessToken | None:
        return self._tokens.get(token_hash)

    def revoke_tokens(self, inlet_id: str) -> int:
        doomed = [h for h, t in self._tokens.items() if t.inlet_id == inlet_id]
        for token_hash in doomed:
            del self._tokens[token_hash]
        if doomed:
            self._changed()
        return len(doomed)

    # records and failures
    def list_records(
        self,
        dataset_id: str,
        *,
        limit: int,
        after_seq: int | None = None,
        following: bool = False,  # every record is stored in seq order, at once
    ) -> list[Record]:
        found = [r for r in self.records if r.dataset_id == dataset_id]
        if after_seq is None:
            return found[-limit:] if limit > 0 else []
        return [r for r in found if r.seq > after_seq][:limit]

    def count_records(self, dataset_id: str) -> int:
        return sum(1 for r in self.records if r.dataset_id == dataset_id)

    def list_failures(
        self,
        org_id: str,
        *,
        inlet_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_seq: int | None = None,
    ) -> list[FailedRecord]:
        found = [
            f
            for f in reversed(self.failures)
            if f.org_id == org_id
            and (before_seq is None or f.seq < before_seq)
            and (inlet_id is None or f.inlet_id == inlet_id)
            and (since_ms is None or f.received_ms >= since_ms)
            and (until_ms is None or f.received_ms < until_ms)
        ]
        return found[: max(limit, 0)]

    # events
    def add_event(self, event: EventConfig) -> None:
        key = (event.org_id, event.name)
        clash = event.event_id is not None and any(
            e.event_id == event.event_id for e in self._events.values()
        )
        if key in self._events or clash:
            raise ConflictError(f"an event named {event.name!r} already exists")
        self._events[key] = event
        self._changed()

    def update_event(self, event: EventConfig) -> None:
        if (event.org_id, event.name) in self._events:
            self._events[(event.org_id, event.name)] = event
            self._changed()

    def delete_event(self, org_id: str, name: str) -> None:
        if self._events.pop((org_id, name), None) is not None:
            self._changed()

    def get_event(self, org_id: str, name: str) -> EventConfig | None:
        return self._events.get((org_id, name))

    def list_events(self, org_id: str, schema_id: str | None = None) -> list[EventConfig]:
        return sorted(
            (
                e
                for (org, _), e in self._events.items()
                if org == org_id and (schema_id is None or e.schema_id == schema_id)
            ),
            key=lambda e: e.name,
        )

    def list_event_matches(
        self, org_id: str, name: str, *, limit: int, also: Sequence[str] = ()
    ) -> list[MatchRecord]:
        names = {name, *also}
        found = [
            m for org, m in reversed(self.matches) if org == org_id and m.match.event_name in names
        ]
        return found[:limit]

    def close(self) -> None:
        pass

    def store_messages(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        """Store accepted messages all at once: records, failed records, match outcomes,
        msgIds (a msgId stored before is a duplicate, answered with the first xactionId, or a
        conflict when its message differs)."""
        store = self
        known = dict(store.message_ids)
        records: list[Record] = []
        failures: list[FailedRecord] = []
        outcomes: list[WriteOutcome] = []
        matches: list[tuple[str, MatchRecord]] = []
        for m in messages:
            if m.msg_id is not None:
                first = known.get((m.org_id, m.msg_id))
                if first is not None:
                    outcomes.append(repeat_of(first, m))
                    continue
                known[(m.org_id, m.msg_id)] = FirstMessage(m.xaction_id, m.digest)
            if m.reasons is not None:
                failures.append(_failure(m, len(store.failures) + len(failures) + 1))
            elif m.dataset_id is None:
                raise StoreError(f"message {m.xaction_id} is valid but names no dataset")
            else:
                seq = next(store._record_seqs)
                records.append(_record(m, m.dataset_id, seq))
                matches.extend(
                    (m.org_id, MatchRecord(seq, m.xaction_id, m.received_ms, match))
                    for match in m.matches or ()
                )
            outcomes.append(WriteOutcome(m.xaction_id, False))
        store.records += records
        store.failures += failures
        store.message_ids = known
        store.matches += matches
        return outcomes


def _latest(schemas: Iterable[Schema]) -> Schema | None:
    return max(schemas, key=lambda s: s.version, default=None)


class MemoryWriter:
    """MessageWriter over a MemoryStore: each ``write`` commits all its messages or none.

    ``pause()`` holds writes back (they count as pending) until ``resume()``, so tests can
    watch backpressure without timing.
    """

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._running = False
        self._pending = 0
        self._open = asyncio.Event()
        self._open.set()

    @property
    def pending(self) -> int:
        return self._pending

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False

    def pause(self) -> None:
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        if not self._running:
            raise StoreError("the writer is not running")
        self._pending += len(messages)
        try:
            await self._open.wait()
            return self._store.store_messages(messages)
        finally:
            self._pending -= len(messages)


def _record(m: IncomingMessage, dataset_id: str, seq: int) -> Record:
    return Record(
        seq=seq,
        org_id=m.org_id,
        dataset_id=dataset_id,
        inlet_id=m.inlet_id,
        schema_id=m.schema_id,
        xaction_id=m.xaction_id,
        msg_id=m.msg_id,
        received_ms=m.received_ms,
        message=orjson.loads(m.payload),
    )


def _failure(m: IncomingMessage, seq: int) -> FailedRecord:
    reasons: list[dict[str, Any]] = orjson.loads(m.reasons or b"[]")
    return FailedRecord(
        seq=seq,
        org_id=m.org_id,
        inlet_id=m.inlet_id,
        dataset_id=m.dataset_id,
        schema_id=m.schema_id,
        xaction_id=m.xaction_id,
        msg_id=m.msg_id,
        received_ms=m.received_ms,
        reasons=reasons,
        message=orjson.loads(m.payload),
    )
