"""Journeys starting on audience qualification in the journey engine: a membership change
is queued in the commit that decides it and taken by the next cycle, which enters the
person once, by the journey's re-entrance rules, reading their profile; an updateProfile
activity's change is evaluated in its own commit (engine/runtime.py, engine/audiences.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.people import email
from tests.unit.journey_engine import ORG, make_engine
from tests.unit.test_engine_profiles import ProfileEngine
from wayfare.engine.ownership import Holding
from wayfare.engine.profiles import EngineProfiles
from wayfare.model.admission import CHAIN_PAUSE_MS, MAX_CHAIN, TOO_MANY_CHANGES
from wayfare.model.audiences import AudienceEntry, parse_audience
from wayfare.model.identities import Identity
from wayfare.model.journey import parse_journey
from wayfare.model.runs import JourneyVersion, TestEntry

ADA_MAP = {"Email": [{"id": "ada@example.com"}]}
GOLD = {"name": "gold", "condition": "#{profile.loyalty.tier} == 'gold'"}


class AudienceEngine(ProfileEngine):
    """ProfileEngine with the ``gold`` audience evaluated in its commits."""

    def __init__(self) -> None:
        super().__init__()
        self.store.audiences.add_audience(parse_audience(ORG, GOLD))
        profiles = EngineProfiles(self.resources, self.store.profiles, self.store.identities)
        self.engine = make_engine(
            self.store,
            identity_graph=self.store.identities,
            profiles=profiles,
            audiences=self.store.audiences,
        )
        self.engine.runtime.on_log = lambda journey, node, text: self.said.append(text)

    def publish(
        self, name: str, entry: dict[str, Any], activities: dict[str, Any], **more: Any
    ) -> None:
        definition = {
            "name": name,
            "entry": {**entry, "next": next(iter(activities))},
            "activities": activities,
            **more,
        }
        entry_key = parse_journey(definition).entry_event
        now = self.engine.clock.now_ms()
        self.store.add_journey_version(
            JourneyVersion(ORG, name, 1, "live", entry_key, definition, False, now, now)
        )

    def tier(self, value: str) -> None:
        """A Profile record setting Ada's tier, then the engine's cycles until it idles."""
        self.record(ADA_MAP, {"loyalty": {"tier": value}, "person": {"name": "Ada"}})
        self.settle()

    def cycle(self) -> None:
        """One cycle of the engine, holding the log's one partition (as a running engine
        does: queued entries are taken for the partitions held)."""
        position = self.store.log_positions([0]).get(0, 0)
        read = asyncio.run(self.engine.log.read(0, position, 500))
        self.engine.runtime.cycle([read] if not read.empty else [], Holding(frozenset({0})))

    def settle(self) -> None:
        for _ in range(3):
            self.engine.clock.advance(1)
            self.cycle()

    def entered(self, journey: str) -> list[str]:
        return [i.identity for i in self.store.journey_instances(ORG, journey, live_only=False)]


def log(text: str) -> dict[str, Any]:
    return {"say": {"type": "log", "message": text, "next": "done"}, "done": {"type": "end"}}


def test_a_person_enters_a_journey_once_when_they_enter_the_audience_and_another_on_exit() -> None:
    a = AudienceEngine()
    a.publish("welcome", {"audience": "gold"}, log("welcome {{ #{profile.person.name} }}"))
    a.publish("farewell", {"audience": "gold", "on": "exited"}, log("farewell"))
    a.record(ADA_MAP, {"loyalty": {"tier": "gold"}, "person": {"name": "Ada"}})
    a.cycle()  # the commit decides the membership and queues the change
    assert a.entered("welcome") == []
    a.cycle()  # the next cycle takes it
    assert a.entered("welcome") == ["ada@example.com"]
    assert a.said == ["welcome Ada"]
    a.tier("gold")  # still a member: nobody enters again, nothing is discarded
    assert a.entered("welcome") == ["ada@example.com"]
    assert a.engine.report("welcome") == (1, {})
    a.tier("silver")
    assert a.entered("farewell") == ["ada@example.com"]
    assert a.said == ["welcome Ada", "farewell"]
    assert a.store.audience_entries(range(1), 10) == []  # each taken once
    a.tier("gold")  # enters the audience again: re-entrance is not allowed
    assert a.entered("welcome") == ["ada@example.com"]
    assert a.engine.report("welcome") == (1, {"re-entry not allowed": 1})


def test_an_instance_carries_the_identity_in_the_namespace_its_journey_names() -> None:
    a = AudienceEngine()
    a.publish("by-ecid", {"audience": "gold", "namespace": "ECID"}, log("ecid"))
    a.publish("by-phone", {"audience": "gold", "namespace": "Phone"}, log("phone"))
    a.record({"ECID": [{"id": "e-1"}], "Email": [{"id": "ada@example.com"}]}, {})
    a.settle()
    a.tier("gold")  # the record's identity is the Email
    assert a.entered("by-ecid") == ["e-1"]
    assert a.engine.report("by-phone") == (0, {"no Phone identity for the person": 1})


def test_an_update_profile_activity_moves_the_person_into_the_audience_in_its_commit() -> None:
    a = AudienceEngine()
    a.publish(
        "promote",
        {"event": "signup"},
        {"up": {"type": "updateProfile", "set": {"loyalty.tier": "'gold'"}, "next": "done"},
         "done": {"type": "end"}},
    )  # fmt: skip
    a.publish("welcome", {"audience": "gold"}, log("welcome"))
    a.signup(ADA_MAP, "ada@example.com")
    a.cycle()
    [member] = a.store.audiences.members(ORG, "gold")
    a.cycle()
    assert a.entered("welcome") == ["ada@example.com"] and a.said == ["welcome"]
    person = a.store.identities.person_of(ORG, email("ada@example.com"))
    assert person is not None and member.person_id == person.person_id


def test_a_test_profile_enters_a_draft_starting_on_an_audience_in_test_mode() -> None:
    a = AudienceEngine()
    definition = {"name": "trial", "entry": {"audience": "gold", "next": "say"},
                  **{"activities": log("hi {{ #{profile.person.name} }}")}}  # fmt: skip
    now = a.engine.clock.now_ms()
    key = parse_journey(definition).entry_event
    a.store.add_journey_version(JourneyVersion(ORG, "trial", 1, "draft", key, definition, True,
                                               now, now))  # fmt: skip
    a.store.add_test_profile(ORG, "tess@example.com")
    entity = AudienceEntry(
        ORG, "gold", "entered", "", None, Identity("", "tess@example.com"), 0, now
    ).entity()  # fmt: skip  (what wayfare journeys test-event sends)
    a.store.add_test_entry(TestEntry(ORG, "trial", 1, "tess@example.com", 0, entity))
    a.cycle()
    assert a.entered("trial") == ["tess@example.com"] and a.said == ["hi "]


def test_time_passing_moves_a_member_out_once_their_counted_events_leave_the_window() -> None:
    a = AudienceEngine()
    carts = {"name": "carts", "condition": "count(signup in last 1 hour) >= 1"}
    a.store.audiences.add_audience(parse_audience(ORG, carts))
    a.publish("come-back", {"audience": "carts", "on": "exited"}, log("come back"))
    a.signup({"ECID": [{"id": "e-1"}], "Email": [{"id": "ada@example.com"}]}, "ada@example.com")
    a.settle()
    [member] = a.store.audiences.members(ORG, "carts")
    a.engine.clock.advance(30 * 60_000)
    a.settle()  # reviewed, still within the hour
    assert a.store.audiences.members(ORG, "carts") == [member] and a.said == []
    a.engine.clock.advance(31 * 60_000)
    a.settle()  # reviewed: the signup has left the window
    assert a.store.audiences.members(ORG, "carts") == []
    [left] = a.store.audiences.memberships_of(ORG, member.person_id)
    assert left.exited_ms is not None and left.exited_ms > member.entered_ms
    assert a.entered("come-back") == ["e-1"]  # the person's identity linked first
    assert a.said == ["come back"]
    a.engine.clock.advance(3_600_000)
    a.settle()  # no longer a member: nobody is reviewed again
    assert a.entered("come-back") == ["e-1"]


def moving(tier: str, wait: str | None = None) -> dict[str, Any]:
    """Sets the person's tier (after ``wait``, if given)."""
    up = {"type": "updateProfile", "set": {"loyalty.tier": f"'{tier}'"}, "next": "done"}
    if wait is None:
        return {"move": up, "done": {"type": "end"}}
    return {"pause": {"type": "wait", "duration": wait, "next": "move"}, "move": up,
            "done": {"type": "end"}}  # fmt: skip


