"""Journeys survive kill -9: timers are durable, every waiting instance wakes after a restart,
and every action reaches a real receiver once per ``Idempotency-Key`` — none missing, none
re-sent under a new key."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org, start_server
from tests.integration.journey_support import (
    Receiver,
    Shop,
    instance_ids,
    publish,
    running_receiver,
    send,
    setup_shop,
    shop_message,
    steps,
    wait_and_call,
    wait_for_report,
)
from tests.processes import alive

pytestmark = pytest.mark.integration

N = 30
PAUSE_MS = 2_000


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver(slow_seconds=2.0) as found:
        yield found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def shop(server: Server) -> Shop:
    return setup_shop(apply_demo_to(server, new_org()))


def people(n: int = N) -> list[str]:
    return [f"person{i}@example.com" for i in range(n)]


def send_carts(shop: Shop, emails: list[str]) -> None:
    send(shop, *(shop_message(shop, "cart", e, cart_id=f"cart-{e}") for e in emails))


def assert_exactly_once(receiver: Receiver, shop: Shop, name: str, prefix: str) -> None:
    """One delivery per instance as a receiver de-duplicating by key sees it: every expected
    key arrived, and no call carried a key outside them."""
    ids = instance_ids(shop, name)
    assert len(ids) == N
    expected = {f"{iid}:hook" for iid in ids.values()}
    seen = receiver.keys(prefix)
    assert set(seen) == expected, (
        f"missing {sorted(expected - set(seen))}, unexpected {sorted(set(seen) - expected)}"
    )
    # each call carried the person it was for
    by_key = {c.key: c.body for c in receiver.under(prefix)}
    for email, iid in ids.items():
        assert by_key[f"{iid}:hook"] == {"email": email, "cart": f"cart-{email}"}


def test_waiting_instances_wake_after_kill_9_and_each_action_arrives_once(
    server: Server, shop: Shop, receiver: Receiver
) -> None:
    publish(shop, wait_and_call("reminder", f"{receiver.url}/waits/hook", pause=f"{PAUSE_MS}ms"))
    send_carts(shop, people())
    wait_for_report(shop, "reminder", entered=N, inJourney=N)
    assert receiver.under("/waits/") == []  # everyone is still waiting

    server.kill()
    server.start()

    wait_for_report(shop, "reminder", timeout=30, entered=N, exited=N, inJourney=0, inError=0)
    assert_exactly_once(receiver, shop, "reminder", "/waits/")
    assert all(count == 1 for count in receiver.keys("/waits/").values())
    # no timer fired early: each wait ended at least its duration after the person entered
    entered = {s["instanceId"]: s["atMs"] for s in steps(shop, "reminder") if s["node"] == "entry"}
    for step in steps(shop, "reminder"):
        if step["node"] == "pause":
            assert step["status"] == "ended"
            assert step["atMs"] - entered[step["instanceId"]] >= PAUSE_MS


def test_acknowledged_events_enter_their_journey_after_kill_9(
    server: Server, shop: Shop, receiver: Receiver
) -> None:
    publish(shop, wait_and_call("instant", f"{receiver.url}/acked/hook"))
    send_carts(shop, people())
    server.kill()  # right after the acknowledgements, whatever the journeys had done
    server.start()
    wait_for_report(shop, "instant", timeout=30, entered=N, exited=N, inError=0)
    assert_exactly_once(receiver, shop, "instant", "/acked/")


def test_a_kill_in_the_middle_of_deliveries_resends_under_the_same_keys(
    server: Server, shop: Shop, receiver: Receiver
) -> None:
    publish(shop, wait_and_call("slow", f"{receiver.url}/slow/hook"))
    send_carts(shop, people())
    # the receiver holds every answer for two seconds: kill while calls are in flight
    wait_until(lambda: len(receiver.under("/slow/")) >= N // 2, timeout=20)
    with receiver.lock:
        in_flight = {c.key for c in receiver.calls} - set(receiver.answered)
    server.kill()
    assert in_flight
    server.start()

    wait_for_report(shop, "slow", timeout=40, entered=N, exited=N, inError=0)
    assert_exactly_once(receiver, shop, "slow", "/slow/")
    seen = receiver.keys("/slow/")
    # what was in flight at the kill was sent again, under its own key
    assert all(seen[str(key)] >= 2 for key in in_flight)


def test_a_server_killed_alone_leaves_its_engine_to_finish_before_the_next_one_starts(
    server: Server, shop: Shop, receiver: Receiver
) -> None:
    publish(shop, wait_and_call("orphan", f"{receiver.url}/orphan/hook"))
    [old_engine] = wait_until(lambda: server.children("engine"))
    send_carts(shop, people())
    wait_until(lambda: len(receiver.under("/orphan/")) >= N // 2, timeout=20)
    server.kill_server_only()  # the engine sees its stdin close, mid-deliveries
    server.start()
    [new_engine] = wait_until(lambda: server.children("engine"))
    assert new_engine != old_engine

    wait_for_report(shop, "orphan", timeout=40, entered=N, exited=N, inError=0)
    assert_exactly_once(receiver, shop, "orphan", "/orphan/")
    # the old engine let its deliveries end and recorded them before the new one took over:
    # not one call was made twice
    assert all(count == 1 for count in receiver.keys("/orphan/").values())
    wait_until(lambda: not alive(old_engine), timeout=10)  # and then it exited


def test_a_killed_engine_is_replaced_and_its_journeys_go_on(
    server: Server, shop: Shop, receiver: Receiver
) -> None:
    publish(shop, wait_and_call("respawn", f"{receiver.url}/respawn/hook"))
    first = people(N // 2)
    send_carts(shop, first)
    wait_until(lambda: len(receiver.under("/respawn/")) >= 1, timeout=20)
    [engine] = wait_until(lambda: server.children("engine"))
    os.kill(engine, signal.SIGKILL)  # the server lives on and starts another
    wait_until(lambda: server.children("engine") not in ([], [engine]), timeout=20)
    send_carts(shop, people()[N // 2 :])

    wait_for_report(shop, "respawn", timeout=40, entered=N, exited=N, inError=0)
    assert_exactly_once(receiver, shop, "respawn", "/respawn/")
