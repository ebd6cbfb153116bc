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
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """A private temporary directory for this server's metric files, named in the
    environment its processes inherit; removed at exit."""
    path = Path(tempfile.mkdtemp(prefix="wayfare-metrics-"))
    os.environ[VARIABLE] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(VARIABLE, None)
        shutil.rmtree(path, ignore_errors=True)
