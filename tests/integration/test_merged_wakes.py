"""Which instance an event wakes, through the running system embedded and scaled out
(PostgreSQL and NATS, a server and two workers).

Journeys know a person by the identity their entry event named, normalised as the identity
graph normalises it: ``Ada@Example.com`` enters, and an event naming ``ada@example.com`` wakes
the same instance. When two persons waiting in one journey merge, the instance that stays is
woken by an event that names only the identity merged away; scaled out, that identity's
events are read by the worker holding another partition, which forwards the event to the
worker holding the instance's. And a person is in a journey once whichever identity names it:
an entry event naming only one identity of a person already in the journey under another
starts no second instance."""

from __future__ import annotations

import pytest

from tests.conftest import Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org
from tests.integration.journey_support import (
    END,
    Shop,
    on_cart,
    publish,
    send,
    setup_shop,
    shop_message,
    steps,
    wait_for_report,
)
from tests.integration.test_identity_graph import settled
from tests.integration.test_journeys_api import wayfare
from wayfare.model.admission import NOT_ALLOWED
from wayfare.model.partitions import partition_of

pytestmark = pytest.mark.integration

HOLD_FOR_PURCHASE = {
    "hold": {
        "type": "waitForEvent",
        "events": [{"event": "purchase", "next": "bought"}],
        "timeout": {"after": "1h", "next": "late"},
    },
    "bought": END,
    "late": END,
}


def instance_steps(shop: Shop, journey: str) -> dict[str, list[tuple[str, str, str]]]:
    """instance id → its step events (node, status, identity), oldest first."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for s in steps(shop, journey):
        found.setdefault(s["instanceId"], []).append((s["node"], s["status"], s["identity"]))
    return found


def test_an_identity_sent_in_another_case_is_the_same_person(deployed: Server) -> None:
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    publish(shop, on_cart("hold", HOLD_FOR_PURCHASE))
    send(shop, shop_message(shop, "cart", "Ada@Example.com"))
    wait_for_report(shop, "hold", inJourney=1)

    send(shop, shop_message(shop, "purchase", " ada@example.com"))

    after = wait_for_report(shop, "hold", inJourney=0)
    assert after["entered"] == 1
    ((instance, taken),) = instance_steps(shop, "hold").items()
    assert taken == [
        ("entry", "ended", "ada@example.com"),
        ("hold", "ended", "ada@example.com"),
        ("bought", "ended", "ada@example.com"),
    ], instance
    with shop.admin() as admin:  # what a user types is normalised too
        mine = admin.get("/api/v1/journeys/hold/steps", params={"identity": "ADA@example.com"})
    assert [s["instanceId"] for s in mine.json()["steps"]] == [instance] * 3


def test_the_instance_that_stays_after_a_merge_is_woken_by_the_identity_merged_away(
    deployed: Server,
) -> None:
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    kept, merged = apart(deployed, shop.org)
    publish(shop, on_cart("hold", HOLD_FOR_PURCHASE))
    send(shop, shop_message(shop, "cart", kept))
    wait_for_report(shop, "hold", inJourney=1)
    send(shop, shop_message(shop, "cart", merged))
    wait_for_report(shop, "hold", inJourney=2)
    entered = {s["identity"]: s["instanceId"] for s in steps(shop, "hold") if s["node"] == "entry"}

    both = shop_message(shop, "browse", kept)
    both["body"]["xdmEntity"]["identityMap"]["Email"].append({"id": merged})
    send(shop, both)
    wait_for_report(shop, "hold", inJourney=1)

    send(shop, shop_message(shop, "purchase", merged))

    after = wait_for_report(shop, "hold", inJourney=0)
    assert after["entered"] == 2
    assert after["nodes"]["hold"]["merged"] == 1
    found = instance_steps(shop, "hold")
    assert found[entered[kept]] == [
        ("entry", "ended", kept),
        ("hold", "ended", kept),
        ("bought", "ended", kept),
    ]
    assert found[entered[merged]] == [
        ("entry", "ended", merged),
        ("hold", "merged", merged),
    ]


def test_an_entry_naming_another_identity_of_a_person_inside_starts_no_second_instance(
    deployed: Server,
) -> None:
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    inside, other = apart(deployed, shop.org)
    publish(shop, on_cart("hold", HOLD_FOR_PURCHASE))
    for email in (inside, other):  # a device that both Emails signed in on: one person
        browse = shop_message(shop, "browse", email)
        browse["body"]["xdmEntity"]["identityMap"]["ECID"] = [{"id": "e1"}]
        send(shop, browse)
    person = {f"Email:{inside}", f"Email:{other}", "ECID:e1"}
    settled(shop.demo, "Email", other, person)
    send(shop, shop_message(shop, "cart", inside))
    wait_for_report(shop, "hold", inJourney=1)

    send(shop, shop_message(shop, "cart", other))  # scaled out, read by the other worker

    turned_away = wait_for_report(shop, "hold", discarded=1)
    assert turned_away["discardsByCause"] == {NOT_ALLOWED: 1}
    assert (turned_away["entered"], turned_away["inJourney"]) == (1, 1)
    assert f"discarded, {NOT_ALLOWED}: 1" in wayfare(shop, "journeys", "report", "hold")
    send(shop, shop_message(shop, "purchase", inside))
    after = wait_for_report(shop, "hold", inJourney=0)
    assert after["entered"] == 1
    ((instance, taken),) = instance_steps(shop, "hold").items()
    assert taken == [
        ("entry", "ended", inside),
        ("hold", "ended", inside),
        ("bought", "ended", inside),
    ], instance


def apart(server: Server, org: str) -> tuple[str, str]:
    """Two Email ids of the org: scaled out, on partitions that two workers hold (the
    first's, then the second's), so that the second's events are read by the worker that
    does not hold the first's instance."""
    if "--store" not in server.extra_args:
        return "kept@x.org", "merged@x.org"
    store = server.extra_args[server.extra_args.index("--store") + 1]
    partitions = int(server.env["WAYFARE_LOG_PARTITIONS"])
    holders = wait_until(lambda: _holders(store, partitions), timeout=30)
    ids = [f"p{n}@x.org" for n in range(200)]
    owner = {i: holders[partition_of(org, i, partitions)] for i in ids}
    kept = ids[0]
    merged = next(i for i in ids if owner[i] != owner[kept])
    return kept, merged


def _holders(store: str, partitions: int) -> dict[int, str] | None:
    """partition → the worker holding it, once every partition is held."""
    from tests.scale_out import lease_holders  # it imports the integration conftest

    held = lease_holders(store)
    return held if held is not None and len(held) == partitions else None
