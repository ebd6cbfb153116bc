"""The journey core: ``advance(definition, instance, trigger, now)`` is pure, so every activity,
every path and every timer can be walked with a fake clock — a 3-day wait finishes in
milliseconds."""

from __future__ import annotations

import collections
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from wayfare.clock import FakeClock
from wayfare.engine.core import MAX_CAUSE_CHARS, advance, failure_cause
from wayfare.model.expressions import Expression
from wayfare.model.instances import (
    ActionDone,
    Command,
    Dispatch,
    Enter,
    EventArrived,
    Instance,
    JumpTo,
    LogLine,
    ScheduleTimer,
    StepEvent,
    Stop,
    TimerFired,
    Trigger,
)
from wayfare.model.journey import GLOBAL_TIMEOUT_MS, JourneyDefinition, parse_journey

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
HOOK = "https://crm.example.com/api"
SIGNUP = {
    "timestamp": "2024-03-01T12:00:00Z",
    "person": {"firstName": "Ada", "birthYear": 1990, "email": "ada@example.com", "id": "p 1"},
}


def at(*parts: int) -> int:
    """Milliseconds of a UTC date-time."""
    return int(datetime(*parts, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def define(activities: dict[str, Any], **extra: Any) -> JourneyDefinition:
    return parse_journey(
        {
            "name": "welcome",
            "entry": {"event": "signup", "next": next(iter(activities))},
            "activities": activities,
        }
        | extra
    )


class Walk:
    """One person through one journey: triggers in, commands collected, time from a fake
    clock that the walk moves itself when a timer is due."""

    def __init__(
        self,
        definition: JourneyDefinition,
        *,
        seed: int = 7,
        test: bool = False,
        now: int = T0,
        test_wait_ms: int | None = 10_000,
    ) -> None:
        self.definition = definition
        self.clock = FakeClock(now)
        self.test_wait_ms = test_wait_ms
        self.instance = Instance(
            instance_id="inst-1",
            org_id="ACME@AdobeOrg",
            journey=definition.name,
            version=1,
            identity="ada@example.com",
            seed=seed,
            entered_ms=now,
            test=test,
        )
        self.commands: list[Command] = []

    def send(self, trigger: Trigger) -> list[Command]:
        outcome = advance(
            self.definition,
            self.instance,
            trigger,
            self.clock.now_ms(),
            test_wait_ms=self.test_wait_ms,
        )
        self.instance = outcome.instance
        self.commands += outcome.commands
        return outcome.commands

    def enter(self, entity: dict[str, Any] | None = None, event: str = "signup") -> list[Command]:
        return self.send(Enter(event, SIGNUP if entity is None else entity))

    def timers(self, kind: str = "wait") -> list[ScheduleTimer]:
        return [c for c in self.commands if isinstance(c, ScheduleTimer) and c.kind == kind]

    def fire(self, kind: str = "wait") -> list[Command]:
        """Move the clock to the last timer of ``kind`` and fire it."""
        timer = self.timers(kind)[-1]
        self.clock.advance(timer.due_ms - self.clock.now_ms())
        return self.send(TimerFired(timer.token, kind))

    def dispatched(self) -> list[Dispatch]:
        return [c for c in self.commands if isinstance(c, Dispatch)]

    def done(self, ok: bool = True, **result: Any) -> list[Command]:
        """The outcome of the last dispatched action."""
        action = self.dispatched()[-1]
        return self.send(ActionDone(action.node, action.token, ok, **result))

    def steps(self) -> list[tuple[str, str, str | None]]:
        return [(c.node, c.status, c.detail) for c in self.commands if isinstance(c, StepEvent)]

    def path(self) -> list[str]:
        return [node for node, status, _ in self.steps() if status == "ended"]

    def logs(self) -> list[str]:
        return [c.message for c in self.commands if isinstance(c, LogLine)]


def logged(name: str, nxt: str | None = "done", message: str | None = None) -> dict[str, Any]:
    return {"type": "log", "message": message or name, "next": nxt}


END = {"type": "end"}


# wait


def test_a_three_day_wait_finishes_in_milliseconds() -> None:
    walk = Walk(define({"pause": {"type": "wait", "duration": "3d", "next": "done"}, "done": END}))
    walk.enter()
    assert walk.instance.status == "waiting"
    assert walk.instance.node == "pause"
    (timer,) = walk.timers("wait")
    assert timer.due_ms == T0 + 3 * DAY
    walk.fire()
    assert walk.clock.now_ms() == T0 + 3 * DAY
    assert walk.instance.status == "finished"
    assert walk.instance.ended_ms == T0 + 3 * DAY
    assert walk.path() == ["entry", "pause", "done"]


def test_entering_schedules_the_91_day_global_timeout() -> None:
    walk = Walk(define({"pause": {"type": "wait", "duration": "1d", "next": "done"}, "done": END}))
    walk.enter()
    (timer,) = walk.timers("global")
    assert timer.due_ms == T0 + GLOBAL_TIMEOUT_MS == T0 + 91 * DAY


def test_a_forgotten_instance_ends_at_the_global_timeout() -> None:
    walk = Walk(
        define({"pause": {"type": "wait", "duration": "200d", "next": "done"}, "done": END})
    )
    walk.enter()
    walk.fire("global")
    assert walk.instance.status == "exited"
    assert walk.steps()[-1] == ("pause", "timedout", "global timeout (91 days)")
    # the 200-day timer, once it comes, changes nothing
    assert walk.fire("wait") == []
    assert walk.instance.status == "exited"


def test_the_global_timeout_of_a_finished_instance_changes_nothing() -> None:
    walk = Walk(define({"hi": logged("hi"), "done": END}))
    walk.enter()
    assert walk.instance.status == "finished"
    assert walk.fire("global") == []
    assert walk.instance.status == "finished"


def test_a_zero_wait_goes_straight_on() -> None:
    walk = Walk(define({"pause": {"type": "wait", "duration": 0, "next": "done"}, "done": END}))
    walk.enter()
    assert walk.instance.status == "finished"
    assert walk.timers("wait") == []


def test_a_timer_of_a_wait_already_left_is_ignored() -> None:
    walk = Walk(
        define(
            {
                "first": {"type": "wait", "duration": "1d", "next": "second"},
                "second": {"type": "wait", "duration": "1d", "next": "done"},
                "done": END,
            }
        )
    )
    walk.enter()
    stale = walk.timers("wait")[0]
    walk.fire()
    assert walk.instance.node == "second"
    before = walk.instance
    assert walk.send(TimerFired(stale.token, "wait")) == []
    assert walk.instance == before
    assert walk.instance.node == "second"
    walk.fire()
    assert walk.instance.status == "finished"
    assert walk.path() == ["entry", "first", "second", "done"]


def test_a_wait_until_a_date_computed_from_the_event() -> None:
    walk = Walk(
        define(
            {
                "pause": {
                    "type": "wait",
                    "until": "dateWithDelta(@event{signup.timestamp}, 2, 'hours')",
                    "next": "done",
                },
                "done": END,
            }
        ),
        now=at(2024, 3, 1, 12, 5),
    )
    walk.enter()
    assert walk.timers("wait")[-1].due_ms == at(2024, 3, 1, 14, 0)
    walk.fire()
    assert walk.instance.status == "finished"


def test_a_wait_until_a_date_already_past_goes_straight_on() -> None:
    walk = Walk(
        define(
            {
                "pause": {"type": "wait", "until": "@event{signup.timestamp}", "next": "done"},
                "done": END,
            }
        ),
        now=at(2024, 6, 1),
    )
    walk.enter()
    assert walk.instance.status == "finished"
    assert walk.path() == ["entry", "pause", "done"]


def test_a_wait_until_without_a_date_takes_its_error_path() -> None:
    walk = Walk(
        define(
            {
                "pause": {
                    "type": "wait",
                    "until": "@event{signup.person.nextVisit}",
                    "next": "done",
                    "error": "oops",
                },
                "oops": logged("oops"),
                "done": END,
            }
        )
    )
    walk.enter()
    assert ("pause", "error", "the wait's date expression gave no date-time") in walk.steps()
    assert walk.logs() == ["oops"]
    assert walk.instance.status == "finished"


def test_a_wait_until_without_a_date_and_no_error_path_ends_in_error() -> None:
    walk = Walk(
        define(
            {
                "pause": {"type": "wait", "until": "@event{signup.person.none}", "next": "done"},
                "done": END,
            }
        )
    )
    walk.enter()
    assert walk.instance.status == "error"
    assert walk.instance.node is None


# condition


def branches(*whens: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"label": label, "when": when, "next": label} for label, when in whens]


def condition_journey(otherwise: str | None = "other") -> JourneyDefinition:
    activities: dict[str, Any] = {
        "check": {
            "type": "condition",
            "branches": branches(
                ("eighties", "@event{signup.person.birthYear} < 1990"),
                ("nineties", "@event{signup.person.birthYear} < 2000"),
                ("named", "@event{signup.person.firstName} == 'Ada'"),
            ),
            "otherwise": otherwise,
        },
        "eighties": logged("eighties"),
        "nineties": logged("nineties"),
        "named": logged("named"),
        "other": logged("other"),
        "done": END,
    }
    if otherwise is None:
        del activities["other"]
    return define(activities)


@pytest.mark.parametrize(
    ("person", "taken"),
    [
        ({"birthYear": 1985, "firstName": "Ada"}, "eighties"),
        ({"birthYear": 1990, "firstName": "Ada"}, "nineties"),  # first true branch wins
        ({"birthYear": 2001, "firstName": "Ada"}, "named"),
        ({"birthYear": 2001, "firstName": "Grace"}, "other"),
        ({"firstName": "Grace"}, "other"),  # a missing field compares false
    ],
)
def test_a_condition_takes_the_first_true_branch_in_order(
    person: dict[str, Any], taken: str
) -> None:
    walk = Walk(condition_journey())
    walk.enter({"person": person})
    assert walk.logs() == [taken]
    label = "otherwise" if taken == "other" else taken
    assert ("check", "ended", label) in walk.steps()
    assert walk.instance.status == "finished"


def test_a_condition_without_other_cases_ends_the_instance_when_nothing_matches() -> None:
    walk = Walk(condition_journey(otherwise=None))
    walk.enter({"person": {"birthYear": 2001, "firstName": "Grace"}})
    assert walk.logs() == []
    assert walk.instance.status == "finished"
    assert walk.steps()[-1] == ("check", "ended", "no path matched")


def guarded_condition(when: str, error: str | None = "fallback") -> JourneyDefinition:
    """check: one branch "hit" on ``when``, otherwise "other", error path ``error``."""
    check: dict[str, Any] = {
        "type": "condition",
        "branches": branches(("hit", when)),
        "otherwise": "other",
    }
    activities: dict[str, Any] = {"check": check, "hit": logged("hit"), "other": logged("other")}
    if error:
        check["error"] = error
        activities[error] = logged(error)
    return define({**activities, "done": END})


def test_a_condition_that_cannot_be_evaluated_takes_its_error_path() -> None:
    walk = Walk(guarded_condition("@event{signup.person.birthYear} < 'abc'"))
    walk.enter({"person": {"birthYear": 1985}})
    assert walk.logs() == ["fallback"]
    assert walk.steps()[1] == (
        "check",
        "error",
        "the condition could not be evaluated: a number and a string cannot be compared with <",
    )
    assert walk.instance.status == "finished"


def test_a_condition_that_cannot_be_evaluated_without_an_error_path_ends_in_error() -> None:
    walk = Walk(guarded_condition("@event{signup.person.birthYear} / 0 > 1", error=None))
    walk.enter({"person": {"birthYear": 1985}})
    assert walk.logs() == []
    assert walk.instance.status == "error"
    assert walk.steps()[-1][:2] == ("check", "error")
    assert "division by zero" in str(walk.steps()[-1][2])


def test_a_missing_value_in_a_condition_is_null_not_an_error() -> None:
    walk = Walk(guarded_condition("@event{signup.person.birthYear} + 1 < 1990"))
    walk.enter({"person": {}})
    assert walk.logs() == ["other"]


# percentage split


def split_journey() -> JourneyDefinition:
    return define(
        {
            "ab": {
                "type": "split",
                "branches": [
                    {"label": "A", "percent": 20, "next": "a"},
                    {"label": "B", "percent": 80, "next": "b"},
                ],
            },
            "a": logged("a"),
            "b": logged("b"),
            "done": END,
        }
    )


def taken_by(seed: int) -> str:
    walk = Walk(split_journey(), seed=seed)
    walk.enter()
    return walk.logs()[0]


def test_a_split_replayed_from_the_same_seed_takes_the_same_branch() -> None:
    definition = split_journey()
    for seed in range(50):
        start = Instance("i", "o", "welcome", 1, "p", seed, T0)
        first = advance(definition, start, Enter("signup", SIGNUP), T0)
        again = advance(definition, start, Enter("signup", SIGNUP), T0 + DAY)
        assert [c for c in first.commands if isinstance(c, LogLine)] == [
            c for c in again.commands if isinstance(c, LogLine)
        ]


def test_split_shares_follow_the_percentages() -> None:
    counts = collections.Counter(taken_by(seed) for seed in range(2000))
    assert set(counts) == {"a", "b"}
    assert 0.15 < counts["a"] / 2000 < 0.25


def test_a_split_branch_of_zero_percent_is_never_taken() -> None:
    definition = define(
        {
            "ab": {
                "type": "split",
                "branches": [
                    {"label": "never", "percent": 0, "next": "a"},
                    {"label": "always", "percent": 100, "next": "b"},
                ],
            },
            "a": logged("a"),
            "b": logged("b"),
            "done": END,
        }
    )
    for seed in range(200):
        walk = Walk(definition, seed=seed)
        walk.enter()
        assert walk.logs() == ["b"]


# time of day, day of week, dates


def office_hours(zone: str = "Europe/Paris") -> JourneyDefinition:
    return define(
        {
            "open": {
                "type": "timeCondition",
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "from": "09:00",
                "to": "17:00",
                "next": "inside",
                "otherwise": "outside",
            },
            "inside": logged("inside"),
            "outside": logged("outside"),
            "done": END,
        },
        timeZone=zone,
    )


@pytest.mark.parametrize(
    ("now", "zone", "where"),
    [
        (at(2024, 1, 15, 7, 30), "Europe/Paris", "outside"),  # Monday 08:30 in Paris (CET)
        (at(2024, 1, 15, 8, 30), "Europe/Paris", "inside"),  # Monday 09:30 in Paris
        (at(2024, 1, 15, 7, 30), "UTC", "outside"),  # 07:30 UTC
        (at(2024, 1, 15, 9, 30), "UTC", "inside"),
        (at(2024, 7, 15, 7, 30), "Europe/Paris", "inside"),  # 09:30 in Paris (CEST)
        (at(2024, 1, 15, 16, 0), "Europe/Paris", "outside"),  # 17:00 in Paris: to is exclusive
        (at(2024, 1, 20, 10, 0), "Europe/Paris", "outside"),  # Saturday
        (at(2024, 1, 14, 23, 30), "Asia/Tokyo", "outside"),  # Monday 08:30 in Tokyo
        (at(2024, 1, 15, 0, 30), "Asia/Tokyo", "inside"),  # Monday 09:30 in Tokyo
        (at(2024, 1, 14, 10, 0), "UTC", "outside"),  # Sunday
        (at(2024, 1, 19, 23, 30), "Asia/Tokyo", "outside"),  # Saturday 08:30 in Tokyo
    ],
)
def test_a_time_condition_reads_the_clock_in_the_journeys_time_zone(
    now: int, zone: str, where: str
) -> None:
    walk = Walk(office_hours(zone), now=now)
    walk.enter()
    assert walk.logs() == [where]


def test_a_time_condition_after_a_wait_reads_the_time_the_wait_ended() -> None:
    definition = define(
        {
            "overnight": {"type": "wait", "duration": "10h", "next": "open"},
            "open": {
                "type": "timeCondition",
                "from": "09:00",
                "to": "17:00",
                "next": "inside",
                "otherwise": "outside",
            },
            "inside": logged("inside"),
            "outside": logged("outside"),
            "done": END,
        },
        timeZone="Europe/Paris",
    )
    walk = Walk(definition, now=at(2024, 1, 15, 0, 0))  # 01:00 in Paris
    walk.enter()
    walk.fire()  # 11:00 in Paris
    assert walk.logs() == ["inside"]


@pytest.mark.parametrize(
    ("now", "where"),
    [
        (at(2024, 11, 30, 23, 59), "outside"),
        (at(2024, 12, 1), "inside"),
        (at(2024, 12, 24, 12), "inside"),
        (at(2024, 12, 26), "outside"),  # before is exclusive
    ],
)
def test_a_date_condition_holds_between_its_dates(now: int, where: str) -> None:
    definition = define(
        {
            "season": {
                "type": "dateCondition",
                "after": "2024-12-01T00:00:00Z",
                "before": "2024-12-26T00:00:00Z",
                "next": "inside",
                "otherwise": "outside",
            },
            "inside": logged("inside"),
            "outside": logged("outside"),
            "done": END,
        }
    )
    walk = Walk(definition, now=now)
    walk.enter()
    assert walk.logs() == [where]


# wait for event


def cart_journey(timeout_next: str | None = "remind") -> JourneyDefinition:
    timeout: dict[str, Any] = {"after": "1d"}
    if timeout_next:
        timeout["next"] = timeout_next
    activities: dict[str, Any] = {
        "hold": {
            "type": "waitForEvent",
            "events": [
                {
                    "event": "purchase",
                    "when": "@event{purchase.cart.id} == @event{cartAbandoned.cart.id}",
                    "next": "thanks",
                },
                {"event": "unsubscribe", "next": "bye"},
            ],
            "timeout": timeout,
        },
        "thanks": logged("thanks", message="thanks for {{ @event{purchase.order.total} }}"),
        "bye": logged("bye"),
        "remind": logged("remind", message="your cart {{ @event{cartAbandoned.cart.id} }}"),
        "done": END,
    }
    if not timeout_next:
        del activities["remind"]
    return define(activities, entry={"event": "cartAbandoned", "next": "hold"})


CART = {"cart": {"id": "c-1"}}


def test_waiting_for_an_event_follows_the_first_event_that_comes() -> None:
    walk = Walk(cart_journey())
    walk.enter(CART, event="cartAbandoned")
    assert walk.instance.status == "waiting"
    assert walk.instance.wait_kind == "event"
    walk.clock.advance(HOUR)
    walk.send(EventArrived("unsubscribe", {"reason": "too many emails"}))
    assert walk.logs() == ["bye"]
    assert ("hold", "ended", "unsubscribe") in walk.steps()
    # the other event, coming later, finds nobody waiting
    assert walk.send(EventArrived("purchase", {"cart": {"id": "c-1"}})) == []
    assert walk.logs() == ["bye"]


def test_an_awaited_event_is_correlated_with_the_entry_event() -> None:
    walk = Walk(cart_journey())
    walk.enter(CART, event="cartAbandoned")
    # another cart's purchase is not this person's awaited event
    assert walk.send(EventArrived("purchase", {"cart": {"id": "c-2"}})) == []
    assert walk.instance.status == "waiting"
    walk.send(EventArrived("purchase", {"cart": {"id": "c-1"}, "order": {"total": 99.5}}))
    # the awaited event's payload is readable afterwards
    assert walk.logs() == ["thanks for 99.5"]
    assert walk.instance.status == "finished"


def test_events_nobody_waits_for_are_ignored() -> None:
    walk = Walk(cart_journey())
    walk.enter(CART, event="cartAbandoned")
    assert walk.send(EventArrived("pageView", {"cart": {"id": "c-1"}})) == []
    assert walk.instance.status == "waiting"
    assert walk.instance.node == "hold"


def test_waiting_for_an_event_times_out_into_its_timeout_path() -> None:
    walk = Walk(cart_journey())
    walk.enter(CART, event="cartAbandoned")
    (timeout,) = walk.timers("timeout")
    assert timeout.due_ms == T0 + DAY
    walk.fire("timeout")
    assert ("hold", "timedout", None) in walk.steps()
    assert walk.logs() == ["your cart c-1"]
    assert walk.instance.status == "finished"


def test_a_timeout_without_a_path_ends_the_instance() -> None:
    walk = Walk(cart_journey(timeout_next=None))
    walk.enter(CART, event="cartAbandoned")
    walk.fire("timeout")
    assert walk.instance.status == "finished"
    assert walk.logs() == []


def test_a_timeout_after_the_event_came_is_ignored() -> None:
    walk = Walk(
        define(
            {
                "hold": {
                    "type": "waitForEvent",
                    "events": [{"event": "purchase", "next": "later"}],
                    "timeout": {"after": "1d", "next": "remind"},
                },
                "later": {"type": "wait", "duration": "7d", "next": "done"},
                "remind": logged("remind"),
                "done": END,
            }
        )
    )
    walk.enter()
    timeout = walk.timers("timeout")[-1]
    walk.send(EventArrived("purchase", {}))
    assert walk.instance.node == "later"
    walk.clock.advance(DAY)
    assert walk.send(TimerFired(timeout.token, "timeout")) == []
    assert walk.instance.node == "later"
    walk.fire()
    assert walk.logs() == []
    assert walk.instance.status == "finished"


def test_an_event_coming_during_a_timed_wait_is_ignored() -> None:
    walk = Walk(
        define(
            {
                "pause": {"type": "wait", "duration": "1d", "next": "hold"},
                "hold": {"type": "waitForEvent", "events": [{"event": "purchase", "next": "done"}]},
                "done": END,
            }
        )
    )
    walk.enter()
    assert walk.send(EventArrived("purchase", {})) == []
    walk.fire()
    assert walk.instance.node == "hold"
    walk.send(EventArrived("purchase", {}))
    assert walk.instance.status == "finished"


# actions


def hook_journey(error: str | None = "fallback") -> JourneyDefinition:
    hook: dict[str, Any] = {
        "type": "http",
        "method": "PUT",
        "url": HOOK + "/people",
        "path": "{{ @event{signup.person.id} }}",
        "headers": {"X-Api-Key": "secret", "X-Person": "{{ @event{signup.person.email} }}"},
        "query": {"source": "wayfare", "year": "{{ @event{signup.person.birthYear} }}"},
        "body": {
            "email": "{{ @event{signup.person.email} }}",
            "birthYear": "{{ @event{signup.person.birthYear} }}",
            "greeting": "Hi {{ @event{signup.person.firstName} }}",
            "journey": "welcome",
        },
        "timeoutSeconds": 5,
        "next": "tier",
    }
    if error:
        hook["error"] = error
    activities: dict[str, Any] = {
        "hook": hook,
        "tier": {
            "type": "condition",
            "branches": [{"label": "gold", "when": "@action{hook.tier} == 'gold'", "next": "vip"}],
            "otherwise": "regular",
        },
        "vip": logged("vip", message="vip {{ @action{hook.tier} }} {{ @action{hook.points} }}"),
        "regular": logged("regular"),
        "fallback": logged("fallback"),
        "done": END,
    }
    if not error:
        del activities["fallback"]
    return define(activities)


def test_an_http_action_is_rendered_and_dispatched_with_an_idempotency_key() -> None:
    walk = Walk(hook_journey())
    commands = walk.enter()
    (action,) = [c for c in commands if isinstance(c, Dispatch)]
    assert action.kind == "http"
    assert action.node == "hook"
    assert action.key == "inst-1:hook"
    assert action.request == {
        "method": "PUT",
        "url": "https://crm.example.com/api/people/p%201",
        "headers": {"X-Api-Key": "secret", "X-Person": "ada@example.com"},
        "query": {"source": "wayfare", "year": "1990"},
        "body": {
            "email": "ada@example.com",
            "birthYear": 1990,
            "greeting": "Hi Ada",
            "journey": "welcome",
        },
        "timeoutMs": 5000,
    }
    assert walk.instance.status == "waiting"
    assert walk.instance.wait_kind == "action"
    # the request survives a trip through JSON, as the outbox stores it
    assert orjson.loads(orjson.dumps(action.request)) == action.request


def test_a_value_in_the_dynamic_path_stays_one_segment() -> None:
    definition = hook_journey()
    walk = Walk(definition)
    person = {**SIGNUP["person"], "id": "../admin/p?1#x"}
    (action,) = [c for c in walk.enter({**SIGNUP, "person": person}) if isinstance(c, Dispatch)]
    assert action.request["url"] == "https://crm.example.com/api/people/..%2Fadmin%2Fp%3F1%23x"


def test_the_path_templates_own_slashes_separate_segments() -> None:
    activities = {
        "hook": {
            "type": "http",
            "method": "POST",
            "url": HOOK,
            "path": "people/{{ @event{signup.person.id} }}/notes",
            "next": "done",
        },
        "done": END,
    }
    walk = Walk(define(activities))
    (action,) = [c for c in walk.enter() if isinstance(c, Dispatch)]
    assert action.request["url"] == "https://crm.example.com/api/people/p%201/notes"


def test_an_action_response_is_readable_by_later_activities() -> None:
    walk = Walk(hook_journey())
    walk.enter()
    walk.done(response={"tier": "gold", "points": 120})
    assert walk.instance.actions == {"hook": {"tier": "gold", "points": 120}}
    assert walk.logs() == ["vip gold 120"]
    assert ("hook", "ended", None) in walk.steps()
    assert walk.instance.status == "finished"


def test_an_action_response_without_the_field_takes_the_other_path() -> None:
    walk = Walk(hook_journey())
    walk.enter()
    walk.done(response={"tier": "silver"})
    assert walk.logs() == ["regular"]


def test_a_failed_action_takes_its_error_path() -> None:
    walk = Walk(hook_journey())
    walk.enter()
    walk.done(ok=False, error="HTTP 500")
    assert ("hook", "error", "HTTP 500") in walk.steps()
    assert walk.logs() == ["fallback"]
    assert walk.instance.status == "finished"
    assert "hook" not in walk.instance.actions


def test_a_timed_out_action_takes_its_error_path_as_timed_out() -> None:
    walk = Walk(hook_journey())
    walk.enter()
    walk.done(ok=False, error="timed out after 5 s", timed_out=True)
    assert ("hook", "timedout", "timed out after 5 s") in walk.steps()
    assert walk.logs() == ["fallback"]


def test_a_failed_action_without_an_error_path_ends_the_instance_in_error() -> None:
    walk = Walk(hook_journey(error=None))
    walk.enter()
    walk.done(ok=False, error="HTTP 404")
    assert walk.instance.status == "error"
    assert walk.instance.node is None
    assert walk.steps()[-1] == ("hook", "error", "HTTP 404")
    assert walk.logs() == []


def test_an_action_outcome_for_an_earlier_dispatch_is_ignored() -> None:
    walk = Walk(hook_journey())
    walk.enter()
    action = walk.dispatched()[-1]
    before = walk.instance
    assert walk.send(ActionDone(action.node, action.token - 1, True, {"tier": "gold"})) == []
    assert walk.instance == before
    walk.done(response={"tier": "gold"})
    # delivered twice (a retry after a crash): the second outcome changes nothing
    assert walk.send(ActionDone(action.node, action.token, True, {"tier": "gold"})) == []
    assert walk.logs() == ["vip gold "]


def test_an_email_is_personalised_and_dispatched() -> None:
    walk = Walk(
        define(
            {
                "mail": {
                    "type": "email",
                    "to": "{{ @event{signup.person.email} }}",
                    "from": "news@example.com",
                    "subject": "Welcome, {{ @event{signup.person.firstName} }}!",
                    "text": "Born in {{ @event{signup.person.birthYear} }}.",
                    "html": "<p>Hello <b>{{ upper(@event{signup.person.firstName}) }}</b></p>",
                    "next": "done",
                },
                "done": END,
            }
        )
    )
    walk.enter()
    (mail,) = walk.dispatched()
    assert mail.kind == "email"
    assert mail.key == "inst-1:mail"
    assert mail.request == {
        "to": "ada@example.com",
        "from": "news@example.com",
        "subject": "Welcome, Ada!",
        "text": "Born in 1990.",
        "html": "<p>Hello <b>ADA</b></p>",
    }
    walk.done(response={"messageId": "<x@wayfare>"})
    assert walk.instance.status == "finished"


def test_a_log_line_is_rendered_and_the_journey_goes_on() -> None:
    walk = Walk(
        define(
            {
                "note": logged(
                    "note", nxt="pause", message="hi {{ @event{signup.person.firstName} }}"
                ),
                "pause": {"type": "wait", "duration": "1h", "next": "done"},
                "done": END,
            }
        )
    )
    walk.enter()
    assert walk.logs() == ["hi Ada"]
    assert walk.instance.node == "pause"


def test_a_jump_hands_the_person_and_the_entry_event_to_another_journey() -> None:
    walk = Walk(
        define(
            {
                "pause": {"type": "wait", "duration": "1d", "next": "onward"},
                "onward": {"type": "jump", "journey": "loyalty"},
            }
        )
    )
    walk.enter()
    walk.fire()
    jumps = [c for c in walk.commands if isinstance(c, JumpTo)]
    assert jumps == [JumpTo("loyalty", SIGNUP)]
    assert walk.instance.status == "finished"
    assert ("onward", "ended", "jumped to loyalty") in walk.steps()


def test_an_end_finishes_the_instance() -> None:
    walk = Walk(define({"done": END}))
    walk.enter()
    assert walk.instance.status == "finished"
    assert walk.instance.node is None
    assert walk.instance.ended_ms == T0
    assert walk.steps() == [("entry", "ended", None), ("done", "ended", None)]


# a step that raises


def test_a_step_that_raises_ends_the_instance_in_error_where_it_was_and_keeps_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walk = Walk(
        define(
            {
                "hello": logged("hello", "pause"),
                "pause": {"type": "wait", "until": "@event{signup.when}", "next": "done"},
                "done": END,
            }
        )
    )

    def broken(value: object) -> None:  # a bug in reading the wait's date
        raise OverflowError("date value out of range")

    monkeypatch.setattr("wayfare.engine.core.to_datetime", broken)
    before = walk.instance.copy()
    outcome = advance(walk.definition, before, Enter("signup", {"when": 1}), T0)
    assert outcome.failure == "OverflowError: date value out of range"
    assert outcome.commands == [StepEvent("pause", "wait", "error", T0, outcome.failure)]
    assert outcome.instance.status == "error"
    assert (outcome.instance.node, outcome.instance.ended_ms) == (None, T0)
    assert outcome.instance.events == {}  # as it was before the trigger
    assert before.status == "running"


def test_a_condition_whose_evaluation_overflows_the_stack_ends_the_instance_in_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Expressions are bounded at save (model/expressions.py); a RecursionError from any
    # other cause still ends only this instance.
    walk = Walk(
        define(
            {
                "check": {
                    "type": "condition",
                    "branches": [{"when": "1 > 0", "next": "done"}],
                    "otherwise": "done",
                },
                "done": END,
            }
        )
    )

    def overflow(self: object, scope: object, budget: object = None) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(Expression, "evaluate", overflow)
    walk.enter()
    assert walk.instance.status == "error"
    [(node, status, detail)] = walk.steps()
    assert (node, status) == ("check", "error")
    assert detail is not None and detail.startswith("RecursionError: maximum recursion depth")


def test_a_failures_cause_is_bounded_text_any_store_keeps() -> None:
    long = failure_cause(ValueError("x" * 100_000))
    assert len(long) == MAX_CAUSE_CHARS
    assert long.startswith("ValueError: xxx") and long.endswith("…")
    odd = failure_cause(KeyError("a\x00b\ud800"))
    assert "\x00" not in odd
    odd.encode("utf-8")  # no lone surrogate left
    assert failure_cause(RuntimeError()) == "RuntimeError"


# stop, test mode, purity


def test_stop_makes_a_waiting_instance_exit_now() -> None:
    walk = Walk(hook_journey())
    walk.enter()
    walk.clock.advance(HOUR)
    walk.send(Stop("journey stopped"))
    assert walk.instance.status == "exited"
    assert walk.instance.ended_ms == T0 + HOUR
    assert walk.steps()[-1] == ("hook", "exited", "journey stopped")
    # what was under way no longer moves it
    assert walk.done(response={"tier": "gold"}) == []
    assert walk.send(Stop()) == []
    assert walk.instance.status == "exited"


@pytest.mark.parametrize(("test", "due"), [(True, T0 + 10_000), (False, T0 + 3 * DAY)])
def test_test_mode_shortens_waits(test: bool, due: int) -> None:
    walk = Walk(
        define({"pause": {"type": "wait", "duration": "3d", "next": "done"}, "done": END}),
        test=test,
    )
    walk.enter()
    assert walk.timers("wait")[-1].due_ms == due
    walk.fire()
    assert walk.instance.status == "finished"


def test_test_mode_shortens_timeouts_and_dated_waits_to_the_configured_limit() -> None:
    walk = Walk(cart_journey(), test=True, test_wait_ms=2_000)
    walk.enter(CART, event="cartAbandoned")
    assert walk.timers("timeout")[-1].due_ms == T0 + 2_000
    dated = Walk(
        define(
            {
                "pause": {"type": "wait", "until": "nowWithDelta(30, 'days')", "next": "done"},
                "done": END,
            }
        ),
        test=True,
        test_wait_ms=2_000,
    )
    dated.enter()
    assert dated.timers("wait")[-1].due_ms == T0 + 2_000


def test_without_a_test_limit_test_instances_wait_in_full() -> None:
    walk = Walk(
        define({"pause": {"type": "wait", "duration": "3d", "next": "done"}, "done": END}),
        test=True,
        test_wait_ms=None,
    )
    walk.enter()
    assert walk.timers("wait")[-1].due_ms == T0 + 3 * DAY


def test_advance_leaves_the_given_instance_untouched() -> None:
    definition = hook_journey()
    start = Instance("i", "o", "welcome", 1, "p", 3, T0)
    snapshot = Instance.from_json(start.as_json())
    outcome = advance(definition, start, Enter("signup", SIGNUP), T0)
    assert start == snapshot
    assert outcome.instance is not start
    assert outcome.instance.status == "waiting"


def test_an_instance_stored_as_json_carries_on_where_it_was() -> None:
    walk = Walk(cart_journey())
    walk.enter(CART, event="cartAbandoned")
    stored = orjson.loads(orjson.dumps(walk.instance.as_json()))
    walk.instance = Instance.from_json(stored)
    walk.send(EventArrived("purchase", {"cart": {"id": "c-1"}, "order": {"total": 5}}))
    assert walk.logs() == ["thanks for 5"]
    assert walk.instance.status == "finished"


def test_an_instance_is_stored_as_orjson_writes_the_dataclass() -> None:
    # The runtime hands the dataclass to orjson directly; it must read back the same.
    walk = Walk(cart_journey())
    walk.enter(CART, event="cartAbandoned")
    assert orjson.dumps(walk.instance) == orjson.dumps(walk.instance.as_json())
    assert Instance.from_json(orjson.loads(orjson.dumps(walk.instance))) == walk.instance


def test_every_step_is_counted_on_the_instance() -> None:
    walk = Walk(condition_journey())
    walk.enter({"person": {"birthYear": 1985}})
    # entry, check, eighties, done
    assert walk.instance.steps == 4
    assert len(walk.steps()) == 4
