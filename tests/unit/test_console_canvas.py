"""The canvas's graph and counts, and a journey's save-time errors placed at their activity,
field and line."""

from __future__ import annotations

from typing import Any

import pytest

from wayfare.console.canvas import canvas_graph, followed, node_counts
from wayfare.console.journey_problems import Problem, activity_lines, by_activity, place_problems
from wayfare.console.journeys import MAX_EDITOR_TEXT, as_yaml, read_definition, side_by_side
from wayfare.errors import InvalidRequestError, Violation
from wayfare.model.journey import parse_journey

DEFINITION: dict[str, Any] = {
    "name": "welcome",
    "entry": {"event": "signup", "next": "pause"},
    "activities": {
        "pause": {"type": "wait", "duration": "5m", "next": "check"},
        "check": {
            "type": "condition",
            "branches": [{"label": "young", "when": "1 > 0", "next": "hook"}],
            "otherwise": "done",
        },
        "hook": {
            "type": "http",
            "url": "https://example.com/hook",
            "next": "done",
            "error": "oops",
        },
        "oops": {"type": "log", "message": "the hook failed", "next": "done"},
        "done": {"type": "end"},
    },
}


def test_the_graph_has_the_entry_then_every_activity_breadth_first_with_type_and_summary() -> None:
    graph = canvas_graph(parse_journey(DEFINITION))
    nodes = [(n["id"], n["type"], n["summary"]) for n in graph["nodes"]]
    assert nodes == [
        ("entry", "entry", "on signup"),
        ("pause", "wait", "for 5m"),
        ("check", "condition", "young"),
        ("hook", "http", "POST https://example.com/hook"[:25] + "…"),
        ("done", "end", ""),
        ("oops", "log", "the hook failed"),
    ]


def test_every_path_is_an_edge_labelled_as_the_definition_names_it() -> None:
    graph = canvas_graph(parse_journey(DEFINITION))
    edges = {(e["from"], e["to"], e["label"]) for e in graph["edges"]}
    assert edges == {
        ("entry", "pause", ""),
        ("pause", "check", ""),
        ("check", "hook", "young"),
        ("check", "done", "otherwise"),
        ("hook", "done", ""),
        ("hook", "oops", "error"),
        ("oops", "done", ""),
    }


def test_a_wait_for_event_shows_its_timeout_path() -> None:
    definition = parse_journey(
        {
            "name": "reminder",
            "entry": {"event": "cart", "next": "wait"},
            "activities": {
                "wait": {
                    "type": "waitForEvent",
                    "events": [{"event": "bought", "next": "done"}],
                    "timeout": {"after": "1d", "next": "done"},
                },
                "done": {"type": "end"},
            },
        }
    )
    edges = {(e["from"], e["to"], e["label"]) for e in canvas_graph(definition)["edges"]}
    assert ("wait", "done", "bought") in edges
    assert ("wait", "done", "timeout") in edges


def test_counts_per_node_add_every_step_there_and_the_people_waiting_there() -> None:
    report = {
        "discarded": 2,
        "nodes": {
            "entry": {"type": "entry", "ended": 5},
            "pause": {"type": "wait", "ended": 3, "exited": 1},
            "hook": {"type": "http", "ended": 1, "error": 2},
            "gone": {"type": "log", "ended": 9},
        },
    }
    counts = node_counts(parse_journey(DEFINITION), report, {"pause": 1, "oops": 1})
    assert counts["entry"] == {"entered": 5, "inError": 0, "discarded": 2, "waiting": 0}
    assert counts["pause"] == {"entered": 5, "inError": 0, "discarded": 0, "waiting": 1}
    assert counts["hook"] == {"entered": 3, "inError": 2, "discarded": 0, "waiting": 0}
    assert counts["oops"] == {"entered": 1, "inError": 0, "discarded": 0, "waiting": 1}
    assert counts["done"] == {"entered": 0, "inError": 0, "discarded": 0, "waiting": 0}
    assert "gone" not in counts  # an activity of another version: not on this canvas


def test_a_followed_person_passed_each_node_once_in_order_and_is_where_they_wait() -> None:
    newest_first = [
        {"node": "hook", "status": "error"},
        {"node": "check", "status": "ended"},
        {"node": "pause", "status": "ended"},
        {"node": "entry", "status": "ended"},
    ]
    assert followed(newest_first, "oops") == {
        "passed": ["entry", "pause", "check", "hook"],
        "failed": ["hook"],
        "at": "oops",
    }


