"""Signing in with the admin token (straight in when the server has none), signing out,
and the org switcher."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.console.pages import Console, required
from wayfare.console.session import Form, Session, read_form, redirect
from wayfare.registry.orgs import list_orgs


def local_target(target: str) -> str:
    """Where to go after sign-in: a path of this server only."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return "/"
    return target


def routes(console: Console) -> list[Route]:
    sessions = console.sessions

    async def signin_page(request: Request) -> Response:
        target = local_target(request.query_params.get("next", "/"))
        if sessions.read(request) is not None:
            return redirect(request, target)
        if sessions.open:
            return sessions.store(redirect(request, target), sessions.new())
        return console.render(request, None, "signin.html", {"next": target, "failed": False})

    async def signin(request: Request) -> Response:
        form = await read_form(request)
        target = local_target(form.get("next", "/"))
        if not sessions.token_valid(form.get("token")):
            context = {"next": target, "failed": True}
            return console.render(request, None, "signin.html", context, 403)
        return sessions.store(redirect(request, target), sessions.new())

    async def signout(request: Request, session: Session, form: Form) -> Response:
        return sessions.end(redirect(request, "/signin"))

    async def org_page(request: Request, session: Session, form: Form) -> Response:
        known = await run_in_threadpool(list_orgs, console.services.store)
        return console.render(request, session, "org.html", {"known": known})

    async def switch_org(request: Request, session: Session, form: Form) -> Response:
        org = required(form, "org", "The org id")
        target = local_target(form.get("next", "/"))
        return sessions.store(redirect(request, target), session.with_org(org))

    return [
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", console.anyone(signout), methods=["POST"]),
        Route("/org", console.anyone(org_page), methods=["GET"]),
        Route("/org", console.anyone(switch_org), methods=["POST"]),
    ]
