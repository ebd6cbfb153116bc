"""Home: is data flowing? Each inlet's messages per minute, the latest failures and the
live journeys with the people inside; the part below the title refreshes itself."""

from __future__ import annotations

import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.console.pages import Console
from wayfare.console.session import Form, Session

LATEST_FAILURES = 5
REFRESH_SECONDS = 5
DAY_MS = 86_400_000


def _flowing(console: Console, org: str) -> dict[str, Any]:
    s = console.services
    inlets = s.inlets.all(org)
    failures = s.store.list_failures(org, limit=LATEST_FAILURES)
    midnight = s.clock.now_ms() // DAY_MS * DAY_MS
    return {
        "inlets": inlets,
        "flows": console.flow.flows([i.inlet_id for i in inlets]),
        "failures": [f.as_json() for f in failures],
        "journeys": s.journeys.live_people(org, midnight),
        "refresh": REFRESH_SECONDS,
    }


def routes(console: Console) -> list[Route]:
    async def home(request: Request, session: Session, org: str, form: Form) -> Response:
        context = await run_in_threadpool(functools.partial(_flowing, console, org))
        return console.render(request, session, "home.html", context)

    async def flowing(request: Request, session: Session, org: str, form: Form) -> Response:
        context = await run_in_threadpool(functools.partial(_flowing, console, org))
        return console.render(request, session, "home_flow.html", context)

    return [
        Route("/", console.page(home), methods=["GET"]),
        Route("/home/flow", console.page(flowing), methods=["GET"]),
    ]
