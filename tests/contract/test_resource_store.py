"""The ResourceStore contract: every adapter stores and finds resources the same way."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import pytest

from tests.contract.conftest import ORG, OTHER_ORG, T0, Backend, make_schema, message, write
from wayfare.errors import ConflictError, Violation
from wayfare.model.events import EventConfig, Unmatched
from wayfare.model.matching import EventMatch
from wayfare.model.records import AccessToken
from wayfare.model.resources import Dataset, Inlet, Org

BROKEN = [Violation("#/_id", "type", "not a string")]


def dataset(
    dataset_id: str,
    schema_id: str,
    *,
    org_id: str = ORG,
    default: bool = False,
    name: str | None = None,
    created_ms: int = T0,
) -> Dataset:
    return Dataset(dataset_id, org_id, name or f"{dataset_id} name", schema_id, default, created_ms)


# orgs


def test_an_org_is_stored_and_its_tenant_can_change_but_not_its_creation_time(
    backend: Backend,
) -> None:
    store = backend.store
    assert store.get_org(ORG) is None
    store.put_org(Org(ORG, "acme", T0))
    assert store.get_org(ORG) == Org(ORG, "acme", T0)
    store.put_org(Org(ORG, "acme_corp", T0 + 5))
    assert store.get_org(ORG) == Org(ORG, "acme_corp", T0)
    assert store.get_org(OTHER_ORG) is None


def test_orgs_are_listed_by_id_once_each(backend: Backend) -> None:
    store = backend.store
    assert store.list_orgs() == []
    store.put_org(Org("b@AdobeOrg", "b", T0))
    store.put_org(Org("A@AdobeOrg", "a", T0 + 1))
    store.put_org(Org("b@AdobeOrg", "b_corp", T0 + 2))
    assert store.list_orgs() == [Org("A@AdobeOrg", "a", T0 + 1), Org("b@AdobeOrg", "b_corp", T0)]


# schemas


def test_a_new_schema_lands_with_its_default_dataset(backend: Backend) -> None:
    schema = make_schema("signup")
    store = backend.store
    store.add_schema(schema, dataset("ds-1", schema.schema_id, default=True))
    stored = store.get_schema(schema.schema_id)
    assert stored is not None
    assert (stored.name, stored.version, stored.org_id) == ("signup", 1, ORG)
    assert stored.definition == schema.definition
    assert stored.json_schema == schema.json_schema
    assert store.get_dataset("ds-1") == dataset("ds-1", schema.schema_id, default=True)


def test_a_schema_whose_default_dataset_clashes_is_not_stored_at_all(backend: Backend) -> None:
    store = backend.store
    first = make_schema("first", hex_id="1" * 32)
    store.add_schema(first, dataset("ds-1", first.schema_id, default=True))
    second = make_schema("second", hex_id="2" * 32)
    with pytest.raises(ConflictError):
        store.add_schema(second, dataset("ds-1", second.schema_id, default=True))
    assert store.get_schema(second.schema_id) is None
    assert store.get_dataset("ds-1") == dataset("ds-1", first.schema_id, default=True)


def test_get_schema_gives_the_latest_version_or_the_one_asked_for(backend: Backend) -> None:
    store = backend.store
    store.add_schema(make_schema("signup", title="v1"), None)
    store.add_schema(make_schema("signup", version=2, title="v2"), None)
    schema_id = make_schema("signup").schema_id
    latest = store.get_schema(schema_id)
    assert latest is not None and (latest.version, latest.definition.title) == (2, "v2")
    first = store.get_schema(schema_id, 1)
    assert first is not None and (first.version, first.definition.title) == (1, "v1")
    assert store.get_schema(schema_id, 3) is None
    assert store.get_schema("https://ns.adobe.com/acme/schemas/unknown") is None


def test_find_schema_by_id_alt_id_or_name_within_its_org_only(backend: Backend) -> None:
    store = backend.store
    store.add_schema(make_schema("signup"), None)
    store.add_schema(make_schema("signup", version=2), None)
    schema = make_schema("signup")
    assert schema.alt_id == f"_acme.schemas.{'0' * 32}"
    for key in (schema.schema_id, schema.alt_id, "signup"):
        found = store.find_schema(ORG, key)
        assert found is not None and (found.schema_id, found.version) == (schema.schema_id, 2)
    assert store.find_schema(OTHER_ORG, "signup") is None
    assert store.find_schema(ORG, "unknown") is None


def test_a_renamed_schema_answers_to_its_new_name_only(backend: Backend) -> None:
    store = backend.store
    store.add_schema(make_schema("signup"), None)
    store.add_schema(make_schema("newsletter", version=2), None)
    renamed = store.find_schema(ORG, "newsletter")
    assert renamed is not None and (renamed.name, renamed.version) == ("newsletter", 2)
    assert store.find_schema(ORG, "signup") is None
    # its ids still find its latest version
    found = store.find_schema(ORG, renamed.schema_id)
    assert found is not None and found.version == 2


def test_list_schemas_gives_the_latest_version_of_each_by_name(backend: Backend) -> None:
    store = backend.store
    store.add_schema(make_schema("zeta", hex_id="1" * 32), None)
    store.add_schema(make_schema("alpha", hex_id="2" * 32), None)
    store.add_schema(make_schema("alpha", hex_id="2" * 32, version=2), None)
    store.add_schema(make_schema("mine", hex_id="3" * 32, org_id=OTHER_ORG), None)
    listed = [(s.name, s.version) for s in store.list_schemas(ORG)]
    assert listed == [("alpha", 2), ("zeta", 1)]
    assert store.list_schemas("NOBODY@AdobeOrg") == []


def test_schema_versions_come_oldest_first(backend: Backend) -> None:
    store = backend.store
    for version in (1, 2, 3):
        store.add_schema(make_schema("signup", version=version, title=f"v{version}"), None)
    versions = store.schema_versions(make_schema("signup").schema_id)
    assert [(s.version, s.definition.title) for s in versions] == [(1, "v1"), (2, "v2"), (3, "v3")]


def test_a_schema_name_is_unique_within_an_org(backend: Backend) -> None:
    store = backend.store
    store.add_schema(make_schema("signup", hex_id="1" * 32), None)
    with pytest.raises(ConflictError):
        store.add_schema(make_schema("signup", hex_id="2" * 32), None)
    store.add_schema(make_schema("signup", hex_id="3" * 32, org_id=OTHER_ORG), None)
    assert [s.schema_id[-1] for s in store.list_schemas(ORG)] == ["1"]
    assert [s.schema_id[-1] for s in store.list_schemas(OTHER_ORG)] == ["3"]


def test_the_same_version_cannot_be_added_twice(backend: Backend) -> None:
    store = backend.store
    store.add_schema(make_schema("signup", title="first"), None)
    with pytest.raises(ConflictError):
        store.add_schema(make_schema("signup", title="second"), None)
    kept = store.get_schema(make_schema("signup").schema_id)
    assert kept is not None and kept.definition.title == "first"


# datasets


def test_datasets_are_listed_per_org_and_per_schema_default_first(backend: Backend) -> None:
    store = backend.store
    schema_a = make_schema("a", hex_id="a" * 32)
    schema_b = make_schema("b", hex_id="b" * 32)
    store.add_schema(schema_a, dataset("a-extra", schema_a.schema_id, created_ms=T0 - 10))
    store.add_dataset(dataset("a-default", schema_a.schema_id, default=True, created_ms=T0))
    store.add_dataset(dataset("b-one", schema_b.schema_id, created_ms=T0 + 10))
    store.add_dataset(dataset("elsewhere", schema_a.schema_id, org_id=OTHER_ORG))
    assert [d.dataset_id for d in store.list_datasets(ORG)] == ["a-extra", "a-default", "b-one"]
    by_schema = store.list_datasets(ORG, schema_a.schema_id)
    assert [(d.dataset_id, d.is_default) for d in by_schema] == [
        ("a-default", True),
        ("a-extra", False),
    ]
    assert store.get_dataset("b-one") == dataset("b-one", schema_b.schema_id, created_ms=T0 + 10)
    assert store.get_dataset("missing") is None


def test_a_dataset_id_is_unique(backend: Backend) -> None:
    store = backend.store
    store.add_dataset(dataset("ds", "schema-1", name="first"))
    with pytest.raises(ConflictError):
        store.add_dataset(dataset("ds", "schema-2", name="second"))
    kept = store.get_dataset("ds")
    assert kept is not None and kept.name == "first"


def test_a_datasets_retention_is_stored_and_changed(backend: Backend) -> None:
    store = backend.store
    store.add_dataset(dataset("kept", "schema-1"))
    store.add_dataset(dataclasses.replace(dataset("short", "schema-1"), retention_days=7))
    assert [d.dataset_id for d in store.datasets_with_retention()] == ["short"]
    store.set_dataset_retention("kept", 30)
    store.set_dataset_retention("short", None)
    kept = store.get_dataset("kept")
    assert kept is not None and kept.retention_days == 30
    assert [(d.dataset_id, d.retention_days) for d in store.datasets_with_retention()] == [
        ("kept", 30)
    ]


def test_a_dataset_is_enabled_for_profile_at_creation_or_later(backend: Backend) -> None:
    store = backend.store
    store.add_dataset(dataset("plain", "schema-1"))
    store.add_dataset(dataclasses.replace(dataset("crm", "schema-1"), profile=True))
    before = store.resource_generation()
    store.enable_dataset_profile("plain")
    assert store.resource_generation() > before  # caches of datasets see it
    reopened = backend.reopen_store()
    assert [(d.dataset_id, d.profile) for d in reopened.list_datasets(ORG)] == [
        ("crm", True),
        ("plain", True),
    ]


def test_records_before_a_time_are_deleted_oldest_first_a_chunk_at_a_time(
    backend: Backend,
) -> None:
    store = backend.store
    write(
        backend,
        *(message(f"old{i}", received_ms=T0 + i) for i in range(5)),
        message("old-failed", received_ms=T0, reasons=BROKEN),
        message("new", received_ms=T0 + 100),
        message("elsewhere", received_ms=T0, dataset_id="dataset-2"),
    )
    assert store.delete_records_before("dataset-1", T0 + 100, 2) == 3  # 2 records, 1 failed
    assert [r.xaction_id for r in store.list_records("dataset-1", limit=10)] == [
        "old2",
        "old3",
        "old4",
        "new",
    ]
    assert store.list_failures(ORG) == []
    assert store.delete_records_before("dataset-1", T0 + 100, 10) == 3
    assert store.delete_records_before("dataset-1", T0 + 100, 10) == 0
    assert [r.xaction_id for r in store.list_records("dataset-1", limit=10)] == ["new"]
    assert store.count_records("dataset-2") == 1


def test_records_are_deleted_by_seq_with_their_event_matches(backend: Backend) -> None:
    store = backend.store
    signup = EventMatch("signup", "ada@example.com")
    write(
        backend,
        *(msgspec.structs.replace(message(f"r{i}"), matches=[signup]) for i in range(4)),
        message("elsewhere", dataset_id="dataset-2"),
    )
    seqs = {r.xaction_id: r.seq for r in store.list_records("dataset-1", limit=10)}
    other = store.list_records("dataset-2", limit=10)[0].seq
    assert store.delete_records("dataset-1", [seqs["r1"], seqs["r3"], other]) == 2
    assert [r.xaction_id for r in store.list_records("dataset-1", limit=10)] == ["r0", "r2"]
    assert store.count_records("dataset-2") == 1
    matched = store.list_event_matches(ORG, "signup", limit=10)
    assert sorted(m.xaction_id for m in matched) == ["r0", "r2"]
    assert store.delete_records("dataset-1", [seqs["r1"]]) == 0
    assert store.delete_records("dataset-1", []) == 0


# inlets


def inlet(inlet_id: str, name: str, *, org_id: str = ORG, created_ms: int = T0) -> Inlet:
    return Inlet(inlet_id, org_id, name, description=f"{name} inlet", created_ms=created_ms)


def test_inlets_are_stored_and_listed_per_org_in_creation_order(backend: Backend) -> None:
    store = backend.store
    raw = Inlet(
        "raw-1",
        ORG,
        "raw",
        description="raw records",
        source_id="crm",
        data_type="raw",
        authentication_required=True,
        enabled=False,
        flow_id="f-1",
        dataset_id="ds-raw",
        created_ms=T0 + 2,
    )
    store.add_inlet(raw)
    store.add_inlet(inlet("xdm-1", "web", created_ms=T0 + 1))
    store.add_inlet(inlet("other-1", "web", org_id=OTHER_ORG))
    assert store.get_inlet("raw-1") == raw
    assert [i.inlet_id for i in store.list_inlets(ORG)] == ["xdm-1", "raw-1"]
    assert [i.inlet_id for i in store.list_inlets(OTHER_ORG)] == ["other-1"]
    assert store.get_inlet("missing") is None


def test_an_inlet_name_is_unique_within_an_org(backend: Backend) -> None:
    store = backend.store
    store.add_inlet(inlet("one", "web"))
    store.add_inlet(inlet("two", "app"))
    with pytest.raises(ConflictError):
        store.add_inlet(inlet("three", "web"))
    with pytest.raises(ConflictError):
        store.update_inlet(dataclasses.replace(inlet("two", "app"), name="web"))
    assert sorted(i.name for i in store.list_inlets(ORG)) == ["app", "web"]


def test_an_updated_inlet_keeps_its_id_org_and_creation_time(backend: Backend) -> None:
    store = backend.store
    original = inlet("one", "web")
    store.add_inlet(original)
    changed = dataclasses.replace(
        original, name="site", description="changed", authentication_required=True, enabled=False
    )
    store.update_inlet(changed)
    assert store.get_inlet("one") == changed
    assert [i.name for i in store.list_inlets(ORG)] == ["site"]


def test_deleting_an_inlet_removes_it_and_its_tokens(backend: Backend) -> None:
    store = backend.store
    store.add_inlet(inlet("one", "web"))
    store.add_inlet(inlet("two", "app"))
    store.add_token(AccessToken("hash-1", "one", ORG, T0, None))
    store.add_token(AccessToken("hash-2", "two", ORG, T0, None))
    store.delete_inlet("one")
    assert store.get_inlet("one") is None
    assert store.get_token("hash-1") is None
    assert store.get_token("hash-2") is not None
    assert [i.inlet_id for i in store.list_inlets(ORG)] == ["two"]


# tokens


def test_tokens_are_found_by_hash_and_revoked_per_inlet(backend: Backend) -> None:
    store = backend.store
    expiring = AccessToken("hash-1", "one", ORG, T0, T0 + 60_000)
    store.add_token(expiring)
    store.add_token(AccessToken("hash-2", "one", ORG, T0, None))
    store.add_token(AccessToken("hash-3", "two", ORG, T0, None))
    assert store.get_token("hash-1") == expiring
    assert store.get_token("unknown") is None
    assert store.revoke_tokens("one") == 2
    assert store.get_token("hash-1") is None and store.get_token("hash-2") is None
    assert store.get_token("hash-3") is not None
    assert store.revoke_tokens("one") == 0


def test_a_token_hash_is_unique(backend: Backend) -> None:
    backend.store.add_token(AccessToken("hash-1", "one", ORG, T0, None))
    with pytest.raises(ConflictError):
        backend.store.add_token(AccessToken("hash-1", "two", ORG, T0, None))


# records


def test_records_list_the_last_ones_or_the_ones_after_a_seq_oldest_first(
    backend: Backend,
) -> None:
    write(backend, *(message(f"x{i}", dataset_id="ds-1") for i in range(5)))
    write(backend, message("elsewhere", dataset_id="ds-2"))
    store = backend.store
    assert [r.xaction_id for r in store.list_records("ds-1", limit=2)] == ["x3", "x4"]
    assert [r.xaction_id for r in store.list_records("ds-1", limit=10)] == [
        f"x{i}" for i in range(5)
    ]
    first_seq = store.list_records("ds-1", limit=10)[0].seq
    after = store.list_records("ds-1", limit=2, after_seq=first_seq)
    assert [r.xaction_id for r in after] == ["x1", "x2"]
    assert store.list_records("ds-1", limit=2, after_seq=first_seq + 100) == []
    # with no transaction running, a follower's pages are everyone's
    assert store.list_records("ds-1", limit=2, after_seq=first_seq, following=True) == after
    assert store.list_records("ds-1", limit=3, following=True) == store.list_records(
        "ds-1", limit=3
    )
    assert store.count_records("ds-1") == 5
    assert store.count_records("ds-2") == 1
    assert store.count_records("ds-3") == 0


def test_a_record_reads_back_as_it_was_written(backend: Backend) -> None:
    written = message("x1", msg_id="m-1", body={"header": {"a": 1}, "body": {"b": [1, 2]}})
    write(backend, written)
    (record,) = backend.store.list_records("dataset-1", limit=1)
    body = record.as_json()
    assert body.pop("seq") >= 1
    assert body == {
        "xactionId": "x1",
        "msgId": "m-1",
        "receivedTimeMs": T0,
        "imsOrgId": ORG,
        "inletId": "inlet-1",
        "datasetId": "dataset-1",
        "schemaId": "https://ns.adobe.com/acme/schemas/1",
        "message": {"header": {"a": 1}, "body": {"b": [1, 2]}},
    }


# failures


def test_failures_come_newest_first_with_their_reasons(backend: Backend) -> None:
    write(backend, *(message(f"f{i}", reasons=BROKEN, received_ms=T0 + i) for i in range(3)))
    write(backend, message("valid"), message("theirs", org_id=OTHER_ORG, reasons=BROKEN))
    failures = backend.store.list_failures(ORG)
    assert [f.xaction_id for f in failures] == ["f2", "f1", "f0"]
    assert failures[0].reasons == [v.as_json() for v in BROKEN]
    assert failures[0].message == {"x": "f2"}
    assert [f.xaction_id for f in backend.store.list_failures(ORG, limit=2)] == ["f2", "f1"]
    assert [f.xaction_id for f in backend.store.list_failures(OTHER_ORG)] == ["theirs"]


def test_failures_filter_by_inlet_and_by_time_from_inclusive_to_exclusive(
    backend: Backend,
) -> None:
    write(
        backend,
        message("a0", inlet_id="a", received_ms=T0, reasons=BROKEN),
        message("b1", inlet_id="b", received_ms=T0 + 1, reasons=BROKEN),
        message("a2", inlet_id="a", received_ms=T0 + 2, reasons=BROKEN),
        message("a3", inlet_id="a", received_ms=T0 + 3, reasons=BROKEN),
    )
    store = backend.store

    def listed(**filters: Any) -> list[str]:
        return [f.xaction_id for f in store.list_failures(ORG, **filters)]

    assert listed(inlet_id="a") == ["a3", "a2", "a0"]
    assert listed(since_ms=T0 + 1, until_ms=T0 + 3) == ["a2", "b1"]
    assert listed(inlet_id="a", since_ms=T0 + 1) == ["a3", "a2"]
    assert listed(until_ms=T0 + 1) == ["a0"]
    assert listed(inlet_id="a", limit=1) == ["a3"]
    assert listed(inlet_id="c") == []


def test_failures_are_paged_before_a_seq_and_deleted_by_seq(backend: Backend) -> None:
    write(backend, *(message(f"f{i}", reasons=BROKEN) for i in range(4)))
    write(backend, message("theirs", org_id=OTHER_ORG, reasons=BROKEN))
    store = backend.store
    first = store.list_failures(ORG, limit=2)
    assert [f.xaction_id for f in first] == ["f3", "f2"]
    rest = store.list_failures(ORG, limit=10, before_seq=first[-1].seq)
    assert [f.xaction_id for f in rest] == ["f1", "f0"]
    theirs = store.list_failures(OTHER_ORG)[0].seq
    assert store.delete_failures(ORG, [first[0].seq, rest[1].seq, theirs]) == 2
    assert [f.xaction_id for f in store.list_failures(ORG)] == ["f2", "f1"]
    assert [f.xaction_id for f in store.list_failures(OTHER_ORG)] == ["theirs"]
    assert store.delete_failures(ORG, []) == 0


def test_listings_sort_names_by_code_point_whatever_the_locale(backend: Backend) -> None:
    store = backend.store
    for n, name in enumerate(["beta", "alpha", "Zeta", "Alpha"]):
        store.add_schema(make_schema(name, hex_id=f"{n}" * 32), None)
        store.add_event(event(name, event_id=None))
    assert [s.name for s in store.list_schemas(ORG)] == ["Alpha", "Zeta", "alpha", "beta"]
    assert [e.name for e in store.list_events(ORG)] == ["Alpha", "Zeta", "alpha", "beta"]


# events


def event(
    name: str,
    *,
    org_id: str = ORG,
    schema_id: str = "https://ns.adobe.com/acme/schemas/1",
    event_id: str | None = "auto",
    description: str = "",
) -> EventConfig:
    return EventConfig(
        org_id=org_id,
        name=name,
        schema_id=schema_id,
        namespace="Email",
        id_type="system",
        identifier="identityMap.Email[0].id",
        fields=("identityMap", "_id"),
        description=description,
        event_id=f"{org_id}-{name}-id" if event_id == "auto" else event_id,
        created_ms=T0,
    )


def test_events_are_stored_per_org_listed_by_name_and_filtered_by_schema(
    backend: Backend,
) -> None:
    store = backend.store
    store.add_event(event("signup"))
    store.add_event(event("cart", schema_id="https://ns.adobe.com/acme/schemas/2"))
    store.add_event(event("signup", org_id=OTHER_ORG))
    assert store.get_event(ORG, "signup") == event("signup")
    assert store.get_event(ORG, "missing") is None
    assert [e.name for e in store.list_events(ORG)] == ["cart", "signup"]
    by_schema = store.list_events(ORG, "https://ns.adobe.com/acme/schemas/2")
    assert [e.name for e in by_schema] == ["cart"]
    assert [e.org_id for e in store.list_events(OTHER_ORG)] == [OTHER_ORG]


def test_an_event_can_be_changed_and_deleted(backend: Backend) -> None:
    store = backend.store
    store.add_event(event("signup"))
    changed = event("signup", description="people who sign up")
    store.update_event(changed)
    assert store.get_event(ORG, "signup") == changed
    store.delete_event(ORG, "signup")
    assert store.get_event(ORG, "signup") is None
    assert store.list_events(ORG) == []


def test_an_event_name_is_unique_within_an_org_and_an_event_id_everywhere(
    backend: Backend,
) -> None:
    store = backend.store
    store.add_event(event("signup", event_id="e-1"))
    with pytest.raises(ConflictError):
        store.add_event(event("signup", event_id="e-2"))
    with pytest.raises(ConflictError):
        store.add_event(event("other", org_id=OTHER_ORG, event_id="e-1"))
    store.add_event(event("signup", org_id=OTHER_ORG, event_id="e-2"))
    assert [e.event_id for e in store.list_events(ORG)] == ["e-1"]


def test_match_outcomes_of_an_event_come_newest_first_with_why_they_did_not_match(
    backend: Backend,
) -> None:
    matched = EventMatch("signup", "ada@example.com")
    missing = EventMatch("signup", None, Unmatched.IDENTITY_MISSING, "identity missing: x")
    elsewhere = EventMatch("cart", "ada@example.com")
    write(
        backend,
        msgspec.structs.replace(message("x1"), matches=[matched, elsewhere]),
        msgspec.structs.replace(message("x2"), matches=[missing]),
        msgspec.structs.replace(message("x3", org_id=OTHER_ORG), matches=[matched]),
    )
    found = backend.store.list_event_matches(ORG, "signup", limit=10)
    assert [(m.xaction_id, m.received_ms, m.match) for m in found] == [
        ("x2", T0, missing),
        ("x1", T0, matched),
    ]
    assert found[0].seq > found[1].seq
    records = backend.store.list_records("dataset-1", limit=10)
    assert {m.xaction_id: m.seq for m in found} == {  # the record's seq
        r.xaction_id: r.seq for r in records if r.xaction_id in ("x1", "x2")
    }
    assert [m.xaction_id for m in backend.store.list_event_matches(ORG, "signup", limit=1)] == [
        "x2"
    ]
    assert [m.match for m in backend.store.list_event_matches(ORG, "cart", limit=10)] == [elsewhere]


def test_outcomes_kept_under_other_names_come_with_the_event_s_in_one_order(
    backend: Backend,
) -> None:
    """``also``: the names an outcome for all the system events of a schema is kept under;
    the newest of both, up to the limit, each as it was kept."""
    signup = EventMatch("signup", "ada@example.com")
    none = EventMatch("*schema-1", None, Unmatched.UNKNOWN_EVENT_ID, "unknown eventID 'x'")
    other = EventMatch("*schema-2", None, Unmatched.UNKNOWN_EVENT_ID, "unknown eventID 'y'")
    outcomes = [
        ("x1", [signup]),
        ("x2", [none]),
        ("x3", [other]),
        ("x4", [none]),
        ("x5", [signup]),
        ("x6", [none]),
    ]
    write(
        backend,
        *(msgspec.structs.replace(message(x), matches=found) for x, found in outcomes),
        msgspec.structs.replace(message("x7", org_id=OTHER_ORG), matches=[none]),
    )

    def listed(limit: int, also: tuple[str, ...] = ("*schema-1",)) -> list[tuple[str, str]]:
        found = backend.store.list_event_matches(ORG, "signup", limit=limit, also=also)
        return [(m.xaction_id, m.match.event_name) for m in found]

    assert listed(10) == [
        ("x6", "*schema-1"),
        ("x5", "signup"),
        ("x4", "*schema-1"),
        ("x2", "*schema-1"),
        ("x1", "signup"),
    ]
    assert listed(2) == [("x6", "*schema-1"), ("x5", "signup")]
    assert listed(10, ()) == [("x5", "signup"), ("x1", "signup")]
    assert listed(10, ("*schema-2",)) == [("x5", "signup"), ("x3", "*schema-2"), ("x1", "signup")]


# the resource generation


def test_every_change_to_a_cached_resource_moves_the_generation_seen_by_every_handle(
    backend: Backend,
) -> None:
    writing, reading = backend.store, backend.reopen_store()
    signup = make_schema("signup")
    web = inlet("one", "web")
    changes = [
        lambda: writing.add_schema(signup, dataset("ds-1", signup.schema_id, default=True)),
        lambda: writing.add_schema(make_schema("signup", version=2), None),
        lambda: writing.add_dataset(dataset("ds-2", signup.schema_id)),
        lambda: writing.add_inlet(web),
        lambda: writing.update_inlet(dataclasses.replace(web, enabled=False)),
        lambda: writing.add_token(AccessToken("hash-1", "one", ORG, T0, None)),
        lambda: writing.revoke_tokens("one"),
        lambda: writing.add_token(AccessToken("hash-2", "one", ORG, T0, None)),
        lambda: writing.delete_inlet("one"),
        lambda: writing.add_event(event("signup")),
        lambda: writing.update_event(event("signup", description="people who sign up")),
        lambda: writing.delete_event(ORG, "signup"),
    ]
    seen = [reading.resource_generation()]
    for change in changes:
        change()
        seen.append(reading.resource_generation())
    assert len(set(seen)) == len(seen), seen
    assert writing.resource_generation() == reading.resource_generation()


def test_reads_orgs_messages_and_changes_to_nothing_leave_the_generation(
    backend: Backend,
) -> None:
    store = backend.store
    signup = make_schema("signup")
    store.add_schema(signup, dataset("ds-1", signup.schema_id, default=True))
    store.add_inlet(inlet("one", "web"))
    store.add_token(AccessToken("hash-1", "one", ORG, T0, None))
    store.add_event(event("signup"))
    before = backend.reopen_store().resource_generation()

    store.get_schema(signup.schema_id)
    store.find_schema(ORG, "signup")
    store.list_schemas(ORG)
    store.schema_versions(signup.schema_id)
    store.get_dataset("ds-1")
    store.list_datasets(ORG, signup.schema_id)
    store.get_inlet("one")
    store.list_inlets(ORG)
    store.get_token("hash-1")
    store.get_event(ORG, "signup")
    store.list_events(ORG)
    store.put_org(Org(ORG, "acme", T0))
    matched = EventMatch("signup", "ada@example.com")
    write(
        backend,
        msgspec.structs.replace(message("x1", dataset_id="ds-1"), matches=[matched]),
        message("x2", reasons=BROKEN),
    )
    store.list_records("ds-1", limit=10)
    store.list_failures(ORG)
    store.list_event_matches(ORG, "signup", limit=10)
    store.update_inlet(inlet("missing", "elsewhere"))
    store.delete_inlet("missing")
    assert store.revoke_tokens("missing") == 0
    store.update_event(event("missing"))
    store.delete_event(ORG, "missing")
    assert backend.reopen_store().resource_generation() == before


def test_a_change_refused_leaves_the_generation(backend: Backend) -> None:
    store = backend.store
    first = make_schema("first", hex_id="1" * 32)
    store.add_schema(first, dataset("ds-1", first.schema_id, default=True))
    store.add_inlet(inlet("one", "web"))
    store.add_token(AccessToken("hash-1", "one", ORG, T0, None))
    store.add_event(event("signup"))
    before = store.resource_generation()
    second = make_schema("second", hex_id="2" * 32)
    refused = [
        lambda: store.add_schema(second, dataset("ds-1", second.schema_id, default=True)),
        lambda: store.add_dataset(dataset("ds-1", first.schema_id)),
        lambda: store.add_inlet(inlet("two", "web")),
        lambda: store.add_token(AccessToken("hash-1", "one", ORG, T0, None)),
        lambda: store.add_event(event("signup")),
    ]
    for change in refused:
        with pytest.raises(ConflictError):
            change()
    assert store.resource_generation() == before
