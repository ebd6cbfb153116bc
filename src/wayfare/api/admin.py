"""The admin API under /api/v1: schemas, datasets, inlets, tokens, failures, apply."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.api.authorization import bearer_token
from wayfare.api.json_body import parse_json
from wayfare.api.problems import problem
from wayfare.bootstrap import Services
from wayfare.errors import (
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    UnauthenticatedError,
    Violation,
)
from wayfare.registry.orgs import find_org, set_tenant
from wayfare.registry.snippets import curl_command, python_snippet

Handler = Callable[[Request, Services, str], Awaitable[Response]]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def check_admin_token(request: Request, services: Services) -> None:
    """Nothing when no admin token is set or the request carries it; else 401 or 403."""
    token = services.settings.admin_token
    if token:
        given = bearer_token(request.headers.get("authorization", ""))
        if not given:
            raise UnauthenticatedError("Admin calls require Authorization: Bearer <admin token>")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ForbiddenError("The admin token is not valid")


def problem_response(error: Exception) -> Response:
    status, headers, body = problem(error)
    response = Response(body, status_code=status)
    for key, value in headers:
        response.headers[key.decode()] = value.decode()
    return response


def _check_admin(request: Request, services: Services) -> str:
    check_admin_token(request, services)
    org_id = request.headers.get("x-gw-ims-org-id", "").strip()
    if not org_id:
        raise InvalidRequestError(
            "Admin calls need the organisation in the x-gw-ims-org-id header",
            violations=(Violation("x-gw-ims-org-id", "required", "header missing"),),
        )
    return org_id


def admin(services: Services, fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        try:
            org_id = _check_admin(request, services)
            return await fn(request, services, org_id)
        except Exception as exc:
            return problem_response(exc)

    return endpoint


async def read_json(request: Request) -> Any:
    return parse_json(await request.body())


MAX_INT = 2**63 - 1  # what the store can hold


def int_param(
    request: Request, name: str, default: int | None, *, low: int = 0, high: int = MAX_INT
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or value > high:
        raise InvalidRequestError(
            f"Query parameter {name} must be an integer between {low} and {high}",
            violations=(Violation(f"?{name}", "type", "not an integer in range"),),
        )
    return value


def time_param(request: Request, name: str) -> int | None:
    """Milliseconds since the epoch, given as a number or an ISO 8601 date-time."""
    raw = request.query_params.get(name)
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
    return json_response({"imsOrgId": org.org_id, "tenantId": org.tenant_id})


async def put_org(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    tenant = body.get("tenantId") if isinstance(body, dict) else None
    if not isinstance(tenant, str):
        raise InvalidRequestError(
            "tenantId is required", violations=(Violation("/tenantId", "required", "missing"),)
        )
    org = await run_in_threadpool(set_tenant, s.store, s.clock, org_id, tenant)
    return json_response({"imsOrgId": org.org_id, "tenantId": org.tenant_id})


# schemas
async def list_schemas(request: Request, s: Services, org_id: str) -> Response:
    schemas = await run_in_threadpool(s.schemas.all, org_id)
    return json_response({"schemas": [x.as_json() for x in schemas]})


async def create_schema(request: Request, s: Services, org_id: str) -> Response:
    schema = await run_in_threadpool(s.schemas.create, org_id, await read_json(request))
    return json_response(schema.as_json(), 201)


async def get_schema(request: Request, s: Services, org_id: str) -> Response:
    ref = request.path_params["ref"]
    if ref.endswith("/versions"):
        versions = await run_in_threadpool(s.schemas.versions, org_id, ref[: -len("/versions")])
        return json_response({"versions": [x.as_json() for x in versions]})
    version = int_param(request, "version", None, low=1)
    schema = await run_in_threadpool(s.schemas.get, org_id, ref, version)
    return json_response(schema.as_json())


async def update_schema(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    schema = await run_in_threadpool(s.schemas.update, org_id, request.path_params["ref"], body)
    return json_response(schema.as_json())


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
    key = request.query_params.get("schema") or None
    datasets = await run_in_threadpool(s.schemas.datasets, org_id, key)
    listed = [d.as_json() for d in datasets]
    if key is None:
        listed.append(_step_events_dataset(org_id))
    return json_response({"datasets": listed})


async def create_dataset(request: Request, s: Services, org_id: str) -> Response:
    dataset = await run_in_threadpool(s.schemas.create_dataset, org_id, await read_json(request))
    return json_response(dataset.as_json(), 201)


async def change_dataset(request: Request, s: Services, org_id: str) -> Response:
    dataset = await run_in_threadpool(
        s.schemas.change_dataset, org_id, request.path_params["id"], await read_json(request)
    )
    return json_response(dataset.as_json())


async def get_dataset(request: Request, s: Services, org_id: str) -> Response:
    if request.path_params["id"] == STEP_EVENTS_DATASET:
        count = await run_in_threadpool(s.journey_store.count_step_events, org_id)
        return json_response(_step_events_dataset(org_id) | {"recordCount": count})
    dataset = await run_in_threadpool(s.schemas.dataset, org_id, request.path_params["id"])
    count = await run_in_threadpool(s.store.count_records, dataset.dataset_id)
    return json_response(dataset.as_json() | {"recordCount": count})


async def dataset_records(request: Request, s: Services, org_id: str) -> Response:
    limit = int_param(request, "limit", 20, low=1, high=10_000) or 20
    after = int_param(request, "after", None)
    if request.path_params["id"] == STEP_EVENTS_DATASET:
        steps = await run_in_threadpool(
            functools.partial(
                s.journey_store.step_event_records, org_id, limit=limit, after_seq=after
            )
        )
        return json_response(
            {"datasetId": STEP_EVENTS_DATASET, "records": [step.as_json() for step in steps]}
        )
    dataset = await run_in_threadpool(s.schemas.dataset, org_id, request.path_params["id"])
    records = await run_in_threadpool(
        functools.partial(s.store.list_records, dataset.dataset_id, limit=limit, after_seq=after)
    )
    return json_response(
        {"datasetId": dataset.dataset_id, "records": [r.as_json() for r in records]}
    )


# inlets
async def list_inlets(request: Request, s: Services, org_id: str) -> Response:
    inlets = await run_in_threadpool(s.inlets.all, org_id)
    base = s.settings.base_url
    return json_response({"inlets": [i.as_json(base) for i in inlets]})


async def create_inlet(request: Request, s: Services, org_id: str) -> Response:
    inlet, token = await run_in_threadpool(s.inlets.create, org_id, await read_json(request))
    body = inlet.as_json(s.settings.base_url)
    if token is not None:
        body["token"] = token.as_json()
    return json_response(body, 201)


async def get_inlet(request: Request, s: Services, org_id: str) -> Response:
    inlet = await run_in_threadpool(s.inlets.get, org_id, request.path_params["id"])
    return json_response(inlet.as_json(s.settings.base_url))


async def update_inlet(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    inlet = await run_in_threadpool(s.inlets.update, org_id, request.path_params["id"], body)
    return json_response(inlet.as_json(s.settings.base_url))


async def delete_inlet(request: Request, s: Services, org_id: str) -> Response:
    inlet = await run_in_threadpool(s.inlets.delete, org_id, request.path_params["id"])
    return json_response({"deleted": inlet.inlet_id})


async def issue_token(request: Request, s: Services, org_id: str) -> Response:
    raw = await request.body()
    body = await read_json(request) if raw.strip() else {}
    expires = body.get("expiresInSeconds") if isinstance(body, dict) else None
    if expires is not None and not isinstance(expires, int):
        raise InvalidRequestError(
            "expiresInSeconds must be an integer",
            violations=(Violation("/expiresInSeconds", "type", "not an integer"),),
        )
    token = await run_in_threadpool(
        s.inlets.issue_token, org_id, request.path_params["id"], expires
    )
    return json_response(token.as_json(), 201)


async def revoke_tokens(request: Request, s: Services, org_id: str) -> Response:
    count = await run_in_threadpool(s.inlets.revoke_tokens, org_id, request.path_params["id"])
    return json_response({"revoked": count})


# events
async def list_events(request: Request, s: Services, org_id: str) -> Response:
    events = await run_in_threadpool(s.events.all, org_id)
    return json_response({"events": [e.as_json() for e in events]})


async def create_event(request: Request, s: Services, org_id: str) -> Response:
    event = await run_in_threadpool(s.events.create, org_id, await read_json(request))
    return json_response(event.as_json(), 201)


async def get_event(request: Request, s: Services, org_id: str) -> Response:
    event = await run_in_threadpool(s.events.get, org_id, request.path_params["name"])
    return json_response(event.as_json())


async def update_event(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    event = await run_in_threadpool(s.events.update, org_id, request.path_params["name"], body)
    return json_response(event.as_json())


async def delete_event(request: Request, s: Services, org_id: str) -> Response:
    event = await run_in_threadpool(s.events.delete, org_id, request.path_params["name"])
    return json_response({"deleted": event.name})


def _send_target(s: Services, org_id: str) -> tuple[str, bool]:
    """The URL snippets post to: the org's first enabled XDM inlet, or a placeholder."""
    for inlet in s.inlets.all(org_id):
        if inlet.enabled and inlet.data_type == "xdm":
            return inlet.url(s.settings.base_url), inlet.authentication_required
    return f"{s.settings.base_url}/collection/<inletId>", False


