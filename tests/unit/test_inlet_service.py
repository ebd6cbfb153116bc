"""The inlet's use cases on the in-memory adapters and a fake clock: no server, no files."""

from __future__ import annotations

import asyncio
import re
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from wayfare.clock import FakeClock
from wayfare.errors import (
    ForbiddenError,
    InvalidRequestError,
    MessageFormatError,
    NotFoundError,
    OverloadedError,
    PayloadTooLargeError,
    RateLimitedError,
    SchemaViolationError,
    StoreError,
    UnauthenticatedError,
    WrongOrgError,
)
from wayfare.ingest.catalog import Catalog
from wayfare.ingest.inlet import Caller, InletService
from wayfare.ingest.rate_limit import RateLimiter
from wayfare.model.resources import Inlet, Schema
from wayfare.registry.inlets import InletRegistry
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.memory import MemoryStore, MemoryWriter

ORG = "ACME@AdobeOrg"
OTHER_ORG = "OTHER@AdobeOrg"
XACTION_ID = re.compile(r"^\d+:[0-9a-f]{9,}$")  # <receivedTimeMs>:<process prefix><counter>

SIGNUP = {
    "name": "signup",
    "class": "ExperienceEvent",
    "fields": {
        "person": {
            "type": "object",
            "properties": {
                "birthYear": {"type": "integer", "minimum": 1900},
                "email": {"type": "string", "format": "email"},
            },
        }
    },
}


@dataclass
class World:
    clock: FakeClock
    store: MemoryStore
    writer: MemoryWriter
    service: InletService
    schemas: SchemaRegistry
    inlets: InletRegistry
    schema: Schema
    inlet: Inlet

    def message(self, *, org: str | None = ORG, msg_id: str | None = None, **person: Any) -> Any:
        ref = {
            "id": self.schema.schema_id,
            "contentType": "application/vnd.adobe.xed-full+json;version=1",
        }
        header: dict[str, Any] = {"schemaRef": ref, "msgType": "xdmEntityCreate"}
        if org is not None:
            header["imsOrgId"] = org
        if msg_id is not None:
            header["msgId"] = msg_id
        entity = {
            "_id": "event-1",
            "timestamp": "2026-11-28T10:00:00.000Z",
            "_acme": {"person": {"birthYear": 1990, "email": "ada@example.com", **person}},
        }
        return {"header": header, "body": {"xdmMeta": {"schemaRef": ref}, "xdmEntity": entity}}

    def send(self, message: Any, caller: Caller | None = None) -> dict[str, Any]:
        return asyncio.run(
            self.service.ingest_message(self.inlet, message, None, caller or Caller())
        )

    def send_batch(self, body: Any, caller: Caller | None = None) -> dict[str, Any]:
        return asyncio.run(self.service.ingest_batch(self.inlet, body, caller or Caller()))

    @property
    def dataset_id(self) -> str:
        return self.schemas.datasets(ORG, "signup")[0].dataset_id

    def records(self, dataset_id: str | None = None) -> list[Any]:
        return self.store.list_records(dataset_id or self.dataset_id, limit=1000)


def build_world(
    *, max_pending: int = 100, rate: float = 0.0, burst: float = 0.0, max_batch: int = 5000
) -> World:
    clock = FakeClock()
    store = MemoryStore()
    writer = MemoryWriter(store)
    catalog = Catalog(store, clock)
    limiter = RateLimiter(clock, rate, burst)
    service = InletService(
        catalog, writer, clock, limiter, max_pending, max_batch_messages=max_batch
    )
    schemas = SchemaRegistry(store, catalog, clock)
    inlets = InletRegistry(store, catalog, clock)
    schema = schemas.create(ORG, SIGNUP)
    inlet, _ = inlets.create(ORG, {"name": "web"})
    asyncio.run(writer.start())
    return World(clock, store, writer, service, schemas, inlets, schema, inlet)


@pytest.fixture
def world() -> Iterator[World]:
    built = build_world()
    yield built
    asyncio.run(built.writer.stop())


# single messages


def test_a_valid_message_is_answered_after_it_lands_in_the_default_dataset(world: World) -> None:
    answer = world.send(world.message())
    assert answer == {
        "inletId": world.inlet.inlet_id,
        "xactionId": answer["xactionId"],
        "receivedTimeMs": world.clock.now_ms(),
        "syncValidation": {"skipped": True},
    }
    assert XACTION_ID.match(answer["xactionId"])
    assert answer["xactionId"].startswith(f"{world.clock.now_ms()}:")
    (record,) = world.records()
    assert (record.xaction_id, record.inlet_id, record.schema_id) == (
        answer["xactionId"],
        world.inlet.inlet_id,
        world.schema.schema_id,
    )
    assert record.message == world.message()


