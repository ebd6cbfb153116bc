"""A person's profile (registry/people.py) as GET /api/v1/profiles answers it."""

from __future__ import annotations

import msgspec

from wayfare.api.audiences import membership_answer
from wayfare.model.person_events import PersonEvent
from wayfare.registry.people import PersonJourney, Profile
from wayfare.wire import profiles as wp
from wayfare.wire.journeys import StepEvent


def profile_wire(found: Profile) -> wp.Profile:
    person = found.person
    return wp.Profile(
        personId=person.person_id,
        createdMs=person.created_ms,
        identities=[
            wp.LinkedIdentity(
                namespace=x.identity.namespace, id=x.identity.id, linkedMs=x.linked_ms
            )
            for x in person.links
        ],
        droppedLinks=[
            wp.DroppedLink(namespace=d.identity.namespace, id=d.identity.id, cause=d.cause.value)
            for d in found.dropped
        ],
        attributes=found.merged.attributes,
        sources=[
            wp.AttributeSource(
                path=".".join(path),
                datasetId=source.dataset_id,
                datasetName=found.dataset_names.get(source.dataset_id),
                identity=wp.IdentityRef(namespace=source.identity.namespace, id=source.identity.id),
                timeMs=source.time_ms,
            )
            for path, source in sorted(found.merged.provenance.items())
        ],
        journeys=[_journey(j) for j in found.journeys],
        events=[_event(e, found.dataset_names) for e in found.events],
        audiences=[membership_answer(m) for m in found.memberships],
    )


def _event(event: PersonEvent, dataset_names: dict[str, str]) -> wp.PersonEvent:
    return wp.PersonEvent(
        timeMs=event.at_ms,
        receivedMs=event.received_ms,
        datasetId=event.dataset_id,
        datasetName=dataset_names.get(event.dataset_id),
        xactionId=event.xaction_id,
        identity=wp.IdentityRef(namespace=event.identity.namespace, id=event.identity.id),
        eventType=event.event_type,
        events=list(event.events),
    )


def _journey(journey: PersonJourney) -> wp.PersonJourney:
    i = journey.instance
    return wp.PersonJourney(
        journey=i.journey,
        version=i.version,
        instanceId=i.instance_id,
        identity=i.identity,
        status=i.status,
        node=i.node,
        enteredMs=i.entered_ms,
        endedMs=i.ended_ms,
        test=i.test,
        steps=[msgspec.convert(s.as_json(), StepEvent) for s in journey.steps],
    )
