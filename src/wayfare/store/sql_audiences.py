"""AudienceStore over SQL, written once for both SQL stores (``?`` placeholders), as
store/sql_profiles.py is: an adapter supplies the connections.

An audience is a row with its condition's source, parsed again when read (it parsed when it
was stored, so it parses); a membership is a row per (org, audience, person); an identity's
event is a row per occurrence, deleted once older than the longest window.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from wayfare.model.audiences import (
    MAX_COUNT,
    Audience,
    AudienceEntry,
    Membership,
    MembershipChange,
)
from wayfare.model.expressions import parse
from wayfare.model.identities import Identity
from wayfare.model.identity_graph import Person
from wayfare.model.profile_fragments import Fragment
from wayfare.model.profile_merge import MergePolicy
from wayfare.store.sql_identities import Locks, owners_in, persons_in
from wayfare.store.sql_identities import _rows as rows_of
from wayfare.store.sql_profiles import fragments_in, identities_clause, merge_policy_in
from wayfare.store.sql_resources import Row, SQLDatabase, Statements

_MEMBERSHIPS_OF = (
    "SELECT audience, person_id, entered_ms, exited_ms FROM audience_memberships "
    "WHERE org_id = ? AND person_id = ? ORDER BY audience"
)
_KEEP_MEMBERSHIP = (
    "INSERT INTO audience_memberships (org_id, audience, person_id, entered_ms, exited_ms) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, audience, person_id) DO UPDATE "
    "SET entered_ms = excluded.entered_ms, exited_ms = excluded.exited_ms"
)
_QUEUE_ENTRY = (
    "INSERT INTO audience_entries (org_id, audience, status, person_id, start_namespace, "
    "namespace, identity_id, partition, at_ms, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_KEEP_EVENT = (
    "INSERT INTO identity_events (org_id, namespace, identity_id, event, at_ms) "
    "VALUES (?, ?, ?, ?, ?)"
)


def _count_query(
    org_id: str,
    identities: Collection[Identity],
    event: str,
    window: int,
    now_ms: int,
    at_most: int,
) -> tuple[str, tuple[Any, ...]]:
    """How many events named ``event`` the identities had in the window up to ``now_ms``,
    at most ``at_most`` (no more are read)."""
    in_window = "event = ? AND at_ms > ? AND at_ms <= ?"
    clause, params = identities_clause(
        org_id, identities, in_window, (event, now_ms - window, now_ms)
    )
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM identity_events WHERE {clause} LIMIT ?) AS found"
    return sql, (*params, at_most)


def _audience(row: Row) -> Audience:
    return Audience(
        org_id=row["org_id"],
        name=row["name"],
        condition=parse(row["condition"]),
        description=row["description"],
        created_ms=row["created_ms"],
    )


def _membership(row: Row) -> Membership:
    return Membership(row["audience"], row["person_id"], row["entered_ms"], row["exited_ms"])


class SQLAudienceStore(SQLDatabase):
    """AudienceStore on the statements both SQL stores take."""

    def add_audience(self, audience: Audience) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO audiences (org_id, name, condition, description, created_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    audience.org_id,
                    audience.name,
                    audience.condition.source,
                    audience.description,
                    audience.created_ms,
                ),
            )

    def get_audience(self, org_id: str, name: str) -> Audience | None:
        row = self._one("SELECT * FROM audiences WHERE org_id = ? AND name = ?", (org_id, name))
        return _audience(row) if row else None

    def list_audiences(self, org_id: str) -> list[Audience]:
        rows = self._all("SELECT * FROM audiences WHERE org_id = ? ORDER BY name", (org_id,))
        return [_audience(row) for row in rows]

    def record_membership_changes(self, org_id: str, changes: Sequence[MembershipChange]) -> None:
        if not changes:
            return
        with self._tx() as conn:
            InTransaction(conn).record_membership_changes(org_id, changes)

    def membership(self, org_id: str, audience: str, person_id: str) -> Membership | None:
        row = self._one(
            "SELECT * FROM audience_memberships WHERE org_id = ? AND audience = ? "
            "AND person_id = ?",
            (org_id, audience, person_id),
        )
        return _membership(row) if row else None

    def memberships_of(self, org_id: str, person_id: str) -> list[Membership]:
        return [_membership(row) for row in self._all(_MEMBERSHIPS_OF, (org_id, person_id))]

    def members(
        self, org_id: str, audience: str, *, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        rows = self._all(
            "SELECT * FROM audience_memberships WHERE org_id = ? AND audience = ? "
            "AND exited_ms IS NULL AND person_id > ? ORDER BY person_id LIMIT ?",
            (org_id, audience, after or "", limit),
        )
        return [_membership(row) for row in rows]

    def members_after(
        self, after: tuple[str, str, str] | None, limit: int
    ) -> list[tuple[str, Membership]]:
        rows = self._all(
            "SELECT * FROM audience_memberships WHERE exited_ms IS NULL "
            "AND (org_id, audience, person_id) > (?, ?, ?) "
            "ORDER BY org_id, audience, person_id LIMIT ?",
            (*(after or ("", "", "")), limit),
        )
        return [(row["org_id"], _membership(row)) for row in rows]

    def add_identity_event(self, org_id: str, identity: Identity, event: str, at_ms: int) -> None:
        with self._tx() as conn:
            InTransaction(conn).add_identity_event(org_id, identity, event, at_ms)

    def count_identity_events(
        self,
        org_id: str,
        identities: Collection[Identity],
        windows: Collection[tuple[str, int]],
        now_ms: int,
        at_most: int = MAX_COUNT,
    ) -> dict[tuple[str, int], int]:
        with self._tx() as conn:  # the engine counts in its commit (InTransaction)
            return InTransaction(conn).count_identity_events(
                org_id, identities, windows, now_ms, at_most
            )

    def forget_person(
        self, org_id: str, person_id: str, identities: Collection[Identity]
    ) -> tuple[int, int]:
        with self._tx() as conn:
            memberships = conn.execute(
                "DELETE FROM audience_memberships WHERE org_id = ? AND person_id = ?",
                (org_id, person_id),
            ).rowcount
            events = sum(
                conn.execute(
                    "DELETE FROM identity_events WHERE org_id = ? AND namespace = ? "
                    "AND identity_id = ?",
                    (org_id, key.namespace, key.id),
                ).rowcount
                for key in sorted(identities)
            )
            return memberships, events

    def forget_identity_events_before(self, before_ms: int, limit: int) -> int:
        with self._tx() as conn:
            return conn.execute(
                "DELETE FROM identity_events WHERE at_ms < ? AND (org_id, namespace, "
                "identity_id, event, at_ms) IN (SELECT org_id, namespace, identity_id, event, "
                "at_ms FROM identity_events WHERE at_ms < ? ORDER BY at_ms LIMIT ?"
                f"{self.skip_claimed})",
                (before_ms, before_ms, limit),
            ).rowcount


class InTransaction:
    """What audience checks read and write (store/audience_checks.py), on the journey
    engine's commit's transaction (rows by position there)."""

    def __init__(self, conn: Statements, lock: Locks | None = None) -> None:
        self._conn = conn
        self._lock = lock
        """PostgreSQL's advisory locks (SQLite's writers take turns already)."""

    def hold_person(self, org_id: str, person_id: str) -> None:
        if self._lock is not None:
            self._lock(self._conn, [f"{org_id}/person/{person_id}"])  # as linking holds it

    def person_of(self, org_id: str, identity: Identity) -> Person | None:
        owners = owners_in(self._conn, org_id, [identity])
        found = persons_in(self._conn, org_id, owners[:1])
        return found[0] if found else None

    def fragments(self, org_id: str, identities: Collection[Identity]) -> list[Fragment]:
        return fragments_in(self._conn, org_id, identities)

    def merge_policy(self, org_id: str) -> MergePolicy:
        return merge_policy_in(self._conn, org_id)

    def add_identity_event(self, org_id: str, identity: Identity, event: str, at_ms: int) -> None:
        self._conn.execute(_KEEP_EVENT, (org_id, identity.namespace, identity.id, event, at_ms))

    def count_identity_events(
        self,
        org_id: str,
        identities: Collection[Identity],
        windows: Collection[tuple[str, int]],
        now_ms: int,
        at_most: int = MAX_COUNT,
    ) -> dict[tuple[str, int], int]:
        counts = dict.fromkeys(windows, 0)
        if identities:
            for name, window in counts:
                sql, params = _count_query(org_id, identities, name, window, now_ms, at_most)
                counts[(name, window)] = int(self._conn.execute(sql, params).fetchone()[0])
        return counts

    def memberships_of(self, org_id: str, person_id: str) -> list[Membership]:
        rows = rows_of(self._conn, _MEMBERSHIPS_OF, (org_id, person_id))
        return [
            Membership(r[0], r[1], int(r[2]), None if r[3] is None else int(r[3])) for r in rows
        ]

    def record_membership_changes(self, org_id: str, changes: Sequence[MembershipChange]) -> None:
        self._keep(org_id, [change.membership for change in changes])

    def carry_memberships(
        self, org_id: str, absorbed: str, memberships: Sequence[Membership]
    ) -> None:
        self._conn.execute(
            "DELETE FROM audience_memberships WHERE org_id = ? AND person_id = ?",
            (org_id, absorbed),
        )
        self._keep(org_id, memberships)

    def _keep(self, org_id: str, memberships: Sequence[Membership]) -> None:
        for kept in memberships:
            self._conn.execute(
                _KEEP_MEMBERSHIP,
                (org_id, kept.audience, kept.person_id, kept.entered_ms, kept.exited_ms),
            )

    def queue_audience_entries(self, entries: Sequence[AudienceEntry]) -> None:
        for e in entries:
            found = e.identity
            self._conn.execute(
                _QUEUE_ENTRY,
                (
                    e.org_id, e.audience, e.status, e.person_id, e.namespace,
                    None if found is None else found.namespace,
                    None if found is None else found.id, e.partition, e.at_ms, e.chain,
                ),
            )  # fmt: skip


def audience_entry_from_row(r: Row) -> AudienceEntry:
    """A queued audience qualification, from its row (by name)."""
    namespace, identity_id = r["namespace"], r["identity_id"]
    return AudienceEntry(
        r["org_id"],
        r["audience"],
        "entered" if r["status"] == "entered" else "exited",
        r["person_id"],
        r["start_namespace"],
        None if namespace is None or identity_id is None else Identity(namespace, identity_id),
        int(r["partition"]),
        int(r["at_ms"]),
        int(r["id"]),
        int(r["chain"]),
    )
