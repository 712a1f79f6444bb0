from __future__ import annotations

from ipaddress import IPv4Address, ip_address

import pytest

from novaos.webfetch.addresses import AddressRules, parse_ipv4_like_resolvers

LEGACY = [
    ("2130706433", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("10.1.65535", "10.1.255.255"),
    ("0xA9.0xFE.0xa9.0xfe", "169.254.169.254"),
    ("0", "0.0.0.0"),
    ("0x", "0.0.0.0"),
    ("8.8.8.8", "8.8.8.8"),
]


@pytest.mark.parametrize(("text", "expected"), LEGACY)
def test_numeric_forms_read_like_inet_aton(text: str, expected: str) -> None:
    assert parse_ipv4_like_resolvers(text.split(".")) == IPv4Address(expected)


@pytest.mark.parametrize(
    "text",
    ["256.0.0.1", "1.2.3.256", "1.2.3.4.5", "09.1.1.1", "0x1g", "1..2", "4294967296", "1.16777216"],
)
def test_invalid_numeric_forms_raise(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ipv4_like_resolvers(text.split("."))


STRICT = AddressRules()
CLASSES = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.255.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.0.1", "private"),
    ("100.127.255.255", "cgnat"),
    ("169.254.169.254", "metadata"),
    ("168.63.129.16", "metadata"),
    ("169.254.170.2", "metadata"),  # ECS task credentials: inside link-local
    ("169.254.170.23", "metadata"),  # EKS Pod Identity
    ("fd00:ec2::23", "metadata"),  # inside unique-local
    ("169.254.0.1", "link_local"),
    ("0.1.2.3", "unspecified"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("192.0.0.192", "reserved"),
    ("203.0.113.9", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:8.8.8.8", "ipv4_mapped"),
    ("::8.8.8.8", "ipv4_compatible"),
    ("fd00:ec2::254", "metadata"),
    ("fd00::1", "private"),
    ("fe80::abcd", "link_local"),
    ("fec0::1", "private"),
    ("ff05::2", "multicast"),
    ("2001:db8::1", "reserved"),
    ("3fff::1", "reserved"),  # documentation, RFC 9637
    ("3fff:fff:ffff::1", "reserved"),
    ("2001:2::1", "reserved"),  # benchmarking, the IPv6 198.18.0.0/15
    ("2001:2:0:ffff::1", "reserved"),
    ("100::1", "reserved"),
    ("64:ff9b::7f00:1", "nat64_loopback"),
    ("64:ff9b::a00:1", "nat64_private"),
    ("64:ff9b:1::1", "private"),
    ("2002:a9fe:a9fe::1", "6to4_metadata"),
    ("2002:6440:1::", "6to4_cgnat"),
    ("2001:0:a00:1::", "teredo_private"),  # Teredo server 10.0.0.1
    ("4000::1", "reserved"),  # outside 2000::/3
]


@pytest.mark.parametrize(("text", "reason"), CLASSES)
def test_refused_classes(text: str, reason: str) -> None:
    assert STRICT.refusal(ip_address(text)) == reason


@pytest.mark.parametrize(
    "text",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",
        "2606:4700:4700::1111",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "3ffe:ffff::1",  # below 3fff::/20
        "2001:3::1",  # AMT, next to the benchmarking /48
    ],
)
def test_public_addresses_pass(text: str) -> None:
    assert STRICT.refusal(ip_address(text)) is None


def test_localhost_flag_loosens_only_loopback() -> None:
    rules = AddressRules(allow_localhost=True)
    assert rules.refusal(ip_address("127.0.0.1")) is None
    assert rules.refusal(ip_address("::1")) is None
    assert rules.refusal(ip_address("10.0.0.1")) == "private"
    assert rules.refusal(ip_address("::ffff:127.0.0.1")) == "ipv4_mapped"
    assert rules.refusal(ip_address("0.0.0.0")) == "unspecified"


def test_private_flag_loosens_private_ranges_but_never_metadata() -> None:
    rules = AddressRules(allow_private=True)
    for text in ("10.0.0.1", "192.168.1.1", "100.64.0.1", "169.254.1.1", "fd12::1", "fe80::1"):
        assert rules.refusal(ip_address(text)) is None, text
    for text, reason in (
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("224.0.0.1", "multicast"),
    ):
        assert rules.refusal(ip_address(text)) == reason


def test_resolver_strings_with_scope_ids_are_refused() -> None:
    assert STRICT.refusal_for_text("fe80::1%eth0") == "zone_id"
    assert STRICT.refusal_for_text("not an address") == "reserved"
    assert STRICT.refusal_for_text("8.8.4.4") is None
