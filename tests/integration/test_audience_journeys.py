"""Journeys starting on audience qualification through the running system, embedded and
scaled out (a server and two workers on PostgreSQL and NATS): a Profile record or a counted
event that moves a person into (or out of) an audience enters them into the journeys
starting on it, once, and the journey's action reads their profile and runs once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Demo, Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org
from tests.integration.journey_support import (
    TENANT,
    Receiver,
    Shop,
    publish,
    send,
    setup_shop,
    shop_message,
    wait_for_report,
)
from tests.integration.test_journey_profiles import linked, profile_dataset, profile_record
from wayfare.model.admission import MAX_CHAIN, TOO_MANY_CHANGES

pytestmark = pytest.mark.integration


def audience(shop: Shop, name: str, condition: str) -> None:
    with shop.admin() as admin:
        created = admin.post("/api/v1/audiences", json={"name": name, "condition": condition})
    assert created.status_code == 201, created.text


def on_audience(
    name: str, audience: str, on: str, url: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Started when a person ``on``s the audience: a POST of ``body`` to ``url``, the end."""
    return {
        "name": name,
        "entry": {"audience": audience, "on": on, "next": "hook"},
        "activities": {
            "hook": {"type": "http", "method": "POST", "url": url, "timeoutSeconds": 10,
                     "body": body, "next": "done"},
            "done": {"type": "end"},
        },
    }  # fmt: skip


def profile_name() -> str:
    return "{{ #{profile." + TENANT + ".person.name} }}"


def test_a_profile_record_that_qualifies_a_person_enters_them_once_and_exiting_too(
    deployed: Server, receiver: Receiver
) -> None:
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    ids = profile_dataset(shop)
    audience(shop, "gold", "#{profile." + TENANT + ".loyalty.tier} == 'gold'")
    tag = uuid.uuid4().hex[:12]
    hello = on_audience("hello-gold", "gold", "entered", f"{receiver.url}/{tag}/hello",
                        {"name": profile_name()})  # fmt: skip
    bye = on_audience("bye-gold", "gold", "exited", f"{receiver.url}/{tag}/bye",
                      {"name": profile_name()})  # fmt: skip
    publish(shop, hello)
    publish(shop, bye)
    ada = {"Email": "ada@example.com"}
    gold = {"loyalty": {"tier": "gold"}, "person": {"name": "Ada"}}
    send(shop, profile_record(shop, ids, ada, gold))
    wait_until(lambda: len(receiver.under(f"/{tag}/hello")) == 1, timeout=30)
    [call] = receiver.under(f"/{tag}/hello")
    assert call.body == {"name": "Ada"}  # the person's profile, read by the journey
    # still gold: no entry again (the profile shows the record was applied first)
    send(shop, profile_record(shop, ids, ada, {**gold, "person": {"name": "Ada L."}}))
    wait_until(lambda: name_of(shop) == "Ada L.", timeout=30)
    send(shop, profile_record(shop, ids, ada, {"loyalty": {"tier": "silver"}}))
    wait_until(lambda: len(receiver.under(f"/{tag}/bye")) == 1, timeout=30)
    wait_for_report(shop, "bye-gold", entered=1)
    found = wait_for_report(shop, "hello-gold", entered=1)
    assert found["discardsByCause"] == {}
    assert len(receiver.under(f"/{tag}/hello")) == 1
    assert set(receiver.keys(f"/{tag}").values()) == {1}  # each action sent once


def name_of(shop: Shop) -> Any:
    with shop.admin() as admin:
        found = admin.get(
            "/api/v1/profiles", params={"namespace": "Email", "id": "ada@example.com"}
        )
    if found.status_code != 200:
        return None
    return found.json()["attributes"].get(TENANT, {}).get("person", {}).get("name")