def test_sync_validation_passes_a_valid_message(world: World) -> None:
    answer = world.send(world.message(), Caller(sync_validation=True))
    assert answer["syncValidation"] == {"status": "pass"}
    assert len(world.records()) == 1


def test_without_sync_validation_an_invalid_message_is_kept_as_a_failed_record(
    world: World,
) -> None:
    answer = world.send(world.message(birthYear=1800, email="nope"))
    assert answer["syncValidation"] == {"skipped": True}
    assert world.records() == []
    (failure,) = world.store.list_failures(ORG)
    assert failure.xaction_id == answer["xactionId"]
    assert failure.dataset_id == world.dataset_id
    assert sorted((r["pointerToViolation"], r["keyword"]) for r in failure.reasons) == [
        ("#/_acme/person/birthYear", "minimum"),
        ("#/_acme/person/email", "format"),
    ]


def test_with_sync_validation_an_invalid_message_is_refused_and_not_stored(world: World) -> None:
    with pytest.raises(SchemaViolationError) as caught:
        world.send(world.message(birthYear=1800), Caller(sync_validation=True))
    assert caught.value.message == "1 schema violation found"
    assert [(v.pointer, v.keyword) for v in caught.value.violations] == [
        ("#/_acme/person/birthYear", "minimum")
    ]
    assert world.records() == [] and world.store.list_failures(ORG) == []


def test_a_message_without_an_org_gets_the_inlets(world: World) -> None:
    world.send(world.message(org=None))
    (record,) = world.records()
    assert record.message["header"]["imsOrgId"] == ORG
    assert record.org_id == ORG


def test_a_message_of_another_org_is_refused(world: World) -> None:
    with pytest.raises(WrongOrgError) as caught:
        world.send(world.message(org=OTHER_ORG))
    assert [v.pointer for v in caught.value.violations] == ["/header/imsOrgId"]
    assert world.records() == []


def test_a_retried_msg_id_answers_the_first_xaction_id_and_is_stored_once(world: World) -> None:
    first = world.send(world.message(msg_id="m-1"))
    world.clock.advance(1_000)
    retry = world.send(world.message(msg_id="m-1"))
    assert retry["xactionId"] == first["xactionId"]
    assert len(world.records()) == 1


def test_a_message_can_name_another_dataset_of_its_schema(world: World) -> None:
    extra = world.schemas.create_dataset(ORG, {"name": "extra", "schemaId": "signup"})
    message = world.message()
    message["header"]["datasetId"] = extra.dataset_id
    world.send(message)
    assert len(world.records(extra.dataset_id)) == 1
    assert world.records() == []


def test_a_message_naming_an_unknown_dataset_is_refused(world: World) -> None:
    message = world.message()
    message["header"]["datasetId"] = "no-such-dataset"
    with pytest.raises(InvalidRequestError) as caught:
        world.send(message)
    assert [v.pointer for v in caught.value.violations] == ["/header/datasetId"]


def test_a_message_of_an_unknown_schema_or_version_is_refused(world: World) -> None:
    unknown = world.message()
    unknown["header"]["schemaRef"]["id"] = "https://ns.adobe.com/acme/schemas/unknown"
    unknown["body"]["xdmMeta"]["schemaRef"]["id"] = unknown["header"]["schemaRef"]["id"]
    with pytest.raises(MessageFormatError) as caught:
        world.send(unknown)
    assert [v.pointer for v in caught.value.violations] == ["/header/schemaRef/id"]
    future = world.message()
    for ref in (future["header"]["schemaRef"], future["body"]["xdmMeta"]["schemaRef"]):
        ref["contentType"] = "application/vnd.adobe.xed-full+json;version=2"
    with pytest.raises(MessageFormatError) as caught:
        world.send(future)
    assert [v.pointer for v in caught.value.violations] == ["/header/schemaRef/contentType"]


def test_the_rate_limit_refuses_messages_over_the_burst() -> None:
    world = build_world(rate=1, burst=2)
    world.send(world.message())
    world.send(world.message())
    with pytest.raises(RateLimitedError) as caught:
        world.send(world.message())
    assert caught.value.retry_after == 1
    world.clock.advance(1_000)
    world.send(world.message())
    assert len(world.records()) == 3


# backpressure