async def payload_preview(request: Request, s: Services, org_id: str) -> Response:
    """The exact message to send; ``?snippets=true`` wraps it with curl and Python."""
    name = request.path_params["name"]
    message = await run_in_threadpool(s.events.preview, org_id, name)
    if request.query_params.get("snippets", "").lower() not in ("true", "1", "yes"):
        return json_response(message)
    url, auth = await run_in_threadpool(_send_target, s, org_id)
    return json_response(
        {
            "payload": message,
            "inletUrl": url,
            "curl": curl_command(url, org_id, message, "<access token>" if auth else None),
            "python": python_snippet(url, org_id, message, auth),
        }
    )


async def event_messages(request: Request, s: Services, org_id: str) -> Response:
    limit = int_param(request, "limit", 20, low=1, high=10_000) or 20
    found = await run_in_threadpool(s.events.messages, org_id, request.path_params["name"], limit)
    return json_response(
        {"event": request.path_params["name"], "messages": [m.as_json() for m in found]}
    )


# journeys
def _journey_body(version: Any) -> dict[str, Any]:
    body: dict[str, Any] = version.as_json()
    return body


async def list_journeys(request: Request, s: Services, org_id: str) -> Response:
    found = await run_in_threadpool(s.journeys.all, org_id)
    return json_response({"journeys": [_journey_body(j) for j in found]})


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
    return json_response(_journey_body(version), 200 if existed else 201)


