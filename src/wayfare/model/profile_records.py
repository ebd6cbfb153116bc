"""Reading a Profile-class record as an update of its primary identity's profile fragment.

Adobe's streaming upserts (Data Prep) name the operation in the message's header:
``header.operations = {"data": "merge" | "create" | "delete", "identity": ...,
"identityDatasetId": ...}``. ``merge`` is a partial row update, ``create`` writes the whole
row, ``delete`` removes it. A record without ``operations`` is a plain record: a whole row,
as ``create``. ``operations.identity`` (linking the record's identities) is the identity
graph's business, not this module's. docs/profiles.md says what each one does to a fragment.

The update's time is ``extSourceSystemAudit.lastUpdatedDate`` when the record carries it (the
field Adobe orders by, "customer timestamp ordering"), else when Wayfare received it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wayfare.model.identities import Identity, normalise
from wayfare.model.resources import Dataset, Schema

JOURNEY_PROFILE_DATASET = "journeyProfileUpdates"
"""Every org's system dataset of the profile updates its journeys make (updateProfile
activities): enabled for Profile, its fragments merged with the others by the org's merge
policy."""
NOT_ATTRIBUTES = frozenset({"identityMap", "_id"})
"""Root fields of a record that are not profile attributes: its identities, and the id of
the record itself."""


class Operation(enum.Enum):
    MERGE = "merge"
    """Partial update: the attributes given are set, those absent are kept."""
    REPLACE = "replace"
    """The record is the whole fragment: attributes absent from it are removed."""
    DELETE = "delete"
    """The fragment goes."""


_OPERATIONS = {"merge": Operation.MERGE, "create": Operation.REPLACE, "delete": Operation.DELETE}
"""``operations.data`` as Adobe spells it -> what it does."""


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """What one Profile record does to the fragment of (org, dataset, identity)."""

    org_id: str
    dataset_id: str
    identity: Identity
    operation: Operation
    attributes: dict[str, Any]
    """The record's attributes (its entity without identityMap and _id)."""
    time_ms: int
    chain: int = 0
    """Made by a journey's updateProfile: the audience changes by journeys in a row it
    continues, its own included (model/audiences.py, ``AudienceCheck.chain``); 0 for a
    record."""


@dataclass(frozen=True, slots=True)
class Unapplied:
    """A record that updates no fragment, and why."""

    reason: str


def not_updating(dataset: Dataset, schema: Schema) -> Unapplied | None:
    """Why the records of ``dataset`` (of ``schema``) update no profile, or None: only
    Profile records of a dataset enabled for Profile update attributes."""
    if not dataset.profile:
        return Unapplied(f"dataset {dataset.name!r} is not enabled for Profile")
    if schema.definition.xdm_class != "Profile":
        return Unapplied(f"schema {schema.name!r} is not of class Profile")
    return None


def read_profile_record(
    org_id: str,
    dataset_id: str,
    header: dict[str, Any],
    entity: dict[str, Any],
    received_ms: int,
) -> ProfileUpdate | Unapplied:
    """The update a Profile record makes, or why it makes none."""
    operation = _operation(header.get("operations"))
    if isinstance(operation, Unapplied):
        return operation
    identity = primary_identity(entity)
    if isinstance(identity, Unapplied):
        return identity
    time_ms = _customer_time(entity)
    return ProfileUpdate(
        org_id=org_id,
        dataset_id=dataset_id,
        identity=identity,
        operation=operation,
        attributes={k: v for k, v in entity.items() if k not in NOT_ATTRIBUTES},
        time_ms=received_ms if time_ms is None else time_ms,
    )


def _operation(operations: object) -> Operation | Unapplied:
    if operations is None:
        return Operation.REPLACE
    if not isinstance(operations, dict):
        return Unapplied("header.operations is not an object")
    data = operations.get("data")
    if data is None:
        return Operation.REPLACE
    found = _OPERATIONS.get(data) if isinstance(data, str) else None
    if found is None:
        return Unapplied(
            f"header.operations.data is {data!r}: one of {', '.join(sorted(_OPERATIONS))}"
        )
    return found


def primary_identity(entity: dict[str, Any]) -> Identity | Unapplied:
    """The identity of ``identityMap`` marked ``primary: true``; the only one when the map
    holds one identity and marks none. Its id is normalised as the identity graph's
    (model/identities.py: Email and Phone ids)."""
    identity_map = entity.get("identityMap")
    if not isinstance(identity_map, dict) or not identity_map:
        return Unapplied("the record has no identityMap, so no primary identity")
    found: list[Identity] = []
    marked: list[Identity] = []
    for namespace, entries in identity_map.items():
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]:
                key = Identity(namespace, normalise(namespace, entry["id"]))
                found.append(key)
                if entry.get("primary") is True:
                    marked.append(key)
    if len(marked) == 1:
        return marked[0]
    if len(marked) > 1:
        return Unapplied(f"identityMap marks {len(marked)} identities primary")
    if len(found) == 1:
        return found[0]
    if not found:
        return Unapplied("identityMap holds no identity with an id")
    return Unapplied(f"identityMap holds {len(found)} identities and marks none primary")


def _customer_time(entity: dict[str, Any]) -> int | None:
    audit = entity.get("extSourceSystemAudit")
    return instant_ms(audit.get("lastUpdatedDate") if isinstance(audit, dict) else None)


def instant_ms(value: object) -> int | None:
    """An ISO 8601 date-time with its offset (as XDM's date-time fields are) in epoch
    milliseconds; None for anything else, a date-time without an offset included."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)
