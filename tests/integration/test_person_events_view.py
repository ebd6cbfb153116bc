"""A person's experience events and audiences in their profile, through the running system,
embedded and scaled out (PostgreSQL and NATS, a server and two workers): the events of a
dataset enabled for Profile are kept for the person by the journey engine, shown newest
first with their dataset and the events they matched, next to the person's audiences
(``GET /api/v1/profiles``, ``wayfare profiles show``); a privacy delete removes them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org
from tests.integration.journey_support import Shop, send, setup_shop, shop_message
from tests.integration.test_cli_commands import NO_WAYFARE_ENV
from tests.integration.test_identity_graph import profile
from wayfare.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def shop(deployed: Server) -> Shop:  # embedded, then scaled out
    """The shop in a fresh org, its events' dataset enabled for Profile."""
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    with shop.admin() as admin:
        datasets = admin.get("/api/v1/datasets").json()["datasets"]
        [dataset] = [d for d in datasets if d.get("schemaRef", {}).get("id") == shop.schema_id]
        enabled = admin.patch(f"/api/v1/datasets/{dataset['id']}", json={"profile": True})
        assert enabled.status_code == 200, enabled.text
        created = admin.post(
            "/api/v1/audiences",
            json={"name": "two-carts", "condition": "count(cart in last 1 day) >= 2"},
        )
        assert created.status_code == 201, created.text
    return shop


def at(kind: str, shop: Shop, email: str, seconds_ago: int, **fields: Any) -> dict[str, Any]:
    """A shop message of ``kind`` that happened ``seconds_ago`` (its timestamp)."""
    message = shop_message(shop, kind, email, **fields)
    moment = datetime.fromtimestamp(time.time() - seconds_ago, UTC)
    message["body"]["xdmEntity"]["timestamp"] = moment.isoformat().replace("+00:00", "Z")
    message["body"]["xdmEntity"]["eventType"] = f"commerce.{kind}"
    return message


def test_a_profile_shows_the_persons_recent_events_and_audiences_until_deleted(
    shop: Shop, deployed: Server
) -> None:
    # sent newest first: the profile orders them by when they happened
    send(shop, at("view", shop, "ada@example.com", 60))  # matches no event of the org
    send(shop, at("cart", shop, "Ada@Example.com", 120, cart_id="c-2"))
    send(shop, at("cart", shop, "ada@example.com", 180))
    send(shop, at("cart", shop, "bob@example.com", 30))

    def three() -> Any:
        found = profile(shop.demo, "Email", "ada@example.com")
        return found if found and len(found["events"]) == 3 and found["audiences"] else None

    found = wait_until(three, timeout=30)
    events = found["events"]
    assert [(e["eventType"], e["events"]) for e in events] == [
        ("commerce.view", []),
        ("commerce.cart", ["cart"]),
        ("commerce.cart", ["cart"]),
    ]
    assert events[0]["timeMs"] > events[1]["timeMs"] > events[2]["timeMs"]
    with shop.admin() as admin:
        datasets = admin.get("/api/v1/datasets").json()["datasets"]
    [dataset] = [d for d in datasets if d.get("schemaRef", {}).get("id") == shop.schema_id]
    assert {(e["datasetId"], e["datasetName"]) for e in events} == {
        (dataset["id"], dataset["name"])
    }
    assert {(e["identity"]["namespace"], e["identity"]["id"]) for e in events} == {
        ("Email", "ada@example.com")
    }
    assert all(e["receivedMs"] >= e["timeMs"] for e in events)
    [membership] = found["audiences"]
    assert (membership["audience"], membership["personId"]) == ("two-carts", found["personId"])
    assert membership["exitedMs"] is None

    result = CliRunner().invoke(
        main,
        ["profiles", "show", "Email:ada@example.com", "--url", deployed.url, "--org", shop.org],
        env=NO_WAYFARE_ENV,
    )
    assert result.exit_code == 0, result.output
    assert "two-carts" in result.output and "member" in result.output
    assert "commerce.view" in result.output and "commerce.cart" in result.output

    with shop.admin() as admin:
        deleted = admin.delete(
            "/api/v1/profiles", params={"namespace": "Email", "id": "ada@example.com"}
        )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["experienceEvents"] == 3
    assert (deleted.json()["audienceMemberships"], deleted.json()["countedEvents"]) == (1, 2)
    bob = profile(shop.demo, "Email", "bob@example.com")
    assert len(bob["events"]) == 1  # another person's stay
    # Ada comes back: a new person, with her new event only
    send(shop, at("view", shop, "ada@example.com", 0))
    again = wait_until(lambda: profile(shop.demo, "Email", "ada@example.com"), timeout=30)
    assert again["personId"] != found["personId"]
    assert [e["eventType"] for e in again["events"]] == ["commerce.view"]
    assert again["audiences"] == []  # her counted carts went with her
