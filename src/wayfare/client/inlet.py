"""Sending messages to an inlet: Wayfare's, or Adobe's own (same URL shape and headers).

    inlet = Inlet("http://127.0.0.1:8080/collection/<inletId>", "ACME@AdobeOrg")
    result = inlet.send(message)             # one message, POST /collection/{id}
    results = inlet.send_batch(messages)     # POST /collection/batch/{id}, split under 1 MB

429, 503, other 5xx and connection errors are retried with exponential backoff and jitter,
honouring ``Retry-After``; a 4xx (a bad message) is never retried. Results come per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from wayfare.client.batching import (
    REQUEST_LIMIT,
    MessageResult,
    batch_body,
    batch_url,
    encode,
    plan_batches,
    result_from_single,
    results_from_batch,
)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    """Tries in all, the first included."""
    initial_seconds: float = 0.2
    """Scale of the first backoff; each retry doubles it, with full jitter."""
    max_seconds: float = 10.0
    """Longest wait between tries, Retry-After included."""


class _Retryable(Exception):
    def __init__(self, status: int, body: Any, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _wait(policy: RetryPolicy) -> Any:
    backoff = wait_random_exponential(multiplier=policy.initial_seconds, max=policy.max_seconds)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Retryable) and error.retry_after is not None:
            return min(error.retry_after, policy.max_seconds)
        return float(backoff(state))

    return wait


def _body(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {"detail": response.text[:500]}


def _check(response: httpx.Response) -> tuple[int, Any]:
    if response.status_code in RETRY_STATUSES:
        raise _Retryable(response.status_code, _body(response), _retry_after(response))
    return response.status_code, _body(response)


def _headers(org_id: str, token: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "x-gw-ims-org-id": org_id}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _too_large(index: int, size: int, limit: int) -> MessageResult:
    return MessageResult(index, False, 413, None, f"message is {size} bytes, over {limit}")


def _give_up(indexes: Sequence[int], error: BaseException, attempts: int) -> list[MessageResult]:
    status = error.status if isinstance(error, _Retryable) else 0
    text = f"gave up after {attempts} tries: {error}"
    return [MessageResult(i, False, status, None, text, retries=attempts - 1) for i in indexes]


class _Base:
    def __init__(
        self,
        url: str,
        org_id: str,
        token: str | None,
        *,
        sync_validation: bool,
        retry: RetryPolicy | None,
        max_bytes: int,
        max_messages: int,
    ) -> None:
        self.url = url
        self.batch_url = batch_url(url)
        self.org_id = org_id
        self.retry = retry or RetryPolicy()
        self.params = {"syncValidation": "true"} if sync_validation else {}
        self.headers = _headers(org_id, token)
        self.max_bytes = max_bytes
        self.max_messages = max_messages

    def _retrying(self) -> dict[str, Any]:
        """Options for tenacity's Retrying and AsyncRetrying."""
        return {
            "stop": stop_after_attempt(self.retry.attempts),
            "wait": _wait(self.retry),
            "reraise": True,
            "retry": retry_if_exception_type((_Retryable, httpx.TransportError)),
        }

    def _single(self, message: Any) -> bytes | MessageResult:
        """The body to post, or the result when the message is too large to send."""
        body = encode(message)
        return _too_large(0, len(body), self.max_bytes) if len(body) > self.max_bytes else body

    def _plan(self, messages: Sequence[Any]) -> tuple[list[bytes], list[list[int]]]:
        encoded = [encode(m) for m in messages]
        plan = plan_batches(encoded, max_bytes=self.max_bytes, max_messages=self.max_messages)
        return encoded, list(plan)

    def _batch(self, encoded: Sequence[bytes], indexes: list[int]) -> bytes | list[MessageResult]:
        """The body of one planned batch, or its results when it is too large to send."""
        body = batch_body(encoded, indexes)
        if len(body) > self.max_bytes:
            return [_too_large(i, len(encoded[i]), self.max_bytes) for i in indexes]
        return body


