"""The collection endpoints' shapes, as Adobe's streaming ingestion API describes them."""

from __future__ import annotations

from typing import Any

import msgspec

from wayfare.wire.base import JSONObject, Report, Wire


class SchemaRef(Wire):
    id: str
    """The schema's ``$id`` (``https://ns.adobe.com/<tenant>/schemas/<hex>``)."""
    contentType: str
    """``application/vnd.adobe.xed-full+json;version=1``: the version validates."""


class MessageHeader(Wire):
    """Adobe's message header. ``schemaRef`` picks the schema and its version; ``imsOrgId``
    must be the inlet's org; ``msgId`` deduplicates per org (a retry is answered with the
    first xactionId); ``source`` is ``{"name": ...}``, who sent it; ``msgType`` is
    ``xdmEntityCreate``."""

    schemaRef: SchemaRef
    imsOrgId: str | msgspec.UnsetType = msgspec.UNSET
    datasetId: str | msgspec.UnsetType = msgspec.UNSET
    source: JSONObject | msgspec.UnsetType = msgspec.UNSET
    msgId: str | msgspec.UnsetType = msgspec.UNSET
    msgType: str | msgspec.UnsetType = msgspec.UNSET
    msgVersion: str | msgspec.UnsetType = msgspec.UNSET
    xactionId: str | msgspec.UnsetType = msgspec.UNSET
    flowId: str | msgspec.UnsetType = msgspec.UNSET


class MessageBody(Wire):
    xdmMeta: JSONObject
    """``{"schemaRef": {...}}``, as in the header."""
    xdmEntity: JSONObject
    """The record, valid against the schema."""


class Message(Wire):
    """One XDM message; raw inlets take any JSON object instead."""

    header: MessageHeader
    body: MessageBody


class Batch(Wire):
    messages: list[Any]
    """Each a Message (or, for raw inlets, any JSON object). Each is judged alone: one that
    is not valid gets status 400 in its entry of the answer, and the others are taken."""


class SyncValidation(Wire):
    status: str | msgspec.UnsetType = msgspec.UNSET
    """``pass`` when ``syncValidation=true``."""
    skipped: bool | msgspec.UnsetType = msgspec.UNSET


class Accepted(Wire):
    """The message is durably written."""

    inletId: str
    xactionId: str
    receivedTimeMs: int
    syncValidation: SyncValidation
    flowId: str | msgspec.UnsetType = msgspec.UNSET
    """The x-adobe-flow-id the request carried."""


class BatchEntry(Wire):
    """One message of a batch: its xactionId, with status and report when it was refused."""

    xactionId: str
    status: int | msgspec.UnsetType = msgspec.UNSET
    """400 when the message was refused, 409 when its msgId was used before for another
    message: it was not stored."""
    statusCode: int | msgspec.UnsetType = msgspec.UNSET
    """The same as status, under Adobe's other name."""
    message: str | msgspec.UnsetType = msgspec.UNSET
    """Why it was refused, in words."""
    report: Report | msgspec.UnsetType = msgspec.UNSET
    """Adobe's validation report, with every violation."""
    duplicateOf: str | msgspec.UnsetType = msgspec.UNSET
    """The xactionId first given to this msgId."""


class BatchAnswer(Wire):
    inletId: str
    batchId: str
    receivedTimeMs: int
    responses: list[BatchEntry]
    """One entry per message, in order."""
    flowId: str | msgspec.UnsetType = msgspec.UNSET
    """The x-adobe-flow-id the request carried."""
