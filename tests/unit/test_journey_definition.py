"""Journey definitions: ``parse_journey`` reads the graph and refuses what breaks a rule, with
a JSON pointer to the place — every problem at once, before anything is stored."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from wayfare.errors import InvalidRequestError, Violation
from wayfare.model.journey import (
    DEFAULT_REENTRY_WAIT_MS,
    GLOBAL_TIMEOUT_MS,
    MAX_ACTIVITIES,
    JourneyDefinition,
    parse_journey,
)
from wayfare.model.nesting import MAX_NESTING

HOOK = "https://hooks.example.com/welcome"


def journey(activities: dict[str, Any], first: str | None = None, **extra: Any) -> dict[str, Any]:
    """A journey entering on ``signup`` and starting at ``first`` (default: the first id)."""
    return {
        "name": "welcome",
        "entry": {"event": "signup", "next": first or next(iter(activities))},
        "activities": activities,
        **extra,
    }


def one(activity: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A journey whose activity ``a`` leads to ``done``."""
    return journey({"a": {"next": "done", **activity}, "done": {"type": "end"}}, **extra)


def violations(data: object) -> list[Violation]:
    with pytest.raises(InvalidRequestError) as caught:
        parse_journey(data)
    found = list(caught.value.violations)
    assert found, "a refused journey says why"
    return found


def refused(data: object, pointer: str, keyword: str, *words: str) -> Violation:
    """The definition is refused with a violation at ``pointer`` whose message holds ``words``."""
    found = violations(data)
    hits = [v for v in found if v.pointer == pointer and v.keyword == keyword]
    assert hits, f"no {keyword} violation at {pointer}; got {found}"
    for word in words:
        assert any(word in v.message for v in hits), f"{word!r} not in {hits}"
    return hits[0]


# what a valid definition becomes


def test_a_valid_journey_becomes_a_graph_with_defaults() -> None:
    parsed = parse_journey(
        journey(
            {
                "pause": {"type": "wait", "duration": "1h30m", "next": "check"},
                "check": {
                    "type": "condition",
                    "branches": [
                        {"label": "young", "when": "@event{signup.birthYear} >= 1990", "next": "hi"}
                    ],
                    "otherwise": "done",
                },
                "hi": {"type": "log", "message": "hello", "next": "done"},
                "done": {"type": "end"},
            }
        )
    )
    assert isinstance(parsed, JourneyDefinition)
    assert parsed.entry_event == "signup"
    assert parsed.entry_next == "pause"
    assert list(parsed.activities) == ["pause", "check", "hi", "done"]
    assert parsed.activities["pause"].duration_ms == 90 * 60_000
    assert dict(parsed.activities["check"].targets()) == {"young": "hi", "otherwise": "done"}
    assert parsed.reentrance is False
    assert parsed.reentry_wait_ms == DEFAULT_REENTRY_WAIT_MS == 300_000
    assert parsed.time_zone == "UTC"
    assert GLOBAL_TIMEOUT_MS == 91 * 86_400_000


def test_activities_are_ordered_breadth_first_from_the_entry() -> None:
    definition = parse_journey(
        journey(
            {
                "done": {"type": "end"},
                "zulu": {
                    "type": "condition",
                    "branches": [{"label": "big", "when": "1 > 0", "next": "mike"}],
                    "otherwise": "alpha",
                },
                "alpha": {"type": "wait", "duration": "1h", "next": "bravo"},
                "mike": {"type": "wait", "duration": "1h", "next": "done"},
                "bravo": {"type": "wait", "duration": "1h", "next": "done"},
            },
            first="zulu",
        )
    )
    # each activity once, paths in the order the activity lists them
    assert definition.activity_order() == ["zulu", "mike", "alpha", "done", "bravo"]


def test_reentrance_and_time_zone_are_read() -> None:
    parsed = parse_journey(
        one(
            {"type": "log"},
            reentrance={"allowed": True, "waitSeconds": 60},
            timeZone="Europe/Paris",
        )
    )
    assert parsed.reentrance is True
    assert parsed.reentry_wait_ms == 60_000
    assert parsed.zone.key == "Europe/Paris"