def test_more_messages_than_may_wait_are_refused_with_retry_after() -> None:
    world = build_world(max_pending=2)
    with pytest.raises(OverloadedError) as caught:
        world.send_batch({"messages": [world.message() for _ in range(3)]})
    assert caught.value.retry_after == 1
    assert world.records() == []
    world.send_batch({"messages": [world.message() for _ in range(2)]})
    assert len(world.records()) == 2


async def let_ready_tasks_run() -> None:
    """One turn of the event loop for every ready task; no time passes."""
    await asyncio.sleep(0)


def test_messages_waiting_for_the_writer_count_against_the_limit() -> None:
    world = build_world(max_pending=2)

    async def scenario() -> None:
        world.writer.pause()
        held = asyncio.create_task(
            world.service.ingest_batch(
                world.inlet, {"messages": [world.message(), world.message()]}, Caller()
            )
        )
        await let_ready_tasks_run()
        assert world.writer.pending == 2
        with pytest.raises(OverloadedError):
            await world.service.ingest_message(world.inlet, world.message(), None, Caller())
        world.writer.resume()
        answer = await held
        assert len(answer["responses"]) == 2
        assert world.writer.pending == 0
        await world.service.ingest_message(world.inlet, world.message(), None, Caller())

    asyncio.run(scenario())
    assert len(world.records()) == 3


# batches


def test_a_batch_answers_each_message_by_its_index(world: World) -> None:
    body = {
        "messages": [
            world.message(msg_id="a"),
            "not an object",
            world.message(org=OTHER_ORG),
            world.message(birthYear=1800),
            world.message(msg_id="a"),
        ]
    }
    answer = world.send_batch(body)
    batch_id = answer["batchId"]
    assert XACTION_ID.match(batch_id)
    assert answer["inletId"] == world.inlet.inlet_id
    assert answer["receivedTimeMs"] == world.clock.now_ms()
    responses = answer["responses"]
    assert [r["xactionId"] for r in responses] == [f"{batch_id}-{i}" for i in range(5)]
    assert responses[0] == {"xactionId": f"{batch_id}-0"}
    for failed in (responses[1], responses[2]):
        assert (failed["status"], failed["statusCode"]) == (400, 400)
        assert failed["message"]
    assert responses[1]["message"].startswith("Message has unknown xdm format")
    assert "ims org" in responses[2]["message"]
    assert responses[3] == {"xactionId": f"{batch_id}-3"}  # accepted: validation is async
    assert responses[4] == {"xactionId": f"{batch_id}-4", "duplicateOf": f"{batch_id}-0"}
    assert [r.xaction_id for r in world.records()] == [f"{batch_id}-0"]
    assert [f.xaction_id for f in world.store.list_failures(ORG)] == [f"{batch_id}-3"]


def test_a_batch_with_sync_validation_reports_each_invalid_message(world: World) -> None:
    body = {"messages": [world.message(), world.message(birthYear=1800, email="nope")]}
    answer = world.send_batch(body, Caller(sync_validation=True))
    batch_id = answer["batchId"]
    ok, refused = answer["responses"]
    assert ok == {"xactionId": f"{batch_id}-0"}
    assert (refused["xactionId"], refused["status"], refused["statusCode"]) == (
        f"{batch_id}-1",
        400,
        400,
    )
    assert refused["message"] == "2 schema violations found"
    (validation,) = refused["report"]["cause"]["_streamingValidation"]
    assert validation["keyword"] == "allOf"
    assert sorted(c["pointerToViolation"] for c in validation["causingExceptions"]) == [
        "#/_acme/person/birthYear",
        "#/_acme/person/email",
    ]
    assert len(world.records()) == 1
    assert world.store.list_failures(ORG) == []


def test_a_batch_retry_names_what_each_message_duplicates(world: World) -> None:
    first = world.send(world.message(msg_id="m-1"))
    answer = world.send_batch({"messages": [world.message(msg_id="m-1"), world.message()]})
    batch_id = answer["batchId"]
    assert answer["responses"] == [
        {"xactionId": f"{batch_id}-0", "duplicateOf": first["xactionId"]},
        {"xactionId": f"{batch_id}-1"},
    ]
    assert len(world.records()) == 2


@pytest.mark.parametrize("body", [[], {}, {"messages": []}, {"messages": "x"}, "messages"])
def test_a_batch_must_hold_a_list_of_messages(world: World, body: object) -> None:
    with pytest.raises(MessageFormatError) as caught:
        world.send_batch(body)
    assert [v.pointer for v in caught.value.violations] == ["/messages"]


