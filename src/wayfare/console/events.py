"""Events: the list; creating and editing one (its schema, the payload fields picked from
the schema's tree, the namespace, system-generated or rule-based with the condition checked
as it is typed); its payload preview with a Copy button, the curl and Python snippets; the
journeys that use it; the latest messages, matched with their person or with the reason
they were not."""

from __future__ import annotations

import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.console.pages import Console
from wayfare.console.session import Form, Session, redirect
from wayfare.errors import InvalidRequestError
from wayfare.model.events import EventConfig
from wayfare.model.schema_paths import field_tree
from wayfare.registry.snippets import curl_command, python_snippet

RECENT_MESSAGES = 20
REFRESH_SECONDS = 5


def _definition(form: Form, name: str | None = None) -> dict[str, Any]:
    """The event definition the form describes, as the admin API takes it."""
    id_type = form.get("eventIdType", "system")
    return {
        "name": name or form.get("name").strip(),
        "schemaId": form.get("schemaId"),
        "namespace": form.get("namespace").strip(),
        "description": form.get("description"),
        "identifier": form.get("identifier").strip() or None,
        "eventIdType": id_type,
        "condition": form.get("condition") if id_type == "rule" else None,
        "fields": form.all("fields"),
    }


def _values(event: EventConfig) -> dict[str, Any]:
    return {
        "name": event.name,
        "schemaId": event.schema_id,
        "namespace": event.namespace,
        "description": event.description,
        "identifier": event.identifier,
        "eventIdType": event.id_type,
        "condition": event.condition or "",
        "fields": list(event.fields),
    }


BLANK = {
    "name": "",
    "schemaId": "",
    "namespace": "",
    "description": "",
    "identifier": "",
    "eventIdType": "system",
    "condition": "",
    "fields": [],
}


def _form_context(
    console: Console, org: str, values: dict[str, Any], editing: bool
) -> dict[str, Any]:
    schemas = console.services.schemas.all(org)
    chosen = values.get("schemaId") or (schemas[0].schema_id if schemas else "")
    schema = next(
        (s for s in schemas if chosen in (s.schema_id, s.alt_id, s.name)),
        None,
    )
    return {
        "schemas": schemas,
        "values": {**BLANK, **values, "schemaId": schema.schema_id if schema else chosen},
        "field_nodes": field_tree(schema.json_schema) if schema else (),
        "editing": editing,
    }


def _detail(console: Console, org: str, name: str) -> dict[str, Any]:
    s = console.services
    event = s.events.get(org, name)
    message = s.events.preview(org, name)
    url, auth = s.inlets.send_target(org, s.settings.base_url)
    return {
        "event": event,
        "preview": message,
        "inlet_url": url,
        "curl": curl_command(url, org, message, "<access token>" if auth else None),
        "python": python_snippet(url, org, message, auth),
        "journeys": s.events.journeys_using(org, name),
        **_messages(console, org, name),
    }


def _messages(console: Console, org: str, name: str) -> dict[str, Any]:
    found = console.services.events.messages(org, name, RECENT_MESSAGES)
    return {
        "name": name,
        "messages": [m.as_json() for m in found],
        "refresh": REFRESH_SECONDS,
    }


def routes(console: Console) -> list[Route]:
    events = console.services.events

    async def listing(request: Request, session: Session, org: str, form: Form) -> Response:
        found = await run_in_threadpool(events.all, org)
        return console.render(request, session, "events.html", {"events": found})

    async def new(request: Request, session: Session, org: str, form: Form) -> Response:
        values = {"schemaId": request.query_params.get("schema", ""), "fields": []}
        context = await run_in_threadpool(_form_context, console, org, values, False)
        return console.render(request, session, "event_form.html", context)

    async def fields(request: Request, session: Session, org: str, form: Form) -> Response:
        """The field picker of the schema chosen in the form (htmx, on a change of schema)."""
        values = {"schemaId": request.query_params.get("schemaId", ""), "fields": []}
        context = await run_in_threadpool(_form_context, console, org, values, False)
        return console.render(request, session, "event_fields.html", context)

    async def check(request: Request, session: Session, org: str, form: Form) -> Response:
        """The condition as saving would judge it (htmx, as it is typed)."""
        condition = request.query_params.get("condition", "")
        schema = request.query_params.get("schemaId", "")
        if not condition.strip():
            return console.render(request, session, "event_check.html", {"problems": None})
        problems = await run_in_threadpool(events.check_condition, org, schema, condition)
        return console.render(request, session, "event_check.html", {"problems": problems})

    async def edit(request: Request, session: Session, org: str, form: Form) -> Response:
        event = await run_in_threadpool(events.get, org, request.path_params["name"])
        context = await run_in_threadpool(_form_context, console, org, _values(event), True)
        return console.render(request, session, "event_form.html", context)

    async def save(request: Request, session: Session, org: str, form: Form) -> Response:
        name = request.path_params.get("name")
        definition = _definition(form, name)
        try:
            if name is None:
                event = await run_in_threadpool(events.create, org, definition)
            else:
                event = await run_in_threadpool(events.update, org, name, definition)
        except InvalidRequestError as exc:
            values = {**definition, "condition": definition["condition"] or ""}
            context = await run_in_threadpool(_form_context, console, org, values, bool(name))
            context["error"] = exc
            return console.render(request, session, "event_form.html", context, 400)
        return redirect(request, f"/events/{event.name}")

    async def detail(request: Request, session: Session, org: str, form: Form) -> Response:
        context = await run_in_threadpool(_detail, console, org, request.path_params["name"])
        return console.render(request, session, "event.html", context)

    async def messages(request: Request, session: Session, org: str, form: Form) -> Response:
        name = request.path_params["name"]
        context = await run_in_threadpool(functools.partial(_messages, console, org, name))
        return console.render(request, session, "event_messages.html", context)

    async def delete(request: Request, session: Session, org: str, form: Form) -> Response:
        await run_in_threadpool(events.delete, org, request.path_params["name"])
        return redirect(request, "/events")

    return [
        Route("/events", console.page(listing), methods=["GET"]),
        Route("/events", console.page(save), methods=["POST"]),
        Route("/events/-/new", console.page(new), methods=["GET"]),
        Route("/events/-/fields", console.page(fields), methods=["GET"]),
        Route("/events/-/check", console.page(check), methods=["GET"]),
        Route("/events/{name}", console.page(detail), methods=["GET"]),
        Route("/events/{name}", console.page(save), methods=["POST"]),
        Route("/events/{name}/edit", console.page(edit), methods=["GET"]),
        Route("/events/{name}/messages", console.page(messages), methods=["GET"]),
        Route("/events/{name}/delete", console.page(delete), methods=["POST"]),
    ]
