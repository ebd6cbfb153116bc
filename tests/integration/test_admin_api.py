"""The admin API under /api/v1, /healthz and /openapi.json, through a real server."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT, Demo, Server, make_message
from tests.integration.conftest import (
    apply_demo_to,
    assert_problem,
    causing_exceptions,
    create_inlet,
    new_org,
    record_count,
    records,
    start_server,
)
from wayfare.model.schema import tenant_from_org
from wayfare.registry.demo import DEMO_DOCUMENTS
from wayfare.store.sqlite.connection import database_path

pytestmark = pytest.mark.integration

CONTENT_TYPE = "application/vnd.adobe.xed-full+json"

ORDERS_V1: dict[str, Any] = {
    "name": "orders",
    "title": "Orders",
    "class": "ExperienceEvent",
    "fields": {
        "order": {
            "type": "object",
            "properties": {"total": {"type": "number"}, "currency": {"type": "string"}},
        }
    },
}
ORDERS_V2: dict[str, Any] = {
    **ORDERS_V1,
    "fields": {
        "order": {
            "type": "object",
            "properties": {
                "total": {"type": "number", "minimum": 0},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
        }
    },
}


def order_message(schema_id: str, org: str, *, version: int | None, **order: Any) -> dict[str, Any]:
    content_type = CONTENT_TYPE if version is None else f"{CONTENT_TYPE};version={version}"
    ref = {"id": schema_id, "contentType": content_type}
    return {
        "header": {"msgType": "xdmEntityCreate", "imsOrgId": org, "schemaRef": ref},
        "body": {
            "xdmMeta": {"schemaRef": ref},
            "xdmEntity": {
                "_id": str(uuid.uuid4()),
                "timestamp": "2026-11-28T10:00:00Z",
                "_instance_name": {"order": order},
            },
        },
    }


def sync_post(url: str, message: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, json=message, params={"syncValidation": "true"}, timeout=30, **kwargs)


# org header, admin token, isolation
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/schemas"),
        ("GET", "/api/v1/datasets"),
        ("GET", "/api/v1/inlets"),
        ("GET", "/api/v1/failures"),
        ("GET", "/api/v1/org"),
        ("POST", "/api/v1/apply"),
        ("POST", "/api/v1/inlets"),
    ],
)
def test_admin_calls_need_the_org_header(shared_server: Server, method: str, path: str) -> None:
    for headers in ({}, {"x-gw-ims-org-id": ""}):
        answer = httpx.request(
            method, shared_server.url + path, headers=headers, json={"documents": []}
        )
        body = assert_problem(answer, 400)
        assert "x-gw-ims-org-id" in body["report"]["message"]


def test_orgs_are_listed_without_an_org_header_once_a_write_made_them(
    shared_server: Server,
) -> None:
    read_only, written = new_org(), new_org()
    with shared_server.admin(read_only) as admin:
        assert admin.get("/api/v1/org").status_code == 200  # reading creates nothing
    with shared_server.admin(written) as admin:
        assert admin.put("/api/v1/org", json={"tenantId": "listed"}).status_code == 200
    orgs = httpx.get(f"{shared_server.url}/api/v1/orgs").json()["orgs"]
    ids = [o["imsOrgId"] for o in orgs]
    assert ids == sorted(ids)
    assert {"imsOrgId": written, "tenantId": "listed"} in orgs
    assert read_only not in ids


def test_orgs_are_isolated(org_demo: Demo, shared_server: Server) -> None:
    sent = httpx.post(org_demo.inlet_url, json=make_message(org_demo.schema_id, org=org_demo.org))
    assert sent.status_code == 200, sent.text
    with shared_server.admin(org_demo.org) as admin:
        alt_id = admin.get(f"/api/v1/schemas/{org_demo.schema_id}").json()["altId"]
    with shared_server.admin(new_org()) as other:
        for path in (
            "/api/v1/schemas/newsletter_signup",
            f"/api/v1/schemas/{org_demo.schema_id}",
            f"/api/v1/schemas/{alt_id}",
            "/api/v1/schemas/newsletter_signup/versions",
            f"/api/v1/inlets/{org_demo.inlet_id}",
            "/api/v1/inlets/demo-inlet",
            f"/api/v1/datasets/{org_demo.dataset_id}",
            f"/api/v1/datasets/{org_demo.dataset_id}/records",
            f"/api/v1/failures?inletId={org_demo.inlet_id}",
        ):
            assert_problem(other.get(path), 404)
        assert_problem(
            other.patch(f"/api/v1/inlets/{org_demo.inlet_id}", json={"state": "disabled"}), 404
        )
        assert_problem(other.delete(f"/api/v1/inlets/{org_demo.inlet_id}"), 404)
        assert_problem(other.post(f"/api/v1/inlets/{org_demo.inlet_id}/tokens", json={}), 404)
        assert_problem(
            other.post("/api/v1/datasets", json={"name": "steal", "schemaId": org_demo.schema_id}),
            404,
        )
        raw = other.post(
            "/api/v1/inlets",
            json={"name": "steal", "dataType": "raw", "datasetId": org_demo.dataset_id},
        )
        assert_problem(raw, 400)
        assert other.get("/api/v1/schemas").json() == {"schemas": []}
        # only the org's own system dataset of journey step events, empty
        assert other.get("/api/v1/datasets").json() == {
            "datasets": [
                {
                    "id": "journeyStepEvents",
                    "name": "Journey step events",
                    "system": True,
                    "default": False,
                    "imsOrg": other.headers["x-gw-ims-org-id"],
                }
            ]
        }
        assert other.get("/api/v1/datasets/journeyStepEvents/records").json()["records"] == []
        assert other.get("/api/v1/inlets").json() == {"inlets": []}
    # org A is untouched
    with shared_server.admin(org_demo.org) as admin:
        assert admin.get(f"/api/v1/inlets/{org_demo.inlet_id}").json()["state"] == "enabled"
    assert record_count(org_demo) == 1


def test_admin_token_guards_admin_calls_but_not_collection(tmp_path: Path) -> None:
    srv = start_server(tmp_path, extra_args=["--admin-token", "s3cret"])
    try:
        org = new_org()
        with httpx.Client(base_url=srv.url, headers={"x-gw-ims-org-id": org}) as anonymous:
            missing = anonymous.get("/api/v1/schemas")
            assert_problem(missing, 401)
            assert missing.headers["www-authenticate"].lower().startswith("bearer")
            assert_problem(anonymous.post("/api/v1/apply", json={"documents": DEMO_DOCUMENTS}), 401)
            assert anonymous.get("/healthz").json() == {"status": "ok"}
            assert anonymous.get("/openapi.json").status_code == 200
        with srv.admin(org, token="wrong") as wrong:
            assert_problem(wrong.get("/api/v1/schemas"), 403)
            assert_problem(wrong.get("/api/v1/inlets"), 403)
        with srv.admin(org, token="s3cret") as right:
            assert right.get("/api/v1/schemas").status_code == 200
        assert_problem(httpx.get(f"{srv.url}/api/v1/orgs"), 401)
        demo = apply_demo_to(srv, org, admin_token="s3cret")
        listed = httpx.get(f"{srv.url}/api/v1/orgs", headers={"authorization": "Bearer s3cret"})
        assert listed.json()["orgs"] == [{"imsOrgId": org, "tenantId": "instance_name"}]
        # collection calls do not need the admin token
        answer = sync_post(demo.inlet_url, make_message(demo.schema_id, org=org))
        assert answer.status_code == 200, answer.text
        batch = httpx.post(
            demo.batch_url, json={"messages": [make_message(demo.schema_id, org=org)]}
        )
        assert batch.status_code == 207, batch.text
        with srv.admin(org, token="s3cret") as right:
            count = right.get(f"/api/v1/datasets/{demo.dataset_id}").json()["recordCount"]
        assert count == 2
    finally:
        srv.stop()


def test_the_demo_webhook_exists_only_with_demo(shared_server: Server) -> None:
    for method in ("GET", "POST"):
        answer = httpx.request(method, f"{shared_server.url}/demo/webhook", json={"a": 1})
        assert answer.status_code == 404, answer.text


def test_what_the_demo_webhook_received_takes_the_admin_token(tmp_path: Path) -> None:
    srv = start_server(tmp_path, extra_args=["--demo", "--admin-token", "s3cret"])
    webhook = f"{srv.url}/demo/webhook"
    try:
        # the demo journey's call carries no credentials: it is taken
        call = {"email": "ada@example.com"}
        taken = httpx.post(webhook, json=call, headers={"Idempotency-Key": "i:welcome_webhook"})
        assert taken.json() == {"received": True, "count": 1}
        assert_problem(httpx.get(webhook), 401)
        assert_problem(httpx.get(webhook, headers={"Authorization": "Bearer wrong"}), 403)
        read = httpx.get(webhook, headers={"Authorization": "Bearer s3cret"})
        assert read.json() == {"received": [{"idempotencyKey": "i:welcome_webhook", "body": call}]}
    finally:
        srv.stop()


# schemas
def test_schema_create_get_update_versions(org_demo: Demo) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        created = admin.post("/api/v1/schemas", json=ORDERS_V1)
        assert created.status_code == 201, created.text
        v1 = created.json()
        assert v1["name"] == "orders"
        assert v1["version"] == 1
        assert v1["contentType"] == f"{CONTENT_TYPE};version=1"
        assert v1["id"].startswith("https://ns.adobe.com/instance_name/schemas/")
        assert v1["altId"].startswith("_instance_name.schemas.")
        assert v1["imsOrg"] == org_demo.org
        schema_id = v1["id"]
        for key in ("orders", schema_id, v1["altId"]):
            found = admin.get(f"/api/v1/schemas/{key}")
            assert found.status_code == 200, (key, found.text)
            assert found.json()["id"] == schema_id
        names = [s["name"] for s in admin.get("/api/v1/schemas").json()["schemas"]]
        assert sorted(names) == ["newsletter_signup", "orders"]

        updated = admin.put("/api/v1/schemas/orders", json=ORDERS_V2)
        assert updated.status_code == 200, updated.text
        assert updated.json()["version"] == 2
        assert updated.json()["id"] == schema_id
        # the same definition again adds nothing
        same = admin.put(f"/api/v1/schemas/{schema_id}", json=ORDERS_V2)
        assert same.json()["version"] == 2
        assert admin.get("/api/v1/schemas/orders").json()["version"] == 2
        old = admin.get("/api/v1/schemas/orders", params={"version": 1}).json()
        assert old["version"] == 1
        assert old["definition"]["fields"] == ORDERS_V1["fields"]
        assert_problem(admin.get("/api/v1/schemas/orders", params={"version": 3}), 404)
        versions = admin.get("/api/v1/schemas/orders/versions")
        assert versions.status_code == 200, versions.text
        assert [v["version"] for v in versions.json()["versions"]] == [1, 2]
        listed = {s["name"]: s["version"] for s in admin.get("/api/v1/schemas").json()["schemas"]}
        assert listed["orders"] == 2
        # a schema's class cannot change
        klass = admin.put("/api/v1/schemas/orders", json={**ORDERS_V2, "class": "Profile"})
        assert_problem(klass, 400)
        assert_problem(admin.get("/api/v1/schemas/nope"), 404)
        assert_problem(admin.put("/api/v1/schemas/nope", json=ORDERS_V1), 404)


def test_messages_validate_against_the_version_they_name(org_demo: Demo) -> None:
    url, org = org_demo.inlet_url, org_demo.org
    with org_demo.server.admin(org_demo.org) as admin:
        schema_id = admin.post("/api/v1/schemas", json=ORDERS_V1).json()["id"]
        # while there is only version 1, a message naming no version is checked by it
        before = sync_post(url, order_message(schema_id, org, version=None, currency="euro"))
        assert before.status_code == 200, before.text
        assert admin.put("/api/v1/schemas/orders", json=ORDERS_V2).json()["version"] == 2
        dataset = admin.get("/api/v1/datasets", params={"schema": "orders"}).json()
    dataset_id = dataset["datasets"][0]["id"]

    # version 1 has no pattern and no minimum
    v1 = sync_post(url, order_message(schema_id, org, version=1, total=-5, currency="euro"))
    assert v1.status_code == 200, v1.text
    # version 2 checks both
    v2 = sync_post(url, order_message(schema_id, org, version=2, total=-5, currency="euro"))
    found = {
        (v["pointerToViolation"], v["keyword"]) for v in causing_exceptions(assert_problem(v2, 400))
    }
    assert found == {
        ("#/_instance_name/order/total", "minimum"),
        ("#/_instance_name/order/currency", "pattern"),
    }
    # no version: the latest
    latest = sync_post(url, order_message(schema_id, org, version=None, currency="euro"))
    assert_problem(latest, 400)
    ok = sync_post(url, order_message(schema_id, org, version=2, total=10, currency="EUR"))
    assert ok.status_code == 200, ok.text
    assert record_count(org_demo, dataset_id) == 3


def test_invalid_schema_definitions_are_400_with_violations(org_demo: Demo) -> None:
    bad_definitions = [
        ({"name": "x", "class": "Spaceship"}, "/class"),
        ({"class": "ExperienceEvent"}, "/name"),
        ({"name": "has space", "class": "ExperienceEvent"}, "/name"),
        ({"name": "x", "class": "ExperienceEvent", "fieldGroups": ["nope"]}, "/fieldGroups/0"),
        ({"name": "x", "class": "ExperienceEvent", "fields": {"a": {"type": "nonsense"}}}, None),
        ({"name": "x", "class": "ExperienceEvent", "fields": []}, "/fields"),
        ({"name": "x", "class": "ExperienceEvent", "required": ["nothere"]}, None),
    ]
    with org_demo.server.admin(org_demo.org) as admin:
        for definition, pointer in bad_definitions:
            body = assert_problem(admin.post("/api/v1/schemas", json=definition), 400)
            violations = causing_exceptions(body)
            assert violations, definition
            for v in violations:
                assert v["keyword"] and v["message"]
            if pointer is not None:
                assert pointer in {v["pointerToViolation"] for v in violations}, violations
        assert_problem(admin.post("/api/v1/schemas", json=[1, 2]), 400)
        not_json = admin.post(
            "/api/v1/schemas", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert_problem(not_json, 400)
        names = [s["name"] for s in admin.get("/api/v1/schemas").json()["schemas"]]
        assert names == ["newsletter_signup"]


def test_duplicate_schema_name_is_409(org_demo: Demo) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        assert admin.post("/api/v1/schemas", json=ORDERS_V1).status_code == 201
        assert_problem(admin.post("/api/v1/schemas", json=ORDERS_V2), 409)
        assert len(admin.get("/api/v1/schemas/orders/versions").json()["versions"]) == 1


# datasets
def test_datasets_create_list_get_and_records(org_demo: Demo) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        created = admin.post(
            "/api/v1/datasets", json={"name": "signups-2", "schemaId": "newsletter_signup"}
        )
        assert created.status_code == 201, created.text
        extra = created.json()
        assert extra["default"] is False
        assert extra["schemaRef"]["id"] == org_demo.schema_id
        listed = admin.get("/api/v1/datasets").json()["datasets"]
        assert {d["id"] for d in listed} == {org_demo.dataset_id, extra["id"], "journeyStepEvents"}
        by_schema = admin.get("/api/v1/datasets", params={"schema": org_demo.schema_id}).json()
        assert by_schema["datasets"][0]["id"] == org_demo.dataset_id  # the default comes first
        by_name = admin.get("/api/v1/datasets/signups-2").json()
        assert by_name["id"] == extra["id"]
        assert by_name["recordCount"] == 0
        assert_problem(
            admin.post(
                "/api/v1/datasets", json={"name": "signups-2", "schemaId": "newsletter_signup"}
            ),
            409,
        )
        assert_problem(admin.post("/api/v1/datasets", json={"name": "x", "schemaId": "nope"}), 404)
        assert_problem(admin.post("/api/v1/datasets", json={"name": "x"}), 400)
        assert_problem(admin.get("/api/v1/datasets/ffffffffffffffffffffffff"), 404)
        assert_problem(admin.get("/api/v1/datasets/ffffffffffffffffffffffff/records"), 404)

    sent = []
    for year in range(2000, 2006):
        message = make_message(org_demo.schema_id, org=org_demo.org, birthYear=year)
        answer = sync_post(org_demo.inlet_url, message)
        assert answer.status_code == 200
        sent.append(answer.json()["xactionId"])
    assert record_count(org_demo) == 6
    assert record_count(org_demo, extra["id"]) == 0

    last_two = records(org_demo, limit=2)
    assert [r["xactionId"] for r in last_two] == sent[-2:]  # the last N, oldest first
    every = records(org_demo)
    assert [r["xactionId"] for r in every] == sent
    seqs = [r["seq"] for r in every]
    assert seqs == sorted(seqs)
    after = records(org_demo, after=seqs[2], limit=2)
    assert [r["xactionId"] for r in after] == sent[3:5]
    assert records(org_demo, after=seqs[-1]) == []
    for record in every:
        assert record["datasetId"] == org_demo.dataset_id
        assert record["schemaId"] == org_demo.schema_id
        assert record["imsOrgId"] == org_demo.org
    default_page = records(org_demo, limit="")
    assert len(default_page) == 6
    with org_demo.server.admin(org_demo.org) as admin:
        for bad in ("0", "-1", "abc", "10001"):
            answer = admin.get(f"/api/v1/datasets/{org_demo.dataset_id}/records?limit={bad}")
            assert_problem(answer, 400)


# inlets
def test_inlets_create_list_get_patch_delete(org_demo: Demo) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        created = admin.post(
            "/api/v1/inlets", json={"name": "web", "description": "Web shop", "sourceId": "shop"}
        )
        assert created.status_code == 201, created.text
        inlet = created.json()
        inlet_id = inlet["inletId"]
        assert len(inlet_id) == 64
        assert inlet["inletUrl"] == f"{org_demo.server.url}/collection/{inlet_id}"
        assert inlet["batchUrl"] == f"{org_demo.server.url}/collection/batch/{inlet_id}"
        assert inlet["state"] == "enabled"
        assert inlet["authenticationRequired"] is False
        assert inlet["dataType"] == "xdm"
        assert "token" not in inlet
        names = {i["name"] for i in admin.get("/api/v1/inlets").json()["inlets"]}
        assert names == {"demo-inlet", "web"}
        assert admin.get(f"/api/v1/inlets/{inlet_id}").json()["name"] == "web"
        assert admin.get("/api/v1/inlets/web").json()["inletId"] == inlet_id

        patched = admin.patch(
            f"/api/v1/inlets/{inlet_id}", json={"description": "Shop", "state": "disabled"}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["description"] == "Shop"
        assert patched.json()["state"] == "disabled"
        assert admin.get("/api/v1/inlets/web").json()["state"] == "disabled"
        assert_problem(admin.patch(f"/api/v1/inlets/{inlet_id}", json={"state": "paused"}), 400)
        assert_problem(admin.patch(f"/api/v1/inlets/{inlet_id}", json={"dataType": "raw"}), 400)
        assert_problem(admin.patch(f"/api/v1/inlets/{inlet_id}", json={"name": "demo-inlet"}), 409)
        enabled = admin.patch(f"/api/v1/inlets/{inlet_id}", json={"state": "enabled"})
        assert enabled.json()["state"] == "enabled"
        answer = sync_post(inlet["inletUrl"], make_message(org_demo.schema_id, org=org_demo.org))
        assert answer.status_code == 200, answer.text

        assert_problem(admin.post("/api/v1/inlets", json={"name": "web"}), 409)
        assert_problem(admin.post("/api/v1/inlets", json={"name": "bad name!"}), 400)
        assert_problem(admin.post("/api/v1/inlets", json={"name": "x", "dataType": "csv"}), 400)
        assert_problem(admin.post("/api/v1/inlets", json={}), 400)

        deleted = admin.delete(f"/api/v1/inlets/{inlet_id}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"deleted": inlet_id}
        assert_problem(admin.get(f"/api/v1/inlets/{inlet_id}"), 404)
        assert_problem(admin.delete(f"/api/v1/inlets/{inlet_id}"), 404)
        names = {i["name"] for i in admin.get("/api/v1/inlets").json()["inlets"]}
        assert names == {"demo-inlet"}
    gone = httpx.post(inlet["inletUrl"], json=make_message(org_demo.schema_id, org=org_demo.org))
    assert_problem(gone, 404)
    # what it accepted before stays in the dataset
    assert record_count(org_demo) == 1


def _database_bytes(srv: Server) -> bytes:
    files = sorted(srv.data_dir.glob("wayfare.sqlite3*"))
    assert files, list(srv.data_dir.iterdir())
    return b"".join(f.read_bytes() for f in files)


def test_authenticated_inlet_token_is_shown_once_and_stored_only_as_a_hash(
    org_demo: Demo,
) -> None:
    inlet = create_inlet(org_demo, name="secure", authenticationRequired=True)
    token = inlet["token"]
    assert token["tokenType"] == "bearer"
    assert token["inletId"] == inlet["inletId"]
    assert token["expiresMs"] is None
    access = token["accessToken"]
    assert isinstance(access, str) and len(access) >= 32
    with org_demo.server.admin(org_demo.org) as admin:
        shown = admin.get(f"/api/v1/inlets/{inlet['inletId']}").json()
        listed = admin.get("/api/v1/inlets").text
    assert access not in str(shown)
    assert access not in listed
    answer = sync_post(
        inlet["inletUrl"],
        make_message(org_demo.schema_id, org=org_demo.org),
        headers={"Authorization": f"Bearer {access}"},
    )
    assert answer.status_code == 200, answer.text

    stored = _database_bytes(org_demo.server)
    assert access.encode() not in stored
    assert hashlib.sha256(access.encode()).hexdigest().encode() in stored


def test_tokens_issue_and_revoke(org_demo: Demo) -> None:
    inlet = create_inlet(org_demo, authenticationRequired=True)
    path = f"/api/v1/inlets/{inlet['inletId']}/tokens"
    message = make_message(org_demo.schema_id, org=org_demo.org)
    with org_demo.server.admin(org_demo.org) as admin:
        issued = admin.post(path, json={})
        assert issued.status_code == 201, issued.text
        second = issued.json()["accessToken"]
        assert second != inlet["token"]["accessToken"]
        no_body = admin.post(path)
        assert no_body.status_code == 201, no_body.text
        timed = admin.post(path, json={"expiresInSeconds": 3600}).json()
        assert timed["expiresMs"] is not None
        for token in (inlet["token"]["accessToken"], second, timed["accessToken"]):
            answer = sync_post(
                inlet["inletUrl"], message, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text
        assert_problem(admin.post(path, json={"expiresInSeconds": "soon"}), 400)
        assert_problem(admin.post(path, json={"expiresInSeconds": 0}), 400)
        assert_problem(admin.post(path, json={"expiresInSeconds": -5}), 400)
        # an inlet without authentication needs no token
        assert_problem(admin.post(f"/api/v1/inlets/{org_demo.inlet_id}/tokens", json={}), 400)

        revoked = admin.delete(path)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json() == {"revoked": 4}
        assert admin.delete(path).json() == {"revoked": 0}
    for token in (inlet["token"]["accessToken"], second):
        refused = sync_post(
            inlet["inletUrl"], message, headers={"Authorization": f"Bearer {token}"}
        )
        assert_problem(refused, 403)


def test_raw_inlet_needs_its_flow_id_and_stores_the_raw_json(org_demo: Demo) -> None:
    inlet = create_inlet(org_demo, name="raw-feed", dataType="raw", datasetId=org_demo.dataset_id)
    assert inlet["dataType"] == "raw"
    assert inlet["datasetId"] == org_demo.dataset_id
    flow_id = inlet["flowId"]
    assert flow_id
    url = inlet["inletUrl"]
    raw = {"customer": {"email": "ada@example.com"}, "items": [1, 2.5, "three", None, True]}

    by_header = httpx.post(url, json=raw, headers={"x-adobe-flow-id": flow_id})
    assert by_header.status_code == 200, by_header.text
    assert by_header.json()["inletId"] == inlet["inletId"]
    by_query = httpx.post(url, json={"n": 2}, params={"x-adobe-flow-id": flow_id})
    assert by_query.status_code == 200, by_query.text

    assert_problem(httpx.post(url, json=raw), 400)
    assert_problem(httpx.post(url, json=raw, headers={"x-adobe-flow-id": "not-the-flow"}), 400)
    assert_problem(httpx.post(url, json=[1, 2], headers={"x-adobe-flow-id": flow_id}), 400)

    stored = records(org_demo)
    assert [r["xactionId"] for r in stored] == [
        by_header.json()["xactionId"],
        by_query.json()["xactionId"],
    ]
    assert stored[0]["message"] == raw
    assert stored[1]["message"] == {"n": 2}
    assert stored[0]["inletId"] == inlet["inletId"]

    with org_demo.server.admin(org_demo.org) as admin:
        assert_problem(admin.post("/api/v1/inlets", json={"name": "r2", "dataType": "raw"}), 400)
        assert_problem(
            admin.post(
                "/api/v1/inlets",
                json={"name": "r3", "dataType": "raw", "datasetId": "ffffffffffffffffffffffff"},
            ),
            400,
        )


# health, openapi, org, apply
def test_healthz_and_openapi(shared_server: Server) -> None:
    health = httpx.get(f"{shared_server.url}/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    document = httpx.get(f"{shared_server.url}/openapi.json")
    assert document.status_code == 200
    spec = document.json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/collection/{inletId}",
        "/collection/batch/{inletId}",
        "/api/v1/failures",
        "/api/v1/inlets",
        "/api/v1/schemas",
    ):
        assert path in spec["paths"], path
    assert "post" in spec["paths"]["/collection/{inletId}"]
    assert "post" in spec["paths"]["/collection/batch/{inletId}"]
    assert "get" in spec["paths"]["/api/v1/failures"]
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/inlets"])


def test_org_tenant(shared_server: Server) -> None:
    org = new_org()
    with shared_server.admin(org) as admin:
        first = admin.get("/api/v1/org").json()
        assert first["imsOrgId"] == org
        assert first["tenantId"]
        assert admin.put("/api/v1/org", json={"tenantId": "acme"}).json()["tenantId"] == "acme"
        assert admin.get("/api/v1/org").json()["tenantId"] == "acme"
        assert_problem(admin.put("/api/v1/org", json={"tenantId": "Not Valid"}), 400)
        assert (
            admin.post("/api/v1/schemas", json=ORDERS_V1)
            .json()["id"]
            .startswith("https://ns.adobe.com/acme/schemas/")
        )
        # once there are schemas, the tenant stays
        assert_problem(admin.put("/api/v1/org", json={"tenantId": "other"}), 400)


def stored_orgs(srv: Server, org: str) -> int:
    """How many rows the server's database holds for ``org``."""
    with closing(sqlite3.connect(database_path(srv.data_dir))) as conn:
        (count,) = conn.execute("SELECT count(*) FROM orgs WHERE org_id = ?", (org,)).fetchone()
    return int(count)


