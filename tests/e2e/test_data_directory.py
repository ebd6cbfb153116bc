"""The data directory of an embedded server: private to its user, and a directory that
cannot be created or written is refused at start, saying so."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    Server,
    apply_demo,
    free_port,
    make_message,
    refused_start,
    wait_until,
)
from tests.mounts import tmpfs

pytestmark = pytest.mark.integration

WAYFARE_FILES = {
    "wayfare.sqlite3",
    "wayfare.sqlite3-wal",
    "wayfare.sqlite3-shm",
    "wayfare.sqlite3-writers",
    "engine.lock",
}


def modes(data_dir: Path) -> dict[str, str]:
    """The permission bits of the directory ('.') and of every file in it, in octal."""
    found = {".": oct(stat.S_IMODE(data_dir.stat().st_mode))}
    for path in data_dir.iterdir():
        found[path.name] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


def run_and_send(srv: Server) -> None:
    srv.start()
    demo = apply_demo(srv)
    sent = httpx.post(demo.inlet_url, json=make_message(demo.schema_id), timeout=30)
    assert sent.status_code == 200, sent.text
    wait_until((srv.data_dir / "engine.lock").exists)  # the engine's process has started


def test_the_data_directory_and_every_file_in_it_are_for_their_user_alone(
    tmp_path: Path,
) -> None:
    srv = Server(tmp_path / "data")
    try:
        run_and_send(srv)
        running = modes(srv.data_dir)
    finally:
        srv.stop()
    assert set(running) >= WAYFARE_FILES
    assert running == {".": "0o700"} | dict.fromkeys(set(running) - {"."}, "0o600")
    stopped = modes(srv.data_dir)
    assert stopped == {".": "0o700"} | dict.fromkeys(set(stopped) - {"."}, "0o600")


def test_a_data_directory_left_open_to_others_is_made_private_at_start(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data")
    try:
        run_and_send(srv)
    finally:
        srv.kill()  # the -wal and -shm files stay
    os.chmod(srv.data_dir, 0o755)  # as a Wayfare that made them so left them
    for path in srv.data_dir.iterdir():
        os.chmod(path, 0o644)
    assert set(modes(srv.data_dir)) >= WAYFARE_FILES
    try:
        srv.start()
        opened = modes(srv.data_dir)
    finally:
        srv.stop()
    assert opened == {".": "0o700"} | dict.fromkeys(set(opened) - {"."}, "0o600")


def test_a_read_only_data_directory_is_refused_at_start_saying_so(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "data", "16m") as disk:
        srv = Server(disk.path)
        try:
            run_and_send(srv)
        finally:
            srv.stop()
        empty = disk.path / "empty"
        empty.mkdir()
        disk.read_only()
        for data_dir in (disk.path, empty):
            refused = refused_start("--data-dir", str(data_dir), "--port", str(free_port()))
            assert refused.returncode == 1, refused.stderr
            assert (
                f"error: the data directory {data_dir} is read-only (Read-only file system)"
                in refused.stderr
            )
            assert "Traceback" not in refused.stderr


def test_a_data_directory_that_cannot_be_created_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    data_dir = tmp_path / "a-file" / "data"
    refused = refused_start("--data-dir", str(data_dir), "--port", str(free_port()))
    assert refused.returncode == 1, refused.stderr
    assert f"error: the data directory {data_dir} cannot be created: Not a directory" in (
        refused.stderr
    )
