"""Experience events kept for people: which identity one is kept under, its time, what is
young enough to keep (model/person_events.py), and the journey engine keeping those of
profile-enabled ExperienceEvent datasets in its commit (engine/profiles.py, runtime.py)."""

from __future__ import annotations

from typing import Any

from tests.contract.conftest import make_schema, message
from tests.unit.journey_engine import ORG, T0, Engine, make_engine
from wayfare.engine.profiles import EngineProfiles
from wayfare.model.identities import Identity
from wayfare.model.matching import EventMatch
from wayfare.model.person_events import (
    DAY_MS,
    PersonEventLimits,
    attached_identity,
    kept_events,
    person_event_of,
)
from wayfare.model.resources import Dataset
from wayfare.store.memory import MemoryStore
from wayfare.store.memory_journeys import MemoryJourneyStore

ADA = Identity("Email", "ada@example.com")
ECID = Identity("ECID", "e-1")
EVENT_SCHEMA = make_schema("web", hex_id="2" * 32, xdm_class="ExperienceEvent")
PROFILE_SCHEMA = make_schema("customers", hex_id="1" * 32, xdm_class="Profile")
WEB = Dataset("web", ORG, "web", EVENT_SCHEMA.schema_id, False, T0, profile=True)
PLAIN = Dataset("plain", ORG, "plain", EVENT_SCHEMA.schema_id, False, T0)
CRM = Dataset("crm", ORG, "crm", PROFILE_SCHEMA.schema_id, False, T0, profile=True)


def test_an_event_is_kept_under_its_primary_identity_else_its_first() -> None:
    marked = {
        "identityMap": {"ECID": [{"id": "e-1"}], "Email": [{"id": "Ada@x.org", "primary": True}]}
    }
    both = [ECID, Identity("Email", "ada@x.org")]
    assert attached_identity(marked, both) == Identity("Email", "ada@x.org")
    unmarked = {"identityMap": {"ECID": [{"id": "e-1"}], "Email": [{"id": "ada@x.org"}]}}
    assert attached_identity(unmarked, both) == Identity("ECID", "e-1")
    # a primary identity of a namespace the org does not know is not one of its identities
    unknown = {"identityMap": {"Loyalty": [{"id": "L1", "primary": True}], "ECID": [{"id": "e-1"}]}}
    assert attached_identity(unknown, [ECID]) == Identity("ECID", "e-1")
    assert attached_identity(unknown, []) is None


def test_an_event_s_time_is_its_timestamp_else_when_it_was_received() -> None:
    entity = {"timestamp": "2026-01-01T00:00:00Z", "eventType": "commerce.purchases"}
    kept = person_event_of(ORG, "web", "x1", entity, [ADA], T0, ["purchase", "purchase"])
    assert kept is not None
    assert (kept.at_ms, kept.received_ms) == (1_767_225_600_000, T0)
    assert (kept.event_type, kept.events) == ("commerce.purchases", ("purchase",))
    undated = person_event_of(ORG, "web", "x2", {"timestamp": "yesterday"}, [ADA], T0)
    assert undated is not None
    assert (undated.at_ms, undated.event_type, undated.events) == (T0, None, ())
    assert person_event_of(ORG, "web", "x3", entity, [], T0) is None


def test_events_past_their_retention_are_not_kept_and_none_when_the_limits_keep_none() -> None:
    old = person_event_of(ORG, "web", "old", {}, [ADA], T0 - 30 * DAY_MS - 1)
    young = person_event_of(ORG, "web", "young", {}, [ADA], T0 - 30 * DAY_MS)
    assert old is not None and young is not None
    assert kept_events([old, young], PersonEventLimits(days=30), T0) == [young]
    assert kept_events([young], PersonEventLimits(days=0), T0) == []
    assert kept_events([young], PersonEventLimits(per_identity=0), T0) == []


class EventEngine:
    """An engine over memory stores, with an ExperienceEvent dataset enabled for Profile
    (``web``), one that is not (``plain``), and a Profile dataset (``crm``)."""

    def __init__(self, limits: PersonEventLimits | None = None) -> None:
        resources = MemoryStore()
        resources.add_schema(EVENT_SCHEMA, None)
        resources.add_schema(PROFILE_SCHEMA, None)
        for dataset in (WEB, PLAIN, CRM):
            resources.add_dataset(dataset)
        self.store = MemoryJourneyStore(resources)
        profiles = EngineProfiles(resources, self.store.profiles, self.store.identities, limits)
        self.engine: Engine = make_engine(
            self.store, identity_graph=self.store.identities, profiles=profiles
        )

    def send(
        self,
        entity: dict[str, Any],
        dataset: str = "web",
        matches: list[EventMatch] | None = None,
        msg_id: str | None = None,
    ) -> str:
        self.engine.sent += 1
        xaction = f"x{self.engine.sent}"
        self.engine.log.append(
            message(
                xaction,
                dataset_id=dataset,
                received_ms=T0 + self.engine.sent,
                body={"header": {}, "body": {"xdmEntity": entity}},
                matches=matches,
                msg_id=msg_id,
            )
        )
        return xaction

    def kept(self) -> list[tuple[str, str, tuple[str, ...]]]:
        keys = [Identity("Email", "ada@example.com"), Identity("ECID", "e-1")]
        found = self.store.profiles.person_events(ORG, keys, 100)
        return [(e.xaction_id, str(e.identity), e.events) for e in found]


ADA_MAP = {"identityMap": {"Email": [{"id": "Ada@Example.com"}]}}


def test_the_engine_keeps_experience_events_of_profile_enabled_datasets_in_its_commit() -> None:
    e = EventEngine()
    bought = e.send(ADA_MAP, matches=[EventMatch("purchase", "ada@example.com")])
    e.send(ADA_MAP, dataset="plain")  # not enabled for Profile
    e.send({**ADA_MAP, "loyalty": "gold"}, dataset="crm")  # a Profile record: a fragment
    e.send({"eventType": "web.webpagedetails.pageViews"})  # no identity to keep it under
    assert e.kept() == []
    e.engine.cycle()
    assert e.kept() == [(bought, "Email:ada@example.com", ("purchase",))]
    ecid = e.send({"identityMap": {"ECID": [{"id": "e-1"}]}})
    e.engine.cycle()
    assert [x for x, _, _ in e.kept()] == [ecid, bought]


def test_the_engine_keeps_no_event_past_its_retention_and_each_identity_s_newest() -> None:
    e = EventEngine(PersonEventLimits(days=1, per_identity=2))
    e.send({**ADA_MAP, "timestamp": "2020-01-01T00:00:00Z"})  # years before the engine's now
    newer = [e.send(ADA_MAP) for _ in range(3)]
    e.engine.cycle()
    assert [x for x, _, _ in e.kept()] == [newer[2], newer[1]]


def test_a_retried_message_is_kept_once() -> None:
    e = EventEngine()
    first = e.send(ADA_MAP, msg_id="m1")
    e.send(ADA_MAP, msg_id="m1")
    e.engine.cycle()
    assert [x for x, _, _ in e.kept()] == [first]
