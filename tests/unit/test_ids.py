"""Ids the server mints for instances and persons: unique, and in the order they were made,
so that the indexes keyed by them grow at their end."""

from __future__ import annotations

import re
import time

from wayfare.ids import SystemEntropy


def test_instance_and_person_ids_are_hex_unique_and_sort_in_the_order_made() -> None:
    entropy = SystemEntropy()
    made = []
    for _ in range(3):
        made += [entropy.instance_id() for _ in range(500)] + [entropy.person_id()]
        time.sleep(0.002)  # the next ones in a later millisecond
    assert all(re.fullmatch(r"[0-9a-f]{32}", x) for x in made)
    assert len(set(made)) == len(made)
    stamps = [int(x[:12], 16) for x in made]
    assert stamps == sorted(stamps)
    first_ms, last_ms = stamps[0], stamps[-1]
    assert last_ms > first_ms
    assert abs(first_ms - time.time_ns() // 1_000_000) < 60_000
    later = [x for x in made if int(x[:12], 16) == last_ms]
    assert all(x > made[0] for x in later)
