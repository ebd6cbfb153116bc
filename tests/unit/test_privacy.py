"""The privacy delete's rules (model/privacy.py): how an instance of a deleted person is
erased and ended, and which stored messages are the person's."""

from __future__ import annotations

from typing import Any

from tests.people import ecid, email
from wayfare.model.identities import namespaces_of
from wayfare.model.instances import Instance
from wayfare.model.privacy import ERASED, erase_instance, holds_identity
from wayfare.model.runs import StepRecord

KNOWN = namespaces_of([])


def instance(**changes: Any) -> Instance:
    fields: dict[str, Any] = {
        "instance_id": "i-1",
        "org_id": "ACME@AdobeOrg",
        "journey": "welcome",
        "version": 2,
        "identity": "ada@example.com",
        "seed": 7,
        "entered_ms": 100,
        "status": "waiting",
        "node": "pause",
        "events": {"signup": {"email": "ada@example.com"}},
        "actions": {"hook": {"body": "ada"}},
        "wait_kind": "timer",
        "steps": 3,
    }
    return Instance(**{**fields, **changes})


def test_a_live_instance_ends_deleted_at_its_activity_and_keeps_nothing_of_the_person() -> None:
    erased, step = erase_instance(instance(), {"pause": "wait"}, 500)
    assert (erased.identity, erased.events, erased.actions) == (ERASED, {}, {})
    assert (erased.status, erased.ended_ms, erased.node, erased.wait_kind) == (
        "deleted", 500, "pause", None,
    )  # fmt: skip
    assert (erased.journey, erased.version, erased.entered_ms) == ("welcome", 2, 100)
    assert step == StepRecord(
        "ACME@AdobeOrg", "welcome", 2, "pause", "wait", "i-1", ERASED, "deleted", None, 500, 100
    )


def test_an_instance_at_no_activity_ends_at_the_entry() -> None:
    _, step = erase_instance(instance(node=None, status="running"), {}, 500)
    assert step is not None and (step.node, step.node_type) == ("entry", "entry")
    _, gone = erase_instance(instance(node="removed"), {"pause": "wait"}, 500)
    assert gone is not None and gone.node_type == "unknown"


def test_an_ended_instance_is_erased_and_keeps_its_end() -> None:
    ended = instance(status="finished", ended_ms=300, wait_kind=None)
    erased, step = erase_instance(ended, {"pause": "wait"}, 500)
    assert step is None
    assert (erased.status, erased.ended_ms, erased.identity, erased.events) == (
        "finished", 300, ERASED, {},
    )  # fmt: skip


def message(identity_map: Any) -> dict[str, Any]:
    entity: dict[str, Any] = {"_id": "1"}
    if identity_map is not None:
        entity["identityMap"] = identity_map
    meta = {"schemaRef": {"id": "s", "contentType": "application/vnd.adobe.xed-full+json"}}
    return {
        "header": {"schemaRef": meta["schemaRef"], "imsOrgId": "ACME@AdobeOrg"},
        "body": {"xdmMeta": meta, "xdmEntity": entity},
    }


def test_a_message_is_the_persons_when_its_identity_map_names_one_of_their_identities() -> None:
    person = [email("ada@example.com"), ecid("e-1")]
    assert holds_identity(message({"Email": [{"id": "Ada@Example.com"}]}), person, KNOWN)
    assert holds_identity(
        message({"Phone": [{"id": "+1"}], "ECID": [{"id": "e-1"}]}), person, KNOWN
    )
    assert not holds_identity(message({"ECID": [{"id": "e-2"}]}), person, KNOWN)
    assert not holds_identity(message({"Loyalty": [{"id": "e-1"}]}), person, KNOWN)  # unknown
    assert not holds_identity(message(None), person, KNOWN)
    assert not holds_identity({"not": "xdm"}, person, KNOWN)
    assert not holds_identity("text", person, KNOWN)
