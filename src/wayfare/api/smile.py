"""A decoder of Smile, the binary JSON of Jackson (``application/x-jackson-smile``).

What Adobe's streaming ingestion accepts besides JSON, decoded into the same Python values
``orjson.loads`` gives (dict, list, str, int, float, bool, None); BigDecimal values become
``float`` (as a JSON number would), binary values are refused (JSON has none).

The format (https://github.com/FasterXML/smile-format-specification): a 4-byte header
``:)\\n`` and a flags byte (bit 0: shared key names, bit 1: shared string values, bit 2:
raw binary), then one value. A byte either starts a value ("value mode") or, inside an
object, a key ("key mode"). Numbers are zigzag VInts (7 bits a byte, big-endian, the last
byte marked by its high bit and holding 6 bits); floats are their IEEE bits, 7 a byte.
Short strings (at most 64 bytes) seen so far go to a table of at most 1,024 entries (reset
when full), keys in one and values in another, and can be referred to by their index.

Like ``wayfare.api.json_body``, an object that repeats a key is refused: what is validated
is what is stored. What a body costs is bounded by its size, as a JSON body's is:

- nesting (``MAX_DEPTH``), and the decoder does not recurse;
- the characters of its strings and names: a back reference is a byte standing for up to 64
  of them, so a megabyte could decode to 64 megabytes of strings (stored as that much JSON);
  past ``max_text``, ``SmileTooLarge``;
- big numbers: a BigInteger or BigDecimal of more than ``MAX_NUMBER_BYTES`` (far beyond a
  double's range) is refused, as a JSON number that large is; converting one of a megabyte
  took most of a minute. A BigInteger beyond 64 bits becomes a float, as orjson reads such a
  number in JSON.
"""

from __future__ import annotations

import struct
from decimal import Decimal, DecimalException
from typing import Any

MEDIA_TYPE = "application/x-jackson-smile"
HEADER = b":)\n"
MAX_DEPTH = 1024
"""Containers nested deeper are refused (what orjson refuses for JSON)."""
MAX_SHARED = 1024
"""Entries of a table of shared names or values; the table is emptied when it is full."""
MAX_NUMBER_BYTES = 128
"""Bytes of a BigInteger's or a BigDecimal's digits: 1,024 bits, past a double's range."""
_INT_RANGE = range(-(2**63), 2**64)
"""The integers orjson reads as ints (and writes); others are floats."""
_END_OF_STRING = 0xFC
_START_ARRAY, _END_ARRAY, _START_OBJECT, _END_OBJECT = 0xF8, 0xF9, 0xFA, 0xFB


class SmileError(ValueError):
    """The bytes are not a Smile document Wayfare takes; the message says where and why."""


class SmileTooLarge(SmileError):
    """The document's strings and names come to more than ``max_text`` characters."""


def is_smile(raw: bytes) -> bool:
    """Whether ``raw`` starts with Smile's header."""
    return raw[:3] == HEADER


def decode(raw: bytes, max_text: int | None = None) -> Any:
    """The value of the Smile document ``raw``; SmileError when it is not one, SmileTooLarge
    when its strings and names (shared ones counted each time) are over ``max_text``
    characters (None: no bound)."""
    return _Decoder(raw, max_text).document()


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


class _SharedTable:
    __slots__ = ("enabled", "entries")

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.entries: list[str] = []

    def add(self, text: str) -> None:
        if self.enabled:
            if len(self.entries) == MAX_SHARED:
                self.entries.clear()
            self.entries.append(text)

    def get(self, index: int, at: int) -> str:
        if not self.enabled:
            raise SmileError(f"a shared reference at byte {at}, but sharing is off")
        if index >= len(self.entries):
            raise SmileError(f"shared reference {index} at byte {at} names nothing seen")
        return self.entries[index]


