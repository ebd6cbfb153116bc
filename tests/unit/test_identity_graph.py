"""The linking rule of the identity graph (model/identity_graph.py) and identities
(model/identities.py)."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.people import crm, ecid, email
from wayfare.model.identities import (
    BUILT_IN,
    MAX_RECORD_IDENTITIES,
    Identity,
    Namespace,
    check_namespace_code,
    identities_of,
    identity,
    linked_identities,
    namespaces_of,
    parse_identity,
)
from wayfare.model.identity_graph import (
    MAX_IDENTITIES,
    DropCause,
    Dropped,
    GraphChange,
    Merge,
    Person,
    _one_per_unique_namespace,
    _relink,
    apply_change,
    link,
)

NAMESPACES = namespaces_of([Namespace("Loyalty", "Loyalty card", unique=True)])
T0 = 1_000_000


class Graph:
    """A graph kept as a store would keep it, with person ids p1, p2, ..."""

    def __init__(self) -> None:
        self.persons: dict[str, Person] = {}
        self._ids = (f"p{n}" for n in itertools.count(1))
        self.changes: list[GraphChange] = []

    def send(self, *identities: Identity, at: int = T0) -> GraphChange:
        owners = [p for p in self.persons.values() if p.identities & set(identities)]
        change = link(owners, identities, at, NAMESPACES, lambda: next(self._ids))
        self.persons = apply_change(self.persons, change)
        self.changes.append(change)
        return change

    def person_of(self, x: Identity) -> Person | None:
        return next((p for p in self.persons.values() if x in p.identities), None)

    def groups(self) -> set[frozenset[Identity]]:
        return {p.identities for p in self.persons.values()}


def test_emails_and_phones_are_normalised_others_kept_as_sent() -> None:
    assert identity("Email", "  Ada@Example.COM ") == email("ada@example.com")
    assert identity("Phone", "+44 20 7946 0958").id == "+442079460958"
    assert identity("Phone", "0044 20 7946 0958").id == "0044 20 7946 0958"  # no country
    assert identity("ECID", "AbC") == ecid("AbC")
    assert parse_identity("Email:Ada@example.com") == email("ada@example.com")
    assert str(parse_identity("CRMID:a:b")) == "CRMID:a:b"


def test_identity_map_gives_known_identities_once_in_order() -> None:
    entity = {
        "identityMap": {
            "ECID": [{"id": "e1", "primary": True}],
            "Email": [{"id": "Ada@example.com"}, {"id": "ada@example.com"}, {"id": " "}],
            "Unknown": [{"id": "x"}],
            "CRMID": [{"id": 7}, "nonsense"],
        }
    }
    assert identities_of(entity, NAMESPACES) == [ecid("e1"), email("ada@example.com")]
    assert identities_of({"identityMap": []}, NAMESPACES) == []
    assert identities_of({}, NAMESPACES) == []


def test_ids_that_name_nobody_are_not_identities() -> None:
    entity = {"identityMap": {"Email": [{"id": "NULL"}, {"id": " anonymous"}, {"id": "Invalid"}]}}
    assert identities_of(entity, NAMESPACES) == []


def test_a_record_naming_more_than_twenty_identities_links_none() -> None:
    twenty = {"identityMap": {"ECID": [{"id": f"e{i}"} for i in range(MAX_RECORD_IDENTITIES)]}}
    assert len(linked_identities(twenty, NAMESPACES)) == MAX_RECORD_IDENTITIES
    crowd = {"identityMap": {"ECID": [{"id": f"e{i}"} for i in range(10_000)]}}
    assert linked_identities(crowd, NAMESPACES) == []
    assert len(identities_of(crowd, NAMESPACES)) == 10_000  # a privacy delete still finds it
    repeated = {"identityMap": {"ECID": [{"id": "e1"}] * 100}}
    assert linked_identities(repeated, NAMESPACES) == [ecid("e1")]  # counted once each


def test_namespace_codes() -> None:
    assert check_namespace_code("Loyalty_2") is None
    assert check_namespace_code("email") is not None  # a built-in one, in another case
    assert check_namespace_code("2x") is not None
    assert {ns.code for ns in BUILT_IN} == {"Email", "Phone", "ECID", "CRMID"}


def test_ecid_then_email_then_both_make_one_person_the_first_surviving() -> None:
    graph = Graph()
    first = graph.send(ecid("e1"), at=T0)
    second = graph.send(email("ada@example.com"), at=T0 + 1)
    assert (first.person_id, second.person_id) == ("p1", "p2")
    both = graph.send(ecid("e1"), email("ada@example.com"), at=T0 + 2)
    assert both.person_id == "p1"
    assert both.merges == (Merge("p2", "p1"),)
    assert graph.groups() == {frozenset({ecid("e1"), email("ada@example.com")})}
    assert [(x.identity, x.linked_ms) for x in graph.persons["p1"].links] == [
        (ecid("e1"), T0),
        (email("ada@example.com"), T0 + 1),
    ]


def test_identities_seen_again_change_nothing() -> None:
    graph = Graph()
    graph.send(ecid("e1"), email("a@x.org"))
    again = graph.send(email("a@x.org"), ecid("e1"), at=T0 + 5)
    assert not again.changed
    assert again.person_id == "p1"
    assert again.added == ()


def test_two_emails_linked_through_one_crmid() -> None:
    graph = Graph()
    graph.send(email("a@x.org"), crm("42"))
    graph.send(email("b@x.org"), crm("42"), at=T0 + 1)
    person = graph.person_of(email("a@x.org"))
    assert person is not None and person is graph.person_of(email("b@x.org"))
    assert person.identities == {email("a@x.org"), email("b@x.org"), crm("42")}


def test_a_shared_email_goes_to_the_newest_crmid_and_persons_do_not_collapse() -> None:
    graph = Graph()
    graph.send(email("desk@shop.org"), crm("1"), at=T0)
    change = graph.send(email("desk@shop.org"), crm("2"), at=T0 + 1)
    assert change.merges == ()
    assert Dropped(email("desk@shop.org"), "p1", DropCause.UNIQUE) in change.dropped
    assert graph.groups() == {
        frozenset({crm("1")}),
        frozenset({crm("2"), email("desk@shop.org")}),
    }


def test_persons_with_two_crmids_do_not_merge_the_newest_crmid_keeps_the_link() -> None:
    graph = Graph()
    graph.send(ecid("e1"), crm("1"), at=T0)
    graph.send(email("a@x.org"), crm("2"), at=T0 + 1)
    change = graph.send(ecid("e1"), email("a@x.org"), at=T0 + 2)
    assert change.person_id == graph.person_of(crm("2")).person_id  # type: ignore[union-attr]
    assert graph.groups() == {
        frozenset({crm("1")}),
        frozenset({crm("2"), email("a@x.org"), ecid("e1")}),
    }


def test_two_ids_of_a_unique_namespace_in_one_message_link_the_first() -> None:
    graph = Graph()
    change = graph.send(crm("1"), crm("2"), email("a@x.org"))
    assert graph.groups() == {frozenset({crm("1"), email("a@x.org")})}
    assert change.dropped == (Dropped(crm("2"), "p1", DropCause.UNIQUE),)


def test_a_custom_unique_namespace_is_protected_too() -> None:
    graph = Graph()
    graph.send(ecid("e1"), Identity("Loyalty", "L1"))
    graph.send(ecid("e1"), Identity("Loyalty", "L2"), at=T0 + 1)
    assert graph.person_of(ecid("e1")).identities == {  # type: ignore[union-attr]
        ecid("e1"),
        Identity("Loyalty", "L2"),
    }


def test_at_most_fifty_identities_the_oldest_links_drop_first() -> None:
    graph = Graph()
    graph.send(crm("1"), ecid("e0"), at=T0)
    for n in range(1, MAX_IDENTITIES + 1):
        change = graph.send(crm("1"), ecid(f"e{n}"), at=T0 + n)
    person = graph.person_of(crm("1"))
    assert person is not None and len(person.identities) == MAX_IDENTITIES
    assert ecid("e0") not in person.identities and ecid("e1") not in person.identities
    assert ecid(f"e{MAX_IDENTITIES}") in person.identities
    dropped = [d for c in graph.changes for d in c.dropped]
    assert dropped == [
        Dropped(ecid("e0"), "p1", DropCause.LIMIT),
        Dropped(ecid("e1"), "p1", DropCause.LIMIT),
    ]
    assert change.dropped == (Dropped(ecid("e1"), "p1", DropCause.LIMIT),)


def test_a_merge_over_the_limit_keeps_what_arrived() -> None:
    graph = Graph()
    for n in range(30):
        graph.send(email("a@x.org"), ecid(f"a{n}"), at=T0 + n)
    for n in range(30):
        graph.send(email("b@x.org"), ecid(f"b{n}"), at=T0 + 100 + n)
    change = graph.send(email("a@x.org"), email("b@x.org"), at=T0 + 1000)
    person = graph.person_of(email("a@x.org"))
    assert person is not None and len(person.identities) == MAX_IDENTITIES
    assert {email("a@x.org"), email("b@x.org")} <= person.identities
    assert len(change.dropped) == 62 - MAX_IDENTITIES
    assert all(d.cause is DropCause.LIMIT for d in change.dropped)


# properties

IDS = st.sampled_from(
    [ecid(f"e{n}") for n in range(6)]
    + [email(f"{n}@x.org") for n in range(6)]
    + [Identity("Phone", f"+3361234567{n}") for n in range(3)]
)
MESSAGES = st.lists(st.lists(IDS, min_size=1, max_size=4), min_size=1, max_size=12)


def groups_after(messages: Iterable[Sequence[Identity]]) -> set[frozenset[Identity]]:
    graph = Graph()
    for n, message in enumerate(messages):
        graph.send(*message, at=T0 + n)
    return graph.groups()


@settings(max_examples=150, deadline=None)
@given(MESSAGES, st.randoms(use_true_random=False))
def test_merging_is_order_independent_in_the_persons_that_result(
    messages: list[list[Identity]], random: object
) -> None:
    shuffled = list(messages)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert groups_after(messages) == groups_after(shuffled)


UNIQUE_IDS = st.sampled_from(
    [ecid(f"e{n}") for n in range(5)]
    + [crm(str(n)) for n in range(4)]
    + [Identity("Loyalty", f"L{n}") for n in range(3)]
    + [email(f"{n}@x.org") for n in range(3)]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(UNIQUE_IDS, min_size=1, max_size=5), min_size=1, max_size=15))
def test_the_guardrails_always_hold(messages: list[list[Identity]]) -> None:
    graph = Graph()
    for n, message in enumerate(messages):
        change = graph.send(*message, at=T0 + n)
        lost = {d.identity for d in change.dropped if d.person_id == change.person_id}
        together = set(message) - lost
        holders = {graph.person_of(x).person_id for x in together}  # type: ignore[union-attr]
        assert holders == {change.person_id}  # what arrived together is one person's
    seen: set[Identity] = set()
    for person in graph.persons.values():
        assert person.identities, "no person is left without identities"
        assert not person.identities & seen, "an identity belongs to one person"
        seen |= person.identities
        for namespace in ("CRMID", "Loyalty"):
            assert sum(x.namespace == namespace for x in person.identities) <= 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(UNIQUE_IDS, min_size=1, max_size=5), min_size=1, max_size=15))
def test_identities_one_person_holds_already_or_none_are_decided_as_in_full(
    messages: list[list[Identity]],
) -> None:
    """``link`` answers a message whose identities one person holds already, or no person
    holds any of, without working the graph out; its answer is the one the full computation
    gives, every time."""
    graph = Graph()
    unique = {code for code, ns in NAMESPACES.items() if ns.unique}
    for n, message in enumerate([*messages, *messages]):  # the second time, mostly known
        owners = [p for p in graph.persons.values() if p.identities & set(message)]
        arrived, dropped = _one_per_unique_namespace(message, unique)
        change = graph.send(*message, at=T0 + n)
        minted = functools.partial(str, change.person_id)  # a new person's id, if one is made
        in_full = _relink(owners, arrived, dropped, unique, T0 + n, minted)
        assert change == in_full
