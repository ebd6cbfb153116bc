"""The collection endpoints, as a plain ASGI app: this is the hot path.

    POST /collection/{inletId}                 one message      -> 200
    POST /collection/batch/{inletId}           {"messages": []} -> 207
    (and the same under /data/foundation/import, Adobe's gateway form)

Order of checks: inlet exists (404), credentials (401/403), org header (400), method (405),
content type (400, in the words of Adobe's gateway), size (413), bytes in flight (503), JSON
or Smile and unique keys (400), then each message.
Bodies are read under the limits of ``wayfare.api.bodies``. ``Authorization`` takes
``Bearer <token>`` or the bare token. ``x-adobe-flow-id`` (header, or ``x-adobe-flow-id``
or ``flowId`` in the query) is echoed as ``flowId`` in the answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

from wayfare.api import smile
from wayfare.api.authorization import bearer_token
from wayfare.api.bodies import BodyLimits, RequestBody, send_problem
from wayfare.api.json_body import parse_json
from wayfare.errors import (
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
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


CONTENT_TYPE_ERROR = "A valid content-type must be specified"
"""What Adobe's gateway answers (400) to a missing or unsupported Content-Type."""


def _body_format(content_type: str) -> str:
    """``json`` or ``smile`` for the request's Content-Type; a 400 for any other."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return "json"
    if media == smile.MEDIA_TYPE:
        return "smile"
    raise InvalidRequestError(
        f"{CONTENT_TYPE_ERROR}: application/json or {smile.MEDIA_TYPE}, "
        f"not {content_type or 'none'!r}",
        violations=(Violation("content-type", "enum", "not a media type the inlet takes"),),
    )


SMILE_TEXT_RATIO = 4
"""A Smile body's strings and names may come to this many times the body's size limit (a
JSON body's, whose strings it holds). Smile writes JSON's documents in about half their
size, less for a batch that shares its repeated names; a back reference, one byte for up to
64 characters, would otherwise let a body decode to 64 times its size."""


def _parse_smile(raw: bytes, max_bytes: int) -> Any:
    try:
        return smile.decode(raw, max_text=SMILE_TEXT_RATIO * max_bytes)
    except smile.SmileTooLarge as exc:
        raise PayloadTooLargeError(f"The request body is too large once decoded: {exc}") from None
    except smile.SmileError as exc:
        raise InvalidRequestError(
            f"The request body is not valid Smile: {exc}",
            violations=(Violation("", "smile", str(exc)),),
        ) from None


def _flag(name: str, value: str) -> bool:
    flag = _FLAGS.get(value.strip().lower())
    if flag is None:
        raise InvalidRequestError(
            f"Query parameter {name} must be true or false",
            violations=(Violation(f"?{name}", "type", "not a boolean"),),
        )
    return flag


class CollectionEndpoint:
    def __init__(self, service: InletService, limits: BodyLimits) -> None:
        self._service = service
        self._limits = limits

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        body = RequestBody(receive, self._limits)
        try:
            try:
                status, answer = await self._handle(scope, body)
            finally:
                body.release()
        except Exception as exc:  # every failure still gets an answer with a body
            await send_problem(send, exc, body)
            return
        await send({"type": "http.response.start", "status": status, "headers": _JSON_HEADERS})
        await send({"type": "http.response.body", "body": answer})

    async def _handle(self, scope: Scope, body: RequestBody) -> tuple[int, bytes]:
        batch, inlet_id = _route(scope["path"])
        if scope["method"] != "POST":  # whatever the inlet, its headers and query say
            raise MethodNotAllowedError(f"{scope['method']} is not allowed here; use POST")
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
                bearer = bearer_token(value.decode("latin-1"))
            elif key == b"x-adobe-flow-id":
                flow = value.decode("latin-1").strip() or None
        sync = False
        query = scope.get("query_string", b"")
        if query:
            for key, value in parse_qsl(query.decode("latin-1")):
                if key in ("syncValidation", "synchronousValidation"):
                    sync = _flag(key, value)
                elif key in ("x-adobe-flow-id", "flowId") and flow is None:
                    flow = value.strip() or None
        caller = Caller(org_header=org, bearer=bearer, flow_id=flow, sync_validation=sync)
        inlet = self._service.open_inlet(inlet_id, caller)
        body_format = _body_format(content_type)
        body.admit(length)
        raw = await body.read()
        if body_format == "json":
            payload = parse_json(raw)
            stored: bytes | None = raw
        else:  # stored as the JSON it decodes to
            payload = _parse_smile(raw, self._limits.max_bytes)
            stored = None
        if batch:
            answer = await self._service.ingest_batch(
                inlet, payload, caller, request_bytes=len(raw)
            )
        else:
            answer = await self._service.ingest_message(inlet, payload, stored, caller)
        if flow is not None:
            answer["flowId"] = flow
        return (207 if batch else 200), orjson.dumps(answer)
