"""Profiles through the admin API and the inlet: datasets enabled for Profile, the org's
merge policy, and Profile records as they arrive, applied to fragments."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.conftest import ROOT, Demo
from tests.integration.conftest import assert_problem, records
from wayfare.model.identities import Identity
from wayfare.model.records import IncomingMessage
from wayfare.model.resources import Dataset, Schema
from wayfare.model.schema import SchemaDefinition
from wayfare.registry.profiles import apply_profile_record, merged_profile
from wayfare.store.memory_profiles import MemoryProfileStore

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
        plain = {"kind": "Dataset", "name": "crm", "schemaId": "customers"}
        problem = assert_problem(admin.post("/api/v1/apply", json={"documents": [plain]}), 400)
        assert "stays enabled" in problem["report"]["message"]


def test_profile_records_sent_to_an_inlet_update_fragments_as_their_operations_say(
    org_demo: Demo,
) -> None:
    examples = yaml.safe_load_all((ROOT / "examples/profiles/customers.yaml").read_text())
    with org_demo.server.admin(org_demo.org) as admin:
        tenant = admin.get("/api/v1/org").json()["tenantId"]
        applied = admin.post("/api/v1/apply", json={"documents": list(examples)})
        assert applied.status_code == 200, applied.text
        schema = admin.get("/api/v1/schemas/customers").json()
        datasets = {d["name"]: d for d in admin.get("/api/v1/datasets").json()["datasets"]}
    crm = datasets["crm-customers"]
    ref = {"id": schema["id"], "contentType": "application/vnd.adobe.xed-full+json;version=1"}

    def profile_record(entity: dict[str, Any], data: str | None) -> dict[str, Any]:
        header: dict[str, Any] = {
            "schemaRef": ref,
            "imsOrgId": org_demo.org,
            "datasetId": crm["id"],
        }
        if data is not None:
            header["operations"] = {"data": data, "identity": "create"}
        identity_map = {"Email": [{"id": "ada@example.com", "primary": True}]}
        body = {"xdmMeta": {"schemaRef": ref}, "xdmEntity": {"identityMap": identity_map, **entity}}
        return {"header": header, "body": body}

    def audit(day: str) -> dict[str, str]:
        return {"lastUpdatedDate": f"2026-01-{day}T03:04:05Z"}

    loyalty = f"_{tenant}"
    sent = [
        profile_record({loyalty: {"loyalty": {"tier": "silver", "points": 5}},
                        "extSourceSystemAudit": audit("01")}, None),
        profile_record({loyalty: {"loyalty": {"tier": "gold"}},
                        "extSourceSystemAudit": audit("03")}, "merge"),
        # older than the tier it would change (kept), newer than the points (set)
        profile_record({loyalty: {"loyalty": {"tier": "bronze", "points": 1}},
                        "extSourceSystemAudit": audit("02")}, "merge"),
    ]  # fmt: skip
    for message in sent:
        answer = httpx.post(org_demo.inlet_url, json=message, timeout=10)
        assert answer.status_code == 200, answer.text
    stored = records(org_demo, crm["id"])
    assert len(stored) == 3
    store = MemoryProfileStore()
    dataset = Dataset(crm["id"], org_demo.org, crm["name"], schema["id"], False, 0, profile=True)
    customers = Schema(
        schema["id"],
        1,
        org_demo.org,
        SchemaDefinition.from_json(schema["definition"]),
        schema["jsonSchema"],
        0,
    )
    for record in stored:
        incoming = IncomingMessage(
            xaction_id=record["xactionId"],
            msg_id=None,
            org_id=org_demo.org,
            inlet_id=org_demo.inlet_id,
            dataset_id=crm["id"],
            schema_id=schema["id"],
            received_ms=record["receivedTimeMs"],
            payload=orjson.dumps(record["message"]),
        )
        assert apply_profile_record(store, dataset, customers, incoming).applied
    profile = merged_profile(store, org_demo.org, [Identity("Email", "ada@example.com")])
    assert profile.attributes[loyalty] == {"loyalty": {"tier": "gold", "points": 1}}
    assert profile.attributes["extSourceSystemAudit"] == audit("03")
    tier = profile.provenance[(f"_{tenant}", "loyalty", "tier")]
    assert (tier.dataset_id, tier.time_ms) == (crm["id"], 1_767_409_445_000)
