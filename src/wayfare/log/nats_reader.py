"""One partition of the JetStream event log, as a worker reads it.

An ephemeral push consumer of the partition's subject (ack none, in memory, flow control,
idle heartbeats) delivers from a position on into a buffer, so a read hands out what is
already there without a round trip. The consumer is re-created (the same way nats-py's
ordered consumers are) when a read asks for another position than where the reader stands,
when a delivery is missing (its consumer sequence skips), when three heartbeats go missing or
the server no longer knows the consumer, or after the client reconnected: always from the last
position it holds, so nothing is lost or read twice.

The buffer is bounded by withholding flow-control replies while it holds ``buffer`` messages
or more: the server stops delivering at its next flow-control request until a read makes
room, so the buffer holds at most ``buffer`` messages and one flow-control window.

A read with nothing buffered asks the consumer what it has delivered and what is pending
(one round trip) and waits for those in flight, so whatever JetStream acknowledged before a
read is in it (up to ``limit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api

from wayfare.log.jetstream import NatsSettings, log_errors

_STATUS = "Status"
_CONTROL = "100"
_LAST_CONSUMER = "Nats-Last-Consumer"
_STALLED = "Nats-Consumer-Stalled"
_MISSED_HEARTBEATS = 3


def sequences(reply: str) -> tuple[int, int]:
    """(stream sequence, consumer sequence) from a JetStream delivery's reply subject, in its
    old form ($JS.ACK.stream.consumer.n.sseq.dseq.ts.pending) or the new one (with domain
    and account hash after ACK)."""
    tokens = reply.split(".")
    if len(tokens) == 9:
        return int(tokens[5]), int(tokens[6])
    return int(tokens[7]), int(tokens[8])


class PartitionReader:
    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        settings: NatsSettings,
        partition: int,
        wake: Callable[[], None],
    ) -> None:
        self._client = client
        self._js = js
        self._settings = settings
        self._subject = settings.subject(partition)
        self._wake = wake
        self._buffer: deque[tuple[int, bytes]] = deque()
        self._handed = -1
        """The last position a read handed out: where the reader stands."""
        self._received = 0
        """The last position put into the buffer (the consumer starts after it)."""
        self._delivered = 0
        """The consumer sequence of the last delivery taken."""
        self._expected = 0
        """The consumer sequence up to which deliveries are known to be on their way."""
        self._arrived = asyncio.Event()
        self._subscription: Subscription | None = None
        self._consumer: str | None = None
        self._generation = 0
        self._flow_reply: str | None = None
        self._heard = 0.0
        self._stale = True

    @property
    def has_entries(self) -> bool:
        return bool(self._buffer)

    @property
    def stale(self) -> bool:
        """The consumer must be re-created before the next read."""
        return self._stale

    def mark_stale(self) -> None:
        self._stale = True
        self._arrived.set()
        self._wake()

    async def read(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        """The partition's entries after ``after`` (positions and encoded messages)."""
        if after != self._handed:
            self._buffer.clear()
            self._received = after
            self._handed = after
            self._stale = True
        if self._stale or time.monotonic() - self._heard > (
            _MISSED_HEARTBEATS * self._settings.heartbeat
        ):
            await self._subscribe()
        if not self._buffer:
            await self._catch_up(limit)
        taken = [self._buffer.popleft() for _ in range(min(limit, len(self._buffer)))]
        if taken:
            self._handed = taken[-1][0]
        await self._release_flow()
        return taken

    async def stop(self) -> None:
        await self._unsubscribe()

    async def behind(self) -> int | None:
        """Entries not handed out yet: buffered, and pending at the consumer (one round
        trip; deliveries on their way count in neither); None without a consumer."""
        consumer = self._consumer
        if consumer is None or self._stale:
            return None
        with log_errors(f"reading how far {self._subject} is behind"):
            try:
                info = await self._js.consumer_info(self._settings.stream, consumer)
            except nats.js.errors.NotFoundError:
                return None  # the next read re-creates it
        return len(self._buffer) + (info.num_pending or 0)

    async def _subscribe(self) -> None:
        """A new consumer delivering from after the last position received."""
        await self._unsubscribe()
        self._generation += 1
        generation = self._generation
        self._delivered = self._expected = 0
        self._flow_reply = None
        inbox = self._client.new_inbox()

        async def on_message(msg: Msg) -> None:
            if generation == self._generation:
                await self._take(msg)

        self._stale = False  # deliveries from here on may find it stale again
        self._heard = time.monotonic()
        try:
            with log_errors(f"starting a reader of {self._subject}"):
                info = await self._consume(inbox, on_message)
        except BaseException:
            self._stale = True
            raise
        self._consumer = info.name
        self._expect(info)

    async def _consume(
        self, inbox: str, on_message: Callable[[Msg], Awaitable[None]]
    ) -> api.ConsumerInfo:
        """Listen on ``inbox``, then have a consumer deliver there from after the last
        position received."""
        self._subscription = await self._client.subscribe(
            inbox, cb=on_message, pending_msgs_limit=-1, pending_bytes_limit=-1
        )
        config = api.ConsumerConfig(
            deliver_subject=inbox,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self._received + 1,
            filter_subject=self._subject,
            ack_policy=api.AckPolicy.NONE,
            replay_policy=api.ReplayPolicy.INSTANT,
            flow_control=True,
            idle_heartbeat=self._settings.heartbeat,
            inactive_threshold=max(5.0, 10 * self._settings.heartbeat),
            mem_storage=True,
            num_replicas=1,
        )
        return await self._js.add_consumer(self._settings.stream, config)

    async def _unsubscribe(self) -> None:
        subscription, self._subscription = self._subscription, None
        consumer, self._consumer = self._consumer, None
        self._generation += 1
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        if consumer is not None and not self._client.is_closed:
            # The server drops an ephemeral consumer nobody listens to on its own; this only
            # makes it sooner. No answer is awaited.
            with contextlib.suppress(Exception):
                await self._client.publish(
                    f"$JS.API.CONSUMER.DELETE.{self._settings.stream}.{consumer}"
                )

    def _expect(self, info: api.ConsumerInfo) -> None:
        delivered = info.delivered.consumer_seq if info.delivered else 0
        self._expected = max(self._expected, delivered + (info.num_pending or 0))

    async def _catch_up(self, limit: int) -> None:
        """Wait for what the consumer delivered or has pending, up to ``limit`` messages."""
        assert self._consumer is not None
        with log_errors(f"reading {self._subject}"):
            try:
                try:
                    info = await self._js.consumer_info(self._settings.stream, self._consumer)
                except nats.js.errors.NotFoundError:
                    await self._subscribe()  # the server lost it: a new one from here
                else:
                    self._expect(info)
                async with asyncio.timeout(self._settings.timeout):
                    while len(self._buffer) < limit and self._delivered < self._expected:
                        if self._stale:
                            return  # the next read re-creates the consumer
                        self._arrived.clear()
                        await self._arrived.wait()
            except BaseException:
                self._stale = True
                raise

    async def _take(self, msg: Msg) -> None:
        self._heard = time.monotonic()
        headers = msg.headers or {}
        status = headers.get(_STATUS)
        if status == _CONTROL:
            if msg.reply:  # a flow control request
                self._flow_reply = msg.reply
            elif headers.get(_STALLED):
                self._flow_reply = headers[_STALLED]
            if int(headers.get(_LAST_CONSUMER, 0)) > self._delivered:
                self.mark_stale()  # deliveries went missing
            await self._release_flow()
            return
        if status is not None:
            self.mark_stale()  # the consumer is gone or changed
            return
        position, delivered = sequences(msg.reply)
        if delivered != self._delivered + 1:
            self.mark_stale()
            return
        self._delivered = delivered
        self._received = position
        self._buffer.append((position, msg.data))
        self._arrived.set()
        self._wake()

    async def _release_flow(self) -> None:
        reply = self._flow_reply
        if reply is not None and len(self._buffer) < self._settings.buffer:
            self._flow_reply = None
            with contextlib.suppress(Exception):
                await self._client.publish(reply)