def test_counted_events_that_qualify_a_person_enter_them_once(
    deployed: Server, receiver: Receiver
) -> None:
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    audience(shop, "two-carts", "count(cart in last 1 day) >= 2")
    tag = uuid.uuid4().hex[:12]
    publish(shop, on_audience("two-carts-hello", "two-carts", "entered",
                              f"{receiver.url}/{tag}/carts", {"who": "ada"}))  # fmt: skip
    publish(shop, {
        "name": "every-cart", "entry": {"event": "cart", "next": "done"},
        "reentrance": {"allowed": True, "waitSeconds": 0}, "activities": {"done": {"type": "end"}},
    })  # fmt: skip
    send(shop, shop_message(shop, "cart", "ada@example.com"))
    wait_for_report(shop, "every-cart", entered=1)
    linked(shop, "Email", "ada@example.com", {"Email:ada@example.com"})
    assert receiver.under(f"/{tag}/carts") == []  # one cart so far
    send(shop, shop_message(shop, "cart", "ada@example.com", cart_id="c-2"))
    wait_until(lambda: len(receiver.under(f"/{tag}/carts")) == 1, timeout=30)
    send(shop, shop_message(shop, "cart", "ada@example.com", cart_id="c-3"))  # still a member
    wait_for_report(shop, "every-cart", entered=3)
    found = wait_for_report(shop, "two-carts-hello", entered=1)
    assert found["discardsByCause"] == {}
    assert len(receiver.under(f"/{tag}/carts")) == 1


def test_saving_a_journey_checks_the_audience_it_starts_on(org_demo: Demo) -> None:
    shop = setup_shop(org_demo)
    journey = on_audience("hello", "gold", "entered", "https://example.com/hello", {})
    with shop.admin() as admin:
        refused = admin.post("/api/v1/journeys", json=journey)
        assert refused.status_code == 400, refused.text
        cause = refused.json()["report"]["cause"]["_streamingValidation"][0]
        [violation] = cause["causingExceptions"]
        assert violation["pointerToViolation"] == "/entry/audience"
        assert "no audience named 'gold'" in violation["message"]
        audience(shop, "gold", "count(cart in last 1 day) >= 1")
        saved = admin.post("/api/v1/journeys", json=journey)
        assert saved.status_code in (200, 201), saved.text
        assert saved.json()["entryEvent"] == "audience:gold:entered"
        hook = {**journey["activities"]["hook"], "body": {"cart": "{{ @event{cart._id} }}"}}
        payload = {**journey, "activities": {**journey["activities"], "hook": hook}}
        refused = admin.post("/api/v1/journeys", json=payload)  # its entry has no event
        assert refused.status_code == 400, refused.text


def moving(name: str, audience: str, tier: str) -> dict[str, Any]:
    """On entering ``audience``: the person's tier becomes ``tier`` (another audience)."""
    return {
        "name": name,
        "entry": {"audience": audience, "on": "entered", "namespace": "Email", "next": "move"},
        "reentrance": {"allowed": True, "waitSeconds": 0},
        "activities": {
            "move": {"type": "updateProfile",
                     "set": {f"{TENANT}.loyalty.tier": f"'{tier}'"}, "next": "done"},
            "done": {"type": "end"},
        },
    }  # fmt: skip


def test_journeys_moving_a_person_between_audiences_stop_after_a_bounded_chain(
    deployed: Server,
) -> None:
    """gold → a journey sets silver → another sets gold → …: without a bound, one record kept
    the engine busy for good (a person entering each journey hundreds of times a second)."""
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    ids = profile_dataset(shop)
    audience(shop, "gold", "#{profile." + TENANT + ".loyalty.tier} == 'gold'")
    audience(shop, "silver", "#{profile." + TENANT + ".loyalty.tier} == 'silver'")
    publish(shop, moving("demote", "gold", "silver"))
    publish(shop, moving("promote", "silver", "gold"))
    send(
        shop, profile_record(shop, ids, {"Email": "ada@example.com"}, {"loyalty": {"tier": "gold"}})
    )
    # chains 0 to MAX_CHAIN enter: gold at 0, 2, …, 10, silver at 1, 3, …, 9; 11 does not
    cause = {TOO_MANY_CHANGES: 1}
    wait_for_report(shop, "promote", timeout=60, entered=5, exited=5, discardsByCause=cause)
    demoted = wait_for_report(shop, "demote", entered=MAX_CHAIN // 2 + 1, exited=6)
    assert demoted["discardsByCause"] == {}
    with shop.admin() as admin:
        found = admin.get(
            "/api/v1/profiles", params={"namespace": "Email", "id": "ada@example.com"}
        )
    assert found.json()["attributes"][TENANT]["loyalty"]["tier"] == "silver"  # the last move
