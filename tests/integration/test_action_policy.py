"""Journeys cannot make the server call where it should not, nor mail whom it should not.

A real server allowed to reach one receiver only (``127.0.0.1:<its port>``): a journey whose
URL writes out its own admin API, a metadata address or ``localhost`` is refused at save with
the activity and field named; one whose host comes from event data is refused when the action
is sent, for good, with the cause in its step event. Email recipients taken from event data
are exactly one address each; a subject with a line break sends nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server
from tests.integration.conftest import apply_demo_to, causing_exceptions, new_org, serving
from tests.integration.journey_support import (
    END,
    Mailbox,
    Receiver,
    Shop,
    hole,
    on_cart,
    publish,
    send,
    setup_shop,
    shop_message,
    step_of,
    steps,
    wait_for_report,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def policy_server(
    tmp_path_factory: pytest.TempPathFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> Iterator[Server]:
    with serving(
        tmp_path_factory.mktemp("policy"),
        extra_args=["--allow-action-destination", receiver.url.removeprefix("http://")],
        env={
            "WAYFARE_ACTION_ALLOW": "",  # the flag alone says what is allowed
            "WAYFARE_SMTP_HOST": "127.0.0.1",
            "WAYFARE_SMTP_PORT": str(mailbox[1]),
        },
    ) as srv:
        yield srv


@pytest.fixture
def shop(policy_server: Server) -> Shop:
    return setup_shop(apply_demo_to(policy_server, new_org()))


def hook(url: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "url": url, "timeoutSeconds": 2, "next": "done"}


# at save: hosts written out


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:{admin}/api/v1/journeys", "127.0.0.1 is a loopback address"),
        ("http://127.0.0.1:{admin}/{{{{ " + "'x'" + " }}}}", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
        ("http://localhost:{admin}/api/v1/org", "a name for this machine"),
        ("http://[::ffff:127.0.0.1]:{admin}/api/v1/org", "in IPv6 form, a loopback"),
        ("http://10.0.0.7/hook", "a private address"),
    ],
)
def test_a_journey_calling_a_denied_host_it_writes_out_is_refused_at_save(
    shop: Shop, url: str, words: str
) -> None:
    written = url.format(admin=shop.demo.server.port)
    with shop.admin() as admin:
        answer = admin.post(
            "/api/v1/journeys", json=on_cart("ssrf", {"hook": hook(written), "done": END})
        )
        assert answer.status_code == 400, answer.text
        (problem,) = causing_exceptions(answer.json())
        assert admin.get("/api/v1/journeys/ssrf").status_code == 404
    assert problem["pointerToViolation"] == "/activities/hook/url"
    assert problem["keyword"] == "destination"
    assert words in problem["message"]
    assert "action_allow" in problem["message"]


# at send: hosts from event data


def test_a_host_taken_from_event_data_is_refused_when_sent_for_good_with_its_cause(
    shop: Shop, receiver: Receiver
) -> None:
    """The cart id names where to call: the allowed receiver is called, the server's own
    admin API (another port of the same address) and localhost are not."""
    prefix = f"/{uuid.uuid4().hex[:12]}"
    url = "http://" + hole("cart", "cart.id") + prefix
    publish(shop, on_cart("from-event", {"hook": hook(url), "done": END}))
    admin = f"127.0.0.1:{shop.demo.server.port}"
    allowed = receiver.url.removeprefix("http://")
    send(
        shop,
        shop_message(shop, "cart", "ada@example.com", cart_id=admin),
        shop_message(shop, "cart", "bob@example.com", cart_id=f"localhost:{shop.demo.server.port}"),
        shop_message(shop, "cart", "cy@example.com", cart_id=allowed),
    )
    done = wait_for_report(shop, "from-event", entered=3, exited=1, inError=2)

    assert done["nodes"]["hook"] == {"type": "http", "ended": 1, "error": 2}
    details = {s["identity"]: s["detail"] for s in steps(shop, "from-event") if s["node"] == "hook"}
    assert details["ada@example.com"].startswith(
        "destination refused: 127.0.0.1 is a loopback address"
    )
    assert details["bob@example.com"].startswith(
        "destination refused: localhost is a name for this machine"
    )
    assert [c.path for c in receiver.under(prefix)] == [prefix]


# email


def mailing(name: str, **fields: Any) -> dict[str, Any]:
    email = {"type": "email", "subject": "Welcome", "text": "Hello", "next": "done", **fields}
    return on_cart(name, {"mail": email, "done": END})


def test_a_recipient_from_event_data_cannot_add_recipients(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    victim, other = f"victim-{uuid.uuid4().hex[:8]}@example.com", "other@example.org"
    publish(shop, mailing("injected-to", to=hole("cart", "person.email")))
    send(shop, shop_message(shop, "cart", f"{victim}, {other}"))
    done = wait_for_report(shop, "injected-to", entered=1, inError=1)

    assert done["nodes"]["mail"] == {"type": "email", "error": 1}
    detail = step_of(shop, "injected-to", "mail")["detail"]
    assert detail.startswith("not sent: to must be exactly one email address"), detail
    assert box.to(victim) == []
    assert box.to(other) == []


def test_a_subject_with_a_line_break_from_event_data_sends_nothing(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    who = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    publish(
        shop,
        mailing(
            "injected-subject",
            to=hole("cart", "person.email"),
            subject="Hi " + hole("cart", "person.firstName"),
        ),
    )
    send(shop, shop_message(shop, "cart", who, first_name="Ada\r\nBcc: eve@example.org"))
    wait_for_report(shop, "injected-subject", entered=1, inError=1)

    detail = step_of(shop, "injected-subject", "mail")["detail"]
    assert detail.startswith("not sent: subject holds a control character"), detail
    assert box.to(who) == []
    assert box.to("eve@example.org") == []


def test_an_email_activity_can_list_its_recipients_each_one_address(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    who = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    audit = f"audit-{uuid.uuid4().hex[:8]}@example.org"
    publish(shop, mailing("listed", to=[hole("cart", "person.email"), f"Audit <{audit}>"]))
    send(shop, shop_message(shop, "cart", who))
    wait_for_report(shop, "listed", entered=1, exited=1)

    ((_, rcpt_tos, message),) = box.to(who)
    assert rcpt_tos == [who, audit]
    assert message["To"] == f"{who}, Audit <{audit}>"
    with shop.admin() as admin:
        nobody = admin.post("/api/v1/journeys", json=mailing("nobody", to=[]))
    assert nobody.status_code == 400, nobody.text
    (problem,) = causing_exceptions(nobody.json())
    assert (problem["pointerToViolation"], problem["keyword"]) == (
        "/activities/mail/to",
        "minItems",
    )
