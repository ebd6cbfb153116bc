"""HTTP API streaming connections ("inlets") and the bearer tokens of authenticated ones."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wayfare import ids
from wayfare.clock import Clock
from wayfare.errors import ConflictError, InvalidRequestError, NotFoundError, Violation
from wayfare.ingest.catalog import Catalog
from wayfare.model.records import AccessToken
from wayfare.model.resources import Inlet
from wayfare.model.rules import Checker, require_object
from wayfare.model.tokens import hash_token
from wayfare.registry.orgs import ensure_org
from wayfare.store.ports import ResourceStore

MAX_TOKEN_SECONDS = 10 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly issued token: the only time its clear text is seen."""

    token: str
    inlet_id: str
    expires_ms: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "accessToken": self.token,
            "tokenType": "bearer",
            "inletId": self.inlet_id,
            "expiresMs": self.expires_ms,
        }


@dataclass(frozen=True, slots=True)
class InletSpec:
    name: str
    description: str
    source_id: str
    data_type: str
    authentication_required: bool
    dataset_id: str | None

    @classmethod
    def from_json(cls, data: object) -> InletSpec:
        obj = require_object(data, "inlet")
        check = Checker("inlet")
        name = check.name(obj)
        data_type = check.string(obj, "dataType", default="xdm")
        if data_type not in ("xdm", "raw"):
            check.fail("/dataType", "enum", "dataType must be 'xdm' or 'raw'")
        dataset_id = check.string(obj, "datasetId") or None
        if data_type == "raw" and dataset_id is None:
            check.fail("/datasetId", "required", "a raw inlet needs the datasetId it writes to")
        spec = cls(
            name=name,
            description=check.string(obj, "description"),
            source_id=check.string(obj, "sourceId"),
            data_type=data_type,
            authentication_required=check.boolean(obj, "authenticationRequired", False),
            dataset_id=dataset_id,
        )
        check.done()
        return spec


class InletRegistry:
    def __init__(self, store: ResourceStore, catalog: Catalog, clock: Clock) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock

    def get(self, org_id: str, key: str) -> Inlet:
        inlet = self._store.get_inlet(key)
        if inlet is None or inlet.org_id != org_id:
            inlet = next((i for i in self._store.list_inlets(org_id) if i.name == key), None)
        if inlet is None:
            raise NotFoundError(f"Inlet {key!r} was not found in org {org_id}")
        return inlet

    def all(self, org_id: str) -> list[Inlet]:
        return self._store.list_inlets(org_id)

    def send_target(self, org_id: str, base_url: str) -> tuple[str, bool]:
        """The URL snippets post to, and whether it takes a token: the org's first enabled
        XDM inlet, or a placeholder."""
        for inlet in self.all(org_id):
            if inlet.enabled and inlet.data_type == "xdm":
                return inlet.url(base_url), inlet.authentication_required
        return f"{base_url}/collection/<inletId>", False

    def _check_dataset(self, org_id: str, spec: InletSpec) -> None:
        if spec.dataset_id is None:
            return
        dataset = self._store.get_dataset(spec.dataset_id)
        if dataset is None or dataset.org_id != org_id:
            raise InvalidRequestError(
                f"Dataset {spec.dataset_id} was not found in org {org_id}",
                violations=(Violation("/datasetId", "enum", "no such dataset"),),
            )

    def create(self, org_id: str, data: object) -> tuple[Inlet, IssuedToken | None]:
        spec = InletSpec.from_json(data)
        ensure_org(self._store, self._clock, org_id)
        if any(i.name == spec.name for i in self._store.list_inlets(org_id)):
            raise ConflictError(f"An inlet named {spec.name!r} already exists")
        self._check_dataset(org_id, spec)
        inlet = Inlet(
            inlet_id=ids.inlet_id(),
            org_id=org_id,
            name=spec.name,
            description=spec.description,
            source_id=spec.source_id,
            data_type="raw" if spec.data_type == "raw" else "xdm",
            authentication_required=spec.authentication_required,
            flow_id=ids.flow_id() if spec.data_type == "raw" else "",
            dataset_id=spec.dataset_id,
            created_ms=self._clock.now_ms(),
        )
        self._store.add_inlet(inlet)
        self._catalog.forget_inlet(inlet.inlet_id)
        token = self.issue_token(org_id, inlet.inlet_id) if inlet.authentication_required else None
        return inlet, token

    def update(self, org_id: str, key: str, changes: object) -> Inlet:
        """Change name, description, sourceId, authenticationRequired or state."""
        current = self.get(org_id, key)
        obj: Mapping[str, Any] = require_object(changes, "inlet change")
        check = Checker("inlet change")
        allowed = {"name", "description", "sourceId", "authenticationRequired", "state"}
        for field in obj:
            if field not in allowed and field not in ("dataType", "inletId", "datasetId"):
                check.fail(f"/{field}", "additionalProperties", f"{field} cannot be changed")
        fixed = {"dataType": current.data_type, "datasetId": current.dataset_id}
        for field, value in fixed.items():
            if field in obj and obj[field] != value:
                check.fail(f"/{field}", "const", f"{field} cannot be changed")
        state = check.string(obj, "state", default="enabled" if current.enabled else "disabled")
        if state not in ("enabled", "disabled"):
            check.fail("/state", "enum", "state must be 'enabled' or 'disabled'")
        name = check.name({"name": obj.get("name", current.name)})
        updated = dataclasses.replace(
            current,
            name=name,
            description=check.string(obj, "description", default=current.description),
            source_id=check.string(obj, "sourceId", default=current.source_id),
            authentication_required=check.boolean(
                obj, "authenticationRequired", current.authentication_required
            ),
            enabled=state == "enabled",
        )
        check.done()
        if name != current.name and any(i.name == name for i in self._store.list_inlets(org_id)):
            raise ConflictError(f"An inlet named {name!r} already exists")
        if updated != current:
            self._store.update_inlet(updated)
            self._catalog.forget_inlet(current.inlet_id)
        return updated

    def set_enabled(self, org_id: str, key: str, enabled: bool) -> Inlet:
        return self.update(org_id, key, {"state": "enabled" if enabled else "disabled"})

    def delete(self, org_id: str, key: str) -> Inlet:
        inlet = self.get(org_id, key)
        self._store.delete_inlet(inlet.inlet_id)
        self._catalog.forget_inlet(inlet.inlet_id)
        return inlet

    def issue_token(
        self, org_id: str, key: str, expires_in_seconds: int | None = None
    ) -> IssuedToken:
        inlet = self.get(org_id, key)
        if not inlet.authentication_required:
            raise InvalidRequestError(
                f"Inlet {inlet.name!r} does not require authentication; tokens are not needed"
            )
        if expires_in_seconds is not None and not 0 < expires_in_seconds <= MAX_TOKEN_SECONDS:
            raise InvalidRequestError(
                f"expiresInSeconds must be between 1 and {MAX_TOKEN_SECONDS} (ten years)",
                violations=(Violation("/expiresInSeconds", "maximum", "out of range"),),
            )
        now = self._clock.now_ms()
        token = ids.access_token()
        expires_ms = now + expires_in_seconds * 1000 if expires_in_seconds else None
        self._store.add_token(
            AccessToken(hash_token(token), inlet.inlet_id, org_id, now, expires_ms)
        )
        return IssuedToken(token=token, inlet_id=inlet.inlet_id, expires_ms=expires_ms)

    def revoke_tokens(self, org_id: str, key: str) -> int:
        inlet = self.get(org_id, key)
        count = self._store.revoke_tokens(inlet.inlet_id)
        self._catalog.forget_inlet(inlet.inlet_id)
        return count
