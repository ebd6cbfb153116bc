"""The ASGI application: the collection fast path beside the Starlette admin app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.api.admin import admin_routes, check_admin_token, json_response, problem_response
from wayfare.api.bodies import AdminBodyLimits, BodyLimits, BytesInFlight
from wayfare.api.collection import CollectionEndpoint, is_collection_path
from wayfare.api.instrument import instrumented
from wayfare.api.openapi import openapi_document
from wayfare.api.problems import problem
from wayfare.bootstrap import Services
from wayfare.errors import WayfareError
from wayfare.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from wayfare.observability.metrics import exposition

DEMO_BODY_BYTES = 64 * 1024
"""The demo webhook keeps calls' bodies up to this size, and only their size beyond it."""

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def create_app(services: Services) -> ASGIApp:
    """The whole HTTP surface; the lifespan starts and stops the services."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    document = openapi_document()

    async def healthz(_: Request) -> Response:
        """Alive: the process answers. Whether it can do its work is /readyz."""
        return json_response({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ready, body = await asyncio.to_thread(services.readiness.check)
        return json_response(body, status=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        """Every process's metrics; the admin token, when one is set (inlet ids and the
        hosts journeys call are in the labels)."""
        try:
            check_admin_token(request, services)
        except WayfareError as exc:
            return problem_response(exc)
        body = await asyncio.to_thread(exposition)
        return Response(body, media_type=METRICS_CONTENT_TYPE)

    async def openapi(_: Request) -> Response:
        return json_response(document)

    inbox = services.inbox

    async def demo_webhook(request: Request) -> Response:
        """A receiver the demo journey can call: keeps the last 100 calls for GET."""
        if request.method == "GET":  # what the journey sent: people's data
            try:
                check_admin_token(request, services)
            except WayfareError as exc:
                return problem_response(exc)
            return json_response({"received": await inbox.recent()})
        raw = await request.body()
        body: Any = {"truncated": True, "bytes": len(raw)}  # 100 calls keep bounded memory
        if len(raw) <= DEMO_BODY_BYTES:
            try:
                body = orjson.loads(raw or b"null")
            except orjson.JSONDecodeError:
                body = None
        call = {"idempotencyKey": request.headers.get("idempotency-key"), "body": body}
        return json_response({"received": True, "count": await inbox.add(call)})

    async def on_error(_: Request, exc: Exception) -> Response:
        status, headers, body = problem(exc)
        return Response(body, status, {k.decode(): v.decode() for k, v in headers})

    settings = services.settings
    in_flight = BytesInFlight(settings.max_request_bytes_in_flight)
    demo_routes = [Route("/demo/webhook", demo_webhook, methods=["GET", "POST"])]
    admin = AdminBodyLimits(
        Starlette(
            routes=[
                Route("/healthz", healthz, methods=["GET"]),
                Route("/readyz", readyz, methods=["GET"]),
                Route("/metrics", metrics, methods=["GET"]),
                Route("/openapi.json", openapi, methods=["GET"]),
                *(demo_routes if settings.demo else []),
                *admin_routes(services),
            ],
            exception_handlers={WayfareError: on_error},
            lifespan=lifespan,
        ),
        BodyLimits(settings.max_admin_request_bytes, in_flight, settings.max_discard_bytes),
    )
    collection = CollectionEndpoint(
        services.inlet,
        BodyLimits(settings.max_request_bytes, in_flight, settings.max_discard_bytes),
    )

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_collection_path(scope["path"]):
            await collection(scope, receive, send)
        else:
            await admin(scope, receive, send)

    return instrumented(app, access_log=services.settings.access_log)
