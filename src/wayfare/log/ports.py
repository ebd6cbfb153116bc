"""What the journey engine consumes: the event log.

The log holds accepted messages in order per partition (model/partitions.py: one person's
messages stay in one partition). An engine reads a partition after the position its last
commit stored, acts, and stores the new position in the same transaction as everything it
did; only then does it acknowledge the position to the log. A crash replays from the stored
position, and what was already committed is skipped, so nothing is acted on twice.

Adapters: ``embedded.py`` (the embedded store's own tables, one partition: the inlet's writer
has stored the messages already), ``nats.py`` (a JetStream stream, one subject per
partition: the engine's commit stores the messages it reads), ``memory.py`` (for tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from wayfare.model.records import IncomingMessage
from wayfare.model.runs import ArrivedIdentities, MatchedMessage


@dataclass(frozen=True, slots=True)
class LogSlice:
    """What one read of a partition returned."""

    partition: int
    after: int
    """The position the read started after."""
    last: int
    """The position read up to; the commit that acts on this slice stores it. Equal to
    ``after`` when nothing was there."""
    matched: list[MatchedMessage] = field(default_factory=list)
    """What journeys act on, in log order: matched events, and events of a person that
    cannot be told (model/events.py, ``Unmatched.counts``)."""
    messages: list[IncomingMessage] = field(default_factory=list)
    """Accepted messages the engine's commit must store (records, failed records, message
    ids, match outcomes); empty where the inlet's writer stored them."""
    identities: list[ArrivedIdentities] = field(default_factory=list)
    """The identityMap of every accepted, valid message read that has one, in log order:
    what the engine's commit links in the identity graph."""
    more: bool = True
    """The read may have stopped at its limit: more may be waiting already. False when the
    log read everything there was, so the engine need not read again before new entries
    come (a log that cannot tell leaves it True)."""

    @property
    def empty(self) -> bool:
        return self.last == self.after


class EventLog(Protocol):
    @property
    def partitions(self) -> int:
        """How many partitions the log has; fixed for its lifetime."""
        ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def read(self, partition: int, after: int, limit: int) -> LogSlice:
        """At most ``limit`` entries of ``partition`` after position ``after``, oldest first,
        never skipping one. It may hand out fewer than are there (what it holds already,
        before the rest arrives); an empty slice means that nothing acknowledged before the
        read is left."""
        ...

    async def wait(self, seconds: float) -> None:
        """Return once new entries may have arrived (in any partition), or after ``seconds``."""
        ...

    async def acknowledge(self, partition: int, position: int) -> None:
        """The engine has committed everything of ``partition`` up to ``position``: the log
        may let go of it."""
        ...

    async def release(self, partition: int) -> None:
        """The engine no longer holds ``partition``: stop reading it ahead."""
        ...


@runtime_checkable
class LogLag(Protocol):
    """A log that can tell how far a reader is behind: the engine's lag."""

    async def behind(self, partition: int, position: int) -> int | None:
        """About how many entries of ``partition`` after ``position`` no read has handed out
        yet; None when that cannot be told now (the partition is not being read)."""
        ...
