"""CompiledSchema: each broken JSON Schema keyword is reported with its pointer and name."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wayfare.errors import InvalidRequestError
from wayfare.ingest.validation import MAX_VIOLATIONS, CompiledSchema
from wayfare.model.resources import Schema
from wayfare.model.schema import SchemaDefinition, build_json_schema

SCHEMA_ID = "https://ns.adobe.com/acme/schemas/1"
TIMESTAMP = "2026-11-28T10:00:00.000Z"

PERSON: dict[str, Any] = {
    "type": "object",
    "required": ["firstName"],
    "properties": {
        "firstName": {"type": "string", "minLength": 1, "maxLength": 5},
        "birthYear": {"type": "integer", "minimum": 1900, "maximum": 2100},
        "score": {"type": "number", "exclusiveMinimum": 0},
        "gender": {"type": "string", "enum": ["female", "male"]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "signedUp": {"type": "string", "format": "date-time"},
        "email": {"type": "string", "format": "email"},
        "site": {"type": "string", "format": "uri"},
    },
}


def compile_schema(
    fields: dict[str, Any], *, xdm_class: str = "ExperienceEvent", groups: tuple[str, ...] = ()
) -> CompiledSchema:
    definition = SchemaDefinition.from_json(
        {"name": "people", "class": xdm_class, "fieldGroups": list(groups), "fields": fields}
    )
    json_schema = build_json_schema(definition, schema_id=SCHEMA_ID, tenant_id="acme", version=1)
    return CompiledSchema.compile(Schema(SCHEMA_ID, 1, "ACME@AdobeOrg", definition, json_schema, 0))


@pytest.fixture(scope="module")
def people() -> CompiledSchema:
    return compile_schema({"person": PERSON}, groups=("environment-details",))


def event(**person: Any) -> dict[str, Any]:
    return {
        "_id": "e-1",
        "timestamp": TIMESTAMP,
        "identityMap": {"Email": [{"id": "ada@example.com", "primary": True}]},
        "_acme": {"person": {"firstName": "Ada", **person}},
    }


def found(compiled: CompiledSchema, entity: object) -> list[tuple[str, str]]:
    return [(v.pointer, v.keyword) for v in compiled.violations(entity)]


def test_a_valid_entity_has_no_violations(people: CompiledSchema) -> None:
    entity = event(
        birthYear=1990,
        score=0.5,
        gender="female",
        code="ADA",
        tags=["vip"],
        signedUp=TIMESTAMP,
        email="ada@example.com",
        site="https://example.com/ada",
    )
    entity["environment"] = {"ipV4": "192.168.1.10"}
    assert people.violations(entity) == []


@pytest.mark.parametrize(
    ("field", "value", "keyword"),
    [
        ("birthYear", "1990", "type"),
        ("birthYear", 1990.5, "type"),
        ("birthYear", 1899, "minimum"),
        ("birthYear", 2101, "maximum"),
        ("score", 0, "exclusiveMinimum"),
        ("gender", "other", "enum"),
        ("code", "ada", "pattern"),
        ("firstName", "", "minLength"),
        ("firstName", "Adelaide", "maxLength"),
        ("tags", [], "minItems"),
        ("signedUp", "yesterday", "format"),
        ("email", "not-an-address", "format"),
        ("site", "not a uri", "format"),
    ],
)
def test_each_keyword_is_reported_at_the_broken_field(
    people: CompiledSchema, field: str, value: object, keyword: str
) -> None:
    violations = people.violations(event(**{field: value}))
    assert [(v.pointer, v.keyword) for v in violations] == [(f"#/_acme/person/{field}", keyword)]
    (violation,) = violations
    assert (
        violation.schema_location
        == f"#/properties/_acme/properties/person/properties/{field}/{keyword}"
    )
    assert violation.message


def test_a_missing_required_field_is_reported_at_its_parent_object(people: CompiledSchema) -> None:
    entity = event()
    del entity["_acme"]["person"]["firstName"]
    assert found(people, entity) == [("#/_acme/person", "required")]


def test_experience_events_need_an_id_and_a_timestamp(people: CompiledSchema) -> None:
    assert found(people, {}) == [("#", "required"), ("#", "required")]
    messages = [v.message for v in people.violations({})]
    assert any("_id" in m for m in messages) and any("timestamp" in m for m in messages)


def test_the_timestamp_must_be_a_date_time(people: CompiledSchema) -> None:
    entity = event()
    entity["timestamp"] = "28/11/2026"
    assert found(people, entity) == [("#/timestamp", "format")]


def test_an_ipv4_address_from_a_field_group_is_checked(people: CompiledSchema) -> None:
    entity = event()
    entity["environment"] = {"ipV4": "300.1.1.1"}
    assert found(people, entity) == [("#/environment/ipV4", "format")]


def test_an_entity_that_is_not_an_object_breaks_type(people: CompiledSchema) -> None:
    assert found(people, ["not", "an", "object"]) == [("#", "type")]


@pytest.mark.parametrize(
    ("identity_map", "expected"),
    [
        ({"Email": [{"primary": True}]}, [("#/identityMap/Email/0", "required")]),
        ({"Email": []}, [("#/identityMap/Email", "minItems")]),
        ({"Email": {"id": "ada@example.com"}}, [("#/identityMap/Email", "type")]),
        ({"Email": [{"id": ""}]}, [("#/identityMap/Email/0/id", "minLength")]),
        (
            {"Email": [{"id": "a", "authenticatedState": "maybe"}]},
            [("#/identityMap/Email/0/authenticatedState", "enum")],
        ),
    ],
)
def test_the_identity_map_is_a_list_of_identities_per_namespace(
    people: CompiledSchema, identity_map: object, expected: list[tuple[str, str]]
) -> None:
    entity = event()
    entity["identityMap"] = identity_map
    assert found(people, entity) == expected


def test_pointers_escape_slash_and_tilde_in_names_as_rfc_6901_says() -> None:
    # "~" becomes "~0" before "/" becomes "~1": a name holding "~1" must not read as "/"
    compiled = compile_schema(
        {"a/b~c": {"type": "object", "properties": {"x~/y": {"type": "integer"}}}}
    )
    entity = event()
    entity["_acme"]["a/b~c"] = {"x~/y": "not a number"}
    entity["identityMap"] = {"Ph/one~1": [{"id": ""}]}
    reported = sorted(
        (v.as_json()["pointerToViolation"], v.as_json()["schemaLocation"])
        for v in compiled.violations(entity)
    )
    assert reported == [
        (
            "#/_acme/a~1b~0c/x~0~1y",
            "#/properties/_acme/properties/a~1b~0c/properties/x~0~1y/type",
        ),
        (
            "#/identityMap/Ph~1one~01/0/id",
            "#/properties/identityMap/additionalProperties/items/properties/id/minLength",
        ),
    ]


def test_every_violation_is_reported_not_only_the_first(people: CompiledSchema) -> None:
    entity = event(birthYear=1800, gender="other", email="nope")
    del entity["_id"]
    assert sorted(found(people, entity)) == [
        ("#", "required"),
        ("#/_acme/person/birthYear", "minimum"),
        ("#/_acme/person/email", "format"),
        ("#/_acme/person/gender", "enum"),
    ]


def test_violations_are_capped(people: CompiledSchema) -> None:
    entity = event(tags=list(range(MAX_VIOLATIONS + 50)))
    violations = people.violations(entity)
    assert len(violations) == MAX_VIOLATIONS
    assert violations[0].pointer == "#/_acme/person/tags/0"
    assert {v.keyword for v in violations} == {"type"}


def test_profiles_do_not_require_an_id_or_timestamp() -> None:
    profile = compile_schema({"person": PERSON}, xdm_class="Profile")
    assert profile.violations({"_acme": {"person": {"firstName": "Ada"}}}) == []


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"age": {"type": "integr"}}, "#/properties/_acme/properties/age/type"),
        (
            {"age": {"type": "string", "minLength": -1}},
            "#/properties/_acme/properties/age/minLength",
        ),
        (
            {"code": {"type": "string", "pattern": "("}},
            "#/properties/_acme/properties/code/pattern",
        ),
        (
            {"person": {"type": "object", "required": "name"}},
            "#/properties/_acme/properties/person/required",
        ),
    ],
)
def test_tenant_fields_that_are_not_json_schema_are_refused(
    fields: dict[str, Any], pointer: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        compile_schema(fields)
    assert "not valid JSON Schema" in caught.value.message
    assert [(v.pointer, v.keyword) for v in caught.value.violations] == [(pointer, "schema")]


def test_a_ref_names_a_part_of_the_schema_and_nothing_is_fetched() -> None:
    """A $ref to a URL was fetched by every process compiling the schema (any address)."""
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/field.json"
        with pytest.raises(InvalidRequestError, match="Retrieval is disabled"):
            compile_schema({"remote": {"$ref": url}})
        server.shutdown()
    assert calls == []

    tags = PERSON["properties"]["tags"]
    ref = {"$ref": "#/properties/_acme/properties/tags/items"}
    local = compile_schema({"tag": ref, "tags": tags})
    acme = {"_id": "e-1", "timestamp": TIMESTAMP}
    assert local.violations({**acme, "_acme": {"tag": "vip"}}) == []
    assert found(local, {**acme, "_acme": {"tag": 1}}) == [("#/_acme/tag", "type")]
