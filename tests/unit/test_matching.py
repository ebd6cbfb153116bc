"""Matching one accepted message against the events of its schema: a dictionary lookup on
eventID for system-generated events, compiled conditions for rule-based ones, and the reason
whenever an event does not match."""

from __future__ import annotations

from typing import Any

from wayfare.model.events import EVENT_NAME, EventConfig, Unmatched, default_identifier
from wayfare.model.expressions import MAX_DEPTH, TEXT_PER_STEP
from wayfare.model.matching import (
    MATCH_STEPS,
    EventIndex,
    EventMatch,
    MatchRecord,
    all_system_events,
    lacking_event_id,
    match_message,
)
from wayfare.model.records import Record

ORG = "ACME@AdobeOrg"
SCHEMA = "https://ns.adobe.com/acme/schemas/1"
NO_EVENT_ID = "unknown eventID: the message has no _experience.campaign.orchestration.eventID"
ALL_SYSTEM = all_system_events(SCHEMA)


def system(name: str, event_id: str, namespace: str = "Email") -> EventConfig:
    return EventConfig(
        org_id=ORG,
        name=name,
        schema_id=SCHEMA,
        namespace=namespace,
        id_type="system",
        identifier=default_identifier(namespace),
        fields=(),
        event_id=event_id,
    )


def rule(
    name: str, condition: str, namespace: str = "Email", identifier: str | None = None
) -> EventConfig:
    return EventConfig(
        org_id=ORG,
        name=name,
        schema_id=SCHEMA,
        namespace=namespace,
        id_type="rule",
        identifier=identifier or default_identifier(namespace),
        fields=(),
        condition=condition,
    )


def entity(
    *,
    event_id: Any = None,
    identities: dict[str, Any] | None = None,
    event_type: str | None = None,
    total: float | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"_id": "1", "timestamp": "2026-01-01T00:00:00Z"}
    body["identityMap"] = (
        {"Email": [{"id": "ada@example.com"}]} if identities is None else identities
    )
    if event_id is not None:
        body["_experience"] = {"campaign": {"orchestration": {"eventID": event_id}}}
    if event_type is not None:
        body["eventType"] = event_type
    if total is not None:
        body["_acme"] = {"order": {"total": total}}
    return body


SIGNUP = system("signup", "a" * 64)
CHURN = system("churn", "b" * 64, namespace="ECID")
PURCHASE = rule("purchase", 'eventType == "commerce.purchases"')
BIG_PURCHASE = rule(
    "big_purchase", 'eventType == "commerce.purchases" and _acme.order.total >= 100'
)
ANY_ORDER = rule("any_order", "_acme.order.total > 0")


def test_the_index_arranges_events_for_matching() -> None:
    index = EventIndex.of([SIGNUP, PURCHASE, CHURN, BIG_PURCHASE])
    assert dict(index.by_event_id) == {"a" * 64: SIGNUP, "b" * 64: CHURN}
    assert list(index.system) == [SIGNUP, CHURN]
    assert [r.config for r in index.rules] == [PURCHASE, BIG_PURCHASE]
    assert not index.empty
    assert EventIndex.of([]).empty
    assert match_message(EventIndex.of([]), entity(event_id="a" * 64)) == []


def test_a_system_event_matches_on_its_event_id() -> None:
    index = EventIndex.of([SIGNUP, CHURN])
    assert match_message(index, entity(event_id="a" * 64)) == [
        EventMatch("signup", "ada@example.com")
    ]
    assert match_message(index, entity(event_id="b" * 64, identities={"ECID": [{"id": "42"}]})) == [
        EventMatch("churn", "42")
    ]


def test_an_unknown_event_id_is_one_reason_for_all_the_system_events_of_the_schema() -> None:
    index = EventIndex.of([SIGNUP, CHURN, PURCHASE])
    outcomes = match_message(index, entity(event_id="c" * 64, event_type="web.pageViews"))
    reason = f"unknown eventID {'c' * 64!r}"
    assert outcomes == [
        EventMatch(ALL_SYSTEM, None, Unmatched.UNKNOWN_EVENT_ID, reason),
        EventMatch(
            "purchase",
            None,
            Unmatched.CONDITION_NOT_MET,
            'condition not met: eventType == "commerce.purchases"',
        ),
    ]


def test_a_message_without_an_event_id_is_no_event_and_keeps_no_outcome() -> None:
    """Nothing is kept for it (an event's messages tell it from its record:
    test_event_registry); a rule-based event still tests its condition."""
    assert match_message(EventIndex.of([SIGNUP, CHURN]), entity()) == []
    assert [m.event_name for m in match_message(EventIndex.of([SIGNUP, PURCHASE]), entity())] == [
        "purchase"
    ]
    assert ALL_SYSTEM == "*" + SCHEMA  # no event's name begins with "*"
    assert not EVENT_NAME.match(ALL_SYSTEM)


