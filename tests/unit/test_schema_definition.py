"""SchemaDefinition.from_json reports every problem at once; build_json_schema builds the rest."""

from __future__ import annotations

from typing import Any

import pytest

from wayfare.errors import InvalidRequestError
from wayfare.model.schema import (
    IDENTITY_MAP,
    XDM_CLASSES,
    SchemaDefinition,
    build_json_schema,
    tenant_from_org,
)

SCHEMA_ID = "https://ns.adobe.com/acme/schemas/1"


def violations(data: object) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRequestError) as caught:
        SchemaDefinition.from_json(data)
    return [(v.pointer, v.keyword) for v in caught.value.violations]


def build(data: dict[str, Any], version: int = 1) -> dict[str, Any]:
    definition = SchemaDefinition.from_json(data)
    return build_json_schema(definition, schema_id=SCHEMA_ID, tenant_id="acme", version=version)


def test_a_minimal_definition_is_read_with_defaults() -> None:
    definition = SchemaDefinition.from_json({"name": "signup", "class": "ExperienceEvent"})
    assert definition == SchemaDefinition(
        name="signup", title="signup", xdm_class="ExperienceEvent"
    )


def test_a_full_definition_round_trips_through_json() -> None:
    data = {
        "name": "signup",
        "title": "Newsletter signup",
        "description": "People signing up",
        "class": "ExperienceEvent",
        "fieldGroups": ["orchestration-eventid"],
        "fields": {"person": {"type": "object"}},
        "required": ["identityMap"],
    }
    definition = SchemaDefinition.from_json(data)
    assert definition.as_json() == data
    assert SchemaDefinition.from_json(definition.as_json()) == definition


def test_every_violation_is_collected_with_its_pointer() -> None:
    data = {
        "name": "bad name!",
        "class": "Nope",
        "fieldGroups": ["nope", "environment-details", 5],
        "fields": ["not", "an", "object"],
    }
    assert violations(data) == [
        ("/name", "pattern"),
        ("/class", "enum"),
        ("/fieldGroups/0", "enum"),
        ("/fieldGroups/2", "enum"),
        ("/fields", "type"),
    ]


def test_missing_name_and_class_are_both_reported() -> None:
    assert violations({}) == [("/name", "required"), ("/class", "required")]


@pytest.mark.parametrize("name", ["", "-leading-dash", "has space", "x" * 101])
def test_a_name_must_be_a_plain_identifier(name: str) -> None:
    assert violations({"name": name, "class": "Profile"}) == [("/name", "pattern")]


def test_an_empty_class_is_not_a_class() -> None:
    assert violations({"name": "signup", "class": ""}) == [("/class", "enum")]


def test_a_field_group_must_apply_to_the_class() -> None:
    data = {"name": "people", "class": "Profile", "fieldGroups": ["environment-details"]}
    assert violations(data) == [("/fieldGroups/0", "enum")]


def test_wrongly_typed_parts_are_reported() -> None:
    data = {
        "name": "people",
        "title": 3,
        "class": "Profile",
        "fieldGroups": "environment-details",
        "fields": {"age": 1},
        "required": "identityMap",
    }
    assert violations(data) == [
        ("/title", "type"),
        ("/fieldGroups", "type"),
        ("/fields/age", "type"),
        ("/required", "type"),
    ]


def test_a_definition_that_is_not_an_object_is_refused() -> None:
    assert violations(["signup"]) == [("", "type")]


@pytest.mark.parametrize(
    ("alias", "xdm_class"),
    [
        ("ExperienceEvent", "ExperienceEvent"),
        ("experienceevent", "ExperienceEvent"),
        ("https://ns.adobe.com/xdm/context/experienceevent", "ExperienceEvent"),
        ("PROFILE", "Profile"),
        ("https://ns.adobe.com/xdm/context/profile", "Profile"),
    ],
)
def test_classes_are_known_by_name_or_xdm_uri(alias: str, xdm_class: str) -> None:
    assert SchemaDefinition.from_json({"name": "s", "class": alias}).xdm_class == xdm_class


def test_field_groups_are_known_by_id_or_title_and_kept_once() -> None:
    definition = SchemaDefinition.from_json(
        {
            "name": "s",
            "class": "ExperienceEvent",
            "fieldGroups": [
                "Orchestration eventID",
                "orchestration-eventid",
                "environment-details",
            ],
        }
    )
    assert definition.field_groups == ("orchestration-eventid", "environment-details")


# build_json_schema


def test_an_experience_event_requires_an_id_and_a_timestamp() -> None:
    schema = build({"name": "e", "class": "ExperienceEvent", "required": ["identityMap"]})
    assert schema["required"] == ["_id", "timestamp", "identityMap"]
    assert schema["properties"]["timestamp"]["format"] == "date-time"
    assert schema["properties"]["identityMap"] == IDENTITY_MAP
    assert schema["meta:class"] == XDM_CLASSES["ExperienceEvent"]


def test_a_profile_requires_nothing_of_its_own() -> None:
    schema = build({"name": "p", "class": "Profile"})
    assert schema["required"] == []
    assert "timestamp" not in schema["properties"]
    assert set(schema["properties"]) == {"_id", "identityMap"}


def test_the_schema_names_itself_and_its_version() -> None:
    schema = build({"name": "e", "title": "Events", "class": "ExperienceEvent"}, version=3)
    assert (schema["$id"], schema["version"], schema["title"]) == (SCHEMA_ID, "3", "Events")
    assert schema["type"] == "object"


def test_field_groups_are_merged_into_the_root() -> None:
    schema = build(
        {
            "name": "e",
            "class": "ExperienceEvent",
            "fieldGroups": ["orchestration-eventid", "environment-details"],
        }
    )
    orchestration = schema["properties"]["_experience"]["properties"]["campaign"]
    assert "eventID" in orchestration["properties"]["orchestration"]["properties"]
    assert schema["properties"]["environment"]["properties"]["ipV4"]["format"] == "ipv4"
    assert schema["meta:extends"] == [
        XDM_CLASSES["ExperienceEvent"],
        "orchestration-eventid",
        "environment-details",
    ]


def test_tenant_fields_live_under_the_tenant_object() -> None:
    fields = {"person": {"type": "object", "properties": {"age": {"type": "integer"}}}}
    schema = build({"name": "e", "class": "Profile", "fields": fields})
    tenant = schema["properties"]["_acme"]
    assert tenant["type"] == "object"
    assert tenant["properties"] == fields


def test_without_tenant_fields_there_is_no_tenant_object() -> None:
    assert "_acme" not in build({"name": "e", "class": "Profile"})["properties"]


@pytest.mark.parametrize(
    ("org_id", "tenant"),
    [
        ("ACME@AdobeOrg", "acme"),
        ("Big-Corp.EU@AdobeOrg", "big_corp_eu"),
        ("1234ABCD@AdobeOrg", "t1234abcd"),
        ("plain", "plain"),
        ("@AdobeOrg", "t"),
        ("x" * 80 + "@AdobeOrg", "x" * 64),
    ],
)
def test_tenant_from_org(org_id: str, tenant: str) -> None:
    assert tenant_from_org(org_id) == tenant
