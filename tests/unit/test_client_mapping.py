"""Filling a template from input rows (the client's ``Filler``), and planning batches under
the request limit: no server, no I/O."""

from __future__ import annotations

import dataclasses
import itertools
import math
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from wayfare.client.batching import (
    REQUEST_LIMIT,
    batch_body,
    batch_url,
    encode,
    plan_batches,
    result_from_single,
    results_from_batch,
)
from wayfare.client.mapping import (
    Filler,
    MappingError,
    convert,
    dotted,
    field_value,
    is_placeholder,
    parse_path,
    schema_at,
)
from wayfare.client.rendering import MessageIds

EVENT_ID = "e" * 64
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "_id": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "identityMap": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "primary": {"type": "boolean"}},
                },
            },
        },
        "_acme": {
            "type": "object",
            "properties": {
                "person": {
                    "type": "object",
                    "properties": {
                        "firstName": {"type": "string"},
                        "birthYear": {"type": "integer"},
                        "score": {"type": "number"},
                        "optIn": {"type": "boolean"},
                        "zip": {"type": "string"},
                        "nickname": {"type": ["string", "null"]},
                        "visits": {"type": ["null", "integer"]},
                    },
                },
                "tags": {"type": "array", "items": {"type": "string"}},
                "orders": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"total": {"type": "number"}, "qty": {"type": "integer"}},
                    },
                },
            },
        },
    },
}


def template() -> dict[str, Any]:
    """A payload preview as the server renders it."""
    return {
        "header": {
            "msgType": "xdmEntityCreate",
            "msgId": "preview-msg",
            "msgVersion": "1.0",
            "xactionId": "preview-xaction",
            "imsOrgId": "ACME@AdobeOrg",
            "schemaRef": {"id": "https://ns.adobe.com/acme/schemas/1"},
            "source": {"name": "Journeys"},
        },
        "body": {
            "xdmMeta": {"schemaRef": {"id": "https://ns.adobe.com/acme/schemas/1"}},
            "xdmEntity": {
                "_id": "string",
                "timestamp": "2020-01-01T00:00:00.000Z",
                "identityMap": {"Email": [{"id": "string"}]},
                "_experience": {"campaign": {"orchestration": {"eventID": EVENT_ID}}},
                "_acme": {
                    "person": {
                        "firstName": "string",
                        "birthYear": 0,
                        "score": 0,
                        "optIn": True,
                        "zip": "string",
                    },
                    "tags": ["string"],
                    "orders": [{"total": 0, "qty": 0}],
                },
            },
        },
    }


FULL_MAPPING = {
    "identityMap.Email[0].id": "email",
    "_acme.person.firstName": "first",
    "_acme.person.birthYear": "year",
    "_acme.person.score": "score",
    "_acme.person.optIn": "opt_in",
    "_acme.person.zip": "zip",
    "_acme.tags[0]": "tag",
    "_acme.orders[0].total": "total",
    "_acme.orders[0].qty": "qty",
}
ROW = {
    "email": "ada@example.com",
    "first": "Ada",
    "year": "1990",
    "score": "4.5",
    "opt_in": "yes",
    "zip": "01234",
    "tag": "vip",
    "total": "12",
    "qty": "3",
}


def entity_of(message: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = message["body"]["xdmEntity"]
    return found


# conversion per schema type


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("42", "integer", 42),
        (" 42 ", "integer", 42),
        ("-7", "integer", -7),
        ("42.0", "integer", 42),
        ("1e3", "integer", 1000),
        ("3.25", "number", 3.25),
        ("3", "number", 3),
        ("-0.5", "number", -0.5),
        ("1e3", "number", 1000),
        ("true", "boolean", True),
        ("True", "boolean", True),
        ("yes", "boolean", True),
        ("y", "boolean", True),
        ("1", "boolean", True),
        (" false ", "boolean", False),
        ("NO", "boolean", False),
        ("0", "boolean", False),
        ("f", "boolean", False),
        ("01234", "string", "01234"),
        (" spaced ", "string", " spaced "),
        ("2024-01-01T00:00:00Z", "string", "2024-01-01T00:00:00Z"),
        (5, "string", "5"),
        (2.5, "string", "2.5"),
        (7, "integer", 7),
        (True, "boolean", True),
    ],
)
def test_values_are_converted_to_the_schema_type(raw: Any, kind: str, value: Any) -> None:
    converted = convert(raw, {"type": kind}, None)
    assert converted == value
    assert type(converted) is type(value)


