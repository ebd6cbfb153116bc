"""``JourneyStore.generation`` is kept in the database: a journey change committed through one
``SQLiteJourneyStore`` moves it as read through another on the same file (as the server and
the journey engine's process each open their own), and reads do not move it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wayfare.model.runs import EngineBatch, JourneyVersion
from wayfare.store.sqlite.connection import migrate
from wayfare.store.sqlite.journeys import SQLiteJourneyStore

pytestmark = pytest.mark.integration

ORG = "ACME@AdobeOrg"
T0 = 1_700_000_000_000


def version(
    number: int = 1, *, name: str = "welcome", entry_event: str = "signup", nodes: int = 1
) -> JourneyVersion:
    return JourneyVersion(
        org_id=ORG,
        name=name,
        version=number,
        state="draft",
        entry_event=entry_event,
        definition={"activities": {f"step-{n}": {"type": "end"} for n in range(nodes)}},
        test_mode=False,
        created_ms=T0,
        changed_ms=T0,
    )


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[SQLiteJourneyStore, SQLiteJourneyStore]]:
    """Two independent stores (connections) on one migrated file: a server's and an
    engine's."""
    path = tmp_path / "wayfare.sqlite3"
    migrate(path)
    writing = SQLiteJourneyStore(path, fsync=False)
    reading = SQLiteJourneyStore(path, fsync=False)
    try:
        yield writing, reading
    finally:
        writing.close()
        reading.close()


def test_a_fresh_store_starts_at_the_same_generation_on_both_connections(
    two_stores: tuple[SQLiteJourneyStore, SQLiteJourneyStore],
) -> None:
    writing, reading = two_stores

    assert writing.generation == reading.generation == 0


def test_adding_a_version_through_one_store_moves_the_generation_read_through_the_other(
    two_stores: tuple[SQLiteJourneyStore, SQLiteJourneyStore],
) -> None:
    writing, reading = two_stores
    before = reading.generation

    writing.add_journey_version(version(1))
    after_first = reading.generation
    writing.add_journey_version(version(2))
    after_second = reading.generation

    assert before < after_first < after_second
    assert writing.generation == after_second


def test_replacing_a_draft_through_one_store_moves_the_generation_read_through_the_other(
    two_stores: tuple[SQLiteJourneyStore, SQLiteJourneyStore],
) -> None:
    writing, reading = two_stores
    writing.add_journey_version(version(1))
    before = reading.generation

    writing.replace_draft(version(1, entry_event="purchase", nodes=3))

    assert reading.generation > before
    replaced = reading.get_journey(ORG, "welcome", 1)
    assert replaced is not None
    assert replaced.entry_event == "purchase"


def test_changing_a_state_through_one_store_moves_the_generation_read_through_the_other(
    two_stores: tuple[SQLiteJourneyStore, SQLiteJourneyStore],
) -> None:
    writing, reading = two_stores
    writing.add_journey_version(version(1))
    before = reading.generation

    writing.set_journey_state(ORG, "welcome", 1, "live", T0 + 1)
    live = reading.generation
    writing.set_journey_state(ORG, "welcome", 1, "closed", T0 + 2, test_mode=False)
    closed = reading.generation

    assert before < live < closed
    current = reading.get_journey(ORG, "welcome")
    assert current is not None
    assert current.state == "closed"


def test_changes_through_either_store_move_the_one_generation_both_read(
    two_stores: tuple[SQLiteJourneyStore, SQLiteJourneyStore],
) -> None:
    first, second = two_stores

    first.add_journey_version(version(1, name="welcome"))
    second.add_journey_version(version(1, name="winback"))
    first.set_journey_state(ORG, "winback", 1, "live", T0 + 1)
    second.replace_draft(version(1, name="welcome", nodes=2))

    assert first.generation == second.generation
    assert first.generation >= 4


def test_reads_that_change_nothing_do_not_move_the_generation(
    two_stores: tuple[SQLiteJourneyStore, SQLiteJourneyStore],
) -> None:
    writing, reading = two_stores
    writing.add_journey_version(version(1))
    writing.set_journey_state(ORG, "welcome", 1, "live", T0 + 1)
    before = reading.generation

    for store in (writing, reading):
        assert store.get_journey(ORG, "welcome") is not None
        assert store.get_journey(ORG, "welcome", 1) is not None
        assert store.get_journey(ORG, "missing") is None
        assert len(store.journey_versions(ORG, "welcome")) == 1
        assert [v.name for v in store.list_journeys(ORG)] == ["welcome"]
        assert [v.name for v in store.entry_journeys(ORG, "signup")] == ["welcome"]
        assert store.journeys_using_event(ORG, "signup") == ["welcome"]
        assert store.journey_instances(ORG, "welcome", live_only=True, limit=10) == []
        store.report(ORG, "welcome")
        assert store.generation == before

    assert reading.generation == writing.generation == before


def test_engine_commits_that_touch_no_journey_do_not_move_the_generation(
    two_stores: tuple[SQLiteJourneyStore, SQLiteJourneyStore],
) -> None:
    writing, reading = two_stores
    writing.add_journey_version(version(1))
    before = reading.generation

    writing.commit(EngineBatch(cursor=("engine", 42)))

    assert reading.cursor("engine") == 42
    assert reading.generation == before


def test_replacing_a_version_that_is_no_longer_a_draft_changes_nothing_and_moves_nothing(
    two_stores: tuple[SQLiteJourneyStore, SQLiteJourneyStore],
) -> None:
    writing, reading = two_stores
    writing.add_journey_version(version(1))
    writing.set_journey_state(ORG, "welcome", 1, "live", T0 + 1)
    before = reading.generation

    writing.replace_draft(version(1, entry_event="purchase"))

    unchanged = reading.get_journey(ORG, "welcome", 1)
    assert unchanged is not None
    assert unchanged.entry_event == "signup"
    assert reading.generation == before
