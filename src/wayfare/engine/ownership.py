"""Which partitions of the event log a journey engine acts on.

Embedded, the one engine of a data directory acts on its one partition (``engine.lock``
keeps it alone). Scaled out, engines hold partitions by leases in the store
(``PartitionLeases``): each renews its own every third of the lease's life, takes its share
of what is free or lapsed, and stamps every commit with the epochs it holds, so a commit made
after a lease moved is refused. An engine also stops delivering actions of a partition once
its lease may have lapsed by its own clock (``act_until``, checked by the courier right
before each call): an engine that was paused
(SIGSTOP, a long pause of its host) wakes up to find its leases gone before it sends
anything.

A lease that may have lapsed is not the same as a partition lost. While the store cannot be
reached (it restarts, say) no lease is renewed, yet no other engine can take one either: the
engine stops acting on its partitions but keeps what it knows of them, and still commits
the outcomes of deliveries it made under their fences, which the store refuses only if
another engine took a partition meanwhile. A partition is lost when the engine holds it no
more, or holds it again under an epoch that another engine's take came between
(``Holding.lost_since``): taking back its own lapsed lease moves the epoch by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from wayfare.store.ports import PartitionLeases
from wayfare.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Holding:
    """The partitions an engine acts on, and what its commits carry to be fenced."""

    partitions: frozenset[int]
    """The partitions acted on: read, their timers fired, their actions delivered."""
    owner: str | None = None
    fences: Mapping[int, int] = field(default_factory=dict)
    """partition -> epoch of the lease, for the partitions acted on, those being handed
    over and those whose lease may have lapsed (their outcomes are still committed under
    it); empty where nothing needs fencing."""
    draining: frozenset[int] = frozenset()
    """Held partitions being handed over (model/assignment.py): no new work is taken from
    them; once the deliveries in flight are recorded, they are released."""

    def lost_since(self, before: Holding) -> set[int]:
        """The partitions held in ``before`` that this holding does not go on with: held no
        more, or held again under an epoch that a take by another engine came between."""
        lost = set()
        for partition in before.partitions | before.fences.keys():
            if partition not in self.partitions and partition not in self.fences:
                lost.add(partition)
                continue
            old, new = before.fences.get(partition), self.fences.get(partition)
            if old is not None and new not in (old, old + 1):
                lost.add(partition)
        return lost


class Ownership(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None:
        """Give every partition up (a clean stop)."""
        ...

    def holding(self) -> Holding: ...
    def act_until(self, partition: int) -> float:
        """Until when (``time.monotonic()``) the lease of ``partition`` surely holds; in
        the past when it is not held, or is being handed over."""
        ...

    def lost(self) -> None:
        """A commit was fenced: what is held must be learned again before acting."""
        ...

    async def hand_over(self, partitions: Collection[int]) -> None:
        """These draining partitions have nothing in flight any more: release them."""
        ...


class SoleOwnership:
    """Every partition of the log, for the only engine there is."""

    def __init__(self, partitions: int = 1) -> None:
        self._holding = Holding(frozenset(range(partitions)))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def holding(self) -> Holding:
        return self._holding

    def act_until(self, partition: int) -> float:
        return math.inf

    def lost(self) -> None:
        pass

    async def hand_over(self, partitions: Collection[int]) -> None:
        pass


def worker_id() -> str:
    """Unique to this process, readable in ``wayfare doctor``: host, pid, a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class LeasedOwnership:
    """Partitions held by leases in the store, renewed on a thread of their own so a long
    engine cycle never starves them."""

    def __init__(
        self,
        leases: PartitionLeases,
        partitions: int,
        *,
        ttl_seconds: float = 6.0,
        owner: str | None = None,
    ) -> None:
        self._leases = leases
        self._partitions = partitions
        self._ttl_ms = int(ttl_seconds * 1000)
        self.owner = owner or worker_id()
        self._held: dict[int, int] = {}
        self._surplus: frozenset[int] = frozenset()
        self._valid_until = 0.0
        """Monotonic time before which every lease held surely has not lapsed."""
        self._task: asyncio.Task[None] | None = None
        self._renew_now = asyncio.Event()

    async def start(self) -> None:
        await self._claim()
        self._task = asyncio.create_task(self._renew())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        held, self._held = self._held, {}
        self._valid_until = 0.0
        with contextlib.suppress(Exception):  # a dead store: the leases lapse instead
            await asyncio.to_thread(
                functools.partial(self._leases.release, self.owner, list(held), leaving=True)
            )

    def holding(self) -> Holding:
        if time.monotonic() >= self._valid_until:
            # The leases may have lapsed: act on none, but keep their fences, under which
            # outcomes of deliveries made before are committed unless another engine took
            # a partition meanwhile.
            return Holding(frozenset(), self.owner, dict(self._held))
        acting = frozenset(self._held) - self._surplus
        return Holding(acting, self.owner, dict(self._held), self._surplus & self._held.keys())

    def act_until(self, partition: int) -> float:
        if partition in self._held and partition not in self._surplus:
            return self._valid_until
        return 0.0

    async def hand_over(self, partitions: Collection[int]) -> None:
        handed = [p for p in partitions if p in self._surplus and p in self._held]
        if not handed:
            return
        try:
            await asyncio.to_thread(self._leases.release, self.owner, handed)
        except Exception as exc:  # the next renewal plans them again
            log.warning("handing partitions over failed: %s", exc)
            return
        for p in handed:
            self._held.pop(p, None)
        log.info("journey engine %s handed over partitions %s", self.owner, handed)

    def lost(self) -> None:
        self._valid_until = 0.0
        self._renew_now.set()

    async def _renew(self) -> None:
        every = self._ttl_ms / 3000
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renew_now.wait(), every)
            self._renew_now.clear()
            await self._claim()

    async def _claim(self) -> None:
        started = time.monotonic()
        try:
            claim = await asyncio.to_thread(
                self._leases.claim, self.owner, self._partitions, self._ttl_ms
            )
        except Exception as exc:  # the store is away: the leases lapse by themselves
            log.warning("renewing partition leases failed: %s", exc)
            return
        if claim.held != self._held or claim.surplus != self._surplus:
            log.info(
                "journey engine %s holds partitions %s%s",
                self.owner,
                ", ".join(map(str, sorted(claim.held))) or "none",
                f" (handing over {', '.join(map(str, sorted(claim.surplus)))})"
                if claim.surplus
                else "",
            )
        self._held, self._surplus = claim.held, claim.surplus
        # The store started the leases' time after ``started``: until then they hold, less
        # a margin for clocks that drift apart within one lease.
        self._valid_until = started + self._ttl_ms / 1000 * 0.9
