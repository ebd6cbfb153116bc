"""Journeys: save (checked against the events' schemas), version, publish, close, stop,
resume (a version the journey engine paused), test mode, reports."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from wayfare.clock import Clock
from wayfare.engine.core import ENTRY
from wayfare.errors import ConflictError, InvalidRequestError, NotFoundError, Violation
from wayfare.model.audiences import AudienceEntry
from wayfare.model.destinations import DestinationPolicy, authority_written, url_destination
from wayfare.model.events import EventConfig
from wayfare.model.identities import Identity, normalise
from wayfare.model.journey import Activity, JourneyDefinition, parse_journey
from wayfare.model.partitions import partition_of
from wayfare.model.resources import Schema
from wayfare.model.runs import JourneyPeople, JourneyVersion, TestEntry, people_counts
from wayfare.model.schema_paths import field_schema
from wayfare.registry.events import EventRegistry
from wayfare.registry.profile_paths import profile_schemas as read_profile_schemas
from wayfare.registry.profile_paths import unknown_profile_field
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.ports import AudienceStore, JourneyStore

_INDEX = re.compile(r"\[\d+\]")
ENGINE_WAIT_SECONDS = 10.0
"""How long a stop or a test event waits for the journey engines to act on it."""


def _carried(config: EventConfig, path: str) -> bool:
    """Does the event carry ``path`` among its payload fields?"""
    bare = _INDEX.sub("", path)
    return any(
        bare == f or bare.startswith(f + ".") or f.startswith(bare + ".") for f in config.fields
    )


class JourneyRegistry:
    def __init__(
        self,
        store: JourneyStore,
        clock: Clock,
        events: EventRegistry,
        schemas: SchemaRegistry,
        destinations: DestinationPolicy,
        *,
        partitions: int = 1,
        wake_engine: Callable[[], None] = lambda: None,
        audiences: AudienceStore | None = None,
    ) -> None:
        self._store = store
        self._audiences = audiences
        """Where the audiences journeys may start on are (none: no journey may)."""
        self._clock = clock
        self._events = events
        self._schemas = schemas
        self._destinations = destinations
        self._partitions = partitions
        self._wake_engine = wake_engine

    # reading
    def get(self, org_id: str, name: str, version: int | None = None) -> JourneyVersion:
        found = self._store.get_journey(org_id, name, version)
        if found is None:
            raise NotFoundError(f"Journey {name!r} was not found in org {org_id}")
        return self._shown(found)

    def all(self, org_id: str) -> list[JourneyVersion]:
        return [self._shown(v) for v in self._store.list_journeys(org_id)]

    def versions(self, org_id: str, name: str) -> list[JourneyVersion]:
        self.get(org_id, name)
        return [self._shown(v) for v in self._store.journey_versions(org_id, name)]

    def _shown(self, version: JourneyVersion) -> JourneyVersion:
        """A closed version with nobody left inside is finished."""
        if version.state != "closed":
            return version
        inside = self._store.journey_instances(version.org_id, version.name, live_only=True)
        if any(i.version == version.version for i in inside):
            return version
        return dataclasses.replace(version, state="finished")

    def live_version(self, org_id: str, name: str) -> JourneyVersion | None:
        return next(
            (v for v in self._store.journey_versions(org_id, name) if v.state == "live"), None
        )

    # checking a definition against the events it reads
    def check(self, org_id: str, data: object) -> JourneyDefinition:
        definition = parse_journey(data)
        problems: list[Violation] = []
        events: dict[str, EventConfig] = {}
        for name in sorted(definition.events_named()):
            try:
                events[name] = self._events.get(org_id, name)
            except NotFoundError:
                where = "/entry/event" if name == definition.entry_event else "/activities"
                problems.append(Violation(where, "enum", f"no event named {name!r}"))
        start = definition.audience_start
        if start is not None and (
            self._audiences is None or self._audiences.get_audience(org_id, start.audience) is None
        ):
            problems.append(
                Violation("/entry/audience", "enum", f"no audience named {start.audience!r}")
            )
        node_ids = set(definition.activities)
        profile_schemas: list[Schema] | None = None  # read when a profile path is checked

        def profile_field(path: str) -> str | None:
            """Why ``path`` is no field of the org's Profile schemas, or None."""
            nonlocal profile_schemas
            if profile_schemas is None:
                profile_schemas = read_profile_schemas(self._schemas, org_id)
            return unknown_profile_field(path, profile_schemas)

        for activity in definition.activities.values():
            if (refused := self._refused_destination(activity)) is not None:
                pointer = f"/activities/{activity.id}/url"
                problems.append(Violation(pointer, "destination", refused))
            changed = [(f"set/{p}", p) for p, _ in activity.profile_set]
            for where, changes in changed + [("remove", p) for p in activity.profile_remove]:
                if (why := profile_field(changes)) is not None:
                    pointer = f"/activities/{activity.id}/{where}"
                    problems.append(Violation(pointer, "enum", f"{changes!r} {why}"))
            for where, expr in activity.expressions():
                pointer = f"/activities/{activity.id}/{where}"
                for path in expr.paths():
                    hint = (
                        f"write @event{{{definition.entry_event}.{path.dotted}}}"
                        if start is None
                        else "a journey starting on an audience has no entry event"
                    )
                    problems.append(
                        Violation(
                            pointer,
                            "expression",
                            f"{path.dotted!r} (column {path.column}) reads no event: {hint}",
                        )
                    )
                problems += [
                    Violation(
                        pointer,
                        "expression",
                        f"count({term.event} in last …) (column {term.column}) counts a "
                        "person's events in an audience, not in a journey",
                    )
                    for term in expr.event_counts()
                ]
                for ref in expr.refs():
                    if ref.kind == "event":
                        config = events.get(ref.name)
                        if config is None:
                            problems.append(
                                Violation(
                                    pointer,
                                    "expression",
                                    f"@event{{{ref.name}}} (column {ref.column}) is not the entry "
                                    "event nor an awaited one",
                                )
                            )
                            continue
                        schema = self._schemas.get(org_id, config.schema_id)
                        if ref.parts and (
                            field_schema(schema.json_schema, _INDEX.sub("", ref.dotted)) is None
                            or not _carried(config, ref.dotted)
                        ):
                            problems.append(
                                Violation(
                                    pointer,
                                    "expression",
                                    f"event {ref.name!r} does not carry {ref.dotted!r} "
                                    f"(column {ref.column}); its fields: "
                                    f"{', '.join(config.fields)}",
                                )
                            )
                    elif ref.kind == "profile":
                        if (why := profile_field(ref.dotted)) is not None:
                            problems.append(
                                Violation(
                                    pointer,
                                    "expression",
                                    f"#{{profile.{ref.dotted}}} (column {ref.column}) {why}",
                                )
                            )
                    elif ref.kind == "action" and ref.name not in node_ids:
                        problems.append(
                            Violation(
                                pointer,
                                "expression",
                                f"@action{{{ref.name}}} (column {ref.column}) names no activity",
                            )
                        )
        if problems:
            detail = "; ".join(f"{v.pointer}: {v.message}" for v in problems)
            raise InvalidRequestError(f"invalid journey: {detail}", violations=tuple(problems))
        return definition

    def _refused_destination(self, activity: Activity) -> str | None:
        """Why the destination policy refuses an HTTP activity's URL, when the URL's host is
        written out; a host a template fills in is judged when the action is sent."""
        if activity.http is None:
            return None
        parts = activity.http.url.parts
        written = parts[0] if parts and isinstance(parts[0], str) else ""
        if len(parts) > 1 and not authority_written(written):
            return None
        found = url_destination(written)
        refused = None if found is None else self._destinations.host_refusal(*found)
        return None if refused is None else f"the URL's host is refused: {refused}"

    # writing
    def save(self, org_id: str, data: object) -> JourneyVersion:
        """Create a journey, change its draft, or start a new draft version of a live one."""
        definition = self.check(org_id, data)
        assert isinstance(data, dict)
        now = self._clock.now_ms()
        latest = self._store.get_journey(org_id, definition.name)
        if latest is not None and latest.definition == data:
            return latest
        if latest is not None and latest.state == "draft":
            version = JourneyVersion(
                org_id,
                definition.name,
                latest.version,
                "draft",
                definition.entry_event,
                dict(data),
                latest.test_mode,
                latest.created_ms,
                now,
            )
            self._store.replace_draft(version)
            return version
        number = latest.version + 1 if latest is not None else 1
        version = JourneyVersion(
            org_id,
            definition.name,
            number,
            "draft",
            definition.entry_event,
            dict(data),
            False,
            now,
            now,
        )
        self._store.add_journey_version(version)
        return version

    def publish(self, org_id: str, name: str) -> JourneyVersion:
        latest = self.get(org_id, name)
        if latest.state != "draft":
            raise ConflictError(
                f"Journey {name!r} has no draft to publish "
                f"(version {latest.version} is {latest.state})"
            )
        self.check(org_id, latest.definition)
        self._store.publish_journey(org_id, name, latest.version, self._clock.now_ms())
        return self.get(org_id, name, latest.version)

    def close(self, org_id: str, name: str) -> JourneyVersion:
        live = self.live_version(org_id, name)
        if live is None:
            raise ConflictError(f"Journey {name!r} has no live version to close")
        self._store.set_journey_state(org_id, name, live.version, "closed", self._clock.now_ms())
        return self.get(org_id, name, live.version)

    def resume(self, org_id: str, name: str) -> JourneyVersion:
        """Versions the journey engine paused (their steps kept failing) take people in
        again; the newest of them."""
        self.get(org_id, name)
        paused = [v for v in self._store.journey_versions(org_id, name) if v.paused is not None]
        if not paused:
            raise ConflictError(f"Journey {name!r} is not paused")
        self._store.resume_journey(org_id, name, self._clock.now_ms())
        return self.get(org_id, name, paused[-1].version)

    async def stop(self, org_id: str, name: str) -> dict[str, Any]:
        """Stop every version in one transaction; the journey engines then exit everyone
        inside (waited for, up to ENGINE_WAIT_SECONDS: what is left is still exiting)."""
        self.get(org_id, name)
        store = self._store

        def inside() -> int:
            return len(store.journey_instances(org_id, name, live_only=True, limit=1_000_000))

        before = await asyncio.to_thread(inside)
        await asyncio.to_thread(store.stop_journey, org_id, name, self._clock.now_ms())
        self._wake_engine()
        left = await _wait_for(lambda: inside() == 0, inside)
        return {"journey": name, "state": "stopped", "exited": before - left, "exiting": left}

    def set_test_mode(self, org_id: str, name: str, on: bool) -> JourneyVersion:
        latest = self.get(org_id, name)
        if latest.state != "draft":
            raise ConflictError("Test mode is for drafts; edit the journey to get a draft")
        self._store.set_journey_state(
            org_id, name, latest.version, "draft", self._clock.now_ms(), test_mode=on
        )
        return self.get(org_id, name, latest.version)

    def add_test_profile(self, org_id: str, identity: str, namespace: str | None = None) -> str:
        """Mark the identity as a test profile; its id as kept: normalised as ``namespace``'s
        ids are, when given (journeys name people so), else as given."""
        if namespace is not None:
            identity = normalise(namespace, identity)
        self._store.add_test_profile(org_id, identity)
        return identity

    async def test_event(
        self, org_id: str, name: str, identity: str, payload: dict[str, Any] | None
    ) -> dict[str, Any]:
        latest = self.get(org_id, name)
        if latest.state != "draft" or not latest.test_mode:
            raise ConflictError(
                f"Journey {name!r} is not in test mode: wayfare journeys test-mode {name} on"
            )
        if latest.paused is not None:
            raise ConflictError(
                f"Journey {name!r} is paused ({latest.paused}): wayfare journeys resume {name}"
            )
        identity = self._keyed(org_id, latest, identity)
        self._store.add_test_profile(org_id, identity)
        entity = payload if payload is not None else self._sample_entity(org_id, latest, identity)
        entry = TestEntry(
            org_id,
            name,
            latest.version,
            identity,
            partition_of(org_id, identity, self._partitions),
            entity,
        )
        entry_id = await asyncio.to_thread(self._store.add_test_entry, entry)
        self._wake_engine()
        taken = await _wait_for(lambda: self._store.test_entry_done(entry_id), lambda: 0) == 0
        return {
            "journey": name,
            "version": latest.version,
            "identity": identity,
            "entity": entity,
            "taken": taken,
        }

    def _keyed(self, org_id: str, version: JourneyVersion, raw_id: str) -> str:
        """``raw_id`` as the journey's instances are keyed: normalised as the ids of its
        entry event's namespace are (model/identities.py); as it is when the event is gone."""
        config = self._store_event(org_id, version.entry_event)
        return raw_id if config is None else normalise(config.namespace, raw_id)

    def _store_event(self, org_id: str, name: str) -> EventConfig | None:
        try:
            return self._events.get(org_id, name)
        except NotFoundError:
            return None

    def _sample_entity(self, org_id: str, version: JourneyVersion, identity: str) -> dict[str, Any]:
        start = parse_journey(version.definition).audience_start
        if start is not None:  # what a queued audience qualification gives its instance
            return AudienceEntry(
                org_id, start.audience, start.status, "", start.namespace,
                Identity(start.namespace or "", identity), 0, self._clock.now_ms(),
            ).entity()  # fmt: skip
        preview = self._events.preview(org_id, version.entry_event)
        entity: dict[str, Any] = preview["body"]["xdmEntity"]
        config = self._events.get(org_id, version.entry_event)
        if config.identifier.startswith("identityMap."):
            entity["identityMap"] = {config.namespace: [{"id": identity}]}
        return entity

    def report(self, org_id: str, name: str) -> dict[str, Any]:
        """The store's counts, with ``nodes`` in graph order (``graph_order``)."""
        latest = self.get(org_id, name)
        report = self._store.report(org_id, name)
        versions = self._store.journey_versions(org_id, name)
        paused = [  # where it keeps people out: a closed or stopped version takes no one in
            {"version": v.version, "reason": v.paused}
            for v in versions
            if v.paused is not None and v.state in ("live", "draft")
        ]
        nodes = report["nodes"]
        ordered = {node: nodes[node] for node in graph_order(versions, nodes)}
        return {
            **report,
            "nodes": ordered,
            "state": latest.state,
            "version": latest.version,
            "paused": paused,
        }

    def live_people(self, org_id: str, since_ms: int) -> list[dict[str, Any]]:
        """Each live journey of the org, by name, with its latest version and people
        (entered, inside, left, in error; ``today``: entered at ``since_ms`` or later): the
        instances are counted once for them all."""
        people = self._store.journey_people(org_id, since_ms)
        nobody = JourneyPeople({}, 0)
        shown = []
        for v in self._store.list_journeys(org_id):
            if v.state == "live":
                found = people.get(v.name, nobody)
                counts = people_counts(found.statuses)
                shown.append(
                    {
                        "journey": v.name,
                        "version": v.version,
                        **counts,
                        "today": found.entered_since,
                    }
                )
        return shown

    def waiting(self, org_id: str, name: str) -> dict[str, int]:
        """How many people are inside the journey at each activity (waiting there, or
        between two steps)."""
        self.get(org_id, name)
        return self._store.live_by_node(org_id, name)

    def follow(self, org_id: str, name: str, identity: str, limit: int) -> dict[str, Any]:
        """One person in the journey: their latest step events (newest first) and the
        activity they are at now (None when they are not inside)."""
        identity = self._keyed(org_id, self.get(org_id, name), identity)
        steps = self.steps(org_id, name, limit, identity)
        inside = [
            i
            for i in self._store.live_instances(org_id, [identity])
            if i.journey == name and i.node is not None
        ]
        return {"identity": identity, "steps": steps, "at": inside[0].node if inside else None}

    def steps(
        self, org_id: str, name: str, limit: int, identity: str | None = None
    ) -> list[dict[str, Any]]:
        """The latest step events, newest first; only ``identity``'s when given (its id
        normalised as the entry event's namespace's ids are, as instances are keyed)."""
        latest = self.get(org_id, name)
        if identity is not None:
            identity = self._keyed(org_id, latest, identity)
        return [s.as_json() for s in self._store.list_steps(org_id, name, limit, identity)]

    def journeys_using(self, org_id: str, event: str) -> list[str]:
        """Live journeys that start with ``event`` or wait for it."""
        users = set()
        for version in self._store.active_versions(org_id):
            if version.state == "live" and (
                version.entry_event == event
                or (  # a definition that does not name the event cannot await it
                    event.encode() in orjson.dumps(version.definition)
                    and event in parse_journey(version.definition).awaited_events()
                )
            ):
                users.add(version.name)
        return sorted(users)


def graph_order(versions: list[JourneyVersion], nodes: Iterable[str]) -> list[str]:
    """``nodes`` as the engine meets them: the entry, then each version's activities
    breadth-first from its entry (the latest version first), then any other by name."""
    order = [ENTRY]
    for version in sorted(versions, key=lambda v: -v.version):
        try:
            definition = parse_journey(version.definition)
        except InvalidRequestError:  # stored before today's limits: no graph to follow
            continue
        order += [a for a in definition.activity_order() if a not in order]
    present = set(nodes)
    return [n for n in order if n in present] + sorted(present.difference(order))


async def _wait_for(done: Callable[[], bool], left: Callable[[], int]) -> int:
    """Poll ``done`` (a store read) until it holds or ENGINE_WAIT_SECONDS pass; then what is
    ``left``."""
    deadline = time.monotonic() + ENGINE_WAIT_SECONDS
    while not await asyncio.to_thread(done):
        if time.monotonic() > deadline:
            return await asyncio.to_thread(left)
        await asyncio.sleep(0.02)
    return 0
