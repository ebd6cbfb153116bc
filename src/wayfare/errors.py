"""Every error Wayfare raises on purpose.

    WayfareError
    ├── ClientError                  the caller can fix it; maps to a 4xx
    │   ├── InvalidRequestError      400: a request or definition that breaks a rule
    │   │   ├── MessageFormatError   400: an envelope that is not an XDM message
    │   │   ├── WrongOrgError        400: absent or wrong ims org
    │   │   └── SchemaViolationError 400: the entity breaks its schema (sync validation)
    │   ├── UnauthenticatedError     401: credentials missing
    │   ├── ForbiddenError           403: credentials invalid, expired or not for this resource
    │   ├── NotFoundError            404
    │   ├── MethodNotAllowedError    405
    │   ├── ConflictError            409
    │   ├── RequestTimeoutError      408: the request did not arrive in time
    │   ├── PayloadTooLargeError     413
    │   ├── HeadersTooLargeError     431: the request line and headers are too long
    │   └── RateLimitedError         429, with retry_after seconds
    └── InfrastructureError          the server cannot serve now; maps to a 5xx
        ├── OverloadedError          503, with retry_after seconds (backpressure)
        ├── LogError                 503, with retry_after seconds: the event log (NATS
        │                            JetStream) did not take or give messages in time
        └── StoreError               503, with retry_after seconds: the store failed
            └── FencedError          a journey engine's commit refused: a partition it
                                     acted on has another owner now (never reaches HTTP)

The HTTP mapping lives in ``wayfare.api.problems`` and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where in the payload (JSON pointer), which rule (keyword), and why."""

    pointer: str
    keyword: str
    message: str
    schema_location: str = "#"

    def as_json(self) -> dict[str, object]:
        return {
            "schemaLocation": self.schema_location,
            "pointerToViolation": self.pointer,
            "keyword": self.keyword,
            "message": self.message,
        }


class WayfareError(Exception):
    """Root of every error Wayfare raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClientError(WayfareError):
    """The request is wrong; the caller can fix it."""


class InvalidRequestError(ClientError):
    """A request or a definition breaks a rule; ``violations`` says where and which."""

    def __init__(self, message: str, violations: tuple[Violation, ...] = ()) -> None:
        super().__init__(message)
        self.violations = violations


class MessageFormatError(InvalidRequestError):
    """The message is not an XDM envelope (missing header, body, xdmMeta, ...)."""


class WrongOrgError(InvalidRequestError):
    """The message names an organisation other than the inlet's."""


class SchemaViolationError(InvalidRequestError):
    """The entity breaks its schema; raised only under synchronous validation."""


class UnauthenticatedError(ClientError):
    """Credentials are required and missing."""


class ForbiddenError(ClientError):
    """Credentials are invalid, expired, or do not grant this resource."""


class NotFoundError(ClientError):
    """The named resource does not exist in this organisation."""


class MethodNotAllowedError(ClientError):
    """The endpoint exists but not for this HTTP method."""


class ConflictError(ClientError):
    """The request clashes with the current state (a duplicate name, a resource in use)."""


class RequestTimeoutError(ClientError):
    """The request's headers or body did not arrive within their time."""


class PayloadTooLargeError(ClientError):
    """The request body is over the limit."""


class HeadersTooLargeError(ClientError):
    """The request line and headers are over the limit."""


class RateLimitedError(ClientError):
    """Over the configured rate; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InfrastructureError(WayfareError):
    """The server cannot serve the request now."""


class OverloadedError(InfrastructureError):
    """Too much is waiting to be written; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LogError(InfrastructureError):
    """The event log is unreachable or did not answer in time; retry after ``retry_after``
    seconds. Nothing it did not acknowledge was reported as written; the driver error, if
    any, is chained."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreError(InfrastructureError):
    """The store failed; the original driver error is chained. Worth retrying: a store
    restarting, a full disk freed, a lock released."""

    retry_after = 1


class FencedError(StoreError):
    """A journey engine's commit was refused: the lease of a partition it acted on has
    moved to another engine. Nothing of the commit is stored."""