class _Decoder:
    def __init__(self, raw: bytes, max_text: int | None) -> None:
        self.raw = raw
        self.at = 0
        self.max_text = max_text
        self.text_left = max_text or 0
        """Characters of strings and names still allowed, when bounded."""

    def document(self) -> Any:
        raw = self.raw
        if len(raw) < 4 or not is_smile(raw):
            raise SmileError("the body does not start with the Smile header ':)\\n'")
        flags = raw[3]
        if flags >> 4:
            raise SmileError(f"Smile version {flags >> 4} is not supported (only 0)")
        self.names = _SharedTable(bool(flags & 0x01))
        self.values = _SharedTable(bool(flags & 0x02))
        self.at = 4
        value = self.value_tree()
        while self.at < len(raw) and raw[self.at] == 0xFF:  # end-of-content markers
            self.at += 1
        if self.at != len(raw):
            raise SmileError(f"unexpected bytes after the document at byte {self.at}")
        return value

    # the tree, without recursion: a stack of open containers
    def value_tree(self) -> Any:
        stack: list[tuple[dict[str, Any] | list[Any], str | None]] = []
        while True:
            container = stack[-1][0] if stack else None
            if isinstance(container, dict):
                byte = self.byte()
                if byte == _END_OBJECT:
                    value: Any = stack.pop()[0]
                else:
                    key = self.key(byte)
                    self.count(key)
                    if key in container:
                        raise SmileError(
                            f"an object repeats the key {key!r} (byte {self.at}): "
                            "keys must be unique in their object"
                        )
                    stack[-1] = (container, key)
                    value = self.scalar_or_open(self.byte())
            else:
                byte = self.byte()
                if byte == _END_ARRAY and container is not None:
                    value = stack.pop()[0]
                else:
                    value = self.scalar_or_open(byte)
            if value is _OPEN_ARRAY or value is _OPEN_OBJECT:
                if len(stack) >= MAX_DEPTH:
                    raise SmileError(f"nested deeper than {MAX_DEPTH} levels")
                stack.append(([] if value is _OPEN_ARRAY else {}, None))
                continue
            if isinstance(value, str):
                self.count(value)
            if not stack:
                return value
            parent, slot = stack[-1]
            if isinstance(parent, dict):
                assert slot is not None
                parent[slot] = value
            else:
                parent.append(value)

    def count(self, text: str) -> None:
        if self.max_text is None:
            return
        self.text_left -= len(text)
        if self.text_left < 0:
            raise SmileTooLarge(
                f"the body decodes to over {self.max_text:,} characters of strings and names "
                f"(by byte {self.at}: shared ones count each time they are used)"
            )

    # bytes
    def byte(self) -> int:
        if self.at >= len(self.raw):
            raise SmileError("the body ends in the middle of the document")
        byte = self.raw[self.at]
        self.at += 1
        return byte

    def take(self, count: int) -> bytes:
        end = self.at + count
        if end > len(self.raw):
            raise SmileError("the body ends in the middle of the document")
        chunk = self.raw[self.at : end]
        self.at = end
        return chunk

    def vint(self) -> int:
        value = 0
        for _ in range(20):
            byte = self.byte()
            if byte & 0x80:
                return (value << 6) | (byte & 0x3F)
            value = (value << 7) | byte
        raise SmileError(f"a number too long at byte {self.at}")

    def text(self, count: int, *, ascii_only: bool = False) -> str:
        chunk = self.take(count)
        try:
            return chunk.decode("ascii" if ascii_only else "utf-8")
        except UnicodeDecodeError as exc:
            raise SmileError(f"a string that is not {exc.encoding} at byte {self.at}") from None

    def until_end_of_string(self) -> str:
        end = self.raw.find(_END_OF_STRING, self.at)
        if end < 0:
            raise SmileError("a long string without its end marker")
        text = self.text(end - self.at)
        self.at += 1
        return text

    def number_bytes(self) -> int:
        """The length of a big number's digits, at most MAX_NUMBER_BYTES."""
        count = self.vint()
        if count > MAX_NUMBER_BYTES:
            raise SmileError(
                f"a number of {count:,} bytes at byte {self.at}: out of range (at most "
                f"{MAX_NUMBER_BYTES})"
            )
        return count

    def seven_bit(self, count: int) -> bytes:
        """``count`` bytes sent 7 bits a byte (8 bytes for each 7, then n+1 for n)."""
        out = bytearray()
        whole, rest = divmod(count, 7)
        for _ in range(whole):
            value = 0
            for byte in self.take(8):
                value = (value << 7) | (byte & 0x7F)
            out += value.to_bytes(7, "big")
        if rest:
            chunk = self.take(rest + 1)
            value = 0
            for byte in chunk[:-1]:
                value = (value << 7) | (byte & 0x7F)
            value = (value << rest) | (chunk[-1] & ((1 << rest) - 1))
            out += value.to_bytes(rest, "big")
        return bytes(out)

    # key mode
    def key(self, byte: int) -> str:
        if byte == 0x20:
            return ""
        if 0x30 <= byte <= 0x33:
            return self.names.get(((byte & 0x03) << 8) | self.byte(), self.at)
        if byte == 0x34:
            name = self.until_end_of_string()
            self.names.add(name)
            return name
        if 0x40 <= byte <= 0x7F:
            return self.names.get(byte & 0x3F, self.at)
        if 0x80 <= byte <= 0xBF:
            name = self.text((byte & 0x3F) + 1, ascii_only=True)
        elif 0xC0 <= byte <= 0xF7:
            name = self.text((byte & 0x3F) + 2)
        else:
            raise SmileError(f"byte 0x{byte:02x} at {self.at - 1} does not start a key")
        self.names.add(name)
        return name

    # value mode
    def scalar_or_open(self, byte: int) -> Any:
        if byte < 0x20:
            if byte == 0:
                raise SmileError(f"byte 0x00 at {self.at - 1} does not start a value")
            return self.values.get(byte - 1, self.at)
        if byte < 0x40:
            return self.simple(byte)
        if byte < 0xC0:
            if byte < 0x60:
                text = self.text((byte & 0x1F) + 1, ascii_only=True)
            elif byte < 0x80:
                text = self.text((byte & 0x1F) + 33, ascii_only=True)
            elif byte < 0xA0:
                text = self.text((byte & 0x1F) + 2)
            else:
                text = self.text((byte & 0x1F) + 34)
            self.values.add(text)
            return text
        if byte < 0xE0:
            return _zigzag(byte & 0x1F)
        if byte in (0xE0, 0xE4):
            return self.until_end_of_string()
        if 0xEC <= byte <= 0xEF:
            return self.values.get(((byte & 0x03) << 8) | self.byte(), self.at)
        if byte == _START_ARRAY:
            return _OPEN_ARRAY
        if byte == _START_OBJECT:
            return _OPEN_OBJECT
        if byte in (0xE8, 0xFD):
            raise SmileError(f"binary data at byte {self.at - 1}: JSON messages have none")
        raise SmileError(f"byte 0x{byte:02x} at {self.at - 1} does not start a value")

    def simple(self, byte: int) -> Any:
        if byte == 0x20:
            return ""
        if byte == 0x21:
            return None
        if byte == 0x22:
            return False
        if byte == 0x23:
            return True
        if byte in (0x24, 0x25):
            return _zigzag(self.vint())
        if byte == 0x26:
            value = int.from_bytes(self.seven_bit(self.number_bytes()), "big", signed=True)
            return value if value in _INT_RANGE else float(value)
        if byte == 0x28:
            bits = 0
            for part in self.take(5):
                bits = (bits << 7) | (part & 0x7F)
            return _finite(struct.unpack(">f", (bits & 0xFFFFFFFF).to_bytes(4, "big"))[0])
        if byte == 0x29:
            bits = 0
            for part in self.take(10):
                bits = (bits << 7) | (part & 0x7F)
            return _finite(struct.unpack(">d", (bits & (2**64 - 1)).to_bytes(8, "big"))[0])
        if byte == 0x2A:
            scale = _zigzag(self.vint())
            unscaled = int.from_bytes(self.seven_bit(self.number_bytes()), "big", signed=True)
            try:
                return _finite(float(Decimal(unscaled).scaleb(-scale)))
            except (DecimalException, OverflowError):
                raise SmileError(f"a decimal out of range at byte {self.at}") from None
        raise SmileError(f"byte 0x{byte:02x} at {self.at - 1} does not start a value")


def _finite(value: float) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise SmileError("NaN and infinities are not JSON numbers")
    return value


_OPEN_ARRAY = object()
_OPEN_OBJECT = object()
