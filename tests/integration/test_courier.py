"""The action courier: ``CourierSender`` makes its attempts in a real child process
(``python -m wayfare.engine.courier``) against a real local HTTP receiver (aiohttp) and a real
SMTP server (aiosmtpd), and answers like ``ActionSender`` does — also when the child dies or
is stopped with an attempt in flight."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.conftest import free_port
from tests.integration.journey_support import Mailbox, running_mailbox
from wayfare.engine.actions import NOT_SENT, Delivery
from wayfare.engine.courier import CourierSender

pytestmark = pytest.mark.integration

SENDER = "journeys@wayfare.test"
RECEIVERS = ["127.0.0.1"]
"""Where the receivers listen: denied by the destination policy unless allowed."""
DEADLINE = 15.0
"""Seconds any single wait in these tests may take before it counts as a hang."""


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    key: str | None


@dataclass
class Receiver:
    """Answers by path (see ``receiving``) and records every call it is given."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    """The keys of the calls whose answer the receiver has produced, in order."""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a call reaches ``/hold`` or ``/late``."""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    """Lets ``/hold`` and ``/slow`` answer; set when the receiver shuts down."""


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """An HTTP receiver on 127.0.0.1, on the running loop. ``/missing`` answers 404,
    ``/broken`` 500, ``/text`` plain text, ``/slow`` after 3 s, ``/late`` after 0.5 s,
    ``/hold`` once released; anything else 200 with the call's key and body."""
    receiver = Receiver()

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        key = request.headers.get("Idempotency-Key")
        receiver.calls.append(
            Call(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=orjson.loads(raw) if raw else None,
                key=key,
            )
        )
        if request.path in ("/hold", "/late"):
            receiver.arrived.set()
        if request.path == "/hold":
            await receiver.release.wait()
        if request.path == "/late":
            await asyncio.sleep(0.5)
        if request.path == "/slow":
            # bounded, and cut short when the receiver shuts down
            await asyncio.wait_for(receiver.release.wait(), 3.0)
        receiver.finished.append(str(key))
        if request.path == "/missing":
            return web.json_response({"error": "no such thing"}, status=404)
        if request.path == "/broken":
            return web.json_response({"error": "broken"}, status=500)
        if request.path == "/text":
            return web.Response(text="thanks, noted", content_type="text/plain")
        return web.json_response({"key": key, "got": orjson.loads(raw) if raw else None})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield receiver
    finally:
        receiver.release.set()
        await runner.cleanup()


@asynccontextmanager
async def courier(smtp_port: int = 1, allow: list[str] = RECEIVERS) -> AsyncIterator[CourierSender]:
    sender = CourierSender(
        smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_from=SENDER, allow=allow
    )
    await sender.start()
    try:
        yield sender
    finally:
        await asyncio.wait_for(sender.stop(), DEADLINE)


async def send(sender: CourierSender, request: dict[str, Any], key: str) -> Delivery:
    """One http attempt through the courier, failing the test instead of hanging."""
    return await asyncio.wait_for(sender.send("http", request, key), DEADLINE)


def child(sender: CourierSender) -> asyncio.subprocess.Process:
    # CourierSender does not expose its child; these tests read the private attribute to
    # kill it and to check it has exited.
    proc = sender._proc
    assert proc is not None, "the courier has no child process"
    return proc


# HTTP


def test_an_http_post_reaches_the_receiver_with_its_key_headers_query_and_body() -> None:
    async def scenario() -> tuple[Delivery, list[Call]]:
        async with receiving() as receiver, courier() as sender:
            request = {
                "method": "POST",
                "url": f"{receiver.url}/carts",
                "headers": {"X-Api-Key": "secret", "X-Count": 3},
                "query": {"source": "wayfare", "total": 19.5},
                "body": {"email": "ada@example.com", "items": [1, 2], "gift": True},
            }
            delivery = await send(sender, request, "inst-1:hook")
            return delivery, receiver.calls

    delivery, calls = asyncio.run(scenario())

    (call,) = calls
    assert call.method == "POST"
    assert call.path == "/carts"
    assert call.key == "inst-1:hook"
    assert call.headers["content-type"] == "application/json"
    assert call.headers["x-api-key"] == "secret"
    assert call.headers["x-count"] == "3"
    assert call.query == {"source": "wayfare", "total": "19.5"}
    assert call.body == {"email": "ada@example.com", "items": [1, 2], "gift": True}
    assert delivery == Delivery(
        True,
        {
            "key": "inst-1:hook",
            "got": {"email": "ada@example.com", "items": [1, 2], "gift": True},
        },
    )


