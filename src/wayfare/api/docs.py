"""``/docs``: Swagger UI over ``/openapi.json``, from files shipped in the package."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from wayfare.errors import NotFoundError

ASSETS = {
    "swagger-ui/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui/swagger-ui.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
"""What the page loads, each with its media type; nothing else is served."""


def _read(name: str) -> bytes:
    return resources.files("wayfare.api").joinpath("static", name).read_bytes()


async def docs_page(_: Request) -> Response:
    return Response(_read("docs.html"), media_type="text/html; charset=utf-8")


async def docs_asset(request: Request) -> Response:
    name = request.path_params["asset"]
    if name not in ASSETS:
        raise NotFoundError(f"No file {name!r} under /docs")
    headers = {"cache-control": "public, max-age=86400"}
    return Response(_read(name), media_type=ASSETS[name], headers=headers)