class Inlet(_Base):
    """A blocking client for one inlet. It asks the inlet to validate (``syncValidation=true``),
    as ``wayfare send`` does, so that a message breaking its schema comes back rejected with
    its violations; ``sync_validation=False`` has it accepted and kept as a failed record."""

    def __init__(
        self,
        url: str,
        org_id: str,
        token: str | None = None,
        *,
        sync_validation: bool = True,
        retry: RetryPolicy | None = None,
        max_bytes: int = REQUEST_LIMIT,
        max_messages: int = 500,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            url,
            org_id,
            token,
            sync_validation=sync_validation,
            retry=retry,
            max_bytes=max_bytes,
            max_messages=max_messages,
        )
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def __enter__(self) -> Inlet:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _post(self, url: str, body: bytes) -> tuple[int, Any, int]:
        for attempt in Retrying(**self._retrying()):
            with attempt:
                response = self._http.post(
                    url, content=body, headers=self.headers, params=self.params
                )
                status, parsed = _check(response)
                return status, parsed, attempt.retry_state.attempt_number - 1
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, message: Any) -> MessageResult:
        body = self._single(message)
        if isinstance(body, MessageResult):
            return body
        try:
            status, parsed, retries = self._post(self.url, body)
        except (_Retryable, httpx.TransportError) as exc:
            return _give_up([0], exc, self.retry.attempts)[0]
        return result_from_single(0, status, parsed, retries)

    def send_batch(self, messages: Sequence[Any]) -> list[MessageResult]:
        encoded, plan = self._plan(messages)
        results: list[MessageResult] = []
        for indexes in plan:
            results.extend(self._send_planned(encoded, indexes))
        return sorted(results, key=lambda r: r.index)

    def _send_planned(self, encoded: Sequence[bytes], indexes: list[int]) -> list[MessageResult]:
        body = self._batch(encoded, indexes)
        if isinstance(body, list):
            return body
        try:
            status, parsed, retries = self._post(self.batch_url, body)
        except (_Retryable, httpx.TransportError) as exc:
            return _give_up(indexes, exc, self.retry.attempts)
        return results_from_batch(indexes, status, parsed, retries)


class AsyncInlet(_Base):
    """An asyncio client for one inlet; the same behaviour as ``Inlet``."""

    def __init__(
        self,
        url: str,
        org_id: str,
        token: str | None = None,
        *,
        sync_validation: bool = True,
        retry: RetryPolicy | None = None,
        max_bytes: int = REQUEST_LIMIT,
        max_messages: int = 500,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            url,
            org_id,
            token,
            sync_validation=sync_validation,
            retry=retry,
            max_bytes=max_bytes,
            max_messages=max_messages,
        )
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncInlet:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, url: str, body: bytes) -> tuple[int, Any, int]:
        async for attempt in AsyncRetrying(**self._retrying()):
            with attempt:
                response = await self._http.post(
                    url, content=body, headers=self.headers, params=self.params
                )
                status, parsed = _check(response)
                return status, parsed, attempt.retry_state.attempt_number - 1
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(self, message: Any) -> MessageResult:
        body = self._single(message)
        if isinstance(body, MessageResult):
            return body
        try:
            status, parsed, retries = await self._post(self.url, body)
        except (_Retryable, httpx.TransportError) as exc:
            return _give_up([0], exc, self.retry.attempts)[0]
        return result_from_single(0, status, parsed, retries)

    async def send_batch(self, messages: Sequence[Any]) -> list[MessageResult]:
        encoded, plan = self._plan(messages)
        results: list[MessageResult] = []
        for indexes in plan:
            results.extend(await self.send_planned(encoded, indexes))
        return sorted(results, key=lambda r: r.index)

    async def send_planned(
        self, encoded: Sequence[bytes], indexes: list[int]
    ) -> list[MessageResult]:
        """Send one planned batch (used by ``wayfare send`` for concurrency)."""
        body = self._batch(encoded, indexes)
        if isinstance(body, list):
            return body
        try:
            status, parsed, retries = await self._post(self.batch_url, body)
        except (_Retryable, httpx.TransportError) as exc:
            return _give_up(indexes, exc, self.retry.attempts)
        return results_from_batch(indexes, status, parsed, retries)
