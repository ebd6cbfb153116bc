"""The console's session: a signed cookie (HttpOnly, SameSite=Strict) that only this
server's secret and admin token open, and the CSRF token every change must carry."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from wayfare.config import CONSOLE_SECRET_FILE, Settings
from wayfare.console.secret import console_secret
from wayfare.console.session import COOKIE, Session, Sessions
from wayfare.console.signin import local_target
from wayfare.errors import ForbiddenError


def sessions(data_dir: Path, **settings: Any) -> Sessions:
    return Sessions(Settings(data_dir=data_dir, **settings))


def request(cookie: str | None = None, body: bytes = b"", **headers: str) -> Request:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    if cookie is not None:
        raw.append((b"cookie", f"{COOKIE}={cookie}".encode()))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": raw}
    return Request(scope, receive)


def cookie_of(store: Sessions, session: Session) -> tuple[str, str]:
    """The cookie's value and its whole Set-Cookie header."""
    header = store.store(Response(), session).headers["set-cookie"]
    value = header.split(";", 1)[0].split("=", 1)[1]
    return value, header


def test_a_session_comes_back_from_its_cookie_which_scripts_and_other_sites_cannot_use(
    tmp_path: Path,
) -> None:
    store = sessions(tmp_path, admin_token="admin")
    session = store.new().with_org("ACME@AdobeOrg").with_org("OTHER@AdobeOrg")
    value, header = cookie_of(store, session)
    assert "HttpOnly" in header
    assert "SameSite=strict" in header
    assert store.read(request(value)) == session
    assert session.orgs == ("OTHER@AdobeOrg", "ACME@AdobeOrg")


def test_a_changed_cookie_or_another_admin_token_opens_no_session(tmp_path: Path) -> None:
    store = sessions(tmp_path, admin_token="admin")
    value, _ = cookie_of(store, store.new())
    assert store.read(request(value[:-2] + "xx")) is None
    assert store.read(request("not-a-session")) is None
    assert sessions(tmp_path, admin_token="rotated").read(request(value)) is None


def test_only_the_admin_token_signs_in_and_no_token_lets_everyone_in(tmp_path: Path) -> None:
    guarded = sessions(tmp_path, admin_token="admin")
    assert guarded.token_valid("admin")
    assert not guarded.token_valid("admin2")
    assert not guarded.token_valid("")
    assert not guarded.open
    assert sessions(tmp_path).open


def test_a_change_needs_the_sessions_csrf_token_in_the_form_or_a_header(tmp_path: Path) -> None:
    store = sessions(tmp_path)
    session = store.new()
    form = asyncio.run(store.check_csrf(request(body=f"csrf={session.csrf}&a=1".encode()), session))
    assert form.get("a") == "1"
    asyncio.run(store.check_csrf(request(x_csrf_token=session.csrf), session))
    for refused in (request(body=b"a=1"), request(body=b"csrf=guessed"), request(x_csrf_token="x")):
        with pytest.raises(ForbiddenError):
            asyncio.run(store.check_csrf(refused, session))


def test_the_secret_is_made_once_per_data_directory_unless_the_settings_give_one(
    tmp_path: Path,
) -> None:
    first = console_secret(Settings(data_dir=tmp_path))
    assert len(first) >= 32
    assert console_secret(Settings(data_dir=tmp_path)) == first
    assert stat.S_IMODE((tmp_path / CONSOLE_SECRET_FILE).stat().st_mode) == 0o600
    assert console_secret(Settings(data_dir=tmp_path, console_secret="given")) == "given"
    assert console_secret(Settings(data_dir=tmp_path / "other")) != first


def test_a_new_session_opens_the_demo_org_only_on_a_demo_server(tmp_path: Path) -> None:
    assert sessions(tmp_path, demo=True).new().org == "DEMO@WayfareOrg"
    assert sessions(tmp_path).new().org is None


def test_sign_in_goes_on_to_a_page_of_this_server_only() -> None:
    assert local_target("/events/signup?x=1") == "/events/signup?x=1"
    for elsewhere in ("https://evil.example", "//evil.example", "/\\evil.example", "events", ""):
        assert local_target(elsewhere) == "/"
