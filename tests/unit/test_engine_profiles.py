"""Profiles in the journey engine: the Profile records it consumes update their fragments in
its commit, and ``#{profile.…}`` reads the merged profile of the instance's person
(engine/profiles.py, engine/runtime.py)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from tests.contract.conftest import make_schema, message
from tests.unit.journey_engine import ORG, T0, Engine, make_engine
from wayfare.engine.ownership import Holding
from wayfare.engine.profiles import EngineProfiles
from wayfare.model.events import EventConfig
from wayfare.model.identities import Identity
from wayfare.model.matching import EventMatch
from wayfare.model.profile_fragments import Fragment
from wayfare.model.profile_merge import AttributeMerge, MergePolicy
from wayfare.model.resources import Dataset
from wayfare.model.runs import JourneyVersion, TestEntry
from wayfare.store.memory import MemoryStore
from wayfare.store.memory_journeys import MemoryJourneyStore
from wayfare.store.memory_profiles import MemoryProfileStore

PROFILE_SCHEMA = make_schema("customers", hex_id="1" * 32, xdm_class="Profile")
CRM = Dataset("crm", ORG, "crm", PROFILE_SCHEMA.schema_id, False, T0, profile=True)
PLAIN = Dataset("plain", ORG, "plain", PROFILE_SCHEMA.schema_id, False, T0)
ADA = Identity("Email", "ada@example.com")
TIERED = {
    "check": {
        "type": "condition",
        "branches": [{"label": "gold", "when": "#{profile.loyalty.tier} == 'gold'", "next": "vip"}],
        "otherwise": "regular",
    },
    "vip": {"type": "log", "message": "vip {{ #{profile.person.name} }}", "next": "done"},
    "regular": {"type": "log", "message": "regular", "next": "done"},
    "done": {"type": "end"},
}


class CountedProfiles(MemoryProfileStore):
    """The memory ProfileStore, counting the reads of fragments."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def profile_fragments(self, org_id: str, identities: Collection[Identity]) -> list[Fragment]:
        self.reads += 1
        return super().profile_fragments(org_id, identities)


class ProfileEngine:
    """An engine over memory stores with an org's Profile dataset and a ``signup`` event
    of the Email namespace; what its log activities said in ``said``."""

    def __init__(self) -> None:
        self.resources = resources = MemoryStore()
        resources.add_schema(PROFILE_SCHEMA, None)
        resources.add_dataset(CRM)
        resources.add_dataset(PLAIN)
        resources.add_event(
            EventConfig(ORG, "signup", "s", "Email", "system", "identityMap.Email[0].id", ())
        )
        self.profiles = CountedProfiles()
        self.store = MemoryJourneyStore(resources, profiles=self.profiles)
        profiles = EngineProfiles(resources, self.store.profiles, self.store.identities)
        self.engine: Engine = make_engine(
            self.store, identity_graph=self.store.identities, profiles=profiles
        )
        self.said: list[str] = []
        self.engine.runtime.on_log = lambda journey, node, text: self.said.append(text)

    def record(
        self, identity_map: dict[str, Any], attributes: dict[str, Any], dataset: str = "crm"
    ) -> None:
        """A Profile record, read by the engine's next cycle."""
        self.engine.sent += 1
        entity = {"identityMap": identity_map, **attributes}
        self.engine.log.append(
            message(
                f"x{self.engine.sent}",
                dataset_id=dataset,
                received_ms=T0 + self.engine.sent,
                body={"header": {}, "body": {"xdmEntity": entity}},
            )
        )

    def signup(self, identity_map: dict[str, Any], identity: str) -> None:
        """A ``signup`` event of ``identity``, read by the engine's next cycle."""
        self.engine.sent += 1
        self.engine.log.append(
            message(
                f"x{self.engine.sent}",
                dataset_id="events",
                received_ms=T0 + self.engine.sent,
                body={"body": {"xdmEntity": {"identityMap": identity_map}}},
                matches=[EventMatch("signup", identity)],
            )
        )


def test_profile_records_update_their_normalised_identity_s_fragment_in_the_commit() -> None:
    p = ProfileEngine()
    p.record(
        {"Email": [{"id": " Ada@Example.COM", "primary": True}]}, {"loyalty": {"tier": "gold"}}
    )
    p.record({"Email": [{"id": "ada@example.com"}]}, {"person": {"name": "x"}}, dataset="plain")
    assert p.store.profiles.profile_fragments(ORG, [ADA]) == []
    p.engine.cycle()
    fragments = p.store.profiles.profile_fragments(ORG, [ADA])
    assert [(f.dataset_id, f.attributes()) for f in fragments] == [
        ("crm", {"loyalty": {"tier": "gold"}})
    ]


