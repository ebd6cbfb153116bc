"""Journey actions against real local receivers: custom HTTP actions (mapping, retries, no
retry on 404/403/401, timeouts, responses read later, per-host limits in flight and per
second), email over SMTP to an aiosmtpd server (and its refusals), waiting for a correlated
event, and jumps."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org, start_server
from tests.integration.journey_support import (
    END,
    Mailbox,
    Receiver,
    Shop,
    ev,
    hole,
    instance_ids,
    on_cart,
    publish,
    running_receiver,
    send,
    setup_shop,
    shop_message,
    step_of,
    steps,
    wait_for_report,
)

pytestmark = pytest.mark.integration

SENDER = "journeys@wayfare.test"
RATE = 20  # actions per second to one host
PER_HOST = 3  # actions in flight at once to one host


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver(slow_seconds=3.0) as found:
        yield found


@pytest.fixture(scope="module", params=["courier", "in-process"])
def action_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: tuple[Mailbox, int],
) -> Iterator[Server]:
    """Every test here runs twice: actions delivered from the courier (a child process, the
    default) and from the server's own process."""
    srv = start_server(
        tmp_path_factory.mktemp("actions"),
        env={
            "WAYFARE_SMTP_HOST": "127.0.0.1",
            "WAYFARE_SMTP_PORT": str(mailbox[1]),
            "WAYFARE_SMTP_FROM": SENDER,
            "WAYFARE_ACTION_RATE_PER_HOST": str(RATE),
            "WAYFARE_ACTIONS_PER_HOST": str(PER_HOST),
            "WAYFARE_ACTION_WORKER": str(request.param == "courier").lower(),
        },
    )
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def shop(action_server: Server) -> Shop:
    return setup_shop(apply_demo_to(action_server, new_org()))


@pytest.fixture
def prefix() -> str:
    """A path of the receiver's own for one test."""
    return f"/{uuid.uuid4().hex[:12]}"


def http(url: str, **options: Any) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "url": url, "next": "done", **options}


def cart(shop: Shop, who: str = "ada@example.com", **fields: Any) -> None:
    send(shop, shop_message(shop, "cart", who, **fields))


# custom HTTP actions


def test_an_http_action_sends_what_it_maps(shop: Shop, receiver: Receiver, prefix: str) -> None:
    publish(
        shop,
        on_cart(
            "mapped",
            {
                "hook": http(
                    f"{receiver.url}{prefix}/carts",
                    method="PUT",
                    path=hole("cart", "cart.id"),
                    headers={"X-Api-Key": "secret", "X-Person": hole("cart", "person.email")},
                    query={"source": "wayfare", "total": hole("cart", "cart.total")},
                    body={
                        "email": hole("cart", "person.email"),
                        "total": hole("cart", "cart.total"),
                        "greeting": "Hi " + hole("cart", "person.firstName") + "!",
                        "constant": {"list": [1, 2], "flag": True},
                    },
                ),
                "done": END,
            },
        ),
    )
    cart(shop, cart_id="c 7", total=19.99)
    wait_for_report(shop, "mapped", entered=1, exited=1)
    (call,) = receiver.under(prefix)
    iid = instance_ids(shop, "mapped")["ada@example.com"]
    assert call.method == "PUT"
    assert call.path == f"{prefix}/carts/c%207"
    assert call.query == {"source": "wayfare", "total": "19.99"}
    assert call.headers["x-api-key"] == "secret"
    assert call.headers["x-person"] == "ada@example.com"
    assert call.headers["content-type"] == "application/json"
    assert call.key == call.headers["idempotency-key"] == f"{iid}:hook"
    assert call.body == {
        "email": "ada@example.com",
        "total": 19.99,
        "greeting": "Hi Ada!",
        "constant": {"list": [1, 2], "flag": True},
    }


