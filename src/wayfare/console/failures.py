"""Failures: the failed records of the org, filtered by inlet and time, each with every
violation and its JSON pointer, and the original message."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.console.pages import Console
from wayfare.console.session import Form, Session
from wayfare.errors import InvalidRequestError, Violation

SHOWN = 50


def moment_ms(raw: str, name: str) -> int | None:
    """A ``datetime-local`` field's value (or any ISO 8601 date-time), read as UTC when it
    names no offset."""
    if not raw.strip():
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(
            f"{name} must be a date and time",
            violations=(Violation(f"?{name}", "format", "not a date-time"),),
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _failures(console: Console, org: str, inlet: str, since: str, until: str) -> dict[str, Any]:
    s = console.services
    inlets = s.inlets.all(org)
    inlet_id = s.inlets.get(org, inlet).inlet_id if inlet else None
    found = s.store.list_failures(
        org,
        inlet_id=inlet_id,
        since_ms=moment_ms(since, "since"),
        until_ms=moment_ms(until, "until"),
        limit=SHOWN,
    )
    names = {i.inlet_id: i.name for i in inlets}
    return {
        "inlets": inlets,
        "names": names,
        "failures": [f.as_json() for f in found],
        "filters": {"inlet": inlet_id or "", "since": since, "until": until},
        "shown": SHOWN,
    }


def routes(console: Console) -> list[Route]:
    async def failures(request: Request, session: Session, org: str, form: Form) -> Response:
        q = request.query_params
        context = await run_in_threadpool(
            functools.partial(
                _failures, console, org, q.get("inlet", ""), q.get("since", ""), q.get("until", "")
            )
        )
        return console.render(request, session, "failures.html", context)

    return [Route("/failures", console.page(failures), methods=["GET"])]
