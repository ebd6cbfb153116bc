"""Event configurations as a user writes them (EventDefinition.from_json), checked against
their schema (resolve_event), and whose message it is (identity_of)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from wayfare.errors import InvalidRequestError
from wayfare.model.events import (
    EVENT_ID_PATH,
    EventConfig,
    EventDefinition,
    Unmatched,
    event_from_json,
    identity_of,
    resolve_event,
)
from wayfare.model.matching import EventIndex
from wayfare.model.schema import SchemaDefinition, build_json_schema

ORG = "ACME@AdobeOrg"
TENANT = "acme"

PERSON = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "firstName": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "birthYear": {"type": "integer"},
        "address": {
            "type": "object",
            "required": ["country"],
            "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        },
    },
}
ORDER = {
    "type": "object",
    "properties": {
        "total": {"type": "number"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
            },
        },
    },
}


def make_schema(
    *, klass: str = "ExperienceEvent", groups: tuple[str, ...] = ("orchestration-eventid",)
) -> tuple[dict[str, Any], tuple[str, ...]]:
    definition = SchemaDefinition.from_json(
        {
            "name": "signup",
            "class": klass,
            "fieldGroups": list(groups),
            "fields": {"person": PERSON, "order": ORDER},
            "required": ["identityMap"],
        }
    )
    json_schema = build_json_schema(
        definition, schema_id="https://ns.adobe.com/acme/schemas/1", tenant_id=TENANT, version=1
    )
    return json_schema, definition.field_groups


def definition(**overrides: Any) -> EventDefinition:
    data: dict[str, Any] = {"name": "signup", "schemaId": "signup", "namespace": "Email"}
    data.update(overrides)
    return EventDefinition.from_json({k: v for k, v in data.items() if v is not None})


def resolve(
    event: EventDefinition,
    *,
    klass: str = "ExperienceEvent",
    groups: tuple[str, ...] = ("orchestration-eventid",),
    event_id: str | None = "e" * 64,
) -> EventConfig:
    json_schema, field_groups = make_schema(klass=klass, groups=groups)
    return resolve_event(
        event,
        org_id=ORG,
        schema_id="https://ns.adobe.com/acme/schemas/1",
        json_schema=json_schema,
        field_groups=field_groups,
        event_id=event_id,
        created_ms=123,
    )


def holds(config: EventConfig, entity: dict[str, Any]) -> bool:
    """Does the config's condition, compiled where messages are matched, hold?"""
    (rule,) = EventIndex.of([config]).rules
    assert rule.condition is not None
    return rule.condition.test(entity)


def violations_of(error: pytest.ExceptionInfo[InvalidRequestError]) -> dict[str, str]:
    return {v.pointer: v.keyword for v in error.value.violations}


# EventDefinition.from_json


def test_a_minimal_definition_gets_its_defaults() -> None:
    event = definition()
    assert event == EventDefinition(
        name="signup",
        schema="signup",
        namespace="Email",
        id_type="system",
        description="",
        fields=(),
        identifier="identityMap.Email[0].id",
        condition=None,
    )


def test_a_full_rule_based_definition() -> None:
    event = definition(
        name="Big_Purchase_2",
        description="a purchase over 100",
        eventIdType="rule",
        condition="order.total > 100",
        fields=["_acme.order.total"],
        identifier="_acme.person.email",
        namespace="Email",
    )
    assert (event.id_type, event.condition, event.identifier, event.fields) == (
        "rule",
        "order.total > 100",
        "_acme.person.email",
        ("_acme.order.total",),
    )
    assert event.description == "a purchase over 100"


@pytest.mark.parametrize("name", ["a", "A_b_9", "x" * 30, "123", "_"])
def test_names_of_letters_digits_and_underscores_up_to_30(name: str) -> None:
    assert definition(name=name).name == name


