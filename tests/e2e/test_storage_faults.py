"""A real server whose data directory is a small tmpfs of the test's own: filled up, the
inlet answers 503 with ``Retry-After`` and the cause; grown again, it accepts without a
restart, and Wayfare's own client gets its message through by retrying."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import Demo, Server, apply_demo, make_message
from tests.mounts import Tmpfs, tmpfs
from wayfare.client import Inlet, RetryPolicy

pytestmark = pytest.mark.integration


class GrowsOnFirst503(httpx.HTTPTransport):
    """The client's transport; the first 503 it carries back makes room on the disk, so the
    client's retry is what gets the message through."""

    def __init__(self, disk: Tmpfs) -> None:
        super().__init__()
        self.disk = disk
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        if self.statuses.count(503) == 1 and response.status_code == 503:
            self.disk.resize("64m")
        return response


def record_count(demo: Demo) -> int:
    with demo.server.admin(demo.org) as admin:
        count: int = admin.get(f"/api/v1/datasets/{demo.dataset_id}").json()["recordCount"]
    return count


def test_a_full_disk_answers_503_with_its_cause_and_the_server_takes_messages_once_it_has_room(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "data", "16m") as disk:
        srv = Server(disk.path).start()  # its log stays outside: tmp_path/server-<port>.log
        try:
            demo = apply_demo(srv)
            big = make_message(demo.schema_id, firstName="A" * 600_000)  # needs new pages
            assert httpx.post(demo.inlet_url, json=big, timeout=30).status_code == 200

            disk.fill()
            for url, body in ((demo.inlet_url, big), (demo.batch_url, {"messages": [big]})) * 2:
                refused = httpx.post(url, json=body, timeout=30)
                assert refused.status_code == 503, refused.text
                assert refused.headers["retry-after"] == "1"
                assert refused.json()["detail"] == (
                    "the store cannot write: disk full (database or disk is full)"
                )
            assert record_count(demo) == 1  # nothing refused was stored
            unready = httpx.get(f"{srv.url}/readyz", timeout=10)
            assert unready.status_code == 503, unready.text
            assert unready.json()["store"] == {
                "ok": False,
                "problem": "no space left on the data directory's disk",
            }
            assert str(disk.path) not in unready.text  # answered without a token

            transport = GrowsOnFirst503(disk)
            policy = RetryPolicy(attempts=4, initial_seconds=0.01, max_seconds=2.0)
            with Inlet(demo.inlet_url, demo.org, retry=policy, transport=transport) as inlet:
                sent = inlet.send(big)
            assert sent.ok, sent
            assert transport.statuses == [503, 200]
            assert sent.retries == 1

            assert httpx.post(demo.inlet_url, json=big, timeout=30).status_code == 200
            assert record_count(demo) == 3  # every message acknowledged is there
            ready = httpx.get(f"{srv.url}/readyz", timeout=10)
            assert ready.json()["store"] == {"ok": True}, ready.text
        finally:
            srv.stop()
    log = (tmp_path / f"server-{srv.port}.log").read_text()
    assert "group commit failed: the store cannot write: disk full" in log
    assert "cannot rollback" not in log
