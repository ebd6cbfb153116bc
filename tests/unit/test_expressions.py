"""The expression language: grammar, precedence, errors with their column, null semantics,
functions and ``in``. Parsed once, evaluated against a payload or a Scope."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import pytest

from wayfare.errors import InvalidRequestError
from wayfare.model.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NUMBER_DIGITS,
    MAX_STEPS,
    Binary,
    Budget,
    Call,
    EvaluationError,
    ExpressionError,
    ListNode,
    Literal,
    Path,
    Ref,
    Scope,
    Unary,
    parse,
    tokenize,
)

PAYLOAD: dict[str, Any] = {
    "eventType": "commerce.purchases",
    "order": {
        "total": 42.5,
        "count": 3,
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
        "tags": ["new", "vip"],
    },
    "person": {"name": "Ada", "email": "ADA@example.com", "vip": True, "empty": ""},
    "when": "2024-03-01T12:00:00Z",
}


def ev(source: str, data: Any = None) -> Any:
    return parse(source).evaluate(PAYLOAD if data is None else data)


# grammar


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("42", 42),
        ("4.25", 4.25),
        ("'single'", "single"),
        ('"double"', "double"),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[1, 'a', null]", [1, "a", None]),
        ("[]", []),
        ("eventType", "commerce.purchases"),
        ("order.total", 42.5),
        ("order.items[1].sku", "B-2"),
        ("order.tags[0]", "new"),
        ("  order.count  ", 3),
        ("(((order.count)))", 3),
    ],
)
def test_literals_paths_lists_and_parentheses(source: str, value: Any) -> None:
    assert ev(source) == value


def test_integers_stay_integers_and_decimals_become_floats() -> None:
    assert type(ev("7")) is int
    assert type(ev("7.0")) is float


def test_tokens_carry_their_one_based_column() -> None:
    tokens = tokenize("a.b  == 'x'")
    assert [(t.kind, t.text, t.column) for t in tokens] == [
        ("name", "a", 1),
        ("op", ".", 2),
        ("name", "b", 3),
        ("op", "==", 6),
        ("string", "'x'", 9),
        ("end", "", 12),
    ]


def test_the_tree_of_a_condition() -> None:
    source = 'eventType == "commerce.purchases" and not order.total < 10'
    expr = parse(source)
    assert expr.tree == Binary(
        "and",
        Binary("==", Path(("eventType",), 1), Literal("commerce.purchases")),
        Unary(
            "not",
            Binary("<", Path(("order", "total"), source.index("order.total") + 1), Literal(10)),
        ),
    )


def test_paths_lists_every_payload_field_with_its_column_and_dotted_form() -> None:
    source = "order.items[0].sku == 'A' or lower(person.name) in [eventType, 'x']"
    expr = parse(source)
    paths = expr.paths()
    assert [(p.dotted, p.column) for p in paths] == [
        ("order.items[0].sku", 1),
        ("person.name", source.index("person.name") + 1),
        ("eventType", source.index("eventType") + 1),
    ]
    assert [type(n) for n in expr.nodes()].count(Call) == 1
    assert [type(n) for n in expr.nodes()].count(ListNode) == 1


def test_references_to_events_actions_and_the_profile() -> None:
    expr = parse(
        "@event{Buy.order.items[0].sku} == #{profile.person.name} and @action{Call.status} == 200"
    )
    assert expr.refs() == [
        Ref("event", "Buy", ("order", "items", 0, "sku"), 1),
        Ref("profile", "profile", ("person", "name"), 35),
        Ref("action", "Call", ("status",), 62),
    ]
    assert expr.refs()[0].dotted == "order.items[0].sku"
    assert expr.paths() == []
    scope = Scope(
        events={"Buy": {"order": {"items": [{"sku": "Ada"}]}}},
        actions={"Call": {"status": 200}},
        profile={"person": {"name": "Ada"}},
    )
    assert expr.test(scope) is True
    scope = Scope(
        events={"Buy": {}}, actions={"Call": {"status": 200}}, profile={"person": {"name": "Ada"}}
    )
    assert expr.test(scope) is False


def test_a_keyword_after_a_dot_is_a_field_name() -> None:
    assert ev("a.in.not", {"a": {"in": {"not": 5}}}) == 5


# precedence and associativity


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("16 / 4 / 2", 2),
        ("7 % 4 * 2", 6),
        ("-2 * 3", -6),
        ("--2", 2),
        ("- order.count + 1", -2),
        ("1 + 2 * 3 == 7", True),
        ("2 * 3 > 5 and 1 < 2", True),
        ("true or false and false", True),
        ("(true or false) and false", False),
        ("not false and false", False),
        ("not (false and false)", True),
        ("not order.count == 3", False),
        ("not not true", True),
        ("missing ?? 1 + 1", 2),
        ("missing ?? false or true", True),
        ("order.count ?? 0 > 100", 3),
        ("missing ?? other ?? 'last'", "last"),
        ("'a' + 'b' == 'ab'", True),
    ],
)
def test_precedence(source: str, value: Any) -> None:
    assert ev(source) == value


def test_default_is_lowest_and_left_associative() -> None:
    assert parse("a ?? b ?? c").tree == Binary(
        "??", Binary("??", Path(("a",), 1), Path(("b",), 6)), Path(("c",), 11)
    )


# errors say the column


@pytest.mark.parametrize(
    ("source", "column", "reason"),
    [
        ("", 1, "empty expression"),
        ("a ==", 5, "unexpected end"),
        ("a $ b", 3, "unexpected character '$'"),
        ("a == = b", 6, "unexpected character '='"),
        ("'unterminated", 1, "unexpected character"),
        ("foo(1)", 1, "unknown function 'foo'"),
        ("x == nope(1)", 6, "unknown function 'nope'"),
        ("a.", 3, "expected a field name after '.'"),
        ("a[x]", 3, "expected an index"),
        ("a[1.5]", 3, "expected an index"),
        ("a[-1]", 3, "expected an index"),
        ("(1", 3, "expected ')' but found 'the end'"),
        ("[1, 2", 6, "expected ',' but found 'the end'"),
        ("a b", 3, "unexpected 'b'"),
        ("1 < 2 < 3", 7, "unexpected '<'"),
        ("and", 1, "unexpected 'and'"),
        ("x in", 5, "unexpected end"),
        ("x == 1 )", 8, "unexpected ')'"),
        ("#{foo.x}", 1, "profile references read #{profile.<path>}"),
        ("1 == @event{}", 6, "@event{} names nothing"),
    ],
)
def test_errors_name_the_column(source: str, column: int, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    error = caught.value
    assert error.column == column
    assert reason in error.message
    assert f"at column {column} of {source!r}" in error.message
    (violation,) = error.violations
    assert (violation.pointer, violation.keyword) == (f"column {column}", "expression")
    assert reason in violation.message


def test_an_expression_error_is_a_400_class_error() -> None:
    assert issubclass(ExpressionError, InvalidRequestError)


def test_functions_can_be_restricted() -> None:
    with pytest.raises(ExpressionError, match="unknown function 'lower'"):
        parse("lower(x) == 'a'", functions={})


# null semantics


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("missing", None),
        ("order.nothing.deeper", None),
        ("order.items[5].sku", None),
        ("order.total.sku", None),
        ("order.items.sku", None),
        ("missing == null", True),
        ("null == null", True),
        ("missing != null", False),
        ("order.count == null", False),
        ("order.count != null", True),
        ("missing < 1", False),
        ("missing <= 1", False),
        ("missing > 1", False),
        ("missing >= 1", False),
        ("1 > missing", False),
        ("missing == 0", False),
        ("missing == ''", False),
        ("missing + 1", None),
        ("-missing", None),
        ("1 / 0", None),
        ("1 % 0", None),
        ("'a' * 2", None),
        ("true + 1", None),
        ("'a' < 1", False),
        ("missing and true", False),
        ("missing or true", True),
        ("not missing", True),
        ("missing ?? 'default'", "default"),
        ("person.empty ?? 'default'", ""),
        ("person.vip and 1", False),
    ],
)
def test_null_semantics(source: str, value: Any) -> None:
    assert ev(source) == value


def test_test_is_true_only_for_true() -> None:
    assert parse("order.count").test(PAYLOAD) is False
    assert parse("person.name").test(PAYLOAD) is False
    assert parse("missing").test(PAYLOAD) is False
    assert parse("person.vip").test(PAYLOAD) is True
    assert parse("order.count == 3").test(PAYLOAD) is True


def test_a_non_object_payload_node_reads_as_null() -> None:
    assert ev("a.b", {"a": [1, 2]}) is None
    assert ev("a[0]", {"a": {"0": 1}}) is None
    assert ev("a[1]", {"a": "xy"}) is None


# comparisons and dates


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("1 == 1.0", True),
        ("'b' > 'a'", True),
        ("order.total >= 42.5", True),
        ("order.total > 42.5", False),
        ("order.count <= 3 and order.count >= 3", True),
        ("order.tags == ['new', 'vip']", True),
        ("toDateTime(when) > '2024-02-29T23:59:59Z'", True),
        ("toDateTime(when) < '2024-03-01T13:00:00+01:00'", False),
        ("toDateTime(when) == '2024-03-01T12:00:00.000Z'", True),
        ("toDateTime('not a date') == null", True),
        ("dateWithDelta(when, 1, 'days') > toDateTime('2024-03-02T11:00:00Z')", True),
        ("hourOf(when)", 12),
        ("dayOfWeek(when)", 5),
    ],
)
def test_comparisons_and_dates(source: str, value: Any) -> None:
    assert ev(source) == value


def test_clock_functions_read_the_scope() -> None:
    now_ms = int(datetime(2024, 3, 10, tzinfo=UTC).timestamp() * 1000)
    scope = Scope(payload=PAYLOAD, now_ms=now_ms)
    assert parse("now()").evaluate(scope) == datetime(2024, 3, 10, tzinfo=UTC)
    assert parse("now() > when").test(scope)
    assert parse("inLastDays(when, 10)").test(scope)
    assert not parse("inLastDays(when, 5)").test(scope)
    assert parse("nowWithDelta(-9, 'day') < when").test(scope)
    assert parse("nowWithDelta(1, 'fortnights')").evaluate(scope) is None


# functions


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("lower(person.email)", "ada@example.com"),
        ("upper(person.name)", "ADA"),
        ("trim('  x ')", "x"),
        ("length(person.name)", 3),
        ("length(order.items)", 2),
        ("length(order.count)", None),
        ("contains(person.email, '@example')", True),
        ("contains(person.email, 'nope')", False),
        ("contains(missing, 'x')", False),
        ("startsWith(eventType, 'commerce.')", True),
        ("endsWith(eventType, '.purchases')", True),
        ("endsWith(order.count, '3')", False),
        ("isEmpty(person.empty)", True),
        ("isEmpty(missing)", True),
        ("isEmpty([])", True),
        ("isEmpty(person.name)", False),
        ("isNotEmpty(person.name)", True),
        ("isNotEmpty(missing)", False),
        ("concat(person.name, '-', order.count, missing)", "Ada-3"),
        ("substr(eventType, 0, 8)", "commerce"),
        ("substr(eventType, 9)", "purchases"),
        ("toString(true)", "true"),
        ("toString(order.count)", "3"),
        ("toNumber('12')", 12),
        ("toNumber('1.5')", 1.5),
        ("toNumber('x')", None),
        ("count(order.tags)", 2),
        ("listContains(order.tags, 'vip')", True),
        ("first(order.tags)", "new"),
        ("last(order.tags)", "vip"),
        ("first([])", None),
        ("abs(-3)", 3),
        ("round(2.567, 2)", 2.57),
        ("floor(2.7)", 2),
        ("ceil(2.1)", 3),
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("max(3, 'x')", None),
        ("lower(order.count)", None),
        ("lower()", None),
        ("lower('A', 'B')", None),
        ("lower(person.name) == 'ada' and upper(person.name) == 'ADA'", True),
    ],
)
def test_functions(source: str, value: Any) -> None:
    assert ev(source) == value


# in


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("eventType in ['commerce.purchases', 'commerce.checkouts']", True),
        ("eventType in ['web.webpagedetails.pageViews']", False),
        ("order.count in [1, 2, 3]", True),
        ("order.count + 1 in [4]", True),
        ("'vip' in order.tags", True),
        ("'gold' in order.tags", False),
        ("missing in [null]", True),
        ("missing in [1]", False),
        ("1 in missing", False),
        ("'a' in 'abc'", False),
        ("'a' in []", False),
        ("not eventType in ['x']", True),
        ("eventType in ['x'] or order.count in [3]", True),
        ("lower(person.email) in ['ada@example.com']", True),
    ],
)
def test_in(source: str, value: Any) -> None:
    assert ev(source) == value


def test_in_takes_a_sum_on_both_sides() -> None:
    assert parse("a + 1 in [b]").tree == Binary(
        "in",
        Binary("+", Path(("a",), 1), Literal(1)),
        ListNode((Path(("b",), 11),)),
    )


def test_parsed_once_evaluated_many_times() -> None:
    expr = parse("order.total >= 10 and eventType == 'commerce.purchases'")
    payloads = [
        {"eventType": "commerce.purchases", "order": {"total": t}} for t in (5, 10, 15, None)
    ]
    assert [expr.test(p) for p in payloads] == [False, True, True, False]
    assert expr.source == "order.total >= 10 and eventType == 'commerce.purchases'"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("1 < 'a'", "a number and a string cannot be compared with <"),
        ("[1] >= 2", "a list and a number cannot be compared with >="),
        ("'a' - 1", "- does not apply to a string and a number"),
        ("true * 2", "* does not apply to a boolean and a number"),
        ("5 % 0", "division by zero (%)"),
        ("length(1, 2)", "length() cannot take (number, number)"),
    ],
)
def test_strict_evaluation_says_what_an_operator_cannot_take(source: str, message: str) -> None:
    expression = parse(source)
    with pytest.raises(EvaluationError) as raised:
        expression.evaluate(Scope(strict=True))
    assert str(raised.value) == message
    # lenient (templates, waits): null or false, never an error
    assert expression.evaluate(Scope()) in (None, False)


@pytest.mark.parametrize("source", ["missing < 1", "missing + 1", "1 / missing", "missing == 2"])
def test_strict_evaluation_reads_a_missing_value_as_null(source: str) -> None:
    assert parse(source).evaluate(Scope(strict=True)) in (None, False)


# limits: no expression costs more than a small fixed amount, whatever its author wrote


def nested_lists(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


HALF = MAX_DEPTH // 2
# (source at the limit, its value, the source one level over, the column that goes over)
NESTED: dict[str, tuple[str, Any, str, int]] = {
    "parentheses": (
        "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH,
        1,
        "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
        MAX_DEPTH + 1,
    ),
    "not": (
        "not " * MAX_DEPTH + "true",
        True,
        "not " * (MAX_DEPTH + 1) + "true",
        4 * MAX_DEPTH + 1,
    ),
    "minus": ("-" * MAX_DEPTH + "1", 1, "-" * (MAX_DEPTH + 1) + "1", MAX_DEPTH + 1),
    "a chain of +": (
        "1" + " + 1" * MAX_DEPTH,
        MAX_DEPTH + 1,
        "1" + " + 1" * (MAX_DEPTH + 1),
        4 * (MAX_DEPTH + 1) - 1,
    ),
    "lists": (
        "[" * MAX_DEPTH + "]" * MAX_DEPTH,
        nested_lists(MAX_DEPTH),
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        MAX_DEPTH + 1,
    ),
    "calls": (
        "abs(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH,
        1,
        "abs(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
        4 * MAX_DEPTH + 1,
    ),
    "or in parentheses": (
        "a or (" * HALF + "b" + ")" * HALF,
        True,
        "a or (" * HALF + "b or c" + ")" * HALF,
        6 * HALF + 3,
    ),
}


class Watched(str):
    """A source that counts the characters sliced out of it."""

    copied = 0

    def __getitem__(self, key: Any) -> str:
        part = super().__getitem__(key)
        self.copied += len(part)
        return part


def frames() -> int:
    frame: FrameType | None = sys._getframe()
    depth = 0
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


def test_the_tokenizer_reads_the_source_once() -> None:
    source = Watched("order.count + 1 == 'x' and " * 370 + "true")
    assert MAX_LENGTH - 100 < len(source) <= MAX_LENGTH
    tokens = tokenize(source)
    assert len(tokens) == 8 * 370 + 2
    # nothing of the rest is copied token after token (that was quadratic: 1 MB took seconds)
    assert source.copied == 0


def test_a_source_over_the_length_limit_is_refused_before_it_is_read() -> None:
    source = Watched("1 + " * 250_000 + "1")
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    error = caught.value
    assert error.column == MAX_LENGTH + 1
    assert f"longer than {MAX_LENGTH:,} characters (it has 1,000,001)" in error.message
    assert source.copied <= 100  # only the part the message quotes
    assert len(error.message) < 300


def test_an_error_quotes_a_long_source_around_its_column() -> None:
    source = "x == 1 and " * 100 + "y == $"
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    message = caught.value.message
    assert f"at column {len(source)} of …'" in message
    assert message.endswith(f"y == $' ({len(source):,} characters)")
    assert len(message) < 200


@pytest.mark.parametrize("shape", NESTED)
def test_nesting_up_to_the_limit_parses_and_evaluates(shape: str) -> None:
    source, value, _, _ = NESTED[shape]
    assert parse(source).evaluate({"b": True}) == value


@pytest.mark.parametrize("shape", NESTED)
def test_nesting_over_the_limit_is_refused_with_its_column(shape: str) -> None:
    _, _, source, column = NESTED[shape]
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    assert caught.value.column == column
    assert f"nested more than {MAX_DEPTH} levels deep" in caught.value.message


@pytest.mark.parametrize(
    "source",
    [
        "(" * 300 + "1" + ")" * 300,
        "not " * 2_400 + "true",
        "1" + " + 1" * 990,
        "-" * 9_999 + "1",
        "[" * 5_000 + "]" * 5_000,
        "a ?? " * 1_999 + "b",
    ],
)
def test_no_input_reaches_the_recursion_limit(source: str) -> None:
    with pytest.raises(ExpressionError, match="nested more than"):
        parse(source)


def test_the_deepest_expressions_need_few_frames_to_parse_and_evaluate() -> None:
    """So that no caller's stack can make one overflow: 300 frames are plenty."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(frames() + 300)
    try:
        for source, value, _, _ in NESTED.values():
            assert parse(source).evaluate({"b": True}) == value
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("1" * 5_000, 1),
        ("x > " + "9" * (MAX_NUMBER_DIGITS + 1), 5),
        ("1." + "5" * MAX_NUMBER_DIGITS, 1),
        ("a[" + "1" * (MAX_NUMBER_DIGITS + 1) + "]", 3),
    ],
)
def test_a_number_of_too_many_digits_is_refused(source: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    assert caught.value.column == column
    assert f"a number of more than {MAX_NUMBER_DIGITS} digits" in caught.value.message


def test_numbers_up_to_the_limits() -> None:
    assert ev("9" * (MAX_NUMBER_DIGITS - 1) + ".5") == float("9" * (MAX_NUMBER_DIGITS - 1) + ".5")
    assert ev(str(2**63 - 1)) == 2**63 - 1
    with pytest.raises(ExpressionError, match="an integer lies within"):
        parse(str(2**63))


BEYOND_64_BITS = (
    "9223372036854775807 + 1",
    "-9223372036854775807 - 2",
    "3037000500 * 3037000500",
    "abs(-9223372036854775807 - 1)",
    "-(-9223372036854775807 - 1)",
    "toNumber('99999999999999999999')",
    "floor(99999999999999999999.0)",
)


@pytest.mark.parametrize("source", BEYOND_64_BITS)
def test_integers_beyond_64_bits_are_values_an_operator_cannot_take(source: str) -> None:
    expression = parse(source)
    assert expression.evaluate(Scope()) is None
    with pytest.raises(EvaluationError, match="beyond"):
        expression.evaluate(Scope(strict=True))


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("round(5, -1000000)", None),
        ("toDateTime(99999999999999999999.0)", None),
        ("nowWithDelta(99999999999999999999.0, 'days')", None),
        ("dateWithDelta(now(), -99999999999999999999.0, 'weeks')", None),
        ("inLastDays(now(), 99999999999999999999.0)", None),
        ("now() < 99999999999999999999.0", False),
    ],
)
def test_functions_out_of_range_give_null(source: str, value: bool | None) -> None:
    for scope in (Scope(), Scope(strict=True)):
        assert parse(source).evaluate(scope) is value


