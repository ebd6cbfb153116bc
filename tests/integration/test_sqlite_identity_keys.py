"""SQLite's migration 0019 normalises the Email ids that journeys stored before they keyed
people by normalised ids: instances (and their states), step events and discards of journeys
entered on an Email event; other namespaces' ids, and ids SQLite cannot lower-case as Python
does, stay as they were."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from tests.sqlite_migrations import migrated_to
from wayfare.store.sqlite.connection import migrate

ORG = "ACME@AdobeOrg"


def test_stored_email_ids_of_journeys_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "wayfare.sqlite3"
    migrated_to(path, "0018.audiences")
    with sqlite3.connect(path) as conn:
        for name, namespace in (("signup", "Email"), ("visit", "ECID")):
            body = orjson.dumps({"name": name, "namespace": namespace}).decode()
            conn.execute(
                "INSERT INTO events (org_id, name, schema_id, body, created_ms) "
                "VALUES (?, ?, 's', ?, 0)",
                (ORG, name, body),
            )
        for journey, event in (("welcome", "signup"), ("seen", "visit")):
            conn.execute(
                "INSERT INTO journeys (org_id, name, version, state, test_mode, entry_event, "
                "definition, created_ms, changed_ms) VALUES (?, ?, 1, 'live', 0, ?, '{}', 0, 0)",
                (ORG, journey, event),
            )
        rows = [
            ("i-1", "welcome", " Ada@Example.com"),
            ("i-2", "welcome", "Zoë@Example.com"),
            ("i-3", "seen", "E-ADA"),
        ]
        for instance_id, journey, identity in rows:
            state = {"instance_id": instance_id, "identity": identity, "events": {}}
            conn.execute(
                "INSERT INTO instances (instance_id, org_id, journey, version, identity, "
                "status, entered_ms, partition, state) VALUES (?, ?, ?, 1, ?, 'waiting', 0, 0, ?)",
                (instance_id, ORG, journey, identity, orjson.dumps(state).decode()),
            )
            conn.execute(
                "INSERT INTO step_events (org_id, journey, version, node, node_type, "
                "instance_id, identity, status, at_ms, entered_ms) "
                "VALUES (?, ?, 1, 'entry', 'entry', ?, ?, 'ended', 0, 0)",
                (ORG, journey, instance_id, identity),
            )
            conn.execute(
                "INSERT INTO discards (org_id, journey, identity, cause, at_ms) "
                "VALUES (?, ?, ?, 'reentrance', 0)",
                (ORG, journey, identity),
            )
    conn.close()

    migrate(path)

    with sqlite3.connect(path) as conn:
        instances = conn.execute(
            "SELECT instance_id, identity, state FROM instances ORDER BY instance_id"
        ).fetchall()
        assert [(i, x, orjson.loads(s)["identity"]) for i, x, s in instances] == [
            ("i-1", "ada@example.com", "ada@example.com"),
            ("i-2", "Zoë@Example.com", "Zoë@Example.com"),
            ("i-3", "E-ADA", "E-ADA"),
        ]
        expected = ["ada@example.com", "Zoë@Example.com", "E-ADA"]
        steps = conn.execute("SELECT identity FROM step_events ORDER BY instance_id").fetchall()
        assert [x for (x,) in steps] == expected
        discards = conn.execute("SELECT identity FROM discards ORDER BY rowid").fetchall()
        assert [x for (x,) in discards] == expected
    conn.close()
