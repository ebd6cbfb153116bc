"""The description is made from the routes the app serves: none can be missing from it."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from starlette.routing import Route

from wayfare.api.app import served
from wayfare.api.operations import PathEndpoint, routes
from wayfare.config import Settings


def described_by(settings: Settings) -> dict[str, Any]:
    """The description a server with ``settings`` serves."""
    return served(_services(settings))[1]


def _services(settings: Settings) -> Any:
    """What ``served`` reads of the services: the routes are made, never called."""
    return SimpleNamespace(settings=settings, inbox=None)


def _described(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if not path.startswith(("/collection/", "/data/foundation/import/"))
    }


def test_every_route_the_app_serves_is_described(tmp_path: Path) -> None:
    for demo in (False, True):
        settings = Settings(data_dir=tmp_path / "data", demo=demo)
        operations, document = served(_services(settings))
        serving = {(op.method, op.path) for op in operations}
        assert serving == _described(document)
        assert (("GET", "/demo/webhook") in serving) is demo
        routed = {
            (method, re.sub(r"\{(\w+):path\}", r"{\1}", route.path))
            for route in routes(operations)
            if isinstance(route, Route) and isinstance(route.app, PathEndpoint)
            for method in route.app.methods
            if method != "HEAD"
        }
        assert routed == serving


def test_the_description_names_the_request_limit_of_the_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_request_bytes=12_345)
    _, document = served(_services(settings))
    too_large = document["paths"]["/collection/{inletId}"]["post"]["responses"]["413"]
    assert "12345 bytes" in too_large["description"]
    assert "1 MB" not in str(document)


def test_each_parameter_is_described_once_and_empty_optional_queries_are_allowed(
    tmp_path: Path,
) -> None:
    """An optional query parameter sent empty counts as absent (``?limit=``); the
    description says so, and names no parameter twice in one place."""
    _, document = served(_services(Settings(data_dir=tmp_path / "data", demo=True)))
    queries = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            params = [p for p in operation.get("parameters", []) if "$ref" not in p]
            places = [(p["name"], p["in"]) for p in params]
            assert len(places) == len(set(places)), (method, path, places)
            for p in params:
                if p["in"] == "query" and not p.get("required"):
                    queries += 1
                    assert p.get("allowEmptyValue") is True, (method, path, p["name"])
    assert queries > 10


def test_apply_is_described_with_both_bodies_it_takes(tmp_path: Path) -> None:
    _, document = served(_services(Settings(data_dir=tmp_path / "data")))
    body = document["paths"]["/api/v1/apply"]["post"]["requestBody"]["content"]
    forms = body["application/json"]["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/ApplyRequest"} in forms
    assert {"type": "array", "items": {"$ref": "#/components/schemas/Document"}} in forms
    assert {"ApplyRequest", "Document"} <= set(document["components"]["schemas"])


def test_a_datasets_retention_is_described_with_its_bounds(tmp_path: Path) -> None:
    _, document = served(_services(Settings(data_dir=tmp_path / "data")))
    for model in ("DatasetSpec", "DatasetChange"):
        days = document["components"]["schemas"][model]["properties"]["retentionDays"]
        bounded = next(s for s in days["anyOf"] if s.get("type") == "integer")
        assert (bounded["minimum"], bounded["maximum"]) == (1, 36_500)