def test_an_attempt_whose_time_to_be_sent_has_passed_is_not_made() -> None:
    """The engine hands each attempt over with until when its lease surely holds; the child
    checks it right before it calls, so an engine paused in between sends nothing late."""

    async def scenario() -> tuple[Delivery, Delivery, list[Call]]:
        async with receiving() as receiver, courier() as sender:
            request = {"url": f"{receiver.url}/carts"}
            late = sender.send("http", request, "inst-1:hook", time.monotonic() - 1)
            in_time = sender.send("http", request, "inst-2:hook", time.monotonic() + 60)
            return (
                await asyncio.wait_for(late, DEADLINE),
                await asyncio.wait_for(in_time, DEADLINE),
                receiver.calls,
            )

    late, in_time, calls = asyncio.run(scenario())

    assert late == NOT_SENT and not late.attempted
    assert in_time.ok and in_time.attempted
    assert [c.key for c in calls] == ["inst-2:hook"]


def test_a_courier_allowed_nothing_refuses_loopback_for_good_and_calls_nobody() -> None:
    async def scenario() -> tuple[Delivery, list[Call]]:
        async with receiving() as receiver, courier(allow=[]) as sender:
            delivery = await send(sender, {"url": f"{receiver.url}/carts"}, "inst-1:hook")
            return delivery, receiver.calls

    delivery, calls = asyncio.run(scenario())

    assert (delivery.ok, delivery.retryable) == (False, False)
    assert delivery.error is not None
    assert delivery.error.startswith("destination refused: 127.0.0.1 is a loopback address")
    assert calls == []


def test_an_answer_that_is_not_json_comes_back_as_text() -> None:
    async def scenario() -> Delivery:
        async with receiving() as receiver, courier() as sender:
            return await send(sender, {"url": f"{receiver.url}/text"}, "inst-2:hook")

    assert asyncio.run(scenario()) == Delivery(True, {"text": "thanks, noted"})


def test_a_404_is_not_retried_a_500_is_and_a_slow_receiver_times_out() -> None:
    async def scenario() -> tuple[Delivery, Delivery, Delivery]:
        async with receiving() as receiver, courier() as sender:
            return await asyncio.gather(
                send(sender, {"url": f"{receiver.url}/missing"}, "k-404"),
                send(sender, {"url": f"{receiver.url}/broken"}, "k-500"),
                send(sender, {"url": f"{receiver.url}/slow", "timeoutMs": 1000}, "k-slow"),
            )

    missing, broken, slow = asyncio.run(scenario())

    assert (missing.ok, missing.retryable, missing.error) == (False, False, "HTTP 404")
    assert missing.response == {"error": "no such thing"}
    assert (broken.ok, broken.retryable, broken.error) == (False, True, "HTTP 500")
    assert broken.response == {"error": "broken"}
    assert (slow.ok, slow.retryable, slow.timed_out) == (False, True, True)
    assert slow.error == "timed out after 1 s"


def test_many_concurrent_sends_each_get_their_own_answer() -> None:
    keys = [f"inst-{i}:hook" for i in range(200)]

    async def scenario() -> tuple[list[Delivery], list[Call]]:
        async with receiving() as receiver, courier() as sender:
            deliveries = await asyncio.gather(
                *(send(sender, {"url": f"{receiver.url}/echo", "body": {"n": k}}, k) for k in keys)
            )
            return list(deliveries), receiver.calls

    deliveries, calls = asyncio.run(scenario())

    assert [d.response for d in deliveries] == [{"key": k, "got": {"n": k}} for k in keys]
    assert all(d.ok for d in deliveries)
    assert sorted(str(c.key) for c in calls) == sorted(keys)


# the child process


def test_a_send_in_flight_when_the_child_dies_fails_retryably_and_a_new_child_takes_over() -> None:
    async def scenario() -> tuple[Delivery, Delivery, int | None, bool]:
        async with receiving() as receiver, courier() as sender:
            first = child(sender)
            held = asyncio.create_task(send(sender, {"url": f"{receiver.url}/hold"}, "k-held"))
            await asyncio.wait_for(receiver.arrived.wait(), DEADLINE)
            first.kill()
            lost = await held
            after = await send(sender, {"url": f"{receiver.url}/echo"}, "k-after")
            return lost, after, first.returncode, child(sender) is not first

    lost, after, first_returncode, replaced = asyncio.run(scenario())

    assert (lost.ok, lost.retryable) == (False, True)
    assert lost.error is not None
    assert "courier exited" in lost.error
    assert after == Delivery(True, {"key": "k-after", "got": None})
    assert first_returncode is not None
    assert replaced


