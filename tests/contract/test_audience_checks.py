"""Audience checks in the journey engine's commit (``EngineBatch.audience_checks``), over
every store: the event is kept for the identity, the person's memberships are decided over
the person's merged profile and the events of all their identities, in the same commit."""

from __future__ import annotations

from collections.abc import Iterator

from tests.contract.conftest import ORG, T0, Backend, commit_from_two_connections
from tests.contract.test_identity_graph import send
from tests.people import ecid, email
from wayfare.model.audiences import AudienceCheck, Membership, parse_audience
from wayfare.model.identities import Identity
from wayfare.model.profile_records import IdentityKey, Operation, ProfileUpdate
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
        ORG, "crm", IdentityKey("Email", "ada@example.com"), Operation.MERGE, {"country": "FR"}, T0
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
    nobody = [IdentityKey("Email", "nobody@example.com")]
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
