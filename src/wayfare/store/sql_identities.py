"""The identity graph over SQL, written once for both SQL stores (store/ports.py
``IdentityGraph``): the statements, and how rows become persons. An adapter supplies the
connections (``_one``, ``_all``, ``_tx``, as for store/sql_resources.py) and, on PostgreSQL,
the locks that make concurrent links take turns (``_lock``); SQLite's writers take turns
already.

``link_arrivals`` runs inside a transaction the caller holds, so the journey engine's commit
links the identities of what it consumed in its own transaction: the persons of all of them
read in one pass, the rule applied to each message in turn in memory, what changed written
once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from wayfare.errors import StoreError
from wayfare.model.identities import Identity, Namespace
from wayfare.model.identity_graph import (
    Arrival,
    Decide,
    DropCause,
    Dropped,
    GraphChange,
    Link,
    Merge,
    Person,
)
from wayfare.store.sql_resources import SQLDatabase, Statements, insert_values, marks

MAX_LOCK_ROUNDS = 10
"""Rounds of reading the persons and locking them before giving up (each round finds
persons merged meanwhile; more than two is already rare)."""


class Locks(Protocol):
    def __call__(self, conn: Statements, keys: Collection[str]) -> None: ...


def _rows(conn: Statements, sql: str, params: Sequence[Any]) -> list[Any]:
    cursor: Any = conn.execute(sql, params)
    rows: list[Any] = cursor.fetchall()
    return rows


def owners_in(conn: Statements, org_id: str, identities: Sequence[Identity]) -> list[str]:
    """Ids of the persons holding any of ``identities``, sorted."""
    found: set[str] = set()
    for start in range(0, len(identities), 200):
        where, params = _holding(org_id, identities[start : start + 200])
        sql = f"SELECT DISTINCT person_id FROM identity_links WHERE {where}"
        found.update(row[0] for row in _rows(conn, sql, params))
    return sorted(found)


def _holding(org_id: str, identities: Sequence[Identity]) -> tuple[str, tuple[str, ...]]:
    """The condition on identity_links of the links of ``identities``, and its parameters.
    The org in every term: SQLite then looks each one up in the primary key (its OR
    optimisation); with the org outside the OR it scans all of the org's links."""
    where = " OR ".join(["(org_id = ? AND namespace = ? AND id = ?)"] * len(identities))
    return where, tuple(v for x in identities for v in (org_id, x.namespace, x.id))


def persons_in(conn: Statements, org_id: str, person_ids: Sequence[str]) -> list[Person]:
    """These persons, with their links (by identity)."""
    created: dict[str, int] = {}
    links: dict[str, list[Link]] = {}
    for start in range(0, len(person_ids), 500):
        part = person_ids[start : start + 500]
        places = marks(len(part))
        for pid, created_ms in _rows(
            conn,
            "SELECT person_id, created_ms FROM persons "
            f"WHERE org_id = ? AND person_id IN ({places})",
            [org_id, *part],
        ):
            created[pid] = int(created_ms)
        for pid, namespace, id_, linked_ms in _rows(
            conn,
            "SELECT person_id, namespace, id, linked_ms FROM identity_links "
            f"WHERE org_id = ? AND person_id IN ({places})",
            [org_id, *part],
        ):
            links.setdefault(pid, []).append(Link(Identity(namespace, id_), int(linked_ms)))
    return [Person(p, created[p], tuple(sorted(links.get(p, [])))) for p in sorted(created)]


def link_arrivals(
    conn: Statements, arrivals: Sequence[Arrival], lock: Locks | None = None
) -> list[tuple[str, GraphChange]]:
    """Link each arrival's identities, in order, inside the caller's transaction (the journey
    engine's commit); ``lock`` as for ``link_all`` (none: SQLite). The identities of all of
    them are locked first, in one sorted pass. Each org and what each of its arrivals changed,
    in the order of the arrivals of that org."""
    lock = lock or _no_locks
    lock(conn, [f"{a.org_id}/identity/{x}" for a in arrivals for x in a.identities])
    by_org: dict[str, list[tuple[Sequence[Identity], Decide]]] = {}
    for arrival in arrivals:
        by_org.setdefault(arrival.org_id, []).append((arrival.identities, arrival.decide))
    changed: list[tuple[str, GraphChange]] = []
    for org_id, items in by_org.items():
        changed.extend((org_id, change) for change in link_all(conn, org_id, items, lock))
    return changed