@pytest.mark.parametrize("cycles", ["a cycle each", "one cycle"])
def test_a_condition_sees_an_attribute_sent_with_the_ecid_once_email_and_ecid_meet(
    cycles: str,
) -> None:
    p = ProfileEngine()
    p.engine.publish("tiers", TIERED)
    each = cycles == "a cycle each"
    p.record({"ECID": [{"id": "e1"}]}, {"loyalty": {"tier": "gold"}})
    if each:
        p.engine.cycle()
    p.record({"Email": [{"id": "Ada@example.com"}]}, {"person": {"name": "Ada"}})
    if each:
        p.engine.cycle()
    both = {"ECID": [{"id": "e1"}], "Email": [{"id": "ada@example.com"}]}
    p.signup(both, "ada@example.com")
    p.engine.cycle()
    assert p.said == ["vip Ada"]


def test_a_person_s_email_alone_reads_only_what_its_own_identities_hold() -> None:
    p = ProfileEngine()
    p.engine.publish("tiers", TIERED)
    p.record({"ECID": [{"id": "e1"}]}, {"loyalty": {"tier": "gold"}})
    p.signup({"Email": [{"id": "ada@example.com"}]}, "ada@example.com")
    p.engine.cycle()
    assert p.said == ["regular"]  # the ECID is another person's, so far


def test_the_org_s_merge_policy_decides_between_datasets() -> None:
    p = ProfileEngine()
    p.engine.publish("tiers", TIERED)
    p.resources.add_dataset(
        Dataset("web", ORG, "web", PROFILE_SCHEMA.schema_id, False, T0, profile=True)
    )
    p.record({"Email": [{"id": "ada@example.com"}]}, {"loyalty": {"tier": "gold"}})
    p.record({"Email": [{"id": "ada@example.com"}]}, {"loyalty": {"tier": "bronze"}}, "web")
    p.store.profiles.set_merge_policy(ORG, MergePolicy(AttributeMerge.DATASET_PRECEDENCE, ("crm",)))
    p.signup({"Email": [{"id": "ada@example.com"}]}, "ada@example.com")
    p.engine.cycle()
    assert [said.split()[0] for said in p.said] == ["vip"]  # crm first, though web's is newer


def test_an_entry_identity_no_person_holds_is_discarded_with_its_cause() -> None:
    p = ProfileEngine()
    p.engine.publish("tiers", TIERED)
    p.engine.publish("plain", {"hello": {"type": "log", "message": "hi", "next": "done"},
                               "done": {"type": "end"}})  # fmt: skip
    p.signup({"ECID": [{"id": "e9"}]}, "nobody@example.com")  # its Email was never sent
    p.engine.cycle()
    assert p.engine.report("tiers") == (0, {"no person for the identity": 1})
    assert p.engine.report("plain") == (1, {})  # reads no profile: enters as before
    assert p.said == ["hi"]


PROMOTE = {
    "promote": {
        "type": "updateProfile",
        "set": {"loyalty.tier": "'gold'", "loyalty.since": "@event{signup.joined}"},
        "remove": ["person.name"],
        "next": "check",
    },
    **TIERED,
}
DEMOTE = {
    "demote": {"type": "updateProfile", "remove": ["loyalty.tier"], "next": "check"},
    **TIERED,
}


def test_an_update_profile_activity_is_read_by_a_later_condition_and_committed() -> None:
    p = ProfileEngine()
    p.engine.publish("promote", PROMOTE)
    p.record({"Email": [{"id": "ada@example.com"}]}, {"person": {"name": "Ada", "city": "Paris"}})
    p.engine.cycle()
    p.signup({"Email": [{"id": "Ada@example.com"}]}, "ada@example.com")
    p.engine.cycle()
    # gold at once; the name stays: a removal removes what journeys set, not crm's
    assert p.said == ["vip Ada"]
    stored = {f.dataset_id: f.attributes() for f in p.store.profiles.profile_fragments(ORG, [ADA])}
    assert stored == {
        "crm": {"person": {"name": "Ada", "city": "Paris"}},
        # the event has no `joined`: null sets nothing
        "journeyProfileUpdates": {"loyalty": {"tier": "gold"}},
    }
    steps = p.store.list_steps(ORG, "promote", 10)
    (promoted,) = [s for s in steps if s.node == "promote"]
    assert promoted.status == "ended" and promoted.detail == "set nothing for loyalty.since (null)"
    # later, another journey removes the tier, and its condition reads it gone
    p.engine.publish("demote", DEMOTE)
    p.engine.clock.advance(1)
    p.signup({"Email": [{"id": "ada@example.com"}]}, "ada@example.com")
    p.engine.cycle()
    assert p.said == ["vip Ada", "regular"]
    assert p.store.profiles.profile_fragments(ORG, [ADA])[1].attributes() == {}


