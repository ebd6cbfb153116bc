"""Journey definitions: a versioned graph of activities with stable ids and labelled paths.

    name: welcome
    entry: {event: newsletter_signup, next: wait_a_minute}
    # or, on audience qualification: {audience: gold-customers, on: entered, next: ...}
    reentrance: {allowed: true, waitSeconds: 300}      # default: not allowed
    timeZone: Europe/Paris                              # default UTC
    activities:
      wait_a_minute: {type: wait, duration: 1m, next: check}
      check:
        type: condition
        branches: [{label: young, when: "@event{newsletter_signup.x.birthYear} > 1990",
                    next: hook}]
        otherwise: done
      hook: {type: http, method: POST, url: "http://...", body: {email: "{{ ... }}"},
             next: done, error: done}
      done: {type: end}

Saving checks the graph (entry, reachability, dangling paths, at most 50 activities, no
loops) and parses every expression; ``journey_checks`` then checks references against the
events' schemas.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wayfare.model.audiences import AUDIENCE_NAME, AUDIENCE_STATUSES, AudienceStart
from wayfare.model.durations import parse_duration_ms
from wayfare.model.email_headers import MAX_RECIPIENTS
from wayfare.model.expressions import Expression, ExpressionError, parse
from wayfare.model.functions import to_datetime
from wayfare.model.identities import NAMESPACE_CODE
from wayfare.model.nesting import MAX_NESTING, nesting
from wayfare.model.rules import Checker, require_object
from wayfare.model.templates import Text, compile_json, json_expressions, parse_text

MAX_ACTIVITIES = 50
GLOBAL_TIMEOUT_MS = 91 * 86_400_000
DEFAULT_REENTRY_WAIT_MS = 300_000
ACTIVITY_TYPES = (
    "wait",
    "condition",
    "split",
    "timeCondition",
    "dateCondition",
    "waitForEvent",
    "http",
    "email",
    "log",
    "jump",
    "updateProfile",
    "end",
)
ACTION_TYPES = ("http", "email", "log")
DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_PROFILE_FIELDS = 10
"""Fields one updateProfile activity sets or removes."""
_PROFILE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,31}$")
_NOT_ATTRIBUTES = ("identityMap", "_id")


@dataclass(frozen=True, slots=True)
class Branch:
    label: str
    next: str | None
    when: Expression | None = None
    percent: float | None = None
    event: str | None = None
    """waitForEvent: the event this branch waits for."""


@dataclass(frozen=True, slots=True)
class HttpAction:
    method: str
    url: Text
    path: Text | None
    headers: dict[str, Text]
    query: dict[str, Text]
    body: Any
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class EmailAction:
    to: Text | list[Text]
    """One address, or a list: one address per entry (``model/email_headers.py``)."""
    subject: Text
    text: Text | None
    html: Text | None
    sender: str | None


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    type: str
    next: str | None = None
    error: str | None = None
    """Error or timeout path (actions, conditions, waitForEvent timeout)."""
    branches: tuple[Branch, ...] = ()
    otherwise: str | None = None
    duration_ms: int | None = None
    until: Expression | None = None
    timeout_ms: int | None = None
    http: HttpAction | None = None
    email: EmailAction | None = None
    message: Text | None = None
    days: frozenset[int] = frozenset()
    from_minute: int | None = None
    to_minute: int | None = None
    after: str | None = None
    before: str | None = None
    journey: str | None = None
    profile_set: tuple[tuple[str, Expression], ...] = ()
    """updateProfile: (field path, the expression giving its value)."""
    profile_remove: tuple[str, ...] = ()
    """updateProfile: field paths removed."""

    def targets(self) -> Iterator[tuple[str, str]]:
        """(label, node id) of every outgoing path."""
        if self.next:
            yield "next", self.next
        for b in self.branches:
            if b.next:
                yield b.label, b.next
        if self.otherwise:
            yield "otherwise", self.otherwise
        if self.error:
            yield "timeout" if self.type == "waitForEvent" else "error", self.error

    def expressions(self) -> Iterator[tuple[str, Expression]]:
        if self.until is not None:
            yield "until", self.until
        key = "events" if self.type == "waitForEvent" else "branches"
        for i, b in enumerate(self.branches):
            if b.when is not None:
                yield f"{key}/{i}/when", b.when
        texts: list[tuple[str, Any]] = []
        if self.http is not None:
            texts += [
                ("url", self.http.url),
                ("path", self.http.path),
                ("headers", self.http.headers),
                ("query", self.http.query),
                ("body", self.http.body),
            ]
        if self.email is not None:
            texts += [
                ("to", self.email.to),
                ("subject", self.email.subject),
                ("text", self.email.text),
                ("html", self.email.html),
            ]
        for path, expr in self.profile_set:
            yield f"set/{path}", expr
        if self.message is not None:
            texts.append(("message", self.message))
        for where, template in texts:
            for expr in json_expressions(template):
                yield where, expr


@dataclass(frozen=True, slots=True)
class JourneyDefinition:
    name: str
    entry_event: str
    entry_next: str | None
    activities: dict[str, Activity]
    description: str = ""
    reentrance: bool = False
    reentry_wait_ms: int = DEFAULT_REENTRY_WAIT_MS
    time_zone: str = "UTC"
    source: dict[str, Any] = field(default_factory=dict, compare=False)
    reads_profile: bool = False
    """Some expression reads ``#{profile.…}``: the engine reads the person's merged profile
    for each step of its instances (and only then, or when it ``writes_profile``)."""
    writes_profile: bool = False
    """Some activity is an updateProfile."""
    audience_start: AudienceStart | None = None
    """The journey starts on audience qualification (``entry: {audience, on}``); its
    ``entry_event`` is then the start's key, which no event is named."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def awaited_events(self) -> set[str]:
        """Events some activity waits for."""
        return {b.event for a in self.activities.values() for b in a.branches if b.event}

    def events_named(self) -> set[str]:
        """Events whose payloads expressions may read: the entry (unless the journey starts
        on an audience) and every awaited event."""
        entry = set() if self.audience_start is not None else {self.entry_event}
        return entry | self.awaited_events()

    def activity_order(self) -> list[str]:
        """The activities breadth-first from the entry, each path in the order the activity
        lists it (next, branches, otherwise, error or timeout); each activity once."""
        order: list[str] = []
        queue = deque([self.entry_next] if self.entry_next else [])
        while queue:
            node = queue.popleft()
            if node in order or node not in self.activities:
                continue
            order.append(node)
            queue.extend(target for _, target in self.activities[node].targets())
        return order


