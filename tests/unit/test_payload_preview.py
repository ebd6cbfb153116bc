"""The payload preview round trip: for many schema shapes, the preview holds exactly the
selected and required fields with typed placeholders; once every placeholder holds a valid
value (derived here from the field's JSON Schema), the entity passes sync validation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wayfare.ingest.validation import CompiledSchema
from wayfare.model.events import EVENT_ID_PATH, EventConfig, EventDefinition, resolve_event
from wayfare.model.payload_preview import placeholder, preview_entity, preview_message
from wayfare.model.resources import Schema
from wayfare.model.schema import SchemaDefinition, build_json_schema
from wayfare.model.schema_paths import field_schema, leaf_paths

ORG = "ACME@AdobeOrg"
TENANT = "acme"
SCHEMA_ID = "https://ns.adobe.com/acme/schemas/0123abcd"
NOW = "2026-05-04T03:02:01.000Z"
EVENT_ID = "f" * 64
CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=3"

# a valid value for every kind of leaf the tests use
FORMATS = {
    "email": "ada@example.com",
    "uri": "https://example.com/a/b?c=d",
    "date-time": "2024-05-06T07:08:09.123Z",
    "date": "2024-05-06",
    "ipv4": "192.0.2.10",
    "uuid": "5b0e4c8e-8f4b-4bd5-9b44-7d1e0b1a2c3d",
}
PATTERNS = {"^[A-Z]{3}$": "EUR", "^\\d{5}$": "75011", "^SKU-[0-9]+$": "SKU-42"}


# the filler


def _kind(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


def valid_value(schema: dict[str, Any]) -> Any:
    """A value the schema accepts, different from the placeholder where it can be."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][-1]
    kind = _kind(schema)
    if kind == "string":
        if schema.get("format") in FORMATS:
            return FORMATS[schema["format"]]
        if "pattern" in schema:
            return PATTERNS[schema["pattern"]]
        text = "value"
        text = text.ljust(schema.get("minLength", 0), "x")
        return text[: schema.get("maxLength", len(text))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 10) - 1)
        value = low + 1 if low + 1 <= high else low
        if kind == "number" and low + 0.5 <= high:
            return low + 0.5
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    if kind == "object":
        return {}
    raise AssertionError(f"no valid value for {schema}")


def child_schema(schema: dict[str, Any], key: str) -> dict[str, Any]:
    props = schema.get("properties") or {}
    if key in props:
        return dict(props[key])
    extra = schema.get("additionalProperties")
    assert isinstance(extra, dict), f"{key} is not a field of {schema}"
    return extra


def assert_typed_placeholder(value: Any, schema: dict[str, Any], path: str) -> None:
    kind = _kind(schema)
    if kind == "string":
        expected = {"date-time": NOW, "date": NOW[:10]}.get(schema.get("format", ""), "string")
        assert value == expected, path
    elif kind in ("integer", "number"):
        assert type(value) in (int, float) and value == 0, path
    elif kind == "boolean":
        assert value is True, path
    else:
        raise AssertionError(f"{path}: unexpected leaf {value!r} for {schema}")


