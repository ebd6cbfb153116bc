"""Organisations are created on first use (a write); each has a tenant id for its schemas'
fields. Reading an org never creates it."""

from __future__ import annotations

from wayfare.clock import Clock
from wayfare.errors import InvalidRequestError, Violation
from wayfare.model.resources import Org
from wayfare.model.schema import TENANT_PATTERN, tenant_from_org
from wayfare.store.ports import ResourceStore


def ensure_org(store: ResourceStore, clock: Clock, org_id: str) -> Org:
    org = store.get_org(org_id)
    if org is None:
        org = _first_use(clock, org_id)
        store.put_org(org)
    return org


def find_org(store: ResourceStore, clock: Clock, org_id: str) -> Org:
    """The org as stored, or as its first write will create it; nothing is stored."""
    return store.get_org(org_id) or _first_use(clock, org_id)


def list_orgs(store: ResourceStore) -> list[Org]:
    """The orgs that exist: each created by its first write, by org id."""
    return store.list_orgs()


def _first_use(clock: Clock, org_id: str) -> Org:
    return Org(org_id=org_id, tenant_id=tenant_from_org(org_id), created_ms=clock.now_ms())


def set_tenant(store: ResourceStore, clock: Clock, org_id: str, tenant_id: str) -> Org:
    if not TENANT_PATTERN.match(tenant_id):
        raise InvalidRequestError(
            "tenantId must start with a lowercase letter and hold lowercase letters, digits "
            "and '_', at most 64 characters",
            violations=(Violation("/tenantId", "pattern", "not a valid tenant id"),),
        )
    org = ensure_org(store, clock, org_id)
    if org.tenant_id != tenant_id and store.list_schemas(org_id):
        raise InvalidRequestError(
            "The tenant id cannot change once the org has schemas: their tenant fields "
            f"live under _{org.tenant_id}",
            violations=(Violation("/tenantId", "const", "org already has schemas"),),
        )
    updated = Org(org_id=org_id, tenant_id=tenant_id, created_ms=org.created_ms)
    store.put_org(updated)
    return updated
