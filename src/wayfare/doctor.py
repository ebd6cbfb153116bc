"""``wayfare doctor``: is this deployment fit to run? One line per check, each saying what is
wrong and where, so an operator reads the answer rather than a stack trace.

Checks: the settings choose a deployment Wayfare offers; the store answers and its
migrations are all applied; scale-out, the event log answers and its stream fits the
settings (partitions, retention), and which worker holds which partition of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from wayfare.bootstrap import deployment, nats_settings
from wayfare.config import Settings
from wayfare.errors import WayfareError


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<10} {self.detail}"


def _check(name: str, run: Callable[[], str]) -> Check:
    try:
        return Check(name, True, run())
    except WayfareError as exc:
        return Check(name, False, exc.message)
    except Exception as exc:  # a check must answer, whatever the driver raised
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def diagnose(settings: Settings) -> Iterator[Check]:
    try:
        where = deployment(settings)
    except WayfareError as exc:
        yield Check("settings", False, exc.message)
        return
    if where.sqlite is not None:
        yield Check("settings", True, "embedded: SQLite and the embedded event log")
        path = where.sqlite
        yield _check("store", lambda: _sqlite(path))
        return
    assert where.postgresql is not None and where.nats is not None
    url, log_url = where.postgresql, where.nats
    yield Check("settings", True, "scale-out: PostgreSQL and NATS JetStream")
    store = _check("store", lambda: _postgres(url))
    yield store
    yield _check("log", lambda: _nats(settings, log_url))
    if store.ok:
        yield _check("workers", lambda: _workers(url, settings.log_partitions))


def _sqlite(path: object) -> str:
    from pathlib import Path

    from wayfare.store.sqlite.connection import pending_migrations

    assert isinstance(path, Path)
    if not path.exists():
        return f"{path} does not exist yet: wayfare serve creates it"
    pending = pending_migrations(path)
    if pending:
        raise WayfareError(f"{path}: migrations not applied: {', '.join(pending)}")
    return f"{path}: migrations up to date"


def _postgres(url: str) -> str:
    from wayfare.store.postgres.connection import describe, pending_migrations

    pending = pending_migrations(url)
    if pending:
        raise WayfareError(
            f"{describe(url)}: migrations not applied ({', '.join(pending)}): "
            "wayfare serve or wayfare worker applies them when it starts"
        )
    return f"{describe(url)}: reachable, migrations up to date"


def _nats(settings: Settings, url: str) -> str:
    from wayfare.log.jetstream import check_log

    log_settings = nats_settings(settings, url)
    config = asyncio.run(check_log(log_settings))
    partitions = len(config.subjects or ())
    return f"{url}: stream {config.name} with {partitions} partitions"


def _workers(url: str, partitions: int) -> str:
    from wayfare.store.postgres.connection import open_pool
    from wayfare.store.postgres.journeys import PostgresJourneyStore

    pool = open_pool(url, max_size=1)
    try:
        holders = PostgresJourneyStore(pool).holders()
    finally:
        pool.close()
    if not holders:
        raise WayfareError("no worker holds any partition: start wayfare worker")
    orphans = [p for p in range(partitions) if p not in holders]
    by_worker: dict[str, list[int]] = {}
    for partition, (worker, _) in sorted(holders.items()):
        by_worker.setdefault(worker, []).append(partition)
    held = "; ".join(f"{w} holds {len(ps)}" for w, ps in sorted(by_worker.items()))
    if orphans:
        raise WayfareError(f"partitions held by nobody: {orphans}; {held}")
    return held
