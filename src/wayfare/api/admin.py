"""The admin API under /api/v1: schemas, datasets, inlets, tokens, events, journeys,
namespaces, profiles, audiences (their handlers in api/audiences.py), failures, apply.
``admin_operations`` is its route table: each route once, with its models."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wayfare.api import audiences as aa
from wayfare.api.authorization import bearer_token
from wayfare.api.json_body import parse_json
from wayfare.api.operations import (
    Endpoint,
    Operation,
    decode_query,
    decode_value,
    json_answer,
)
from wayfare.api.people import profile_wire
from wayfare.bootstrap import Services
from wayfare.errors import (
    ForbiddenError,
    InvalidRequestError,
    UnauthenticatedError,
    Violation,
)
from wayfare.model.identities import Namespace
from wayfare.registry.orgs import find_org, list_orgs, set_tenant
from wayfare.registry.snippets import curl_command, python_snippet
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
from wayfare.wire.base import MAX_INT, Deleted
from wayfare.wire.collection import Message

Handler = Callable[[Request, Services, str], Awaitable[Response]]


def check_admin_token(request: Request, services: Services) -> None:
    """Nothing when no admin token is set or the request carries it; else 401 or 403."""
    token = services.settings.admin_token
    if token:
        given = bearer_token(request.headers.get("authorization", ""))
        if not given:
            raise UnauthenticatedError("Admin calls require Authorization: Bearer <admin token>")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ForbiddenError("The admin token is not valid")


def _check_admin(request: Request, services: Services) -> str:
    check_admin_token(request, services)
    org_id = request.headers.get("x-gw-ims-org-id", "").strip()
    if not org_id:
        raise InvalidRequestError(
            "Admin calls need the organisation in the x-gw-ims-org-id header",
            violations=(Violation("x-gw-ims-org-id", "required", "header missing"),),
        )
    return org_id


def admin(services: Services, fn: Handler) -> Endpoint:
    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        return await fn(request, services, _check_admin(request, services))

    return endpoint


async def read_json(request: Request) -> Any:
    return parse_json(await request.body())


def time_param(raw: str | None, name: str) -> int | None:
    """Milliseconds since the epoch, given as a number or an ISO 8601 date-time."""
    if not raw:
        return None
    if raw.isdecimal() and raw.isascii() and int(raw) <= MAX_INT:
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(
            f"Query parameter {name} must be milliseconds or an ISO 8601 date-time",
            violations=(Violation(f"?{name}", "format", "not a time"),),
        ) from None
    return int(moment.timestamp() * 1000)


# org
async def get_org(request: Request, s: Services, org_id: str) -> Response:
    org = await run_in_threadpool(find_org, s.store, s.clock, org_id)
    return json_answer(wo.Org, wo.Org(imsOrgId=org.org_id, tenantId=org.tenant_id))


def all_orgs(services: Services) -> Endpoint:
    """Every org: the one admin call without an org (the admin token opens them all)."""

    async def endpoint(request: Request) -> Response:
        check_admin_token(request, services)
        orgs = await run_in_threadpool(list_orgs, services.store)
        listed = [wo.Org(imsOrgId=org.org_id, tenantId=org.tenant_id) for org in orgs]
        return json_answer(wo.OrgList, wo.OrgList(orgs=listed))

    return endpoint


async def put_org(request: Request, s: Services, org_id: str) -> Response:
    change = decode_value(await read_json(request), wo.OrgChange)
    org = await run_in_threadpool(set_tenant, s.store, s.clock, org_id, change.tenantId)
    return json_answer(wo.Org, wo.Org(imsOrgId=org.org_id, tenantId=org.tenant_id))


# profiles
async def get_merge_policy(request: Request, s: Services, org_id: str) -> Response:
    policy = await run_in_threadpool(s.merge_policies.get, org_id)
    return json_answer(wp.MergePolicy, policy.as_json())


async def put_merge_policy(request: Request, s: Services, org_id: str) -> Response:
    policy = await run_in_threadpool(s.merge_policies.set, org_id, await read_json(request))
    return json_answer(wp.MergePolicy, policy.as_json())


# schemas
async def list_schemas(request: Request, s: Services, org_id: str) -> Response:
    schemas = await run_in_threadpool(s.schemas.all, org_id)
    return json_answer(ws.SchemaList, {"schemas": [x.as_json() for x in schemas]})


async def create_schema(request: Request, s: Services, org_id: str) -> Response:
    schema = await run_in_threadpool(s.schemas.create, org_id, await read_json(request))
    return json_answer(ws.Schema, schema.as_json(), 201)


async def get_schema(request: Request, s: Services, org_id: str) -> Response:
    query = decode_query(request, wj.VersionQuery)
    schema = await run_in_threadpool(
        s.schemas.get, org_id, request.path_params["ref"], query.version
    )
    return json_answer(ws.Schema, schema.as_json())


async def schema_versions(request: Request, s: Services, org_id: str) -> Response:
    versions = await run_in_threadpool(s.schemas.versions, org_id, request.path_params["ref"])
    return json_answer(ws.SchemaVersions, {"versions": [x.as_json() for x in versions]})


async def update_schema(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    schema = await run_in_threadpool(s.schemas.update, org_id, request.path_params["ref"], body)
    return json_answer(ws.Schema, schema.as_json())


# datasets
STEP_EVENTS_DATASET = "journeyStepEvents"
"""Every org's system dataset of journey step events."""


