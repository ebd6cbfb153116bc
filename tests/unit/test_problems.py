"""Errors as HTTP answers: an event log that cannot take messages now is a 503 to retry;
every problem body is what the wire model ``Problem`` describes."""

from __future__ import annotations

import msgspec
import orjson

from wayfare.api.problems import problem
from wayfare.errors import (
    InvalidRequestError,
    LogError,
    NotFoundError,
    StoreError,
    Violation,
)
from wayfare.ingest.inlet import failure_entry
from wayfare.wire.base import Problem, Report
from wayfare.wire.collection import BatchEntry


def test_a_log_error_is_a_503_with_retry_after() -> None:
    status, headers, body = problem(LogError("NATS did not acknowledge 3 message(s)", 2))
    assert status == 503
    assert (b"retry-after", b"2") in headers
    assert orjson.loads(body)["detail"] == "NATS did not acknowledge 3 message(s)"


def test_a_store_error_is_a_503_with_retry_after_and_the_real_cause() -> None:
    status, headers, body = problem(StoreError("the store failed: database or disk is full"))
    assert status == 503
    assert (b"retry-after", b"1") in headers
    assert orjson.loads(body)["detail"] == "the store failed: database or disk is full"


def test_problems_and_refused_batch_entries_are_what_the_wire_models_describe() -> None:
    """The admin client and the description read problems as ``Problem``: what the one
    mapping writes by hand must decode into it, every violation included."""
    violations = (
        Violation("/person/age", "type", "must be an integer"),
        Violation("/email", "format", "not an email"),
    )
    _, _, body = problem(InvalidRequestError("2 schema violations found", violations))
    found = msgspec.json.decode(body, type=Problem)
    assert found.status == 400
    assert isinstance(found.report, Report)
    assert [(v.pointerToViolation, v.keyword) for v in found.report.violations] == [
        ("/person/age", "type"),
        ("/email", "format"),
    ]
    _, _, plain = problem(NotFoundError("No inlet 'x'"))
    report = msgspec.json.decode(plain, type=Problem).report
    assert isinstance(report, Report) and report.violations == []
    entry = failure_entry("x-1", InvalidRequestError("refused", violations))
    decoded = msgspec.convert(entry, BatchEntry)
    assert isinstance(decoded.report, Report)
    assert len(decoded.report.violations) == 2