def test_a_get_action_response_steers_a_later_condition(
    shop: Shop, receiver: Receiver, prefix: str
) -> None:
    publish(
        shop,
        on_cart(
            "lookup",
            {
                "tier": http(
                    f"{receiver.url}{prefix}/tier",
                    method="GET",
                    query={"email": hole("cart", "person.email")},
                    next="check",
                ),
                "check": {
                    "type": "condition",
                    "branches": [
                        {"label": "gold", "when": "@action{tier.tier} == 'gold'", "next": "gold"}
                    ],
                    "otherwise": "other",
                },
                "gold": http(
                    f"{receiver.url}{prefix}/gold",
                    body={
                        "points": "{{ @action{tier.points} }}",
                        "tier": "{{ @action{tier.tier} }}",
                    },
                ),
                "other": http(f"{receiver.url}{prefix}/other"),
                "done": END,
            },
        ),
    )
    cart(shop)
    wait_for_report(shop, "lookup", entered=1, exited=1)
    first, second = receiver.under(prefix)
    assert (first.method, first.path, first.query) == (
        "GET",
        f"{prefix}/tier",
        {"email": "ada@example.com"},
    )
    assert first.body is None
    assert (second.method, second.path) == ("POST", f"{prefix}/gold")
    assert second.body == {"points": 120, "tier": "gold"}
    assert step_of(shop, "lookup", "check")["detail"] == "gold"


def test_a_response_over_a_megabyte_is_not_read_past_it_nor_kept_as_json(
    shop: Shop, receiver: Receiver, prefix: str
) -> None:
    """The action succeeded (its destination answered 200); what later steps read of the
    answer is its beginning as text, as of an answer that is not JSON."""
    publish(
        shop,
        on_cart(
            "huge",
            {
                "tier": http(f"{receiver.url}{prefix}/huge/tier", method="GET", next="check"),
                "check": {
                    "type": "condition",
                    "branches": [
                        {"label": "gold", "when": "@action{tier.tier} == 'gold'", "next": "gold"},
                        {"label": "cut", "when": "@action{tier.truncated}", "next": "cut"},
                    ],
                    "otherwise": "done",
                },
                "gold": http(f"{receiver.url}{prefix}/gold"),
                "cut": http(
                    f"{receiver.url}{prefix}/cut", body={"start": "{{ @action{tier.text} }}"}
                ),
                "done": END,
            },
        ),
    )
    cart(shop)
    wait_for_report(shop, "huge", entered=1, exited=1)
    first, second = receiver.under(prefix)
    assert first.path == f"{prefix}/huge/tier"
    assert second.path == f"{prefix}/cut"
    assert second.body["start"].startswith('{"tier":"gold","points":120')
    assert len(second.body["start"]) == 2000
    assert step_of(shop, "huge", "check")["detail"] == "cut"


def test_a_failed_call_is_retried_under_the_same_key(
    shop: Shop, receiver: Receiver, prefix: str
) -> None:
    publish(
        shop,
        on_cart("retry", {"hook": http(f"{receiver.url}{prefix}/fail-once/x"), "done": END}),
    )
    cart(shop)
    done = wait_for_report(shop, "retry", entered=1, exited=1)
    calls = receiver.under(prefix)
    assert len(calls) == 2
    assert calls[0].key == calls[1].key == f"{instance_ids(shop, 'retry')['ada@example.com']}:hook"
    assert done["inError"] == 0
    assert done["nodes"]["hook"] == {"type": "http", "ended": 1}


def test_a_call_failing_every_time_takes_the_error_path_after_three_attempts(
    shop: Shop, receiver: Receiver, prefix: str
) -> None:
    publish(
        shop,
        on_cart(
            "broken",
            {
                "hook": http(f"{receiver.url}{prefix}/always-500/x", error="fallback"),
                "fallback": {"type": "log", "message": "the hook failed", "next": "done"},
                "done": END,
            },
        ),
    )
    cart(shop)
    done = wait_for_report(shop, "broken", entered=1, exited=1)
    calls = receiver.under(prefix)
    assert len(calls) == 3
    assert len({c.key for c in calls}) == 1
    # exponential backoff: the second wait is longer than the first
    assert calls[2].at - calls[1].at > calls[1].at - calls[0].at
    assert calls[1].at - calls[0].at >= 0.4
    assert step_of(shop, "broken", "hook")["status"] == "error"
    assert step_of(shop, "broken", "hook")["detail"] == "HTTP 500"
    assert done["nodes"]["fallback"] == {"type": "log", "ended": 1}
    assert done["inError"] == 0


@pytest.mark.parametrize(
    ("path", "status"), [("missing", 404), ("forbidden", 403), ("unauthorized", 401)]
)
def test_404_403_and_401_are_not_retried_and_without_an_error_path_end_in_error(
    shop: Shop, receiver: Receiver, prefix: str, path: str, status: int
) -> None:
    publish(shop, on_cart("final", {"hook": http(f"{receiver.url}{prefix}/{path}/x"), "done": END}))
    cart(shop)
    done = wait_for_report(shop, "final", entered=1, inError=1)
    assert done["exited"] == 0
    assert done["nodes"]["hook"] == {"type": "http", "error": 1}
    assert step_of(shop, "final", "hook")["detail"] == f"HTTP {status}"
    assert "done" not in done["nodes"]
    assert len(receiver.under(prefix)) == 1


