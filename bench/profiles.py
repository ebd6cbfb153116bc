"""The ``profiles`` scenario: profile upserts/s, next to a plain SQLite loop of the same rows.

Wayfare
    ``apply_profile_record`` (registry/profiles.py) for each of N Profile records (streaming
    upserts, ``operations.data = merge``, over ``--profile-identities`` people, each setting
    two of a few attributes), on the embedded store's ``SQLiteProfileStore``: parse the
    message, read the fragment, apply the update (model/profile_fragments.py), write it back;
    one transaction per record.

plain upsert loop (the baseline)
    The same records through the standard library alone: ``json.loads``, then
    ``INSERT ... ON CONFLICT DO UPDATE SET doc = json_patch(doc, ?)`` (SQLite's own JSON
    merge patch) of the record's attributes into one row per identity, one transaction per
    record, WAL.

On SQLite both run twice: with synchronous=FULL (Wayfare's default: each commit waits for the
disk, and the disk's fsync sets both figures) and with synchronous=NORMAL (what the CPU work
costs). With ``--postgres URL`` (a server to create and drop a database on) they run on
PostgreSQL too: ``PostgresProfileStore`` (an advisory lock per fragment) against
``INSERT ... ON CONFLICT DO UPDATE SET doc = doc || excluded.doc`` of JSONB (a shallow merge,
which is a deep one here: each record sets whole objects under ``_bench``), through psycopg.

The ratio Wayfare / baseline is what to watch: both pay one commit per record, so it says
what reading the fragment, merging and keeping per-attribute times cost on top. The check
compares the attributes both ended with for every identity. Run alone with
``.venv/bin/python bench/profiles.py [--postgres URL]``, or as
``bench/run.py --scenarios profiles`` (PostgreSQL when ``--profiles-on-postgres`` is given).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from scratch_database import scratch_database
from wayfare.model.identities import Identity
from wayfare.model.records import IncomingMessage
from wayfare.model.resources import Dataset, Schema
from wayfare.model.schema import SchemaDefinition, build_json_schema
from wayfare.registry.profiles import apply_profile_record, merged_profile
from wayfare.store.ports import ProfileStore
from wayfare.store.postgres.connection import open_pool
from wayfare.store.postgres.profiles import PostgresProfileStore
from wayfare.store.sqlite.connection import migrate
from wayfare.store.sqlite.profiles import SQLiteProfileStore

ORG = "BENCH@AdobeOrg"
SCHEMA_ID = "https://ns.adobe.com/bench/schemas/customers"
T0 = 1_700_000_000_000
TIERS = ("bronze", "silver", "gold")


@dataclass(frozen=True)
class ProfileResult:
    store: str
    """Where both ran: SQLite and its synchronous setting, or PostgreSQL."""
    records: int
    identities: int
    wayfare_per_s: float
    plain_per_s: float
    check: str
    """Whether both ended with the same attributes for every identity."""

    @property
    def ratio(self) -> float:
        return self.wayfare_per_s / self.plain_per_s if self.plain_per_s else 0.0


def profile_records(count: int, identities: int, seed: int = 7) -> list[bytes]:
    """``count`` merge upserts, as sent to an inlet, spread over ``identities`` people."""
    rnd = random.Random(seed)
    ref = {"id": SCHEMA_ID, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    out = []
    for i in range(count):
        person = f"p{rnd.randrange(identities)}@example.com"
        attributes: dict[str, Any] = {
            "loyalty": {"tier": rnd.choice(TIERS), "points": rnd.randrange(10_000)},
            "person": {"city": rnd.choice(("Paris", "London", "Rome")), "visits": i},
        }
        del attributes[rnd.choice(("loyalty", "person"))]  # each record sets part of a profile
        entity = {"identityMap": {"Email": [{"id": person, "primary": True}]}, "_bench": attributes}
        header = {"schemaRef": ref, "imsOrgId": ORG, "operations": {"data": "merge"}}
        message = {"header": header, "body": {"xdmMeta": {"schemaRef": ref}, "xdmEntity": entity}}
        out.append(orjson.dumps(message))
    return out


def _schema() -> Schema:
    definition = SchemaDefinition.from_json(
        {"name": "customers", "class": "Profile", "fields": {"loyalty": {"type": "object"}}}
    )
    json_schema = build_json_schema(definition, schema_id=SCHEMA_ID, tenant_id="bench", version=1)
    return Schema(SCHEMA_ID, 1, ORG, definition, json_schema, T0)


def run_wayfare(raw: list[bytes], store: ProfileStore) -> tuple[float, dict[str, Any]]:
    """Records/s, and each identity's merged attributes."""
    dataset = Dataset("crm", ORG, "crm", SCHEMA_ID, False, T0, profile=True)
    schema = _schema()
    messages = [
        IncomingMessage(f"x{i}", None, ORG, "inlet", "crm", SCHEMA_ID, T0 + i, payload)
        for i, payload in enumerate(raw)
    ]
    started = time.perf_counter()
    for message in messages:
        apply_profile_record(store, dataset, schema, message)
    seconds = time.perf_counter() - started
    people = {
        json.loads(m.payload)["body"]["xdmEntity"]["identityMap"]["Email"][0]["id"]
        for m in messages
    }
    attributes = {
        p: merged_profile(store, ORG, [Identity("Email", p)]).attributes.get("_bench")
        for p in people
    }
    return len(raw) / seconds, attributes


