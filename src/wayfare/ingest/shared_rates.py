"""Each inlet's rate limit counted once for all the HTTP processes of a scaled-out
deployment, where every process is a server of its own.

The processes share a token bucket an inlet in the store (``RateBuckets``). A process takes
tokens from it in blocks (what a write needs, and a twentieth of a second's worth more)
and spends them on its writes, so it asks the store about once a block, not once a write.
Below twenty tokens a second, where a block would be less than one token, a write takes
just what it needs: a token held past its second would be a token lost to every process.
Tokens it has held for over a second are dropped, never spent late: the processes together
admit no more than the bucket gives. Should the store fail to answer, messages are admitted
(the log has taken them without the store before) and each process's own limit, the whole
rate for itself, still holds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Sequence

from wayfare.clock import Clock
from wayfare.errors import StoreError
from wayfare.ingest.rate_limit import over_rate
from wayfare.model.records import IncomingMessage, WriteOutcome
from wayfare.store.ports import MessageWriter, RateBuckets

log = logging.getLogger(__name__)

HOLD_MS = 1_000
"""How long a process may keep tokens it took and has not spent."""
BLOCK_SECONDS = 0.05
"""How many seconds' worth of tokens a process takes beyond what a write needs."""
WARN_EVERY_SECONDS = 10.0


class SharedRateWriter:
    """A MessageWriter that admits each write within its inlet's shared rate first."""

    def __init__(
        self,
        writer: MessageWriter,
        buckets: RateBuckets,
        clock: Clock,
        rate: float,
        burst: float = 0.0,
    ) -> None:
        self._writer = writer
        self._buckets = buckets
        self._clock = clock
        self._rate = rate
        self._burst = burst or rate
        block = rate * BLOCK_SECONDS
        self._block = block if block >= 1 else 0.0
        self._held: dict[str, tuple[float, int]] = {}
        """Inlet -> tokens held, and when they were taken."""
        self._warned = -math.inf

    @property
    def pending(self) -> int:
        return self._writer.pending

    async def start(self) -> None:
        await self._writer.start()

    async def stop(self) -> None:
        await self._writer.stop()

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        for inlet_id, count in Counter(m.inlet_id for m in messages).items():
            await self._admit(inlet_id, count)
        return await self._writer.write(messages)

    async def _admit(self, inlet_id: str, count: int) -> None:
        now = self._clock.now_ms()
        held, taken = self._claim(inlet_id, now)
        if held >= count:
            self._give(inlet_id, held - count, taken)
            return
        needed = count - held
        try:
            answer = await asyncio.to_thread(
                self._buckets.take, inlet_id, needed, needed + self._block, self._rate, self._burst
            )
        except StoreError as exc:
            self._give(inlet_id, held, taken)
            if time.monotonic() - self._warned >= WARN_EVERY_SECONDS:
                self._warned = time.monotonic()
                log.warning("inlet rates not shared (each process counts its own): %s", exc)
            return
        if answer < 0:
            self._give(inlet_id, held, taken)
            raise over_rate(self._rate, -answer)
        self._give(inlet_id, held + answer - count, taken if held > 0 else now)

    def _claim(self, inlet_id: str, now: int) -> tuple[float, int]:
        """The inlet's tokens this process holds and when it took them, taken out (writes
        running meanwhile on the event loop cannot spend them twice); none when held too
        long."""
        tokens, taken = self._held.pop(inlet_id, (0.0, now))
        return (tokens, taken) if now - taken <= HOLD_MS else (0.0, now)

    def _give(self, inlet_id: str, tokens: float, taken: int) -> None:
        """Keep ``tokens`` taken at ``taken`` with what the inlet holds (all of them then
        counted from the older time)."""
        if tokens <= 0:
            return
        before, when = self._held.get(inlet_id, (0.0, taken))
        self._held[inlet_id] = (before + tokens, min(when, taken))
