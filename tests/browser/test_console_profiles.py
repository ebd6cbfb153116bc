"""The Profiles page in a real browser: a person found by an identity of any case, with its
identities, its attributes and the dataset each came from, its journeys with their steps,
its audiences and its recent experience events; an identity no one has."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
import yaml
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_TOKEN, Visit
from tests.browser.test_console_journeys import HOLD, signup
from tests.conftest import ROOT, Demo, wait_until
from wayfare.model.identities import Identity
from wayfare.model.profile_records import Operation, ProfileUpdate
from wayfare.store.sqlite.connection import database_path
from wayfare.store.sqlite.profiles import SQLiteProfileStore

pytestmark = pytest.mark.integration


def test_a_profile_is_found_by_any_identity_with_attributes_and_journeys(
    visit: Visit, demo: Demo
) -> None:
    examples = list(yaml.safe_load_all((ROOT / "examples/profiles/customers.yaml").read_text()))
    with demo.server.admin(demo.org, ADMIN_TOKEN) as admin:
        assert admin.post("/api/v1/apply", json={"documents": examples}).status_code == 200
        datasets = {d["name"]: d["id"] for d in admin.get("/api/v1/datasets").json()["datasets"]}
        saved = admin.put(
            "/api/v1/journeys/hold_on", json=yaml.safe_load(HOLD.format(name="hold_on"))
        )
        assert saved.status_code == 201, saved.text
        assert admin.post("/api/v1/journeys/hold_on/publish").status_code == 200
        enabled = admin.patch(f"/api/v1/datasets/{demo.dataset_id}", json={"profile": True})
        assert enabled.status_code == 200, enabled.text
        audience = {
            "name": "subscribers",
            "condition": "count(newsletter_signup in last 7 days) >= 1",
        }
        assert admin.post("/api/v1/audiences", json=audience).status_code == 201
        dataset_name = admin.get(f"/api/v1/datasets/{demo.dataset_id}").json()["name"]
    # the engine does not apply Profile records yet: the fragment is written as it will be
    store = SQLiteProfileStore(database_path(demo.server.data_dir))
    try:
        attributes = {"_instance_name": {"person": {"city": "Paris"}}}
        store.apply_profile_update(
            ProfileUpdate(
                demo.org, datasets["crm-customers"], Identity("Email", "ada@example.com"),
                Operation.MERGE, attributes, 1_767_225_600_000,
            )
        )  # fmt: skip
    finally:
        store.close()
    message = signup(demo, "ada@example.com")
    now = datetime.fromtimestamp(time.time(), UTC)  # kept for 30 days from when it happened
    message["body"]["xdmEntity"]["timestamp"] = now.isoformat().replace("+00:00", "Z")
    sent = httpx.post(demo.inlet_url, json=message)
    assert sent.status_code == 200, sent.text
    with demo.server.admin(demo.org, ADMIN_TOKEN) as admin:
        query = {"namespace": "Email", "id": "ada@example.com"}
        wait_until(lambda: admin.get("/api/v1/profiles", params=query).json().get("journeys"))
        wait_until(lambda: admin.get("/api/v1/profiles", params=query).json().get("events"))

    visit.sign_in(demo.org)
    page = visit.go("/profiles", "profiles")
    expect(page.get_by_role("link", name="Profiles")).to_have_attribute("aria-current", "page")
    page.get_by_label("Namespace").select_option("Email")
    page.get_by_label("Identity").fill("ADA@example.com")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name="hold_on v1 · waiting at hold")).to_be_visible()
    visit.shot("found")
    expect(page.get_by_role("table", name="Identities")).to_contain_text("Email:ada@example.com")
    row = page.get_by_role("row", name="_instance_name.person.city")
    expect(row).to_contain_text('"Paris"')
    expect(row).to_contain_text("crm-customers")
    expect(row).to_contain_text("2026-01-01")
    steps = page.get_by_role("table", name="Steps of hold_on, oldest first")
    expect(steps.get_by_role("row")).to_have_count(3)  # the header, entry, greet
    expect(steps).to_contain_text("greet")
    audiences = page.get_by_role("table", name="Audiences of the person, current and past")
    expect(audiences.get_by_role("row", name="subscribers")).to_contain_text("member")
    events = page.get_by_role("table", name="Recent experience events, newest first")
    [row] = events.get_by_role("row").all()[1:]
    cells = row.get_by_role("cell")
    expect(cells.nth(0)).to_contain_text(now.strftime("%Y-%m-%d"))
    expect(cells.nth(1)).to_have_text(dataset_name)
    expect(cells.nth(3)).to_have_text("newsletter_signup")  # the event it matched
    expect(cells.nth(4)).to_have_text("Email:ada@example.com")

    page.get_by_label("Identity").fill("nobody@example.com")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("status")).to_have_text(
        "No profile has the identity Email:nobody@example.com."
    )
    visit.shot("not-found")
