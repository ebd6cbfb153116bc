"""A client for the admin API, used by the CLI: one attribute per resource
(``client.journeys.report(name)``) for the routes the CLI uses, typed methods that decode
answers into the wire models the server answers with (``wayfare.wire``), and ``call``, the
untyped way, for anything else."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
import msgspec

from wayfare.client.admin_resources import (
    Datasets,
    Definitions,
    Events,
    Failures,
    Inlets,
    Journeys,
    Namespaces,
    Profiles,
    Schemas,
)
from wayfare.errors import WayfareError
from wayfare.wire.apply import AppliedList
from wayfare.wire.base import Problem
from wayfare.wire.datasets import Dataset, DatasetList, DatasetRecords
from wayfare.wire.events import Event, EventList, EventMessages
from wayfare.wire.failures import FailureList
from wayfare.wire.inlets import Inlet, InletList
from wayfare.wire.journeys import Journey, JourneyList, JourneyReport, JourneySteps
from wayfare.wire.org import Org
from wayfare.wire.schemas import Schema, SchemaList

T = TypeVar("T")


class AdminError(WayfareError):
    """The server answered an admin call with an error."""

    def __init__(self, status: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else None
        super().__init__(f"HTTP {status}: {detail or body}")
        self.status = status
        self.body = body

    @property
    def problem(self) -> Problem | None:
        """The answer as a problem, when it was one."""
        try:
            return msgspec.convert(self.body, Problem)
        except msgspec.ValidationError:
            return None


class AdminClient:
    def __init__(
        self, url: str, org_id: str, token: str | None = None, timeout: float = 30.0
    ) -> None:
        headers = {"x-gw-ims-org-id": org_id}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self.schemas = Schemas(self)
        self.datasets = Datasets(self)
        self.inlets = Inlets(self)
        self.events = Events(self)
        self.journeys = Journeys(self)
        self.failures = Failures(self)
        self.namespaces = Namespaces(self)
        self.profiles = Profiles(self)
        self.definitions = Definitions(self)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """The answer's JSON as it came; a Struct given as ``json`` is sent as its JSON."""
        if isinstance(json, msgspec.Struct):
            json = msgspec.to_builtins(json)
        try:
            response = self._http.request(
                method,
                path,
                json=json,
                params={k: v for k, v in (params or {}).items() if v is not None},
            )
        except httpx.HTTPError as exc:
            raise WayfareError(f"cannot reach Wayfare at {self._http.base_url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise AdminError(response.status_code, body)
        return body

    def typed(
        self,
        answer: type[T],
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> T:
        """``call``, its answer decoded as ``answer`` (a WayfareError when it is not one)."""
        body = self.call(method, path, json=json, params=params)
        try:
            return msgspec.convert(body, answer)
        except msgspec.ValidationError as exc:
            raise WayfareError(f"unexpected answer to {method} {path}: {exc}") from exc

    def org(self) -> Org:
        return self.typed(Org, "GET", "/api/v1/org")

    def list_schemas(self) -> SchemaList:
        return self.typed(SchemaList, "GET", "/api/v1/schemas")

    def schema(self, ref: str, version: int | None = None) -> Schema:
        return self.typed(Schema, "GET", f"/api/v1/schemas/{ref}", params={"version": version})

    def list_datasets(self, schema: str | None = None) -> DatasetList:
        return self.typed(DatasetList, "GET", "/api/v1/datasets", params={"schema": schema})

    def dataset(self, key: str) -> Dataset:
        return self.typed(Dataset, "GET", f"/api/v1/datasets/{key}")

    def records(self, key: str, limit: int = 20, after: int | None = None) -> DatasetRecords:
        params = {"limit": limit, "after": after}
        return self.typed(DatasetRecords, "GET", f"/api/v1/datasets/{key}/records", params=params)

    def list_inlets(self) -> InletList:
        return self.typed(InletList, "GET", "/api/v1/inlets")

    def inlet(self, key: str) -> Inlet:
        return self.typed(Inlet, "GET", f"/api/v1/inlets/{key}")

    def list_events(self) -> EventList:
        return self.typed(EventList, "GET", "/api/v1/events")

    def event(self, name: str) -> Event:
        return self.typed(Event, "GET", f"/api/v1/events/{name}")

    def event_messages(self, name: str, limit: int = 20) -> EventMessages:
        path = f"/api/v1/events/{name}/messages"
        return self.typed(EventMessages, "GET", path, params={"limit": limit})

    def list_journeys(self) -> JourneyList:
        return self.typed(JourneyList, "GET", "/api/v1/journeys")

    def journey(self, name: str, version: int | None = None) -> Journey:
        path = f"/api/v1/journeys/{name}"
        return self.typed(Journey, "GET", path, params={"version": version})

    def journey_report(self, name: str) -> JourneyReport:
        return self.typed(JourneyReport, "GET", f"/api/v1/journeys/{name}/report")

    def journey_steps(self, name: str, limit: int = 50) -> JourneySteps:
        path = f"/api/v1/journeys/{name}/steps"
        return self.typed(JourneySteps, "GET", path, params={"limit": limit})

    def list_failures(self, inlet: str | None = None, limit: int = 100) -> FailureList:
        params = {"inletId": inlet, "limit": limit}
        return self.typed(FailureList, "GET", "/api/v1/failures", params=params)

    def apply(self, documents: list[dict[str, Any]]) -> AppliedList:
        return self.typed(AppliedList, "POST", "/api/v1/apply", json={"documents": documents})
