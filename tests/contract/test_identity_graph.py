"""The identity graph's store (store/ports.py ``IdentityGraph``) over every adapter: it keeps
what the linking rule decides, follows merges, records dropped links, keeps custom
namespaces, and lets links made at the same time on several connections take turns."""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Callable, Sequence

import pytest

from tests.conftest import in_threads
from tests.contract.conftest import ORG, OTHER_ORG, T0, GraphBackend
from tests.people import crm, ecid, email
from wayfare.errors import ConflictError
from wayfare.model.identities import Identity, Namespace, namespaces_of
from wayfare.model.identity_graph import (
    MAX_IDENTITIES,
    Decide,
    DropCause,
    Dropped,
    GraphChange,
    link,
)
from wayfare.store.ports import IdentityGraph

NAMESPACES = namespaces_of([])


def decide(at: int, arrived: Sequence[Identity], new_id: Callable[[], str] | None = None) -> Decide:
    return functools.partial(
        link,
        arrived=arrived,
        now_ms=at,
        namespaces=NAMESPACES,
        new_person_id=new_id or (lambda: os.urandom(8).hex()),
    )


def send(graph: IdentityGraph, *identities: Identity, at: int = T0, org: str = ORG) -> GraphChange:
    return graph.link(org, identities, decide(at, identities))


def test_links_are_kept_with_their_times(graph_backend: GraphBackend) -> None:
    graph = graph_backend.connect()
    first = send(graph, ecid("e1"), at=T0)
    send(graph, ecid("e1"), email("ada@example.com"), at=T0 + 5)
    person = graph_backend.connect().person_of(ORG, email("ada@example.com"))
    assert person is not None and person.person_id == first.person_id
    assert person.created_ms == T0
    assert [(str(x.identity), x.linked_ms) for x in person.links] == [
        ("ECID:e1", T0),
        ("Email:ada@example.com", T0 + 5),
    ]
    assert graph.person_of(OTHER_ORG, ecid("e1")) is None
    assert graph.person_of(ORG, ecid("unknown")) is None


def test_the_persons_of_several_identities_come_in_one_read(graph_backend: GraphBackend) -> None:
    graph = graph_backend.connect()
    ada = send(graph, ecid("e1"), email("ada@example.com"), at=T0).person_id
    bob = send(graph, email("bob@example.com"), at=T0 + 1).person_id
    many = [email(f"nobody{n}@example.com") for n in range(450)]  # over one read's chunk
    asked = [ecid("e1"), email("ada@example.com"), email("bob@example.com"), *many]
    found = graph_backend.connect().persons_of(ORG, asked)
    assert set(found) == {ecid("e1"), email("ada@example.com"), email("bob@example.com")}
    assert {x: p.person_id for x, p in found.items()} == {
        ecid("e1"): ada,
        email("ada@example.com"): ada,
        email("bob@example.com"): bob,
    }
    assert found[ecid("e1")] == graph.person_of(ORG, ecid("e1"))
    assert found[ecid("e1")].identities == {ecid("e1"), email("ada@example.com")}
    assert graph.persons_of(OTHER_ORG, asked) == {}
    assert graph.persons_of(ORG, []) == {}
    send(graph, email("ada@example.com"), email("bob@example.com"), at=T0 + 2)  # merged
    merged = graph.persons_of(ORG, [ecid("e1"), email("bob@example.com")])
    assert merged[ecid("e1")] == merged[email("bob@example.com")]


def test_a_merged_person_id_leads_to_the_survivor(graph_backend: GraphBackend) -> None:
    graph = graph_backend.connect()
    a = send(graph, ecid("e1"), at=T0).person_id
    b = send(graph, email("a@x.org"), at=T0 + 1).person_id
    c = send(graph, crm("9"), at=T0 + 2).person_id
    assert a and b and c
    send(graph, email("a@x.org"), crm("9"), at=T0 + 3)  # c into b
    merged = send(graph, ecid("e1"), email("a@x.org"), at=T0 + 4)  # b into a
    assert merged.person_id == a
    other = graph_backend.connect()
    for pid in (a, b, c):
        person = other.person(ORG, pid)
        assert person is not None and person.person_id == a
        assert person.identities == {ecid("e1"), email("a@x.org"), crm("9")}
    assert other.person(ORG, "nobody") is None
    assert other.person(OTHER_ORG, a) is None


