"""Errors as HTTP answers: an event log that cannot take messages now is a 503 to retry."""

from __future__ import annotations

import orjson

from wayfare.api.problems import problem
from wayfare.errors import LogError, StoreError


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
