"""THE rule for journeys when two persons merge (model/identity_graph.py): a person is in a
journey at most once. Of the merged person's live instances of one journey, the oldest stays
(the earliest entered, then the smallest instance id); each other one ends with status
``merged``, recorded as a step event at the activity it was at, its detail naming the
instance that stays. Instances of different journeys are left alone.

And which instance an event wakes once persons merged (``woken``): instances are keyed by
the identity their entry event named, so the instance that stays may be another identity's
than the one an event names; the event wakes it all the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence

from wayfare.model.instances import Instance
from wayfare.model.runs import StepRecord, end_step

NodeTypes = Callable[[str, int], Mapping[str, str]]
"""(journey, version) → each activity's type."""


def _first(inst: Instance) -> tuple[int, str]:
    """The order in which the instance that stays is the first."""
    return (inst.entered_ms, inst.instance_id)


def reconcile(
    live: Sequence[Instance], node_types: NodeTypes, now_ms: int
) -> tuple[list[Instance], list[StepRecord]]:
    """The instances of ``live`` (one merged person's live instances) that end ``merged``,
    and their step events."""
    live = [i for i in live if i.live]
    stays: dict[str, Instance] = {}
    for inst in sorted(live, key=_first):
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


def woken(
    event: str,
    identity: str,
    live: Sequence[Instance],
    awaited_at: Callable[[Instance], Collection[str]],
) -> list[Instance]:
    """The instances of the person's other identities that an event named ``event`` of
    ``identity`` wakes. ``live``: the person's live instances, under any of its identities
    (``identity``'s own are woken as every instance is, by its own identity's events);
    ``awaited_at``: the events the activity an instance is at waits for.

    In each journey where ``identity`` has no live instance, the one that stays by
    ``reconcile`` (the first entered) is woken when it waits for ``event``; in a journey
    where ``identity`` has one, that one is the person's, and no other is woken."""
    own = {i.journey for i in live if i.live and i.identity == identity}
    stays: dict[str, Instance] = {}
    for inst in sorted((i for i in live if i.live and i.journey not in own), key=_first):
        stays.setdefault(inst.journey, inst)
    return [
        inst
        for inst in sorted(stays.values(), key=lambda i: i.instance_id)
        if inst.wait_kind == "event" and event in awaited_at(inst)
    ]