class _Reader:
    """Reads one activity, reporting problems with their pointer."""

    def __init__(self, check: Checker, node_id: str, raw: Mapping[str, Any]) -> None:
        self.check, self.id, self.raw = check, node_id, raw
        self.at = f"/activities/{node_id}"

    def fail(self, key: str, keyword: str, message: str) -> None:
        self.check.fail(f"{self.at}/{key}" if key else self.at, keyword, message)

    def ref(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(key, "type", f"{key} must be an activity id")
            return None
        return value

    def expr(self, key: str, source: object) -> Expression | None:
        if not isinstance(source, str):
            self.fail(key, "type", "expected an expression string")
            return None
        try:
            return parse(source)
        except ExpressionError as exc:
            self.fail(key, "expression", exc.message)
            return None

    def text(self, key: str, source: object, required: bool = False) -> Text | None:
        if source is None:
            if required:
                self.fail(key, "required", f"{key} is required")
            return None
        if not isinstance(source, str):
            self.fail(key, "type", f"{key} must be a string")
            return None
        try:
            return parse_text(source)
        except ExpressionError as exc:
            self.fail(key, "expression", exc.message)
            return None

    def recipients(self, source: object) -> Text | list[Text]:
        """An email's ``to``: a template rendering one address, or a list of them."""
        if not isinstance(source, list):
            return self.text("to", source, required=True) or parse_text("")
        if not 1 <= len(source) <= MAX_RECIPIENTS:
            keyword = "minItems" if not source else "maxItems"
            self.fail("to", keyword, f"to lists 1 to {MAX_RECIPIENTS} recipients")
        return [
            self.text(f"to/{i}", v, required=True) or parse_text("") for i, v in enumerate(source)
        ]

    def json(self, key: str, source: object) -> Any:
        if nesting(source) > MAX_NESTING:  # what an instance, and so what it sends, can hold
            self.fail(key, "maxDepth", f"{key} is nested more than {MAX_NESTING} levels deep")
            return None
        try:
            return compile_json(source)
        except ExpressionError as exc:
            self.fail(key, "expression", exc.message)
            return None

    def duration(self, key: str, source: object) -> int | None:
        ms = parse_duration_ms(source)
        if ms is None:
            self.fail(
                key,
                "format",
                "a duration like 90, '90s', '5m', '1h', '7d' or 'PT1M', of at most 100 years",
            )
        return ms

    def branches(self, *, percent: bool = False, events: bool = False) -> tuple[Branch, ...]:
        raw = self.raw.get("branches" if not events else "events")
        key = "events" if events else "branches"
        if not isinstance(raw, list) or not raw:
            self.fail(key, "required", f"{key} must be a non-empty list")
            return ()
        found: list[Branch] = []
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping):
                self.fail(f"{key}/{i}", "type", "each entry must be an object")
                continue
            nxt = item.get("next")
            if nxt is not None and not isinstance(nxt, str):
                self.fail(f"{key}/{i}/next", "type", "next must be an activity id")
                nxt = None
            label = str(item.get("label") or item.get("event") or f"branch{i + 1}")
            when = (
                self.expr(f"{key}/{i}/when", item["when"]) if item.get("when") is not None else None
            )
            share = None
            if percent:
                share = item.get("percent")
                if not isinstance(share, int | float) or isinstance(share, bool) or share < 0:
                    self.fail(f"{key}/{i}/percent", "minimum", "percent must be a number ≥ 0")
                    share = 0
            elif not events and item.get("when") is None:
                self.fail(f"{key}/{i}/when", "required", "a condition branch needs when")
            event = None
            if events:
                event = item.get("event")
                if not isinstance(event, str):
                    self.fail(f"{key}/{i}/event", "required", "name the event to wait for")
                    event = None
            found.append(Branch(label, nxt, when, float(share or 0) if percent else None, event))
        if percent and found and abs(sum(b.percent or 0 for b in found) - 100) > 1e-6:
            self.fail(key, "const", "percentages must add up to 100")
        return tuple(found)

    def clock(self, key: str) -> int | None:
        value = self.raw.get(key)
        match = _CLOCK.match(value) if isinstance(value, str) else None
        if match is None:
            if value is not None:
                self.fail(key, "format", "a time of day like '09:30'")
            return None
        return int(match.group(1)) * 60 + int(match.group(2))


