"""Delivering actions: custom HTTP calls and email over SMTP, one attempt at a time.

Retries are the outbox's business (durable, with backoff); this module makes one attempt,
says whether another could help, and keeps each host under its rate limit.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

import httpx

NO_RETRY = frozenset({401, 403, 404})


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    response: Any = None
    error: str | None = None
    retryable: bool = False
    timed_out: bool = False


class HostLimiter:
    """At most ``rate`` calls per second to each host (0: unlimited)."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._next: dict[str, float] = {}

    async def wait(self, host: str) -> None:
        if self._rate <= 0:
            return
        now = time.monotonic()
        slot = max(now, self._next.get(host, now))
        self._next[host] = slot + 1.0 / self._rate
        if slot > now:
            await asyncio.sleep(slot - now)


class ActionSender:
    def __init__(
        self, *, smtp_host: str, smtp_port: int, smtp_from: str, rate_per_host: float = 0.0
    ) -> None:
        self._smtp = (smtp_host, smtp_port, smtp_from)
        self._limiter = HostLimiter(rate_per_host)
        self._http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        # Keep connections to receivers alive: actions come in bursts.
        limits = httpx.Limits(
            max_connections=100, max_keepalive_connections=100, keepalive_expiry=30
        )
        self._http = httpx.AsyncClient(follow_redirects=False, limits=limits)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def send(self, kind: str, request: dict[str, Any], key: str) -> Delivery:
        try:
            if kind == "http":
                return await self._send_http(request, key)
            if kind == "email":
                return await asyncio.to_thread(self._send_email, request, key)
        except Exception as exc:  # a delivery failure must never stop the dispatcher
            return Delivery(False, error=f"{type(exc).__name__}: {exc}", retryable=True)
        return Delivery(False, error=f"unknown action kind {kind!r}")

    async def _send_http(self, request: dict[str, Any], key: str) -> Delivery:
        assert self._http is not None, "ActionSender.start() first"
        url = str(request["url"])
        await self._limiter.wait(urlsplit(url).netloc)
        headers = {**request.get("headers", {}), "Idempotency-Key": key}
        method = str(request.get("method", "POST"))
        body = request.get("body")
        timeout = request.get("timeoutMs", 30_000) / 1000
        try:
            response = await self._http.request(
                method,
                url,
                params=request.get("query") or None,
                headers=headers,
                json=body if method != "GET" and body is not None else None,
                timeout=timeout,
            )
        except httpx.TimeoutException:
            return Delivery(
                False, error=f"timed out after {timeout:g} s", retryable=True, timed_out=True
            )
        except httpx.HTTPError as exc:
            return Delivery(False, error=f"{type(exc).__name__}: {exc}", retryable=True)
        try:
            payload: Any = response.json()
        except ValueError:
            payload = {"text": response.text[:2000]} if response.text else {}
        if response.status_code >= 400:
            return Delivery(
                False,
                payload,
                f"HTTP {response.status_code}",
                retryable=response.status_code not in NO_RETRY,
            )
        return Delivery(True, payload)

    def _send_email(self, request: dict[str, Any], key: str) -> Delivery:
        host, port, default_from = self._smtp
        message = EmailMessage()
        message["From"] = request.get("from") or default_from
        message["To"] = str(request["to"])
        message["Subject"] = str(request.get("subject", ""))
        message["Message-ID"] = make_msgid(idstring=key.replace(":", "."), domain="wayfare")
        message["X-Idempotency-Key"] = key
        text, html = request.get("text"), request.get("html")
        message.set_content(str(text) if text is not None else "")
        if html is not None:
            message.add_alternative(str(html), subtype="html")
        try:
            with smtplib.SMTP(host, port, timeout=30) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            return Delivery(False, error=f"recipient refused: {exc.recipients}")
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(False, error=f"SMTP: {exc}", retryable=True)
        return Delivery(True, {"to": message["To"], "messageId": message["Message-ID"]})
