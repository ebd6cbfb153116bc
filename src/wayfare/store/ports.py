"""What the rest of Wayfare needs from storage. Adapters: ``sqlite/`` (embedded), ``postgres/``
(scale-out), ``memory.py`` (tests)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from wayfare.model.admission import Stay
from wayfare.model.assignment import Claim
from wayfare.model.audiences import (
    MAX_COUNT,
    Audience,
    AudienceEntry,
    Membership,
    MembershipChange,
)
from wayfare.model.events import EventConfig
from wayfare.model.identities import Identity, Namespace
from wayfare.model.identity_graph import Decide, Dropped, GraphChange, Person
from wayfare.model.instances import Instance
from wayfare.model.matching import MatchRecord
from wayfare.model.person_events import PersonEvent
from wayfare.model.profile_fragments import Fragment
from wayfare.model.profile_merge import MergePolicy
from wayfare.model.profile_records import ProfileUpdate
from wayfare.model.records import (
    AccessToken,
    FailedRecord,
    FirstMessage,
    IncomingMessage,
    Record,
    WriteOutcome,
)
from wayfare.model.resources import Dataset, Inlet, Org, Schema
from wayfare.model.runs import (
    DueTimer,
    EngineBatch,
    ForwardedEvent,
    JourneyPeople,
    JourneyState,
    JourneyVersion,
    OutboxItem,
    StepRecord,
    TestEntry,
)


class ResourceStore(Protocol):
    """Orgs, schemas, datasets, inlets, tokens and event configurations. Calls are short and
    synchronous."""

    def resource_generation(self) -> int:
        """Moves whenever a schema, dataset, inlet, token or event configuration is added,
        changed or removed, by any connection or process on the same store, in the change's
        own transaction: what caches of these resources key on. Reads, orgs and accepted
        messages leave it where it is."""
        ...

    def get_org(self, org_id: str) -> Org | None: ...
    def put_org(self, org: Org) -> None: ...
    def list_orgs(self) -> list[Org]:
        """Every stored org (created by a first write), by org id."""
        ...

    def add_schema(self, schema: Schema, default_dataset: Dataset | None) -> None:
        """Store a new schema version (and, for version 1, its default dataset) atomically."""
        ...

    def get_schema(self, schema_id: str, version: int | None = None) -> Schema | None:
        """The given version, or the latest one."""
        ...

    def find_schema(self, org_id: str, key: str) -> Schema | None:
        """Latest version of the org's schema whose id, altId or name is ``key``."""
        ...

    def list_schemas(self, org_id: str) -> list[Schema]: ...
    def schema_versions(self, schema_id: str) -> list[Schema]: ...

    def add_dataset(self, dataset: Dataset) -> None: ...
    def get_dataset(self, dataset_id: str) -> Dataset | None: ...
    def list_datasets(self, org_id: str, schema_id: str | None = None) -> list[Dataset]: ...
    def set_dataset_retention(self, dataset_id: str, days: int | None) -> None: ...
    def enable_dataset_profile(self, dataset_id: str) -> None: ...
    def datasets_with_retention(self) -> list[Dataset]:
        """Every org's datasets that have a retention."""
        ...

    def delete_records_before(self, dataset_id: str, before_ms: int, limit: int) -> int:
        """Delete at most ``limit`` records and as many failed records of the dataset
        received before ``before_ms``, oldest first; how many went."""
        ...

    def delete_records(self, dataset_id: str, seqs: Collection[int]) -> int:
        """Delete these records of the dataset (and the event matches read from them); how
        many went. A privacy delete's part in datasets."""
        ...

    def add_inlet(self, inlet: Inlet) -> None: ...
    def update_inlet(self, inlet: Inlet) -> None: ...
    def delete_inlet(self, inlet_id: str) -> None: ...
    def get_inlet(self, inlet_id: str) -> Inlet | None: ...
    def list_inlets(self, org_id: str) -> list[Inlet]: ...

    def add_token(self, token: AccessToken) -> None: ...
    def get_token(self, token_hash: str) -> AccessToken | None: ...
    def revoke_tokens(self, inlet_id: str) -> int: ...

    def list_records(
        self,
        dataset_id: str,
        *,
        limit: int,
        after_seq: int | None = None,
        following: bool = False,
    ) -> list[Record]:
        """The last ``limit`` records, or the first ``limit`` after ``after_seq``; oldest first.
        ``following``: for one who reads the page after this one's last seq next. The page
        then ends before any seq that a transaction still running may add, so following
        never passes a record committed late; without it, every record committed is read."""
        ...

    def count_records(self, dataset_id: str) -> int: ...

    def list_failures(
        self,
        org_id: str,
        *,
        inlet_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_seq: int | None = None,
    ) -> list[FailedRecord]:
        """Newest first; with ``before_seq``, only those before it (the next page)."""
        ...

    def delete_failures(self, org_id: str, seqs: Collection[int]) -> int:
        """Delete these failed records of the org; how many went (a privacy delete's part)."""
        ...

    def add_event(self, event: EventConfig) -> None: ...
    def update_event(self, event: EventConfig) -> None: ...
    def delete_event(self, org_id: str, name: str) -> None: ...
    def get_event(self, org_id: str, name: str) -> EventConfig | None: ...
    def list_events(self, org_id: str, schema_id: str | None = None) -> list[EventConfig]:
        """By name."""
        ...

    def list_event_matches(
        self, org_id: str, name: str, *, limit: int, also: Sequence[str] = ()
    ) -> list[MatchRecord]:
        """The outcomes kept under the event name ``name`` or any name in ``also``, newest
        first, each as it was kept."""
        ...

    def close(self) -> None: ...


