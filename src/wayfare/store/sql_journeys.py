"""The journey catalog and reports over SQL, written once for both SQL stores, and how rows of
the journey tables become model objects. An adapter supplies the connections (``_one``,
``_all``, ``_tx``, as for store/sql_resources.py): store/sqlite/journeys.py,
store/postgres/journeys.py. What differs between the two (reads by lists of keys or
partitions, the engine's commit, leases) stays in each adapter.

Documents (definitions, instance states, requests, entities) are stored as JSON text and read
back through orjson.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import orjson

from wayfare.model.identity_graph import GraphChange
from wayfare.model.instances import Instance, Place, waiting_moves
from wayfare.model.journey import parse_journey
from wayfare.model.merged_runs import reconcile
from wayfare.model.privacy import ERASED
from wayfare.model.runs import (
    ForwardedEvent,
    JourneyPeople,
    JourneyState,
    JourneyVersion,
    OutboxItem,
    StepRecord,
    TestEntry,
    people_counts,
)
from wayfare.store.sql_resources import Row, SQLDatabase, Statements, marks

ACTIVE = ("live", "closed", "draft")
"""States of versions that can hold people."""
NODE_OF_STATE = "json_extract(state, '$.node')"
"""The activity an instance is at, read from its JSON state (SQLite's way; PostgreSQL's is
in postgres/batches.py)."""


def version_from_row(r: Row) -> JourneyVersion:
    return JourneyVersion(
        org_id=r["org_id"],
        name=r["name"],
        version=r["version"],
        state=r["state"],
        entry_event=r["entry_event"],
        definition=orjson.loads(r["definition"]),
        test_mode=bool(r["test_mode"]),
        created_ms=r["created_ms"],
        changed_ms=r["changed_ms"],
        paused=r["paused"],
    )


def instance_from_row(r: Row) -> Instance:
    return Instance.from_json(orjson.loads(r["state"]))


def step_from_row(r: Row) -> StepRecord:
    return StepRecord(
        org_id=r["org_id"],
        journey=r["journey"],
        version=r["version"],
        node=r["node"],
        node_type=r["node_type"],
        instance_id=r["instance_id"],
        identity=r["identity"],
        status=r["status"],
        detail=r["detail"],
        at_ms=r["at_ms"],
        entered_ms=r["entered_ms"],
        seq=r["seq"],
    )


def outbox_item_from_row(r: Row) -> OutboxItem:
    return OutboxItem(
        r["id"],
        r["instance_id"],
        r["node"],
        r["token"],
        r["kind"],
        orjson.loads(r["request"]),
        r["key"],
        r["attempts"],
        r["next_ms"],
        r["partition"],
    )


def entry_from_row(r: Row) -> TestEntry:
    return TestEntry(
        r["org_id"],
        r["journey"],
        r["version"],
        r["identity"],
        r["partition"],
        orjson.loads(r["entity"]),
        r["id"],
    )


def forward_from_row(r: Row) -> ForwardedEvent:
    return ForwardedEvent(
        r["org_id"],
        r["instance_id"],
        r["partition"],
        r["event"],
        orjson.loads(r["entity"]),
        r["id"],
    )


def waiting_moves_of(
    conn: Statements, instances: Sequence[Instance], node_of_state: str, lock: str = ""
) -> dict[Place, int]:
    """How writing ``instances`` over what the store holds now moves the counts of people
    waiting (model.instances.waiting_moves), read in the caller's transaction before the
    write. ``node_of_state``: how a statement reads an instance's activity from its state;
    ``lock``: how it locks the rows it reads until the write (PostgreSQL's ``FOR UPDATE``,
    so that another commit cannot end them in between; SQLite has one writer)."""
    ids = sorted({i.instance_id for i in instances})
    before: dict[str, tuple[str, str | None]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows: Any = conn.execute(
            f"SELECT instance_id, status, {node_of_state} FROM instances "
            f"WHERE instance_id IN ({marks(len(chunk))}) ORDER BY instance_id{lock}",
            chunk,
        )
        before.update((r[0], (r[1], r[2])) for r in rows.fetchall())
    return waiting_moves(before, instances)


def add_waiting(conn: Statements, *moves: Mapping[Place, int]) -> None:
    """Add ``moves`` to ``waiting_counts``, in key order (every engine's commit writes the
    same rows: in one order, concurrent commits wait for each other rather than deadlock),
    after the commit's step counts."""
    total: Counter[Place] = Counter()
    for m in moves:
        total.update(m)
    for key, n in sorted(total.items()):
        if n:
            conn.execute(
                "INSERT INTO waiting_counts (org_id, journey, node, n) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (org_id, journey, node) "
                "DO UPDATE SET n = waiting_counts.n + excluded.n",
                (*key, n),
            )