def test_an_evaluation_spends_a_step_a_node() -> None:
    budget = Budget(100)
    assert parse("1 + 2 * 3 == 7 and not missing").evaluate({}, budget) is True
    assert budget.left == 100 - 10  # 1, 2, 3, *, +, 7, ==, missing, not, and
    source = "[" + ", ".join(["x"] * 99) + "]"
    assert len(parse(source).evaluate({"x": 1}, Budget(100))) == 99
    with pytest.raises(EvaluationError, match="budget"):
        parse(source).evaluate({"x": 1}, Budget(99))


def longest_list(item: str) -> str:
    """A list of ``item`` as long as an expression may be."""
    count = (MAX_LENGTH - 1) // (len(item) + 1)
    return "[" + ",".join([item] * count) + "]"


@pytest.mark.parametrize("item", ["x", "-x", "(1+1)*(1+1)", "abs(x)", "not x"])
def test_every_expression_fits_its_budget_on_small_data(item: str) -> None:
    """A tree has fewer nodes than its source has characters, and each is visited once."""
    expression = parse(longest_list(item))
    assert len(expression.source) > MAX_LENGTH - len(item) - 1
    assert len(expression.nodes()) <= len(expression.source)
    budget = Budget()
    expression.evaluate(Scope(payload={"x": 1}), budget)
    assert budget.left == MAX_STEPS - len(expression.nodes())


