"""The journey core: a pure function of (definition, instance, trigger, now).

``advance`` returns the new instance state and the commands to carry out (timers to set,
actions to dispatch, step events to write). Time comes in as ``now_ms``; randomness from the
seed stored with the instance, so replaying a trigger takes the same path.

A step that raises (a recursion limit, a value nothing can take, a bug) ends that instance in
error and nothing else: ``advance`` never raises, and says why in the outcome's ``failure``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import msgspec

from wayfare.model.admission import CHAIN_PAUSE_MS
from wayfare.model.expressions import EvaluationError, Scope
from wayfare.model.functions import to_datetime
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
    UpdateProfile,
)
from wayfare.model.journey import GLOBAL_TIMEOUT_MS, Activity, JourneyDefinition
from wayfare.model.profile_fragments import nest
from wayfare.model.profile_merge import PersonView
from wayfare.model.profile_records import JOURNEY_PROFILE_DATASET, Operation, ProfileUpdate
from wayfare.model.templates import render_json

ENTRY = "entry"
MAX_STEPS_PER_TRIGGER = 200
MAX_CAUSE_CHARS = 500
"""A failure's cause is cut to this many characters wherever it is kept (step events,
discards, a paused journey's reason)."""


class Outcome(msgspec.Struct, frozen=True):
    instance: Instance
    commands: list[Command]
    failure: str | None = None
    """Why a step failed, when one did: the instance ended in error there."""


def failure_cause(exc: BaseException) -> str:
    """``exc`` in words (its type and message), as text any store keeps (no lone surrogate,
    no NUL), cut to MAX_CAUSE_CHARS."""
    try:
        words = str(exc)
    except Exception:  # an exception whose message cannot be made is still a cause
        words = ""
    text = f"{type(exc).__name__}: {words}" if words else type(exc).__name__
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\ufffd")
    return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 1] + "…"


def _end(i: Instance, status: str, now_ms: int) -> None:
    i.status = status  # type: ignore[assignment]
    i.node = None
    i.wait_kind = None
    i.wait_token += 1
    i.ended_ms = now_ms


def failed(
    definition: JourneyDefinition | None,
    instance: Instance,
    now_ms: int,
    cause: str,
    node: str | None,
) -> Outcome:
    """``instance`` as it was before the step that failed at ``node`` (None: its entry),
    ended in error there, with ``cause`` as the step event's detail. Nothing the step did
    is kept: no timer, no action, no jump."""
    ended = instance.copy()
    _end(ended, "error", now_ms)
    ended.steps += 1
    activity = definition.activities.get(node) if definition is not None and node else None
    kind = activity.type if activity is not None else ("entry" if node is None else "unknown")
    step = StepEvent(node or ENTRY, kind, "error", now_ms, cause)
    return Outcome(ended, [step], cause)


