"""What a person does in the console, in a real browser, against a real server."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_TOKEN, Visit
from tests.conftest import Demo, Server

pytestmark = pytest.mark.integration

TENANT = "_instance_name"


def preview_of_new_event(demo: Demo) -> dict[str, Any]:
    """The payload preview of a system-generated event made through the admin API."""
    with demo.server.admin(demo.org, ADMIN_TOKEN) as admin:
        event = {"name": "e", "schemaId": demo.schema_id, "namespace": "Email"}
        made = admin.post("/api/v1/events", json=event)
        assert made.status_code == 201, made.text
        preview: dict[str, Any] = admin.get("/api/v1/events/e/payload-preview").json()
    return preview


def send_as(demo: Demo, message: dict[str, Any], msg_id: str, email: str) -> None:
    """``message`` to the demo inlet, under ``msg_id``, about the person ``email``."""
    message["header"]["msgId"] = msg_id
    message["body"]["xdmEntity"]["identityMap"]["Email"][0]["id"] = email
    assert httpx.post(demo.inlet_url, json=message).status_code == 200


def test_sign_in_takes_the_admin_token_and_keeps_the_session_in_a_strict_cookie(
    visit: Visit, demo: Demo
) -> None:
    page = visit.go("/inlets", "sign-in")
    expect(page).to_have_url(f"{demo.server.url}/signin?next=%2Finlets")
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not the admin token")
    visit.shot("wrong-token")

    visit.sign_in(demo.org)
    cookie = next(c for c in page.context.cookies() if c["name"] == "wayfare_console")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    expect(page.get_by_role("heading", name="Is data flowing?")).to_be_visible()
    expect(page.get_by_role("row", name="demo-inlet")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    visit.go("/events", "signed-out")
    expect(page).to_have_url(f"{demo.server.url}/signin?next=%2Fevents")


def test_an_event_made_in_the_console_matches_the_payload_its_copy_button_gave(
    visit: Visit, demo: Demo
) -> None:
    visit.sign_in(demo.org)
    page = visit.go("/events/-/new", "new-event")
    page.locator("#event-name").fill("signup_seen")
    page.get_by_label("Schema").select_option(demo.schema_id)
    page.locator("#event-namespace").fill("Email")
    page.get_by_role("radio", name="System-generated").check()
    page.get_by_label("firstName").check()
    page.get_by_label("birthYear").check()
    visit.shot("new-event-filled")
    page.get_by_role("button", name="Create event").click()
    page.wait_for_url("**/events/signup_seen")
    visit.shot("event")

    page.get_by_role("button", name="Copy payload").focus()  # by keyboard
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert copied["header"]["imsOrgId"] == demo.org
    assert copied["body"]["xdmEntity"][TENANT]["person"] == {"firstName": "string", "birthYear": 0}
    copied["body"]["xdmEntity"]["identityMap"]["Email"][0]["id"] = "ada@example.com"

    sent = httpx.post(demo.inlet_url, json=copied, params={"syncValidation": "true"})
    assert sent.status_code == 200, sent.text

    message = page.locator("#event-messages tr.message").first  # htmx refreshes the list
    expect(message).to_contain_text("matched")
    expect(message).to_contain_text("ada@example.com")
    expect(message).to_contain_text(sent.json()["xactionId"])
    visit.shot("event-matched")

    page.get_by_role("link", name="Edit").click()
    page.wait_for_url("**/events/signup_seen/edit")
    visit.shot("event-edit")
    page.get_by_label("Description").fill("Seen signing up")
    page.get_by_label("lastName").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/events/signup_seen")
    visit.shot("event-edited")
    expect(page.get_by_text("Seen signing up")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text(f"{TENANT}.person.lastName")


def test_a_rule_based_condition_is_checked_as_it_is_typed(visit: Visit, demo: Demo) -> None:
    visit.sign_in(demo.org)
    page = visit.go("/events/-/new", "new-event")
    page.get_by_role("radio", name="Rule-based").check()
    condition = page.get_by_role("textbox", name="Condition")
    condition.fill(f"{TENANT}.person.shoeSize > 40")
    expect(page.locator("#condition-check")).to_contain_text("has no field")
    visit.shot("condition-wrong")
    condition.fill(f"{TENANT}.person.birthYear >= 1990")
    expect(page.locator("#condition-check")).to_contain_text("parses")
    visit.shot("condition-right")


def test_a_failure_shows_each_violation_with_its_pointer(visit: Visit, demo: Demo) -> None:
    message = preview_of_new_event(demo)
    message["body"]["xdmEntity"]["identityMap"]["Email"][0]["id"] = "bob@example.com"
    message["body"]["xdmEntity"][TENANT] = {"person": {"birthYear": "nineteen"}}
    sent = httpx.post(demo.inlet_url, json=message)
    assert sent.status_code == 200, sent.text  # accepted, then kept as a failed record

    visit.sign_in(demo.org)
    page = visit.go("/failures", "failures")
    page.get_by_label("Inlet", exact=True).select_option(demo.inlet_id)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/failures?inlet=*")
    visit.shot("failures-of-the-inlet")
    failure = page.locator(f"article[id='{sent.json()['xactionId']}']")
    expect(failure.locator("code.pointer")).to_have_text(f"#/{TENANT}/person/birthYear")
    failure.get_by_text("Original message").click()
    expect(failure.locator("pre")).to_contain_text('"nineteen"')
    visit.shot("failure-opened")


def test_a_change_without_the_csrf_token_is_refused(visit: Visit, demo: Demo) -> None:
    visit.sign_in(demo.org)
    page = visit.go("/inlets", "inlets")
    form = page.locator("form[action='/inlets']")
    form.get_by_label("Name").fill("no-token-inlet")
    form.locator("input[name=csrf]").evaluate("input => input.remove()")
    form.get_by_role("button", name="Create inlet").click()
    expect(page.get_by_role("alert")).to_contain_text("CSRF")
    visit.shot("refused")

    forged = page.request.post(
        "/inlets",
        form={"name": "forged-inlet", "csrf": "guessed"},
        max_redirects=0,
    )
    assert forged.status == 403
    listed = page.request.get("/inlets").text()
    assert "no-token-inlet" not in listed
    assert "forged-inlet" not in listed


def test_an_inlet_made_in_the_console_shows_its_token_once_and_revokes_it(
    visit: Visit, demo: Demo, console_server: Server
) -> None:
    visit.sign_in(demo.org)
    page = visit.go("/inlets", "inlets")
    form = page.locator("form[action='/inlets']")
    form.get_by_label("Name").fill("partner-feed")
    form.get_by_label("Senders need a token").check()
    form.get_by_role("button", name="Create inlet").click()
    visit.shot("inlet-created")
    page.get_by_role("button", name="Copy token").click()
    expect(page.locator("button[data-copy=access-token]")).to_have_text("Copied")
    token = page.evaluate("navigator.clipboard.readText()")
    assert token == page.locator("#access-token").inner_text()
    page.get_by_role("button", name="Copy URL").click()
    expect(page.locator("button[data-copy=inlet-url]")).to_have_text("Copied")
    url = page.evaluate("navigator.clipboard.readText()")
    assert url == page.locator("#inlet-url").inner_text()
    assert url.startswith(f"{console_server.url}/collection/")

    message = preview_of_new_event(demo)
    assert (
        httpx.post(url, json=message, headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )

    visit.go(url.replace(f"{console_server.url}/collection", "/inlets"), "inlet")
    expect(page.locator("#access-token")).to_have_count(0)  # shown once only
    page.get_by_role("button", name="Revoke every token").click()
    expect(page.get_by_role("status")).to_contain_text("1 token(s) revoked")
    visit.shot("revoked")
    assert (
        httpx.post(url, json=message, headers={"Authorization": f"Bearer {token}"}).status_code
        == 403
    )

    page.get_by_role("button", name="Disable").click()
    expect(page.locator("dl.facts")).to_contain_text("disabled")
    visit.shot("disabled")
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/inlets")
    visit.shot("deleted")
    expect(page.get_by_role("row", name="partner-feed")).to_have_count(0)
    expect(page.get_by_role("row", name="demo-inlet")).to_be_visible()


def test_home_shows_each_inlets_messages_per_minute_and_refreshes_itself(
    visit: Visit, demo: Demo
) -> None:
    message = preview_of_new_event(demo)
    journey = {
        "kind": "Journey",
        "name": "greet",
        "state": "live",
        "entry": {"event": "e", "next": "pause"},
        "activities": {
            "pause": {"type": "wait", "duration": "1h", "next": "done"},
            "done": {"type": "end"},
        },
    }
    with demo.server.admin(demo.org, ADMIN_TOKEN) as admin:
        applied = admin.post("/api/v1/apply", json={"documents": [journey]})
        assert applied.status_code == 200, applied.text
    visit.sign_in(demo.org)
    page = visit.page
    row = page.get_by_role("row", name="demo-inlet")
    expect(row.locator("[data-outcome=accepted]")).to_contain_text("(0 since start)")
    for n in range(3):
        send_as(demo, message, f"home-{n}", "ada@example.com")
    bad = httpx.post(demo.inlet_url, json={"header": {}, "body": {}})
    assert bad.status_code == 400

    accepted = row.locator("[data-outcome=accepted]")  # no reload: htmx polls
    expect(accepted).to_contain_text("(3 since start)")
    expect(accepted).to_contain_text(re.compile(r"^\s*[1-9]\d*\.\d"))
    expect(row.locator("[data-outcome=rejected]")).to_contain_text("(1 since start)")
    greet = page.get_by_role("row", name="greet")  # ada inside, having entered today
    expect(greet.get_by_role("cell")).to_have_text(["1", "1", "1", "1", "0"])
    visit.shot("home-flowing")


def test_a_schema_shows_its_field_tree_and_a_dataset_finds_records_by_identity(
    visit: Visit, demo: Demo
) -> None:
    message = preview_of_new_event(demo)
    for email in ("ada@example.com", "bob@example.com"):
        send_as(demo, message, f"tree-{email}", email)

    visit.sign_in(demo.org)
    page = visit.go("/schemas", "schemas")
    page.get_by_role("link", name="newsletter_signup").first.click()
    page.wait_for_url("**/schemas/**")
    visit.shot("schema")
    gender = page.locator("li", has=page.locator("code", has_text="gender")).last
    expect(gender).to_contain_text("one of male, female")
    identity_map = page.locator("li", has=page.locator("code", has_text="identityMap")).last
    expect(identity_map).to_contain_text("required")

    page.locator("dl.facts").get_by_role("link").first.click()
    page.wait_for_url("**/datasets/*")
    expect(page.locator("article.record")).to_have_count(2)
    nav = page.get_by_role("navigation", name="Sections")
    expect(nav.get_by_role("link", name="Schemas")).to_have_attribute("aria-current", "true")
    page.get_by_label("Identity").fill("Email:bob@example.com")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**identity=*")
    visit.shot("dataset-search")
    expect(page.locator("article.record")).to_have_count(1)
    expect(page.locator("article.record pre")).to_contain_text('"bob@example.com"')


def test_pages_fit_a_phones_width(visit: Visit, demo: Demo) -> None:
    visit.sign_in(demo.org)
    visit.page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", "/inlets", "/events", "/failures", "/schemas", "/profiles"):
        page = visit.go(path, f"phone{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
