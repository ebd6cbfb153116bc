"""The ASGI application: the collection fast path beside the Starlette admin app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from wayfare.api.admin import admin_operations, check_admin_token
from wayfare.api.bodies import AdminBodyLimits, BodyLimits, BytesInFlight
from wayfare.api.collection import CollectionEndpoint, is_collection_path
from wayfare.api.docs import ASSETS, docs_asset, docs_page
from wayfare.api.instrument import instrumented
from wayfare.api.openapi import openapi_document
from wayfare.api.operations import Endpoint, Operation, error_response, json_answer, routes
from wayfare.bootstrap import Services
from wayfare.errors import NotFoundError, WayfareError
from wayfare.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from wayfare.observability.metrics import exposition
from wayfare.wire.server import DemoCalls, DemoReceived, Health

HTML = "text/html"
DEMO_BODY_BYTES = 64 * 1024
"""The demo webhook keeps calls' bodies up to this size, and only their size beyond it."""

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _demo_operations(services: Services) -> list[Operation]:
    inbox = services.inbox

    async def demo_calls(request: Request) -> Response:
        """What the journey sent: people's data, so behind the admin token."""
        try:
            check_admin_token(request, services)
        except WayfareError as exc:
            return error_response(exc)
        return json_answer(DemoCalls, {"received": await inbox.recent()})

    async def demo_receive(request: Request) -> Response:
        raw = await request.body()
        body: Any = {"truncated": True, "bytes": len(raw)}  # 100 calls keep bounded memory
        if len(raw) <= DEMO_BODY_BYTES:
            try:
                body = orjson.loads(raw or b"null")
            except orjson.JSONDecodeError:
                body = None
        call = {"idempotencyKey": request.headers.get("idempotency-key"), "body": body}
        return json_answer(DemoReceived, {"received": True, "count": await inbox.add(call)})

    path, tag = "/demo/webhook", "demo"
    return [
        Operation(
            "GET", path, demo_calls, "The last 100 calls the demo journey made", DemoCalls,
            errors=(401, 403), tag=tag, org_header=False,
        ),
        Operation(
            "POST", path, demo_receive, "A receiver the demo journey calls", DemoReceived,
            errors=(), tag=tag, auth=False, org_header=False,
        ),
    ]  # fmt: skip


def _watch_operations(services: Services) -> list[Operation]:
    """Readiness and metrics."""

    async def readyz(_: Request) -> Response:
        ready, body = await asyncio.to_thread(services.readiness.check)
        return Response(orjson.dumps(body), 200 if ready else 503, media_type="application/json")

    async def metrics(request: Request) -> Response:
        """Every process's metrics; the admin token, when one is set (inlet ids and the
        hosts journeys call are in the labels)."""
        try:
            check_admin_token(request, services)
        except WayfareError as exc:
            return error_response(exc)
        body = await asyncio.to_thread(exposition)
        return Response(body, media_type=METRICS_CONTENT_TYPE)

    return [
        Operation(
            "GET", "/readyz", readyz,
            "Ready: the store writable, the journey engine running, its lag under "
            "ready_max_lag (503 names what is not)", dict[str, Any],
            status=(200, 503), errors=(), tag="server", auth=False, org_header=False,
        ),
        Operation(
            "GET", "/metrics", metrics, "Metrics in Prometheus' text format", str,
            errors=(401, 403), tag="server", org_header=False, media_type="text/plain",
        ),
    ]  # fmt: skip


def served(services: Services) -> tuple[list[Operation], dict[str, Any]]:
    """Every operation of the Starlette app (health, readiness, metrics, the description,
    the docs page, the demo's webhook with ``--demo``, the admin API) and the description
    of them all."""

    async def healthz(_: Request) -> Response:
        """Alive: the process answers. Whether it can do its work is /readyz."""
        return json_answer(Health, Health(status="ok"))

    async def openapi(_: Request) -> Response:
        return Response(orjson.dumps(document), media_type="application/json")

    def plain(path: str, endpoint: Endpoint, summary: str, answer: Any, **more: Any) -> Operation:
        return Operation(
            "GET", path, endpoint, summary, answer,
            **{"errors": (), "tag": "server", "auth": False, "org_header": False, **more},
        )  # fmt: skip

    operations = [
        plain("/healthz", healthz, "Liveness", Health),
        *_watch_operations(services),
        plain("/openapi.json", openapi, "This description (OpenAPI 3.1)", dict[str, Any]),
        plain("/docs", docs_page, "This description as a page (Swagger UI)", str, media_type=HTML),
        plain(
            "/docs/{asset}", docs_asset, "The page's scripts and styles", str,
            errors=(404,), media_type="*/*", slashes=frozenset({"asset"}),
            path_schemas={"asset": {"enum": sorted(ASSETS)}},
        ),
        *(_demo_operations(services) if services.settings.demo else []),
        *admin_operations(services),
    ]  # fmt: skip
    document = openapi_document(
        operations,
        max_request_bytes=services.settings.max_request_bytes,
        secured=bool(services.settings.admin_token),
    )
    return operations, document


async def _not_found(request: Request, _: Exception) -> Response:
    """Starlette's own 404 (no route for the path) as a problem; every route takes every
    method (``PathEndpoint``), so the router raises nothing else."""
    return error_response(NotFoundError(f"Nothing at {request.url.path}"))


async def _on_error(_: Request, exc: Exception) -> Response:
    return error_response(exc)


def create_app(services: Services, pages: Sequence[BaseRoute] = ()) -> ASGIApp:
    """The whole HTTP surface; the lifespan starts and stops the services. ``pages``: routes
    served beside the API's (the console's, which ``serving`` hands in)."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    settings = services.settings
    in_flight = BytesInFlight(settings.max_request_bytes_in_flight)
    operations, _ = served(services)
    admin = AdminBodyLimits(
        Starlette(
            routes=[*routes(operations), *pages],
            lifespan=lifespan,
            exception_handlers={HTTPException: _not_found, WayfareError: _on_error},
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

    return instrumented(app, access_log=settings.access_log)