def test_a_batch_of_only_refused_messages_writes_nothing(world: World) -> None:
    answer = world.send_batch({"messages": [1, world.message(org=OTHER_ORG)]})
    assert [r["statusCode"] for r in answer["responses"]] == [400, 400]
    assert world.records() == [] and world.store.list_failures(ORG) == []


def test_a_batch_of_more_messages_than_allowed_is_refused_naming_the_limit() -> None:
    world = build_world(max_batch=3)
    try:
        assert len(world.send_batch({"messages": [world.message()] * 3})["responses"]) == 3
        with pytest.raises(PayloadTooLargeError, match="at most 3 messages; this one has 4"):
            world.send_batch({"messages": [world.message()] * 4})
        assert len(world.records()) == 3
    finally:
        asyncio.run(world.writer.stop())


def test_a_failed_batch_entry_lists_at_most_ten_violations(world: World) -> None:
    wide = world.schemas.create(
        ORG,
        {
            "name": "wide",
            "class": "ExperienceEvent",
            "fields": {f"f{i}": {"type": "integer"} for i in range(20)},
        },
    )
    message = world.message()
    ref = {"id": wide.schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    message["header"]["schemaRef"] = message["body"]["xdmMeta"]["schemaRef"] = ref
    message["body"]["xdmEntity"]["_acme"] = {f"f{i}": "x" for i in range(20)}
    answer = world.send_batch({"messages": [message]}, Caller(sync_validation=True))
    (entry,) = answer["responses"]
    assert entry["message"] == "20 schema violations found"
    (validation,) = entry["report"]["cause"]["_streamingValidation"]
    assert validation["message"] == "20 schema violations found"
    assert len(validation["causingExceptions"]) == 10
    # the single endpoint's 400 still lists them all
    with pytest.raises(SchemaViolationError) as caught:
        world.send(message, Caller(sync_validation=True))
    assert len(caught.value.violations) == 20


def test_a_batch_answer_is_bounded_by_its_request(world: World) -> None:
    messages: list[Any] = [{}] * 5000
    request_bytes = len(orjson.dumps({"messages": messages}))
    answer = asyncio.run(
        world.service.ingest_batch(
            world.inlet, {"messages": messages}, Caller(), request_bytes=request_bytes
        )
    )
    responses = answer["responses"]
    assert len(responses) == 5000
    assert "report" in responses[0]
    last = responses[-1]
    assert "report" not in last
    assert (last["status"], last["statusCode"]) == (400, 400)
    assert last["message"].startswith("Message has unknown xdm format")
    # past four times the request (at least 64 kB), 5,000 brief entries of ~150 bytes
    assert len(orjson.dumps(answer)) < max(64 * 1024, 4 * request_bytes) + 5000 * 160


def test_messages_waiting_for_the_writer_hold_little_more_than_their_bytes(
    world: World,
) -> None:
    message = world.message(birthYear=1800)  # stored re-encoded, with its reasons
    tracemalloc.start()
    try:
        waiting = [
            world.service.prepare(
                world.inlet, message, None, sync=False, xaction_id=str(i), received_ms=0
            )
            for i in range(1000)
        ]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    encoded = len(waiting[0].payload) + len(waiting[0].reasons or b"")
    assert held < 1000 * (encoded + 1000)


def test_a_violation_quoting_a_huge_value_is_cut_short(world: World) -> None:
    message = world.message(email="x" * 100_000)
    with pytest.raises(SchemaViolationError) as caught:
        world.send(message, Caller(sync_validation=True))
    (violation,) = caught.value.violations
    assert violation.pointer == "#/_acme/person/email"
    assert 100 < len(violation.message) <= 500
    world.send(message)  # kept as a failed record, with the same short reason
    (failure,) = world.store.list_failures(ORG)
    assert len(orjson.dumps(failure.reasons)) < 2000


# admission


def test_an_open_inlet_admits_anyone_of_its_org(world: World) -> None:
    assert world.service.open_inlet(world.inlet.inlet_id, Caller()) == world.inlet
    assert world.service.open_inlet(world.inlet.inlet_id, Caller(org_header=ORG)) == world.inlet
    with pytest.raises(WrongOrgError):
        world.service.open_inlet(world.inlet.inlet_id, Caller(org_header=OTHER_ORG))


def test_an_unknown_inlet_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError):
        world.service.open_inlet("0" * 64, Caller())


class FailingStore(MemoryStore):
    """The store while it restarts: every read of inlets and tokens fails."""

    failing = False

    def get_inlet(self, inlet_id: str) -> Inlet | None:
        if self.failing:
            raise StoreError("the store failed: connection refused")
        return super().get_inlet(inlet_id)


