"""The functions expressions may call: dates, strings, lists, math.

Every function takes the evaluation context first (for the clock) and returns null instead
of raising on values of the wrong type or out of range (a date beyond the year 9999), so a
journey never fails on a missing field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Context(Protocol):
    @property
    def now_ms(self) -> int: ...


Function = Callable[..., Any]
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
_UNITS |= {u[:-1]: s for u, s in list(_UNITS.items())}


def to_datetime(value: Any) -> datetime | None:
    """A date-time, from itself, milliseconds since the epoch or ISO 8601; else None (a
    moment outside the years 1 to 9999 included)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, ValueError, OSError):
            return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _now(ctx: Context) -> datetime:
    return datetime.fromtimestamp(ctx.now_ms / 1000, tz=UTC)


def _delta(amount: Any, unit: Any) -> timedelta | None:
    if not isinstance(amount, int | float) or isinstance(amount, bool):
        return None
    seconds = _UNITS.get(str(unit).lower()) if isinstance(unit, str) else None
    return timedelta(seconds=amount * seconds) if seconds else None


def _with_delta(date: Any, amount: Any, unit: Any) -> datetime | None:
    try:
        moment, delta = to_datetime(date), _delta(amount, unit)
        return moment + delta if moment is not None and delta is not None else None
    except OverflowError:  # beyond the year 9999
        return None


def _in_last_days(ctx: Context, date: Any, days: Any) -> bool | None:
    moment = to_datetime(date)
    if moment is None or not isinstance(days, int | float):
        return None
    try:
        return _now(ctx) - timedelta(days=days) <= moment <= _now(ctx)
    except OverflowError:  # before the year 1
        return None


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _substr(s: Any, start: Any, end: Any = None) -> Any:
    if not _str(s) or not isinstance(start, int):
        return None
    return s[start:end] if end is None or isinstance(end, int) else None


_ROUND_DIGITS = 30
"""round() takes at most this many digits either side of the point (rounding an integer to
-n digits computes 10**n)."""


def _round(v: Any, digits: Any) -> Any:
    if not _num(v) or not isinstance(digits, int) or isinstance(digits, bool):
        return None
    return round(v, digits) if abs(digits) <= _ROUND_DIGITS else None


def _to_number(v: Any) -> Any:
    if _num(v):
        return v
    if _str(v):
        try:
            return float(v) if any(c in v for c in ".eE") else int(v)
        except ValueError:
            return None
    return None


def _to_string(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(v, bool):
        return "true" if v else "false"
    return None if v is None else str(v)


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == [] or v == {}


FUNCTIONS: dict[str, Function] = {
    # dates
    "now": lambda ctx: _now(ctx),
    "nowWithDelta": lambda ctx, amount, unit: _with_delta(_now(ctx), amount, unit),
    "toDateTime": lambda ctx, v: to_datetime(v),
    "dateWithDelta": lambda ctx, d, amount, unit: _with_delta(d, amount, unit),
    "inLastDays": _in_last_days,
    "hourOf": lambda ctx, d: m.hour if (m := to_datetime(d)) else None,
    "dayOfWeek": lambda ctx, d: m.isoweekday() if (m := to_datetime(d)) else None,
    # strings
    "lower": lambda ctx, s: s.lower() if _str(s) else None,
    "upper": lambda ctx, s: s.upper() if _str(s) else None,
    "trim": lambda ctx, s: s.strip() if _str(s) else None,
    "length": lambda ctx, v: len(v) if isinstance(v, str | list | dict) else None,
    "contains": lambda ctx, s, p: _str(s) and _str(p) and p in s,
    "startsWith": lambda ctx, s, p: _str(s) and _str(p) and s.startswith(p),
    "endsWith": lambda ctx, s, p: _str(s) and _str(p) and s.endswith(p),
    "concat": lambda ctx, *parts: "".join("" if p is None else str(_to_string(p)) for p in parts),
    "substr": lambda ctx, s, start, end=None: _substr(s, start, end),
    "toString": lambda ctx, v: _to_string(v),
    "toNumber": lambda ctx, v: _to_number(v),
    "isEmpty": lambda ctx, v: _empty(v),
    "isNotEmpty": lambda ctx, v: not _empty(v),
    # lists
    "count": lambda ctx, v: len(v) if isinstance(v, list) else None,
    "listContains": lambda ctx, items, v: isinstance(items, list) and v in items,
    "first": lambda ctx, v: v[0] if isinstance(v, list) and v else None,
    "last": lambda ctx, v: v[-1] if isinstance(v, list) and v else None,
    # math
    "abs": lambda ctx, v: abs(v) if _num(v) else None,
    "round": lambda ctx, v, digits=0: _round(v, digits),
    "floor": lambda ctx, v: math.floor(v) if _num(v) else None,
    "ceil": lambda ctx, v: math.ceil(v) if _num(v) else None,
    "min": lambda ctx, *v: min(v) if v and all(_num(x) for x in v) else None,
    "max": lambda ctx, *v: max(v) if v and all(_num(x) for x in v) else None,
}
