"""The console's files, shipped in the package and served from ``/static/``: htmx (from
npm's ``htmx.org``, with its licence beside it), dagre (npm's ``@dagrejs/dagre``, the
canvas's layout, with its licences beside it), the console's style sheet and scripts."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.errors import NotFoundError

ASSETS = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "dagre.min.js": "text/javascript; charset=utf-8",
    "canvas.js": "text/javascript; charset=utf-8",
    "canvas.css": "text/css; charset=utf-8",
}
"""What the pages load, each with its media type; nothing else is served."""


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        raise NotFoundError(f"No file {name!r} under /static")
    body = resources.files("wayfare.console").joinpath("static", name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers={"cache-control": "max-age=3600"})


def routes() -> list[Route]:
    return [Route("/static/{name}", asset, methods=["GET"])]