def _no_locks(conn: Statements, keys: Collection[str]) -> None:
    """SQLite's writers take turns already."""


def link_all(
    conn: Statements,
    org_id: str,
    items: Sequence[tuple[Sequence[Identity], Decide]],
    lock: Locks,
) -> list[GraphChange]:
    """Link each item's identities in turn, inside the caller's transaction: lock the
    identities, then the persons holding any of them (reading again until those are all
    locked: one may have been merged meanwhile), read those persons once, decide each item
    on them as the items before it left them, store what changed in the end."""
    identities = list(dict.fromkeys(x for arrived, _ in items for x in arrived))
    lock(conn, [f"{org_id}/identity/{x}" for x in identities])
    locked: set[str] = set()
    for _ in range(MAX_LOCK_ROUNDS):
        owners = owners_in(conn, org_id, identities)
        if locked.issuperset(owners):
            break
        lock(conn, [f"{org_id}/person/{pid}" for pid in owners if pid not in locked])
        locked.update(owners)
    else:
        raise StoreError("the persons of these identities kept changing while linking them")
    pending = _Pending(persons_in(conn, org_id, owners))
    changes = []
    for arrived, decide in items:
        change = decide(pending.holding(arrived))
        pending.apply(change)
        changes.append(change)
    pending.store(conn, org_id)
    return changes


class _Pending:
    """Persons read from the store, as the changes decided since have left them, and what
    to write."""

    def __init__(self, persons: Sequence[Person]) -> None:
        self.persons = {p.person_id: p for p in persons}
        self.stored = set(self.persons)
        self.owner = {x: p.person_id for p in persons for x in p.identities}
        self.touched: set[str] = set()
        self.removed: set[str] = set()
        self.merges: list[tuple[Merge, int]] = []
        self.drops: list[tuple[Dropped, int]] = []

    def holding(self, identities: Sequence[Identity]) -> list[Person]:
        pids = sorted({self.owner[x] for x in identities if x in self.owner})
        return [self.persons[pid] for pid in pids]

    def apply(self, change: GraphChange) -> None:
        leaving = [m.absorbed for m in change.merges] + [p.person_id for p in change.persons]
        for pid in leaving:
            for x in self.persons[pid].identities if pid in self.persons else ():
                if self.owner.get(x) == pid:
                    del self.owner[x]
        for merge in change.merges:
            self.persons.pop(merge.absorbed, None)
            self.removed.add(merge.absorbed)
            self.merges.append((merge, change.at_ms))
        for person in change.persons:
            self.persons[person.person_id] = person
            self.touched.add(person.person_id)
            self.owner.update((x, person.person_id) for x in person.identities)
        self.drops.extend((d, change.at_ms) for d in change.dropped)

    def store(self, conn: Statements, org_id: str) -> None:
        for pid in sorted((self.touched | self.removed) & self.stored):
            conn.execute(
                "DELETE FROM identity_links WHERE org_id = ? AND person_id = ?", (org_id, pid)
            )
        for merge, at in self.merges:
            conn.execute(
                "DELETE FROM persons WHERE org_id = ? AND person_id = ?", (org_id, merge.absorbed)
            )
            conn.execute(
                "UPDATE person_merges SET survivor = ? WHERE org_id = ? AND survivor = ?",
                (merge.survivor, org_id, merge.absorbed),
            )
            conn.execute(
                "INSERT INTO person_merges (org_id, absorbed, survivor, merged_ms) "
                "VALUES (?, ?, ?, ?)",
                (org_id, merge.absorbed, merge.survivor, at),
            )
        kept = [self.persons[pid] for pid in sorted(self.touched - self.removed)]
        insert_values(
            conn,
            "persons (org_id, person_id, created_ms)",
            [(org_id, p.person_id, p.created_ms) for p in kept],
            " ON CONFLICT (org_id, person_id) DO NOTHING",
        )
        insert_values(
            conn,
            "identity_links (org_id, namespace, id, person_id, linked_ms)",
            [
                (org_id, x.identity.namespace, x.identity.id, p.person_id, x.linked_ms)
                for p in kept
                for x in p.links
            ],
        )
        insert_values(
            conn,
            "identity_drops (org_id, person_id, namespace, id, cause, dropped_ms)",
            [
                (org_id, d.person_id, d.identity.namespace, d.identity.id, d.cause, at)
                for d, at in self.drops
            ],
        )


