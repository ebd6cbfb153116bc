"""Journeys: the list; a version's canvas with live counts; the YAML editor with each
save-time error at its activity and field; publish, close, stop, resume; versions side by
side; test mode, a test event for a test profile, and following a person on the canvas."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare import definition_yaml
from wayfare.console.canvas import canvas_graph, followed, node_counts
from wayfare.console.journey_problems import (
    Problem,
    activity_lines,
    by_activity,
    place_problems,
)
from wayfare.console.pages import Console, OrgHandler, required
from wayfare.console.session import Form, Session, redirect
from wayfare.errors import InvalidRequestError, NotFoundError, Violation
from wayfare.model.journey import parse_journey
from wayfare.model.runs import JourneyVersion
from wayfare.registry.journeys import JourneyRegistry

REFRESH_SECONDS = 2
"""How often the canvas fetches its counts again."""
MAX_EDITOR_TEXT = 256 * 1024
"""Characters of YAML the editor saves at most (about 5,000 lines): reading YAML costs about
2 seconds of CPU a megabyte. Longer definitions are applied as files (``wayfare apply``),
read where the CLI runs."""
FOLLOWED_STEPS = 50
"""The latest step events of a followed person shown and drawn."""
STARTER = """\
name: first_journey
entry: {event: newsletter_signup, next: hello}
activities:
  hello: {type: log, message: "Hello", next: done}
  done: {type: end}
"""


def as_yaml(definition: dict[str, Any]) -> str:
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100)


def script_json(value: Any) -> str:
    """JSON to put inside a ``<script type="application/json">``: no ``</`` can end it."""
    return orjson.dumps(value).decode().replace("</", "<\\/")


def _canvas(
    version: JourneyVersion, problems: list[Problem] | None = None, text: str | None = None
) -> str | None:
    """The version's canvas as its script reads it, with the problems of each node and, for
    the editor, the line of ``text`` each node's definition starts at; None for a definition
    stored before today's rules (nothing to draw)."""
    try:
        definition = parse_journey(version.definition)
    except InvalidRequestError:
        return None
    graph = canvas_graph(definition)
    lines = activity_lines(text) if text is not None else {}
    return script_json({**graph, "problems": by_activity(problems or []), "lines": lines})


