"""Shared fixtures: a real Wayfare server process on a free port, and message factories."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from wayfare.registry.demo import DEMO_DOCUMENTS, DEMO_INLET, DEMO_ORG, DEMO_SCHEMA

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = [
    "tests.nats_support",  # the nats_settings and private_nats fixtures
    "tests.postgres",  # PostgreSQL databases and private servers
]


RECEIVERS_ALLOWED = {"WAYFARE_ACTION_ALLOW": "127.0.0.1"}
"""The tests' HTTP receivers listen on 127.0.0.1, which the destination policy denies by
default: every server and worker a test starts lets actions reach it, unless the test's own
``env`` says otherwise."""


PORTS_PER_WORKER = 2000
"""Each pytest worker hands out ports of its own slice of 10000-31999: below the kernel's
ephemeral range (32768 up, which ``bind(0)`` and outgoing connections draw from), so that a
port a test has just freed (a server it killed, to start again there) is not handed to
another test's server meanwhile."""


def _ports() -> Iterator[int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = 10000 + PORTS_PER_WORKER * (int(worker) % 11 if worker.isdigit() else 0)
    while True:
        yield from range(first, first + PORTS_PER_WORKER)


_next_port = _ports()
_port_lock = threading.Lock()


def free_port() -> int:
    """A port nobody listens on now, not handed out before in this pytest worker (until its
    slice of ports wraps around)."""
    while True:
        with _port_lock:
            port = next(_next_port)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def wait_until(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@dataclass
class Server:
    """A `wayfare serve` child process with its own data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_url(self) -> str | None:
        """The PostgreSQL store it was started on (``--store``), or None (embedded)."""
        args = self.extra_args
        return args[args.index("--store") + 1] if "--store" in args else None

    def start(self) -> Server:
        return self.launch().wait_healthy()

    def launch(self) -> Server:
        """Start the process; ``wait_healthy`` waits until it answers."""
        with (self.data_dir.parent / f"server-{self.port}.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "wayfare",
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **RECEIVERS_ALLOWED, **self.env},
                start_new_session=True,  # its own process group: kill() takes its children too
            )
        return self

    def wait_healthy(self) -> Server:
        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}")
            try:
                return httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=30)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL to the server and every process it started (the journey engine, the
        action courier): no shutdown hooks, nothing flushed on the way out."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def kill_server_only(self) -> None:
        """SIGKILL to the server process alone; what it started sees its stdin close."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def children(self, arg: str) -> list[int]:
        """Pids of the server's processes with ``arg`` in their command line (the journey
        engine: ``engine``; the action courier: ``wayfare.engine.courier``)."""
        assert self.process is not None
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if os.getpgid(int(proc.name)) != self.process.pid:
                    continue
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except (OSError, ProcessLookupError):
                continue
            if int(proc.name) != self.process.pid and arg.encode() in cmdline:
                found.append(int(proc.name))
        return found

    def restart(self) -> Server:
        self.stop()
        return self.start()

    def admin(self, org: str = DEMO_ORG, token: str | None = None) -> httpx.Client:
        headers = {"x-gw-ims-org-id": org}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def refused_start(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``wayfare serve`` with ``args``, expecting it to refuse to start: it must exit by
    itself (a server that starts instead is killed, and the test fails)."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "wayfare", "serve", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"wayfare serve {' '.join(args)} started instead of refusing", pytrace=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data").start()
    try:
        yield srv
    finally:
        srv.stop()


@dataclass(frozen=True)
class Demo:
    server: Server
    org: str
    schema_id: str
    dataset_id: str
    inlet_id: str

    @property
    def inlet_url(self) -> str:
        return f"{self.server.url}/collection/{self.inlet_id}"

    @property
    def batch_url(self) -> str:
        return f"{self.server.url}/collection/batch/{self.inlet_id}"


def apply_demo(srv: Server) -> Demo:
    with srv.admin() as admin:
        applied = admin.post("/api/v1/apply", json={"documents": DEMO_DOCUMENTS})
        assert applied.status_code == 200, applied.text
        schema = admin.get(f"/api/v1/schemas/{DEMO_SCHEMA}").json()
        inlet = admin.get(f"/api/v1/inlets/{DEMO_INLET}").json()
        datasets = admin.get("/api/v1/datasets", params={"schema": DEMO_SCHEMA}).json()
    return Demo(srv, DEMO_ORG, schema["id"], datasets["datasets"][0]["id"], inlet["inletId"])


@pytest.fixture
def demo(server: Server) -> Demo:
    return apply_demo(server)


def make_message(
    schema_id: str,
    *,
    org: str | None = DEMO_ORG,
    msg_id: str | None = None,
    email: str = "ada@example.com",
    **person: Any,
) -> dict[str, Any]:
    """A valid demo message; ``person`` overrides fields of ``_instance_name.person``."""
    ref = {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    header: dict[str, Any] = {
        "msgType": "xdmEntityCreate",
        "msgVersion": "1.0",
        "schemaRef": ref,
        "source": {"name": "Journeys"},
    }
    if org is not None:
        header["imsOrgId"] = org
    if msg_id is not None:
        header["msgId"] = msg_id
    details = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "gender": "female",
        "birthYear": 1990,
        "emailAddress": email,
        **person,
    }
    return {
        "header": header,
        "body": {
            "xdmMeta": {"schemaRef": ref},
            "xdmEntity": {
                "_id": str(uuid.uuid4()),
                "timestamp": "2026-11-28T10:00:00.000Z",
                "identityMap": {"Email": [{"id": email}]},
                "_instance_name": {"person": details},
            },
        },
    }


def in_threads(count: int, work: Callable[[int], None], timeout: float = 120) -> None:
    """``work(0)`` … ``work(count - 1)`` at once, each on a thread of its own; the first
    error any of them raised is raised here once all have ended."""
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "threads still running"
    if errors:
        raise errors[0]
