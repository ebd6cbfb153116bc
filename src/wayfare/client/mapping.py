"""Filling a message template from an input row: ``--map PATH=FIELD``.

PATH is a path inside ``body.xdmEntity`` (``_tenant.person.emailAddress``,
``identityMap.Email[0].id``); FIELD is a CSV column or a (dotted) JSON field. Values are
converted to the schema's types. Placeholders (``"string"``, ``0``, ``true``) left unmapped
are reported before anything is sent; ids and timestamps are generated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from wayfare.client.rendering import Holes, MessageIds, Timestamps, timestamp

PLACEHOLDERS: tuple[Any, ...] = ("string", 0, True)
GENERATED = frozenset({"_id", "timestamp"})
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class MappingError(ValueError):
    """A mapping or a value that cannot be used; the message says which and why."""


def parse_path(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for name, index in _STEP.findall(path):
        steps.append(int(index) if index else name)
    if not steps or "".join(str(s) for s in steps).strip() == "":
        raise MappingError(f"empty path {path!r}")
    return steps


def dotted(steps: Sequence[str | int]) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def leaves(
    node: Any, prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from leaves(value, (*prefix, i))
    else:
        yield prefix, node


def is_placeholder(value: Any) -> bool:
    return any(type(value) is type(p) and value == p for p in PLACEHOLDERS)


def schema_at(json_schema: Mapping[str, Any] | None, steps: Sequence[str | int]) -> dict[str, Any]:
    node: Any = json_schema or {}
    for step in steps:
        if isinstance(step, int):
            node = node.get("items", {}) if isinstance(node, dict) else {}
            continue
        while isinstance(node, dict) and node.get("type") == "array":
            node = node.get("items", {})
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        if isinstance(props, dict) and step in props:
            node = props[step]
        elif isinstance(node, dict) and isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
    return node if isinstance(node, dict) else {}


def kind_of(schema: Mapping[str, Any], template_value: Any) -> str:
    """The JSON type a field's values take: the schema's, else the placeholder's."""
    kind = schema.get("type")
    if isinstance(kind, list):  # ["integer", "null"]: the type that is not null
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        # the preview renders integers and numbers alike (0): take any number
        kind = {bool: "boolean", int: "number", float: "number"}.get(type(template_value), "string")
    return str(kind)


def convert(raw: Any, schema: Mapping[str, Any], template_value: Any) -> Any:
    """Convert an input value to the field's type (from the schema, else the placeholder's)."""
    return convert_to(raw, kind_of(schema, template_value))


def convert_to(raw: Any, kind: str) -> Any:
    """Convert an input value to the JSON type ``kind``."""
    if not isinstance(raw, str):
        if kind == "string" and isinstance(raw, int | float) and not isinstance(raw, bool):
            return str(raw)
        return raw
    text = raw.strip()
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise MappingError(f"{raw!r} is not an integer") from None
            if number.is_integer():
                return int(number)
            raise MappingError(f"{raw!r} is not an integer") from None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise MappingError(f"{raw!r} is not a number") from None
        if not math.isfinite(number):  # JSON has no NaN or infinity
            raise MappingError(f"{raw!r} is not a number")
        return int(number) if number.is_integer() and "." not in text else number
    if kind == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise MappingError(f"{raw!r} is not true or false")
    return raw


