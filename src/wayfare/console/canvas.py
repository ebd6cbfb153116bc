"""The canvas of a journey version, as the page's script (``static/canvas.js``) draws it.

``canvas_graph`` gives the graph: the entry and each activity a node (its id, type and a
one-line summary), each path an edge with its label. ``node_counts`` gives the live counts
of every node from the journey's report and the people inside; the page fetches them again
every few seconds. ``followed`` gives where one person went and where they are now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wayfare.model.journey import Activity, JourneyDefinition

ENTRY = "entry"
"""The node step events name for a journey's entry (the engine's ``ENTRY``)."""
SUMMARY_CHARS = 26
"""What fits on a node of the canvas."""
FAILED_STATUSES = ("error",)
PASSED_STATUSES = ("ended", "error", "timedout", "exited")
"""Step statuses of people who were at a node and left it."""


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _summary(activity: Activity, raw: Mapping[str, Any]) -> str:
    """One line on what the activity does, from its definition as written."""
    kind = activity.type
    if kind == "wait":
        if "until" in raw:
            return _cut(f"until {raw['until']}")
        return _cut(f"for {raw.get('duration')}")
    if kind in ("condition", "split", "waitForEvent"):
        labels = [b.label for b in activity.branches]
        return _cut(", ".join(labels))
    if kind == "timeCondition":
        return _cut(f"{raw.get('from', '00:00')} to {raw.get('to', '24:00')}")
    if kind == "dateCondition":
        return _cut(" ".join(f"{k} {raw[k]}" for k in ("after", "before") if raw.get(k)))
    if kind == "http":
        return _cut(f"{raw.get('method', 'POST')} {raw.get('url', '')}")
    if kind == "email":
        to = raw.get("to")
        return _cut(f"to {', '.join(map(str, to)) if isinstance(to, list) else to}")
    if kind == "log":
        return _cut(str(raw.get("message", "")))
    if kind == "jump":
        return _cut(f"to journey {activity.journey}")
    if kind == "updateProfile":
        changed = [f"set {p}" for p, _ in activity.profile_set]
        return _cut(", ".join(changed + [f"remove {p}" for p in activity.profile_remove]))
    return ""


def _entry_summary(definition: JourneyDefinition) -> str:
    """What brings people in: ``on <event>``, or ``when <audience> entered``."""
    start = definition.audience_start
    if start is None:
        return f"on {definition.entry_event}"
    return f"when {start.audience} {start.status}"


def canvas_graph(definition: JourneyDefinition) -> dict[str, Any]:
    """The nodes (entry first, then the activities breadth-first) and the labelled edges."""
    raw_activities = definition.source.get("activities")
    raws: Mapping[str, Any] = raw_activities if isinstance(raw_activities, Mapping) else {}
    order = definition.activity_order()
    order += sorted(set(definition.activities).difference(order))
    nodes = [
        {
            "id": ENTRY,
            "type": "entry",
            "label": "entry",
            "summary": _cut(_entry_summary(definition)),
        }
    ]
    edges = []
    if definition.entry_next is not None:
        edges.append({"from": ENTRY, "to": definition.entry_next, "label": ""})
    for node_id in order:
        activity = definition.activities[node_id]
        raw = raws.get(node_id)
        nodes.append(
            {
                "id": node_id,
                "type": activity.type,
                "label": node_id,
                "summary": _summary(activity, raw if isinstance(raw, Mapping) else {}),
            }
        )
        edges += [
            {"from": node_id, "to": target, "label": "" if label == "next" else label}
            for label, target in activity.targets()
        ]
    return {"journey": definition.name, "nodes": nodes, "edges": edges}


def node_counts(
    definition: JourneyDefinition, report: Mapping[str, Any], waiting: Mapping[str, int]
) -> dict[str, dict[str, int]]:
    """Each node's people: ``entered`` (every one who reached it), ``inError`` (whose step
    there failed), ``discarded`` (refused at the entry) and ``waiting`` (inside, there now).
    Counts are the journey's, over all its versions, matched by activity id."""
    steps: Mapping[str, Mapping[str, Any]] = report.get("nodes", {})
    counts: dict[str, dict[str, int]] = {}
    for node_id in [ENTRY, *definition.activities]:
        at = steps.get(node_id, {})
        passed = sum(int(at.get(status, 0)) for status in PASSED_STATUSES)
        here = int(waiting.get(node_id, 0))
        counts[node_id] = {
            "entered": passed + here,
            "inError": sum(int(at.get(status, 0)) for status in FAILED_STATUSES),
            "discarded": int(report.get("discarded", 0)) if node_id == ENTRY else 0,
            "waiting": here,
        }
    return counts


def followed(steps: list[Mapping[str, Any]], at: str | None) -> dict[str, Any]:
    """One person's way through the canvas: the nodes they passed, oldest first (each once),
    the ones where their step failed, and the node they are at now."""
    passed: list[str] = []
    failed: list[str] = []
    for step in reversed(steps):
        node = str(step.get("node"))
        if node not in passed:
            passed.append(node)
        if step.get("status") in FAILED_STATUSES and node not in failed:
            failed.append(node)
    return {"passed": passed, "failed": failed, "at": at}