def test_an_inlet_read_before_stays_open_while_the_store_fails() -> None:
    clock = FakeClock()
    store = FailingStore()
    catalog = Catalog(store, clock, ttl_seconds=2.0)
    inlets = InletRegistry(store, catalog, clock)
    SchemaRegistry(store, catalog, clock).create(ORG, SIGNUP)
    known, _ = inlets.create(ORG, {"name": "web"})
    unknown, _ = inlets.create(ORG, {"name": "never-read"})
    catalog.forget_inlet(known.inlet_id)
    catalog.forget_inlet(unknown.inlet_id)
    assert catalog.inlet(known.inlet_id) == known
    store.failing = True
    clock.advance(60_000)  # well past the cache's time to live
    assert catalog.inlet(known.inlet_id) == known
    with pytest.raises(StoreError):
        catalog.inlet(unknown.inlet_id)  # nothing to fall back on: the store's error


def test_an_authenticated_inlet_needs_a_live_token_of_its_own(world: World) -> None:
    secured, token = world.inlets.create(ORG, {"name": "secured", "authenticationRequired": True})
    other, other_token = world.inlets.create(ORG, {"name": "other", "authenticationRequired": True})
    assert token is not None and other_token is not None
    with pytest.raises(UnauthenticatedError):
        world.service.open_inlet(secured.inlet_id, Caller())
    with pytest.raises(ForbiddenError):
        world.service.open_inlet(secured.inlet_id, Caller(bearer="wf_guessed"))
    with pytest.raises(ForbiddenError):
        world.service.open_inlet(secured.inlet_id, Caller(bearer=other_token.token))
    opened = world.service.open_inlet(secured.inlet_id, Caller(bearer=token.token))
    assert opened.inlet_id == secured.inlet_id
    assert world.service.open_inlet(other.inlet_id, Caller(bearer=other_token.token)) == other


def test_a_token_expires_on_time(world: World) -> None:
    secured, _ = world.inlets.create(ORG, {"name": "secured", "authenticationRequired": True})
    token = world.inlets.issue_token(ORG, "secured", expires_in_seconds=60)
    assert token.expires_ms == world.clock.now_ms() + 60_000
    world.clock.advance(59_999)
    world.service.open_inlet(secured.inlet_id, Caller(bearer=token.token))
    world.clock.advance(1)
    with pytest.raises(ForbiddenError, match="expired"):
        world.service.open_inlet(secured.inlet_id, Caller(bearer=token.token))


def test_a_revoked_token_is_refused_at_once(world: World) -> None:
    secured, token = world.inlets.create(ORG, {"name": "secured", "authenticationRequired": True})
    assert token is not None
    world.service.open_inlet(secured.inlet_id, Caller(bearer=token.token))
    assert world.inlets.revoke_tokens(ORG, "secured") == 1
    with pytest.raises(ForbiddenError):
        world.service.open_inlet(secured.inlet_id, Caller(bearer=token.token))


def test_a_disabled_inlet_refuses_messages_until_enabled_again(world: World) -> None:
    world.inlets.set_enabled(ORG, "web", False)
    with pytest.raises(InvalidRequestError, match="disabled"):
        world.service.open_inlet(world.inlet.inlet_id, Caller())
    world.inlets.set_enabled(ORG, "web", True)
    assert world.service.open_inlet(world.inlet.inlet_id, Caller()).enabled


def test_a_raw_inlet_needs_its_flow_id_and_stores_messages_as_sent(world: World) -> None:
    raw, _ = world.inlets.create(
        ORG, {"name": "crm", "dataType": "raw", "datasetId": world.dataset_id}
    )
    assert raw.flow_id
    for flow_id in (None, "not-the-flow"):
        with pytest.raises(InvalidRequestError) as caught:
            world.service.open_inlet(raw.inlet_id, Caller(flow_id=flow_id))
        assert [v.pointer for v in caught.value.violations] == ["x-adobe-flow-id"]
    caller = Caller(flow_id=raw.flow_id)
    opened = world.service.open_inlet(raw.inlet_id, caller)
    answer = asyncio.run(
        world.service.ingest_message(opened, {"customer": 7}, b'{"customer": 7}', caller)
    )
    (record,) = world.records()
    assert (record.xaction_id, record.inlet_id, record.schema_id) == (
        answer["xactionId"],
        raw.inlet_id,
        None,
    )
    assert record.message == {"customer": 7}
    with pytest.raises(MessageFormatError):
        asyncio.run(world.service.ingest_message(opened, ["not", "an", "object"], None, caller))