def test_records_without_an_event_id_are_told_as_outcomes_from_the_event_s_creation_on() -> None:
    def record(seq: int, received_ms: int, entity: Any) -> Record:
        message = {"header": {}, "body": {"xdmMeta": {}, "xdmEntity": entity}}
        return Record(seq, ORG, "ds", "inlet", SCHEMA, f"x{seq}", None, received_ms, message)

    records = [
        record(1, 99, {}),  # before the event
        record(2, 100, {}),
        record(3, 100, {"_experience": {"campaign": {"orchestration": {"eventID": "a" * 64}}}}),
        record(4, 101, {"_experience": {"campaign": {"orchestration": {"eventID": None}}}}),
        record(5, 102, "not an entity"),
    ]
    missing = EventMatch("signup", None, Unmatched.NO_EVENT_ID, NO_EVENT_ID)
    assert lacking_event_id("signup", records, since_ms=100) == [
        MatchRecord(2, "x2", 100, missing),
        MatchRecord(4, "x4", 101, missing),
        MatchRecord(5, "x5", 102, missing),
    ]


def test_a_schema_without_system_events_has_no_outcome_for_a_missing_event_id() -> None:
    index = EventIndex.of([PURCHASE])
    assert [m.cause for m in match_message(index, entity())] == [Unmatched.CONDITION_NOT_MET]


def test_a_non_string_event_id_is_unknown() -> None:
    index = EventIndex.of([SIGNUP])
    assert match_message(index, entity(event_id=12)) == [
        EventMatch(ALL_SYSTEM, None, Unmatched.UNKNOWN_EVENT_ID, "unknown eventID 12")
    ]
    assert match_message(index, {"_experience": {"campaign": "x"}}) == []  # none: no event


def test_a_message_matching_n_rule_based_events_fires_n_times() -> None:
    index = EventIndex.of([PURCHASE, BIG_PURCHASE, ANY_ORDER])
    outcomes = match_message(index, entity(event_type="commerce.purchases", total=150))
    assert outcomes == [
        EventMatch("purchase", "ada@example.com"),
        EventMatch("big_purchase", "ada@example.com"),
        EventMatch("any_order", "ada@example.com"),
    ]
    outcomes = match_message(index, entity(event_type="commerce.purchases", total=50))
    assert [(o.event_name, o.matched) for o in outcomes] == [
        ("purchase", True),
        ("big_purchase", False),
        ("any_order", True),
    ]
    assert outcomes[1].reason == (
        'condition not met: eventType == "commerce.purchases" and _acme.order.total >= 100'
    )


def test_a_missing_field_does_not_meet_a_condition() -> None:
    index = EventIndex.of([ANY_ORDER])
    assert match_message(index, entity(event_type="commerce.purchases")) == [
        EventMatch(
            "any_order",
            None,
            Unmatched.CONDITION_NOT_MET,
            "condition not met: _acme.order.total > 0",
        )
    ]


def test_system_and_rule_events_of_one_schema_are_all_tried() -> None:
    index = EventIndex.of([SIGNUP, PURCHASE])
    outcomes = match_message(index, entity(event_id="a" * 64, event_type="commerce.purchases"))
    assert outcomes == [
        EventMatch("signup", "ada@example.com"),
        EventMatch("purchase", "ada@example.com"),
    ]


def test_identity_missing_is_the_reason_when_the_event_matches_but_not_its_person() -> None:
    index = EventIndex.of([SIGNUP, PURCHASE])
    outcomes = match_message(
        index, entity(event_id="a" * 64, event_type="commerce.purchases", identities={})
    )
    reason = "identity missing: the message has no identityMap"
    assert outcomes == [
        EventMatch("signup", None, Unmatched.IDENTITY_MISSING, reason),
        EventMatch("purchase", None, Unmatched.IDENTITY_MISSING, reason),
    ]
    outcomes = match_message(
        index, entity(event_id="a" * 64, identities={"Email": [{"primary": True}]})
    )
    assert outcomes[0] == EventMatch(
        "signup",
        None,
        Unmatched.IDENTITY_MISSING,
        "identity missing: nothing at identityMap.Email[0].id",
    )


def test_namespace_mismatch_is_the_reason_when_the_message_has_other_identities() -> None:
    index = EventIndex.of([SIGNUP, PURCHASE])
    outcomes = match_message(
        index,
        entity(
            event_id="a" * 64,
            event_type="commerce.purchases",
            identities={"ECID": [{"id": "42"}]},
        ),
    )
    reason = "namespace not the event's: the message has ECID, the event reads Email"
    assert outcomes == [
        EventMatch("signup", None, Unmatched.NAMESPACE_MISMATCH, reason),
        EventMatch("purchase", None, Unmatched.NAMESPACE_MISMATCH, reason),
    ]


