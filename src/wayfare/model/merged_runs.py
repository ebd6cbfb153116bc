"""THE rule for journeys when two persons merge (model/identity_graph.py): a person is in a
journey at most once. Of the merged person's live instances of one journey, the oldest stays
(the earliest entered, then the smallest instance id); each other one ends with status
``merged``, recorded as a step event at the activity it was at, its detail naming the
instance that stays. Instances of different journeys are left alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from wayfare.model.instances import Instance
from wayfare.model.runs import StepRecord, end_step

NodeTypes = Callable[[str, int], Mapping[str, str]]
"""(journey, version) → each activity's type."""


def reconcile(
    live: Sequence[Instance], node_types: NodeTypes, now_ms: int
) -> tuple[list[Instance], list[StepRecord]]:
    """The instances of ``live`` (one merged person's live instances) that end ``merged``,
    and their step events."""
    live = [i for i in live if i.live]
    stays: dict[str, Instance] = {}
    for inst in sorted(live, key=lambda i: (i.entered_ms, i.instance_id)):
        stays.setdefault(inst.journey, inst)
    ended, steps = [], []
    for inst in sorted(live, key=lambda i: i.instance_id):
        kept = stays[inst.journey]
        if inst is kept:
            continue
        ended.append(dataclasses.replace(inst, status="merged", ended_ms=now_ms, wait_kind=None))
        types = node_types(inst.journey, inst.version)
        steps.append(
            end_step(inst, types, "merged", now_ms, detail=f"merged into {kept.instance_id}")
        )
    return ended, steps
