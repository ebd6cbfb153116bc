"""The journey engine links the identities of the messages it consumes, in its commit, once
(engine/runtime.py, model/identity_graph.py)."""

from __future__ import annotations

from typing import Any

from tests.contract.conftest import message
from tests.people import crm, ecid, email
from tests.unit.journey_engine import ORG, T0, Engine, make_engine
from wayfare.model.identities import Identity, Namespace
from wayfare.model.matching import EventMatch
from wayfare.store.memory import MemoryStore
from wayfare.store.memory_journeys import MemoryJourneyStore


def identities(engine: Engine) -> Any:
    assert isinstance(engine.store, MemoryJourneyStore)
    return engine.store.identities


def send(engine: Engine, identity_map: dict[str, Any], *, at: int, event: bool = False) -> None:
    engine.sent += 1
    engine.log.append(
        message(
            f"x{engine.sent}",
            received_ms=at,
            body={"body": {"xdmEntity": {"identityMap": identity_map}}},
            matches=[EventMatch("signup", "someone")] if event else None,
        )
    )


def test_ecid_then_email_then_both_are_one_person_linked_when_each_arrived() -> None:
    engine = make_engine()
    send(engine, {"ECID": [{"id": "e1"}]}, at=T0)
    send(engine, {"Email": [{"id": "Ada@Example.com"}]}, at=T0 + 1, event=True)
    engine.cycle()
    graph = identities(engine)
    ada = graph.person_of(ORG, email("ada@example.com"))
    assert ada is not None and ada != graph.person_of(ORG, ecid("e1"))
    send(engine, {"ECID": [{"id": "e1"}], "Email": [{"id": "ada@example.com"}]}, at=T0 + 2)
    send(engine, {"Unknown": [{"id": "u"}]}, at=T0 + 3)
    engine.cycle()
    person = graph.person_of(ORG, email("ada@example.com"))
    assert person is not None and person == graph.person_of(ORG, ecid("e1"))
    assert [(str(x.identity), x.linked_ms) for x in person.links] == [
        ("ECID:e1", T0),
        ("Email:ada@example.com", T0 + 1),
    ]
    assert graph.person_of(ORG, Identity("Unknown", "u")) is None  # not a namespace of the org
    engine.cycle()  # nothing new: nothing changes
    assert graph.person_of(ORG, ecid("e1")) == person


def test_an_org_s_own_namespaces_are_linked_with_their_uniqueness() -> None:
    store = MemoryJourneyStore(MemoryStore())
    engine = make_engine(store, identity_graph=store.identities)
    graph = store.identities
    graph.add_namespace(ORG, Namespace("Loyalty", "Loyalty card", unique=True))
    send(engine, {"ECID": [{"id": "e1"}], "Loyalty": [{"id": "L1"}]}, at=T0)
    send(engine, {"ECID": [{"id": "e1"}], "Loyalty": [{"id": "L2"}]}, at=T0 + 1)
    send(engine, {"CRMID": [{"id": "1"}, {"id": "2"}]}, at=T0 + 2)
    engine.cycle()
    person = graph.person_of(ORG, ecid("e1"))
    assert person is not None
    assert person.identities == {ecid("e1"), Identity("Loyalty", "L2")}
    assert graph.person_of(ORG, crm("2")) is None


def test_a_record_naming_more_than_twenty_identities_links_nobody() -> None:
    engine = make_engine()
    crowd = {"Email": [{"id": f"p{i}@example.com"} for i in range(21)]}
    send(engine, crowd, at=T0)
    send(engine, {"Email": [{"id": "p0@example.com"}]}, at=T0 + 1)
    send(engine, {"Email": [{"id": "p1@example.com"}]}, at=T0 + 2)
    engine.cycle()
    graph = identities(engine)
    first, second = (
        graph.person_of(ORG, email("p0@example.com")),
        graph.person_of(ORG, email("p1@example.com")),
    )
    assert first is not None and second is not None and first != second
    assert graph.person_of(ORG, email("p20@example.com")) is None
