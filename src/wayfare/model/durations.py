"""Durations as users write them: ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"7d"``,
or ISO 8601 ``"PT1M"`` / ``"P1D"``."""

from __future__ import annotations

import re

_UNIT = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
_SHORT = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|w|d|h|m|s))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration_ms(value: object) -> int | None:
    """Milliseconds, or None when the value is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value * 1000) if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().replace(" ", "")
    if _SHORT.match(text):
        return int(sum(float(n) * _UNIT[u] for n, u in _PART.findall(text)))
    iso = _ISO.match(text.upper())
    if iso and text.upper() not in ("P", "PT"):
        parts = {k: float(v) for k, v in iso.groupdict().items() if v}
        return int(sum(n * _UNIT[k] for k, n in parts.items()))
    return None