@pytest.mark.parametrize(
    ("raw", "kind", "reason"),
    [
        ("abc", "integer", "'abc' is not an integer"),
        ("4.5", "integer", "'4.5' is not an integer"),
        ("", "integer", "'' is not an integer"),
        ("inf", "integer", "'inf' is not an integer"),
        ("x1", "number", "'x1' is not a number"),
        ("nan", "number", "'nan' is not a number"),
        ("inf", "number", "'inf' is not a number"),
        ("-Infinity", "number", "'-Infinity' is not a number"),
        ("maybe", "boolean", "'maybe' is not true or false"),
        ("2", "boolean", "'2' is not true or false"),
    ],
)
def test_values_that_do_not_convert_say_why(raw: str, kind: str, reason: str) -> None:
    with pytest.raises(MappingError) as caught:
        convert(raw, {"type": kind}, None)
    assert str(caught.value) == reason


def test_nullable_types_convert_to_the_type_that_is_not_null() -> None:
    assert convert("5", {"type": ["null", "integer"]}, None) == 5
    assert convert("5", {"type": ["string", "null"]}, None) == "5"
    assert convert("no", {"type": ["boolean", "null"]}, None) is False
    with pytest.raises(MappingError):
        convert("x", {"type": ["integer", "null"]}, None)


def test_without_a_schema_the_placeholder_gives_the_type() -> None:
    assert convert("5", {}, 0) == 5
    assert convert("5.5", {}, 0) == 5.5  # 0 stands for integers and numbers alike
    assert convert("5.5", {}, 0.0) == 5.5
    assert convert("no", {}, True) is False
    assert convert("5", {}, "string") == "5"
    assert convert("5", {}, None) == "5"


def test_schema_at_follows_properties_arrays_and_identity_namespaces() -> None:
    assert schema_at(SCHEMA, parse_path("_acme.person.birthYear")) == {"type": "integer"}
    assert schema_at(SCHEMA, parse_path("_acme.orders[0].qty")) == {"type": "integer"}
    assert schema_at(SCHEMA, parse_path("_acme.tags[3]")) == {"type": "string"}
    assert schema_at(SCHEMA, parse_path("identityMap.ECID[0].primary")) == {"type": "boolean"}
    assert schema_at(SCHEMA, parse_path("_acme.nope")) == {}
    assert schema_at(None, parse_path("a.b")) == {}


def test_paths() -> None:
    assert parse_path("identityMap.Email[0].id") == ["identityMap", "Email", 0, "id"]
    assert parse_path("a[1][2]") == ["a", 1, 2]
    assert dotted(["identityMap", "Email", 0, "id"]) == "identityMap.Email[0].id"
    for bad in ("", "...", "[]"):
        with pytest.raises(MappingError, match="empty path"):
            parse_path(bad)


def test_placeholders_are_the_typed_defaults_only() -> None:
    assert is_placeholder("string")
    assert is_placeholder(0)
    assert is_placeholder(True)
    for value in ("String", "", 0.0, 1, False, None, [], {}, EVENT_ID):
        assert not is_placeholder(value), value


# filling


def test_fill_converts_every_mapped_value() -> None:
    filler = Filler.compile(template(), FULL_MAPPING, SCHEMA)
    assert filler.unmapped_placeholders() == []
    entity = entity_of(filler.fill(ROW))
    assert entity["identityMap"] == {"Email": [{"id": "ada@example.com"}]}
    assert entity["_acme"] == {
        "person": {
            "firstName": "Ada",
            "birthYear": 1990,
            "score": 4.5,
            "optIn": True,
            "zip": "01234",
        },
        "tags": ["vip"],
        "orders": [{"total": 12, "qty": 3}],
    }
    assert entity["_experience"]["campaign"]["orchestration"]["eventID"] == EVENT_ID


