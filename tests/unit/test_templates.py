"""Templates: text with ``{{ expression }}`` holes and JSON bodies made of them, as journeys use
them for URLs, headers, bodies, email subjects and log lines."""

from __future__ import annotations

from typing import Any

import pytest

from wayfare.model.expressions import ExpressionError, Scope
from wayfare.model.templates import (
    Text,
    compile_json,
    json_expressions,
    parse_text,
    render_json,
)

SCOPE = Scope(
    events={
        "signup": {
            "person": {"firstName": "Ada", "birthYear": 1990, "tags": ["new", "vip"], "vip": True},
            "timestamp": "2024-03-01T12:00:00Z",
        },
        "purchase": {"order": {"id": "o-17", "total": 42.5}},
    },
    actions={"lookup": {"tier": "gold", "score": 7}},
    now_ms=1_709_294_400_000,  # 2024-03-01T12:00:00Z
)


def render(source: str, scope: Scope = SCOPE) -> Any:
    return parse_text(source).render(scope)


def test_plain_text_renders_as_itself() -> None:
    assert render("Welcome aboard!") == "Welcome aboard!"
    assert render("") == ""
    assert render("{ not a hole }") == "{ not a hole }"


def test_a_hole_is_replaced_by_the_value_of_its_expression() -> None:
    assert render("Hello {{ @event{signup.person.firstName} }}!") == "Hello Ada!"
    assert render("{{@event{signup.person.firstName}}} and {{ 1 + 1 }}") == "Ada and 2"


def test_a_template_that_is_exactly_one_hole_keeps_the_type() -> None:
    assert render("{{ @event{signup.person.birthYear} }}") == 1990
    assert render("{{ @event{purchase.order.total} }}") == 42.5
    assert render("{{ @event{signup.person.tags} }}") == ["new", "vip"]
    assert render("{{ @event{signup.person.vip} }}") is True
    assert render("{{ @event{signup.person.missing} }}") is None


def test_values_inside_text_become_text() -> None:
    assert render("born {{ @event{signup.person.birthYear} }}") == "born 1990"
    assert render("vip={{ @event{signup.person.vip} }}") == "vip=true"
    assert render("[{{ @event{signup.person.missing} }}]") == "[]"


def test_date_times_render_as_iso_8601_in_utc() -> None:
    assert render("{{ now() }}") == "2024-03-01T12:00:00.000Z"
    assert (
        render("due {{ dateWithDelta(@event{signup.timestamp}, 2, 'days') }}")
        == "due 2024-03-03T12:00:00.000Z"
    )


def test_holes_read_action_responses_defaults_and_functions() -> None:
    assert render("tier {{ @action{lookup.tier} }}") == "tier gold"
    assert render("{{ @event{signup.person.nickname} ?? 'friend' }}") == "friend"
    assert render("{{ upper(@event{signup.person.firstName}) }}") == "ADA"
    assert render("{{ concat('#', @event{purchase.order.id}) }}") == "#o-17"


def test_braces_of_references_inside_a_hole_do_not_close_it() -> None:
    text = parse_text("x{{ @event{signup.person.firstName} }}y")
    assert len(text.parts) == 3
    assert [e.source for e in text.expressions] == ["@event{signup.person.firstName}"]


def test_an_unclosed_hole_is_plain_text() -> None:
    assert render("hi {{ there") == "hi {{ there"
    assert list(parse_text("hi {{ there").expressions) == []


def test_a_hole_that_does_not_parse_is_refused_with_its_column_in_the_template() -> None:
    source = "Dear {{ 1 + ) }}"
    with pytest.raises(ExpressionError) as caught:
        parse_text(source)
    # the ")" is the 13th character of the template
    assert source[caught.value.column - 1] == ")"
    assert caught.value.column == 13
    assert source in caught.value.message
    assert caught.value.message.count("at column") == 1


def test_an_empty_hole_is_refused() -> None:
    with pytest.raises(ExpressionError):
        parse_text("hi {{ }}")


def test_json_templates_keep_their_structure() -> None:
    template = compile_json(
        {
            "email": "{{ @event{signup.person.firstName} }}",
            "birthYear": "{{ @event{signup.person.birthYear} }}",
            "greeting": "Hi {{ @event{signup.person.firstName} }}",
            "constant": 3,
            "flag": False,
            "nothing": None,
            "items": ["{{ @event{purchase.order.id} }}", {"tier": "{{ @action{lookup.tier} }}"}],
        }
    )
    assert render_json(template, SCOPE) == {
        "email": "Ada",
        "birthYear": 1990,
        "greeting": "Hi Ada",
        "constant": 3,
        "flag": False,
        "nothing": None,
        "items": ["o-17", {"tier": "gold"}],
    }


def test_a_json_template_lists_every_expression_it_holds() -> None:
    template = compile_json(
        {
            "a": "{{ @event{signup.person.firstName} }}",
            "b": ["x {{ @action{lookup.tier} }} {{ now() }}"],
            "c": {"d": "no holes"},
            "e": 1,
        }
    )
    sources = sorted(e.source for e in json_expressions(template))
    assert sources == ["@action{lookup.tier}", "@event{signup.person.firstName}", "now()"]


def test_a_json_template_with_a_bad_hole_is_refused() -> None:
    with pytest.raises(ExpressionError):
        compile_json({"nested": ["fine", "{{ @event{} }}"]})


def test_a_template_is_parsed_once_and_rendered_many_times() -> None:
    text = parse_text("Hi {{ @event{signup.person.firstName} }}")
    assert isinstance(text, Text)
    other = Scope(events={"signup": {"person": {"firstName": "Grace"}}})
    assert text.render(SCOPE) == "Hi Ada"
    assert text.render(other) == "Hi Grace"
    assert text.render(Scope()) == "Hi "