class MessageWriter(Protocol):
    """Durable, group-committed writes of accepted messages.

    ``write`` returns only after the messages are committed; retries of a ``msgId`` already
    stored come back as duplicates carrying the first xactionId, and are not stored again;
    those whose message differs from the first one's (``IncomingMessage.digest``) come back
    as conflicts.
    """

    @property
    def pending(self) -> int:
        """Messages handed over and not yet committed (for backpressure)."""
        ...

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class RateBuckets(Protocol):
    """Inlets' token buckets shared by every process that admits messages (scaled out)."""

    def take(self, inlet_id: str, needed: float, wanted: float, rate: float, burst: float) -> float:
        """Tokens of the inlet's bucket (``rate`` a second, at most ``burst``): ``wanted``, or
        all there are if fewer but at least ``needed`` (needing more than ``burst`` needs a
        full bucket, and leaves it in debt); else none, and, negative, the seconds to wait
        for ``needed``."""
        ...


class JourneyCatalog(Protocol):
    """Journey versions, their states, and test profiles. Every change to a version moves
    ``generation`` in the change's own transaction."""

    @property
    def generation(self) -> int:
        """Moves whenever a journey version is added, edited or changes state (by any
        connection, or process, on the same store): what caches of journeys key on."""
        ...

    def add_journey_version(self, version: JourneyVersion) -> None: ...
    def replace_draft(self, version: JourneyVersion) -> None:
        """Change the definition of a draft version in place (a pause it had goes with the
        definition that failed)."""
        ...

    def get_journey(
        self, org_id: str, name: str, version: int | None = None
    ) -> JourneyVersion | None: ...
    def journey_versions(self, org_id: str, name: str) -> list[JourneyVersion]: ...
    def list_journeys(self, org_id: str) -> list[JourneyVersion]:
        """The latest version of each journey, by name."""
        ...

    def set_journey_state(
        self,
        org_id: str,
        name: str,
        version: int,
        state: JourneyState,
        now_ms: int,
        test_mode: bool | None = None,
    ) -> None: ...

    def publish_journey(self, org_id: str, name: str, version: int, now_ms: int) -> None:
        """In one transaction: the live version, if any, closes and ``version`` goes live
        (out of test mode, not paused)."""
        ...

    def pause_journey(self, org_id: str, name: str, version: int, reason: str, now_ms: int) -> None:
        """The version takes no one in until resumed, whatever its state; ``reason`` says
        why."""
        ...

    def resume_journey(self, org_id: str, name: str, now_ms: int) -> None:
        """Every paused version of the journey takes people in again, as its state allows."""
        ...

    def stop_journey(self, org_id: str, name: str, now_ms: int) -> None:
        """In one transaction: every version that can still hold people (live, closed,
        draft) is stopped. Journey engines then exit the people inside."""
        ...

    def entry_journeys(self, org_id: str, event: str) -> list[JourneyVersion]:
        """Live versions, and drafts in test mode, entered by ``event``; none paused."""
        ...

    def active_versions(self, org_id: str) -> list[JourneyVersion]:
        """Versions that can hold people (live, closed, draft)."""
        ...

    def add_test_profile(self, org_id: str, identity: str) -> None: ...
    def is_test_profile(self, org_id: str, identity: str) -> bool: ...


