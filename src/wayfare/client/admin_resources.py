"""The admin API by resource: one method per route, answering with the route's wire model.

``client.journeys.report("welcome")`` is a ``JourneyReport``, decoded from the answer with
msgspec into the same class the server encodes it from (``wayfare.wire``). Paths, methods
and query parameters live here once. Definitions read from files (``create``, ``save``,
``apply``) go as they are, so that the server's report points into them; what the client
builds itself goes as the route's request model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from wayfare.wire import apply as wa
from wayfare.wire import audiences as wau
from wayfare.wire import datasets as wd
from wayfare.wire import events as we
from wayfare.wire import failures as wf
from wayfare.wire import inlets as wi
from wayfare.wire import journeys as wj
from wayfare.wire import org as wo
from wayfare.wire import profiles as wp
from wayfare.wire import schemas as ws
from wayfare.wire.base import Deleted
from wayfare.wire.collection import Message

if TYPE_CHECKING:
    from wayfare.client.admin import AdminClient

T = TypeVar("T")

Body = msgspec.Struct | Mapping[str, Any]
"""A request body: the route's model, or a definition as read from a file."""


class _Resource:
    """The routes under ``/api/v1/<base>``."""

    base = ""

    def __init__(self, client: AdminClient) -> None:
        self._client = client

    def _call(
        self, answer: type[T], method: str, *parts: str, body: Body | None = None, **params: Any
    ) -> T:
        path = "/".join([f"/api/v1/{self.base}", *parts])
        return self._client.request(answer, method, path, body=body, params=params)


class OrgResource(_Resource):
    base = "org"

    def get(self) -> wo.Org:
        return self._call(wo.Org, "GET")

    def set_tenant(self, tenant_id: str) -> wo.Org:
        return self._call(wo.Org, "PUT", body=wo.OrgChange(tenantId=tenant_id))


class Orgs(_Resource):
    base = "orgs"

    def list(self) -> wo.OrgList:
        return self._call(wo.OrgList, "GET")


class Schemas(_Resource):
    base = "schemas"

    def list(self) -> ws.SchemaList:
        return self._call(ws.SchemaList, "GET")

    def get(self, ref: str, version: int | None = None) -> ws.Schema:
        """One by id, altId or name; the latest version unless ``version``."""
        return self._call(ws.Schema, "GET", ref, version=version)

    def versions(self, ref: str) -> ws.SchemaVersions:
        return self._call(ws.SchemaVersions, "GET", ref, "versions")

    def create(self, definition: ws.SchemaDefinition | Mapping[str, Any]) -> ws.Schema:
        return self._call(ws.Schema, "POST", body=definition)

    def update(self, ref: str, definition: ws.SchemaDefinition | Mapping[str, Any]) -> ws.Schema:
        """A new version."""
        return self._call(ws.Schema, "PUT", ref, body=definition)


class Datasets(_Resource):
    base = "datasets"

    def list(self, schema: str | None = None) -> wd.DatasetList:
        return self._call(wd.DatasetList, "GET", schema=schema)

    def get(self, dataset: str) -> wd.Dataset:
        """With its record count."""
        return self._call(wd.Dataset, "GET", dataset)

    def create(self, spec: wd.DatasetSpec) -> wd.Dataset:
        return self._call(wd.Dataset, "POST", body=spec)

    def set_retention(self, dataset: str, days: int | None) -> wd.Dataset:
        """Keep records ``days`` days; ``None`` keeps them for good."""
        return self._call(wd.Dataset, "PATCH", dataset, body=wd.DatasetChange(retentionDays=days))

    def records(self, dataset: str, limit: int = 20, after: int | None = None) -> wd.DatasetRecords:
        """Oldest first; only those after the seq ``after`` when given."""
        return self._call(wd.DatasetRecords, "GET", dataset, "records", limit=limit, after=after)

    def enable_profile(self, dataset: str) -> wd.Dataset:
        """Its Profile records update profile attributes from then on; there is no way back."""
        return self._call(wd.Dataset, "PATCH", dataset, body=wd.DatasetChange(profile=True))


class Inlets(_Resource):
    base = "inlets"

    def list(self) -> wi.InletList:
        return self._call(wi.InletList, "GET")

    def get(self, inlet: str) -> wi.Inlet:
        """One by id or name."""
        return self._call(wi.Inlet, "GET", inlet)

    def create(self, spec: wi.InletSpec) -> wi.Inlet:
        """An authenticated inlet comes with its first token."""
        return self._call(wi.Inlet, "POST", body=spec)

    def update(self, inlet: str, change: wi.InletChange) -> wi.Inlet:
        return self._call(wi.Inlet, "PATCH", inlet, body=change)

    def delete(self, inlet: str) -> Deleted:
        return self._call(Deleted, "DELETE", inlet)

    def issue_token(self, inlet: str, expires_in: int | None = None) -> wi.IssuedToken:
        """A bearer token; ``expires_in`` seconds, or one that does not expire."""
        request = wi.TokenRequest(expiresInSeconds=expires_in)
        return self._call(wi.IssuedToken, "POST", inlet, "tokens", body=request)

    def revoke_tokens(self, inlet: str) -> wi.Revoked:
        return self._call(wi.Revoked, "DELETE", inlet, "tokens")