def test_reentrance_on_without_a_wait_period_waits_five_minutes() -> None:
    parsed = parse_journey(one({"type": "log"}, reentrance={"allowed": True}))
    assert parsed.reentrance is True
    assert parsed.reentry_wait_ms == 5 * 60_000


def test_awaited_events_are_readable_as_well_as_the_entry_event() -> None:
    parsed = parse_journey(
        one(
            {
                "type": "waitForEvent",
                "events": [{"event": "purchase", "next": "done"}, {"event": "unsubscribe"}],
                "timeout": {"after": "2d", "next": "done"},
            }
        )
    )
    assert parsed.events_named() == {"signup", "purchase", "unsubscribe"}
    wait = parsed.activities["a"]
    assert wait.timeout_ms == 2 * 86_400_000
    assert ("timeout", "done") in list(wait.targets())


# the graph


def test_a_path_to_a_missing_activity_is_refused() -> None:
    refused(
        journey({"a": {"type": "log", "next": "nowhere"}}),
        "/activities/a",
        "enum",
        "'next'",
        "'nowhere'",
    )


def test_a_labelled_branch_to_a_missing_activity_names_its_label() -> None:
    refused(
        journey(
            {
                "check": {
                    "type": "condition",
                    "branches": [{"label": "vip", "when": "true", "next": "ghost"}],
                    "otherwise": "done",
                },
                "done": {"type": "end"},
            }
        ),
        "/activities/check",
        "enum",
        "'vip'",
        "'ghost'",
    )


def test_an_error_path_to_a_missing_activity_is_refused() -> None:
    refused(
        one({"type": "http", "url": HOOK, "error": "recover"}),
        "/activities/a",
        "enum",
        "'error'",
        "'recover'",
    )


def test_an_entry_leading_nowhere_is_refused() -> None:
    refused(journey({"a": {"type": "end"}}, first="missing"), "/entry/next", "enum", "'missing'")


def test_a_journey_without_an_entry_is_refused() -> None:
    data = one({"type": "log"})
    del data["entry"]
    refused(data, "/entry", "required")
    data = one({"type": "log"})
    data["entry"] = {"event": "signup"}
    refused(data, "/entry/next", "required")


def test_an_activity_that_cannot_be_reached_is_refused() -> None:
    refused(
        journey(
            {
                "a": {"type": "log", "next": "done"},
                "orphan": {"type": "log", "next": "done"},
                "done": {"type": "end"},
            }
        ),
        "/activities/orphan",
        "reachable",
        "'orphan'",
    )


def test_a_loop_is_refused_and_points_at_where_it_closes() -> None:
    loop = journey(
        {
            "a": {"type": "wait", "duration": "1d", "next": "b"},
            "b": {
                "type": "condition",
                "branches": [{"label": "again", "when": "true", "next": "a"}],
                "otherwise": "done",
            },
            "done": {"type": "end"},
        }
    )
    v = refused(loop, "/activities/a", "loop", "jump")
    assert "'a'" in v.message


def test_an_activity_leading_to_itself_is_a_loop() -> None:
    refused(
        journey({"a": {"type": "log", "next": "a"}}), "/activities/a", "loop", "loops back to 'a'"
    )


def test_going_back_through_a_jump_is_allowed() -> None:
    parsed = parse_journey(
        journey(
            {
                "a": {"type": "wait", "duration": "1d", "next": "again"},
                "again": {"type": "jump", "journey": "welcome"},
            }
        )
    )
    assert parsed.activities["again"].journey == "welcome"
    assert list(parsed.activities["again"].targets()) == []


