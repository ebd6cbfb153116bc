"""Delivering actions: custom HTTP calls and email over SMTP, one attempt at a time.

Retries are the outbox's business (durable, with backoff); this module makes one attempt,
says whether another could help, and keeps each host under its rate limit. What can never
succeed is not retried: a destination the policy refuses (``checked_resolver.py``), a URL
that is not one, a recipient that is not exactly one address, a header with a line break.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import aiohttp
import orjson
from yarl import URL

from wayfare.engine.checked_resolver import (
    CheckedResolver,
    DestinationRefusedError,
    Lookup,
)
from wayfare.errors import InvalidRequestError
from wayfare.model.destinations import DestinationPolicy
from wayfare.model.email_headers import header_text, one_address, recipients
from wayfare.model.nesting import MAX_NESTING, nesting

NO_RETRY = frozenset({401, 403, 404})
MAX_RESPONSE_BYTES = 1024 * 1024
"""Of an HTTP action's response, what is read at most (an inlet's message is as large): the
rest of a longer one is not read, and what @action{...} reads of it is its text (cut at
2,000 characters, ``truncated``). Read whole, an answer as long as its destination liked
was held in memory and kept in the instance."""


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    response: Any = None
    error: str | None = None
    retryable: bool = False
    timed_out: bool = False
    attempted: bool = True
    """False: not sent at all, its deadline had passed (``Sender.send``'s ``not_after``)."""


NOT_SENT = Delivery(False, error="not sent: its time to be sent had passed", attempted=False)


class Sender(Protocol):
    """Makes one delivery attempt per call: ActionSender here, CourierSender in a child."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(
        self, kind: str, request: dict[str, Any], key: str, not_after: float | None = None
    ) -> Delivery:
        """One attempt; none at all (``NOT_SENT``) once ``time.monotonic()`` has reached
        ``not_after`` (the lease of the item's partition may have lapsed by then)."""
        ...


class HostLimiter:
    """At most ``rate`` calls per second to each host (0: unlimited): each call waits for its
    host's next free slot, ``1 / rate`` seconds after the one before. ``monotonic`` and
    ``sleep`` are its clock and its wait (a test's fakes)."""

    def __init__(
        self,
        rate: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rate = rate
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: dict[str, float] = {}

    async def wait(self, host: str) -> None:
        if self._rate <= 0:
            return
        now = self._monotonic()
        slot = max(now, self._next.get(host, now))
        self._next[host] = slot + 1.0 / self._rate
        if slot > now:
            await self._sleep(slot - now)


class ActionSender:
    """One attempt per call. HTTP goes through one aiohttp session whose connections to each
    receiver are kept alive (actions come in bursts); the dispatcher bounds how many run at
    once per host. ``allow`` is the ``action_allow`` setting; ``lookup`` resolves names
    (a test's fake; by default ``getaddrinfo`` on a thread)."""

    def __init__(
        self,
        *,
        smtp_host: str,
        smtp_port: int,
        smtp_from: str,
        rate_per_host: float = 0.0,
        connections_per_host: int = 32,
        allow: Sequence[str] = (),
        lookup: Lookup | None = None,
    ) -> None:
        self._smtp = (smtp_host, smtp_port, smtp_from)
        self._limiter = HostLimiter(rate_per_host)
        self._per_host = connections_per_host
        self._policy = DestinationPolicy(allow)
        self._lookup = lookup
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        lookup = self._lookup or aiohttp.ThreadedResolver().resolve
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=self._per_host,
            keepalive_timeout=30,
            resolver=CheckedResolver(self._policy, lookup),
        )
        self._http = aiohttp.ClientSession(
            connector=connector, auto_decompress=True, trust_env=False
        )

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def send(
        self, kind: str, request: dict[str, Any], key: str, not_after: float | None = None
    ) -> Delivery:
        try:
            if kind == "http":
                return await self._send_http(request, key, not_after)
            if kind == "email":
                if _too_late(not_after):
                    return NOT_SENT
                return await asyncio.to_thread(self._send_email, request, key)
        except Exception as exc:  # a delivery failure must never stop the dispatcher
            return Delivery(False, error=f"{type(exc).__name__}: {exc}", retryable=True)
        return Delivery(False, error=f"unknown action kind {kind!r}")

    async def _send_http(
        self, request: dict[str, Any], key: str, not_after: float | None
    ) -> Delivery:
        assert self._http is not None, "ActionSender.start() first"
        try:
            url = URL(str(request["url"]))
        except ValueError as exc:
            return Delivery(False, error=f"not a URL: {exc}")
        if url.scheme not in ("http", "https") or not url.raw_host or url.port is None:
            return Delivery(False, error=f"not an http(s) URL with a host: {str(url)[:200]}")
        if (refused := self._policy.host_refusal(url.raw_host, url.port)) is not None:
            return Delivery(False, error=f"destination refused: {refused}")
        await self._limiter.wait(f"{url.raw_host}:{url.port}")
        if _too_late(not_after):  # checked last, right before the call
            return NOT_SENT
        headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
        headers["Idempotency-Key"] = key
        method = str(request.get("method", "POST"))
        body = request.get("body")
        data = None
        if method != "GET" and body is not None:
            data = orjson.dumps(body)
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        query = {str(k): str(v) for k, v in (request.get("query") or {}).items()}
        timeout = request.get("timeoutMs", 30_000) / 1000
        try:
            async with self._http.request(
                method,
                url,
                params=query or None,
                headers=headers,
                data=data,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,  # a redirect is an answer, never followed
            ) as response:
                status = response.status
                raw, cut = await _read_bounded(response)
        except DestinationRefusedError as exc:  # from the resolver, as it is
            return Delivery(False, error=f"destination refused: {exc}")
        except TimeoutError:
            return Delivery(
                False, error=f"timed out after {timeout:g} s", retryable=True, timed_out=True
            )
        except aiohttp.ClientError as exc:
            return Delivery(False, error=f"{type(exc).__name__}: {exc}", retryable=True)
        payload = _payload(raw, cut)
        if status >= 400:
            return Delivery(False, payload, f"HTTP {status}", retryable=status not in NO_RETRY)
        return Delivery(True, payload)

    def _send_email(self, request: dict[str, Any], key: str) -> Delivery:
        host, port, default_from = self._smtp
        try:
            sender = one_address("from", request.get("from") or default_from)
            to = recipients(request.get("to"))
            subject = header_text("subject", request.get("subject"))
        except InvalidRequestError as exc:
            return Delivery(False, error=f"not sent: {exc.message}")
        message = EmailMessage()
        message["From"] = sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(idstring=key.replace(":", "."), domain="wayfare")
        message["X-Idempotency-Key"] = key
        text, html = request.get("text"), request.get("html")
        message.set_content(str(text) if text is not None else "")
        if html is not None:
            message.add_alternative(str(html), subtype="html")
        try:
            with smtplib.SMTP(host, port, timeout=30) as smtp:
                smtp.send_message(
                    message, from_addr=sender.addr_spec, to_addrs=[a.addr_spec for a in to]
                )
        except smtplib.SMTPRecipientsRefused as exc:
            return Delivery(False, error=f"recipient refused: {exc.recipients}")
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(False, error=f"SMTP: {exc}", retryable=True)
        return Delivery(True, {"to": message["To"], "messageId": message["Message-ID"]})


def _too_late(not_after: float | None) -> bool:
    return not_after is not None and time.monotonic() >= not_after


async def _read_bounded(response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """The response's body up to MAX_RESPONSE_BYTES, and whether there was more (the rest is
    not read: the connection is closed)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            return b"".join(chunks)[:MAX_RESPONSE_BYTES], True
    return b"".join(chunks), False


def _payload(raw: bytes, cut: bool = False) -> Any:
    """The response as @action{...} reads it: its JSON, else its text (cut at 2,000), as
    the text of a response that was cut (``truncated``)."""
    if cut:
        return {"text": raw[:2000].decode("utf-8", "replace"), "truncated": True}
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    else:
        if nesting(value) <= MAX_NESTING:
            return value  # deeper is kept as text: an instance holding it could not be stored
    return {"text": raw[:2000].decode("utf-8", "replace")}