class RunStore(Protocol):
    """What journey engines keep: instances, timers, the outbox, test entries and their
    event log positions. ``commit`` applies one EngineBatch atomically. Work is found by
    partition: the engine that owns a partition fires its timers and delivers its outbox."""

    def instances(self, instance_ids: Sequence[str]) -> list[Instance]:
        """Each of these instances that exists."""
        ...

    def live_instances(self, org_id: str, identities: Sequence[str]) -> list[Instance]:
        """Every running or waiting instance of these people."""
        ...

    def latest_stays(self, org_id: str, identities: Sequence[str]) -> dict[tuple[str, str], Stay]:
        """(journey, identity) -> each person's latest instance of each journey: what
        re-entrance rules need."""
        ...

    def journey_instances(
        self, org_id: str, journey: str, *, live_only: bool, limit: int = 1000
    ) -> list[Instance]:
        """Newest first."""
        ...

    def stopped_instances(self, partitions: Collection[int], limit: int) -> list[Instance]:
        """Live instances, in these partitions, of versions that were stopped."""
        ...

    def due_timers(self, partitions: Collection[int], now_ms: int, limit: int) -> list[DueTimer]:
        """Earliest first."""
        ...

    def next_timer_ms(self, partitions: Collection[int]) -> int | None: ...
    def pending_outbox(
        self, partitions: Collection[int], after_id: int, limit: int
    ) -> list[OutboxItem]:
        """Undelivered actions with an id above ``after_id``, in id order, whatever their
        next attempt's time."""
        ...

    def log_positions(self, partitions: Collection[int]) -> dict[int, int]:
        """How far the engine's commits have read each partition of the event log (0: not
        at all)."""
        ...

    def known_message_ids(self, org_id: str, msg_ids: Sequence[str]) -> dict[str, FirstMessage]:
        """msgId -> the first message stored under it (xactionId, digest), for those
        already stored."""
        ...

    def add_test_entry(self, entry: TestEntry) -> int:
        """Queue a test profile's entry into a draft for the engine that owns its
        partition; its id."""
        ...

    def test_entries(self, partitions: Collection[int], limit: int) -> list[TestEntry]: ...
    def test_entry_done(self, entry_id: int) -> bool: ...
    def forwarded_events(self, partitions: Collection[int], limit: int) -> list[ForwardedEvent]:
        """Events forwarded to instances of these partitions (``EngineBatch.forwards``) and
        not yet taken (``forwards_done``), oldest first. An instance that ends outside the
        engine's steps (a merge, a privacy delete) takes its forwarded events with it."""
        ...

    def audience_entries(self, partitions: Collection[int], limit: int) -> list[AudienceEntry]:
        """Membership changes that journeys start on, queued by commits for these
        partitions, oldest first; a commit's ``audience_entries_done`` removes them."""
        ...

    def commit(self, batch: EngineBatch) -> list[OutboxItem]:
        """Apply the batch in one transaction; return its new outbox items with their ids."""
        ...


class JourneyReports(Protocol):
    """What journeys did, for people: counts per activity, step events, discards."""

    def report(self, org_id: str, journey: str) -> dict[str, Any]: ...
    def journey_people(self, org_id: str, since_ms: int) -> dict[str, JourneyPeople]:
        """Each journey of the org (by name) that someone entered, with its instances
        counted by status and those entered at ``since_ms`` or later: one read for them
        all."""
        ...

    def live_by_node(self, org_id: str, journey: str) -> dict[str, int]:
        """How many live instances of the journey (all versions) are at each activity."""
        ...

    def list_steps(
        self, org_id: str, journey: str, limit: int, identity: str | None = None
    ) -> list[StepRecord]:
        """The journey's step events (of one person, given ``identity``), newest first."""
        ...

    def person_instances(
        self, org_id: str, identities: Sequence[str], limit: int
    ) -> list[Instance]:
        """The instances (live and ended) of any of these identities (one person's), the
        ``limit`` newest by entry, newest first."""
        ...

    def person_steps(self, org_id: str, identities: Sequence[str], limit: int) -> list[StepRecord]:
        """The step events of any of these identities (one person's), the ``limit`` newest,
        newest first."""
        ...

    def step_event_records(
        self, org_id: str, *, limit: int, after_seq: int | None = None
    ) -> list[StepRecord]:
        """The org's step-events dataset: the last ``limit``, or the first after
        ``after_seq``; oldest first. Read as ``list_records(following=True)`` is: a page
        ends before any seq that a transaction still running may add."""
        ...

    def count_step_events(self, org_id: str) -> int: ...
    def delete_step_events_before(self, before_ms: int, limit: int) -> int:
        """Delete at most ``limit`` step events of every org from before ``before_ms``,
        oldest first (the reports' counts stay); how many went."""
        ...

    def instances_of(self, org_id: str, identities: Collection[str]) -> list[Instance]:
        """Every instance (live or ended) of these identities, by instance id."""
        ...

    def erase_runs(
        self,
        org_id: str,
        identities: Collection[str],
        instances: Sequence[Instance],
        steps: Sequence[StepRecord],
    ) -> int:
        """A privacy delete's part in journeys, in one transaction: store the erased
        ``instances`` (model/privacy.py; the engine never moves an instance ``deleted`` again)
        and drop their timers and actions, add ``steps`` (and their counts), and erase the
        identity and detail of every step event and discard of ``identities``; how many step
        events were erased."""
        ...


