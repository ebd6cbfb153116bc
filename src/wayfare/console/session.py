"""Who is signed in to the console, for which org, and the CSRF token of their changes.

The session lives in a signed cookie (HttpOnly, SameSite=Strict): nothing is kept on the
server, so any HTTP process answers any page. Its key is the console secret together with
the admin token, so changing the admin token signs everyone out.

Every change (a method other than GET and HEAD) carries the session's CSRF token, in the
form field ``csrf`` or the ``X-CSRF-Token`` header (htmx sends it from the page's body);
one without it is refused with 403, whatever the cookie says.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wayfare.config import Settings
from wayfare.console.secret import console_secret
from wayfare.errors import ForbiddenError
from wayfare.registry.demo import DEMO_ORG

COOKIE = "wayfare_console"
MAX_AGE_SECONDS = 12 * 3600
"""A session ends this long after sign-in."""
MAX_ORGS = 10
"""Orgs the switcher remembers."""
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in person: the CSRF token of their changes, the org they look at, and the
    orgs they have looked at (the switcher's list)."""

    csrf: str
    org: str | None = None
    orgs: tuple[str, ...] = ()

    def with_org(self, org: str) -> Session:
        orgs = (org, *(o for o in self.orgs if o != org))[:MAX_ORGS]
        return replace(self, org=org, orgs=orgs)


@dataclass(frozen=True, slots=True)
class Form:
    """A submitted form (``application/x-www-form-urlencoded``)."""

    fields: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[-1] if values else default

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))


async def read_form(request: Request) -> Form:
    fields: dict[str, list[str]] = {}
    for key, value in parse_qsl((await request.body()).decode("utf-8", "replace"), True):
        fields.setdefault(key, []).append(value)
    return Form(fields)


class Sessions:
    """Signs sessions into cookies and reads them back."""

    def __init__(self, settings: Settings) -> None:
        self._admin_token = settings.admin_token
        self.open = not settings.admin_token
        """No admin token: whoever reaches the server is in (loopback, or served open on
        purpose with ``insecure_no_admin_token``, as the admin API is)."""
        self._secure = (settings.public_url or "").startswith("https://")
        key = (
            console_secret(settings)
            + hashlib.sha256((settings.admin_token or "").encode()).hexdigest()
        )
        self._serializer = URLSafeTimedSerializer(key, salt="wayfare-console-session")
        self.default_org = DEMO_ORG if settings.demo else None
        """The org a new session opens: the demo's with ``--demo``, else none (the person
        chooses one)."""

    def token_valid(self, given: str) -> bool:
        token = self._admin_token
        return token is None or hmac.compare_digest(given.encode(), token.encode())

    def new(self) -> Session:
        session = Session(csrf=secrets.token_urlsafe(24))
        return session.with_org(self.default_org) if self.default_org else session

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data: Any = self._serializer.loads(raw, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        orgs = tuple(o for o in data.get("orgs", ()) if isinstance(o, str))
        org = data.get("org") if isinstance(data.get("org"), str) else None
        return Session(csrf=data["csrf"], org=org, orgs=orgs)

    def store(self, response: Response, session: Session) -> Response:
        value = self._serializer.dumps(
            {"csrf": session.csrf, "org": session.org, "orgs": list(session.orgs)}
        )
        response.set_cookie(
            COOKIE,
            str(value),
            max_age=MAX_AGE_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=self._secure,
        )
        return response

    def end(self, response: Response) -> Response:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def check_csrf(self, request: Request, session: Session) -> Form:
        """The request's form, once its CSRF token is the session's; else ForbiddenError."""
        form = await read_form(request)
        given = request.headers.get("x-csrf-token") or form.get("csrf")
        if not given or not hmac.compare_digest(given.encode(), session.csrf.encode()):
            raise ForbiddenError("The change came without this session's CSRF token")
        return form


def redirect(request: Request, target: str) -> Response:
    """See ``target``; htmx follows ``HX-Redirect`` where a plain redirect would swap the
    answer into a part of the page."""
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def sign_in_first(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(request, f"/signin?next={quote(here, safe='')}")


PageHandler = Callable[[Request, Session, Form], Awaitable[Response]]


def signed_in(sessions: Sessions, handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    """Run ``handler`` for a signed-in person (else to the sign-in page); changes only with
    the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        session = sessions.read(request)
        if session is None:
            if not sessions.open:
                return sign_in_first(request)
            session = sessions.new()
            response = await _with_form(sessions, handler, request, session)
            return sessions.store(response, session)
        return await _with_form(sessions, handler, request, session)

    return endpoint


async def _with_form(
    sessions: Sessions, handler: PageHandler, request: Request, session: Session
) -> Response:
    if request.method in SAFE_METHODS:
        return await handler(request, session, Form())
    form = await sessions.check_csrf(request, session)
    return await handler(request, session, form)
