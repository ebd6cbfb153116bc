"""The journey engine evaluates audiences in the commit of what it reads: events an audience
counts are kept for the person, and the person enters or exits at that time
(engine/audiences.py, store/audience_checks.py, model/audiences.py)."""

from __future__ import annotations

from tests.contract.conftest import message
from tests.contract.test_identity_graph import decide
from tests.people import ecid, email
from tests.unit.journey_engine import ORG, T0, Engine, make_engine
from wayfare.engine.audiences import AudienceChecks
from wayfare.model.audiences import Membership, parse_audience
from wayfare.model.identities import Identity
from wayfare.model.matching import EventMatch
from wayfare.model.profile_records import Operation, ProfileUpdate
from wayfare.model.runs import EngineBatch
from wayfare.store.memory import MemoryStore
from wayfare.store.memory_audiences import MemoryAudienceStore
from wayfare.store.memory_journeys import MemoryJourneyStore

DAY = 86_400_000


def engine_with(*audiences: dict[str, str]) -> tuple[Engine, MemoryJourneyStore]:
    store = MemoryJourneyStore(MemoryStore())
    for data in audiences:
        store.audiences.add_audience(parse_audience(ORG, data))
    return make_engine(store, identity_graph=store.identities, audiences=store.audiences), store


def cart(engine: Engine, identity_map: dict[str, str]) -> None:
    engine.sent += 1
    entity = {"identityMap": {ns: [{"id": id_}] for ns, id_ in identity_map.items()}}
    engine.log.append(
        message(
            f"x{engine.sent}",
            received_ms=engine.clock.now_ms(),
            body={"body": {"xdmEntity": entity}},
            matches=[EventMatch("cart", next(iter(identity_map.values())))],
        )
    )


def person_id(store: MemoryJourneyStore, identity_map: dict[str, str]) -> str:
    namespace, id_ = next(iter(identity_map.items()))
    person = store.identities.person_of(ORG, email(id_) if namespace == "Email" else ecid(id_))
    assert person is not None
    return person.person_id


def test_a_person_enters_when_their_events_qualify_and_exits_when_they_age_out() -> None:
    engine, store = engine_with({"name": "carts", "condition": "count(cart in last 1 day) >= 2"})
    ada = {"Email": "ada@example.com"}
    cart(engine, ada)
    engine.cycle()
    pid = person_id(store, ada)
    assert store.audiences.memberships_of(ORG, pid) == []
    engine.clock.advance(1000)
    cart(engine, {"ECID": "e-1", "Email": "ada@example.com"})  # another identity, one person
    engine.cycle()
    assert store.audiences.memberships_of(ORG, pid) == [Membership("carts", pid, T0 + 1000)]
    engine.clock.advance(2 * DAY)
    cart(engine, {"ECID": "e-1"})  # one cart in the last day now
    engine.cycle()
    left = T0 + 1000 + 2 * DAY
    assert store.audiences.memberships_of(ORG, pid) == [Membership("carts", pid, T0 + 1000, left)]
    assert store.audiences.members(ORG, "carts") == []


def test_profile_attributes_take_part_in_the_condition() -> None:
    engine, store = engine_with(
        {"name": "gold", "condition": "#{profile.tier} == 'gold' and count(cart in last 1 day) > 0"}
    )
    ada = Identity("Email", "ada@example.com")
    gold = ProfileUpdate(ORG, "crm", ada, Operation.MERGE, {"tier": "gold"}, T0)
    store.profiles.apply_profile_update(gold)
    cart(engine, {"Email": "ada@example.com"})
    cart(engine, {"Email": "bob@example.com"})
    engine.cycle()
    assert [m.person_id for m in store.audiences.members(ORG, "gold")] == [
        person_id(store, {"Email": "ada@example.com"})
    ]


def test_events_no_audience_counts_are_not_kept() -> None:
    engine, store = engine_with(
        {"name": "buyers", "condition": "count(purchase in last 1 day) > 0"}
    )
    cart(engine, {"Email": "ada@example.com"})
    engine.cycle()
    window = ("cart", DAY)
    ada = [Identity("Email", "ada@example.com")]
    assert store.audiences.count_identity_events(ORG, ada, [window], T0) == {window: 0}
    assert store.audiences.memberships_of(ORG, person_id(store, {"Email": "ada@example.com"})) == []


def test_a_profile_change_is_checked_against_the_audiences_reading_the_profile() -> None:
    store = MemoryJourneyStore(MemoryStore())
    for name, condition in [
        ("gold", "#{profile.tier} == 'gold'"),
        ("carts", "count(cart in last 1 day) > 0"),
    ]:
        store.audiences.add_audience(parse_audience(ORG, {"name": name, "condition": condition}))
    ada = email("ada@example.com")
    ada_key = Identity("Email", "ada@example.com")
    gold = ProfileUpdate(ORG, "crm", ada_key, Operation.MERGE, {"tier": "gold"}, T0)
    [check] = AudienceChecks(store.audiences).for_profile_changes([gold], T0)
    assert check.event is None and check.identity == ada
    assert [a.name for a in check.audiences] == ["gold"]
    assert AudienceChecks(MemoryAudienceStore()).for_profile_changes([gold], T0) == []
    store.identities.link(ORG, [ada], decide(T0, [ada]))
    store.profiles.apply_profile_update(gold)
    store.commit(EngineBatch(audience_checks=[check]))
    [member] = store.audiences.members(ORG, "gold")
    assert member.entered_ms == T0