def read_definition(text: str) -> tuple[Any, list[Problem]]:
    """The editor's text as a definition, or the problem of text that is not YAML (or too
    long to read here)."""
    if len(text) > MAX_EDITOR_TEXT:
        why = (
            f"the definition is {len(text):,} characters; the editor saves at most "
            f"{MAX_EDITOR_TEXT:,}: apply a longer one with wayfare apply"
        )
        return None, [Problem(None, "", "maxLength", why, None)]
    try:
        data = definition_yaml.load(text)
    except definition_yaml.DefinitionError as exc:  # YAML, but not taken
        return None, [Problem(None, "", "yaml", str(exc), None)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return None, [Problem(None, "", "yaml", f"not YAML: {exc}", line)]
    if not isinstance(data, dict):
        return None, [Problem(None, "", "type", "a journey is a mapping of name, entry…", 1)]
    return data, []


def _name_clash(
    journeys: JourneyRegistry, org: str, editing: str | None, named: object
) -> Violation | None:
    """Why the editor of ``editing`` (None: a new journey) cannot save a definition
    ``named``: the editor of a journey keeps its name; a new one takes a name no journey has."""
    if editing is not None:
        return None if named == editing else Violation("/name", "const", f"must stay {editing!r}")
    if not isinstance(named, str):
        return None  # the save's own checks say what a name is
    try:
        journeys.get(org, named)
    except NotFoundError:
        return None
    return Violation("/name", "unique", f"a journey named {named!r} exists: edit it instead")


def side_by_side(left: str, right: str) -> list[tuple[str, str, str]]:
    """Rows of two texts side by side: (left line, right line, how they differ: ``same``,
    ``changed``, ``removed``, ``added``)."""
    a, b = left.splitlines(), right.splitlines()
    rows: list[tuple[str, str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes():
        if tag == "equal":
            rows += [(x, y, "same") for x, y in zip(a[i1:i2], b[j1:j2], strict=True)]
            continue
        old, new = a[i1:i2], b[j1:j2]
        for k in range(max(len(old), len(new))):
            x = old[k] if k < len(old) else ""
            y = new[k] if k < len(new) else ""
            kind = "changed" if k < min(len(old), len(new)) else "removed" if old[k:] else "added"
            rows.append((x, y, kind))
    return rows


def routes(console: Console) -> list[Route]:
    journeys = console.services.journeys

    async def listing(request: Request, session: Session, org: str, form: Form) -> Response:
        found = await run_in_threadpool(journeys.all, org)
        return console.render(request, session, "journeys.html", {"journeys": found})

    def detail_context(org: str, name: str, version: int | None, identity: str) -> dict[str, Any]:
        shown = journeys.get(org, name, version)
        latest = journeys.get(org, name)
        report = journeys.report(org, name)
        query = urlencode(
            {
                **({"version": shown.version} if version is not None else {}),
                **({"identity": identity} if identity else {}),
            }
        )
        return {
            "journey": shown,
            "latest": latest,
            "versions": journeys.versions(org, name),
            "paused": report["paused"],
            "canvas": _canvas(shown),
            "counts_url": f"/journeys/{name}/counts" + (f"?{query}" if query else ""),
            "refresh": REFRESH_SECONDS,
        }

    async def detail(request: Request, session: Session, org: str, form: Form) -> Response:
        version = request.query_params.get("version")
        context = await run_in_threadpool(
            detail_context,
            org,
            request.path_params["name"],
            int(version) if version and version.isdigit() else None,
            request.query_params.get("identity", "").strip(),
        )
        return console.render(request, session, "journey.html", context)

    def counts_answer(org: str, name: str, version: int | None, identity: str) -> bytes:
        definition = parse_journey(journeys.get(org, name, version).definition)
        counts = node_counts(definition, journeys.report(org, name), journeys.waiting(org, name))
        follow = None
        if identity:
            person = journeys.follow(org, name, identity, FOLLOWED_STEPS)
            follow = followed(person["steps"], person["at"])
        return orjson.dumps({"counts": counts, "follow": follow})

    async def counts(request: Request, session: Session, org: str, form: Form) -> Response:
        version = request.query_params.get("version", "")
        body = await run_in_threadpool(
            counts_answer,
            org,
            request.path_params["name"],
            int(version) if version.isdigit() else None,
            request.query_params.get("identity", "").strip(),
        )
        return Response(body, media_type="application/json", headers={"cache-control": "no-store"})

    async def person_steps(request: Request, session: Session, org: str, form: Form) -> Response:
        name, identity = request.path_params["name"], request.query_params.get("identity", "")
        steps = (
            await run_in_threadpool(journeys.steps, org, name, FOLLOWED_STEPS, identity.strip())
            if identity.strip()
            else []
        )
        context = {"steps": steps, "identity": identity, "name": name}
        return console.render(request, session, "journey_steps.html", context)

    def editor(
        request: Request,
        session: Session,
        name: str | None,
        text: str,
        problems: list[Problem],
        canvas: str | None,
    ) -> Response:
        context = {
            "name": name,
            "text": text,
            "problems": problems,
            "canvas": canvas,
            "counts_url": f"/journeys/{name}/counts" if name else "",
            "refresh": REFRESH_SECONDS,
        }
        return console.render(
            request, session, "journey_edit.html", context, 400 if problems else 200
        )

    def opened(org: str, name: str) -> tuple[str, str | None]:
        """The latest version's YAML and canvas."""
        latest = journeys.get(org, name)
        text = as_yaml(latest.definition)
        return text, _canvas(latest, [], text)

    def saved_or_problems(
        org: str, name: str | None, text: str
    ) -> tuple[str | None, list[Problem], str | None]:
        """Save the editor's text: (the journey's name), or (None, the problems, the canvas
        to show them on)."""
        data, problems = read_definition(text)
        if data is not None:
            data.setdefault("name", name)
            clash = _name_clash(journeys, org, name, data["name"])
            problems = place_problems([clash], text) if clash else []
        if not problems:
            try:
                return journeys.save(org, data).name, [], None
            except InvalidRequestError as exc:
                found = exc.violations or (Violation("", "invalid", exc.message),)
                problems = place_problems(found, text)
        shown = None if name is None else _canvas(journeys.get(org, name), problems, text)
        return None, problems, shown

    async def edit(request: Request, session: Session, org: str, form: Form) -> Response:
        name = request.path_params.get("name")
        if name is None:
            return editor(request, session, None, STARTER, [], None)
        text, canvas = await run_in_threadpool(opened, org, name)
        return editor(request, session, name, text, [], canvas)

    async def save(request: Request, session: Session, org: str, form: Form) -> Response:
        """In a thread: reading YAML and placing problems on it take the CPU a long text
        needs, which the event loop's other requests should not wait for."""
        name = request.path_params.get("name")
        text = form.get("definition")
        saved, problems, shown = await run_in_threadpool(saved_or_problems, org, name, text)
        if saved is not None:
            return redirect(request, f"/journeys/{saved}")
        return editor(request, session, name, text, problems, shown)

    def change(act: Callable[[str, str], object]) -> OrgHandler:
        """A button that changes the journey (publish, close, resume), then its page."""

        async def handler(request: Request, session: Session, org: str, form: Form) -> Response:
            await run_in_threadpool(act, org, request.path_params["name"])
            return redirect(request, f"/journeys/{request.path_params['name']}")

        return handler

    async def stop(request: Request, session: Session, org: str, form: Form) -> Response:
        await journeys.stop(org, request.path_params["name"])
        return redirect(request, f"/journeys/{request.path_params['name']}")

    async def test_mode(request: Request, session: Session, org: str, form: Form) -> Response:
        on = form.get("enabled") == "true"
        await run_in_threadpool(journeys.set_test_mode, org, request.path_params["name"], on)
        return redirect(request, f"/journeys/{request.path_params['name']}")

    async def test_event(request: Request, session: Session, org: str, form: Form) -> Response:
        name = request.path_params["name"]
        identity = required(form, "identity", "The test profile's identity")
        raw = form.get("payload").strip()
        payload = None
        if raw:
            try:
                payload = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InvalidRequestError(f"The payload is not JSON: {exc}") from exc
            if not isinstance(payload, dict):
                raise InvalidRequestError("The payload is a JSON object: the event's xdmEntity")
        fired = await journeys.test_event(org, name, identity, payload)
        taken = "yes" if fired["taken"] else "not-yet"
        return redirect(request, f"/journeys/{name}?identity={quote(identity)}&taken={taken}")

    async def versions(request: Request, session: Session, org: str, form: Form) -> Response:
        name = request.path_params["name"]
        found = await run_in_threadpool(journeys.versions, org, name)
        numbers = [v.version for v in found]

        def pick(key: str, default: int) -> JourneyVersion:
            raw = request.query_params.get(key, "")
            wanted = int(raw) if raw.isdigit() and int(raw) in numbers else default
            return found[numbers.index(wanted)]

        right = pick("right", numbers[-1])
        left = pick("left", numbers[-2] if len(numbers) > 1 else numbers[-1])
        # a diff of long definitions takes seconds: not on the event loop
        rows = await run_in_threadpool(
            lambda: side_by_side(as_yaml(left.definition), as_yaml(right.definition))
        )
        context = {"name": name, "versions": found, "left": left, "right": right, "rows": rows}
        return console.render(request, session, "journey_versions.html", context)

    page = console.page
    return [
        Route("/journeys", page(listing), methods=["GET"]),
        Route("/journeys/-/new", page(edit), methods=["GET"]),
        Route("/journeys/-/new", page(save), methods=["POST"]),
        Route("/journeys/{name}", page(detail), methods=["GET"]),
        Route("/journeys/{name}/counts", page(counts), methods=["GET"]),
        Route("/journeys/{name}/steps", page(person_steps), methods=["GET"]),
        Route("/journeys/{name}/edit", page(edit), methods=["GET"]),
        Route("/journeys/{name}/edit", page(save), methods=["POST"]),
        Route("/journeys/{name}/versions", page(versions), methods=["GET"]),
        Route("/journeys/{name}/test-event", page(test_event), methods=["POST"]),
        Route("/journeys/{name}/publish", page(change(journeys.publish)), methods=["POST"]),
        Route("/journeys/{name}/close", page(change(journeys.close)), methods=["POST"]),
        Route("/journeys/{name}/resume", page(change(journeys.resume)), methods=["POST"]),
        Route("/journeys/{name}/stop", page(stop), methods=["POST"]),
        Route("/journeys/{name}/test-mode", page(test_mode), methods=["POST"]),
    ]
