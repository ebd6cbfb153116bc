"""The destination policy of HTTP actions: what it denies by default, what ``action_allow``
lets through, and the hosts a journey's save can read from a URL template."""

from __future__ import annotations

import ipaddress

import pytest

from wayfare.errors import InvalidRequestError
from wayfare.model.destinations import (
    DestinationPolicy,
    authority_written,
    parse_allowed,
    url_destination,
)

DEFAULT = DestinationPolicy()


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "127.0.0.1 in IPv6 form, a loopback"),
        ("::ffff:169.254.169.254", "169.254.169.254 in IPv6 form, the cloud metadata"),
        ("::ffff:10.0.0.1", "10.0.0.1 in IPv6 form, a private"),
        ("2002:7f00:1::", "127.0.0.1 in IPv6 form"),  # 6to4
        ("64:ff9b::a9fe:a9fe", "169.254.169.254 in IPv6 form"),  # NAT64
        ("240.0.0.1", "address"),
        ("localhost", "this machine"),
        ("LocalHost.", "this machine"),
        ("api.localhost", "this machine"),
        ("metadata.google.internal", "cloud metadata"),
        ("127.1", "usual form"),
        ("2130706433", "usual form"),
    ],
)
def test_what_is_not_public_is_denied_by_default_with_its_kind(host: str, kind: str) -> None:
    refused = DEFAULT.host_refusal(host, 80)
    assert refused is not None and kind in refused
    assert "action_allow" in refused  # the way out is named


@pytest.mark.parametrize(
    "host", ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34", "hooks.example.com"]
)
def test_public_addresses_and_names_pass(host: str) -> None:
    assert DEFAULT.host_refusal(host, 443) is None


def test_allowed_hosts_networks_and_ports_let_just_those_through() -> None:
    policy = DestinationPolicy(
        ["127.0.0.1:8080", "10.0.0.0/8", "hooks.internal", "[::1]:9000", "localhost:5000"]
    )
    assert policy.host_refusal("127.0.0.1", 8080) is None
    assert policy.host_refusal("127.0.0.1", 8081) is not None  # another port: the admin API
    assert policy.host_refusal("::ffff:127.0.0.1", 8080) is None
    assert policy.host_refusal("10.200.0.7", 1) is None
    assert policy.host_refusal("172.16.0.1", 1) is not None
    assert policy.host_refusal("::1", 9000) is None
    assert policy.host_refusal("::1", 9001) is not None
    assert policy.host_refusal("localhost", 5000) is None
    assert policy.host_refusal("localhost", 5001) is not None
    assert policy.host_refusal("169.254.169.254", 80) is not None


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    public, loopback = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")
    assert DEFAULT.resolved_refusal("hooks.example.com", 443, [public]) is None
    refused = DEFAULT.resolved_refusal("rebound.example.com", 443, [public, loopback])
    assert refused is not None
    assert refused.startswith("rebound.example.com resolves to 127.0.0.1, a loopback address")
    assert DEFAULT.resolved_refusal("nowhere.example.com", 443, []) is not None
    # an allowed name is trusted whatever it resolves to; an allowed address lets names in
    assert (
        DestinationPolicy(["hooks.internal"]).resolved_refusal("hooks.internal", 80, [loopback])
        is None
    )
    assert (
        DestinationPolicy(["127.0.0.1"]).resolved_refusal("hooks.internal", 80, [loopback]) is None
    )


@pytest.mark.parametrize(
    "entry", ["", "http://hooks.internal/", "hooks internal", "10.0.0.1:0", "[::1", "a/b"]
)
def test_an_allow_entry_that_is_no_host_address_or_network_is_refused(entry: str) -> None:
    with pytest.raises(InvalidRequestError, match="action_allow"):
        parse_allowed(entry)


def test_the_host_a_url_connects_to_and_whether_a_template_wrote_it_out() -> None:
    assert url_destination("http://127.0.0.1:8080/api") == ("127.0.0.1", 8080)
    assert url_destination("https://[::1]/x") == ("::1", 443)
    assert url_destination("http://good.example@127.0.0.1/") == ("127.0.0.1", 80)
    assert url_destination("http:///x") is None
    assert authority_written("https://hooks.example.com/")
    assert authority_written("http://127.0.0.1:8080?")
    assert not authority_written("https://hooks.example.com")  # a hole could add ".evil" or "@"
    assert not authority_written("https://")
