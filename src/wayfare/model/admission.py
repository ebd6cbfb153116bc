"""Who enters a journey: the entry and re-entrance rules, as a pure function.

A person enters a journey version unless:

- the version is a draft in test mode and the person is not a test profile (ignored: test
  mode is for test profiles only, nothing is recorded);
- the person is inside the journey now: discarded with "already in the journey" when the
  journey allows re-entrance, "re-entry not allowed" when it does not (a jump from another
  journey is ignored instead: the person is where the jump leads already);
- the person was in the journey before (outside test mode): "re-entry not allowed" when the
  journey does not allow re-entrance, "re-entry too soon" when the last stay ended less than
  the journey's re-entry wait ago;
- the person comes through a jump and has already gone through MAX_JUMPS_PER_CYCLE jumps in
  this cycle of the engine: "too many jumps in one cycle" (journeys that jump to each other
  with nothing to wait for would otherwise pass the person around without end);
- the person comes through an audience change that a journey's updateProfile made, after
  MAX_CHAIN such changes in a row, each made within CHAIN_PAUSE_MS of entering by the one
  before (a journey on entering ``gold`` setting ``silver``, one on entering ``silver``
  setting ``gold``): "too many audience changes by journeys in a row".
  A journey that waits longer before its change starts a chain afresh: such a loop moves
  the person once a pause at most.

The person is one, whichever of its identities an event names: once persons merged
(model/identity_graph.py), a live instance of the journey (any version) under another identity
of the person counts as the person's own (``person_inside``), and so do its latest instances
there (``person_stays``): an entry event naming only one identity of a person already in the
journey under another is discarded as the person's own would be (model/merged_runs.py keeps
one instance when persons merge; this keeps a merged person from starting a second).

A journey that reads ``#{profile.…}`` also discards a person whose entry identity no person
of the identity graph holds (nor a message read with the event links): "no person for the
identity" (the journey engine tells, engine/profiles.py).
"""

from __future__ import annotations

from dataclasses import dataclass

ALREADY_INSIDE = "already in the journey"
NOT_ALLOWED = "re-entry not allowed"
TOO_SOON = "re-entry too soon"
TOO_MANY_JUMPS = "too many jumps in one cycle"
NO_PERSON = "no person for the identity"
MAX_JUMPS_PER_CYCLE = 10
"""Jumps one person goes through in one cycle of the engine; the next is discarded."""
TOO_MANY_CHANGES = "too many audience changes by journeys in a row"
MAX_CHAIN = 10
"""Audience changes made by journeys in a row, each entering the journey that makes the
next, that enter journeys; the next change enters none."""
CHAIN_PAUSE_MS = 60_000
"""A journey making its change this long after its instance entered (having waited) starts
a chain of its own."""


@dataclass(frozen=True, slots=True)
class Stay:
    """A person's latest instance of a journey: when it began and, once over, ended."""

    entered_ms: int
    ended_ms: int | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """What admission needs to know of the journey and the person."""

    reentrance: bool
    reentry_wait_ms: int
    test: bool
    """The version is a draft in test mode."""
    test_profile: bool
    inside: bool
    """The person has a live instance of the journey."""
    last: Stay | None
    jumped: bool = False
    """The person comes from another journey's jump activity."""
    jumps: int = 0
    """Jumps the person has gone through in this cycle of the engine, this one included."""
    chain: int = 0
    """Audience changes by journeys in a row that led to this entry (``Instance.chain``)."""
    person_inside: bool = False
    """Another identity of the person has a live instance of the journey."""
    person_stays: tuple[Stay, ...] = ()
    """The latest instance of the journey under each other identity of the person."""


@dataclass(frozen=True, slots=True)
class Admission:
    enter: bool
    cause: str | None = None
    """Why the person does not enter, when that is recorded as a discard."""


ENTER = Admission(True)
IGNORE = Admission(False)


def admit(candidate: Candidate, now_ms: int) -> Admission:
    c = candidate
    if c.test and not c.test_profile:
        return IGNORE
    if c.jumped and c.jumps > MAX_JUMPS_PER_CYCLE:
        return Admission(False, TOO_MANY_JUMPS)
    if c.chain > MAX_CHAIN:
        return Admission(False, TOO_MANY_CHANGES)
    if c.inside or c.person_inside:
        if c.jumped:
            return IGNORE
        return Admission(False, ALREADY_INSIDE if c.reentrance else NOT_ALLOWED)
    stays = c.person_stays if c.last is None else (c.last, *c.person_stays)
    if stays and not c.test:
        if not c.reentrance:
            return Admission(False, NOT_ALLOWED)
        if any(_left_within(s, now_ms, c.reentry_wait_ms) for s in stays):
            return Admission(False, TOO_SOON)
    return ENTER


def _left_within(stay: Stay, now_ms: int, wait_ms: int) -> bool:
    return stay.ended_ms is not None and now_ms - stay.ended_ms < wait_ms
