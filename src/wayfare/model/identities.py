"""Identities: namespaces, an identity as (namespace, id), how ids are normalised, and what a
message's ``identityMap`` says about whose it is.

Four namespaces are built in, with Adobe Experience Platform's identity symbols: ``Email``,
``Phone``, ``ECID`` and ``CRMID``; an org adds its own (``Namespace``). Ids are compared as
normalised: an Email id lower-cased and trimmed (Adobe's ``Email`` namespace treats
addresses as case-insensitive, and its hashed namespace is documented as lower-cased); a Phone
id in E.164 (``+`` country code and number, no spaces) when it reads as an international
number, otherwise trimmed as sent; every other id is kept exactly as sent.

A namespace marked ``unique`` holds at most one identity per person: the rule against graph
collapse (model/identity_graph.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import phonenumbers

NAMESPACE_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")
MAX_ID_LENGTH = 1024
"""Longer ids are not linked (a mistake in the sender's mapping, not a person)."""
MAX_RECORD_IDENTITIES = 20
"""A record naming more identities links none of them: Adobe's guardrail (at most 20
identities in an XDM record). Such a map is a mapping mistake or an attack, not one person,
and linking it would cost the graph work in proportion to what the sender chose."""
BLOCKED_IDS = frozenset({"null", "anonymous", "invalid"})
"""Ids that name nobody, as Adobe's Identity Service blocks them (compared lower-cased)."""


class Identity(msgspec.Struct, frozen=True, order=True):
    """One identity of a person: an id within a namespace (normalised, see ``identity``)."""

    namespace: str
    id: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.id}"


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace of identities: its identity symbol (``code``, as in ``identityMap``), a
    name for people, and whether a person may hold at most one of its identities."""

    code: str
    name: str
    unique: bool = False
    """At most one identity of this namespace per person: when a second one would join a
    person, the newest link wins (model/identity_graph.py)."""
    built_in: bool = False
    created_ms: int = 0


BUILT_IN: tuple[Namespace, ...] = (
    Namespace("Email", "Email", built_in=True),
    Namespace("Phone", "Phone", built_in=True),
    Namespace("ECID", "Adobe Experience Cloud ID", built_in=True),
    Namespace("CRMID", "CRM ID", unique=True, built_in=True),
)


def namespaces_of(custom: Iterable[Namespace]) -> dict[str, Namespace]:
    """An org's namespaces by code: the built-in ones and its own."""
    found = {ns.code: ns for ns in BUILT_IN}
    for ns in custom:
        found.setdefault(ns.code, ns)
    return found


def check_namespace_code(code: str) -> str | None:
    """Why ``code`` cannot name a new namespace, or None."""
    if not NAMESPACE_CODE.match(code):
        return "a namespace code is a letter, then letters, digits or '_', at most 50 characters"
    if any(code.lower() == ns.code.lower() for ns in BUILT_IN):
        return f"{code!r} is a built-in namespace"
    return None


PHONE_CACHE = 4096
"""Phone ids whose E.164 form is kept (parsing one costs about 100 times an Email's
lower-casing, and the inlet normalises each event's identity)."""


def normalise(namespace: str, raw: str) -> str:
    """The id as identities are compared and kept (see the module's docstring)."""
    if namespace == "Email":
        return raw.strip().lower()
    if namespace == "Phone":
        return _phone(raw)
    return raw


@functools.lru_cache(maxsize=PHONE_CACHE)
def _phone(raw: str) -> str:
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(number):
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identity(namespace: str, raw: str) -> Identity:
    return Identity(namespace, normalise(namespace, raw))


def parse_identity(text: str) -> Identity:
    """``Email:ada@example.com`` as an Identity; ValueError when there is no namespace."""
    namespace, sep, raw = text.partition(":")
    if not sep or not namespace or not raw:
        raise ValueError(f"an identity is NAMESPACE:ID, not {text!r}")
    return identity(namespace, raw)


def identities_of(
    entity: Mapping[str, Any], known: Mapping[str, Namespace], limit: int | None = None
) -> list[Identity]:
    """The identities in an XDM entity's ``identityMap``, in the order sent, each once: ids
    of namespaces the org knows (``known``), strings of at most MAX_ID_LENGTH characters,
    not blank and not one of BLOCKED_IDS. Anything else in the map is not an identity and is
    left out. With a ``limit``, a map naming more identities than that gives none (read no
    further than one past it)."""
    identity_map = entity.get("identityMap")
    if not isinstance(identity_map, (dict, Mapping)):  # a dict is told apart first, in C
        return []
    found: dict[Identity, None] = {}
    for namespace, entries in identity_map.items():
        if namespace not in known or not isinstance(entries, list):
            continue
        for entry in entries:
            raw = entry.get("id") if isinstance(entry, (dict, Mapping)) else None
            if not isinstance(raw, str) or len(raw) > MAX_ID_LENGTH:
                continue
            text = raw.strip()
            if not text or text.lower() in BLOCKED_IDS:
                continue
            found.setdefault(identity(namespace, raw), None)
            if limit is not None and len(found) > limit:
                return []
    return list(found)


def linked_identities(entity: Mapping[str, Any], known: Mapping[str, Namespace]) -> list[Identity]:
    """The identities a record links to one person: ``identities_of``, none when the record
    names more than MAX_RECORD_IDENTITIES."""
    return identities_of(entity, known, limit=MAX_RECORD_IDENTITIES)