def _set(target: Any, steps: Sequence[str | int], value: Any) -> None:
    node = target
    for i, step in enumerate(steps[:-1]):
        nxt = steps[i + 1]
        if isinstance(step, int):
            while len(node) <= step:
                node.append([] if isinstance(nxt, int) else {})
            node = node[step]
        else:
            if step not in node or not isinstance(node[step], dict | list):
                node[step] = [] if isinstance(nxt, int) else {}
            node = node[step]
    last = steps[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def _drop(target: Any, steps: Sequence[str | int]) -> None:
    node = target
    for step in steps[:-1]:
        node = node[step]
    if isinstance(node, dict):
        node.pop(steps[-1], None)


def field_value(row: Mapping[str, Any], field: str) -> Any:
    """A CSV column, or a dotted path into a JSON object."""
    if field in row:
        return row[field]
    node: Any = row
    for part in field.split("."):
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


Mapping_ = tuple[tuple[str | int, ...], str, str]
"""A compiled mapping: the path in the entity, the input field, the value's JSON type."""


@dataclass(frozen=True)
class Filler:
    """A template compiled once with its mappings; ``fill`` makes one message per row,
    ``render`` its JSON."""

    template: dict[str, Any]
    encoded: bytes
    mappings: tuple[Mapping_, ...]
    generated: tuple[str, ...]
    """The entity's generated fields, by name: ``_id``, and ``timestamp`` when the template has it
    (unless a mapping fills them)."""
    holes: Holes | None
    """The filled template cut at what changes per row; None when it cannot be (a mapping
    that makes new objects or arrays), and ``render`` encodes what ``fill`` makes."""
    new_id: Callable[[], str] = field(default_factory=MessageIds)
    stamps: Timestamps = field(default_factory=Timestamps)

    @classmethod
    def compile(
        cls,
        template: Mapping[str, Any],
        mapping: Mapping[str, str],
        json_schema: Mapping[str, Any] | None = None,
        omit: Sequence[str] = (),
    ) -> Filler:
        """``omit`` lists template paths to leave out of every message."""
        body = template.get("body") if isinstance(template, Mapping) else None
        if not isinstance(body, dict) or not isinstance(body.get("xdmEntity"), dict):
            raise MappingError("the template has no body.xdmEntity object")
        own: dict[str, Any] = orjson.loads(orjson.dumps(template))
        entity = own["body"]["xdmEntity"]
        for path in omit:
            omitted = parse_path(path)
            if _get(entity, omitted) is _MISSING:
                raise MappingError(f"--omit {path}: the template has no such field")
            _drop(entity, omitted)
        compiled = []
        for path, name in mapping.items():
            steps = tuple(parse_path(path))
            kind = kind_of(schema_at(json_schema, steps), _get(entity, steps))
            compiled.append((steps, name, kind))
        mapped = {steps[0] for steps, *_ in compiled if len(steps) == 1}
        generated = tuple(
            sorted(
                name
                for name in GENERATED
                if name not in mapped and (name == "_id" or name in entity)
            )
        )
        shape = _generate(orjson.loads(orjson.dumps(own)), generated, "", "", "", "")
        places = [
            ("header", "msgId"),
            ("header", "xactionId"),
            *(("body", "xdmEntity", name) for name in generated),
            *(("body", "xdmEntity", *steps) for steps, *_ in compiled),
        ]
        holes = Holes.cut(shape, places) if shape is not None else None
        return cls(own, orjson.dumps(own), tuple(compiled), generated, holes)

    def unmapped_placeholders(self) -> list[str]:
        entity = self.template["body"]["xdmEntity"]
        mapped = {steps for steps, *_ in self.mappings}
        return [
            dotted(steps)
            for steps, value in leaves(entity)
            if is_placeholder(value)
            and steps not in mapped
            and not (len(steps) == 1 and steps[0] in GENERATED)
        ]

    def fill(self, row: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
        message: dict[str, Any] = orjson.loads(self.encoded)
        stamp = timestamp(now) if now else self.stamps.now()
        ids = self.new_id
        _generate(message, self.generated, ids(), ids(), ids(), stamp)
        entity = message["body"]["xdmEntity"]
        for steps, name, kind in self.mappings:
            raw = field_value(row, name)
            if raw is None or raw == "":
                if _get(entity, steps) is not _MISSING:
                    _drop(entity, steps)
                continue
            _set(entity, steps, _converted(raw, kind, name, steps))
        return message

    def render(self, row: Mapping[str, Any], now: datetime | None = None) -> bytes:
        """``fill``'s message as JSON, byte for byte, made without copying the template
        when it has holes and the row a value for every mapping."""
        if self.holes is None:
            return orjson.dumps(self.fill(row, now))
        dumps = orjson.dumps
        mapped = []
        for steps, name, kind in self.mappings:
            raw = field_value(row, name)
            if raw is None or raw == "":  # the field is left out: fill does that
                return dumps(self.fill(row, now))
            mapped.append(dumps(_converted(raw, kind, name, steps)))
        ids = self.new_id
        values = [dumps(ids()), dumps(ids())]  # as fill draws them: msgId, xactionId, _id
        for name in self.generated:
            values.append(
                dumps(ids() if name == "_id" else timestamp(now) if now else self.stamps.now())
            )
        values += mapped
        return self.holes.render(values)


_MISSING = object()


def _converted(raw: Any, kind: str, name: str, steps: Sequence[str | int]) -> Any:
    try:
        return convert_to(raw, kind)
    except MappingError as exc:
        raise MappingError(f"{name} → {dotted(steps)}: {exc}") from None


def _generate(
    message: dict[str, Any],
    generated: tuple[str, ...],
    msg_id: str,
    xaction_id: str,
    entity_id: str,
    stamp: str,
) -> dict[str, Any] | None:
    """What every message gets anew: its msgId and xactionId in the header, and the
    entity's generated fields; ``None`` when the header is not an object."""
    header = message.setdefault("header", {})
    if not isinstance(header, dict):
        return None
    header["msgId"] = msg_id
    header["xactionId"] = xaction_id
    entity = message["body"]["xdmEntity"]
    if "_id" in generated:
        entity["_id"] = entity_id
    if "timestamp" in generated:
        entity["timestamp"] = stamp
    return message


def _get(node: Any, steps: Sequence[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
        elif not isinstance(node, dict) or step not in node:
            return _MISSING
        node = node[step]
    return node
