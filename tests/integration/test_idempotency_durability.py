"""header.msgId as an idempotency key; what is acknowledged survives restarts and SIGKILL;
many clients at once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Demo, in_threads, make_message, wait_until
from tests.integration.conftest import (
    apply_demo_to,
    failures,
    new_org,
    record_count,
    records,
    start_server,
)

pytestmark = pytest.mark.integration


def send(demo: Demo, message: dict[str, Any], **params: str) -> dict[str, Any]:
    answer = httpx.post(demo.inlet_url, json=message, params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def send_batch(demo: Demo, messages: list[dict[str, Any]]) -> dict[str, Any]:
    answer = httpx.post(demo.batch_url, json={"messages": messages}, timeout=30)
    assert answer.status_code == 207, answer.text
    body: dict[str, Any] = answer.json()
    return body


# idempotency
def test_a_retried_message_is_acknowledged_with_the_same_xaction_id_and_stored_once(
    org_demo: Demo,
) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org, msg_id="order-1")
    first = send(org_demo, message)
    again = send(org_demo, message)
    synced = send(org_demo, message, syncValidation="true")
    assert again["xactionId"] == first["xactionId"]
    assert synced["xactionId"] == first["xactionId"]
    assert synced["syncValidation"] == {"status": "pass"}
    (stored,) = records(org_demo)
    assert stored["xactionId"] == first["xactionId"]
    assert stored["msgId"] == "order-1"
    assert record_count(org_demo) == 1


def test_messages_without_msg_id_are_never_deduplicated(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org)
    ids = {send(org_demo, message)["xactionId"] for _ in range(3)}
    assert len(ids) == 3
    assert record_count(org_demo) == 3


def test_a_batch_entry_repeating_an_earlier_message_points_to_it(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org, msg_id="a")
    first = send(org_demo, message)
    body = send_batch(
        org_demo, [make_message(org_demo.schema_id, org=org_demo.org, msg_id="b"), message]
    )
    fresh, duplicate = body["responses"]
    assert "duplicateOf" not in fresh
    # the entry keeps its own <batchId>-<index> and names the first one
    assert duplicate["xactionId"] == f"{body['batchId']}-1"
    assert duplicate["duplicateOf"] == first["xactionId"]
    assert "status" not in duplicate
    stored = records(org_demo)
    assert [r["xactionId"] for r in stored] == [first["xactionId"], fresh["xactionId"]]


def test_duplicates_inside_one_batch_are_stored_once(org_demo: Demo) -> None:
    one = make_message(org_demo.schema_id, org=org_demo.org, msg_id="x", firstName="One")
    messages = [
        one,
        make_message(org_demo.schema_id, org=org_demo.org, msg_id="y"),
        one,
        make_message(org_demo.schema_id, org=org_demo.org, msg_id="x", firstName="Three"),
    ]
    body = send_batch(org_demo, messages)
    x1, y, x2, x3 = body["responses"]
    assert "duplicateOf" not in x1 and "duplicateOf" not in y
    assert x2["duplicateOf"] == x1["xactionId"]
    # another message under the same msgId is refused, naming the first
    assert x3["statusCode"] == 409 and x1["xactionId"] in x3["message"]
    stored = records(org_demo)
    assert [r["xactionId"] for r in stored] == [x1["xactionId"], y["xactionId"]]
    assert stored[0]["message"]["body"]["xdmEntity"]["_instance_name"]["person"]["firstName"] == (
        "One"
    )
    # a later single retry is acknowledged with the first xactionId too
    again = send(org_demo, messages[2])
    assert again["xactionId"] == x1["xactionId"]
    assert record_count(org_demo) == 2


def test_msg_ids_are_per_org(org_demo: Demo, shared_server: Any) -> None:
    other = apply_demo_to(shared_server, new_org())
    mine = send(org_demo, make_message(org_demo.schema_id, org=org_demo.org, msg_id="shared"))
    theirs = send(other, make_message(other.schema_id, org=other.org, msg_id="shared"))
    assert mine["xactionId"] != theirs["xactionId"]
    assert record_count(org_demo) == 1
    assert record_count(other) == 1


def test_a_retried_invalid_message_is_one_failed_record(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org, msg_id="bad", birthYear="x")
    first = send(org_demo, message)
    again = send(org_demo, message)
    assert again["xactionId"] == first["xactionId"]
    assert [f["xactionId"] for f in failures(org_demo)] == [first["xactionId"]]
    assert record_count(org_demo) == 0


def test_a_message_rejected_synchronously_does_not_use_up_its_msg_id(org_demo: Demo) -> None:
    bad = make_message(org_demo.schema_id, org=org_demo.org, msg_id="fixme", birthYear="x")
    rejected = httpx.post(org_demo.inlet_url, json=bad, params={"syncValidation": "true"})
    assert rejected.status_code == 400, rejected.text
    fixed = make_message(org_demo.schema_id, org=org_demo.org, msg_id="fixme")
    accepted = send(org_demo, fixed, syncValidation="true")
    (stored,) = records(org_demo)
    assert stored["xactionId"] == accepted["xactionId"]


# many clients
def test_many_concurrent_clients(org_demo: Demo) -> None:
    threads_count, per_thread = 16, 50
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(timeout=60) as http:
            for i in range(per_thread):
                message = make_message(org_demo.schema_id, org=org_demo.org, msg_id=f"c{n}-{i}")
                answer = http.post(org_demo.inlet_url, json=message)
                with lock:
                    answers.append(answer)

    in_threads(threads_count, client, timeout=100)
    assert len(answers) == threads_count * per_thread
    assert [a.status_code for a in answers if a.status_code != 200] == []
    xaction_ids = {a.json()["xactionId"] for a in answers}
    assert len(xaction_ids) == threads_count * per_thread
    assert record_count(org_demo) == threads_count * per_thread
    stored = records(org_demo)
    assert {r["xactionId"] for r in stored} == xaction_ids
    assert len({r["msgId"] for r in stored}) == threads_count * per_thread


def test_concurrent_retries_of_one_message_store_it_once(org_demo: Demo) -> None:
    message = make_message(org_demo.schema_id, org=org_demo.org, msg_id="raced")
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            start.wait(timeout=30)
            for _ in range(5):
                answer = http.post(org_demo.inlet_url, json=message)
                with lock:
                    answers.append(answer)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=100)
    assert len(answers) == 40
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["xactionId"] for a in answers}) == 1
    assert record_count(org_demo) == 1


# durability
def test_records_survive_a_restart(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        demo = apply_demo_to(srv, new_org())
        sent = [make_message(demo.schema_id, org=demo.org, msg_id=f"s{i}") for i in range(10)]
        singles = [send(demo, message)["xactionId"] for message in sent]
        batch = send_batch(
            demo, [make_message(demo.schema_id, org=demo.org, msg_id=f"b{i}") for i in range(10)]
        )
        batched = [entry["xactionId"] for entry in batch["responses"]]
        failed = send(demo, make_message(demo.schema_id, org=demo.org, birthYear="x"))

        srv.restart()

        assert [r["xactionId"] for r in records(demo)] == singles + batched
        assert record_count(demo) == 20
        assert [f["xactionId"] for f in failures(demo)] == [failed["xactionId"]]
        # the idempotency keys survived too
        again = send(demo, sent[3])
        assert again["xactionId"] == singles[3]
        # and the inlet, schema and dataset
        fresh = send(demo, make_message(demo.schema_id, org=demo.org), syncValidation="true")
        assert records(demo, limit=1)[0]["xactionId"] == fresh["xactionId"]
        assert record_count(demo) == 21
    finally:
        srv.stop()


def test_nothing_acknowledged_is_lost_when_the_process_is_killed(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        demo = apply_demo_to(srv, new_org())
        acked: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def single_sender(n: int) -> None:
            with httpx.Client(timeout=10) as http:
                for i in range(2_000):
                    if stop.is_set():
                        return
                    message = make_message(demo.schema_id, org=demo.org, msg_id=f"k{n}-{i}")
                    try:
                        answer = http.post(demo.inlet_url, json=message)
                    except httpx.HTTPError:
                        return
                    if answer.status_code != 200:
                        return
                    with lock:
                        acked.append(answer.json()["xactionId"])

        def batch_sender() -> None:
            with httpx.Client(timeout=10) as http:
                for i in range(500):
                    if stop.is_set():
                        return
                    messages = [
                        make_message(demo.schema_id, org=demo.org, msg_id=f"kb{i}-{j}")
                        for j in range(20)
                    ]
                    try:
                        answer = http.post(demo.batch_url, json={"messages": messages})
                    except httpx.HTTPError:
                        return
                    if answer.status_code != 207:
                        return
                    with lock:
                        acked.extend(e["xactionId"] for e in answer.json()["responses"])

        threads = [threading.Thread(target=single_sender, args=(n,)) for n in range(4)]
        threads.append(threading.Thread(target=batch_sender))
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(acked) >= 1_000, timeout=60, interval=0.01)
            srv.kill()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        with lock:
            acknowledged = set(acked)
        assert len(acknowledged) >= 1_000

        srv.start()
        stored = {r["xactionId"] for r in records(demo)}
        missing = acknowledged - stored
        assert not missing, f"{len(missing)} acknowledged messages were lost"
        assert record_count(demo) >= len(acknowledged)
        # the server takes new messages after the crash
        send(demo, make_message(demo.schema_id, org=demo.org), syncValidation="true")
    finally:
        srv.stop()
