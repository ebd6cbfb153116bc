"""Messages as they are written and read back: dataset records and failed records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from wayfare.model.envelope import entity_of
from wayfare.model.matching import EventMatch


class IncomingMessage(msgspec.Struct):
    """One accepted message on its way to the store.

    ``reasons`` is None for a valid message (it lands in ``dataset_id``); otherwise it holds
    the JSON-encoded violations and the message lands in failed records.
    """

    xaction_id: str
    msg_id: str | None
    org_id: str
    inlet_id: str
    dataset_id: str | None
    schema_id: str | None
    received_ms: int
    payload: bytes
    reasons: bytes | None = None
    matches: list[EventMatch] | None = None
    """Outcomes of matching a valid message against its org's events."""
    digest: bytes | None = None
    """What the message says, in 16 bytes (``ingest.inlet.message_digest``), when it has a
    msgId: a retry of the msgId with another message is told apart from a true retry."""

    @property
    def person(self) -> str | None:
        """Whom the message is about, as journeys tell people: the identity of its first
        matched event. What the event log partitions by (model/partitions.py)."""
        for match in self.matches or ():
            if match.identity is not None:
                return match.identity
        return None

    @property
    def partition_key(self) -> str:
        return self.person if self.person is not None else self.xaction_id


class WriteOutcome(msgspec.Struct, frozen=True):
    """What the store did with one message: its xactionId, and whether it was a retry."""

    xaction_id: str
    duplicate: bool
    conflict: bool = False
    """A msgId stored before with ANOTHER message (``xaction_id`` is the first one's):
    nothing was stored, and the sender is told (409)."""


class FirstMessage(msgspec.Struct, frozen=True):
    """What is kept of the first message stored under a msgId."""

    xaction_id: str
    digest: bytes | None
    """None for messages stored before digests were kept."""


def repeat_of(first: FirstMessage, message: IncomingMessage) -> WriteOutcome:
    """The outcome of ``message``, whose msgId was stored first as ``first``: a duplicate
    when both say the same (or either's digest is unknown), else a conflict."""
    conflict = (
        first.digest is not None and message.digest is not None and first.digest != message.digest
    )
    return WriteOutcome(first.xaction_id, True, conflict)


def carries_identity(message: Any, identity: str) -> bool:
    """Whether the message's identityMap holds ``identity``: an id (``ada@example.com``) or
    a namespace and an id (``Email:ada@example.com``)."""
    identities = entity_of(message).get("identityMap")
    if not isinstance(identities, dict):
        return False
    for namespace, entries in identities.items():
        for entry in entries if isinstance(entries, list) else ():
            given = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(given, str) and identity in (given, f"{namespace}:{given}"):
                return True
    return False


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    org_id: str
    dataset_id: str
    inlet_id: str
    schema_id: str | None
    xaction_id: str
    msg_id: str | None
    received_ms: int
    message: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "xactionId": self.xaction_id,
            "msgId": self.msg_id,
            "receivedTimeMs": self.received_ms,
            "imsOrgId": self.org_id,
            "inletId": self.inlet_id,
            "datasetId": self.dataset_id,
            "schemaId": self.schema_id,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class FailedRecord:
    seq: int
    org_id: str
    inlet_id: str
    dataset_id: str | None
    schema_id: str | None
    xaction_id: str
    msg_id: str | None
    received_ms: int
    reasons: list[dict[str, Any]]
    message: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "xactionId": self.xaction_id,
            "msgId": self.msg_id,
            "receivedTimeMs": self.received_ms,
            "imsOrgId": self.org_id,
            "inletId": self.inlet_id,
            "datasetId": self.dataset_id,
            "schemaId": self.schema_id,
            "reasons": self.reasons,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token of an authenticated inlet; only its hash is stored."""

    token_hash: str
    inlet_id: str
    org_id: str
    created_ms: int
    expires_ms: int | None