async def get_journey(request: Request, s: Services, org_id: str) -> Response:
    version = int_param(request, "version", None, low=1)
    found = await run_in_threadpool(s.journeys.get, org_id, request.path_params["name"], version)
    return json_response(_journey_body(found))


async def journey_versions(request: Request, s: Services, org_id: str) -> Response:
    found = await run_in_threadpool(s.journeys.versions, org_id, request.path_params["name"])
    return json_response({"versions": [_journey_body(v) for v in found]})


async def journey_command(request: Request, s: Services, org_id: str) -> Response:
    name, command = request.path_params["name"], request.path_params["command"]
    if command == "publish":
        result = _journey_body(await run_in_threadpool(s.journeys.publish, org_id, name))
    elif command == "close":
        result = _journey_body(await run_in_threadpool(s.journeys.close, org_id, name))
    elif command == "stop":
        result = await s.journeys.stop(org_id, name)
    elif command == "resume":
        result = _journey_body(await run_in_threadpool(s.journeys.resume, org_id, name))
    elif command == "test-mode":
        body = await read_json(request)
        on = body.get("enabled", True) if isinstance(body, dict) else True
        result = _journey_body(
            await run_in_threadpool(s.journeys.set_test_mode, org_id, name, bool(on))
        )
    elif command == "test-event":
        body = await read_json(request)
        identity = body.get("identity") if isinstance(body, dict) else None
        if not isinstance(identity, str) or not identity:
            raise InvalidRequestError(
                "test-event needs the person's identity",
                violations=(Violation("/identity", "required", "missing"),),
            )
        payload = body.get("payload")
        result = await s.journeys.test_event(
            org_id, name, identity, payload if isinstance(payload, dict) else None
        )
    else:
        raise NotFoundError(f"No journey command {command!r}")
    return json_response(result)


async def journey_report(request: Request, s: Services, org_id: str) -> Response:
    report = await run_in_threadpool(s.journeys.report, org_id, request.path_params["name"])
    return json_response(report)


async def journey_steps(request: Request, s: Services, org_id: str) -> Response:
    limit = int_param(request, "limit", 50, low=1, high=10_000) or 50
    steps = await run_in_threadpool(s.journeys.steps, org_id, request.path_params["name"], limit)
    return json_response({"steps": steps})


