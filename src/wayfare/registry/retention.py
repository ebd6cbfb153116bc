"""Retention: records, failed records and step events past their days are deleted.

A dataset's ``retentionDays`` bounds its records and failed records (by the time they were
received); ``step_event_retention_days`` bounds every org's journey step events (by the
time they happened; the reports' counts, kept apart, stay); the events audiences count go
once no window can reach them (``MAX_EVENT_WINDOW_DAYS``); the experience events kept for
people once older than ``person_event_retention_days`` (by the time they happened).
``expire`` is one pass, in chunks of ``CHUNK`` rows a transaction so that writers wait at
most one chunk, and at most ``MAX_CHUNKS`` chunks a dataset a pass so that one large dataset
does not hold the others back; what is left goes in the next pass. ``run_retention`` makes a
pass every ``retention_interval_seconds`` in the server (``Services.start``), off the event
loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from wayfare.clock import Clock
from wayfare.model.expressions import MAX_EVENT_WINDOW_DAYS
from wayfare.store.ports import AudienceStore, JourneyStore, ProfileStore, ResourceStore

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
CHUNK = 1000
MAX_CHUNKS = 100


@dataclass(frozen=True, slots=True)
class Expired:
    records: int
    """Records and failed records deleted."""
    step_events: int
    audience_events: int = 0
    """Events kept for audiences' counts, older than the longest window."""
    person_events: int = 0
    """Experience events kept for people, past their retention."""


def expire(
    store: ResourceStore,
    journeys: JourneyStore,
    now_ms: int,
    *,
    step_event_days: int,
    audiences: AudienceStore | None = None,
    profiles: ProfileStore | None = None,
    person_event_days: int = 0,
    chunk: int = CHUNK,
    max_chunks: int = MAX_CHUNKS,
) -> Expired:
    """One pass: what is past its retention as of ``now_ms``, deleted in chunks."""
    records = 0
    for dataset in store.datasets_with_retention():
        assert dataset.retention_days is not None
        before = now_ms - dataset.retention_days * DAY_MS
        for _ in range(max_chunks):
            deleted = store.delete_records_before(dataset.dataset_id, before, chunk)
            records += deleted
            if deleted < chunk:
                break
    steps = counted = 0
    if step_event_days > 0:
        before = now_ms - step_event_days * DAY_MS
        steps = _chunked(
            lambda: journeys.delete_step_events_before(before, chunk), chunk, max_chunks
        )
    if audiences is not None:
        oldest = now_ms - MAX_EVENT_WINDOW_DAYS * DAY_MS
        forget = audiences.forget_identity_events_before
        counted = _chunked(lambda: forget(oldest, chunk), chunk, max_chunks)
    kept = 0
    if profiles is not None:  # 0 days keeps none: those kept before go too
        before = now_ms - person_event_days * DAY_MS
        kept = _chunked(
            lambda: profiles.forget_person_events_before(before, chunk), chunk, max_chunks
        )
    return Expired(records, steps, counted, kept)


def _chunked(delete: Callable[[], int], chunk: int, max_chunks: int) -> int:
    """Call ``delete`` (a chunk at most each call) until a chunk is not full, at most
    ``max_chunks`` times; how many went."""
    total = 0
    for _ in range(max_chunks):
        deleted = delete()
        total += deleted
        if deleted < chunk:
            break
    return total


async def run_retention(
    store: ResourceStore,
    journeys: JourneyStore,
    clock: Clock,
    *,
    step_event_days: int,
    interval_seconds: float,
    audiences: AudienceStore | None = None,
    profiles: ProfileStore | None = None,
    person_event_days: int = 0,
) -> None:
    """A pass now, then every ``interval_seconds``, until cancelled; a failed pass is
    logged and the next one tries again."""
    while True:
        try:
            done = await asyncio.to_thread(
                expire,
                store,
                journeys,
                clock.now_ms(),
                step_event_days=step_event_days,
                audiences=audiences,
                profiles=profiles,
                person_event_days=person_event_days,
            )
        except Exception:
            log.exception("retention pass failed")
        else:
            if done.records or done.step_events or done.audience_events or done.person_events:
                log.info(
                    "retention: deleted %d records, %d step events, %d audience events, "
                    "%d experience events kept for people",
                    done.records,
                    done.step_events,
                    done.audience_events,
                    done.person_events,
                )
        await asyncio.sleep(interval_seconds)