def test_two_paths_meeting_again_is_not_a_loop() -> None:
    parse_journey(
        journey(
            {
                "split": {
                    "type": "split",
                    "branches": [
                        {"label": "A", "percent": 50, "next": "x"},
                        {"label": "B", "percent": 50, "next": "y"},
                    ],
                },
                "x": {"type": "log", "next": "done"},
                "y": {"type": "log", "next": "done"},
                "done": {"type": "end"},
            }
        )
    )


def chain(n: int) -> dict[str, Any]:
    activities: dict[str, Any] = {
        f"step{i}": {"type": "log", "next": f"step{i + 1}"} for i in range(n - 1)
    }
    activities[f"step{n - 1}"] = {"type": "end"}
    return journey(activities)


def test_fifty_activities_are_allowed_and_fifty_one_are_refused() -> None:
    assert len(parse_journey(chain(MAX_ACTIVITIES)).activities) == 50
    refused(chain(MAX_ACTIVITIES + 1), "/activities", "maxProperties", "at most 50")


def test_a_journey_without_activities_is_refused() -> None:
    refused({"name": "x", "entry": {"event": "e", "next": "a"}}, "/activities", "required")
    refused(
        {"name": "x", "entry": {"event": "e", "next": "a"}, "activities": {}},
        "/activities",
        "required",
    )


def test_every_problem_is_reported_at_once() -> None:
    data = journey(
        {
            "a": {"type": "wait", "duration": "soon", "next": "b"},
            "b": {"type": "http", "url": HOOK, "method": "DELETE", "next": "ghost"},
            "orphan": {"type": "teleport"},
        },
        timeZone="Mars/Olympus_Mons",
    )
    pointers = {(v.pointer, v.keyword) for v in violations(data)}
    assert {
        ("/activities/a/duration", "format"),
        ("/activities/b/method", "enum"),
        ("/activities/b", "enum"),
        ("/activities/orphan/type", "enum"),
        ("/timeZone", "enum"),
    } <= pointers


def test_the_message_of_a_refusal_names_each_pointer() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_journey(one({"type": "wait", "duration": "soon"}))
    assert "/activities/a/duration" in caught.value.message


def test_a_definition_that_is_not_an_object_is_refused() -> None:
    (v,) = violations(["not", "a", "journey"])
    assert v.keyword == "type"


def test_names_and_activity_ids_follow_their_patterns() -> None:
    refused(one({"type": "log"}, name="no spaces please"), "/name", "pattern")
    bad = journey({"9lives": {"type": "end"}})
    refused(bad, "/activities/9lives", "pattern", "start with a letter")


# activities


@pytest.mark.parametrize(
    ("duration", "ms"),
    [
        (90, 90_000),
        (0.5, 500),
        ("90s", 90_000),
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("3d", 3 * 86_400_000),
        ("1w", 7 * 86_400_000),
        ("250ms", 250),
        ("PT1M", 60_000),
        ("P1D", 86_400_000),
        ("PT1H30M", 5_400_000),
        ("36500d", 36_500 * 86_400_000),  # a hundred years, the most
    ],
)
def test_durations_are_read_in_every_documented_form(duration: object, ms: int) -> None:
    assert (
        parse_journey(one({"type": "wait", "duration": duration})).activities["a"].duration_ms == ms
    )


@pytest.mark.parametrize(
    "duration",
    [
        "3 days", "soon", -5, "P", "PT", True, None, "5x", [1],
        # longer than a timer can be set for: refused, not an error when saved or entered
        1.7976931348623155e308, "9" * 400 + "w", "P" + "9" * 400 + "D", "36501d",
    ],
)  # fmt: skip
def test_a_bad_duration_is_refused(duration: object) -> None:
    refused(one({"type": "wait", "duration": duration}), "/activities/a/duration", "format")


def test_a_bad_timeout_duration_is_refused() -> None:
    refused(
        one(
            {
                "type": "waitForEvent",
                "events": [{"event": "purchase", "next": "done"}],
                "timeout": {"after": "forever", "next": "done"},
            }
        ),
        "/activities/a/timeout/after",
        "format",
    )


