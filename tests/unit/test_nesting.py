"""How deeply JSON nests (what instances may hold)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wayfare.model.nesting import nesting, nesting_bound

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(alphabet='ab{}[]"\\'),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=30,
)


def deep(levels: int) -> Any:
    value: Any = 1
    for n in range(levels):
        value = {"x": value} if n % 2 else [value]
    return value


@pytest.mark.parametrize(
    ("value", "levels"),
    [
        (1, 0),
        ("text", 0),
        ({}, 1),
        ([], 1),
        ({"a": 1, "b": [1, {"c": 2}]}, 3),
        ([[], [[[]]], {}], 4),
        (deep(300), 300),
    ],
)
def test_nesting_counts_the_deepest_branch(value: Any, levels: int) -> None:
    assert nesting(value) == levels


@given(JSON)
def test_the_bound_read_from_the_text_is_never_below_the_nesting(value: Any) -> None:
    text = orjson.dumps(value)
    assert nesting_bound(text) >= nesting(value)
    assert nesting_bound(text.decode()) == nesting_bound(text)


def test_the_bound_of_a_flat_message_is_small_and_of_a_deep_one_large() -> None:
    assert nesting_bound('{"a": 1, "b": "[[[{"}') == 5  # brackets in strings count too
    assert nesting_bound(orjson.dumps(deep(100)).decode()) == 100