def end_instances(
    conn: Statements,
    instances: Sequence[Instance],
    steps: Sequence[StepRecord],
    state_param: str,
    node_of_state: str,
    lock: str = "",
) -> dict[Place, int]:
    """Store instances ended outside the engine's steps (a privacy delete, a merge), in the
    caller's transaction: their states, their timers and actions gone, ``steps`` and their
    counts added; how that moves the counts of people waiting, for the caller to add
    (``add_waiting``). ``state_param``: how a statement takes a JSON state."""
    moves = waiting_moves_of(conn, instances, node_of_state, lock)
    for inst in instances:
        conn.execute(
            "UPDATE instances SET identity = ?, status = ?, ended_ms = ?, "
            f"state = {state_param} WHERE instance_id = ?",
            (inst.identity, inst.status, inst.ended_ms, orjson.dumps(inst).decode(),
             inst.instance_id),
        )  # fmt: skip
    ids = [i.instance_id for i in instances]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for table in ("timers", "outbox", "forwarded_events"):
            conn.execute(f"DELETE FROM {table} WHERE instance_id IN ({marks(len(chunk))})", chunk)
    for st in steps:
        conn.execute(
            "INSERT INTO step_events (org_id, journey, version, node, node_type, "
            "instance_id, identity, status, detail, at_ms, entered_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (st.org_id, st.journey, st.version, st.node, st.node_type, st.instance_id,
             st.identity, st.status, st.detail, st.at_ms, st.entered_ms),
        )  # fmt: skip
    counts = Counter((s.org_id, s.journey, s.node, s.node_type, s.status) for s in steps)
    for key, n in sorted(counts.items()):  # in the engine's order: see its commit
        conn.execute(
            "INSERT INTO step_counts (org_id, journey, node, node_type, status, n) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, journey, node, node_type, "
            "status) DO UPDATE SET n = step_counts.n + excluded.n",
            (*key, n),
        )
    return moves


def reconcile_merges(
    conn: Statements,
    changes: Sequence[tuple[str, GraphChange]],
    state_param: str,
    node_of_state: str,
    lock: str = "",
) -> list[dict[Place, int]]:
    """After an engine commit's links and instances, in its transaction: each merged
    person's live instances, reconciled by the model's rule (model/merged_runs.py); how
    that moves the counts of people waiting, for the commit to add (``add_waiting``)."""
    moved = []
    for org_id, change in changes:
        survivor = next((p for p in change.persons if p.person_id == change.person_id), None)
        if not change.merges or survivor is None:
            continue
        ids = sorted({x.identity.id for x in survivor.links})
        rows: Any = conn.execute(
            f"SELECT state FROM instances WHERE org_id = ? AND identity IN ({marks(len(ids))}) "
            "AND status IN ('running', 'waiting')",
            (org_id, *ids),
        )
        live = [Instance.from_json(orjson.loads(r[0])) for r in rows.fetchall()]
        node_types = functools.cache(functools.partial(_node_types, conn, org_id))
        ended, steps = reconcile(live, node_types, change.at_ms)
        moved.append(end_instances(conn, ended, steps, state_param, node_of_state, lock))
    return moved


def _node_types(conn: Statements, org_id: str, journey: str, version: int) -> dict[str, str]:
    rows: Any = conn.execute(
        "SELECT definition FROM journeys WHERE org_id = ? AND name = ? AND version = ?",
        (org_id, journey, version),
    )
    found = rows.fetchone()
    if found is None:
        return {}
    activities = parse_journey(orjson.loads(found[0])).activities.values()
    return {a.id: a.type for a in activities}