def test_an_email_is_personalised_from_the_profile() -> None:
    p = ProfileEngine()
    name = "{{ #{profile.person.name} }}"
    p.engine.publish(
        "welcome",
        {
            "mail": {
                "type": "email",
                "to": "{{ @event{signup.identityMap.Email[0].id} }}",
                "subject": f"Welcome, {name}",
                "text": f"Dear {name}, you are {{{{ #{{profile.loyalty.tier}} }}}}.",
                "next": "done",
            },
            "done": {"type": "end"},
        },
    )
    p.record({"ECID": [{"id": "e1"}]}, {"loyalty": {"tier": "gold"}})
    p.record({"Email": [{"id": "ada@example.com"}]}, {"person": {"name": "Ada"}})
    p.signup({"Email": [{"id": "ada@example.com"}], "ECID": [{"id": "e1"}]}, "ada@example.com")
    p.engine.cycle()
    (mail,) = p.store.pending_outbox([0], 0, 10)
    assert mail.request["subject"] == "Welcome, Ada"
    assert mail.request["text"] == "Dear Ada, you are gold."


def test_links_of_the_same_cycle_chain_into_one_person() -> None:
    p = ProfileEngine()
    p.engine.publish("tiers", TIERED)
    p.record({"ECID": [{"id": "e1"}]}, {"loyalty": {"tier": "gold"}})
    p.signup({"ECID": [{"id": "e1"}], "Phone": [{"id": "+33 6 12 34 56 78"}]}, "someone@else")
    p.signup({"Phone": [{"id": "+33612345678"}], "Email": [{"id": "ada@example.com"}]}, ADA.id)
    p.engine.cycle()
    assert p.said == ["vip "]  # Ada reaches e1's tier through the Phone; she has no name
    assert p.engine.report("tiers") == (1, {"no person for the identity": 1})  # someone@else


def test_the_profile_is_read_once_a_step_and_only_by_journeys_that_use_it() -> None:
    p = ProfileEngine()
    p.engine.publish("plain", {"hello": {"type": "log", "message": "hi", "next": "done"},
                               "done": {"type": "end"}})  # fmt: skip
    p.signup({"Email": [{"id": "ada@example.com"}]}, "ada@example.com")
    p.engine.cycle()
    assert (p.said, p.profiles.reads) == (["hi"], 0)
    pause = {"type": "wait", "duration": 60, "next": "check"}
    p.engine.publish("later", {"pause": pause, **TIERED})
    p.signup({"Email": [{"id": "bob@example.com"}]}, "bob@example.com")
    p.engine.cycle()
    assert p.profiles.reads == 1  # the entry's step: into the wait
    p.engine.clock.advance(60_000)
    p.engine.runtime.cycle([], Holding(frozenset({0})))  # the timer's partition, held
    assert (p.said[-1], p.profiles.reads) == ("regular", 2)  # the wait's end: one more


def test_the_persons_of_a_cycle_s_entries_are_read_in_one_read_of_the_graph() -> None:
    """Whose identity each entering message names (for re-entrance across a person's
    identities): one read of the graph for the cycle's entries, not one each."""
    p = ProfileEngine()
    graph = p.store.identities
    reads = {"person_of": 0, "persons_of": 0}

    def counted(name: str) -> Any:
        method = getattr(graph, name)

        def call(*args: Any) -> Any:
            reads[name] += 1
            return method(*args)

        return call

    for name in reads:
        setattr(graph, name, counted(name))
    p.engine.publish("plain", {"hello": {"type": "log", "message": "hi", "next": "done"},
                               "done": {"type": "end"}})  # fmt: skip
    for n in range(20):
        p.signup({"Email": [{"id": f"p{n}@example.com"}]}, f"p{n}@example.com")
    p.engine.cycle()
    assert p.said == ["hi"] * 20
    assert reads == {"person_of": 0, "persons_of": 1}


def test_a_test_profile_enters_a_draft_reading_profiles_though_no_message_linked_it() -> None:
    p = ProfileEngine()
    definition = {"name": "tiers", "entry": {"event": "signup", "next": "check"},
                  "activities": TIERED}  # fmt: skip
    p.store.add_journey_version(
        JourneyVersion(ORG, "tiers", 1, "draft", "signup", definition, True, T0, T0)
    )
    p.store.add_test_profile(ORG, "tester@example.com")
    p.store.add_test_entry(TestEntry(ORG, "tiers", 1, "tester@example.com", 0, {}))
    p.engine.runtime.cycle([], Holding(frozenset({0})))
    assert p.said == ["regular"]
    assert p.engine.report("tiers") == (1, {})
