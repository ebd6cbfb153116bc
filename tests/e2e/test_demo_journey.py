"""The journey `wayfare serve --demo` creates, ``welcome``: wait a minute, look at the birth
year, then call the webhook the server answers itself at ``/demo/webhook``, or log a welcome.

Its live version waits a real minute, so the test runs its graph as a draft in test mode,
where waits last ``WAYFARE_TEST_WAIT_SECONDS``: the same activities, only the description
changed to make the draft."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, apply_demo, make_message, wait_until
from tests.integration.journey_support import (
    Shop,
    command,
    instance_ids,
    save,
    steps,
    wait_for_report,
)
from wayfare.registry.demo import DEMO_JOURNEY

pytestmark = pytest.mark.integration


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(
        tmp_path / "data",
        extra_args=["--demo"],
        # nothing allowed but what --demo allows itself: the server's own webhook
        env={"WAYFARE_TEST_WAIT_SECONDS": "0.2", "WAYFARE_ACTION_ALLOW": ""},
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_the_demo_journey_calls_its_webhook_or_logs_a_welcome_by_birth_year(
    demo_server: Server,
) -> None:
    demo = apply_demo(demo_server)  # what --demo applied: nothing changes
    shop = Shop(demo, demo.schema_id)
    with shop.admin() as admin:
        live = admin.get(f"/api/v1/journeys/{DEMO_JOURNEY}").json()
    assert live["state"] == "live"
    draft = save(shop, {**live["definition"], "description": "the demo, in test mode"})
    assert (draft["version"], draft["state"]) == (2, "draft")
    command(shop, DEMO_JOURNEY, "test-mode", {"enabled": True})

    def signup(who: str, first_name: str, birth_year: int) -> None:
        entity = make_message(
            demo.schema_id, email=who, firstName=first_name, birthYear=birth_year
        )["body"]["xdmEntity"]
        command(shop, DEMO_JOURNEY, "test-event", {"identity": who, "payload": entity})

    signup("ada@example.com", "Ada", 1990)
    signup("grace@example.com", "Grace", 1985)
    done = wait_for_report(shop, DEMO_JOURNEY, entered=2, exited=2)

    assert done["nodes"]["welcome_webhook"] == {"type": "http", "ended": 1}
    assert done["nodes"]["log_welcome"] == {"type": "log", "ended": 1}
    assert "log_failure" not in done["nodes"]
    (received,) = httpx.get(f"{demo_server.url}/demo/webhook", timeout=10).json()["received"]
    ada = instance_ids(shop, DEMO_JOURNEY)["ada@example.com"]
    assert received == {
        "idempotencyKey": f"{ada}:welcome_webhook",
        "body": {
            "email": "ada@example.com",
            "firstName": "Ada",
            "birthYear": 1990,
            "journey": DEMO_JOURNEY,
        },
    }
    branch: dict[str, Any] = {
        s["identity"]: s["detail"]
        for s in steps(shop, DEMO_JOURNEY)
        if s["node"] == "check_birth_year"
    }
    assert branch == {"ada@example.com": "born in 1990 or later", "grace@example.com": "otherwise"}
    log = demo_server.data_dir.parent / f"server-{demo_server.port}.log"
    wait_until(lambda: "journey welcome, log_welcome: welcome Grace" in log.read_text())
