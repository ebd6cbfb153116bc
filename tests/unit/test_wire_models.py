"""The wire models' limits are the server's: the description cannot promise more."""

from __future__ import annotations

from typing import get_args

import msgspec
import pytest

from wayfare.model.events import EVENT_NAME
from wayfare.model.journey import MAX_ACTIVITIES
from wayfare.model.rules import NAME_PATTERN
from wayfare.model.schema import TENANT_PATTERN
from wayfare.registry import inlets
from wayfare.registry.apply import KIND_ORDER
from wayfare.wire import apply, events, journeys, org
from wayfare.wire import inlets as wire_inlets


def _pattern(model: type[msgspec.Struct], field: str) -> str:
    _, components = msgspec.json.schema_components([model])
    pattern: str = components[model.__name__]["properties"][field]["pattern"]
    return pattern


@pytest.mark.parametrize(
    ("model", "field", "domain"),
    [
        (journeys.JourneyDefinition, "name", NAME_PATTERN.pattern),
        (wire_inlets.InletSpec, "name", NAME_PATTERN.pattern),
        (events.EventDefinition, "name", EVENT_NAME.pattern),
        (org.OrgChange, "tenantId", TENANT_PATTERN.pattern),
    ],
)
def test_names_follow_the_domains_patterns(
    model: type[msgspec.Struct], field: str, domain: str
) -> None:
    assert _pattern(model, field) == domain


def test_token_lifetimes_are_the_registrys() -> None:
    assert wire_inlets.MAX_TOKEN_SECONDS == inlets.MAX_TOKEN_SECONDS
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(
            {"expiresInSeconds": inlets.MAX_TOKEN_SECONDS + 1}, wire_inlets.TokenRequest
        )


def test_a_journey_holds_as_many_activities_as_the_domain_allows() -> None:
    _, components = msgspec.json.schema_components([journeys.JourneyDefinition])
    activities = components["JourneyDefinition"]["properties"]["activities"]
    assert activities["maxProperties"] == MAX_ACTIVITIES


def test_documents_are_of_the_kinds_apply_knows() -> None:
    assert get_args(apply.Kind) == KIND_ORDER
