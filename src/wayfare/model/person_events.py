"""Experience events attached to the person: what is kept of each ExperienceEvent record of a
dataset enabled for Profile, so that a person's profile shows their recent events.

As in Adobe Experience Platform, an experience event of a profile-enabled dataset belongs to
the profile of its identities. Wayfare keeps a short reference to it (its dataset, its
xactionId, when it happened, its ``eventType`` and the names of the org's events it matched),
not the record itself, which stays in its dataset. It is kept under one identity of the
record (``attached_identity``), as profile fragments are: a person's events are those of all
their identities, whatever the identity graph links or unlinks later, with nothing to
rewrite.

What is kept is bounded (``PersonEventLimits``): by age (the event's time), and by count per
identity (the newest are kept). The journey engine's commit keeps them; a periodic pass
deletes those past their age (registry/retention.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from wayfare.model.identities import Identity
from wayfare.model.profile_records import instant_ms, primary_identity

DAY_MS = 86_400_000
RETENTION_DAYS = 30
PER_IDENTITY = 500
EVENT_TYPE_LENGTH = 200
"""An ``eventType`` is kept to this many characters (XDM's are short dotted names)."""


@dataclass(frozen=True, slots=True)
class PersonEventLimits:
    """How much of the experience events of people is kept (Settings
    ``person_event_retention_days`` and ``person_events_per_identity``)."""

    days: int = RETENTION_DAYS
    """Events whose time is older than this many days go (0: none are kept)."""
    per_identity: int = PER_IDENTITY
    """Each identity keeps its newest this many events (0: none are kept)."""

    @property
    def keeps_any(self) -> bool:
        return self.days > 0 and self.per_identity > 0

    def oldest_ms(self, now_ms: int) -> int:
        """Events older than this, as of ``now_ms``, are past their retention."""
        return now_ms - self.days * DAY_MS


@dataclass(frozen=True, slots=True)
class PersonEvent:
    """One experience event of a profile-enabled dataset, kept for the identity it is
    attached to."""

    org_id: str
    identity: Identity
    dataset_id: str
    xaction_id: str
    """The record's, as its dataset keeps it."""
    at_ms: int
    """When it happened: its ``timestamp``, else when Wayfare received it."""
    received_ms: int
    event_type: str | None
    """Its XDM ``eventType`` (``commerce.purchases``, say), when it has one."""
    events: tuple[str, ...] = ()
    """The names of the org's event configurations it matched, in the order matched."""
    seq: int = 0
    """Its place among the kept events, once stored (ties of ``at_ms`` go by it)."""


def attached_identity(entity: dict[str, Any], identities: Sequence[Identity]) -> Identity | None:
    """The identity an experience event is kept under: of its ``identities`` (those of its
    identityMap the org knows, normalised, in the order sent), the one marked primary, else
    the first (None: it has none). Every identity of the record is linked to one person by
    the same commit, so any of them finds it; the primary one is what Adobe attaches it by."""
    if not identities:
        return None
    primary = primary_identity(entity)
    if isinstance(primary, Identity) and primary in identities:
        return primary
    return identities[0]


def person_event_of(
    org_id: str,
    dataset_id: str,
    xaction_id: str,
    entity: dict[str, Any],
    identities: Sequence[Identity],
    received_ms: int,
    events: Collection[str] = (),
) -> PersonEvent | None:
    """What is kept of an experience event of a profile-enabled dataset (None: it has no
    identity to be kept under)."""
    identity = attached_identity(entity, identities)
    if identity is None:
        return None
    at_ms = instant_ms(entity.get("timestamp"))
    event_type = entity.get("eventType")
    return PersonEvent(
        org_id=org_id,
        identity=identity,
        dataset_id=dataset_id,
        xaction_id=xaction_id,
        at_ms=received_ms if at_ms is None else at_ms,
        received_ms=received_ms,
        event_type=event_type[:EVENT_TYPE_LENGTH] if isinstance(event_type, str) else None,
        events=tuple(dict.fromkeys(events)),
    )


def kept_events(
    events: Sequence[PersonEvent], limits: PersonEventLimits, now_ms: int
) -> list[PersonEvent]:
    """Of ``events`` (a commit's), those to keep as of ``now_ms``: none when the limits keep
    none, else those not past their age. (The store keeps the newest ``per_identity`` of
    each identity of those it holds.)"""
    if not limits.keeps_any:
        return []
    oldest = limits.oldest_ms(now_ms)
    return [e for e in events if e.at_ms >= oldest]
