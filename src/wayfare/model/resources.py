"""The stored resources an organisation owns: schemas, datasets, inlets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from wayfare.model.schema import SchemaDefinition, content_type

DataType = Literal["xdm", "raw"]


@dataclass(frozen=True, slots=True)
class Org:
    org_id: str
    tenant_id: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class Schema:
    """One version of a schema, with its full JSON Schema."""

    schema_id: str
    version: int
    org_id: str
    definition: SchemaDefinition
    json_schema: dict[str, Any]
    created_ms: int

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def alt_id(self) -> str:
        """Adobe's ``meta:altId`` form: ``_tenant.schemas.<hex>``."""
        tenant, _, rest = self.schema_id.removeprefix("https://ns.adobe.com/").partition("/")
        return f"_{tenant}.{rest.replace('/', '.')}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.schema_id,
            "altId": self.alt_id,
            "name": self.name,
            "title": self.definition.title,
            "description": self.definition.description,
            "class": self.definition.xdm_class,
            "fieldGroups": list(self.definition.field_groups),
            "version": self.version,
            "contentType": content_type(self.version),
            "imsOrg": self.org_id,
            "createdMs": self.created_ms,
            "definition": self.definition.as_json(),
            "jsonSchema": self.json_schema,
        }


@dataclass(frozen=True, slots=True)
class Dataset:
    dataset_id: str
    org_id: str
    name: str
    schema_id: str
    is_default: bool
    created_ms: int
    retention_days: int | None = None
    """Records (and failed records) older than this many days are deleted; None: kept."""
    profile: bool = False
    """Enabled for Profile: the Profile records it receives update profile attributes
    (docs/profiles.md). Datasets of both classes can be, as in Adobe; once enabled, for
    good."""

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.dataset_id,
            "name": self.name,
            "schemaRef": {"id": self.schema_id, "contentType": content_type(1).split(";")[0]},
            "default": self.is_default,
            "imsOrg": self.org_id,
            "createdMs": self.created_ms,
        }
        if self.retention_days is not None:
            body["retentionDays"] = self.retention_days
        if self.profile:
            body["profile"] = True
        return body


@dataclass(frozen=True, slots=True)
class Inlet:
    """An HTTP API streaming connection."""

    inlet_id: str
    org_id: str
    name: str
    description: str = ""
    source_id: str = ""
    data_type: DataType = "xdm"
    authentication_required: bool = False
    enabled: bool = True
    flow_id: str = ""
    """Raw inlets: the dataflow id messages carry in ``x-adobe-flow-id``."""
    dataset_id: str | None = None
    """Raw inlets: the dataset raw records land in."""
    created_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, base_url: str) -> str:
        return f"{base_url}/collection/{self.inlet_id}"

    def as_json(self, base_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "inletId": self.inlet_id,
            "inletUrl": self.url(base_url),
            "batchUrl": f"{base_url}/collection/batch/{self.inlet_id}",
            "imsOrg": self.org_id,
            "name": self.name,
            "description": self.description,
            "sourceId": self.source_id,
            "dataType": self.data_type,
            "authenticationRequired": self.authentication_required,
            "state": "enabled" if self.enabled else "disabled",
            "createdMs": self.created_ms,
        }
        if self.data_type == "raw":
            body["flowId"] = self.flow_id
            body["datasetId"] = self.dataset_id
        return body