def test_stop_lets_an_attempt_in_flight_finish_and_leaves_no_child() -> None:
    async def scenario() -> tuple[Delivery, list[str], int | None, Delivery]:
        async with receiving() as receiver:
            sender = CourierSender(
                smtp_host="127.0.0.1", smtp_port=1, smtp_from=SENDER, allow=RECEIVERS
            )
            await sender.start()
            proc = child(sender)
            late = asyncio.create_task(send(sender, {"url": f"{receiver.url}/late"}, "k-late"))
            await asyncio.wait_for(receiver.arrived.wait(), DEADLINE)
            await asyncio.wait_for(sender.stop(), DEADLINE)
            finished_at_stop = list(receiver.finished)
            afterwards = await send(sender, {"url": f"{receiver.url}/echo"}, "k-stopped")
            return await late, finished_at_stop, proc.returncode, afterwards

    delivery, finished_at_stop, returncode, afterwards = asyncio.run(scenario())

    assert finished_at_stop == ["k-late"]
    assert delivery == Delivery(True, {"key": "k-late", "got": None})
    assert returncode is not None
    assert (afterwards.ok, afterwards.retryable) == (False, True)
    assert afterwards.error == "the action courier is not running"


def test_stop_returns_every_answer_in_flight_even_large_ones() -> None:
    keys = [f"inst-{i}:hook" for i in range(40)]
    padding = "x" * 1_000_000

    async def scenario() -> list[Delivery]:
        async with receiving() as receiver:
            sender = CourierSender(
                smtp_host="127.0.0.1", smtp_port=1, smtp_from=SENDER, allow=RECEIVERS
            )
            await sender.start()
            body = {"padding": padding}
            url = f"{receiver.url}/late"
            sends = [asyncio.create_task(send(sender, {"url": url, "body": body}, k)) for k in keys]
            await asyncio.wait_for(receiver.arrived.wait(), DEADLINE)
            await asyncio.wait_for(sender.stop(), DEADLINE)
            return list(await asyncio.gather(*sends))

    deliveries = asyncio.run(scenario())

    assert [d.error for d in deliveries if not d.ok] == []
    assert [d.response["key"] for d in deliveries] == keys


def test_a_deeply_nested_json_answer_does_not_leave_the_send_waiting_forever() -> None:
    async def deep(request: web.Request) -> web.Response:
        return web.Response(body=b"[" * 300 + b"]" * 300, content_type="application/json")

    async def scenario() -> Delivery:
        app = web.Application()
        app.router.add_post("/deep", deep)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        try:
            async with courier() as sender:
                url = f"http://127.0.0.1:{sock.getsockname()[1]}/deep"
                return await asyncio.wait_for(sender.send("http", {"url": url}, "k-deep"), 3.0)
        finally:
            await runner.cleanup()

    delivery = asyncio.run(scenario())

    # kept as text: an instance holding it could not be stored as JSON
    assert delivery.ok
    assert delivery.response == {"text": "[" * 300 + "]" * 300}


# email


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with running_mailbox() as running:
        yield running


def test_an_email_reaches_the_smtp_server_with_its_subject_and_key(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    request = {
        "to": "ada@example.com",
        "subject": "Your cart misses you",
        "text": "Hi Ada, your cart is waiting.",
        "html": "<p>Hi Ada, your cart is <b>waiting</b>.</p>",
    }

    async def scenario() -> Delivery:
        async with courier(smtp_port=port) as sender:
            return await asyncio.wait_for(sender.send("email", request, "inst-9:mail"), DEADLINE)

    delivery = asyncio.run(scenario())

    assert delivery.ok, delivery.error
    ((mail_from, rcpt_tos, message),) = box.messages
    assert mail_from == SENDER
    assert rcpt_tos == ["ada@example.com"]
    assert message["Subject"] == "Your cart misses you"
    assert message["X-Idempotency-Key"] == "inst-9:mail"
    assert delivery.response == {"to": "ada@example.com", "messageId": message["Message-ID"]}
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "Hi Ada, your cart is waiting."
    assert html.get_content().strip() == "<p>Hi Ada, your cart is <b>waiting</b>.</p>"


def test_an_email_to_an_smtp_port_nobody_listens_on_fails_as_retryable() -> None:
    request = {"to": "ada@example.com", "subject": "Hi", "text": "Hello"}

    async def scenario() -> Delivery:
        async with courier(smtp_port=free_port()) as sender:
            return await asyncio.wait_for(sender.send("email", request, "inst-9:mail"), DEADLINE)

    delivery = asyncio.run(scenario())

    assert (delivery.ok, delivery.retryable) == (False, True)
    assert delivery.error is not None and "Connection refused" in delivery.error
