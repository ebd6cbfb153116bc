"""Identifiers minted by the server."""

from __future__ import annotations

import secrets


def inlet_id() -> str:
    """64 hex characters, as Adobe's inlet ids."""
    return secrets.token_hex(32)


def dataset_id() -> str:
    """24 hex characters, as Adobe's dataset ids."""
    return secrets.token_hex(12)


def schema_hex() -> str:
    return secrets.token_hex(16)


def flow_id() -> str:
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def transaction_id(received_ms: int) -> str:
    """A server-side id for a message or a batch: ``<receivedTimeMs>:<random>``."""
    return f"{received_ms}:{secrets.token_hex(6)}"


def access_token() -> str:
    return "wf_" + secrets.token_urlsafe(32)