def _activity(check: Checker, node_id: str, raw: object) -> Activity | None:
    if not ID_PATTERN.match(node_id):
        check.fail(
            f"/activities/{node_id}",
            "pattern",
            "activity ids start with a letter: letters, digits, '_' and '-'",
        )
    if not isinstance(raw, Mapping):
        check.fail(f"/activities/{node_id}", "type", "an activity must be an object")
        return None
    r = _Reader(check, node_id, raw)
    kind = raw.get("type")
    if kind not in ACTIVITY_TYPES:
        r.fail("type", "enum", f"type must be one of {', '.join(ACTIVITY_TYPES)}")
        return None
    base: dict[str, Any] = {
        "id": node_id,
        "type": kind,
        "next": r.ref("next"),
        "error": r.ref("error"),
    }
    if kind == "wait":
        if "until" in raw:
            base["until"] = r.expr("until", raw["until"])
        else:
            base["duration_ms"] = r.duration("duration", raw.get("duration"))
    elif kind == "condition":
        base["branches"] = r.branches()
        base["otherwise"] = r.ref("otherwise")
    elif kind == "split":
        base["branches"] = r.branches(percent=True)
    elif kind == "timeCondition":
        days = raw.get("days", list(DAYS))
        if not isinstance(days, list) or any(str(d).lower()[:3] not in DAYS for d in days):
            r.fail("days", "enum", "days are mon, tue, wed, thu, fri, sat, sun")
            days = []
        base["days"] = frozenset(DAYS[str(d).lower()[:3]] for d in days)
        base["from_minute"], base["to_minute"] = r.clock("from"), r.clock("to")
        base["otherwise"] = r.ref("otherwise")
    elif kind == "dateCondition":
        for key in ("after", "before"):
            value = raw.get(key)
            if value is not None and to_datetime(value) is None:
                r.fail(key, "format", "an ISO 8601 date-time")
            base[key] = value
        if raw.get("after") is None and raw.get("before") is None:
            r.fail("after", "required", "give after, before, or both")
        base["otherwise"] = r.ref("otherwise")
    elif kind == "waitForEvent":
        base["branches"] = r.branches(events=True)
        timeout = raw.get("timeout")
        if timeout is not None:
            if not isinstance(timeout, Mapping):
                r.fail("timeout", "type", "timeout is {after: <duration>, next: <activity>}")
            else:
                base["timeout_ms"] = r.duration("timeout/after", timeout.get("after"))
                nxt = timeout.get("next")
                base["error"] = nxt if isinstance(nxt, str) else None
    elif kind == "http":
        method = str(raw.get("method", "POST")).upper()
        if method not in ("POST", "PUT", "GET"):
            r.fail("method", "enum", "method must be POST, PUT or GET")
        timeout = raw.get("timeoutSeconds", 30)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (1 <= timeout <= 30)
        ):
            r.fail("timeoutSeconds", "maximum", "timeoutSeconds must be between 1 and 30")
            timeout = 30
        headers, query = raw.get("headers", {}), raw.get("query", {})
        for key, value in (("headers", headers), ("query", query)):
            if not isinstance(value, Mapping):
                r.fail(key, "type", f"{key} must be an object of names to values")
        url = r.text("url", raw.get("url"), required=True)
        if url is not None and not str(raw.get("url", "")).startswith(("http://", "https://")):
            r.fail("url", "format", "url must start with http:// or https://")
        base["http"] = HttpAction(
            method=method,
            url=url or parse_text(""),
            path=r.text("path", raw.get("path")),
            headers={
                str(k): r.text(f"headers/{k}", str(v)) or parse_text("")
                for k, v in (headers.items() if isinstance(headers, Mapping) else [])
            },
            query={
                str(k): r.text(f"query/{k}", str(v)) or parse_text("")
                for k, v in (query.items() if isinstance(query, Mapping) else [])
            },
            body=r.json("body", raw.get("body")) if "body" in raw else None,
            timeout_ms=int(timeout * 1000),
        )
    elif kind == "email":
        if raw.get("text") is None and raw.get("html") is None:
            r.fail("text", "required", "an email needs text, html or both")
        sender = raw.get("from")
        base["email"] = EmailAction(
            to=r.recipients(raw.get("to")),
            subject=r.text("subject", raw.get("subject"), required=True) or parse_text(""),
            text=r.text("text", raw.get("text")),
            html=r.text("html", raw.get("html")),
            sender=sender if isinstance(sender, str) else None,
        )
    elif kind == "log":
        base["message"] = r.text("message", raw.get("message", ""))
    elif kind == "jump":
        journey = raw.get("journey")
        if not isinstance(journey, str):
            r.fail("journey", "required", "name the journey to jump to")
        base["journey"] = journey
    elif kind == "updateProfile":
        fields = _profile_fields(r, raw.get("set", {}), raw.get("remove", []))
        base["profile_set"], base["profile_remove"] = fields
    elif kind == "end":
        base["next"] = None
    return Activity(**base)


