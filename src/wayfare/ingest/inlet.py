"""The inlet's use cases: ``ingest_message`` and ``ingest_batch``.

Each message is read (envelope), checked against its org, validated against its compiled
schema and handed to the writer; the answer is built only after the writer has committed.
Without synchronous validation an invalid message is accepted and stored as a failed record
with every violation; with it, the message is rejected and nothing is stored.

A batch holds at most ``max_batch_messages`` messages, and its answer is bounded by the
request's size: a failed entry's report lists at most ``BATCH_REPORT_VIOLATIONS``; once the
failed entries come to ``ANSWER_RATIO`` times the request's bytes (at least
``ANSWER_MIN_BYTES``), the entries after them leave out their report and cut their message
to ``BRIEF_MESSAGE_CHARS``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from wayfare import ids
from wayfare.clock import Clock
from wayfare.errors import (
    ClientError,
    ConflictError,
    InfrastructureError,
    InvalidRequestError,
    MessageFormatError,
    OverloadedError,
    PayloadTooLargeError,
    SchemaViolationError,
    UnauthenticatedError,
    Violation,
    WrongOrgError,
)
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.rate_limit import RateLimiter
from wayfare.model.envelope import read_envelope
from wayfare.model.matching import match_message
from wayfare.model.records import IncomingMessage, WriteOutcome
from wayfare.model.resources import Inlet
from wayfare.observability.metrics import process_metrics
from wayfare.store.ports import MessageWriter

WRONG_ORG = "Message has an absent or wrong ims org in the header"

BATCH_REPORT_VIOLATIONS = 10
"""Violations a failed batch entry lists (its failed record keeps them all)."""
ANSWER_RATIO = 4
ANSWER_MIN_BYTES = 64 * 1024
BRIEF_MESSAGE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Caller:
    """What the HTTP layer learned from the request, beyond the body."""

    org_header: str | None = None
    bearer: str | None = None
    flow_id: str | None = None
    sync_validation: bool = False


def _dumps(document: Any) -> bytes:
    """``document`` as JSON, in a bytes object of its own size: what orjson returns keeps
    the buffer it wrote into (4 kB at the least, in powers of two), and these wait in the
    writer's queue by the thousand."""
    return bytes(memoryview(orjson.dumps(document)))


