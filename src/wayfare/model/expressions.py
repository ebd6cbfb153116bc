"""A small expression language, parsed once into a tree and evaluated many times.

Grammar (precedence low to high)::

    expr     := default
    default  := or ("??" or)*                             left unless it is null
    or       := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | compare
    compare  := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum | "in" list)?
    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/" | "%") unary)*
    unary    := "-" unary | primary
    primary  := literal | path | ref | call | "(" expr ")" | list
    literal  := string ('..' or "..") | number | true | false | null
    path     := name ("." name | "[" integer "]")*       a field of the payload
    ref      := "@event{" Event.path "}" | "@action{" Action.path "}" | "#{profile." path "}"
    call     := name "(" (expr ("," expr)*)? ")" | events
    events   := "count(" Event "in last" integer unit ")"   the person's events of that name
                                                            within the window (audiences)
    list     := "[" (expr ("," expr)*)? "]"

A missing field evaluates to null; ordering comparisons (``< <= > >=``) with null are false,
while ``==`` and ``!=`` treat null as a value (``missing == null`` and ``missing != 1`` hold).
Date-times compare with each other and with ISO 8601 strings. Functions: see ``functions.py``.
Errors name the column (1-based) where parsing failed.

``count(purchase in last 7 days)`` counts the person's events named ``purchase`` received
within the last 7 days (units: minutes, hours, days, weeks; at most ``MAX_EVENT_WINDOW_DAYS``
days); the caller gives these counts in the Scope (``event_counts``), keyed by the term's
event name and window, and an absent count reads 0.

Values an operator cannot take (``1 < 'a'``, ``'a' * 2``, a division by zero, a function given
the wrong arguments, an integer result beyond 64 bits) give null or false; evaluated strictly
(a journey's conditions), they raise EvaluationError instead, so the condition takes its error
path.

Limits, so that no expression costs more than a small fixed amount, whoever wrote it:

- Parsing refuses a source over ``MAX_LENGTH`` characters before reading it, nesting over
  ``MAX_DEPTH`` levels (each parenthesis, list, call, ``not``, ``-`` and binary operator is a
  level: ``1 + 1 + 1`` is two deep), a number of over ``MAX_NUMBER_DIGITS`` digits and an
  integer beyond 64 bits. The tokenizer reads the source once, left to right; the parser
  recurses at most a few frames a level, so no input reaches Python's recursion limit.
- An evaluation takes at most ``MAX_STEPS`` steps (``Budget``): one a node it visits, plus,
  for what an operator or function reads whole or builds, one per ``TEXT_PER_STEP``
  characters of text and one per value a list or object holds (all levels down). The tree
  has fewer nodes than its source has characters and each is visited once, so the nodes
  alone always fit; what overruns is data: a budget spent raises EvaluationError, lenient
  or not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wayfare.errors import InvalidRequestError, Violation
from wayfare.model.functions import FUNCTIONS, to_datetime

MAX_LENGTH = 10_000
"""Characters in one expression (a template's holes count one by one)."""
MAX_DEPTH = 64
"""Levels of nesting: parentheses, lists, calls, unary and binary operators."""
MAX_NUMBER_DIGITS = 30
"""Digits in a number literal, its decimals included."""
MAX_STEPS = 10_000
"""Steps of one evaluation (see ``Budget``)."""
TEXT_PER_STEP = 1_000
"""Characters of text an operator or function reads or builds for one step."""
MAX_EVENT_WINDOW_DAYS = 91
"""The longest window of an event count (``count(purchase in last 91 days)``), Adobe's
journey timeout: the person's events are not kept longer for audiences."""
INTEGER_LIMIT = 2**63
"""Integers lie strictly within ±INTEGER_LIMIT, as JSON documents stored and sent can
hold them."""

_TOKEN = re.compile(
    r"(?P<number>\d+(?:\.\d+)?)|(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<ref>@event\{[^}]*\}|@action\{[^}]*\}|#\{[^}]*\})"
    r"|(?P<op>==|!=|<=|>=|\?\?|[<>()\[\],.+\-*/%])|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
)
_NON_SPACE = re.compile(r"\S")
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_QUOTED = 80
"""Characters of the source an error quotes; a longer source is quoted around the column."""


def _quoted(source: str, column: int) -> str:
    if len(source) <= _QUOTED:
        return repr(source)
    start = min(max(0, column - 1 - _QUOTED // 2), len(source) - _QUOTED)
    before = "…" if start > 0 else ""
    after = "…" if start + _QUOTED < len(source) else ""
    return f"{before}{source[start : start + _QUOTED]!r}{after} ({len(source):,} characters)"


class ExpressionError(InvalidRequestError):
    """An expression that does not parse, is over a limit or names what does not exist;
    says the column."""

    def __init__(self, source: str, column: int, reason: str) -> None:
        super().__init__(
            f"{reason} at column {column} of {_quoted(source, column)}",
            violations=(Violation(f"column {column}", "expression", reason),),
        )
        self.column = column


class EvaluationError(Exception):
    """A strict evaluation met values an operator cannot take (a number below a string, a
    division by zero, a function given the wrong arguments), or any evaluation spent its
    budget. A missing value is not one: it reads null, as it always does."""


class _Unfit(Exception):
    """Values an operator or function cannot take: ``lenient`` (null, or false for a
    comparison) when lenient, EvaluationError when strict."""

    def __init__(self, reason: str, lenient: Any = None) -> None:
        super().__init__(reason)
        self.lenient = lenient


def _spent() -> EvaluationError:
    return EvaluationError("the expression went over its budget of evaluation steps")


class Budget:
    """The steps an evaluation may still take. One budget may be shared by several
    evaluations (the rule-based conditions of one message)."""

    __slots__ = ("left",)

    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.left = steps

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise _spent()

    def read(self, value: Any) -> None:
        """Spend what reading ``value`` whole costs."""
        if isinstance(value, str):
            self.spend(len(value) // TEXT_PER_STEP)
        elif isinstance(value, list | dict):
            self.spend(_held(value, self.left))


def _held(value: list[Any] | dict[str, Any], most: int) -> int:
    """The values ``value`` holds, all levels down, its texts by the TEXT_PER_STEP
    characters; counting stops once past ``most``."""
    count, stack = 0, [value]
    while stack and count <= most:
        item = stack.pop()
        if isinstance(item, str):
            count += len(item) // TEXT_PER_STEP
        elif isinstance(item, list | dict):
            count += len(item)
            if count <= most:
                stack.extend(item.values() if isinstance(item, dict) else item)
    return count


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date-time"
    return "list" if isinstance(value, list) else "object"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number | string | op | name | end
    text: str
    column: int


def _skip_space(source: str, pos: int) -> int:
    found = _NON_SPACE.search(source, pos)
    return found.start() if found else len(source)


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``, read once from left to right (each match starts where the
    last ended; nothing of the source is copied but the tokens themselves)."""
    if len(source) > MAX_LENGTH:
        raise ExpressionError(
            source,
            MAX_LENGTH + 1,
            f"longer than {MAX_LENGTH:,} characters (it has {len(source):,})",
        )
    tokens: list[Token] = []
    end = len(source)
    pos = _skip_space(source, 0)
    while pos < end:
        match = _TOKEN.match(source, pos)
        if match is None:
            raise ExpressionError(source, pos + 1, f"unexpected character {source[pos]!r}")
        kind = match.lastgroup or "op"
        text = match.group(kind)
        if kind == "number" and len(text) - text.count(".") > MAX_NUMBER_DIGITS:
            raise ExpressionError(
                source, pos + 1, f"a number of more than {MAX_NUMBER_DIGITS} digits"
            )
        tokens.append(Token(kind, text, pos + 1))
        pos = _skip_space(source, match.end())
    tokens.append(Token("end", "", end + 1))
    return tokens


# the tree
@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Path:
    parts: tuple[str | int, ...]
    column: int

    @property
    def dotted(self) -> str:
        out = ""
        for part in self.parts:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out


@dataclass(frozen=True, slots=True)
class Ref:
    """``@event{Name.path}``, ``@action{Name.path}`` or ``#{profile.path}``."""

    kind: str  # event | action | profile
    name: str
    parts: tuple[str | int, ...]
    column: int

    @property
    def dotted(self) -> str:
        return Path(self.parts, self.column).dotted if self.parts else ""


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class ListNode:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    column: int


@dataclass(frozen=True, slots=True)
class EventCount:
    """``count(Event in last 7 days)``: how many of the person's events named ``event`` were
    received within the last ``window_ms``."""

    event: str
    window_ms: int
    column: int

    @property
    def key(self) -> tuple[str, int]:
        """What a Scope's ``event_counts`` holds this term's count under."""
        return (self.event, self.window_ms)


Node = Literal | Path | Ref | Unary | Binary | ListNode | Call | EventCount

_WINDOW_UNITS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 604_800_000}
_WINDOW_UNITS |= {f"{unit}s": ms for unit, ms in list(_WINDOW_UNITS.items())}

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
# How tightly each operator binds (the grammar above, low to high). Comparisons take one
# sum on each side, no chain; `not` and `-` are prefixes at their level.
_LEVEL = {"??": 1, "or": 2, "and": 3, "+": 6, "-": 6, "*": 7, "/": 7, "%": 7}
_LEVEL |= dict.fromkeys(("==", "!=", "<", "<=", ">", ">=", "in"), 5)
_NOT, _COMPARE, _NEGATE = 4, 5, 8


def _steps(text: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _STEP.findall(text)]


class _Parser:
    """Precedence climbing: an operand, then operators as long as they bind at least as
    tightly as the caller asks. A chain (``a + b + c``) is a loop, not a recursion; each
    method returns the node with its height (the levels of nesting it holds), and ``depth``
    counts the levels around it, so the limit is checked before going deeper."""

    def __init__(self, source: str, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0
        self.functions = functions

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, reason: str, token: Token | None = None) -> ExpressionError:
        return ExpressionError(self.source, (token or self.tok).column, reason)

    def accept(self, *texts: str) -> Token | None:
        if self.tok.kind in ("op", "name") and self.tok.text in texts:
            token = self.tok
            self.i += 1
            return token
        return None

    def expect(self, text: str) -> Token:
        token = self.accept(text)
        if token is None:
            found = self.tok.text or "the end"
            raise self.fail(f"expected {text!r} but found {found!r}")
        return token

    def within(self, levels: int, token: Token) -> None:
        if levels > MAX_DEPTH:
            raise self.fail(
                f"nested more than {MAX_DEPTH} levels deep (each parenthesis, list, call "
                "and operator is a level)",
                token,
            )

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.fail("empty expression")
        node, _ = self.expression(0, 0)
        if self.tok.kind != "end":
            raise self.fail(f"unexpected {self.tok.text!r}")
        return node

    def expression(self, depth: int, floor: int) -> tuple[Node, int]:
        """Operators binding at ``floor`` or tighter, ``depth`` levels down."""
        node, height = self.operand(depth, floor)
        compared = False
        while True:
            tok = self.tok
            level = _LEVEL.get(tok.text, 0) if tok.kind in ("op", "name") else 0
            if level == 0 or level < floor:
                return node, height
            if level == _COMPARE and compared:
                raise self.fail(f"unexpected {tok.text!r}")
            self.i += 1
            self.within(depth + 1, tok)
            right, right_height = self.expression(depth + 1, level + 1)
            node, height = Binary(tok.text, node, right), 1 + max(height, right_height)
            self.within(depth + height, tok)
            compared = level == _COMPARE

    def operand(self, depth: int, floor: int) -> tuple[Node, int]:
        tok = self.tok
        if tok.kind == "name" and tok.text == "not" and floor <= _NOT:
            self.i += 1
            self.within(depth + 1, tok)
            operand, height = self.expression(depth + 1, _NOT)
            return Unary("not", operand), height + 1
        if self.accept("-"):
            self.within(depth + 1, tok)
            operand, height = self.operand(depth + 1, _NEGATE)
            return Unary("-", operand), height + 1
        return self.primary(depth)

    def primary(self, depth: int) -> tuple[Node, int]:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            return self.number(tok), 0
        if tok.kind == "string":
            self.i += 1
            return Literal(re.sub(r"\\(.)", r"\1", tok.text[1:-1])), 0
        if tok.kind == "ref":
            self.i += 1
            return self.ref(tok), 0
        if self.accept("("):
            self.within(depth + 1, tok)
            node, height = self.expression(depth + 1, 0)
            self.expect(")")
            return node, height + 1
        if self.accept("["):
            self.within(depth + 1, tok)
            items, height = self.items(depth + 1, "]")
            return ListNode(items), height + 1
        if tok.kind == "name":
            if tok.text in ("true", "false", "null"):
                self.i += 1
                return Literal({"true": True, "false": False, "null": None}[tok.text]), 0
            if tok.text in _KEYWORDS:
                raise self.fail(f"unexpected {tok.text!r}")
            self.i += 1
            if tok.text == "count" and self.counts_events():
                self.within(depth + 1, tok)
                return self.event_count(tok), 1
            if self.accept("("):
                if tok.text not in self.functions:
                    raise self.fail(f"unknown function {tok.text!r}", tok)
                self.within(depth + 1, tok)
                args, height = self.items(depth + 1, ")")
                return Call(tok.text, args, tok.column), height + 1
            return self.path(tok), 0
        raise self.fail(f"unexpected {tok.text!r}" if tok.kind != "end" else "unexpected end")

    def counts_events(self) -> bool:
        """Whether the tokens after ``count`` read ``(Event in last`` and a number."""
        ahead = [(t.kind, t.text) for t in self.tokens[self.i : self.i + 5]]
        return (
            len(ahead) == 5
            and ahead[0] == ("op", "(")
            and ahead[1][0] == "name"
            and ahead[2] == ("name", "in")
            and ahead[3] == ("name", "last")
            and ahead[4][0] == "number"
        )

    def event_count(self, tok: Token) -> EventCount:
        """``(Event in last N unit)``, after ``count``."""
        self.expect("(")
        event = self.tok
        self.i += 3  # the event's name, "in", "last"
        amount, unit = self.tok, self.tokens[self.i + 1]
        self.i += 1
        if "." in amount.text or int(amount.text) < 1:
            raise self.fail("a window is a whole number of at least 1", amount)
        if unit.kind != "name" or unit.text not in _WINDOW_UNITS:
            raise self.fail("a window's unit is minutes, hours, days or weeks", unit)
        self.i += 1
        window_ms = int(amount.text) * _WINDOW_UNITS[unit.text]
        if window_ms > MAX_EVENT_WINDOW_DAYS * _WINDOW_UNITS["day"]:
            raise self.fail(f"a window is at most {MAX_EVENT_WINDOW_DAYS} days", amount)
        self.expect(")")
        return EventCount(event.text, window_ms, tok.column)

    def number(self, tok: Token) -> Literal:
        if "." in tok.text:
            return Literal(float(tok.text))
        value = int(tok.text)
        if value >= INTEGER_LIMIT:
            raise self.fail(
                f"an integer lies within ±{INTEGER_LIMIT - 1} (write a decimal point for a "
                "larger number)",
                tok,
            )
        return Literal(value)

    def items(self, depth: int, closing: str) -> tuple[tuple[Node, ...], int]:
        items: list[Node] = []
        height = 0
        if self.accept(closing):
            return (), 0
        while True:
            item, item_height = self.expression(depth, 0)
            items.append(item)
            height = max(height, item_height)
            if self.accept(closing):
                return tuple(items), height
            self.expect(",")

    def ref(self, tok: Token) -> Ref:
        kind = "profile" if tok.text.startswith("#") else tok.text[1 : tok.text.index("{")]
        inner = tok.text[tok.text.index("{") + 1 : -1].strip()
        steps = _steps(inner)
        if not steps or not isinstance(steps[0], str):
            raise self.fail(f"{tok.text} names nothing", tok)
        if kind == "profile":
            if steps[0] != "profile":
                raise self.fail("profile references read #{profile.<path>}", tok)
            return Ref(kind, "profile", tuple(steps[1:]), tok.column)
        return Ref(kind, steps[0], tuple(steps[1:]), tok.column)

    def path(self, first: Token) -> Path:
        parts: list[str | int] = [first.text]
        while True:
            if self.accept("."):
                if self.tok.kind != "name":
                    raise self.fail("expected a field name after '.'")
                parts.append(self.tok.text)
                self.i += 1
            elif self.accept("["):
                if self.tok.kind != "number" or "." in self.tok.text:
                    raise self.fail("expected an index")
                parts.append(int(self.tok.text))
                self.i += 1
                self.expect("]")
            else:
                return Path(tuple(parts), first.column)


@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression can read: the payload (bare paths), events by name, action
    responses by name, the profile, and the engine's clock."""

    payload: Mapping[str, Any] = field(default_factory=dict)
    events: Mapping[str, Any] = field(default_factory=dict)
    actions: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] = field(default_factory=dict)
    event_counts: Mapping[tuple[str, int], int] = field(default_factory=dict)
    """The person's events by (name, window in milliseconds): what ``count(Event in last
    …)`` reads; an absent one is 0."""
    now_ms: int = 0
    strict: bool = False
    """Raise EvaluationError where a lenient evaluation gives null or false (conditions)."""


@dataclass(frozen=True, slots=True)
class Expression:
    source: str
    tree: Node

    def paths(self) -> list[Path]:
        return [n for n in self.nodes() if isinstance(n, Path)]

    def refs(self) -> list[Ref]:
        return [n for n in self.nodes() if isinstance(n, Ref)]

    def event_counts(self) -> list[EventCount]:
        return [n for n in self.nodes() if isinstance(n, EventCount)]

    def nodes(self) -> list[Node]:
        """Every node, depth first, left to right."""
        found: list[Node] = []
        waiting: list[Node] = [self.tree]
        while waiting:
            node = waiting.pop()
            found.append(node)
            if isinstance(node, Unary):
                waiting.append(node.operand)
            elif isinstance(node, Binary):
                waiting += (node.right, node.left)
            elif isinstance(node, ListNode):
                waiting += reversed(node.items)
            elif isinstance(node, Call):
                waiting += reversed(node.args)
        return found

    def evaluate(self, data: Mapping[str, Any] | Scope, budget: Budget | None = None) -> Any:
        """The value, reading bare paths from ``data`` (or everything from a Scope), within
        ``budget`` (MAX_STEPS of its own when not given)."""
        scope = data if isinstance(data, Scope) else Scope(payload=data)
        return _eval(self.tree, scope, Budget() if budget is None else budget)

    def test(self, data: Mapping[str, Any] | Scope, budget: Budget | None = None) -> bool:
        return self.evaluate(data, budget) is True


def parse(source: str, functions: Mapping[str, Callable[..., Any]] = FUNCTIONS) -> Expression:
    return Expression(source, _Parser(source, functions).parse())


def resolve(data: Any, parts: Sequence[str | int]) -> Any:
    for part in parts:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and -len(data) <= part < len(data) else None
        else:
            data = data.get(part) if isinstance(data, dict) else None
        if data is None:
            return None
    return data


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, datetime) or isinstance(b, datetime):
        a, b = to_datetime(a), to_datetime(b)
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if a is None or b is None:
        return False
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        reason = f"a {_kind(a)} and a {_kind(b)} cannot be compared with {op}"
        raise _Unfit(reason, lenient=False) from None


def _number(value: Any) -> Any:
    """``value``, unless it is an integer beyond what JSON documents hold."""
    if isinstance(value, int) and not -INTEGER_LIMIT < value < INTEGER_LIMIT:
        raise _Unfit(f"the integer is beyond ±{INTEGER_LIMIT - 1}")
    return value


def _arith(op: str, a: Any, b: Any, budget: Budget) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        budget.spend((len(a) + len(b)) // TEXT_PER_STEP)
        return a + b
    if a is None or b is None:
        return None
    numbers = (int, float)
    if (
        not isinstance(a, numbers)
        or not isinstance(b, numbers)
        or isinstance(a, bool)
        or isinstance(b, bool)
    ):
        raise _Unfit(f"{op} does not apply to a {_kind(a)} and a {_kind(b)}")
    if op == "+":
        return _number(a + b)
    if op == "-":
        return _number(a - b)
    if op == "*":
        return _number(a * b)
    if b == 0:
        raise _Unfit(f"division by zero ({op})")
    return a / b if op == "/" else a % b


_SHALLOW = frozenset(("length", "count", "first", "last", "isEmpty", "isNotEmpty"))
"""Functions that read only the outside of their arguments, whatever their size."""


def _call(node: Call, scope: Scope, budget: Budget) -> Any:
    args = [_eval(a, scope, budget) for a in node.args]
    if node.name not in _SHALLOW:
        for arg in args:
            budget.read(arg)
    try:
        result = FUNCTIONS[node.name](scope, *args)
    except (TypeError, ValueError, ArithmeticError):
        kinds = ", ".join("null" if a is None else _kind(a) for a in args)
        raise _Unfit(f"{node.name}() cannot take ({kinds})") from None
    if isinstance(result, str) and node.name not in _SHALLOW:
        budget.read(result)
    return _number(result)


_WHOLE = (str, list, dict)
"""Values whose reading costs by their size (``Budget.read``)."""


def _eval(node: Node, scope: Scope, budget: Budget) -> Any:
    budget.left -= 1  # Budget.spend(1), inline: this runs for every node
    if budget.left < 0:
        raise _spent()
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Path):
        return resolve(scope.payload, node.parts)
    if isinstance(node, Ref):
        if node.kind == "profile":
            return resolve(scope.profile, node.parts)
        source = scope.events if node.kind == "event" else scope.actions
        return resolve(source.get(node.name), node.parts)
    if isinstance(node, EventCount):
        return scope.event_counts.get(node.key, 0)
    try:
        if isinstance(node, Binary):
            op = node.op
            if op == "and":
                return _eval(node.left, scope, budget) is True and (
                    _eval(node.right, scope, budget) is True
                )
            if op == "or":
                return _eval(node.left, scope, budget) is True or (
                    _eval(node.right, scope, budget) is True
                )
            left = _eval(node.left, scope, budget)
            if op == "??":
                return left if left is not None else _eval(node.right, scope, budget)
            right = _eval(node.right, scope, budget)
            if op in ("+", "-", "*", "/", "%"):
                return _arith(op, left, right, budget)
            if isinstance(left, _WHOLE):
                budget.read(left)
            if isinstance(right, _WHOLE):
                budget.read(right)
            if op == "in":
                return isinstance(right, list) and left in right
            return _compare(op, left, right)
        if isinstance(node, Unary):
            value = _eval(node.operand, scope, budget)
            if node.op == "not":
                return value is not True
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            return _number(-value) if numeric else None
        if isinstance(node, ListNode):
            return [_eval(item, scope, budget) for item in node.items]
        assert isinstance(node, Call)
        return _call(node, scope, budget)
    except _Unfit as unfit:
        if scope.strict:
            raise EvaluationError(str(unfit)) from None
        return unfit.lenient  # values an operator cannot take: null or false, never a crash