class _Run:
    def __init__(
        self,
        definition: JourneyDefinition,
        instance: Instance,
        now_ms: int,
        test_wait_ms: int | None,
        profile: PersonView | None,
    ) -> None:
        self.d = definition
        self.i = instance
        self.now = now_ms
        self.test_wait_ms = test_wait_ms
        self.profile = profile
        self._attributes: dict[str, Any] | None = None
        """The profile's attributes, merged once read (and again once updated)."""
        self.out: list[Command] = []

    def scope(self, extra: dict[str, Any] | None = None, *, strict: bool = False) -> Scope:
        events = self.i.events if extra is None else {**self.i.events, **extra}
        if self._attributes is None:
            self._attributes = {} if self.profile is None else self.profile.attributes()
        return Scope(
            events=events,
            actions=self.i.actions,
            profile=self._attributes,
            now_ms=self.now,
            strict=strict,
        )

    def step(self, a: Activity | None, status: str, detail: str | None = None) -> None:
        node, kind = (a.id, a.type) if a is not None else (ENTRY, "entry")
        self.out.append(StepEvent(node, kind, status, self.now, detail))
        self.i.steps += 1

    def finish(self, status: str = "finished") -> None:
        _end(self.i, status, self.now)

    def wait_for(self, kind: str) -> int:
        self.i.wait_token += 1
        self.i.wait_kind = kind
        self.i.status = "waiting"
        return self.i.wait_token

    def shorten(self, ms: int) -> int:
        if self.i.test and self.test_wait_ms is not None:
            return min(ms, self.test_wait_ms)
        return ms

    # running activities until one waits
    def run(self, node: str | None) -> None:
        self.i.status = "running"
        self.i.wait_kind = None
        for _ in range(MAX_STEPS_PER_TRIGGER):
            if node is None:
                self.finish()
                return
            a = self.d.activities[node]
            self.i.node = node
            node = self.enter(a)
            if self.i.status != "running":
                return
        self.step(None, "error", "too many steps in one go")
        self.finish("error")

    def enter(self, a: Activity) -> str | None:
        handler = getattr(self, f"_{a.type}")
        result: str | None = handler(a)
        return result

    def _end(self, a: Activity) -> str | None:
        self.step(a, "ended")
        self.finish()
        return None

    def _wait(self, a: Activity) -> str | None:
        if a.until is not None:
            moment = to_datetime(a.until.evaluate(self.scope()))
            if moment is None:
                self.step(a, "error", "the wait's date expression gave no date-time")
                return self._error_path(a)
            due = int(moment.timestamp() * 1000)
            due = self.now + self.shorten(max(0, due - self.now))
        else:
            due = self.now + self.shorten(a.duration_ms or 0)
        if due <= self.now:
            self.step(a, "ended")
            return a.next
        token = self.wait_for("timer")
        self.out.append(ScheduleTimer(due, token, "wait"))
        return None

    def _condition(self, a: Activity) -> str | None:
        # Strict: values an operator cannot take are an error (its path, or the instance
        # ends in error), not a quiet false that would send the person down another path.
        scope = self.scope(strict=True)
        try:
            taken = next((b for b in a.branches if b.when is not None and b.when.test(scope)), None)
        except EvaluationError as exc:
            self.step(a, "error", f"the condition could not be evaluated: {exc}")
            return self._error_path(a)
        if taken is not None:
            self.step(a, "ended", taken.label)
            return self._follow(a, taken.next)
        return self._otherwise(a)

    def _otherwise(self, a: Activity) -> str | None:
        if a.otherwise:
            self.step(a, "ended", "otherwise")
            return a.otherwise
        self.step(a, "ended", "no path matched")
        self.finish()
        return None

    def _follow(self, a: Activity, target: str | None) -> str | None:
        if target is None:
            self.finish()
        return target

    def _split(self, a: Activity) -> str | None:
        draw = random.Random(f"{self.i.seed}:{a.id}").random() * 100
        total = 0.0
        for branch in a.branches:
            total += branch.percent or 0
            if draw < total:
                self.step(a, "ended", branch.label)
                return self._follow(a, branch.next)
        last = a.branches[-1]
        self.step(a, "ended", last.label)
        return self._follow(a, last.next)

    def _timeCondition(self, a: Activity) -> str | None:
        local = datetime.fromtimestamp(self.now / 1000, tz=UTC).astimezone(self.d.zone)
        minute = local.hour * 60 + local.minute
        inside = local.isoweekday() in a.days
        if a.from_minute is not None and minute < a.from_minute:
            inside = False
        if a.to_minute is not None and minute >= a.to_minute:
            inside = False
        if inside:
            self.step(a, "ended", "in time")
            return self._follow(a, a.next)
        return self._otherwise(a)

    def _dateCondition(self, a: Activity) -> str | None:
        now = datetime.fromtimestamp(self.now / 1000, tz=UTC)
        after, before = to_datetime(a.after), to_datetime(a.before)
        inside = (after is None or now >= after) and (before is None or now < before)
        if inside:
            self.step(a, "ended", "in dates")
            return self._follow(a, a.next)
        return self._otherwise(a)

    def _waitForEvent(self, a: Activity) -> str | None:
        token = self.wait_for("event")
        if a.timeout_ms is not None:
            self.out.append(ScheduleTimer(self.now + self.shorten(a.timeout_ms), token, "timeout"))
        return None

    def _http(self, a: Activity) -> str | None:
        assert a.http is not None
        scope = self.scope()
        url = str(a.http.url.render(scope) or "")
        if a.http.path is not None:
            # The template's own slashes separate segments; a value is one segment.
            path = a.http.path.render_text(scope, lambda value: quote(value, safe=""))
            url = url.rstrip("/") + "/" + quote(path, safe="/%")
        request = {
            "method": a.http.method,
            "url": url,
            "headers": {k: str(v.render(scope)) for k, v in a.http.headers.items()},
            "query": {k: str(v.render(scope)) for k, v in a.http.query.items()},
            "body": render_json(a.http.body, scope) if a.http.body is not None else None,
            "timeoutMs": a.http.timeout_ms,
        }
        return self._dispatch(a, "http", request)

    def _email(self, a: Activity) -> str | None:
        assert a.email is not None
        scope = self.scope()
        request = {
            # Each recipient renders as text, which must be one address when it is sent.
            "to": (
                [t.render_text(scope) for t in a.email.to]
                if isinstance(a.email.to, list)
                else a.email.to.render_text(scope)
            ),
            "subject": a.email.subject.render(scope),
            "text": a.email.text.render(scope) if a.email.text else None,
            "html": a.email.html.render(scope) if a.email.html else None,
            "from": a.email.sender,
        }
        return self._dispatch(a, "email", request)

    def _dispatch(self, a: Activity, kind: str, request: dict[str, Any]) -> str | None:
        token = self.wait_for("action")
        key = f"{self.i.instance_id}:{a.id}"
        self.out.append(Dispatch(a.id, token, kind, request, key))
        return None

    def _log(self, a: Activity) -> str | None:
        message = a.message.render(self.scope()) if a.message is not None else ""
        self.out.append(LogLine(a.id, str(message)))
        self.step(a, "ended")
        return a.next

    def _updateProfile(self, a: Activity) -> str | None:
        # Lenient, as mappings: a value that cannot be computed (a field the event lacks)
        # is null, and a null sets nothing; ``remove`` is how a field goes.
        scope = self.scope()
        changes: dict[tuple[str, ...], Any] = {}
        unset = []
        for path, expr in a.profile_set:
            value = expr.evaluate(scope)
            if value is None:
                unset.append(path)
            else:
                changes[tuple(path.split("."))] = value
        for path in a.profile_remove:
            changes[tuple(path.split("."))] = None
        detail = f"set nothing for {', '.join(unset)} (null)" if unset else None
        if self.profile is None:
            detail = "no profile updated: the person's namespace is unknown (no entry event)"
        elif changes:
            update = ProfileUpdate(
                self.i.org_id,
                JOURNEY_PROFILE_DATASET,
                self.profile.identity,
                Operation.MERGE,
                nest(sorted(changes.items())),
                self.now,
                chain=self._chain() + 1,
            )
            self.out.append(UpdateProfile(a.id, update))
            self.profile = self.profile.applied(update)
            self._attributes = None
        self.step(a, "ended", detail)
        return a.next

    def _chain(self) -> int:
        """The audience changes by journeys in a row that entered this instance (0: it was
        entered by an event, or by a change an event, a record or time made, or it has
        waited CHAIN_PAUSE_MS since: model/admission.py)."""
        return 0 if self.now - self.i.entered_ms >= CHAIN_PAUSE_MS else self.i.chain

    def _jump(self, a: Activity) -> str | None:
        assert a.journey is not None
        entity = self.i.events.get(self.d.entry_event, {})
        self.out.append(JumpTo(a.journey, entity))
        self.step(a, "ended", f"jumped to {a.journey}")
        self.finish()
        return None

    def _error_path(self, a: Activity) -> str | None:
        if a.error:
            return a.error
        self.finish("error")
        return None

    # triggers
    def current(self) -> Activity | None:
        return self.d.activities.get(self.i.node) if self.i.node else None

    def handle(self, trigger: Trigger) -> None:
        if isinstance(trigger, Enter):
            self.i.events[trigger.event] = trigger.entity
            self.out.append(ScheduleTimer(self.i.entered_ms + GLOBAL_TIMEOUT_MS, 0, "global"))
            self.step(None, "ended")
            self.run(self.d.entry_next)
            return
        if not self.i.live:
            return
        a = self.current()
        if isinstance(trigger, Stop):
            self.out.append(
                StepEvent(
                    a.id if a else ENTRY,
                    a.type if a else "entry",
                    "exited",
                    self.now,
                    trigger.reason,
                )
            )
            self.finish("exited")
        elif isinstance(trigger, TimerFired):
            self._timer(trigger, a)
        elif isinstance(trigger, EventArrived):
            self._event(trigger, a)
        elif isinstance(trigger, ActionDone):
            self._action_done(trigger, a)

    def _timer(self, t: TimerFired, a: Activity | None) -> None:
        if t.kind == "global":
            self.out.append(
                StepEvent(
                    a.id if a else ENTRY,
                    a.type if a else "entry",
                    "timedout",
                    self.now,
                    "global timeout (91 days)",
                )
            )
            self.finish("exited")
            return
        if a is None or t.token != self.i.wait_token:
            return  # a timer of a wait already left
        if t.kind == "wait" and self.i.wait_kind == "timer":
            self.step(a, "ended")
            self.run(a.next)
        elif t.kind == "timeout" and self.i.wait_kind == "event":
            self.step(a, "timedout")
            if a.error:
                self.run(a.error)
            else:
                self.finish()

    def _event(self, t: EventArrived, a: Activity | None) -> None:
        if a is None or self.i.wait_kind != "event":
            return
        for branch in a.branches:
            if branch.event != t.event:
                continue
            if branch.when is not None and not branch.when.test(self.scope({t.event: t.entity})):
                continue
            self.i.events[t.event] = t.entity
            self.step(a, "ended", branch.label)
            self.run(branch.next)
            return

    def _action_done(self, t: ActionDone, a: Activity | None) -> None:
        if a is None or self.i.wait_kind != "action" or t.token != self.i.wait_token:
            return
        if t.ok:
            self.i.actions[a.id] = t.response
            self.step(a, "ended")
            self.run(a.next)
            return
        self.step(a, "timedout" if t.timed_out else "error", t.error)
        if a.error:
            self.run(a.error)
        else:
            self.finish("error")


def advance(
    definition: JourneyDefinition,
    instance: Instance,
    trigger: Trigger,
    now_ms: int,
    *,
    test_wait_ms: int | None = 10_000,
    profile: PersonView | None = None,
) -> Outcome:
    """The new state of ``instance`` after ``trigger``, and the commands it causes; or, when a
    step raises, the instance ended in error where that step was (``failed``). ``profile``
    is the person's profile, what ``#{profile.…}`` reads and updateProfile activities
    write (none: every path is null, and nothing is written)."""
    run = _Run(definition, instance.copy(), now_ms, test_wait_ms, profile)
    try:
        run.handle(trigger)
    except Exception as exc:  # whatever it is, it is this instance's alone
        return failed(definition, instance, now_ms, failure_cause(exc), run.i.node)
    return Outcome(run.i, run.out)