def _profile_fields(
    r: _Reader, to_set: object, to_remove: object
) -> tuple[tuple[tuple[str, Expression], ...], tuple[str, ...]]:
    """An updateProfile activity's ``set`` (field path -> expression) and ``remove`` (field
    paths): between 1 and MAX_PROFILE_FIELDS fields, none twice, none inside another."""
    if not isinstance(to_set, Mapping):
        r.fail("set", "type", "set is an object of field paths to expressions")
        to_set = {}
    if not isinstance(to_remove, list) or not all(isinstance(p, str) for p in to_remove):
        r.fail("remove", "type", "remove is a list of field paths")
        to_remove = []
    paths = [str(p) for p in to_set] + list(to_remove)
    if not 1 <= len(paths) <= MAX_PROFILE_FIELDS:
        r.fail("set", "maxProperties", f"set or remove 1 to {MAX_PROFILE_FIELDS} fields")
    for path in paths:
        where = f"set/{path}" if path in to_set else "remove"
        if not _PROFILE_PATH.match(path):
            r.fail(where, "pattern", f"{path!r} is no field path (names joined by '.')")
        elif path.split(".")[0] in _NOT_ATTRIBUTES:
            r.fail(where, "enum", f"{path!r} is no profile attribute")
        elif paths.count(path) > 1:
            r.fail(where, "uniqueItems", f"{path!r} is changed twice")
        elif any(other.startswith(path + ".") for other in paths):
            r.fail(where, "uniqueItems", f"{path!r} holds another field the activity changes")
    found = []
    for path, source in to_set.items():
        expr = r.expr(f"set/{path}", source)
        if expr is not None:
            found.append((str(path), expr))
    return tuple(found), tuple(to_remove)


