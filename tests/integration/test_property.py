"""Whatever a client sends to the collection endpoints, the answer is a 2xx or a 4xx with a
JSON body: never a 5xx, never an empty or HTML page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import Demo, make_message

pytestmark = pytest.mark.integration

CONTENT_TYPE = "application/vnd.adobe.xed-full+json"
SCHEMA, ORG, DATASET = "$SCHEMA", "$ORG", "$DATASET"

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(st.characters(codec="utf-8"), max_size=24)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=16,
)

content_types = st.one_of(
    st.just(f"{CONTENT_TYPE};version=1"),
    st.just(CONTENT_TYPE),
    st.integers().map(lambda v: f"{CONTENT_TYPE};version={v}"),
    text.map(lambda v: f"{CONTENT_TYPE};version={v}"),
    text,
    json_values,
)
schema_refs = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(st.just(SCHEMA), text, json_values),
            "contentType": content_types,
        },
    ),
    json_values,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "msgType": st.one_of(st.just("xdmEntityCreate"), json_values),
        "msgId": st.one_of(text, json_values),
        "msgVersion": json_values,
        "xactionId": json_values,
        "imsOrgId": st.one_of(st.just(ORG), st.just("OTHER@ElseOrg"), json_values),
        "datasetId": st.one_of(st.just(DATASET), text, json_values),
        "schemaRef": schema_refs,
        "source": json_values,
        "flowId": json_values,
        "eventType": json_values,
        "createdAt": json_values,
    },
)
persons = st.fixed_dictionaries(
    {},
    optional={
        "firstName": json_values,
        "gender": st.one_of(st.sampled_from(["male", "female", "robot"]), json_values),
        "birthYear": st.one_of(st.integers(), json_values),
        "emailAddress": st.one_of(st.just("ada@example.com"), text, json_values),
    },
)
entities = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "_id": st.one_of(text, json_values),
            "timestamp": st.one_of(st.just("2026-11-28T10:00:00Z"), text, json_values),
            "identityMap": st.one_of(
                st.dictionaries(text, st.lists(st.fixed_dictionaries({"id": text}), max_size=2)),
                json_values,
            ),
            "_instance_name": st.one_of(st.fixed_dictionaries({"person": persons}), json_values),
        },
    ),
    st.dictionaries(text, json_values, max_size=5),
    json_values,
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "xdmMeta": st.one_of(
                st.fixed_dictionaries({}, optional={"schemaRef": schema_refs}), json_values
            ),
            "xdmEntity": entities,
        },
    ),
    json_values,
)
built_envelopes = st.fixed_dictionaries(
    {}, optional={"header": st.one_of(headers, json_values), "body": bodies}
)

# A valid message with a few of its parts replaced or removed: most of it gets far into
# the inlet (envelope, org, schema lookup, validation, writing) before something is off.
DELETE = "$DELETE"
MUTABLE_PATHS = [
    ("header",),
    ("header", "schemaRef"),
    ("header", "schemaRef", "id"),
    ("header", "schemaRef", "contentType"),
    ("header", "imsOrgId"),
    ("header", "msgId"),
    ("header", "datasetId"),
    ("body", "xdmMeta"),
    ("body", "xdmMeta", "schemaRef", "id"),
    ("body", "xdmMeta", "schemaRef", "contentType"),
    ("body", "xdmEntity"),
    ("body", "xdmEntity", "_id"),
    ("body", "xdmEntity", "timestamp"),
    ("body", "xdmEntity", "identityMap"),
    ("body", "xdmEntity", "identityMap", "Email"),
    ("body", "xdmEntity", "_instance_name", "person"),
    ("body", "xdmEntity", "_instance_name", "person", "birthYear"),
    ("body", "xdmEntity", "_instance_name", "person", "emailAddress"),
    ("body", "xdmEntity", "_experience"),
]
mutations = st.lists(
    st.tuples(
        st.sampled_from(MUTABLE_PATHS),
        st.one_of(st.just(DELETE), st.just(DATASET), content_types, json_values),
    ),
    min_size=1,
    max_size=3,
)


def template() -> dict[str, Any]:
    message: dict[str, Any] = json.loads(json.dumps(make_message(SCHEMA, org=ORG)))
    message["header"]["datasetId"] = DATASET
    return message


def mutate(changes: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    message = template()
    for path, value in changes:
        target: Any = message
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if value == DELETE:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
    return message


envelopes = st.one_of(built_envelopes, mutations.map(mutate))


def _overflowing_version() -> dict[str, Any]:
    ref = {"id": SCHEMA, "contentType": f"{CONTENT_TYPE};version=99999999999999999999"}
    return {
        "header": {"imsOrgId": ORG, "schemaRef": ref},
        "body": {"xdmMeta": {"schemaRef": ref}, "xdmEntity": {"_id": "x"}},
    }


def resolve(value: Any, demo: Demo) -> Any:
    """Replace the placeholders by the module's real schema, org and dataset."""
    if isinstance(value, str):
        return {SCHEMA: demo.schema_id, ORG: demo.org, DATASET: demo.dataset_id}.get(value, value)
    if isinstance(value, list):
        return [resolve(v, demo) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, demo) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def http(shared_demo: Demo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_demo.server.url, timeout=30) as client:
        yield client


