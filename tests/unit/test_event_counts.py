"""``count(Event in last N unit)``: the person's events by name within a window, as audiences
write them; parsed with column-accurate errors, read from the Scope's event counts."""

from __future__ import annotations

import pytest

from wayfare.model.expressions import (
    MAX_DEPTH,
    EventCount,
    ExpressionError,
    Scope,
    parse,
)

DAY = 86_400_000


def test_an_event_count_names_its_event_window_and_column() -> None:
    expr = parse("#{profile.person.country} == 'FR' and count(purchase in last 7 days) >= 2")
    assert expr.event_counts() == [EventCount("purchase", 7 * DAY, 39)]


@pytest.mark.parametrize(
    ("term", "window_ms"),
    [
        ("count(a in last 1 minute)", 60_000),
        ("count(a in last 90 minutes)", 90 * 60_000),
        ("count(a in last 24 hours)", DAY),
        ("count(a in last 2 weeks)", 14 * DAY),
        ("count(a in last 91 days)", 91 * DAY),
    ],
)
def test_windows_in_each_unit(term: str, window_ms: int) -> None:
    assert parse(term).event_counts()[0].window_ms == window_ms


def test_the_count_is_read_from_the_scope_and_an_absent_one_is_zero() -> None:
    expr = parse("count(purchase in last 7 days) >= 2")
    assert expr.test(Scope(event_counts={("purchase", 7 * DAY): 2}))
    assert not expr.test(Scope(event_counts={("purchase", 7 * DAY): 1}))
    assert not expr.test(Scope(event_counts={("purchase", 30 * DAY): 5}))  # another window
    assert parse("count(purchase in last 7 days)").evaluate(Scope()) == 0


def test_count_of_a_list_is_still_the_list_function() -> None:
    assert parse("count(order.tags)").evaluate({"order": {"tags": ["a", "b"]}}) == 2
    assert parse("count([1, 2] )").evaluate({}) == 2


@pytest.mark.parametrize(
    ("source", "column", "reason"),
    [
        ("count(a in last 0 days)", 17, "at least 1"),
        ("count(a in last 1.5 days)", 17, "whole number"),
        ("count(a in last 7 fortnights)", 19, "minutes, hours, days or weeks"),
        ("count(a in last 7)", 18, "minutes, hours, days or weeks"),
        ("count(a in last 92 days)", 17, "at most 91 days"),
        ("count(a in last 14 weeks)", 17, "at most 91 days"),
        ("count(a in last 7 days", 23, "expected ')'"),
        ("count(a in last 7 days) >= ", 28, "unexpected end"),
    ],
)
def test_a_malformed_event_count_names_the_column(source: str, column: int, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    assert caught.value.column == column
    assert reason in str(caught.value)


def test_an_event_count_is_a_level_of_nesting() -> None:
    inside = "(" * (MAX_DEPTH - 1) + "count(a in last 1 day)" + ")" * (MAX_DEPTH - 1)
    assert parse(inside).evaluate(Scope(event_counts={("a", DAY): 3})) == 3
    with pytest.raises(ExpressionError, match="nested more than"):
        parse("(" + inside + ")")
