"""The loops that feed the core: matched events, due timers, delivery outcomes.

Every change a cycle of the engine causes (instance state, timers, outbox entries, step
events, the event cursor) is committed in one transaction; store calls run on one worker
thread, so nothing races on an instance. Actions are delivered after their commit (see
dispatch.py) and their outcomes fed back as triggers: a crash anywhere loses nothing, and a
re-sent action carries the same ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from wayfare.clock import Clock
from wayfare.engine.actions import Delivery, Sender
from wayfare.engine.core import advance
from wayfare.engine.dispatch import Dispatcher
from wayfare.engine.instance import (
    ActionDone,
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
from wayfare.engine.step import Step
from wayfare.model.events import Unmatched
from wayfare.model.journey import JourneyDefinition, parse_journey
from wayfare.model.nesting import MAX_NESTING, nesting
from wayfare.model.runs import JourneyVersion, MatchedMessage, OutboxItem
from wayfare.store.ports import JourneyStore

log = logging.getLogger(__name__)
T = TypeVar("T")
CURSOR = "journey-matches"
ACTION_ATTEMPTS = 3
BACKOFF_MS = 500
RECENT_INSTANCES = 20_000
"""Live instances kept in memory as last committed, so an action's outcome or a timer
finds its instance without a read."""


class JourneyRuntime:
    """Two loops: the engine (matched events, due timers, delivery outcomes; one commit per
    cycle, on one worker thread, so nothing races on an instance) and the dispatcher
    (delivering what the engine committed, on the event loop)."""

    def __init__(
        self,
        store: JourneyStore,
        clock: Clock,
        sender: Sender,
        *,
        poll_seconds: float = 0.25,
        test_wait_ms: int = 10_000,
        per_host: int = 32,
        outbox_capacity: int = 10_000,
    ) -> None:
        self._store = store
        self._clock = clock
        self._sender = sender
        self._poll = poll_seconds
        self._test_wait_ms = test_wait_ms
        self._definitions: dict[tuple[str, str, int], JourneyDefinition] = {}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="wayfare-journeys")
        self._dispatcher = Dispatcher(
            sender,
            clock,
            self._load_pending,
            self._on_result,
            per_host=per_host,
            capacity=outbox_capacity,
        )
        self._results: deque[tuple[OutboxItem, Delivery]] = deque()
        self._recent: OrderedDict[str, Instance] = OrderedDict()
        self._cursor: int | None = None
        self._entries: dict[tuple[str, str], list[JourneyVersion]] = {}
        """Journeys each (org, event) enters, and events each org's journeys await: kept
        until the store's journeys change (its generation moves)."""
        self._awaited: dict[str, set[str]] = {}
        self._journeys_seen = -1
        self._timer_floor: int | None = 0
        """No timer is due before this (None: there are none); 0 until the store is read."""
        self._reread_timers = False
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_log: Callable[[str, str, str], None] = lambda journey, node, message: log.info(
            "journey %s, %s: %s", journey, node, message
        )

    # lifecycle
    async def start(self) -> None:
        await self._sender.start()
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._engine_loop()),  # stopped first
            asyncio.create_task(self._dispatcher.run()),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the engine, let deliveries in flight end (up to ``grace`` seconds) and record
        their outcomes; an attempt cut short is made again after a restart, with its key."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if task is tasks[0]:
                await self._dispatcher.finish(grace)
        with contextlib.suppress(Exception):  # outcomes already in: record them, or resend
            await self._call(self._record_outcomes)
        self._loop = None
        await self._sender.stop()
        self._executor.shutdown(wait=True)

    def wake(self) -> None:
        """Make the engine look for work now (callable from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _commit(self, step: Step) -> None:
        step.batch.instances = [
            (
                i.instance_id,
                i.org_id,
                i.journey,
                i.version,
                i.identity,
                i.status,
                i.entered_ms,
                i.ended_ms,
                orjson.dumps(i).decode(),  # orjson writes the dataclass as as_json() would
            )
            for i in step.touched.values()
        ]
        new = self._store.commit(step.batch)
        recent = self._recent
        for inst in step.touched.values():
            if inst.live:
                recent[inst.instance_id] = inst
                recent.move_to_end(inst.instance_id)
            else:
                recent.pop(inst.instance_id, None)
        while len(recent) > RECENT_INSTANCES:
            recent.popitem(last=False)
        if step.batch.cursor is not None:
            self._cursor = step.batch.cursor[1]
        for _, due, _, _ in step.batch.new_timers:
            if self._timer_floor is None or due < self._timer_floor:
                self._timer_floor = due
        if (new or step.finished or step.retries) and self._loop is not None:
            self._loop.call_soon_threadsafe(
                self._dispatcher.committed, new, step.finished, step.retries
            )

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _engine_loop(self) -> None:
        while True:
            try:
                busy = await self._call(self.cycle)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("journey engine failed; retrying")
                await asyncio.sleep(self._poll)  # not a line per wake while it keeps failing
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_seconds())
                self._wake.clear()

    def _idle_seconds(self) -> float:
        if self._timer_floor is None:
            return self._poll
        until = (self._timer_floor - self._clock.now_ms()) / 1000
        return min(self._poll, max(until, 0.001))

    async def _load_pending(self, after_id: int, limit: int) -> list[OutboxItem]:
        return await self._call(self._store.pending_outbox, after_id, limit)

    def _on_result(self, item: OutboxItem, delivery: Delivery) -> None:
        self._results.append((item, delivery))
        self._wake.set()

    # definitions
    def _see_journey_changes(self) -> None:
        """Drop what is kept of journeys once one has changed (in any process)."""
        generation = self._store.generation
        if generation != self._journeys_seen:
            self._journeys_seen = generation
            self._definitions.clear()  # a draft's definition changes in place
            self._entries.clear()
            self._awaited.clear()

    def definition(self, org_id: str, name: str, version: int) -> JourneyDefinition | None:
        key = (org_id, name, version)
        if key not in self._definitions:
            found = self._store.get_journey(org_id, name, version)
            if found is None:
                return None
            self._definitions[key] = parse_journey(found.definition)
        return self._definitions[key]

    # applying a trigger
    def _apply(self, step: Step, inst: Instance, trigger: Trigger) -> None:
        definition = self.definition(inst.org_id, inst.journey, inst.version)
        if definition is None:
            return
        now = self._clock.now_ms()
        outcome = advance(definition, inst, trigger, now, test_wait_ms=self._test_wait_ms)
        new = outcome.instance
        jumps: list[JumpTo] = []
        for command in outcome.commands:
            if isinstance(command, ScheduleTimer):
                step.batch.new_timers.append(
                    (new.instance_id, command.due_ms, command.token, command.kind)
                )
            elif isinstance(command, Dispatch):
                step.batch.new_outbox.append(
                    (
                        new.instance_id,
                        command.node,
                        command.token,
                        command.kind,
                        command.request,
                        command.key,
                        now,
                    )
                )
            elif isinstance(command, StepEvent):
                step.batch.steps.append(
                    (
                        new.org_id,
                        new.journey,
                        new.version,
                        command.node,
                        command.node_type,
                        new.instance_id,
                        new.identity,
                        command.status,
                        command.detail,
                        command.at_ms,
                        new.entered_ms,
                    )
                )
            elif isinstance(command, LogLine):
                self.on_log(new.journey, command.node, command.message)
            elif isinstance(command, JumpTo):
                jumps.append(command)
        if not new.live:
            step.batch.clear_timers.append(new.instance_id)
        step.note(new)
        for jump in jumps:
            target = self._store.get_journey(new.org_id, jump.journey)
            if target is None or target.state != "live":
                log.warning("journey %s: jump target %s is not live", new.journey, jump.journey)
                continue
            self._enter(step, target, target.entry_event, new.identity, jump.entity, jumped=True)

    def _discard(
        self, step: Step, org_id: str, journey: str, identity: str | None, cause: str
    ) -> None:
        step.batch.discards.append((org_id, journey, identity, cause, self._clock.now_ms()))

    def _enter(
        self,
        step: Step,
        version: JourneyVersion,
        event: str,
        identity: str,
        entity: dict[str, Any],
        *,
        jumped: bool = False,
    ) -> None:
        definition = self.definition(version.org_id, version.name, version.version)
        if definition is None:
            return
        test = version.state == "draft"
        if test and not self._store.is_test_profile(version.org_id, identity):
            return  # test mode: only test profiles enter
        live = [i for i in step.live_of(version.org_id, identity) if i.journey == version.name]
        if live:
            if not jumped:
                self._discard(
                    step,
                    version.org_id,
                    version.name,
                    identity,
                    "already in the journey" if definition.reentrance else "re-entry not allowed",
                )
            return
        last = step.last_of(version.org_id, version.name, identity)
        now = self._clock.now_ms()
        if last is not None and not test:
            ended_ms = last[1]
            if not definition.reentrance:
                self._discard(step, version.org_id, version.name, identity, "re-entry not allowed")
                return
            if ended_ms is not None and now - ended_ms < definition.reentry_wait_ms:
                self._discard(step, version.org_id, version.name, identity, "re-entry too soon")
                return
        inst = Instance(
            instance_id=os.urandom(16).hex(),
            org_id=version.org_id,
            journey=version.name,
            version=version.version,
            identity=identity,
            seed=random.getrandbits(32),  # picks split branches: needs no secrecy
            entered_ms=now,
            test=test,
        )
        self._apply(step, inst, Enter(event, entity))

    # one cycle of the engine
    def cycle(self) -> bool:
        """Record delivery outcomes, fire due timers, consume matched events; commit once.
        True when there is more to do right away."""
        self._see_journey_changes()
        step = Step(self._store, self._recent)
        try:
            busy = self._record_outcomes_into(step)
            busy = self._fire_due_timers(step) or busy
            busy = self._consume(step) or busy
            self._commit(step)
        except Exception:
            # Nothing of the step is stored: its outcomes are recorded by a later one (the
            # dispatcher holds their items until then), its events and timers read again.
            self._results.extendleft(reversed(step.outcomes))
            raise
        if self._reread_timers:
            self._timer_floor = self._store.next_timer_ms()
            self._reread_timers = False
        return busy

    def _consume(self, step: Step, limit: int = 500) -> bool:
        """Feed matched events to waiting instances and journey entries."""
        if self._cursor is None:
            self._cursor = self._store.cursor(CURSOR)
        cursor = self._cursor
        messages, last_seq = self._store.read_matches(cursor, limit)
        if last_seq == cursor:
            return False
        self._see_journey_changes()  # after the events: one published before them is seen
        entries, awaited = self._entries, self._awaited
        wanted: list[tuple[MatchedMessage, list[JourneyVersion]]] = []
        people: dict[str, list[str]] = {}
        for m in messages:
            key = (m.org_id, m.event)
            if key not in entries:
                entries[key] = self._store.entry_journeys(m.org_id, m.event)
            if m.org_id not in awaited:
                awaited[m.org_id] = self._awaited_events(m.org_id)
            if entries[key] or m.event in awaited[m.org_id]:
                wanted.append((m, entries[key]))
                if m.identity is not None:
                    people.setdefault(m.org_id, []).append(m.identity)
        for org_id, identities in people.items():
            step.know(org_id, identities)
        for m, journeys in wanted:
            self._consume_one(step, m, journeys)
        step.batch.cursor = (CURSOR, last_seq)
        return last_seq - cursor >= limit

    def _awaited_events(self, org_id: str) -> set[str]:
        """Events some instance of the org may be waiting for (any version that can still
        have instances inside)."""
        events: set[str] = set()
        for latest in self._store.list_journeys(org_id):
            for version in self._store.journey_versions(org_id, latest.name):
                if version.state in ("live", "closed", "draft"):
                    definition = self.definition(org_id, version.name, version.version)
                    if definition is not None:
                        events |= {
                            b.event
                            for a in definition.activities.values()
                            for b in a.branches
                            if b.event
                        }
        return events

    def _consume_one(self, step: Step, m: MatchedMessage, journeys: list[JourneyVersion]) -> None:
        bound = m.nesting_bound
        if (bound is None or bound > MAX_NESTING) and nesting(m.entity) > MAX_NESTING:
            # Stored in its dataset all the same; no instance can hold it (model/nesting.py).
            for version in journeys:
                self._discard(step, m.org_id, version.name, m.identity, "event nested too deeply")
            return
        if m.identity is None:
            cause = m.cause or Unmatched.IDENTITY_MISSING
            for version in journeys:
                self._discard(step, m.org_id, version.name, None, cause.value)
            return
        for inst in step.live_of(m.org_id, m.identity):
            if inst.wait_kind == "event":
                self._apply(step, inst, EventArrived(m.event, m.entity))
        for version in journeys:
            self._enter(step, version, m.event, m.identity, m.entity)

    def _fire_due_timers(self, step: Step, limit: int = 500) -> bool:
        now = self._clock.now_ms()
        if self._timer_floor is None or self._timer_floor > now:
            return False
        due = self._store.due_timers(now, limit)
        step.load(t.instance_id for t in due)
        for timer in due:
            step.batch.fired_timers.append(timer.timer_id)
            inst = step.instance(timer.instance_id)
            if inst is not None and inst.live:
                self._apply(step, inst, TimerFired(timer.token, timer.kind))
        if len(due) == limit:
            return True
        self._reread_timers = True  # the next one, once this cycle's commit is in
        return False

    def _record_outcomes(self) -> None:
        step = Step(self._store, self._recent)
        self._record_outcomes_into(step)
        self._commit(step)

    def _record_outcomes_into(self, step: Step, limit: int = 1000) -> bool:
        """Delivery outcomes: done, failed, or due again after a backoff."""
        results: list[tuple[OutboxItem, Delivery]] = []
        while self._results and len(results) < limit:
            results.append(self._results.popleft())
        if not results:
            return False
        step.outcomes = results
        step.load(item.instance_id for item, _ in results)
        now = self._clock.now_ms()
        for item, delivery in results:
            attempts = item.attempts + 1
            if not delivery.ok and delivery.retryable and attempts < ACTION_ATTEMPTS:
                due = now + BACKOFF_MS * 2 ** (attempts - 1)
                step.batch.outbox_retry.append((item.outbox_id, attempts, due, delivery.error))
                step.retries.append(dataclasses.replace(item, attempts=attempts, next_ms=due))
                continue
            state = "done" if delivery.ok else "failed"
            step.batch.outbox_done.append((item.outbox_id, state, attempts, delivery.error))
            step.finished.append(item.outbox_id)
            inst = step.instance(item.instance_id)
            if inst is not None and inst.live:
                self._apply(
                    step,
                    inst,
                    ActionDone(
                        item.node,
                        item.token,
                        delivery.ok,
                        delivery.response,
                        delivery.error,
                        delivery.timed_out,
                    ),
                )
        return bool(self._results)

    # commands from the API, run on the engine's thread (serialised with its cycles)
    async def stop_instances(self, org_id: str, journey: str, reason: str) -> int:
        """Every live instance of the journey exits now; how many did."""
        return await self._call(self._stop_instances, org_id, journey, reason)

    async def enter_test_event(
        self, version: JourneyVersion, identity: str, entity: dict[str, Any]
    ) -> None:
        """The person enters the draft ``version`` on ``entity`` (test mode)."""
        await self._call(self._enter_test_event, version, identity, entity)

    def _stop_instances(self, org_id: str, journey: str, reason: str) -> int:
        step = Step(self._store, self._recent)
        count = 0
        for raw in self._store.journey_instances(org_id, journey, live_only=True, limit=1_000_000):
            self._apply(step, Instance.from_json(raw), Stop(reason))
            count += 1
        self._commit(step)
        return count

    def _enter_test_event(
        self, version: JourneyVersion, identity: str, entity: dict[str, Any]
    ) -> None:
        self._see_journey_changes()
        step = Step(self._store, self._recent)
        self._enter(step, version, version.entry_event, identity, entity)
        self._commit(step)
