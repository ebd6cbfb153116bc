"""ProfileStore over SQL, written once for both SQL stores (``?`` placeholders), as
store/sql_resources.py is: an adapter supplies the connections and ``_lock_fragment``.

A fragment is one row per (org, identity, dataset): its leaves as a JSON list (model/
profile_fragments.py's ``leaves_json``) and the time of its latest update. An update reads
the row, lets the model apply the record, and writes what the model returns, in one
transaction that holds the fragment meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import orjson

from wayfare.model.identities import Identity
from wayfare.model.profile_fragments import Fragment, apply_update, leaves_from_json
from wayfare.model.profile_merge import MergePolicy
from wayfare.model.profile_records import ProfileUpdate
from wayfare.store.sql_identities import Locks
from wayfare.store.sql_resources import Row, SQLDatabase, Statements


def _fragment(row: Row) -> Fragment:
    return Fragment(
        org_id=row["org_id"],
        dataset_id=row["dataset_id"],
        identity=Identity(row["namespace"], row["identity_id"]),
        leaves=leaves_from_json(orjson.loads(row["leaves"])),
        updated_ms=row["updated_ms"],
    )


_FRAGMENT_COLUMNS = "org_id, dataset_id, namespace, identity_id, leaves, updated_ms"


def identities_clause(
    org_id: str,
    identities: Collection[Identity],
    more: str = "",
    more_params: Sequence[Any] = (),
) -> tuple[str, list[Any]]:
    """The rows of these identities of the org (at least one), and ``more`` of each, as a
    parenthesised ``(org_id = ? AND namespace = ? AND identity_id = ? AND more) OR ...``, and
    its parameters (each identity once, in order). Every term names every key column, so
    SQLite looks each identity up in the index (its OR optimisation); a row-value ``IN
    (VALUES ...)``, or the org outside the OR, has it scan all of the org's rows instead."""
    wanted = sorted(set(identities))
    term = "(org_id = ? AND namespace = ? AND identity_id = ?" + (f" AND {more})" if more else ")")
    params: list[Any] = []
    for identity in wanted:
        params += [org_id, identity.namespace, identity.id, *more_params]
    return "(" + " OR ".join([term] * len(wanted)) + ")", params


def _fragments_query(org_id: str, identities: Collection[Identity]) -> tuple[str, tuple[Any, ...]]:
    """The statement reading the fragments of these identities (at least one)."""
    clause, params = identities_clause(org_id, identities)
    sql = (
        f"SELECT {_FRAGMENT_COLUMNS} FROM profile_fragments WHERE {clause} "
        "ORDER BY namespace, identity_id, dataset_id"
    )
    return sql, tuple(params)


def _fragment_of(row: Any) -> Fragment:
    """A fragment from a row of ``_FRAGMENT_COLUMNS``, by position (a transaction's rows
    are plain tuples; ``_fragment`` reads the store's by name)."""
    return Fragment(
        org_id=row[0],
        dataset_id=row[1],
        identity=Identity(row[2], row[3]),
        leaves=leaves_from_json(orjson.loads(row[4])),
        updated_ms=row[5],
    )


def fragments_in(conn: Statements, org_id: str, identities: Collection[Identity]) -> list[Fragment]:
    """Every fragment of these identities, in the caller's transaction."""
    if not identities:
        return []
    cursor: Any = conn.execute(*_fragments_query(org_id, identities))
    return [_fragment_of(row) for row in cursor.fetchall()]


def merge_policy_in(conn: Statements, org_id: str) -> MergePolicy:
    """The org's merge policy, in the caller's transaction."""
    row = conn.execute("SELECT body FROM merge_policies WHERE org_id = ?", (org_id,)).fetchone()
    return MergePolicy.from_json(orjson.loads(row[0])) if row else MergePolicy()


def fragment_key(update: ProfileUpdate) -> str:
    """What holds the update's fragment while it is applied (a lock's key)."""
    identity = update.identity
    return f"{update.org_id}/fragment/{identity.namespace}:{identity.id}/{update.dataset_id}"


def apply_profile_updates(
    conn: Statements, updates: Sequence[ProfileUpdate], lock: Locks | None = None
) -> None:
    """Apply each update to its fragment, in order, inside the caller's transaction (the
    journey engine's commit); ``lock`` holds the fragments first, in one pass (none:
    SQLite, whose write transactions run one at a time)."""
    if not updates:
        return
    if lock is not None:
        lock(conn, sorted({fragment_key(u) for u in updates}))
    for update in updates:
        apply_in(conn, update)


def apply_in(conn: Statements, update: ProfileUpdate) -> Fragment | None:
    """Read the update's fragment, let the model apply it, write what it returns; the
    fragment after it."""
    key = (update.org_id, update.identity.namespace, update.identity.id, update.dataset_id)
    row = conn.execute(  # by position: rows in a transaction are plain tuples
        "SELECT leaves, updated_ms FROM profile_fragments WHERE org_id = ? "
        "AND namespace = ? AND identity_id = ? AND dataset_id = ?",
        key,
    ).fetchone()
    before = None
    if row:
        before = Fragment(
            org_id=update.org_id,
            dataset_id=update.dataset_id,
            identity=update.identity,
            leaves=leaves_from_json(orjson.loads(row[0])),
            updated_ms=row[1],
        )
    after = apply_update(before, update)
    if after is None:
        if before is not None:
            conn.execute(
                "DELETE FROM profile_fragments WHERE org_id = ? AND namespace = ? "
                "AND identity_id = ? AND dataset_id = ?",
                key,
            )
    elif after != before:
        conn.execute(
            "INSERT INTO profile_fragments (org_id, namespace, identity_id, dataset_id, "
            "leaves, updated_ms) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (org_id, namespace, identity_id, dataset_id) DO UPDATE "
            "SET leaves = excluded.leaves, updated_ms = excluded.updated_ms",
            (*key, orjson.dumps(after.leaves_json()).decode(), after.updated_ms),
        )
    return after


class SQLProfileStore(SQLDatabase):
    """ProfileStore on the statements both SQL stores take."""

    def _lock_fragment(self, conn: Statements, update: ProfileUpdate) -> None:
        """Hold the update's fragment until the transaction ends, whether its row exists or
        not (SQLite's write transactions already run one at a time)."""

    def apply_profile_update(self, update: ProfileUpdate) -> Fragment | None:
        with self._tx() as conn:
            self._lock_fragment(conn, update)
            return apply_in(conn, update)

    def profile_fragments(self, org_id: str, identities: Collection[Identity]) -> list[Fragment]:
        if not identities:
            return []
        return [_fragment(row) for row in self._all(*_fragments_query(org_id, identities))]

    def delete_profile_fragments(self, org_id: str, identity: Identity) -> int:
        with self._tx() as conn:
            return conn.execute(
                "DELETE FROM profile_fragments WHERE org_id = ? AND namespace = ? "
                "AND identity_id = ?",
                (org_id, identity.namespace, identity.id),
            ).rowcount

    def merge_policy(self, org_id: str) -> MergePolicy:
        row = self._one("SELECT body FROM merge_policies WHERE org_id = ?", (org_id,))
        return MergePolicy.from_json(orjson.loads(row["body"])) if row else MergePolicy()

    def set_merge_policy(self, org_id: str, policy: MergePolicy) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO merge_policies (org_id, body) VALUES (?, ?) "
                "ON CONFLICT (org_id) DO UPDATE SET body = excluded.body",
                (org_id, orjson.dumps(policy.as_json()).decode()),
            )