BIG = {
    "a": "a" * 1_000_000,
    "b": "b" * 1_000_000,
    "items": list(range(20_000)),
    "person": {str(i): {"n": i} for i in range(6_000)},
}


@pytest.mark.parametrize(
    ("source", "steps"),
    [
        ("contains(a, b)", 3 + 2_000),
        ("a + b", 3 + 2_000),
        ("upper(a) == b", 4 + 1_000 + 1_000 + 1_000 + 1_000),
        ("count(items)", 2),
        ("length(a)", 2),
        ("first(items)", 2),
    ],
)
def test_what_an_operator_reads_whole_costs_by_its_size(source: str, steps: int) -> None:
    budget = Budget()
    parse(source).evaluate(BIG, budget)
    assert MAX_STEPS - budget.left == steps


@pytest.mark.parametrize(
    "source",
    [
        "[" + ", ".join(["contains(a, b)"] * 6) + "]",
        "a + a + a + a + a + a + a + a + a + a",
        "concat(a, a, a, a, a, a, a, a, a, a)",
        "items == items",
        "3 in items",
        "listContains(items, 3)",
        "toString(person)",
        "person == person",
    ],
)
def test_data_over_the_budget_is_an_evaluation_error_strict_or_not(source: str) -> None:
    expression = parse(source)
    for scope in (Scope(payload=BIG), Scope(payload=BIG, strict=True)):
        with pytest.raises(EvaluationError, match="over its budget"):
            expression.evaluate(scope)


def test_one_budget_can_be_shared_by_evaluations() -> None:
    budget = Budget(1_500)
    assert parse("contains(a, 'x')").test(BIG, budget) is False
    assert budget.left == 1_500 - 3 - 1_000
    with pytest.raises(EvaluationError):
        parse("contains(a, 'x')").test(BIG, budget)
