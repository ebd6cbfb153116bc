"""Audiences as the model holds them: a condition on profile attributes and recent events,
read from JSON with what it may not read refused, and the membership it decides."""

from __future__ import annotations

from typing import Any

import pytest

from wayfare.errors import InvalidRequestError
from wayfare.model.audiences import Membership, next_membership, parse_audience

ORG = "ACME@AdobeOrg"
DAY = 86_400_000
T0 = 1_790_000_000_000
FRENCH_BUYERS = {
    "name": "french-buyers",
    "condition": "#{profile.person.country} == 'FR' and count(purchase in last 7 days) >= 2",
    "description": "bought twice this week, in France",
}
ADA_FR: dict[str, Any] = {"person": {"country": "FR"}}


def test_an_audience_reads_its_name_condition_and_description() -> None:
    audience = parse_audience(ORG, FRENCH_BUYERS, created_ms=T0)
    assert (audience.org_id, audience.name, audience.created_ms) == (ORG, "french-buyers", T0)
    assert audience.description == "bought twice this week, in France"
    assert audience.condition.source == FRENCH_BUYERS["condition"]
    assert audience.event_windows() == {("purchase", 7 * DAY)}
    assert audience.event_names() == {"purchase"}
    assert audience.reads_profile()


def test_what_can_change_an_audience_is_what_its_condition_reads() -> None:
    events_only = parse_audience(ORG, {"name": "a", "condition": "count(x in last 1 day) > 0"})
    assert not events_only.reads_profile()
    profile_only = parse_audience(ORG, {"name": "b", "condition": "#{profile.tier} == 'gold'"})
    assert profile_only.event_names() == frozenset()


def test_a_person_qualifies_by_their_attributes_and_counts() -> None:
    audience = parse_audience(ORG, FRENCH_BUYERS)
    twice = {("purchase", 7 * DAY): 2}
    assert audience.qualifies(ADA_FR, twice, T0) is True
    assert audience.qualifies(ADA_FR, {("purchase", 7 * DAY): 1}, T0) is False
    assert audience.qualifies({"person": {"country": "DE"}}, twice, T0) is False
    assert audience.qualifies({}, twice, T0) is False  # a missing attribute reads null


def test_values_a_condition_cannot_take_do_not_qualify() -> None:
    audience = parse_audience(ORG, {"name": "a", "condition": "#{profile.age} > 30"})
    assert audience.qualifies({"age": "old"}, {}, T0) is False


def test_a_condition_over_its_budget_decides_nothing() -> None:
    audience = parse_audience(ORG, {"name": "a", "condition": "#{profile.tags} == []"})
    assert audience.qualifies({"tags": list(range(20_000))}, {}, T0) is None


@pytest.mark.parametrize(
    ("data", "pointer", "reason"),
    [
        ([], "", "an object"),
        ({"name": "1st", "condition": "true"}, "/name", "starts with a letter"),
        ({"name": "a" * 65, "condition": "true"}, "/name", "at most 64"),
        ({"name": "a"}, "/condition", "an expression string"),
        ({"name": "a", "condition": "count(x in last 7 days) >="}, "/condition", "column 27"),
        ({"name": "a", "condition": "order.total > 1"}, "/condition", "reads no profile"),
        ({"name": "a", "condition": "@event{buy.total} > 1"}, "/condition", "no value in an"),
        ({"name": "a", "condition": "@action{x.ok}"}, "/condition", "no value in an"),
        ({"name": "a", "condition": "true", "description": 3}, "/description", "at most"),
    ],
)
def test_what_an_audience_may_not_be(data: object, pointer: str, reason: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_audience(ORG, data)
    assert [v.pointer for v in caught.value.violations] == [pointer]
    assert reason in str(caught.value)


def test_a_person_who_qualifies_enters_and_stays_a_member() -> None:
    change = next_membership("fr", "p1", None, True, T0)
    assert change is not None and change.kind == "entered" and change.at_ms == T0
    assert change.membership == Membership("fr", "p1", T0) and change.membership.member
    assert next_membership("fr", "p1", change.membership, True, T0 + 1) is None


def test_a_member_who_no_longer_qualifies_exits_with_the_time() -> None:
    member = Membership("fr", "p1", T0)
    change = next_membership("fr", "p1", member, False, T0 + DAY)
    assert change is not None and change.kind == "exited" and change.at_ms == T0 + DAY
    assert change.membership == Membership("fr", "p1", T0, T0 + DAY)
    assert not change.membership.member
    assert next_membership("fr", "p1", change.membership, False, T0 + 2 * DAY) is None


def test_a_person_who_exited_enters_again_with_a_new_time() -> None:
    exited = Membership("fr", "p1", T0, T0 + DAY)
    change = next_membership("fr", "p1", exited, True, T0 + 2 * DAY)
    assert change is not None and change.kind == "entered"
    assert change.membership == Membership("fr", "p1", T0 + 2 * DAY)


def test_no_one_enters_or_exits_when_nothing_is_decided() -> None:
    assert next_membership("fr", "p1", None, False, T0) is None
    assert next_membership("fr", "p1", None, None, T0) is None
    assert next_membership("fr", "p1", Membership("fr", "p1", T0), None, T0 + 1) is None
