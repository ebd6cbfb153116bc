"""The client library (``Inlet``, ``AsyncInlet``) against a real server, and its retries
against a small local HTTP server that answers from a script (503/429 with Retry-After, 400,
nothing listening)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import Demo, free_port, make_message
from tests.integration.conftest import create_inlet, record_count, records
from wayfare.client import AsyncInlet, Inlet, MessageResult, RetryPolicy
from wayfare.client.batching import REQUEST_LIMIT

pytestmark = pytest.mark.integration

FAST = RetryPolicy(attempts=4, initial_seconds=0.01, max_seconds=5.0)


def message(demo: Demo, **person: Any) -> dict[str, Any]:
    return make_message(demo.schema_id, org=demo.org, **person)


def invalid(demo: Demo) -> dict[str, Any]:
    return message(demo, birthYear="nineteen ninety")


# against the real server


def test_send_returns_the_inlet_answer(org_demo: Demo) -> None:
    with Inlet(org_demo.inlet_url, org_demo.org) as inlet:
        result = inlet.send(message(org_demo))
    assert (result.ok, result.status, result.index, result.retries) == (True, 200, 0, 0)
    assert result.xaction_id
    assert [r["xactionId"] for r in records(org_demo)] == [result.xaction_id]


def test_by_default_the_client_validates_and_an_invalid_message_is_refused(
    org_demo: Demo,
) -> None:
    with Inlet(org_demo.inlet_url, org_demo.org) as inlet:
        result = inlet.send(invalid(org_demo))
    assert (result.ok, result.status) == (False, 400)
    assert result.violations[0]["pointerToViolation"] == "#/_instance_name/person/birthYear"
    assert record_count(org_demo) == 0


def test_without_sync_validation_an_invalid_message_is_accepted(org_demo: Demo) -> None:
    with Inlet(org_demo.inlet_url, org_demo.org, sync_validation=False) as inlet:
        result = inlet.send(invalid(org_demo))
    assert (result.ok, result.status) == (True, 200)
    assert record_count(org_demo) == 0


def test_with_sync_validation_a_rejection_says_where_and_why(org_demo: Demo) -> None:
    with Inlet(org_demo.inlet_url, org_demo.org, sync_validation=True) as inlet:
        result = inlet.send(invalid(org_demo))
    assert (result.ok, result.status, result.retries) == (False, 400, 0)
    assert result.message
    (violation,) = result.violations
    assert violation["pointerToViolation"] == "#/_instance_name/person/birthYear"
    assert violation["keyword"] == "type"
    assert result.report is not None


def test_send_batch_answers_per_message_in_order(org_demo: Demo) -> None:
    messages = [
        message(org_demo, firstName="A"),
        invalid(org_demo),
        message(org_demo, firstName="C"),
        {"header": {}, "body": {}},
        message(org_demo, firstName="E"),
    ]
    with Inlet(org_demo.inlet_url, org_demo.org, sync_validation=True) as inlet:
        results = inlet.send_batch(messages)
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [(r.ok, r.status) for r in results] == [
        (True, 200),
        (False, 400),
        (True, 200),
        (False, 400),
        (True, 200),
    ]
    assert all(r.xaction_id for r in results)
    assert results[1].violations[0]["pointerToViolation"] == "#/_instance_name/person/birthYear"
    assert "xdm format" in (results[3].message or "")
    landed = {r["xactionId"] for r in records(org_demo)}
    assert landed == {results[i].xaction_id for i in (0, 2, 4)}


def test_a_resent_message_is_acknowledged_as_a_duplicate(org_demo: Demo) -> None:
    once = message(org_demo, msg_id="same-id")
    with Inlet(org_demo.inlet_url, org_demo.org) as inlet:
        first = inlet.send(once)
        (again,) = inlet.send_batch([once])
    assert first.ok and again.ok
    assert again.duplicate_of == first.xaction_id
    assert record_count(org_demo) == 1


class CountingTransport(httpx.HTTPTransport):
    """Records the size of every request body it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sizes.append(len(request.read()))
        return super().handle_request(request)