def test_reading_an_org_never_creates_it(shared_server: Server) -> None:
    org = new_org()
    with shared_server.admin(org) as admin:
        for path in (
            "/api/v1/org",
            "/api/v1/schemas",
            "/api/v1/datasets",
            "/api/v1/inlets",
            "/api/v1/events",
            "/api/v1/journeys",
            "/api/v1/failures",
        ):
            assert admin.get(path).status_code == 200, path
        shown = {"imsOrgId": org, "tenantId": tenant_from_org(org)}
        assert admin.get("/api/v1/org").json() == shown
        assert stored_orgs(shared_server, org) == 0
        # the first write creates it, with the tenant id a read showed
        assert admin.post("/api/v1/inlets", json={"name": "first"}).status_code == 201
        assert stored_orgs(shared_server, org) == 1
        assert admin.get("/api/v1/org").json() == shown


def _example_documents(folder: str, org: str) -> list[Any]:
    """The example's documents, its Org document naming ``org`` (a fresh org per test)."""
    docs: list[Any] = []
    for path in sorted((ROOT / "examples" / folder).glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d is not None)
    assert [d["name"] for d in docs if d["kind"] == "Org"] == ["ACME@AdobeOrg"]
    return [{**d, "name": org} if d["kind"] == "Org" else d for d in docs]


