"""Each move of an instance lands in the org's step-events dataset."""

from __future__ import annotations

import httpx

from tests.conftest import Demo, make_message, wait_until


def test_step_events_are_a_dataset_of_the_org(demo: Demo) -> None:
    journey = {
        "kind": "Journey",
        "name": "quick",
        "state": "live",
        "entry": {"event": "newsletter_signup", "next": "note"},
        "activities": {
            "note": {"type": "log", "message": "hello", "next": "done"},
            "done": {"type": "end"},
        },
    }
    with demo.server.admin() as admin:
        assert admin.post("/api/v1/apply", json={"documents": [journey]}).status_code == 200
        event_id = admin.get("/api/v1/events/newsletter_signup").json()["eventID"]
        message = make_message(demo.schema_id, email="grace@example.com")
        message["body"]["xdmEntity"]["_experience"] = {
            "campaign": {"orchestration": {"eventID": event_id}}
        }
        assert httpx.post(demo.inlet_url, json=message).status_code == 200

        def steps() -> list[dict[str, object]]:
            body = admin.get("/api/v1/datasets/journeyStepEvents/records").json()
            records: list[dict[str, object]] = body["records"]
            return records if len(records) >= 3 else []

        records = wait_until(steps)
        assert [(r["node"], r["status"]) for r in records] == [
            ("entry", "ended"),
            ("note", "ended"),
            ("done", "ended"),
        ]
        assert {r["identity"] for r in records} == {"grace@example.com"}
        assert {r["journey"] for r in records} == {"quick"}
        assert admin.get("/api/v1/datasets/journeyStepEvents").json()["recordCount"] == 3
        later = admin.get(
            "/api/v1/datasets/journeyStepEvents/records", params={"after": records[0]["seq"]}
        ).json()["records"]
        assert [r["node"] for r in later] == ["note", "done"]