def fill(value: Any, schema: dict[str, Any], path: str = "") -> Any:
    """Replace every placeholder (checked to be typed) with a valid value; keep the eventID."""
    if path == EVENT_ID_PATH:
        assert value == EVENT_ID
        return value
    if isinstance(value, dict):
        if not value:
            assert _kind(schema) == "object", path
            return {}
        return {
            k: fill(v, child_schema(schema, k), f"{path}.{k}" if path else k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        assert _kind(schema) == "array", path
        assert len(value) == max(1, schema.get("minItems", 1)), path
        return [fill(v, schema.get("items", {}), path) for v in value]
    assert_typed_placeholder(value, schema, path)
    return valid_value(schema)


def entity_leaves(value: Any, path: str = "") -> set[str]:
    """Dotted paths of every leaf (array indexes dropped)."""
    if isinstance(value, dict) and value:
        found: set[str] = set()
        for k, v in value.items():
            found |= entity_leaves(v, f"{path}.{k}" if path else k)
        return found
    if isinstance(value, list):
        found = set()
        for v in value:
            found |= entity_leaves(v, path)
        return found
    return {path}


def present(entity: Any, path: str) -> bool:
    node = entity
    for part in path.split("."):
        while isinstance(node, list):
            if not node:
                return False
            node = node[0]
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# helpers


def build_schema(
    fields: dict[str, Any],
    *,
    klass: str = "ExperienceEvent",
    groups: tuple[str, ...] = ("orchestration-eventid",),
    required: tuple[str, ...] = ("identityMap",),
) -> Schema:
    definition = SchemaDefinition.from_json(
        {
            "name": "shape",
            "class": klass,
            "fieldGroups": list(groups),
            "fields": fields,
            "required": list(required),
        }
    )
    json_schema = build_json_schema(definition, schema_id=SCHEMA_ID, tenant_id=TENANT, version=3)
    return Schema(SCHEMA_ID, 3, ORG, definition, json_schema, 0)


def configure(
    schema: Schema,
    selected: list[str],
    *,
    namespace: str = "Email",
    identifier: str | None = None,
) -> EventConfig:
    system = "orchestration-eventid" in schema.definition.field_groups
    data: dict[str, Any] = {
        "name": "shape_event",
        "schemaId": "shape",
        "namespace": namespace,
        "fields": selected,
        "eventIdType": "system" if system else "rule",
    }
    if not system:
        data["condition"] = "isNotEmpty(_id)"
    if identifier:
        data["identifier"] = identifier
    return resolve_event(
        EventDefinition.from_json(data),
        org_id=ORG,
        schema_id=SCHEMA_ID,
        json_schema=schema.json_schema,
        field_groups=schema.definition.field_groups,
        event_id=EVENT_ID,
        created_ms=0,
    )


def preview(schema: Schema, config: EventConfig) -> dict[str, Any]:
    return preview_message(
        json_schema=schema.json_schema,
        schema_version=schema.version,
        config=config,
        dataset_id="dataset0001",
        msg_id="msg-1",
        xaction_id="xaction-1",
        now_iso=NOW,
    )


def round_trip(schema: Schema, config: EventConfig) -> dict[str, Any]:
    """Check the preview's shape and fill it; returns the filled entity (valid)."""
    entity = preview(schema, config)["body"]["xdmEntity"]
    for path in config.fields:
        assert present(entity, path), f"{path} is selected but not in the preview"
    for leaf in entity_leaves(entity):
        assert any(leaf == f or leaf.startswith(f + ".") for f in config.fields), (
            f"{leaf} is in the preview but not selected"
        )
    for name in schema.json_schema["required"]:
        assert name in entity
    if config.id_type == "system":
        assert entity["_experience"]["campaign"]["orchestration"]["eventID"] == EVENT_ID
    filled = fill(entity, schema.json_schema)
    assert CompiledSchema.compile(schema).violations(filled) == []
    return filled


# every type, nested objects, arrays

ALL_TYPES: dict[str, Any] = {
    "profile": {
        "type": "object",
        "required": ["email", "id"],
        "properties": {
            "id": {"type": "string", "pattern": "^\\d{5}$"},
            "email": {"type": "string", "format": "email"},
            "homepage": {"type": "string", "format": "uri"},
            "born": {"type": "string", "format": "date"},
            "lastSeen": {"type": "string", "format": "date-time"},
            "ip": {"type": "string", "format": "ipv4"},
            "tier": {"type": "string", "enum": ["bronze", "silver", "gold"]},
            "code": {"type": "string", "minLength": 8, "maxLength": 12},
            "age": {"type": "integer", "minimum": 18, "maximum": 120},
            "score": {"type": "number", "exclusiveMinimum": 0},
            "optIn": {"type": "boolean"},
            "nickname": {"type": ["string", "null"]},
            "address": {
                "type": "object",
                "required": ["country"],
                "properties": {
                    "street": {"type": "string"},
                    "country": {"type": "string", "pattern": "^[A-Z]{3}$"},
                    "geo": {
                        "type": "object",
                        "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                    },
                },
            },
        },
    },
    "order": {
        "type": "object",
        "properties": {
            "total": {"type": "number", "minimum": 1},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["sku", "qty"],
                    "properties": {
                        "sku": {"type": "string", "pattern": "^SKU-[0-9]+$"},
                        "qty": {"type": "integer", "minimum": 1},
                        "price": {"type": "number"},
                        "gift": {"type": "boolean"},
                        "options": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "value": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
            "coupons": {"type": "array", "items": {"type": "string", "minLength": 3}},
            "ratings": {"type": "array", "items": {"type": "integer", "maximum": 5}},
            "flags": {"type": "array", "minItems": 2, "items": {"type": "boolean"}},
            "shippedOn": {"type": "array", "items": {"type": "string", "format": "date-time"}},
            "grid": {
                "type": "array",
                "items": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"cell": {"type": "integer"}}},
                },
            },
            "meta": {"type": "object"},
        },
    },
}


@pytest.mark.parametrize(
    "selected",
    [
        [],
        ["_acme.profile.email"],
        ["_acme.profile"],
        ["_acme.order"],
        ["_acme"],
        ["_acme.profile.address.geo.lat", "_acme.profile.tier", "_acme.profile.optIn"],
        ["_acme.order.items.price", "_acme.order.items.options.value"],
        ["_acme.order.items.options"],
        ["_acme.order.coupons", "_acme.order.ratings", "_acme.order.flags"],
        ["_acme.order.shippedOn", "_acme.order.grid.cell", "_acme.order.meta"],
        ["_acme.order.grid", "_acme.order.items"],
        ["eventType", "identityMap.ECID", "_acme.profile.nickname", "_acme.profile.born"],
        [path for path in leaf_paths(build_schema(ALL_TYPES).json_schema)],
    ],
)
def test_every_type_round_trips_on_an_experience_event(selected: list[str]) -> None:
    schema = build_schema(ALL_TYPES)
    config = configure(schema, selected)
    round_trip(schema, config)
    assert set(selected) <= set(config.fields)


@pytest.mark.parametrize(
    "selected", [[], ["_acme.profile.age", "_acme.order.items.gift"], ["_acme"]]
)
def test_every_type_round_trips_on_a_profile(selected: list[str]) -> None:
    schema = build_schema(ALL_TYPES, klass="Profile", groups=(), required=())
    config = configure(schema, selected)
    assert config.id_type == "rule"
    round_trip(schema, config)


def test_a_custom_identifier_inside_an_array_round_trips() -> None:
    schema = build_schema(ALL_TYPES)
    config = configure(
        schema, ["_acme.order.total"], namespace="SKU", identifier="_acme.order.items[0].sku"
    )
    filled = round_trip(schema, config)
    assert filled["_acme"]["order"]["items"][0]["sku"] == "SKU-42"
    assert "identityMap" in filled  # required by the schema anyway


def test_placeholders_are_typed() -> None:
    assert placeholder({"type": "string"}, NOW) == "string"
    assert placeholder({"type": "string", "format": "email"}, NOW) == "string"
    assert placeholder({"type": "string", "format": "date-time"}, NOW) == NOW
    assert placeholder({"type": "string", "format": "date"}, NOW) == "2026-05-04"
    assert placeholder({"type": "integer"}, NOW) == 0
    assert placeholder({"type": "number"}, NOW) == 0
    assert placeholder({"type": "boolean"}, NOW) is True
    assert placeholder({"type": ["null", "boolean"]}, NOW) is True
    assert placeholder({"type": "array", "items": {"type": "integer"}}, NOW) == [0]
    assert placeholder({"type": "array", "minItems": 3, "items": {"type": "boolean"}}, NOW) == [
        True,
        True,
        True,
    ]
    assert placeholder({"type": "array"}, NOW) == ["string"]
    assert placeholder(
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}},
        NOW,
    ) == {"a": "string", "b": 0}
    assert placeholder({}, NOW) == "string"


