"""How deeply JSON nests (what instances may hold)."""

from __future__ import annotations

from typing import Any

import pytest

from wayfare.model.nesting import nesting


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
