"""One retention pass (``registry/retention.expire``) over the memory stores."""

from __future__ import annotations

import msgspec

from tests.contract.conftest import ORG, message
from wayfare.model.expressions import MAX_EVENT_WINDOW_DAYS
from wayfare.model.identities import Identity
from wayfare.model.person_events import PersonEvent
from wayfare.model.resources import Dataset
from wayfare.model.runs import EngineBatch, StepRecord
from wayfare.registry.retention import DAY_MS, Expired, expire
from wayfare.store.memory import MemoryStore
from wayfare.store.memory_audiences import MemoryAudienceStore
from wayfare.store.memory_journeys import MemoryJourneyStore

NOW = 100 * DAY_MS


def stores(days: int | None) -> tuple[MemoryStore, MemoryJourneyStore]:
    store = MemoryStore()
    store.add_dataset(Dataset("dataset-1", ORG, "one", "schema-1", False, 0, days))
    store.add_dataset(Dataset("dataset-2", ORG, "two", "schema-1", False, 0))
    ages = [40, 31, 30, 29, 1]
    store.store_messages(
        [message(f"d{age}", received_ms=NOW - age * DAY_MS) for age in ages]
        + [message("kept-elsewhere", received_ms=0, dataset_id="dataset-2")]
    )
    return store, MemoryJourneyStore(store)


def test_records_older_than_their_datasets_days_go_others_stay() -> None:
    store, journeys = stores(30)
    assert expire(store, journeys, NOW, step_event_days=0) == Expired(2, 0)
    kept = [r.xaction_id for r in store.list_records("dataset-1", limit=10)]
    assert kept == ["d30", "d29", "d1"]
    assert store.count_records("dataset-2") == 1
    assert expire(store, journeys, NOW, step_event_days=0) == Expired(0, 0)


def test_a_dataset_without_retention_keeps_everything() -> None:
    store, journeys = stores(None)
    assert expire(store, journeys, NOW, step_event_days=0) == Expired(0, 0)
    assert store.count_records("dataset-1") == 5


def test_a_pass_deletes_in_chunks_and_at_most_its_chunks_then_the_next_pass_goes_on() -> None:
    store, journeys = stores(2)
    assert expire(store, journeys, NOW, step_event_days=0, chunk=1, max_chunks=3).records == 3
    assert expire(store, journeys, NOW, step_event_days=0, chunk=1, max_chunks=3).records == 1
    assert [r.xaction_id for r in store.list_records("dataset-1", limit=10)] == ["d1"]


def test_step_events_older_than_the_setting_go_and_none_without_it() -> None:
    store, journeys = stores(None)
    step = StepRecord(ORG, "welcome", 1, "n", "end", "i", "ada", "ended", None, 0, 0)
    journeys.commit(
        EngineBatch(
            steps=[
                msgspec.structs.replace(step, node="old", at_ms=NOW - 8 * DAY_MS),
                msgspec.structs.replace(step, node="new", at_ms=NOW - 6 * DAY_MS),
            ]
        )
    )
    assert expire(store, journeys, NOW, step_event_days=0).step_events == 0
    assert expire(store, journeys, NOW, step_event_days=7).step_events == 1
    assert [s.node for s in journeys.list_steps(ORG, "welcome", 10)] == ["new"]


def test_events_kept_for_audiences_go_once_no_window_reaches_them() -> None:
    store, journeys = stores(None)
    audiences = MemoryAudienceStore()
    ada = Identity("Email", "ada@example.com")
    oldest_window = NOW - MAX_EVENT_WINDOW_DAYS * DAY_MS
    for at in (oldest_window - 2, oldest_window - 1, oldest_window, NOW):
        audiences.add_identity_event(ORG, ada, "cart", at)
    done = expire(store, journeys, NOW, step_event_days=0, audiences=audiences)
    assert done.audience_events == 2
    window = ("cart", MAX_EVENT_WINDOW_DAYS * DAY_MS)
    assert audiences.count_identity_events(ORG, [ada], [window], NOW) == {window: 1}


def test_experience_events_kept_for_people_go_past_their_days_and_all_with_none() -> None:
    store, journeys = stores(None)
    ada = Identity("Email", "ada@example.com")
    kept = [
        PersonEvent(ORG, ada, "web", f"x{days}", NOW - days * DAY_MS, NOW, None)
        for days in (8, 7, 6)
    ]
    journeys.commit(EngineBatch(person_events=kept))
    profiles = journeys.profiles
    done = expire(store, journeys, NOW, step_event_days=0, profiles=profiles, person_event_days=7)
    assert done.person_events == 1
    assert [e.xaction_id for e in profiles.person_events(ORG, [ada], 10)] == ["x6", "x7"]
    done = expire(store, journeys, NOW, step_event_days=0, profiles=profiles, person_event_days=0)
    assert done.person_events == 2  # keeping none: those kept before go too