def test_a_bad_reentry_wait_is_refused() -> None:
    refused(
        one({"type": "log"}, reentrance={"allowed": True, "waitSeconds": "a while"}),
        "/reentrance/waitSeconds",
        "range",
    )
    refused(
        one({"type": "log"}, reentrance={"allowed": True, "waitSeconds": 1.7976931348623155e308}),
        "/reentrance/waitSeconds",
        "range",
    )
    refused(one({"type": "log"}, reentrance="yes"), "/reentrance", "type")


def test_a_wait_until_takes_an_expression() -> None:
    parsed = parse_journey(
        one({"type": "wait", "until": "dateWithDelta(@event{signup.timestamp}, 1, 'days')"})
    )
    assert parsed.activities["a"].until is not None
    refused(one({"type": "wait", "until": "dateWithDelta("}), "/activities/a/until", "expression")
    refused(one({"type": "wait", "until": 42}), "/activities/a/until", "type")


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "FETCH"])
def test_http_methods_other_than_post_put_get_are_refused(method: str) -> None:
    refused(one({"type": "http", "url": HOOK, "method": method}), "/activities/a/method", "enum")


@pytest.mark.parametrize("method", ["POST", "put", "GET"])
def test_http_post_put_and_get_are_accepted(method: str) -> None:
    action = parse_journey(one({"type": "http", "url": HOOK, "method": method})).activities["a"]
    assert action.http is not None
    assert action.http.method == method.upper()


@pytest.mark.parametrize("seconds", [0, 0.5, 31, 600, "10"])
def test_an_http_timeout_outside_one_to_thirty_seconds_is_refused(seconds: object) -> None:
    refused(
        one({"type": "http", "url": HOOK, "timeoutSeconds": seconds}),
        "/activities/a/timeoutSeconds",
        "maximum",
        "between 1 and 30",
    )


@pytest.mark.parametrize(("seconds", "ms"), [(1, 1000), (12.5, 12_500), (30, 30_000)])
def test_an_http_timeout_within_bounds_is_kept(seconds: float, ms: int) -> None:
    action = parse_journey(one({"type": "http", "url": HOOK, "timeoutSeconds": seconds}))
    http = action.activities["a"].http
    assert http is not None
    assert http.timeout_ms == ms


def test_an_http_action_without_a_timeout_times_out_after_thirty_seconds() -> None:
    http = parse_journey(one({"type": "http", "url": HOOK})).activities["a"].http
    assert http is not None
    assert http.timeout_ms == 30_000


def test_an_http_action_needs_an_http_url() -> None:
    refused(one({"type": "http"}), "/activities/a/url", "required")
    refused(one({"type": "http", "url": "ftp://files.example.com"}), "/activities/a/url", "format")


def test_http_headers_and_query_must_be_objects() -> None:
    refused(
        one({"type": "http", "url": HOOK, "headers": ["X-A: 1"]}), "/activities/a/headers", "type"
    )
    refused(one({"type": "http", "url": HOOK, "query": "a=1"}), "/activities/a/query", "type")


def test_a_template_that_does_not_parse_is_refused_where_it_is() -> None:
    refused(
        one({"type": "http", "url": HOOK, "body": {"email": "{{ @event{signup.email} == }}"}}),
        "/activities/a/body",
        "expression",
    )
    refused(one({"type": "log", "message": "hi {{ ) }}"}), "/activities/a/message", "expression")


def test_a_body_nested_too_deeply_is_refused_where_it_is() -> None:
    def body(levels: int) -> Any:
        value: Any = "{{ @event{signup.email} }}"
        for _ in range(levels):
            value = [value]
        return value

    parse_journey(one({"type": "http", "url": HOOK, "body": body(MAX_NESTING)}))
    for levels in (MAX_NESTING + 1, 900):  # JSON bodies may nest 1,024 levels
        http = {"type": "http", "url": HOOK, "body": body(levels)}
        refused(one(http), "/activities/a/body", "maxDepth", f"more than {MAX_NESTING} levels")


