"""A small file system of a test's own (tmpfs) for storage faults: fill it up, grow it,
make it read-only.

Mounting needs root (CAP_SYS_ADMIN); without it the test fails under ``CI=true`` and is
skipped elsewhere, saying why. The file system is unmounted on the way out, even after a
failure.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.tools import command, unavailable


def _mount(*args: str) -> None:
    command("mount", *args)


@dataclass(frozen=True)
class Tmpfs:
    path: Path

    def fill(self) -> None:
        """Write a file until the file system has no room left."""
        chunk = b"\0" * (1024 * 1024)
        with (self.path / "filler").open("wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise

    def resize(self, size: str) -> None:
        _mount("-o", f"remount,size={size}", str(self.path))

    def read_only(self) -> None:
        _mount("-o", "remount,ro", str(self.path))


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Tmpfs]:
    """A tmpfs of ``size`` (``mount``'s words: ``16m``) mounted at ``path``."""
    if os.geteuid() != 0:
        unavailable("a tmpfs of the test's own", "mounting needs root")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        unavailable("a tmpfs of the test's own", done.stderr.strip() or "mount failed")
    try:
        yield Tmpfs(path)
    finally:
        subprocess.run(["umount", "--lazy", str(path)], capture_output=True, check=False)
