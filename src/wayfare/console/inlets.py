"""Inlets: each inlet's URL and a ready curl, with copy buttons; creating, enabling,
disabling and deleting one; issuing a token (shown once) and revoking them all."""

from __future__ import annotations

import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.console.pages import Console
from wayfare.console.session import Form, Session, redirect
from wayfare.registry.inlets import IssuedToken
from wayfare.registry.snippets import curl_command

TOKEN_LIFETIMES = (
    ("", "never"),
    ("3600", "in an hour"),
    ("86400", "in a day"),
    ("2592000", "in 30 days"),
    ("31536000", "in a year"),
)


def _detail(
    console: Console, org: str, key: str, token: IssuedToken | None = None, revoked: int = -1
) -> dict[str, Any]:
    s = console.services
    base = s.settings.base_url
    inlet = s.inlets.get(org, key)
    events = s.events.all(org)
    curl, example = None, None
    if inlet.data_type == "xdm" and events:
        example = events[0].name
        message = s.events.preview(org, example)
        auth = "<access token>" if inlet.authentication_required else None
        curl = curl_command(inlet.url(base), org, message, auth)
    return {
        "inlet": inlet,
        "url": inlet.url(base),
        "batch_url": f"{base}/collection/batch/{inlet.inlet_id}",
        "curl": curl,
        "example": example,
        "token": token,
        "revoked": revoked,
        "lifetimes": TOKEN_LIFETIMES,
    }


def routes(console: Console) -> list[Route]:
    inlets = console.services.inlets

    async def listing(request: Request, session: Session, org: str, form: Form) -> Response:
        found = await run_in_threadpool(inlets.all, org)
        base = console.services.settings.base_url
        context = {"inlets": [(i, i.url(base)) for i in found]}
        return console.render(request, session, "inlets.html", context)

    async def create(request: Request, session: Session, org: str, form: Form) -> Response:
        spec = {
            "name": form.get("name").strip(),
            "description": form.get("description"),
            "authenticationRequired": form.get("authenticationRequired") == "true",
        }
        inlet, token = await run_in_threadpool(inlets.create, org, spec)
        context = await run_in_threadpool(_detail, console, org, inlet.inlet_id, token)
        return console.render(request, session, "inlet.html", context, 201)

    async def detail(request: Request, session: Session, org: str, form: Form) -> Response:
        context = await run_in_threadpool(_detail, console, org, request.path_params["id"])
        return console.render(request, session, "inlet.html", context)

    async def state(request: Request, session: Session, org: str, form: Form) -> Response:
        key = request.path_params["id"]
        await run_in_threadpool(inlets.set_enabled, org, key, form.get("enabled") == "true")
        return redirect(request, f"/inlets/{key}")

    async def delete(request: Request, session: Session, org: str, form: Form) -> Response:
        await run_in_threadpool(inlets.delete, org, request.path_params["id"])
        return redirect(request, "/inlets")

    async def issue(request: Request, session: Session, org: str, form: Form) -> Response:
        key = request.path_params["id"]
        seconds = form.get("expiresInSeconds")
        token = await run_in_threadpool(
            inlets.issue_token, org, key, int(seconds) if seconds.isdecimal() else None
        )
        context = await run_in_threadpool(_detail, console, org, key, token)
        return console.render(request, session, "inlet.html", context, 201)

    async def revoke(request: Request, session: Session, org: str, form: Form) -> Response:
        key = request.path_params["id"]
        count = await run_in_threadpool(inlets.revoke_tokens, org, key)
        context = await run_in_threadpool(
            functools.partial(_detail, console, org, key, revoked=count)
        )
        return console.render(request, session, "inlet.html", context)

    return [
        Route("/inlets", console.page(listing), methods=["GET"]),
        Route("/inlets", console.page(create), methods=["POST"]),
        Route("/inlets/{id}", console.page(detail), methods=["GET"]),
        Route("/inlets/{id}/state", console.page(state), methods=["POST"]),
        Route("/inlets/{id}/delete", console.page(delete), methods=["POST"]),
        Route("/inlets/{id}/tokens", console.page(issue), methods=["POST"]),
        Route("/inlets/{id}/revoke", console.page(revoke), methods=["POST"]),
    ]