def run_plain_postgres(raw: list[bytes], url: str) -> tuple[float, dict[str, Any]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE plain_profiles (identity TEXT PRIMARY KEY, doc JSONB NOT NULL)")
        upsert = (
            "INSERT INTO plain_profiles (identity, doc) VALUES (%s, %s::jsonb) "
            "ON CONFLICT (identity) DO UPDATE SET doc = plain_profiles.doc || excluded.doc"
        )
        started = time.perf_counter()
        for payload in raw:
            entity = json.loads(payload)["body"]["xdmEntity"]
            identity = entity["identityMap"]["Email"][0]["id"]
            conn.execute(upsert, (identity, json.dumps(entity["_bench"])))
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT identity, doc::text FROM plain_profiles").fetchall()
    return len(raw) / seconds, {i: json.loads(d) for i, d in rows}


def run_plain(raw: list[bytes], path: Path, fsync: bool) -> tuple[float, dict[str, Any]]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        conn.execute("CREATE TABLE profiles (identity TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        upsert = (
            "INSERT INTO profiles (identity, doc) VALUES (?, json(?)) ON CONFLICT (identity) "
            "DO UPDATE SET doc = json_patch(doc, excluded.doc)"
        )
        started = time.perf_counter()
        for payload in raw:
            entity = json.loads(payload)["body"]["xdmEntity"]
            identity = entity["identityMap"]["Email"][0]["id"]
            conn.execute("BEGIN")
            conn.execute(upsert, (identity, json.dumps(entity["_bench"])))
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        attributes = {
            i: json.loads(d) for i, d in conn.execute("SELECT identity, doc FROM profiles")
        }
    finally:
        conn.close()
    return len(raw) / seconds, attributes


def run_profiles(
    tmp: Path, records: int, identities: int, postgres: str | None = None
) -> list[ProfileResult]:
    """SQLite with synchronous FULL and NORMAL; PostgreSQL too, given a server's URL."""
    raw = profile_records(records, identities)
    results = []
    for fsync in (True, False):
        sync = "FULL" if fsync else "NORMAL"
        plain = run_plain(raw, tmp / f"plain-profiles-{sync}.sqlite3", fsync)
        path = tmp / f"wayfare-profiles-{sync}.sqlite3"
        migrate(path)
        with contextlib.closing(SQLiteProfileStore(path, fsync=fsync)) as store:
            results.append(
                _result(f"SQLite, synchronous={sync}", raw, run_wayfare(raw, store), plain)
            )
    if postgres is not None:
        with scratch_database(postgres) as url:
            plain = run_plain_postgres(raw, url)
            with contextlib.closing(PostgresProfileStore(open_pool(url))) as pg_store:
                results.append(_result("PostgreSQL", raw, run_wayfare(raw, pg_store), plain))
    return results


def _result(
    where: str,
    raw: list[bytes],
    wayfare_run: tuple[float, dict[str, Any]],
    plain_run: tuple[float, dict[str, Any]],
) -> ProfileResult:
    (wayfare, attributes), (plain, plain_attributes) = wayfare_run, plain_run
    same = attributes == plain_attributes
    return ProfileResult(
        where,
        len(raw),
        len(attributes),
        wayfare,
        plain,
        "OK: the same attributes for every identity" if same else "MISMATCH",
    )


def print_profiles(results: list[ProfileResult]) -> None:
    for r in results:
        print(
            f"profiles     {r.wayfare_per_s:>10,.0f} upserts/s  plain upsert loop "
            f"{r.plain_per_s:,.0f}/s  ratio {r.ratio:.2f}  ({r.store}, "
            f"{r.records:,} records, {r.identities:,} identities; check: {r.check})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=3000, help="upserts (3000)")
    parser.add_argument("--identities", type=int, default=500, help="people (500)")
    parser.add_argument(
        "--postgres", default=None, help="also on PostgreSQL: a server URL to make a database on"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wayfare-bench-profiles-") as tmp:
        print_profiles(run_profiles(Path(tmp), args.records, args.identities, args.postgres))


if __name__ == "__main__":
    main()
