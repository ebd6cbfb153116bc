"""Partitions: people spread over a fixed number of partitions by a stable hash of their key.

One person's messages stay in order in one partition, and one journey engine at a time acts
on a partition, so nothing races on a person. Messages about nobody (failed records, raw
data, events whose person cannot be told) spread by their xactionId.
"""

from __future__ import annotations

import zlib


def partition_of(org_id: str, key: str, partitions: int) -> int:
    """The partition of ``key`` (a person's identity, or a message's xactionId) in ``org_id``:
    the same on every process and every run."""
    if partitions <= 1:
        return 0
    return zlib.crc32(f"{org_id}\x00{key}".encode()) % partitions