class SQLJourneyCatalog(SQLDatabase):
    """JourneyCatalog over SQL."""

    @property
    def generation(self) -> int:
        """Kept in the database by triggers on ``journeys`` (SQLite's migration 0006,
        PostgreSQL's 0001), so a change made by any connection or process moves it, in the
        change's own transaction."""
        row = self._one("SELECT n FROM journey_generation")
        assert row is not None  # the migration adds the one row
        return int(row["n"])

    def add_journey_version(self, version: JourneyVersion) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO journeys (org_id, name, version, state, test_mode, entry_event, "
                "definition, created_ms, changed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    version.org_id,
                    version.name,
                    version.version,
                    version.state,
                    version.test_mode,
                    version.entry_event,
                    orjson.dumps(version.definition).decode(),
                    version.created_ms,
                    version.changed_ms,
                ),
            )

    def replace_draft(self, version: JourneyVersion) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE journeys SET definition = ?, entry_event = ?, changed_ms = ?, "
                "paused = NULL WHERE org_id = ? AND name = ? AND version = ? AND state = 'draft'",
                (
                    orjson.dumps(version.definition).decode(),
                    version.entry_event,
                    version.changed_ms,
                    version.org_id,
                    version.name,
                    version.version,
                ),
            )

    def get_journey(
        self, org_id: str, name: str, version: int | None = None
    ) -> JourneyVersion | None:
        if version is None:
            row = self._one(
                "SELECT * FROM journeys WHERE org_id = ? AND name = ? "
                "ORDER BY version DESC LIMIT 1",
                (org_id, name),
            )
        else:
            row = self._one(
                "SELECT * FROM journeys WHERE org_id = ? AND name = ? AND version = ?",
                (org_id, name, version),
            )
        return version_from_row(row) if row else None

    def journey_versions(self, org_id: str, name: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT * FROM journeys WHERE org_id = ? AND name = ? ORDER BY version", (org_id, name)
        )
        return [version_from_row(r) for r in rows]

    def list_journeys(self, org_id: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT j.* FROM journeys j WHERE j.org_id = ? AND j.version = (SELECT MAX(version) "
            "FROM journeys WHERE org_id = j.org_id AND name = j.name) ORDER BY j.name",
            (org_id,),
        )
        return [version_from_row(r) for r in rows]

    def set_journey_state(
        self,
        org_id: str,
        name: str,
        version: int,
        state: JourneyState,
        now_ms: int,
        test_mode: bool | None = None,
    ) -> None:
        with self._tx() as conn:
            _set_state(conn, org_id, name, version, state, now_ms, test_mode)

    def publish_journey(self, org_id: str, name: str, version: int, now_ms: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE journeys SET state = 'closed', changed_ms = ? "
                "WHERE org_id = ? AND name = ? AND state = 'live'",
                (now_ms, org_id, name),
            )
            _set_state(conn, org_id, name, version, "live", now_ms, False)
            _set_paused(conn, org_id, name, version, None, now_ms)

    def pause_journey(self, org_id: str, name: str, version: int, reason: str, now_ms: int) -> None:
        with self._tx() as conn:
            _set_paused(conn, org_id, name, version, reason, now_ms)

    def resume_journey(self, org_id: str, name: str, now_ms: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE journeys SET paused = NULL, changed_ms = ? "
                "WHERE org_id = ? AND name = ? AND paused IS NOT NULL",
                (now_ms, org_id, name),
            )

    def stop_journey(self, org_id: str, name: str, now_ms: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE journeys SET state = 'stopped', changed_ms = ? "
                "WHERE org_id = ? AND name = ? AND state IN (?, ?, ?)",
                (now_ms, org_id, name, *ACTIVE),
            )

    def entry_journeys(self, org_id: str, event: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT * FROM journeys WHERE org_id = ? AND entry_event = ? AND paused IS NULL "
            "AND (state = 'live' OR (state = 'draft' AND test_mode))",
            (org_id, event),
        )
        return [version_from_row(r) for r in rows]

    def active_versions(self, org_id: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT * FROM journeys WHERE org_id = ? AND state IN (?, ?, ?) ORDER BY name, version",
            (org_id, *ACTIVE),
        )
        return [version_from_row(r) for r in rows]

    def add_test_profile(self, org_id: str, identity: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO test_profiles (org_id, identity) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (org_id, identity),
            )

    def is_test_profile(self, org_id: str, identity: str) -> bool:
        row = self._one(
            "SELECT 1 FROM test_profiles WHERE org_id = ? AND identity = ?", (org_id, identity)
        )
        return row is not None


def _set_state(
    conn: Statements,
    org_id: str,
    name: str,
    version: int,
    state: JourneyState,
    now_ms: int,
    test_mode: bool | None,
) -> None:
    conn.execute(
        "UPDATE journeys SET state = ?, changed_ms = ?, test_mode = COALESCE(?, test_mode) "
        "WHERE org_id = ? AND name = ? AND version = ?",
        (state, now_ms, test_mode, org_id, name, version),
    )


def _set_paused(
    conn: Statements, org_id: str, name: str, version: int, reason: str | None, now_ms: int
) -> None:
    conn.execute(
        "UPDATE journeys SET paused = ?, changed_ms = ? "
        "WHERE org_id = ? AND name = ? AND version = ?",
        (reason, now_ms, org_id, name, version),
    )


class SQLJourneyReports(SQLDatabase):
    """JourneyReports over SQL: counts kept as step events are written (``step_counts``),
    instances by status, discards by cause."""

    node_of_state = NODE_OF_STATE

    state_param = "?"
    """How a statement takes an instance's JSON state (PostgreSQL's column is JSON)."""

    lock = ""
    """How a read locks the rows a write follows it on (see waiting_moves_of)."""

    def instances_of(self, org_id: str, identities: Collection[str]) -> list[Instance]:
        wanted = sorted(identities)
        if not wanted:
            return []
        rows = self._all(
            f"SELECT state FROM instances WHERE org_id = ? AND identity IN ({marks(len(wanted))}) "
            "ORDER BY instance_id",
            (org_id, *wanted),
        )
        return [instance_from_row(r) for r in rows]

    def erase_runs(
        self,
        org_id: str,
        identities: Collection[str],
        instances: Sequence[Instance],
        steps: Sequence[StepRecord],
    ) -> int:
        wanted = sorted(identities)
        with self._tx() as conn:
            add_waiting(
                conn,
                end_instances(
                    conn, instances, steps, self.state_param, self.node_of_state, self.lock
                ),
            )
            if not wanted:
                return 0
            people = f"org_id = ? AND identity IN ({marks(len(wanted))})"
            conn.execute(  # queued qualifications would enter the person again
                f"DELETE FROM audience_entries WHERE org_id = ? "
                f"AND identity_id IN ({marks(len(wanted))})",
                (org_id, *wanted),
            )
            erase = (ERASED, org_id, *wanted)
            conn.execute(f"UPDATE discards SET identity = ? WHERE {people}", erase)
            return conn.execute(
                f"UPDATE step_events SET identity = ?, detail = NULL WHERE {people}", erase
            ).rowcount

    def report(self, org_id: str, journey: str) -> dict[str, Any]:
        nodes: dict[str, dict[str, Any]] = {}
        for r in self._all(
            "SELECT node, node_type, status, n FROM step_counts WHERE org_id = ? AND journey = ?",
            (org_id, journey),
        ):
            entry = nodes.setdefault(r["node"], {"type": r["node_type"]})
            entry[r["status"]] = entry.get(r["status"], 0) + int(r["n"])
        statuses = {
            r["status"]: int(r["n"])
            for r in self._all(
                "SELECT status, COUNT(*) AS n FROM instances WHERE org_id = ? AND journey = ? "
                "GROUP BY status",
                (org_id, journey),
            )
        }
        discards = {
            r["cause"]: int(r["n"])
            for r in self._all(
                "SELECT cause, COUNT(*) AS n FROM discards WHERE org_id = ? AND journey = ? "
                "GROUP BY cause",
                (org_id, journey),
            )
        }
        return {
            "journey": journey,
            **people_counts(statuses),
            "discarded": sum(discards.values()),
            "discardsByCause": discards,
            "nodes": nodes,
        }

    def journey_people(self, org_id: str, since_ms: int) -> dict[str, JourneyPeople]:
        statuses: dict[str, dict[str, int]] = {}
        since: dict[str, int] = {}
        for r in self._all(  # along instances_by_journey alone, which holds entered_ms too
            "SELECT journey, status, COUNT(*) AS n, "
            "SUM(CASE WHEN entered_ms >= ? THEN 1 ELSE 0 END) AS since FROM instances "
            "WHERE org_id = ? GROUP BY journey, status",
            (since_ms, org_id),
        ):
            statuses.setdefault(r["journey"], {})[r["status"]] = int(r["n"])
            since[r["journey"]] = since.get(r["journey"], 0) + int(r["since"])
        return {name: JourneyPeople(found, since[name]) for name, found in statuses.items()}

    def live_by_node(self, org_id: str, journey: str) -> dict[str, int]:
        rows = self._all(  # kept by every write of instances: see add_waiting
            "SELECT node, n FROM waiting_counts WHERE org_id = ? AND journey = ? AND n <> 0",
            (org_id, journey),
        )
        return {r["node"]: int(r["n"]) for r in rows}

    def list_steps(
        self, org_id: str, journey: str, limit: int, identity: str | None = None
    ) -> list[StepRecord]:
        if identity is None:
            rows = self._all(
                "SELECT * FROM step_events WHERE org_id = ? AND journey = ? "
                "ORDER BY seq DESC LIMIT ?",
                (org_id, journey, limit),
            )
        else:
            rows = self._all(
                "SELECT * FROM step_events WHERE org_id = ? AND journey = ? AND identity = ? "
                "ORDER BY seq DESC LIMIT ?",
                (org_id, journey, identity, limit),
            )
        return [step_from_row(r) for r in rows]

    def person_instances(
        self, org_id: str, identities: Sequence[str], limit: int
    ) -> list[Instance]:
        sql = "SELECT state FROM instances WHERE org_id = ? AND identity = ? ORDER BY entered_ms"
        found = [instance_from_row(r) for r in self._newest(sql, org_id, identities, limit)]
        found.sort(key=lambda i: (-i.entered_ms, i.instance_id))
        return found[:limit]

    def person_steps(self, org_id: str, identities: Sequence[str], limit: int) -> list[StepRecord]:
        sql = "SELECT * FROM step_events WHERE org_id = ? AND identity = ? ORDER BY seq"
        found = [step_from_row(r) for r in self._newest(sql, org_id, identities, limit)]
        found.sort(key=lambda s: -s.seq)
        return found[:limit]

    def _newest(
        self, sql: str, org_id: str, identities: Sequence[str], limit: int
    ) -> Iterator[Row]:
        """The ``limit`` last rows of ``sql`` (ordered ascending) for each identity: read
        backwards along an index of (org_id, identity, ...), once per identity."""
        for identity in dict.fromkeys(identities):
            yield from self._all(f"{sql} DESC LIMIT ?", (org_id, identity, limit))

    def step_event_records(
        self, org_id: str, *, limit: int, after_seq: int | None = None
    ) -> list[StepRecord]:
        rows = self._page(
            "step_events", "org_id", org_id, limit=limit, after_seq=after_seq, following=True
        )
        return [step_from_row(r) for r in rows]

    def delete_step_events_before(self, before_ms: int, limit: int) -> int:
        with self._tx() as conn:
            return conn.execute(
                "DELETE FROM step_events WHERE seq IN (SELECT seq FROM step_events "
                f"WHERE at_ms < ? ORDER BY at_ms, seq LIMIT ?{self.skip_claimed})",
                (before_ms, limit),
            ).rowcount

    def count_step_events(self, org_id: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM step_events WHERE org_id = ?", (org_id,))
        return int(row["n"]) if row else 0