def test_split_percentages_must_add_up_to_one_hundred() -> None:
    v = refused(
        one(
            {
                "type": "split",
                "branches": [
                    {"label": "A", "percent": 50, "next": "done"},
                    {"label": "B", "percent": 40, "next": "done"},
                ],
            }
        ),
        "/activities/a/branches",
        "const",
        "100",
    )
    assert v.message


def test_a_split_percentage_must_be_a_number_not_below_zero() -> None:
    for share in (-10, "50", None, True):
        refused(
            one(
                {
                    "type": "split",
                    "branches": [
                        {"label": "A", "percent": share, "next": "done"},
                        {"label": "B", "percent": 100, "next": "done"},
                    ],
                }
            ),
            "/activities/a/branches/0/percent",
            "minimum",
        )


def test_a_split_of_uneven_shares_adding_to_one_hundred_is_accepted() -> None:
    split = parse_journey(
        one(
            {
                "type": "split",
                "branches": [
                    {"label": "A", "percent": 33.3, "next": "done"},
                    {"label": "B", "percent": 33.3, "next": "done"},
                    {"label": "C", "percent": 33.4, "next": "done"},
                ],
            }
        )
    ).activities["a"]
    assert [b.percent for b in split.branches] == [33.3, 33.3, 33.4]


@pytest.mark.parametrize("kind", ["teleport", None, "Wait", 3])
def test_an_unknown_activity_type_is_refused(kind: object) -> None:
    refused(one({"type": kind}), "/activities/a/type", "enum", "wait", "waitForEvent")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Pariss", "UTC+25", "../etc/passwd"])
def test_an_unknown_time_zone_is_refused(zone: str) -> None:
    refused(one({"type": "log"}, timeZone=zone), "/timeZone", "enum")


def test_a_condition_branch_needs_a_parsable_when() -> None:
    refused(
        one({"type": "condition", "branches": [{"label": "x", "next": "done"}]}),
        "/activities/a/branches/0/when",
        "required",
    )
    v = refused(
        one({"type": "condition", "branches": [{"when": "1 >", "next": "done"}]}),
        "/activities/a/branches/0/when",
        "expression",
    )
    assert "column" in v.message
    refused(one({"type": "condition", "branches": []}), "/activities/a/branches", "required")


def test_a_condition_names_unknown_functions() -> None:
    v = refused(
        one({"type": "condition", "branches": [{"when": "shout('x')", "next": "done"}]}),
        "/activities/a/branches/0/when",
        "expression",
    )
    assert "shout" in v.message


def test_a_time_condition_reads_days_and_times_of_day() -> None:
    parsed = parse_journey(
        one(
            {
                "type": "timeCondition",
                "days": ["mon", "Tuesday", "FRI"],
                "from": "09:00",
                "to": "17:30",
                "otherwise": "done",
            },
            timeZone="Europe/Paris",
        )
    ).activities["a"]
    assert parsed.days == frozenset({1, 2, 5})
    assert (parsed.from_minute, parsed.to_minute) == (540, 1050)
    refused(one({"type": "timeCondition", "days": ["someday"]}), "/activities/a/days", "enum")
    refused(one({"type": "timeCondition", "from": "9am"}), "/activities/a/from", "format")
    refused(one({"type": "timeCondition", "to": "24:00"}), "/activities/a/to", "format")


def test_a_date_condition_needs_iso_dates() -> None:
    parse_journey(one({"type": "dateCondition", "after": "2024-12-01T00:00:00Z"}))
    refused(one({"type": "dateCondition", "after": "next week"}), "/activities/a/after", "format")
    refused(one({"type": "dateCondition"}), "/activities/a/after", "required")


