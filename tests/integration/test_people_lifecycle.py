"""People's lifecycle in journeys, through the running system embedded and scaled out
(PostgreSQL and NATS, a server and a worker).

Two persons merge while both wait in the same journey: the newer instance ends ``merged``,
the older keeps waiting, and the report counts both. A person waiting in a journey is
deleted by one of its identities (privacy delete): afterwards no profile answers for any of
them, no dataset holds their records, no step event names them, and the journey's report
still counts them."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.conftest import Server, wait_until
from tests.integration.conftest import apply_demo_to, failures, new_org, records
from tests.integration.journey_support import (
    END,
    TENANT,
    Shop,
    on_cart,
    publish,
    send,
    setup_shop,
    shop_message,
    steps,
    wait_for_report,
)
from tests.integration.test_identity_graph import profile

pytestmark = pytest.mark.integration


def cart(shop: Shop, email: str, ecid: str) -> dict[str, Any]:
    """A cart message naming the person by Email and ECID."""
    message = shop_message(shop, "cart", email)
    message["body"]["xdmEntity"]["identityMap"]["ECID"] = [{"id": ecid}]
    return message


def delete(shop: Shop, namespace: str, id_: str) -> dict[str, Any]:
    with shop.admin() as admin:
        answer = admin.delete("/api/v1/profiles", params={"namespace": namespace, "id": id_})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def org_records(shop: Shop) -> list[dict[str, Any]]:
    """The records of every dataset of the org (the step events' dataset left out)."""
    with shop.admin() as admin:
        found = admin.get("/api/v1/datasets").json()["datasets"]
    return [r for d in found for r in records(shop.demo, d["id"]) if "message" in r]


def names(message: dict[str, Any]) -> set[str]:
    found = message["body"]["xdmEntity"].get("identityMap", {})
    return {x["id"] for entries in found.values() for x in entries}


def waiting_on_the_canvas(shop: Shop, journey: str) -> dict[str, int]:
    """The people waiting at each activity, as the journey's canvas in the console shows
    them (the server has no admin token: the console lets in on loopback)."""
    with httpx.Client(base_url=shop.demo.server.url, follow_redirects=True) as browser:
        page = browser.get("/")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        chosen = browser.post("/org", data={"org": shop.org, "csrf": found.group(1)})
        assert chosen.status_code == 200, chosen.text[:500]
        counts = browser.get(f"/journeys/{journey}/counts").json()["counts"]
    return {node: c["waiting"] for node, c in counts.items() if c["waiting"]}


def cli(server: Server, org: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wayfare", "profiles", "delete", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"WAYFARE_URL": server.url, "WAYFARE_ORG": org, "PATH": ""},
    )


def test_privacy_delete_while_in_a_journey(deployed: Server) -> None:
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    hold = {"pause": {"type": "wait", "duration": "1h", "next": "done"}, "done": END}
    publish(shop, on_cart("hold", hold))
    send(shop, cart(shop, "ada@example.com", "e-ada"), cart(shop, "bob@example.com", "e-bob"))
    send(shop, shop_message(shop, "browse", None))  # names nobody: stays
    for person in ("ada", "bob"):  # a failed record each: a cart total that is no number
        broken = cart(shop, f"{person}@example.com", f"e-{person}")
        broken["body"]["xdmEntity"][TENANT]["cart"]["total"] = "lots"
        assert httpx.post(shop.demo.inlet_url, json=broken, timeout=30).status_code == 200
    wait_until(lambda: len(failures(shop.demo)) == 2, timeout=30)
    wait_for_report(shop, "hold", inJourney=2)
    wait_until(lambda: profile(shop.demo, "ECID", "e-ada") is not None, timeout=30)
    wait_until(lambda: len(org_records(shop)) == 3, timeout=30)

    assert waiting_on_the_canvas(shop, "hold") == {"pause": 2}
    done = delete(shop, "ECID", "e-ada")

    assert done["personId"] is not None
    assert done["identities"] == 2
    assert done["instancesEnded"] == 1
    assert done["records"] == 1
    assert done["failedRecords"] == 1
    assert [names(f["message"]) for f in failures(shop.demo)] == [{"bob@example.com", "e-bob"}]
    assert profile(shop.demo, "ECID", "e-ada") is None
    assert profile(shop.demo, "Email", "ada@example.com") is None
    assert profile(shop.demo, "Email", "bob@example.com") is not None
    kept = [names(r["message"]) for r in org_records(shop)]
    assert sorted(kept, key=sorted) == [set(), {"bob@example.com", "e-bob"}]
    after = report_now(shop)
    assert after["entered"] == 2 and after["inJourney"] == 1
    assert waiting_on_the_canvas(shop, "hold") == {"pause": 1}
    assert after["nodes"]["pause"].get("deleted") == 1, after
    recorded = steps(shop, "hold")
    assert "ada@example.com" not in {s["identity"] for s in recorded}
    assert [s["status"] for s in recorded if s["status"] == "deleted"] == ["deleted"]
    assert "bob@example.com" in {s["identity"] for s in recorded}

    again = delete(shop, "Email", "ada@example.com")
    assert again == {**{k: 0 for k in done}, "personId": None}

    refused = cli(deployed, shop.org, "Email:bob@example.com")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert profile(shop.demo, "Email", "bob@example.com") is not None
    deleted = cli(deployed, shop.org, "Email:bob@example.com", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert "deleted person" in deleted.stdout
    assert profile(shop.demo, "Email", "bob@example.com") is None
    assert wait_for_report(shop, "hold", inJourney=0)["entered"] == 2
    assert waiting_on_the_canvas(shop, "hold") == {}


def report_now(shop: Shop) -> dict[str, Any]:
    return wait_for_report(shop, "hold")


def test_a_merge_while_both_persons_wait_in_the_same_journey(deployed: Server) -> None:
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    hold = {"pause": {"type": "wait", "duration": "1h", "next": "done"}, "done": END}
    publish(shop, on_cart("hold", hold))
    send(shop, shop_message(shop, "cart", "a@x.org"))
    wait_for_report(shop, "hold", inJourney=1)
    send(shop, shop_message(shop, "cart", "b@x.org"), shop_message(shop, "cart", "c@x.org"))
    wait_for_report(shop, "hold", inJourney=3)
    assert waiting_on_the_canvas(shop, "hold") == {"pause": 3}

    both = shop_message(shop, "browse", "a@x.org")
    both["body"]["xdmEntity"]["identityMap"]["Email"].append({"id": "b@x.org"})
    send(shop, both)

    after = wait_for_report(shop, "hold", inJourney=2)
    assert after["entered"] == 3
    assert waiting_on_the_canvas(shop, "hold") == {"pause": 2}
    assert after["nodes"]["pause"]["merged"] == 1
    entered = {s["identity"]: s["instanceId"] for s in steps(shop, "hold") if s["node"] == "entry"}
    (merged,) = [s for s in steps(shop, "hold") if s["status"] == "merged"]
    assert merged["instanceId"] == entered["b@x.org"]
    assert merged["detail"] == f"merged into {entered['a@x.org']}"
    assert merged["node"] == "pause" and merged["nodeType"] == "wait"