@pytest.mark.parametrize("source", ["demo", "config", "cart-abandonment/config"])
def test_apply_twice_changes_nothing_the_second_time(shared_server: Server, source: str) -> None:
    org = new_org()
    documents = DEMO_DOCUMENTS if source == "demo" else _example_documents(source, org)
    assert documents
    with shared_server.admin(org) as admin:
        first = admin.post("/api/v1/apply", json={"documents": documents})
        assert first.status_code == 200, first.text
        applied = first.json()["applied"]
        assert len(applied) == len(documents)
        assert {a["action"] for a in applied if a["kind"] != "Org"} == {"created"}
        second = admin.post("/api/v1/apply", json=documents)  # a bare list works too
        assert second.status_code == 200, second.text
        again = second.json()["applied"]
        assert [a["action"] for a in again] == ["unchanged"] * len(documents)
        assert [(a["kind"], a["name"], a["id"]) for a in again] == [
            (a["kind"], a["name"], a["id"]) for a in applied
        ]
        for item in again:
            assert "accessToken" not in item
        schemas = admin.get("/api/v1/schemas").json()["schemas"]
        assert all(s["version"] == 1 for s in schemas)


def test_apply_refuses_documents_whose_org_is_not_the_requests(shared_server: Server) -> None:
    documents = [{"kind": "Org", "name": "ACME@AdobeOrg"}, {"kind": "Inlet", "name": "shop"}]
    org = new_org()
    with shared_server.admin(org) as admin:
        answer = admin.post("/api/v1/apply", json={"documents": documents})
        assert answer.status_code == 400, answer.text
        assert "x-gw-ims-org-id: ACME@AdobeOrg" in answer.json()["detail"]
        assert admin.get("/api/v1/inlets").json()["inlets"] == []  # nothing applied


