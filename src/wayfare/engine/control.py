"""What the server asks of the journey engine, wherever it runs: in the server's process
(``JourneyRuntime``) or in one of its own (``EngineProcess``)."""

from __future__ import annotations

from typing import Any, Protocol

from wayfare.model.runs import JourneyVersion


class JourneyEngine(Protocol):
    async def start(self) -> None: ...
    async def stop(self, grace: float = 5.0) -> None:
        """Stop; deliveries in flight get up to ``grace`` seconds to end and be recorded."""
        ...

    def wake(self) -> None:
        """There may be new work (matched events were committed); callable from any thread."""
        ...

    async def stop_instances(self, org_id: str, journey: str, reason: str) -> int:
        """Every live instance of the journey exits now; how many did."""
        ...

    async def enter_test_event(
        self, version: JourneyVersion, identity: str, entity: dict[str, Any]
    ) -> None:
        """The person enters the draft ``version`` on ``entity`` (test mode)."""
        ...
