"""The console over plain HTTP: served at ``/`` by the embedded server and by a scale-out
one, straight in without an admin token, and refusing a change without its CSRF token even
then (the browser tests in ``tests/browser/`` walk through the pages)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.nats_support import NatsSettings, stream_env

pytestmark = pytest.mark.integration


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def test_without_an_admin_token_the_console_lets_in_and_still_wants_the_csrf_token(
    server: Server,
) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        first = browser.get("/")
        assert first.status_code == 200
        assert first.url.path == "/org"  # straight in; which org is the one question
        assert "HttpOnly" in first.history[0].headers["set-cookie"]
        assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
        assert "default-src 'self'" in first.headers["content-security-policy"]
        csrf = csrf_of(first)

        refused = browser.post("/org", data={"org": "ACME@AdobeOrg"})
        assert refused.status_code == 403
        chosen = browser.post("/org", data={"org": "ACME@AdobeOrg", "csrf": csrf})
        assert chosen.status_code == 200
        assert "Is data flowing?" in chosen.text

        assert browser.post("/inlets", data={"name": "a"}).status_code == 403
        made = browser.post("/inlets", data={"name": "from-the-console", "csrf": csrf})
        assert made.status_code == 201
    listed = httpx.get(
        f"{server.url}/api/v1/inlets", headers={"x-gw-ims-org-id": "ACME@AdobeOrg"}
    ).json()
    assert [i["name"] for i in listed["inlets"]] == ["from-the-console"]
    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        page = browser.get("/org")  # a new session: the org a write made is offered
        assert 'name="org" value="ACME@AdobeOrg"' in page.text


def test_the_console_ships_its_files_and_leaves_the_api_as_it_was(server: Server) -> None:
    htmx = httpx.get(f"{server.url}/static/htmx.min.js")
    assert htmx.status_code == 200
    assert htmx.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{server.url}/static/secret.txt").status_code == 404
    missing = httpx.get(f"{server.url}/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_a_scale_out_server_serves_the_console(
    tmp_path: Path, pg_database: str, nats_settings: NatsSettings
) -> None:
    srv = Server(
        tmp_path / "data",
        extra_args=["--store", pg_database, "--log", nats_settings.url],
        env={**stream_env(nats_settings), "WAYFARE_ADMIN_TOKEN": "scaled"},
    ).start()
    try:
        with httpx.Client(base_url=srv.url, follow_redirects=True) as browser:
            asked = browser.get("/events")
            assert asked.url.path == "/signin"
            wrong = browser.post("/signin", data={"token": "guess", "next": "/events"})
            assert wrong.status_code == 403
            signed = browser.post("/signin", data={"token": "scaled", "next": "/events"})
            assert signed.url.path == "/org"
            events = browser.post(
                "/org", data={"org": "ACME@AdobeOrg", "csrf": csrf_of(signed), "next": "/events"}
            )
            assert events.status_code == 200
            assert "No events yet." in events.text
    finally:
        srv.stop()


def test_the_journey_editor_refuses_yaml_whose_aliases_stand_for_millions_of_values(
    server: Server,
) -> None:
    """Ten lines of aliases standing for 387 million values are answered with the problem
    (read as they were, they held the HTTP process for minutes and gigabytes)."""
    laughs = ["  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    laughs += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    definition = "\n".join(
        [
            "name: laughs",
            "values:",
            *laughs,
            "entry: {event: e, next: hook}",
            "activities:",
            "  hook: {type: http, method: POST, url: 'http://127.0.0.1:9/', body: *a9, next: done}",
            "  done: {type: end}",
        ]
    )
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=30) as browser:
        csrf = csrf_of(browser.get("/"))
        assert browser.post("/org", data={"org": "ACME@AdobeOrg", "csrf": csrf}).status_code == 200
        answer = browser.post(
            "/journeys/-/new",
            data={"definition": definition, "csrf": csrf},
        )
        assert answer.status_code == 400
        assert "aliases (*name) make it over 1,000,000 values" in answer.text
        assert browser.get("/journeys").status_code == 200
