"""The JourneyStore contract (catalog, run store, reports), over every backend.

A journey store is opened twice where the backend has connections (``writing`` and
``reading``), as a server and its journey engines each open their own: what one commits,
the other reads.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import msgspec
import pytest

from tests.contract.conftest import ORG, OTHER_ORG, T0, Backend, message
from tests.people import crm, ecid, email
from wayfare.errors import ConflictError, FencedError
from wayfare.ids import SeededEntropy
from wayfare.model.admission import Stay
from wayfare.model.events import Unmatched
from wayfare.model.identities import Identity, namespaces_of
from wayfare.model.identity_graph import Arrival, Person, apply_change, link
from wayfare.model.instances import Instance
from wayfare.model.matching import EventMatch
from wayfare.model.profile_records import Operation, ProfileUpdate
from wayfare.model.records import FirstMessage
from wayfare.model.runs import (
    ActionRetry,
    ActionSettled,
    Discard,
    EngineBatch,
    ForwardedEvent,
    JourneyPeople,
    JourneyVersion,
    NewAction,
    NewTimer,
    StepRecord,
    TestEntry,
)
from wayfare.store.ports import JourneyStore

PEOPLE = [f"person-{n:02d}@example.com" for n in range(30)]


@pytest.fixture
def writing(backend: Backend) -> JourneyStore:
    return backend.open_journeys()


@pytest.fixture
def reading(backend: Backend, writing: JourneyStore) -> JourneyStore:
    return backend.open_journeys()


def version(
    number: int = 1,
    *,
    name: str = "welcome",
    entry_event: str = "signup",
    state: Any = "draft",
    org_id: str = ORG,
) -> JourneyVersion:
    return JourneyVersion(
        org_id=org_id,
        name=name,
        version=number,
        state=state,
        entry_event=entry_event,
        definition={"name": name, "activities": {"done": {"type": "end"}}, "n": number},
        test_mode=False,
        created_ms=T0,
        changed_ms=T0,
    )


def instance(
    instance_id: str,
    identity: str,
    *,
    org_id: str = ORG,
    journey: str = "welcome",
    version: int = 1,
    status: Any = "running",
    entered_ms: int = T0,
    ended_ms: int | None = None,
    partition: int = 0,
) -> Instance:
    return Instance(
        instance_id=instance_id,
        org_id=org_id,
        journey=journey,
        version=version,
        identity=identity,
        seed=7,
        entered_ms=entered_ms,
        status=status,
        node="wait-a-day",
        events={"signup": {"plan": "pro", "n": instance_id}},
        wait_kind="timer" if status == "waiting" else None,
        ended_ms=ended_ms,
        partition=partition,
    )


def action(instance_id: str, *, node: str = "notify", partition: int = 0) -> NewAction:
    return NewAction(
        instance_id,
        partition,
        node,
        3,
        "http",
        {"url": "https://h.example/x", "body": {"who": instance_id}},
        f"{instance_id}:{node}",
        T0,
    )


def step(node: str, kind: str, status: str, instance_id: str = "i-1") -> StepRecord:
    return StepRecord(ORG, "welcome", 1, node, kind, instance_id, "ada@x.io", status, None, 1, 1)


# the catalog


def test_versions_are_read_back_latest_first_where_asked(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.add_journey_version(version(1))
    writing.add_journey_version(version(2))
    writing.add_journey_version(version(1, name="another"))
    writing.add_journey_version(version(1, org_id=OTHER_ORG))
    assert reading.get_journey(ORG, "welcome") == version(2)
    assert reading.get_journey(ORG, "welcome", 1) == version(1)
    assert reading.get_journey(ORG, "welcome", 3) is None
    assert reading.get_journey(ORG, "missing") is None
    assert [v.version for v in reading.journey_versions(ORG, "welcome")] == [1, 2]
    assert [(v.name, v.version) for v in reading.list_journeys(ORG)] == [
        ("another", 1),
        ("welcome", 2),
    ]
    with pytest.raises(ConflictError):
        writing.add_journey_version(version(2))


def test_a_draft_is_replaced_in_place_and_nothing_else_is(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.add_journey_version(version(1))
    changed = dataclasses.replace(version(1), entry_event="purchase", changed_ms=5)
    writing.replace_draft(changed)
    assert reading.get_journey(ORG, "welcome", 1) == changed
    writing.set_journey_state(ORG, "welcome", 1, "live", T0 + 1)
    writing.replace_draft(version(1, entry_event="other"))
    found = reading.get_journey(ORG, "welcome", 1)
    assert found is not None and found.entry_event == "purchase"


def test_publishing_closes_the_live_version_and_opens_the_draft_at_once(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.add_journey_version(version(1))
    writing.publish_journey(ORG, "welcome", 1, T0 + 1)
    writing.add_journey_version(version(2))
    writing.set_journey_state(ORG, "welcome", 2, "draft", T0 + 2, test_mode=True)
    writing.publish_journey(ORG, "welcome", 2, T0 + 3)
    states = [(v.version, v.state, v.test_mode) for v in reading.journey_versions(ORG, "welcome")]
    assert states == [(1, "closed", False), (2, "live", False)]


def test_stopping_stops_every_version_that_can_hold_people(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    for n, state in enumerate(["closed", "closed", "live", "draft"], 1):
        writing.add_journey_version(version(n, state=state))
    writing.add_journey_version(version(1, name="other", state="live"))
    writing.stop_journey(ORG, "welcome", T0 + 9)
    assert {v.state for v in reading.journey_versions(ORG, "welcome")} == {"stopped"}
    assert [v.state for v in reading.journey_versions(ORG, "other")] == ["live"]
    assert [v.name for v in reading.active_versions(ORG)] == ["other"]


def test_entry_journeys_are_the_live_versions_and_the_drafts_in_test_mode(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.add_journey_version(version(1, state="live"))
    writing.add_journey_version(version(1, name="testing"))
    writing.add_journey_version(version(1, name="plain-draft"))
    writing.add_journey_version(version(1, name="elsewhere", entry_event="purchase", state="live"))
    writing.set_journey_state(ORG, "testing", 1, "draft", T0, test_mode=True)
    names = sorted(v.name for v in reading.entry_journeys(ORG, "signup"))
    assert names == ["testing", "welcome"]
    assert reading.entry_journeys(OTHER_ORG, "signup") == []
    active = sorted(v.name for v in reading.active_versions(ORG))
    assert active == ["elsewhere", "plain-draft", "testing", "welcome"]


def test_a_paused_version_takes_no_one_in_until_the_journey_is_resumed(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.add_journey_version(version(1, state="live"))
    writing.add_journey_version(version(1, name="other", state="live"))
    writing.add_journey_version(version(1, name="other", org_id=OTHER_ORG, state="live"))
    writing.pause_journey(ORG, "welcome", 1, "3 steps failed in a row", T0 + 5)
    paused = dataclasses.replace(
        version(1, state="live"), paused="3 steps failed in a row", changed_ms=T0 + 5
    )
    assert reading.get_journey(ORG, "welcome") == paused
    assert reading.journey_versions(ORG, "welcome") == [paused]
    assert reading.list_journeys(ORG)[1] == paused
    assert [v.name for v in reading.entry_journeys(ORG, "signup")] == ["other"]
    assert [v.name for v in reading.entry_journeys(OTHER_ORG, "signup")] == ["other"]
    # people inside carry on
    assert [v.name for v in reading.active_versions(ORG)] == ["other", "welcome"]

    writing.resume_journey(ORG, "welcome", T0 + 9)
    assert reading.get_journey(ORG, "welcome") == dataclasses.replace(
        version(1, state="live"), changed_ms=T0 + 9
    )
    assert sorted(v.name for v in reading.entry_journeys(ORG, "signup")) == ["other", "welcome"]


def test_editing_or_publishing_a_paused_draft_lifts_its_pause(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.add_journey_version(version(1))
    writing.pause_journey(ORG, "welcome", 1, "failing", T0)
    writing.replace_draft(dataclasses.replace(version(1), entry_event="purchase"))
    edited = reading.get_journey(ORG, "welcome")
    assert edited is not None and (edited.entry_event, edited.paused) == ("purchase", None)
    writing.pause_journey(ORG, "welcome", 1, "failing again", T0)
    writing.publish_journey(ORG, "welcome", 1, T0 + 1)
    published = reading.get_journey(ORG, "welcome")
    assert published is not None and (published.state, published.paused) == ("live", None)


def test_every_change_to_a_version_moves_the_generation_seen_by_every_handle(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    seen = [reading.generation]
    writing.add_journey_version(version(1))
    seen.append(reading.generation)
    writing.replace_draft(version(1, entry_event="purchase"))
    seen.append(reading.generation)
    writing.set_journey_state(ORG, "welcome", 1, "draft", T0, test_mode=True)
    seen.append(reading.generation)
    writing.publish_journey(ORG, "welcome", 1, T0)
    seen.append(reading.generation)
    writing.pause_journey(ORG, "welcome", 1, "failing", T0)
    seen.append(reading.generation)
    writing.resume_journey(ORG, "welcome", T0)
    seen.append(reading.generation)
    writing.stop_journey(ORG, "welcome", T0)
    seen.append(reading.generation)
    assert len(set(seen)) == len(seen), seen
    assert writing.generation == reading.generation


def test_reads_and_engine_commits_do_not_move_the_generation(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.add_journey_version(version(1, state="live"))
    before = reading.generation
    reading.get_journey(ORG, "welcome")
    reading.list_journeys(ORG)
    reading.entry_journeys(ORG, "signup")
    reading.active_versions(ORG)
    reading.report(ORG, "welcome")
    writing.commit(EngineBatch(positions={0: 42}, instances=[instance("i-1", "ada@x.io")]))
    writing.replace_draft(version(1, entry_event="other"))  # not a draft: changes nothing
    assert reading.log_positions([0]) == {0: 42}
    assert reading.generation == before


def test_test_profiles_are_per_org(writing: JourneyStore, reading: JourneyStore) -> None:
    writing.add_test_profile(ORG, "ada@x.io")
    writing.add_test_profile(ORG, "ada@x.io")
    assert reading.is_test_profile(ORG, "ada@x.io")
    assert not reading.is_test_profile(OTHER_ORG, "ada@x.io")
    assert not reading.is_test_profile(ORG, "bob@x.io")


# instances


@pytest.fixture
def people(writing: JourneyStore) -> dict[str, Instance]:
    """For each of 30 people: a live 'welcome' instance, and for every other person an
    older ended one (committed later); 'winback' ended for every third; the first three
    also in another org."""
    found: dict[str, Instance] = {}
    for n, person in enumerate(PEOPLE):
        status = "waiting" if n % 2 else "running"
        found[f"w-{n}"] = instance(f"w-{n}", person, status=status, entered_ms=T0 + n)
    for n, person in enumerate(PEOPLE):
        if n % 2 == 0:
            found[f"old-{n}"] = instance(
                f"old-{n}", person, status="finished", entered_ms=T0 - 5_000, ended_ms=T0 + 9_999
            )
        if n % 3 == 0:
            found[f"wb-{n}"] = instance(
                f"wb-{n}", person, journey="winback", status="exited", entered_ms=T0 + 5,
                ended_ms=T0 + 9,
            )  # fmt: skip
    for n, person in enumerate(PEOPLE[:3]):
        found[f"other-{n}"] = instance(f"other-{n}", person, org_id=OTHER_ORG, entered_ms=T0 + 50)
    states = list(found.values())
    writing.commit(EngineBatch(instances=states[:40]))
    writing.commit(EngineBatch(instances=states[40:]))
    return found


def by_id(instances: list[Instance]) -> dict[str, Instance]:
    found = {i.instance_id: i for i in instances}
    assert len(found) == len(instances), "an instance came back twice"
    return found


def test_instances_are_read_back_as_committed(
    reading: JourneyStore, people: dict[str, Instance]
) -> None:
    wanted = [f"w-{n}" for n in range(0, 30, 2)] + [f"old-{n}" for n in range(0, 30, 2)]
    assert by_id(reading.instances([*wanted, "no-such-instance"])) == {i: people[i] for i in wanted}
    assert reading.instances(["w-28"])[0].events == {"signup": {"plan": "pro", "n": "w-28"}}
    assert reading.instances([]) == []


def test_live_instances_are_the_running_and_waiting_ones_of_these_people_in_this_org(
    reading: JourneyStore, people: dict[str, Instance]
) -> None:
    assert by_id(reading.live_instances(ORG, PEOPLE)) == {
        f"w-{n}": people[f"w-{n}"] for n in range(30)
    }
    assert sorted(by_id(reading.live_instances(ORG, PEOPLE[20:23]))) == ["w-20", "w-21", "w-22"]
    assert sorted(by_id(reading.live_instances(OTHER_ORG, PEOPLE))) == [
        "other-0",
        "other-1",
        "other-2",
    ]
    assert reading.live_instances(ORG, ["nobody@example.com"]) == []


def test_latest_stays_come_from_each_persons_latest_instance_of_each_journey(
    reading: JourneyStore, people: dict[str, Instance]
) -> None:
    expected: dict[tuple[str, str], Stay] = {}
    for n, person in enumerate(PEOPLE):
        expected[("welcome", person)] = Stay(T0 + n, None)  # the live one entered last
        if n % 3 == 0:
            expected[("winback", person)] = Stay(T0 + 5, T0 + 9)
    assert reading.latest_stays(ORG, PEOPLE) == expected
    assert reading.latest_stays(OTHER_ORG, PEOPLE[:2]) == {
        ("welcome", PEOPLE[0]): Stay(T0 + 50, None),
        ("welcome", PEOPLE[1]): Stay(T0 + 50, None),
    }


def test_the_latest_stay_is_the_latest_entered_even_when_an_older_one_ended_later(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    newer = instance("newer", "ada@x.io", status="finished", entered_ms=T0 + 100, ended_ms=T0 + 200)
    older = instance("older", "ada@x.io", status="exited", entered_ms=T0, ended_ms=T0 + 900)
    writing.commit(EngineBatch(instances=[newer, older]))
    assert reading.latest_stays(ORG, ["ada@x.io"]) == {
        ("welcome", "ada@x.io"): Stay(T0 + 100, T0 + 200)
    }


def test_committing_an_instance_again_replaces_it(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    first = instance("i-1", "ada@x.io", status="waiting")
    writing.commit(EngineBatch(instances=[first]))
    done = instance("i-1", "ada@x.io", status="finished", ended_ms=T0 + 60_000)
    done.node, done.steps = None, 4
    writing.commit(EngineBatch(instances=[done]))
    assert reading.instances(["i-1"]) == [done]
    assert reading.live_instances(ORG, ["ada@x.io"]) == []
    assert reading.latest_stays(ORG, ["ada@x.io"]) == {
        ("welcome", "ada@x.io"): Stay(T0, T0 + 60_000)
    }


def test_a_person_whose_identity_holds_a_nul_character_is_kept_and_found(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    # An identity is whatever the sender put in the event; one such person must not make
    # every later commit fail.
    odd = "ada\x00@x.io"
    writing.commit(
        EngineBatch(
            instances=[instance("i-1", odd, status="waiting")],
            steps=[
                StepRecord(ORG, "welcome", 1, "entry", "entry", "i-1", odd, "ended", "\x00", 1, 1)
            ],
            discards=[Discard(ORG, "welcome", odd, "re-entry too soon", T0)],
        )
    )
    assert [i.identity for i in reading.live_instances(ORG, [odd])] == [odd]
    assert reading.latest_stays(ORG, [odd]) == {("welcome", odd): Stay(T0, None)}
    assert reading.report(ORG, "welcome")["discarded"] == 1
    assert reading.live_instances(ORG, ["ada@x.io"]) == []


def test_journey_instances_are_newest_first_and_live_only_when_asked(
    reading: JourneyStore, people: dict[str, Instance]
) -> None:
    live = reading.journey_instances(ORG, "welcome", live_only=True)
    assert [i.instance_id for i in live] == [f"w-{n}" for n in range(29, -1, -1)]
    every = reading.journey_instances(ORG, "welcome", live_only=False, limit=1000)
    assert len(every) == 45
    assert len(reading.journey_instances(ORG, "welcome", live_only=False, limit=5)) == 5


def test_live_instances_are_counted_by_the_activity_they_are_at(
    writing: JourneyStore, reading: JourneyStore, people: dict[str, Instance]
) -> None:
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 30}
    moved = people["w-3"].copy()
    moved.node = "check"
    at_end = instance("late", "zed@x.io", status="finished", ended_ms=T0)
    writing.commit(EngineBatch(instances=[moved, at_end]))
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 29, "check": 1}
    assert reading.live_by_node(ORG, "winback") == {}  # ended, every one
    assert reading.live_by_node(OTHER_ORG, "welcome") == {"wait-a-day": 3}

    # kept as instances move, end and exit (a stop), whatever a batch holds
    on, done = moved.copy(), moved.copy()
    on.node = "notify"
    done.node, done.status, done.ended_ms = "done", "finished", T0 + 1
    exited = dataclasses.replace(people["w-4"], status="exited", ended_ms=T0 + 1)
    fresh = instance("new", "new@x.io")
    fresh_on = fresh.copy()
    fresh_on.node = "check"
    writing.commit(EngineBatch(instances=[on, done, exited, fresh, fresh_on]))
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 28, "check": 1}
    writing.commit(EngineBatch(instances=[exited]))  # again: nothing moves
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 28, "check": 1}
    nowhere = instance("nowhere", "no@x.io")
    nowhere.node = None
    writing.commit(EngineBatch(instances=[nowhere]))
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 28, "check": 1}
    assert sum(reading.live_by_node(ORG, "welcome").values()) == len(
        [i for i in reading.journey_instances(ORG, "welcome", live_only=True) if i.node]
    )


def test_the_live_instances_of_stopped_versions_are_found_by_partition(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.add_journey_version(version(1, state="closed"))
    writing.add_journey_version(version(2, state="live"))
    writing.add_journey_version(version(1, name="other", state="live"))
    writing.commit(
        EngineBatch(
            instances=[
                instance("v1-p0", "a", version=1, partition=0),
                instance("v1-p1", "b", version=1, partition=1),
                instance("v2-p1", "c", version=2, partition=1, status="waiting"),
                instance("v2-done", "d", version=2, partition=1, status="finished"),
                instance("other-p1", "e", journey="other", partition=1),
            ]
        )
    )
    assert reading.stopped_instances([0, 1], 100) == []
    writing.stop_journey(ORG, "welcome", T0)
    assert sorted(i.instance_id for i in reading.stopped_instances([1], 100)) == [
        "v1-p1",
        "v2-p1",
    ]
    assert [i.instance_id for i in reading.stopped_instances([0], 100)] == ["v1-p0"]
    assert len(reading.stopped_instances([0, 1], 2)) == 2
    assert reading.stopped_instances([2], 100) == []


# timers


def test_due_timers_are_read_by_partition_earliest_first_and_go_when_fired_or_cleared(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.commit(
        EngineBatch(
            new_timers=[
                NewTimer("a", 0, T0 + 30, 1, "wait"),
                NewTimer("b", 0, T0 + 10, 1, "timeout"),
                NewTimer("c", 1, T0 + 20, 2, "wait"),
                NewTimer("a", 0, T0 + 99, 0, "global"),
            ]
        )
    )
    due = reading.due_timers([0], T0 + 50, 10)
    assert [(t.instance_id, t.due_ms, t.token, t.kind) for t in due] == [
        ("b", T0 + 10, 1, "timeout"),
        ("a", T0 + 30, 1, "wait"),
    ]
    assert [t.instance_id for t in reading.due_timers([0, 1], T0 + 50, 10)] == ["b", "c", "a"]
    assert [t.instance_id for t in reading.due_timers([0, 1], T0 + 50, 1)] == ["b"]
    assert reading.next_timer_ms([0]) == T0 + 10
    assert reading.next_timer_ms([1]) == T0 + 20
    assert reading.next_timer_ms([2]) is None
    writing.commit(EngineBatch(fired_timers=[due[0].timer_id], clear_timers=["a"]))
    assert reading.due_timers([0, 1], T0 + 1_000, 10) == reading.due_timers([1], T0 + 1_000, 10)
    assert reading.next_timer_ms([0]) is None


# the outbox


def test_new_actions_get_increasing_ids_that_are_never_given_twice(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    first = writing.commit(EngineBatch(new_actions=[action("a"), action("b"), action("c")]))
    assert [(o.instance_id, o.key, o.attempts, o.next_ms) for o in first] == [
        ("a", "a:notify", 0, T0),
        ("b", "b:notify", 0, T0),
        ("c", "c:notify", 0, T0),
    ]
    ids = [o.outbox_id for o in first]
    assert ids == sorted(ids) and len(set(ids)) == 3
    writing.commit(
        EngineBatch(
            settled=[
                ActionSettled(ids[0], True, 1, None),
                ActionSettled(ids[1], True, 1, None),
                ActionSettled(ids[2], False, 5, "HTTP 404"),
            ]
        )
    )
    second = writing.commit(EngineBatch(new_actions=[action("d"), action("e")]))
    assert min(o.outbox_id for o in second) > max(ids)  # delivered items still count
    assert reading.pending_outbox([0], 0, 100) == second
    assert writing.commit(EngineBatch()) == []


def test_pending_actions_are_read_by_partition_and_id_whatever_their_time(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    new = writing.commit(
        EngineBatch(
            new_actions=[
                action(f"i-{k}", partition=k % 2)
                for k in range(1, 8)  # the later the id, the sooner due: still by id
            ]
        )
    )
    ids = [o.outbox_id for o in new]
    writing.commit(
        EngineBatch(
            settled=[ActionSettled(ids[1], True, 1, None), ActionSettled(ids[4], False, 3, "403")],
            retries=[ActionRetry(ids[2], 2, T0 + 99_000, "HTTP 503")],
        )
    )
    pending = [o.outbox_id for o in reading.pending_outbox([0, 1], 0, 100)]
    assert pending == [ids[0], ids[2], ids[3], ids[5], ids[6]]
    assert [o.outbox_id for o in reading.pending_outbox([0, 1], ids[2], 100)] == [
        ids[3],
        ids[5],
        ids[6],
    ]
    assert [o.outbox_id for o in reading.pending_outbox([0, 1], 0, 2)] == [ids[0], ids[2]]
    assert [o.instance_id for o in reading.pending_outbox([1], 0, 100)] == ["i-1", "i-3", "i-7"]
    assert reading.pending_outbox([0, 1], ids[6], 100) == []
    retried = reading.pending_outbox([1], ids[1], 1)[0]
    assert (retried.instance_id, retried.attempts, retried.next_ms, retried.partition) == (
        "i-3",
        2,
        T0 + 99_000,
        1,
    )
    assert retried.request == {"url": "https://h.example/x", "body": {"who": "i-3"}}


# what engines read and queue


def test_log_positions_are_kept_per_partition(writing: JourneyStore, reading: JourneyStore) -> None:
    assert reading.log_positions([0, 1]) == {}
    writing.commit(EngineBatch(positions={0: 5, 3: 9}))
    writing.commit(EngineBatch(positions={0: 7}))
    assert reading.log_positions([0, 1, 3]) == {0: 7, 3: 9}
    assert reading.log_positions([1]) == {}


def test_test_entries_are_queued_by_partition_until_an_engine_takes_them(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    entity = {"identityMap": {"Email": [{"id": "ada@x.io"}]}, "deep": [1, {"a": None}]}
    first = writing.add_test_entry(TestEntry(ORG, "welcome", 2, "ada@x.io", 1, entity))
    second = writing.add_test_entry(TestEntry(ORG, "welcome", 2, "bob@x.io", 0, {}))
    third = writing.add_test_entry(TestEntry(ORG, "welcome", 2, "eve@x.io", 1, {}))
    assert len({first, second, third}) == 3
    queued = reading.test_entries([1], 10)
    assert queued == [
        TestEntry(ORG, "welcome", 2, "ada@x.io", 1, entity, first),
        TestEntry(ORG, "welcome", 2, "eve@x.io", 1, {}, third),
    ]
    assert [e.entry_id for e in reading.test_entries([0, 1], 1)] == [first]
    assert not reading.test_entry_done(first)
    writing.commit(EngineBatch(test_entries_done=[first, second]))
    assert reading.test_entry_done(first) and reading.test_entry_done(second)
    assert [e.entry_id for e in reading.test_entries([0, 1], 10)] == [third]


def test_forwarded_events_are_queued_by_partition_until_a_commit_takes_them(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    """An engine's commit queues events for instances of other partitions; the engine
    holding a partition reads them oldest first and takes them in its own commit."""
    entity = {"identityMap": {"Email": [{"id": "ada@x.io"}]}, "cart": {"total": 42.5, "n": None}}
    writing.commit(
        EngineBatch(
            forwards=[
                ForwardedEvent(ORG, "i-a", 1, "purchase", entity),
                ForwardedEvent(ORG, "i-b", 0, "purchase", {}),
                ForwardedEvent(OTHER_ORG, "i-c", 1, "cart", {"x": "\u00e9"}),
            ]
        )
    )
    queued = reading.forwarded_events([1], 10)
    assert [(f.org_id, f.instance_id, f.partition, f.event, f.entity) for f in queued] == [
        (ORG, "i-a", 1, "purchase", entity),
        (OTHER_ORG, "i-c", 1, "cart", {"x": "\u00e9"}),
    ]
    assert queued[0].forward_id < queued[1].forward_id
    first = reading.forwarded_events([0, 1], 1)
    assert [f.instance_id for f in first] == ["i-a"]
    writing.commit(EngineBatch(forwards_done=[first[0].forward_id]))
    assert [f.instance_id for f in reading.forwarded_events([0, 1], 10)] == ["i-b", "i-c"]
    assert reading.forwarded_events([2], 10) == []


def test_an_instance_ended_by_a_merge_takes_its_forwarded_events_with_it(
    backend: Backend,
) -> None:
    journeys = backend.open_journeys()
    journeys.add_journey_version(waiting_version())
    older = instance("i-a", "a@x.org", status="waiting", entered_ms=T0)
    newer = instance("i-b", "b@x.org", status="waiting", entered_ms=T0 + 5, partition=1)
    journeys.commit(
        EngineBatch(
            instances=[older, newer],
            links=[arrival(T0, email("a@x.org")), arrival(T0 + 1, email("b@x.org"))],
            forwards=[
                ForwardedEvent(ORG, "i-b", 1, "purchase", {}),
                ForwardedEvent(ORG, "i-a", 0, "purchase", {}),
            ],
        )
    )
    journeys.commit(EngineBatch(links=[arrival(T0 + 20, email("a@x.org"), email("b@x.org"))]))
    assert [f.instance_id for f in backend.open_journeys().forwarded_events([0, 1], 10)] == ["i-a"]


def test_messages_a_batch_carries_are_stored_with_their_outcomes_once(
    backend: Backend, writing: JourneyStore
) -> None:
    matched = message("x1", msg_id="m1", digest=b"d" * 16)
    matched.matches = [EventMatch("signup", "ada@x.io")]
    broken = message("x2", reasons=[])
    broken.reasons = b'[{"pointerToViolation": "#/a"}]'
    unmatched = message("x3")
    unmatched.matches = [EventMatch("signup", None, Unmatched.NO_EVENT_ID, "no eventID")]
    writing.commit(EngineBatch(messages=[matched, broken, unmatched], positions={0: 3}))
    writing.commit(EngineBatch(messages=[message("x4", msg_id="m1")], positions={0: 4}))
    store = backend.reopen_store()
    assert [r.xaction_id for r in store.list_records("dataset-1", limit=10)] == ["x1", "x3"]
    assert [f.xaction_id for f in store.list_failures(ORG)] == ["x2"]
    outcomes = store.list_event_matches(ORG, "signup", limit=10)
    assert [(o.xaction_id, o.match.matched, o.match.cause) for o in outcomes] == [
        ("x3", False, Unmatched.NO_EVENT_ID),
        ("x1", True, None),
    ]
    assert writing.known_message_ids(ORG, ["m1", "m2"]) == {"m1": FirstMessage("x1", b"d" * 16)}
    assert writing.known_message_ids(OTHER_ORG, ["m1"]) == {}


# reports


def test_a_report_counts_instances_step_events_and_discards(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.commit(
        EngineBatch(
            instances=[
                instance("i-1", "a", status="finished", ended_ms=T0),
                instance("i-2", "b", status="error", ended_ms=T0),
                instance("i-3", "c", status="waiting"),
            ],
            steps=[step("entry", "entry", "ended"), step("hook", "http", "ended")],
            discards=[Discard(ORG, "welcome", "d", "re-entry too soon", T0)],
        )
    )
    writing.commit(
        EngineBatch(
            steps=[step("entry", "entry", "ended", "i-2"), step("hook", "http", "error", "i-2")],
            discards=[
                Discard(ORG, "welcome", None, "identity missing", T0),
                Discard(ORG, "welcome", "e", "re-entry too soon", T0),
            ],
        )
    )
    report = reading.report(ORG, "welcome")
    assert report == {
        "journey": "welcome",
        "entered": 3,
        "inJourney": 1,
        "exited": 1,
        "inError": 1,
        "discarded": 3,
        "discardsByCause": {"re-entry too soon": 2, "identity missing": 1},
        "nodes": {
            "entry": {"type": "entry", "ended": 2},
            "hook": {"type": "http", "ended": 1, "error": 1},
        },
    }
    assert reading.report(ORG, "other")["nodes"] == {}


def test_journey_people_count_each_journey_by_status_and_the_entries_since_a_time(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.commit(
        EngineBatch(
            instances=[
                instance("i-1", "a", status="finished", entered_ms=T0 - 1, ended_ms=T0),
                instance("i-2", "b", status="waiting", entered_ms=T0, version=2),
                instance("i-3", "c", status="error", entered_ms=T0 + 5, ended_ms=T0 + 6),
                instance("i-4", "d", status="waiting", entered_ms=T0 + 5),
                instance("i-5", "a", journey="other", entered_ms=T0 + 5),
                instance("i-6", "a", org_id=OTHER_ORG, status="waiting", entered_ms=T0),
            ]
        )
    )
    statuses = {"finished": 1, "waiting": 2, "error": 1}
    assert reading.journey_people(ORG, T0) == {
        "welcome": JourneyPeople(statuses, 3),
        "other": JourneyPeople({"running": 1}, 1),
    }
    assert reading.journey_people(ORG, T0 - 1)["welcome"] == JourneyPeople(statuses, 4)
    assert reading.journey_people(ORG, T0 + 6)["welcome"] == JourneyPeople(statuses, 0)
    assert reading.journey_people(OTHER_ORG, 0) == {"welcome": JourneyPeople({"waiting": 1}, 1)}
    assert reading.journey_people("NOBODY@AdobeOrg", 0) == {}


def test_step_events_before_a_time_are_deleted_oldest_first_and_the_report_stays(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    at = [5, 1, 3, 9]
    steps = [
        StepRecord(ORG, "welcome", 1, f"n{k}", "wait", f"i-{k}", "ada@x.io", "ended", None, t, 1)
        for k, t in enumerate(at)
    ]
    other = StepRecord(OTHER_ORG, "welcome", 1, "x", "end", "o", "o", "ended", None, 2, 1)
    writing.commit(EngineBatch(steps=[*steps, other]))
    before = reading.report(ORG, "welcome")["nodes"]
    assert writing.delete_step_events_before(6, 2) == 2  # at 1 and 2
    assert [s.node for s in reading.list_steps(ORG, "welcome", 10)] == ["n3", "n2", "n0"]
    assert writing.delete_step_events_before(6, 10) == 2
    assert [s.node for s in reading.list_steps(ORG, "welcome", 10)] == ["n3"]
    assert reading.count_step_events(OTHER_ORG) == 0
    assert reading.report(ORG, "welcome")["nodes"] == before
    writing.commit(EngineBatch(steps=[step("later", "end", "ended")]))
    assert [s.node for s in reading.list_steps(ORG, "welcome", 10)] == ["later", "n3"]


def test_step_events_are_listed_newest_first_and_form_the_orgs_dataset(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    steps = [step(f"n{k}", "wait", "ended", f"i-{k}") for k in range(5)]
    other = StepRecord(OTHER_ORG, "welcome", 1, "x", "end", "o", "o", "ended", None, 1, 1)
    writing.commit(EngineBatch(steps=steps[:3]))
    writing.commit(EngineBatch(steps=[other, *steps[3:]]))
    assert [s.node for s in reading.list_steps(ORG, "welcome", 10)] == [
        "n4",
        "n3",
        "n2",
        "n1",
        "n0",
    ]
    assert [s.node for s in reading.list_steps(ORG, "welcome", 2)] == ["n4", "n3"]
    records = reading.step_event_records(ORG, limit=3)
    assert [s.node for s in records] == ["n2", "n3", "n4"]
    after = reading.step_event_records(ORG, limit=10, after_seq=records[0].seq)
    assert [s.node for s in after] == ["n3", "n4"]
    assert reading.count_step_events(ORG) == 5
    assert reading.count_step_events(OTHER_ORG) == 1
    first = reading.step_event_records(ORG, limit=10)[0]
    assert first == StepRecord(ORG, "welcome", 1, "n0", "wait", "i-0", "ada@x.io", "ended", None,
                               1, 1, first.seq)  # fmt: skip


def test_step_events_of_one_person(writing: JourneyStore, reading: JourneyStore) -> None:
    ada = [step(f"a{k}", "wait", "ended", "i-a") for k in range(3)]
    ed = msgspec.structs.replace(step("e0", "wait", "ended", "i-e"), identity="ed@x.io")
    writing.commit(EngineBatch(steps=[ada[0], ed, *ada[1:]]))
    assert [s.node for s in reading.list_steps(ORG, "welcome", 10, "ada@x.io")] == [
        "a2",
        "a1",
        "a0",
    ]
    assert [s.node for s in reading.list_steps(ORG, "welcome", 1, "ada@x.io")] == ["a2"]
    assert [s.node for s in reading.list_steps(ORG, "welcome", 10, "ed@x.io")] == ["e0"]
    assert reading.list_steps(ORG, "welcome", 10, "nobody@x.io") == []


def arrival(at: int, *identities: Identity) -> Arrival:
    """``identities`` arrived together at ``at``, for an engine's commit to link."""
    decide = functools.partial(
        link,
        arrived=identities,
        now_ms=at,
        namespaces=namespaces_of([]),
        new_person_id=SeededEntropy(at).person_id,
    )
    return Arrival(ORG, identities, decide)


