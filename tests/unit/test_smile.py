"""The Smile decoder against bodies written by Jackson's own encoder (tests/fixtures/smile)
and against the byte sequences of the format's specification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests import smile_bytes
from wayfare.api import smile

FIXTURES = Path(__file__).parent.parent / "fixtures" / "smile"
ENCODED = sorted(FIXTURES.glob("*.smile"))


def expected(path: Path) -> Any:
    """The JSON the fixture was written from, as orjson reads it (as the inlet reads JSON:
    an integer beyond 64 bits is a float)."""
    return orjson.loads((FIXTURES / (path.name.split(".")[0] + ".json")).read_bytes())


def test_there_is_a_fixture_of_each_form() -> None:
    names = {path.name for path in ENCODED}
    for stem in ("demo", "batch", "shapes"):
        for form in ("", ".shared-values", ".no-sharing", ".decimals"):
            assert f"{stem}{form}.smile" in names


@pytest.mark.parametrize("path", ENCODED, ids=[path.name for path in ENCODED])
def test_what_jackson_wrote_decodes_to_the_json_it_was_written_from(path: Path) -> None:
    assert smile.decode(path.read_bytes()) == expected(path)


def test_shared_values_are_referred_to_and_the_tables_start_again_when_full() -> None:
    shared = (FIXTURES / "shapes.shared-values.smile").read_bytes()
    plain = (FIXTURES / "shapes.no-sharing.smile").read_bytes()
    assert len(shared) < len(plain)  # back references were written, and resolved
    decoded = smile.decode(shared)
    assert decoded["values"][1100:] == [f"v{i}" for i in range(1100)]
    assert decoded["names"][1100:] == [{f"key{i}": i} for i in range(1100)]


# hand-written bytes, after the specification's tables
HEADER = b":)\n\x03"  # shared names and values on


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (b"\x21", None),
        (b"\x22", False),
        (b"\x23", True),
        (b"\x20", ""),
        (b"\xc0", 0),
        (b"\xc1", -1),
        (b"\xc2", 1),
        (b"\xdf", -16),
        (b"\x24\x81", -1),  # zigzag 1 in a VInt
        (b"\x24\x04\x80", 128),  # 256 zigzagged: 4 << 6, then 6 bits
        (b"\x40a", "a"),
        (b"\x80\xc3\xa9", "é"),
        (b"\xf8\xf9", []),
        (b"\xfa\xfb", {}),
        (b"\xfa\x80a\xc2\xfb", {"a": 1}),
        (b"\xf8\x41ab\x01\xf9", ["ab", "ab"]),  # a shared value: 0x01 is index 0
        (b"\xf8\xfa\x80a\xc2\xfb\xfa\x40\xc4\xfb\xf9", [{"a": 1}, {"a": 2}]),  # a shared name
        (b"\xe0long\xfc", "long"),
        (b"\x29\x00\x3f\x78" + b"\x00" * 7, 1.0),
    ],
)
def test_tokens_of_the_specification(body: bytes, value: Any) -> None:
    assert smile.decode(HEADER + body) == value


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{}", "header"),
        (HEADER, "ends"),
        (HEADER + b"\xfa\x80a\xc2\x80a\xc4\xfb", "repeats the key 'a'"),
        (HEADER + b"\x01", "names nothing seen"),
        (b":)\n\x00\xf8\x41ab\x01\xf9", "sharing is off"),
        (HEADER + b"\xe8\x81\x01", "binary"),
        (HEADER + b"\x21\x21", "after the document"),
        (HEADER + b"\x40\xff", "not ascii"),
        (HEADER + b"\xf8" * 1025 + b"\xf9" * 1025, "nested deeper"),
        (b":)\n\x13\x21", "version"),
    ],
)
def test_what_is_not_a_smile_document_is_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(smile.SmileError, match=reason):
        smile.decode(body)


def big_integer(value: int, size: int) -> bytes:
    return HEADER + smile_bytes.big_integer(value, size)


def big_decimal(unscaled: int, size: int, scale: int) -> bytes:
    return HEADER + smile_bytes.big_decimal(unscaled, size, scale)


def test_big_numbers_decode_as_orjson_reads_them_in_json() -> None:
    """An integer beyond 64 bits is a float, as orjson reads it in JSON (and writes no
    larger int): storing the message would fail otherwise."""
    assert smile.decode(big_integer(2**63, 9)) == 2**63 == orjson.loads(str(2**63))
    assert smile.decode(big_integer(2**64, 9)) == float(2**64) == orjson.loads(str(2**64))
    assert isinstance(smile.decode(big_integer(2**64, 9)), float)
    assert smile.decode(big_integer(-(2**63) - 1, 9)) == float(-(2**63) - 1)
    assert smile.decode(big_decimal(12345, 3, 2)) == 123.45


@pytest.mark.parametrize(
    "body",
    [
        big_integer(1, smile.MAX_NUMBER_BYTES + 1),
        big_decimal(1, 600_000, 0),  # converting it took most of a minute
        big_decimal(1, 1, -(10**9)),  # 1e1000000000: an overflow of decimal's own
    ],
    ids=["long BigInteger", "long BigDecimal", "BigDecimal's exponent"],
)
def test_big_numbers_out_of_a_doubles_range_are_refused(body: bytes) -> None:
    with pytest.raises(smile.SmileError, match="out of range"):
        smile.decode(body)
    assert smile.decode(big_integer(1, smile.MAX_NUMBER_BYTES)) == 1


def test_shared_references_count_each_time_they_are_used() -> None:
    """A byte refers to a string of up to 64 characters: 10,000 bytes to 640,000."""
    body = HEADER + b"\xf8" + b"\x7f" + b"x" * 64 + b"\x01" * 10_000 + b"\xf9"
    assert len(smile.decode(body)) == 10_001
    assert len(smile.decode(body, max_text=64 * 10_001)) == 10_001
    with pytest.raises(smile.SmileTooLarge, match="over 640,000 characters"):
        smile.decode(body, max_text=640_000)
    names = HEADER + b"\xf8" + b"\xfa\xbf" + b"k" * 64 + b"\x21\xfb" + b"\xfa\x40\x21\xfb" * 100
    with pytest.raises(smile.SmileTooLarge):
        smile.decode(names, max_text=64 * 100)  # shared names count too
