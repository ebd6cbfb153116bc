"""Inlets (HTTP API streaming connections) and their bearer tokens."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from wayfare.wire.base import NAME, Wire

DataType = Literal["xdm", "raw"]
State = Literal["enabled", "disabled"]

MAX_TOKEN_SECONDS = 10 * 365 * 86_400


class InletSpec(Wire):
    name: NAME
    description: str | None = ""
    sourceId: str | None = ""
    dataType: DataType | None = "xdm"
    authenticationRequired: bool = False
    """Messages then need ``Authorization: Bearer <token>``; the answer carries the first."""
    datasetId: str | None = None
    """Raw inlets: the dataset their records land in (required for them)."""


class InletChange(Wire):
    """Only what is given changes; dataType and datasetId are fixed at creation."""

    name: NAME | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    sourceId: str | msgspec.UnsetType | None = msgspec.UNSET
    authenticationRequired: bool | msgspec.UnsetType = msgspec.UNSET
    state: State | msgspec.UnsetType | None = msgspec.UNSET
    """null: as it is."""


class IssuedToken(Wire):
    """A freshly issued token: the only time its clear text is seen."""

    accessToken: str
    tokenType: Literal["bearer"]
    inletId: str
    expiresMs: int | None


class TokenRequest(Wire):
    expiresInSeconds: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOKEN_SECONDS)] | None = None
    """None: the token does not expire."""


class Inlet(Wire):
    inletId: str
    inletUrl: str
    batchUrl: str
    imsOrg: str
    name: str
    description: str
    sourceId: str
    dataType: DataType
    authenticationRequired: bool
    state: State
    createdMs: int
    flowId: str | msgspec.UnsetType = msgspec.UNSET
    """Raw inlets: the dataflow id messages carry in ``x-adobe-flow-id``."""
    datasetId: str | msgspec.UnsetType | None = msgspec.UNSET
    """Raw inlets: where their records land."""
    token: IssuedToken | msgspec.UnsetType = msgspec.UNSET
    """On creation of an authenticated inlet: its first token."""


class InletList(Wire):
    inlets: list[Inlet]


class Revoked(Wire):
    revoked: int
    """How many tokens were revoked."""
