"""Splitting messages into batches under the request limit, and reading the inlet's answers.

Shared by the sync and async clients; no I/O here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

REQUEST_LIMIT = 1024 * 1024
_BATCH_OVERHEAD = len(b'{"messages":[]}')


@dataclass
class MessageResult:
    """What happened to one message: accepted (``ok``) or rejected with the inlet's reason."""

    index: int
    ok: bool
    status: int
    xaction_id: str | None = None
    message: str | None = None
    report: dict[str, Any] | None = None
    retries: int = 0
    duplicate_of: str | None = None
    violations: list[dict[str, Any]] = field(default_factory=list)


def batch_url(inlet_url: str) -> str:
    """``.../collection/{id}`` → ``.../collection/batch/{id}`` (also for the gateway form)."""
    base, _, query = inlet_url.partition("?")
    head, _, inlet_id = base.rstrip("/").rpartition("/")
    url = f"{head}/batch/{inlet_id}"
    return f"{url}?{query}" if query else url


def encode(message: Any) -> bytes:
    return orjson.dumps(message)


def plan_batches(
    encoded: Sequence[bytes], *, max_bytes: int = REQUEST_LIMIT, max_messages: int = 500
) -> Iterator[list[int]]:
    """Indexes of messages grouped so each batch body stays under ``max_bytes``.

    A message that alone is over the limit forms a batch of its own; the caller reports it.
    """
    current: list[int] = []
    size = _BATCH_OVERHEAD
    for i, body in enumerate(encoded):
        cost = len(body) + 1
        if current and (size + cost > max_bytes or len(current) >= max_messages):
            yield current
            current, size = [], _BATCH_OVERHEAD
        current.append(i)
        size += cost
    if current:
        yield current


def batch_body(encoded: Sequence[bytes], indexes: Sequence[int]) -> bytes:
    return b'{"messages":[' + b",".join(encoded[i] for i in indexes) + b"]}"


def _violations(report: Any) -> list[dict[str, Any]]:
    if not isinstance(report, dict):
        return []
    found: list[dict[str, Any]] = []
    for check in (report.get("cause") or {}).get("_streamingValidation", []) or []:
        found.extend(e for e in check.get("causingExceptions", []) if isinstance(e, dict))
    return found


def result_from_single(index: int, status: int, body: Any, retries: int) -> MessageResult:
    body = body if isinstance(body, dict) else {}
    if 200 <= status < 300:
        return MessageResult(index, True, status, body.get("xactionId"), retries=retries)
    report = body.get("report") if isinstance(body.get("report"), dict) else None
    text = body.get("detail") or (report or {}).get("message") or body.get("title")
    return MessageResult(
        index,
        False,
        status,
        body.get("xactionId"),
        str(text or status),
        report,
        retries,
        violations=_violations(report),
    )


def results_from_batch(
    indexes: Sequence[int], status: int, body: Any, retries: int
) -> list[MessageResult]:
    """Per-message results of a batch answer; a whole-request failure applies to every message."""
    entries = body.get("responses") if isinstance(body, dict) else None
    if status != 207 or not isinstance(entries, list):
        failed = result_from_single(-1, status if status >= 400 else 500, body, retries)
        return [
            MessageResult(
                i,
                False,
                failed.status,
                None,
                failed.message,
                failed.report,
                retries,
                violations=failed.violations,
            )
            for i in indexes
        ]
    results: list[MessageResult] = []
    for position, i in enumerate(indexes):
        entry = entries[position] if position < len(entries) else {}
        entry = entry if isinstance(entry, dict) else {}
        code = entry.get("status", entry.get("statusCode", 200))
        code = code if isinstance(code, int) else 500
        if code < 300:
            results.append(
                MessageResult(
                    i,
                    True,
                    200,
                    entry.get("xactionId"),
                    retries=retries,
                    duplicate_of=entry.get("duplicateOf"),
                )
            )
        else:
            report = entry.get("report") if isinstance(entry.get("report"), dict) else None
            results.append(
                MessageResult(
                    i,
                    False,
                    code,
                    entry.get("xactionId"),
                    str(entry.get("message", code)),
                    report,
                    retries,
                    violations=_violations(report),
                )
            )
    return results
