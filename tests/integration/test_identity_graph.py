"""The identity graph through the running system, embedded and scaled out (PostgreSQL and
NATS, a server and a worker): messages sent to an inlet link their identities, and
``GET /api/v1/profiles`` and ``wayfare profiles show`` find the person by any of them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.conftest import Demo, Server, in_threads, make_message, wait_until
from tests.integration.conftest import apply_demo_to, new_org

pytestmark = pytest.mark.integration


@pytest.fixture
def server(each_backend: Server) -> Server:
    return each_backend


def send(
    demo: Demo, identity_map: dict[str, list[str]], client: httpx.Client | None = None
) -> None:
    sent = make_message(demo.schema_id, org=demo.org)
    sent["body"]["xdmEntity"]["identityMap"] = {
        namespace: [{"id": id_} for id_ in ids] for namespace, ids in identity_map.items()
    }
    answer = (client or httpx).post(demo.inlet_url, json=sent, timeout=30)
    assert answer.status_code == 200, answer.text


def profile(demo: Demo, namespace: str, id_: str) -> Any:
    with demo.server.admin(demo.org) as admin:
        found = admin.get("/api/v1/profiles", params={"namespace": namespace, "id": id_})
    assert found.status_code in (200, 404), found.text
    return found.json() if found.status_code == 200 else None


def identities(found: Any) -> set[str]:
    return {f"{x['namespace']}:{x['id']}" for x in found["identities"]}


def settled(demo: Demo, namespace: str, id_: str, expected: set[str]) -> Any:
    """The profile once it holds exactly ``expected`` (the engine links after the inlet
    acknowledges)."""
    return wait_until(
        lambda: (p := profile(demo, namespace, id_)) and identities(p) == expected and p,
        timeout=30,
    )


def test_ecid_first_email_later_then_both_make_one_person(server: Server) -> None:
    demo = apply_demo_to(server, new_org())
    send(demo, {"ECID": ["e-1"]})
    ecid_person = settled(demo, "ECID", "e-1", {"ECID:e-1"})["personId"]
    send(demo, {"Email": ["Ada@Example.com"]})
    email_person = settled(demo, "Email", "ada@example.com", {"Email:ada@example.com"})
    assert email_person["personId"] != ecid_person
    send(demo, {"ECID": ["e-1"], "Email": ["ada@example.com"]})
    both = {"ECID:e-1", "Email:ada@example.com"}
    merged = settled(demo, "Email", "ADA@example.com", both)
    assert merged["personId"] == ecid_person  # the first person created survives
    assert settled(demo, "ECID", "e-1", both)["personId"] == ecid_person
    linked = {x["namespace"]: x["linkedMs"] for x in merged["identities"]}
    assert linked["ECID"] <= linked["Email"]
    with server.admin(demo.org) as admin:
        unknown = admin.get("/api/v1/profiles", params={"namespace": "Email", "id": "x@y.z"})
    assert unknown.status_code == 404
    assert "x@y.z" in unknown.json()["detail"]
    shown = subprocess.run(
        [sys.executable, "-m", "wayfare", "profiles", "show", "Email:ada@example.com"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"WAYFARE_URL": server.url, "WAYFARE_ORG": demo.org, "PATH": ""},
    )
    assert shown.returncode == 0, shown.stderr
    assert f"person {ecid_person}" in shown.stdout
    assert "ECID:e-1" in shown.stdout and "Email:ada@example.com" in shown.stdout


def test_two_emails_linked_through_one_crmid_and_graph_collapse(server: Server) -> None:
    demo = apply_demo_to(server, new_org())
    send(demo, {"Email": ["a@x.org"], "CRMID": ["42"]})
    send(demo, {"Email": ["b@x.org"], "CRMID": ["42"]})
    settled(demo, "CRMID", "42", {"Email:a@x.org", "Email:b@x.org", "CRMID:42"})
    # a shared address goes to the newest CRMID, the persons do not collapse into one
    send(demo, {"Email": ["desk@shop.org"], "CRMID": ["1"]})
    first = settled(demo, "CRMID", "1", {"Email:desk@shop.org", "CRMID:1"})
    send(demo, {"Email": ["desk@shop.org"], "CRMID": ["2"]})
    settled(demo, "CRMID", "2", {"Email:desk@shop.org", "CRMID:2"})
    alone = settled(demo, "CRMID", "1", {"CRMID:1"})
    assert alone["personId"] == first["personId"]
    assert alone["droppedLinks"] == [
        {"namespace": "Email", "id": "desk@shop.org", "cause": "unique"}
    ]


def test_concurrent_messages_of_one_person_from_several_clients(server: Server) -> None:
    demo = apply_demo_to(server, new_org())
    clients, rounds = 4, 6

    def client(n: int) -> None:
        with httpx.Client() as http:
            for r in range(rounds):
                via = {"ECID": ["shared"]} if r % 2 == 0 else {"Email": [f"c{n}-{r - 1}@x.org"]}
                send(demo, {**via, "Email": [*via.get("Email", []), f"c{n}-{r}@x.org"]}, http)

    in_threads(clients, client)
    expected = {"ECID:shared"} | {
        f"Email:c{n}-{r}@x.org" for n in range(clients) for r in range(rounds)
    }
    person = settled(demo, "ECID", "shared", expected)
    for n in range(clients):
        assert profile(demo, "Email", f"c{n}-0@x.org")["personId"] == person["personId"]
