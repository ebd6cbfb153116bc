"""The admin API by resource: one method per route the command line calls.

``AdminClient.schemas.list()`` rather than ``call("GET", "/api/v1/schemas")``: the paths,
methods and query parameters live here once. Answers are the server's JSON objects.
"""

from __future__ import annotations

from typing import Any, Protocol

Json = dict[str, Any]


class Caller(Protocol):
    def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any: ...


class _Resource:
    """``list``, ``get``, ``create`` and ``delete`` of ``/api/v1/<base>``; subclasses add
    what else their routes take."""

    base = ""

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    def _path(self, *parts: str) -> str:
        return "/".join([f"/api/v1/{self.base}", *parts])

    def _call(self, method: str, *parts: str, json: Any = None, **params: Any) -> Json:
        answer: Json = self._caller.call(method, self._path(*parts), json=json, params=params)
        return answer

    def list(self) -> Json:
        return self._call("GET")

    def get(self, ref: str, version: int | None = None) -> Json:
        """One by id or name; ``version`` where the resource has versions."""
        return self._call("GET", ref, version=version)

    def create(self, definition: Any) -> Json:
        return self._call("POST", json=definition)

    def delete(self, ref: str) -> Json:
        return self._call("DELETE", ref)


class Schemas(_Resource):
    base = "schemas"

    def update(self, ref: str, definition: Any) -> Json:
        return self._call("PUT", ref, json=definition)


class Datasets(_Resource):
    base = "datasets"

    def list(self, schema: str | None = None) -> Json:
        return self._call("GET", schema=schema)

    def records(self, dataset: str, limit: int, after: int | None = None) -> Json:
        return self._call("GET", dataset, "records", limit=limit, after=after)


class Inlets(_Resource):
    base = "inlets"

    def set_state(self, inlet: str, state: str) -> Json:
        return self._call("PATCH", inlet, json={"state": state})

    def issue_token(self, inlet: str, expires_in: int | None = None) -> Json:
        return self._call(
            "POST", inlet, "tokens", json={"expiresInSeconds": expires_in} if expires_in else {}
        )

    def revoke_tokens(self, inlet: str) -> Json:
        return self._call("DELETE", inlet, "tokens")


class Events(_Resource):
    base = "events"

    def preview(self, name: str, *, snippets: bool = False) -> Json:
        return self._call("GET", name, "payload-preview", snippets="true" if snippets else None)

    def messages(self, name: str, limit: int) -> Json:
        return self._call("GET", name, "messages", limit=limit)


class Journeys(_Resource):
    base = "journeys"

    def command(self, name: str, command: str, payload: Json | None = None) -> Json:
        """``publish``, ``close``, ``stop``, ``resume``, ``test-mode`` or ``test-event``."""
        return self._call("POST", name, command, json=payload or {})

    def report(self, name: str) -> Json:
        return self._call("GET", name, "report")

    def steps(self, name: str, limit: int, identity: str | None = None) -> Json:
        return self._call("GET", name, "steps", limit=limit, identity=identity)


class Failures(_Resource):
    base = "failures"

    def list(
        self,
        inlet: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 20,
    ) -> Json:
        return self._call("GET", inletId=inlet, since=since, until=until, limit=limit)


class Namespaces(_Resource):
    base = "namespaces"


class Profiles(_Resource):
    base = "profiles"

    def find(self, namespace: str, id_: str) -> Json:
        """The person one of whose identities is ``namespace``/``id_``."""
        return self._call("GET", namespace=namespace, id=id_)


class Definitions(_Resource):
    base = "apply"

    def apply(self, documents: list[Any]) -> Json:
        return self._call("POST", json={"documents": documents})
