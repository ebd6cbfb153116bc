"""Around every HTTP request: its latency by route and status (``/metrics``) and, when
``access_log`` is on, one access log line (method, path without its query, status,
duration, bytes sent). Headers are never logged, so neither are tokens; inlet ids, which
are in paths, are not secrets."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from wayfare.api.collection import GATEWAY_PREFIX, is_collection_path
from wayfare.observability.logs import ACCESS_LOGGER
from wayfare.observability.metrics import process_metrics

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def route_of(scope: dict[str, Any]) -> str:
    """The route a request took, as a template (never a path: an id would make a label
    value per resource); ``unmatched`` when none took it."""
    path = scope["path"]
    if is_collection_path(path):
        prefix = GATEWAY_PREFIX if path.startswith(GATEWAY_PREFIX) else ""
        batch = path.removeprefix(GATEWAY_PREFIX).startswith("/collection/batch/")
        return f"{prefix}/collection/{'batch/' if batch else ''}{{inletId}}"
    route = scope.get("route")  # Starlette sets it on the scope it was given
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else "unmatched"


def instrumented(app: ASGIApp, *, access_log: bool) -> ASGIApp:
    metrics = process_metrics()
    access = logging.getLogger(ACCESS_LOGGER) if access_log else None

    async def observed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting one
        sent = 0

        async def counting_send(message: dict[str, Any]) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive, counting_send)
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe_request(route_of(scope), status, elapsed)
            if access is not None:
                duration_ms = round(elapsed * 1000, 2)
                access.info(
                    "%s %s %d %.2fms %dB",
                    scope["method"],
                    scope["path"],
                    status,
                    duration_ms,
                    sent,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": duration_ms,
                        "bytes": sent,
                    },
                )

    return observed
