"""Audience checks in the journey engine's commit (``EngineBatch.audience_checks``), over
every store: the event is kept for the identity, the person's memberships are decided over
the person's merged profile and the events of all their identities, in the same commit;
the changes journeys start on are queued in that commit, for the engine holding their
partition, and a merge carries the memberships of the person merged away over."""

from __future__ import annotations

from collections.abc import Iterator

from tests.contract.conftest import ORG, T0, Backend, commit_from_two_connections
from tests.contract.test_identity_graph import send
from tests.contract.test_journey_store import arrival
from tests.people import ecid, email
from wayfare.model.audiences import (
    AudienceCheck,
    AudienceEntry,
    AudienceStart,
    Membership,
    MembershipChange,
    parse_audience,
)
from wayfare.model.identities import Identity
from wayfare.model.partitions import partition_of
from wayfare.model.profile_records import Operation, ProfileUpdate
from wayfare.model.runs import EngineBatch

DAY = 86_400_000
FRENCH_CARTS = parse_audience(
    ORG,
    {"name": "french-carts", "condition": "#{profile.country} == 'FR' and "
     "count(cart in last 1 day) >= 2"},
)  # fmt: skip


def check(identity: Identity, at: int, event: str | None = "cart") -> EngineBatch:
    return EngineBatch(audience_checks=[AudienceCheck(ORG, identity, event, at, (FRENCH_CARTS,))])


def test_a_person_enters_and_exits_by_their_profile_and_the_events_of_every_identity(
    backend: Backend,
) -> None:
    journeys, audiences = backend.open_journeys(), backend.open_audiences()
    ada = send(backend.open_identity_graph(), email("ada@example.com"), ecid("e-1")).persons[0]
    french = ProfileUpdate(
        ORG, "crm", Identity("Email", "ada@example.com"), Operation.MERGE, {"country": "FR"}, T0
    )
    backend.open_profiles().apply_profile_update(french)
    journeys.commit(check(email("ada@example.com"), T0 + 1))
    assert audiences.memberships_of(ORG, ada.person_id) == []
    journeys.commit(check(ecid("e-1"), T0 + 2))  # the same person's other identity
    entered = Membership("french-carts", ada.person_id, T0 + 2)
    assert audiences.memberships_of(ORG, ada.person_id) == [entered]
    journeys.commit(check(ecid("e-1"), T0 + 3))  # still a member: nothing changes
    assert audiences.members(ORG, "french-carts") == [entered]
    journeys.commit(check(ecid("e-1"), T0 + 2 + 2 * DAY))  # one cart within the day
    exited = Membership("french-carts", ada.person_id, T0 + 2, T0 + 2 + 2 * DAY)
    assert audiences.memberships_of(ORG, ada.person_id) == [exited]


def test_an_identity_no_person_holds_keeps_its_event_only(backend: Backend) -> None:
    journeys, audiences = backend.open_journeys(), backend.open_audiences()
    journeys.commit(check(email("nobody@example.com"), T0))
    window = ("cart", DAY)
    nobody = [Identity("Email", "nobody@example.com")]
    assert audiences.count_identity_events(ORG, nobody, [window], T0) == {window: 1}
    assert audiences.members(ORG, "french-carts") == []


def test_commits_counting_one_person_at_the_same_time_see_each_other(backend: Backend) -> None:
    """Each of 2 connections commits 10 carts of one person, at once: the commit that
    counts last sees all 20 and the person enters (checks of one person take turns)."""
    ada = send(backend.open_identity_graph(), email("ada@example.com"), ecid("e-1")).persons[0]
    twenty = parse_audience(ORG, {"name": "twenty", "condition": "count(cart in last 1 day) >= 20"})

    def carts(n: int) -> Iterator[EngineBatch]:
        identity = email("ada@example.com") if n == 0 else ecid("e-1")
        for i in range(10):
            yield EngineBatch(
                audience_checks=[AudienceCheck(ORG, identity, "cart", T0 + i, (twenty,))]
            )

    commit_from_two_connections(backend, carts)
    [membership] = backend.open_audiences().memberships_of(ORG, ada.person_id)
    assert membership.member


GOLD = parse_audience(ORG, {"name": "gold", "condition": "#{profile.tier} == 'gold'"})
GOLD_STARTS = (AudienceStart("gold", "entered", None), AudienceStart("gold", "exited", "ECID"))


def gold(identity: Identity, at: int) -> EngineBatch:
    """A check of the person of ``identity`` against ``gold``, which journeys start on."""
    return EngineBatch(
        audience_checks=[AudienceCheck(ORG, identity, None, at, (GOLD,), GOLD_STARTS, 4)]
    )


def tier(backend: Backend, value: str, at: int) -> None:
    key = Identity("Email", "ada@example.com")
    update = ProfileUpdate(ORG, "crm", key, Operation.MERGE, {"tier": value}, at)
    backend.open_profiles().apply_profile_update(update)