def message_digest(message: Any) -> bytes:
    """16 bytes of what ``message`` says, whatever the order of its keys and its spacing
    (BLAKE2b of its JSON with sorted keys): equal for a retry sent as JSON, as Smile, on
    the single or the batch endpoint."""
    return hashlib.blake2b(
        orjson.dumps(message, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).digest()


def reused_msg_id(msg_id: str | None, outcome: WriteOutcome) -> ConflictError:
    return ConflictError(
        f"msgId {msg_id!r} was sent before with a different message, accepted as xactionId "
        f"{outcome.xaction_id}: a retry must repeat the message unchanged, and a new message "
        "needs a msgId of its own"
    )


def _violations_json(violations: Sequence[Violation]) -> bytes:
    return _dumps([v.as_json() for v in violations])


def schema_violation(violations: Sequence[Violation]) -> SchemaViolationError:
    count = len(violations)
    noun = "violation" if count == 1 else "violations"
    return SchemaViolationError(f"{count} schema {noun} found", violations=tuple(violations))


class InletService:
    def __init__(
        self,
        catalog: Catalog,
        writer: MessageWriter,
        clock: Clock,
        limiter: RateLimiter,
        max_pending: int,
        *,
        max_batch_messages: int = 5000,
    ) -> None:
        self._catalog = catalog
        self._writer = writer
        self._clock = clock
        self._limiter = limiter
        self._max_pending = max_pending
        self._max_batch = max_batch_messages
        self._ids = ids.TransactionIds()

    # admission
    def open_inlet(self, inlet_id: str, caller: Caller) -> Inlet:
        """The inlet, once the caller may write to it; raises a ClientError otherwise.
        First of a request's steps: what the catalog cached is checked against the store's
        changes here, once for all the request's messages."""
        self._catalog.refresh()
        inlet = self._catalog.inlet(inlet_id)
        if inlet.authentication_required:
            if not caller.bearer:
                raise UnauthenticatedError(
                    "This inlet requires authentication: send Authorization: Bearer <token>"
                )
            self._catalog.check_token(inlet, caller.bearer)
        if caller.org_header is not None and caller.org_header != inlet.org_id:
            raise WrongOrgError(
                f"{WRONG_ORG}: x-gw-ims-org-id {caller.org_header!r} is not the inlet's org",
                violations=(Violation("x-gw-ims-org-id", "const", "not the inlet's org"),),
            )
        if not inlet.enabled:
            raise InvalidRequestError(f"Inlet {inlet_id} is disabled")
        if inlet.data_type == "raw" and caller.flow_id != inlet.flow_id:
            raise InvalidRequestError(
                "A raw inlet needs its dataflow id in x-adobe-flow-id (header or query)"
                if not caller.flow_id
                else f"x-adobe-flow-id {caller.flow_id!r} is not a dataflow of this inlet",
                violations=(Violation("x-adobe-flow-id", "const", "unknown or missing flow id"),),
            )
        return inlet

    def _admit(self, inlet: Inlet, count: int) -> None:
        if self._writer.pending + count > self._max_pending:
            raise OverloadedError(
                "The inlet is busy writing what it already accepted; retry shortly",
                retry_after=1,
            )
        self._limiter.take(inlet.inlet_id, count)

    # preparing one message
    def prepare(
        self,
        inlet: Inlet,
        message: Any,
        raw: bytes | None,
        *,
        sync: bool,
        xaction_id: str,
        received_ms: int,
    ) -> IncomingMessage:
        """Check one message; the IncomingMessage to write, or a ClientError."""
        if inlet.data_type == "raw":
            if not isinstance(message, dict):
                raise MessageFormatError(
                    "A raw message must be a JSON object",
                    violations=(Violation("", "type", "expected a JSON object"),),
                )
            return IncomingMessage(
                xaction_id,
                None,
                inlet.org_id,
                inlet.inlet_id,
                inlet.dataset_id,
                None,
                received_ms,
                raw if raw is not None else _dumps(message),
            )
        envelope = read_envelope(message)
        org_id = inlet.org_id
        if envelope.ims_org_id is None:
            envelope.header["imsOrgId"] = org_id
            raw = None
        elif envelope.ims_org_id != org_id:
            raise WrongOrgError(
                f"{WRONG_ORG}: header.imsOrgId {envelope.ims_org_id!r} is not the inlet's org",
                violations=(Violation("/header/imsOrgId", "const", "not the inlet's org"),),
            )
        route = self._catalog.route(org_id, envelope.schema_id, envelope.schema_version)
        dataset_id = self._catalog.dataset_for(route, envelope.dataset_id)
        violations = route.compiled.violations(envelope.entity)
        reasons = None
        matches = None
        if violations:
            if sync:
                raise schema_violation(violations)
            reasons = _violations_json(violations)
        elif not route.events.empty:
            matches = match_message(route.events, envelope.entity)
        return IncomingMessage(
            xaction_id,
            envelope.msg_id,
            org_id,
            inlet.inlet_id,
            dataset_id,
            envelope.schema_id,
            received_ms,
            raw if raw is not None else _dumps(message),
            reasons,
            matches,
            None if envelope.msg_id is None else message_digest(message),
        )

    # use cases
    async def ingest_message(
        self, inlet: Inlet, message: Any, raw: bytes | None, caller: Caller
    ) -> dict[str, Any]:
        received_ms = self._clock.now_ms()
        with _counted(inlet.inlet_id, 1):
            incoming = self.prepare(
                inlet,
                message,
                raw,
                sync=caller.sync_validation,
                xaction_id=self._ids.next(received_ms),
                received_ms=received_ms,
            )
            self._admit(inlet, 1)
            (outcome,) = await self._writer.write((incoming,))
            if outcome.conflict:
                raise reused_msg_id(incoming.msg_id, outcome)
        _count(inlet.inlet_id, "accepted" if incoming.reasons is None else "failed", 1)
        return {
            "inletId": inlet.inlet_id,
            "xactionId": outcome.xaction_id,
            "receivedTimeMs": received_ms,
            "syncValidation": {"status": "pass"} if caller.sync_validation else {"skipped": True},
        }

    async def ingest_batch(
        self, inlet: Inlet, body: Any, caller: Caller, *, request_bytes: int = 0
    ) -> dict[str, Any]:
        """``request_bytes``: the size of the request, which bounds the answer's."""
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            raise MessageFormatError(
                'A batch must be a JSON object {"messages": [...]} with at least one message',
                violations=(Violation("/messages", "required", "a non-empty list is required"),),
            )
        if len(messages) > self._max_batch:
            raise PayloadTooLargeError(
                f"A batch holds at most {self._max_batch} messages; this one has {len(messages)}"
            )
        answer_budget = max(ANSWER_MIN_BYTES, ANSWER_RATIO * request_bytes)
        received_ms = self._clock.now_ms()
        batch_id = self._ids.next(received_ms)
        sync = caller.sync_validation
        prepared: list[IncomingMessage] = []
        responses: list[dict[str, Any]] = []
        slots: list[int] = []
        for index, message in enumerate(messages):
            xaction_id = f"{batch_id}-{index}"
            try:
                incoming = self.prepare(
                    inlet,
                    message,
                    None,
                    sync=sync,
                    xaction_id=xaction_id,
                    received_ms=received_ms,
                )
            except ClientError as exc:
                entry = failure_entry(xaction_id, exc, brief=answer_budget <= 0)
                answer_budget -= len(orjson.dumps(entry))
                responses.append(entry)
                continue
            slots.append(len(responses))
            responses.append({"xactionId": xaction_id})
            prepared.append(incoming)
        if len(prepared) < len(responses):
            _count(inlet.inlet_id, "rejected", len(responses) - len(prepared))
        if prepared:
            with _counted(inlet.inlet_id, len(prepared)):
                self._admit(inlet, len(prepared))
                outcomes = await self._writer.write(prepared)
            _count_batch(inlet.inlet_id, prepared, outcomes)
            for slot, incoming, outcome in zip(slots, prepared, outcomes, strict=True):
                if outcome.conflict:
                    error = reused_msg_id(incoming.msg_id, outcome)
                    responses[slot] = failure_entry(responses[slot]["xactionId"], error, status=409)
                elif outcome.duplicate:
                    responses[slot]["duplicateOf"] = outcome.xaction_id
        return {
            "inletId": inlet.inlet_id,
            "batchId": batch_id,
            "receivedTimeMs": received_ms,
            "responses": responses,
        }


def _count(inlet_id: str, outcome: str, messages: int) -> None:
    process_metrics().count_messages(inlet_id, outcome, messages)


@contextlib.contextmanager
def _counted(inlet_id: str, messages: int) -> Iterator[None]:
    """Count ``messages`` rejected (a client error) or unavailable (the store or the log
    failed) when the block raises."""
    try:
        yield
    except ClientError:
        _count(inlet_id, "rejected", messages)
        raise
    except InfrastructureError:
        _count(inlet_id, "unavailable", messages)
        raise


def _count_batch(
    inlet_id: str, prepared: Sequence[IncomingMessage], outcomes: Sequence[WriteOutcome]
) -> None:
    """A written batch's messages by outcome: a reused msgId is rejected, the rest accepted
    or failed (stored as failed records)."""
    counts = {"accepted": 0, "failed": 0, "rejected": 0}
    for incoming, outcome in zip(prepared, outcomes, strict=True):
        if outcome.conflict:
            counts["rejected"] += 1
        else:
            counts["accepted" if incoming.reasons is None else "failed"] += 1
    for kind, count in counts.items():
        if count:
            _count(inlet_id, kind, count)


def failure_entry(
    xaction_id: str, error: ClientError, *, brief: bool = False, status: int = 400
) -> dict[str, Any]:
    """One failed entry of a 207 batch answer, readable by Adobe's documented shape
    (``statusCode``, ``message``) and by Adobe's Kafka connector (``status``, ``xactionId``).
    A ``brief`` one has no report and at most ``BRIEF_MESSAGE_CHARS`` of message."""
    message = error.message
    if brief and len(message) > BRIEF_MESSAGE_CHARS:
        message = message[: BRIEF_MESSAGE_CHARS - 1] + "…"
    entry: dict[str, Any] = {
        "xactionId": xaction_id,
        "status": status,
        "statusCode": status,
        "message": message,
    }
    violations = getattr(error, "violations", ())
    if violations and not brief:
        entry["report"] = validation_report(
            error.message, violations, listed=BATCH_REPORT_VIOLATIONS
        )
    return entry


def validation_report(
    message: str, violations: Sequence[Violation], *, listed: int | None = None
) -> dict[str, Any]:
    """Adobe's ``report`` object: ``cause._streamingValidation[].causingExceptions``, with
    the first ``listed`` violations (all of them by default)."""
    return {
        "message": message,
        "cause": {
            "_streamingValidation": [
                {
                    "causingExceptions": [v.as_json() for v in violations[:listed]],
                    "schemaLocation": "#",
                    "pointerToViolation": "#",
                    "keyword": "allOf" if len(violations) > 1 else violations[0].keyword,
                    "message": f"{len(violations)} schema violation"
                    f"{'' if len(violations) == 1 else 's'} found",
                }
            ]
        },
    }
