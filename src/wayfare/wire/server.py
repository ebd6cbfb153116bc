"""The server's own routes: health and the demo's webhook receiver."""

from __future__ import annotations

from typing import Any, Literal

from wayfare.wire.base import Wire


class Health(Wire):
    status: Literal["ok"]


class DemoCall(Wire):
    idempotencyKey: str | None
    body: Any
    """The JSON the journey sent (null when it was not JSON)."""


class DemoCalls(Wire):
    received: list[DemoCall]
    """The last 100 calls, oldest first."""


class DemoReceived(Wire):
    received: bool
    count: int
    """How many calls are kept now."""