def test_a_change_journeys_start_on_is_queued_in_its_commit_and_taken_by_another(
    backend: Backend,
) -> None:
    journeys = backend.open_journeys()
    ada = send(backend.open_identity_graph(), email("ada@example.com"), ecid("e-1")).persons[0]
    tier(backend, "gold", T0)
    journeys.commit(gold(email("ada@example.com"), T0 + 1))
    journeys.commit(gold(email("ada@example.com"), T0 + 2))  # still a member: nothing queued
    everywhere = range(4)
    [entered] = journeys.audience_entries(everywhere, 10)
    assert entered == AudienceEntry(
        ORG, "gold", "entered", ada.person_id, None, email("ada@example.com"),
        partition_of(ORG, "ada@example.com", 4), T0 + 1, entered.entry_id,
    )  # fmt: skip
    others = [p for p in everywhere if p != entered.partition]
    assert journeys.audience_entries(others, 10) == []
    tier(backend, "silver", T0 + 3)
    journeys.commit(gold(email("ada@example.com"), T0 + 4))
    [_, exited] = journeys.audience_entries(everywhere, 10)  # oldest first
    assert (exited.status, exited.namespace, exited.identity) == ("exited", "ECID", ecid("e-1"))
    assert exited.at_ms == T0 + 4 and exited.partition == partition_of(ORG, "e-1", 4)
    backend.open_journeys().commit(EngineBatch(audience_entries_done=[entered.entry_id]))
    assert journeys.audience_entries(everywhere, 10) == [exited]


def test_the_chain_of_a_change_a_journey_made_is_queued_with_it(backend: Backend) -> None:
    """How many changes by journeys in a row led to an entry is kept with it, for the engine
    to stop a loop of them (model/admission.py, MAX_CHAIN)."""
    journeys = backend.open_journeys()
    send(backend.open_identity_graph(), email("ada@example.com"))
    tier(backend, "gold", T0)
    made = AudienceCheck(ORG, email("ada@example.com"), None, T0 + 1, (GOLD,), GOLD_STARTS, 4, 7)
    journeys.commit(EngineBatch(audience_checks=[made]))
    [entered] = journeys.audience_entries(range(4), 10)
    assert (entered.status, entered.chain) == ("entered", 7)


def test_a_check_no_journey_starts_on_queues_nothing(backend: Backend) -> None:
    journeys = backend.open_journeys()
    send(backend.open_identity_graph(), email("ada@example.com"))
    tier(backend, "gold", T0)
    unstarted = AudienceCheck(ORG, email("ada@example.com"), None, T0 + 1, (GOLD,))
    journeys.commit(EngineBatch(audience_checks=[unstarted]))
    assert journeys.audience_entries(range(4), 10) == []
    assert len(backend.open_audiences().members(ORG, "gold")) == 1


def test_a_merge_in_the_commit_carries_the_memberships_of_the_person_merged_away(
    backend: Backend,
) -> None:
    graph = backend.open_identity_graph()
    journeys, audiences = backend.open_journeys(), backend.open_audiences()
    ada = send(graph, email("ada@example.com"), at=T0).persons[0]
    other = send(graph, ecid("e-9"), at=T0 + 1).persons[0]  # created later: merged away
    audiences.record_membership_changes(ORG, [
        MembershipChange("entered", Membership("gold", ada.person_id, T0 + 10)),
        MembershipChange("entered", Membership("gold", other.person_id, T0 + 5)),
        MembershipChange("exited", Membership("carts", other.person_id, T0, T0 + 7)),
    ])  # fmt: skip
    journeys.commit(EngineBatch(links=[arrival(T0 + 20, email("ada@example.com"), ecid("e-9"))]))
    merged = graph.person_of(ORG, ecid("e-9"))
    assert merged is not None and merged.person_id == ada.person_id
    assert audiences.memberships_of(ORG, ada.person_id) == [
        Membership("carts", ada.person_id, T0, T0 + 7),
        Membership("gold", ada.person_id, T0 + 5),
    ]
    assert audiences.memberships_of(ORG, other.person_id) == []
    assert journeys.audience_entries(range(4), 10) == []  # carried over: no one entered


def test_erasing_a_persons_runs_drops_the_qualifications_queued_for_their_identities(
    backend: Backend,
) -> None:
    journeys = backend.open_journeys()
    send(backend.open_identity_graph(), email("ada@example.com"), ecid("e-1"))
    send(backend.open_identity_graph(), email("bob@example.com"))
    tier(backend, "gold", T0)
    bob = Identity("Email", "bob@example.com")
    backend.open_profiles().apply_profile_update(
        ProfileUpdate(ORG, "crm", bob, Operation.MERGE, {"tier": "gold"}, T0)
    )
    journeys.commit(gold(email("ada@example.com"), T0 + 1))
    journeys.commit(gold(email("bob@example.com"), T0 + 1))
    assert len(journeys.audience_entries(range(4), 10)) == 2
    journeys.erase_runs(ORG, ["ada@example.com", "e-1"], [], [])
    [left] = journeys.audience_entries(range(4), 10)
    assert left.identity == email("bob@example.com")
