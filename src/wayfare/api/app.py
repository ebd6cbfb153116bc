"""The ASGI application: the collection fast path beside the Starlette admin app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from wayfare.api.admin import admin_operations, check_admin_token
from wayfare.api.collection import CollectionEndpoint, is_collection_path
from wayfare.api.docs import ASSETS, docs_asset, docs_page
from wayfare.api.openapi import openapi_document
from wayfare.api.operations import Endpoint, Operation, error_response, json_answer, routes
from wayfare.bootstrap import Services
from wayfare.errors import NotFoundError, WayfareError
from wayfare.wire.server import DemoCalls, DemoReceived, Health

HTML = "text/html"

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
        try:
            body = orjson.loads(await request.body() or b"null")
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


def served(services: Services) -> tuple[list[Operation], dict[str, Any]]:
    """Every operation of the Starlette app (health, the description, the docs page, the
    demo's webhook with ``--demo``, the admin API) and the description of them all."""

    async def healthz(_: Request) -> Response:
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


def create_app(services: Services) -> ASGIApp:
    """The whole HTTP surface; the lifespan starts and stops the services."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    operations, _ = served(services)
    admin = Starlette(
        routes=routes(operations),
        lifespan=lifespan,
        exception_handlers={HTTPException: _not_found},
    )
    collection = CollectionEndpoint(services.inlet, services.settings.max_request_bytes)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_collection_path(scope["path"]):
            await collection(scope, receive, send)
        else:
            await admin(scope, receive, send)

    return app
