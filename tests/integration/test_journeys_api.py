"""The journeys API on a real server: saving checks every expression against the events'
schemas, the lifecycle (draft, live, closed, stopped, finished) and versions, test mode, the
report with discards by cause, re-entrance, and versions changing while people wait."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, wait_until
from tests.integration.conftest import (
    EXPRESSIONS_OVER_THE_LIMITS,
    apply_demo_to,
    causing_exceptions,
    new_org,
    start_server,
)
from tests.integration.journey_support import (
    END,
    TENANT,
    Shop,
    command,
    ev,
    hole,
    instance_ids,
    on_cart,
    publish,
    report,
    save,
    send,
    setup_shop,
    shop_message,
    steps,
    wait_for_report,
)

pytestmark = pytest.mark.integration

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("WAYFARE_")}


@pytest.fixture(scope="module")
def journey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # test-mode waits last at most one second
    srv = start_server(tmp_path_factory.mktemp("journeys"), env={"WAYFARE_TEST_WAIT_SECONDS": "1"})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def shop(journey_server: Server) -> Shop:
    return setup_shop(apply_demo_to(journey_server, new_org()))


def note(message: str, nxt: str = "done") -> dict[str, Any]:
    return {"type": "log", "message": message, "next": nxt}


def holding(name: str, **extra: Any) -> dict[str, Any]:
    """People wait for their purchase (an hour at most), then leave."""
    return on_cart(
        name,
        {
            "hold": {
                "type": "waitForEvent",
                "events": [{"event": "purchase", "next": "thanks"}],
                "timeout": {"after": "1h", "next": "done"},
            },
            "thanks": note("thanks " + hole("purchase", "cart.id")),
            "done": END,
        },
        **extra,
    )


def instant(name: str, **extra: Any) -> dict[str, Any]:
    """People go straight through."""
    return on_cart(name, {"hi": note("hi"), "done": END}, **extra)


def call(shop: Shop, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with shop.admin() as admin:
        return admin.request(method, path, **kwargs)


def refusal(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return causing_exceptions(answer.json())


def carts(shop: Shop, *people: str, **fields: Any) -> None:
    send(shop, *(shop_message(shop, "cart", who, **fields) for who in people))


def wayfare(shop: Shop, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "wayfare", *args, "--url", shop.demo.server.url, "--org", shop.org],
        capture_output=True,
        text=True,
        timeout=60,
        env=CLEAN_ENV,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stdout


# saving checks every expression against the events it reads

CHECK = "/activities/check/branches/0/when"


@pytest.mark.parametrize(
    ("activity", "pointer", "words"),
    [
        (
            {
                "type": "condition",
                "branches": [{"when": ev("cart", "cart.coupon") + " == 'X'", "next": "done"}],
                "otherwise": "done",
            },
            CHECK,
            ["does not carry", f"'{TENANT}.cart.coupon'", "column 1"],
        ),
        (  # in the schema, but not among the event's payload fields
            {
                "type": "condition",
                "branches": [
                    {"when": "1 < 2 and " + ev("cart", "person.loyaltyId"), "next": "done"}
                ],
            },
            CHECK,
            ["does not carry", f"'{TENANT}.person.loyaltyId'", "column 11"],
        ),
        (
            {
                "type": "condition",
                "branches": [{"when": "@event{refund.amount} > 0", "next": "done"}],
            },
            CHECK,
            ["@event{refund}", "not the entry event nor an awaited one"],
        ),
        (
            {
                "type": "condition",
                "branches": [{"when": "@action{ghost.tier} == 'gold'", "next": "done"}],
            },
            CHECK,
            ["@action{ghost}", "names no activity"],
        ),
        (
            {
                "type": "condition",
                "branches": [{"when": f"{TENANT}.cart.total > 10", "next": "done"}],
            },
            CHECK,
            [f"'{TENANT}.cart.total'", "reads no event", "@event{cart."],
        ),
        (
            {
                "type": "http",
                "url": "https://hooks.example.com/x",
                "body": {"nested": ["{{ " + ev("cart", "cart.weight") + " }}"]},
                "next": "done",
            },
            "/activities/check/body",
            [f"'{TENANT}.cart.weight'"],
        ),
        (
            {
                "type": "email",
                "to": hole("cart", "person.email"),
                "subject": "Hi " + hole("cart", "person.nickname"),
                "text": "x",
                "next": "done",
            },
            "/activities/check/subject",
            [f"'{TENANT}.person.nickname'"],
        ),
        (
            {"type": "wait", "until": ev("cart", "cart.expiresAt"), "next": "done"},
            "/activities/check/until",
            [f"'{TENANT}.cart.expiresAt'"],
        ),
        (
            {
                "type": "waitForEvent",
                "events": [
                    {
                        "event": "purchase",
                        "when": ev("purchase", "cart.ref") + " == " + ev("cart", "cart.id"),
                        "next": "done",
                    }
                ],
            },
            "/activities/check/events/0/when",
            ["event 'purchase'", f"'{TENANT}.cart.ref'"],
        ),
    ],
)
def test_a_reference_to_what_the_event_does_not_carry_is_refused_at_save_time(
    shop: Shop, activity: dict[str, Any], pointer: str, words: list[str]
) -> None:
    journey = on_cart("checked", {"check": activity, "done": END})
    problems = refusal(call(shop, "POST", "/api/v1/journeys", json=journey))
    (problem,) = problems
    assert problem["pointerToViolation"] == pointer
    assert problem["keyword"] == "expression"
    for word in words:
        assert word in problem["message"]
    # nothing was stored
    assert call(shop, "GET", "/api/v1/journeys/checked").status_code == 404


def test_an_event_count_is_refused_in_a_journey(shop: Shop) -> None:
    when = {"when": "count(purchase in last 7 days) >= 2", "next": "done"}
    check = {"type": "condition", "branches": [when], "otherwise": "done"}
    (problem,) = refusal(call(shop, "POST", "/api/v1/journeys", json=on_cart("counts", {
        "check": check, "done": END})))  # fmt: skip
    assert problem["pointerToViolation"] == CHECK
    assert "in an audience, not in a journey" in problem["message"]


def test_a_profile_path_is_checked_against_the_union_of_the_orgs_profile_schemas(
    shop: Shop,
) -> None:
    def journey(path: str) -> dict[str, Any]:
        when = {"when": f"#{{profile.{path}}} == 'gold'", "next": "done"}
        check = {"type": "condition", "branches": [when], "otherwise": "done"}
        return on_cart("by-tier", {"check": check, "done": END})

    tier = f"{TENANT}.loyalty.tier"
    (problem,) = refusal(call(shop, "POST", "/api/v1/journeys", json=journey(tier)))
    assert problem["pointerToViolation"] == CHECK
    assert f"#{{profile.{tier}}} (column 1)" in problem["message"]
    assert "Profile schemas: none" in problem["message"]
    loyalty = {"type": "object", "properties": {"tier": {"type": "string"}}}
    for name, fields in (("crm", {"loyalty": loyalty}), ("web", {"city": {"type": "string"}})):
        schema = {"name": name, "class": "Profile", "fields": fields}
        assert call(shop, "POST", "/api/v1/schemas", json=schema).status_code == 201
    for path in (tier, f"{TENANT}.city", "identityMap.Email[0].id"):
        saved = call(shop, "POST", "/api/v1/journeys", json=journey(path))
        assert saved.status_code in (200, 201), saved.text
    (problem,) = refusal(call(shop, "POST", "/api/v1/journeys", json=journey(f"{TENANT}.age")))
    assert "Profile schemas: crm, web" in problem["message"]
    # an ExperienceEvent schema's fields are no profile's
    (problem,) = refusal(call(shop, "POST", "/api/v1/journeys", json=journey(f"{TENANT}.cart.id")))
    assert "is a field of no Profile schema" in problem["message"]


def test_every_refused_reference_is_reported_at_once(shop: Shop) -> None:
    journey = on_cart(
        "checked",
        {
            "pause": {"type": "wait", "until": ev("cart", "cart.expiresAt"), "next": "hook"},
            "hook": {
                "type": "http",
                "url": "https://hooks.example.com/x",
                "query": {"id": hole("cart", "cart.id")},
                "body": {"fine": hole("cart", "cart.total"), "bad": hole("cart", "cart.color")},
                "next": "done",
            },
            "done": END,
        },
    )
    problems = refusal(call(shop, "POST", "/api/v1/journeys", json=journey))
    assert [p["pointerToViolation"] for p in problems] == [
        "/activities/pause/until",
        "/activities/hook/body",
    ]


@pytest.mark.parametrize(("source", "words", "column"), EXPRESSIONS_OVER_THE_LIMITS)
def test_an_expression_over_a_limit_is_refused_naming_the_field_and_the_column(
    shop: Shop, source: str, words: str, column: int
) -> None:
    branch = {"when": source, "next": "say"}
    journey = on_cart(
        "abusive",
        {
            "check": {"type": "condition", "branches": [branch], "otherwise": "say"},
            "say": note("{{ " + source + " }}"),
            "done": END,
        },
    )
    problems = refusal(call(shop, "POST", "/api/v1/journeys", json=journey))
    assert [(p["pointerToViolation"], p["keyword"]) for p in problems] == [
        (CHECK, "expression"),
        ("/activities/say/message", "expression"),
    ]
    for problem, at in zip(problems, (column, column + len("{{ ")), strict=True):
        assert words in problem["message"]
        assert f"at column {at} of" in problem["message"]
        assert len(problem["message"]) < 300
    assert call(shop, "GET", "/api/v1/journeys/abusive").status_code == 404


def test_an_unknown_entry_event_is_refused(shop: Shop) -> None:
    journey = instant("nowhere")
    journey["entry"]["event"] = "refund"
    (problem,) = refusal(call(shop, "POST", "/api/v1/journeys", json=journey))
    assert problem["pointerToViolation"] == "/entry/event"
    assert "refund" in problem["message"]


def test_graph_problems_come_back_with_their_pointers(shop: Shop) -> None:
    journey = on_cart(
        "broken",
        {
            "hi": note("hi", nxt="nowhere"),
            "orphan": note("orphan"),
            "done": END,
        },
    )
    problems = refusal(call(shop, "POST", "/api/v1/journeys", json=journey))
    found = {(p["pointerToViolation"], p["keyword"]) for p in problems}
    assert ("/activities/hi", "enum") in found
    assert ("/activities/orphan", "reachable") in found
    assert ("/activities/done", "reachable") in found
    # through apply, the pointer starts with the document's index
    answer = call(
        shop,
        "POST",
        "/api/v1/apply",
        json={"documents": [{"kind": "Journey", "state": "live", **journey}]},
    )
    pointers = {p["pointerToViolation"] for p in refusal(answer)}
    assert "/0/activities/hi" in pointers
    assert call(shop, "GET", "/api/v1/journeys/broken").status_code == 404


def test_a_journey_that_is_not_an_object_is_refused(shop: Shop) -> None:
    assert call(shop, "POST", "/api/v1/journeys", json=["x"]).status_code == 400
    assert call(shop, "POST", "/api/v1/journeys", content=b"{nope").status_code == 400


# the lifecycle


def test_a_journey_goes_from_draft_to_live_to_closed_through_versions(shop: Shop) -> None:
    first = instant("life")
    created = call(shop, "POST", "/api/v1/journeys", json=first)
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["state"]) == (1, "draft")
    # changing a draft keeps its version
    changed = copy.deepcopy(first)
    changed["activities"]["hi"]["message"] = "hello"
    answer = call(shop, "PUT", "/api/v1/journeys/life", json=changed)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["version"], answer.json()["state"]) == (1, "draft")
    assert answer.json()["definition"]["activities"]["hi"]["message"] == "hello"
    # saving the same thing again changes nothing
    assert save(shop, changed)["changedMs"] == answer.json()["changedMs"]

    live = command(shop, "life", "publish")
    assert (live["version"], live["state"], live["testMode"]) == (1, "live", False)
    assert call(shop, "POST", "/api/v1/journeys/life/publish").status_code == 409

    # editing a live journey makes a new version; the live one stays live
    edited = copy.deepcopy(changed)
    edited["activities"]["hi"]["message"] = "hello again"
    draft = save(shop, edited)
    assert (draft["version"], draft["state"]) == (2, "draft")
    assert call(shop, "GET", "/api/v1/journeys/life").json()["version"] == 2
    assert (
        call(shop, "GET", "/api/v1/journeys/life", params={"version": 1}).json()["state"] == "live"
    )
    versions = call(shop, "GET", "/api/v1/journeys/life/versions").json()["versions"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "live"), (2, "draft")]

    # publishing the new version closes the previous one
    assert command(shop, "life", "publish")["state"] == "live"
    versions = call(shop, "GET", "/api/v1/journeys/life/versions").json()["versions"]
    # nobody ever entered version 1, so closing it finishes it at once
    assert [(v["version"], v["state"]) for v in versions] == [(1, "finished"), (2, "live")]
    listed = call(shop, "GET", "/api/v1/journeys").json()["journeys"]
    assert [(j["name"], j["version"], j["state"]) for j in listed] == [("life", 2, "live")]

    # closed with nobody inside: finished
    assert command(shop, "life", "close")["state"] == "finished"
    assert call(shop, "POST", "/api/v1/journeys/life/close").status_code == 409
    assert report(shop, "life")["state"] == "finished"


def test_the_url_and_the_body_must_name_the_same_journey(shop: Shop) -> None:
    answer = call(shop, "PUT", "/api/v1/journeys/one", json=instant("other"))
    (problem,) = refusal(answer)
    assert problem["pointerToViolation"] == "/name"


def test_unknown_journeys_and_commands_are_404(shop: Shop) -> None:
    assert call(shop, "GET", "/api/v1/journeys/ghost").status_code == 404
    assert call(shop, "GET", "/api/v1/journeys/ghost/report").status_code == 404
    assert call(shop, "POST", "/api/v1/journeys/ghost/publish").status_code == 404
    save(shop, instant("real"))
    assert call(shop, "POST", "/api/v1/journeys/real/teleport").status_code == 404


def test_apply_with_state_live_publishes_and_a_change_makes_a_new_live_version(
    shop: Shop,
) -> None:
    document = {"kind": "Journey", "state": "live", **instant("applied")}

    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        answer = call(shop, "POST", "/api/v1/apply", json={"documents": [doc]})
        assert answer.status_code == 200, answer.text
        (applied,) = answer.json()["applied"]
        return dict(applied)

    assert apply(document) == {
        "kind": "Journey",
        "name": "applied",
        "action": "created",
        "id": "applied",
        "version": 1,
        "state": "live",
    }
    assert apply(document)["action"] == "unchanged"
    changed = copy.deepcopy(document)
    changed["activities"]["hi"]["message"] = "changed"
    again = apply(changed)
    assert (again["action"], again["version"], again["state"]) == ("updated", 2, "live")
    versions = call(shop, "GET", "/api/v1/journeys/applied/versions").json()["versions"]
    assert [v["state"] for v in versions] == ["finished", "live"]  # closed, nobody inside


def test_closing_takes_no_new_entries_and_lets_people_inside_finish(shop: Shop) -> None:
    publish(shop, holding("closing"))
    publish(shop, instant("witness"))  # enters on the same event: shows it was processed
    carts(shop, "inside@example.com")
    wait_for_report(shop, "closing", entered=1, inJourney=1)
    closed = command(shop, "closing", "close")
    assert closed["state"] == "closed"
    assert report(shop, "closing")["state"] == "closed"  # someone is still inside

    carts(shop, "late@example.com")
    wait_for_report(shop, "witness", entered=2)
    assert report(shop, "closing")["entered"] == 1

    send(shop, shop_message(shop, "purchase", "inside@example.com", cart_id="c-3"))
    done = wait_for_report(shop, "closing", entered=1, exited=1, inJourney=0)
    assert done["state"] == "finished"
    assert done["discarded"] == 0
    assert done["nodes"]["thanks"] == {"type": "log", "ended": 1}


def test_stopping_makes_everyone_exit_now(shop: Shop) -> None:
    publish(
        shop,
        on_cart(
            "stopping", {"pause": {"type": "wait", "duration": "1h", "next": "done"}, "done": END}
        ),
    )
    publish(shop, instant("witness"))
    carts(shop, "a@example.com", "b@example.com")
    wait_for_report(shop, "stopping", entered=2, inJourney=2)

    stopped = command(shop, "stopping", "stop")
    assert stopped == {"journey": "stopping", "state": "stopped", "exited": 2, "exiting": 0}
    now = report(shop, "stopping")
    assert (now["state"], now["inJourney"], now["exited"]) == ("stopped", 0, 2)
    assert now["nodes"]["pause"] == {"type": "wait", "exited": 2}
    assert {s["status"] for s in steps(shop, "stopping") if s["node"] == "pause"} == {"exited"}

    carts(shop, "c@example.com")
    wait_for_report(shop, "witness", entered=3)
    assert report(shop, "stopping")["entered"] == 2
    versions = call(shop, "GET", "/api/v1/journeys/stopping/versions").json()["versions"]
    assert [v["state"] for v in versions] == ["stopped"]


# test mode


def test_only_test_profiles_enter_a_draft_in_test_mode_and_its_waits_are_short(
    shop: Shop,
) -> None:
    save(
        shop,
        on_cart(
            "trial",
            {
                "pause": {"type": "wait", "duration": "3d", "next": "hi"},
                "hi": note("hi"),
                "done": END,
            },
        ),
    )
    # a draft not in test mode takes nobody
    assert (
        call(
            shop, "POST", "/api/v1/journeys/trial/test-event", json={"identity": "t@example.com"}
        ).status_code
        == 409
    )
    assert command(shop, "trial", "test-mode", {"enabled": True})["testMode"] is True
    answer = call(shop, "POST", "/api/v1/test-profiles", json={"identity": "tester@example.com"})
    assert answer.status_code == 201, answer.text
    # with its namespace, an id is kept as journeys name people: normalised
    mixed = {"identity": " Tess@Example.com", "namespace": "Email"}
    kept = call(shop, "POST", "/api/v1/test-profiles", json=mixed)
    assert kept.status_code == 201 and kept.json()["identity"] == "tess@example.com", kept.text

    carts(shop, "someone@example.com", "tester@example.com")
    wait_for_report(shop, "trial", entered=1)
    # the 3-day wait lasted about a second in test mode
    done = wait_for_report(shop, "trial", timeout=10, entered=1, exited=1)
    assert done["discarded"] == 0
    assert list(instance_ids(shop, "trial")) == ["tester@example.com"]
    walked = {s["node"]: s["atMs"] for s in steps(shop, "trial")}
    assert 1_000 <= walked["pause"] - walked["entry"] < 10_000


def test_a_test_event_is_fired_from_the_api_and_the_cli(shop: Shop) -> None:
    save(
        shop,
        on_cart("fired", {"hi": note("hi " + hole("cart", "person.firstName")), "done": END}),
    )
    command(shop, "fired", "test-mode", {"enabled": True})
    entity = shop_message(shop, "cart", "api@example.com", first_name="Grace")["body"]["xdmEntity"]
    fired = command(shop, "fired", "test-event", {"identity": "api@example.com", "payload": entity})
    assert (fired["identity"], fired["version"]) == ("api@example.com", 1)
    out = wayfare(shop, "journeys", "test-event", "fired", "--identity", "cli@example.com")
    assert "cli@example.com entered journey fired version 1 (test)" in out
    done = wait_for_report(shop, "fired", entered=2, exited=2)
    assert done["nodes"]["hi"] == {"type": "log", "ended": 2}
    assert set(instance_ids(shop, "fired")) == {"api@example.com", "cli@example.com"}
    # test-event needs an identity
    answer = call(shop, "POST", "/api/v1/journeys/fired/test-event", json={})
    assert refusal(answer)[0]["pointerToViolation"] == "/identity"
    # publishing ends test mode; a live journey has none
    assert command(shop, "fired", "publish")["testMode"] is False
    answer = call(shop, "POST", "/api/v1/journeys/fired/test-mode", json={"enabled": True})
    assert answer.status_code == 409


# entries, re-entrance and discards


def test_discards_are_counted_by_cause(shop: Shop) -> None:
    publish(shop, holding("once"))
    carts(shop, "p1@example.com")
    wait_for_report(shop, "once", entered=1)
    # the same person again while inside
    carts(shop, "p1@example.com")
    wait_for_report(shop, "once", discarded=1)
    # a message without the person's identity, and one in another namespace
    send(shop, shop_message(shop, "cart", None))
    send(shop, shop_message(shop, "cart", "+33600000000", namespace="Phone"))
    wait_for_report(shop, "once", discarded=3)
    # once out, re-entrance is off: never again
    send(shop, shop_message(shop, "purchase", "p1@example.com"))
    wait_for_report(shop, "once", exited=1)
    carts(shop, "p1@example.com")
    done = wait_for_report(shop, "once", discarded=4)
    assert done["discardsByCause"] == {
        "re-entry not allowed": 2,
        "identity missing": 1,
        "namespace mismatch": 1,
    }
    assert (done["entered"], done["exited"], done["inJourney"], done["inError"]) == (1, 1, 0, 0)
    assert done["nodes"] == {
        "entry": {"type": "entry", "ended": 1},
        "hold": {"type": "waitForEvent", "ended": 1},
        "thanks": {"type": "log", "ended": 1},
        "done": {"type": "end", "ended": 1},
    }
    # the command line prints the same report
    out = wayfare(shop, "journeys", "report", "once")
    assert "entered 1, in journey 0, exited 1, in error 0, discarded 4" in out
    assert "discarded, re-entry not allowed: 2" in out
    assert "discarded, identity missing: 1" in out
    assert "discarded, namespace mismatch: 1" in out
    as_json = json.loads(wayfare(shop, "journeys", "report", "once", "--json"))
    assert as_json["discardsByCause"] == done["discardsByCause"]


def test_an_event_nested_too_deeply_for_an_instance_is_discarded_and_journeys_go_on(
    shop: Shop,
) -> None:
    publish(shop, instant("deep"))
    deep = shop_message(shop, "cart", "deep@example.com")
    nested: dict[str, Any] = {}
    deep["body"]["xdmEntity"]["extra"] = nested
    for _ in range(100):  # orjson writes at most 254 levels; instances keep at most 64
        nested["x"] = nested = {}
    send(shop, deep)
    done = wait_for_report(shop, "deep", discarded=1)
    assert done["discardsByCause"] == {"event nested too deeply": 1}
    carts(shop, "after@example.com")  # the engine did not stop on it
    wait_for_report(shop, "deep", entered=1, exited=1)


def test_journeys_that_jump_to_each_other_are_cut_short_and_the_engine_goes_on(
    shop: Shop,
) -> None:
    again = {"allowed": True, "waitSeconds": 0}

    def hopping(to: str) -> dict[str, Any]:
        return {
            "pause": {"type": "wait", "duration": "0s", "next": "hop"},
            "hop": {"type": "jump", "journey": to},
        }

    publish(shop, on_cart("ping", hopping("pong"), reentrance=again))
    pong = {"name": "pong", "entry": {"event": "purchase", "next": "pause"}}
    publish(shop, {**pong, "activities": hopping("ping"), "reentrance": again})
    publish(shop, instant("bystander"))
    carts(shop, "ada@example.com")
    wait_for_report(shop, "bystander", entered=1, exited=1)
    ping, pong = report(shop, "ping"), report(shop, "pong")
    assert ping["entered"] + pong["entered"] == 11  # the entry and 10 jumps
    cut = [*ping["discardsByCause"].items(), *pong["discardsByCause"].items()]
    assert cut == [("too many jumps in one cycle", 1)]


def test_a_journey_whose_steps_keep_failing_is_paused_until_resumed(shop: Shop) -> None:
    until_total = {"type": "wait", "until": ev("cart", "cart.total"), "next": "done"}
    publish(shop, on_cart("dated", {"hold": until_total, "done": END}))
    publish(shop, instant("bystander"))
    # 1e20 ms from 1970 is no date-time: each of these people's wait fails
    carts(shop, *(f"p{n}@example.com" for n in range(20)), total=1e20)
    wait_for_report(shop, "dated", entered=20, inError=20)
    wait_until(lambda: bool(report(shop, "dated")["paused"]))
    shown = json.loads(wayfare(shop, "journeys", "show", "dated"))
    assert shown["state"] == "live"
    assert shown["paused"].startswith("paused by the journey engine: 20 steps failed in a row")
    printed = wayfare(shop, "journeys", "report", "dated")
    assert "in error 20" in printed
    assert "version 1 is paused: paused by the journey engine: 20 steps failed" in printed
    [failure, *_] = [s for s in steps(shop, "dated") if s["status"] == "error"]
    assert failure["node"] == "hold" and failure["detail"]

    carts(shop, "late@example.com", total=1)
    wait_for_report(shop, "bystander", entered=21)
    assert report(shop, "dated")["entered"] == 20  # paused: nobody enters

    assert "takes people in" in wayfare(shop, "journeys", "resume", "dated")
    assert report(shop, "dated")["paused"] == []
    carts(shop, "later@example.com", total=1)  # 1970: the wait is over at once
    wait_for_report(shop, "dated", entered=21, exited=1)


def test_a_person_enters_once_even_when_their_events_come_together(shop: Shop) -> None:
    publish(shop, instant("together"))
    publish(shop, instant("again", reentrance={"allowed": True, "waitSeconds": 60}))
    # two events in one batch: the first goes through at once, the second finds them done
    carts(shop, "twice@example.com", "twice@example.com")
    once = wait_for_report(shop, "together", discarded=1)
    assert (once["entered"], once["discardsByCause"]) == (1, {"re-entry not allowed": 1})
    soon = wait_for_report(shop, "again", discarded=1)
    assert (soon["entered"], soon["discardsByCause"]) == (1, {"re-entry too soon": 1})


def test_reentrance_waits_its_period_after_the_person_left(shop: Shop) -> None:
    publish(shop, instant("again", reentrance={"allowed": True, "waitSeconds": 2}))
    publish(shop, instant("default-wait", reentrance={"allowed": True}))
    carts(shop, "p2@example.com")
    wait_for_report(shop, "again", entered=1, exited=1)
    wait_for_report(shop, "default-wait", entered=1, exited=1)
    left = max(s["atMs"] for s in steps(shop, "again"))
    carts(shop, "p2@example.com")
    wait_for_report(shop, "again", discarded=1)
    # the server's clock is this machine's: wait until two seconds after they left
    wait_until(lambda: time.time() * 1000 > left + 2_100, timeout=10)
    carts(shop, "p2@example.com")
    done = wait_for_report(shop, "again", entered=2, exited=2)
    assert done["discardsByCause"] == {"re-entry too soon": 1}
    # without a period of its own, a journey waits five minutes
    assert report(shop, "default-wait")["discardsByCause"] == {"re-entry too soon": 2}
    assert report(shop, "default-wait")["entered"] == 1


def test_one_live_instance_per_person_even_with_reentrance_on(shop: Shop) -> None:
    publish(shop, holding("busy", reentrance={"allowed": True, "waitSeconds": 0}))
    carts(shop, "p3@example.com")
    wait_for_report(shop, "busy", entered=1, inJourney=1)
    carts(shop, "p3@example.com")
    done = wait_for_report(shop, "busy", discarded=1)
    assert (done["entered"], done["inJourney"]) == (1, 1)
    assert done["discardsByCause"] == {"already in the journey": 1}
    # once out, with no wait period, they may come back
    send(shop, shop_message(shop, "purchase", "p3@example.com"))
    wait_for_report(shop, "busy", exited=1)
    carts(shop, "p3@example.com")
    wait_for_report(shop, "busy", entered=2, inJourney=1)


# versions while people wait


def test_people_waiting_in_a_version_finish_on_it_after_the_next_is_published(
    shop: Shop,
) -> None:
    v1 = holding("versions")
    v1["activities"]["thanks"]["message"] = "v1"
    publish(shop, v1)
    carts(shop, "early@example.com")
    wait_for_report(shop, "versions", entered=1, inJourney=1)

    v2 = on_cart(
        "versions",
        {
            "hold": {
                "type": "waitForEvent",
                "events": [{"event": "purchase", "next": "v2_thanks"}],
                "timeout": {"after": "1h", "next": "done"},
            },
            "v2_thanks": note("v2"),
            "done": END,
        },
    )
    assert save(shop, v2)["version"] == 2
    assert command(shop, "versions", "publish")["version"] == 2
    versions = call(shop, "GET", "/api/v1/journeys/versions/versions").json()["versions"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "closed"), (2, "live")]

    carts(shop, "late@example.com")
    wait_for_report(shop, "versions", entered=2, inJourney=2)
    # still inside version 1: not a second instance in version 2
    carts(shop, "early@example.com")
    wait_for_report(shop, "versions", discarded=1)

    send(
        shop,
        shop_message(shop, "purchase", "early@example.com"),
        shop_message(shop, "purchase", "late@example.com"),
    )
    done = wait_for_report(shop, "versions", entered=2, exited=2)
    walked: dict[str, list[tuple[int, str]]] = {}
    for s in steps(shop, "versions"):
        walked.setdefault(s["identity"], []).append((s["version"], s["node"]))
    assert walked["early@example.com"] == [(1, "entry"), (1, "hold"), (1, "thanks"), (1, "done")]
    assert walked["late@example.com"] == [(2, "entry"), (2, "hold"), (2, "v2_thanks"), (2, "done")]
    assert done["nodes"]["thanks"]["ended"] == 1
    assert done["nodes"]["v2_thanks"]["ended"] == 1
    assert done["discardsByCause"] == {"re-entry not allowed": 1}
