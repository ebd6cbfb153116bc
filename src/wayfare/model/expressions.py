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
    call     := name "(" (expr ("," expr)*)? ")"
    list     := "[" (expr ("," expr)*)? "]"

A missing field evaluates to null; ordering comparisons (``< <= > >=``) with null are false,
while ``==`` and ``!=`` treat null as a value (``missing == null`` and ``missing != 1`` hold).
Date-times compare with each other and with ISO 8601 strings. Functions: see ``functions.py``.
Errors name the column (1-based) where parsing failed.

Values an operator cannot take (``1 < 'a'``, ``'a' * 2``, a division by zero, a function given
the wrong arguments) give null or false; evaluated strictly (a journey's conditions), they raise
EvaluationError instead, so the condition takes its error path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wayfare.errors import InvalidRequestError, Violation
from wayfare.model.functions import FUNCTIONS, to_datetime

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<ref>@event\{[^}]*\}|@action\{[^}]*\}|#\{[^}]*\})"
    r"|(?P<op>==|!=|<=|>=|\?\?|[<>()\[\],.+\-*/%])|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}


class ExpressionError(InvalidRequestError):
    """An expression that does not parse or names what does not exist; says the column."""

    def __init__(self, source: str, column: int, reason: str) -> None:
        super().__init__(
            f"{reason} at column {column} of {source!r}",
            violations=(Violation(f"column {column}", "expression", reason),),
        )
        self.column = column


class EvaluationError(Exception):
    """A strict evaluation met values an operator cannot take (a number below a string, a
    division by zero, a function given the wrong arguments). A missing value is not one: it
    reads null, as it always does."""


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


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            column = pos + len(source[pos:]) - len(source[pos:].lstrip()) + 1
            raise ExpressionError(source, column, f"unexpected character {source[column - 1]!r}")
        kind = match.lastgroup or "op"
        start = match.start(kind)
        tokens.append(Token(kind, match.group(kind), start + 1))
        pos = match.end()
    tokens.append(Token("end", "", len(source) + 1))
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


Node = Literal | Path | Ref | Unary | Binary | ListNode | Call

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(text: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _STEP.findall(text)]


class _Parser:
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

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.fail("empty expression")
        node = self.default()
        if self.tok.kind != "end":
            raise self.fail(f"unexpected {self.tok.text!r}")
        return node

    def default(self) -> Node:
        node = self.or_()
        while self.accept("??"):
            node = Binary("??", node, self.or_())
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.accept("or"):
            node = Binary("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.accept("and"):
            node = Binary("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.accept("not"):
            return Unary("not", self.not_())
        return self.compare()

    def compare(self) -> Node:
        node = self.sum()
        op = self.accept("==", "!=", "<", "<=", ">", ">=", "in")
        if op is None:
            return node
        return Binary(op.text, node, self.sum())

    def sum(self) -> Node:
        node = self.product()
        while (op := self.accept("+", "-")) is not None:
            node = Binary(op.text, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (op := self.accept("*", "/", "%")) is not None:
            node = Binary(op.text, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.accept("-"):
            return Unary("-", self.unary())
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            return Literal(float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "string":
            self.i += 1
            return Literal(re.sub(r"\\(.)", r"\1", tok.text[1:-1]))
        if tok.kind == "ref":
            self.i += 1
            return self.ref(tok)
        if self.accept("("):
            node = self.default()
            self.expect(")")
            return node
        if self.accept("["):
            return ListNode(self.items("]"))
        if tok.kind == "name":
            if tok.text in ("true", "false", "null"):
                self.i += 1
                return Literal({"true": True, "false": False, "null": None}[tok.text])
            if tok.text in _KEYWORDS:
                raise self.fail(f"unexpected {tok.text!r}")
            self.i += 1
            if self.accept("("):
                if tok.text not in self.functions:
                    raise self.fail(f"unknown function {tok.text!r}", tok)
                return Call(tok.text, self.items(")"), tok.column)
            return self.path(tok)
        raise self.fail(f"unexpected {tok.text!r}" if tok.kind != "end" else "unexpected end")

    def items(self, closing: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if self.accept(closing):
            return ()
        while True:
            items.append(self.default())
            if self.accept(closing):
                return tuple(items)
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

    def nodes(self) -> list[Node]:
        found: list[Node] = []

        def walk(node: Node) -> None:
            found.append(node)
            if isinstance(node, Path | Ref | Literal):
                return
            elif isinstance(node, Unary):
                walk(node.operand)
            elif isinstance(node, Binary):
                walk(node.left)
                walk(node.right)
            elif isinstance(node, ListNode | Call):
                for item in node.items if isinstance(node, ListNode) else node.args:
                    walk(item)

        walk(self.tree)
        return found

    def evaluate(self, data: Mapping[str, Any] | Scope) -> Any:
        """The value, reading bare paths from ``data`` (or everything from a Scope)."""
        scope = data if isinstance(data, Scope) else Scope(payload=data)
        return _eval(self.tree, scope)

    def test(self, data: Mapping[str, Any] | Scope) -> bool:
        return self.evaluate(data) is True


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


def _compare(op: str, a: Any, b: Any, strict: bool) -> bool:
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
        if strict:
            raise EvaluationError(
                f"a {_kind(a)} and a {_kind(b)} cannot be compared with {op}"
            ) from None
        return False


def _arith(op: str, a: Any, b: Any, strict: bool) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
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
        if strict:
            raise EvaluationError(f"{op} does not apply to a {_kind(a)} and a {_kind(b)}")
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        if strict:
            raise EvaluationError(f"division by zero ({op})")
        return None
    return a / b if op == "/" else a % b


def _eval(node: Node, scope: Scope) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Path):
        return resolve(scope.payload, node.parts)
    if isinstance(node, Ref):
        if node.kind == "profile":
            return resolve(scope.profile, node.parts)
        source = scope.events if node.kind == "event" else scope.actions
        return resolve(source.get(node.name), node.parts)
    if isinstance(node, Unary):
        value = _eval(node.operand, scope)
        if node.op == "not":
            return value is not True
        return -value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if isinstance(node, Binary):
        if node.op == "and":
            return _eval(node.left, scope) is True and _eval(node.right, scope) is True
        if node.op == "or":
            return _eval(node.left, scope) is True or _eval(node.right, scope) is True
        if node.op == "??":
            left = _eval(node.left, scope)
            return left if left is not None else _eval(node.right, scope)
        left, right = _eval(node.left, scope), _eval(node.right, scope)
        if node.op == "in":
            return isinstance(right, list) and left in right
        if node.op in ("+", "-", "*", "/", "%"):
            return _arith(node.op, left, right, scope.strict)
        return _compare(node.op, left, right, scope.strict)
    if isinstance(node, ListNode):
        return [_eval(item, scope) for item in node.items]
    args = [_eval(a, scope) for a in node.args]
    try:
        return FUNCTIONS[node.name](scope, *args)
    except TypeError:
        if scope.strict:
            kinds = ", ".join("null" if a is None else _kind(a) for a in args)
            raise EvaluationError(f"{node.name}() cannot take ({kinds})") from None
        return None  # wrong arguments at run time: null, never a crash
