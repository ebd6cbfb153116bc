"""The AudienceStore contract: every adapter keeps audiences, the memberships the model
decides and the identities' events their conditions count."""

from __future__ import annotations

import pytest

from tests.contract.conftest import ORG, OTHER_ORG, T0, AudienceBackend
from wayfare.errors import ConflictError
from wayfare.model.audiences import Audience, Membership, MembershipChange, parse_audience
from wayfare.model.identities import Identity
from wayfare.store.ports import AudienceStore

DAY = 86_400_000
ADA = Identity("Email", "ada@example.com")
ADA_ECID = Identity("ECID", "0123")
BOB = Identity("Email", "bob@example.com")


def audience(name: str, condition: str = "count(purchase in last 7 days) >= 2") -> Audience:
    return parse_audience(ORG, {"name": name, "condition": condition, "description": "d"}, T0)


def entered(name: str, person: str, at_ms: int = T0) -> MembershipChange:
    return MembershipChange("entered", Membership(name, person, at_ms))


def test_an_audience_reads_back_from_another_connection(
    audience_backend: AudienceBackend,
) -> None:
    stored = audience("french-buyers", "#{profile.country} == 'FR' and count(buy in last 1 day)>0")
    audience_backend.connect().add_audience(stored)
    other = audience_backend.connect()
    assert other.get_audience(ORG, "french-buyers") == stored
    assert other.get_audience(OTHER_ORG, "french-buyers") is None
    assert other.get_audience(ORG, "nobody") is None


def test_audiences_are_listed_by_name_in_their_org_and_names_are_unique(
    audience_backend: AudienceBackend,
) -> None:
    store = audience_backend.connect()
    for name in ("zeta", "alpha", "mid"):
        store.add_audience(audience(name))
    store.add_audience(parse_audience(OTHER_ORG, {"name": "other", "condition": "true"}))
    assert [a.name for a in store.list_audiences(ORG)] == ["alpha", "mid", "zeta"]
    with pytest.raises(ConflictError):
        audience_backend.connect().add_audience(audience("alpha", "true"))
    assert store.get_audience(ORG, "alpha") == audience("alpha")


def test_memberships_keep_entered_and_exited_times(audience_backend: AudienceBackend) -> None:
    store = audience_backend.connect()
    store.record_membership_changes(ORG, [entered("fr", "p1"), entered("vip", "p1", T0 + 1)])
    exited = MembershipChange("exited", Membership("fr", "p1", T0, T0 + DAY))
    store.record_membership_changes(ORG, [exited])
    other = audience_backend.connect()
    assert other.membership(ORG, "fr", "p1") == Membership("fr", "p1", T0, T0 + DAY)
    assert other.memberships_of(ORG, "p1") == [
        Membership("fr", "p1", T0, T0 + DAY),
        Membership("vip", "p1", T0 + 1),
    ]
    store.record_membership_changes(ORG, [entered("fr", "p1", T0 + 2 * DAY)])
    assert other.membership(ORG, "fr", "p1") == Membership("fr", "p1", T0 + 2 * DAY)
    assert other.membership(OTHER_ORG, "fr", "p1") is None
    assert other.memberships_of(ORG, "p2") == []


def keep_members(store: AudienceStore) -> None:
    """Members p0 to p4 of ORG's "fr" but p2, who exited; x of "de"; OTHER_ORG's one."""
    store.record_membership_changes(ORG, [entered("fr", f"p{i}") for i in range(5)])
    store.record_membership_changes(
        ORG, [MembershipChange("exited", Membership("fr", "p2", T0, T0 + 1)), entered("de", "x")]
    )
    store.record_membership_changes(OTHER_ORG, [entered("fr", "elsewhere")])


def test_members_are_the_current_ones_by_person_id_in_pages(
    audience_backend: AudienceBackend,
) -> None:
    store = audience_backend.connect()
    keep_members(store)
    first = store.members(ORG, "fr", limit=2)
    assert [m.person_id for m in first] == ["p0", "p1"]
    rest = store.members(ORG, "fr", after=first[-1].person_id, limit=10)
    assert [m.person_id for m in rest] == ["p3", "p4"]
    assert all(m.member and m.entered_ms == T0 for m in rest)
    assert store.members(ORG, "nobody") == []