class PartitionLeases(Protocol):
    """Which journey engine owns which partition of the event log.

    An engine holds a partition by a lease that it renews; a lease left to lapse (its engine
    died, or stopped answering) is taken over by another engine, and each takeover moves the
    partition's epoch. Commits carry the epochs they were made under (``EngineBatch.fences``)
    and the store refuses a commit whose epoch moved (``FencedError``): an engine that was
    paused and comes back cannot act on a partition it lost. Time is the store's own clock.
    """

    def claim(self, worker_id: str, partitions: int, ttl_ms: int) -> Claim:
        """In one transaction: mark the worker alive until ``ttl_ms`` from now; renew the
        leases it holds; take free or lapsed ones up to its share (model/assignment.py).
        What it holds afterwards, with their epochs, and which of them are over its share
        (it releases those once it has handed them over)."""
        ...

    def release(
        self, worker_id: str, partitions: Collection[int], *, leaving: bool = False
    ) -> None:
        """Give these partitions up now, so another engine takes them at once; ``leaving``:
        the worker stops, and counts as alive no more."""
        ...

    def holders(self) -> dict[int, tuple[str, int]]:
        """partition -> (worker, epoch) of every lease not lapsed: what ``doctor`` shows."""
        ...


class JourneyStore(JourneyCatalog, RunStore, JourneyReports, PartitionLeases, Protocol):
    """All four, as one adapter of each backend provides them (leases with the run store:
    commits check their fences in the same transaction)."""


class ProfileStore(Protocol):
    """Profile fragments: what each profile-enabled dataset holds about each identity, as
    Profile records updated it (model/profile_fragments.py decides; the store keeps), each
    org's merge policy, and the experience events of profile-enabled datasets kept for each
    identity (model/person_events.py). Neither knows anything of persons: readers merge
    the fragments, and gather the events, of a person's identities."""

    def apply_profile_update(self, update: ProfileUpdate) -> Fragment | None:
        """Apply ``update`` to its fragment in one transaction, as ``apply_update`` says;
        the fragment after it (None: there is none). Concurrent updates of one fragment
        from any connection or process are applied one after the other: none is lost."""
        ...

    def profile_fragments(self, org_id: str, identities: Collection[Identity]) -> list[Fragment]:
        """Every fragment of these identities, in every dataset."""
        ...

    def delete_profile_fragments(self, org_id: str, identity: Identity) -> int:
        """Remove the identity's fragments from every dataset (a privacy delete); how many
        went."""
        ...

    def merge_policy(self, org_id: str) -> MergePolicy:
        """The org's merge policy; timestamp-ordered when it set none."""
        ...

    def set_merge_policy(self, org_id: str, policy: MergePolicy) -> None: ...

    def person_events(
        self, org_id: str, identities: Collection[Identity], limit: int
    ) -> list[PersonEvent]:
        """The experience events kept for these identities (one person's), the ``limit``
        newest by their time (then as kept), newest first. The journey engine's commit
        keeps them (``EngineBatch.person_events``), each identity its newest
        ``person_events_per_identity``."""
        ...

    def delete_person_events(self, org_id: str, identities: Collection[Identity]) -> int:
        """Remove every experience event kept for these identities (a privacy delete); how
        many went."""
        ...

    def forget_person_events_before(self, before_ms: int, limit: int) -> int:
        """Delete the ``limit`` oldest kept experience events, of every org, whose time is
        before ``before_ms`` (retention); how many went."""
        ...

    def close(self) -> None: ...


