"""What an operator sees of a running server: the line saying where it listens, a second
server on the same data directory refused, JSON log lines and the access log, /metrics
adding up every process, and /readyz following the journey engine."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import (
    Server,
    apply_demo,
    free_port,
    make_message,
    refused_start,
    wait_until,
)
from tests.nats_support import stream_env
from tests.scale_out import Worker
from wayfare.log.jetstream import NatsSettings

pytestmark = pytest.mark.integration


def log_of(srv: Server) -> str:
    return (srv.data_dir.parent / f"server-{srv.port}.log").read_text()


def samples(srv: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    answer = httpx.get(f"{srv.url}/metrics", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def inlet_count(found: dict[Any, float], inlet: str, outcome: str) -> float:
    key = ("wayfare_inlet_messages_total", (("inlet", inlet), ("outcome", outcome)))
    return found.get(key, 0.0)


def test_serve_prints_where_it_listens_after_the_bind_and_the_demo_banner_after_that(
    tmp_path: Path,
) -> None:
    srv = Server(tmp_path / "data", extra_args=["--demo", "--workers", "2"]).start()
    try:
        printed = log_of(srv)
    finally:
        srv.stop()
    listening = printed.index(f"Wayfare is listening on {srv.url} (2 HTTP processes")
    assert listening < printed.index("Wayfare demo is ready")


def test_a_busy_port_prints_neither_the_listening_line_nor_the_demo_banner(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = refused_start("--demo", "--port", str(port), "--data-dir", str(tmp_path / "data"))
    assert refused.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in refused.stderr
    assert "listening" not in refused.stdout
    assert "demo is ready" not in refused.stdout


def test_a_second_server_on_the_same_data_directory_is_refused_with_the_pid_holding_it(
    server: Server,
) -> None:
    assert server.process is not None
    port = free_port()
    refused = refused_start("--port", str(port), "--data-dir", str(server.data_dir))
    assert refused.returncode == 1
    assert (
        f"the data directory {server.data_dir} is in use by process {server.process.pid}"
        in refused.stderr
    )
    assert "listening" not in refused.stdout
    with socket.socket() as probe:  # refused before binding: the port is still free
        probe.bind(("127.0.0.1", port))
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_metrics_count_each_inlets_messages_across_http_processes(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", extra_args=["--workers", "2"]).start()
    try:
        demo = apply_demo(srv)
        before = samples(srv)
        with httpx.Client(timeout=30) as client:
            for _ in range(6):  # spread over both processes by the kernel
                sent = client.post(demo.inlet_url, json=make_message(demo.schema_id))
                assert sent.status_code == 200, sent.text
            invalid = make_message(demo.schema_id, birthYear="nineteen ninety")
            refused = client.post(
                demo.inlet_url + "?syncValidation=true", json=invalid
            )  # rejected: 400, not stored
            assert refused.status_code == 400, refused.text
            batch = {
                "messages": [
                    make_message(demo.schema_id),
                    make_message(demo.schema_id),
                    invalid,  # stored as a failed record
                    {"header": {}, "body": {}},  # rejected: no schema
                ]
            }
            answered = client.post(demo.batch_url, json=batch)
            assert answered.status_code == 207, answered.text
        expected = {"accepted": 8, "failed": 1, "rejected": 2}
        after = wait_until(
            lambda: (
                (found := samples(srv))
                and all(
                    inlet_count(found, demo.inlet_id, outcome)
                    - inlet_count(before, demo.inlet_id, outcome)
                    >= count
                    for outcome, count in expected.items()
                )
                and found
            )
        )
    finally:
        srv.stop()

    def moved(outcome: str) -> float:
        return inlet_count(after, demo.inlet_id, outcome) - inlet_count(
            before, demo.inlet_id, outcome
        )

    assert moved("accepted") == 8
    assert moved("failed") == 1
    assert moved("rejected") == 2
    single = ("route", "/collection/{inletId}")
    assert after[("wayfare_http_request_duration_seconds_count", (single, ("status", "200")))] == 6
    assert after[("wayfare_http_request_duration_seconds_count", (single, ("status", "400")))] == 1
    assert after[("wayfare_writer_commit_seconds_count", (("writer", "inlet"),))] >= 1
    assert after[("wayfare_engine_cycle_seconds_count", ())] >= 1  # the engine's process
    assert ("wayfare_engine_lag_events", ()) in after


def test_json_log_lines_parse_and_the_access_log_keeps_tokens_out(tmp_path: Path) -> None:
    srv = Server(
        tmp_path / "data", extra_args=["--log-format", "json", "--access-log", "--workers", "1"]
    ).start()
    try:
        demo = apply_demo(srv)
        sent = httpx.post(
            demo.inlet_url + "?token=query-secret-1",
            json=make_message(demo.schema_id),
            headers={"Authorization": "Bearer header-secret-2"},
            timeout=30,
        )
        assert sent.status_code == 200, sent.text
        wait_until(lambda: f"POST /collection/{demo.inlet_id} 200" in log_of(srv))
        printed = log_of(srv)
    finally:
        srv.stop()
    lines = [orjson.loads(line) for line in printed.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(x) for x in lines)
    (access,) = [
        x
        for x in lines
        if x["logger"] == "wayfare.access"
        and x["method"] == "POST"
        and x["path"].startswith("/collection/")
    ]
    assert access["path"] == f"/collection/{demo.inlet_id}"
    assert access["status"] == 200
    assert access["bytes"] > 0
    assert access["duration_ms"] >= 0
    assert "secret" not in printed
    others = [line for line in printed.splitlines() if line and not line.startswith("{")]
    assert others == [f"Wayfare is listening on {srv.url} (1 HTTP process, pid {srv.process.pid})"]


def test_readyz_fails_while_the_engine_process_is_down_and_recovers(server: Server) -> None:
    ready = wait_until(  # the server answers before its engine process has started
        lambda: (
            (answer := httpx.get(f"{server.url}/readyz", timeout=10)).status_code == 200 and answer
        )
    )
    assert ready.json()["engine"]["ok"] is True
    (engine,) = wait_until(lambda: server.children("engine"))
    os.kill(engine, signal.SIGKILL)
    down = wait_until(
        lambda: (
            (answer := httpx.get(f"{server.url}/readyz", timeout=10)).status_code == 503 and answer
        ),
        interval=0.02,
    )
    assert down.json()["failing"] == ["engine"]
    assert "the journey engine is not running" in down.json()["engine"]["problem"]
    wait_until(lambda: httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200)
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_readyz_fails_while_the_engine_lags_behind_the_threshold(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", env={"WAYFARE_READY_MAX_LAG": "2"}).start()
    try:
        demo = apply_demo(srv)
        (engine,) = wait_until(lambda: srv.children("engine"))
        os.kill(engine, signal.SIGSTOP)  # alive, holding its lock, consuming nothing
        try:
            for _ in range(3):
                sent = httpx.post(demo.inlet_url, json=make_message(demo.schema_id), timeout=30)
                assert sent.status_code == 200, sent.text
            behind = httpx.get(f"{srv.url}/readyz", timeout=10)
            assert behind.status_code == 503, behind.text
            assert behind.json()["failing"] == ["lag"]
            assert behind.json()["lag"]["events"] >= 3
        finally:
            os.kill(engine, signal.SIGCONT)
        wait_until(lambda: httpx.get(f"{srv.url}/readyz", timeout=10).status_code == 200)
    finally:
        srv.stop()


def test_scaled_out_the_server_is_ready_without_an_engine_and_a_worker_answers_metrics(
    tmp_path: Path, pg_database: str, nats_settings: NatsSettings
) -> None:
    env = stream_env(nats_settings)
    scaled = ["--store", pg_database, "--log", nats_settings.url]
    srv = Server(tmp_path / "serve", extra_args=scaled, env=env).start()
    port = free_port()
    worker = Worker(
        "w0", tmp_path / "worker.log", [*scaled, "--metrics-port", str(port)], env
    ).launch()
    try:
        ready = httpx.get(f"{srv.url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["store"] == {"ok": True}
        assert "wayfare worker" in ready.json()["engine"]["note"]

        def scraped() -> str | None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            except httpx.HTTPError:
                return None
            return answer.text if "wayfare_engine_cycle_seconds_count" in answer.text else None

        assert "wayfare_engine_outbox_depth" in wait_until(scraped, timeout=60)
    finally:
        try:
            worker.stop()
        finally:
            srv.stop()
