"""The README's "Scale-out" section, run as a reader runs it: its command blocks as written,
in order, against the machine's PostgreSQL and NATS (the server and the two workers in the
background), until ``wayfare doctor`` prints the lines the README shows (worker ids vary).
The database ``wayfare`` and the stream ``wayfare`` are removed before and after.

And what the section points to in examples/scale-out/: the systemd units pass
``systemd-analyze verify`` (ExecStart pointed at this checkout's virtual environment, in a
copy), and the settings file loads into a scale-out deployment.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import ROOT, wait_until
from tests.nats_support import delete_stream, machine_nats
from tests.postgres import unavailable
from wayfare.bootstrap import deployment
from wayfare.config import load_settings

pytestmark = pytest.mark.integration

README = ROOT / "README.md"
EXAMPLES = ROOT / "examples" / "scale-out"
SERVER_URL = "postgresql://postgres@127.0.0.1/postgres"
"""The machine's server as the README addresses it, on a database that always exists."""
WORKER_ID = re.escape("<host>:<pid>:<id>")
LONG_RUNNING = ("wayfare serve", "wayfare worker")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("WAYFARE_")}


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def shell_blocks(text: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"```sh\n(.*?)```", text, re.DOTALL)]


def commands_and_output(block: str) -> tuple[str, list[str]]:
    """A block's command lines, and the output it shows as ``# `` comments."""
    lines = block.splitlines()
    commands = [line for line in lines if not line.startswith("#")]
    shown = [line.removeprefix("# ") for line in lines if line.startswith("# ")]
    return "\n".join(commands), shown


def drop_everything() -> None:
    with psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP DATABASE IF EXISTS wayfare WITH (FORCE)")
    delete_stream(machine_nats(), "wayfare")


@pytest.fixture
def machine_services() -> Iterator[None]:
    """The machine's PostgreSQL and NATS, without the database and stream the README makes,
    and port 8080 (the README's server) free."""
    try:
        psycopg.connect(SERVER_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        unavailable(str(exc))
    machine_nats()
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8080)) == 0:
            pytest.fail("port 8080, where the README's server listens, is in use")
    drop_everything()
    try:
        yield
    finally:
        drop_everything()


@contextlib.contextmanager
def in_background(commands: list[str], logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        for n, command in enumerate(commands):
            with (logs / f"background-{n}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(
                        command,
                        shell=True,
                        cwd=ROOT,
                        env=CLEAN_ENV,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield started
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, shell=True, cwd=ROOT, env=CLEAN_ENV, capture_output=True, text=True, timeout=60
    )


def test_the_scale_out_section_runs_as_written_and_the_doctor_says_what_it_shows(
    machine_services: None, tmp_path: Path
) -> None:
    blocks = shell_blocks(section("Scale-out"))
    background = [b for b in blocks if any(c in b for c in LONG_RUNNING)]
    assert len(background) == 3, background  # a server, two workers
    create, *rest = [b for b in blocks if b not in background]
    (doctor_block,) = rest

    created = run(create)
    assert created.returncode == 0, created.stderr

    doctor, shown = commands_and_output(doctor_block)
    expected = [re.escape(line).replace(WORKER_ID, r"\S+:\d+:[0-9a-f]+") for line in shown]
    assert len(expected) == 4 and all(line.startswith("ok") for line in shown), shown

    with in_background(background, tmp_path) as processes:

        def server_up() -> bool:
            assert all(p.poll() is None for p in processes), logs(tmp_path)
            try:
                return httpx.get("http://127.0.0.1:8080/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(server_up, timeout=60)
        last: list[str] = []

        def doctor_agrees() -> bool:
            assert all(p.poll() is None for p in processes), logs(tmp_path)
            said = run(doctor)
            last[:] = said.stdout.splitlines()
            return (
                said.returncode == 0
                and len(last) == len(expected)
                and all(
                    re.fullmatch(pattern, line)
                    for pattern, line in zip(expected, last, strict=True)
                )
            )

        # The two workers share the partitions within a few renewals of their leases.
        try:
            wait_until(doctor_agrees, timeout=60, interval=0.5)
        except AssertionError:
            raise AssertionError(f"the doctor said {last}, the README shows {shown}") from None


def logs(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(folder.glob("*.log")))


def test_the_systemd_units_verify_with_this_checkouts_wayfare(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is required when CI=true", pytrace=False)
        pytest.skip("no systemd-analyze")
    wayfare = ROOT / ".venv" / "bin" / "wayfare"
    assert wayfare.exists(), "make dev installs .venv/bin/wayfare"
    units = sorted(EXAMPLES.glob("*.service"))
    assert [u.name for u in units] == ["wayfare-serve.service", "wayfare-worker@.service"]
    copies = []
    for unit in units:
        text = unit.read_text()
        assert "ExecStart=/opt/wayfare/.venv/bin/wayfare " in text
        copy = tmp_path / unit.name
        copy.write_text(text.replace("/opt/wayfare/.venv/bin/wayfare", str(wayfare)))
        copies.append(copy)
    instance = tmp_path / "wayfare-worker@1.service"  # a template verifies as an instance
    instance.symlink_to(tmp_path / "wayfare-worker@.service")
    verified = subprocess.run(
        [analyze, "verify", str(copies[0]), str(instance)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stderr
    complaints = [line for line in verified.stderr.splitlines() if "wayfare" in line.lower()]
    assert not complaints, complaints


def test_the_settings_file_loads_into_a_scale_out_deployment() -> None:
    settings = load_settings(config_file=EXAMPLES / "wayfare.toml", environ={})
    where = deployment(settings)
    assert where.postgresql == "postgresql://postgres@127.0.0.1:5432/wayfare"
    assert where.nats == "nats://127.0.0.1:4222"
    assert (settings.log_partitions, settings.lease_seconds) == (16, 6.0)
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
