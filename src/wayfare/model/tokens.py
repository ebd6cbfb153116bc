"""Bearer tokens are stored only as hashes."""

from __future__ import annotations

import hashlib


def hash_token(token: str) -> str:
    """SHA-256 of a token; tokens carry 256 random bits, so a plain hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()