def _step_events_dataset(org_id: str) -> dict[str, Any]:
    return {
        "id": STEP_EVENTS_DATASET,
        "name": "Journey step events",
        "system": True,
        "default": False,
        "imsOrg": org_id,
    }


async def list_datasets(request: Request, s: Services, org_id: str) -> Response:
    key = decode_query(request, wd.DatasetQuery).schema
    datasets = await run_in_threadpool(s.schemas.datasets, org_id, key)
    listed = [d.as_json() for d in datasets]
    if key is None:
        listed.append(_step_events_dataset(org_id))
    return json_answer(wd.DatasetList, {"datasets": listed})


async def create_dataset(request: Request, s: Services, org_id: str) -> Response:
    dataset = await run_in_threadpool(s.schemas.create_dataset, org_id, await read_json(request))
    return json_answer(wd.Dataset, dataset.as_json(), 201)


async def change_dataset(request: Request, s: Services, org_id: str) -> Response:
    change = await read_json(request)
    decode_value(change, wd.DatasetChange)
    dataset = await run_in_threadpool(
        s.schemas.change_dataset, org_id, request.path_params["id"], change
    )
    return json_answer(wd.Dataset, dataset.as_json())


async def get_dataset(request: Request, s: Services, org_id: str) -> Response:
    if request.path_params["id"] == STEP_EVENTS_DATASET:
        count = await run_in_threadpool(s.journey_store.count_step_events, org_id)
        return json_answer(wd.Dataset, _step_events_dataset(org_id) | {"recordCount": count})
    dataset = await run_in_threadpool(s.schemas.dataset, org_id, request.path_params["id"])
    count = await run_in_threadpool(s.store.count_records, dataset.dataset_id)
    return json_answer(wd.Dataset, dataset.as_json() | {"recordCount": count})


async def dataset_records(request: Request, s: Services, org_id: str) -> Response:
    query = decode_query(request, wd.RecordsQuery)
    limit, after = query.limit, query.after
    if request.path_params["id"] == STEP_EVENTS_DATASET:
        steps = await run_in_threadpool(
            functools.partial(
                s.journey_store.step_event_records, org_id, limit=limit, after_seq=after
            )
        )
        return json_answer(
            wd.DatasetRecords,
            wd.DatasetRecords(
                datasetId=STEP_EVENTS_DATASET,
                records=[step.as_json() for step in steps],
                lastSeq=steps[-1].seq if steps else None,
            ),
        )
    dataset = await run_in_threadpool(s.schemas.dataset, org_id, request.path_params["id"])
    found = await run_in_threadpool(
        functools.partial(
            s.store.list_records, dataset.dataset_id, limit=limit, after_seq=after, following=True
        )
    )
    return json_answer(
        wd.DatasetRecords,
        wd.DatasetRecords(
            datasetId=dataset.dataset_id,
            records=[r.as_json() for r in found],
            lastSeq=found[-1].seq if found else None,
        ),
    )


# inlets
async def list_inlets(request: Request, s: Services, org_id: str) -> Response:
    inlets = await run_in_threadpool(s.inlets.all, org_id)
    base = s.settings.base_url
    return json_answer(wi.InletList, {"inlets": [i.as_json(base) for i in inlets]})


async def create_inlet(request: Request, s: Services, org_id: str) -> Response:
    inlet, token = await run_in_threadpool(s.inlets.create, org_id, await read_json(request))
    body = inlet.as_json(s.settings.base_url)
    if token is not None:
        body["token"] = token.as_json()
    return json_answer(wi.Inlet, body, 201)


