"""Audiences, their members, and a person's memberships."""

from __future__ import annotations

from typing import Annotated

import msgspec

from wayfare.wire.base import Wire

AUDIENCE_NAME = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]


class AudienceDefinition(Wire):
    name: AUDIENCE_NAME
    condition: str
    """An expression over ``#{profile.path}`` and ``count(Event in last N days)`` (units:
    minutes, hours, days, weeks; at most 91 days): ``#{profile.person.country} == "FR" and
    count(purchase in last 7 days) >= 2``."""
    description: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class Audience(Wire):
    name: str
    condition: str
    description: str
    events: list[str]
    """The events the condition counts: their arrival re-evaluates a person."""
    readsProfile: bool
    """Whether a change of a person's attributes re-evaluates them."""
    createdMs: int


class AudienceList(Wire):
    audiences: list[Audience]
    """By name."""


class Membership(Wire):
    audience: str
    personId: str
    enteredMs: int
    """When the person last entered the audience."""
    exitedMs: int | None
    """When the person left it, after last entering; null while a member."""


class MembersQuery(Wire):
    after: str | None = None
    """The last person id of the page before."""
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


class MemberList(Wire):
    audience: str
    members: list[Membership]
    """Current members, by person id."""
    next: str | None
    """``after`` for the next page; null on the last one."""


class PersonMemberships(Wire):
    personId: str
    memberships: list[Membership]
    """Current and past, by audience."""