def test_fill_generates_ids_and_timestamps_per_message() -> None:
    filler = Filler.compile(template(), FULL_MAPPING, SCHEMA)
    now = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    first, second = filler.fill(ROW, now), filler.fill(ROW, now)
    for message in (first, second):
        uuid.UUID(message["header"]["msgId"])
        uuid.UUID(message["header"]["xactionId"])
        uuid.UUID(entity_of(message)["_id"])
        assert entity_of(message)["timestamp"] == "2026-03-04T05:06:07.891Z"
    assert first["header"]["msgId"] != second["header"]["msgId"]
    assert first["header"]["xactionId"] != second["header"]["xactionId"]
    assert entity_of(first)["_id"] != entity_of(second)["_id"]
    assert first["header"]["msgId"] != "preview-msg"
    untouched = {k: v for k, v in first["header"].items() if k not in ("msgId", "xactionId")}
    assert untouched == {
        k: v for k, v in template()["header"].items() if k not in ("msgId", "xactionId")
    }
    stamp = entity_of(filler.fill(ROW))["timestamp"]  # now, when not given
    assert stamp.endswith("Z") and stamp[:4] == str(datetime.now(UTC).year)


def test_mapped_ids_and_timestamps_are_taken_from_the_input() -> None:
    mapping = {**FULL_MAPPING, "_id": "id", "timestamp": "at"}
    filler = Filler.compile(template(), mapping, SCHEMA)
    entity = entity_of(filler.fill({**ROW, "id": "order-7", "at": "2024-01-01T00:00:00Z"}))
    assert (entity["_id"], entity["timestamp"]) == ("order-7", "2024-01-01T00:00:00Z")


def test_the_template_is_never_changed_by_filling() -> None:
    filler = Filler.compile(template(), FULL_MAPPING, SCHEMA)
    filler.fill(ROW)
    filler.fill({**ROW, "first": "Bob"})
    assert entity_of(filler.template)["_acme"]["person"]["firstName"] == "string"


def test_a_conversion_error_names_the_field_and_path() -> None:
    filler = Filler.compile(template(), FULL_MAPPING, SCHEMA)
    with pytest.raises(MappingError) as caught:
        filler.fill({**ROW, "year": "abc"})
    assert str(caught.value) == "year → _acme.person.birthYear: 'abc' is not an integer"
    with pytest.raises(MappingError, match=r"opt_in → _acme.person.optIn: 'sometimes'"):
        filler.fill({**ROW, "opt_in": "sometimes"})


def test_an_empty_or_missing_value_leaves_the_field_out() -> None:
    filler = Filler.compile(template(), FULL_MAPPING, SCHEMA)
    entity = entity_of(filler.fill({**ROW, "zip": "", "email": ""}))
    assert "zip" not in entity["_acme"]["person"]
    assert entity["identityMap"] == {"Email": [{}]}
    row = dict(ROW)
    del row["first"]
    assert "firstName" not in entity_of(filler.fill(row))["_acme"]["person"]


def test_array_paths_create_what_the_template_lacks() -> None:
    mapping = {
        **FULL_MAPPING,
        "identityMap.Phone[0].id": "phone",
        "identityMap.Email[0].primary": "primary",
        "_acme.tags[1]": "tag2",
        "_acme.orders[1].qty": "qty2",
    }
    filler = Filler.compile(template(), mapping, SCHEMA)
    entity = entity_of(filler.fill({**ROW, "phone": 5551234, "primary": "1", "tag2": "gold"}))
    assert entity["identityMap"] == {
        "Email": [{"id": "ada@example.com", "primary": True}],
        "Phone": [{"id": "5551234"}],
    }
    assert entity["_acme"]["tags"] == ["vip", "gold"]
    assert entity["_acme"]["orders"] == [{"total": 12, "qty": 3}]  # qty2 missing: left out
    entity = entity_of(filler.fill({**ROW, "qty2": "9"}))
    assert entity["_acme"]["orders"] == [{"total": 12, "qty": 3}, {"qty": 9}]


