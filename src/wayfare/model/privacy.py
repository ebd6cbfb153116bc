"""A privacy delete's rules for what a person leaves in journeys: THE way an instance of a
deleted person is erased, and which records of a dataset are the person's.

An erased instance keeps what reports count (its journey, version, status, times, the
activity it was at) and nothing of the person: its identity becomes ``ERASED``, the events
and action answers it kept go. A live instance ends with status ``deleted``, recorded as a
step event at the activity it was at (the entry when it had none), with no detail. Step
events the person left keep their counts: their identity becomes ``ERASED`` and their
detail goes (stores do that; it needs no rule beyond this one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from wayfare.errors import MessageFormatError
from wayfare.model.envelope import read_envelope
from wayfare.model.identities import Identity, Namespace, identities_of
from wayfare.model.instances import Instance
from wayfare.model.runs import StepRecord, end_step

ERASED = ""
"""The identity of an erased instance and of the step events a deleted person left: no
event names it (an empty identity is a missing one), so nothing wakes or counts it as a
person's."""


def erase_instance(
    inst: Instance, node_types: Mapping[str, str], now_ms: int
) -> tuple[Instance, StepRecord | None]:
    """``inst`` with nothing of its person, ended ``deleted`` when it was live; and the step
    event of that end (None: it had already ended). ``node_types``: each activity's type, of
    the instance's journey version (an activity not there is ``unknown``)."""
    step = None
    erased = dataclasses.replace(inst, identity=ERASED, events={}, actions={})
    if inst.live:
        erased = dataclasses.replace(erased, status="deleted", ended_ms=now_ms, wait_kind=None)
        step = end_step(inst, node_types, "deleted", now_ms, identity=ERASED)
    return erased, step


def holds_identity(
    message: Any, identities: Collection[Identity], known: Mapping[str, Namespace]
) -> bool:
    """Whether a stored message (its JSON) names any of ``identities`` in its entity's
    ``identityMap`` (ids normalised as their namespace's are). A message that is not XDM
    names none."""
    try:
        entity = read_envelope(message).entity
    except MessageFormatError:
        return False
    return not set(identities).isdisjoint(identities_of(entity, known))
