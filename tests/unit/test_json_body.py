"""parse_json: a body whose objects repeat a key is refused, naming where; others parse as
orjson parses them."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayfare.api.json_body import first_repeated_key, parse_json
from wayfare.errors import InvalidRequestError


def refused_at(raw: bytes) -> str:
    with pytest.raises(InvalidRequestError) as caught:
        parse_json(raw)
    (violation,) = caught.value.violations
    assert violation.pointer in caught.value.message
    return violation.pointer


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [
        (b'{"birthYear": "x", "birthYear": 1990}', "/birthYear"),
        (b'{"header": {"imsOrgId": "A@Org", "imsOrgId": "B@Org"}}', "/header/imsOrgId"),
        (b'{"messages": [{}, {"a": 1, "b": {"c": 1, "c": 2}}]}', "/messages/1/b/c"),
        (b'{"a" : 1 ,\n "a"\t:\t2}', "/a"),  # white space around the colon
        (b'{"a": 1, "\\u0061": 2}', "/a"),  # the same key, escaped
        (b'{"a/b~": {"k": 1, "k": [1]}}', "/a~1b~0/k"),
        (b'[{"x": "1:2", "x": "3:4"}]', "/0/x"),
        (b'{"a": {"z": 1}, "a": 2}', "/a"),  # the first value held a key of its own
    ],
)
def test_a_repeated_key_is_refused_naming_its_pointer(raw: bytes, pointer: str) -> None:
    assert refused_at(raw) == pointer


def test_colons_and_escapes_in_strings_are_not_keys() -> None:
    raw = b'{"url": "https://x.example/a:b", "t": "10:00:00", "e": "\\u003a\\u003A", "q": "\\":"}'
    assert parse_json(raw) == {
        "url": "https://x.example/a:b",
        "t": "10:00:00",
        "e": "::",
        "q": '":',
    }
    assert parse_json(b'{"k": "\\\\u003a"}') == {"k": "\\u003a"}  # a backslash, then text


def test_a_document_deeper_than_orjson_writes_is_still_checked() -> None:
    deep = b'{"a": ' * 400 + b"1" + b"}" * 400
    assert parse_json(deep) is not None
    repeated = b'{"a": ' * 400 + b'{"k": 1, "k": 2}' + b"}" * 400
    assert refused_at(repeated) == "/a" * 400 + "/k"


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        parse_json(b'{"a": ')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet='ab:\\"/~u\u00e9', max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_documents_without_repeated_keys_parse_as_orjson_parses_them(document: Any) -> None:
    for raw in (orjson.dumps(document), json.dumps(document, indent=1).encode()):
        assert parse_json(raw) == orjson.loads(raw)
        assert first_repeated_key(raw) is None


@settings(max_examples=300, deadline=None)
@given(json_values, st.text(alphabet='ab:\\"', max_size=3))
def test_a_key_written_twice_anywhere_is_found(document: Any, key: str) -> None:
    encoded_key = json.dumps(key)
    twice = f"{{{encoded_key}: 1, {encoded_key}: {json.dumps(document)}}}"
    wrapped = f'{{"outer": [{json.dumps(document)}, {twice}]}}'.encode()
    escaped_key = key.replace("~", "~0").replace("/", "~1")
    assert refused_at(wrapped) == f"/outer/1/{escaped_key}"
