"""Profile records, the fragments they update, and the merge of fragments into a profile."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.profile_updates import ADA, ECID, ORG, T0, update
from wayfare.errors import InvalidRequestError
from wayfare.model.identities import Identity
from wayfare.model.profile_fragments import (
    Fragment,
    Leaf,
    Path,
    apply_update,
    flatten,
    leaves_from_json,
)
from wayfare.model.profile_merge import AttributeMerge, MergePolicy, merge_fragments
from wayfare.model.profile_records import (
    Operation,
    ProfileUpdate,
    Unapplied,
    read_profile_record,
)


def apply_all(*updates: ProfileUpdate) -> Fragment | None:
    fragment: Fragment | None = None
    for u in updates:
        fragment = apply_update(fragment, u)
    return fragment


def attributes_of(fragment: Fragment | None) -> dict[str, Any] | None:
    return None if fragment is None else fragment.attributes()


# reading records


def read(entity: dict[str, Any], header: dict[str, Any] | None = None) -> ProfileUpdate | Unapplied:
    return read_profile_record(ORG, "crm", header or {}, entity, T0)


def test_a_record_without_operations_replaces_its_primary_identitys_fragment() -> None:
    found = read(
        {
            "_id": "r1",
            "identityMap": {
                "Email": [{"id": "ada@example.com", "primary": True}],
                "ECID": [{"id": "111"}],
            },
            "person": {"name": {"firstName": "Ada"}},
        }
    )
    assert found == update({"person": {"name": {"firstName": "Ada"}}}, T0, Operation.REPLACE)


@pytest.mark.parametrize(
    ("data", "operation"),
    [("merge", Operation.MERGE), ("create", Operation.REPLACE), ("delete", Operation.DELETE)],
)
def test_header_operations_name_the_operation(data: str, operation: Operation) -> None:
    found = read(
        {"identityMap": {"Email": [{"id": "ada@example.com"}]}, "a": 1},
        {"operations": {"data": data, "identity": "create", "identityDatasetId": "ids"}},
    )
    assert isinstance(found, ProfileUpdate)
    assert found.operation is operation


def test_an_unknown_operation_updates_nothing_and_says_why() -> None:
    found = read({"identityMap": {"Email": [{"id": "x"}]}}, {"operations": {"data": "upsert"}})
    assert isinstance(found, Unapplied)
    assert "'upsert'" in found.reason


@pytest.mark.parametrize(
    ("identity_map", "why"),
    [
        (None, "no identityMap"),
        ({"Email": [{"id": "a"}], "ECID": [{"id": "b"}]}, "marks none primary"),
        ({"Email": [{"id": "a", "primary": True}], "ECID": [{"id": "b", "primary": True}]}, "2"),
        ({"Email": [{"id": ""}]}, "no identity"),
    ],
)
def test_a_record_without_one_primary_identity_updates_nothing(
    identity_map: dict[str, Any] | None, why: str
) -> None:
    found = read({"identityMap": identity_map} if identity_map else {"a": 1})
    assert isinstance(found, Unapplied)
    assert why in found.reason


def test_the_customer_timestamp_orders_the_update_when_present() -> None:
    found = read(
        {
            "identityMap": {"ECID": [{"id": "111"}]},
            "extSourceSystemAudit": {"lastUpdatedDate": "2024-01-02T03:04:05.5Z"},
        }
    )
    assert isinstance(found, ProfileUpdate)
    assert found.identity == ECID
    assert found.time_ms == 1_704_164_645_500


# applying updates


def test_a_merge_keeps_what_it_does_not_name_and_merges_objects_field_by_field() -> None:
    fragment = apply_all(
        update({"person": {"name": {"firstName": "Ada", "lastName": "Byron"}}, "tier": "gold"}),
        update({"person": {"name": {"lastName": "Lovelace"}}}, T0 + 1),
    )
    assert attributes_of(fragment) == {
        "person": {"name": {"firstName": "Ada", "lastName": "Lovelace"}},
        "tier": "gold",
    }
    assert fragment is not None
    assert fragment.leaves[("person", "name", "firstName")].time_ms == T0
    assert fragment.leaves[("person", "name", "lastName")].time_ms == T0 + 1


def test_a_null_in_a_merge_removes_the_attribute_and_an_array_is_replaced_whole() -> None:
    fragment = apply_all(
        update({"tier": "gold", "tags": ["a", "b"], "person": {"age": 3, "city": "Paris"}}),
        update({"tier": None, "tags": ["c"], "person": None}, T0 + 1),
    )
    assert attributes_of(fragment) == {"tags": ["c"]}


def test_a_replace_removes_what_it_does_not_name_and_a_delete_removes_the_fragment() -> None:
    first = update({"a": 1, "b": {"c": 2}})
    replaced = apply_all(first, update({"b": {"d": 3}, "e": None}, T0 + 1, Operation.REPLACE))
    assert attributes_of(replaced) == {"b": {"d": 3}}
    assert apply_update(replaced, update({}, T0 + 2, Operation.DELETE)) is None


def test_updates_older_than_what_they_would_change_change_nothing() -> None:
    newer = apply_all(update({"a": 1, "b": 1}, T0 + 10))
    assert attributes_of(apply_update(newer, update({"a": 2, "c": 2}, T0))) == {
        "a": 1,
        "b": 1,
        "c": 2,
    }
    assert apply_update(newer, update({"z": 1}, T0, Operation.REPLACE)) == newer
    assert apply_update(newer, update({}, T0, Operation.DELETE)) == newer


def test_a_value_and_an_object_at_one_path_replace_each_other() -> None:
    fragment = apply_all(update({"a": {"b": 1, "c": 2}}), update({"a": "flat"}, T0 + 1))
    assert attributes_of(fragment) == {"a": "flat"}
    fragment = apply_update(fragment, update({"a": {"d": 4}}, T0 + 2))
    assert attributes_of(fragment) == {"a": {"d": 4}}


def test_a_value_older_than_a_field_of_the_object_it_would_replace_is_refused() -> None:
    fragment = apply_all(update({"a": {"old": 1}}, T0), update({"a": {"new": 2}}, T0 + 4))
    assert attributes_of(apply_update(fragment, update({"a": "flat"}, T0 + 2))) == {
        "a": {"old": 1, "new": 2}
    }


def test_leaves_read_back_as_stored() -> None:
    fragment = apply_all(update({"a": {"b": [1, {"x": None}]}, "c": "d"}))
    assert fragment is not None
    assert leaves_from_json(fragment.leaves_json()) == fragment.leaves


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=3)
names = st.sampled_from(["a", "b", "c", "d"])
attribute_docs = st.recursive(
    json_scalars | st.lists(json_scalars, max_size=2),
    lambda inner: st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
).filter(lambda doc: isinstance(doc, dict))
operations = st.sampled_from(list(Operation))


@settings(deadline=None)  # a busy machine's timing is no failure
@given(st.lists(st.tuples(attribute_docs, operations), max_size=4), attribute_docs, operations)
def test_applying_the_same_update_twice_changes_nothing(
    before: list[tuple[dict[str, Any], Operation]], doc: dict[str, Any], operation: Operation
) -> None:
    fragment = apply_all(*(update(d, T0 + i, op) for i, (d, op) in enumerate(before)))
    once = apply_update(fragment, update(doc, T0 + 10, operation))
    assert apply_update(once, update(doc, T0 + 10, operation)) == once


@settings(deadline=None)  # a busy machine's timing is no failure
@given(st.lists(attribute_docs, min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_merges_at_distinct_times_end_alike_in_any_order(
    docs: list[dict[str, Any]], shuffle: random.Random
) -> None:
    updates = [update(doc, T0 + i) for i, doc in enumerate(docs)]
    # Where one update puts a value and another an object, the value replaced the object as
    # it stood when the value came: what came before counts (docs/profiles.md).
    paths = {p for u in updates for p, v in flatten(u.attributes) if v is not None}
    assume(not any(p[: len(q)] == q for p in paths for q in paths if len(q) < len(p)))
    shuffled = list(updates)
    shuffle.shuffle(shuffled)
    in_order = apply_all(*updates)
    # Out of order, a removal can come before the value it removes (removals leave no
    # trace): compare what both kept away from the paths nulls name.
    removed = [p for u in updates for p, v in flatten(u.attributes) if v is None]

    def kept(fragment: Fragment | None) -> dict[Path, Leaf]:
        assert fragment is not None
        return {
            p: leaf
            for p, leaf in fragment.leaves.items()
            if not any(overlaps(p, gone) for gone in removed)
        }

    assert kept(apply_all(*shuffled)) == kept(in_order)


def overlaps(a: Path, b: Path) -> bool:
    """One path is the other or lies under it."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


