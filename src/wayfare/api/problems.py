"""The one place where errors become HTTP answers (problem+json bodies, Adobe's shapes)."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from wayfare.errors import (
    ConflictError,
    ForbiddenError,
    HeadersTooLargeError,
    InvalidRequestError,
    LogError,
    MessageFormatError,
    MethodNotAllowedError,
    NotFoundError,
    OverloadedError,
    PayloadTooLargeError,
    RateLimitedError,
    RequestTimeoutError,
    SchemaViolationError,
    StoreError,
    UnauthenticatedError,
    WayfareError,
    WrongOrgError,
)
from wayfare.ingest.inlet import validation_report

log = logging.getLogger(__name__)

PROBLEM_TYPE = "https://ns.adobe.com/adobecloudplatform/problems/data-collection-service/inlet"
PROBLEM_CONTENT_TYPE = b"application/problem+json"

_STATUS: list[tuple[type[WayfareError], int, str]] = [
    (SchemaViolationError, 400, "Invalid XDM Message Format"),
    (MessageFormatError, 400, "Invalid XDM Message Format"),
    (WrongOrgError, 400, "Invalid ims org"),
    (InvalidRequestError, 400, "Bad Request"),
    (UnauthenticatedError, 401, "Unauthorized"),
    (ForbiddenError, 403, "Forbidden"),
    (NotFoundError, 404, "Not Found"),
    (MethodNotAllowedError, 405, "Method Not Allowed"),
    (RequestTimeoutError, 408, "Request Timeout"),
    (ConflictError, 409, "Conflict"),
    (PayloadTooLargeError, 413, "Payload Too Large"),
    (RateLimitedError, 429, "Too Many Requests"),
    (HeadersTooLargeError, 431, "Request Header Fields Too Large"),
    (OverloadedError, 503, "Service Unavailable"),
    (LogError, 503, "Service Unavailable"),
    (StoreError, 503, "Service Unavailable"),
]


def status_of(error: WayfareError) -> tuple[int, str]:
    for kind, status, title in _STATUS:
        if isinstance(error, kind):
            return status, title
    return 500, "Internal Server Error"


def problem(error: Exception) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body for any error; unexpected ones are logged and become 500."""
    if not isinstance(error, WayfareError):
        log.error("unexpected error", exc_info=error)
        error = WayfareError("The server failed to handle the request")
    status, title = status_of(error)
    if status >= 500 and not isinstance(error, OverloadedError):
        log.error("server error: %s", error.message, exc_info=error)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "status": status,
        "title": title,
        "detail": error.message,
    }
    violations = getattr(error, "violations", ())
    if violations:
        body["report"] = validation_report(error.message, violations)
    else:
        body["report"] = {"message": error.message}
    headers = [(b"content-type", PROBLEM_CONTENT_TYPE)]
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    if status == 405:
        headers.append((b"allow", b"POST"))
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="wayfare"'))
    return status, headers, orjson.dumps(body)
