"""Profile settings through the admin API and apply: datasets enabled for Profile, and the
org's merge policy."""

from __future__ import annotations

import pytest

from tests.conftest import Demo
from tests.integration.conftest import assert_problem

pytestmark = pytest.mark.integration

CUSTOMERS = {
    "name": "customers",
    "class": "Profile",
    "fields": {"loyalty": {"type": "object", "properties": {"tier": {"type": "string"}}}},
}


def test_a_dataset_is_enabled_for_profile_at_creation_or_later_and_stays_so(
    org_demo: Demo,
) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        assert admin.post("/api/v1/schemas", json=CUSTOMERS).status_code == 201
        created = admin.post(
            "/api/v1/datasets", json={"name": "crm", "schemaId": "customers", "profile": True}
        )
        assert created.status_code == 201, created.text
        assert created.json()["profile"] is True
        assert admin.get(f"/api/v1/datasets/{created.json()['id']}").json()["profile"] is True
        url = f"/api/v1/datasets/{org_demo.dataset_id}"
        assert "profile" not in admin.get(url).json()
        changed = admin.patch(url, json={"profile": True})
        assert changed.status_code == 200, changed.text
        assert changed.json()["profile"] is True
        assert admin.patch(url, json={"retentionDays": 9}).json()["profile"] is True
        problem = assert_problem(admin.patch(url, json={"profile": False}), 400)
        assert "stays enabled" in problem["report"]["message"]
        assert_problem(admin.patch(url, json={"profile": "yes"}), 400)
        assert_problem(admin.post("/api/v1/datasets", json={"name": "x", "schemaId": "customers",
                                                            "profile": 1}), 400)  # fmt: skip


def test_the_merge_policy_is_timestamp_ordered_until_set_and_names_datasets_by_id(
    org_demo: Demo,
) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        assert admin.post("/api/v1/schemas", json=CUSTOMERS).status_code == 201
        crm = admin.post("/api/v1/datasets", json={"name": "crm", "schemaId": "customers"}).json()
        assert admin.get("/api/v1/merge-policy").json() == {
            "attributeMerge": {"type": "timestampOrdered"}
        }
        precedence = {"type": "dataSetPrecedence", "order": ["crm", org_demo.dataset_id]}
        answer = admin.put("/api/v1/merge-policy", json={"attributeMerge": precedence})
        assert answer.status_code == 200, answer.text
        stored = {
            "attributeMerge": {
                "type": "dataSetPrecedence",
                "order": [crm["id"], org_demo.dataset_id],
            }
        }
        assert answer.json() == stored
        assert admin.get("/api/v1/merge-policy").json() == stored
        unknown = {"type": "dataSetPrecedence", "order": ["nowhere"]}
        assert_problem(admin.put("/api/v1/merge-policy", json={"attributeMerge": unknown}), 404)
        twice = {"type": "dataSetPrecedence", "order": ["crm", crm["id"]]}
        assert_problem(admin.put("/api/v1/merge-policy", json={"attributeMerge": twice}), 400)
        assert_problem(admin.put("/api/v1/merge-policy", json={"attributeMerge": {}}), 400)
        assert admin.get("/api/v1/merge-policy").json() == stored


def test_apply_enables_datasets_for_profile_and_sets_the_merge_policy(org_demo: Demo) -> None:
    documents = [
        {"kind": "MergePolicy", "attributeMerge": {"type": "dataSetPrecedence", "order": ["crm"]}},
        {"kind": "Dataset", "name": "crm", "schemaId": "customers", "profile": True},
        {"kind": "Schema", **CUSTOMERS},
    ]
    with org_demo.server.admin(org_demo.org) as admin:
        first = admin.post("/api/v1/apply", json={"documents": documents})
        assert first.status_code == 200, first.text
        actions = {a["kind"]: a["action"] for a in first.json()["applied"]}
        assert actions == {"Schema": "created", "Dataset": "created", "MergePolicy": "updated"}
        again = admin.post("/api/v1/apply", json={"documents": documents}).json()["applied"]
        assert {a["action"] for a in again} == {"unchanged"}
        crm = next(
            d for d in admin.get("/api/v1/datasets").json()["datasets"] if d["name"] == "crm"
        )
        assert crm["profile"] is True
        order = admin.get("/api/v1/merge-policy").json()["attributeMerge"]["order"]
        assert order == [crm["id"]]
