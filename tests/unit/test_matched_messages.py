"""What journeys act on in one message read from the event log: its outcomes that count,
each with the message's entity, at the message's position."""

from __future__ import annotations

from typing import Any

import orjson

from wayfare.model.events import Unmatched
from wayfare.model.matching import EventMatch
from wayfare.model.nesting import nesting
from wayfare.model.records import IncomingMessage
from wayfare.model.runs import MatchedMessage, matched_messages

ORG = "ACME@AdobeOrg"
ENTITY = {"identityMap": {"Email": [{"id": "ada@example.com"}]}, "n": [1, {"k": 2}]}


def incoming(
    matches: list[EventMatch] | None,
    *,
    payload: Any = None,
    reasons: bytes | None = None,
) -> IncomingMessage:
    document = {"header": {}, "body": {"xdmEntity": ENTITY}} if payload is None else payload
    return IncomingMessage(
        xaction_id="x-1",
        msg_id=None,
        org_id=ORG,
        inlet_id="inlet-1",
        dataset_id="dataset-1",
        schema_id="schema-1",
        received_ms=0,
        payload=document if isinstance(document, bytes) else orjson.dumps(document),
        reasons=reasons,
        matches=matches,
    )


def test_each_outcome_that_counts_is_one_matched_message_at_the_position() -> None:
    message = incoming(
        [
            EventMatch("signup", "ada@example.com"),
            EventMatch("visit", None, Unmatched.CONDITION_NOT_MET, "condition not met"),
            EventMatch("order", None, Unmatched.NAMESPACE_MISMATCH, "namespace not the event's"),
        ]
    )
    found = matched_messages(message, 42, orjson.loads)
    assert [(m.position, m.org_id, m.event, m.identity, m.cause) for m in found] == [
        (42, ORG, "signup", "ada@example.com", None),
        (42, ORG, "order", None, Unmatched.NAMESPACE_MISMATCH),
    ]
    assert all(m.entity == ENTITY for m in found)


def test_the_nesting_bound_is_at_least_the_entitys_nesting() -> None:
    (found,) = matched_messages(incoming([EventMatch("signup", "ada")]), 1)
    assert found.nesting_bound is not None
    assert found.nesting_bound >= nesting(found.entity)


def test_outcomes_that_do_not_count_give_nothing_and_the_payload_is_not_parsed() -> None:
    def refuse(data: bytes) -> Any:
        raise AssertionError("parsed a payload nobody acts on")

    message = incoming(
        [EventMatch("visit", None, Unmatched.UNKNOWN_EVENT_ID, "unknown eventID 'x'")],
        payload=b"not even json",
    )
    assert matched_messages(message, 7, refuse) == []
    assert matched_messages(incoming(None), 7, refuse) == []
    assert matched_messages(incoming([]), 7, refuse) == []


def test_a_failed_message_gives_nothing() -> None:
    message = incoming([EventMatch("signup", "ada")], reasons=b"[]")
    assert matched_messages(message, 3) == []


def test_a_payload_without_an_entity_object_acts_with_an_empty_entity() -> None:
    for payload in ({"body": {}}, {"body": {"xdmEntity": [1]}}, {"body": "x"}, [1, 2], "text"):
        found = matched_messages(incoming([EventMatch("signup", "ada")], payload=payload), 5)
        bound = found[0].nesting_bound
        assert found == [MatchedMessage(5, ORG, "signup", "ada", {}, None, bound, "x-1")]
