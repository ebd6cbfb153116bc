"""What Adobe's gateway does and Wayfare does alike: Smile bodies (written by Jackson's own
encoder, tests/fixtures/smile), ``flowId`` echoed, a bare token in ``Authorization``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Demo, make_message
from tests.integration.conftest import (
    assert_problem,
    create_inlet,
    failures,
    new_org,
    record_count,
    records,
    start_server,
)
from tests.smile_bytes import Repeated, smile_of

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures" / "smile"
FIXTURE_SCHEMA = "https://ns.adobe.com/instance_name/schemas/" + "0" * 32
SMILE = {"content-type": "application/x-jackson-smile"}
JSON = {"content-type": "application/json"}


def fixture_for(demo: Demo, name: str) -> tuple[bytes, Any]:
    """The Smile body ``name`` and its JSON, both naming the demo's schema: the fixture's
    schema id is replaced byte for byte by one of the same length (an ASCII string's bytes
    in Smile, as in JSON, are the string's)."""
    assert len(demo.schema_id) == len(FIXTURE_SCHEMA)
    body = (FIXTURES / name).read_bytes().replace(FIXTURE_SCHEMA.encode(), demo.schema_id.encode())
    text = (FIXTURES / (name.split(".")[0] + ".json")).read_text()
    return body, json.loads(text.replace(FIXTURE_SCHEMA, demo.schema_id))


def entities(demo: Demo) -> dict[str, Any]:
    return {r["message"]["body"]["xdmEntity"]["_id"]: r["message"] for r in records(demo)}


@pytest.mark.parametrize(
    "name", ["demo.smile", "demo.shared-values.smile", "demo.no-sharing.smile"]
)
def test_a_smile_message_is_accepted_and_stored_as_its_json(org_demo: Demo, name: str) -> None:
    body, message = fixture_for(org_demo, name)
    answer = httpx.post(org_demo.inlet_url, content=body, headers=SMILE)
    assert answer.status_code == 200, answer.text
    assert answer.json()["xactionId"]
    (stored,) = entities(org_demo).values()
    assert stored["body"] == message["body"]
    assert stored["header"]["msgId"] == message["header"]["msgId"]
    # the same message sent again as JSON is a retry of it
    again = httpx.post(org_demo.inlet_url, json=message)
    assert again.json()["xactionId"] == answer.json()["xactionId"]


@pytest.mark.parametrize("name", ["batch.smile", "batch.shared-values.smile"])
def test_a_smile_batch_is_accepted_entry_by_entry(org_demo: Demo, name: str) -> None:
    body, batch = fixture_for(org_demo, name)
    answer = httpx.post(
        org_demo.batch_url, content=body, headers={**SMILE, "x-adobe-flow-id": "flow-1"}
    )
    assert answer.status_code == 207, answer.text
    assert answer.json()["flowId"] == "flow-1"
    responses = answer.json()["responses"]
    assert [set(entry) for entry in responses] == [{"xactionId"}] * 3
    stored = entities(org_demo)
    for message in batch["messages"]:
        assert stored[message["body"]["xdmEntity"]["_id"]]["body"] == message["body"]


def test_a_body_that_is_not_smile_is_refused_with_the_reason(org_demo: Demo) -> None:
    body, _ = fixture_for(org_demo, "demo.smile")
    for broken in (b"{}", body[:-5]):
        answer = httpx.post(org_demo.inlet_url, content=broken, headers=SMILE)
        assert "not valid Smile" in assert_problem(answer, 400)["detail"]
    assert record_count(org_demo) == 0


def test_the_flow_id_is_echoed_from_the_header_or_the_query(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    for url in (org_demo.inlet_url, org_demo.batch_url):
        body = message if url == org_demo.inlet_url else {"messages": [message]}
        plain = httpx.post(url, json=body)
        assert plain.status_code in (200, 207), plain.text
        assert "flowId" not in plain.json()
        for kwargs in (
            {"headers": {"x-adobe-flow-id": "f-header"}},
            {"params": {"x-adobe-flow-id": "f-query"}},
            {"params": {"flowId": "f-param"}},
        ):
            answer = httpx.post(url, json=body, **kwargs)  # type: ignore[arg-type]
            assert answer.status_code in (200, 207), answer.text
            given = next(iter(next(iter(kwargs.values())).values()))
            assert answer.json()["flowId"] == given


def test_a_bare_token_is_taken_as_a_bearer_token(org_demo: Demo) -> None:
    inlet = create_inlet(org_demo, authenticationRequired=True)
    token = inlet["token"]["accessToken"]
    message = make_message(org_demo.schema_id, org=org_demo.org)
    answer = httpx.post(inlet["inletUrl"], json=message, headers={"Authorization": token})
    assert answer.status_code == 200, answer.text
    wrong = httpx.post(inlet["inletUrl"], json=message, headers={"Authorization": "wf_wrong"})
    assert_problem(wrong, 403)
    assert_problem(
        httpx.post(inlet["inletUrl"], json=message, headers={"Authorization": "Bearer"}), 401
    )


def test_the_admin_token_may_be_sent_bare(tmp_path: Path) -> None:
    srv = start_server(tmp_path, extra_args=["--admin-token", "s3cret"])
    try:
        headers = {"x-gw-ims-org-id": new_org()}
        bare = httpx.get(
            f"{srv.url}/api/v1/schemas", headers={**headers, "Authorization": "s3cret"}
        )
        assert bare.status_code == 200, bare.text
        wrong = httpx.get(f"{srv.url}/api/v1/schemas", headers={**headers, "Authorization": "nope"})
        assert_problem(wrong, 403)
    finally:
        srv.stop()


def test_a_msg_id_reused_with_another_message_is_refused_naming_the_first(org_demo: Demo) -> None:
    first = make_message(org_demo.schema_id, org=org_demo.org, msg_id="order-1")
    accepted = httpx.post(org_demo.inlet_url, json=first)
    assert accepted.status_code == 200, accepted.text
    xaction_id = accepted.json()["xactionId"]
    # the same message, its keys in another order and sent as a batch entry: a retry
    reordered = json.loads(json.dumps(first, sort_keys=True))
    retried = httpx.post(org_demo.batch_url, json={"messages": [reordered]})
    assert retried.json()["responses"] == [
        {"xactionId": f"{retried.json()['batchId']}-0", "duplicateOf": xaction_id}
    ]
    assert httpx.post(org_demo.inlet_url, json=first).json()["xactionId"] == xaction_id
    # another message under the same msgId
    changed = make_message(org_demo.schema_id, org=org_demo.org, msg_id="order-1", firstName="Bo")
    refused = httpx.post(org_demo.inlet_url, json=changed)
    body = assert_problem(refused, 409)
    assert xaction_id in body["detail"] and "order-1" in body["detail"]
    batch = httpx.post(org_demo.batch_url, json={"messages": [changed, first]})
    assert batch.status_code == 207, batch.text
    entry, retry = batch.json()["responses"]
    assert (entry["status"], entry["statusCode"]) == (409, 409)
    assert xaction_id in entry["message"]
    assert retry["duplicateOf"] == xaction_id
    assert record_count(org_demo) == 1


def test_a_smile_body_whose_shared_strings_decode_past_the_limit_is_413_and_stores_nothing(
    org_demo: Demo,
) -> None:
    """200 kB of references to one string of 64 would be 13 MB of JSON, stored as such."""
    message = make_message(org_demo.schema_id, org=org_demo.org, msg_id="smile-bomb")
    message["body"]["xdmEntity"]["junk"] = [Repeated("x" * 64, 200_000)]
    answer = httpx.post(org_demo.inlet_url, content=smile_of(message), headers=SMILE)
    assert "too large once decoded" in assert_problem(answer, 413)["detail"]
    batch = httpx.post(org_demo.batch_url, content=smile_of({"messages": [message]}), headers=SMILE)
    assert_problem(batch, 413)
    assert record_count(org_demo) == 0
    assert failures(org_demo) == []

    message["body"]["xdmEntity"]["junk"] = [Repeated("x" * 64, 1_000)]  # 64 kB: taken
    answer = httpx.post(org_demo.inlet_url, content=smile_of(message), headers=SMILE)
    assert answer.status_code == 200, answer.text
    (stored,) = records(org_demo)
    assert stored["message"]["body"]["xdmEntity"]["junk"] == ["x" * 64] * 1_001


def test_a_smile_number_beyond_64_bits_is_stored_as_json_reads_it(org_demo: Demo) -> None:
    """As a float, as the inlet reads such a number in JSON (it was a 500: orjson writes
    no larger int)."""
    org, schema = org_demo.org, org_demo.schema_id
    message = make_message(schema, org=org, msg_id="smile-big", birthYear=2**70)
    answer = httpx.post(org_demo.inlet_url, content=smile_of(message), headers=SMILE)
    assert answer.status_code == 200, answer.text
    as_json = make_message(schema, org=org, msg_id="json-big")
    raw = json.dumps(as_json).replace('"birthYear": 1990', f'"birthYear": {2**70}')
    assert httpx.post(org_demo.inlet_url, content=raw, headers=JSON).status_code == 200
    stored = [r["message"]["body"]["xdmEntity"]["_instance_name"] for r in records(org_demo)]
    assert [entity["person"]["birthYear"] for entity in stored] == [float(2**70)] * 2
