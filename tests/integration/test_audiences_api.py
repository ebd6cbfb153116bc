"""Audiences through the admin API: created with their conditions checked against the org's
events and Profile schemas, listed, shown, and their members and a person's memberships."""

from __future__ import annotations

import pytest

from tests.conftest import Demo
from tests.integration.conftest import assert_problem
from wayfare.registry.demo import DEMO_EVENT, DEMO_TENANT

pytestmark = pytest.mark.integration

CUSTOMERS = {
    "name": "customers",
    "class": "Profile",
    "fields": {"loyalty": {"type": "object", "properties": {"tier": {"type": "string"}}}},
}


def test_an_audience_is_created_listed_and_shown(org_demo: Demo) -> None:
    tier = f"_{DEMO_TENANT}.loyalty.tier"
    condition = f"#{{profile.{tier}}} == 'gold' and count({DEMO_EVENT} in last 7 days) >= 2"
    with org_demo.server.admin(org_demo.org) as admin:
        assert admin.post("/api/v1/schemas", json=CUSTOMERS).status_code == 201
        created = admin.post(
            "/api/v1/audiences",
            json={"name": "gold-buyers", "condition": condition, "description": "twice a week"},
        )
        assert created.status_code == 201, created.text
        shown = created.json()
        assert shown["name"] == "gold-buyers" and shown["condition"] == condition
        assert (shown["events"], shown["readsProfile"]) == ([DEMO_EVENT], True)
        assert admin.get("/api/v1/audiences/gold-buyers").json() == shown
        second = {"name": "anyone", "condition": "true"}
        assert admin.post("/api/v1/audiences", json=second).status_code == 201
        listed = admin.get("/api/v1/audiences").json()["audiences"]
        assert [a["name"] for a in listed] == ["anyone", "gold-buyers"]
        assert_problem(admin.post("/api/v1/audiences", json=second), 409)
        assert_problem(admin.get("/api/v1/audiences/nobody"), 404)
        members = admin.get("/api/v1/audiences/gold-buyers/members").json()
        assert members == {"audience": "gold-buyers", "members": [], "next": None}
        assert_problem(admin.get("/api/v1/audiences/nobody/members"), 404)


@pytest.mark.parametrize(
    ("condition", "said"),
    [
        ("count(nothing in last 7 days) > 0", "no event is named 'nothing'"),
        ("#{profile.loyalty.colour} == 'red'", "is a field of no Profile schema"),
        ("count(x in last 100 days) > 0", "at most 91 days"),
        ("order.total > 3", "reads no profile"),
    ],
)
def test_a_condition_the_org_cannot_evaluate_is_refused(
    org_demo: Demo, condition: str, said: str
) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        assert admin.post("/api/v1/schemas", json=CUSTOMERS).status_code == 201
        answer = admin.post("/api/v1/audiences", json={"name": "a", "condition": condition})
        problem = assert_problem(answer, 400)
        assert said in problem["report"]["message"]
        assert admin.get("/api/v1/audiences").json() == {"audiences": []}


def test_memberships_are_asked_by_any_identity_of_a_known_person(org_demo: Demo) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        unknown = admin.get(
            "/api/v1/audience-memberships", params={"namespace": "Email", "id": "x@example.com"}
        )
        assert_problem(unknown, 404)
        assert_problem(admin.get("/api/v1/audience-memberships"), 400)


def test_an_audience_document_is_applied_once_and_does_not_change(org_demo: Demo) -> None:
    audience = {"kind": "Audience", "name": "signed-up", "condition": f"count({DEMO_EVENT} in "
                "last 30 days) > 0", "description": "signed up this month"}  # fmt: skip
    with org_demo.server.admin(org_demo.org) as admin:
        first = admin.post("/api/v1/apply", json={"documents": [audience]})
        assert first.status_code == 200, first.text
        assert first.json()["applied"] == [
            {"kind": "Audience", "name": "signed-up", "action": "created", "id": "signed-up"}
        ]
        again = admin.post("/api/v1/apply", json={"documents": [audience]}).json()
        assert again["applied"][0]["action"] == "unchanged"
        changed = {**audience, "condition": "true"}
        problem = assert_problem(admin.post("/api/v1/apply", json={"documents": [changed]}), 409)
        assert "define another one" in problem["report"]["message"]
        unknown = {**audience, "name": "other", "condition": "count(nope in last 1 day) > 0"}
        refused = assert_problem(admin.post("/api/v1/apply", json={"documents": [unknown]}), 400)
        assert refused["report"]["message"].startswith("document 0 (Audience 'other')")
        shown = admin.get("/api/v1/audiences/signed-up").json()
        assert shown["condition"] == audience["condition"]