def test_json_rows_are_read_by_dotted_fields_and_keep_their_types() -> None:
    mapping = {
        "identityMap.Email[0].id": "contact.email",
        "_acme.person.firstName": "person.name.first",
        "_acme.person.birthYear": "person.born",
        "_acme.person.score": "person.score",
        "_acme.person.optIn": "person.optIn",
        "_acme.person.zip": "address.zip",
        "_acme.tags[0]": "tags.0",
        "_acme.orders[0].total": "order.total",
        "_acme.orders[0].qty": "order.qty",
    }
    filler = Filler.compile(template(), mapping, SCHEMA)
    row = {
        "contact": {"email": "ada@example.com"},
        "person": {"name": {"first": "Ada"}, "born": 1990, "score": 2, "optIn": False},
        "address": {"zip": 75011},
        "order": {"total": 9.5, "qty": "2"},
    }
    entity = entity_of(filler.fill(row))
    assert entity["identityMap"]["Email"][0]["id"] == "ada@example.com"
    assert entity["_acme"]["person"] == {
        "firstName": "Ada",
        "birthYear": 1990,
        "score": 2,
        "optIn": False,
        "zip": "75011",
    }
    assert entity["_acme"]["orders"] == [{"total": 9.5, "qty": 2}]
    assert "tags" in entity["_acme"]  # tags.0 is not a path into a list: left as it was


def test_a_column_named_with_dots_wins_over_a_path() -> None:
    assert field_value({"a.b": "flat", "a": {"b": "nested"}}, "a.b") == "flat"
    assert field_value({"a": {"b": "nested"}}, "a.b") == "nested"
    assert field_value({"a": "x"}, "a.b") is None
    assert field_value({}, "a") is None


def test_unmapped_placeholders_are_listed_except_generated_ids() -> None:
    filler = Filler.compile(template(), {"identityMap.Email[0].id": "email"}, SCHEMA)
    assert filler.unmapped_placeholders() == [
        "_acme.person.firstName",
        "_acme.person.birthYear",
        "_acme.person.score",
        "_acme.person.optIn",
        "_acme.person.zip",
        "_acme.tags[0]",
        "_acme.orders[0].total",
        "_acme.orders[0].qty",
    ]


def test_a_placeholder_deeper_than_the_root_is_not_generated() -> None:
    message = template()
    entity_of(message)["_acme"]["person"]["_id"] = "string"
    filler = Filler.compile(message, FULL_MAPPING, SCHEMA)
    assert filler.unmapped_placeholders() == ["_acme.person._id"]


def test_omitted_paths_leave_every_message_and_the_placeholder_list() -> None:
    mapping = {
        k: v
        for k, v in FULL_MAPPING.items()
        if not k.startswith("_acme.orders") and k != "_acme.person.zip"
    }
    filler = Filler.compile(template(), mapping, SCHEMA, omit=["_acme.orders", "_acme.person.zip"])
    assert filler.unmapped_placeholders() == []
    entity = entity_of(filler.fill(ROW))
    assert "orders" not in entity["_acme"]
    assert "zip" not in entity["_acme"]["person"]


def test_omitting_what_the_template_lacks_is_an_error() -> None:
    with pytest.raises(MappingError, match=r"--omit _acme\.person\.phone"):
        Filler.compile(template(), {}, SCHEMA, omit=["_acme.person.phone"])


def test_a_template_must_have_an_entity() -> None:
    for bad in ({}, {"body": {}}, {"body": {"xdmEntity": []}}, {"body": "x"}):
        with pytest.raises(MappingError, match=r"body\.xdmEntity"):
            Filler.compile(bad, {}, None)


