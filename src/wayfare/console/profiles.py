"""Profiles: a person found by any of its identities (namespace and id): its identities, its
merged attributes with the dataset each came from, its journeys with their steps, its
audiences and its recent experience events."""

from __future__ import annotations

import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.console.pages import Console
from wayfare.console.session import Form, Session
from wayfare.errors import NotFoundError
from wayfare.registry.people import Profile


def _leaf(attributes: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = attributes
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _profile(console: Console, org: str, namespace: str, id_: str) -> dict[str, Any]:
    s = console.services
    context: dict[str, Any] = {
        "namespaces": s.profiles.namespaces(org),
        "query": {"namespace": namespace, "id": id_},
        "found": None,
        "missing": None,
    }
    if not namespace or not id_:
        return context
    try:
        found: Profile = s.profiles.profile(org, namespace, id_)
    except NotFoundError as exc:
        context["missing"] = exc.message
        return context
    merged = found.merged
    context["found"] = found
    context["attributes"] = [
        {
            "path": ".".join(path),
            "value": _leaf(merged.attributes, path),
            "dataset": found.dataset_names.get(source.dataset_id, source.dataset_id),
            "identity": str(source.identity),
            "time_ms": source.time_ms,
        }
        for path, source in sorted(merged.provenance.items())
    ]
    context["events"] = [
        {
            "time_ms": event.at_ms,
            "dataset": found.dataset_names.get(event.dataset_id, event.dataset_id),
            "event_type": event.event_type,
            "events": event.events,
            "identity": str(event.identity),
        }
        for event in found.events
    ]
    context["retention_days"] = s.settings.person_event_retention_days
    return context


def routes(console: Console) -> list[Route]:
    async def profiles(request: Request, session: Session, org: str, form: Form) -> Response:
        q = request.query_params
        context = await run_in_threadpool(
            functools.partial(
                _profile, console, org, q.get("namespace", "").strip(), q.get("id", "").strip()
            )
        )
        return console.render(request, session, "profiles.html", context)

    return [Route("/profiles", console.page(profiles), methods=["GET"])]
