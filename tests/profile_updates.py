"""Profile updates as tests write them: one person (ADA, with an ECID too), in one org."""

from __future__ import annotations

from typing import Any

from wayfare.model.identities import Identity
from wayfare.model.profile_records import Operation, ProfileUpdate

ORG = "ACME@AdobeOrg"
OTHER_ORG = "OTHER@AdobeOrg"
T0 = 1_700_000_000_000
ADA = Identity("Email", "ada@example.com")
ECID = Identity("ECID", "111")
BOB = Identity("Email", "bob@example.com")


def update(
    attributes: dict[str, Any],
    time_ms: int = T0,
    operation: Operation = Operation.MERGE,
    dataset_id: str = "crm",
    identity: Identity = ADA,
    org_id: str = ORG,
) -> ProfileUpdate:
    return ProfileUpdate(org_id, dataset_id, identity, operation, attributes, time_ms)
