"""Readiness as checks say, JSON log lines, route labels and the host cap of the metrics."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import tempfile
from pathlib import Path

import httpx
import orjson
import pytest

from wayfare.api.instrument import route_of
from wayfare.config import load_settings
from wayfare.errors import InvalidRequestError
from wayfare.observability.logs import JsonFormatter
from wayfare.observability.metrics import MAX_HOSTS, Metrics, process_metrics, serve_metrics
from wayfare.observability.readiness import Readiness, lock_held
from wayfare.observability.shared_dir import shared_metrics_dir


def readiness(
    store: str | None = None, engine: str | None = None, lag: int | None = 0
) -> Readiness:
    return Readiness(lambda: store, lambda: engine, lambda: lag, max_lag=100)


def test_ready_when_every_check_passes() -> None:
    ready, body = readiness(lag=100).check()
    assert ready
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert body["lag"] == {"ok": True, "events": 100, "max": 100}


def test_not_ready_names_each_failing_check_and_why() -> None:
    ready, body = readiness(
        store="disk full", engine="the journey engine is not running", lag=101
    ).check()
    assert not ready
    assert body["failing"] == ["store", "engine", "lag"]
    assert body["store"] == {"ok": False, "problem": "disk full"}
    assert "101 accepted messages" in body["lag"]["problem"]


def test_a_check_that_raises_fails_with_its_words() -> None:
    def broken() -> str | None:
        raise OSError("database is locked")

    ready, body = Readiness(broken, lambda: None, lambda: 0, max_lag=1).check()
    assert not ready
    assert body["store"]["problem"] == "database is locked"


def test_no_engine_here_is_said_and_not_failed() -> None:
    ready, body = Readiness(
        lambda: None, lambda: "x", lambda: None, max_lag=1, engine_note="workers run them"
    ).check()
    assert ready
    assert body["engine"] == {"ok": True, "note": "workers run them"}
    assert "lag" not in body


def test_a_lock_tells_whether_its_holder_runs(tmp_path: Path) -> None:
    path = tmp_path / "engine.lock"
    assert lock_held(path, "the engine") == "the engine is not running"  # no file yet
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        assert lock_held(path, "the engine") == "the engine is not running"
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert lock_held(path, "the engine") is None
    finally:
        os.close(fd)
    assert lock_held(path, "the engine") == "the engine is not running"


def test_json_log_lines_carry_the_access_fields() -> None:
    record = logging.LogRecord("wayfare.access", logging.INFO, "", 0, "GET %s", ("/x",), None)
    record.__dict__.update(method="GET", path="/x", status=200, duration_ms=1.5, bytes=12)
    line = orjson.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /x"
    assert line["level"] == "info"
    assert line["logger"] == "wayfare.access"
    assert (line["method"], line["path"], line["status"], line["bytes"]) == ("GET", "/x", 200, 12)
    assert line["time"].endswith("+00:00")


def test_routes_are_labelled_by_template_never_by_id() -> None:
    assert route_of({"path": "/collection/abc"}) == "/collection/{inletId}"
    assert route_of({"path": "/collection/batch/abc"}) == "/collection/batch/{inletId}"
    gateway = "/data/foundation/import/collection/batch/abc"
    assert route_of({"path": gateway}) == "/data/foundation/import/collection/batch/{inletId}"
    assert route_of({"path": "/nowhere"}) == "unmatched"


def test_delivery_hosts_beyond_the_cap_count_as_other() -> None:
    metrics = Metrics()
    labels = [metrics.host_label(f"h{i}.example") for i in range(MAX_HOSTS + 5)]
    assert labels[:MAX_HOSTS] == [f"h{i}.example" for i in range(MAX_HOSTS)]
    assert set(labels[MAX_HOSTS:]) == {"other"}
    assert metrics.host_label("h0.example") == "h0.example"


@pytest.mark.parametrize(("name", "value"), [("log_format", "xml"), ("log_level", "loud")])
def test_unknown_log_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidRequestError, match=name):
        load_settings({name: value}, environ={})


def test_log_settings_come_from_the_environment() -> None:
    settings = load_settings(
        environ={
            "WAYFARE_LOG_FORMAT": "json",
            "WAYFARE_LOG_LEVEL": "warning",
            "WAYFARE_ACCESS_LOG": "true",
            "WAYFARE_READY_MAX_LAG": "5",
        }
    )
    assert (settings.log_format, settings.log_level, settings.access_log) == (
        "json",
        "warning",
        True,
    )
    assert settings.ready_max_lag == 5


def test_a_worker_answers_its_metrics_on_the_port_it_is_given() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process_metrics().deliveries.labels("ok", "hooks.example").inc()
    stop = serve_metrics("127.0.0.1", port)
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        stop()
    assert answer.status_code == 200
    assert 'wayfare_deliveries_total{host="hooks.example",outcome="ok"}' in answer.text


def test_the_metrics_directory_is_removed_at_exit_and_so_are_those_of_killed_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = tmp_path / f"wayfare-metrics-{dead.pid}-abc"
    orphan.mkdir()
    living = tmp_path / f"wayfare-metrics-{os.getpid()}-def"
    living.mkdir()
    with shared_metrics_dir() as path:
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(path)
        assert path.parent == tmp_path
        assert not orphan.exists()
        assert living.exists()
    assert not path.exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