def test_a_batch_over_one_megabyte_is_split(org_demo: Demo) -> None:
    messages = [message(org_demo, firstName="x" * 700, lastName=str(i)) for i in range(3000)]
    assert len(json.dumps(messages[0])) > 1000
    transport = CountingTransport()
    with Inlet(org_demo.inlet_url, org_demo.org, max_messages=5000, transport=transport) as inlet:
        results = inlet.send_batch(messages)
    assert [r.index for r in results] == list(range(3000))
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    assert len(transport.sizes) >= 3
    assert all(size <= REQUEST_LIMIT for size in transport.sizes)
    assert len({r.xaction_id for r in results}) == 3000
    assert record_count(org_demo) == 3000


def test_a_message_over_the_limit_is_reported_not_sent(org_demo: Demo) -> None:
    huge = message(org_demo, firstName="x" * (REQUEST_LIMIT + 10))
    transport = CountingTransport()
    with Inlet(org_demo.inlet_url, org_demo.org, transport=transport) as inlet:
        alone = inlet.send(huge)
        results = inlet.send_batch([message(org_demo), huge, message(org_demo)])
    assert (alone.ok, alone.status) == (False, 413)
    assert [(r.ok, r.status) for r in results] == [(True, 200), (False, 413), (True, 200)]
    assert all(size <= REQUEST_LIMIT for size in transport.sizes)
    assert record_count(org_demo) == 2


def test_an_authenticated_inlet_takes_the_token_and_a_401_is_not_retried(
    org_demo: Demo,
) -> None:
    created = create_inlet(org_demo, authenticationRequired=True)
    token = created["token"]["accessToken"]
    with Inlet(created["inletUrl"], org_demo.org, token) as inlet:
        assert inlet.send(message(org_demo)).ok
    transport = CountingTransport()
    with Inlet(created["inletUrl"], org_demo.org, retry=FAST, transport=transport) as inlet:
        refused = inlet.send(message(org_demo))
    assert (refused.ok, refused.status, refused.retries) == (False, 401, 0)
    assert len(transport.sizes) == 1


def test_async_inlet_sends_and_batches(org_demo: Demo) -> None:
    async def run() -> tuple[MessageResult, list[MessageResult]]:
        async with AsyncInlet(org_demo.inlet_url, org_demo.org, sync_validation=True) as inlet:
            single = await inlet.send(message(org_demo))
            batch = await inlet.send_batch(
                [message(org_demo), invalid(org_demo), message(org_demo)]
            )
        return single, batch

    single, batch = asyncio.run(run())
    assert (single.ok, single.status) == (True, 200)
    assert [(r.index, r.ok, r.status) for r in batch] == [
        (0, True, 200),
        (1, False, 400),
        (2, True, 200),
    ]
    assert batch[1].violations[0]["keyword"] == "type"
    assert record_count(org_demo) == 3


def test_async_inlet_splits_large_batches(org_demo: Demo) -> None:
    messages = [message(org_demo, firstName="y" * 900) for _ in range(1500)]

    async def run() -> list[MessageResult]:
        async with AsyncInlet(org_demo.inlet_url, org_demo.org, max_messages=5000) as inlet:
            return await inlet.send_batch(messages)

    results = asyncio.run(run())
    assert [r.index for r in results] == list(range(1500))
    assert all(r.ok for r in results)
    assert record_count(org_demo) == 1500


# retries, against a scripted local server


