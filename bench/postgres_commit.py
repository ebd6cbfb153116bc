"""The journey engine's commit on PostgreSQL, next to the same batches on SQLite in the same run.

    .venv/bin/python bench/postgres_commit.py                       # the machine's PostgreSQL
    .venv/bin/python bench/postgres_commit.py --rounds 40 --url postgresql://postgres@host/db

Each round commits two batches of ``--entries`` (500) people, as one engine cycle would:

- ``enter``: the matched messages read from the event log (~750 bytes each, as
  bench/nats_log.py writes them), a new instance per person, two timers (a wait and the
  global timeout), one action, two step events, the step counts, the log positions; fenced
  on 16 partitions.
- ``advance``: the same instances finished, their actions settled, their timers cleared, two
  step events each; fenced.

It prints the median and 90th percentile of a commit, and entries/s at the median. PostgreSQL
runs in a database of its own (created and dropped); SQLite in a temporary file with its
default ``synchronous=FULL``, without the group-commit writer. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from nats_log import sample
from scratch_database import scratch_database
from wayfare.model.instances import Instance
from wayfare.model.runs import ActionSettled, EngineBatch, NewAction, NewTimer, StepRecord
from wayfare.store.ports import JourneyStore
from wayfare.store.postgres.connection import open_pool
from wayfare.store.postgres.journeys import PostgresJourneyStore
from wayfare.store.sqlite import connection as sqlite_connection
from wayfare.store.sqlite.journeys import SQLiteJourneyStore

ORG = "BENCH@AdobeOrg"  # nats_log.sample's
PARTITIONS = 16
T0 = 1_700_000_000_000


def step(i: Instance, node: str, kind: str) -> StepRecord:
    return StepRecord(
        ORG, i.journey, 1, node, kind, i.instance_id, i.identity, "ended", None, T0, i.entered_ms
    )


def enter(round_: int, entries: int, owner: str, fences: dict[int, int]) -> EngineBatch:
    messages = [sample(round_ * entries + n) for n in range(entries)]  # as in the NATS bench
    instances = [
        Instance(
            instance_id=f"i-{round_}-{n}",
            org_id=ORG,
            journey="welcome",
            version=1,
            identity=m.matches[0].identity if m.matches else "",
            seed=n,
            entered_ms=T0 + n,
            status="waiting",
            node="notify",
            events={"signup": orjson.loads(m.payload)["body"]["xdmEntity"]},
            wait_kind="action",
            wait_token=1,
            steps=1,
            partition=n % PARTITIONS,
        )
        for n, m in enumerate(messages)
    ]
    return EngineBatch(
        messages=messages,
        instances=instances,
        new_timers=[
            NewTimer(i.instance_id, i.partition, T0 + delay, 1, kind)
            for i in instances
            for delay, kind in ((60_000, "wait"), (91 * 86_400_000, "global"))
        ],
        new_actions=[
            NewAction(
                i.instance_id,
                i.partition,
                "notify",
                1,
                "http",
                {"url": "http://127.0.0.1:9/hook", "body": {"id": i.identity}},
                f"{i.instance_id}:notify",
                T0,
            )
            for i in instances
        ],
        steps=[
            step(i, node, kind)
            for i in instances
            for node, kind in (("entry", "entry"), ("wait", "wait"))
        ],
        positions={p: round_ * entries + p for p in range(PARTITIONS)},
        owner=owner,
        fences=fences,
    )


def advance(entered: EngineBatch, outbox_ids: list[int]) -> EngineBatch:
    finished = []
    for i in entered.instances:
        done = i.copy()
        done.status, done.node, done.ended_ms, done.steps = "finished", None, T0 + 1_000, 3
        finished.append(done)
    return EngineBatch(
        instances=finished,
        clear_timers=[i.instance_id for i in finished],
        settled=[ActionSettled(outbox_id, True, 1, None) for outbox_id in outbox_ids],
        steps=[
            step(i, node, kind)
            for i in finished
            for node, kind in (("notify", "http"), ("done", "end"))
        ],
        owner=entered.owner,
        fences=entered.fences,
    )


def measure(store: JourneyStore, rounds: int, entries: int) -> dict[str, list[float]]:
    fences = store.claim("bench", PARTITIONS, 600_000).held
    times: dict[str, list[float]] = {"enter": [], "advance": []}
    for r in range(rounds):
        batch = enter(r, entries, "bench", fences)
        started = time.perf_counter()
        outbox = store.commit(batch)
        times["enter"].append(time.perf_counter() - started)
        batch = advance(batch, [o.outbox_id for o in outbox])
        started = time.perf_counter()
        store.commit(batch)
        times["advance"].append(time.perf_counter() - started)
    return times


@contextlib.contextmanager
def postgres_store(server_url: str) -> Iterator[PostgresJourneyStore]:
    with scratch_database(server_url) as url:
        store = PostgresJourneyStore(open_pool(url))
        try:
            yield store
        finally:
            store.close()


@contextlib.contextmanager
def sqlite_store() -> Iterator[SQLiteJourneyStore]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "wayfare.sqlite3"
        sqlite_connection.migrate(path)
        store = SQLiteJourneyStore(path)
        try:
            yield store
        finally:
            store.close()


def report(name: str, times: dict[str, list[float]], entries: int) -> None:
    for kind, values in times.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else median
        print(
            f"{name:10s} {kind:8s} {median * 1000:8.1f} ms {p90 * 1000:8.1f} ms "
            f"{entries / median:12,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL server and a database to connect to first",
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--entries", type=int, default=500, help="people per batch")
    args = parser.parse_args()
    runs: list[tuple[str, Callable[[], contextlib.AbstractContextManager[JourneyStore]]]] = [
        ("postgresql", lambda: postgres_store(args.url)),
        ("sqlite", sqlite_store),
    ]
    print(f"{'store':10s} {'batch':8s} {'median':>11s} {'p90':>11s} {'entries/s':>12s}")
    for name, opened in runs:
        with opened() as store:
            report(name, measure(store, args.rounds, args.entries), args.entries)


if __name__ == "__main__":
    main()
