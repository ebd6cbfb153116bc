"""Where people are inside a journey, as the console's canvas shows it: how many wait at each
activity, and one person's steps with the activity they are at now. The engine's cycles run
on the memory store, time from a fake clock."""

from __future__ import annotations

from tests.unit.journey_engine import ADA, ORG, T0, Engine, make_engine
from wayfare.ingest.catalog import Catalog
from wayfare.model.destinations import DestinationPolicy
from wayfare.registry.events import EventRegistry
from wayfare.registry.journeys import JourneyRegistry
from wayfare.registry.schemas import SchemaRegistry

HOLD = {
    "hello": {"type": "log", "message": "hello", "next": "hold"},
    "hold": {"type": "wait", "duration": "1d", "next": "done"},
    "done": {"type": "end"},
}
THROUGH = {"hello": {"type": "log", "message": "hello", "next": "done"}, "done": {"type": "end"}}


def registry(engine: Engine) -> JourneyRegistry:
    assert engine.resources is not None
    catalog = Catalog(engine.resources, engine.clock)
    schemas = SchemaRegistry(engine.resources, catalog, engine.clock)
    events = EventRegistry(engine.resources, catalog, engine.clock, schemas)
    return JourneyRegistry(engine.store, engine.clock, events, schemas, DestinationPolicy())


def two_signed_up() -> JourneyRegistry:
    """Ada and Bob signed up, with "welcome" holding them and "quick" letting them through."""
    engine = make_engine()
    engine.publish("welcome", HOLD)
    engine.publish("quick", THROUGH)
    journeys = registry(engine)
    engine.signup(ADA)
    engine.signup("bob@example.com")
    return journeys


def test_people_inside_are_counted_at_the_activity_they_wait_at() -> None:
    engine = make_engine()
    engine.publish("welcome", HOLD)
    engine.publish("quick", THROUGH, org=ORG)
    journeys = registry(engine)
    assert journeys.waiting(ORG, "welcome") == {}
    engine.signup(ADA)
    engine.signup("bob@example.com")
    assert journeys.waiting(ORG, "welcome") == {"hold": 2}
    assert journeys.waiting(ORG, "quick") == {}  # went straight through: nobody inside


def test_a_followed_person_has_their_steps_and_the_activity_they_are_at() -> None:
    journeys = two_signed_up()
    ada = journeys.follow(ORG, "welcome", ADA, 10)
    assert ada["at"] == "hold"
    assert [(s["node"], s["status"]) for s in ada["steps"]] == [
        ("hello", "ended"),
        ("entry", "ended"),
    ]
    assert {s["identity"] for s in ada["steps"]} == {ADA}
    through = journeys.follow(ORG, "quick", ADA, 10)
    assert through["at"] is None  # at the end: no longer inside
    assert [s["node"] for s in through["steps"]] == ["done", "hello", "entry"]
    nobody = journeys.follow(ORG, "welcome", "zed@example.com", 10)
    assert nobody == {"identity": "zed@example.com", "steps": [], "at": None}


def test_live_journeys_have_their_people_as_their_reports_count_them() -> None:
    journeys = two_signed_up()
    live = journeys.live_people(ORG, since_ms=0)
    people = {"version": 1, "entered": 2, "today": 2, "inError": 0}
    assert live == [
        {"journey": "quick", **people, "inJourney": 0, "exited": 2},
        {"journey": "welcome", **people, "inJourney": 2, "exited": 0},
    ]
    for shown in live:
        report = journeys.report(ORG, shown["journey"])
        assert {k: report[k] for k in shown if k != "today"} == {
            k: v for k, v in shown.items() if k != "today"
        }
    later = journeys.live_people(ORG, since_ms=T0 + 86_400_000)
    assert [(j["journey"], j["entered"], j["today"]) for j in later] == [
        ("quick", 2, 0),
        ("welcome", 2, 0),
    ]
    assert journeys.live_people("NOBODY@AdobeOrg", since_ms=0) == []


def test_an_event_is_used_by_the_live_journeys_it_starts_or_that_wait_for_it() -> None:
    engine = make_engine()
    awaiting = {
        "hold": {
            "type": "waitForEvent",
            "events": [{"event": "purchase", "label": "bought", "next": "done"}],
            "timeout": {"after": "1d", "next": "done"},
        },
        "done": {"type": "end"},
    }
    engine.publish("welcome", HOLD)
    engine.publish("after_signup", awaiting)
    engine.publish("on_purchase", THROUGH, entry="purchase")
    engine.publish(
        "mentions_purchase", {**THROUGH, "hello": {**THROUGH["hello"], "message": "purchase"}}
    )
    journeys = registry(engine)
    assert journeys.journeys_using(ORG, "signup") == [
        "after_signup",
        "mentions_purchase",
        "welcome",
    ]
    assert journeys.journeys_using(ORG, "purchase") == ["after_signup", "on_purchase"]
    assert journeys.journeys_using(ORG, "refund") == []