def test_a_slow_receiver_times_the_action_out_into_its_error_path(
    shop: Shop, receiver: Receiver, prefix: str
) -> None:
    publish(
        shop,
        on_cart(
            "slowpoke",
            {
                "hook": http(f"{receiver.url}{prefix}/slow/x", timeoutSeconds=1, error="late"),
                "late": {"type": "log", "message": "too slow", "next": "done"},
                "done": END,
            },
        ),
    )
    cart(shop)
    done = wait_for_report(shop, "slowpoke", timeout=30, entered=1, exited=1)
    hook = step_of(shop, "slowpoke", "hook")
    assert hook["status"] == "timedout"
    assert "timed out" in hook["detail"]
    assert done["nodes"]["late"] == {"type": "log", "ended": 1}
    calls = receiver.under(prefix)
    assert calls
    assert len({c.key for c in calls}) == 1


def test_actions_to_one_host_keep_to_its_rate_limit(
    shop: Shop, receiver: Receiver, prefix: str
) -> None:
    publish(shop, on_cart("burst", {"hook": http(f"{receiver.url}{prefix}/burst"), "done": END}))
    people = [f"p{i}@example.com" for i in range(10)]
    send(shop, *(shop_message(shop, "cart", who) for who in people))
    wait_for_report(shop, "burst", entered=10, exited=10)
    moments = sorted(c.at for c in receiver.under(prefix))
    assert len(moments) == 10
    # ten calls at RATE per second take at least nine intervals
    assert moments[-1] - moments[0] >= 9 / RATE * 0.9


def test_actions_to_one_host_reach_its_limit_in_flight_and_never_pass_it(
    shop: Shop, receiver: Receiver, prefix: str
) -> None:
    # The receiver holds each call until one more than the limit have arrived, or for
    # crowd_seconds: the limit reached, the last call waits for one to end.
    publish(
        shop,
        on_cart(
            "crowd", {"hook": http(f"{receiver.url}{prefix}/crowd/{PER_HOST + 1}"), "done": END}
        ),
    )
    people = [f"c{i}@example.com" for i in range(PER_HOST + 1)]
    send(shop, *(shop_message(shop, "cart", who) for who in people))
    wait_for_report(shop, "crowd", entered=PER_HOST + 1, exited=PER_HOST + 1)
    assert len(receiver.under(prefix)) == PER_HOST + 1
    assert receiver.most_in_flight[prefix] == PER_HOST


# email


