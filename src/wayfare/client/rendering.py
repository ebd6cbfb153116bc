"""Filled messages rendered straight to JSON bytes, and the ids and times each one gets.

The template is encoded once with a marker at each place a row changes (the ids, the
timestamp, the mapped values) and cut at the markers; a row then costs the encoding of those
few values and one join, not a copy of the whole template and its encoding. ``Holes.cut``
gives up (``None``) where that cannot be done exactly, and the caller fills a copy instead.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

_MARKER = "\x00wayfare-hole-{}\x00"
_VERSION = (0xF000 << 16, 0x8000 << 16)
"""The version nibble of the prefix (the top of its fourth group of hex digits) set to 8."""
_VARIANT = (0xC000, 0x8000)
"""The variant bits of the prefix (the top of its last group) set to RFC 9562's."""
_COUNTER = (1 << 48) - 1


@dataclass(frozen=True, slots=True)
class Holes:
    """An encoded template cut at its holes; ``render`` puts values back in."""

    head: bytes
    rest: tuple[tuple[int, bytes], ...]
    """In the order of the bytes: which value goes next, then the bytes that follow it."""

    @classmethod
    def cut(cls, template: Any, places: Sequence[Sequence[str | int]]) -> Holes | None:
        """The template with a hole at each place (a path of keys and indexes to a value
        that is not an object or an array); ``None`` when a place is not one."""
        own = orjson.loads(orjson.dumps(template))
        for number, steps in enumerate(places):
            node = own
            for step in steps[:-1]:
                if not _holds(node, step) or not isinstance(node[step], dict | list):
                    return None
                node = node[step]
            if not _holds(node, steps[-1]) or isinstance(node[steps[-1]], dict | list):
                return None
            node[steps[-1]] = _MARKER.format(number)
        encoded = orjson.dumps(own)
        found = []
        for number in range(len(places)):
            marker = orjson.dumps(_MARKER.format(number))
            at = encoded.find(marker)
            if at < 0 or encoded.find(marker, at + 1) >= 0:
                return None
            found.append((at, number, len(marker)))
        found.sort()
        head_end = found[0][0] if found else len(encoded)
        rest = []
        for position, (at, number, size) in enumerate(found):
            end = found[position + 1][0] if position + 1 < len(found) else len(encoded)
            rest.append((number, encoded[at + size : end]))
        return cls(encoded[:head_end], tuple(rest))

    def render(self, values: Sequence[bytes]) -> bytes:
        """The template's JSON with ``values[i]`` (encoded JSON) in hole ``i``."""
        out = bytearray(self.head)
        for number, after in self.rest:
            out += values[number]
            out += after
        return bytes(out)


def _holds(node: Any, step: str | int) -> bool:
    if isinstance(step, int):
        return isinstance(node, list) and 0 <= step < len(node)
    return isinstance(node, dict) and step in node


class MessageIds:
    """Unique ids in the form of UUIDs, for msgIds, xactionIds and records' ``_id``: a
    random prefix drawn once from ``os.urandom`` (74 bits), then a counter (the last 48
    bits). RFC 9562 calls such a UUID version 8 (its layout the maker's own). One costs a
    string format, where ``uuid.uuid4()`` reads the system's random source each time."""

    def __init__(self, seed: bytes | None = None) -> None:
        """``seed``: the prefix's 10 bytes, and a counter from 0 (the same ids each time)."""
        value = int.from_bytes(seed if seed is not None else os.urandom(10))
        value = value & ((1 << 80) - 1)
        value = (value & ~_VERSION[0]) | _VERSION[1]
        value = (value & ~_VARIANT[0]) | _VARIANT[1]
        h = f"{value:020x}"
        self._prefix = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-"
        self._next = itertools.count(0 if seed is not None else int.from_bytes(os.urandom(2)))

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._next) & _COUNTER:012x}"


class Timestamps:
    """The current time as messages carry it, formatted once a millisecond."""

    def __init__(self) -> None:
        self._ms = -1
        self._text = ""

    def now(self) -> str:
        ms = time.time_ns() // 1_000_000
        if ms != self._ms:
            self._ms, self._text = ms, timestamp(datetime.fromtimestamp(ms / 1000, UTC))
        return self._text


def timestamp(moment: datetime) -> str:
    """``2026-03-04T05:06:07.891Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
