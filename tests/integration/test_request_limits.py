"""Limits on what one request, and all requests at once, may cost the server: through real
HTTP to a real server, with the clients an attacker or a careless sender would use."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import threading
import time
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
    assert urllib_post(shared_demo.inlet_url, big, {"content-type": "text/plain"})[0] == 400


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
    """A server that reads at most 100 kB of request bodies at once, in its one HTTP process
    (the cap is each process's)."""
    srv = start_server(
        tmp_path_factory.mktemp("tight"),
        extra_args=["--workers", "1"],
        env={"WAYFARE_MAX_REQUEST_BYTES_IN_FLIGHT": "100000"},
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


# deadlines
@pytest.fixture(scope="module")
def hasty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that gives a request's headers, and its body, one second each."""
    srv = start_server(
        tmp_path_factory.mktemp("hasty"),
        env={"WAYFARE_HEADER_TIMEOUT_SECONDS": "1", "WAYFARE_BODY_TIMEOUT_SECONDS": "1"},
    )
    try:
        yield srv
    finally:
        srv.stop()


def connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def until_closed(sock: socket.socket, deadline: float | None = None) -> bytes:
    """What the server sends until it closes the connection; fails at ``deadline``
    (``time.monotonic()``; 30 s from now by default)."""
    deadline = deadline or time.monotonic() + 30
    received = b""
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            raise AssertionError(f"still open; received {received[:200]!r}") from None
        if not chunk:
            return received
        received += chunk


def trickle(sock: socket.socket, data: bytes) -> threading.Thread:
    """Send ``data`` a byte every 0.1 s, until it is all sent or the server hangs up."""

    def run() -> None:
        for i in range(len(data)):
            try:
                sock.send(data[i : i + 1])
            except OSError:
                return
            time.sleep(0.1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    return int(answer.split(b" ", 2)[1])


def test_a_request_whose_headers_trickle_in_is_answered_408_and_closed(
    hasty_server: Server,
) -> None:
    with connect(hasty_server) as sock:
        sock.sendall(b"POST /collection/x HTTP/1.1\r\nHost: x\r\n")
        sender = trickle(sock, b"X-Slow: " + b"a" * 1000)
        answer = until_closed(sock)
        sender.join()
    assert status_of(answer) == 408
    assert b"headers did not arrive within 1 s" in answer


def test_the_next_request_on_a_connection_has_the_same_deadline(hasty_server: Server) -> None:
    with connect(hasty_server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n")
        answer = until_closed(sock)
    first, _, second = answer.partition(b"HTTP/1.1 408")
    assert status_of(first) == 200
    assert b"headers did not arrive" in second


@pytest.mark.parametrize("path", ["/collection/{inlet}", "/api/v1/apply"])
def test_a_body_that_trickles_in_is_answered_408_and_closed(
    hasty_server: Server, path: str
) -> None:
    demo = apply_demo_to(hasty_server, new_org())
    head = (
        f"POST {path.format(inlet=demo.inlet_id)} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nx-gw-ims-org-id: {demo.org}\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with connect(hasty_server) as sock:
        sock.sendall(head.encode())
        sender = trickle(sock, b" " * 1000)
        answer = until_closed(sock)
        sender.join()
    assert status_of(answer) == 408
    assert b"body did not arrive within 1 s" in answer


def test_a_connection_that_sends_nothing_is_closed(hasty_server: Server) -> None:
    with connect(hasty_server) as sock:
        assert until_closed(sock) == b""


def test_hundreds_of_stalled_connections_are_all_closed(hasty_server: Server) -> None:
    demo = apply_demo_to(hasty_server, new_org())
    partial_head = b"POST /collection/x HTTP/1.1\r\nHost: x\r\nX-Slow: a"
    partial_body = (
        f"POST /collection/{demo.inlet_id} HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    ).encode()
    stalled = []
    try:
        for i in range(300):
            sock = connect(hasty_server)
            sock.sendall([b"", partial_head, partial_body][i % 3])
            stalled.append(sock)
        deadline = time.monotonic() + 30
        answers = [until_closed(sock, deadline) for sock in stalled]
    finally:
        for sock in stalled:
            sock.close()
    assert answers[0::3] == [b""] * 100
    assert {status_of(a) for a in answers[1::3] + answers[2::3]} == {408}
    # the server still answers
    assert httpx.get(f"{hasty_server.url}/healthz", timeout=30).status_code == 200


def test_request_headers_over_the_limit_get_431(shared_server: Server) -> None:
    with connect(shared_server) as sock:
        sock.sendall(b"POST /collection/x HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(40):
                sock.sendall(b"a" * 4096)
        except OSError:
            pass  # the server may hang up before all of it is sent
        answer = until_closed(sock)
    assert status_of(answer) == 431
    assert b"65536" in answer
