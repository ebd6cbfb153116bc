"""The ProfileStore contract: every adapter keeps what the model decides of profile records."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.contract.conftest import ProfileBackend
from tests.profile_updates import ADA, BOB, ECID, ORG, OTHER_ORG, T0, update
from wayfare.model.identities import Identity
from wayfare.model.profile_fragments import apply_update
from wayfare.model.profile_merge import AttributeMerge, MergePolicy
from wayfare.model.profile_records import Operation
from wayfare.store.ports import ProfileStore


def seed(store: ProfileStore) -> None:
    """Ada's fragments in two datasets, her ECID's, Bob's, and Ada's in another org."""
    store.apply_profile_update(update({"a": 1}))
    store.apply_profile_update(update({"b": 2}, dataset_id="web"))
    store.apply_profile_update(update({"c": 3}, identity=ECID))
    store.apply_profile_update(update({"d": 4}, identity=BOB))
    store.apply_profile_update(update({"e": 5}, org_id=OTHER_ORG))


def test_merges_build_a_fragment_that_reads_back_from_another_connection(
    profile_backend: ProfileBackend,
) -> None:
    store = profile_backend.store
    store.apply_profile_update(update({"person": {"firstName": "Ada", "age": 36}}))
    after = store.apply_profile_update(update({"person": {"age": 37}, "tags": ["a"]}, T0 + 1))
    [fragment] = profile_backend.open_another().profile_fragments(ORG, [ADA])
    assert fragment == after
    assert fragment.attributes() == {"person": {"firstName": "Ada", "age": 37}, "tags": ["a"]}
    assert fragment.leaves[("person", "firstName")].time_ms == T0
    assert fragment.leaves[("person", "age")].time_ms == T0 + 1
    assert (fragment.dataset_id, fragment.identity, fragment.updated_ms) == ("crm", ADA, T0 + 1)


def test_a_replace_rewrites_and_a_delete_removes_the_fragment(
    profile_backend: ProfileBackend,
) -> None:
    store = profile_backend.store
    store.apply_profile_update(update({"a": 1, "b": 2}))
    store.apply_profile_update(update({"c": 3}, T0 + 1, Operation.REPLACE))
    assert [f.attributes() for f in store.profile_fragments(ORG, [ADA])] == [{"c": 3}]
    assert store.apply_profile_update(update({}, T0 + 2, Operation.DELETE)) is None
    assert store.profile_fragments(ORG, [ADA]) == []
    assert store.apply_profile_update(update({}, T0 + 3, Operation.DELETE)) is None


def test_a_stale_update_leaves_the_stored_fragment_as_it_was(
    profile_backend: ProfileBackend,
) -> None:
    store = profile_backend.store
    stored = store.apply_profile_update(update({"a": 1}, T0 + 5))
    assert store.apply_profile_update(update({}, T0, Operation.DELETE)) == stored
    assert store.profile_fragments(ORG, [ADA]) == [stored]


def test_fragments_are_read_for_the_identities_asked_in_their_org_only(
    profile_backend: ProfileBackend,
) -> None:
    store = profile_backend.store
    seed(store)
    found = store.profile_fragments(ORG, [ADA, ECID, Identity("Phone", "+33")])
    assert sorted((f.identity.namespace, f.dataset_id, str(f.attributes())) for f in found) == [
        ("ECID", "crm", "{'c': 3}"),
        ("Email", "crm", "{'a': 1}"),
        ("Email", "web", "{'b': 2}"),
    ]
    assert store.profile_fragments(ORG, []) == []


def test_a_privacy_delete_removes_the_identitys_fragments_in_every_dataset(
    profile_backend: ProfileBackend,
) -> None:
    store = profile_backend.store
    seed(store)
    assert store.delete_profile_fragments(ORG, ADA) == 2
    assert store.profile_fragments(ORG, [ADA]) == []
    assert len(store.profile_fragments(ORG, [ECID, BOB])) == 2
    assert len(store.profile_fragments(OTHER_ORG, [ADA])) == 1
    assert store.delete_profile_fragments(ORG, ADA) == 0


def test_an_orgs_merge_policy_is_timestamp_ordered_until_set(
    profile_backend: ProfileBackend,
) -> None:
    store = profile_backend.store
    assert store.merge_policy(ORG) == MergePolicy()
    policy = MergePolicy(AttributeMerge.DATASET_PRECEDENCE, ("crm", "web"))
    store.set_merge_policy(ORG, policy)
    assert profile_backend.open_another().merge_policy(ORG) == policy
    assert store.merge_policy(OTHER_ORG) == MergePolicy()
    store.set_merge_policy(ORG, MergePolicy())
    assert store.merge_policy(ORG) == MergePolicy()


@pytest.mark.parametrize("profile_backend", ["sqlite", "postgres"], indirect=True)
def test_concurrent_merges_of_one_fragment_from_two_connections_lose_no_attribute(
    profile_backend: ProfileBackend,
) -> None:
    stores = [profile_backend.store, profile_backend.open_another()]
    per_thread = 25
    start = threading.Barrier(4)

    def send(thread: int) -> None:
        store = stores[thread % 2]
        start.wait()
        for i in range(per_thread):
            store.apply_profile_update(update({f"t{thread}": {f"a{i}": i}}, T0 + i))

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(send, n) for n in range(4)]:
            done.result()  # raises what the thread raised
    [fragment] = stores[0].profile_fragments(ORG, [ADA])
    assert fragment.attributes() == {
        f"t{n}": {f"a{i}": i for i in range(per_thread)} for n in range(4)
    }


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
documents = st.dictionaries(st.text(max_size=4), json_values, max_size=4)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(documents, st.sampled_from(list(Operation))), min_size=1, max_size=4))
def test_every_adapter_keeps_the_fragment_the_model_makes(
    profile_backend: ProfileBackend, updates: list[tuple[dict[str, Any], Operation]]
) -> None:
    identity = Identity("Email", uuid.uuid4().hex)  # the store outlives one example
    expected = None
    for i, (attributes, operation) in enumerate(updates):
        u = update(attributes, T0 + i, operation, identity=identity)
        expected = apply_update(expected, u)
        assert profile_backend.store.apply_profile_update(u) == expected
    stored = profile_backend.open_another().profile_fragments(ORG, [identity])
    assert stored == ([] if expected is None else [expected])
