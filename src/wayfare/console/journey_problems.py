"""A journey's save-time errors placed where they belong: the activity and field each one
concerns (from its JSON pointer), and the line of the YAML text it points into, so the
editor shows each error beside the activity and the canvas marks the node.

Pointers the checks give: ``/activities/<id>/<field>[/...]`` and ``/activities/<id>`` (an
activity), ``/entry/<field>`` (the entry node), ``/activities`` and ``/<key>`` (the journey
as a whole).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from wayfare import definition_yaml
from wayfare.errors import Violation

ENTRY = "entry"
"""The canvas's node of the entry (``canvas.ENTRY``)."""


@dataclass(frozen=True, slots=True)
class Problem:
    activity: str | None
    """The node it concerns: an activity id, ``entry``, or None for the whole journey."""
    field: str
    """Where inside it, as a path (``branches/0/when``); empty for the node itself."""
    keyword: str
    message: str
    line: int | None
    """The line of the YAML text (from 1) the pointer leads to, as far as it exists there."""


def _parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def _place(parts: list[str]) -> tuple[str | None, str]:
    if len(parts) >= 2 and parts[0] == "activities":
        return parts[1], "/".join(parts[2:])
    if parts and parts[0] == "entry":
        return ENTRY, "/".join(parts[1:])
    return None, "/".join(parts)


def _line(root: yaml.Node | None, parts: list[str]) -> int | None:
    """The line of the deepest key or item of ``parts`` found under ``root``."""
    node, line = root, None
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == part), None)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def compose(text: str) -> yaml.Node | None:
    """The YAML text's node tree (None when it is not YAML)."""
    try:
        return definition_yaml.compose(text)
    except yaml.YAMLError:
        return None


def place_problems(violations: Iterable[Violation], text: str) -> list[Problem]:
    """Each violation with its activity, field and line in ``text``."""
    root = compose(text)
    found = []
    for v in violations:
        parts = _parts(v.pointer)
        activity, field = _place(parts)
        found.append(Problem(activity, field, v.keyword, v.message, _line(root, parts)))
    return found


def activity_lines(text: str) -> dict[str, int]:
    """The line of each activity's id in the YAML text (``entry``'s too), for the editor's
    canvas to lead from a node to its definition."""
    root = compose(text)
    lines = {ENTRY: _line(root, ["entry"])}
    activities = root.value if isinstance(root, yaml.MappingNode) else []
    for key, value in activities:
        if key.value == "activities" and isinstance(value, yaml.MappingNode):
            lines.update({k.value: k.start_mark.line + 1 for k, _ in value.value})
    return {node: line for node, line in lines.items() if line is not None}


def by_activity(problems: Iterable[Problem]) -> dict[str, list[dict[str, object]]]:
    """The problems of each node, as the canvas script marks them (``""``: the journey)."""
    marks: dict[str, list[dict[str, object]]] = {}
    for p in problems:
        marks.setdefault(p.activity or "", []).append(
            {"field": p.field, "message": p.message, "line": p.line}
        )
    return marks
