"""The identity graph in memory (store/ports.py ``IdentityGraph``), for tests: the contract
suite holds it to the same behaviour as SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence

from wayfare.errors import ConflictError
from wayfare.model.identities import Identity, Namespace
from wayfare.model.identity_graph import Decide, Dropped, GraphChange, Person, apply_change


class _Org:
    def __init__(self) -> None:
        self.persons: dict[str, Person] = {}
        self.owner: dict[Identity, str] = {}
        self.merged: dict[str, str] = {}
        self.drops: list[Dropped] = []
        self.namespaces: dict[str, Namespace] = {}


class MemoryIdentityGraph:
    def __init__(self) -> None:
        self._orgs: dict[str, _Org] = {}
        self._lock = threading.Lock()

    def _org(self, org_id: str) -> _Org:
        return self._orgs.setdefault(org_id, _Org())

    def link(self, org_id: str, arrived: Sequence[Identity], decide: Decide) -> GraphChange:
        with self._lock:
            org = self._org(org_id)
            owners = sorted({org.owner[x] for x in arrived if x in org.owner})
            change = decide([org.persons[pid] for pid in owners])
            for merge in change.merges:
                for absorbed, survivor in list(org.merged.items()):
                    if survivor == merge.absorbed:
                        org.merged[absorbed] = merge.survivor
                org.merged[merge.absorbed] = merge.survivor
            before = {pid: org.persons[pid] for pid in owners}
            after = apply_change(before, change)
            for person in before.values():
                for x in person.identities:
                    org.owner.pop(x, None)
            for pid in before.keys() - after.keys():
                del org.persons[pid]
            for person in after.values():
                org.persons[person.person_id] = person
                org.owner.update((x, person.person_id) for x in person.identities)
            org.drops.extend(change.dropped)
            return change

    def person_of(self, org_id: str, identity: Identity) -> Person | None:
        with self._lock:
            org = self._org(org_id)
            pid = org.owner.get(identity)
            return None if pid is None else org.persons[pid]

    def persons_of(self, org_id: str, identities: Collection[Identity]) -> dict[Identity, Person]:
        with self._lock:
            org = self._org(org_id)
            held = {x: org.owner.get(x) for x in identities}
            return {x: org.persons[pid] for x, pid in held.items() if pid is not None}

    def person(self, org_id: str, person_id: str) -> Person | None:
        with self._lock:
            org = self._org(org_id)
            return org.persons.get(org.merged.get(person_id, person_id))

    def dropped_links(self, org_id: str, person_id: str, limit: int = 100) -> list[Dropped]:
        with self._lock:
            drops = self._org(org_id).drops
            return [d for d in reversed(drops) if d.person_id == person_id][:limit]

    def forget_person(self, org_id: str, person_id: str) -> int:
        with self._lock:
            org = self._org(org_id)
            person_id = org.merged.get(person_id, person_id)
            person = org.persons.pop(person_id, None)
            if person is None:
                return 0
            for x in person.identities:
                org.owner.pop(x, None)
            org.merged = {a: s for a, s in org.merged.items() if s != person_id}
            org.drops = [d for d in org.drops if d.person_id != person_id]
            return len(person.links)

    def add_namespace(self, org_id: str, namespace: Namespace) -> None:
        with self._lock:
            known = self._org(org_id).namespaces
            if namespace.code in known:
                raise ConflictError(f"namespace {namespace.code!r} exists")
            known[namespace.code] = namespace

    def list_namespaces(self, org_id: str) -> list[Namespace]:
        with self._lock:
            return sorted(self._org(org_id).namespaces.values(), key=lambda ns: ns.code)

    def close(self) -> None:
        pass