class IdentityGraph(Protocol):
    """An org's identity graph (model/identity_graph.py) and its custom namespaces. The store
    keeps what the model decides; it decides nothing itself."""

    def link(self, org_id: str, arrived: Sequence[Identity], decide: Decide) -> GraphChange:
        """In one transaction: read the persons holding any of ``arrived`` (with all their
        links), call ``decide`` with them, store its change. Links made at the same time by
        other connections or processes take turns with this one, so that none is lost and no
        identity gets two persons."""
        ...

    def person_of(self, org_id: str, identity: Identity) -> Person | None: ...

    def persons_of(self, org_id: str, identities: Collection[Identity]) -> dict[Identity, Person]:
        """The person of each of ``identities`` that one holds, in one read of the graph
        (those no person holds are left out)."""
        ...

    def person(self, org_id: str, person_id: str) -> Person | None:
        """The person, or the one it was merged into (however many merges ago)."""
        ...

    def dropped_links(self, org_id: str, person_id: str, limit: int = 100) -> list[Dropped]:
        """The links the guardrails dropped from the person, newest first."""
        ...

    def forget_person(self, org_id: str, person_id: str) -> int:
        """The person goes: its identities (each belongs to no person afterwards), its
        merges and dropped links; how many identities it had (0: no such person)."""
        ...

    def add_namespace(self, org_id: str, namespace: Namespace) -> None:
        """ConflictError when the org has a namespace of that code."""
        ...

    def list_namespaces(self, org_id: str) -> list[Namespace]:
        """The org's own namespaces (not the built-in ones), by code."""
        ...

    def close(self) -> None: ...


class AudienceStore(Protocol):
    """Audiences, who is in them (model/audiences.py decides; the store keeps), and the
    identities' recent events their conditions count. Events are kept per identity, as
    profile fragments are, so that a person's counts are those of all their identities
    whatever is linked later."""

    def add_audience(self, audience: Audience) -> None:
        """Store a new audience; ConflictError when the org has one of that name."""
        ...

    def get_audience(self, org_id: str, name: str) -> Audience | None: ...

    def list_audiences(self, org_id: str) -> list[Audience]:
        """The org's audiences, by name."""
        ...

    def record_membership_changes(self, org_id: str, changes: Sequence[MembershipChange]) -> None:
        """Keep what each change made of its person's membership, in one transaction."""
        ...

    def membership(self, org_id: str, audience: str, person_id: str) -> Membership | None: ...

    def memberships_of(self, org_id: str, person_id: str) -> list[Membership]:
        """The person's memberships, current and exited, by audience name."""
        ...

    def members(
        self, org_id: str, audience: str, *, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        """The audience's current members, by person id: the first ``limit`` after the
        person id ``after``."""
        ...

    def members_after(
        self, after: tuple[str, str, str] | None, limit: int
    ) -> list[tuple[str, Membership]]:
        """Current members of every org's audiences, as (org, membership), by (org,
        audience, person id): the first ``limit`` after ``after`` (None: from the start).
        What a periodic review pages through."""
        ...

    def add_identity_event(self, org_id: str, identity: Identity, event: str, at_ms: int) -> None:
        """Keep that the identity had an event named ``event`` at ``at_ms``."""
        ...

    def count_identity_events(
        self,
        org_id: str,
        identities: Collection[Identity],
        windows: Collection[tuple[str, int]],
        now_ms: int,
        at_most: int = MAX_COUNT,
    ) -> dict[tuple[str, int], int]:
        """For each (event name, window in milliseconds), how many events of that name the
        identities had after ``now_ms`` less the window and up to ``now_ms``: ``at_most``
        at most (counting stops there)."""
        ...

    def forget_person(
        self, org_id: str, person_id: str, identities: Collection[Identity]
    ) -> tuple[int, int]:
        """Delete the person's memberships and the events kept for its identities (a
        privacy delete), in one transaction; (memberships, events) deleted."""
        ...

    def forget_identity_events_before(self, before_ms: int, limit: int) -> int:
        """Delete the ``limit`` oldest kept events older than ``before_ms`` (with any kept
        twice for one identity, name and millisecond); how many went."""
        ...

    def close(self) -> None: ...
