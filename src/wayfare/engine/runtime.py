"""The loops that feed the core: matched events, due timers, the action outbox.

Every change one trigger causes (instance state, timers, outbox entries, step events) is
committed in one transaction; store calls run on one worker thread, so the loops never race
on an instance. Actions are delivered after their commit and their results fed back as
triggers: a crash anywhere loses nothing, and a re-sent action carries the same
``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from wayfare.clock import Clock
from wayfare.engine.actions import ActionSender, Delivery
from wayfare.engine.core import advance
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
from wayfare.model.journey import JourneyDefinition, parse_journey
from wayfare.model.runs import EngineBatch, JourneyVersion, MatchedMessage, OutboxItem
from wayfare.store.ports import JourneyStore

log = logging.getLogger(__name__)
T = TypeVar("T")
CURSOR = "journey-matches"
ACTION_ATTEMPTS = 3
BACKOFF_MS = 500


class _Step:
    """One unit of work: a batch plus the instances it has touched so far."""

    def __init__(self, store: JourneyStore) -> None:
        self.store = store
        self.batch = EngineBatch()
        self.touched: dict[str, Instance] = {}

    def instance(self, instance_id: str) -> Instance | None:
        if instance_id in self.touched:
            return self.touched[instance_id]
        raw = self.store.get_instance(instance_id)
        return Instance.from_json(raw) if raw else None

    def live_of(self, org_id: str, identity: str) -> list[Instance]:
        found = {
            i.instance_id: i
            for i in (Instance.from_json(r) for r in self.store.live_instances(org_id, identity))
        }
        for inst in self.touched.values():
            if inst.org_id == org_id and inst.identity == identity:
                found[inst.instance_id] = inst
        return [i for i in found.values() if i.live]

    def last_of(self, org_id: str, journey: str, identity: str) -> Instance | None:
        """The person's latest instance of the journey, counting this step's own."""
        raw = self.store.last_instance(org_id, journey, identity)
        last = Instance.from_json(raw) if raw else None
        for inst in self.touched.values():
            if (inst.org_id, inst.journey, inst.identity) != (org_id, journey, identity):
                continue
            if last is None or inst.entered_ms >= last.entered_ms:
                last = inst
        return last


class JourneyRuntime:
    def __init__(
        self,
        store: JourneyStore,
        clock: Clock,
        sender: ActionSender,
        *,
        poll_seconds: float = 0.02,
        test_wait_ms: int = 10_000,
    ) -> None:
        self._store = store
        self._clock = clock
        self._sender = sender
        self._poll = poll_seconds
        self._test_wait_ms = test_wait_ms
        self._definitions: dict[tuple[str, str, int], JourneyDefinition] = {}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="wayfare-journeys")
        self._tasks: list[asyncio.Task[None]] = []
        self._wakes = {name: asyncio.Event() for name in ("consume", "timers", "outbox")}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_log: Callable[[str, str, str], None] = lambda journey, node, message: log.info(
            "journey %s, %s: %s", journey, node, message
        )

    # lifecycle
    async def start(self) -> None:
        await self._sender.start()
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(loop())
            for loop in (self._consume_loop, self._timer_loop, self._outbox_loop)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._sender.stop()
        self._executor.shutdown(wait=True)

    def wake(self, loop: str = "consume") -> None:
        """Make a loop look for work now (callable from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakes[loop].set)

    def _commit(self, step: _Step) -> None:
        self._store.commit(step.batch)
        if step.batch.new_outbox:
            self.wake("outbox")
        if step.batch.new_timers:
            self.wake("timers")

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _forever(self, name: str, once: Callable[[], Any], idle: float) -> None:
        wake = self._wakes[name]
        while True:
            try:
                busy = await once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("journey loop failed; retrying")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), idle)
                wake.clear()

    async def _consume_loop(self) -> None:
        await self._forever("consume", lambda: self._call(self.consume_once), self._poll)

    async def _timer_loop(self) -> None:
        await self._forever("timers", lambda: self._call(self.fire_due_timers), self._poll * 5)

    async def _outbox_loop(self) -> None:
        await self._forever("outbox", self.deliver_once, self._poll * 5)

    # definitions
    def forget(self, org_id: str, name: str, version: int) -> None:
        self._definitions.pop((org_id, name, version), None)

    def definition(self, org_id: str, name: str, version: int) -> JourneyDefinition | None:
        key = (org_id, name, version)
        if key not in self._definitions:
            found = self._store.get_journey(org_id, name, version)
            if found is None:
                return None
            self._definitions[key] = parse_journey(found.definition)
        return self._definitions[key]

    # applying a trigger
    def _apply(self, step: _Step, inst: Instance, trigger: Trigger) -> None:
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
        step.touched[new.instance_id] = new
        step.batch.instances.append(
            {
                "instance_id": new.instance_id,
                "org_id": new.org_id,
                "journey": new.journey,
                "version": new.version,
                "identity": new.identity,
                "status": new.status,
                "entered_ms": new.entered_ms,
                "ended_ms": new.ended_ms,
                "state": new.as_json(),
            }
        )
        for jump in jumps:
            target = self._store.get_journey(new.org_id, jump.journey)
            if target is None or target.state != "live":
                log.warning("journey %s: jump target %s is not live", new.journey, jump.journey)
                continue
            self._enter(step, target, target.entry_event, new.identity, jump.entity, jumped=True)

    def _discard(
        self, step: _Step, org_id: str, journey: str, identity: str | None, cause: str
    ) -> None:
        step.batch.discards.append((org_id, journey, identity, cause, self._clock.now_ms()))

    def _enter(
        self,
        step: _Step,
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
            if not definition.reentrance:
                self._discard(step, version.org_id, version.name, identity, "re-entry not allowed")
                return
            if last.ended_ms is not None and now - last.ended_ms < definition.reentry_wait_ms:
                self._discard(step, version.org_id, version.name, identity, "re-entry too soon")
                return
        inst = Instance(
            instance_id=uuid.uuid4().hex,
            org_id=version.org_id,
            journey=version.name,
            version=version.version,
            identity=identity,
            seed=secrets.randbits(32),
            entered_ms=now,
            test=test,
        )
        self._apply(step, inst, Enter(event, entity))

    # the three units of work
    def consume_once(self, limit: int = 500) -> bool:
        """Feed matched events to waiting instances and journey entries."""
        cursor = self._store.cursor(CURSOR)
        messages, last_seq = self._store.read_matches(cursor, limit)
        if last_seq == cursor:
            return False
        step = _Step(self._store)
        entries: dict[tuple[str, str], list[JourneyVersion]] = {}
        awaited: dict[str, set[str]] = {}
        for m in messages:
            key = (m.org_id, m.event)
            if key not in entries:
                entries[key] = self._store.entry_journeys(m.org_id, m.event)
            if m.org_id not in awaited:
                awaited[m.org_id] = self._awaited_events(m.org_id)
            if entries[key] or m.event in awaited[m.org_id]:
                self._consume(step, m, entries[key])
        step.batch.cursor = (CURSOR, last_seq)
        self._commit(step)
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

    def _consume(self, step: _Step, m: MatchedMessage, journeys: list[JourneyVersion]) -> None:
        if m.identity is None:
            cause = (
                "namespace mismatch"
                if (m.reason or "").startswith("namespace")
                else "identity missing"
            )
            for version in journeys:
                self._discard(step, m.org_id, version.name, None, cause)
            return
        for inst in step.live_of(m.org_id, m.identity):
            if inst.wait_kind == "event":
                self._apply(step, inst, EventArrived(m.event, m.entity))
        for version in journeys:
            self._enter(step, version, m.event, m.identity, m.entity)

    def fire_due_timers(self, limit: int = 500) -> bool:
        due = self._store.due_timers(self._clock.now_ms(), limit)
        if not due:
            return False
        step = _Step(self._store)
        for timer in due:
            step.batch.fired_timers.append(timer.timer_id)
            inst = step.instance(timer.instance_id)
            if inst is not None and inst.live:
                self._apply(step, inst, TimerFired(timer.token, timer.kind))
        self._commit(step)
        return len(due) == limit

    async def deliver_once(self, limit: int = 200) -> bool:
        items = await self._call(self._store.pending_outbox, self._clock.now_ms(), limit)
        if not items:
            return False
        deliveries = await asyncio.gather(
            *(self._sender.send(i.kind, i.request, i.key) for i in items)
        )
        await self._call(self._record_deliveries, list(zip(items, deliveries, strict=True)))
        return len(items) == limit

    def _record_deliveries(self, results: list[tuple[OutboxItem, Delivery]]) -> None:
        step = _Step(self._store)
        now = self._clock.now_ms()
        for item, delivery in results:
            attempts = item.attempts + 1
            if not delivery.ok and delivery.retryable and attempts < ACTION_ATTEMPTS:
                due = now + BACKOFF_MS * 2 ** (attempts - 1)
                step.batch.outbox_retry.append((item.outbox_id, attempts, due, delivery.error))
                continue
            state = "done" if delivery.ok else "failed"
            step.batch.outbox_done.append((item.outbox_id, state, attempts, delivery.error))
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
        self._commit(step)

    # commands from the API
    def stop_instances(self, org_id: str, journey: str, reason: str) -> int:
        step = _Step(self._store)
        count = 0
        for raw in self._store.journey_instances(org_id, journey, live_only=True, limit=1_000_000):
            self._apply(step, Instance.from_json(raw), Stop(reason))
            count += 1
        self._commit(step)
        return count

    def enter_test_event(
        self, version: JourneyVersion, identity: str, entity: dict[str, Any]
    ) -> None:
        step = _Step(self._store)
        self._enter(step, version, version.entry_event, identity, entity)
        self._commit(step)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store-touching command on the runtime's thread (serialised with the loops)."""
        return await self._call(fn, *args)
