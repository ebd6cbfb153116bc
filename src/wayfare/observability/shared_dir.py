"""The directory where every process of one server keeps its metric values.

prometheus-client's multiprocess mode: each process writes its values to files in the
directory named by ``PROMETHEUS_MULTIPROC_DIR``, and ``/metrics``, answered by any HTTP
process, adds them up. The library reads that variable when it is first imported, so
``serve`` makes the directory and sets it before anything imports the library; the
processes it starts (HTTP processes, the journey engine) inherit it. This module imports
nothing of prometheus-client for that reason.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
P = ParamSpec("P")
R = TypeVar("R")


PREFIX = "wayfare-metrics-"


@contextlib.contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """A private temporary directory for this server's metric files, named in the
    environment its processes inherit; removed at exit. The directories of servers that
    were killed (their pid is in the name) are removed first."""
    _remove_orphans(Path(tempfile.gettempdir()))
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    os.environ[VARIABLE] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(VARIABLE, None)
        shutil.rmtree(path, ignore_errors=True)


def with_shared_metrics_dir(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` (``serve``) inside ``shared_metrics_dir()``."""

    @functools.wraps(fn)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with shared_metrics_dir():
            return fn(*args, **kwargs)

    return wrapped


def _remove_orphans(parent: Path) -> None:
    """Remove this user's metric directories whose server is gone."""
    for path in parent.glob(f"{PREFIX}*-*"):
        pid = path.name.removeprefix(PREFIX).split("-", 1)[0]
        try:
            mine = path.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
