"""Profile updates as tests write them: one person (ADA, with an ECID too), in one org."""

from __future__ import annotations

from typing import Any

from wayfare.model.profile_records import IdentityKey, Operation, ProfileUpdate

ORG = "ACME@AdobeOrg"
OTHER_ORG = "OTHER@AdobeOrg"
T0 = 1_700_000_000_000
ADA = IdentityKey("Email", "ada@example.com")
ECID = IdentityKey("ECID", "111")
BOB = IdentityKey("Email", "bob@example.com")


def update(
    attributes: dict[str, Any],
    time_ms: int = T0,
    operation: Operation = Operation.MERGE,
    dataset_id: str = "crm",
    identity: IdentityKey = ADA,
    org_id: str = ORG,
) -> ProfileUpdate:
    return ProfileUpdate(org_id, dataset_id, identity, operation, attributes, time_ms)