def test_without_a_schema_types_come_from_the_placeholders() -> None:
    filler = Filler.compile(template(), FULL_MAPPING, None)
    entity = entity_of(filler.fill(ROW))
    assert entity["_acme"]["person"]["birthYear"] == 1990
    assert entity["_acme"]["person"]["score"] == 4.5
    assert entity["_acme"]["person"]["optIn"] is True
    assert entity["_acme"]["person"]["zip"] == "01234"


# batches


def test_plan_batches_stays_under_the_byte_limit() -> None:
    messages = [encode({"n": i, "pad": "x" * (50 + (i * 37) % 400)}) for i in range(400)]
    limit = 4096
    batches = list(plan_batches(messages, max_bytes=limit, max_messages=1000))
    assert [i for batch in batches for i in batch] == list(range(400))
    for batch in batches:
        body = batch_body(messages, batch)
        assert len(body) <= limit
        assert orjson.loads(body) == {"messages": [orjson.loads(messages[i]) for i in batch]}
    for batch, following in itertools.pairwise(batches):  # each batch is full
        assert len(batch_body(messages, [*batch, following[0]])) > limit


def test_plan_batches_stays_under_the_message_count() -> None:
    messages = [b"{}"] * 1001
    batches = list(plan_batches(messages, max_messages=500))
    assert [len(b) for b in batches] == [500, 500, 1]


def test_a_message_over_the_limit_forms_a_batch_of_its_own() -> None:
    messages = [b"{}", b"x" * 200, b"{}", b"{}"]
    assert list(plan_batches(messages, max_bytes=100)) == [[0], [1], [2, 3]]
    assert list(plan_batches([], max_bytes=100)) == []


def test_the_default_limit_is_one_megabyte() -> None:
    assert REQUEST_LIMIT == 1024 * 1024
    one_kb = encode({"pad": "x" * 1010})
    batches = list(plan_batches([one_kb] * 3000, max_messages=5000))
    assert len(batches) == math.ceil(3000 * (len(one_kb) + 1) / REQUEST_LIMIT)
    assert all(len(batch_body([one_kb] * 3000, b)) <= REQUEST_LIMIT for b in batches)


@pytest.mark.parametrize(
    ("inlet", "batch"),
    [
        ("http://h:8080/collection/abc", "http://h:8080/collection/batch/abc"),
        ("http://h:8080/collection/abc/", "http://h:8080/collection/batch/abc"),
        (
            "http://h/collection/abc?syncValidation=true",
            "http://h/collection/batch/abc?syncValidation=true",
        ),
        (
            "https://dcs.adobedc.net/collection/9f1a",
            "https://dcs.adobedc.net/collection/batch/9f1a",
        ),
        (
            "https://platform.adobe.io/data/foundation/import/collection/9f1a",
            "https://platform.adobe.io/data/foundation/import/collection/batch/9f1a",
        ),
    ],
)
def test_batch_url(inlet: str, batch: str) -> None:
    assert batch_url(inlet) == batch


# reading answers


def test_results_of_a_batch_answer_follow_the_message_order() -> None:
    body = {
        "responses": [
            {"xactionId": "b-0"},
            {
                "xactionId": "b-1",
                "status": 400,
                "statusCode": 400,
                "message": "bad",
                "report": {
                    "message": "bad",
                    "cause": {
                        "_streamingValidation": [
                            {
                                "causingExceptions": [
                                    {"pointerToViolation": "#/a", "keyword": "type"}
                                ]
                            }
                        ]
                    },
                },
            },
            {"xactionId": "b-2", "duplicateOf": "a-5"},
        ]
    }
    results = results_from_batch([4, 5, 6], 207, body, retries=2)
    assert [(r.index, r.ok, r.status, r.xaction_id) for r in results] == [
        (4, True, 200, "b-0"),
        (5, False, 400, "b-1"),
        (6, True, 200, "b-2"),
    ]
    assert results[1].violations == [{"pointerToViolation": "#/a", "keyword": "type"}]
    assert results[1].message == "bad"
    assert results[2].duplicate_of == "a-5"
    assert all(r.retries == 2 for r in results)


