"""The route table's parts: an operation (method, path, models, answers) and what turns a
table into Starlette routes, decodes typed requests and encodes typed answers.

Each HTTP operation is declared once, as an ``Operation``; the router and ``/openapi.json``
are both made from the same list, so the description cannot miss a route."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args, overload

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from wayfare.api.problems import problem
from wayfare.errors import InvalidRequestError, MethodNotAllowedError, Violation

Endpoint = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")

JSON = "application/json"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Operation:
    """One method on one path, as the router serves it and the description shows it."""

    method: str
    path: str
    """OpenAPI form: ``/api/v1/schemas/{ref}``; ``{ref}`` takes slashes when ``slashes``."""
    endpoint: Endpoint
    summary: str
    answer: type[Any] | tuple[type[Any], ...] | None
    """The JSON answer's model (a tuple: any of them); None: no JSON answer."""
    status: tuple[int, ...] = (200,)
    """Success statuses, each with ``answer``."""
    body: Any = None
    """The JSON request body's model, or a union of what it may be (``Model | list[Part]``)."""
    body_required: bool = True
    query: type[Any] | None = None
    """A Struct whose fields are the query parameters."""
    errors: tuple[int, ...] = (400, 401, 403, 404)
    tag: str = "admin"
    auth: bool = True
    """Needs the admin token, when one is set."""
    org_header: bool = True
    """Needs the x-gw-ims-org-id header."""
    slashes: frozenset[str] = field(default_factory=frozenset)
    """Path parameters that may hold ``/`` (schema ids are URLs)."""
    media_type: str = JSON
    """The answer's media type."""
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    """JSON Schemas of path parameters, where more than a non-empty string."""

    @property
    def route_path(self) -> str:
        """The path as Starlette matches it."""
        return re.sub(
            r"\{(\w+)\}",
            lambda m: f"{{{m[1]}:path}}" if m[1] in self.slashes else m[0],
            self.path,
        )


def error_response(error: Exception) -> Response:
    status, headers, body = problem(error)
    response = Response(body, status_code=status)
    for key, value in headers:
        response.headers[key.decode()] = value.decode()
    return response


def routes(operations: Iterable[Operation]) -> list[Route]:
    """One Starlette route per path, whatever its methods: another method gets 405 with
    every method of the path in ``Allow`` (HEAD goes with GET)."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for op in operations:
        by_path.setdefault(op.route_path, {})[op.method] = op.endpoint
    return [Route(path, PathEndpoint(methods)) for path, methods in by_path.items()]


class PathEndpoint:
    """The operations of one path, chosen by method; an ASGI app, so that Starlette hands
    it every method."""

    def __init__(self, methods: dict[str, Endpoint]) -> None:
        self._methods = dict(methods)
        if "GET" in methods:
            self._methods.setdefault("HEAD", methods["GET"])
        self._allow = ", ".join(sorted(self._methods))

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self._methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        chosen = self._methods.get(request.method)
        if chosen is None:
            response = error_response(
                MethodNotAllowedError(f"{request.method} is not allowed here; use {self._allow}")
            )
            response.headers["allow"] = self._allow
        else:
            try:
                response = await chosen(request)
            except Exception as exc:
                response = error_response(exc)
        await response(scope, receive, send)


def json_answer(model: type[Any], value: Any, status: int = 200) -> Response:
    """``value`` (the model, or what converts to it) as the model's JSON."""
    typed = value if isinstance(value, model) else msgspec.convert(value, model)
    return Response(msgspec.json.encode(typed), status_code=status, media_type=JSON)


def _where(error: msgspec.ValidationError) -> str:
    """A JSON pointer to what msgspec refused: ``$.a[0].b`` → ``/a/0/b``; a missing field
    points at itself."""
    found = re.search(r"at `\$(.*)`", str(error))
    where = re.sub(
        r"\[(\d+)\]|\.", lambda m: f"/{m[1]}" if m[1] else "/", found[1] if found else ""
    )
    missing = re.search(r"missing required field `(\w+)`", str(error))
    return f"{where}/{missing[1]}" if missing else where


def _invalid(prefix: str, error: msgspec.ValidationError, *, pointer: str) -> InvalidRequestError:
    message = str(error).split(" - at ", 1)[0]
    keyword = "required" if "missing required field" in message else "type"
    return InvalidRequestError(
        f"{prefix}: {message}", violations=(Violation(pointer, keyword, message),)
    )


@overload
def decode_value(value: Any, model: type[T]) -> T: ...
@overload
def decode_value(value: Any, model: Any) -> Any: ...
def decode_value(value: Any, model: Any) -> Any:
    """A parsed JSON body as ``model`` (a type, or a union of them), or InvalidRequestError
    saying where it differs."""
    try:
        return msgspec.convert(value, model)
    except msgspec.ValidationError as exc:
        where = _where(exc)
        prefix = f"The request body{f' at {where}' if where else ''}"
        raise _invalid(prefix, exc, pointer=where) from None


def decode_query(request: Request, model: type[T]) -> T:
    """The query string as ``model``; an empty value counts as absent."""
    given = {k: v for k, v in request.query_params.items() if v != ""}
    try:
        return msgspec.convert(given, model, strict=False)
    except msgspec.ValidationError as exc:
        name = _where(exc).lstrip("/")
        raise _invalid(f"Query parameter {name}", exc, pointer=f"?{name}") from None


def models_of(operations: Sequence[Operation]) -> list[type[Any]]:
    """Every model the operations name (also within a union or a list of them, as a body
    may be), for the description's components."""
    found: list[type[Any]] = []

    def add(model: Any) -> None:
        if isinstance(model, type) and issubclass(model, msgspec.Struct):
            if model not in found:
                found.append(model)
        else:
            for arg in get_args(model):
                add(arg)

    for op in operations:
        answers = op.answer if isinstance(op.answer, tuple) else (op.answer,)
        for model in (*answers, op.body):
            add(model)
    return found
