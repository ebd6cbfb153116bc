"""Two servers on one store (as ``serve`` processes sharing a SQLite file, or scale-out
servers sharing PostgreSQL): what is changed through one server's admin API reaches the
other's inlet at its next check of the store, though that inlet cached what it had looked up
before."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_message
from wayfare.api.app import create_app
from wayfare.bootstrap import EMBEDDED_CHECK_MS, SCALED_OUT_CHECK_MS, Services, build
from wayfare.clock import FakeClock
from wayfare.config import Settings
from wayfare.ingest.inlet import Caller
from wayfare.registry.demo import DEMO_DOCUMENTS, DEMO_INLET, DEMO_ORG, DEMO_SCHEMA

pytestmark = pytest.mark.integration

PERSON = "_instance_name.person"
GEN_X = {
    "name": "gen_x",
    "schemaId": DEMO_SCHEMA,
    "namespace": "Email",
    "eventIdType": "rule",
    "condition": f"{PERSON}.birthYear < 1981 and {PERSON}.birthYear >= 1965",
}


def client(services: Services) -> httpx.AsyncClient:
    """The server's whole HTTP surface, in this process."""
    transport = httpx.ASGITransport(app=create_app(services))
    return httpx.AsyncClient(
        transport=transport, base_url="http://wayfare", headers={"x-gw-ims-org-id": DEMO_ORG}
    )


async def ok(answer: Any, status: int = 200) -> Any:
    response: httpx.Response = await answer
    assert response.status_code == status, response.text
    return response.json()


async def apply_demo(admin: httpx.AsyncClient) -> tuple[str, str]:
    """The demo applied: (its schema's id, its inlet's id)."""
    await ok(admin.post("/api/v1/apply", json={"documents": DEMO_DOCUMENTS}))
    schema = await ok(admin.get(f"/api/v1/schemas/{DEMO_SCHEMA}"))
    inlet = await ok(admin.get(f"/api/v1/inlets/{DEMO_INLET}"))
    return schema["id"], inlet["inletId"]


Scenario = Callable[[httpx.AsyncClient, httpx.AsyncClient, str, str], Awaitable[None]]


def on_two_servers(tmp_path: Path, scenario: Scenario) -> None:
    """``scenario(through_a, through_b, schema_id, inlet_id)`` on two embedded servers
    sharing one SQLite file, started, with the demo applied through the first and a message
    taken by the second (which has cached the inlet and the route since), then the time
    between two checks of the store passed."""
    clock = FakeClock()
    settings = Settings(data_dir=tmp_path, engine_process=False, action_worker=False, fsync=False)
    a, b = build(settings, clock), build(settings, clock)

    async def run() -> None:
        await a.start()
        await b.start()
        try:
            async with client(a) as through_a, client(b) as through_b:
                schema_id, inlet_id = await apply_demo(through_a)
                first = make_message(schema_id)
                await ok(through_b.post(f"/collection/{inlet_id}", json=first))
                clock.advance(EMBEDDED_CHECK_MS)
                await scenario(through_a, through_b, schema_id, inlet_id)
        finally:
            await b.stop()
            await a.stop()

    asyncio.run(run())


def test_an_event_created_through_one_server_matches_what_the_other_takes_at_its_next_check(
    tmp_path: Path,
) -> None:
    async def scenario(
        through_a: httpx.AsyncClient, through_b: httpx.AsyncClient, schema_id: str, inlet_id: str
    ) -> None:
        await ok(through_a.post("/api/v1/events", json=GEN_X), 201)
        message = make_message(schema_id, birthYear=1970)
        sent = await ok(through_b.post(f"/collection/{inlet_id}", json=message))
        found = await ok(through_a.get("/api/v1/events/gen_x/messages"))
        assert [(m["xactionId"], m["matched"]) for m in found["messages"]] == [
            (sent["xactionId"], True)
        ]

    on_two_servers(tmp_path, scenario)


def test_an_inlet_disabled_through_one_server_is_refused_by_the_other_at_its_next_check(
    tmp_path: Path,
) -> None:
    async def scenario(
        through_a: httpx.AsyncClient, through_b: httpx.AsyncClient, schema_id: str, inlet_id: str
    ) -> None:
        await ok(through_a.patch(f"/api/v1/inlets/{inlet_id}", json={"state": "disabled"}))
        refused = await through_b.post(f"/collection/{inlet_id}", json=make_message(schema_id))
        assert refused.status_code == 400, refused.text
        assert f"Inlet {inlet_id} is disabled" in refused.json()["report"]["message"]

    on_two_servers(tmp_path, scenario)


def test_scaled_out_an_event_created_through_one_server_matches_at_the_others_next_check(
    tmp_path: Path, pg_database: str
) -> None:
    """Scaled out, up to the messages the inlet hands to the event log (no log, no worker
    needed)."""
    clock = FakeClock()
    settings = Settings(data_dir=tmp_path, store=pg_database, log="nats://127.0.0.1:1")
    a, b = build(settings, clock), build(settings, clock)

    def matches_in_b(schema_id: str, inlet_id: str) -> list[tuple[str, bool]]:
        inlet = b.inlet.open_inlet(inlet_id, Caller())
        incoming = b.inlet.prepare(
            inlet,
            make_message(schema_id, birthYear=1970),
            None,
            sync=True,
            xaction_id="x-1",
            received_ms=clock.now_ms(),
        )
        return [(m.event_name, m.matched) for m in incoming.matches or ()]

    async def scenario() -> None:
        async with client(a) as through_a:
            schema_id, inlet_id = await apply_demo(through_a)
            assert ("gen_x", True) not in matches_in_b(schema_id, inlet_id)
            await ok(through_a.post("/api/v1/events", json=GEN_X), 201)
            clock.advance(SCALED_OUT_CHECK_MS)
            assert ("gen_x", True) in matches_in_b(schema_id, inlet_id)

    try:
        asyncio.run(scenario())
    finally:
        a.store.close()
        b.store.close()
