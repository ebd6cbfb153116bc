"""``serve --workers N`` embedded: N HTTP processes on one listening socket hand what they
accept to the one writer of the process that started them. Scaled out, they share the
inlets' rate limits through PostgreSQL."""

from __future__ import annotations

import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import Demo, Server, apply_demo, make_message, refused_start, wait_until
from tests.integration.conftest import record_count, records
from tests.nats_support import stream_env
from wayfare.log.jetstream import NatsSettings

pytestmark = pytest.mark.integration


def start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    return Server(tmp_path / "data", extra_args=["--workers", "2", *args], env=env or {}).start()


def post_each_on_its_own_connection(demo: Demo, count: int) -> list[int]:
    """Statuses of ``count`` single messages, each on a new connection, 8 at a time, so
    both HTTP processes take some."""

    def post(n: int) -> int:
        message = make_message(demo.schema_id, msg_id=f"m-{n}")
        message["body"]["xdmEntity"]["_id"] = str(uuid.UUID(int=n + 1))  # a retry is the same
        return httpx.post(demo.inlet_url, json=message, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(post, range(count)))


def test_two_http_processes_serve_and_the_writer_stores_each_message_once(
    tmp_path: Path,
) -> None:
    server = start(tmp_path)
    try:
        assert len(server.children("http-process")) == 2
        demo = apply_demo(server)
        statuses = post_each_on_its_own_connection(demo, 200)
        assert statuses == [200] * 200
        again = post_each_on_its_own_connection(demo, 50)  # retries: duplicates
        assert again == [200] * 50
        assert record_count(demo) == 200
    finally:
        server.stop()
    assert server.process is not None and server.process.returncode == 0
    assert server.children("http-process") == []


def test_an_inlets_rate_limit_holds_for_all_processes_together(tmp_path: Path) -> None:
    # A bucket of 3 that refills once in 100 s: 3 accepted in all, not 3 per process.
    server = start(tmp_path, "--rate-limit", "0.01", env={"WAYFARE_INLET_RATE_BURST": "3"})
    try:
        demo = apply_demo(server)
        statuses = post_each_on_its_own_connection(demo, 40)
        assert statuses.count(200) == 3
        assert statuses.count(429) == 37
        assert record_count(demo) == 3
    finally:
        server.stop()


def test_scaled_out_an_inlets_rate_limit_holds_for_all_processes_together(
    tmp_path: Path, pg_database: str, nats_settings: NatsSettings
) -> None:
    """Each scaled-out HTTP process is a server of its own; the bucket is PostgreSQL's."""
    env = {**stream_env(nats_settings), "WAYFARE_INLET_RATE_BURST": "3"}
    scaled = ["--store", pg_database, "--log", nats_settings.url, "--rate-limit", "0.01"]
    server = start(tmp_path, *scaled, env=env)
    try:
        assert len(server.children("http-process")) == 2
        demo = apply_demo(server)
        statuses = post_each_on_its_own_connection(demo, 40)
        assert statuses.count(200) == 3
        assert statuses.count(429) == 37
    finally:
        server.stop()


def test_the_demo_webhook_keeps_calls_whichever_process_takes_them(tmp_path: Path) -> None:
    server = start(tmp_path, "--demo")
    try:

        def call(n: int) -> int:
            url = f"{server.url}/demo/webhook"
            return httpx.post(url, json={"n": n}, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(call, range(30))) == [200] * 30
        for _ in range(4):  # whichever process answers, it sees all 30
            received = httpx.get(f"{server.url}/demo/webhook", timeout=30).json()["received"]
            assert sorted(c["body"]["n"] for c in received) == list(range(30))
        big = {"blob": "x" * 200_000}  # a body kept whole would make 100 calls 20 MB
        assert httpx.post(f"{server.url}/demo/webhook", json=big, timeout=30).status_code == 200
        last = httpx.get(f"{server.url}/demo/webhook", timeout=30).json()["received"][-1]
        assert last["body"] == {"truncated": True, "bytes": len(orjson.dumps(big))}
    finally:
        server.stop()


def test_a_killed_http_process_loses_nothing_it_acknowledged_and_comes_back(
    tmp_path: Path,
) -> None:
    server = start(tmp_path)
    try:
        demo = apply_demo(server)
        victim, _ = server.children("http-process")
        acknowledged: set[str] = set()

        def post(n: int) -> None:
            message = make_message(demo.schema_id, msg_id=f"k-{n}")
            try:
                answer = httpx.post(demo.inlet_url, json=message, timeout=30)
            except httpx.HTTPError:
                return  # cut off by the kill: not acknowledged
            if answer.status_code == 200:
                acknowledged.add(f"k-{n}")

        with ThreadPoolExecutor(8) as pool:
            sent = [pool.submit(post, n) for n in range(300)]
            wait_until(lambda: len(acknowledged) >= 50, timeout=60)
            os.kill(victim, signal.SIGKILL)
            for future in sent:
                future.result()
        wait_until(lambda: len(server.children("http-process")) == 2, timeout=30)
        assert victim not in server.children("http-process")
        stored = {r["msgId"] for r in records(demo)}
        assert acknowledged <= stored
        assert post_each_on_its_own_connection(demo, 20) == [200] * 20
    finally:
        server.stop()


def test_a_second_server_on_the_port_of_one_with_http_processes_is_refused(
    tmp_path: Path,
) -> None:
    # Its sockets share the port (SO_REUSEPORT); a second server's must not join them.
    server = start(tmp_path)
    try:
        refused = refused_start(
            "--workers", "2", "--port", str(server.port), "--data-dir", str(tmp_path / "other")
        )
        assert refused.returncode == 1
        assert f"cannot listen on 127.0.0.1:{server.port}" in refused.stderr
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
    finally:
        server.stop()
