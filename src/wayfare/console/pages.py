"""What every page shares: the ``Console`` (the services, sessions and templates), rendering
a template inside the base page, and ``Console.page``, which wraps a page's handler with
sign-in, CSRF and the org, and shows a failed use case's message where it happened."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from wayfare.api.problems import status_of
from wayfare.bootstrap import Services
from wayfare.console.flow import FlowRates, inlet_counts
from wayfare.console.session import Form, PageHandler, Session, Sessions, redirect, signed_in
from wayfare.errors import InvalidRequestError, WayfareError
from wayfare.registry.events import iso

log = logging.getLogger(__name__)

OrgHandler = Callable[[Request, Session, str, Form], Awaitable[Response]]
"""A page of one org: the request, the session, the org id and the submitted form (empty
on GET)."""

PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
"""Every page: scripts from this server only, never in a frame, nothing kept in caches
(pages show people's data)."""

NAVIGATION = (
    ("/", "Home"),
    ("/schemas", "Schemas"),
    ("/inlets", "Inlets"),
    ("/events", "Events"),
    ("/journeys", "Journeys"),
    ("/failures", "Failures"),
    ("/profiles", "Profiles"),
)
SECTIONS = {"datasets": "/schemas"}
"""Pages shown under another section's entry than their first path segment."""


def section_of(path: str) -> str:
    """The navigation entry a page belongs to: ``/events/x/edit`` → ``/events``."""
    first = path.strip("/").split("/", 1)[0]
    return SECTIONS.get(first, f"/{first}")


def pretty_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("wayfare.console", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json"] = pretty_json
    env.filters["iso"] = iso
    return env


@dataclass
class Console:
    services: Services
    sessions: Sessions
    env: Environment
    flow: FlowRates

    @classmethod
    def build(cls, services: Services) -> Console:
        sessions = Sessions(services.settings)
        return cls(services, sessions, templates(), FlowRates(inlet_counts, time.monotonic))

    def render(
        self,
        request: Request,
        session: Session | None,
        name: str,
        context: Mapping[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        """``name`` with the page's common context: the session, its org, the navigation."""
        html = self.env.get_template(name).render(
            {
                "request": request,
                "session": session,
                "org": session.org if session else None,
                "navigation": NAVIGATION,
                "here": request.url.path,
                "section": section_of(request.url.path),
                "signed_out_possible": not self.sessions.open,
                **(context or {}),
            }
        )
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

    def error(self, request: Request, session: Session | None, exc: WayfareError) -> Response:
        status, title = status_of(exc)
        if status >= 500:
            log.error("console page failed: %s", exc.message, exc_info=exc)
        violations = getattr(exc, "violations", ())
        partial = bool(request.headers.get("hx-request"))
        return self.render(
            request,
            session,
            "error_part.html" if partial else "error.html",
            {"title": title, "message": exc.message, "violations": violations},
            status,
        )

    def page(self, handler: OrgHandler) -> Callable[[Request], Awaitable[Response]]:
        """A page of the session's org: signed in, CSRF checked on changes, and an org
        chosen (else to the org page); a failed use case shows its message and violations."""

        async def with_org(request: Request, session: Session, form: Form) -> Response:
            if session.org is None:
                return redirect(request, "/org")
            return await handler(request, session, session.org, form)

        return self.anyone(with_org)

    def anyone(self, handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
        """A page for whoever is signed in, whatever their org."""

        async def guarded(request: Request, session: Session, form: Form) -> Response:
            try:
                return await handler(request, session, form)
            except WayfareError as exc:
                return self.error(request, session, exc)

        inner = signed_in(self.sessions, guarded)

        async def endpoint(request: Request) -> Response:
            try:
                return await inner(request)
            except WayfareError as exc:  # refused before the page ran: the CSRF check
                return self.error(request, self.sessions.read(request), exc)

        return endpoint


def required(form: Form, name: str, label: str) -> str:
    value = form.get(name).strip()
    if not value:
        raise InvalidRequestError(f"{label} is required")
    return value
