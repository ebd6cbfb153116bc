"""``/openapi.json`` against the server that serves it: every route described, the docs page
served from the package, and a bounded schemathesis run over every operation."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from tests.conftest import Server
from tests.integration.conftest import apply_demo_to, assert_problem, new_org, start_server
from tests.unit.test_openapi import described_by
from wayfare.client.admin import AdminClient, AdminError
from wayfare.config import Settings
from wayfare.registry.demo import DEMO_INLET, demo_journey
from wayfare.wire.base import Report
from wayfare.wire.collection import Message
from wayfare.wire.inlets import InletChange, InletSpec, IssuedToken

pytestmark = pytest.mark.integration

TOKEN = "s3cret-admin-token"
ORG = "SCHEMATHESIS@AdobeOrg"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the demo's webhook and an admin token, the demo applied in ``ORG``."""
    srv = start_server(
        tmp_path_factory.mktemp("described"), extra_args=["--demo", "--admin-token", TOKEN]
    )
    try:
        apply_demo_to(srv, ORG, admin_token=TOKEN)
        yield srv
    finally:
        srv.stop()


def test_the_docs_page_loads_only_what_the_server_ships(secured: Server) -> None:
    page = httpx.get(f"{secured.url}/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert loaded, page.text
    for url in loaded:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = httpx.get(f"{secured.url}{url}")
        assert answer.status_code == 200, url
        assert len(answer.content) > 100
    assert_problem(httpx.get(f"{secured.url}/docs/../pyproject.toml"), 404)
    assert_problem(httpx.get(f"{secured.url}/docs/nothing.js"), 404)


def test_other_methods_get_405_with_the_methods_of_the_path(secured: Server) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "x-gw-ims-org-id": new_org()}
    answer = httpx.request("OPTIONS", f"{secured.url}/api/v1/inlets", headers=headers)
    assert_problem(answer, 405)
    assert answer.headers["allow"] == "GET, HEAD, POST"
    answer = httpx.delete(f"{secured.url}/api/v1/journeys/x/versions", headers=headers)
    assert_problem(answer, 405)
    assert answer.headers["allow"] == "GET, HEAD"
    assert_problem(httpx.get(f"{secured.url}/nowhere"), 404)


def test_the_admin_client_reads_answers_into_the_servers_models(secured: Server) -> None:
    org = apply_demo_to(secured, new_org(), admin_token=TOKEN).org
    with AdminClient(secured.url, org, TOKEN) as client:
        assert client.org.get().tenantId == "instance_name"
        [schema] = client.schemas.list().schemas
        assert client.schemas.get(schema.name) == schema
        assert client.schemas.versions(schema.id).versions == [schema]
        inlet = client.inlets.get(DEMO_INLET)
        assert inlet in client.inlets.list().inlets
        datasets = client.datasets.list(schema.name).datasets
        assert [d.schemaRef.id for d in datasets if d.schemaRef] == [schema.id]
        assert client.datasets.get(datasets[0].id).recordCount == 0
        assert client.datasets.records(datasets[0].id).records == []
        assert client.failures.list().failures == []
        events = client.events.list().events
        assert client.events.get(events[0].name) == events[0]
        assert client.events.messages(events[0].name).messages == []
        preview = client.events.preview(events[0].name)
        assert preview.header.schemaRef.id == schema.id
        snippets = client.events.snippets(events[0].name)
        assert (
            msgspec.convert(snippets.payload, Message).header.schemaRef == preview.header.schemaRef
        )
        assert snippets.curl.startswith("curl ")
        journey = demo_journey(secured.url) | {"state": "draft"}
        [applied] = client.definitions.apply([journey]).applied
        assert (applied.kind, applied.action, applied.version) == ("Journey", "created", 1)
        [listed] = client.journeys.list().journeys
        assert client.journeys.get(listed.name) == listed
        assert (listed.state, listed.entryEvent) == ("draft", journey["entry"]["event"])
        assert client.journeys.report(listed.name).entered == 0
        assert client.journeys.steps(listed.name).steps == []
        assert client.journeys.set_test_mode(listed.name, True).testMode
        assert client.test_profiles.add("ada@example.com").test
        secured_inlet = client.inlets.create(InletSpec(name="app", authenticationRequired=True))
        assert isinstance(secured_inlet.token, IssuedToken)
        token = client.inlets.issue_token("app", expires_in=60)
        assert token.expiresMs is not None and token.inletId == secured_inlet.inletId
        assert client.inlets.revoke_tokens("app").revoked == 2
        assert client.inlets.update("app", InletChange(state="disabled")).state == "disabled"
        assert client.inlets.delete("app").deleted == secured_inlet.inletId
        with pytest.raises(AdminError) as refused:
            client.inlets.get("nowhere")
        assert refused.value.problem is not None
        assert refused.value.problem.status == 404
        with pytest.raises(AdminError) as invalid:
            client.journeys.save({"name": "bad", "entry": {}, "activities": {}})
        assert invalid.value.problem is not None
        assert isinstance(invalid.value.problem.report, Report)
        assert invalid.value.problem.report.violations


def _document(data_dir: Path) -> dict[str, Any]:
    """The description a server started as ``secured`` serves."""
    settings = Settings(data_dir=data_dir, demo=True, admin_token=TOKEN)
    return described_by(settings)


def test_the_server_serves_the_description_of_its_settings(secured: Server) -> None:
    document = _document(secured.data_dir)
    assert httpx.get(f"{secured.url}/openapi.json").json() == document


def test_the_server_answers_as_described(secured: Server, tmp_path: Path) -> None:
    """Schemathesis over every operation, every phase (examples, coverage of each parameter's
    edges and of unsupported methods, fuzzing with valid and invalid data, stateful links),
    with a bounded number of examples and a fixed seed."""
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"), "run", f"{secured.url}/openapi.json",
            "--header", f"Authorization: Bearer {TOKEN}",
            "--header", f"x-gw-ims-org-id: {ORG}",
            "--checks", "all",
            # whether a well-formed request is accepted depends on what is stored (the
            # events a journey names, the tenant its schemas fix, the datasets a raw inlet
            # writes to): such refusals are 400s or 409s with a report, which the
            # description lists, not disagreements with it
            "--exclude-checks", "positive_data_acceptance",
            "--max-examples", "5", "--seed", "20261130", "--no-color",
        ],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