def parse_journey(data: object) -> JourneyDefinition:
    obj = require_object(data, "journey")
    check = Checker("journey")
    name = check.name(obj)
    description = check.string(obj, "description")
    entry = obj.get("entry")
    entry_event, entry_next, start = "", None, None
    if isinstance(entry, Mapping) and "audience" in entry and "event" not in entry:
        start = _audience_start(check, entry)
        entry_event = start.key if start is not None else ""
    elif not isinstance(entry, Mapping) or not isinstance(entry.get("event"), str):
        check.fail(
            "/entry",
            "required",
            "entry is {event: <event name>, next: <activity>} or "
            "{audience: <audience name>, on: entered|exited, next: <activity>}",
        )
    else:
        entry_event = entry["event"]
    if isinstance(entry, Mapping):
        entry_next = entry.get("next") if isinstance(entry.get("next"), str) else None
        if entry_next is None:
            check.fail("/entry/next", "required", "entry needs next: the first activity")
    zone = check.string(obj, "timeZone", default="UTC") or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        check.fail("/timeZone", "enum", f"unknown time zone {zone!r}")
        zone = "UTC"
    reentrance, wait_ms = False, DEFAULT_REENTRY_WAIT_MS
    raw_re = obj.get("reentrance", {})
    if isinstance(raw_re, Mapping):
        reentrance = bool(raw_re.get("allowed", False))
        if "waitSeconds" in raw_re:
            ms = parse_duration_ms(raw_re["waitSeconds"])
            if ms is None:
                check.fail(
                    "/reentrance/waitSeconds", "range", "a number of seconds ≥ 0, at most 100 years"
                )
            else:
                wait_ms = ms
    else:
        check.fail("/reentrance", "type", "reentrance is {allowed: bool, waitSeconds: n}")
    raw_acts = obj.get("activities")
    activities: dict[str, Activity] = {}
    if not isinstance(raw_acts, Mapping) or not raw_acts:
        check.fail("/activities", "required", "activities must map ids to activities")
        raw_acts = {}
    if len(raw_acts) > MAX_ACTIVITIES:
        check.fail(
            "/activities", "maxProperties", f"a journey has at most {MAX_ACTIVITIES} activities"
        )
    for node_id, raw in raw_acts.items():
        activity = _activity(check, str(node_id), raw)
        if activity is not None:
            activities[str(node_id)] = activity
    _check_graph(check, entry_next, activities)
    check.done()
    return JourneyDefinition(
        name=name,
        entry_event=entry_event,
        entry_next=entry_next,
        activities=activities,
        description=description,
        reentrance=reentrance,
        reentry_wait_ms=wait_ms,
        time_zone=zone,
        source=dict(obj),
        reads_profile=any(
            ref.kind == "profile"
            for activity in activities.values()
            for _, expr in activity.expressions()
            for ref in expr.refs()
        ),
        writes_profile=any(a.type == "updateProfile" for a in activities.values()),
        audience_start=start,
    )


def _audience_start(check: Checker, entry: Mapping[str, Any]) -> AudienceStart | None:
    """``entry: {audience, on, namespace?}``: the journey starts when a person enters (or
    exits) the audience."""
    audience, on, namespace = (
        entry.get("audience"),
        entry.get("on", "entered"),
        entry.get("namespace"),
    )
    found = True
    if not isinstance(audience, str) or not AUDIENCE_NAME.match(audience):
        check.fail("/entry/audience", "pattern", "name the audience people enter or exit")
        found = False
    if on not in AUDIENCE_STATUSES:
        check.fail("/entry/on", "enum", "on is entered or exited")
        found = False
    if namespace is not None and (
        not isinstance(namespace, str) or not NAMESPACE_CODE.match(namespace)
    ):
        check.fail("/entry/namespace", "pattern", "a namespace code, as in identityMap")
        found = False
    if not found:
        return None
    assert isinstance(audience, str) and on in AUDIENCE_STATUSES
    return AudienceStart(audience, "entered" if on == "entered" else "exited", namespace)


def _check_graph(check: Checker, start: str | None, activities: Mapping[str, Activity]) -> None:
    if start is not None and start not in activities:
        check.fail("/entry/next", "enum", f"no activity {start!r}")
    for a in activities.values():
        for label, target in a.targets():
            if target not in activities:
                check.fail(
                    f"/activities/{a.id}",
                    "enum",
                    f"path {label!r} leads to {target!r}, which does not exist",
                )
    seen: set[str] = set()
    visiting: set[str] = set()

    def visit(node: str) -> None:
        if node in visiting:
            check.fail(
                f"/activities/{node}",
                "loop",
                f"the journey loops back to {node!r}; use a jump instead",
            )
            return
        if node in seen or node not in activities:
            return
        visiting.add(node)
        for _, target in activities[node].targets():
            visit(target)
        visiting.discard(node)
        seen.add(node)

    if start is not None:
        visit(start)
    for node in activities:
        if node not in seen:
            check.fail(
                f"/activities/{node}",
                "reachable",
                f"activity {node!r} cannot be reached from the entry",
            )
