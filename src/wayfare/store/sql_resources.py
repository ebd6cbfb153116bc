"""ResourceStore over SQL, written once for both SQL stores: the statements (plain SQL with
``?`` placeholders) and how rows become resources. An adapter supplies the connections
(``_one``, ``_all``, ``_tx``) and maps its driver's errors: store/sqlite/resources.py,
store/postgres/resources.py.

JSON documents are stored as text (bodies, definitions) and accepted messages and their
reasons as the bytes received; both read back through orjson.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Collection, Sequence
from typing import Any, Protocol

import orjson

from wayfare.errors import ConflictError
from wayfare.model.events import EventConfig, Unmatched, event_from_json
from wayfare.model.matching import EventMatch, MatchRecord
from wayfare.model.records import AccessToken, FailedRecord, Record
from wayfare.model.resources import Dataset, Inlet, Org, Schema
from wayfare.model.schema import SchemaDefinition


class Row(Protocol):
    """A row read by column name (Row, psycopg's dict rows)."""

    def __getitem__(self, key: str, /) -> Any: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Statements(Protocol):
    """What a transaction runs statements on."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...


def _loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)


def _schema(row: Row) -> Schema:
    return Schema(
        schema_id=row["schema_id"],
        version=row["version"],
        org_id=row["org_id"],
        definition=SchemaDefinition.from_json(_loads(row["definition"])),
        json_schema=_loads(row["json_schema"]),
        created_ms=row["created_ms"],
    )


def _dataset(row: Row) -> Dataset:
    return Dataset(
        dataset_id=row["dataset_id"],
        org_id=row["org_id"],
        name=row["name"],
        schema_id=row["schema_id"],
        is_default=bool(row["is_default"]),
        created_ms=row["created_ms"],
        retention_days=row["retention_days"],
        profile=bool(row["profile"]),
    )


def _inlet(row: Row) -> Inlet:
    body = _loads(row["body"])
    return Inlet(
        inlet_id=row["inlet_id"],
        org_id=row["org_id"],
        name=row["name"],
        created_ms=row["created_ms"],
        description=body.get("description", ""),
        source_id=body.get("sourceId", ""),
        data_type=body.get("dataType", "xdm"),
        authentication_required=body.get("authenticationRequired", False),
        enabled=body.get("enabled", True),
        flow_id=body.get("flowId", ""),
        dataset_id=body.get("datasetId"),
    )


def _inlet_body(inlet: Inlet) -> str:
    return orjson.dumps(
        {
            "description": inlet.description,
            "sourceId": inlet.source_id,
            "dataType": inlet.data_type,
            "authenticationRequired": inlet.authentication_required,
            "enabled": inlet.enabled,
            "flowId": inlet.flow_id,
            "datasetId": inlet.dataset_id,
        }
    ).decode()


def marks(n: int) -> str:
    """``n`` placeholders, for ``IN (...)``."""
    return ", ".join("?" * n)


VALUES_PER_STATEMENT = 200
"""Rows of one multi-row INSERT (at most a few thousand placeholders: within both SQLite's
and PostgreSQL's limits)."""


@functools.lru_cache(maxsize=128)
def insert_sql(into: str, columns: int, rows: int, suffix: str = "") -> str:
    """``INSERT INTO <into> VALUES (?, ...), ... <suffix>`` for ``rows`` rows."""
    row = f"({marks(columns)})"
    return f"INSERT INTO {into} VALUES {', '.join([row] * rows)}{suffix}"


def insert_values(
    conn: Statements,
    into: str,
    rows: Sequence[Sequence[Any]],
    suffix: str = "",
    per_statement: int = VALUES_PER_STATEMENT,
) -> None:
    """``INSERT INTO <into> VALUES (...), (...), ... <suffix>``, ``per_statement`` rows a
    statement: one trip through the driver for many rows (``into``: the table and its
    columns; ``suffix``: an ``ON CONFLICT`` clause, say)."""
    if not rows:
        return
    columns = len(rows[0])
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        conn.execute(
            insert_sql(into, columns, len(chunk), suffix),
            [value for values in chunk for value in values],
        )


class SQLDatabase:
    """What an adapter gives the statements written once for both SQL stores: connections
    (here and in sql_journeys.py)."""

    skip_claimed = ""
    """How a retention delete's choice of rows ends, so that passes running at once in
    several processes (scaled out) take different rows rather than wait for each other, or
    deadlock: PostgreSQL's `` FOR UPDATE SKIP LOCKED``. SQLite's writers take turns."""

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Row | None:
        raise NotImplementedError

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> Sequence[Row]:
        raise NotImplementedError

    def _tx(self) -> contextlib.AbstractContextManager[Statements]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        raise NotImplementedError

    def _settled_seq(self, table: str) -> int | None:
        """The highest ``seq`` of ``table`` that a follower may read up to, for none above it
        can be added by a transaction still running; None: any, for seqs are committed in
        their order (SQLite's writers take turns, each drawing its seqs in its turn)."""
        return None

    def _page(
        self,
        table: str,
        column: str,
        key: str,
        *,
        limit: int,
        after_seq: int | None,
        following: bool = False,
    ) -> Sequence[Row]:
        """A page of a dataset (``table``'s rows whose ``column`` is ``key``, in ``seq``
        order): the last ``limit``, or the first ``limit`` after ``after_seq``; oldest
        first. ``following``: only up to the settled seq (``_settled_seq``), so that the
        next page, after this one's last seq, passes none still to come."""
        upto = self._settled_seq(table) if following else None
        below = "" if upto is None else " AND seq <= ?"
        bound = () if upto is None else (upto,)
        if after_seq is None:
            return self._all(
                f"SELECT * FROM {table} WHERE {column} = ?{below} ORDER BY seq DESC LIMIT ?",
                (key, *bound, limit),
            )[::-1]
        return self._all(
            f"SELECT * FROM {table} WHERE {column} = ? AND seq > ?{below} ORDER BY seq LIMIT ?",
            (key, after_seq, *bound, limit),
        )


class SQLResourceStore(SQLDatabase):
    """ResourceStore over SQL; an adapter gives it connections."""

    def _lock_schema_name(self, conn: Statements, org_id: str, name: str) -> None:
        """Make transactions adding a schema named ``name`` take turns, so that the check for
        a clash holds until the schema is stored. (SQLite's writers all take turns.)"""

    def close(self) -> None:
        raise NotImplementedError

    def resource_generation(self) -> int:
        """Kept in the database by triggers on the tables of these resources (SQLite's
        migration 0010, PostgreSQL's 0003), so a change made by any connection or process
        moves it, in the change's own transaction."""
        row = self._one("SELECT n FROM resource_generation")
        assert row is not None  # the migration adds the one row
        return int(row["n"])

    # orgs
    def get_org(self, org_id: str) -> Org | None:
        row = self._one("SELECT * FROM orgs WHERE org_id = ?", (org_id,))
        return Org(row["org_id"], row["tenant_id"], row["created_ms"]) if row else None

    def put_org(self, org: Org) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO orgs (org_id, tenant_id, created_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (org_id) DO UPDATE SET tenant_id = excluded.tenant_id",
                (org.org_id, org.tenant_id, org.created_ms),
            )

    def list_orgs(self) -> list[Org]:
        rows = self._all("SELECT * FROM orgs")  # few; sorted here, alike on every collation
        orgs = [Org(row["org_id"], row["tenant_id"], row["created_ms"]) for row in rows]
        return sorted(orgs, key=lambda org: org.org_id)

    # schemas
    def add_schema(self, schema: Schema, default_dataset: Dataset | None) -> None:
        with self._tx() as conn:
            self._lock_schema_name(conn, schema.org_id, schema.name)
            clash = conn.execute(
                "SELECT schema_id FROM schemas WHERE org_id = ? AND name = ? AND schema_id != ?",
                (schema.org_id, schema.name, schema.schema_id),
            ).fetchone()
            if clash:
                raise ConflictError(f"a schema named {schema.name!r} already exists")
            conn.execute(
                "INSERT INTO schemas (schema_id, version, org_id, name, alt_id, definition, "
                "json_schema, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    schema.schema_id,
                    schema.version,
                    schema.org_id,
                    schema.name,
                    schema.alt_id,
                    orjson.dumps(schema.definition.as_json()).decode(),
                    orjson.dumps(schema.json_schema).decode(),
                    schema.created_ms,
                ),
            )
            if default_dataset is not None:
                self._insert_dataset(conn, default_dataset)

    def get_schema(self, schema_id: str, version: int | None = None) -> Schema | None:
        if version is None:
            row = self._one(
                "SELECT * FROM schemas WHERE schema_id = ? ORDER BY version DESC LIMIT 1",
                (schema_id,),
            )
        else:
            row = self._one(
                "SELECT * FROM schemas WHERE schema_id = ? AND version = ?", (schema_id, version)
            )
        return _schema(row) if row else None

    def find_schema(self, org_id: str, key: str) -> Schema | None:
        # A schema answers to the name of its latest version only (a renamed one lets go).
        row = self._one(
            "SELECT s.* FROM schemas s WHERE s.org_id = ? AND (s.schema_id = ? OR s.alt_id = ? "
            "OR s.name = ?) AND s.version = (SELECT MAX(version) FROM schemas "
            "WHERE schema_id = s.schema_id) LIMIT 1",
            (org_id, key, key, key),
        )
        return _schema(row) if row else None

    def list_schemas(self, org_id: str) -> list[Schema]:
        rows = self._all(
            "SELECT s.* FROM schemas s WHERE s.org_id = ? AND s.version = "
            "(SELECT MAX(version) FROM schemas WHERE schema_id = s.schema_id) ORDER BY s.name",
            (org_id,),
        )
        return [_schema(r) for r in rows]

    def schema_versions(self, schema_id: str) -> list[Schema]:
        rows = self._all("SELECT * FROM schemas WHERE schema_id = ? ORDER BY version", (schema_id,))
        return [_schema(r) for r in rows]

    # datasets
    @staticmethod
    def _insert_dataset(conn: Statements, dataset: Dataset) -> None:
        conn.execute(
            "INSERT INTO datasets (dataset_id, org_id, name, schema_id, is_default, created_ms, "
            "retention_days, profile) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                dataset.dataset_id,
                dataset.org_id,
                dataset.name,
                dataset.schema_id,
                dataset.is_default,
                dataset.created_ms,
                dataset.retention_days,
                dataset.profile,
            ),
        )

    def add_dataset(self, dataset: Dataset) -> None:
        with self._tx() as conn:
            self._insert_dataset(conn, dataset)

    def get_dataset(self, dataset_id: str) -> Dataset | None:
        row = self._one("SELECT * FROM datasets WHERE dataset_id = ?", (dataset_id,))
        return _dataset(row) if row else None

    def list_datasets(self, org_id: str, schema_id: str | None = None) -> list[Dataset]:
        if schema_id is None:
            rows = self._all(
                "SELECT * FROM datasets WHERE org_id = ? ORDER BY created_ms, name", (org_id,)
            )
        else:
            rows = self._all(
                "SELECT * FROM datasets WHERE org_id = ? AND schema_id = ? "
                "ORDER BY is_default DESC, created_ms",
                (org_id, schema_id),
            )
        return [_dataset(r) for r in rows]

    def set_dataset_retention(self, dataset_id: str, days: int | None) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE datasets SET retention_days = ? WHERE dataset_id = ?", (days, dataset_id)
            )

    def enable_dataset_profile(self, dataset_id: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE datasets SET profile = ? WHERE dataset_id = ?", (True, dataset_id))

    def datasets_with_retention(self) -> list[Dataset]:
        rows = self._all("SELECT * FROM datasets WHERE retention_days IS NOT NULL")
        return [_dataset(r) for r in rows]

    def delete_records_before(self, dataset_id: str, before_ms: int, limit: int) -> int:
        deleted = 0
        with self._tx() as conn:
            for table in ("records", "failures"):
                deleted += conn.execute(
                    f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM {table} "
                    "WHERE dataset_id = ? AND received_ms < ? ORDER BY seq LIMIT ?"
                    f"{self.skip_claimed})",
                    (dataset_id, before_ms, limit),
                ).rowcount
        return deleted

    def delete_failures(self, org_id: str, seqs: Collection[int]) -> int:
        wanted = sorted(seqs)
        if not wanted:
            return 0
        with self._tx() as conn:
            return conn.execute(
                f"DELETE FROM failures WHERE org_id = ? AND seq IN ({marks(len(wanted))})",
                (org_id, *wanted),
            ).rowcount

    def delete_records(self, dataset_id: str, seqs: Collection[int]) -> int:
        wanted = sorted(seqs)
        if not wanted:
            return 0
        with self._tx() as conn:
            conn.execute(
                f"DELETE FROM event_matches WHERE record_seq IN ({marks(len(wanted))})", wanted
            )
            return conn.execute(
                f"DELETE FROM records WHERE dataset_id = ? AND seq IN ({marks(len(wanted))})",
                (dataset_id, *wanted),
            ).rowcount

    # inlets
    def add_inlet(self, inlet: Inlet) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO inlets (inlet_id, org_id, name, body, created_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (inlet.inlet_id, inlet.org_id, inlet.name, _inlet_body(inlet), inlet.created_ms),
            )

    def update_inlet(self, inlet: Inlet) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE inlets SET name = ?, body = ? WHERE inlet_id = ?",
                (inlet.name, _inlet_body(inlet), inlet.inlet_id),
            )

    def delete_inlet(self, inlet_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM inlets WHERE inlet_id = ?", (inlet_id,))
            conn.execute("DELETE FROM tokens WHERE inlet_id = ?", (inlet_id,))

    def get_inlet(self, inlet_id: str) -> Inlet | None:
        row = self._one("SELECT * FROM inlets WHERE inlet_id = ?", (inlet_id,))
        return _inlet(row) if row else None

    def list_inlets(self, org_id: str) -> list[Inlet]:
        rows = self._all("SELECT * FROM inlets WHERE org_id = ? ORDER BY created_ms", (org_id,))
        return [_inlet(r) for r in rows]

    # tokens
    def add_token(self, token: AccessToken) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO tokens (token_hash, inlet_id, org_id, created_ms, expires_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    token.token_hash,
                    token.inlet_id,
                    token.org_id,
                    token.created_ms,
                    token.expires_ms,
                ),
            )

    def get_token(self, token_hash: str) -> AccessToken | None:
        row = self._one("SELECT * FROM tokens WHERE token_hash = ?", (token_hash,))
        if row is None:
            return None
        return AccessToken(
            row["token_hash"], row["inlet_id"], row["org_id"], row["created_ms"], row["expires_ms"]
        )

    def revoke_tokens(self, inlet_id: str) -> int:
        with self._tx() as conn:
            return conn.execute("DELETE FROM tokens WHERE inlet_id = ?", (inlet_id,)).rowcount

    # records and failures
    def list_records(
        self,
        dataset_id: str,
        *,
        limit: int,
        after_seq: int | None = None,
        following: bool = False,
    ) -> list[Record]:
        rows = self._page(
            "records", "dataset_id", dataset_id, limit=limit, after_seq=after_seq,
            following=following,
        )  # fmt: skip
        return [record_from_row(r) for r in rows]

    def count_records(self, dataset_id: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM records WHERE dataset_id = ?", (dataset_id,))
        return int(row["n"]) if row else 0

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
        sql = "SELECT * FROM failures WHERE org_id = ?"
        params: list[Any] = [org_id]
        if before_seq is not None:
            sql += " AND seq < ?"
            params.append(before_seq)
        if inlet_id is not None:
            sql += " AND inlet_id = ?"
            params.append(inlet_id)
        if since_ms is not None:
            sql += " AND received_ms >= ?"
            params.append(since_ms)
        if until_ms is not None:
            sql += " AND received_ms < ?"
            params.append(until_ms)
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(limit)
        return [
            FailedRecord(
                seq=r["seq"],
                org_id=r["org_id"],
                inlet_id=r["inlet_id"],
                dataset_id=r["dataset_id"],
                schema_id=r["schema_id"],
                xaction_id=r["xaction_id"],
                msg_id=r["msg_id"],
                received_ms=r["received_ms"],
                reasons=_loads(r["reasons"]),
                message=_loads(r["message"]),
            )
            for r in self._all(sql, tuple(params))
        ]

    # events
    def add_event(self, event: EventConfig) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO events (org_id, name, schema_id, event_id, body, created_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event.org_id,
                    event.name,
                    event.schema_id,
                    event.event_id,
                    orjson.dumps(event.as_json()).decode(),
                    event.created_ms,
                ),
            )

    def update_event(self, event: EventConfig) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE events SET schema_id = ?, body = ? WHERE org_id = ? AND name = ?",
                (event.schema_id, orjson.dumps(event.as_json()).decode(), event.org_id, event.name),
            )

    def delete_event(self, org_id: str, name: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM events WHERE org_id = ? AND name = ?", (org_id, name))

    def get_event(self, org_id: str, name: str) -> EventConfig | None:
        row = self._one("SELECT body FROM events WHERE org_id = ? AND name = ?", (org_id, name))
        return event_from_json(org_id, _loads(row["body"])) if row else None

    def list_events(self, org_id: str, schema_id: str | None = None) -> list[EventConfig]:
        if schema_id is None:
            rows = self._all("SELECT body FROM events WHERE org_id = ? ORDER BY name", (org_id,))
        else:
            rows = self._all(
                "SELECT body FROM events WHERE org_id = ? AND schema_id = ? ORDER BY name",
                (org_id, schema_id),
            )
        return [event_from_json(org_id, _loads(r["body"])) for r in rows]

    def list_event_matches(
        self, org_id: str, name: str, *, limit: int, also: Sequence[str] = ()
    ) -> list[MatchRecord]:
        # the newest of each name through its index, then the newest of them all
        names = (name, *also)
        newest = (
            "SELECT * FROM (SELECT * FROM event_matches WHERE org_id = ? AND event_name = ? "
            "ORDER BY seq DESC LIMIT ?) AS by_name{}"
        )
        rows = self._all(
            " UNION ALL ".join(newest.format(n) for n in range(len(names)))
            + " ORDER BY seq DESC LIMIT ?",
            (*(v for n in names for v in (org_id, n, limit)), limit),
        )
        return [
            MatchRecord(
                r["record_seq"] or 0,  # none: a row SQLite kept before its migration 0003
                r["xaction_id"],
                r["received_ms"],
                EventMatch(
                    r["event_name"],
                    r["identity"],
                    Unmatched(r["cause"]) if r["cause"] else None,
                    r["reason"],
                ),
            )
            for r in rows
        ]


def record_from_row(r: Row) -> Record:
    return Record(
        seq=r["seq"],
        org_id=r["org_id"],
        dataset_id=r["dataset_id"],
        inlet_id=r["inlet_id"],
        schema_id=r["schema_id"],
        xaction_id=r["xaction_id"],
        msg_id=r["msg_id"],
        received_ms=r["received_ms"],
        message=_loads(r["message"]),
    )
