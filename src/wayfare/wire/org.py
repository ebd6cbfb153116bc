"""The org and its tenant id."""

from __future__ import annotations

from typing import Annotated

import msgspec

from wayfare.wire.base import Wire

TENANT = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Org(Wire):
    imsOrgId: str
    tenantId: str


class OrgList(Wire):
    orgs: list[Org]
    """Every org a write created, by org id."""


class OrgChange(Wire):
    tenantId: TENANT
    """Lowercase letters, digits and ``_``; fixed once the org has schemas."""
