"""A client for the admin API, used by the CLI: one attribute per resource
(``client.journeys.report(name)``, see ``admin_resources``), each method answering with the
wire model the server encodes its answer from (``wayfare.wire``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
import msgspec

from wayfare.client.admin_resources import (
    AudienceMemberships,
    Audiences,
    Body,
    Datasets,
    Definitions,
    Events,
    Failures,
    Inlets,
    Journeys,
    Namespaces,
    OrgResource,
    Orgs,
    Profiles,
    Schemas,
    TestProfiles,
)
from wayfare.errors import WayfareError
from wayfare.wire.base import Problem

T = TypeVar("T")


class AdminError(WayfareError):
    """The server answered an admin call with an error."""

    def __init__(self, status: int, body: bytes) -> None:
        try:
            self.problem: Problem | None = msgspec.json.decode(body, type=Problem)
        except msgspec.DecodeError:
            self.problem = None
        detail = self.problem.detail if self.problem else body.decode(errors="replace")
        super().__init__(f"HTTP {status}: {detail}")
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
        self.org = OrgResource(self)
        self.orgs = Orgs(self)
        self.schemas = Schemas(self)
        self.datasets = Datasets(self)
        self.inlets = Inlets(self)
        self.events = Events(self)
        self.journeys = Journeys(self)
        self.test_profiles = TestProfiles(self)
        self.failures = Failures(self)
        self.namespaces = Namespaces(self)
        self.profiles = Profiles(self)
        self.audiences = Audiences(self)
        self.audience_memberships = AudienceMemberships(self)
        self.definitions = Definitions(self)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def request(
        self,
        answer: type[T],
        method: str,
        path: str,
        *,
        body: Body | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> T:
        """One call; its answer decoded as ``answer``. An error answer raises AdminError,
        an unreachable server or an answer of another shape WayfareError."""
        content = None if body is None else msgspec.json.encode(body)
        try:
            response = self._http.request(
                method,
                path,
                content=content,
                headers={"content-type": "application/json"} if content is not None else None,
                params={k: v for k, v in (params or {}).items() if v is not None},
            )
        except httpx.HTTPError as exc:
            raise WayfareError(f"cannot reach Wayfare at {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise AdminError(response.status_code, response.content)
        try:
            return msgspec.json.decode(response.content, type=answer)
        except msgspec.DecodeError as exc:
            raise WayfareError(f"unexpected answer to {method} {path}: {exc}") from exc
