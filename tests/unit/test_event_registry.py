"""EventRegistry on the in-memory store and a fake clock: create, update, delete, the minted
eventID, the live-journey rule (through ``journeys_using``) and the payload preview."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from wayfare.clock import FakeClock
from wayfare.errors import ConflictError, InvalidRequestError, NotFoundError
from wayfare.ingest.catalog import Catalog
from wayfare.model.events import EVENT_ID_PATH, Unmatched
from wayfare.model.matching import EventIndex, match_message
from wayfare.model.records import IncomingMessage
from wayfare.model.resources import Schema
from wayfare.registry.events import EventRegistry
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.memory import MemoryStore

ORG = "ACME@AdobeOrg"  # tenant "acme"
OTHER_ORG = "OTHER@AdobeOrg"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
EMAIL = {"Email": [{"id": "ada@example.com"}]}

SIGNUP_SCHEMA = {
    "name": "signup",
    "class": "ExperienceEvent",
    "fieldGroups": ["orchestration-eventid"],
    "required": ["identityMap"],
    "fields": {
        "person": {
            "type": "object",
            "properties": {
                "firstName": {"type": "string"},
                "lastName": {"type": "string"},
                "email": {"type": "string", "format": "email"},
            },
        }
    },
}
PURCHASE_SCHEMA = {
    "name": "purchases",
    "class": "ExperienceEvent",
    "fields": {"order": {"type": "object", "properties": {"total": {"type": "number"}}}},
}


@dataclass
class JourneyUsers:
    """A stand-in for the journey registry: which live journeys use which event."""

    live: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, org_id: str, event_name: str) -> list[str]:
        self.calls.append((org_id, event_name))
        return list(self.live.get(event_name, []))


@dataclass
class World:
    clock: FakeClock
    store: MemoryStore
    catalog: Catalog
    schemas: SchemaRegistry
    events: EventRegistry
    journeys: JourneyUsers
    signup: Schema
    purchases: Schema


@pytest.fixture
def world() -> World:
    clock = FakeClock()
    store = MemoryStore()
    catalog = Catalog(store, clock)
    schemas = SchemaRegistry(store, catalog, clock)
    journeys = JourneyUsers()
    events = EventRegistry(store, catalog, clock, schemas, journeys)
    signup = schemas.create(ORG, SIGNUP_SCHEMA)
    purchases = schemas.create(ORG, PURCHASE_SCHEMA)
    return World(clock, store, catalog, schemas, events, journeys, signup, purchases)


def signup_event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "newsletter_signup",
        "description": "signs up",
        "schemaId": "signup",
        "namespace": "Email",
        "fields": ["_acme.person.firstName"],
    }
    body.update(overrides)
    return body


def purchase_event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "purchase",
        "schemaId": "purchases",
        "namespace": "Email",
        "eventIdType": "rule",
        "condition": 'eventType == "commerce.purchases"',
    }
    body.update(overrides)
    return body


# create, get, list


def test_create_mints_an_event_id_for_a_system_event(world: World) -> None:
    created = world.events.create(ORG, signup_event())
    assert created.event_id is not None and HEX64.match(created.event_id)
    assert created.schema_id == world.signup.schema_id
    assert created.created_ms == world.clock.now_ms()
    assert created.id_type == "system"
    assert EVENT_ID_PATH in created.fields
    assert world.events.get(ORG, "newsletter_signup") == created
    assert world.events.all(ORG) == [created]
    other = world.events.create(ORG, signup_event(name="second"))
    assert other.event_id != created.event_id


def test_the_schema_may_be_named_by_id(world: World) -> None:
    created = world.events.create(ORG, signup_event(schemaId=world.signup.schema_id))
    assert created.schema_id == world.signup.schema_id


def test_a_rule_based_event_has_no_event_id_and_a_compiled_condition(world: World) -> None:
    created = world.events.create(ORG, purchase_event())
    assert created.event_id is None
    (rule,) = EventIndex.of([created]).rules
    assert rule.condition is not None
    assert rule.condition.test({"eventType": "commerce.purchases"})
    assert created.as_json()["eventID"] is None


def test_a_duplicate_name_is_a_conflict(world: World) -> None:
    world.events.create(ORG, signup_event())
    with pytest.raises(ConflictError, match="newsletter_signup"):
        world.events.create(ORG, signup_event(description="again"))
    assert len(world.events.all(ORG)) == 1


def test_events_belong_to_their_org(world: World) -> None:
    world.events.create(ORG, signup_event())
    assert world.events.all(OTHER_ORG) == []
    with pytest.raises(NotFoundError):
        world.events.get(OTHER_ORG, "newsletter_signup")
    with pytest.raises(NotFoundError):  # the schema is not the other org's
        world.events.create(OTHER_ORG, signup_event())


def test_an_unknown_schema_or_event_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        world.events.create(ORG, signup_event(schemaId="nope"))
    for call in (
        lambda: world.events.get(ORG, "nope"),
        lambda: world.events.update(ORG, "nope", signup_event(name="nope")),
        lambda: world.events.delete(ORG, "nope"),
        lambda: world.events.preview(ORG, "nope"),
        lambda: world.events.messages(ORG, "nope"),
    ):
        with pytest.raises(NotFoundError, match="nope"):
            call()


def test_invalid_definitions_store_nothing(world: World) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        world.events.create(ORG, signup_event(fields=["_acme.person.nickname"]))
    assert [v.pointer for v in caught.value.violations] == ["/fields/0"]
    with pytest.raises(InvalidRequestError) as caught:
        world.events.create(ORG, signup_event(schemaId="purchases", fields=[]))
    assert [v.pointer for v in caught.value.violations] == ["/eventIdType"]
    with pytest.raises(InvalidRequestError) as caught:
        world.events.create(ORG, purchase_event(condition="_acme.order.price > 1"))
    assert "column 1" in caught.value.violations[0].message
    assert world.events.all(ORG) == []


def test_the_catalog_sees_new_changed_and_deleted_events(world: World) -> None:
    schema_id = world.purchases.schema_id
    assert world.catalog.route(ORG, schema_id, None).events.empty  # cached now
    world.events.create(ORG, purchase_event())
    (rule,) = world.catalog.route(ORG, schema_id, None).events.rules
    assert rule.config.condition == 'eventType == "commerce.purchases"'
    world.events.update(ORG, "purchase", purchase_event(condition="_acme.order.total > 5"))
    (rule,) = world.catalog.route(ORG, schema_id, None).events.rules
    assert rule.config.condition == "_acme.order.total > 5"
    world.events.delete(ORG, "purchase")
    assert world.catalog.route(ORG, schema_id, None).events.empty


# update


def test_the_event_id_is_stable_across_updates(world: World) -> None:
    created = world.events.create(ORG, signup_event())
    world.clock.advance(60_000)
    updated = world.events.update(
        ORG,
        "newsletter_signup",
        signup_event(description="changed", fields=["_acme.person.lastName"]),
    )
    assert updated.event_id == created.event_id
    assert updated.created_ms == created.created_ms
    assert updated.description == "changed"
    assert "_acme.person.lastName" in updated.fields
    assert "_acme.person.firstName" not in updated.fields
    assert world.events.get(ORG, "newsletter_signup") == updated


def test_an_unchanged_update_returns_the_current_event(world: World) -> None:
    created = world.events.create(ORG, signup_event())
    assert world.events.update(ORG, "newsletter_signup", signup_event()) == created
    assert world.events.get(ORG, "newsletter_signup") == created


def test_an_event_cannot_be_renamed(world: World) -> None:
    world.events.create(ORG, signup_event())
    with pytest.raises(InvalidRequestError) as caught:
        world.events.update(ORG, "newsletter_signup", signup_event(name="renamed"))
    assert [(v.pointer, v.keyword) for v in caught.value.violations] == [("/name", "const")]
    assert "cannot be renamed" in caught.value.message
    assert [e.name for e in world.events.all(ORG)] == ["newsletter_signup"]


def test_the_event_id_type_cannot_change(world: World) -> None:
    world.events.create(ORG, signup_event())
    with pytest.raises(InvalidRequestError) as caught:
        world.events.update(
            ORG,
            "newsletter_signup",
            signup_event(eventIdType="rule", condition="_acme.person.firstName == 'Ada'"),
        )
    assert [v.pointer for v in caught.value.violations] == ["/eventIdType"]


def test_an_update_is_checked_like_a_creation(world: World) -> None:
    world.events.create(ORG, signup_event())
    with pytest.raises(InvalidRequestError):
        world.events.update(ORG, "newsletter_signup", signup_event(fields=["nope"]))
    with pytest.raises(InvalidRequestError):
        world.events.update(ORG, "newsletter_signup", signup_event(name="x" * 31))


# delete


def test_delete_removes_the_event(world: World) -> None:
    created = world.events.create(ORG, signup_event())
    assert world.events.delete(ORG, "newsletter_signup") == created
    with pytest.raises(NotFoundError):
        world.events.get(ORG, "newsletter_signup")
    again = world.events.create(ORG, signup_event())
    assert again.event_id != created.event_id  # a new event, a new eventID


# the live-journey rule


def test_journeys_using_is_asked_with_the_org_and_event(world: World) -> None:
    world.events.create(ORG, signup_event())
    world.events.update(ORG, "newsletter_signup", signup_event(description="x"))
    world.events.delete(ORG, "newsletter_signup")
    assert world.journeys.calls == [(ORG, "newsletter_signup"), (ORG, "newsletter_signup")]


def test_an_event_used_by_a_live_journey_may_change_its_description(world: World) -> None:
    created = world.events.create(ORG, signup_event())
    world.journeys.live["newsletter_signup"] = ["welcome"]
    updated = world.events.update(ORG, "newsletter_signup", signup_event(description="new text"))
    assert updated.description == "new text"
    assert updated.event_id == created.event_id


def test_an_event_used_by_a_live_journey_may_gain_payload_fields(world: World) -> None:
    created = world.events.create(ORG, signup_event())
    world.journeys.live["newsletter_signup"] = ["welcome"]
    updated = world.events.update(
        ORG,
        "newsletter_signup",
        signup_event(
            description="more", fields=["_acme.person.firstName", "_acme.person.lastName"]
        ),
    )
    assert set(created.fields) < set(updated.fields)


@pytest.mark.parametrize(
    "change",
    [
        {"fields": []},  # a payload field removed
        {"fields": ["_acme.person.lastName"]},  # one removed, one added
        {"namespace": "ECID"},
        {"identifier": "_acme.person.email"},
    ],
)
def test_an_event_used_by_a_live_journey_refuses_other_changes(
    world: World, change: dict[str, Any]
) -> None:
    created = world.events.create(ORG, signup_event())
    world.journeys.live["newsletter_signup"] = ["welcome", "reminder"]
    with pytest.raises(ConflictError, match="welcome, reminder"):
        world.events.update(ORG, "newsletter_signup", signup_event(**change))
    assert world.events.get(ORG, "newsletter_signup") == created


def test_a_rule_event_used_by_a_live_journey_keeps_its_condition_and_schema(
    world: World,
) -> None:
    world.events.create(ORG, purchase_event())
    world.schemas.create(ORG, {**PURCHASE_SCHEMA, "name": "purchases2"})
    world.journeys.live["purchase"] = ["thanks"]
    with pytest.raises(ConflictError, match="thanks"):
        world.events.update(ORG, "purchase", purchase_event(condition="_acme.order.total > 1"))
    with pytest.raises(ConflictError, match="thanks"):
        world.events.update(ORG, "purchase", purchase_event(schemaId="purchases2"))
    updated = world.events.update(
        ORG, "purchase", purchase_event(description="ok", fields=["_acme.order.total"])
    )
    assert updated.description == "ok"


def test_an_event_used_by_a_live_journey_cannot_be_deleted(world: World) -> None:
    world.events.create(ORG, signup_event())
    world.journeys.live["newsletter_signup"] = ["welcome"]
    with pytest.raises(ConflictError, match="welcome"):
        world.events.delete(ORG, "newsletter_signup")
    assert world.events.get(ORG, "newsletter_signup")
    world.journeys.live.clear()  # the journey stopped
    world.events.delete(ORG, "newsletter_signup")
    assert world.events.all(ORG) == []


def test_without_a_lookup_no_journey_uses_an_event(world: World) -> None:
    events = EventRegistry(world.store, world.catalog, world.clock, world.schemas)
    events.create(ORG, signup_event())
    assert events.journeys_using(ORG, "newsletter_signup") == []
    events.delete(ORG, "newsletter_signup")


# preview and messages


def test_preview_fills_the_header_and_renders_the_selected_fields(world: World) -> None:
    created = world.events.create(ORG, signup_event())
    (dataset,) = world.schemas.datasets(ORG, "signup")
    first = world.events.preview(ORG, "newsletter_signup")
    second = world.events.preview(ORG, "newsletter_signup")
    header = first["header"]
    assert header["datasetId"] == dataset.dataset_id
    assert header["imsOrgId"] == ORG
    assert header["schemaRef"] == {
        "id": world.signup.schema_id,
        "contentType": "application/vnd.adobe.xed-full+json;version=1",
    }
    assert header["msgId"] != second["header"]["msgId"]
    assert header["xactionId"] != second["header"]["xactionId"]
    uuid.UUID(header["msgId"])
    entity = first["body"]["xdmEntity"]
    assert entity["timestamp"] == "2023-11-14T22:13:20.000Z"  # the fake clock
    assert entity["_experience"]["campaign"]["orchestration"]["eventID"] == created.event_id
    assert entity["_acme"] == {"person": {"firstName": "string"}}


def test_preview_follows_the_latest_schema_version(world: World) -> None:
    world.events.create(ORG, signup_event())
    world.schemas.update(ORG, "signup", {**SIGNUP_SCHEMA, "title": "v2"})
    preview = world.events.preview(ORG, "newsletter_signup")
    assert preview["header"]["schemaRef"]["contentType"].endswith(";version=2")
    assert preview["body"]["xdmMeta"]["schemaRef"] == preview["header"]["schemaRef"]


def test_messages_of_an_event_start_empty(world: World) -> None:
    world.events.create(ORG, signup_event())
    assert world.events.messages(ORG, "newsletter_signup") == []


def test_a_message_without_an_event_id_is_among_the_messages_of_each_system_event(
    world: World,
) -> None:
    """Told from its record (no outcome is kept for it), in order with the event's own
    outcomes and the one kept for all the schema's system events (an unknown eventID); a
    rule-based event does not show it, nor does an event made after it arrived."""
    signup = world.events.create(ORG, signup_event())
    world.events.create(ORG, signup_event(name="second"))
    world.events.create(ORG, purchase_event(schemaId="signup"))
    index = EventIndex.of(world.store.list_events(ORG, world.signup.schema_id))
    (dataset,) = world.schemas.datasets(ORG, "signup")

    def stored(*sent: tuple[str, dict[str, Any]]) -> None:
        messages = []
        for x, fields in sent:
            entity = {"identityMap": EMAIL, **fields}
            payload = orjson.dumps({"header": {}, "body": {"xdmMeta": {}, "xdmEntity": entity}})
            messages.append(
                IncomingMessage(
                    x,
                    None,
                    ORG,
                    "inlet",
                    dataset.dataset_id,
                    world.signup.schema_id,
                    world.clock.now_ms(),
                    payload,
                    matches=match_message(index, entity),
                )
            )
        world.store.store_messages(messages)

    def event_id(value: str) -> dict[str, Any]:
        return {"_experience": {"campaign": {"orchestration": {"eventID": value}}}}

    stored(("x1", event_id(signup.event_id)), ("x2", {}), ("x3", event_id("nobody's")))
    world.clock.advance(1)
    stored(("x4", {}))

    def shown(name: str, limit: int = 20) -> list[tuple[str, str, str | None]]:
        found = world.events.messages(ORG, name, limit)
        return [(m.xaction_id, m.match.event_name, m.match.cause) for m in found]

    assert shown("newsletter_signup") == [
        ("x4", "newsletter_signup", Unmatched.NO_EVENT_ID),
        ("x3", "newsletter_signup", Unmatched.UNKNOWN_EVENT_ID),
        ("x2", "newsletter_signup", Unmatched.NO_EVENT_ID),
        ("x1", "newsletter_signup", None),
    ]
    assert shown("newsletter_signup", limit=2) == shown("newsletter_signup")[:2]
    assert shown("second") == [  # x1 is the other event's: no outcome of this one
        ("x4", "second", Unmatched.NO_EVENT_ID),
        ("x3", "second", Unmatched.UNKNOWN_EVENT_ID),
        ("x2", "second", Unmatched.NO_EVENT_ID),
    ]
    assert {cause for _, _, cause in shown("purchase")} == {Unmatched.CONDITION_NOT_MET}
    # kept: x1's and x3's system outcome in one row each (not one per event), the rule's
    assert len(world.store.matches) == 2 + 4
    world.clock.advance(1)  # a system event made later was not there to match them
    world.events.create(ORG, signup_event(name="later"))
    assert world.events.messages(ORG, "later") == []
