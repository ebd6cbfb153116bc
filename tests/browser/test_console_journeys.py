"""The journeys pages in a real browser: a journey written in the editor, published, and its
canvas counting the person a message brings in; a save-time error shown at its activity;
test mode and following a test profile through the canvas."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_TOKEN, WAIT_MS, Visit
from tests.conftest import Demo

pytestmark = pytest.mark.integration

HOLD = """\
name: {name}
entry: {{event: newsletter_signup, next: greet}}
activities:
  greet: {{type: log, message: "hello", next: hold}}
  hold: {{type: wait, duration: 1d, next: done}}
  done: {{type: end}}
"""
BROKEN = """\
name: {name}
entry: {{event: newsletter_signup, next: greet}}
activities:
  greet: {{type: log, message: "hello", next: check}}
  check:
    type: condition
    branches:
      - label: big feet
        when: "@event{{newsletter_signup._instance_name.person.shoeSize}} > 44"
        next: done
    otherwise: done
  done: {{type: end}}
"""


SELECTED = (
    "(() => { const a = document.getElementById('definition');"
    " return a.value.slice(a.selectionStart, a.selectionEnd); })()"
)
"""The text selected in the editor."""


def signup(demo: Demo, identity: str) -> dict[str, Any]:
    """A ``newsletter_signup`` message of ``identity``: the event's payload preview, as its
    page's Copy button gives it, with values the schema takes."""
    with demo.server.admin(demo.org, ADMIN_TOKEN) as admin:
        found = admin.get("/api/v1/events/newsletter_signup/payload-preview")
    assert found.status_code == 200, found.text
    message: dict[str, Any] = found.json()
    entity = message["body"]["xdmEntity"]
    entity["identityMap"]["Email"][0]["id"] = identity
    entity["_instance_name"]["person"].update(gender="female", emailAddress=identity)
    return message


def count(page: Page, node: str, which: str) -> str:
    """The number a node of the canvas shows for ``which`` (entered, waiting, ...)."""
    return f'#canvas g.node[data-node="{node}"] tspan[data-count="{which}"] .count-value'


def left_to_right(page: Page) -> list[str]:
    """The canvas's nodes in the order of where they stand, from left to right, each at its
    own place."""
    places: list[tuple[float, str]] = page.locator("#canvas g.node").evaluate_all(
        "nodes => nodes.map(n => [n.getBoundingClientRect().left, n.dataset.node])"
    )
    assert len({x for x, _ in places}) == len(places), f"nodes share a place: {places}"
    return [node for _, node in sorted(places)]


def write_journey(visit: Visit, demo: Demo, name: str) -> Page:
    """Sign in to ``demo``'s org and save the journey ``name`` (HOLD) from the editor."""
    visit.sign_in(demo.org)
    page = visit.go("/journeys/-/new", "new-journey")
    page.get_by_label("Definition").fill(HOLD.format(name=name))
    visit.shot("new-journey-written")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/journeys/{name}")
    visit.shot("draft")
    return page


def publish(visit: Visit, page: Page) -> None:
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.get_by_text("1 (live)")).to_be_visible()
    visit.shot("published")


def test_a_published_journey_counts_the_person_a_message_brings_in_until_stopped(
    visit: Visit, demo: Demo
) -> None:
    page = write_journey(visit, demo, "hold_on")
    expect(page.locator(count(page, "entry", "entered"))).to_have_text("0")
    expect(page.locator("#canvas g.edge")).to_have_count(3)
    expect(page.locator("#canvas g.node")).to_have_count(4)
    assert left_to_right(page) == ["entry", "greet", "hold", "done"]  # dagre placed them
    publish(visit, page)

    sent = httpx.post(demo.inlet_url, json=signup(demo, "ada@example.com"))
    assert sent.status_code == 200, sent.text
    expect(page.locator(count(page, "entry", "entered"))).to_have_text("1", timeout=WAIT_MS)
    expect(page.locator(count(page, "greet", "entered"))).to_have_text("1")
    expect(page.locator(count(page, "hold", "waiting"))).to_have_text("1")
    expect(page.locator(count(page, "done", "entered"))).to_have_text("0")
    visit.shot("counted")

    visit.go("/journeys", "journeys")
    expect(page.get_by_role("row", name="hold_on")).to_contain_text("live")

    page = visit.go("/journeys/hold_on", "before-stop")
    page.get_by_role("button", name="Stop (everyone exits)").click()
    page.wait_for_url("**/journeys/hold_on")
    expect(page.get_by_text("1 (stopped)")).to_be_visible()
    expect(page.locator(count(page, "hold", "waiting"))).to_have_text("0", timeout=WAIT_MS)
    expect(page.locator(count(page, "hold", "entered"))).to_have_text("1")  # and left
    visit.shot("stopped")


