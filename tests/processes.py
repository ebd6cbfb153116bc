"""The machine's processes as /proc shows them: which run, and their parents and groups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command (state, parent, group, ...);
    None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped by its parent, does not)."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def live_processes() -> Iterator[tuple[int, list[str]]]:
    """Each live process (no zombie) and its stat fields (``stat_fields``)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            fields = stat_fields(int(proc.name))
            if fields is not None and fields[0] != "Z":
                yield int(proc.name), fields