def test_a_whole_request_failure_applies_to_every_message() -> None:
    results = results_from_batch([0, 1], 413, {"detail": "too large"}, retries=0)
    assert [(r.ok, r.status, r.message) for r in results] == [
        (False, 413, "too large"),
        (False, 413, "too large"),
    ]


def test_results_of_a_single_answer() -> None:
    ok = result_from_single(0, 200, {"xactionId": "1:a"}, retries=1)
    assert (ok.ok, ok.status, ok.xaction_id, ok.retries) == (True, 200, "1:a", 1)
    bad = result_from_single(0, 400, {"title": "Invalid XDM Message Format"}, retries=0)
    assert (bad.ok, bad.status, bad.message) == (False, 400, "Invalid XDM Message Format")


# rendering straight to JSON


def _rendered_as_filled(filler: Filler, row: dict[str, Any]) -> bytes:
    """``render``'s bytes, after checking they are ``fill``'s with the same ids and time."""
    now = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    rendering = dataclasses.replace(filler, new_id=MessageIds(bytes(10)))
    filling = dataclasses.replace(filler, new_id=MessageIds(bytes(10)))
    rendered = rendering.render(row, now)
    assert rendered == orjson.dumps(filling.fill(row, now))
    return rendered


NESTED_SCHEMA = {"type": "object", "properties": {"_acme": SCHEMA["properties"]["_acme"]}}


@pytest.mark.parametrize(
    ("mapping", "omit", "cut"),
    [
        (FULL_MAPPING, (), True),
        ({**FULL_MAPPING, "_id": "id", "timestamp": "at"}, (), True),
        ({**FULL_MAPPING, "_acme.tags[3]": "tag"}, (), False),  # makes array items
        ({"_acme.person.nickname": "first"}, ("_acme.person.zip",), False),  # a new field
        ({"_acme.person": "first"}, (), False),  # an object replaced by a value
        ({"identityMap.Email[0].id": "email"}, ("timestamp",), True),
    ],
)
def test_rendered_json_is_the_filled_message(
    mapping: dict[str, str], omit: tuple[str, ...], cut: bool
) -> None:
    filler = Filler.compile(template(), mapping, SCHEMA, omit)
    assert (filler.holes is not None) == cut
    rows = [
        ROW,
        {**ROW, "first": 'quote " and \\ backslash, ünïcode, \u2028'},
        {**ROW, "year": "", "tag": ""},  # left out: the filled copy
        {k: v for k, v in ROW.items() if k != "zip"},
        {**ROW, "id": "order-7", "at": "2024-01-01T00:00:00Z"},
    ]
    for row in rows:
        _rendered_as_filled(filler, row)


def test_rendered_json_rows_keep_their_nested_values() -> None:
    filler = Filler.compile(template(), {"_acme.person.firstName": "person.name"}, NESTED_SCHEMA)
    rendered = _rendered_as_filled(filler, {"person": {"name": {"given": "Ada"}}})
    assert orjson.loads(rendered)["body"]["xdmEntity"]["_acme"]["person"]["firstName"] == {
        "given": "Ada"
    }


def test_a_template_without_header_ids_gets_them_in_render_too() -> None:
    bare = template()
    del bare["header"]["msgId"], bare["header"]["xactionId"]
    filler = Filler.compile(bare, FULL_MAPPING, SCHEMA)
    header = orjson.loads(_rendered_as_filled(filler, ROW))["header"]
    assert list(header)[-2:] == ["msgId", "xactionId"]


def test_a_rendering_conversion_error_names_the_field_and_path() -> None:
    filler = Filler.compile(template(), FULL_MAPPING, SCHEMA)
    with pytest.raises(MappingError, match=r"year → _acme\.person\.birthYear: 'old'"):
        filler.render({**ROW, "year": "old"})


def test_message_ids_are_unique_version_8_uuids() -> None:
    ids = MessageIds()
    made = [ids() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    for text in (made[0], made[-1]):
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (8, uuid.RFC_4122)
        assert str(parsed) == text
    assert MessageIds()()[:23] != made[0][:23]  # another run, another prefix
    assert MessageIds(bytes(10))() == MessageIds(bytes(10))()
