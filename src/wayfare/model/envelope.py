"""Reading Adobe's streaming message envelope.

The shape: ``{"header": {...}, "body": {"xdmMeta": {...}, "xdmEntity": {...}}}``.

Only what ingestion needs is read; unknown header fields (``eventType``, ``action``,
``createdAt``, ...) are ignored, as Adobe's inlet ignores them.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from wayfare.errors import MessageFormatError, Violation

UNKNOWN_FORMAT = "Message has unknown xdm format"


def entity_of(document: Any) -> dict[str, Any]:
    """A stored message's ``body.xdmEntity``; an empty one when it has none (an accepted
    message has one: ``read_envelope``)."""
    body = document.get("body") if isinstance(document, dict) else None
    entity = body.get("xdmEntity") if isinstance(body, dict) else None
    return entity if isinstance(entity, dict) else {}


class Envelope(msgspec.Struct, frozen=True):
    header: dict[str, Any]
    entity: dict[str, Any]
    schema_id: str
    schema_version: int | None
    dataset_id: str | None
    msg_id: str | None
    ims_org_id: str | None


def _format_error(pointer: str, detail: str, keyword: str = "required") -> MessageFormatError:
    return MessageFormatError(
        f"{UNKNOWN_FORMAT}: {detail}",
        violations=(Violation(pointer=pointer, keyword=keyword, message=detail),),
    )


def _schema_ref(container: dict[str, Any], pointer: str) -> tuple[str | None, int | None]:
    ref = container.get("schemaRef")
    if ref is None:
        return None, None
    if not isinstance(ref, dict):
        raise _format_error(f"{pointer}/schemaRef", "schemaRef must be an object", "type")
    schema_id = ref.get("id")
    if not isinstance(schema_id, str) or not schema_id:
        raise _format_error(f"{pointer}/schemaRef/id", "schemaRef.id must be a non-empty string")
    return schema_id, _version_of(ref.get("contentType"), f"{pointer}/schemaRef/contentType")


def _version_of(content_type: object, pointer: str) -> int | None:
    if content_type is None:
        return None
    if not isinstance(content_type, str):
        raise _format_error(pointer, "contentType must be a string", "type")
    version = _parse_version(content_type)
    if isinstance(version, str):
        raise _format_error(
            pointer, f"contentType has an unreadable version {version!r}", "pattern"
        )
    return version


@functools.lru_cache(maxsize=256)
def _parse_version(content_type: str) -> int | str | None:
    """The ``;version=N`` of a content type (cached: senders repeat the same few);
    the unreadable text instead of a number when it is not one."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip() == "version":
            try:
                version = int(value.strip().split(".", 1)[0])
            except ValueError:
                return value
            return version if 0 < version < 2**31 else value
    return None


def _optional_string(header: dict[str, Any], key: str) -> str | None:
    value = header.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _format_error(f"/header/{key}", f"header.{key} must be a string", "type")
    return value


def read_envelope(message: object) -> Envelope:
    """Check the envelope's shape and pull out what routing needs; raise MessageFormatError."""
    if not isinstance(message, dict):
        raise _format_error("", "the message must be a JSON object", "type")
    header = message.get("header")
    if not isinstance(header, dict):
        raise _format_error("/header", "header is missing or not an object")
    body = message.get("body")
    if not isinstance(body, dict):
        raise _format_error("/body", "body is missing or not an object")
    meta = body.get("xdmMeta")
    if not isinstance(meta, dict):
        raise _format_error("/body/xdmMeta", "body.xdmMeta is missing or not an object")
    entity = body.get("xdmEntity")
    if not isinstance(entity, dict):
        raise _format_error("/body/xdmEntity", "body.xdmEntity is missing or not an object")
    header_id, header_version = _schema_ref(header, "/header")
    meta_id, meta_version = _schema_ref(meta, "/body/xdmMeta")
    if header_id is None and meta_id is None:
        raise _format_error("/header/schemaRef", "header.schemaRef is missing")
    if header_id is not None and meta_id is not None and header_id != meta_id:
        raise _format_error(
            "/body/xdmMeta/schemaRef/id",
            f"body.xdmMeta.schemaRef.id {meta_id!r} does not match header.schemaRef.id "
            f"{header_id!r}",
            "const",
        )
    if header_version is not None and meta_version is not None and header_version != meta_version:
        raise _format_error(
            "/body/xdmMeta/schemaRef/contentType",
            f"body.xdmMeta.schemaRef names version {meta_version} but header.schemaRef "
            f"names version {header_version}",
            "const",
        )
    return Envelope(
        header=header,
        entity=entity,
        schema_id=header_id or meta_id or "",
        schema_version=header_version if header_version is not None else meta_version,
        dataset_id=_optional_string(header, "datasetId"),
        msg_id=_optional_string(header, "msgId"),
        ims_org_id=_optional_string(header, "imsOrgId"),
    )