def test_a_save_time_error_is_shown_at_its_activity_and_field(visit: Visit, demo: Demo) -> None:
    with demo.server.admin(demo.org, ADMIN_TOKEN) as admin:
        good = BROKEN.format(name="feet").replace("shoeSize} > 44", "birthYear} > 1990")
        saved = admin.put("/api/v1/journeys/feet", json=yaml.safe_load(good))
        assert saved.status_code == 201, saved.text
    visit.sign_in(demo.org)
    page = visit.go("/journeys/feet/edit", "editor")
    page.get_by_label("Definition").fill(BROKEN.format(name="feet"))
    page.get_by_role("button", name="Save").click()
    visit.shot("not-saved")

    problem = page.locator('#problems li[data-activity="check"]')
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("activity check, field branches/0/when")
    expect(problem).to_contain_text("does not carry '_instance_name.person.shoeSize'")
    expect(page.locator('#canvas g.node[data-node="check"]')).to_have_class(
        "node type-condition has-problem"
    )
    expect(page.locator("#canvas g.node.has-problem")).to_have_count(1)
    problem.get_by_role("button").click()  # to its line of the text
    selected = page.evaluate(SELECTED)
    assert "shoeSize" in selected
    page.locator('#canvas g.node[data-node="greet"]').click()  # to its definition
    assert page.evaluate(SELECTED).strip().startswith("greet: {type: log")

    with demo.server.admin(demo.org, ADMIN_TOKEN) as admin:
        kept = admin.get("/api/v1/journeys/feet").json()
    assert "birthYear" in kept["definition"]["activities"]["check"]["branches"][0]["when"]

    page = visit.go("/journeys/-/new", "new-journey")  # a new journey takes a free name
    page.get_by_label("Definition").fill(good)
    page.get_by_role("button", name="Save").click()
    visit.shot("name-taken")
    taken = page.locator('#problems li[data-activity=""][data-field="name"]')
    expect(taken).to_contain_text("a journey named 'feet' exists: edit it instead")


def test_a_test_profile_is_followed_through_the_canvas(visit: Visit, demo: Demo) -> None:
    page = write_journey(visit, demo, "trial")
    page.get_by_role("button", name="Turn test mode on").click()
    page.wait_for_url("**/journeys/trial")
    visit.shot("test-mode")

    page.get_by_label("Test profile's identity").fill("tester@example.com")
    page.get_by_role("button", name="Fire a test event").click()
    page.wait_for_url("**/journeys/trial?identity=tester%40example.com&taken=yes")
    expect(page.get_by_role("status").filter(has_text="took the test event")).to_be_visible()
    visit.shot("fired")
    expect(page.locator('#canvas g.node[data-node="hold"]')).to_have_class("node type-wait here")

    page = visit.go("/journeys/trial", "unfollowed")
    expect(page.locator("#canvas[data-updated]")).to_be_attached()  # the counts came
    expect(page.locator("#canvas g.node.passed")).to_have_count(0)
    page.get_by_label("Identity", exact=True).fill("tester@example.com")
    page.get_by_role("button", name="Follow on the canvas").click()
    page.wait_for_url("**/journeys/trial?identity=tester%40example.com")
    for node in ("entry", "greet"):
        expect(page.locator(f'#canvas g.node[data-node="{node}"]')).to_have_class(
            "node type-" + ("entry" if node == "entry" else "log") + " passed"
        )
    expect(page.locator('#canvas g.node[data-node="hold"]')).to_have_class("node type-wait here")
    steps = page.locator("#follow-steps")
    expect(steps).to_contain_text("tester@example.com")
    expect(steps.get_by_role("row", name="greet")).to_contain_text("ended")
    visit.shot("followed")


def test_a_new_version_is_shown_beside_the_live_one_and_the_live_one_closes(
    visit: Visit, demo: Demo
) -> None:
    page = write_journey(visit, demo, "again")
    publish(visit, page)

    page.get_by_role("link", name="Edit").click()
    page.wait_for_url("**/journeys/again/edit")
    definition = page.get_by_label("Definition")
    definition.fill(definition.input_value().replace("hello", "hello again"))
    visit.shot("editing")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/journeys/again")
    expect(page.get_by_text("2 (draft)")).to_be_visible()
    visit.shot("draft-2")

    page.get_by_role("link", name="Versions").click()
    page.wait_for_url("**/journeys/again/versions")
    visit.shot("versions")
    changed = page.locator("table.sides tr.changed")
    expect(changed).to_have_count(1)
    expect(changed.locator("td").first).to_have_text("    message: hello")
    expect(changed.locator("td").last).to_have_text("    message: hello again")

    visit.go("/journeys/again", "before-close")
    page.get_by_role("button", name="Close to new entrances").click()
    page.wait_for_url("**/journeys/again")
    visit.go("/journeys/again/versions", "closed")
    expect(page.get_by_role("row", name="1 finished")).to_be_visible()
    expect(page.get_by_role("row", name="2 draft")).to_be_visible()


def test_the_journey_pages_fit_a_phones_width_and_name_each_node_with_its_counts(
    visit: Visit, demo: Demo
) -> None:
    page = write_journey(visit, demo, "small")
    hold = page.get_by_role("img", name="wait hold, for 1d")
    expect(hold).to_have_attribute("aria-label", "wait hold, for 1d, entered 0, waiting 0, "
                                   "in error 0, discarded 0")  # fmt: skip
    hold.focus()
    expect(hold).to_be_focused()
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/journeys", "/journeys/small", "/journeys/small/edit", "/journeys/-/new",
                 "/journeys/small/versions"):  # fmt: skip
        page = visit.go(path, f"phone{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