def test_a_commit_links_the_identities_it_carries_in_order(backend: Backend) -> None:
    """What the journey engine consumed is linked in the identity graph by its commit, and
    only by a commit that goes through."""
    journeys = backend.open_journeys()
    journeys.commit(
        EngineBatch(
            positions={0: 2},
            links=[arrival(T0, ecid("e1")), arrival(T0 + 1, ecid("e1"), email("a@x.org"))],
        )
    )
    graph = backend.open_identity_graph()
    person = graph.person_of(ORG, email("a@x.org"))
    assert person is not None and person == graph.person_of(ORG, ecid("e1"))
    assert [x.linked_ms for x in person.links] == [T0, T0 + 1]
    with pytest.raises(FencedError):
        journeys.commit(
            EngineBatch(
                positions={0: 3},
                links=[arrival(T0 + 2, email("b@x.org"))],
                owner="nobody",
                fences={0: 99},
            )
        )
    assert graph.person_of(ORG, email("b@x.org")) is None


def test_one_commit_links_its_messages_in_turn_as_the_rule_says(backend: Backend) -> None:
    """Merges, moves and drops among the messages of one commit, and against what was
    stored before, end as the linking rule applied to each message in turn."""
    messages = [
        (ecid("e1"),),
        (email("a@x.org"), crm("1")),
        (ecid("e1"), email("a@x.org")),  # merges the two, in the same commit
        (email("desk@x.org"), crm("1")),
        (email("desk@x.org"), crm("2")),  # the desk moves to CRMID 2's new person
        (ecid("e2"), crm("2")),
        *((crm("2"), ecid(f"n{n}")) for n in range(50)),  # CRMID 2's person at the limit
    ]

    def arrival(n: int, identities: tuple[Identity, ...]) -> Arrival:
        decide = functools.partial(
            link,
            arrived=identities,
            now_ms=T0 + n,
            namespaces=namespaces_of([]),
            new_person_id=SeededEntropy(n).person_id,
        )
        return Arrival(ORG, identities, decide)

    expected: dict[str, Person] = {}
    for a in [arrival(n, m) for n, m in enumerate(messages)]:
        held = [p for p in expected.values() if p.identities & set(a.identities)]
        expected = apply_change(expected, a.decide(held))
    arrivals = [arrival(n, m) for n, m in enumerate(messages)]  # ids drawn afresh, alike
    journeys = backend.open_journeys()
    journeys.commit(EngineBatch(positions={0: 1}, links=arrivals[:2]))  # some stored before
    journeys.commit(EngineBatch(positions={0: 2}, links=arrivals[2:]))
    graph = backend.open_identity_graph()
    for person in expected.values():
        for x in person.identities:
            assert graph.person_of(ORG, x) == person
    assert graph.person_of(ORG, ecid("n0")) is None  # dropped at the limit
    assert len(expected) == 2  # the desk went with CRMID 2, CRMID 1 kept its person


