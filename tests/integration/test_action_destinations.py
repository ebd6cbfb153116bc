"""What ``ActionSender`` refuses to send, for good: HTTP actions to destinations the policy
denies (loopback, metadata, private, names resolving there; redirects are never followed),
URLs that are none, and emails whose rendered headers could add recipients or headers. Real
receivers on 127.0.0.1 (HTTP, and SMTP with aiosmtpd); names resolve through a fake lookup."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from aiohttp.abc import ResolveResult

from tests.conftest import free_port
from tests.integration.journey_support import (
    Mailbox,
    Receiver,
    running_mailbox,
    running_receiver,
)
from wayfare.engine.actions import ActionSender, Delivery
from wayfare.engine.checked_resolver import Lookup

pytestmark = pytest.mark.integration

SENDER = "journeys@wayfare.test"
DEADLINE = 15.0
"""Seconds one attempt may take before it counts as a hang."""


class Names:
    """A lookup answering from a table, and counting what it was asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.table[host]
        ]


def attempt(
    kind: str,
    request: dict[str, Any],
    *,
    allow: Sequence[str] = (),
    lookup: Lookup | None = None,
    smtp_port: int = 1,
) -> Delivery:
    """One attempt by a sender of its own, started and stopped around it."""

    async def scenario() -> Delivery:
        sender = ActionSender(
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_from=SENDER,
            allow=allow,
            lookup=lookup,
        )
        await sender.start()
        try:
            return await asyncio.wait_for(sender.send(kind, request, "inst-1:hook"), DEADLINE)
        finally:
            await sender.stop()

    return asyncio.run(scenario())


def refused_for_good(delivery: Delivery, cause: str) -> None:
    assert (delivery.ok, delivery.retryable, delivery.attempted) == (False, False, True)
    assert delivery.error is not None and cause in delivery.error, delivery.error


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


# HTTP


def test_a_call_to_loopback_is_refused_for_good_and_never_made(receiver: Receiver) -> None:
    delivery = attempt("http", {"url": f"{receiver.url}/api/v1/journeys"})

    refused_for_good(delivery, "destination refused: 127.0.0.1 is a loopback address")
    assert receiver.calls == []


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
        ("http://[::ffff:127.0.0.1]:{port}/", "127.0.0.1 in IPv6 form, a loopback address"),
        ("http://0.0.0.0:{port}/", "the unspecified address"),
        ("http://[::]:{port}/", "the unspecified address"),
        ("http://127.1:{port}/", "not an address in its usual form"),
        ("http://2130706433:{port}/", "not an address in its usual form"),
        ("http://localhost:{port}/", "a name for this machine"),
        ("http://10.0.0.1:{port}/", "a private address"),
        ("http://100.64.0.1:{port}/", "carrier-grade NAT"),
    ],
)
def test_a_call_the_policy_denies_is_refused_for_good_with_its_cause(
    receiver: Receiver, url: str, cause: str
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    delivery = attempt("http", {"url": url.format(port=port), "timeoutMs": 2000})

    refused_for_good(delivery, cause)
    assert receiver.calls == []


@pytest.mark.parametrize(
    "answers", [["127.0.0.1"], ["93.184.216.34", "127.0.0.1"], ["::ffff:169.254.169.254"]]
)
def test_a_name_resolving_to_a_denied_address_is_refused_and_resolved_once(
    receiver: Receiver, answers: list[str]
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    names = Names({"rebound.example.com": answers})

    delivery = attempt("http", {"url": f"http://rebound.example.com:{port}/"}, lookup=names.resolve)

    refused_for_good(delivery, "rebound.example.com resolves to")
    assert names.asked == ["rebound.example.com"]
    assert receiver.calls == []


def test_an_allowed_name_is_connected_to_at_the_address_checked_under_its_own_name(
    receiver: Receiver,
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    names = Names({"hooks.example.com": ["127.0.0.1"]})

    delivery = attempt(
        "http",
        {"url": f"http://hooks.example.com:{port}/x", "body": {"a": 1}},
        allow=[f"127.0.0.1:{port}"],
        lookup=names.resolve,
    )

    assert delivery.ok, delivery.error
    # one lookup, whose checked answer was connected to: nothing to rebind in between
    assert names.asked == ["hooks.example.com"]
    (call,) = receiver.calls
    assert call.headers["host"] == f"hooks.example.com:{port}"
    assert call.body == {"a": 1}


def test_an_allowed_address_and_port_let_no_other_port_of_the_host_through(
    receiver: Receiver,
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    allow = [f"127.0.0.1:{port}"]

    other = attempt("http", {"url": f"http://127.0.0.1:{free_port()}/api"}, allow=allow)
    allowed = attempt("http", {"url": f"{receiver.url}/hook"}, allow=allow)

    refused_for_good(other, "127.0.0.1 is a loopback address")
    assert allowed.ok, allowed.error
    assert [c.path for c in receiver.calls] == ["/hook"]


def test_a_redirect_is_an_answer_never_followed(receiver: Receiver) -> None:
    with running_receiver() as target:
        receiver.redirect_to = f"{target.url}/admin"
        delivery = attempt("http", {"url": f"{receiver.url}/redirect/x"}, allow=["127.0.0.1"])

        assert delivery.ok, delivery.error
        assert [c.path for c in receiver.calls] == ["/redirect/x"]
        assert target.calls == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "http://[::1/", "http:///nohost"]
)
def test_a_rendered_url_that_is_no_http_url_is_refused_for_good(url: str) -> None:
    delivery = attempt("http", {"url": url}, allow=["127.0.0.1", "::1"])

    assert (delivery.ok, delivery.retryable) == (False, False), delivery.error


# email


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with running_mailbox() as running:
        yield running


def mail(**fields: Any) -> dict[str, Any]:
    return {"to": "ada@example.com", "subject": "Welcome", "text": "Hello", **fields}


@pytest.mark.parametrize(
    ("to", "cause"),
    [
        ("victim@example.com, other@example.org", "exactly one email address"),
        ("victim@example.com; other@example.org", "exactly one email address"),
        ("friends: victim@example.com;", "exactly one email address"),
        ("ada@example.com\r\nBcc: other@example.org", "control character"),
        ("", "exactly one email address"),
        (["ada@example.com", "victim@example.com, other@example.org"], "exactly one"),
        ([], "names nobody"),
    ],
)
def test_a_recipient_that_is_not_exactly_one_address_sends_nothing_for_good(
    mailbox: tuple[Mailbox, int], to: Any, cause: str
) -> None:
    box, port = mailbox
    delivery = attempt("email", mail(to=to), smtp_port=port)

    refused_for_good(delivery, cause)
    assert box.messages == []
    assert box.refusals == []


def test_a_subject_with_a_line_break_sends_nothing_for_good(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    delivery = attempt("email", mail(subject="Hi Ada\r\nBcc: other@example.org"), smtp_port=port)

    refused_for_good(delivery, "subject holds a control character")
    assert box.messages == []


def test_a_list_of_recipients_sends_one_message_to_each(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    to = ["ada@example.com", "Bea Example <bea@example.org>"]

    delivery = attempt("email", mail(to=to), smtp_port=port)

    assert delivery.ok, delivery.error
    ((mail_from, rcpt_tos, message),) = box.messages
    assert mail_from == SENDER
    assert rcpt_tos == ["ada@example.com", "bea@example.org"]
    assert message["To"] == "ada@example.com, Bea Example <bea@example.org>"
