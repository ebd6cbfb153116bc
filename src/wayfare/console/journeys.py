"""Journeys: the list, the canvas, the editor, publishing and test mode."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.console.pages import Console
from wayfare.console.session import Form, Session


def routes(console: Console) -> list[Route]:
    async def journeys(request: Request, session: Session, org: str, form: Form) -> Response:
        found = await run_in_threadpool(console.services.journeys.all, org)
        return console.render(request, session, "journeys.html", {"journeys": found})

    return [Route("/journeys", console.page(journeys), methods=["GET"])]
