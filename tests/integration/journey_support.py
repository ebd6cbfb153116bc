"""What the journey integration tests share: a real local HTTP receiver that counts calls per
``Idempotency-Key``, a shop schema with rule-based events, messages for it, and report
helpers."""

from __future__ import annotations

import email
import email.policy
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
from aiosmtpd.controller import Controller

from tests.conftest import Demo, free_port, wait_until

TENANT = "_instance_name"

SHOP_SCHEMA: dict[str, Any] = {
    "kind": "Schema",
    "name": "shop",
    "title": "Shop events",
    "class": "ExperienceEvent",
    # no required identityMap: a message without one is stored, and journeys count it as
    # "identity missing"
    "fields": {
        "kind": {"type": "string"},
        "cart": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "total": {"type": "number"}},
        },
        "person": {
            "type": "object",
            "properties": {
                "firstName": {"type": "string"},
                "email": {"type": "string"},
                "loyaltyId": {"type": "string"},
            },
        },
    },
}

SHOP_FIELDS = [
    f"{TENANT}.cart.id",
    f"{TENANT}.cart.total",
    f"{TENANT}.person.firstName",
    f"{TENANT}.person.email",
]


def shop_event(name: str, kind: str) -> dict[str, Any]:
    """A rule-based event on the shop schema: messages whose ``kind`` is ``kind``."""
    return {
        "kind": "Event",
        "name": name,
        "schemaId": "shop",
        "namespace": "Email",
        "eventIdType": "rule",
        "condition": f"{TENANT}.kind == '{kind}'",
        "fields": SHOP_FIELDS,
    }


SHOP_DOCUMENTS = [
    SHOP_SCHEMA,
    shop_event("cart", "cart"),
    shop_event("purchase", "purchase"),
]


def ev(event: str, path: str) -> str:
    """``@event{<event>._instance_name.<path>}``"""
    return f"@event{{{event}.{TENANT}.{path}}}"


def hole(event: str, path: str) -> str:
    """A template hole reading a field of an event."""
    return "{{ " + ev(event, path) + " }}"


@dataclass(frozen=True)
class Shop:
    demo: Demo
    schema_id: str

    @property
    def org(self) -> str:
        return self.demo.org

    def admin(self) -> httpx.Client:
        return self.demo.server.admin(self.demo.org)


def setup_shop(demo: Demo) -> Shop:
    with demo.server.admin(demo.org) as admin:
        applied = admin.post("/api/v1/apply", json={"documents": SHOP_DOCUMENTS})
        assert applied.status_code == 200, applied.text
        schema = admin.get("/api/v1/schemas/shop").json()
    return Shop(demo, schema["id"])


