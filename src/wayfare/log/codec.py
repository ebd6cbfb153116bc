"""An accepted message as bytes, for the event log and any other hand-over between processes.

One JSON object: the message's fields, its match outcomes, then ``reasons`` and ``payload``
embedded as they came (``orjson.Fragment``: never parsed, never re-encoded). Their lengths
lead the object, so decoding slices both back out byte for byte and parses only the small
rest; the payload is parsed later, and only where journeys act on the message.

    {"payloadBytes":N,"reasonsBytes":R,"v":1,...,"reasons":<R bytes>,"payload":<N bytes>}

``reasonsBytes`` is -1 for a valid message (``reasons`` is null).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from wayfare.errors import LogError
from wayfare.log.ports import LogSlice
from wayfare.model.events import Unmatched
from wayfare.model.matching import EventMatch
from wayfare.model.records import IncomingMessage
from wayfare.model.runs import arrived_identities, matched_messages

VERSION = 1
_LENGTHS = re.compile(rb'^\{"payloadBytes":(\d+),"reasonsBytes":(-1|\d+),')
_PAYLOAD = b',"payload":'
_REASONS = b',"reasons":'
_NULL = b"null"


def encode(message: IncomingMessage) -> bytes:
    reasons = message.reasons
    return orjson.dumps(
        {
            "payloadBytes": len(message.payload),
            "reasonsBytes": -1 if reasons is None else len(reasons),
            "v": VERSION,
            "xactionId": message.xaction_id,
            "msgId": message.msg_id,
            "orgId": message.org_id,
            "inletId": message.inlet_id,
            "datasetId": message.dataset_id,
            "schemaId": message.schema_id,
            "receivedMs": message.received_ms,
            "matches": None if message.matches is None else [_match(m) for m in message.matches],
            "digest": None if message.digest is None else message.digest.hex(),
            "reasons": None if reasons is None else orjson.Fragment(reasons),
            "payload": orjson.Fragment(message.payload),
        }
    )


def decode(data: bytes) -> IncomingMessage:
    """The message ``encode`` made; LogError if ``data`` is not one."""
    lengths = _LENGTHS.match(data)
    if lengths is None or not data.endswith(b"}"):
        raise LogError("an event log entry is not an encoded message")
    payload_bytes, reasons_bytes = int(lengths[1]), int(lengths[2])
    payload_at = len(data) - 1 - payload_bytes
    reasons_end = payload_at - len(_PAYLOAD)
    reasons_at = reasons_end - (len(_NULL) if reasons_bytes < 0 else reasons_bytes)
    meta_end = reasons_at - len(_REASONS)
    if (
        meta_end < lengths.end()
        or data[reasons_end:payload_at] != _PAYLOAD
        or data[meta_end:reasons_at] != _REASONS
    ):
        raise LogError("an event log entry is not an encoded message")
    try:
        meta = orjson.loads(data[:meta_end] + b"}")
        if meta["v"] != VERSION:
            raise LogError(f"an event log entry has format version {meta['v']}, not {VERSION}")
        matches = meta["matches"]
        return IncomingMessage(
            xaction_id=meta["xactionId"],
            msg_id=meta["msgId"],
            org_id=meta["orgId"],
            inlet_id=meta["inletId"],
            dataset_id=meta["datasetId"],
            schema_id=meta["schemaId"],
            received_ms=meta["receivedMs"],
            payload=data[payload_at:-1],
            reasons=None if reasons_bytes < 0 else data[reasons_at:reasons_end],
            matches=None if matches is None else [_event_match(m) for m in matches],
            digest=_digest(meta.get("digest")),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise LogError("an event log entry is not an encoded message") from exc


def decode_slice(partition: int, after: int, entries: Sequence[tuple[int, bytes]]) -> LogSlice:
    """A read's answer from its (position, encoded message) entries, oldest first."""
    messages = [decode(data) for _, data in entries]
    matched = [
        found
        for (position, _), message in zip(entries, messages, strict=True)
        for found in matched_messages(message, position, orjson.loads)
    ]
    identities = [found for m in messages if (found := arrived_identities(m, orjson.loads))]
    last = entries[-1][0] if entries else after
    return LogSlice(partition, after, last, matched, messages, identities)


def _digest(text: str | None) -> bytes | None:
    """Entries written before digests were sent have none."""
    return None if text is None else bytes.fromhex(text)


def _match(match: EventMatch) -> dict[str, Any]:
    return {
        "event": match.event_name,
        "identity": match.identity,
        "cause": match.cause,
        "reason": match.reason,
    }


def _event_match(data: dict[str, Any]) -> EventMatch:
    cause = data["cause"]
    return EventMatch(
        data["event"], data["identity"], None if cause is None else Unmatched(cause), data["reason"]
    )
