"""Configuration as code: apply a set of definitions idempotently, matched by name.

Each document carries ``kind`` (``Org``, ``Namespace``, ``Schema``, ``Dataset``,
``MergePolicy``, ``Inlet``, ``Event``, ``Audience``, ``Journey``) and the same fields the admin
API takes. An ``Org`` document may name its org (``name: ACME@AdobeOrg``): documents sent for
another org are refused.
Applying the same documents twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wayfare.clock import Clock
from wayfare.errors import ConflictError, InvalidRequestError, NotFoundError, Violation
from wayfare.model.schema import SchemaDefinition
from wayfare.registry.audiences import AudienceRegistry
from wayfare.registry.events import EventRegistry
from wayfare.registry.inlets import InletRegistry, InletSpec
from wayfare.registry.journeys import JourneyRegistry
from wayfare.registry.orgs import ensure_org, set_tenant
from wayfare.registry.people import ProfileRegistry
from wayfare.registry.profiles import MergePolicies
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.ports import ResourceStore

KIND_ORDER = (
    "Org", "Namespace", "Schema", "Dataset", "MergePolicy", "Inlet", "Event", "Audience", "Journey"
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Applied:
    kind: str
    name: str
    action: str  # created | updated | unchanged
    id: str
    extra: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        body = {"kind": self.kind, "name": self.name, "action": self.action, "id": self.id}
        if self.extra:
            body.update(self.extra)
        return body


class Applier:
    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        schemas: SchemaRegistry,
        inlets: InletRegistry,
        events: EventRegistry,
        journeys: JourneyRegistry,
        merge_policies: MergePolicies,
        profiles: ProfileRegistry,
        audiences: AudienceRegistry,
    ) -> None:
        self._profiles = profiles
        self._store = store
        self._clock = clock
        self._schemas = schemas
        self._inlets = inlets
        self._events = events
        self._journeys = journeys
        self._merge_policies = merge_policies
        self._audiences = audiences

    def apply(self, org_id: str, documents: Sequence[object]) -> list[Applied]:
        docs: list[tuple[int, Mapping[str, Any]]] = []
        for i, doc in enumerate(documents):
            if not isinstance(doc, Mapping) or doc.get("kind") not in KIND_ORDER:
                raise InvalidRequestError(
                    f"document {i} needs a kind among {', '.join(KIND_ORDER)}",
                    violations=(Violation(f"/{i}/kind", "enum", "unknown or missing kind"),),
                )
            docs.append((i, doc))
        docs.sort(key=lambda item: (KIND_ORDER.index(item[1]["kind"]), item[0]))
        results: list[Applied] = []
        for index, doc in docs:
            spec = {k: v for k, v in doc.items() if k != "kind"}
            try:
                results.append(getattr(self, f"_apply_{doc['kind'].lower()}")(org_id, spec))
            except InvalidRequestError as exc:
                raise InvalidRequestError(
                    f"document {index} ({doc['kind']} {doc.get('name', '')!r}): {exc.message}",
                    violations=tuple(
                        Violation(f"/{index}{v.pointer}", v.keyword, v.message)
                        for v in exc.violations
                    ),
                ) from exc
        return results

    def _apply_org(self, org_id: str, spec: Mapping[str, Any]) -> Applied:
        named = spec.get("name")
        if named is not None and named != org_id:
            raise InvalidRequestError(
                f"the documents are for org {named!r}, the request for {org_id!r}: "
                f"send x-gw-ims-org-id: {named} (wayfare apply --org {named})",
                violations=(Violation("/name", "const", f"the request's org is {org_id}"),),
            )
        before = ensure_org(self._store, self._clock, org_id)
        tenant = spec.get("tenantId")
        if tenant is None or tenant == before.tenant_id:
            return Applied("Org", org_id, "unchanged", org_id)
        set_tenant(self._store, self._clock, org_id, str(tenant))
        return Applied("Org", org_id, "updated", org_id)

    def _apply_schema(self, org_id: str, spec: Mapping[str, Any]) -> Applied:
        name = SchemaDefinition.from_json(spec).name
        try:
            current = self._schemas.get(org_id, name)
        except NotFoundError:
            created = self._schemas.create(org_id, spec)
            return Applied("Schema", name, "created", created.schema_id, {"version": 1})
        updated = self._schemas.update(org_id, name, spec)
        action = "unchanged" if updated.version == current.version else "updated"
        return Applied("Schema", name, action, updated.schema_id, {"version": updated.version})

    def _apply_namespace(self, org_id: str, spec: Mapping[str, Any]) -> Applied:
        code, name, unique = spec.get("code"), spec.get("name", ""), spec.get("unique", False)
        for field, value, kind in (
            ("code", code, str),
            ("name", name, str),
            ("unique", unique, bool),
        ):
            if not isinstance(value, kind):
                message = f"{field} must be a {'boolean' if kind is bool else 'string'}"
                raise InvalidRequestError(
                    message, violations=(Violation(f"/{field}", "type", message),)
                )
        assert isinstance(code, str) and isinstance(name, str) and isinstance(unique, bool)
        existing = self._profiles.own_namespace(org_id, code)
        if existing is None:
            self._profiles.create_namespace(org_id, code, name, unique)
            return Applied("Namespace", code, "created", code)
        if existing.unique != unique or existing.name != (name or code):
            message = (
                f"namespace {code} exists with other settings; a namespace does not change "
                "once created (the persons linked under it were linked by its rule)"
            )
            raise InvalidRequestError(message, violations=(Violation("/code", "const", message),))
        return Applied("Namespace", code, "unchanged", code)

    def _apply_dataset(self, org_id: str, spec: Mapping[str, Any]) -> Applied:
        name = str(spec.get("name", ""))
        try:
            existing = self._schemas.dataset(org_id, name)
        except NotFoundError:
            created = self._schemas.create_dataset(org_id, spec)
            return Applied("Dataset", name, "created", created.dataset_id)
        change: dict[str, Any] = {}
        if spec.get("retentionDays") != existing.retention_days:
            change["retentionDays"] = spec.get("retentionDays")
        if spec.get("profile", False) != existing.profile:
            change["profile"] = spec.get("profile", False)
        if change:
            self._schemas.change_dataset(org_id, existing.dataset_id, change)
            return Applied("Dataset", name, "updated", existing.dataset_id)
        return Applied("Dataset", name, "unchanged", existing.dataset_id)

    def _apply_mergepolicy(self, org_id: str, spec: Mapping[str, Any]) -> Applied:
        before = self._merge_policies.get(org_id)
        after = self._merge_policies.set(org_id, spec)
        return Applied("MergePolicy", org_id, "unchanged" if after == before else "updated", org_id)

    def _apply_inlet(self, org_id: str, spec: Mapping[str, Any]) -> Applied:
        data = dict(spec)
        if isinstance(data.get("datasetId"), str):
            data["datasetId"] = self._schemas.dataset(org_id, data["datasetId"]).dataset_id
        parsed = InletSpec.from_json(data)
        try:
            current = self._inlets.get(org_id, parsed.name)
        except NotFoundError:
            inlet, token = self._inlets.create(org_id, data)
            extra: dict[str, Any] = {"inletId": inlet.inlet_id}
            if token is not None:
                extra["accessToken"] = token.token
            return Applied("Inlet", parsed.name, "created", inlet.inlet_id, extra)
        changes = {
            "description": parsed.description,
            "sourceId": parsed.source_id,
            "authenticationRequired": parsed.authentication_required,
            "dataType": parsed.data_type,
            "datasetId": parsed.dataset_id,
        }
        if "state" in data:
            changes["state"] = data["state"]
        updated = self._inlets.update(org_id, current.inlet_id, changes)
        action = "unchanged" if updated == current else "updated"
        return Applied("Inlet", parsed.name, action, updated.inlet_id)

    def _apply_event(self, org_id: str, spec: Mapping[str, Any]) -> Applied:
        name = str(spec.get("name", ""))
        try:
            current = self._events.get(org_id, name)
        except NotFoundError:
            created = self._events.create(org_id, spec)
            return Applied("Event", name, "created", name, {"eventID": created.event_id})
        updated = self._events.update(org_id, name, spec)
        action = "unchanged" if updated == current else "updated"
        return Applied("Event", name, action, name, {"eventID": updated.event_id})

    def _apply_audience(self, org_id: str, spec: Mapping[str, Any]) -> Applied:
        """Creates the audience; one that exists must be as the document says (its
        condition does not change: another audience does)."""
        wanted = self._audiences.check(org_id, spec)
        try:
            current = self._audiences.get(org_id, wanted.name)
        except NotFoundError:
            self._audiences.create(org_id, spec)
            return Applied("Audience", wanted.name, "created", wanted.name)
        same = (current.condition.source, current.description) == (
            wanted.condition.source,
            wanted.description,
        )
        if not same:
            raise ConflictError(
                f"audience {wanted.name!r} exists with another condition or description; an "
                "audience does not change: define another one"
            )
        return Applied("Audience", wanted.name, "unchanged", wanted.name)

    def _apply_journey(self, org_id: str, spec: Mapping[str, Any]) -> Applied:
        """Saves the definition; ``state: live`` publishes it when it changed."""
        data = {k: v for k, v in spec.items() if k != "state"}
        name = str(data.get("name", ""))
        try:
            before = self._journeys.get(org_id, name)
        except NotFoundError:
            before = None
        saved = self._journeys.save(org_id, data)
        action = "created" if before is None else ("unchanged" if saved == before else "updated")
        if spec.get("state") == "live" and saved.state == "draft":
            saved = self._journeys.publish(org_id, name)
            action = "created" if before is None else "updated"
        return Applied(
            "Journey", name, action, name, {"version": saved.version, "state": saved.state}
        )
