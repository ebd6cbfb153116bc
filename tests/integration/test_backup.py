"""``wayfare backup PATH``: a copy taken while a server writes holds every message
acknowledged before it began, and a server started on the restored copy serves them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import Demo, Server, apply_demo, make_message, wait_until
from tests.integration.conftest import records

pytestmark = pytest.mark.integration


class Load:
    """Single messages posted one after another until stopped; the xactionIds acknowledged
    so far, in order."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.acknowledged: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                answer = client.post(self.demo.inlet_url, json=make_message(self.demo.schema_id))
                assert answer.status_code == 200, answer.text
                self.acknowledged.append(answer.json()["xactionId"])

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def backup(data_dir: Path, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wayfare", "backup", "--data-dir", str(data_dir), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_backup_taken_under_load_restores_every_message_acknowledged_before_it(
    tmp_path: Path,
) -> None:
    source = Server(tmp_path / "source").start()
    copy = tmp_path / "backups" / "wayfare.sqlite3"
    copy.parent.mkdir()
    try:
        demo = apply_demo(source)
        with Load(demo) as load:
            wait_until(lambda: len(load.acknowledged) >= 50, timeout=60)
            before = list(load.acknowledged)
            taken = backup(source.data_dir, copy)
            wait_until(lambda: len(load.acknowledged) >= len(before) + 20, timeout=60)
        assert taken.returncode == 0, taken.stderr
        assert "backed up" in taken.stdout
        # a second backup to the same file is refused: a backup never overwrites
        again = backup(source.data_dir, copy)
        assert again.returncode != 0 and "exists already" in again.stderr
        served = [r["xactionId"] for r in records(demo)]
    finally:
        source.stop()

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    shutil.copy(copy, restored_dir / "wayfare.sqlite3")
    restored = Server(restored_dir).start()
    try:
        kept = [r["xactionId"] for r in records(Demo(restored, *_ids(demo)))]
        assert set(before) <= set(kept)
        # the copy is the database at one moment: a prefix of what the source served
        assert kept == served[: len(kept)]
        assert len(kept) < len(served)
        answer = httpx.post(
            f"{restored.url}/collection/{demo.inlet_id}", json=make_message(demo.schema_id)
        )
        assert answer.status_code == 200, answer.text
    finally:
        restored.stop()


def _ids(demo: Demo) -> tuple[str, str, str, str]:
    return demo.org, demo.schema_id, demo.dataset_id, demo.inlet_id
