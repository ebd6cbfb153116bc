"""POST /collection/batch/{inletId}: 207 with one entry per message, in order."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import Demo, make_message
from tests.integration.conftest import (
    UNKNOWN_FORMAT,
    WRONG_ORG,
    assert_problem,
    causing_exceptions,
    failures,
    record_count,
    records,
)

pytestmark = pytest.mark.integration


def post_batch(demo: Demo, messages: Any, *, sync: bool = False) -> httpx.Response:
    params = {"syncValidation": "true"} if sync else {}
    return httpx.post(demo.batch_url, json={"messages": messages}, params=params, timeout=30)


def mixed(demo: Demo) -> list[dict[str, Any]]:
    """valid, schema-invalid, envelope-broken, wrong org, valid."""
    schema_invalid = make_message(demo.schema_id, org=demo.org, birthYear="x")
    envelope_broken = make_message(demo.schema_id, org=demo.org)
    del envelope_broken["body"]["xdmEntity"]
    wrong_org = make_message(demo.schema_id, org="SOMEONE@ElseOrg")
    return [
        make_message(demo.schema_id, org=demo.org, email="first@example.com"),
        schema_invalid,
        envelope_broken,
        wrong_org,
        make_message(demo.schema_id, org=demo.org, email="last@example.com"),
    ]


def assert_batch_shape(body: dict[str, Any], demo: Demo, count: int) -> list[dict[str, Any]]:
    assert set(body) >= {"inletId", "batchId", "receivedTimeMs", "responses"}
    assert body["inletId"] == demo.inlet_id
    assert isinstance(body["batchId"], str) and body["batchId"]
    assert isinstance(body["receivedTimeMs"], int)
    responses: list[dict[str, Any]] = body["responses"]
    assert len(responses) == count
    for index, entry in enumerate(responses):
        assert entry["xactionId"] == f"{body['batchId']}-{index}"
        # Adobe's Kafka connector takes the index from what follows the last "-"
        assert int(entry["xactionId"].rsplit("-", 1)[1]) == index
    return responses


def assert_failed_entry(entry: dict[str, Any], fragment: str) -> None:
    assert entry["status"] == 400
    assert entry["statusCode"] == 400
    assert fragment in entry["message"]
    assert causing_exceptions(entry)


def test_mixed_batch_without_sync_validation(org_demo: Demo) -> None:
    answer = post_batch(org_demo, mixed(org_demo))
    assert answer.status_code == 207, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    good, invalid, broken, wrong_org, last = assert_batch_shape(body, org_demo, 5)
    for accepted in (good, invalid, last):
        assert "status" not in accepted
        assert "statusCode" not in accepted
        assert "duplicateOf" not in accepted
    assert_failed_entry(broken, UNKNOWN_FORMAT)
    assert causing_exceptions(broken)[0]["pointerToViolation"] == "/body/xdmEntity"
    assert_failed_entry(wrong_org, WRONG_ORG)

    stored = records(org_demo)
    assert [r["xactionId"] for r in stored] == [good["xactionId"], last["xactionId"]]
    emails = [r["message"]["body"]["xdmEntity"]["identityMap"]["Email"][0]["id"] for r in stored]
    assert emails == ["first@example.com", "last@example.com"]
    (failed,) = failures(org_demo)
    assert failed["xactionId"] == invalid["xactionId"]
    assert [(r["pointerToViolation"], r["keyword"]) for r in failed["reasons"]] == [
        ("#/_instance_name/person/birthYear", "type")
    ]


def test_mixed_batch_with_sync_validation(org_demo: Demo) -> None:
    answer = post_batch(org_demo, mixed(org_demo), sync=True)
    assert answer.status_code == 207, answer.text
    good, invalid, broken, wrong_org, last = assert_batch_shape(answer.json(), org_demo, 5)
    assert "status" not in good and "status" not in last
    assert_failed_entry(invalid, "1 schema violation found")
    (violation,) = causing_exceptions(invalid)
    assert violation["pointerToViolation"] == "#/_instance_name/person/birthYear"
    assert violation["keyword"] == "type"
    assert_failed_entry(broken, UNKNOWN_FORMAT)
    assert_failed_entry(wrong_org, WRONG_ORG)
    assert [r["xactionId"] for r in records(org_demo)] == [good["xactionId"], last["xactionId"]]
    assert failures(org_demo) == []


def test_a_batch_of_only_bad_messages_is_still_207(org_demo: Demo) -> None:
    bad = [make_message(org_demo.schema_id, org=org_demo.org, gender="?") for _ in range(3)]
    bad.append("not a message")
    answer = post_batch(org_demo, bad, sync=True)
    assert answer.status_code == 207, answer.text
    entries = assert_batch_shape(answer.json(), org_demo, 4)
    for entry in entries[:3]:
        assert_failed_entry(entry, "schema violation")
    assert_failed_entry(entries[3], UNKNOWN_FORMAT)
    assert record_count(org_demo) == 0


def test_good_messages_land_in_order(org_demo: Demo) -> None:
    messages = [
        make_message(org_demo.schema_id, org=org_demo.org, birthYear=1900 + i) for i in range(60)
    ]
    answer = post_batch(org_demo, messages, sync=True)
    assert answer.status_code == 207, answer.text
    entries = assert_batch_shape(answer.json(), org_demo, 60)
    assert all("status" not in e for e in entries)
    stored = records(org_demo)
    assert [r["xactionId"] for r in stored] == [e["xactionId"] for e in entries]
    years = [
        r["message"]["body"]["xdmEntity"]["_instance_name"]["person"]["birthYear"] for r in stored
    ]
    assert years == list(range(1900, 1960))
    assert record_count(org_demo) == 60


def test_batch_messages_without_ims_org_get_the_inlets(org_demo: Demo) -> None:
    answer = post_batch(org_demo, [make_message(org_demo.schema_id, org=None)])
    assert answer.status_code == 207, answer.text
    (stored,) = records(org_demo)
    assert stored["message"]["header"]["imsOrgId"] == org_demo.org


@pytest.mark.parametrize(
    "body",
    [
        [],
        {},
        {"messages": []},
        {"messages": {}},
        {"messages": "x"},
        {"message": [{}]},
        "messages",
        None,
    ],
)
def test_400_when_the_batch_is_not_a_messages_list(org_demo: Demo, body: Any) -> None:
    answer = httpx.post(
        org_demo.batch_url,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(answer, 400)
    assert problem["title"] == "Invalid XDM Message Format"
    assert "messages" in problem["report"]["message"]
    assert record_count(org_demo) == 0


def test_a_single_message_posted_to_the_batch_endpoint_is_refused(org_demo: Demo) -> None:
    answer = httpx.post(org_demo.batch_url, json=make_message(org_demo.schema_id, org=org_demo.org))
    assert_problem(answer, 400)
    assert record_count(org_demo) == 0


def test_batch_ids_are_unique_per_request(org_demo: Demo) -> None:
    ids = set()
    for _ in range(5):
        answer = post_batch(org_demo, [make_message(org_demo.schema_id, org=org_demo.org)])
        assert answer.status_code == 207
        ids.add(answer.json()["batchId"])
    assert len(ids) == 5
