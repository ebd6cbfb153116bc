"""How the command line prints times and missing values."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime

import click
import msgspec
import pytest
from click.testing import CliRunner

from wayfare.cli.output import MISSING, iso_time, table

MS = 1_764_496_800_123  # 2025-11-30T10:00:00.123Z


@pytest.fixture
def in_paris() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_times_are_utc_with_z_off_a_terminal(in_paris: None) -> None:
    assert iso_time(MS, local=False) == "2025-11-30T10:00:00.123Z"


def test_times_are_local_with_their_offset_on_a_terminal(in_paris: None) -> None:
    shown = iso_time(MS, local=True)
    assert shown == "2025-11-30T11:00:00.123+01:00"
    assert datetime.fromisoformat(shown).timestamp() * 1000 == MS


def test_without_a_terminal_the_default_is_utc(in_paris: None) -> None:
    assert iso_time(MS) == "2025-11-30T10:00:00.123Z"  # pytest's stdout is not a terminal


def test_missing_values_print_as_a_dash() -> None:
    assert iso_time(None) == MISSING == "-"
    printed = CliRunner().invoke(_printing([("a", None), ("bb", "x"), ("c", msgspec.UNSET)]), [])
    assert printed.output.splitlines() == ["name  detail", "a     -", "bb    x", "c     -"]
    assert "None" not in printed.output


def _printing(rows: list[tuple[object, ...]]) -> click.Command:
    @click.command()
    def show() -> None:
        table(["name", "detail"], rows)

    return show