def ping_pong(wait: str | None) -> AudienceEngine:
    """Journeys moving Ada from gold to silver and back, re-entrance allowed; Ada turns gold."""
    a = AudienceEngine()
    a.store.audiences.add_audience(
        parse_audience(ORG, {"name": "silver", "condition": "#{profile.loyalty.tier} == 'silver'"})
    )
    again = {"reentrance": {"allowed": True, "waitSeconds": 0}}
    a.publish("demote", {"audience": "gold"}, moving("silver", wait), **again)
    a.publish("promote", {"audience": "silver"}, moving("gold", wait), **again)
    a.tier("gold")
    return a


def test_journeys_moving_a_person_between_audiences_at_once_stop_after_max_chain() -> None:
    a = ping_pong(None)
    for _ in range(3 * MAX_CHAIN):
        a.settle()
    # the record's change (chain 0) and MAX_CHAIN changes of journeys enter; the next none
    assert a.engine.report("demote") == (MAX_CHAIN // 2 + 1, {})
    assert a.engine.report("promote") == (MAX_CHAIN // 2, {TOO_MANY_CHANGES: 1})


def test_journeys_that_wait_before_moving_a_person_on_are_not_stopped() -> None:
    """Paced by their waits, they move the person on once a wait, for as long as they run."""
    a = ping_pong("2m")
    for _ in range(2 * MAX_CHAIN + 4):
        a.engine.clock.advance(CHAIN_PAUSE_MS * 2)
        a.settle()
    demoted, promoted = a.engine.report("demote"), a.engine.report("promote")
    assert demoted[0] + promoted[0] > MAX_CHAIN + 2
    assert demoted[1] == promoted[1] == {}


def test_a_jump_carries_the_chain_to_the_journey_it_enters() -> None:
    """gold → a jump to a journey that sets silver → one setting gold → …: stopped too."""
    a = AudienceEngine()
    a.store.audiences.add_audience(
        parse_audience(ORG, {"name": "silver", "condition": "#{profile.loyalty.tier} == 'silver'"})
    )
    again = {"reentrance": {"allowed": True, "waitSeconds": 0}}
    a.publish("relay", {"event": "signup"}, moving("silver"), **again)
    a.publish("demote", {"audience": "gold"},
              {"go": {"type": "jump", "journey": "relay"}}, **again)  # fmt: skip
    a.publish("promote", {"audience": "silver"}, moving("gold"), **again)
    a.tier("gold")
    for _ in range(3 * MAX_CHAIN):
        a.settle()
    assert a.engine.report("promote") == (MAX_CHAIN // 2, {TOO_MANY_CHANGES: 1})
    assert a.engine.report("relay")[0] == MAX_CHAIN // 2 + 1
