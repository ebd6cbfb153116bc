"""Schema registry: create schemas (with their default dataset), add versions, add datasets,
read a dataset's latest records."""

from __future__ import annotations

from wayfare import ids
from wayfare.clock import Clock
from wayfare.errors import ConflictError, InvalidRequestError, NotFoundError, Violation
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.validation import CompiledSchema
from wayfare.model.records import Record, carries_identity
from wayfare.model.resources import Dataset, Schema
from wayfare.model.rules import Checker, require_object
from wayfare.model.schema import SchemaDefinition, build_json_schema
from wayfare.registry.orgs import ensure_org
from wayfare.store.ports import ResourceStore

SEARCHED_RECORDS = 1_000
"""A search by identity looks through this many of a dataset's latest records."""


class SchemaRegistry:
    def __init__(self, store: ResourceStore, catalog: Catalog, clock: Clock) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock

    def get(self, org_id: str, key: str, version: int | None = None) -> Schema:
        schema = self._store.find_schema(org_id, key)
        if schema is not None and version is not None and version != schema.version:
            schema = self._store.get_schema(schema.schema_id, version)
        if schema is None:
            suffix = f" version {version}" if version is not None else ""
            raise NotFoundError(f"Schema {key!r}{suffix} was not found in org {org_id}")
        return schema

    def all(self, org_id: str) -> list[Schema]:
        return self._store.list_schemas(org_id)

    def versions(self, org_id: str, key: str) -> list[Schema]:
        return self._store.schema_versions(self.get(org_id, key).schema_id)

    def _build(
        self, org_id: str, definition: SchemaDefinition, schema_id: str, version: int
    ) -> Schema:
        org = ensure_org(self._store, self._clock, org_id)
        json_schema = build_json_schema(
            definition, schema_id=schema_id, tenant_id=org.tenant_id, version=version
        )
        missing = [r for r in definition.required if r not in json_schema["properties"]]
        if missing:
            raise InvalidRequestError(
                f"invalid schema: required names unknown root fields {missing}",
                violations=tuple(
                    Violation(f"/required/{definition.required.index(m)}", "enum", f"no field {m}")
                    for m in missing
                ),
            )
        schema = Schema(
            schema_id=schema_id,
            version=version,
            org_id=org_id,
            definition=definition,
            json_schema=json_schema,
            created_ms=self._clock.now_ms(),
        )
        CompiledSchema.compile(schema)  # refuse what would not compile
        return schema

    def create(self, org_id: str, data: object) -> Schema:
        definition = SchemaDefinition.from_json(data)
        if self._store.find_schema(org_id, definition.name) is not None:
            raise ConflictError(f"A schema named {definition.name!r} already exists")
        org = ensure_org(self._store, self._clock, org_id)
        schema_id = f"https://ns.adobe.com/{org.tenant_id}/schemas/{ids.schema_hex()}"
        schema = self._build(org_id, definition, schema_id, 1)
        dataset = Dataset(
            dataset_id=ids.dataset_id(),
            org_id=org_id,
            name=f"{definition.name} dataset",
            schema_id=schema_id,
            is_default=True,
            created_ms=schema.created_ms,
        )
        self._store.add_schema(schema, dataset)
        return schema

    def update(self, org_id: str, key: str, data: object) -> Schema:
        """A new version; unchanged definitions return the current version."""
        current = self.get(org_id, key)
        definition = SchemaDefinition.from_json(data)
        if definition == current.definition:
            return current
        if definition.name != current.name and self._store.find_schema(org_id, definition.name):
            raise ConflictError(f"A schema named {definition.name!r} already exists")
        if definition.xdm_class != current.definition.xdm_class:
            raise InvalidRequestError(
                "A schema's class cannot change between versions",
                violations=(Violation("/class", "const", f"was {current.definition.xdm_class}"),),
            )
        schema = self._build(org_id, definition, current.schema_id, current.version + 1)
        self._store.add_schema(schema, None)
        self._catalog.forget_schema(schema.schema_id)
        return schema

    # datasets
    def create_dataset(self, org_id: str, data: object) -> Dataset:
        obj = require_object(data, "dataset")
        check = Checker("dataset")
        name = check.string(obj, "name", required=True)
        key = check.string(obj, "schemaId", required=True)
        retention_days = check.days(obj, "retentionDays")
        profile = check.boolean(obj, "profile", False)
        check.done()
        schema = self.get(org_id, key)
        if any(d.name == name for d in self._store.list_datasets(org_id)):
            raise ConflictError(f"A dataset named {name!r} already exists")
        dataset = Dataset(
            dataset_id=ids.dataset_id(),
            org_id=org_id,
            name=name,
            schema_id=schema.schema_id,
            is_default=False,
            created_ms=self._clock.now_ms(),
            retention_days=retention_days,
            profile=profile,
        )
        self._store.add_dataset(dataset)
        self._catalog.forget_schema(schema.schema_id)
        return dataset

    def change_dataset(self, org_id: str, key: str, data: object) -> Dataset:
        """Change what a dataset allows changing: ``retentionDays`` (null: kept for ever),
        ``profile`` (true: enabled for Profile; it cannot be disabled, as in Adobe)."""
        obj = require_object(data, "dataset change")
        check = Checker("dataset change")
        if "retentionDays" not in obj and "profile" not in obj:
            check.fail(
                "/retentionDays", "required", "retentionDays (null: none) or profile is required"
            )
        days = check.days(obj, "retentionDays")
        profile = check.boolean(obj, "profile", False)
        check.done()
        dataset = self.dataset(org_id, key)
        if "profile" in obj and profile != dataset.profile:
            if not profile:
                raise InvalidRequestError(
                    "A dataset enabled for Profile stays enabled: create another dataset",
                    violations=(Violation("/profile", "const", "the dataset is enabled"),),
                )
            self._store.enable_dataset_profile(dataset.dataset_id)
        if "retentionDays" in obj and days != dataset.retention_days:
            self._store.set_dataset_retention(dataset.dataset_id, days)
        return self.dataset(org_id, dataset.dataset_id)

    def dataset(self, org_id: str, key: str) -> Dataset:
        found = self._store.get_dataset(key)
        if found is None or found.org_id != org_id:
            found = next((d for d in self._store.list_datasets(org_id) if d.name == key), None)
        if found is None:
            raise NotFoundError(f"Dataset {key!r} was not found in org {org_id}")
        return found

    def datasets(self, org_id: str, schema_key: str | None = None) -> list[Dataset]:
        schema_id = self.get(org_id, schema_key).schema_id if schema_key else None
        return self._store.list_datasets(org_id, schema_id)

    def latest_records(
        self, org_id: str, key: str, limit: int, identity: str | None = None
    ) -> list[Record]:
        """A dataset's latest records, newest first; with ``identity``, those of its latest
        ``SEARCHED_RECORDS`` that carry it in their identityMap."""
        dataset = self.dataset(org_id, key)
        if not identity:
            found = self._store.list_records(dataset.dataset_id, limit=limit)
            return found[::-1]
        found = self._store.list_records(dataset.dataset_id, limit=SEARCHED_RECORDS)
        return [r for r in reversed(found) if carries_identity(r.message, identity)][:limit]