def test_an_email_reaches_the_smtp_server_personalised(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    who = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    publish(
        shop,
        on_cart(
            "welcome-mail",
            {
                "mail": {
                    "type": "email",
                    "to": hole("cart", "person.email"),
                    "subject": "Welcome, " + hole("cart", "person.firstName") + "!",
                    "text": "Your cart "
                    + hole("cart", "cart.id")
                    + " holds "
                    + hole("cart", "cart.total")
                    + " EUR.",
                    "html": "<p>Hello <b>{{ upper("
                    + ev("cart", "person.firstName")
                    + ") }}</b></p>",
                    "next": "done",
                },
                "done": END,
            },
        ),
    )
    send(shop, shop_message(shop, "cart", who, first_name="Ada", cart_id="c-42", total=99.5))
    wait_for_report(shop, "welcome-mail", entered=1, exited=1)
    (sender, recipients, message) = wait_until(lambda: box.to(who))[0]
    assert sender == SENDER
    assert recipients == [who]
    assert message["To"] == who
    assert message["From"] == SENDER
    assert message["Subject"] == "Welcome, Ada!"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().strip() == "Your cart c-42 holds 99.5 EUR."
    assert html.get_content().strip() == "<p>Hello <b>ADA</b></p>"
    iid = instance_ids(shop, "welcome-mail")[who]
    assert message["X-Idempotency-Key"] == f"{iid}:mail"
    assert len(box.to(who)) == 1


# waiting for an event; jumps


def test_holding_until_the_same_cart_is_bought(shop: Shop, receiver: Receiver, prefix: str) -> None:
    publish(
        shop,
        on_cart(
            "cart-reminder",
            {
                "hold": {
                    "type": "waitForEvent",
                    "events": [
                        {
                            "event": "purchase",
                            "when": ev("purchase", "cart.id") + " == " + ev("cart", "cart.id"),
                            "next": "thanks",
                        }
                    ],
                    "timeout": {"after": "2s", "next": "remind"},
                },
                "thanks": http(
                    f"{receiver.url}{prefix}/thanks",
                    body={"paid": hole("purchase", "cart.total"), "cart": hole("cart", "cart.id")},
                ),
                "remind": http(
                    f"{receiver.url}{prefix}/remind", body={"cart": hole("cart", "cart.id")}
                ),
                "done": END,
            },
        ),
    )
    send(
        shop,
        shop_message(shop, "cart", "buyer@example.com", cart_id="c-1"),
        shop_message(shop, "cart", "browser@example.com", cart_id="c-2"),
    )
    wait_for_report(shop, "cart-reminder", entered=2, inJourney=2)
    # the buyer pays for the cart; the browser pays for another one
    send(
        shop,
        shop_message(shop, "purchase", "buyer@example.com", cart_id="c-1", total=12.0),
        shop_message(shop, "purchase", "browser@example.com", cart_id="c-9", total=5.0),
    )
    wait_for_report(shop, "cart-reminder", timeout=20, entered=2, exited=2)
    calls = {c.path: c.body for c in receiver.under(prefix)}
    assert calls == {
        f"{prefix}/thanks": {"paid": 12.0, "cart": "c-1"},
        f"{prefix}/remind": {"cart": "c-2"},
    }
    hold = {s["identity"]: s for s in steps(shop, "cart-reminder") if s["node"] == "hold"}
    assert hold["buyer@example.com"]["status"] == "ended"
    assert hold["browser@example.com"]["status"] == "timedout"


def test_a_jump_enters_the_person_into_another_live_journey(
    shop: Shop, receiver: Receiver, prefix: str
) -> None:
    loyalty = on_cart(
        "loyalty",
        {
            "hook": http(
                f"{receiver.url}{prefix}/loyalty", body={"cart": hole("purchase", "cart.id")}
            ),
            "done": END,
        },
    )
    loyalty["entry"]["event"] = "purchase"
    publish(shop, loyalty)
    publish(shop, on_cart("first", {"onward": {"type": "jump", "journey": "loyalty"}}))
    cart(shop, "jumper@example.com", cart_id="c-5")
    wait_for_report(shop, "first", entered=1, exited=1)
    done = wait_for_report(shop, "loyalty", entered=1, exited=1)
    assert done["discarded"] == 0
    (call,) = receiver.under(prefix)
    # the journey jumped to reads the event the person entered the first one with
    assert call.body == {"cart": "c-5"}
    assert step_of(shop, "first", "onward")["detail"] == "jumped to loyalty"
    assert instance_ids(shop, "loyalty").keys() == {"jumper@example.com"}


@pytest.mark.parametrize(
    ("who", "attempts", "detail"),
    [
        # refused for good at RCPT: no retry
        pytest.param("refused", 1, "recipient refused: {'refused-", id="550"),
        # refused for now at DATA: three attempts, as an HTTP 5xx gets
        pytest.param("deferred", 3, "SMTP: (451, b'4.3.0 mailbox busy, try", id="451"),
    ],
)
def test_an_email_the_smtp_server_refuses_takes_its_error_path(
    shop: Shop, mailbox: tuple[Mailbox, int], who: str, attempts: int, detail: str
) -> None:
    box, _ = mailbox
    address = f"{who}-{uuid.uuid4().hex[:8]}@example.com"
    publish(
        shop,
        on_cart(
            "refused-mail",
            {
                "mail": {
                    "type": "email",
                    "to": hole("cart", "person.email"),
                    "subject": "Welcome",
                    "text": "Hello",
                    "next": "done",
                    "error": "fallback",
                },
                "fallback": {"type": "log", "message": "the mail failed", "next": "done"},
                "done": END,
            },
        ),
    )
    cart(shop, address)
    done = wait_for_report(shop, "refused-mail", entered=1, exited=1)
    mail = step_of(shop, "refused-mail", "mail")
    assert mail["status"] == "error"
    assert mail["detail"].startswith(detail), mail["detail"]
    assert done["nodes"]["fallback"] == {"type": "log", "ended": 1}
    assert box.refusals.count(address) == attempts
    assert box.to(address) == []
