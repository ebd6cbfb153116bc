"""Server processes for the benchmark: Wayfare itself and the bare-endpoint baseline.

Every process binds 127.0.0.1 on a free port, logs to a file in the run's temp directory and
is stopped (SIGTERM, then SIGKILL) by ``stop``; use them as context managers so that an error
anywhere still ends them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from load import PLACEHOLDER
from wayfare.registry.demo import (
    DEMO_DOCUMENTS,
    DEMO_INLET,
    DEMO_ORG,
    DEMO_SCHEMA,
    sample_message,
)

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _venv_command(name: str) -> list[str]:
    """The console script next to this interpreter (the project's venv), or ``-m``."""
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", name]


@dataclass
class Process:
    """A child process: a server answering GET ``health_path`` with 200 once it is up, or,
    with ``health_path`` None, any other process (up once started)."""

    name: str
    command: list[str]
    log_path: Path
    port: int
    health_path: str | None = "/healthz"
    env: dict[str, str] | None = None
    """Added to this process's environment."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Process:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env} if self.env else None,
            )
        if self.health_path is None:
            return self
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} while starting; "
                    f"see {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(self.url + self.health_path, timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not answer within {START_TIMEOUT_S:.0f}s")
            time.sleep(0.05)

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> Process:
        return self.start()

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is not None and self.process is not None:
                state = (
                    "running"
                    if self.process.poll() is None
                    else f"exited with {self.process.returncode}"
                )
                print(
                    f"\n{self.name} (pid {self.process.pid}) {state}; last lines of its log:\n"
                    f"{self.log_tail(40)}\n",
                    file=sys.stderr,
                )
        finally:  # stop it even when printing fails (e.g. a closed pipe)
            self.stop()


def wayfare_server(
    tmp: Path, extra_args: list[str] | None = None, env: dict[str, str] | None = None
) -> Process:
    """``wayfare serve`` on a free port with its data directory (and log) under ``tmp``."""
    port = free_port()
    command = [
        *_venv_command("wayfare"),
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(tmp / "wayfare-data"),
        *(extra_args or []),
    ]
    return Process("wayfare", command, tmp / "wayfare.log", port, env=_wayfare_env(env))


def wayfare_worker(log_path: Path, args: list[str], env: dict[str, str] | None = None) -> Process:
    """``wayfare worker`` (a journey engine of a scale-out deployment; no port, no health
    check: up once started)."""
    command = [*_venv_command("wayfare"), "worker", *args]
    return Process("wayfare worker", command, log_path, 0, None, _wayfare_env(env))


def _wayfare_env(env: dict[str, str] | None) -> dict[str, str]:
    """Journeys' webhooks go to the benchmark's receiver on 127.0.0.1, which the action
    destination policy refuses unless allowed."""
    return {"WAYFARE_ACTION_ALLOW": HOST, **(env or {})}


def bare_server(tmp: Path) -> Process:
    """The bare-endpoint baseline (bench/baselines.py serve-bare) on a free port."""
    port = free_port()
    command = [sys.executable, str(BENCH_DIR / "baselines.py"), "serve-bare", "--port", str(port)]
    return Process("bare endpoint", command, tmp / "bare.log", port, health_path="/")


@dataclass(frozen=True)
class Demo:
    """The demo applied to a running Wayfare, as the benchmark needs it."""

    url: str
    org: str
    schema_id: str
    schema_version: int
    dataset_id: str
    inlet_id: str

    @property
    def single_path(self) -> str:
        return f"/collection/{self.inlet_id}"

    @property
    def batch_path(self) -> str:
        return f"/collection/batch/{self.inlet_id}"

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"x-gw-ims-org-id": self.org}, timeout=60)

    def record_count(self) -> int:
        with self.admin() as admin:
            response = admin.get(f"/api/v1/datasets/{self.dataset_id}")
            response.raise_for_status()
            return int(response.json()["recordCount"])

    def settled_record_count(self, timeout_s: float = 10.0) -> int:
        """The record count once it stops moving (requests in flight when wrk stopped)."""
        deadline = time.monotonic() + timeout_s
        last = self.record_count()
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = self.record_count()
            if now == last:
                return now
            last = now
        return last

    def message(self, msg_id: str | None = None, entity_id: str | None = None) -> dict[str, Any]:
        """A valid message built by the demo's own ``sample_message``."""
        schema = types.SimpleNamespace(
            schema_id=self.schema_id, version=self.schema_version, org_id=self.org
        )
        message = sample_message(schema)  # type: ignore[arg-type]
        if msg_id is not None:
            message["header"]["msgId"] = msg_id
        if entity_id is not None:
            message["body"]["xdmEntity"]["_id"] = entity_id
        return message


def message_template(demo: Demo) -> bytes:
    """One valid demo message, its msgId and _id replaced by the ``@@ID@@`` placeholder."""
    marker = PLACEHOLDER.decode()
    return orjson.dumps(demo.message(msg_id=marker, entity_id=marker))


def apply_demo(url: str) -> Demo:
    """POST the demo documents to /api/v1/apply and read the ids back from the admin API."""
    with httpx.Client(base_url=url, headers={"x-gw-ims-org-id": DEMO_ORG}, timeout=60) as admin:
        applied = admin.post("/api/v1/apply", json={"documents": DEMO_DOCUMENTS})
        if applied.status_code != 200:
            raise RuntimeError(f"apply failed: {applied.status_code} {applied.text}")
        schema = admin.get(f"/api/v1/schemas/{DEMO_SCHEMA}").raise_for_status().json()
        inlet = admin.get(f"/api/v1/inlets/{DEMO_INLET}").raise_for_status().json()
        datasets = (
            admin.get("/api/v1/datasets", params={"schema": DEMO_SCHEMA}).raise_for_status().json()
        )
    return Demo(
        url=url,
        org=DEMO_ORG,
        schema_id=schema["id"],
        schema_version=int(schema["version"]),
        dataset_id=datasets["datasets"][0]["id"],
        inlet_id=inlet["inletId"],
    )
