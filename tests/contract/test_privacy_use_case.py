"""The privacy delete's reach into datasets over every store (registry/privacy.py): the
person's records of every dataset of the org and their failed records go, page by page,
and no one else's, as do the experience events kept for the person's identities; the person
leaves the identity graph; a second delete finds nothing."""

from __future__ import annotations

from typing import Any

from tests.contract.conftest import ORG, OTHER_ORG, T0, Backend, message, write
from tests.contract.test_journey_store import arrival
from tests.people import ecid, email
from wayfare.clock import FakeClock
from wayfare.errors import Violation
from wayfare.model.audiences import Membership, MembershipChange
from wayfare.model.identities import Identity
from wayfare.model.person_events import PersonEvent
from wayfare.model.resources import Dataset
from wayfare.model.runs import EngineBatch
from wayfare.registry.privacy import PrivacyDeletes

BROKEN = [Violation("#/timestamp", "format", "not a date-time")]


def about(who: str) -> dict[str, Any]:
    """An XDM message naming ``who`` (ada or bob) by Email and ECID."""
    ids = {"Email": [{"id": f"{who.title()}@Example.com"}], "ECID": [{"id": f"e-{who}"}]}
    meta = {"schemaRef": {"id": "https://ns.adobe.com/acme/schemas/1"}}
    return {"header": meta, "body": {"xdmMeta": meta, "xdmEntity": {"identityMap": ids}}}


def test_the_persons_records_and_failed_records_go_page_by_page(backend: Backend) -> None:
    store = backend.store
    for n, dataset_id in enumerate(("dataset-1", "dataset-2")):
        store.add_dataset(Dataset(dataset_id, ORG, dataset_id, "schema-1", n == 0, T0))
    people = ["ada", "bob", "ada", "ada", "bob"]
    write(
        backend,
        *(message(f"r{n}", body=about(who)) for n, who in enumerate(people)),
        message("r5", dataset_id="dataset-2", body=about("ada")),
        message("r6", dataset_id="dataset-2", body={"not": "xdm"}),
        *(message(f"f{n}", body=about(who), reasons=BROKEN) for n, who in enumerate(people)),
        message("theirs", org_id=OTHER_ORG, body=about("ada"), reasons=BROKEN),
    )
    journeys = backend.open_journeys()
    ada, ada_ecid, bob = (
        Identity("Email", "ada@example.com"), Identity("ECID", "e-ada"),
        Identity("Email", "bob@example.com"),
    )  # fmt: skip
    kept_events = [
        PersonEvent(ORG, who, "dataset-1", f"r{n}", T0 + n, T0 + n, None)
        for n, who in enumerate((ada, bob, ada, ada_ecid))
    ]
    links = [arrival(T0, email("ada@example.com"), ecid("e-ada"))]
    journeys.commit(EngineBatch(links=links, person_events=kept_events))
    graph, profiles, audiences = (
        backend.open_identity_graph(),
        backend.open_profiles(),
        backend.open_audiences(),
    )
    person = graph.person_of(ORG, email("ada@example.com"))
    assert person is not None
    for who in (ada, ada_ecid, bob):
        audiences.add_identity_event(ORG, who, "cart", T0)
    audiences.record_membership_changes(
        ORG,
        [
            MembershipChange("entered", Membership("gold", person.person_id, T0)),
            MembershipChange("entered", Membership("gold", "bob-person", T0)),
        ],
    )
    deletes = PrivacyDeletes(graph, journeys, profiles, audiences, store, FakeClock(T0), page=2)

    done = deletes.delete(ORG, "ECID", "e-ada")

    assert (done.identities, done.records, done.failed_records) == (2, 4, 3)
    assert done.experience_events == 3
    assert (done.audience_memberships, done.counted_events) == (1, 2)
    assert audiences.memberships_of(ORG, person.person_id) == []
    assert [m.person_id for m in audiences.members(ORG, "gold")] == ["bob-person"]
    counts = audiences.count_identity_events(ORG, [ada, ada_ecid, bob], [("cart", 10)], T0)
    assert counts == {("cart", 10): 1}
    assert profiles.person_events(ORG, [ada, ada_ecid], 10) == []
    assert [e.xaction_id for e in profiles.person_events(ORG, [bob], 10)] == ["r1"]
    kept = [
        r.xaction_id for d in ("dataset-1", "dataset-2") for r in store.list_records(d, limit=9)
    ]
    assert kept == ["r1", "r4", "r6"]
    assert [f.xaction_id for f in store.list_failures(ORG)] == ["f4", "f1"]
    assert [f.xaction_id for f in store.list_failures(OTHER_ORG)] == ["theirs"]
    assert graph.person_of(ORG, email("ada@example.com")) is None
    again = deletes.delete(ORG, "Email", "ADA@example.com")
    assert (again.person_id, again.identities, again.records, again.failed_records) == (
        None, 0, 0, 0,
    )  # fmt: skip
    assert again.experience_events == 0
    assert (again.audience_memberships, again.counted_events) == (0, 0)
