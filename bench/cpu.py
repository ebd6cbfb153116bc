"""CPU time of process trees and of the machine's own servers, read from /proc (Linux).

The scale-out scenarios run Wayfare's processes as children of the benchmark, but
PostgreSQL and NATS are the machine's: they are found by the port they listen on
(``listener_pid``). PostgreSQL's CPU is told apart as the client backends of one database
(``postgres_backends``) and the server's own processes (``postgres_shared``, which work for
every database, including other users' such as test suites).

``CpuWatch`` takes two snapshots of every process and reports, per named group, the CPU
seconds its processes used in between as a percentage of one core, the busiest single
process of the group (one Python process cannot use more than one core for long: its GIL),
and the whole machine's busy time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from load import system_busy_seconds

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    cpu_s: float
    cmdline: str


Table = dict[int, Proc]
Selector = Callable[[Table], Iterable[int]]


def processes() -> Table:
    """Every process now: parent, user + system CPU seconds (all threads), command line."""
    table: Table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue  # gone meanwhile
        pid = int(entry.name)
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        table[pid] = Proc(pid, int(fields[1]), cpu, cmdline.strip())
    return table


def tree(table: Table, root: int) -> set[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in table and pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every process below it (``serve``'s HTTP processes, its
    journey engine), living ones only."""
    table = processes()
    return sum(table[pid].cpu_s for pid in tree(table, root))


def trees(*roots: int) -> Selector:
    return lambda table: set().union(*(tree(table, r) for r in roots)) if roots else set()


def _client_database(proc: Proc) -> str | None:
    """The database of a client backend, None for PostgreSQL's own processes. A backend's
    title is ``postgres: <cluster>: <user> <database> <host(port)> <state>``."""
    words = proc.cmdline.split()
    if len(words) >= 5 and ("(" in words[4] or words[4] == "[local]"):
        return words[3]
    return None


def postgres_backends(postmaster: int, database: str) -> Selector:
    """The client backends of ``database``."""
    return lambda table: {
        pid for pid in tree(table, postmaster) if _client_database(table[pid]) == database
    }


def postgres_shared(postmaster: int) -> Selector:
    """PostgreSQL's own processes, working for every database: the postmaster, the WAL
    writer, the checkpointer, the background writer, autovacuum."""
    return lambda table: {
        pid for pid in tree(table, postmaster) if _client_database(table[pid]) is None
    }


def listener_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` (any address), from /proc/net and the fds."""
    inodes = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:
            continue
    return None


@dataclass
class Shares:
    """A window's CPU, in % of one core."""

    seconds: float
    groups: dict[str, float] = field(default_factory=dict)
    busiest: dict[str, float] = field(default_factory=dict)
    """The busiest single process of each group."""
    machine: float = 0.0
    other: float = 0.0
    """The machine's busy time less every group's."""


class CpuWatch:
    """CPU per named group of processes between ``begin`` and ``end``. ``extra`` adds CPU
    seconds measured elsewhere (this process, wrk's rusage) as groups of their own."""

    def __init__(self, groups: dict[str, Selector]) -> None:
        self.groups = groups
        self._start: tuple[float, float, Table] | None = None

    def begin(self) -> None:
        self._start = (time.perf_counter(), system_busy_seconds(), processes())

    def end(self, extra: dict[str, float] | None = None) -> Shares:
        assert self._start is not None, "begin() first"
        wall0, busy0, table0 = self._start
        table, busy = processes(), system_busy_seconds()
        wall = max(1e-9, time.perf_counter() - wall0)
        shares = Shares(seconds=wall, machine=100 * (busy - busy0) / wall)
        counted = 0.0
        for name, select in self.groups.items():
            used = {}
            for pid in select(table):
                before = table0.get(pid)
                # a pid seen twice is the same process only if its parent is the same
                start = before.cpu_s if before and before.ppid == table[pid].ppid else 0.0
                used[pid] = max(0.0, table[pid].cpu_s - start)
            total = sum(used.values())
            counted += total
            shares.groups[name] = 100 * total / wall
            shares.busiest[name] = 100 * max(used.values(), default=0.0) / wall
        for name, seconds in (extra or {}).items():
            counted += seconds
            shares.groups[name] = shares.busiest[name] = 100 * seconds / wall
        shares.other = max(0.0, shares.machine - 100 * counted / wall)
        return shares
