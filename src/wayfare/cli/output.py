"""How commands print: JSON, tables, times.

Times are ISO 8601: local time with its offset when standard output is a terminal (a person
reads it), UTC with ``Z`` otherwise (a program or a file reads it). A missing value prints as
``-``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import click

MISSING = "-"


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


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
    return MISSING if value is None or value == "" else str(value)


def table(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> None:
    """One line a row, columns aligned; ``(none)`` for no rows."""
    texts = [[cell(row.get(c)) for c in columns] for row in rows]
    if not texts:
        click.echo("(none)")
        return
    widths = [max(len(c), *(len(t[i]) for t in texts)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for t in texts:
        click.echo("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())
