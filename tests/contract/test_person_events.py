"""Experience events kept for people, over every store: the journey engine's commit keeps
them (``EngineBatch.person_events``) and trims each identity to its newest; the
ProfileStore reads a person's newest first over all their identities, deletes an identity's
(a privacy delete) and forgets those past their retention, a bounded number at a time."""

from __future__ import annotations

from collections.abc import Iterator

from tests.contract.conftest import ORG, OTHER_ORG, T0, Backend, commit_from_two_connections
from wayfare.model.identities import Identity
from wayfare.model.person_events import PersonEvent
from wayfare.model.runs import EngineBatch

ADA = Identity("Email", "ada@example.com")
ADA_ECID = Identity("ECID", "e-1")
BOB = Identity("Email", "bob@example.com")


def event(
    at: int,
    identity: Identity = ADA,
    *,
    org_id: str = ORG,
    events: tuple[str, ...] = ("purchase",),
    xaction: str | None = None,
) -> PersonEvent:
    return PersonEvent(
        org_id, identity, "web-events", xaction or f"x-{identity.id}-{at}", at, at + 5,
        "commerce.purchases", events,
    )  # fmt: skip


def keep(backend: Backend, *events: PersonEvent, per_identity: int = 500) -> None:
    batch = EngineBatch(person_events=list(events), person_events_per_identity=per_identity)
    backend.open_journeys().commit(batch)


def shown(found: list[PersonEvent]) -> list[tuple[str, int]]:
    return [(e.identity.id, e.at_ms) for e in found]


def test_a_persons_events_read_newest_first_over_all_their_identities(backend: Backend) -> None:
    keep(backend, event(T0 + 2), event(T0 + 1, ADA_ECID), event(T0 + 3, BOB))
    keep(backend, event(T0 + 4, org_id=OTHER_ORG), event(T0 + 5, ADA_ECID, events=()))
    profiles = backend.open_profiles()
    found = profiles.person_events(ORG, [ADA, ADA_ECID], 10)
    assert shown(found) == [("e-1", T0 + 5), ("ada@example.com", T0 + 2), ("e-1", T0 + 1)]
    first = found[1]
    assert (first.dataset_id, first.xaction_id, first.received_ms) == (
        "web-events", f"x-ada@example.com-{T0 + 2}", T0 + 7,
    )  # fmt: skip
    assert (first.event_type, first.events) == ("commerce.purchases", ("purchase",))
    assert found[0].events == ()
    assert shown(profiles.person_events(ORG, [ADA, ADA_ECID], 2)) == shown(found[:2])
    assert profiles.person_events(ORG, [], 10) == []


def test_events_of_one_time_read_in_the_order_they_were_kept(backend: Backend) -> None:
    keep(backend, event(T0, xaction="first"), event(T0, xaction="second"))
    keep(backend, event(T0, xaction="third"))
    found = backend.open_profiles().person_events(ORG, [ADA], 10)
    assert [e.xaction_id for e in found] == ["third", "second", "first"]


def test_each_identity_keeps_its_newest_by_event_time(backend: Backend) -> None:
    keep(backend, *[event(T0 + i) for i in range(5)], event(T0, BOB), per_identity=3)
    keep(backend, event(T0 - 100), per_identity=3)  # older than every one kept: it goes
    profiles = backend.open_profiles()
    assert [e.at_ms for e in profiles.person_events(ORG, [ADA], 10)] == [T0 + 4, T0 + 3, T0 + 2]
    keep(backend, event(T0 + 10), event(T0 + 9, ADA_ECID), per_identity=3)
    assert [e.at_ms for e in profiles.person_events(ORG, [ADA], 10)] == [T0 + 10, T0 + 4, T0 + 3]
    assert len(profiles.person_events(ORG, [BOB], 10)) == 1  # another identity's stay
    assert len(profiles.person_events(ORG, [ADA_ECID], 10)) == 1


def test_a_privacy_delete_removes_the_identities_events_only(backend: Backend) -> None:
    keep(backend, event(T0), event(T0 + 1, ADA_ECID), event(T0 + 2, BOB))
    keep(backend, event(T0 + 3, org_id=OTHER_ORG))
    profiles = backend.open_profiles()
    assert profiles.delete_person_events(ORG, [ADA, ADA_ECID]) == 2
    assert profiles.person_events(ORG, [ADA, ADA_ECID], 10) == []
    assert shown(profiles.person_events(ORG, [BOB], 10)) == [("bob@example.com", T0 + 2)]
    assert shown(profiles.person_events(OTHER_ORG, [ADA], 10)) == [("ada@example.com", T0 + 3)]
    assert profiles.delete_person_events(ORG, [ADA, ADA_ECID]) == 0


def test_retention_forgets_the_oldest_before_a_time_a_chunk_at_a_time(backend: Backend) -> None:
    keep(backend, *[event(T0 + i) for i in range(5)], event(T0 - 1, BOB, org_id=OTHER_ORG))
    profiles = backend.open_profiles()
    assert profiles.forget_person_events_before(T0 + 3, 2) == 2
    assert profiles.person_events(OTHER_ORG, [BOB], 10) == []  # the oldest two, every org
    assert profiles.forget_person_events_before(T0 + 3, 2) == 2
    assert profiles.forget_person_events_before(T0 + 3, 2) == 0
    assert [e.at_ms for e in profiles.person_events(ORG, [ADA], 10)] == [T0 + 4, T0 + 3]


def test_commits_keeping_one_persons_events_at_the_same_time_all_go_through(
    backend: Backend,
) -> None:
    """Each of 2 connections commits 20 batches of events of both of Ada's identities, at
    once (an event that matches no event goes to any partition, so two workers may keep
    events of one identity): none fails, the newest 5 of each identity are kept, and at
    most the one a commit at the same time added besides, until the next commit trims."""

    def events(n: int) -> Iterator[EngineBatch]:
        for i in range(20):
            at = T0 + 100 * i + n
            yield EngineBatch(
                person_events=[event(at, ADA), event(at, ADA_ECID)], person_events_per_identity=5
            )

    commit_from_two_connections(backend, events)
    profiles = backend.open_profiles()
    newest = [T0 + 1901, T0 + 1900, T0 + 1801, T0 + 1800, T0 + 1701]
    for identity in (ADA, ADA_ECID):
        kept = [e.at_ms for e in profiles.person_events(ORG, [identity], 10)]
        assert kept[:5] == newest and len(kept) <= 6
    keep(backend, event(T0 + 2000), event(T0 + 2000, ADA_ECID), per_identity=5)
    for identity in (ADA, ADA_ECID):
        kept = [e.at_ms for e in profiles.person_events(ORG, [identity], 10)]
        assert kept == [T0 + 2000, *newest[:4]]
