"""The journey engine's loops: what feeds the pure core, and what carries out its commands.

A cycle of the engine reads the event log after the positions its last commit stored, records
delivery outcomes, fires due timers, takes test entries, audience qualifications and
forwarded events (queued by commits for its partitions), exits the people of stopped
journeys, and enters and wakes instances on the events it read (those of a merged person's
other identities too, forwarding the event through the store to the engine holding an
instance's partition when this one does not); everything the cycle changes (instances,
timers, outbox entries, step events, discards, the messages read, the new log positions) is
committed in one transaction, and only then acknowledged to the log. Store calls run on one
worker thread, so nothing races on an instance. Actions are delivered after their commit
(dispatch.py) and their outcomes fed back as triggers: a crash anywhere loses nothing, and a
re-sent action carries the same ``Idempotency-Key``.

Who may enter is decided by model/admission.py; how an instance moves by core.py. Ids and
seeds come from an injected ``Entropy`` and time from a ``Clock``, so a run replays exactly.

What one journey's data or definition makes fail stays its own: a step that raises ends its
instance in error (core.py), an entry that fails is discarded with its cause, and a version
whose steps keep failing (``failure_limit`` in a row) is paused once the cycle is committed.
Only the store and the event log failing (InfrastructureError) fail a cycle as a whole; when
anything else does, the next cycles check each instance's changes before taking them, so that
what cannot be stored ends that instance rather than every commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from wayfare.clock import Clock
from wayfare.engine.actions import Delivery, Sender
from wayfare.engine.arrivals import CycleNamespaces, keep_person_events, link_read, retried_in
from wayfare.engine.audiences import AudienceChecks
from wayfare.engine.core import Outcome, advance, failed, failure_cause
from wayfare.engine.deliveries import settle
from wayfare.engine.dispatch import Dispatcher
from wayfare.engine.ownership import Holding, Ownership, SoleOwnership
from wayfare.engine.profiles import EngineProfiles
from wayfare.engine.queues import Acting, QueueLook, StoreQueues
from wayfare.engine.step import Step, VersionKey
from wayfare.errors import FencedError, InfrastructureError
from wayfare.ids import Entropy, SystemEntropy
from wayfare.log.ports import EventLog, LogLag, LogSlice
from wayfare.model.admission import NO_PERSON, Candidate, admit
from wayfare.model.audiences import AudienceStart
from wayfare.model.events import Unmatched
from wayfare.model.instances import (
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
from wayfare.model.journey import JourneyDefinition, parse_journey
from wayfare.model.merged_runs import woken
from wayfare.model.nesting import MAX_NESTING, nesting
from wayfare.model.partitions import partition_of
from wayfare.model.profile_merge import PersonView
from wayfare.model.runs import (
    Discard,
    ForwardedEvent,
    JourneyVersion,
    MatchedMessage,
    NewAction,
    NewTimer,
    OutboxItem,
    StepRecord,
)
from wayfare.observability.metrics import process_metrics
from wayfare.store.ports import AudienceStore, IdentityGraph, JourneyStore
from wayfare.tasks import cancel_and_wait

log = logging.getLogger(__name__)
T = TypeVar("T")
READ_LIMIT = 500
"""Entries read from each partition per cycle."""
LAG_SECONDS = 1.0
"""How often the engine measures its lag (the entries of its partitions not yet read)."""
REVIEW_SECONDS = 10.0
"""How often the engine holding partition 0 evaluates a page of audience members again, for
time passing (their counted events leave the window)."""
REVIEW_PAGE = 200
"""Members evaluated again in one review."""
RECENT_INSTANCES = 20_000
"""Live instances kept in memory as last committed, so an action's outcome or a timer
finds its instance without a read."""
STOPPED = "journey stopped"
FAILURE_LIMIT = 20
"""Steps of one journey version failing in a row (none going through in between) before the
engine pauses it (Settings.journey_failure_limit)."""


class JourneyRuntime:
    """Two loops: the engine (one commit per cycle, on one worker thread) and the dispatcher
    (delivering what the engine committed, on the event loop)."""

    def __init__(
        self,
        store: JourneyStore,
        event_log: EventLog,
        clock: Clock,
        sender: Sender,
        *,
        entropy: Entropy | None = None,
        ownership: Ownership | None = None,
        poll_seconds: float = 0.25,
        test_wait_ms: int = 10_000,
        per_host: int = 32,
        outbox_capacity: int = 10_000,
        failure_limit: int = FAILURE_LIMIT,
        identity_graph: IdentityGraph | None = None,
        audiences: AudienceStore | None = None,
        profiles: EngineProfiles | None = None,
    ) -> None:
        self._store = store
        self._audiences = (
            AudienceChecks(audiences, self._audience_starts, event_log.partitions)
            if audiences is not None
            else None
        )
        """Where audiences are read (none: no audience is evaluated)."""
        self._starts: dict[str, tuple[AudienceStart, ...]] = {}
        """Each org's journeys starting on audience qualification that take people in: kept
        until the store's journeys change."""
        self._graph = identity_graph
        """Where orgs' own namespaces are read (none: the built-in ones only)."""
        self._profiles = profiles
        """Where Profile records and merged profiles are read (none: no record updates a
        fragment, and ``#{profile.…}`` reads null)."""
        self._log = event_log
        self._clock = clock
        self._sender = sender
        self._entropy = entropy or SystemEntropy()
        self._poll = poll_seconds
        self._test_wait_ms = test_wait_ms
        self._failure_limit = failure_limit
        self._failing: dict[VersionKey, int] = {}
        """Steps of each version failed in a row (by this engine)."""
        self._careful = False
        """The last cycle failed on something other than the store or the log: check what
        each instance's step would store before taking it (_apply)."""
        self._ownership = ownership or SoleOwnership(event_log.partitions)
        self._holding = Holding(frozenset())
        """What the engine acted on in its last cycle (see _see_holding)."""
        self._definitions: dict[tuple[str, str, int], JourneyDefinition] = {}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="wayfare-journeys")
        self._dispatcher = Dispatcher(
            sender,
            clock,
            self._load_pending,
            self._on_result,
            per_host=per_host,
            capacity=outbox_capacity,
            send_until=lambda item: self._ownership.act_until(item.partition),
        )
        self._results: deque[tuple[OutboxItem, Delivery]] = deque()
        self._recent: OrderedDict[str, Instance] = OrderedDict()
        self._positions: dict[int, int] | None = None
        self._entries: dict[tuple[str, str], list[JourneyVersion]] = {}
        """Journeys each (org, event) enters, and events each org's journeys await: kept
        until the store's journeys change (its generation moves)."""
        self._awaited: dict[str, set[str]] = {}
        self._journeys_seen = -1
        self._sweep_stopped = True
        """Look for people inside stopped journeys (at start, and after journeys change)."""
        self._queues = StoreQueues(
            store,
            clock,
            Acting(self._apply, self._enter, self._discard, self.definition, self._entry_journeys),
        )
        self._review_look = QueueLook(REVIEW_SECONDS)
        self._reviewed: tuple[str, str, str] | None = None
        """Where the review of audience members got to (None: at the start)."""
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
        await self._log.start()
        await self._ownership.start()
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
            await cancel_and_wait(task)
            if task is tasks[0]:
                await self._dispatcher.finish(grace)
        with contextlib.suppress(Exception):  # outcomes already in: record them, or resend
            await self._call(self._record_outcomes)
        self._loop = None
        await self._sender.stop()
        await self._ownership.stop()
        await self._log.stop()
        self._executor.shutdown(wait=True)

    def wake(self) -> None:
        """Make the engine look for work now (callable from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _engine_loop(self) -> None:
        metrics = process_metrics()
        next_lag = 0.0
        while True:
            try:
                started = time.perf_counter()
                holding = await self._see_holding()
                slices = await self._read_log(holding)
                busy = await self._call(self.cycle, slices, holding)
                for s in slices:
                    await self._log.acknowledge(s.partition, s.last)
                metrics.cycle_seconds.observe(time.perf_counter() - started)
                metrics.outbox_depth.set(self._dispatcher.in_memory)
                if started >= next_lag:  # one look at the log's head a second at most
                    next_lag = started + LAG_SECONDS
                    await self._measure_lag(holding)
            except asyncio.CancelledError:
                raise
            except FencedError as exc:
                log.warning("journey engine: %s; learning which partitions it holds", exc)
                self._ownership.lost()
                busy = False
            except Exception:
                log.exception("journey engine failed; retrying")
                await asyncio.sleep(self._poll)  # not a line per wake while it keeps failing
                busy = False
            if not busy:
                await self._idle()

    async def _measure_lag(self, holding: Holding) -> None:
        """Entries of the held partitions not yet consumed, where the log can tell (a
        partition it cannot tell of now counts none)."""
        if not isinstance(self._log, LogLag) or self._positions is None:
            return
        lag = 0
        for partition in holding.partitions:
            try:
                behind = await self._log.behind(partition, self._positions.get(partition, 0))
            except InfrastructureError as exc:
                log.warning("journey engine: its lag cannot be read: %s", exc.message)
                return
            lag += behind or 0
        process_metrics().engine_lag.set(lag)

    async def _see_holding(self) -> Holding:
        """Take in which partitions the engine holds now (between cycles: nothing else runs
        on what this changes). What was kept of a partition lost is dropped (even what was
        in flight), as another engine moves its instances now; a partition gained, or acted
        on again once its lease was renewed, is read from the store (ownership.py)."""
        holding, held = self._ownership.holding(), self._holding
        self._holding = holding
        await self._hand_over(holding.draining - held.draining, holding.draining)
        lost = holding.lost_since(held)
        gained = holding.partitions - (held.partitions - lost)
        if not lost and not gained and holding.partitions == held.partitions:
            return holding
        for partition in held.partitions - holding.partitions | lost:
            await self._log.release(partition)
        if lost:
            for instance_id in [i for i, inst in self._recent.items() if inst.partition in lost]:
                del self._recent[instance_id]
            kept = [(item, d) for item, d in self._results if item.partition not in lost]
            self._results = deque(kept)
            self._dispatcher.forget(lost)
        if gained:
            self._dispatcher.reload()
            self._timer_floor = 0
            self._sweep_stopped = True
            self._queues.soon()
        self._positions = None  # read again, for what is held now
        return holding

    async def _hand_over(self, starting: frozenset[int], draining: frozenset[int]) -> None:
        """Partitions over this engine's share: from the moment they start draining, take no
        new work from them and drop what is kept of them; once no delivery of theirs is in
        flight or waiting to be recorded, release them (model/assignment.py)."""
        if starting:
            for instance_id in [i for i, x in self._recent.items() if x.partition in starting]:
                del self._recent[instance_id]
            self._dispatcher.drain(starting)
        waiting = {item.partition for item, _ in self._results}
        drained = [p for p in draining if p not in waiting and not self._dispatcher.sending(p)]
        if drained:
            await self._ownership.hand_over(drained)

    async def _read_log(self, holding: Holding) -> list[LogSlice]:
        if self._positions is None:
            self._positions = await self._call(self._store.log_positions, holding.partitions)
        slices = []
        for partition in sorted(holding.partitions):
            after = self._positions.get(partition, 0)
            read = await self._log.read(partition, after, READ_LIMIT)
            if not read.empty:
                slices.append(read)
        return slices

    async def _idle(self) -> None:
        seconds = self._idle_seconds()
        waits = [
            asyncio.ensure_future(self._log.wait(seconds)),
            asyncio.ensure_future(self._wake.wait()),
        ]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        self._wake.clear()

    def _idle_seconds(self) -> float:
        if self._timer_floor is None:
            return self._poll
        until = (self._timer_floor - self._clock.now_ms()) / 1000
        return min(self._poll, max(until, 0.001))

    async def _load_pending(self, after_id: int, limit: int) -> list[OutboxItem]:
        partitions = self._holding.partitions
        return await self._call(self._store.pending_outbox, partitions, after_id, limit)

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
            self._starts.clear()
            self._sweep_stopped = True

    def definition(self, org_id: str, name: str, version: int) -> JourneyDefinition | None:
        key = (org_id, name, version)
        if key not in self._definitions:
            found = self._store.get_journey(org_id, name, version)
            if found is None:
                return None
            self._definitions[key] = parse_journey(found.definition)
        return self._definitions[key]

    def _entry_journeys(self, org_id: str, key: str) -> list[JourneyVersion]:
        """The journeys an event (or an audience's change) of the org enters, kept until
        the store's journeys change."""
        found = self._entries.get((org_id, key))
        if found is None:
            found = self._entries[(org_id, key)] = self._store.entry_journeys(org_id, key)
        return found

    def _audience_starts(self, org_id: str) -> tuple[AudienceStart, ...]:
        """The org's journeys starting on audience qualification that take people in (live,
        or drafts in test mode; not paused), read once until journeys change."""
        found = self._starts.get(org_id)
        if found is None:
            starts = set()
            for version in self._store.active_versions(org_id):
                taking = version.state == "live" or (version.state == "draft" and version.test_mode)
                if not taking or version.paused is not None:
                    continue
                try:
                    definition = self.definition(org_id, version.name, version.version)
                except InfrastructureError:
                    raise
                except Exception:  # takes no one in (its entries would fail)
                    definition = None
                if definition is not None and definition.audience_start is not None:
                    starts.add(definition.audience_start)
            key = lambda s: (s.audience, s.status, s.namespace or "")  # noqa: E731
            found = self._starts[org_id] = tuple(sorted(starts, key=key))
        return found

    def _awaited_events(self, org_id: str) -> set[str]:
        """Events some instance of the org may be waiting for."""
        events: set[str] = set()
        for version in self._store.active_versions(org_id):
            try:
                definition = self.definition(org_id, version.name, version.version)
            except InfrastructureError:
                raise
            except Exception:  # awaits nothing: its people end in error as they move (_apply)
                definition = None
            if definition is not None:
                events |= definition.awaited_events()
        return events

    # applying a trigger
    def _apply(
        self,
        step: Step,
        inst: Instance,
        trigger: Trigger,
        profile: PersonView | None = None,
    ) -> None:
        now = self._clock.now_ms()
        definition, node = None, inst.node
        try:
            definition = self.definition(inst.org_id, inst.journey, inst.version)
            if definition is None:
                return
            if profile is None and (definition.reads_profile or definition.writes_profile):
                entry = inst.events.get(definition.entry_event)
                profile = self._profile(step, inst.org_id, definition, inst.identity, entry)
            outcome = advance(
                definition,
                inst,
                trigger,
                now,
                test_wait_ms=self._test_wait_ms,
                profile=profile,
            )
            if self._careful:
                node = outcome.instance.node or node  # where what it made was made
                _check_storable(outcome)
        except InfrastructureError:
            raise
        except Exception as exc:  # of this journey alone: its definition, or what it made
            outcome = failed(definition, inst, now, failure_cause(exc), node)
        self._count(step, (inst.org_id, inst.journey, inst.version), _failure_of(inst, outcome))
        new = outcome.instance
        batch = step.batch
        jumps: list[JumpTo] = []
        for command in outcome.commands:
            if isinstance(command, ScheduleTimer):
                batch.new_timers.append(
                    NewTimer(
                        new.instance_id, new.partition, command.due_ms, command.token, command.kind
                    )
                )
            elif isinstance(command, Dispatch):
                batch.new_actions.append(
                    NewAction(
                        new.instance_id,
                        new.partition,
                        command.node,
                        command.token,
                        command.kind,
                        command.request,
                        command.key,
                        now,
                    )
                )
            elif isinstance(command, StepEvent):
                batch.steps.append(
                    StepRecord(
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
            elif isinstance(command, UpdateProfile):
                batch.profile_updates.append(command.update)
        if not new.live:
            batch.clear_timers.append(new.instance_id)
        step.note(new)
        for jump in jumps:
            target = self._store.get_journey(new.org_id, jump.journey)
            if target is None or target.state != "live" or target.paused is not None:
                log.warning(
                    "journey %s: jump target %s takes no one in (not live, or paused)",
                    new.journey,
                    jump.journey,
                )
                continue
            self._enter(
                step, target, target.entry_event, new.identity, jump.entity, new.chain, jumped=True
            )

    def _profile(
        self,
        step: Step,
        org_id: str,
        definition: JourneyDefinition,
        identity: str,
        entry: Any,
    ) -> PersonView | None:
        """The profile of the person of ``identity`` (in the namespace of the journey's
        entry event, or for a journey starting on an audience, of the identity its entry
        carried: ``entry``), with what this cycle links and applies before committing
        (engine/profiles.py); None without profiles, or once the entry event is gone."""
        if self._profiles is None:
            return None
        if definition.audience_start is None:
            namespace = self._profiles.event_namespace(org_id, definition.entry_event)
        else:
            namespace = _entry_namespace(entry)
        if namespace is None:
            return None
        batch = step.batch
        return self._profiles.view_of(
            org_id, namespace, identity, batch.links, batch.profile_updates
        )

    def _discard(
        self, step: Step, org_id: str, journey: str, identity: str | None, cause: str
    ) -> None:
        step.batch.discards.append(Discard(org_id, journey, identity, cause, self._clock.now_ms()))

    def _count(self, step: Step, key: VersionKey, failure: str | None) -> None:
        """A step of the version went through (``failure`` None) or failed; failed
        ``failure_limit`` times in a row, the version is paused once the step is committed."""
        if failure is None:
            self._failing.pop(key, None)
            return
        failures = self._failing[key] = self._failing.get(key, 0) + 1
        if 0 < self._failure_limit <= failures:
            step.pauses[key] = (
                f"paused by the journey engine: {failures} steps failed in a row; "
                f"the last: {failure}"
            )

    def _pause(self, pauses: dict[VersionKey, str]) -> None:
        now = self._clock.now_ms()
        for key, reason in pauses.items():
            org_id, name, version = key
            found = self._store.get_journey(org_id, name, version)
            if found is not None and found.paused is None:
                self._store.pause_journey(org_id, name, version, reason, now)
                log.warning("journey %s version %d of %s: %s", name, version, org_id, reason)
            self._failing.pop(key, None)

    def _enter(
        self,
        step: Step,
        version: JourneyVersion,
        event: str,
        identity: str,
        entity: dict[str, Any],
        chain: int = 0,
        *,
        jumped: bool = False,
    ) -> None:
        """``chain``: of an entry by an audience change journeys made (``Instance.chain``)."""
        org_id = version.org_id
        key = (org_id, version.name, version.version)
        test = version.state == "draft"
        now = self._clock.now_ms()
        try:
            definition = self.definition(*key)
            if definition is None:
                return
            candidate = Candidate(
                reentrance=definition.reentrance,
                reentry_wait_ms=definition.reentry_wait_ms,
                test=test,
                test_profile=test and self._store.is_test_profile(org_id, identity),
                inside=any(i.journey == version.name for i in step.live_of(org_id, identity)),
                last=step.last_of(org_id, version.name, identity),
                jumped=jumped,
                jumps=step.jump(org_id, identity) if jumped else 0,
                chain=chain,
            )
            admission = admit(candidate, now)
            if admission.enter:  # the identity may enter: may its person (if merged)?
                candidate = self._as_person(step, candidate, version, event, identity)
                admission = admit(candidate, now)
        except InfrastructureError:
            raise
        except Exception as exc:  # of this journey alone (a definition that no longer parses)
            cause = f"entry failed: {failure_cause(exc)}"
            self._discard(step, org_id, version.name, identity, cause)
            self._count(step, key, cause)
            return
        if not admission.enter:
            if admission.cause is not None:
                self._discard(step, org_id, version.name, identity, admission.cause)
            return
        profile = None
        if definition.reads_profile or definition.writes_profile:
            profile = self._profile(step, org_id, definition, identity, entity)
            known = profile is not None and profile.known
            # a test profile is a person the org named (test mode), whether linked or not
            if definition.reads_profile and self._profiles is not None and not known and not test:
                self._discard(step, org_id, version.name, identity, NO_PERSON)
                return
        inst = Instance(
            instance_id=self._entropy.instance_id(),
            org_id=org_id,
            journey=version.name,
            version=version.version,
            identity=identity,
            seed=self._entropy.seed(),
            entered_ms=now,
            test=test,
            partition=partition_of(org_id, identity, self._log.partitions),
            chain=chain,
        )
        self._apply(step, inst, Enter(event, entity), profile)

    def _as_person(
        self,
        step: Step,
        candidate: Candidate,
        version: JourneyVersion,
        event: str,
        identity: str,
    ) -> Candidate:
        """``candidate`` with the journey's instances (any version) under the other
        identities of the person of ``identity`` (persons merged into it): whether one is
        live, and the latest under each (model/admission.py). Asked only of an entry the
        identity's own instances let through: a read of the person (once a cycle), and
        nothing more for a person of one identity. The others' instances are read as
        committed, on whichever partition they are."""
        org_id, journey = version.org_id, version.name
        others = self._other_ids(step, org_id, event, identity)
        if not others:
            return candidate
        stays = (step.last_of(org_id, journey, x) for x in others)
        return dataclasses.replace(
            candidate,
            person_inside=any(
                i.journey == journey for x in others for i in step.live_of(org_id, x)
            ),
            person_stays=tuple(s for s in stays if s is not None),
        )

    def _other_ids(self, step: Step, org_id: str, event: str, identity: str) -> list[str]:
        """The ids of the other identities of the person of ``identity`` (in ``event``'s
        namespace; with the cycle's links), their people known to the step; none without
        profiles, or for a person of one identity."""
        if self._profiles is None:
            return []
        ids = self._profiles.person_ids(org_id, event, identity, step.batch.links)
        others = sorted(ids - {identity})
        if others:
            step.know(org_id, others)
        return others

    # one cycle of the engine
    def cycle(self, slices: Sequence[LogSlice] = (), holding: Holding | None = None) -> bool:
        """Record delivery outcomes, fire due timers, take test entries, exit people from
        stopped journeys, act on what was read from the log; commit once. True when there
        is more to do right away."""
        self._see_journey_changes()
        if holding is not None:
            self._holding = holding
        if self._profiles is not None:
            self._profiles.begin_cycle()
        step = self._step()
        try:
            busy = self._record_outcomes_into(step)
            busy = self._fire_due_timers(step) or busy
            busy = self._consume(step, slices) or busy
            busy = self._queues.take(step, self._holding.partitions) or busy
            busy = self._exit_stopped(step) or busy
            self._check_profile_changes(step)
            reviewed = self._review_members(step)
            self._commit(step)
        except Exception as exc:
            # Nothing of the step is stored: its outcomes are recorded by a later one (the
            # dispatcher holds their items until then), its events, timers and the people of
            # stopped journeys read again.
            self._results.extendleft(reversed(step.outcomes))
            self._sweep_stopped = True
            if not isinstance(exc, InfrastructureError):
                self._careful = True  # one instance's changes may be what cannot be stored
            raise
        self._careful = False
        self._reviewed = reviewed
        if any(check.starts for check in step.batch.audience_checks):
            self._queues.audiences.soon()  # what the commit queued, taken in the next cycle
            busy = True
        self._pause(step.pauses)
        if self._reread_timers:
            self._timer_floor = self._store.next_timer_ms(self._holding.partitions)
            self._reread_timers = False
        return busy

    def _step(self) -> Step:
        step = Step(self._store, self._recent)
        step.batch.owner = self._holding.owner
        step.batch.fences = dict(self._holding.fences)
        return step

    def _commit(self, step: Step) -> None:
        step.batch.instances = list(step.touched.values())
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
        if self._positions is not None:
            self._positions.update(step.batch.positions)
        for timer in step.batch.new_timers:
            if self._timer_floor is None or timer.due_ms < self._timer_floor:
                self._timer_floor = timer.due_ms
        if (new or step.finished or step.retries) and self._loop is not None:
            self._loop.call_soon_threadsafe(
                self._dispatcher.committed, new, step.finished, step.retries
            )

    def _consume(self, step: Step, slices: Sequence[LogSlice]) -> bool:
        """Feed the events read to waiting instances and journey entries."""
        if not slices:
            return False
        retried = retried_in(slices, self._store)
        namespaces = CycleNamespaces(self._graph)
        if self._profiles is not None:
            self._profiles.see_changes()
        for read in slices:
            step.batch.messages.extend(read.messages)
            step.batch.positions[read.partition] = read.last
            link_read(step, read, namespaces, retried, self._profiles, self._entropy.person_id)
        keep_person_events(step, self._profiles, self._clock.now_ms())
        self._see_journey_changes()  # after the events: one published before them is seen
        if self._audiences is not None:
            step.batch.audience_checks = self._audiences.checks(
                [m for read in slices for m in read.matched],
                retried,
                namespaces,
                self._clock.now_ms(),
            )
        awaited = self._awaited
        wanted: list[tuple[MatchedMessage, list[JourneyVersion]]] = []
        people: dict[str, list[str]] = {}
        for read in slices:
            for m in read.matched:
                if m.xaction_id in retried:
                    continue
                journeys = self._entry_journeys(m.org_id, m.event)
                if m.org_id not in awaited:
                    awaited[m.org_id] = self._awaited_events(m.org_id)
                if journeys or m.event in awaited[m.org_id]:
                    wanted.append((m, journeys))
                    if m.identity is not None:
                        people.setdefault(m.org_id, []).append(m.identity)
        for org_id, identities in people.items():
            step.know(org_id, identities)
        self._prefetch_profiles(wanted)
        for m, journeys in wanted:
            self._consume_one(step, m, journeys)
        return any(read.more for read in slices)

    def _prefetch_profiles(self, wanted: list[tuple[MatchedMessage, list[JourneyVersion]]]) -> None:
        """The persons of the people entering journeys, and the stored fragments of those
        entering journeys that use profiles: one read of each per org and event, not one
        an entry (engine/profiles.py)."""
        if self._profiles is None:
            return
        entering: dict[tuple[str, str], set[str]] = {}
        profiled: dict[tuple[str, str], set[str]] = {}
        for m, journeys in wanted:
            if m.identity is not None and journeys:
                entering.setdefault((m.org_id, m.event), set()).add(m.identity)
                if any(self._uses_profile(v) for v in journeys):
                    profiled.setdefault((m.org_id, m.event), set()).add(m.identity)
        for (org_id, event), identities in entering.items():  # whose are they (re-entrance)
            self._profiles.prefetch_persons(org_id, event, identities)
        for (org_id, event), identities in profiled.items():
            self._profiles.prefetch(org_id, event, identities)

    def _uses_profile(self, version: JourneyVersion) -> bool:
        try:
            definition = self.definition(version.org_id, version.name, version.version)
        except InfrastructureError:
            raise
        except Exception:  # its entry is discarded with the cause (_enter)
            return False
        return definition is not None and (definition.reads_profile or definition.writes_profile)

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
        if m.event in self._awaited.get(m.org_id, ()):
            self._wake_merged(step, m, m.identity)
        for version in journeys:
            self._enter(step, version, m.event, m.identity, m.entity)

    def _wake_merged(self, step: Step, m: MatchedMessage, identity: str) -> None:
        """Wake the instances the person of ``identity`` keeps under its other identities
        (it merged with other persons) that wait for the event (model/merged_runs.py,
        ``woken``): in this step when this engine holds the instance's partition, else
        through the store, for the engine that holds it (``_take_forwarded``). Costs a read
        of the person (once a cycle) for an event some journey awaits, and nothing more
        for a person of one identity."""
        others = self._other_ids(step, m.org_id, m.event, identity)
        if not others:
            return
        live = [i for x in (identity, *others) for i in step.live_of(m.org_id, x)]
        for inst in woken(m.event, identity, live, self._awaited_at):
            if inst.partition in self._holding.partitions:
                self._apply(step, inst, EventArrived(m.event, m.entity))
            else:
                step.batch.forwards.append(
                    ForwardedEvent(inst.org_id, inst.instance_id, inst.partition, m.event, m.entity)
                )

    def _awaited_at(self, inst: Instance) -> frozenset[str]:
        """The events the activity ``inst`` is at waits for."""
        try:
            definition = self.definition(inst.org_id, inst.journey, inst.version)
        except InfrastructureError:
            raise
        except Exception:  # awaits nothing: it ends in error as it next moves (_apply)
            return frozenset()
        activity = definition.activities.get(inst.node or "") if definition else None
        if activity is None:
            return frozenset()
        return frozenset(b.event for b in activity.branches if b.event)

    def _fire_due_timers(self, step: Step, limit: int = 500) -> bool:
        now = self._clock.now_ms()
        if self._timer_floor is None or self._timer_floor > now:
            process_metrics().timers_due.set(0)
            return False
        due = self._store.due_timers(self._holding.partitions, now, limit)
        process_metrics().timers_due.set(len(due))
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

    def _check_profile_changes(self, step: Step) -> None:
        """The audiences reading the profile, for the profile changes of the cycle: Profile
        records read and updateProfile activities carried out."""
        if self._audiences is not None and step.batch.profile_updates:
            step.batch.audience_checks += self._audiences.for_profile_changes(
                step.batch.profile_updates, self._clock.now_ms()
            )

    def _review_members(self, step: Step) -> tuple[str, str, str] | None:
        """Every REVIEW_SECONDS, on the engine holding partition 0 (one engine, however many
        run), a page of audience members evaluated again in the cycle's commit, for time
        passing; where the review gets to once the commit is in."""
        graph = self._graph
        if (
            self._audiences is None
            or graph is None
            or 0 not in self._holding.partitions
            or not self._review_look.due(self._clock.now_ms())
        ):
            return self._reviewed
        checks, reached = self._audiences.for_time_passing(
            self._reviewed, REVIEW_PAGE, graph.person, self._clock.now_ms()
        )
        step.batch.audience_checks += checks
        return reached

    def _exit_stopped(self, step: Step, limit: int = 500) -> bool:
        """Everyone inside a stopped journey exits."""
        if not self._sweep_stopped:
            return False
        inside = self._store.stopped_instances(self._holding.partitions, limit)
        for found in inside:
            inst = step.freshest(found)
            if inst.live:
                self._apply(step, inst, Stop(STOPPED))
        self._sweep_stopped = len(inside) == limit
        return self._sweep_stopped

    def _record_outcomes(self) -> None:
        step = self._step()
        self._record_outcomes_into(step)
        self._commit(step)

    def _record_outcomes_into(self, step: Step, limit: int = 1000) -> bool:
        """Delivery outcomes, up to ``limit`` of them (engine/deliveries.py); True when more
        wait."""
        results: list[tuple[OutboxItem, Delivery]] = []
        while self._results and len(results) < limit:
            results.append(self._results.popleft())
        if not results:
            return False
        settle(step, results, self._clock.now_ms(), self._apply)
        return bool(self._results)


def _entry_namespace(entry: Any) -> str | None:
    """The namespace of the identity a journey starting on an audience entered with (its
    entry's ``identity``, model/audiences.py ``AudienceEntry.entity``)."""
    found = entry.get("identity") if isinstance(entry, dict) else None
    namespace = found.get("namespace") if isinstance(found, dict) else None
    return namespace if isinstance(namespace, str) and namespace else None


def _check_storable(outcome: Outcome) -> None:
    """Raise if what the step changed cannot be stored: the instance's state and the
    requests of its actions as JSON (as the stores write them), its step details as text."""
    orjson.dumps(outcome.instance)
    for command in outcome.commands:
        if isinstance(command, Dispatch):
            orjson.dumps(command.request)
        elif isinstance(command, StepEvent) and command.detail is not None:
            command.detail.encode("utf-8")
        elif isinstance(command, UpdateProfile):
            orjson.dumps(command.update.attributes)


def _failure_of(before: Instance, outcome: Outcome) -> str | None:
    """Why the step ended the instance in error, if it did: a raised failure, or an error
    the step met (a value it could not use, say), which counts the same for pausing."""
    if outcome.failure is not None or outcome.instance.status != "error":
        return outcome.failure
    if before.status == "error":
        return None
    errors = [c for c in outcome.commands if isinstance(c, StepEvent) and c.status == "error"]
    return (errors[-1].detail if errors else None) or "the step ended in error"
