"""Journeys starting on audience qualification, as the model holds them: the entry
``{audience, on, namespace}``, which identity of the person an instance carries, what a
membership change queues, and what a person's memberships become when another merges in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.people import ecid, email
from wayfare.errors import InvalidRequestError
from wayfare.model.audiences import (
    AudienceCheck,
    AudienceEntry,
    AudienceStart,
    Membership,
    MembershipChange,
    journey_identity,
    merged_memberships,
    parse_audience,
    queued_entries,
)
from wayfare.model.identity_graph import Link, Person
from wayfare.model.journey import parse_journey
from wayfare.model.partitions import partition_of

ORG = "ACME@AdobeOrg"
T0 = 1_790_000_000_000
GOLD = parse_audience(ORG, {"name": "gold", "condition": "#{profile.tier} == 'gold'"})
ADA = Person("p-ada", T0, (Link(ecid("e-2"), T0 + 5), Link(ecid("e-1"), T0 + 5),
                           Link(email("ada@example.com"), T0)))  # fmt: skip


def journey(entry: dict[str, Any]) -> dict[str, Any]:
    return {"name": "welcome-gold", "entry": {**entry, "next": "done"},
            "activities": {"done": {"type": "end"}}}  # fmt: skip


def test_a_journey_starts_on_an_audience_entered_or_exited() -> None:
    entered = parse_journey(journey({"audience": "gold"}))
    assert entered.audience_start == AudienceStart("gold", "entered", None)
    assert entered.entry_event == "audience:gold:entered"
    assert entered.events_named() == set()  # no entry event whose payload it may read
    exited = parse_journey(journey({"audience": "gold", "on": "exited", "namespace": "ECID"}))
    assert exited.audience_start == AudienceStart("gold", "exited", "ECID")
    assert exited.entry_event == "audience:gold:exited"
    assert parse_journey(journey({"event": "signup"})).audience_start is None


@pytest.mark.parametrize(
    ("entry", "pointer"),
    [
        ({"audience": "no good"}, "/entry/audience"),
        ({"audience": "gold", "on": "qualified"}, "/entry/on"),
        ({"audience": "gold", "namespace": "E mail"}, "/entry/namespace"),
        ({"next": None}, "/entry"),
    ],
)
def test_an_audience_start_is_refused_where_it_is_wrong(
    entry: dict[str, Any], pointer: str
) -> None:
    data = journey(entry)
    if entry == {"next": None}:
        data["entry"] = {"next": "done"}
    with pytest.raises(InvalidRequestError) as refused:
        parse_journey(data)
    assert pointer in [v.pointer for v in refused.value.violations]


def test_an_instance_carries_the_identity_that_made_the_change_or_the_first_in_its_namespace() -> (
    None
):
    trigger = email("ada@example.com")
    assert journey_identity(ADA, None, trigger) == trigger
    assert journey_identity(ADA, "Email", trigger) == trigger
    assert journey_identity(ADA, "ECID", trigger) == ecid("e-1")  # linked first; ties by id
    assert journey_identity(ADA, "Phone", trigger) is None


def change(kind: str, audience: str = "gold") -> MembershipChange:
    if kind == "entered":
        return MembershipChange("entered", Membership(audience, "p-ada", T0 + 9))
    return MembershipChange("exited", Membership(audience, "p-ada", T0, T0 + 9))


def test_a_change_queues_an_entry_per_namespace_journeys_starting_on_it_name() -> None:
    starts = (
        AudienceStart("gold", "entered", None),
        AudienceStart("gold", "entered", "ECID"),
        AudienceStart("gold", "entered", "Phone"),
        AudienceStart("gold", "exited", None),
        AudienceStart("silver", "entered", None),
    )
    check = AudienceCheck(ORG, email("ada@example.com"), None, T0 + 9, (GOLD,), starts, 16)
    entries = queued_entries(check, ADA, [change("entered")])
    assert entries == [
        AudienceEntry(ORG, "gold", "entered", "p-ada", None, email("ada@example.com"),
                      partition_of(ORG, "ada@example.com", 16), T0 + 9),
        AudienceEntry(ORG, "gold", "entered", "p-ada", "ECID", ecid("e-1"),
                      partition_of(ORG, "e-1", 16), T0 + 9),
        AudienceEntry(ORG, "gold", "entered", "p-ada", "Phone", None,
                      partition_of(ORG, "ada@example.com", 16), T0 + 9),
    ]  # fmt: skip
    [exit_entry] = queued_entries(check, ADA, [change("exited")])
    assert (exit_entry.status, exit_entry.namespace) == ("exited", None)
    assert exit_entry.entity() == {
        "audience": "gold", "status": "exited", "atMs": T0 + 9, "personId": "p-ada",
        "identity": {"namespace": "Email", "id": "ada@example.com"},
    }  # fmt: skip
    no_journeys = AudienceCheck(ORG, email("ada@example.com"), None, T0 + 9, (GOLD,))
    assert queued_entries(no_journeys, ADA, [change("entered")]) == []


def test_memberships_of_a_person_merged_away_are_carried_over_to_the_survivor() -> None:
    kept = [
        Membership("both", "p-1", T0 + 5),
        Membership("mine", "p-1", T0),
        Membership("left-later", "p-1", T0, T0 + 50),
        Membership("i-left", "p-1", T0, T0 + 10),
    ]
    absorbed = [
        Membership("both", "p-2", T0 + 1),  # member of both: the earlier entry
        Membership("left-later", "p-2", T0 + 2, T0 + 20),  # both exited: the later exit
        Membership("i-left", "p-2", T0 + 3),  # a member of one is a member
        Membership("theirs", "p-2", T0 + 4, T0 + 6),
    ]
    assert merged_memberships("p-1", kept, absorbed) == [
        Membership("both", "p-1", T0 + 1),
        Membership("left-later", "p-1", T0, T0 + 50),
        Membership("i-left", "p-1", T0 + 3),
        Membership("theirs", "p-1", T0 + 4, T0 + 6),
    ]
    assert merged_memberships("p-1", kept, []) == []
