"""Smile written by hand, for tests of the decoder and of the inlet: the parts of the format
(https://github.com/FasterXML/smile-format-specification) that Jackson's fixtures do not
hold, such as a value referred to a hundred thousand times."""

from __future__ import annotations

from typing import Any

HEADER = b":)\n\x03"
"""Smile's header, shared names and values on."""


def vint(value: int) -> bytes:
    """A VInt: 7 bits a byte, the last byte marked and holding 6."""
    out = [0x80 | (value & 0x3F)]
    value >>= 6
    while value:
        out.append(value & 0x7F)
        value >>= 7
    return bytes(reversed(out))


def seven_bit(data: bytes) -> bytes:
    """``data`` 7 bits a byte: 8 bytes for each 7, then n + 1 for the n left."""
    out = bytearray()
    whole, rest = divmod(len(data), 7)
    for i in range(whole):
        value = int.from_bytes(data[7 * i : 7 * i + 7], "big")
        out += bytes((value >> (7 * (7 - j))) & 0x7F for j in range(8))
    if rest:
        value = int.from_bytes(data[7 * whole :], "big")
        high = value >> rest
        out += bytes((high >> (7 * (rest - 1 - j))) & 0x7F for j in range(rest))
        out.append(value & ((1 << rest) - 1))
    return bytes(out)


def big_integer(value: int, size: int) -> bytes:
    """A BigInteger token of ``size`` bytes of two's complement."""
    return b"\x26" + vint(size) + seven_bit(value.to_bytes(size, "big", signed=True))


def big_decimal(unscaled: int, size: int, scale: int) -> bytes:
    """A BigDecimal token: unscaled * 10**-scale."""
    zigzag = (scale << 1) ^ (scale >> 63)
    digits = unscaled.to_bytes(size, "big", signed=True)
    return b"\x2a" + vint(zigzag) + vint(size) + seven_bit(digits)


class Repeated:
    """A short string value written once, then referred to ``times`` more."""

    def __init__(self, text: str, times: int) -> None:
        self.text, self.times = text, times


def smile_of(value: Any) -> bytes:
    """``value`` (dicts, lists, ASCII strings, ``Repeated``, ints, booleans, None) as a Smile
    document; an int beyond 64 bits as a BigInteger."""
    shared: list[str] = []

    def string(text: str) -> bytes:
        data = text.encode("ascii")
        if not data:
            return b"\x20"
        if len(data) > 64:
            return b"\xe0" + data + b"\xfc"
        shared.append(text)
        return bytes([0x40 + len(data) - 1 if len(data) <= 32 else 0x60 + len(data) - 33]) + data

    def encode(v: Any) -> bytes:
        if isinstance(v, Repeated):
            written = string(v.text)
            assert len(shared) <= 31  # a one-byte reference
            return written + bytes([len(shared)]) * v.times
        if isinstance(v, dict):
            keys = [bytes([0x80 + len(k) - 1]) + k.encode("ascii") for k in v]
            return (
                b"\xfa"
                + b"".join(k + encode(x) for k, x in zip(keys, v.values(), strict=True))
                + b"\xfb"
            )
        if isinstance(v, list):
            return b"\xf8" + b"".join(encode(x) for x in v) + b"\xf9"
        if isinstance(v, str):
            return string(v)
        if isinstance(v, bool) or v is None:
            return {True: b"\x23", False: b"\x22", None: b"\x21"}[v]
        if -(2**63) <= v < 2**63:
            return b"\x25" + vint((v << 1) ^ (v >> 63))
        return big_integer(v, (v.bit_length() + 8) // 8)

    return HEADER + encode(value)