# merging fragments


def fragment(
    attributes: dict[str, Any], time_ms: int, dataset_id: str, identity: Identity = ADA
) -> Fragment:
    found = apply_update(
        None, update(attributes, time_ms, dataset_id=dataset_id, identity=identity)
    )
    assert found is not None
    return found


def test_timestamp_ordered_takes_each_attribute_from_its_latest_fragment() -> None:
    crm = fragment({"person": {"firstName": "Ada", "city": "London"}}, T0, "crm")
    web = fragment({"person": {"city": "Paris"}, "loyalty": {"tier": "gold"}}, T0 + 5, "web", ECID)
    merged = merge_fragments([crm, web], MergePolicy())
    assert merged.attributes == {
        "person": {"firstName": "Ada", "city": "Paris"},
        "loyalty": {"tier": "gold"},
    }
    city = merged.provenance[("person", "city")]
    assert (city.dataset_id, city.identity, city.time_ms) == ("web", ECID, T0 + 5)
    assert merged.provenance[("person", "firstName")].dataset_id == "crm"
    assert merged.as_json()["provenance"][0] == {
        "path": "loyalty.tier",
        "datasetId": "web",
        "identity": {"namespace": "ECID", "id": "111"},
        "timeMs": T0 + 5,
    }


def test_dataset_precedence_prefers_listed_datasets_then_time() -> None:
    crm = fragment({"city": "London", "a": 1}, T0, "crm")
    web = fragment({"city": "Paris", "b": 2}, T0 + 5, "web")
    app = fragment({"city": "Rome", "a": 3, "b": 4, "c": 5}, T0 + 9, "app")
    policy = MergePolicy(AttributeMerge.DATASET_PRECEDENCE, ("crm", "web"))
    merged = merge_fragments([app, web, crm], policy)
    assert merged.attributes == {"city": "London", "a": 1, "b": 2, "c": 5}


