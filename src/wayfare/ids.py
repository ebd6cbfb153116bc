"""Identifiers minted by the server."""

from __future__ import annotations

import itertools
import random
import secrets
import time
from typing import Protocol


def inlet_id() -> str:
    """64 hex characters, as Adobe's inlet ids."""
    return secrets.token_hex(32)


def dataset_id() -> str:
    """24 hex characters, as Adobe's dataset ids."""
    return secrets.token_hex(12)


def schema_hex() -> str:
    return secrets.token_hex(16)


def flow_id() -> str:
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class TransactionIds:
    """Server-side ids for messages and batches: ``<receivedTimeMs>:<prefix><counter>``.

    The prefix is random per process, so ids from several processes never collide, and
    no system call is made per message."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)

    def next(self, received_ms: int) -> str:
        return f"{received_ms}:{self._prefix}{next(self._counter):x}"


def access_token() -> str:
    return "wf_" + secrets.token_urlsafe(32)


class Entropy(Protocol):
    """Where the journey engine's ids and random seeds come from: injected, so that a fake
    clock and a seeded source replay a run exactly."""

    def instance_id(self) -> str: ...
    def person_id(self) -> str: ...
    def seed(self) -> int: ...


def time_ordered_id() -> str:
    """32 hex characters: the milliseconds since the epoch (12), then 80 random bits (20).
    Ids made later sort later, so the indexes keyed by them (instances, persons and the
    identity graph's) grow at their end: random keys scatter every insert over the whole
    index, and a commit then writes pages all over it, several times slower once the index
    outgrows the cache.

    The bits come from ``random`` (seeded from the system's source, and again in a forked
    child), not ``os.urandom``: these ids guard nothing, and ``os.urandom`` lets go of the
    GIL for its system call, so an engine making a person for each new identity inside its
    commit waited for the GIL once per person, holding the store's write lock all along."""
    return f"{time.time_ns() // 1_000_000:012x}{random.getrandbits(80):020x}"


class SystemEntropy:
    def instance_id(self) -> str:
        return time_ordered_id()

    def person_id(self) -> str:
        return time_ordered_id()

    def seed(self) -> int:
        return random.getrandbits(32)  # picks split branches: needs no secrecy


class SeededEntropy:
    """The same ids and seeds, in the same order, for the same ``seed``."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)

    def instance_id(self) -> str:
        return self._random.getrandbits(128).to_bytes(16, "big").hex()

    def person_id(self) -> str:
        return self.instance_id()

    def seed(self) -> int:
        return self._random.getrandbits(32)
