"""What tests that need the machine's own tools (root, ``ip``, ``mount``) share."""

from __future__ import annotations

import os
import subprocess
from typing import NoReturn

import pytest


def unavailable(what: str, reason: str) -> NoReturn:
    """Fail under ``CI=true``, else skip, saying why: a test that needs ``what`` never
    passes without it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}: required when CI=true: {reason}", pytrace=False)
    pytest.skip(f"{what}: not available: {reason}")


def command(*args: str) -> None:
    """Run a command of the machine's; AssertionError with what it said if it fails."""
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: {done.stderr.strip()}")
