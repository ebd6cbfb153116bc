"""Durations as users write them: ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"7d"``,
or ISO 8601 ``"PT1M"`` / ``"P1D"``."""

from __future__ import annotations

import re

from wayfare.model.rules import MAX_DAYS

_UNIT = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
_SHORT = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|w|d|h|m|s))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


MAX_DURATION_MS = MAX_DAYS * _UNIT["d"]
"""A hundred years, as for retention: a timer a duration sets is still stored as an integer."""


def parse_duration_ms(value: object) -> int | None:
    """Milliseconds, or None when the value is not a duration (or is over MAX_DURATION_MS)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _bounded(value * 1000) if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().replace(" ", "")
    if _SHORT.match(text):
        return _bounded(sum(float(n) * _UNIT[u] for n, u in _PART.findall(text)))
    iso = _ISO.match(text.upper())
    if iso and text.upper() not in ("P", "PT"):
        parts = {k: float(v) for k, v in iso.groupdict().items() if v}
        return _bounded(sum(n * _UNIT[k] for k, n in parts.items()))
    return None


def _bounded(ms: float) -> int | None:
    return int(ms) if ms <= MAX_DURATION_MS else None  # also no inf, and NaN compares False
