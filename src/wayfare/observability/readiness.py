"""``/readyz``: whether this server can take messages and act on them now.

Three checks, each a function that answers None when all is well and else what is wrong:
the store can be written (a cheap look: the files' permissions and free space, or the
scale-out store answering), the journey engine runs, and its lag (accepted messages not yet
consumed) is under ``ready_max_lag``. ``bootstrap`` wires them to the deployment.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Check = Callable[[], str | None]


@dataclass(frozen=True, slots=True)
class Readiness:
    store: Check
    engine: Check
    lag: Callable[[], int | None]
    """Match outcomes the engine has not consumed; None where it cannot be told here."""
    max_lag: int
    engine_note: str | None = None
    """Said in place of the engine check where this server runs no engine (scale-out)."""

    def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, the body of the answer: each check's status and what failed)."""
        checks: dict[str, Any] = {}
        failing: list[str] = []

        def record(name: str, problem: str | None, **extra: Any) -> None:
            checks[name] = {"ok": problem is None, **extra}
            if problem is not None:
                checks[name]["problem"] = problem
                failing.append(name)

        record("store", _guarded(self.store))
        if self.engine_note is not None:
            checks["engine"] = {"ok": True, "note": self.engine_note}
        else:
            record("engine", _guarded(self.engine))
            try:
                lag = self.lag()
            except Exception as exc:
                record("lag", f"cannot be read: {exc}")
            else:
                over = lag is not None and lag > self.max_lag
                record(
                    "lag",
                    f"{lag} accepted messages wait for the engine (more than {self.max_lag})"
                    if over
                    else None,
                    events=lag,
                    max=self.max_lag,
                )
        ready = not failing
        return ready, {"status": "ready" if ready else "not ready", "failing": failing, **checks}


def _guarded(check: Check) -> str | None:
    try:
        return check()
    except Exception as exc:
        return str(exc) or type(exc).__name__


def files_writable(database: Path) -> str | None:
    """The database and its directory can be written and the disk has room. The problem
    names the files by what they are, not where: ``/readyz`` answers without a token."""
    for path, what in ((database.parent, "the data directory"), (database, "the database")):
        if not os.access(path, os.W_OK):
            return f"{what} cannot be written"
    try:
        space = os.statvfs(database.parent)
    except OSError as exc:
        return f"the data directory cannot be read: {exc.strerror}"
    if space.f_bavail == 0:
        return "no space left on the data directory's disk"
    return None


def lock_held(path: Path, what: str) -> str | None:
    """None while some process holds the file lock on ``path`` (a running journey engine
    holds ``engine.lock``); else that ``what`` is not running. Testing takes the lock for
    an instant when it is free, which a starting engine waits out."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return f"{what} is not running"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            return None
        raise
    finally:
        os.close(fd)  # closing releases a lock taken here
    return f"{what} is not running"
