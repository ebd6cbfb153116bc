"""The profile use cases over every ProfileStore: a profile-enabled dataset's Profile records
update their primary identity's fragment; a person's profile merges their identities'
fragments by the org's merge policy."""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.contract.conftest import ProfileBackend, make_schema, message
from tests.profile_updates import ADA, BOB, ECID, ORG, T0
from wayfare.model.profile_merge import AttributeMerge, MergePolicy
from wayfare.model.resources import Dataset
from wayfare.registry.profiles import (
    apply_profile_record,
    delete_profile_attributes,
    merged_profile,
)

PROFILE_SCHEMA = make_schema("customers", xdm_class="Profile")
CRM = Dataset("crm", ORG, "crm", PROFILE_SCHEMA.schema_id, False, T0, profile=True)
WEB = dataclasses.replace(CRM, dataset_id="web", name="web")


def record(
    identity_map: dict[str, Any], attributes: dict[str, Any], data: str | None = None
) -> dict[str, Any]:
    header: dict[str, Any] = {"schemaRef": {"id": PROFILE_SCHEMA.schema_id}}
    if data is not None:
        header["operations"] = {"data": data}
    entity = {"identityMap": identity_map, **attributes}
    return {"header": header, "body": {"xdmMeta": header, "xdmEntity": entity}}


def send(backend: ProfileBackend, dataset: Dataset, body: dict[str, Any], at_ms: int) -> Any:
    incoming = message(f"x{at_ms}", dataset_id=dataset.dataset_id, received_ms=at_ms, body=body)
    return apply_profile_record(backend.store, dataset, PROFILE_SCHEMA, incoming)


ADA_MAP = {"Email": [{"id": "ada@example.com", "primary": True}], "ECID": [{"id": "111"}]}
ECID_MAP = {"ECID": [{"id": "111"}]}


def test_records_update_their_primary_identitys_fragment_and_merge_into_one_profile(
    profile_backend: ProfileBackend,
) -> None:
    first = send(profile_backend, CRM, record(ADA_MAP, {"person": {"firstName": "Ada"}}), T0)
    assert first.applied and first.fragment.identity == ADA
    send(profile_backend, CRM, record(ADA_MAP, {"loyalty": {"tier": "gold"}}, "merge"), T0 + 1)
    send(profile_backend, WEB, record(ECID_MAP, {"loyalty": {"tier": "silver"}}), T0 + 2)
    profile = merged_profile(profile_backend.open_another(), ORG, [ADA, ECID])
    assert profile.attributes == {"person": {"firstName": "Ada"}, "loyalty": {"tier": "silver"}}
    assert profile.provenance[("loyalty", "tier")].dataset_id == "web"
    assert profile.provenance[("person", "firstName")].time_ms == T0
    assert merged_profile(profile_backend.store, ORG, [ADA]).attributes == {
        "person": {"firstName": "Ada"},
        "loyalty": {"tier": "gold"},
    }


def test_the_orgs_merge_policy_decides_between_datasets(profile_backend: ProfileBackend) -> None:
    send(profile_backend, CRM, record(ADA_MAP, {"tier": "gold"}), T0)
    send(profile_backend, WEB, record(ADA_MAP, {"tier": "silver"}), T0 + 1)
    assert merged_profile(profile_backend.store, ORG, [ADA]).attributes == {"tier": "silver"}
    policy = MergePolicy(AttributeMerge.DATASET_PRECEDENCE, ("crm",))
    profile_backend.store.set_merge_policy(ORG, policy)
    assert merged_profile(profile_backend.store, ORG, [ADA]).attributes == {"tier": "gold"}


def test_a_replace_then_a_delete_of_a_profile_record(profile_backend: ProfileBackend) -> None:
    send(profile_backend, CRM, record(ADA_MAP, {"a": 1, "b": 2}), T0)
    send(profile_backend, CRM, record(ADA_MAP, {"b": 3}, "create"), T0 + 1)
    assert merged_profile(profile_backend.store, ORG, [ADA]).attributes == {"b": 3}
    deleted = send(profile_backend, CRM, record(ADA_MAP, {}, "delete"), T0 + 2)
    assert deleted.applied and deleted.fragment is None
    assert merged_profile(profile_backend.store, ORG, [ADA]).attributes == {}


def test_records_that_update_no_profile_say_why_and_change_nothing(
    profile_backend: ProfileBackend,
) -> None:
    events = make_schema("visits")
    plain = dataclasses.replace(CRM, profile=False)
    outcomes = [
        send(profile_backend, plain, record(ADA_MAP, {"a": 1}), T0),
        send(profile_backend, CRM, record({}, {"a": 1}), T0),
        send(profile_backend, CRM, record(ADA_MAP, {"a": 1}, "upsert"), T0),
        apply_profile_record(profile_backend.store, CRM, events, message("e", dataset_id="crm")),
        apply_profile_record(profile_backend.store, CRM, PROFILE_SCHEMA, message("raw")),
    ]
    assert [o.applied for o in outcomes] == [False] * 5
    reasons = [o.reason for o in outcomes]
    assert "not enabled for Profile" in reasons[0]
    assert "no identityMap" in reasons[1]
    assert "'upsert'" in reasons[2]
    assert "not of class Profile" in reasons[3]
    assert "not an XDM message" in reasons[4]
    assert profile_backend.store.profile_fragments(ORG, [ADA, ECID]) == []


def test_a_privacy_delete_removes_a_persons_attributes_and_no_one_elses(
    profile_backend: ProfileBackend,
) -> None:
    bob = {BOB.namespace: [{"id": BOB.id}]}
    send(profile_backend, CRM, record(ADA_MAP, {"tier": "gold"}), T0)
    send(profile_backend, WEB, record(ECID_MAP, {"city": "Paris"}), T0)
    send(profile_backend, WEB, record(bob, {"city": "Rome"}), T0)
    assert delete_profile_attributes(profile_backend.store, ORG, [ADA, ECID]) == 2
    assert merged_profile(profile_backend.store, ORG, [ADA, ECID]).attributes == {}
    bobs = merged_profile(profile_backend.open_another(), ORG, [BOB])
    assert bobs.attributes == {"city": "Rome"}