def test_apply_reports_a_changed_document_as_updated(shared_server: Server) -> None:
    documents = [
        {"kind": "Org", "tenantId": "instance_name"},
        {"kind": "Schema", **ORDERS_V1},
        {"kind": "Inlet", "name": "feed", "description": "one"},
    ]
    with shared_server.admin(new_org()) as admin:
        assert admin.post("/api/v1/apply", json={"documents": documents}).status_code == 200
        changed = [
            documents[0],
            {"kind": "Schema", **ORDERS_V2},
            {"kind": "Inlet", "name": "feed", "description": "two"},
        ]
        answer = admin.post("/api/v1/apply", json={"documents": changed})
        assert answer.status_code == 200, answer.text
        actions = {a["kind"]: a["action"] for a in answer.json()["applied"]}
        assert actions == {"Org": "unchanged", "Schema": "updated", "Inlet": "updated"}
        assert admin.get("/api/v1/schemas/orders").json()["version"] == 2
        assert admin.get("/api/v1/inlets/feed").json()["description"] == "two"
        for bad in ({"documents": [{"kind": "Spaceship"}]}, {"documents": "x"}, [{}]):
            assert_problem(admin.post("/api/v1/apply", json=bad), 400)


# numbers out of range are the caller's mistake, never a server error
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/datasets/{dataset}/records?after=99999999999999999999999", None),
        ("GET", "/api/v1/schemas/newsletter_signup?version=99999999999999999999999", None),
        ("GET", "/api/v1/failures?since=99999999999999999999999", None),
        ("GET", "/api/v1/failures?until=99999999999999999999999", None),
        ("GET", "/api/v1/failures?since=%C2%B2", None),
        ("POST", "/api/v1/inlets/{auth_inlet}/tokens", {"expiresInSeconds": 9223372036854775}),
    ],
)
def test_out_of_range_numbers_are_400_not_500(
    org_demo: Demo, method: str, path: str, body: Any
) -> None:
    auth_inlet = create_inlet(org_demo, authenticationRequired=True)["inletId"]
    url = path.format(dataset=org_demo.dataset_id, auth_inlet=auth_inlet)
    with org_demo.server.admin(org_demo.org) as admin:
        answer = admin.request(method, url, json=body)
    assert answer.status_code < 500, f"{method} {url} -> {answer.status_code} {answer.text}"
    assert_problem(answer, 400)
