"""A host of a test's own: a network namespace joined to this one by two veth pairs (iproute2),
so a process run in it can be cut off from some services and not others.

- The data link: services the isolated process must reach (PostgreSQL, NATS) listen on its
  root end (``data_address``). Processes of this namespace reach that address too, locally,
  whatever the link's state. ``cut()`` points each end's neighbour entry for the other at a
  hardware address nobody has: every packet either way is sent and silently lost, with
  routes and links up on both sides, as in a real partition (taking a link down would make
  sends fail at once on the side that lost its route, and TCP keepalives never time out
  then). ``heal()`` removes those entries: the ends find each other again.
- The action link: a receiver listening on its root end (``action_address``) is reached over
  it by the isolated host, from ``isolated_action_address``, and by local processes from
  ``action_address`` itself: which side a call came from shows in its source address.

Namespaces need root and ``ip``; without them the test fails under ``CI=true`` and is skipped
elsewhere, saying why. Everything is removed on the way out, even after a failure.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from tests import tools

SUBNETS = ipaddress.ip_network("10.231.0.0/16")
"""Where each namespace takes a /29 of its own (two /30 links)."""
DATA_INSIDE = "eth-d"
"""The data link's end in the namespace (the action link's is eth-a)."""
NOBODY = "02:00:00:00:00:01"
"""A locally administered hardware address no interface has."""


def unavailable(reason: str) -> NoReturn:
    tools.unavailable("network namespaces", reason)


def ip(*args: str) -> None:
    tools.command("ip", *args)


@dataclass(frozen=True)
class Namespace:
    name: str
    subnet: ipaddress.IPv4Network
    data_link: str
    action_link: str

    def _host(self, n: int) -> str:
        return str(self.subnet.network_address + n)

    @property
    def data_address(self) -> str:
        """This namespace's end of the data link: where the services listen."""
        return self._host(1)

    @property
    def isolated_data_address(self) -> str:
        return self._host(2)

    @property
    def action_address(self) -> str:
        """This namespace's end of the action link: where a receiver listens."""
        return self._host(5)

    @property
    def isolated_action_address(self) -> str:
        """The source of the isolated host's calls to the receiver."""
        return self._host(6)

    @property
    def wrapper(self) -> list[str]:
        """A command's prefix that runs it on the isolated host."""
        return ["ip", "netns", "exec", self.name]

    def cut(self) -> None:
        ip(
            "neigh",
            "replace",
            self.isolated_data_address,
            "lladdr",
            NOBODY,
            "dev",
            self.data_link,
            "nud",
            "permanent",
        )
        ip(
            "-n",
            self.name,
            "neigh",
            "replace",
            self.data_address,
            "lladdr",
            NOBODY,
            "dev",
            DATA_INSIDE,
            "nud",
            "permanent",
        )

    def heal(self) -> None:
        """Undo ``cut()`` (nothing to undo is fine)."""
        with contextlib.suppress(AssertionError):
            ip("neigh", "del", self.isolated_data_address, "dev", self.data_link)
        with contextlib.suppress(AssertionError):
            ip("-n", self.name, "neigh", "del", self.data_address, "dev", DATA_INSIDE)


def _free_subnet() -> ipaddress.IPv4Network:
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for candidate in SUBNETS.subnets(new_prefix=29):
        if f" {candidate.network_address + 1}/" not in used:
            return candidate
    raise AssertionError(f"no free /29 in {SUBNETS}")


@contextlib.contextmanager
def isolated_host() -> Iterator[Namespace]:
    """A network namespace with a data link and an action link to this one, removed after."""
    if os.geteuid() != 0:
        unavailable("they need root")
    if shutil.which("ip") is None:
        unavailable("no ip command (iproute2)")
    tag = uuid.uuid4().hex[:8]
    host = Namespace(f"wayfare-{tag}", _free_subnet(), f"wfd{tag}", f"wfa{tag}")
    try:
        ip("netns", "add", host.name)
    except AssertionError as exc:
        unavailable(str(exc))
    try:
        ip("-n", host.name, "link", "set", "lo", "up")
        for link, root, isolated in (
            (host.data_link, host.data_address, host.isolated_data_address),
            (host.action_link, host.action_address, host.isolated_action_address),
        ):
            inside = f"eth-{link[2]}"  # its end in the namespace: eth-d, eth-a
            ip("link", "add", link, "type", "veth", "peer", "name", inside, "netns", host.name)
            ip("addr", "add", f"{root}/30", "dev", link)
            ip("link", "set", link, "up")
            ip("-n", host.name, "addr", "add", f"{isolated}/30", "dev", inside)
            ip("-n", host.name, "link", "set", inside, "up")
        yield host
    finally:
        for link in (host.data_link, host.action_link):
            with contextlib.suppress(AssertionError):  # gone with the namespace, mostly
                ip("link", "del", link)
        with contextlib.suppress(AssertionError):
            ip("netns", "del", host.name)
