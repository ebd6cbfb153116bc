"""The collection endpoints, as a plain ASGI app: this is the hot path.

    POST /collection/{inletId}                 one message      -> 200
    POST /collection/batch/{inletId}           {"messages": []} -> 207
    (and the same under /data/foundation/import, Adobe's gateway form)

Order of checks: inlet exists (404), credentials (401/403), org header (400), method (405),
content type (415), size (413), JSON (400), then each message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

from wayfare.api.problems import problem
from wayfare.errors import (
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    Violation,
)
from wayfare.ingest.inlet import Caller, InletService

GATEWAY_PREFIX = "/data/foundation/import"
_JSON_HEADERS = [(b"content-type", b"application/json")]
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

Scope = dict[str, Any]


def is_collection_path(path: str) -> bool:
    return path.startswith("/collection/") or path.startswith(GATEWAY_PREFIX + "/collection/")


def _route(path: str) -> tuple[bool, str]:
    """(is_batch, inlet_id) for a collection path, or NotFoundError."""
    rest = path.removeprefix(GATEWAY_PREFIX).removeprefix("/collection/").strip("/")
    batch = rest.startswith("batch/")
    if batch:
        rest = rest.removeprefix("batch/")
    if not rest or "/" in rest:
        raise NotFoundError(f"No collection endpoint at {path}")
    return batch, rest


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _flag(name: str, value: str) -> bool:
    flag = _FLAGS.get(value.strip().lower())
    if flag is None:
        raise InvalidRequestError(
            f"Query parameter {name} must be true or false",
            violations=(Violation(f"?{name}", "type", "not a boolean"),),
        )
    return flag


class CollectionEndpoint:
    def __init__(self, service: InletService, max_bytes: int) -> None:
        self._service = service
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        try:
            status, body = await self._handle(scope, receive)
            headers = _JSON_HEADERS
        except Exception as exc:  # every failure still gets an answer with a body
            status, headers, body = problem(exc)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: Scope, receive: Any) -> tuple[int, bytes]:
        batch, inlet_id = _route(scope["path"])
        content_type = ""
        length = -1
        org = bearer = flow = None
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif key == b"x-gw-ims-org-id":
                org = value.decode("latin-1").strip() or None
            elif key == b"authorization":
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    bearer = credentials.strip()
            elif key == b"x-adobe-flow-id":
                flow = value.decode("latin-1").strip() or None
        sync = False
        query = scope.get("query_string", b"")
        if query:
            for key, value in parse_qsl(query.decode("latin-1")):
                if key in ("syncValidation", "synchronousValidation"):
                    sync = _flag(key, value)
                elif key == "x-adobe-flow-id" and flow is None:
                    flow = value
        caller = Caller(org_header=org, bearer=bearer, flow_id=flow, sync_validation=sync)
        inlet = self._service.open_inlet(inlet_id, caller)
        if scope["method"] != "POST":
            raise MethodNotAllowedError(f"{scope['method']} is not allowed here; use POST")
        if not _is_json(content_type):
            raise UnsupportedMediaTypeError(
                f"Content-Type must be application/json, not {content_type or 'missing'!r}"
            )
        if length > self._max_bytes:
            raise PayloadTooLargeError(f"The request is over {self._max_bytes} bytes")
        raw = await self._read_body(receive)
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequestError(
                f"The request body is not valid JSON: {exc}",
                violations=(Violation("", "json", str(exc)),),
            ) from None
        if batch:
            answer = await self._service.ingest_batch(inlet, payload, caller)
            return 207, orjson.dumps(answer)
        answer = await self._service.ingest_message(inlet, payload, raw, caller)
        return 200, orjson.dumps(answer)

    async def _read_body(self, receive: Any) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await receive()
            if event["type"] == "http.disconnect":
                raise InvalidRequestError("The client went away before sending the whole body")
            chunk = event.get("body", b"")
            size += len(chunk)
            if size > self._max_bytes:
                raise PayloadTooLargeError(f"The request is over {self._max_bytes} bytes")
            chunks.append(chunk)
            if not event.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
