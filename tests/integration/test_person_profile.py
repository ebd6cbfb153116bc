"""A person's profile through the running system, embedded and scaled out (PostgreSQL and
NATS, a server and a worker): ``GET /api/v1/profiles`` and ``wayfare profiles show`` answer,
by any identity, the merged attributes with the dataset each came from and the person's
journeys: the current ones at their activity, the past ones with their steps and times.

The journey engine does not apply Profile records yet, so the fragment is written into the
deployment's own profile store, as the engine's log consumer will write it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import ROOT, Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org
from tests.integration.journey_support import END, on_cart, publish, send, setup_shop, shop_message
from tests.integration.test_cli_commands import NO_WAYFARE_ENV
from tests.integration.test_identity_graph import profile
from wayfare.cli import main
from wayfare.model.identities import Identity
from wayfare.model.profile_records import Operation, ProfileUpdate
from wayfare.store.ports import ProfileStore

pytestmark = pytest.mark.integration


@pytest.fixture
def server(deployed: Server) -> Server:
    """Embedded, then scaled out."""
    return deployed


@contextmanager
def profile_store(srv: Server, request: pytest.FixtureRequest) -> Iterator[ProfileStore]:
    """The deployment's profile store: the server's SQLite file, or the PostgreSQL
    database the scaled-out deployment runs on."""
    if request.node.callspec.params["deployed"] == "embedded":
        from wayfare.store.sqlite.connection import database_path
        from wayfare.store.sqlite.profiles import SQLiteProfileStore

        store: ProfileStore = SQLiteProfileStore(database_path(srv.data_dir))
    else:
        from wayfare.store.postgres.connection import open_pool
        from wayfare.store.postgres.profiles import PostgresProfileStore

        assert srv.store_url is not None
        store = PostgresProfileStore(open_pool(srv.store_url))
    try:
        yield store
    finally:
        store.close()


def journeys_of(found: Any) -> dict[str, Any]:
    return {j["journey"]: j for j in found["journeys"]} if found else {}


def test_a_profile_shows_attributes_with_their_dataset_and_the_persons_journeys(
    server: Server, request: pytest.FixtureRequest
) -> None:
    demo = apply_demo_to(server, new_org())
    shop = setup_shop(demo)
    examples = list(yaml.safe_load_all((ROOT / "examples/profiles/customers.yaml").read_text()))
    with demo.server.admin(demo.org) as admin:
        assert admin.post("/api/v1/apply", json={"documents": examples}).status_code == 200
        tenant = admin.get("/api/v1/org").json()["tenantId"]
        datasets = {d["name"]: d for d in admin.get("/api/v1/datasets").json()["datasets"]}
    crm = datasets["crm-customers"]["id"]
    attributes = {f"_{tenant}": {"person": {"firstName": "Ada", "city": "Paris"}}}
    with profile_store(server, request) as store:
        update = ProfileUpdate(
            demo.org, crm, Identity("Email", "ada@example.com"), Operation.MERGE,
            attributes, 1_767_225_600_000,
        )  # fmt: skip
        store.apply_profile_update(update)
    greet = {"hi": {"type": "log", "message": "hi", "next": "done"}, "done": END}
    publish(shop, on_cart("greet", greet))
    hold = {"hold": {"type": "wait", "duration": "7d", "next": "done"}, "done": END}
    publish(shop, on_cart("hold", hold))
    send(shop, shop_message(shop, "cart", "ada@example.com"))

    def both_seen() -> Any:
        found = profile(demo, "Email", "ada@example.com")
        journeys = journeys_of(found)
        greeted = journeys.get("greet", {}).get("status") == "finished"
        return greeted and journeys.get("hold", {}).get("status") == "waiting" and found

    found = wait_until(both_seen, timeout=30)
    assert found["attributes"] == attributes
    assert found["sources"] == [
        {
            "path": f"_{tenant}.person.{leaf}",
            "datasetId": crm,
            "datasetName": "crm-customers",
            "identity": {"namespace": "Email", "id": "ada@example.com"},
            "timeMs": 1_767_225_600_000,
        }
        for leaf in ("city", "firstName")
    ]
    journeys = journeys_of(found)
    held, greeted = journeys["hold"], journeys["greet"]
    assert (held["node"], held["endedMs"]) == ("hold", None)
    assert [(s["node"], s["status"]) for s in held["steps"]] == [("entry", "ended")]
    assert greeted["endedMs"] is not None and greeted["endedMs"] >= greeted["enteredMs"]
    assert [(s["node"], s["status"]) for s in greeted["steps"]] == [
        ("entry", "ended"),
        ("hi", "ended"),
        ("done", "ended"),
    ]
    assert {s["instanceId"] for s in greeted["steps"]} == {greeted["instanceId"]}

    result = CliRunner().invoke(
        main,
        ["profiles", "show", "Email:ADA@example.com", "--url", server.url, "--org", demo.org],
        env=NO_WAYFARE_ENV,
    )
    assert result.exit_code == 0, result.output
    assert f"_{tenant}.person.firstName" in result.output and "crm-customers" in result.output
    assert "hold" in result.output and "waiting" in result.output
    assert "greet" in result.output and "hi" in result.output


def test_a_person_with_no_attributes_and_no_journeys_shows_empty_lists(
    server: Server,
) -> None:
    demo = apply_demo_to(server, new_org())
    shop = setup_shop(demo)
    send(shop, shop_message(shop, "cart", "grace@example.com"))
    found = wait_until(lambda: profile(demo, "Email", "grace@example.com"), timeout=30)
    assert (found["attributes"], found["sources"], found["journeys"]) == ({}, [], [])
    assert (found["events"], found["audiences"]) == ([], [])  # not enabled for Profile