def _problems(data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(InvalidRequestError) as caught:
        parse_journey(data)
    return place_problems(caught.value.violations, as_yaml(data))


def test_an_expression_error_is_placed_at_its_activity_field_and_line() -> None:
    broken = {**DEFINITION, "activities": {**DEFINITION["activities"]}}
    broken["activities"]["check"] = {
        **DEFINITION["activities"]["check"],
        "branches": [{"label": "young", "when": "1 >", "next": "hook"}],
    }
    [problem] = _problems(broken)
    assert (problem.activity, problem.field, problem.keyword) == (
        "check",
        "branches/0/when",
        "expression",
    )
    text = as_yaml(broken)
    assert problem.line is not None
    assert text.splitlines()[problem.line - 1].strip().startswith("when:")


def test_a_dangling_path_is_placed_at_its_activity_and_the_entry_at_the_entry() -> None:
    broken = {
        "name": "welcome",
        "entry": {"event": "signup", "next": "nowhere"},
        "activities": {"done": {"type": "end"}, "lost": {"type": "log", "next": "gone"}},
    }
    found = {(p.activity, p.field) for p in _problems(broken)}
    assert ("entry", "next") in found
    assert ("lost", "") in found
    marks = by_activity(_problems(broken))
    assert any("gone" in str(m["message"]) for m in marks["lost"])


def test_a_problem_of_the_whole_journey_has_no_activity_and_a_line_as_deep_as_found() -> None:
    [on_name, deep] = place_problems(
        [
            Violation("/name", "pattern", "bad name"),
            Violation("/activities/ghost/url", "format", "no such activity in the text"),
        ],
        "name: 'x y'\nactivities: {}\n",
    )
    assert (on_name.activity, on_name.field, on_name.line) == (None, "name", 1)
    assert (deep.activity, deep.field, deep.line) == ("ghost", "url", 2)


def test_text_that_is_not_yaml_still_places_problems_without_lines() -> None:
    [problem] = place_problems([Violation("/activities/a/next", "enum", "x")], "a: [")
    assert (problem.activity, problem.field, problem.line) == ("a", "next", None)


def test_versions_side_by_side_pair_equal_lines_and_mark_changes() -> None:
    rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n")
    assert rows == [
        ("a", "a", "same"),
        ("b", "B", "changed"),
        ("c", "c", "same"),
        ("", "d", "added"),
    ]
    assert side_by_side("a\nb\n", "a\n") == [("a", "a", "same"), ("b", "", "removed")]
    assert side_by_side("a\n\nb\n", "a\nb\n")[1] == ("", "", "removed")  # a blank line


def test_the_editor_knows_the_line_of_each_activity_and_of_the_entry() -> None:
    text = as_yaml(DEFINITION)
    lines = activity_lines(text)
    rows = text.splitlines()
    assert set(lines) == {"entry", *DEFINITION["activities"]}
    for node, line in lines.items():
        assert rows[line - 1].strip() == f"{node}:"
    assert activity_lines("a: [") == {}


def test_editor_text_that_is_not_yaml_is_one_problem_at_its_line() -> None:
    data, [problem] = read_definition("name: x\nentry: {event: a\nactivities: {}\n")
    assert data is None
    assert (problem.activity, problem.keyword) == (None, "yaml")
    assert problem.line == 3
    assert read_definition("- a list\n")[1][0].message.startswith("a journey is a mapping")
    assert read_definition("name: x\n") == ({"name": "x"}, [])


def test_editor_text_too_long_or_aliased_past_its_size_is_one_problem_not_read() -> None:
    long = "name: x\nnote: " + "y" * MAX_EDITOR_TEXT + "\n"
    data, [problem] = read_definition(long)
    assert (data, problem.keyword) == (None, "maxLength")
    assert f"at most {MAX_EDITOR_TEXT:,}" in problem.message
    assert "wayfare apply" in problem.message
    assert read_definition(long[: MAX_EDITOR_TEXT - 100])[1] == []

    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    data, [problem] = read_definition("\n".join(laughs))
    assert (data, problem.keyword) == (None, "yaml")
    assert problem.message.startswith("the document's aliases (*name) make it over")


def test_an_update_profile_node_says_what_it_sets_and_removes() -> None:
    definition = parse_journey(
        {
            "name": "promote",
            "entry": {"event": "signup", "next": "gold"},
            "activities": {
                "gold": {"type": "updateProfile", "set": {"tier": "'gold'"}, "remove": ["x"]},
            },
        }
    )
    (gold,) = [n for n in canvas_graph(definition)["nodes"] if n["id"] == "gold"]
    assert (gold["type"], gold["summary"]) == ("updateProfile", "set tier, remove x")


def test_a_journey_starting_on_an_audience_shows_it_at_its_entry() -> None:
    text = (
        "name: welcome-gold\n"
        "entry: {audience: gold, on: exited, next: done}\n"
        "activities:\n"
        "  done: {type: end}\n"
    )
    data, problems = read_definition(text)
    assert problems == []
    definition = parse_journey(data)
    [entry, done] = canvas_graph(definition)["nodes"]
    assert (entry["id"], entry["summary"]) == ("entry", "when gold exited")
    assert done["id"] == "done"
    assert activity_lines(text)["entry"] == 2
