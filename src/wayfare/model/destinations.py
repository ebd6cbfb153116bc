"""Where HTTP actions may connect: the destination policy.

By default an action reaches public addresses only. Denied: loopback (127.0.0.0/8, ::1),
the unspecified address (0.0.0.0, ::), link-local (169.254.0.0/16 with the cloud metadata
address 169.254.169.254, fe80::/10), private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
fc00::/7), shared address space (100.64.0.0/10), multicast and every other address that is not
public; IPv6 forms that carry an IPv4 address (``::ffff:127.0.0.1``, 6to4, NAT64) are judged by
the address they carry; and names that stand for this machine or a cloud's metadata service
(``localhost``, ``metadata.google.internal``).

The ``action_allow`` setting lets chosen destinations through, each entry a host name, an
address or a network (CIDR), optionally with ``:port`` (``[::1]:8080`` for IPv6). An allowed
name is trusted whatever it resolves to; an allowed address or network lets through URLs
written with it and names resolving into it.

Pure: no lookups. The sender resolves a name once, asks ``resolved_refusal`` about every
address it got, and connects to those addresses only; a journey's save asks
``host_refusal`` about the hosts it can read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from wayfare.errors import InvalidRequestError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
SHARED = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$")
ALLOW_HINT = "allow it with the action_allow setting (--allow-action-destination)"


@dataclass(frozen=True, slots=True)
class Allowed:
    """One entry of ``action_allow``: a name or a network, on any port or one."""

    name: str | None
    network: Network | None
    port: int | None

    def lets(self, port: int) -> bool:
        return self.port is None or self.port == port


class DestinationPolicy:
    """Says whether an HTTP action may connect to a host and port, and why not."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self._allow = tuple(parse_allowed(entry) for entry in allow)

    @property
    def allowed(self) -> tuple[Allowed, ...]:
        return self._allow

    def name_allowed(self, host: str, port: int) -> bool:
        name = normal_host(host)
        return any(a.name == name and a.lets(port) for a in self._allow)

    def host_refusal(self, host: str, port: int) -> str | None:
        """Why ``host`` as a URL writes it (a name or an address) is refused before any
        lookup, or None: an address that is allowed or public, or a name to resolve (whose
        addresses ``resolved_refusal`` judges)."""
        name = normal_host(host)
        if self.name_allowed(name, port):
            return None
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            if ":" in name or name.replace(".", "").isdigit():
                # 127.1 or 2130706433: read as 127.0.0.1 by some, taken for a name by others
                return f"{name} is not an address in its usual form; {ALLOW_HINT}"
            return _name_refusal(name)
        kind = self._refused_kind(address, port)
        return None if kind is None else f"{address} is {kind}; {ALLOW_HINT}"

    def _refused_kind(self, address: Address, port: int) -> str | None:
        """What kind of address ``address`` is, when connecting to it on ``port`` is
        refused."""
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        for a in self._allow:
            if (
                a.network is not None
                and a.lets(port)
                and (address in a.network or (mapped is not None and mapped in a.network))
            ):
                return None
        return _judged(address)

    def resolved_refusal(self, host: str, port: int, addresses: Iterable[Address]) -> str | None:
        """Why a name that resolved to ``addresses`` is refused (one refused address refuses
        them all), or None."""
        if self.name_allowed(host, port):
            return None
        if (refused := self.host_refusal(host, port)) is not None:
            return refused
        found = list(addresses)
        if not found:
            return f"{host} resolves to no address"
        for address in found:
            if (kind := self._refused_kind(address, port)) is not None:
                return f"{normal_host(host)} resolves to {address}, {kind}; {ALLOW_HINT}"
        return None


def parse_allowed(entry: str) -> Allowed:
    """``hooks.internal``, ``10.0.0.5``, ``10.0.0.0/8``, ``hooks.internal:8443``,
    ``127.0.0.1:8080``, ``[::1]:8080``, ``fd00::/8``."""
    raw = entry.strip().lower()
    host, port = raw, None
    if raw.startswith("["):
        close = raw.find("]")
        rest = raw[close + 1 :] if close != -1 else "?"
        if rest and not rest.startswith(":"):
            raise _bad(entry, "write [address]:port")
        host, port = raw[1:close], _port(entry, rest[1:]) if rest else None
    elif "://" in raw:
        raise _bad(entry, "write a host, not a URL")
    elif raw.count(":") == 1:
        host, written_port = raw.split(":")
        port = _port(entry, written_port)
    try:
        network: Network | None = ipaddress.ip_network(host, strict=False)
    except ValueError:
        network = None
    if network is not None:
        return Allowed(None, network, port)
    name = normal_host(host)
    if "/" in name or not _NAME.match(name):
        raise _bad(entry, "not a host name, an address or a network")
    return Allowed(name, None, port)


def normal_host(host: str) -> str:
    """A host as the policy compares it: lower case, no brackets, no trailing dot."""
    return host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")


def url_destination(url: str) -> tuple[str, int] | None:
    """The host and port an ``http(s)`` URL connects to, or None when it names no host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, port or (443 if parts.scheme.lower() == "https" else 80)


def authority_written(prefix: str) -> bool:
    """Does the text of a URL template before its first hole hold the URL's whole host and
    port (``https://hooks.example.com/`` does; ``https://hooks.example.com`` and
    ``https://`` do not: a hole could still change the host)?"""
    _, sep, rest = prefix.partition("://")
    return bool(sep) and any(c in rest for c in "/?#")


def _name_refusal(name: str) -> str | None:
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return f"{name} is a name for this machine; {ALLOW_HINT}"
    if name in METADATA_NAMES:
        return f"{name} is a cloud metadata service; {ALLOW_HINT}"
    return None


def _judged(address: Address) -> str | None:
    """What kind of address this is when it is not a public one; an IPv6 address carrying
    an IPv4 one is judged by the IPv4 address too (a mapped one by it alone)."""
    if isinstance(address, ipaddress.IPv6Address):
        for carried in _carried(address):
            if (kind := _kind(carried)) is not None:
                return f"{carried} in IPv6 form, {kind}"
        if address.ipv4_mapped is not None:
            return None
    return _kind(address)


def _kind(address: Address) -> str | None:
    """What kind of address this is, when it is not a public one."""
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address in METADATA_ADDRESSES:
        return "the cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address in SHARED:
        return "shared address space (carrier-grade NAT)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "not a public address"
    return None


def _carried(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for: mapped, 6to4, NAT64."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    carried = [address.ipv4_mapped, address.sixtofour]
    if address in NAT64:
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [c for c in carried if c is not None]


def _port(entry: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise _bad(entry, f"{text!r} is not a port")
    return int(text)


def _bad(entry: str, why: str) -> InvalidRequestError:
    return InvalidRequestError(f"setting action_allow: {entry!r}: {why}")
