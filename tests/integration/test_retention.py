"""Retention: a dataset's ``retentionDays`` (API and apply), the settings of step events and
of people's experience events, and the server deleting what is past them in the
background."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEMO_ORG, Demo, Server, apply_demo, make_message, wait_until
from tests.integration.conftest import assert_problem, record_count, records

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000


def test_retention_days_are_set_at_creation_changed_and_applied(org_demo: Demo) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        created = admin.post(
            "/api/v1/datasets",
            json={"name": "short", "schemaId": org_demo.schema_id, "retentionDays": 7},
        )
        assert created.status_code == 201, created.text
        assert created.json()["retentionDays"] == 7
        url = f"/api/v1/datasets/{org_demo.dataset_id}"
        assert "retentionDays" not in admin.get(url).json()
        changed = admin.patch(url, json={"retentionDays": 30})
        assert changed.status_code == 200, changed.text
        assert admin.get(url).json()["retentionDays"] == 30
        wrongs = [{"retentionDays": d} for d in (0, "7", 1.5, 36_501, 2**63)] + [{}]
        for wrong in wrongs:
            assert_problem(admin.patch(url, json=wrong), 400)
        assert "retentionDays" not in admin.patch(url, json={"retentionDays": None}).json()
        document = {"kind": "Dataset", "name": "short", "schemaId": org_demo.schema_id}
        applied = admin.post("/api/v1/apply", json={"documents": [document | {"retentionDays": 3}]})
        assert applied.status_code == 200, applied.text
        assert applied.json()["applied"][0]["action"] == "updated"
        shown = admin.get(f"/api/v1/datasets/{created.json()['id']}").json()
        assert shown["retentionDays"] == 3


def test_the_server_deletes_records_step_events_and_people_s_events_past_their_retention(
    tmp_path: Path,
) -> None:
    srv = Server(
        tmp_path / "data",
        env={
            "WAYFARE_RETENTION_INTERVAL_SECONDS": "0.2",
            "WAYFARE_STEP_EVENT_RETENTION_DAYS": "2",
            "WAYFARE_PERSON_EVENT_RETENTION_DAYS": "3",
        },
    ).start()
    try:
        demo = apply_demo(srv)
        fresh = httpx.post(demo.inlet_url, json=make_message(demo.schema_id))
        assert fresh.status_code == 200, fresh.text
        now = int(time.time() * 1000)
        with sqlite3.connect(srv.data_dir / "wayfare.sqlite3", timeout=30) as db:
            db.executemany(
                "INSERT INTO records (org_id, dataset_id, inlet_id, schema_id, xaction_id, "
                "msg_id, received_ms, message) VALUES (?, ?, ?, ?, ?, NULL, ?, '{}')",
                [
                    (DEMO_ORG, demo.dataset_id, demo.inlet_id, demo.schema_id, x, at)
                    for x, at in (("ten-days-old", now - 10 * DAY_MS), ("today", now - 1000))
                ],
            )
            db.executemany(
                "INSERT INTO step_events (org_id, journey, version, node, node_type, "
                "instance_id, identity, status, detail, at_ms, entered_ms) "
                "VALUES (?, 'welcome', 1, ?, 'end', 'i', 'ada', 'ended', NULL, ?, ?)",
                [
                    (DEMO_ORG, node, at, at)
                    for node, at in (("old", now - 3 * DAY_MS), ("new", now))
                ],
            )
            db.executemany(
                "INSERT INTO person_events (org_id, namespace, identity_id, at_ms, "
                "received_ms, dataset_id, xaction_id, event_type, events) "
                "VALUES (?, 'Email', 'ada@example.com', ?, ?, ?, ?, NULL, '[]')",
                [
                    (DEMO_ORG, at, at, demo.dataset_id, x)
                    for x, at in (
                        ("four-days-old", now - 4 * DAY_MS),
                        ("an-hour-old", now - 3600_000),
                    )
                ],
            )
        assert record_count(demo) == 3
        with srv.admin() as admin:  # 5 days: the ten-day-old record goes, the others stay
            changed = admin.patch(f"/api/v1/datasets/{demo.dataset_id}", json={"retentionDays": 5})
            assert changed.status_code == 200, changed.text
        wait_until(lambda: record_count(demo) == 2, timeout=30)
        kept = {r["xactionId"] for r in records(demo)}
        assert kept == {fresh.json()["xactionId"], "today"}

        def step_nodes() -> set[str]:
            with sqlite3.connect(srv.data_dir / "wayfare.sqlite3", timeout=30) as db:
                return {node for (node,) in db.execute("SELECT node FROM step_events")}

        wait_until(lambda: step_nodes() == {"new"}, timeout=30)

        def person_events() -> set[str]:
            with sqlite3.connect(srv.data_dir / "wayfare.sqlite3", timeout=30) as db:
                return {x for (x,) in db.execute("SELECT xaction_id FROM person_events")}

        wait_until(lambda: person_events() == {"an-hour-old"}, timeout=30)
    finally:
        srv.stop()