def test_a_persons_instances_and_step_events_are_found_by_any_of_its_ids_newest_first(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.commit(
        EngineBatch(
            instances=[
                instance("i-1", "ada@x.io", status="finished", entered_ms=T0, ended_ms=T0 + 1),
                instance("i-2", "e-1", journey="other", status="waiting", entered_ms=T0 + 2),
                instance("i-3", "ada@x.io", status="running", entered_ms=T0 + 3),
                instance("i-4", "grace@x.io", entered_ms=T0 + 4),
                instance("i-5", "ada@x.io", org_id=OTHER_ORG, entered_ms=T0 + 5),
            ],
            steps=[
                StepRecord(ORG, "welcome", 1, node, "log", iid, who, "ended", None, at, T0)
                for node, iid, who, at in [
                    ("a", "i-1", "ada@x.io", T0),
                    ("b", "i-2", "e-1", T0 + 2),
                    ("c", "i-4", "grace@x.io", T0 + 4),
                    ("d", "i-3", "ada@x.io", T0 + 3),
                ]
            ],
        )
    )
    ids = ["ada@x.io", "e-1", "ada@x.io"]
    assert [i.instance_id for i in reading.person_instances(ORG, ids, 10)] == ["i-3", "i-2", "i-1"]
    assert [i.instance_id for i in reading.person_instances(ORG, ids, 2)] == ["i-3", "i-2"]
    assert reading.person_instances(ORG, ["nobody"], 10) == []
    assert [s.node for s in reading.person_steps(ORG, ids, 10)] == ["d", "b", "a"]
    assert [s.node for s in reading.person_steps(ORG, ids, 1)] == ["d"]
    assert reading.person_steps(OTHER_ORG, ids, 10) == []


# privacy delete


def test_a_persons_runs_are_erased_and_the_counts_stay(
    writing: JourneyStore, reading: JourneyStore
) -> None:
    writing.add_journey_version(version())
    live = instance("i-live", "ada@x.io", status="waiting")
    done = instance("i-done", "ada@x.io", status="finished", ended_ms=T0 + 1)
    bob = instance("i-bob", "bob@x.io", status="waiting")
    elsewhere = instance("i-other", "ada@x.io", org_id=OTHER_ORG, status="waiting")
    bob_step = msgspec.structs.replace(
        step("wait-a-day", "wait", "ended", "i-bob"), identity="bob@x.io"
    )
    entries = [step("entry", "entry", "ended", i) for i in ("i-live", "i-done")]
    writing.commit(
        EngineBatch(
            instances=[live, done, bob, elsewhere],
            new_timers=[NewTimer(i, 0, T0 + 99, 1, "wait") for i in ("i-live", "i-bob")],
            new_actions=[action("i-live"), action("i-bob")],
            steps=[*entries, bob_step],
            discards=[Discard(ORG, "welcome", "ada@x.io", "reentrance", T0)],
        )
    )
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 2}
    found = reading.instances_of(ORG, ["ada@x.io", "nobody@x.io"])
    assert [i.instance_id for i in found] == ["i-done", "i-live"]
    assert found[1] == live
    before = reading.report(ORG, "welcome")
    ended = dataclasses.replace(
        live, identity="", events={}, status="deleted", ended_ms=T0 + 5, wait_kind=None
    )
    erased = dataclasses.replace(done, identity="", events={})
    deleted = StepRecord(ORG, "welcome", 1, "wait-a-day", "wait", "i-live", "", "deleted", None,
                         T0 + 5, T0)  # fmt: skip
    assert writing.erase_runs(ORG, ["ada@x.io"], [ended, erased], [deleted]) == 2

    assert reading.instances_of(ORG, ["ada@x.io"]) == []
    assert by_id(reading.instances(["i-live", "i-done"])) == {"i-live": ended, "i-done": erased}
    assert reading.list_steps(ORG, "welcome", 10, "ada@x.io") == []
    assert [
        (s.instance_id, s.identity, s.status) for s in reading.list_steps(ORG, "welcome", 10)
    ] == [
        ("i-live", "", "deleted"),
        ("i-bob", "bob@x.io", "ended"),
        ("i-done", "", "ended"),
        ("i-live", "", "ended"),
    ]
    after = reading.report(ORG, "welcome")
    assert after["entered"] == before["entered"] == 3
    assert after["inJourney"] == before["inJourney"] - 1
    assert after["nodes"]["wait-a-day"]["deleted"] == 1
    assert after["nodes"]["entry"] == before["nodes"]["entry"]
    assert after["discarded"] == before["discarded"]
    assert [t.instance_id for t in reading.due_timers([0], T0 + 100, 10)] == ["i-bob"]
    assert [a.instance_id for a in reading.pending_outbox([0], 0, 10)] == ["i-bob"]
    assert [i.instance_id for i in reading.live_instances(OTHER_ORG, ["ada@x.io"])] == ["i-other"]
    # an engine that had the instance in hand does not bring it back
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 1}  # bob
    writing.commit(EngineBatch(instances=[dataclasses.replace(live, status="running")]))
    assert reading.instances(["i-live"]) == [ended]
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 1}