@pytest.mark.parametrize("name", ["x" * 31, "with-dash", "with space", "dot.name", "é", ""])
def test_other_names_are_refused_with_a_pointer(name: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        definition(name=name)
    assert violations_of(caught) == {"/name": "pattern"}
    assert "at most 30 characters" in caught.value.message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"schemaId": "signup", "namespace": "Email"}, {"/name": "required"}),
        ({"name": "e", "namespace": "Email"}, {"/schemaId": "required"}),
        ({"name": "e", "schemaId": "signup"}, {"/namespace": "required"}),
        ({"name": 5, "schemaId": "s", "namespace": "Email"}, {"/name": "type"}),
        (
            {"name": "e", "schemaId": "s", "namespace": "Email", "eventIdType": "manual"},
            {"/eventIdType": "enum"},
        ),
        (
            {"name": "e", "schemaId": "s", "namespace": "Email", "eventIdType": "rule"},
            {"/condition": "required"},
        ),
        (
            {
                "name": "e",
                "schemaId": "s",
                "namespace": "Email",
                "eventIdType": "rule",
                "condition": 5,
            },
            {"/condition": "required"},
        ),
        (
            {"name": "e", "schemaId": "s", "namespace": "Email", "condition": "x == 1"},
            {"/condition": "const"},
        ),
        (
            {"name": "e", "schemaId": "s", "namespace": "Email", "fields": "a.b"},
            {"/fields": "type"},
        ),
        (
            {"name": "e", "schemaId": "s", "namespace": "Email", "fields": ["a", 1]},
            {"/fields": "type"},
        ),
        (
            {"name": "e", "schemaId": "s", "namespace": "Email", "description": 1},
            {"/description": "type"},
        ),
        (
            {"name": "e", "schemaId": "s", "namespace": "Email", "identifier": ["x"]},
            {"/identifier": "type"},
        ),
    ],
)
def test_definition_violations_have_pointers(
    data: dict[str, Any], expected: dict[str, str]
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        EventDefinition.from_json(data)
    assert violations_of(caught) == expected


def test_every_violation_is_reported_at_once() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        EventDefinition.from_json(
            {"name": "bad name", "eventIdType": "x", "fields": {"a": 1}, "description": 3}
        )
    assert violations_of(caught) == {
        "/name": "pattern",
        "/schemaId": "required",
        "/namespace": "required",
        "/eventIdType": "enum",
        "/fields": "type",
        "/description": "type",
    }


@pytest.mark.parametrize("data", [None, [], "event", 5])
def test_a_definition_must_be_an_object(data: object) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        EventDefinition.from_json(data)
    assert violations_of(caught) == {"": "type"}


# resolve_event


def test_selected_fields_come_first_then_required_identity_and_event_id() -> None:
    config = resolve(definition(fields=["_acme.person.firstName", "_acme.person.birthYear"]))
    assert config.fields == (
        "_acme.person.firstName",
        "_acme.person.birthYear",
        "_acme.person.email",  # required inside person, which a selected field lives in
        EVENT_ID_PATH,
        "_id",
        "identityMap",
        "timestamp",
    )
    assert config.event_id == "e" * 64
    assert config.condition is None
    assert (config.org_id, config.name, config.namespace, config.created_ms) == (
        ORG,
        "signup",
        "Email",
        123,
    )


def test_required_fields_are_preselected_even_with_nothing_selected() -> None:
    config = resolve(definition(eventIdType="rule", condition="eventType == 'x'"))
    assert set(config.fields) == {"_id", "timestamp", "identityMap"}
    assert EVENT_ID_PATH not in config.fields
    assert config.event_id is None


def test_duplicates_are_dropped() -> None:
    config = resolve(definition(fields=["_acme.person.firstName", "_acme.person.firstName"]))
    assert config.fields.count("_acme.person.firstName") == 1


def test_required_fields_inside_nested_objects_and_array_items_come_along() -> None:
    config = resolve(definition(fields=["_acme.person.address.city", "_acme.order.items.qty"]))
    assert {
        "_acme.person.address.city",
        "_acme.person.address.country",
        "_acme.person.email",
        "_acme.order.items.qty",
        "_acme.order.items.sku",
    } <= set(config.fields)
    assert "_acme.order.total" not in config.fields
    assert "_acme.person.firstName" not in config.fields


def test_a_whole_object_can_be_selected() -> None:
    config = resolve(definition(fields=["_acme.order"]))
    assert config.fields[0] == "_acme.order"


def test_fields_must_exist_in_the_schema() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        resolve(
            definition(
                fields=["_acme.person.firstName", "_acme.person.nickname", "nowhere", "_acme.x.y"]
            )
        )
    assert violations_of(caught) == {"/fields/1": "enum", "/fields/2": "enum", "/fields/3": "enum"}
    assert "'_acme.person.nickname'" in caught.value.message


def test_identity_map_namespaces_resolve_through_additional_properties() -> None:
    config = resolve(definition(fields=["identityMap.ECID", "identityMap.Email.primary"]))
    assert "identityMap.ECID" in config.fields


def test_the_identity_field_is_always_selected() -> None:
    config = resolve(definition(identifier="_acme.person.address.city"))
    assert "_acme.person.address.city" in config.fields
    assert "_acme.person.address.country" in config.fields  # required next to it
    config = resolve(definition(identifier="_acme.order.items[0].sku"))
    assert "_acme.order.items.sku" in config.fields


def test_an_identifier_must_exist_in_the_schema() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        resolve(definition(identifier="_acme.person.phone"))
    assert violations_of(caught) == {"/identifier": "enum"}
    assert "_acme.person.phone" in caught.value.message


def test_an_identity_map_identifier_must_read_the_event_namespace() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        resolve(definition(identifier="identityMap.ECID[0].id"))
    assert violations_of(caught) == {"/identifier": "const"}
    assert "'ECID'" in caught.value.message and "'Email'" in caught.value.message
    config = resolve(definition(namespace="ECID", identifier="identityMap.ECID[1].id"))
    assert config.identifier == "identityMap.ECID[1].id"


def test_system_events_need_the_orchestration_field_group() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        resolve(definition(), groups=())
    assert violations_of(caught) == {"/eventIdType": "enum"}
    assert "Orchestration eventID" in caught.value.message
    with pytest.raises(InvalidRequestError) as caught:
        resolve(definition(), klass="Profile", groups=())
    assert violations_of(caught) == {"/eventIdType": "enum"}


def test_rule_events_need_no_field_group_and_work_on_profiles() -> None:
    config = resolve(
        definition(eventIdType="rule", condition="_acme.person.birthYear >= 1990"),
        klass="Profile",
        groups=(),
    )
    assert config.id_type == "rule"
    assert holds(config, {"_acme": {"person": {"birthYear": 1991}}})
    assert "timestamp" not in config.fields  # a Profile has none


def test_a_condition_is_compiled_once_in_the_index_of_its_schema() -> None:
    config = resolve(
        definition(eventIdType="rule", condition='eventType == "commerce.purchases"'), groups=()
    )
    (rule,) = EventIndex.of([config]).rules
    assert rule.condition is not None
    assert rule.condition.source == 'eventType == "commerce.purchases"'
    assert holds(config, {"eventType": "commerce.purchases"})
    assert not holds(config, {"eventType": "web.pageViews"})


def test_condition_paths_are_checked_against_the_schema_with_their_column() -> None:
    condition = "_acme.order.total > 10 and _acme.order.discount > 0 or nope == 1"
    with pytest.raises(InvalidRequestError) as caught:
        resolve(definition(eventIdType="rule", condition=condition))
    pointers = [(v.pointer, v.keyword) for v in caught.value.violations]
    assert pointers == [("/condition", "expression"), ("/condition", "expression")]
    messages = [v.message for v in caught.value.violations]
    column = condition.index("_acme.order.discount") + 1
    assert messages[0] == f"the schema has no field '_acme.order.discount' (column {column})"
    assert messages[1] == f"the schema has no field 'nope' (column {condition.index('nope') + 1})"


def test_condition_paths_with_indexes_are_checked_without_them() -> None:
    config = resolve(
        definition(eventIdType="rule", condition="_acme.order.items[0].sku == 'A-1'"), groups=()
    )
    assert holds(config, {"_acme": {"order": {"items": [{"sku": "A-1"}]}}})
    with pytest.raises(InvalidRequestError, match=re.escape("_acme.order.items[0].color")):
        resolve(definition(eventIdType="rule", condition="_acme.order.items[0].color == 'red'"))


def test_a_condition_that_does_not_parse_names_the_column() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        resolve(definition(eventIdType="rule", condition="eventType == == 'x'"))
    (violation,) = caught.value.violations
    assert (violation.pointer, violation.keyword) == ("/condition", "expression")
    assert violation.message == "unexpected '==' at column 14 of \"eventType == == 'x'\""


def test_schema_problems_are_reported_together() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        resolve(definition(fields=["nope"], identifier="_acme.nope"), groups=())
    assert violations_of(caught) == {
        "/fields/0": "enum",
        "/identifier": "enum",
        "/eventIdType": "enum",
    }


def test_as_json_and_back() -> None:
    config = resolve(
        definition(
            eventIdType="rule",
            condition="_acme.order.total >= 10",
            description="big",
            fields=["_acme.order.total"],
        )
    )
    body = config.as_json()
    assert body == {
        "name": "signup",
        "description": "big",
        "schemaId": "https://ns.adobe.com/acme/schemas/1",
        "namespace": "Email",
        "identifier": "identityMap.Email[0].id",
        "eventIdType": "rule",
        "eventID": None,
        "condition": "_acme.order.total >= 10",
        "fields": list(config.fields),
        "imsOrg": ORG,
        "createdMs": 123,
    }
    again = event_from_json(ORG, body)
    assert again == config
    assert holds(again, {"_acme": {"order": {"total": 10}}})
    system = resolve(definition())
    assert event_from_json(ORG, system.as_json()) == system


# identity_of
NO_IDENTITY_MAP = "identity missing: the message has no identityMap"


@pytest.fixture
def email_event() -> EventConfig:
    return resolve(definition())


@pytest.mark.parametrize(
    ("entity", "identity", "cause", "reason"),
    [
        ({"identityMap": {"Email": [{"id": "ada@example.com"}]}}, "ada@example.com", None, None),
        (
            {"identityMap": {"Email": [{"id": "a@x.io"}, {"id": "b@x.io"}], "ECID": [{"id": "1"}]}},
            "a@x.io",
            None,
            None,
        ),
        ({}, None, Unmatched.IDENTITY_MISSING, "identity missing: the message has no identityMap"),
        (
            {"identityMap": {}},
            None,
            Unmatched.IDENTITY_MISSING,
            "identity missing: the message has no identityMap",
        ),
        (
            {"identityMap": "Email"},
            None,
            Unmatched.IDENTITY_MISSING,
            "identity missing: the message has no identityMap",
        ),
        (
            {"identityMap": {"ECID": [{"id": "123"}]}},
            None,
            Unmatched.NAMESPACE_MISMATCH,
            "namespace not the event's: the message has ECID, the event reads Email",
        ),
        (
            {"identityMap": {"Phone": [{"id": "1"}], "ECID": [{"id": "2"}]}},
            None,
            Unmatched.NAMESPACE_MISMATCH,
            "namespace not the event's: the message has ECID, Phone, the event reads Email",
        ),
        (
            {"identityMap": {"Email": []}},
            None,
            Unmatched.IDENTITY_MISSING,
            "identity missing: nothing at identityMap.Email[0].id",
        ),
        (
            {"identityMap": {"Email": [{"primary": True}]}},
            None,
            Unmatched.IDENTITY_MISSING,
            "identity missing: nothing at identityMap.Email[0].id",
        ),
        (
            {"identityMap": {"Email": [{"id": ""}]}},
            None,
            Unmatched.IDENTITY_MISSING,
            "identity missing: nothing at identityMap.Email[0].id",
        ),
        (
            {"identityMap": {"Email": {"id": "not a list"}}},
            None,
            Unmatched.IDENTITY_MISSING,
            "identity missing: nothing at identityMap.Email[0].id",
        ),
    ],
)
def test_identity_of(
    email_event: EventConfig,
    entity: dict[str, Any],
    identity: str | None,
    cause: Unmatched | None,
    reason: str | None,
) -> None:
    assert identity_of(email_event, entity) == (identity, cause, reason)


def test_identity_from_any_field_path() -> None:
    config = resolve(definition(identifier="_acme.order.items[1].sku"))
    items = {"items": [{"sku": "A"}, {"sku": "B"}]}
    # the event's namespace is Email: its ids are lower-cased wherever they are read from
    assert identity_of(config, {"_acme": {"order": items}}) == ("b", None, None)
    assert identity_of(config, {"_acme": {"order": {"items": [{"sku": "A"}]}}}) == (
        None,
        Unmatched.IDENTITY_MISSING,
        "identity missing: nothing at _acme.order.items[1].sku",
    )
    # no identityMap needed when the identifier lives elsewhere
    numeric = resolve(definition(identifier="_acme.person.birthYear"))
    assert identity_of(numeric, {"_acme": {"person": {"birthYear": 1990}}}) == (
        "1990",
        None,
        None,
    )
    assert identity_of(numeric, {"identityMap": {"Email": [{"id": "x"}]}}) == (
        None,
        Unmatched.IDENTITY_MISSING,
        "identity missing: nothing at _acme.person.birthYear",
    )
