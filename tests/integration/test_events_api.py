"""Event configurations through a real server: CRUD, errors with pointers, apply, the payload
preview with its curl and Python snippets (both run for real), and matching outcomes."""

from __future__ import annotations

import copy
import json
import pprint
import re
import shlex
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Demo, make_message, wait_until
from tests.integration.conftest import (
    EXPRESSIONS_OVER_THE_LIMITS,
    assert_problem,
    causing_exceptions,
    failures,
)
from wayfare.registry.demo import DEMO_DOCUMENTS, DEMO_EVENT

pytestmark = pytest.mark.integration

HEX64 = re.compile(r"^[0-9a-f]{64}$")
PERSON = "_instance_name.person"
CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"

PURCHASE_SCHEMA = {
    "name": "purchases",
    "class": "ExperienceEvent",
    "required": ["identityMap"],
    "fields": {
        "order": {
            "type": "object",
            "properties": {"total": {"type": "number", "minimum": 0}, "id": {"type": "string"}},
        }
    },
}


def call(demo: Demo, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with demo.server.admin(demo.org) as admin:
        return admin.request(method, path, **kwargs)


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def event(demo: Demo, name: str = DEMO_EVENT) -> dict[str, Any]:
    found: dict[str, Any] = ok(call(demo, "GET", f"/api/v1/events/{name}"))
    return found


def rule_event(name: str, condition: str, schema: str = "newsletter_signup") -> dict[str, Any]:
    return {
        "name": name,
        "schemaId": schema,
        "namespace": "Email",
        "eventIdType": "rule",
        "condition": condition,
    }


def outcomes(demo: Demo, name: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(
        call(demo, "GET", f"/api/v1/events/{name}/messages", params=params)
    )["messages"]
    return found


def outcome_of(demo: Demo, name: str, xaction_id: str) -> dict[str, Any]:
    """The matching outcome of one message for one event, once it is recorded."""

    def find() -> dict[str, Any] | None:
        return next((m for m in outcomes(demo, name) if m["xactionId"] == xaction_id), None)

    found: dict[str, Any] = wait_until(find)
    return found


def send(demo: Demo, message: dict[str, Any], *, sync: bool = True) -> str:
    params = {"syncValidation": "true"} if sync else {}
    answer = httpx.post(demo.inlet_url, json=message, params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    xaction_id: str = answer.json()["xactionId"]
    return xaction_id


def signup(demo: Demo, event_id: str | None, *, email: str = "ada@example.com") -> dict[str, Any]:
    message = make_message(demo.schema_id, org=demo.org, email=email)
    if event_id is not None:
        message["body"]["xdmEntity"]["_experience"] = {
            "campaign": {"orchestration": {"eventID": event_id}}
        }
    return message


def fill_placeholders(payload: dict[str, Any]) -> dict[str, Any]:
    """The preview with valid values in place of its placeholders."""
    filled = copy.deepcopy(payload)
    entity = filled["body"]["xdmEntity"]
    entity["_id"] = str(uuid.uuid4())
    entity["identityMap"]["Email"][0]["id"] = "grace@example.com"
    entity["_instance_name"]["person"] = {
        "firstName": "Grace",
        "lastName": "Hopper",
        "gender": "female",
        "birthYear": 1906,
        "emailAddress": "grace@example.com",
    }
    return filled


# CRUD


def test_the_demo_event_is_listed_with_its_minted_event_id(org_demo: Demo) -> None:
    (listed,) = ok(call(org_demo, "GET", "/api/v1/events"))["events"]
    shown = event(org_demo)
    assert listed == shown
    assert shown["name"] == DEMO_EVENT
    assert shown["eventIdType"] == "system"
    assert HEX64.match(shown["eventID"])
    assert shown["schemaId"] == org_demo.schema_id
    assert shown["namespace"] == "Email"
    assert shown["identifier"] == "identityMap.Email[0].id"
    assert shown["imsOrg"] == org_demo.org
    assert shown["condition"] is None
    assert shown["fields"][:5] == [
        f"{PERSON}.firstName",
        f"{PERSON}.lastName",
        f"{PERSON}.gender",
        f"{PERSON}.birthYear",
        f"{PERSON}.emailAddress",
    ]
    assert set(shown["fields"][5:]) == {
        "_experience.campaign.orchestration.eventID",
        "_id",
        "identityMap",
        "timestamp",
    }


def test_create_show_update_list_and_delete(org_demo: Demo) -> None:
    definition = {
        **rule_event("young_signup", f"{PERSON}.birthYear >= 1990"),
        "description": "born in 1990 or later",
        "fields": [f"{PERSON}.firstName"],
    }
    created = ok(call(org_demo, "POST", "/api/v1/events", json=definition), 201)
    assert created["eventIdType"] == "rule"
    assert created["eventID"] is None
    assert created["condition"] == f"{PERSON}.birthYear >= 1990"
    assert event(org_demo, "young_signup") == created

    changed = {**definition, "description": "changed", "fields": [f"{PERSON}.lastName"]}
    updated = ok(call(org_demo, "PUT", "/api/v1/events/young_signup", json=changed))
    assert updated["description"] == "changed"
    assert f"{PERSON}.lastName" in updated["fields"]
    assert f"{PERSON}.firstName" not in updated["fields"]
    assert updated["createdMs"] == created["createdMs"]
    names = [e["name"] for e in ok(call(org_demo, "GET", "/api/v1/events"))["events"]]
    assert sorted(names) == sorted([DEMO_EVENT, "young_signup"])

    assert ok(call(org_demo, "DELETE", "/api/v1/events/young_signup")) == {
        "deleted": "young_signup"
    }
    assert_problem(call(org_demo, "GET", "/api/v1/events/young_signup"), 404)
    names = [e["name"] for e in ok(call(org_demo, "GET", "/api/v1/events"))["events"]]
    assert names == [DEMO_EVENT]


def test_the_event_id_is_stable_across_updates(org_demo: Demo) -> None:
    before = event(org_demo)
    spec = {k: v for k, v in DEMO_DOCUMENTS[3].items() if k != "kind"}
    after = ok(
        call(
            org_demo,
            "PUT",
            f"/api/v1/events/{DEMO_EVENT}",
            json={**spec, "description": "new words"},
        )
    )
    assert after["eventID"] == before["eventID"]
    assert after["description"] == "new words"


def test_a_duplicate_name_is_409(org_demo: Demo) -> None:
    spec = {k: v for k, v in DEMO_DOCUMENTS[3].items() if k != "kind"}
    body = assert_problem(call(org_demo, "POST", "/api/v1/events", json=spec), 409)
    assert DEMO_EVENT in body["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/events/nope"),
        ("PUT", "/api/v1/events/nope"),
        ("DELETE", "/api/v1/events/nope"),
        ("GET", "/api/v1/events/nope/payload-preview"),
        ("GET", "/api/v1/events/nope/payload-preview?snippets=true"),
        ("GET", "/api/v1/events/nope/messages"),
    ],
)
def test_an_unknown_event_is_404(org_demo: Demo, method: str, path: str) -> None:
    body = rule_event("nope", "eventType == 'x'") if method == "PUT" else None
    answer = assert_problem(call(org_demo, method, path, json=body), 404)
    assert "nope" in answer["detail"]


def test_events_of_another_org_are_not_visible(org_demo: Demo) -> None:
    with org_demo.server.admin("SOMEONE@Else") as other:
        assert other.get("/api/v1/events").json() == {"events": []}
        assert other.get(f"/api/v1/events/{DEMO_EVENT}").status_code == 404


@pytest.mark.parametrize(
    ("definition", "pointers"),
    [
        (
            {"name": "x" * 31, "schemaId": "newsletter_signup", "namespace": "Email"},
            {"/name": "pattern"},
        ),
        (
            {"name": "has-dash", "schemaId": "newsletter_signup", "namespace": "Email"},
            {"/name": "pattern"},
        ),
        (
            {"name": "", "schemaId": "newsletter_signup", "namespace": "Email"},
            {"/name": "pattern"},
        ),
        (
            {"name": "e", "schemaId": "newsletter_signup", "namespace": "Email", "description": 7},
            {"/description": "type"},
        ),
        ({"schemaId": "newsletter_signup"}, {"/name": "required", "/namespace": "required"}),
        (
            {
                "name": "e",
                "schemaId": "newsletter_signup",
                "namespace": "Email",
                "eventIdType": "sometimes",
            },
            {"/eventIdType": "enum"},
        ),
        (
            {
                "name": "e",
                "schemaId": "newsletter_signup",
                "namespace": "Email",
                "eventIdType": "rule",
            },
            {"/condition": "required"},
        ),
        (
            {
                "name": "e",
                "schemaId": "newsletter_signup",
                "namespace": "Email",
                "fields": [f"{PERSON}.firstName", f"{PERSON}.shoeSize"],
            },
            {"/fields/1": "enum"},
        ),
        (
            {
                "name": "e",
                "schemaId": "newsletter_signup",
                "namespace": "Email",
                "identifier": "identityMap.ECID[0].id",
            },
            {"/identifier": "const"},
        ),
        ([], {"": "type"}),
    ],
)
def test_bad_definitions_are_400_with_pointers(
    org_demo: Demo, definition: Any, pointers: dict[str, str]
) -> None:
    body = assert_problem(call(org_demo, "POST", "/api/v1/events", json=definition), 400)
    found = {v["pointerToViolation"]: v["keyword"] for v in causing_exceptions(body)}
    assert found == pointers


def test_a_condition_naming_an_unknown_field_says_its_column(org_demo: Demo) -> None:
    condition = f"{PERSON}.birthYear > 1990 and {PERSON}.shoeSize > 40"
    answer = call(org_demo, "POST", "/api/v1/events", json=rule_event("e", condition))
    body = assert_problem(answer, 400)
    (violation,) = causing_exceptions(body)
    column = condition.index(f"{PERSON}.shoeSize") + 1
    assert violation["pointerToViolation"] == "/condition"
    assert violation["message"] == (
        f"the schema has no field '{PERSON}.shoeSize' (column {column})"
    )


def test_a_condition_that_does_not_parse_says_its_column(org_demo: Demo) -> None:
    answer = call(
        org_demo, "POST", "/api/v1/events", json=rule_event("e", "eventType == 'a' or or")
    )
    (violation,) = causing_exceptions(assert_problem(answer, 400))
    assert violation["pointerToViolation"] == "/condition"
    assert "at column 21" in violation["message"]


@pytest.mark.parametrize(("condition", "words", "column"), EXPRESSIONS_OVER_THE_LIMITS)
def test_a_condition_over_a_limit_is_400_naming_the_field_and_the_column(
    org_demo: Demo, condition: str, words: str, column: int
) -> None:
    answer = call(org_demo, "POST", "/api/v1/events", json=rule_event("e", condition))
    (violation,) = causing_exceptions(assert_problem(answer, 400))
    assert (violation["pointerToViolation"], violation["keyword"]) == ("/condition", "expression")
    assert words in violation["message"]
    assert f"at column {column} of" in violation["message"]
    assert len(violation["message"]) < 300  # quotes the condition around the column only
    assert_problem(call(org_demo, "GET", "/api/v1/events/e"), 404)


def test_not_json_is_400(org_demo: Demo) -> None:
    answer = call(org_demo, "POST", "/api/v1/events", content=b"{nope")
    assert_problem(answer, 400)


def test_an_event_cannot_be_renamed(org_demo: Demo) -> None:
    spec = {k: v for k, v in DEMO_DOCUMENTS[3].items() if k != "kind"}
    answer = call(org_demo, "PUT", f"/api/v1/events/{DEMO_EVENT}", json={**spec, "name": "other"})
    (violation,) = causing_exceptions(assert_problem(answer, 400))
    assert (violation["pointerToViolation"], violation["keyword"]) == ("/name", "const")
    assert event(org_demo)["name"] == DEMO_EVENT
    assert_problem(call(org_demo, "GET", "/api/v1/events/other"), 404)


def test_apply_with_an_event_document_is_idempotent(org_demo: Demo) -> None:
    before = event(org_demo)
    applied = ok(call(org_demo, "POST", "/api/v1/apply", json={"documents": DEMO_DOCUMENTS}))
    (entry,) = [a for a in applied["applied"] if a["kind"] == "Event"]
    assert entry == {
        "kind": "Event",
        "name": DEMO_EVENT,
        "action": "unchanged",
        "id": DEMO_EVENT,
        "eventID": before["eventID"],
    }
    assert event(org_demo) == before

    changed = [
        {**d, "description": "applied again"} if d["kind"] == "Event" else d for d in DEMO_DOCUMENTS
    ]
    applied = ok(call(org_demo, "POST", "/api/v1/apply", json={"documents": changed}))
    (entry,) = [a for a in applied["applied"] if a["kind"] == "Event"]
    assert (entry["action"], entry["eventID"]) == ("updated", before["eventID"])
    assert event(org_demo)["description"] == "applied again"

    new = {"kind": "Event", **rule_event("applied_rule", "eventType == 'x'")}
    applied = ok(call(org_demo, "POST", "/api/v1/apply", json={"documents": [new]}))
    assert applied["applied"][0]["action"] == "created"
    applied = ok(call(org_demo, "POST", "/api/v1/apply", json={"documents": [new]}))
    assert applied["applied"][0]["action"] == "unchanged"


def test_apply_reports_a_bad_event_document_with_its_index(org_demo: Demo) -> None:
    bad = {"kind": "Event", **rule_event("bad_rule", "nope == 1")}
    answer = call(org_demo, "POST", "/api/v1/apply", json={"documents": [bad]})
    (violation,) = causing_exceptions(assert_problem(answer, 400))
    assert violation["pointerToViolation"] == "/0/condition"


# payload preview


def test_the_preview_is_the_exact_message_to_send(org_demo: Demo) -> None:
    shown = event(org_demo)
    first = ok(call(org_demo, "GET", f"/api/v1/events/{DEMO_EVENT}/payload-preview"))
    second = ok(call(org_demo, "GET", f"/api/v1/events/{DEMO_EVENT}/payload-preview"))
    header = first["header"]
    ref = {"id": org_demo.schema_id, "contentType": CONTENT_TYPE}
    assert header == {
        "msgType": "xdmEntityCreate",
        "msgId": header["msgId"],
        "msgVersion": "1.0",
        "xactionId": header["xactionId"],
        "datasetId": org_demo.dataset_id,
        "imsOrgId": org_demo.org,
        "schemaRef": ref,
        "source": {"name": "Journeys"},
    }
    assert header["msgId"] != second["header"]["msgId"]
    assert header["xactionId"] != second["header"]["xactionId"]
    assert first["body"]["xdmMeta"] == {"schemaRef": ref}
    entity = first["body"]["xdmEntity"]
    assert entity == {
        "_instance_name": {
            "person": {
                "firstName": "string",
                "lastName": "string",
                "gender": "string",
                "birthYear": 0,
                "emailAddress": "string",
            }
        },
        "_experience": {"campaign": {"orchestration": {"eventID": shown["eventID"]}}},
        "_id": "string",
        "identityMap": {"Email": [{"id": "string"}]},
        "timestamp": entity["timestamp"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entity["timestamp"])


def test_a_filled_preview_passes_sync_validation_and_matches(org_demo: Demo) -> None:
    payload = ok(call(org_demo, "GET", f"/api/v1/events/{DEMO_EVENT}/payload-preview"))
    xaction_id = send(org_demo, fill_placeholders(payload))
    found = outcome_of(org_demo, DEMO_EVENT, xaction_id)
    assert (found["matched"], found["identity"]) == (True, "grace@example.com")


def test_an_unfilled_preview_fails_sync_validation_on_its_placeholders(org_demo: Demo) -> None:
    payload = ok(call(org_demo, "GET", f"/api/v1/events/{DEMO_EVENT}/payload-preview"))
    answer = httpx.post(
        org_demo.inlet_url, json=payload, params={"syncValidation": "true"}, timeout=30
    )
    body = assert_problem(answer, 400)
    pointers = {v["pointerToViolation"] for v in causing_exceptions(body)}
    assert pointers == {
        "#/_instance_name/person/gender",
        "#/_instance_name/person/emailAddress",
    }


def test_snippets_come_with_the_preview(org_demo: Demo) -> None:
    body = ok(call(org_demo, "GET", f"/api/v1/events/{DEMO_EVENT}/payload-preview?snippets=true"))
    assert set(body) == {"payload", "inletUrl", "curl", "python"}
    assert body["inletUrl"] == org_demo.inlet_url
    payload = body["payload"]
    assert payload["header"]["imsOrgId"] == org_demo.org
    curl = body["curl"]
    assert curl.startswith(f"curl -X POST {shlex.quote(org_demo.inlet_url)}")
    assert "-H 'Content-Type: application/json'" in curl
    assert f"-H {shlex.quote('x-gw-ims-org-id: ' + org_demo.org)}" in curl
    assert "Authorization" not in curl
    assert shlex.quote(json.dumps(payload, indent=2)) in curl
    python = body["python"]
    assert "from wayfare.client import Inlet" in python
    assert f"with Inlet({org_demo.inlet_url!r}, {org_demo.org!r}) as inlet:" in python
    assert pprint.pformat(payload, indent=1, width=88, sort_dicts=False) in python


def test_the_curl_command_runs(org_demo: Demo) -> None:
    body = ok(call(org_demo, "GET", f"/api/v1/events/{DEMO_EVENT}/payload-preview?snippets=true"))
    payload = body["payload"]
    filled = fill_placeholders(payload)
    command = body["curl"].replace(
        shlex.quote(json.dumps(payload, indent=2)), shlex.quote(json.dumps(filled, indent=2))
    )
    command = command.replace(
        shlex.quote(org_demo.inlet_url), shlex.quote(f"{org_demo.inlet_url}?syncValidation=true")
    )
    assert command != body["curl"]
    result = subprocess.run(
        ["bash", "-c", command + " -s -S --fail-with-body"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    assert answer["syncValidation"] == {"status": "pass"}
    found = outcome_of(org_demo, DEMO_EVENT, answer["xactionId"])
    assert (found["matched"], found["identity"]) == (True, "grace@example.com")


def test_the_python_snippet_runs(org_demo: Demo) -> None:
    body = ok(call(org_demo, "GET", f"/api/v1/events/{DEMO_EVENT}/payload-preview?snippets=true"))
    payload = body["payload"]
    formatted = pprint.pformat(payload, indent=1, width=88, sort_dicts=False)
    filled = pprint.pformat(fill_placeholders(payload), indent=1, width=88, sort_dicts=False)
    script = body["python"].replace(formatted, filled)
    assert script != body["python"]
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    accepted, xaction_id, message = result.stdout.split()
    assert (accepted, message) == ("True", "None")
    found = outcome_of(org_demo, DEMO_EVENT, xaction_id)
    assert (found["matched"], found["identity"]) == (True, "grace@example.com")


# matching outcomes


def test_matching_outcomes_say_why(org_demo: Demo) -> None:
    event_id = event(org_demo)["eventID"]
    matched = send(org_demo, signup(org_demo, event_id))
    unknown = send(org_demo, signup(org_demo, "0" * 64))
    absent = send(org_demo, signup(org_demo, None))
    no_identity = signup(org_demo, event_id)
    no_identity["body"]["xdmEntity"]["identityMap"] = {}
    no_identity_x = send(org_demo, no_identity)
    other_namespace = signup(org_demo, event_id)
    other_namespace["body"]["xdmEntity"]["identityMap"] = {"ECID": [{"id": "0123456789"}]}
    other_namespace_x = send(org_demo, other_namespace)

    expected = {
        matched: (True, "ada@example.com", None),
        unknown: (False, None, f"unknown eventID {'0' * 64!r}"),
        absent: (
            False,
            None,
            "unknown eventID: the message has no _experience.campaign.orchestration.eventID",
        ),
        no_identity_x: (False, None, "identity missing: the message has no identityMap"),
        other_namespace_x: (
            False,
            None,
            "namespace not the event's: the message has ECID, the event reads Email",
        ),
    }
    for xaction_id, (is_match, identity, reason) in expected.items():
        found = outcome_of(org_demo, DEMO_EVENT, xaction_id)
        assert (found["matched"], found["identity"], found["reason"]) == (
            is_match,
            identity,
            reason,
        )
        assert found["event"] == DEMO_EVENT
    listed = outcomes(org_demo, DEMO_EVENT)
    assert [m["xactionId"] for m in listed] == list(reversed(expected))  # newest first
    assert len(outcomes(org_demo, DEMO_EVENT, limit=2)) == 2


def test_messages_of_a_batch_are_matched_one_by_one(org_demo: Demo) -> None:
    event_id = event(org_demo)["eventID"]
    messages = [
        signup(org_demo, event_id, email="a@example.com"),
        signup(org_demo, "f" * 64),
        signup(org_demo, event_id, email="b@example.com"),
    ]
    answer = httpx.post(org_demo.batch_url, json={"messages": messages}, timeout=30)
    assert answer.status_code == 207, answer.text
    ids = [r["xactionId"] for r in answer.json()["responses"]]
    found = [outcome_of(org_demo, DEMO_EVENT, x) for x in ids]
    assert [(m["matched"], m["identity"]) for m in found] == [
        (True, "a@example.com"),
        (False, None),
        (True, "b@example.com"),
    ]


def test_a_schema_invalid_message_is_not_matched(org_demo: Demo) -> None:
    event_id = event(org_demo)["eventID"]
    invalid = signup(org_demo, event_id)
    invalid["body"]["xdmEntity"]["_instance_name"]["person"]["birthYear"] = "x"
    invalid_x = send(org_demo, invalid, sync=False)  # accepted, kept as a failed record
    valid_x = send(org_demo, signup(org_demo, event_id), sync=False)
    outcome_of(org_demo, DEMO_EVENT, valid_x)
    assert invalid_x not in {m["xactionId"] for m in outcomes(org_demo, DEMO_EVENT)}
    assert invalid_x in {f["xactionId"] for f in failures(org_demo)}


def test_rule_based_events_on_a_schema_without_the_orchestration_field_group(
    org_demo: Demo,
) -> None:
    schema = ok(call(org_demo, "POST", "/api/v1/schemas", json=PURCHASE_SCHEMA), 201)
    assert schema["fieldGroups"] == []
    system = {"name": "purchase_sys", "schemaId": "purchases", "namespace": "Email"}
    (violation,) = causing_exceptions(
        assert_problem(call(org_demo, "POST", "/api/v1/events", json=system), 400)
    )
    assert violation["pointerToViolation"] == "/eventIdType"

    purchase = rule_event("purchase", 'eventType == "commerce.purchases"', "purchases")
    big = rule_event(
        "big_purchase",
        'eventType == "commerce.purchases" and _instance_name.order.total >= 10',
        "purchases",
    )
    for definition in (purchase, big):
        created = ok(call(org_demo, "POST", "/api/v1/events", json=definition), 201)
        assert created["eventID"] is None
        assert "_experience.campaign.orchestration.eventID" not in created["fields"]

    preview = ok(call(org_demo, "GET", "/api/v1/events/purchase/payload-preview"))
    assert "_experience" not in preview["body"]["xdmEntity"]

    def purchase_message(event_type: str, total: float) -> dict[str, Any]:
        ref = {"id": schema["id"], "contentType": CONTENT_TYPE}
        return {
            "header": {"msgType": "xdmEntityCreate", "imsOrgId": org_demo.org, "schemaRef": ref},
            "body": {
                "xdmMeta": {"schemaRef": ref},
                "xdmEntity": {
                    "_id": str(uuid.uuid4()),
                    "timestamp": "2026-11-28T10:00:00.000Z",
                    "eventType": event_type,
                    "identityMap": {"Email": [{"id": "buyer@example.com"}]},
                    "_instance_name": {"order": {"total": total, "id": "o-1"}},
                },
            },
        }

    both = send(org_demo, purchase_message("commerce.purchases", 25))
    small = send(org_demo, purchase_message("commerce.purchases", 5))
    other = send(org_demo, purchase_message("web.webpagedetails.pageViews", 50))

    fired = [outcome_of(org_demo, name, both) for name in ("purchase", "big_purchase")]
    assert [(m["event"], m["matched"], m["identity"]) for m in fired] == [
        ("purchase", True, "buyer@example.com"),
        ("big_purchase", True, "buyer@example.com"),
    ]
    assert outcome_of(org_demo, "purchase", small)["matched"] is True
    not_big = outcome_of(org_demo, "big_purchase", small)
    assert (not_big["matched"], not_big["reason"]) == (
        False,
        f"condition not met: {big['condition']}",
    )
    for name, definition in (("purchase", purchase), ("big_purchase", big)):
        found = outcome_of(org_demo, name, other)
        assert (found["matched"], found["reason"]) == (
            False,
            f"condition not met: {definition['condition']}",
        )
    # the demo's system event belongs to another schema: these messages are not its business
    assert {both, small, other}.isdisjoint(m["xactionId"] for m in outcomes(org_demo, DEMO_EVENT))


def test_a_new_event_matches_the_very_next_message(org_demo: Demo) -> None:
    created = ok(
        call(
            org_demo,
            "POST",
            "/api/v1/events",
            json=rule_event("gen_x", f"{PERSON}.birthYear < 1981 and {PERSON}.birthYear >= 1965"),
        ),
        201,
    )
    assert created["name"] == "gen_x"
    x = send(org_demo, signup(org_demo, None))
    assert outcome_of(org_demo, "gen_x", x)["matched"] is False
    message = make_message(org_demo.schema_id, org=org_demo.org, birthYear=1970)
    y = send(org_demo, message)
    assert outcome_of(org_demo, "gen_x", y)["matched"] is True
    ok(call(org_demo, "DELETE", "/api/v1/events/gen_x"))
    assert_problem(call(org_demo, "GET", "/api/v1/events/gen_x/messages"), 404)


def test_no_message_costs_more_than_the_budget_of_its_conditions(org_demo: Demo) -> None:
    """A condition that reads a lot of data, as each message may hold up to 1 MB of it."""
    reading = f"contains({PERSON}.firstName, 'x')"
    condition = " or ".join([reading] * 12)
    ok(call(org_demo, "POST", "/api/v1/events", json=rule_event("long_names", condition)), 201)
    big = make_message(org_demo.schema_id, org=org_demo.org, firstName="a" * 900_000)
    over = send(org_demo, big)
    within = send(org_demo, make_message(org_demo.schema_id, org=org_demo.org))
    assert outcome_of(org_demo, "long_names", over)["reason"] == (
        "condition not met: it could not be evaluated "
        "(the expression went over its budget of evaluation steps)"
    )
    assert outcome_of(org_demo, "long_names", within)["reason"] == (
        f"condition not met: {condition[:200]}…"
    )