async def get_inlet(request: Request, s: Services, org_id: str) -> Response:
    inlet = await run_in_threadpool(s.inlets.get, org_id, request.path_params["id"])
    return json_answer(wi.Inlet, inlet.as_json(s.settings.base_url))


async def update_inlet(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    inlet = await run_in_threadpool(s.inlets.update, org_id, request.path_params["id"], body)
    return json_answer(wi.Inlet, inlet.as_json(s.settings.base_url))


async def delete_inlet(request: Request, s: Services, org_id: str) -> Response:
    inlet = await run_in_threadpool(s.inlets.delete, org_id, request.path_params["id"])
    return json_answer(Deleted, Deleted(deleted=inlet.inlet_id))


async def issue_token(request: Request, s: Services, org_id: str) -> Response:
    raw = await request.body()
    asked = decode_value(await read_json(request) if raw.strip() else {}, wi.TokenRequest)
    token = await run_in_threadpool(
        s.inlets.issue_token, org_id, request.path_params["id"], asked.expiresInSeconds
    )
    return json_answer(wi.IssuedToken, token.as_json(), 201)


async def revoke_tokens(request: Request, s: Services, org_id: str) -> Response:
    count = await run_in_threadpool(s.inlets.revoke_tokens, org_id, request.path_params["id"])
    return json_answer(wi.Revoked, wi.Revoked(revoked=count))


# events
async def list_events(request: Request, s: Services, org_id: str) -> Response:
    events = await run_in_threadpool(s.events.all, org_id)
    return json_answer(we.EventList, {"events": [e.as_json() for e in events]})


async def create_event(request: Request, s: Services, org_id: str) -> Response:
    event = await run_in_threadpool(s.events.create, org_id, await read_json(request))
    return json_answer(we.Event, event.as_json(), 201)


async def get_event(request: Request, s: Services, org_id: str) -> Response:
    event = await run_in_threadpool(s.events.get, org_id, request.path_params["name"])
    return json_answer(we.Event, event.as_json())


async def update_event(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    event = await run_in_threadpool(s.events.update, org_id, request.path_params["name"], body)
    return json_answer(we.Event, event.as_json())


async def delete_event(request: Request, s: Services, org_id: str) -> Response:
    event = await run_in_threadpool(s.events.delete, org_id, request.path_params["name"])
    return json_answer(Deleted, Deleted(deleted=event.name))


async def payload_preview(request: Request, s: Services, org_id: str) -> Response:
    """The exact message to send; ``?snippets=true`` wraps it with curl and Python."""
    name = request.path_params["name"]
    snippets = decode_query(request, we.PreviewQuery).snippets
    message = await run_in_threadpool(s.events.preview, org_id, name)
    if not snippets:
        return json_answer(Message, message)
    url, auth = await run_in_threadpool(s.inlets.send_target, org_id, s.settings.base_url)
    return json_answer(
        we.PreviewSnippets,
        we.PreviewSnippets(
            payload=message,
            inletUrl=url,
            curl=curl_command(url, org_id, message, "<access token>" if auth else None),
            python=python_snippet(url, org_id, message, auth),
        ),
    )


async def event_messages(request: Request, s: Services, org_id: str) -> Response:
    limit = decode_query(request, we.MessagesQuery).limit
    name = request.path_params["name"]
    found = await run_in_threadpool(s.events.messages, org_id, name, limit)
    return json_answer(we.EventMessages, {"event": name, "messages": [m.as_json() for m in found]})


# journeys
async def list_journeys(request: Request, s: Services, org_id: str) -> Response:
    found = await run_in_threadpool(s.journeys.all, org_id)
    return json_answer(wj.JourneyList, {"journeys": [j.as_json() for j in found]})


async def save_journey(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    if "name" in request.path_params and isinstance(body, dict):
        body.setdefault("name", request.path_params["name"])
        if body["name"] != request.path_params["name"]:
            raise InvalidRequestError(
                "The body names another journey than the URL",
                violations=(Violation("/name", "const", "must match the URL"),),
            )
    name = body.get("name") if isinstance(body, dict) else None
    existed = isinstance(name, str) and (
        await run_in_threadpool(s.journey_store.get_journey, org_id, name) is not None
    )
    version = await run_in_threadpool(s.journeys.save, org_id, body)
    return json_answer(wj.Journey, version.as_json(), 200 if existed else 201)


async def get_journey(request: Request, s: Services, org_id: str) -> Response:
    version = decode_query(request, wj.VersionQuery).version
    found = await run_in_threadpool(s.journeys.get, org_id, request.path_params["name"], version)
    return json_answer(wj.Journey, found.as_json())


async def journey_versions(request: Request, s: Services, org_id: str) -> Response:
    found = await run_in_threadpool(s.journeys.versions, org_id, request.path_params["name"])
    return json_answer(wj.JourneyVersions, {"versions": [v.as_json() for v in found]})


def _journey_change(
    change: Callable[[Any, str, str], Any],
) -> Handler:
    """A command that changes the latest version and answers with it."""

    async def handler(request: Request, s: Services, org_id: str) -> Response:
        version = await run_in_threadpool(change, s.journeys, org_id, request.path_params["name"])
        return json_answer(wj.Journey, version.as_json())

    return handler


publish_journey = _journey_change(lambda j, org, name: j.publish(org, name))
close_journey = _journey_change(lambda j, org, name: j.close(org, name))
resume_journey = _journey_change(lambda j, org, name: j.resume(org, name))


async def stop_journey(request: Request, s: Services, org_id: str) -> Response:
    stopped = await s.journeys.stop(org_id, request.path_params["name"])
    return json_answer(wj.Stopped, stopped)


async def journey_test_mode(request: Request, s: Services, org_id: str) -> Response:
    raw = await request.body()
    change = decode_value(await read_json(request) if raw.strip() else {}, wj.TestModeChange)
    version = await run_in_threadpool(
        s.journeys.set_test_mode, org_id, request.path_params["name"], change.enabled
    )
    return json_answer(wj.Journey, version.as_json())


async def journey_test_event(request: Request, s: Services, org_id: str) -> Response:
    event = decode_value(await read_json(request), wj.TestEvent)
    taken = await s.journeys.test_event(
        org_id, request.path_params["name"], event.identity, event.payload
    )
    return json_answer(wj.TestEventTaken, taken)


async def journey_report(request: Request, s: Services, org_id: str) -> Response:
    report = await run_in_threadpool(s.journeys.report, org_id, request.path_params["name"])
    return json_answer(wj.JourneyReport, report)


async def journey_steps(request: Request, s: Services, org_id: str) -> Response:
    query = decode_query(request, wj.StepsQuery)
    steps = await run_in_threadpool(
        s.journeys.steps, org_id, request.path_params["name"], query.limit, query.identity
    )
    return json_answer(wj.JourneySteps, {"steps": steps})


async def add_test_profile(request: Request, s: Services, org_id: str) -> Response:
    profile = decode_value(await read_json(request), wj.TestProfile)
    identity = await run_in_threadpool(
        s.journeys.add_test_profile, org_id, profile.identity, profile.namespace
    )
    return json_answer(wj.TestProfileAdded, wj.TestProfileAdded(identity=identity, test=True), 201)


# failures
async def list_failures(request: Request, s: Services, org_id: str) -> Response:
    query = decode_query(request, wf.FailuresQuery)
    inlet_key = query.inletId or query.inlet
    inlet_id = None
    if inlet_key:
        inlet_id = (await run_in_threadpool(s.inlets.get, org_id, inlet_key)).inlet_id
    failures = await run_in_threadpool(
        functools.partial(
            s.store.list_failures,
            org_id,
            inlet_id=inlet_id,
            since_ms=time_param(query.since, "since"),
            until_ms=time_param(query.until, "until"),
            limit=query.limit,
        )
    )
    return json_answer(wf.FailureList, {"failures": [f.as_json() for f in failures]})


# apply
async def apply(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    decode_value(body, wa.ApplyBody)  # checked; the documents go on whole
    documents = body if isinstance(body, list) else body["documents"]
    applied = await run_in_threadpool(s.applier.apply, org_id, documents)
    return json_answer(wa.AppliedList, {"applied": [a.as_json() for a in applied]})


# people
def _namespace(namespace: Namespace) -> wp.Namespace:
    return wp.Namespace(
        code=namespace.code,
        name=namespace.name,
        unique=namespace.unique,
        builtIn=namespace.built_in,
    )


async def list_namespaces(request: Request, s: Services, org_id: str) -> Response:
    found = await run_in_threadpool(s.profiles.namespaces, org_id)
    return json_answer(
        wp.NamespaceList, wp.NamespaceList(namespaces=[_namespace(n) for n in found])
    )


async def create_namespace(request: Request, s: Services, org_id: str) -> Response:
    spec = decode_value(await read_json(request), wp.NamespaceSpec)
    created = await run_in_threadpool(
        s.profiles.create_namespace, org_id, spec.code, spec.name, spec.unique
    )
    return json_answer(wp.Namespace, _namespace(created), 201)


async def get_profile(request: Request, s: Services, org_id: str) -> Response:
    query = decode_query(request, wp.ProfileQuery)
    found = await run_in_threadpool(s.profiles.profile, org_id, query.namespace, query.id)
    return json_answer(wp.Profile, profile_wire(found))


async def delete_profile(request: Request, s: Services, org_id: str) -> Response:
    query = decode_query(request, wp.ProfileQuery)
    done = await run_in_threadpool(s.privacy.delete, org_id, query.namespace, query.id)
    answer = wp.ProfileDeleted(
        personId=done.person_id,
        identities=done.identities,
        instancesEnded=done.instances_ended,
        instancesErased=done.instances_erased,
        stepEventsErased=done.step_events_erased,
        profileFragments=done.profile_fragments,
        records=done.records,
        failedRecords=done.failed_records,
        experienceEvents=done.experience_events,
        audienceMemberships=done.audience_memberships,
        countedEvents=done.counted_events,
    )
    return json_answer(wp.ProfileDeleted, answer)


def admin_operations(services: Services) -> list[Operation]:
    """The admin API's route table: each route once, with its models and statuses. Writes
    may also answer 409 (a conflict with what is stored)."""

    def op(
        method: str, path: str, handler: Handler, summary: str, answer: Any, **more: Any
    ) -> Operation:
        more.setdefault("errors", (400, 401, 403, 404, *(() if method == "GET" else (409,))))
        endpoint = admin(services, handler)
        return Operation(method, f"/api/v1{path}", endpoint, summary, answer, **more)

    new, either, ref = (201,), (200, 201), frozenset({"ref"})
    journey_changes = (
        ("publish", publish_journey, "Publish the draft: it goes live"),
        ("close", close_journey, "Close the live version to new entrances"),
        ("resume", resume_journey, "Lift the pause the engine put on failing steps"),
    )
    # fmt: off
    return [
        Operation("GET", "/api/v1/orgs", all_orgs(services), "Every org, by id", wo.OrgList,
                  errors=(401, 403), org_header=False),
        op("GET", "/org", get_org, "The org and its tenant id", wo.Org),
        op("PUT", "/org", put_org, "Set the tenant id", wo.Org, body=wo.OrgChange),
        op("GET", "/merge-policy", get_merge_policy, "How profile fragments are merged",
           wp.MergePolicy),
        op("PUT", "/merge-policy", put_merge_policy, "Set how profile fragments are merged",
           wp.MergePolicy, body=wp.MergePolicy),
        op("GET", "/schemas", list_schemas, "List schemas (latest versions)", ws.SchemaList),
        op("POST", "/schemas", create_schema, "Create a schema and its default dataset",
           ws.Schema, status=new, body=ws.SchemaDefinition),
        op("GET", "/schemas/{ref}/versions", schema_versions, "Every version of a schema",
           ws.SchemaVersions, slashes=ref),
        op("GET", "/schemas/{ref}", get_schema, "One schema (id, altId or name)", ws.Schema,
           query=wj.VersionQuery, slashes=ref),
        op("PUT", "/schemas/{ref}", update_schema, "Add a version", ws.Schema,
           body=ws.SchemaDefinition, slashes=ref),
        op("GET", "/datasets", list_datasets, "List datasets", wd.DatasetList,
           query=wd.DatasetQuery),
        op("POST", "/datasets", create_dataset, "Create a dataset", wd.Dataset, status=new,
           body=wd.DatasetSpec),
        op("GET", "/datasets/{id}", get_dataset, "One dataset, with its record count",
           wd.Dataset),
        op("PATCH", "/datasets/{id}", change_dataset,
           "Change a dataset's retention, or enable it for Profile",
           wd.Dataset, body=wd.DatasetChange),
        op("GET", "/datasets/{id}/records", dataset_records, "Records, oldest first",
           wd.DatasetRecords, query=wd.RecordsQuery),
        op("GET", "/inlets", list_inlets, "List inlets", wi.InletList),
        op("POST", "/inlets", create_inlet, "Create an inlet", wi.Inlet, status=new,
           body=wi.InletSpec),
        op("GET", "/inlets/{id}", get_inlet, "One inlet (id or name)", wi.Inlet),
        op("PATCH", "/inlets/{id}", update_inlet, "Change an inlet (state, name, ...)",
           wi.Inlet, body=wi.InletChange),
        op("DELETE", "/inlets/{id}", delete_inlet, "Delete an inlet", Deleted),
        op("POST", "/inlets/{id}/tokens", issue_token, "Issue a bearer token",
           wi.IssuedToken, status=new, body=wi.TokenRequest, body_required=False),
        op("DELETE", "/inlets/{id}/tokens", revoke_tokens, "Revoke every token", wi.Revoked),
        op("GET", "/events", list_events, "List event configurations", we.EventList),
        op("POST", "/events", create_event, "Create an event configuration", we.Event,
           status=new, body=we.EventDefinition),
        op("GET", "/events/{name}", get_event, "One event", we.Event),
        op("PUT", "/events/{name}", update_event, "Change an event", we.Event,
           body=we.EventDefinition),
        op("DELETE", "/events/{name}", delete_event,
           "Delete an event (refused while live journeys use it)", Deleted),
        op("GET", "/events/{name}/payload-preview", payload_preview,
           "The exact message a data system must send", (Message, we.PreviewSnippets),
           query=we.PreviewQuery),
        op("GET", "/events/{name}/messages", event_messages, "Matching outcomes, newest first",
           we.EventMessages, query=we.MessagesQuery),
        op("GET", "/journeys", list_journeys, "List journeys (latest versions)", wj.JourneyList),
        op("POST", "/journeys", save_journey, "Create a journey or change its draft",
           wj.Journey, status=either, body=wj.JourneyDefinition),
        op("GET", "/journeys/{name}", get_journey, "One version of a journey", wj.Journey,
           query=wj.VersionQuery),
        op("PUT", "/journeys/{name}", save_journey, "Create a journey or change its draft",
           wj.Journey, status=either, body=wj.JourneyDefinition),
        op("GET", "/journeys/{name}/versions", journey_versions, "Every version of a journey",
           wj.JourneyVersions),
        op("GET", "/journeys/{name}/report", journey_report,
           "Counts of people per activity and outcome", wj.JourneyReport),
        op("GET", "/journeys/{name}/steps", journey_steps, "Step events, newest first",
           wj.JourneySteps, query=wj.StepsQuery),
        *(op("POST", f"/journeys/{{name}}/{command}", handler, summary, wj.Journey)
          for command, handler, summary in journey_changes),
        op("POST", "/journeys/{name}/stop", stop_journey,
           "Stop every version; everyone inside exits", wj.Stopped),
        op("POST", "/journeys/{name}/test-mode", journey_test_mode,
           "Turn test mode of the draft on or off", wj.Journey, body=wj.TestModeChange,
           body_required=False),
        op("POST", "/journeys/{name}/test-event", journey_test_event,
           "Send a test profile into a draft in test mode", wj.TestEventTaken,
           body=wj.TestEvent),
        op("POST", "/test-profiles", add_test_profile, "Mark an identity as a test profile",
           wj.TestProfileAdded, status=new, body=wj.TestProfile),
        op("GET", "/namespaces", list_namespaces, "Identity namespaces: built-in and the org's",
           wp.NamespaceList),
        op("POST", "/namespaces", create_namespace, "Create an identity namespace of the org",
           wp.Namespace, status=new, body=wp.NamespaceSpec),
        op("GET", "/profiles", get_profile,
           "A person, by any of its identities: identities, attributes and their sources, "
           "journeys",
           wp.Profile, query=wp.ProfileQuery),
        op("DELETE", "/profiles", delete_profile,
           "Privacy delete: the person of any of its identities, from everywhere; counts stay",
           wp.ProfileDeleted, query=wp.ProfileQuery),
        op("GET", "/audiences", aa.list_audiences, "List audiences", wau.AudienceList),
        op("POST", "/audiences", aa.create_audience, "Create an audience", wau.Audience,
           status=new, body=wau.AudienceDefinition),
        op("GET", "/audiences/{name}", aa.get_audience, "One audience", wau.Audience),
        op("GET", "/audiences/{name}/members", aa.audience_members,
           "An audience's current members, by person id", wau.MemberList,
           query=wau.MembersQuery),
        op("GET", "/audience-memberships", aa.person_memberships,
           "A person's audiences, by any of its identities", wau.PersonMemberships,
           query=wp.ProfileQuery),
        op("GET", "/failures", list_failures, "Failed records, newest first", wf.FailureList,
           query=wf.FailuresQuery),
        op("POST", "/apply", apply, "Apply definitions idempotently, in dependency order",
           wa.AppliedList, body=wa.ApplyBody),
    ]
    # fmt: on