def test_a_wait_for_event_names_its_events() -> None:
    refused(one({"type": "waitForEvent", "events": []}), "/activities/a/events", "required")
    refused(
        one({"type": "waitForEvent", "events": [{"next": "done"}]}),
        "/activities/a/events/0/event",
        "required",
    )
    refused(
        one({"type": "waitForEvent", "events": [{"event": "buy"}], "timeout": "1d"}),
        "/activities/a/timeout",
        "type",
    )


def test_an_email_needs_a_recipient_a_subject_and_a_body() -> None:
    refused(one({"type": "email", "subject": "hi", "text": "x"}), "/activities/a/to", "required")
    refused(one({"type": "email", "to": "a@b.c", "text": "x"}), "/activities/a/subject", "required")
    refused(
        one({"type": "email", "to": "a@b.c", "subject": "hi"}), "/activities/a/text", "required"
    )
    email = parse_journey(
        one({"type": "email", "to": "a@b.c", "subject": "hi", "html": "<b>hi</b>"})
    ).activities["a"]
    assert email.email is not None
    assert email.email.text is None


def test_a_jump_names_its_journey() -> None:
    refused(journey({"a": {"type": "jump"}}), "/activities/a/journey", "required")


def test_an_activity_must_be_an_object() -> None:
    refused(journey({"a": "wait"}), "/activities/a", "type")


def test_parsing_does_not_change_the_document() -> None:
    data = one({"type": "http", "url": HOOK, "body": {"n": "{{ @event{signup.n} }}"}})
    before = copy.deepcopy(data)
    parsed = parse_journey(data)
    assert data == before
    assert parsed.source == before


# updateProfile


def test_an_update_profile_activity_sets_fields_from_expressions_and_removes_others() -> None:
    activity = parse_journey(
        one(
            {
                "type": "updateProfile",
                "set": {"loyalty.tier": "'gold'", "loyalty.points": "@event{signup.x.points}"},
                "remove": ["loyalty.expires"],
            }
        )
    ).activities["a"]
    assert [(path, expr.source) for path, expr in activity.profile_set] == [
        ("loyalty.tier", "'gold'"),
        ("loyalty.points", "@event{signup.x.points}"),
    ]
    assert activity.profile_remove == ("loyalty.expires",)
    assert [where for where, _ in activity.expressions()] == [
        "set/loyalty.tier",
        "set/loyalty.points",
    ]


AT = "/activities/a"
TOO_MANY = {f"f{i}": "1" for i in range(11)}


@pytest.mark.parametrize(
    ("fields", "pointer", "keyword", "words"),
    [
        ({}, f"{AT}/set", "maxProperties", "1 to 10"),
        ({"set": TOO_MANY}, f"{AT}/set", "maxProperties", "1 to 10"),
        ({"set": {"a..b": "1"}}, f"{AT}/set/a..b", "pattern", "no field path"),
        ({"set": {"identityMap.Email": "1"}}, f"{AT}/set/identityMap.Email", "enum", "attribute"),
        ({"set": {"x": "1"}, "remove": ["x"]}, f"{AT}/set/x", "uniqueItems", "changed twice"),
        ({"set": {"x": "1", "x.y": "2"}}, f"{AT}/set/x", "uniqueItems", "holds another"),
        ({"set": {"x": "1 +"}}, f"{AT}/set/x", "expression", ""),
        ({"set": ["x"]}, f"{AT}/set", "type", "object"),
        ({"remove": "x"}, f"{AT}/remove", "type", "list"),
    ],
)
def test_an_update_profile_activity_s_fields_are_checked(
    fields: dict[str, Any], pointer: str, keyword: str, words: str
) -> None:
    refused(one({"type": "updateProfile", **fields}), pointer, keyword, words)


def test_a_journey_says_whether_it_reads_the_profile() -> None:
    log = {"type": "log", "message": "{{ #{profile.person.name} }}"}
    assert parse_journey(one(log)).reads_profile
    assert not parse_journey(one({"type": "log", "message": "hi"})).reads_profile
    write = {"type": "updateProfile", "set": {"tier": "'gold'"}}
    assert not parse_journey(one(write)).reads_profile
