"""The token of an ``Authorization`` header, for the inlets and the admin API alike."""

from __future__ import annotations


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization`` header: ``Bearer <token>`` or the bare token
    (as Adobe's gateway takes it); None when there is none."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if not credentials:
        return scheme if scheme and scheme.lower() != "bearer" else None
    if scheme.lower() == "bearer":
        return credentials.strip() or None
    return None
