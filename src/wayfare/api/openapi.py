"""``/openapi.json``, generated from the route table (``Operation``s) and the wire models:
nothing in it is written by hand but the words of the collection endpoints' answers."""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import textwrap
from collections.abc import Sequence
from functools import cache
from typing import Any

import msgspec

from wayfare import __version__
from wayfare.api.operations import JSON, PROBLEM, Operation, models_of
from wayfare.wire.base import Problem
from wayfare.wire.collection import Accepted, Batch, BatchAnswer, Message

REF = "#/components/schemas/{name}"

ERRORS = {
    400: "Invalid request; the report says where and why",
    401: "Admin token required",
    403: "Admin token invalid",
    404: "Not found",
    409: "Conflicts with an existing resource or state",
    503: "The store or the log is unavailable; see Retry-After",
}

COLLECTION_ERRORS = {
    400: "Invalid XDM Message Format (with syncValidation: every violation in the report), "
    "a wrong or absent ims org, unreadable JSON or Smile, a disabled inlet, or a "
    "Content-Type other than application/json or application/x-jackson-smile",
    401: "The inlet requires authentication and no bearer token was given",
    403: "The bearer token is not valid or has expired",
    404: "No such inlet",
    413: "The request is over {max_bytes} bytes",
    409: "The msgId was used before for a different message (the first xactionId is named); "
    "a batch answers this per entry",
    429: "Over the inlet's rate limit; see Retry-After",
    503: "Backpressure, or the store or the log is unavailable; see Retry-After",
}


@cache
def _field_docs(model: type[Any]) -> dict[str, str]:
    """The docstrings written under a Struct's fields, by their JSON names."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(model)))
    except (OSError, TypeError):
        return {}
    names = {f.name: f.encode_name for f in msgspec.structs.fields(model)}
    docs: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for field, after in itertools.pairwise(body):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
            and field.target.id in names
        ):
            docs[names[field.target.id]] = inspect.cleandoc(after.value.value)
    return docs


def _components(models: Sequence[type[Any]]) -> dict[str, Any]:
    """The models' schemas, and those of the Structs they hold, with their field docs."""
    _, components = msgspec.json.schema_components(models, ref_template=REF)
    structs = {
        name: value
        for model in models
        for name, value in vars(inspect.getmodule(model)).items()
        if isinstance(value, type) and issubclass(value, msgspec.Struct)
    }
    for name, schema in components.items():
        if name in structs:
            for key, text in _field_docs(structs[name]).items():
                schema.get("properties", {}).get(key, {}).setdefault("description", text)
    return components


def _ref(model: Any) -> dict[str, Any]:
    if isinstance(model, type) and issubclass(model, msgspec.Struct):
        return {"$ref": REF.format(name=model.__name__)}
    (schema,), _ = msgspec.json.schema_components([model], ref_template=REF)
    return schema


SMILE = "application/x-jackson-smile"
_SMILE = {"schema": {"type": "string", "format": "binary"}}
"""The same document in Jackson's binary JSON."""


