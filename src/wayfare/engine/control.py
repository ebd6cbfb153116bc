"""What the server asks of the journey engine, wherever it runs: in the server's process
(``JourneyRuntime``) or in one of its own (``EngineProcess``). Everything else reaches the
engine through the store (stopped journeys, queued test entries) and the event log."""

from __future__ import annotations

from typing import Protocol


class JourneyEngine(Protocol):
    async def start(self) -> None: ...
    async def stop(self, grace: float = 5.0) -> None:
        """Stop; deliveries in flight get up to ``grace`` seconds to end and be recorded."""
        ...

    def wake(self) -> None:
        """There may be new work; callable from any thread."""
        ...