def shop_message(
    shop: Shop,
    kind: str,
    email: str | None,
    *,
    namespace: str = "Email",
    cart_id: str = "c-1",
    total: float = 42.5,
    first_name: str = "Ada",
    loyalty_id: str = "L-1",
    msg_id: str | None = None,
) -> dict[str, Any]:
    """A shop message; ``email=None`` leaves the identityMap out."""
    ref = {"id": shop.schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    entity: dict[str, Any] = {
        "_id": str(uuid.uuid4()),
        "timestamp": "2026-11-28T10:00:00.000Z",
        TENANT: {
            "kind": kind,
            "cart": {"id": cart_id, "total": total},
            "person": {"firstName": first_name, "email": email or "", "loyaltyId": loyalty_id},
        },
    }
    if email is not None:
        entity["identityMap"] = {namespace: [{"id": email}]}
    header: dict[str, Any] = {
        "msgType": "xdmEntityCreate",
        "msgVersion": "1.0",
        "imsOrgId": shop.org,
        "schemaRef": ref,
        "source": {"name": "Journeys"},
    }
    if msg_id is not None:
        header["msgId"] = msg_id
    return {"header": header, "body": {"xdmMeta": {"schemaRef": ref}, "xdmEntity": entity}}


def send(shop: Shop, *messages: dict[str, Any]) -> None:
    """Send through the batch endpoint; every message must be accepted."""
    answer = httpx.post(shop.demo.batch_url, json={"messages": list(messages)}, timeout=30)
    assert answer.status_code == 207, answer.text
    for entry in answer.json()["responses"]:
        assert "status" not in entry, entry


# the journey API

END = {"type": "end"}


def on_cart(name: str, activities: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A journey entered on ``cart`` that starts at its first activity."""
    return {
        "name": name,
        "entry": {"event": "cart", "next": next(iter(activities))},
        "activities": activities,
        **extra,
    }


def save(shop: Shop, journey: dict[str, Any]) -> dict[str, Any]:
    with shop.admin() as admin:
        answer = admin.post("/api/v1/journeys", json=journey)
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


def command(shop: Shop, name: str, what: str, body: Any = None) -> dict[str, Any]:
    with shop.admin() as admin:
        answer = admin.post(f"/api/v1/journeys/{name}/{what}", json=body or {})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def publish(shop: Shop, journey: dict[str, Any]) -> dict[str, Any]:
    save(shop, journey)
    return command(shop, journey["name"], "publish")


def report(shop: Shop, name: str) -> dict[str, Any]:
    with shop.admin() as admin:
        answer = admin.get(f"/api/v1/journeys/{name}/report")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def steps(shop: Shop, name: str) -> list[dict[str, Any]]:
    """Every step event of the journey, oldest first."""
    with shop.admin() as admin:
        answer = admin.get(f"/api/v1/journeys/{name}/steps", params={"limit": 10_000})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["steps"]
    return sorted(found, key=lambda s: s["seq"])


def wait_for_report(
    shop: Shop, name: str, timeout: float = 20.0, **expected: Any
) -> dict[str, Any]:
    """Poll the report until every ``expected`` key has its value; return it."""
    last: dict[str, Any] = {}

    def reached() -> bool:
        last.clear()
        last.update(report(shop, name))
        return all(last.get(k) == v for k, v in expected.items())

    try:
        wait_until(reached, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"report never reached {expected}; last: {last}") from None
    return last


def wait_and_call(name: str, url: str, pause: str | None = None) -> dict[str, Any]:
    """A journey entered on ``cart``: a wait of ``pause`` (if given), then a POST to ``url``
    with the person's email and cart, then the end."""
    activities: dict[str, Any] = {}
    if pause:
        activities["pause"] = {"type": "wait", "duration": pause, "next": "hook"}
    activities["hook"] = {
        "type": "http",
        "method": "POST",
        "url": url,
        "timeoutSeconds": 10,
        "body": {"email": hole("cart", "person.email"), "cart": hole("cart", "cart.id")},
        "next": "done",
    }
    activities["done"] = {"type": "end"}
    return {
        "name": name,
        "entry": {"event": "cart", "next": next(iter(activities))},
        "activities": activities,
    }


def step_of(shop: Shop, name: str, node: str) -> dict[str, Any]:
    """The one step event of ``node``."""
    (found,) = [s for s in steps(shop, name) if s["node"] == node]
    return found


def instance_ids(shop: Shop, name: str) -> dict[str, str]:
    """identity → instance id, from the entry step events."""
    return {s["identity"]: s["instanceId"] for s in steps(shop, name) if s["node"] == "entry"}


# a real HTTP receiver


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    key: str | None
    at: float
    peer: tuple[str, int] = ("", 0)
    """The caller's address and port."""
    sender: str | None = None
    """Who made the call, as the receiver's ``identify`` tells it from the connection."""


HUGE_REPLY_BYTES = 3 * 1024 * 1024


@dataclass
class Receiver:
    """Answers by path: ``/fail-once/`` 500 on a key's first call then 200, ``/always-500/``
    500, ``/redirect/`` 302 to ``redirect_to``, ``/missing/`` 404, ``/forbidden/`` 403,
    ``/unauthorized/`` 401, ``/huge/`` 200 with ``reply`` padded past HUGE_REPLY_BYTES,
    ``/slow/`` after ``slow_seconds``, ``/crowd/<n>/`` once ``n``
    calls under its first path segment have arrived (or after ``crowd_seconds``); anything
    else 200 with ``reply``. Records every call, and how many under each first path segment
    were in flight at most."""

    url: str = ""
    reply: dict[str, Any] = field(default_factory=lambda: {"tier": "gold", "points": 120})
    slow_seconds: float = 3.0
    crowd_seconds: float = 1.5
    calls: list[Call] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    """The keys of the calls answered, in order."""
    in_flight: Counter[str] = field(default_factory=Counter)
    most_in_flight: Counter[str] = field(default_factory=Counter)
    """First path segment (a test's prefix) → the most calls under it in flight at once."""
    lock: threading.Condition = field(default_factory=threading.Condition)
    """Reentrant; notified as each call arrives."""
    release: threading.Event = field(default_factory=threading.Event)
    redirect_to: str = ""
    """Where ``/redirect/`` sends its callers."""
    identify: Callable[[tuple[str, int], tuple[str, int]], str | None] | None = None
    """(caller's address, receiver's address) -> who holds the calling end of the connection,
    asked once per connection while it is open."""

    def handle(self, call: Call) -> tuple[int, Any]:
        segment = "/" + call.path.split("/")[1]
        with self.lock:
            earlier = sum(1 for c in self.calls if c.key == call.key)
            self.calls.append(call)
            self.in_flight[segment] += 1
            self.most_in_flight[segment] = max(
                self.most_in_flight[segment], self.in_flight[segment]
            )
            self.lock.notify_all()
        try:
            return self._answer(call, segment, earlier)
        finally:
            with self.lock:
                self.in_flight[segment] -= 1

    def _answer(self, call: Call, segment: str, earlier: int) -> tuple[int, Any]:
        if "/crowd/" in call.path:
            crowd = int(call.path.split("/crowd/")[1].split("/")[0])
            with self.lock:
                self.lock.wait_for(
                    lambda: len(self.under(segment)) >= crowd or self.release.is_set(),
                    self.crowd_seconds,
                )
        if "/slow/" in call.path:
            self.release.wait(self.slow_seconds)
        if "/fail-once/" in call.path and earlier == 0:
            return 500, {"error": "try again"}
        if "/always-500/" in call.path:
            return 500, {"error": "broken"}
        if "/redirect/" in call.path:
            return 302, {"location": self.redirect_to}
        if "/missing/" in call.path:
            return 404, {"error": "no such thing"}
        if "/forbidden/" in call.path:
            return 403, {"error": "no"}
        if "/unauthorized/" in call.path:
            return 401, {"error": "who are you?"}
        if "/huge/" in call.path:
            return 200, {**self.reply, "pad": "x" * HUGE_REPLY_BYTES}
        return 200, {**self.reply, "path": call.path}

    def under(self, prefix: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path.startswith(prefix)]

    def keys(self, prefix: str = "/") -> dict[str, int]:
        """Idempotency-Key → number of calls carrying it."""
        counts: dict[str, int] = {}
        for c in self.under(prefix):
            counts[str(c.key)] = counts.get(str(c.key), 0) + 1
        return counts


@contextmanager
def running_receiver(host: str = "127.0.0.1", **options: Any) -> Iterator[Receiver]:
    """A receiver listening on ``host`` (a free port)."""
    receiver = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        sender: str | None = None
        identified = False

        def _serve(self) -> None:
            if not self.identified and receiver.identify is not None:
                self.sender = receiver.identify(self.client_address, self.server.server_address)
            self.identified = True
            parts = urlsplit(self.path)
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size) if size else b""
            call = Call(
                method=self.command,
                path=parts.path,
                query=dict(parse_qsl(parts.query)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=orjson.loads(raw) if raw else None,
                key=self.headers.get("Idempotency-Key"),
                at=time.monotonic(),
                peer=(str(self.client_address[0]), int(self.client_address[1])),
                sender=self.sender,
            )
            status, payload = receiver.handle(call)
            data = orjson.dumps(payload)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 302:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                return  # the caller gave up (a timeout, or a killed server)
            with receiver.lock:
                receiver.answered.append(str(call.key))

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Quiet(ThreadingHTTPServer):
        daemon_threads = True
        # Room for every connection a burst of actions opens: with the default backlog of 5,
        # connections beyond it wait for the client's SYN retry (a second or more), which
        # spreads a burst out as a rate limit would.
        request_queue_size = 1024

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    server = Quiet((host, 0), Handler)
    receiver.url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# a real SMTP receiver


class Mailbox:
    """An aiosmtpd handler keeping every message it is given. It refuses recipients whose
    address starts with ``refused`` for good (550 at RCPT), and the data of a message to one
    starting with ``deferred`` for now (451); ``refusals`` lists each refused recipient once
    per refusal."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.refusals: list[str] = []
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.startswith("refused"):
            with self.lock:
                self.refusals.append(address)
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        deferred = [r for r in envelope.rcpt_tos if r.startswith("deferred")]
        if deferred:
            with self.lock:
                self.refusals.extend(deferred)
            return "451 4.3.0 mailbox busy, try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[tuple[str, list[str], EmailMessage]]:
        with self.lock:
            return [m for m in self.messages if address in m[1]]


@contextmanager
def running_mailbox() -> Iterator[tuple[Mailbox, int]]:
    """An aiosmtpd server on a free port, keeping what it is given."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()