def _content(media: str, answer: type[Any] | tuple[type[Any], ...] | None) -> dict[str, Any]:
    if answer is None:
        return {media: {"schema": {"type": "string"}}}
    if isinstance(answer, tuple):
        return {media: {"schema": {"anyOf": [_ref(m) for m in answer]}}}
    return {media: {"schema": _ref(answer)}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref(Problem)}}}


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: absent rather than null, so no null and no description."""
    kept = {k: v for k, v in schema.items() if k not in ("description", "default")}
    if schema.get("default") is not None:
        kept["default"] = schema["default"]
    options = [s for s in kept.pop("anyOf", []) if s != {"type": "null"}]
    if len(options) == 1:
        kept |= options[0]
    elif options:
        kept["anyOf"] = options
    return kept


def _parameters(op: Operation, components: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": op.path_schemas.get(name, {"type": "string", "minLength": 1}),
        }
        for name in re.findall(r"\{(\w+)\}", op.path)
    ]
    if op.org_header:
        params.append({"$ref": "#/components/parameters/OrgHeader"})
    if op.query is not None:
        schema = components[op.query.__name__]
        for name, prop in schema["properties"].items():
            required = name in schema["required"]
            param = {"name": name, "in": "query", "required": required}
            if not required:
                param["allowEmptyValue"] = True  # sent empty, it counts as absent
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(
                {**param, "schema": {k: v for k, v in prop.items() if k != "description"}}
            )
    return params


def _operation(op: Operation, components: dict[str, Any], secured: bool) -> dict[str, Any]:
    answers = {
        str(status): {
            "description": "Created" if status == 201 else "OK",
            "content": _content(op.media_type, op.answer),
        }
        for status in op.status
    }
    errors = set(op.errors) | ({503} if op.org_header else set())
    if not (op.auth and secured):
        errors -= {401, 403}
    described: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', op.path)}",
        "tags": [op.tag],
        "parameters": _parameters(op, components),
        "responses": answers | {str(e): _problem(ERRORS[e]) for e in sorted(errors)},
    }
    if op.body is not None:
        described["requestBody"] = {
            "required": op.body_required,
            "content": _content(JSON, op.body),
        }
    if op.auth and secured:
        described["security"] = [{"bearer": []}]
    return described


def _collection(batch: bool, max_bytes: int) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {
            "name": "inletId",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
            "description": "The inlet's id (64 hex characters)",
        },
        {
            "name": "syncValidation",
            "in": "query",
            "schema": {"type": "boolean"},
            "allowEmptyValue": True,
            "description": "Validate before answering and refuse invalid messages with 400",
        },
        {
            "name": "synchronousValidation",
            "in": "query",
            "schema": {"type": "boolean"},
            "allowEmptyValue": True,
            "description": "Older name of syncValidation",
        },
        {
            "name": "x-gw-ims-org-id",
            "in": "header",
            "schema": {"type": "string"},
            "description": "Optional; must be the inlet's org",
        },
        {
            "name": "x-adobe-flow-id",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The dataflow id, echoed as flowId in the answer (raw inlets: "
            "required); also taken from the query as x-adobe-flow-id or flowId",
        },
    ]
    ok = (
        ("207", BatchAnswer, "One entry per message, in order; refused ones with a report")
        if batch
        else ("200", Accepted, "Durably written")
    )
    errors = {
        str(code): _problem(text.format(max_bytes=max_bytes))
        for code, text in COLLECTION_ERRORS.items()
    }
    return {
        "summary": "Send a batch of messages" if batch else "Send one message",
        "description": f"A request is at most {max_bytes} bytes. Authenticated inlets take "
        "`Authorization: Bearer <token>` (or the bare token). `x-adobe-flow-id` (header, or "
        "`x-adobe-flow-id` / `flowId` in the query) is echoed as `flowId`.",
        "operationId": f"collect{'Batch' if batch else 'Message'}",
        "tags": ["collection"],
        "parameters": params,
        "security": [{}, {"bearer": []}],
        "requestBody": {
            "required": True,
            "content": _content(JSON, Batch if batch else Message) | {SMILE: _SMILE},
        },
        "responses": {ok[0]: {"description": ok[2], "content": _content(JSON, ok[1])}, **errors},
    }


def openapi_document(
    operations: Sequence[Operation], *, max_request_bytes: int, secured: bool
) -> dict[str, Any]:
    """The description of the collection endpoints and of ``operations``; ``secured``: the
    admin operations need the admin token."""
    models: list[type[Any]] = [Problem, Message, Batch, Accepted, BatchAnswer]
    models += models_of(operations)
    models += [op.query for op in operations if op.query is not None]
    components = _components(models)
    paths: dict[str, Any] = {}
    for prefix in ("", "/data/foundation/import"):
        paths[f"{prefix}/collection/{{inletId}}"] = {"post": _collection(False, max_request_bytes)}
        paths[f"{prefix}/collection/batch/{{inletId}}"] = {
            "post": _collection(True, max_request_bytes)
        }
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components, secured)
    for query in {op.query for op in operations if op.query is not None}:
        del components[query.__name__]  # described as parameters
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wayfare",
            "version": __version__,
            "description": "Adobe-compatible streaming ingestion and its admin API",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "parameters": {
                "OrgHeader": {
                    "name": "x-gw-ims-org-id",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "The organisation (IMS org id) the call acts for",
                }
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
