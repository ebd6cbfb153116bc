"""The event log's encoding of an accepted message: every field comes back, and the payload
and reasons come back as the very bytes that went in."""

from __future__ import annotations

import orjson
import pytest

from wayfare.errors import LogError
from wayfare.log.codec import decode, encode
from wayfare.model.events import Unmatched
from wayfare.model.matching import EventMatch
from wayfare.model.records import IncomingMessage


def incoming(**changes: object) -> IncomingMessage:
    fields: dict[str, object] = {
        "xaction_id": "x-1",
        "msg_id": "m-1",
        "org_id": "ACME@AdobeOrg",
        "inlet_id": "inlet-1",
        "dataset_id": "dataset-1",
        "schema_id": "https://ns.adobe.com/acme/schemas/1",
        "received_ms": 1_700_000_000_123,
        "payload": b'{"header": {"msgId": "m-1"},  "body": {"n": 1.50, "e": "\\u00e9"}}',
        "reasons": None,
        "matches": [
            EventMatch("signup", "ada@example.com"),
            EventMatch("order", None, Unmatched.IDENTITY_MISSING, "identity missing: no map"),
            EventMatch("visit", None, Unmatched.CONDITION_NOT_MET, "condition not met: x > 1"),
        ],
    }
    fields.update(changes)
    return IncomingMessage(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "message",
    [
        incoming(),
        incoming(msg_id=None, dataset_id=None, schema_id=None, matches=None),
        incoming(matches=[]),
        incoming(
            reasons=b'[{"pointerToViolation": "#/x", "message": "caf\xc3\xa9 \\u2603"}]',
            matches=None,
        ),
        incoming(reasons=b"[]", matches=None),
        incoming(xaction_id="x-\u00e9\u2603\U0001f600", org_id="\u00c9cole@AdobeOrg"),
        incoming(payload=b'"just a string"'),
        incoming(payload=b"[1, 2 ,3]"),
        incoming(payload=b"  42 "),
        incoming(payload='{"name": "Zo\u00eb \U0001f600"}'.encode()),
        incoming(payload=b'{"payloadBytes":1,"reasonsBytes":2,"payload":"}"}'),
    ],
    ids=[
        "full",
        "none-fields",
        "no-matches",
        "failed",
        "empty-reasons",
        "unicode-ids",
        "string-payload",
        "array-payload",
        "number-payload",
        "unicode-payload",
        "payload-that-looks-like-framing",
    ],
)
def test_a_message_round_trips_with_its_exact_payload_and_reasons(
    message: IncomingMessage,
) -> None:
    data = encode(message)
    back = decode(data)
    assert back == message
    assert back.payload == message.payload
    assert back.reasons == message.reasons


def test_the_encoding_is_one_json_document_embedding_the_payload() -> None:
    message = incoming()
    document = orjson.loads(encode(message))
    assert document["payload"] == orjson.loads(message.payload)
    assert document["matches"][1]["cause"] == "identity missing"
    assert document["xactionId"] == "x-1"


def test_match_causes_come_back_as_the_enum() -> None:
    back = decode(encode(incoming()))
    assert back.matches is not None
    assert back.matches[1].cause is Unmatched.IDENTITY_MISSING
    assert [m.counts for m in back.matches] == [True, True, False]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{}",
        b"not json",
        b'{"payloadBytes":999,"reasonsBytes":-1,"v":1}',
        encode(incoming())[:-1],
    ],
)
def test_what_is_not_an_encoded_message_is_a_log_error(data: bytes) -> None:
    with pytest.raises(LogError):
        decode(data)


def test_another_format_version_is_refused() -> None:
    data = encode(incoming()).replace(b'"v":1,', b'"v":2,', 1)
    with pytest.raises(LogError, match="version 2"):
        decode(data)