# merges


def waiting_version() -> JourneyVersion:
    """Version 1 of ``welcome``: a wait of a day, then the end."""
    return dataclasses.replace(
        version(),
        definition={
            "name": "welcome",
            "entry": {"event": "signup", "next": "wait-a-day"},
            "activities": {
                "wait-a-day": {"type": "wait", "duration": "1d", "next": "done"},
                "done": {"type": "end"},
            },
        },
    )


def test_a_merge_leaves_each_journey_one_live_instance_of_the_person(backend: Backend) -> None:
    """The commit that merges two persons ends the newer of their live instances of one
    journey (status merged, a step event at its activity); other journeys, ended instances
    and other people stay as they were, and no later commit brings the instance back."""
    journeys = backend.open_journeys()
    journeys.add_journey_version(waiting_version())
    older = instance("i-a", "a@x.org", status="waiting", entered_ms=T0)
    newer = instance("i-b", "b@x.org", status="waiting", entered_ms=T0 + 5)
    other_journey = instance("i-c", "b@x.org", journey="other", status="waiting")
    finished = instance("i-d", "b@x.org", status="finished", ended_ms=T0 + 1)
    stranger = instance("i-e", "c@x.org", status="waiting", entered_ms=T0 + 9)
    journeys.commit(
        EngineBatch(
            instances=[older, newer, other_journey, finished, stranger],
            new_timers=[NewTimer(i, 0, T0 + 99, 1, "wait") for i in ("i-a", "i-b")],
            links=[arrival(T0, email("a@x.org")), arrival(T0 + 1, email("b@x.org"))],
        )
    )
    assert sorted(i.instance_id for i in journeys.live_instances(ORG, ["b@x.org"])) == [
        "i-b",
        "i-c",
    ]
    assert journeys.live_by_node(ORG, "welcome") == {"wait-a-day": 3}
    journeys.commit(EngineBatch(links=[arrival(T0 + 20, email("a@x.org"), email("b@x.org"))]))

    reading = backend.open_journeys()
    found = by_id(reading.instances(["i-a", "i-b", "i-c", "i-d", "i-e"]))
    assert found["i-b"] == dataclasses.replace(
        newer, status="merged", ended_ms=T0 + 20, wait_kind=None
    )
    assert [found[i] for i in ("i-a", "i-c", "i-d", "i-e")] == [
        older,
        other_journey,
        finished,
        stranger,
    ]
    (merged,) = [s for s in reading.list_steps(ORG, "welcome", 10) if s.status == "merged"]
    expected = ("wait-a-day", "wait", "i-b", "b@x.org", "merged", "merged into i-a", T0 + 20)
    assert merged == StepRecord(ORG, "welcome", 1, *expected, T0 + 5, merged.seq)
    assert reading.report(ORG, "welcome")["nodes"]["wait-a-day"]["merged"] == 1
    assert [t.instance_id for t in reading.due_timers([0], T0 + 100, 10)] == ["i-a"]
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 2}  # i-a, i-e
    assert reading.live_by_node(ORG, "other") == {"wait-a-day": 1}
    journeys.commit(EngineBatch(instances=[dataclasses.replace(newer, status="running")]))
    assert reading.instances(["i-b"])[0].status == "merged"
    assert reading.live_by_node(ORG, "welcome") == {"wait-a-day": 2}