class Events(_Resource):
    base = "events"

    def list(self) -> we.EventList:
        return self._call(we.EventList, "GET")

    def get(self, name: str) -> we.Event:
        return self._call(we.Event, "GET", name)

    def create(self, definition: we.EventDefinition | Mapping[str, Any]) -> we.Event:
        return self._call(we.Event, "POST", body=definition)

    def update(self, name: str, definition: we.EventDefinition | Mapping[str, Any]) -> we.Event:
        return self._call(we.Event, "PUT", name, body=definition)

    def delete(self, name: str) -> Deleted:
        return self._call(Deleted, "DELETE", name)

    def preview(self, name: str) -> Message:
        """The exact message a data system must send."""
        return self._call(Message, "GET", name, "payload-preview")

    def snippets(self, name: str) -> we.PreviewSnippets:
        """The preview with a curl command and a Python snippet that send it."""
        return self._call(we.PreviewSnippets, "GET", name, "payload-preview", snippets="true")

    def messages(self, name: str, limit: int = 20) -> we.EventMessages:
        """Matching outcomes, newest first."""
        return self._call(we.EventMessages, "GET", name, "messages", limit=limit)


class Journeys(_Resource):
    base = "journeys"

    def list(self) -> wj.JourneyList:
        return self._call(wj.JourneyList, "GET")

    def get(self, name: str, version: int | None = None) -> wj.Journey:
        """The latest version unless ``version``."""
        return self._call(wj.Journey, "GET", name, version=version)

    def versions(self, name: str) -> wj.JourneyVersions:
        return self._call(wj.JourneyVersions, "GET", name, "versions")

    def save(self, definition: wj.JourneyDefinition | Mapping[str, Any]) -> wj.Journey:
        """Create the journey or change its draft (a new draft when one is live)."""
        return self._call(wj.Journey, "POST", body=definition)

    def publish(self, name: str) -> wj.Journey:
        return self._call(wj.Journey, "POST", name, "publish")

    def close(self, name: str) -> wj.Journey:
        return self._call(wj.Journey, "POST", name, "close")

    def resume(self, name: str) -> wj.Journey:
        return self._call(wj.Journey, "POST", name, "resume")

    def stop(self, name: str) -> wj.Stopped:
        return self._call(wj.Stopped, "POST", name, "stop")

    def set_test_mode(self, name: str, enabled: bool) -> wj.Journey:
        change = wj.TestModeChange(enabled=enabled)
        return self._call(wj.Journey, "POST", name, "test-mode", body=change)

    def test_event(
        self, name: str, identity: str, payload: Mapping[str, Any] | None = None
    ) -> wj.TestEventTaken:
        """The entry event for a test profile; ``payload`` is its xdmEntity (default: a
        sample made from the event's preview)."""
        event = wj.TestEvent(identity=identity, payload=None if payload is None else {**payload})
        return self._call(wj.TestEventTaken, "POST", name, "test-event", body=event)

    def report(self, name: str) -> wj.JourneyReport:
        return self._call(wj.JourneyReport, "GET", name, "report")

    def steps(self, name: str, limit: int = 50, identity: str | None = None) -> wj.JourneySteps:
        """Step events, newest first; only ``identity``'s when given."""
        return self._call(wj.JourneySteps, "GET", name, "steps", limit=limit, identity=identity)


class TestProfiles(_Resource):
    base = "test-profiles"

    def add(self, identity: str, namespace: str | None = None) -> wj.TestProfileAdded:
        body = wj.TestProfile(identity=identity, namespace=namespace)
        return self._call(wj.TestProfileAdded, "POST", body=body)


class Failures(_Resource):
    base = "failures"

    def list(
        self,
        inlet: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 100,
    ) -> wf.FailureList:
        """Newest first; ``since`` and ``until`` are ISO 8601 date-times or milliseconds."""
        return self._call(
            wf.FailureList, "GET", inletId=inlet, since=since, until=until, limit=limit
        )


class Namespaces(_Resource):
    base = "namespaces"

    def list(self) -> wp.NamespaceList:
        return self._call(wp.NamespaceList, "GET")

    def create(self, spec: wp.NamespaceSpec) -> wp.Namespace:
        return self._call(wp.Namespace, "POST", body=spec)


class Profiles(_Resource):
    base = "profiles"

    def find(self, namespace: str, id_: str) -> wp.Profile:
        """The person one of whose identities is ``namespace``/``id_``."""
        return self._call(wp.Profile, "GET", namespace=namespace, id=id_)

    def delete(self, namespace: str, id_: str) -> wp.ProfileDeleted:
        """Privacy delete of the person one of whose identities is ``namespace``/``id_``."""
        return self._call(wp.ProfileDeleted, "DELETE", namespace=namespace, id=id_)


class Audiences(_Resource):
    base = "audiences"

    def list(self) -> wau.AudienceList:
        return self._call(wau.AudienceList, "GET")

    def get(self, name: str) -> wau.Audience:
        return self._call(wau.Audience, "GET", name)

    def create(self, definition: wau.AudienceDefinition) -> wau.Audience:
        return self._call(wau.Audience, "POST", body=definition)

    def members(self, name: str, limit: int = 100, after: str | None = None) -> wau.MemberList:
        """Current members by person id, ``limit`` after the person id ``after``."""
        return self._call(wau.MemberList, "GET", name, "members", limit=limit, after=after)


class AudienceMemberships(_Resource):
    base = "audience-memberships"

    def of(self, namespace: str, id_: str) -> wau.PersonMemberships:
        """The audiences of the person one of whose identities is ``namespace``/``id_``."""
        return self._call(wau.PersonMemberships, "GET", namespace=namespace, id=id_)


class Definitions(_Resource):
    base = "apply"

    def apply(self, documents: Sequence[Mapping[str, Any]]) -> wa.AppliedList:
        """Documents (each a ``kind`` and that resource's fields), idempotently and in
        dependency order, whatever the order given."""
        return self._call(wa.AppliedList, "POST", body={"documents": list(documents)})
