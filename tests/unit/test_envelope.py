"""read_envelope: every shape error names its place in the message (a JSON pointer)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from wayfare.errors import MessageFormatError
from wayfare.model.envelope import UNKNOWN_FORMAT, read_envelope

SCHEMA_ID = "https://ns.adobe.com/acme/schemas/abc"
CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"


def envelope(**header: Any) -> dict[str, Any]:
    ref = {"id": SCHEMA_ID, "contentType": CONTENT_TYPE}
    return {
        "header": {"schemaRef": dict(ref), **header},
        "body": {"xdmMeta": {"schemaRef": dict(ref)}, "xdmEntity": {"_id": "1"}},
    }


def format_error(message: object) -> tuple[str, str]:
    """(pointer, keyword) of the single violation read_envelope reports."""
    with pytest.raises(MessageFormatError) as caught:
        read_envelope(message)
    assert caught.value.message.startswith(UNKNOWN_FORMAT)
    (violation,) = caught.value.violations
    return violation.pointer, violation.keyword


def without(path: tuple[str, ...]) -> dict[str, Any]:
    message = envelope()
    node = message
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return message


def replaced(path: tuple[str, ...], value: object) -> dict[str, Any]:
    message = envelope()
    node = message
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return message


def test_a_well_formed_message_is_read() -> None:
    message = envelope(datasetId="ds-1", msgId="m-1", imsOrgId="ACME@AdobeOrg")
    read = read_envelope(message)
    assert read.schema_id == SCHEMA_ID
    assert read.schema_version == 1
    assert (read.dataset_id, read.msg_id, read.ims_org_id) == ("ds-1", "m-1", "ACME@AdobeOrg")
    assert read.entity == {"_id": "1"}
    assert read.header is message["header"]


def test_optional_header_fields_may_be_absent() -> None:
    read = read_envelope(envelope())
    assert (read.dataset_id, read.msg_id, read.ims_org_id) == (None, None, None)


@pytest.mark.parametrize("message", [[], "text", 3, None])
def test_a_message_that_is_not_an_object_is_refused(message: object) -> None:
    assert format_error(message) == ("", "type")


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        (("header",), "/header"),
        (("body",), "/body"),
        (("body", "xdmMeta"), "/body/xdmMeta"),
        (("body", "xdmEntity"), "/body/xdmEntity"),
    ],
)
def test_a_missing_part_is_named(path: tuple[str, ...], pointer: str) -> None:
    assert format_error(without(path)) == (pointer, "required")


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        (("header",), "/header"),
        (("body",), "/body"),
        (("body", "xdmMeta"), "/body/xdmMeta"),
        (("body", "xdmEntity"), "/body/xdmEntity"),
    ],
)
@pytest.mark.parametrize("value", [[], "x", 1])
def test_a_part_that_is_not_an_object_is_named(
    path: tuple[str, ...], pointer: str, value: object
) -> None:
    assert format_error(replaced(path, value)) == (pointer, "required")


def test_a_schema_ref_in_either_place_is_enough() -> None:
    only_meta = without(("header", "schemaRef"))
    assert read_envelope(only_meta).schema_id == SCHEMA_ID
    only_header = without(("body", "xdmMeta", "schemaRef"))
    assert read_envelope(only_header).schema_id == SCHEMA_ID


def test_a_message_without_any_schema_ref_is_refused() -> None:
    message = without(("header", "schemaRef"))
    del message["body"]["xdmMeta"]["schemaRef"]
    assert format_error(message) == ("/header/schemaRef", "required")


@pytest.mark.parametrize(
    ("container", "pointer"), [(("header",), "/header"), (("body", "xdmMeta"), "/body/xdmMeta")]
)
def test_a_schema_ref_that_is_not_an_object_is_refused(
    container: tuple[str, ...], pointer: str
) -> None:
    message = replaced((*container, "schemaRef"), SCHEMA_ID)
    assert format_error(message) == (f"{pointer}/schemaRef", "type")


@pytest.mark.parametrize("bad_id", ["", None, 42])
@pytest.mark.parametrize(
    ("container", "pointer"), [(("header",), "/header"), (("body", "xdmMeta"), "/body/xdmMeta")]
)
def test_a_schema_ref_needs_a_non_empty_id(
    container: tuple[str, ...], pointer: str, bad_id: object
) -> None:
    message = replaced((*container, "schemaRef", "id"), bad_id)
    assert format_error(message) == (f"{pointer}/schemaRef/id", "required")


def test_header_and_xdm_meta_must_name_the_same_schema() -> None:
    message = replaced(("body", "xdmMeta", "schemaRef", "id"), SCHEMA_ID + "-other")
    assert format_error(message) == ("/body/xdmMeta/schemaRef/id", "const")


def test_header_and_xdm_meta_must_name_the_same_version() -> None:
    message = replaced(
        ("body", "xdmMeta", "schemaRef", "contentType"),
        "application/vnd.adobe.xed-full+json;version=2",
    )
    assert format_error(message) == ("/body/xdmMeta/schemaRef/contentType", "const")


@pytest.mark.parametrize(
    ("content_type", "version"),
    [
        ("application/vnd.adobe.xed-full+json;version=3", 3),
        ("application/vnd.adobe.xed-full+json; version = 4.1", 4),
        ("application/vnd.adobe.xed-full+json;charset=utf-8;version=5", 5),
        ("application/vnd.adobe.xed-full+json", None),
        (None, None),
    ],
)
def test_the_version_is_read_from_the_content_type(
    content_type: str | None, version: int | None
) -> None:
    message = envelope()
    for ref in (message["header"]["schemaRef"], message["body"]["xdmMeta"]["schemaRef"]):
        ref["contentType"] = content_type
    assert read_envelope(message).schema_version == version


def test_a_version_named_in_one_place_only_is_used() -> None:
    message = replaced(("header", "schemaRef", "contentType"), None)
    message["body"]["xdmMeta"]["schemaRef"]["contentType"] = CONTENT_TYPE.replace("=1", "=7")
    assert read_envelope(message).schema_version == 7


def test_an_unreadable_version_is_refused() -> None:
    message = replaced(
        ("header", "schemaRef", "contentType"), "application/vnd.adobe.xed-full+json;version=one"
    )
    assert format_error(message) == ("/header/schemaRef/contentType", "pattern")


def test_a_content_type_that_is_not_a_string_is_refused() -> None:
    message = replaced(("body", "xdmMeta", "schemaRef", "contentType"), 1)
    assert format_error(message) == ("/body/xdmMeta/schemaRef/contentType", "type")


@pytest.mark.parametrize("key", ["datasetId", "msgId", "imsOrgId"])
@pytest.mark.parametrize("value", [1, ["x"], {"id": "x"}, True])
def test_header_ids_must_be_strings(key: str, value: object) -> None:
    assert format_error(envelope(**{key: value})) == (f"/header/{key}", "type")


def test_unknown_header_fields_are_ignored() -> None:
    plain = read_envelope(envelope())
    noisy_message = envelope(
        eventType="web.page", action="create", createdAt=1, source={"name": 5}, msgType=[]
    )
    noisy = read_envelope(copy.deepcopy(noisy_message))
    assert (noisy.schema_id, noisy.schema_version, noisy.msg_id) == (
        plain.schema_id,
        plain.schema_version,
        plain.msg_id,
    )
    assert noisy.header["eventType"] == "web.page"
