"""Fixtures and helpers for the integration suite.

One real server per test module (``shared_server``); each test gets its own organisation
(``org_demo``) with the demo schema, dataset and inlet applied through the API, so tests in a
module never see each other's records, failures or message ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Demo, Server
from tests.integration.journey_support import Mailbox, Receiver, running_mailbox, running_receiver
from wayfare.registry.demo import DEMO_DOCUMENTS, DEMO_INLET, DEMO_SCHEMA

PROBLEM_TYPE_SUFFIX = "data-collection-service/inlet"
WRONG_ORG = "Message has an absent or wrong ims org in the header"
UNKNOWN_FORMAT = "Message has unknown xdm format"
DEEP = "nested more than 64 levels deep"
LONG = "longer than 10,000 characters"
EXPRESSIONS_OVER_THE_LIMITS = [  # (expression, what the refusal says, at which column)
    pytest.param("1" * 5_000 + " > 1", "a number of more than 30 digits", 1, id="5,000 digits"),
    pytest.param("(" * 300 + "1" + ")" * 300 + " == 1", DEEP, 65, id="300 parentheses"),
    pytest.param("not " * 10_000 + "true", LONG, 10_001, id="10,000 not"),
    pytest.param("not " * 100 + "true", DEEP, 257, id="100 not"),
    pytest.param("1" + " + 1" * 990 + " > 0", DEEP, 259, id="990 chained + 1"),
    pytest.param("1 + " * 275_000 + "1", LONG, 10_001, id="1.1 MB"),
]


def new_org() -> str:
    """A fresh organisation id, so that every test starts from an empty org."""
    return f"T{uuid.uuid4().hex[:12].upper()}@TestOrg"


def apply_demo_to(srv: Server, org: str, admin_token: str | None = None) -> Demo:
    """The demo documents (tenant ``instance_name``, schema, dataset, inlet) in ``org``."""
    with srv.admin(org, admin_token) as admin:
        applied = admin.post("/api/v1/apply", json={"documents": DEMO_DOCUMENTS})
        assert applied.status_code == 200, applied.text
        schema = admin.get(f"/api/v1/schemas/{DEMO_SCHEMA}").json()
        inlet = admin.get(f"/api/v1/inlets/{DEMO_INLET}").json()
        datasets = admin.get("/api/v1/datasets", params={"schema": DEMO_SCHEMA}).json()
    default = next(d for d in datasets["datasets"] if d["default"])
    return Demo(srv, org, schema["id"], default["id"], inlet["inletId"])


def start_server(root: Path, **kwargs: Any) -> Server:
    return Server(root / f"data-{uuid.uuid4().hex[:8]}", **kwargs).start()


@contextmanager
def serving(root: Path, **kwargs: Any) -> Iterator[Server]:
    """A server started under ``root`` (``Server``'s options), stopped on the way out."""
    srv = start_server(root, **kwargs)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A webhook receiver for the module (modules that need another one define their own)."""
    with running_receiver() as found:
        yield found


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server (aiosmtpd) for the module, and its port."""
    with running_mailbox() as running:
        yield running


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `wayfare serve` for the whole module."""
    srv = start_server(tmp_path_factory.mktemp("shared"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def shared_demo(shared_server: Server) -> Demo:
    """The demo, once per module, in an org of its own."""
    return apply_demo_to(shared_server, new_org())


@pytest.fixture
def org_demo(shared_server: Server) -> Demo:
    """The demo in a fresh org on the module's server: isolated from every other test."""
    return apply_demo_to(shared_server, new_org())


# reading back what landed
def records(demo: Demo, dataset_id: str | None = None, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("limit", 10_000)
    with demo.server.admin(demo.org) as admin:
        answer = admin.get(
            f"/api/v1/datasets/{dataset_id or demo.dataset_id}/records", params=params
        )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["records"]
    return found


def record_count(demo: Demo, dataset_id: str | None = None) -> int:
    with demo.server.admin(demo.org) as admin:
        answer = admin.get(f"/api/v1/datasets/{dataset_id or demo.dataset_id}")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["recordCount"])


def failures(demo: Demo, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("limit", 10_000)
    with demo.server.admin(demo.org) as admin:
        answer = admin.get("/api/v1/failures", params=params)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["failures"]
    return found


def causing_exceptions(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The violations of an Adobe validation report (a problem body or a batch entry)."""
    checks = body["report"]["cause"]["_streamingValidation"]
    assert len(checks) == 1
    found: list[dict[str, Any]] = checks[0]["causingExceptions"]
    return found


def assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    """An error answer: the status, a problem+json body with Adobe's fields."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"].endswith(PROBLEM_TYPE_SUFFIX)
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["report"]["message"], str) and body["report"]["message"]
    return body


def create_inlet(demo: Demo, **spec: Any) -> dict[str, Any]:
    spec.setdefault("name", f"inlet-{uuid.uuid4().hex[:8]}")
    with demo.server.admin(demo.org) as admin:
        answer = admin.post("/api/v1/inlets", json=spec)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture(scope="module", params=["embedded", "scaled-out"])
def deployed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server embedded, then scaled out (PostgreSQL and NATS, a server and two workers:
    a person's messages reach partitions of both), each once for the module: its tests work
    in orgs of their own (``new_org``). Scaled out, on a database and a stream of its own."""
    root = tmp_path_factory.mktemp("deployed")
    if request.param == "embedded":
        srv = Server(root / "data").start()
        try:
            yield srv
        finally:
            srv.stop()
        return
    from tests.nats_support import machine_nats
    from tests.postgres import fresh_database
    from tests.scale_out import Cluster  # it imports this module

    with fresh_database(request.getfixturevalue("pg_server_url")) as store:
        cluster = Cluster(root, store, machine_nats())
        try:
            srv = cluster.serve()
            cluster.worker("w0")
            cluster.worker("w1")
            cluster.wait_started()
            yield srv
        finally:
            cluster.stop()