def test_every_org_s_current_members_are_paged_by_org_audience_and_person(
    audience_backend: AudienceBackend,
) -> None:
    store = audience_backend.connect()
    keep_members(store)
    first = audience_backend.connect().members_after(None, 2)
    assert [(org, m.audience, m.person_id) for org, m in first] == [
        (ORG, "de", "x"),
        (ORG, "fr", "p0"),
    ]
    rest = store.members_after((ORG, "fr", "p0"), 10)
    assert [(org, m.audience, m.person_id) for org, m in rest] == [
        (ORG, "fr", "p1"),
        (ORG, "fr", "p3"),
        (ORG, "fr", "p4"),
        (OTHER_ORG, "fr", "elsewhere"),
    ]
    assert all(m.member and m.entered_ms == T0 for _, m in rest)
    assert store.members_after((OTHER_ORG, "fr", "elsewhere"), 10) == []


def test_events_are_counted_over_the_identities_and_within_each_window(
    audience_backend: AudienceBackend,
) -> None:
    store = audience_backend.connect()
    now = T0 + 30 * DAY
    store.add_identity_event(ORG, ADA, "purchase", now - 1)  # in every window
    store.add_identity_event(ORG, ADA_ECID, "purchase", now - 3 * DAY)
    store.add_identity_event(ORG, ADA, "purchase", now - 7 * DAY)  # just out of 7 days
    store.add_identity_event(ORG, ADA, "purchase", now + 1)  # after now
    store.add_identity_event(ORG, ADA, "view", now - 1)
    store.add_identity_event(ORG, BOB, "purchase", now - 1)
    store.add_identity_event(OTHER_ORG, ADA, "purchase", now - 1)
    windows = [("purchase", 7 * DAY), ("purchase", 1 * DAY), ("purchase", 30 * DAY), ("x", DAY)]
    counts = audience_backend.connect().count_identity_events(ORG, [ADA, ADA_ECID], windows, now)
    assert counts == {
        ("purchase", 7 * DAY): 2,
        ("purchase", 1 * DAY): 1,
        ("purchase", 30 * DAY): 3,
        ("x", DAY): 0,
    }
    assert store.count_identity_events(ORG, [], windows[:1], now) == {windows[0]: 0}


def test_counting_stops_at_its_bound_and_reads_no_further(
    audience_backend: AudienceBackend,
) -> None:
    """A person's events are counted up to ``at_most`` (MAX_COUNT for audiences): one sent
    events without end made every evaluation a scan of all of them."""
    store = audience_backend.connect()
    for i in range(5):
        store.add_identity_event(ORG, ADA if i % 2 else ADA_ECID, "purchase", T0 + i)
    window = [("purchase", DAY)]
    now = T0 + 10
    assert store.count_identity_events(ORG, [ADA, ADA_ECID], window, now) == {window[0]: 5}
    assert store.count_identity_events(ORG, [ADA, ADA_ECID], window, now, at_most=3) == {
        window[0]: 3
    }
    assert store.count_identity_events(ORG, [ADA], window, now, at_most=3) == {window[0]: 2}


def test_old_events_are_forgotten_oldest_first_a_bounded_number_at_a_time(
    audience_backend: AudienceBackend,
) -> None:
    store = audience_backend.connect()
    for i in range(5):
        store.add_identity_event(ORG, ADA, "purchase", T0 + i)
    assert store.forget_identity_events_before(T0 + 4, limit=3) == 3
    assert store.forget_identity_events_before(T0 + 4, limit=3) == 1
    assert store.forget_identity_events_before(T0 + 4, limit=3) == 0
    window = ("purchase", DAY)
    assert store.count_identity_events(ORG, [ADA], [window], T0 + 10) == {window: 1}