def test_a_forgotten_person_leaves_nothing(graph_backend: GraphBackend) -> None:
    graph = graph_backend.connect()
    a = send(graph, ecid("e1"), at=T0).person_id
    b = send(graph, email("a@x.org"), crm("1"), at=T0 + 1).person_id
    send(graph, ecid("e1"), email("a@x.org"), at=T0 + 2)  # b into a
    # crm 2 wins over a's crm 1: e1 goes to crm 2's new person, a records the drop
    kept = send(graph, ecid("e1"), crm("2"), at=T0 + 3).person_id
    assert a and b and kept and kept != a
    assert graph.dropped_links(ORG, a) != []
    other = graph_backend.connect()
    assert other.forget_person(ORG, b) == 2  # by the absorbed id too: a@x.org, crm 1
    assert graph.dropped_links(ORG, a) == []
    for pid in (a, b):
        assert other.person(ORG, pid) is None
    for x in (email("a@x.org"), crm("1")):
        assert other.person_of(ORG, x) is None
    assert other.person(ORG, kept).identities == {ecid("e1"), crm("2")}  # type: ignore[union-attr]
    assert other.forget_person(ORG, a) == 0
    again = send(graph, email("a@x.org"), at=T0 + 5).person_id  # a new person next time
    assert again not in (a, b, None)


def test_graph_collapse_and_limit_drops_are_recorded(graph_backend: GraphBackend) -> None:
    graph = graph_backend.connect()
    one = send(graph, email("desk@shop.org"), crm("1"), at=T0).person_id
    two = send(graph, email("desk@shop.org"), crm("2"), at=T0 + 1).person_id
    assert one and two and one != two
    other = graph_backend.connect()
    assert other.person(ORG, one).identities == {crm("1")}  # type: ignore[union-attr]
    assert other.person_of(ORG, email("desk@shop.org")).person_id == two  # type: ignore[union-attr]
    assert other.dropped_links(ORG, one) == [Dropped(email("desk@shop.org"), one, DropCause.UNIQUE)]
    for n in range(MAX_IDENTITIES):
        send(graph, crm("2"), ecid(f"e{n}"), at=T0 + 10 + n)
    assert len(other.person(ORG, two).identities) == MAX_IDENTITIES  # type: ignore[union-attr]
    assert other.dropped_links(ORG, two) == [
        Dropped(ecid("e0"), two, DropCause.LIMIT),
        Dropped(email("desk@shop.org"), two, DropCause.LIMIT),
    ]
    assert other.person_of(ORG, email("desk@shop.org")) is None


def test_custom_namespaces_per_org(graph_backend: GraphBackend) -> None:
    graph = graph_backend.connect()
    loyalty = Namespace("Loyalty", "Loyalty card", unique=True, created_ms=T0)
    graph.add_namespace(ORG, loyalty)
    graph.add_namespace(ORG, Namespace("Badge", "Badge", created_ms=T0))
    with pytest.raises(ConflictError):
        graph.add_namespace(ORG, Namespace("Loyalty", "again", created_ms=T0))
    assert graph_backend.connect().list_namespaces(ORG) == [
        Namespace("Badge", "Badge", created_ms=T0),
        loyalty,
    ]
    assert graph.list_namespaces(OTHER_ORG) == []


def test_concurrent_links_of_one_person_lose_nothing(graph_backend: GraphBackend) -> None:
    """Threads on connections of their own link identities of one person at once: every
    link is kept, and every identity ends on the one person."""
    graphs = [graph_backend.connect() for _ in range(4)]
    send(graphs[0], ecid("shared"), email("first@x.org"))
    rounds = 11
    start = threading.Barrier(len(graphs))

    def client(n: int) -> None:
        start.wait()
        for r in range(rounds):
            # through the shared ECID, or the identity the client linked last
            via = email(f"c{n}-{r - 1}@x.org") if r % 2 else ecid("shared")
            send(graphs[n], via, email(f"c{n}-{r}@x.org"), at=T0 + r)

    in_threads(len(graphs), client)
    person = graph_backend.connect().person_of(ORG, ecid("shared"))
    assert person is not None
    expected = {email(f"c{n}-{r}@x.org") for n in range(len(graphs)) for r in range(rounds)}
    assert len(expected) + 2 <= MAX_IDENTITIES
    assert person.identities == expected | {ecid("shared"), email("first@x.org")}


def test_concurrent_merges_make_one_person(graph_backend: GraphBackend) -> None:
    """A chain of identities linked pairwise, in several orders at once: one person."""
    graphs = [graph_backend.connect() for _ in range(3)]
    chain = [email(f"m{n}@x.org") for n in range(12)]
    pairs = list(itertools.pairwise(chain))
    orders = [pairs, pairs[::-1], pairs[::2] + pairs[1::2]]
    start = threading.Barrier(len(graphs))

    def client(c: int) -> None:
        start.wait()
        for n, (a, b) in enumerate(orders[c]):
            send(graphs[c], a, b, at=T0 + n)

    in_threads(len(graphs), client)
    reader = graph_backend.connect()
    persons = {reader.person_of(ORG, x).person_id for x in chain}  # type: ignore[union-attr]
    assert len(persons) == 1
    assert reader.person(ORG, persons.pop()).identities == set(chain)  # type: ignore[union-attr]
