"""How commands print: JSON, tables, times.

Times are ISO 8601: local time with its offset when standard output is a terminal (a person
reads it), UTC with ``Z`` otherwise (a program or a file reads it). A missing value prints as
``-``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import click
import msgspec

from wayfare.wire.base import ViolationEntry

MISSING = "-"


def echo_json(data: Any) -> None:
    """``data`` (an answer's model, or plain values) as indented JSON."""
    click.echo(json.dumps(msgspec.to_builtins(data), indent=2, ensure_ascii=False))


def on_terminal() -> bool:
    return sys.stdout.isatty()


def iso_time(ms: int | None, *, local: bool | None = None) -> str:
    """Epoch milliseconds as ISO 8601; ``local`` defaults to whether stdout is a terminal."""
    if ms is None:
        return MISSING
    at = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if on_terminal() if local is None else local:
        return at.astimezone().isoformat(timespec="milliseconds")
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cell(value: Any) -> str:
    """A value as a table shows it: ``-`` when it is missing (None, empty or unset)."""
    return MISSING if value is None or value == "" or value is msgspec.UNSET else str(value)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """One line a row (its values in the order of ``columns``), columns aligned; ``(none)``
    for no rows."""
    texts = [[cell(value) for value in row] for row in rows]
    if not texts:
        click.echo("(none)")
        return
    widths = [max(len(c), *(len(t[i]) for t in texts)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for t in texts:
        click.echo("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())


def violation_line(violation: ViolationEntry) -> str:
    """``/person/age: must be an integer (type)``."""
    return f"{violation.pointerToViolation}: {violation.message} ({violation.keyword})"
