"""Templates: strings with ``{{ expression }}`` holes, and JSON bodies made of them.

A string that is exactly one hole keeps the expression's type (a number stays a number);
otherwise values are turned into text. Parsed once when a journey is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wayfare.model.expressions import Expression, ExpressionError, Scope, parse
from wayfare.model.functions import FUNCTIONS


@dataclass(frozen=True, slots=True)
class Text:
    parts: tuple[str | Expression, ...]

    @property
    def expressions(self) -> Iterator[Expression]:
        return (p for p in self.parts if isinstance(p, Expression))

    def render(self, scope: Scope) -> Any:
        if len(self.parts) == 1 and isinstance(self.parts[0], Expression):
            return _plain(self.parts[0].evaluate(scope))
        return self.render_text(scope)

    def render_text(self, scope: Scope, escape: Callable[[str], str] = str) -> str:
        """As a string, each hole's value passed through ``escape`` (the text around it is
        taken as written)."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = _plain(part.evaluate(scope))
                out.append(escape("" if value is None else FUNCTIONS["toString"](scope, value)))
        return "".join(out)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return FUNCTIONS["toString"](None, value)
    return value


def _holes(source: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each hole's inside; braces of ``@event{...}`` inside are skipped."""
    pos = 0
    while (start := source.find("{{", pos)) != -1:
        depth, i = 0, start + 2
        while i < len(source):
            ch = source[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0 and source.startswith("}}", i):
                    break
                depth = max(0, depth - 1)
            i += 1
        else:
            return  # an unclosed hole is plain text
        yield start + 2, i
        pos = i + 2


def parse_text(source: str) -> Text:
    parts: list[str | Expression] = []
    pos = 0
    for start, end in _holes(source):
        if start - 2 > pos:
            parts.append(source[pos : start - 2])
        inside = source[start:end]
        try:
            parts.append(parse(inside.strip()))
        except ExpressionError as exc:
            lead = len(inside) - len(inside.lstrip())
            reason = exc.violations[0].message if exc.violations else exc.message
            raise ExpressionError(source, start + lead + exc.column, reason) from None
        pos = end + 2
    if pos < len(source) or not parts:
        parts.append(source[pos:])
    return Text(tuple(parts))


def compile_json(value: Any) -> Any:
    """A JSON template: every string becomes a Text; structure is kept."""
    if isinstance(value, str):
        return parse_text(value)
    if isinstance(value, dict):
        return {str(k): compile_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compile_json(v) for v in value]
    return value


def render_json(template: Any, scope: Scope) -> Any:
    if isinstance(template, Text):
        return template.render(scope)
    if isinstance(template, dict):
        return {k: render_json(v, scope) for k, v in template.items()}
    if isinstance(template, list):
        return [render_json(v, scope) for v in template]
    return template


def json_expressions(template: Any) -> Iterator[Expression]:
    if isinstance(template, Text):
        yield from template.expressions
    elif isinstance(template, dict):
        for v in template.values():
            yield from json_expressions(v)
    elif isinstance(template, list):
        for v in template:
            yield from json_expressions(v)
