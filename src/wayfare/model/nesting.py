"""How deeply JSON nests, and how deep Wayfare keeps it.

Instances are stored as JSON holding the events that entered them and their actions'
responses. orjson reads documents nested up to 1,024 levels but writes at most 254, so an event
or a response nested deeper than the bound here is never put into an instance: one such
document would make every later commit of the journey engine fail.
"""

from __future__ import annotations

from typing import Any

MAX_NESTING = 64


def nesting(value: Any) -> int:
    """How many levels of lists and objects a JSON value has (a scalar has 0)."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            pending.extend((child, depth + 1) for child in item)
    return deepest


def nesting_bound(text: str | bytes) -> int:
    """At least ``nesting`` of the JSON ``text`` (every level opens with a bracket), counted
    in C: a message with few brackets needs no walk."""
    if isinstance(text, bytes):
        return text.count(b"{") + text.count(b"[")
    return text.count("{") + text.count("[")
