"""Spreading the partitions of the event log over the journey engines that are alive.

Each engine's share is the partition count divided by the number of live engines, the
first engines (by id) taking one more when it does not divide. An engine keeps the leases it
holds up to its share and takes free or lapsed partitions up to it; what it holds over its
share is its surplus, which it hands over: it stops taking new work from those partitions,
lets the deliveries in flight end and records them, then releases them for another engine
to take. So every engine converges on its share within a few renewals, a partition moves
only when an engine joins or leaves, and a hand-over never makes the next owner deliver
again what the last one delivered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lease:
    owner: str | None
    live: bool
    """Not lapsed."""


@dataclass(frozen=True, slots=True)
class Plan:
    keep: tuple[int, ...]
    take: tuple[int, ...]
    release: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Claim:
    """What an engine holds after a renewal."""

    held: dict[int, int]
    """partition -> epoch of every lease it holds."""
    surplus: frozenset[int] = frozenset()
    """Held partitions over its share: to hand over (model docstring)."""


def share(partitions: int, workers: Sequence[str], me: str) -> int:
    """How many partitions ``me`` should hold among the live ``workers``."""
    alive = sorted(set(workers) | {me})
    base, extra = divmod(partitions, len(alive))
    return base + (1 if alive.index(me) < extra else 0)


def plan(partitions: int, workers: Sequence[str], me: str, leases: Mapping[int, Lease]) -> Plan:
    """What ``me`` does with its leases at a renewal."""
    mine = sorted(p for p, lease in leases.items() if lease.owner == me and lease.live)
    wanted = share(partitions, workers, me)
    keep, release = mine[:wanted], mine[wanted:]
    free = [
        p
        for p in range(partitions)
        if p not in mine and (p not in leases or leases[p].owner is None or not leases[p].live)
    ]
    take = free[: max(0, wanted - len(keep))]
    return Plan(tuple(keep), tuple(take), tuple(release))
