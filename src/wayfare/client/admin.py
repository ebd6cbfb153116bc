"""A small client for the admin API, used by the CLI: ``call`` for any route, and one
attribute per resource (``client.journeys.report(name)``) for the routes the CLI uses."""

from __future__ import annotations

from typing import Any

import httpx

from wayfare.client.admin_resources import (
    Datasets,
    Definitions,
    Events,
    Failures,
    Inlets,
    Journeys,
    Schemas,
)
from wayfare.errors import WayfareError


class AdminError(WayfareError):
    """The server answered an admin call with an error."""

    def __init__(self, status: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else None
        super().__init__(f"HTTP {status}: {detail or body}")
        self.status = status
        self.body = body


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
        self.definitions = Definitions(self)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
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