def test_a_commit_applies_the_profile_updates_it_carries_in_order(backend: Backend) -> None:
    """Profile records the journey engine consumed, and what its updateProfile activities
    wrote, update their fragments in its commit, and only in a commit that goes through."""
    journeys = backend.open_journeys()
    ada = Identity("Email", "ada@x.org")

    def update(at: int, attributes: dict[str, Any]) -> ProfileUpdate:
        return ProfileUpdate(ORG, "crm", ada, Operation.MERGE, attributes, at)

    journeys.commit(
        EngineBatch(
            positions={0: 2},
            profile_updates=[
                update(T0, {"loyalty": {"tier": "silver", "points": 3}}),
                update(T0 + 1, {"loyalty": {"tier": "gold"}}),
            ],
        )
    )
    profiles = backend.open_profiles()
    (fragment,) = profiles.profile_fragments(ORG, [ada])
    assert fragment.attributes() == {"loyalty": {"tier": "gold", "points": 3}}
    with pytest.raises(FencedError):
        journeys.commit(
            EngineBatch(
                positions={0: 3},
                profile_updates=[update(T0 + 2, {"loyalty": None})],
                owner="nobody",
                fences={0: 99},
            )
        )
    (fragment,) = profiles.profile_fragments(ORG, [ada])
    assert fragment.attributes() == {"loyalty": {"tier": "gold", "points": 3}}
