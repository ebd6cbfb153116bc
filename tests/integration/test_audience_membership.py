"""Audience membership through the running system, embedded and scaled out (a server and a
worker on PostgreSQL and NATS): events sent to an inlet are counted for the person in the
journey engine's commit, and a person whose events meet an audience's condition enters it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org
from tests.integration.journey_support import Shop, send, setup_shop, shop_message

pytestmark = pytest.mark.integration


@pytest.fixture
def shop(deployed: Server) -> Shop:  # embedded, then scaled out
    """The shop in a fresh org, on an embedded server or a scaled-out one."""
    return setup_shop(apply_demo_to(deployed, new_org()))


def memberships(shop: Shop, email: str) -> Any:
    with shop.admin() as admin:
        found = admin.get(
            "/api/v1/audience-memberships", params={"namespace": "Email", "id": email}
        )
    assert found.status_code in (200, 404), found.text
    return found.json() if found.status_code == 200 else None


def test_a_person_enters_an_audience_once_their_events_meet_its_condition(shop: Shop) -> None:
    with shop.admin() as admin:
        created = admin.post(
            "/api/v1/audiences",
            json={"name": "two-carts", "condition": "count(cart in last 1 day) >= 2"},
        )
        assert created.status_code == 201, created.text
    send(shop, shop_message(shop, "cart", "ada@example.com"))
    send(shop, shop_message(shop, "purchase", "ada@example.com"))  # counted by no audience
    send(shop, shop_message(shop, "cart", "bob@example.com"))
    for email in ("ada@example.com", "bob@example.com"):  # linked in the commits counting
        wait_until(lambda e=email: memberships(shop, e) is not None, timeout=30)
    assert memberships(shop, "ada@example.com")["memberships"] == []  # one cart so far
    send(shop, shop_message(shop, "cart", "ada@example.com", cart_id="c-2"))
    found = wait_until(
        lambda: (m := memberships(shop, "ada@example.com")) and m["memberships"] and m, timeout=30
    )
    [membership] = found["memberships"]
    assert membership["audience"] == "two-carts"
    assert membership["personId"] == found["personId"]
    assert membership["exitedMs"] is None and membership["enteredMs"] > 0
    with shop.admin() as admin:
        members = admin.get("/api/v1/audiences/two-carts/members").json()
    assert [m["personId"] for m in members["members"]] == [found["personId"]]
    assert memberships(shop, "bob@example.com")["memberships"] == []