async def add_test_profile(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    identity = body.get("identity") if isinstance(body, dict) else None
    if not isinstance(identity, str) or not identity:
        raise InvalidRequestError(
            "identity is required", violations=(Violation("/identity", "required", "missing"),)
        )
    await run_in_threadpool(s.journeys.add_test_profile, org_id, identity)
    return json_response({"identity": identity, "test": True}, 201)


# failures
async def list_failures(request: Request, s: Services, org_id: str) -> Response:
    inlet_key = request.query_params.get("inletId") or request.query_params.get("inlet")
    inlet_id = None
    if inlet_key:
        inlet_id = (await run_in_threadpool(s.inlets.get, org_id, inlet_key)).inlet_id
    failures = await run_in_threadpool(
        functools.partial(
            s.store.list_failures,
            org_id,
            inlet_id=inlet_id,
            since_ms=time_param(request, "since"),
            until_ms=time_param(request, "until"),
            limit=int_param(request, "limit", 100, low=1, high=10_000) or 100,
        )
    )
    return json_response({"failures": [f.as_json() for f in failures]})


# apply
async def apply(request: Request, s: Services, org_id: str) -> Response:
    body = await read_json(request)
    documents = body.get("documents") if isinstance(body, dict) else body
    if not isinstance(documents, list):
        raise InvalidRequestError(
            'apply takes {"documents": [...]} or a list of documents',
            violations=(Violation("/documents", "type", "expected a list"),),
        )
    applied = await run_in_threadpool(s.applier.apply, org_id, documents)
    return json_response({"applied": [a.as_json() for a in applied]})


def admin_routes(services: Services) -> list[Route]:
    def r(path: str, fn: Handler, method: str) -> Route:
        return Route(path, admin(services, fn), methods=[method])

    v1 = "/api/v1"
    return [
        r(f"{v1}/org", get_org, "GET"),
        r(f"{v1}/org", put_org, "PUT"),
        r(f"{v1}/schemas", list_schemas, "GET"),
        r(f"{v1}/schemas", create_schema, "POST"),
        r(f"{v1}/schemas/{{ref:path}}", get_schema, "GET"),
        r(f"{v1}/schemas/{{ref:path}}", update_schema, "PUT"),
        r(f"{v1}/datasets", list_datasets, "GET"),
        r(f"{v1}/datasets", create_dataset, "POST"),
        r(f"{v1}/datasets/{{id}}", get_dataset, "GET"),
        r(f"{v1}/datasets/{{id}}", change_dataset, "PATCH"),
        r(f"{v1}/datasets/{{id}}/records", dataset_records, "GET"),
        r(f"{v1}/inlets", list_inlets, "GET"),
        r(f"{v1}/inlets", create_inlet, "POST"),
        r(f"{v1}/inlets/{{id}}", get_inlet, "GET"),
        r(f"{v1}/inlets/{{id}}", update_inlet, "PATCH"),
        r(f"{v1}/inlets/{{id}}", delete_inlet, "DELETE"),
        r(f"{v1}/inlets/{{id}}/tokens", issue_token, "POST"),
        r(f"{v1}/inlets/{{id}}/tokens", revoke_tokens, "DELETE"),
        r(f"{v1}/events", list_events, "GET"),
        r(f"{v1}/events", create_event, "POST"),
        r(f"{v1}/events/{{name}}", get_event, "GET"),
        r(f"{v1}/events/{{name}}", update_event, "PUT"),
        r(f"{v1}/events/{{name}}", delete_event, "DELETE"),
        r(f"{v1}/events/{{name}}/payload-preview", payload_preview, "GET"),
        r(f"{v1}/events/{{name}}/messages", event_messages, "GET"),
        r(f"{v1}/journeys", list_journeys, "GET"),
        r(f"{v1}/journeys", save_journey, "POST"),
        r(f"{v1}/journeys/{{name}}", get_journey, "GET"),
        r(f"{v1}/journeys/{{name}}", save_journey, "PUT"),
        r(f"{v1}/journeys/{{name}}/versions", journey_versions, "GET"),
        r(f"{v1}/journeys/{{name}}/report", journey_report, "GET"),
        r(f"{v1}/journeys/{{name}}/steps", journey_steps, "GET"),
        r(f"{v1}/journeys/{{name}}/{{command}}", journey_command, "POST"),
        r(f"{v1}/test-profiles", add_test_profile, "POST"),
        r(f"{v1}/failures", list_failures, "GET"),
        r(f"{v1}/apply", apply, "POST"),
    ]