def check(answer: httpx.Response) -> Any:
    request = answer.request
    where = f"{request.method} {request.url} -> {answer.status_code}: {answer.text[:500]}"
    assert answer.status_code < 500, where
    assert 200 <= answer.status_code < 300 or 400 <= answer.status_code < 500, where
    try:
        body = answer.json()
    except ValueError:
        raise AssertionError(f"not a JSON body: {where}") from None
    assert isinstance(body, dict), where
    return body


def post_raw(http: httpx.Client, url: str, content: bytes, **params: str) -> httpx.Response:
    return http.post(
        url, content=content, params=params, headers={"content-type": "application/json"}
    )


def post_json(http: httpx.Client, url: str, value: Any, **params: str) -> httpx.Response:
    return post_raw(http, url, json.dumps(value).encode(), **params)


@SETTINGS
@given(raw=st.binary(max_size=300))
@example(raw=b"")
@example(raw=b"\x00")
@example(raw=b"[" * 5000)
@example(raw=b'{"messages": [' + b"[" * 3000 + b"]}")
def test_arbitrary_bytes(http: httpx.Client, shared_demo: Demo, raw: bytes) -> None:
    for url in (shared_demo.inlet_url, shared_demo.batch_url):
        check(post_raw(http, url, raw))
        check(post_raw(http, url, raw, syncValidation="true"))


@SETTINGS
@given(value=json_values)
def test_arbitrary_json(http: httpx.Client, shared_demo: Demo, value: Any) -> None:
    for sync in ("true", "false"):
        check(post_json(http, shared_demo.inlet_url, value, syncValidation=sync))
        check(post_json(http, shared_demo.batch_url, value, syncValidation=sync))
        answer = post_json(http, shared_demo.batch_url, {"messages": [value]}, syncValidation=sync)
        body = check(answer)
        if answer.status_code == 207:
            assert len(body["responses"]) == 1


@SETTINGS
@given(envelope=envelopes, sync=st.booleans())
@example(envelope=_overflowing_version(), sync=False)
@example(envelope=_overflowing_version(), sync=True)
def test_envelope_shaped_messages(
    http: httpx.Client, shared_demo: Demo, envelope: dict[str, Any], sync: bool
) -> None:
    message = resolve(envelope, shared_demo)
    flag = "true" if sync else "false"
    single = post_json(http, shared_demo.inlet_url, message, syncValidation=flag)
    body = check(single)
    if single.status_code == 200:
        assert body["inletId"] == shared_demo.inlet_id
        assert body["xactionId"]
    # in a batch, a good neighbour is never held back by the message
    good = make_message(shared_demo.schema_id, org=shared_demo.org)
    batch = post_json(
        http, shared_demo.batch_url, {"messages": [message, good]}, syncValidation=flag
    )
    body = check(batch)
    if batch.status_code == 207:
        first, second = body["responses"]
        assert first["xactionId"] == f"{body['batchId']}-0"
        assert second["xactionId"] == f"{body['batchId']}-1"
        assert "status" not in second, second
        if "status" in first:
            # 409: its msgId came before with another message (examples share msgIds)
            assert first["status"] == first["statusCode"]
            assert first["status"] in (400, 409), first
            assert first["message"]
