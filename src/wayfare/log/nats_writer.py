"""The inlet's MessageWriter onto the JetStream event log.

Each accepted message (valid or failed) is published to its partition's subject, all of one
``write`` at once, each with a reply subject of its own under one subscription, and the
PubAcks are awaited together: one round trip for the call, not one per message (nats-py's
``publish_async`` does the same at twice the cost per message). A 200 is owed only to what
JetStream acknowledged. When NATS is unreachable or slow, ``write`` (the ``known`` lookup
included) raises LogError within ``settings.timeout``; while the client is disconnected it
fails at once, as nothing is buffered for later. A message published just before the
connection broke may still be stored: a retry with its msgId is answered as a duplicate.

Retries: ``Nats-Msg-Id`` is the org and the msgId (hashed when long or not a plain header
value), or the xactionId for a message without one. Within JetStream's duplicate window a
retry is acknowledged as ``duplicate`` with the ORIGINAL's sequence, read back (direct get) to
answer with the first xactionId; beyond it, the injected ``known`` lookup (the store's message
ids) answers before anything is published. A duplicate whose original was purged already
(committed, so the store has it) is asked of ``known`` too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any

import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from wayfare.errors import LogError, PayloadTooLargeError
from wayfare.log.codec import decode, encode
from wayfare.log.jetstream import NatsSettings, connect, log_errors, prepare_stream
from wayfare.log.retries import KnownMessageIds, plan_write
from wayfare.model.partitions import partition_of
from wayfare.model.records import FirstMessage, IncomingMessage, WriteOutcome, repeat_of

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
MAX_MSG_ID = 128
_PLAIN = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")
_HEADERS_ROOM = 512
"""Bytes kept for headers under the server's max_payload."""


def msg_id_of(message: IncomingMessage) -> str:
    """The message's ``Nats-Msg-Id``: what JetStream deduplicates on."""
    if message.msg_id is None:
        raw = f"x:{message.xaction_id}"
    else:
        raw = f"m:{len(message.org_id)}:{message.org_id}:{message.msg_id}"
    if len(raw) <= MAX_MSG_ID and _PLAIN.match(raw):
        return raw
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()


class NatsWriter:
    """MessageWriter publishing to the event log's stream (created if missing)."""

    def __init__(self, settings: NatsSettings, known: KnownMessageIds | None = None) -> None:
        self._settings = settings
        self._known = known
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._partitions = settings.partitions
        self._direct = True
        self._max_bytes = 0
        self._pending = 0
        self._replies = ""
        self._published = 0
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

    @property
    def pending(self) -> int:
        return self._pending

    async def start(self) -> None:
        settings = self._settings
        self._client = await connect(settings)
        self._js = self._client.jetstream(timeout=settings.timeout)
        self._replies = self._client.new_inbox() + "."
        await self._client.subscribe(self._replies + "*", cb=self._on_ack)
        try:
            config = await prepare_stream(self._js, settings)
        except LogError:
            await self.stop()
            raise
        self._partitions = len(config.subjects or ())
        self._direct = bool(config.allow_direct)
        self._max_bytes = self._client.max_payload - _HEADERS_ROOM

    async def stop(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None:
            await client.close()

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        if self._client is None:
            raise LogError("the NATS writer is not running")
        self._pending += len(messages)
        try:
            async with asyncio.timeout(self._settings.timeout):
                plan = await plan_write(messages, self._known)
                fresh = [messages[i] for i in plan.fresh]
                acks = await self._publish(self._client, fresh)
                outcomes = list(
                    await asyncio.gather(
                        *(
                            self._first(m, seq) if duplicate else _fresh(m)
                            for m, (seq, duplicate) in zip(fresh, acks, strict=True)
                        )
                    )
                )  # the originals of retried messages are read all at once
            return plan.outcomes(messages, outcomes)
        except TimeoutError as exc:
            raise LogError(
                f"NATS did not acknowledge {len(messages)} message(s) "
                f"within {self._settings.timeout:g}s"
            ) from exc
        finally:
            self._pending -= len(messages)

    async def _publish(
        self, client: Client, messages: Sequence[IncomingMessage]
    ) -> list[tuple[int, bool]]:
        """(stream sequence, duplicate) of each message, published all at once: each with a
        reply subject of its own under one subscription (``_on_ack``)."""
        bodies = [encode(m) for m in messages]
        for message, body in zip(messages, bodies, strict=True):
            if len(body) > self._max_bytes:
                raise PayloadTooLargeError(
                    f"message {message.xaction_id} takes {len(body)} bytes in the event log, "
                    f"over the NATS server's limit of {self._max_bytes}"
                )
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[dict[str, Any]]] = []
        replies: list[str] = []
        try:
            with log_errors("publishing to the event log"):
                for message, body in zip(messages, bodies, strict=True):
                    partition = partition_of(
                        message.org_id, message.partition_key, self._partitions
                    )
                    self._published += 1
                    reply = f"{self._replies}{self._published}"
                    future = self._acks[reply] = loop.create_future()
                    replies.append(reply)
                    futures.append(future)
                    await client.publish(
                        self._settings.subject(partition),
                        body,
                        reply=reply,
                        headers={MSG_ID_HEADER: msg_id_of(message)},
                    )
            acks = await asyncio.gather(*futures)
        finally:
            for reply in replies:
                self._acks.pop(reply, None)
        return [_sequence(ack) for ack in acks]

    async def _on_ack(self, msg: Msg) -> None:
        future = self._acks.pop(msg.subject, None)
        if future is None or future.done():
            return
        if (msg.headers or {}).get("Status") == "503":
            future.set_exception(
                LogError(f"no NATS stream takes the event log's subjects ({self._settings.stream})")
            )
            return
        try:
            ack = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            future.set_exception(LogError(f"NATS answered a publish with {msg.data[:100]!r}"))
        else:
            future.set_result(ack)

    async def _first(self, message: IncomingMessage, seq: int) -> WriteOutcome:
        """The outcome of a message JetStream took for a retry of its entry ``seq``."""
        first = await self._original(seq)
        if first is None and self._known is not None and message.msg_id is not None:
            first = (await self._known(message.org_id, [message.msg_id])).get(message.msg_id)
        if first is None:
            log.warning(
                "message %s repeats stream entry %s, which is gone; answering with its own "
                "xactionId",
                message.xaction_id,
                seq,
            )
            first = FirstMessage(message.xaction_id, None)
        return repeat_of(first, message)

    async def _original(self, seq: int) -> FirstMessage | None:
        """The first message of the stream's entry ``seq``; None when it was purged."""
        assert self._js is not None
        with log_errors(f"reading the original of a duplicate (entry {seq})"):
            try:
                entry = await self._js.get_msg(self._settings.stream, seq, direct=self._direct)
            except nats.js.errors.NotFoundError:
                return None
        original = decode(entry.data or b"")
        return FirstMessage(original.xaction_id, original.digest)


async def _fresh(message: IncomingMessage) -> WriteOutcome:
    return WriteOutcome(message.xaction_id, False)


def _sequence(ack: dict[str, Any]) -> tuple[int, bool]:
    """(seq, duplicate) of a PubAck; LogError for JetStream's refusal."""
    error = ack.get("error")
    if error is not None:
        raise LogError(f"JetStream refused a message: {error.get('description', error)}")
    return int(ack["seq"]), bool(ack.get("duplicate"))