# the demo event, exactly


DEMO_FIELDS = {
    "person": {
        "type": "object",
        "properties": {
            "firstName": {"type": "string"},
            "lastName": {"type": "string"},
            "gender": {
                "type": "string",
                "enum": ["male", "female", "non_specific", "not_specified"],
            },
            "birthYear": {"type": "integer"},
            "emailAddress": {"type": "string", "format": "email"},
        },
    }
}


def test_the_message_is_exactly_what_a_data_system_sends() -> None:
    schema = build_schema(DEMO_FIELDS)
    config = configure(schema, ["_acme.person.firstName", "_acme.person.birthYear"])
    message = preview(schema, config)
    ref = {"id": SCHEMA_ID, "contentType": CONTENT_TYPE}
    assert message == {
        "header": {
            "msgType": "xdmEntityCreate",
            "msgId": "msg-1",
            "msgVersion": "1.0",
            "xactionId": "xaction-1",
            "datasetId": "dataset0001",
            "imsOrgId": ORG,
            "schemaRef": ref,
            "source": {"name": "Journeys"},
        },
        "body": {
            "xdmMeta": {"schemaRef": ref},
            "xdmEntity": {
                "_acme": {"person": {"firstName": "string", "birthYear": 0}},
                "_experience": {"campaign": {"orchestration": {"eventID": EVENT_ID}}},
                "_id": "string",
                "identityMap": {"Email": [{"id": "string"}]},
                "timestamp": NOW,
            },
        },
    }
    assert message["body"]["xdmMeta"]["schemaRef"] is not message["header"]["schemaRef"]


def test_without_a_default_dataset_the_header_has_no_dataset_id() -> None:
    schema = build_schema(DEMO_FIELDS)
    config = configure(schema, [])
    message = preview_message(
        json_schema=schema.json_schema,
        schema_version=1,
        config=config,
        dataset_id=None,
        msg_id="m",
        xaction_id="x",
        now_iso=NOW,
    )
    assert "datasetId" not in message["header"]
    assert message["header"]["schemaRef"]["contentType"].endswith(";version=1")