_PERSON_ROWS = (
    ("identity_links", "person_id"),
    ("persons", "person_id"),
    ("person_merges", "survivor"),
    ("identity_drops", "person_id"),
)
"""What a person leaves in the graph's tables: each table, and its column of the person
(its links first: ``forget_person`` counts them)."""


class SQLIdentityGraph(SQLDatabase):
    """IdentityGraph over SQL; an adapter gives it connections and ``_lock``."""

    def _lock_keys(self, conn: Statements, keys: Collection[str]) -> None:
        """Hold a lock on each key until the transaction ends (none needed on SQLite)."""

    def link(self, org_id: str, arrived: Sequence[Identity], decide: Decide) -> GraphChange:
        with self._tx() as conn:
            return link_all(conn, org_id, [(arrived, decide)], self._lock_keys)[0]

    def person_of(self, org_id: str, identity: Identity) -> Person | None:
        row = self._one(
            "SELECT person_id FROM identity_links WHERE org_id = ? AND namespace = ? AND id = ?",
            (org_id, identity.namespace, identity.id),
        )
        return None if row is None else self.person(org_id, row["person_id"])

    def persons_of(self, org_id: str, identities: Collection[Identity]) -> dict[Identity, Person]:
        wanted = sorted(set(identities))
        owner: dict[Identity, str] = {}
        for start in range(0, len(wanted), 200):
            where, params = _holding(org_id, wanted[start : start + 200])
            sql = f"SELECT namespace, id, person_id FROM identity_links WHERE {where}"
            for r in self._all(sql, params):
                owner[Identity(r["namespace"], r["id"])] = r["person_id"]
        persons = {pid: self.person(org_id, pid) for pid in sorted(set(owner.values()))}
        return {x: p for x, pid in owner.items() if (p := persons[pid]) is not None}

    def person(self, org_id: str, person_id: str) -> Person | None:
        merged = self._one(
            "SELECT survivor FROM person_merges WHERE org_id = ? AND absorbed = ?",
            (org_id, person_id),
        )
        if merged is not None:
            person_id = merged["survivor"]
        person = self._one(
            "SELECT created_ms FROM persons WHERE org_id = ? AND person_id = ?",
            (org_id, person_id),
        )
        if person is None:
            return None
        rows = self._all(
            "SELECT namespace, id, linked_ms FROM identity_links "
            "WHERE org_id = ? AND person_id = ?",
            (org_id, person_id),
        )
        links = [Link(Identity(r["namespace"], r["id"]), int(r["linked_ms"])) for r in rows]
        return Person(person_id, int(person["created_ms"]), tuple(sorted(links)))

    def dropped_links(self, org_id: str, person_id: str, limit: int = 100) -> list[Dropped]:
        rows = self._all(
            "SELECT namespace, id, cause FROM identity_drops WHERE org_id = ? AND person_id = ? "
            "ORDER BY seq DESC LIMIT ?",
            (org_id, person_id, limit),
        )
        return [
            Dropped(Identity(r["namespace"], r["id"]), person_id, DropCause(r["cause"]))
            for r in rows
        ]

    def forget_person(self, org_id: str, person_id: str) -> int:
        with self._tx() as conn:
            found = _rows(
                conn,
                "SELECT survivor FROM person_merges WHERE org_id = ? AND absorbed = ?",
                (org_id, person_id),
            )
            if found:
                person_id = found[0][0]
            counts = [
                conn.execute(
                    f"DELETE FROM {table} WHERE org_id = ? AND {column} = ?", (org_id, person_id)
                ).rowcount
                for table, column in _PERSON_ROWS
            ]
        return counts[0]

    def add_namespace(self, org_id: str, namespace: Namespace) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO identity_namespaces (org_id, code, name, is_unique, created_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (org_id, namespace.code, namespace.name, namespace.unique, namespace.created_ms),
            )

    def list_namespaces(self, org_id: str) -> list[Namespace]:
        rows = self._all(
            "SELECT * FROM identity_namespaces WHERE org_id = ? ORDER BY code", (org_id,)
        )
        return [
            Namespace(r["code"], r["name"], bool(r["is_unique"]), created_ms=r["created_ms"])
            for r in rows
        ]
