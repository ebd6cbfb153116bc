"""HTTP actions connect only where the destination policy (``model/destinations.py``) allows.

A URL's host is judged as written first (``DestinationPolicy.host_refusal``): an address, or
a name denied as such (``localhost``). A name is then resolved once, off the event loop, by
``CheckedResolver``, the resolver of the sender's aiohttp connector: every address it resolved
to is judged, and the connection is made to those addresses, never to a second answer (a name
that resolves to a public address when checked and to 127.0.0.1 when connecting gets no second
lookup). The Host header and TLS server name stay the URL's name. Addresses written in the URL
never reach a resolver, which is why they are judged before the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

from aiohttp.abc import AbstractResolver, ResolveResult

from wayfare.model.destinations import DestinationPolicy

Lookup = Callable[[str, int, socket.AddressFamily], Awaitable[list[ResolveResult]]]
"""Resolves a name (aiohttp's ``ThreadedResolver.resolve``: ``getaddrinfo`` on a thread)."""


class DestinationRefusedError(Exception):
    """The destination policy refuses where an action would connect; its message says why."""


class CheckedResolver(AbstractResolver):
    def __init__(self, policy: DestinationPolicy, lookup: Lookup) -> None:
        self._policy = policy
        self._lookup = lookup

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._lookup(host, port, family)
        try:
            addresses = [ipaddress.ip_address(r["host"]) for r in found]
        except ValueError as exc:
            raise DestinationRefusedError(f"{host} resolves to {exc}") from None
        if (refused := self._policy.resolved_refusal(host, port, addresses)) is not None:
            raise DestinationRefusedError(refused)
        return found

    async def close(self) -> None:
        pass