def test_a_rule_event_may_read_its_person_from_any_field() -> None:
    index = EventIndex.of(
        [rule("by_sku", "_acme.order.total > 0", "CRMID", identifier="_acme.order.customer")]
    )
    body = entity(total=5, identities={})
    body["_acme"]["order"]["customer"] = "C-7"
    assert match_message(index, body) == [EventMatch("by_sku", "C-7")]


def test_the_identity_is_normalised_as_its_namespace_ids_are() -> None:
    """An Email id lower-cased and trimmed, a Phone id in E.164, a custom one as sent: the
    person journeys see is the identity graph's."""
    cases = [
        ("Email", " Ada@Example.COM ", "ada@example.com"),
        ("Phone", "+44 20 7946 0958", "+442079460958"),
        ("Phone", "not a number ", "not a number"),
        ("CRMID", " C-7 ", " C-7 "),
    ]
    for namespace, sent, kept in cases:
        index = EventIndex.of(
            [rule("e", "_acme.order.total > 0", namespace, identifier="_acme.order.customer")]
        )
        body = entity(total=5, identities={})
        body["_acme"]["order"]["customer"] = sent
        assert match_message(index, body) == [EventMatch("e", kept)], namespace


def test_an_identity_that_normalises_to_nothing_is_missing() -> None:
    index = EventIndex.of([rule("signup", "_acme.order.total > 0")])
    outcome = match_message(index, entity(total=5, identities={"Email": [{"id": "   "}]}))
    reason = "identity missing: nothing at identityMap.Email[0].id"
    assert outcome == [EventMatch("signup", None, Unmatched.IDENTITY_MISSING, reason)]


def test_the_conditions_of_one_message_share_one_budget() -> None:
    """However many rule-based events a schema has, one message costs MATCH_STEPS at most."""
    reading = "contains(_acme.note, 'x')"
    index = EventIndex.of([rule(f"note{i}", reading) for i in range(5)])
    body = entity()
    body["_acme"] = {"note": "n" * (3 * MATCH_STEPS * TEXT_PER_STEP // 10)}
    steps = 3 + len(body["_acme"]["note"]) // TEXT_PER_STEP  # the call, its arguments, the note
    fits = MATCH_STEPS // steps
    assert fits == 3
    outcomes = match_message(index, body)
    assert [o.reason for o in outcomes] == [f"condition not met: {reading}"] * fits + [
        "condition not met: it could not be evaluated "
        "(the expression went over its budget of evaluation steps)"
    ] * (5 - fits)
    assert {o.cause for o in outcomes} == {Unmatched.CONDITION_NOT_MET}


def test_a_stored_condition_over_a_limit_is_not_met_and_says_why() -> None:
    deep = "(" * 100 + "eventType" + ")" * 100 + " == 'x'"
    index = EventIndex.of([rule("old", deep), PURCHASE])  # saved before the limits
    (old, purchase) = match_message(index, entity(event_type="commerce.purchases"))
    assert (old.matched, old.cause) == (False, Unmatched.CONDITION_NOT_MET)
    assert old.reason is not None
    assert old.reason.startswith(
        f"condition not met: it cannot be evaluated (nested more than {MAX_DEPTH} levels deep"
    )
    assert "at column 65 of" in old.reason
    assert purchase == EventMatch("purchase", "ada@example.com")


def test_an_unmet_outcome_quotes_a_long_condition_in_part() -> None:
    long = " or ".join(f"eventType == 'type{i:03}'" for i in range(50))
    (outcome,) = match_message(EventIndex.of([rule("many", long)]), entity(event_type="other"))
    assert outcome.reason == f"condition not met: {long[:200]}…"


def test_journeys_count_the_outcomes_whose_person_cannot_be_told() -> None:
    assert {u for u in Unmatched if u.counts} == {
        Unmatched.IDENTITY_MISSING,
        Unmatched.NAMESPACE_MISMATCH,
    }
    assert EventMatch("signup", "ada@example.com").counts
    assert EventMatch("signup", None, Unmatched.NAMESPACE_MISMATCH, "...").counts
    assert not EventMatch("signup", None, Unmatched.CONDITION_NOT_MET, "...").counts


def test_outcomes_as_json() -> None:
    match = EventMatch("signup", "ada@example.com")
    assert match.as_json() == {
        "event": "signup",
        "matched": True,
        "identity": "ada@example.com",
        "cause": None,
        "reason": None,
    }
    record = MatchRecord(
        7, "1:abc", 1000, EventMatch("signup", None, Unmatched.CONDITION_NOT_MET, "why")
    )
    assert record.as_json() == {
        "seq": 7,
        "xactionId": "1:abc",
        "receivedTimeMs": 1000,
        "event": "signup",
        "matched": False,
        "identity": None,
        "cause": "condition not met",
        "reason": "why",
    }
