"""The admin API's audience routes: create, list, show, members, a person's memberships."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wayfare.api.json_body import parse_json
from wayfare.api.operations import decode_query, json_answer
from wayfare.bootstrap import Services
from wayfare.model import audiences as ma
from wayfare.wire import audiences as wa
from wayfare.wire.profiles import ProfileQuery


def audience_answer(audience: ma.Audience) -> wa.Audience:
    return wa.Audience(
        name=audience.name,
        condition=audience.condition.source,
        description=audience.description,
        events=sorted(audience.event_names()),
        readsProfile=audience.reads_profile(),
        createdMs=audience.created_ms,
    )


def membership_answer(kept: ma.Membership) -> wa.Membership:
    return wa.Membership(
        audience=kept.audience,
        personId=kept.person_id,
        enteredMs=kept.entered_ms,
        exitedMs=kept.exited_ms,
    )


async def create_audience(request: Request, s: Services, org_id: str) -> Response:
    body = parse_json(await request.body())
    audience = await run_in_threadpool(s.audiences.create, org_id, body)
    return json_answer(wa.Audience, audience_answer(audience), 201)


async def list_audiences(request: Request, s: Services, org_id: str) -> Response:
    found = await run_in_threadpool(s.audiences.all, org_id)
    return json_answer(
        wa.AudienceList, wa.AudienceList(audiences=[audience_answer(a) for a in found])
    )


async def get_audience(request: Request, s: Services, org_id: str) -> Response:
    found = await run_in_threadpool(s.audiences.get, org_id, request.path_params["name"])
    return json_answer(wa.Audience, audience_answer(found))


async def audience_members(request: Request, s: Services, org_id: str) -> Response:
    name = request.path_params["name"]
    query = decode_query(request, wa.MembersQuery)
    found = await run_in_threadpool(s.audiences.members, org_id, name, query.after, query.limit)
    page = wa.MemberList(
        audience=name,
        members=[membership_answer(m) for m in found],
        next=found[-1].person_id if len(found) == query.limit else None,
    )
    return json_answer(wa.MemberList, page)


async def person_memberships(request: Request, s: Services, org_id: str) -> Response:
    query = decode_query(request, ProfileQuery)
    found = await run_in_threadpool(s.audiences.memberships, org_id, query.namespace, query.id)
    answer = wa.PersonMemberships(
        personId=found.person.person_id,
        memberships=[membership_answer(m) for m in found.memberships],
    )
    return json_answer(wa.PersonMemberships, answer)
