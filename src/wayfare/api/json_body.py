"""Request bodies as JSON documents: parsed by orjson, refused when an object repeats a key.

orjson keeps the last of repeated keys without a word, so a body could be validated with
one value and stored, as sent, with another (``"birthYear": "x", "birthYear": 1990``), or
name two orgs. Wayfare refuses such a body as a whole, like a syntax error, with 400 naming
the first repeated key's JSON pointer; so what is stored is always what was validated.

The check costs one ``orjson.dumps`` and a few byte counts on the hot path: every key has
exactly one colon outside strings, so a document written again from what orjson kept
(which writes ``:`` plainly inside strings) has as many colons as the body, plus those the
body wrote as ``\\u003a``, unless a key was dropped. Only when the counts say a key may have
been dropped is the body scanned, token by token, for the key itself.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from wayfare.errors import InvalidRequestError, Violation

_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],]', re.DOTALL)
_QUOTE, _OPEN_OBJECT, _OPEN_ARRAY, _COMMA = b'"'[0], b"{"[0], b"["[0], b","[0]


def parse_json(raw: bytes) -> Any:
    """The document in ``raw``; InvalidRequestError when it is not JSON or repeats a key."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"The request body is not valid JSON: {exc}",
            violations=(Violation("", "json", str(exc)),),
        ) from None
    if _may_repeat_a_key(raw, document):
        pointer = first_repeated_key(raw)
        if pointer is not None:
            raise InvalidRequestError(
                f"The request body repeats the key {pointer}: keys must be unique in their object",
                violations=(Violation(pointer, "uniqueKeys", "the key appears more than once"),),
            )
    return document


def _may_repeat_a_key(raw: bytes, document: Any) -> bool:
    try:
        written = orjson.dumps(document)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes
        return True
    colons = raw.count(b":")
    if b"\\u003" in raw:
        colons += raw.count(b"\\u003a") + raw.count(b"\\u003A")
    return written.count(b":") < colons


def first_repeated_key(raw: bytes) -> str | None:
    """The JSON pointer of the first key that ``raw`` (valid JSON) repeats in an object."""
    # one frame per open container: [keys seen (None for an array), current key or index,
    # whether the next string is a key]
    frames: list[list[Any]] = []
    for match in _TOKENS.finditer(raw):
        token = match.group()
        first = token[0]
        if first == _QUOTE:
            top = frames[-1] if frames else None
            if top is not None and top[2]:
                key = orjson.loads(token)
                if key in top[0]:
                    return _pointer([frame[1] for frame in frames[:-1]] + [key])
                top[0].add(key)
                top[1], top[2] = key, False
        elif first == _OPEN_OBJECT:
            frames.append([set(), None, True])
        elif first == _OPEN_ARRAY:
            frames.append([None, 0, False])
        elif first == _COMMA:
            top = frames[-1]
            if top[0] is None:
                top[1] += 1
            else:
                top[2] = True
        else:
            frames.pop()
    return None


def _pointer(path: list[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
