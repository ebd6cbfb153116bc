"""Journeys read people, through the running system, embedded and scaled out: Profile records
sent to an inlet update the profile, identities that arrive together make one person, and a
journey's condition and HTTP body read the person's merged profile."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org
from tests.integration.journey_support import (
    TENANT,
    Receiver,
    Shop,
    on_cart,
    publish,
    send,
    setup_shop,
    shop_message,
    wait_for_report,
)

pytestmark = pytest.mark.integration

CUSTOMERS = {
    "name": "customers",
    "class": "Profile",
    "fields": {
        "loyalty": {"type": "object", "properties": {"tier": {"type": "string"}}},
        "person": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
}


def profile_dataset(shop: Shop) -> tuple[str, str]:
    """The org's Profile schema and a dataset enabled for Profile: (schema id, dataset id)."""
    with shop.admin() as admin:
        schema = admin.post("/api/v1/schemas", json=CUSTOMERS)
        assert schema.status_code == 201, schema.text
        dataset = admin.post(
            "/api/v1/datasets", json={"name": "crm", "schemaId": "customers", "profile": True}
        )
        assert dataset.status_code == 201, dataset.text
    return schema.json()["id"], dataset.json()["id"]


def profile_record(
    shop: Shop, ids: tuple[str, str], identity_map: dict[str, str], attributes: dict[str, Any]
) -> dict[str, Any]:
    schema_id, dataset_id = ids
    ref = {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    entity = {
        "_id": str(uuid.uuid4()),
        "identityMap": {ns: [{"id": id_, "primary": True}] for ns, id_ in identity_map.items()},
        TENANT: attributes,
    }
    header = {"imsOrgId": shop.org, "schemaRef": ref, "datasetId": dataset_id}
    return {"header": header, "body": {"xdmMeta": {"schemaRef": ref}, "xdmEntity": entity}}


def linked(shop: Shop, namespace: str, id_: str, expected: set[str]) -> None:
    """Wait until the engine has committed the messages that link ``expected`` (their
    Profile records are applied in the same commit)."""

    def found() -> bool:
        with shop.admin() as admin:
            answer = admin.get("/api/v1/profiles", params={"namespace": namespace, "id": id_})
        if answer.status_code != 200:
            return False
        return {f"{x['namespace']}:{x['id']}" for x in answer.json()["identities"]} == expected

    wait_until(found, timeout=30)


def tiers(url: str) -> dict[str, Any]:
    """Entered on ``cart``: gold members' names go to ``url``/vip, the others' to /regular."""
    name = "{{ #{profile." + TENANT + ".person.name} }}"
    return on_cart(
        "tiers",
        {
            "check": {
                "type": "condition",
                "branches": [
                    {
                        "label": "gold",
                        "when": "#{profile." + TENANT + ".loyalty.tier} == 'gold'",
                        "next": "vip",
                    }
                ],
                "otherwise": "regular",
            },
            "vip": {"type": "http", "method": "POST", "url": f"{url}/vip",
                    "body": {"name": name, "tier": "gold"}, "next": "done"},
            "regular": {"type": "http", "method": "POST", "url": f"{url}/regular",
                        "body": {"name": name}, "next": "done"},
            "done": {"type": "end"},
        },
    )  # fmt: skip


def test_a_condition_sees_the_attribute_sent_with_the_ecid_once_a_message_links_the_email(
    deployed: Server, receiver: Receiver
) -> None:
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    ids = profile_dataset(shop)
    prefix = f"{receiver.url}/{uuid.uuid4().hex[:12]}"
    publish(shop, tiers(prefix))
    send(shop, profile_record(shop, ids, {"ECID": "e-1"}, {"loyalty": {"tier": "gold"}}))
    linked(shop, "ECID", "e-1", {"ECID:e-1"})
    record = profile_record(shop, ids, {"Email": "Ada@Example.com"}, {"person": {"name": "Ada"}})
    send(shop, record)
    linked(shop, "Email", "ada@example.com", {"Email:ada@example.com"})
    # Bob's cart comes first: his profile has no tier
    send(shop, shop_message(shop, "cart", "bob@example.com"))
    wait_for_report(shop, "tiers", entered=1, exited=1)
    both = shop_message(shop, "cart", "ada@example.com")
    both["body"]["xdmEntity"]["identityMap"]["ECID"] = [{"id": "e-1"}]
    send(shop, both)
    wait_for_report(shop, "tiers", entered=2, exited=2)
    path = prefix.removeprefix(receiver.url)
    calls = {c.path.removeprefix(path): c.body for c in receiver.under(path)}
    assert calls == {"/regular": {"name": None}, "/vip": {"name": "Ada", "tier": "gold"}}


def test_an_update_profile_activity_is_checked_at_save_and_read_by_a_later_condition(
    deployed: Server, receiver: Receiver
) -> None:
    shop = setup_shop(apply_demo_to(deployed, new_org()))
    profile_dataset(shop)
    prefix = f"{receiver.url}/{uuid.uuid4().hex[:12]}"
    tier = f"{TENANT}.loyalty.tier"
    promote = {"type": "updateProfile", "set": {tier: "'gold'"}, "next": "check"}
    journey = tiers(prefix)
    journey["activities"] = {"promote": promote, **journey["activities"]}
    journey["entry"]["next"] = "promote"
    journey["name"] = "promote"
    wrong = {**promote, "set": {f"{TENANT}.loyalty.rank": "1"}}
    with shop.admin() as admin:
        refused = admin.post(
            "/api/v1/journeys",
            json={**journey, "activities": {**journey["activities"], "promote": wrong}},
        )
    assert refused.status_code == 400, refused.text
    (violation,) = refused.json()["report"]["cause"]["_streamingValidation"][0]["causingExceptions"]
    assert violation["pointerToViolation"] == f"/activities/promote/set/{TENANT}.loyalty.rank"
    assert "no Profile schema" in violation["message"]
    publish(shop, journey)
    # the journeys' dataset takes its place in the merge policy by its id
    order = ["journeyProfileUpdates", "crm"]
    with shop.admin() as admin:
        policy = {"attributeMerge": {"type": "dataSetPrecedence", "order": order}}
        answer = admin.put("/api/v1/merge-policy", json=policy)
    assert answer.status_code == 200, answer.text
    assert answer.json()["attributeMerge"]["order"][0] == "journeyProfileUpdates"
    send(shop, shop_message(shop, "cart", "ada@example.com"))
    wait_for_report(shop, "promote", entered=1, exited=1)
    # a later journey reads what the activity committed
    publish(shop, tiers(prefix))
    send(shop, shop_message(shop, "cart", "ada@example.com", cart_id="c-2"))
    wait_for_report(shop, "tiers", entered=1, exited=1)
    path = prefix.removeprefix(receiver.url)
    assert [c.path.removeprefix(path) for c in receiver.under(path)] == ["/vip", "/vip"]