def test_the_preview_holds_exactly_the_selected_and_required_fields() -> None:
    schema = build_schema(DEMO_FIELDS)
    config = configure(schema, ["_acme.person.emailAddress"], namespace="ECID")
    entity = preview_entity(schema.json_schema, config, NOW)
    assert entity_leaves(entity) == {
        "_acme.person.emailAddress",
        EVENT_ID_PATH,
        "_id",
        "identityMap.ECID.id",
        "timestamp",
    }
    rule_schema = build_schema(DEMO_FIELDS, groups=(), required=())
    rule_config = configure(rule_schema, ["_acme.person.gender"])
    assert entity_leaves(preview_entity(rule_schema.json_schema, rule_config, NOW)) == {
        "_acme.person.gender",
        "_id",
        "identityMap.Email.id",
        "timestamp",
    }


def test_a_valid_placeholder_filled_demo_message_passes_and_an_unfilled_one_does_not() -> None:
    schema = build_schema(DEMO_FIELDS)
    config = configure(schema, ["_acme.person.emailAddress", "_acme.person.gender"])
    entity = preview_entity(schema.json_schema, config, NOW)
    pointers = {v.pointer for v in CompiledSchema.compile(schema).violations(entity)}
    assert pointers == {"#/_acme/person/emailAddress", "#/_acme/person/gender"}
    assert CompiledSchema.compile(schema).violations(fill(entity, schema.json_schema)) == []


# any shape (hypothesis)

NAMES = st.text(alphabet="abcdefghij", min_size=1, max_size=4)
LEAVES = st.sampled_from(
    [
        {"type": "string"},
        {"type": "string", "format": "email"},
        {"type": "string", "format": "uri"},
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date"},
        {"type": "string", "enum": ["x", "y"]},
        {"type": "string", "minLength": 7, "maxLength": 9},
        {"type": "string", "pattern": "^[A-Z]{3}$"},
        {"type": ["string", "null"]},
        {"type": "integer"},
        {"type": "integer", "minimum": 3, "maximum": 4},
        {"type": "number"},
        {"type": "number", "minimum": 2.5},
        {"type": "boolean"},
        {"type": "object"},
    ]
)


def _object(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(NAMES, children, min_size=1, max_size=4).flatmap(
        lambda props: st.lists(st.sampled_from(sorted(props)), unique=True).map(
            lambda required: _object(props, required)
        )
    )


def _arrays(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(children, st.integers(0, 2)).map(
        lambda t: {"type": "array", "items": t[0], **({"minItems": t[1]} if t[1] else {})}
    )


FIELD = st.recursive(LEAVES, lambda kids: st.one_of(_objects(kids), _arrays(kids)), max_leaves=10)
TENANT_FIELDS = st.dictionaries(NAMES, FIELD, min_size=1, max_size=4)


def _all_paths(json_schema: dict[str, Any]) -> list[str]:
    """Every leaf path and every object or array on the way to one."""
    found: set[str] = set()
    for leaf in leaf_paths(json_schema):
        parts = leaf.split(".")
        found |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    identity_map = ["identityMap.Email", "identityMap.ECID.primary", "identityMap.Email.id"]
    return sorted(found) + identity_map + ["identityMap.Phone.authenticatedState"]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    fields=TENANT_FIELDS,
    klass=st.sampled_from(["ExperienceEvent", "Profile"]),
    orchestration=st.booleans(),
    environment=st.booleans(),
    root_required=st.booleans(),
    tenant_required=st.booleans(),
    namespace=st.sampled_from(["Email", "ECID", "Phone"]),
    data=st.data(),
)
def test_any_schema_shape_round_trips(
    fields: dict[str, Any],
    klass: str,
    orchestration: bool,
    environment: bool,
    root_required: bool,
    tenant_required: bool,
    namespace: str,
    data: st.DataObject,
) -> None:
    groups: tuple[str, ...] = ()
    if klass == "ExperienceEvent":
        groups = tuple(
            g
            for g, on in (
                ("orchestration-eventid", orchestration),
                ("environment-details", environment),
            )
            if on
        )
    required = tuple(
        r for r, on in (("identityMap", root_required), ("_acme", tenant_required)) if on
    )
    schema = build_schema(fields, klass=klass, groups=groups, required=required)
    candidates = _all_paths(schema.json_schema)
    selected = data.draw(st.lists(st.sampled_from(candidates), max_size=6, unique=True))
    config = configure(schema, selected, namespace=namespace)
    for path in selected:
        assert field_schema(schema.json_schema, path) is not None
    round_trip(schema, config)


def test_the_filler_refuses_what_is_not_a_typed_placeholder() -> None:
    schema = build_schema(DEMO_FIELDS)
    with pytest.raises(AssertionError):
        fill({"_acme": {"person": {"birthYear": "0"}}}, schema.json_schema)
    with pytest.raises(AssertionError):
        fill({"_acme": {"person": {"firstName": "Ada"}}}, schema.json_schema)
    filled = fill({"_acme": {"person": {"firstName": "string"}}}, schema.json_schema)
    assert filled == {"_acme": {"person": {"firstName": "value"}}}