def test_a_value_never_lands_under_a_chosen_one() -> None:
    old = fragment({"address": {"city": "Paris"}}, T0, "crm")
    new = fragment({"address": "unknown"}, T0 + 1, "web")
    assert merge_fragments([old, new], MergePolicy()).attributes == {"address": "unknown"}


fragments_lists = st.lists(
    st.builds(
        fragment,
        attribute_docs,
        st.integers(T0, T0 + 3),
        st.sampled_from(["crm", "web", "app"]),
        st.sampled_from([ADA, ECID]),
    ),
    max_size=5,
    unique_by=lambda f: (f.dataset_id, f.identity),  # one fragment per dataset and identity
)
policies = st.sampled_from(
    [MergePolicy(), MergePolicy(AttributeMerge.DATASET_PRECEDENCE, ("web", "crm"))]
)


@settings(deadline=None)  # a busy machine's timing is no failure
@given(fragments_lists, policies, st.randoms(use_true_random=False))
def test_the_merge_does_not_depend_on_the_order_of_fragments(
    fragments: list[Fragment], policy: MergePolicy, shuffle: random.Random
) -> None:
    shuffled = list(fragments)
    shuffle.shuffle(shuffled)
    assert merge_fragments(shuffled, policy) == merge_fragments(fragments, policy)


def test_merge_policies_read_back_and_refuse_what_is_wrong() -> None:
    policy = MergePolicy(AttributeMerge.DATASET_PRECEDENCE, ("crm",))
    assert MergePolicy.from_json(policy.as_json()) == policy
    assert MergePolicy.from_json(MergePolicy().as_json()) == MergePolicy()
    for body in (
        {},
        {"attributeMerge": {"type": "newest"}},
        {"attributeMerge": {"type": "dataSetPrecedence"}},
        {"attributeMerge": {"type": "dataSetPrecedence", "order": ["a", "a"]}},
        {"attributeMerge": {"type": "timestampOrdered", "order": ["a"]}},
        {"attributeMerge": {"type": "timestampOrdered", "order": 0}},  # falsy, still no list
        {"attributeMerge": {"type": "timestampOrdered", "order": ""}},
    ):
        with pytest.raises(InvalidRequestError):
            MergePolicy.from_json(body)
