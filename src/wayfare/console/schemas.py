"""Schemas and datasets: the field tree of each schema version (types, required, enums);
datasets with their latest records, as pretty JSON, searchable by identity."""

from __future__ import annotations

import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.console.pages import Console
from wayfare.console.session import Form, Session
from wayfare.model.schema_paths import field_tree
from wayfare.registry.schemas import SEARCHED_RECORDS

LATEST_RECORDS = 20


def _listing(console: Console, org: str) -> dict[str, Any]:
    s = console.services.schemas
    return {"schemas": s.all(org), "datasets": s.datasets(org)}


def _schema(console: Console, org: str, ref: str, version: str) -> dict[str, Any]:
    s = console.services.schemas
    schema = s.get(org, ref, int(version) if version.isdecimal() else None)
    return {
        "schema": schema,
        "versions": [v.version for v in s.versions(org, ref)],
        "field_nodes": field_tree(schema.json_schema),
        "datasets": s.datasets(org, schema.schema_id),
    }


def _dataset(console: Console, org: str, key: str, identity: str) -> dict[str, Any]:
    s = console.services.schemas
    dataset = s.dataset(org, key)
    records = s.latest_records(org, key, LATEST_RECORDS, identity.strip() or None)
    return {
        "dataset": dataset,
        "records": [r.as_json() for r in records],
        "identity": identity,
        "shown": LATEST_RECORDS,
        "searched": SEARCHED_RECORDS,
    }


def routes(console: Console) -> list[Route]:
    async def listing(request: Request, session: Session, org: str, form: Form) -> Response:
        context = await run_in_threadpool(_listing, console, org)
        return console.render(request, session, "schemas.html", context)

    async def schema(request: Request, session: Session, org: str, form: Form) -> Response:
        ref, version = request.path_params["ref"], request.query_params.get("version", "")
        context = await run_in_threadpool(_schema, console, org, ref, version)
        return console.render(request, session, "schema.html", context)

    async def dataset(request: Request, session: Session, org: str, form: Form) -> Response:
        identity = request.query_params.get("identity", "")
        context = await run_in_threadpool(
            functools.partial(_dataset, console, org, request.path_params["id"], identity)
        )
        return console.render(request, session, "dataset.html", context)

    return [
        Route("/schemas", console.page(listing), methods=["GET"]),
        Route("/schemas/{ref:path}", console.page(schema), methods=["GET"]),
        Route("/datasets/{id}", console.page(dataset), methods=["GET"]),
    ]
