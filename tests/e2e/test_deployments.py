"""Which deployment the settings choose, as a user meets it on the command line: pairings
Wayfare does not offer are refused with what to give instead, and a PostgreSQL or NATS that
cannot be reached stops the command at once with where and why (never a fall back to the
embedded SQLite store)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import CLEAN_ENV

pytestmark = pytest.mark.integration


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wayfare", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=CLEAN_ENV,
        cwd=cwd,
        check=False,
    )


def unreachable_postgres() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/wayfare"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(
            ["serve", "--store", "postgresql://postgres@127.0.0.1/x"],
            "needs the NATS event log: add --log nats://",
            id="postgresql without nats",
        ),
        pytest.param(
            ["serve", "--log", "nats://127.0.0.1:4222"],
            "a SQLite store works with the embedded event log only",
            id="sqlite with nats",
        ),
        pytest.param(
            ["serve", "--store", "mysql://root@127.0.0.1/x"],
            "give sqlite:///path/to/file or postgresql://",
            id="another database",
        ),
        pytest.param(
            ["worker"], "wayfare worker needs --store postgresql://", id="worker embedded"
        ),
    ],
)
def test_pairings_wayfare_does_not_offer_are_refused_with_what_to_give(
    tmp_path: Path, args: list[str], says: str
) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert says in result.stderr
    assert not (tmp_path / ".wayfare").exists()  # nothing embedded was created instead


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unreachable_postgresql_stops_the_command_with_where_and_why(
    tmp_path: Path, command: str
) -> None:
    url = unreachable_postgres()
    port = url.rsplit(":", 1)[1].split("/")[0]
    result = run(command, "--store", url, "--log", "nats://127.0.0.1:4222", cwd=tmp_path)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".wayfare").exists()


def test_doctor_says_what_is_wrong_one_line_each_and_fails(tmp_path: Path) -> None:
    result = run(
        "doctor", "--store", unreachable_postgres(), "--log", f"nats://127.0.0.1:{free_port()}",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok    settings   scale-out")
    assert lines[1].startswith("FAIL  store")
    assert lines[2].startswith("FAIL  log")
    assert len(lines) == 3  # no workers line without a store to ask
    healthy = run("doctor", "--data-dir", str(tmp_path / "nothing-yet"), cwd=tmp_path)
    assert healthy.returncode == 0, healthy.stdout
