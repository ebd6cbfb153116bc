"""Every answer of POST /collection/{inletId}, through real HTTP to a real server."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Demo, make_message, wait_until
from tests.integration.conftest import (
    UNKNOWN_FORMAT,
    WRONG_ORG,
    apply_demo_to,
    assert_problem,
    causing_exceptions,
    create_inlet,
    failures,
    new_org,
    record_count,
    records,
    start_server,
)

pytestmark = pytest.mark.integration


def post(
    url: str, body: Any, *, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    """POST ``body`` as JSON (``None`` is the JSON ``null``)."""
    return httpx.post(
        url,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
        timeout=30,
        **kwargs,
    )


def invalid_message(demo: Demo, **extra: Any) -> dict[str, Any]:
    """Breaks type, enum, format (email, date-time) and required at once."""
    message = make_message(
        demo.schema_id,
        org=demo.org,
        birthYear="nineteen ninety",
        gender="robot",
        emailAddress="not-an-email",
        **extra,
    )
    entity = message["body"]["xdmEntity"]
    entity["timestamp"] = "yesterday at noon"
    del entity["_id"]
    return message


EXPECTED_VIOLATIONS = {
    ("#/_instance_name/person/birthYear", "type"),
    ("#/_instance_name/person/gender", "enum"),
    ("#/_instance_name/person/emailAddress", "format"),
    ("#/timestamp", "format"),
    ("#", "required"),
}


# 200
def test_200_without_sync_validation_skips_it_and_stores_the_record(org_demo: Demo) -> None:
    before = int(time.time() * 1000)
    answer = post(org_demo.inlet_url, make_message(org_demo.schema_id, org=org_demo.org))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"inletId", "xactionId", "receivedTimeMs", "syncValidation"}
    assert body["inletId"] == org_demo.inlet_id
    assert isinstance(body["xactionId"], str) and body["xactionId"]
    assert before - 5_000 <= body["receivedTimeMs"] <= int(time.time() * 1000) + 5_000
    assert body["syncValidation"] == {"skipped": True}
    (stored,) = records(org_demo)
    assert stored["xactionId"] == body["xactionId"]
    assert stored["receivedTimeMs"] == body["receivedTimeMs"]
    assert stored["inletId"] == org_demo.inlet_id
    assert stored["message"]["body"]["xdmEntity"]["_instance_name"]["person"]["firstName"] == "Ada"


@pytest.mark.parametrize("flag", ["syncValidation", "synchronousValidation"])
def test_200_with_sync_validation_passes(org_demo: Demo, flag: str) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    answer = post(org_demo.inlet_url, message, params={flag: "true"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["inletId"] == org_demo.inlet_id
    assert body["syncValidation"] == {"status": "pass"}
    assert [r["xactionId"] for r in records(org_demo)] == [body["xactionId"]]


def test_sync_validation_false_is_the_same_as_absent(org_demo: Demo) -> None:
    answer = post(org_demo.inlet_url, invalid_message(org_demo), params={"syncValidation": "false"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["syncValidation"] == {"skipped": True}
    assert len(failures(org_demo)) == 1


def test_org_header_is_optional_and_accepted_when_it_is_the_inlets(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    without = post(org_demo.inlet_url, message)
    with_header = post(
        org_demo.inlet_url,
        make_message(org_demo.schema_id, org=org_demo.org),
        headers={"x-gw-ims-org-id": org_demo.org},
    )
    assert without.status_code == 200, without.text
    assert with_header.status_code == 200, with_header.text
    assert record_count(org_demo) == 2


def test_message_without_ims_org_gets_the_inlets_org(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=None)
    assert "imsOrgId" not in message["header"]
    answer = post(org_demo.inlet_url, message, params={"syncValidation": "true"})
    assert answer.status_code == 200, answer.text
    (stored,) = records(org_demo)
    assert stored["xactionId"] == answer.json()["xactionId"]
    assert stored["imsOrgId"] == org_demo.org
    assert stored["message"]["header"]["imsOrgId"] == org_demo.org


def test_unknown_header_fields_are_ignored(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    message["header"].update(
        {
            "eventType": "newsletter.signup",
            "action": "create",
            "createdAt": "2026-11-28T10:00:00Z",
            "somethingElse": {"nested": [1, 2, 3]},
        }
    )
    answer = post(org_demo.inlet_url, message, params={"syncValidation": "true"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["syncValidation"] == {"status": "pass"}
    (stored,) = records(org_demo)
    assert stored["message"]["header"]["eventType"] == "newsletter.signup"


def test_gateway_form_of_both_endpoints(org_demo: Demo) -> None:
    base = f"{org_demo.server.url}/data/foundation/import/collection"
    single = post(
        f"{base}/{org_demo.inlet_id}",
        make_message(org_demo.schema_id, org=org_demo.org),
        params={"syncValidation": "true"},
    )
    assert single.status_code == 200, single.text
    assert single.json()["syncValidation"] == {"status": "pass"}
    batch = post(
        f"{base}/batch/{org_demo.inlet_id}",
        {"messages": [make_message(org_demo.schema_id, org=org_demo.org) for _ in range(2)]},
    )
    assert batch.status_code == 207, batch.text
    assert len(batch.json()["responses"]) == 2
    assert record_count(org_demo) == 3


def test_a_message_can_name_a_non_default_dataset_of_its_schema(org_demo: Demo) -> None:
    # a first message, so that the inlet has looked the schema up before the dataset exists
    first = post(org_demo.inlet_url, make_message(org_demo.schema_id, org=org_demo.org))
    assert first.status_code == 200, first.text
    with org_demo.server.admin(org_demo.org) as admin:
        created = admin.post(
            "/api/v1/datasets", json={"name": "replay", "schemaId": org_demo.schema_id}
        )
    assert created.status_code == 201, created.text
    replay = created.json()["id"]
    message = make_message(org_demo.schema_id, org=org_demo.org)
    message["header"]["datasetId"] = replay
    answer = post(org_demo.inlet_url, message, params={"syncValidation": "true"})
    assert answer.status_code == 200, answer.text
    assert record_count(org_demo, replay) == 1
    assert [r["xactionId"] for r in records(org_demo, replay)] == [answer.json()["xactionId"]]
    assert record_count(org_demo) == 1


# 400: schema validation
def test_400_invalid_xdm_message_format_reports_every_violation(org_demo: Demo) -> None:
    answer = post(org_demo.inlet_url, invalid_message(org_demo), params={"syncValidation": "true"})
    body = assert_problem(answer, 400)
    assert body["title"] == "Invalid XDM Message Format"
    check = body["report"]["cause"]["_streamingValidation"][0]
    assert check["message"] == "5 schema violations found"
    violations = causing_exceptions(body)
    for violation in violations:
        assert set(violation) >= {"schemaLocation", "pointerToViolation", "keyword", "message"}
        assert violation["schemaLocation"].startswith("#")
        assert violation["message"]
    assert {(v["pointerToViolation"], v["keyword"]) for v in violations} == EXPECTED_VIOLATIONS
    by_pointer = {v["pointerToViolation"]: v for v in violations}
    assert "_id" in by_pointer["#"]["message"]
    assert by_pointer["#/_instance_name/person/birthYear"]["schemaLocation"].endswith("/type")
    # rejected synchronously: nothing stored anywhere
    assert record_count(org_demo) == 0
    assert records(org_demo) == []
    assert failures(org_demo) == []


@pytest.mark.parametrize(
    ("field", "value", "keyword"),
    [
        ("birthYear", "1990", "type"),
        ("gender", "robot", "enum"),
        ("emailAddress", "ada-at-example.com", "format"),
    ],
)
def test_400_names_the_pointer_and_keyword_of_a_single_violation(
    org_demo: Demo, field: str, value: str, keyword: str
) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org, **{field: value})
    answer = post(org_demo.inlet_url, message, params={"syncValidation": "true"})
    body = assert_problem(answer, 400)
    assert body["title"] == "Invalid XDM Message Format"
    (violation,) = causing_exceptions(body)
    assert violation["pointerToViolation"] == f"#/_instance_name/person/{field}"
    assert violation["keyword"] == keyword
    assert body["report"]["cause"]["_streamingValidation"][0]["message"] == (
        "1 schema violation found"
    )


def test_400_date_time_and_required(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    message["body"]["xdmEntity"]["timestamp"] = "2026-13-45T99:00:00Z"
    del message["body"]["xdmEntity"]["identityMap"]
    body = assert_problem(post(org_demo.inlet_url, message, params={"syncValidation": "true"}), 400)
    found = {(v["pointerToViolation"], v["keyword"]) for v in causing_exceptions(body)}
    assert found == {("#/timestamp", "format"), ("#", "required")}


# 400: the envelope
def _drop(message: dict[str, Any], *path: str) -> dict[str, Any]:
    target = message
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return message


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        (("header",), "/header"),
        (("body",), "/body"),
        (("body", "xdmMeta"), "/body/xdmMeta"),
        (("body", "xdmEntity"), "/body/xdmEntity"),
    ],
)
@pytest.mark.parametrize("sync", [True, False])
def test_400_unknown_xdm_format_for_a_missing_envelope_part(
    org_demo: Demo, path: tuple[str, ...], pointer: str, sync: bool
) -> None:
    message = _drop(make_message(org_demo.schema_id, org=org_demo.org), *path)
    params = {"syncValidation": "true"} if sync else {}
    body = assert_problem(post(org_demo.inlet_url, message, params=params), 400)
    assert body["title"] == "Invalid XDM Message Format"
    assert UNKNOWN_FORMAT in body["report"]["message"]
    assert UNKNOWN_FORMAT in body["detail"]
    (violation,) = causing_exceptions(body)
    assert violation["pointerToViolation"] == pointer
    assert record_count(org_demo) == 0
    assert failures(org_demo) == []


@pytest.mark.parametrize("message", [[], "text", 42, None, {"messages": []}])
def test_400_when_the_message_is_not_an_envelope(org_demo: Demo, message: Any) -> None:
    body = assert_problem(post(org_demo.inlet_url, message), 400)
    assert UNKNOWN_FORMAT in body["report"]["message"]


def test_400_when_xdm_meta_names_another_schema_than_the_header(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    message["body"]["xdmMeta"]["schemaRef"] = {
        "id": org_demo.schema_id + "0",
        "contentType": "application/vnd.adobe.xed-full+json;version=1",
    }
    body = assert_problem(post(org_demo.inlet_url, message), 400)
    assert UNKNOWN_FORMAT in body["report"]["message"]
    (violation,) = causing_exceptions(body)
    assert violation["pointerToViolation"] == "/body/xdmMeta/schemaRef/id"
    assert record_count(org_demo) == 0


def test_400_for_an_unknown_schema(org_demo: Demo) -> None:
    unknown = "https://ns.adobe.com/instance_name/schemas/" + "0" * 32
    message = make_message(unknown, org=org_demo.org)
    body = assert_problem(post(org_demo.inlet_url, message), 400)
    assert unknown in body["report"]["message"]
    (violation,) = causing_exceptions(body)
    assert violation["pointerToViolation"] == "/header/schemaRef/id"
    assert failures(org_demo) == []


def test_400_for_another_orgs_schema(org_demo: Demo, shared_server: Any) -> None:
    other = apply_demo_to(shared_server, new_org())
    message = make_message(other.schema_id, org=org_demo.org)
    body = assert_problem(post(org_demo.inlet_url, message), 400)
    assert other.schema_id in body["report"]["message"]
    assert record_count(org_demo) == 0
    assert record_count(other) == 0


def test_400_for_a_schema_version_that_does_not_exist(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    for ref in (message["header"]["schemaRef"], message["body"]["xdmMeta"]["schemaRef"]):
        ref["contentType"] = "application/vnd.adobe.xed-full+json;version=7"
    body = assert_problem(post(org_demo.inlet_url, message), 400)
    assert "version 7" in body["report"]["message"]


def test_400_for_a_dataset_that_is_not_of_the_messages_schema(org_demo: Demo) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        other = admin.post(
            "/api/v1/schemas",
            json={"name": "other", "class": "Profile", "fields": {"x": {"type": "string"}}},
        )
        assert other.status_code == 201, other.text
        other_dataset = admin.get("/api/v1/datasets", params={"schema": "other"}).json()
    dataset_id = other_dataset["datasets"][0]["id"]
    for dataset in (dataset_id, "ffffffffffffffffffffffff"):
        message = make_message(org_demo.schema_id, org=org_demo.org)
        message["header"]["datasetId"] = dataset
        body = assert_problem(post(org_demo.inlet_url, message), 400)
        (violation,) = causing_exceptions(body)
        assert violation["pointerToViolation"] == "/header/datasetId"
    assert record_count(org_demo) == 0
    assert record_count(org_demo, dataset_id) == 0


def test_400_for_a_wrong_ims_org_in_the_message_header(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org="SOMEONE@ElseOrg")
    body = assert_problem(post(org_demo.inlet_url, message, params={"syncValidation": "true"}), 400)
    assert WRONG_ORG in body["report"]["message"]
    assert record_count(org_demo) == 0
    assert failures(org_demo) == []


def test_400_for_a_wrong_org_request_header(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    answer = post(org_demo.inlet_url, message, headers={"x-gw-ims-org-id": "SOMEONE@ElseOrg"})
    body = assert_problem(answer, 400)
    assert WRONG_ORG in body["report"]["message"]
    assert record_count(org_demo) == 0


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b'{"header": ', b"\xff\xfe\x00", b"[1, 2,]", b"NaN"]
)
def test_400_for_a_body_that_is_not_json(org_demo: Demo, raw: bytes) -> None:
    answer = httpx.post(
        org_demo.inlet_url, content=raw, headers={"content-type": "application/json"}
    )
    body = assert_problem(answer, 400)
    assert "JSON" in body["report"]["message"]


# 401 / 403
def _auth_inlet(demo: Demo) -> tuple[str, str, str]:
    inlet = create_inlet(demo, authenticationRequired=True)
    return inlet["inletId"], inlet["inletUrl"], inlet["token"]["accessToken"]


def test_401_without_credentials_on_an_authenticated_inlet(org_demo: Demo) -> None:
    _, url, token = _auth_inlet(org_demo)
    message = make_message(org_demo.schema_id, org=org_demo.org)
    for headers in ({}, {"Authorization": f"Basic {token}"}, {"Authorization": "Token abc"}):
        answer = post(url, message, headers=headers)
        assert_problem(answer, 401)
        assert answer.headers["www-authenticate"].lower().startswith("bearer")
    batch = post(url.replace("/collection/", "/collection/batch/"), {"messages": [message]})
    assert_problem(batch, 401)
    ok = post(url, message, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.text
    assert record_count(org_demo) == 1


def test_403_for_a_wrong_token_or_another_inlets_token(org_demo: Demo) -> None:
    _, url, _ = _auth_inlet(org_demo)
    _, _, other_token = _auth_inlet(org_demo)
    message = make_message(org_demo.schema_id, org=org_demo.org)
    for token in ("wf_not-a-real-token", other_token):
        answer = post(url, message, headers={"Authorization": f"Bearer {token}"})
        assert_problem(answer, 403)
    assert record_count(org_demo) == 0


def test_403_for_an_expired_token(org_demo: Demo) -> None:
    inlet_id, url, _ = _auth_inlet(org_demo)
    with org_demo.server.admin(org_demo.org) as admin:
        issued = admin.post(f"/api/v1/inlets/{inlet_id}/tokens", json={"expiresInSeconds": 1})
    assert issued.status_code == 201, issued.text
    token = issued.json()["accessToken"]
    assert issued.json()["expiresMs"] is not None
    auth = {"Authorization": f"Bearer {token}"}

    def refused() -> httpx.Response | None:
        answer = post(url, make_message(org_demo.schema_id, org=org_demo.org), headers=auth)
        assert answer.status_code in (200, 403), answer.text
        return answer if answer.status_code == 403 else None

    answer = wait_until(refused, timeout=10, interval=0.2)
    body = assert_problem(answer, 403)
    assert "expired" in body["report"]["message"]


def test_403_for_a_revoked_token(org_demo: Demo) -> None:
    inlet_id, url, token = _auth_inlet(org_demo)
    auth = {"Authorization": f"Bearer {token}"}
    message = make_message(org_demo.schema_id, org=org_demo.org)
    assert post(url, message, headers=auth).status_code == 200
    with org_demo.server.admin(org_demo.org) as admin:
        revoked = admin.delete(f"/api/v1/inlets/{inlet_id}/tokens")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"revoked": 1}
    answer = post(url, make_message(org_demo.schema_id, org=org_demo.org), headers=auth)
    assert_problem(answer, 403)
    assert record_count(org_demo) == 1


# 404 / 405 / 413, and the Content-Type
def test_404_for_an_unknown_inlet(shared_server: Any, org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    for path in (
        "/collection/" + "0" * 64,
        "/collection/batch/" + "0" * 64,
        "/data/foundation/import/collection/" + "0" * 64,
    ):
        answer = post(shared_server.url + path, message)
        body = assert_problem(answer, 404)
        assert body["title"] == "Not Found"
        assert "0" * 64 in body["detail"]


def test_405_for_get_on_a_collection_url(org_demo: Demo) -> None:
    for url in (org_demo.inlet_url, org_demo.batch_url):
        answer = httpx.get(url)
        assert_problem(answer, 405)
        assert answer.headers["allow"] == "POST"


def test_405_for_another_method_whatever_the_inlet_or_headers(
    shared_server: Any, org_demo: Demo
) -> None:
    """The method is refused before the inlet is read: an unknown inlet, a wrong org, a
    bad query flag do not turn a TRACE into a 404 or a 400."""
    unknown = f"{shared_server.url}/collection/batch/{'0' * 64}"
    for method, url, params in (
        ("TRACE", org_demo.inlet_url, {}),
        ("PUT", unknown, {}),
        ("DELETE", org_demo.batch_url, {"syncValidation": "maybe"}),
    ):
        answer = httpx.request(
            method, url, params=params, headers={"x-gw-ims-org-id": "Other@AdobeOrg"}
        )
        assert_problem(answer, 405)
        assert answer.headers["allow"] == "POST"


def test_413_over_one_megabyte(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org, firstName="A" * (1024 * 1024))
    for url in (org_demo.inlet_url, org_demo.batch_url):
        body = message if url == org_demo.inlet_url else {"messages": [message]}
        assert_problem(post(url, body), 413)
    # a chunked body without Content-Length is measured as it arrives
    chunks = [b" " * 1024] * 1100 + [json.dumps(message).encode()]
    chunked = httpx.post(
        org_demo.inlet_url, content=iter(chunks), headers={"content-type": "application/json"}
    )
    assert_problem(chunked, 413)
    # just under the limit is fine
    small = make_message(org_demo.schema_id, org=org_demo.org, firstName="A" * 900_000)
    assert post(org_demo.inlet_url, small).status_code == 200
    assert record_count(org_demo) == 1


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_400_as_adobe_answers_when_the_content_type_is_not_json_or_smile(
    org_demo: Demo, content_type: str | None
) -> None:
    raw = json.dumps(make_message(org_demo.schema_id, org=org_demo.org)).encode()
    headers = {"content-type": content_type} if content_type else {}
    for url in (org_demo.inlet_url, org_demo.batch_url):
        answer = httpx.post(url, content=raw, headers=headers)
        body = assert_problem(answer, 400)
        assert body["detail"].startswith("A valid content-type must be specified")
    assert record_count(org_demo) == 0


def test_json_media_type_with_charset_is_accepted(org_demo: Demo) -> None:
    raw = json.dumps(make_message(org_demo.schema_id, org=org_demo.org)).encode()
    answer = httpx.post(
        org_demo.inlet_url,
        content=raw,
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert answer.status_code == 200, answer.text


# disabled inlet
def test_disabled_inlet_is_refused_and_accepts_again_once_enabled(org_demo: Demo) -> None:
    with org_demo.server.admin(org_demo.org) as admin:
        patched = admin.patch(f"/api/v1/inlets/{org_demo.inlet_id}", json={"state": "disabled"})
        assert patched.status_code == 200, patched.text
        assert patched.json()["state"] == "disabled"
        body = assert_problem(
            post(org_demo.inlet_url, make_message(org_demo.schema_id, org=org_demo.org)), 400
        )
        assert "disabled" in body["report"]["message"]
        batch = post(
            org_demo.batch_url, {"messages": [make_message(org_demo.schema_id, org=org_demo.org)]}
        )
        assert_problem(batch, 400)
        assert record_count(org_demo) == 0
        enabled = admin.patch(f"/api/v1/inlets/{org_demo.inlet_id}", json={"state": "enabled"})
        assert enabled.json()["state"] == "enabled"
    answer = post(org_demo.inlet_url, make_message(org_demo.schema_id, org=org_demo.org))
    assert answer.status_code == 200, answer.text
    assert record_count(org_demo) == 1


# failed records (no sync validation)
def test_invalid_message_without_sync_is_accepted_and_kept_as_a_failed_record(
    org_demo: Demo,
) -> None:
    message = invalid_message(org_demo, msg_id="broken-1")
    answer = post(org_demo.inlet_url, message)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["syncValidation"] == {"skipped": True}
    (failed,) = failures(org_demo)
    assert failed["xactionId"] == body["xactionId"]
    assert failed["receivedTimeMs"] == body["receivedTimeMs"]
    assert failed["inletId"] == org_demo.inlet_id
    assert failed["imsOrgId"] == org_demo.org
    assert failed["msgId"] == "broken-1"
    assert failed["schemaId"] == org_demo.schema_id
    assert failed["message"] == message
    assert {(r["pointerToViolation"], r["keyword"]) for r in failed["reasons"]} == (
        EXPECTED_VIOLATIONS
    )
    for reason in failed["reasons"]:
        assert reason["message"]
    # nothing landed in the dataset
    assert record_count(org_demo) == 0
    assert records(org_demo) == []


def test_failures_filter_by_inlet_and_time(org_demo: Demo) -> None:
    second = create_inlet(org_demo)

    def send(url: str) -> dict[str, Any]:
        answer = post(url, invalid_message(org_demo))
        assert answer.status_code == 200, answer.text
        sent: dict[str, Any] = answer.json()
        # the next message gets a later receivedTimeMs
        wait_until(lambda: time.time() * 1000 > sent["receivedTimeMs"] + 2, interval=0.002)
        return sent

    first = send(org_demo.inlet_url)
    middle = send(second["inletUrl"])
    last = send(org_demo.inlet_url)
    every = {f["xactionId"] for f in failures(org_demo)}
    assert every == {first["xactionId"], middle["xactionId"], last["xactionId"]}

    mine = failures(org_demo, inletId=org_demo.inlet_id)
    assert {f["xactionId"] for f in mine} == {first["xactionId"], last["xactionId"]}
    # newest first
    assert [f["xactionId"] for f in mine] == [last["xactionId"], first["xactionId"]]
    by_name = failures(org_demo, inletId=second["name"])
    assert [f["xactionId"] for f in by_name] == [middle["xactionId"]]

    since = failures(org_demo, since=middle["receivedTimeMs"])
    assert {f["xactionId"] for f in since} == {middle["xactionId"], last["xactionId"]}
    until = failures(org_demo, until=middle["receivedTimeMs"])
    assert {f["xactionId"] for f in until} == {first["xactionId"]}
    window = failures(org_demo, since=middle["receivedTimeMs"], until=last["receivedTimeMs"])
    assert {f["xactionId"] for f in window} == {middle["xactionId"]}
    iso_since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(first["receivedTimeMs"] // 1000))
    assert len(failures(org_demo, since=iso_since + "Z")) == 3
    assert failures(org_demo, until="2000-01-01T00:00:00Z") == []
    assert len(failures(org_demo, limit=1)) == 1

    with org_demo.server.admin(org_demo.org) as admin:
        unknown = admin.get("/api/v1/failures", params={"inletId": "no-such-inlet"})
        bad_time = admin.get("/api/v1/failures", params={"since": "last tuesday"})
    assert_problem(unknown, 404)
    assert_problem(bad_time, 400)


def test_failures_are_per_org(org_demo: Demo, shared_server: Any) -> None:
    assert post(org_demo.inlet_url, invalid_message(org_demo)).status_code == 200
    other = apply_demo_to(shared_server, new_org())
    assert failures(other) == []
    assert len(failures(org_demo)) == 1
    with shared_server.admin(other.org) as admin:
        answer = admin.get("/api/v1/failures", params={"inletId": org_demo.inlet_id})
    assert_problem(answer, 404)


# 429 and 503 need servers of their own
def test_429_over_the_rate_limit_with_retry_after(tmp_path: Path) -> None:
    srv = start_server(tmp_path, extra_args=["--rate-limit", "5"])
    try:
        demo = apply_demo_to(srv, new_org())
        answers = [
            post(demo.inlet_url, make_message(demo.schema_id, org=demo.org)) for _ in range(25)
        ]
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 429}, statuses
        assert statuses[0] == 200
        assert 429 in statuses, statuses
        accepted = statuses.count(200)
        assert accepted < 25
        for answer in answers:
            if answer.status_code == 429:
                body = assert_problem(answer, 429)
                assert "5" in body["report"]["message"]
                assert int(answer.headers["retry-after"]) >= 1
        # refused messages are not stored
        assert record_count(demo) == accepted
        # each inlet has its own bucket
        other = create_inlet(demo)
        fresh = post(other["inletUrl"], make_message(demo.schema_id, org=demo.org))
        assert fresh.status_code == 200, fresh.text
        # the admin API is not rate limited
        with srv.admin(demo.org) as admin:
            assert all(admin.get("/api/v1/inlets").status_code == 200 for _ in range(20))
    finally:
        srv.stop()


def test_503_under_backpressure_with_retry_after(tmp_path: Path) -> None:
    srv = start_server(tmp_path, env={"WAYFARE_MAX_PENDING_MESSAGES": "1"})
    try:
        demo = apply_demo_to(srv, new_org())
        batch = {
            "messages": [
                make_message(demo.schema_id, org=demo.org, msg_id=f"m{i}") for i in range(5)
            ]
        }
        answer = post(demo.batch_url, batch)
        body = assert_problem(answer, 503)
        assert int(answer.headers["retry-after"]) >= 1
        assert body["title"] == "Service Unavailable"
        assert record_count(demo) == 0
        # what fits is still accepted
        single = post(demo.inlet_url, make_message(demo.schema_id, org=demo.org))
        assert single.status_code == 200, single.text
        assert record_count(demo) == 1
    finally:
        srv.stop()


def test_every_answer_has_a_json_body(org_demo: Demo) -> None:
    """A quick sweep: nothing the inlet answers is empty or HTML."""
    calls = [
        ("POST", org_demo.inlet_url, b"{}", "application/json"),
        ("PUT", org_demo.inlet_url, b"{}", "application/json"),
        ("DELETE", org_demo.batch_url, b"", "application/json"),
        ("POST", org_demo.batch_url, b"[]", "application/json"),
        ("POST", f"{org_demo.server.url}/collection/", b"{}", "application/json"),
        ("POST", f"{org_demo.server.url}/collection/batch/", b"{}", "application/json"),
        ("POST", f"{org_demo.inlet_url}/extra", b"{}", "application/json"),
        ("POST", org_demo.inlet_url, str(uuid.uuid4()).encode(), "text/csv"),
    ]
    with httpx.Client(timeout=30) as client:
        for method, url, content, content_type in calls:
            answer = client.request(
                method, url, content=content, headers={"content-type": content_type}
            )
            assert 400 <= answer.status_code < 500, (method, url, answer.status_code)
            assert isinstance(answer.json(), dict), (method, url)
