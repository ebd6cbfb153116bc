"""Limits on what one request, and all requests at once, may cost the server: through real
HTTP to a real server, with the clients an attacker or a careless sender would use."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Demo, Server, make_message, wait_until
from tests.integration.conftest import (
    apply_demo_to,
    assert_problem,
    new_org,
    record_count,
    start_server,
)

pytestmark = pytest.mark.integration

JSON = {"content-type": "application/json"}


def urllib_post(url: str, data: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST with Python's urllib, which writes the whole body before it reads the answer."""
    request = urllib.request.Request(url, data=data, headers={**JSON, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# 413 readable by any client
def test_a_413_reaches_a_client_that_writes_its_whole_body_before_reading(
    shared_demo: Demo,
) -> None:
    big = b'{"padding": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    for url in (shared_demo.inlet_url, shared_demo.batch_url):
        status, body = urllib_post(url, big)
        assert (status, body["status"]) == (413, 413)
        assert "1048576" in body["detail"]
    # a chunked body over the limit too
    chunks = iter([b'{"padding": "', *[b"x" * 65536] * 40, b'"}'])
    status, body = urllib_post(shared_demo.inlet_url, chunks)
    assert status == 413, body
    assert record_count(shared_demo) == 0


def test_other_refusals_before_the_body_reach_such_clients_too(shared_demo: Demo) -> None:
    big = b'{"padding": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    unknown = f"{shared_demo.server.url}/collection/{secrets.token_hex(32)}"
    assert urllib_post(unknown, big)[0] == 404
    assert urllib_post(shared_demo.inlet_url, big, {"content-type": "text/plain"})[0] == 415


# the admin API
def test_an_admin_body_over_its_limit_gets_a_413_problem(shared_server: Server) -> None:
    org = new_org()
    url = f"{shared_server.url}/api/v1/apply"
    big = b'{"documents": [], "padding": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    status, body = urllib_post(url, big, {"x-gw-ims-org-id": org})
    assert (status, body["status"]) == (413, 413)
    # chunked, measured as it arrives
    with shared_server.admin(org) as admin:
        chunked = admin.post("/api/v1/apply", content=iter([b"x" * 1024 * 1024] * 11), headers=JSON)
        assert_problem(chunked, 413)
        # what fits is read as before
        assert admin.post("/api/v1/apply", json={"documents": []}).status_code == 200


# bytes in flight
@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that reads at most 100 kB of request bodies at once."""
    srv = start_server(
        tmp_path_factory.mktemp("tight"), env={"WAYFARE_MAX_REQUEST_BYTES_IN_FLIGHT": "100000"}
    )
    try:
        yield srv
    finally:
        srv.stop()


def test_requests_past_the_bytes_in_flight_get_503_before_their_body_is_read(
    tight_server: Server,
) -> None:
    demo = apply_demo_to(tight_server, new_org())
    path = f"/collection/{demo.inlet_id}"
    slow = socket.create_connection(("127.0.0.1", tight_server.port), timeout=30)
    try:
        # a request that holds 80 kB and sends its body slowly
        slow.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: 80000\r\n\r\n".encode()
            + b'{"padding": "'
        )
        other = json.dumps({"padding": "y" * 30_000}).encode()

        def refused() -> httpx.Response | None:
            answer = httpx.post(demo.inlet_url, content=other, headers=JSON, timeout=30)
            return answer if answer.status_code == 503 else None

        answer = wait_until(refused, timeout=20)
        body = assert_problem(answer, 503)
        assert int(answer.headers["retry-after"]) >= 1
        assert "retry" in body["detail"]
        with tight_server.admin(demo.org) as admin:
            held = admin.post("/api/v1/apply", content=b" " * 30_000 + b"[]", headers=JSON)
            assert_problem(held, 503)
        # the slow request ends; its bytes are given back
        slow.sendall(b"x" * (80000 - len(b'{"padding": "') - 2) + b'"}')
        assert b" 400 " in slow.recv(65536).split(b"\r\n", 1)[0] + b" "
    finally:
        slow.close()
    message = make_message(demo.schema_id, org=demo.org, firstName="z" * 30_000)
    answer = httpx.post(demo.inlet_url, json=message, timeout=30)
    assert answer.status_code == 200, answer.text
    assert record_count(demo) == 1


# bounded caches
def test_unknown_inlet_ids_do_not_grow_the_servers_memory(shared_server: Server) -> None:
    assert shared_server.process is not None
    pid = shared_server.process.pid

    def post_unknown(count: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", shared_server.port, timeout=30)
        try:
            for _ in range(count):
                path = f"/collection/{secrets.token_hex(30_000)}"
                connection.request("POST", path, body=b"{}", headers=JSON)
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 404
        finally:
            connection.close()

    post_unknown(200)  # warm up
    before = rss_mb(pid)
    post_unknown(1500)  # 90 MB of ids
    assert rss_mb(pid) - before < 30


# batches
def test_a_batch_holds_at_most_5000_messages_and_its_answer_stays_small(
    shared_demo: Demo,
) -> None:
    too_many = b'{"messages": [' + b",".join([b"{}"] * 50_000) + b"]}"
    answer = httpx.post(shared_demo.batch_url, content=too_many, headers=JSON, timeout=60)
    body = assert_problem(answer, 413)
    assert "at most 5000 messages; this one has 50000" in body["detail"]
    most = b'{"messages": [' + b",".join([b"{}"] * 5000) + b"]}"
    answer = httpx.post(shared_demo.batch_url, content=most, headers=JSON, timeout=60)
    assert answer.status_code == 207
    assert len(answer.json()["responses"]) == 5000
    assert len(answer.content) < 1_000_000  # 177 bytes an entry for a 3-byte message


# repeated keys
def test_a_message_repeating_a_key_is_refused_on_both_endpoints(shared_demo: Demo) -> None:
    text = json.dumps(make_message(shared_demo.schema_id, org=shared_demo.org))
    sneaky = text.replace('"birthYear": 1990', '"birthYear": "x", "birthYear": 1990')
    two_orgs = text.replace('"imsOrgId": ', '"imsOrgId": "OTHER@Org", "imsOrgId": ')
    assert sneaky != text and two_orgs != text
    cases = [
        (
            f"{shared_demo.inlet_url}?syncValidation=true",
            sneaky,
            "/body/xdmEntity/_instance_name/person/birthYear",
        ),
        (shared_demo.inlet_url, two_orgs, "/header/imsOrgId"),
        (
            shared_demo.batch_url,
            f'{{"messages": [{text}, {two_orgs}]}}',
            "/messages/1/header/imsOrgId",
        ),
    ]
    for url, body, pointer in cases:
        answer = httpx.post(url, content=body.encode(), headers=JSON, timeout=30)
        problem = assert_problem(answer, 400)
        (violation,) = problem["report"]["cause"]["_streamingValidation"][0]["causingExceptions"]
        assert violation["pointerToViolation"] == pointer
        assert pointer in problem["detail"]
    assert record_count(shared_demo) == 0