@dataclass
class Script:
    """What the fake inlet answers: the scripted answers first, then success."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.requests.append((path, time.monotonic()))
            scripted = self.answers.pop(0) if self.answers else None
        if scripted is not None:
            status, headers = scripted
            problem = {"type": "about:blank", "status": status, "title": f"HTTP {status}"}
            if status == 400:
                problem["report"] = {"message": "Invalid XDM Message Format"}
            return status, headers, json.dumps(problem).encode()
        if "/batch/" in path:
            count = len(json.loads(body)["messages"])
            responses = [{"xactionId": f"batch-{i}"} for i in range(count)]
            answer = {"inletId": "fake", "batchId": "batch", "responses": responses}
            return 207, {}, json.dumps(answer).encode()
        answer = {
            "inletId": "fake",
            "xactionId": f"x-{len(self.requests)}",
            "receivedTimeMs": 1,
            "syncValidation": {"skipped": True},
        }
        return 200, {}, json.dumps(answer).encode()


class ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, headers, payload = self.server.script.next(self.path, body)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.script = Script()

    @property
    def inlet_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/collection/fake-inlet"

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.script.requests]


@pytest.fixture
def fake() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


MESSAGE = {"header": {"msgType": "xdmEntityCreate"}, "body": {"xdmEntity": {"_id": "1"}}}


def test_a_503_with_retry_after_is_retried_after_that_long(fake: ScriptedServer) -> None:
    fake.script.answers = [(503, {"Retry-After": "1"}), (503, {"Retry-After": "1"})]
    started = time.monotonic()
    with Inlet(fake.inlet_url, "ORG", retry=FAST) as inlet:
        result = inlet.send(MESSAGE)
    elapsed = time.monotonic() - started
    assert (result.ok, result.status, result.retries) == (True, 200, 2)
    assert result.xaction_id == "x-3"
    assert fake.paths == ["/collection/fake-inlet?syncValidation=true"] * 3
    assert elapsed >= 1.9  # Retry-After honoured, not the 10 ms backoff
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(fake.script.requests)]
    assert all(gap >= 0.95 for gap in gaps)


def test_a_429_is_retried(fake: ScriptedServer) -> None:
    fake.script.answers = [(429, {"Retry-After": "0"})] * 3
    with Inlet(fake.inlet_url, "ORG", retry=FAST) as inlet:
        result = inlet.send(MESSAGE)
    assert (result.ok, result.retries) == (True, 3)
    assert len(fake.paths) == 4


def test_retry_after_is_capped_by_the_policy(fake: ScriptedServer) -> None:
    fake.script.answers = [(503, {"Retry-After": "120"})]
    policy = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.2)
    started = time.monotonic()
    with Inlet(fake.inlet_url, "ORG", retry=policy) as inlet:
        result = inlet.send(MESSAGE)
    assert (result.ok, result.retries) == (True, 1)
    assert time.monotonic() - started < 5


def test_a_batch_is_retried_as_a_whole(fake: ScriptedServer) -> None:
    fake.script.answers = [(503, {"Retry-After": "0"}), (500, {})]
    with Inlet(fake.inlet_url, "ORG", retry=FAST) as inlet:
        results = inlet.send_batch([MESSAGE, MESSAGE, MESSAGE])
    assert [(r.index, r.ok, r.retries, r.xaction_id) for r in results] == [
        (0, True, 2, "batch-0"),
        (1, True, 2, "batch-1"),
        (2, True, 2, "batch-2"),
    ]
    assert fake.paths == ["/collection/batch/fake-inlet?syncValidation=true"] * 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_a_client_error_is_never_retried(fake: ScriptedServer, status: int) -> None:
    fake.script.answers = [(status, {"Retry-After": "0"})]
    with Inlet(fake.inlet_url, "ORG", retry=FAST) as inlet:
        result = inlet.send(MESSAGE)
    assert (result.ok, result.status, result.retries) == (False, status, 0)
    assert len(fake.paths) == 1


def test_a_400_on_a_batch_is_sent_once(fake: ScriptedServer) -> None:
    fake.script.answers = [(400, {})]
    with Inlet(fake.inlet_url, "ORG", retry=FAST) as inlet:
        results = inlet.send_batch([MESSAGE, MESSAGE])
    assert [(r.ok, r.status, r.retries) for r in results] == [(False, 400, 0), (False, 400, 0)]
    assert results[0].message == "Invalid XDM Message Format"
    assert len(fake.paths) == 1


def test_giving_up_reports_the_last_status(fake: ScriptedServer) -> None:
    fake.script.answers = [(503, {"Retry-After": "0"})] * 10
    policy = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.05)
    with Inlet(fake.inlet_url, "ORG", retry=policy) as inlet:
        result = inlet.send(MESSAGE)
        (batched,) = inlet.send_batch([MESSAGE])
    assert (result.ok, result.status, result.retries) == (False, 503, 2)
    assert result.message is not None and result.message.startswith("gave up after 3 tries")
    assert (batched.ok, batched.status, batched.retries) == (False, 503, 2)
    assert len(fake.paths) == 6


def test_connection_refused_is_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{free_port()}/collection/nobody"
    policy = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.05)
    started = time.monotonic()
    with Inlet(url, "ORG", retry=policy) as inlet:
        result = inlet.send(MESSAGE)
        batch = inlet.send_batch([MESSAGE, MESSAGE])
    assert (result.ok, result.status, result.retries) == (False, 0, 2)
    assert result.message is not None and "gave up after 3 tries" in result.message
    assert [(r.index, r.ok, r.retries) for r in batch] == [(0, False, 2), (1, False, 2)]
    assert time.monotonic() - started < 10


def test_the_async_client_retries_alike(fake: ScriptedServer) -> None:
    fake.script.answers = [(503, {"Retry-After": "1"}), (429, {"Retry-After": "0"})]

    async def run() -> tuple[MessageResult, float]:
        started = time.monotonic()
        async with AsyncInlet(fake.inlet_url, "ORG", retry=FAST) as inlet:
            result = await inlet.send(MESSAGE)
        return result, time.monotonic() - started

    result, elapsed = asyncio.run(run())
    assert (result.ok, result.retries) == (True, 2)
    assert elapsed >= 0.95
    assert len(fake.paths) == 3


def test_the_async_client_never_retries_a_400(fake: ScriptedServer) -> None:
    fake.script.answers = [(400, {}), (400, {})]

    async def run() -> tuple[MessageResult, list[MessageResult]]:
        async with AsyncInlet(fake.inlet_url, "ORG", retry=FAST) as inlet:
            return await inlet.send(MESSAGE), await inlet.send_batch([MESSAGE])

    single, batch = asyncio.run(run())
    assert (single.ok, single.status, single.retries) == (False, 400, 0)
    assert [(r.ok, r.status) for r in batch] == [(False, 400)]
    assert fake.paths == [
        "/collection/fake-inlet?syncValidation=true",
        "/collection/batch/fake-inlet?syncValidation=true",
    ]


def test_the_async_client_reports_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/collection/nobody"
    policy = RetryPolicy(attempts=2, initial_seconds=0.01, max_seconds=0.05)

    async def run() -> MessageResult:
        async with AsyncInlet(url, "ORG", retry=policy) as inlet:
            return await inlet.send(MESSAGE)

    result = asyncio.run(run())
    assert (result.ok, result.status, result.retries) == (False, 0, 1)


def test_headers_speak_adobe(fake: ScriptedServer) -> None:
    seen: list[httpx.Headers] = []

    class Spy(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.headers)
            return super().handle_request(request)

    with Inlet(
        fake.inlet_url, "ACME@AdobeOrg", "tok", sync_validation=True, transport=Spy()
    ) as inlet:
        assert inlet.send(MESSAGE).ok
    (headers,) = seen
    assert headers["content-type"] == "application/json"
    assert headers["x-gw-ims-org-id"] == "ACME@AdobeOrg"
    assert headers["authorization"] == "Bearer tok"
    assert fake.paths == ["/collection/fake-inlet?syncValidation=true"]
