"""Experience events kept for people (model/person_events.py) over SQL, written once for
both SQL stores (``?`` placeholders): the journey engine's commit keeps them
(``keep_person_events``, in its transaction); ``SQLPersonEvents`` reads them for the
profile view and deletes them (a privacy delete, retention) for the ProfileStore.

A kept event is a row per (identity, event), numbered by ``seq``; an identity's are read
and trimmed along ``(org_id, namespace, identity_id, at_ms, seq)``, so each costs in
proportion to the events kept for it, whatever the table holds.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import orjson

from wayfare.model.identities import Identity
from wayfare.model.person_events import PersonEvent
from wayfare.store.sql_profiles import identities_clause
from wayfare.store.sql_resources import Row, SQLDatabase, Statements, insert_values

_COLUMNS = (
    "org_id, namespace, identity_id, at_ms, received_ms, dataset_id, xaction_id, event_type, events"
)
_TRIM = (
    "DELETE FROM person_events WHERE org_id = ? AND namespace = ? AND identity_id = ? "
    "AND (at_ms, seq) <= (SELECT at_ms, seq FROM person_events WHERE org_id = ? "
    "AND namespace = ? AND identity_id = ? ORDER BY at_ms DESC, seq DESC LIMIT 1 OFFSET ?)"
)
"""An identity's events but the newest N (the N+1th newest and all before it)."""
_COUNTED_AT_ONCE = 200
"""Identities whose kept events one statement counts."""


def keep_person_events(conn: Statements, events: Sequence[PersonEvent], per_identity: int) -> None:
    """Keep ``events`` inside the caller's transaction (the journey engine's commit), then
    trim each of their identities to its newest ``per_identity`` (identities in one order,
    so that commits trimming the same ones wait rather than deadlock)."""
    if not events:
        return
    insert_values(
        conn,
        f"person_events ({_COLUMNS})",
        [
            (
                e.org_id, e.identity.namespace, e.identity.id, e.at_ms, e.received_ms,
                e.dataset_id, e.xaction_id, e.event_type, orjson.dumps(e.events).decode(),
            )
            for e in events
        ],
    )  # fmt: skip
    by_org: dict[str, set[Identity]] = {}
    for e in events:
        by_org.setdefault(e.org_id, set()).add(e.identity)
    for org_id in sorted(by_org):
        for identity in _over(conn, org_id, sorted(by_org[org_id]), per_identity):
            key = (org_id, identity.namespace, identity.id)
            conn.execute(_TRIM, (*key, *key, per_identity))


def _over(
    conn: Statements, org_id: str, identities: Sequence[Identity], per_identity: int
) -> list[Identity]:
    """Of ``identities``, those keeping more than ``per_identity`` events, in order: one
    statement for many (most have fewer, and a trim each was a statement each)."""
    over: list[Identity] = []
    for start in range(0, len(identities), _COUNTED_AT_ONCE):
        clause, params = identities_clause(org_id, identities[start : start + _COUNTED_AT_ONCE])
        rows = conn.execute(
            f"SELECT namespace, identity_id FROM person_events WHERE {clause} "
            "GROUP BY namespace, identity_id HAVING COUNT(*) > ?",
            (*params, per_identity),
        ).fetchall()
        over += [Identity(row[0], row[1]) for row in rows]
    return sorted(over)


def _event(row: Row) -> PersonEvent:
    return PersonEvent(
        org_id=row["org_id"],
        identity=Identity(row["namespace"], row["identity_id"]),
        at_ms=row["at_ms"],
        received_ms=row["received_ms"],
        dataset_id=row["dataset_id"],
        xaction_id=row["xaction_id"],
        event_type=row["event_type"],
        events=tuple(orjson.loads(row["events"])),
        seq=row["seq"],
    )


class SQLPersonEvents(SQLDatabase):
    """The ProfileStore's part in people's experience events, on both SQL stores."""

    def person_events(
        self, org_id: str, identities: Collection[Identity], limit: int
    ) -> list[PersonEvent]:
        if not identities or limit <= 0:
            return []
        clause, params = identities_clause(org_id, identities)
        rows = self._all(
            f"SELECT seq, {_COLUMNS} FROM person_events WHERE {clause} "
            "ORDER BY at_ms DESC, seq DESC LIMIT ?",
            (*params, limit),
        )
        return [_event(row) for row in rows]

    def delete_person_events(self, org_id: str, identities: Collection[Identity]) -> int:
        if not identities:
            return 0
        clause, params = identities_clause(org_id, identities)
        with self._tx() as conn:
            return conn.execute(f"DELETE FROM person_events WHERE {clause}", params).rowcount

    def forget_person_events_before(self, before_ms: int, limit: int) -> int:
        with self._tx() as conn:
            return conn.execute(
                "DELETE FROM person_events WHERE seq IN (SELECT seq FROM person_events "
                f"WHERE at_ms < ? ORDER BY at_ms LIMIT ?{self.skip_claimed})",
                (before_ms, limit),
            ).rowcount
