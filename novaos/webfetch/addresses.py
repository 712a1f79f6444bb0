"""Which IP addresses the fetcher may connect to.

Explicit tables rather than ``ipaddress``'s ``is_private``/``is_global``: those
changed meaning across Python patch releases, and a reviewer should be able to
read the whole list here. The first matching row wins, so narrow rows (cloud
metadata) sit above the wide ones that contain them (link-local, ULA).

Addresses that *embed* an IPv4 address (6to4, Teredo, NAT64) are judged by the
address they lead to: a packet to ``64:ff9b::a00:1`` reaches ``10.0.0.1``.
IPv4-mapped and -compatible IPv6 are refused outright: no public site
publishes them, and on a dual-stack socket ``::ffff:127.0.0.1`` *is* loopback.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address

LOOPBACK = "loopback"
PRIVATE = "private"
CGNAT = "cgnat"
LINK_LOCAL = "link_local"
METADATA = "metadata"
MULTICAST = "multicast"
RESERVED = "reserved"
UNSPECIFIED = "unspecified"
IPV4_MAPPED = "ipv4_mapped"
IPV4_COMPATIBLE = "ipv4_compatible"
ZONE_ID = "zone_id"

# Loosened by WEB_FETCH_ALLOW_PRIVATE_IPS; metadata and the rest never are.
_PRIVATE_KINDS = frozenset({PRIVATE, CGNAT, LINK_LOCAL})

_V4_TABLE: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), kind)
    for net, kind in (
        ("169.254.169.254/32", METADATA),  # AWS, GCP, Azure, OpenStack
        ("168.63.129.16/32", METADATA),  # Azure wire server (a public address)
        ("100.100.100.200/32", METADATA),  # Alibaba Cloud
        ("169.254.170.2/32", METADATA),  # AWS ECS task credentials
        ("169.254.170.23/32", METADATA),  # AWS EKS Pod Identity
        ("0.0.0.0/8", UNSPECIFIED),  # "this network"; 0.0.0.0 dials the local host
        ("10.0.0.0/8", PRIVATE),
        ("100.64.0.0/10", CGNAT),
        ("127.0.0.0/8", LOOPBACK),
        ("169.254.0.0/16", LINK_LOCAL),
        ("172.16.0.0/12", PRIVATE),
        ("192.0.0.0/24", RESERVED),  # IETF protocol assignments (incl. Oracle metadata)
        ("192.0.2.0/24", RESERVED),  # TEST-NET-1
        ("192.88.99.0/24", RESERVED),  # 6to4 relay anycast
        ("192.168.0.0/16", PRIVATE),
        ("198.18.0.0/15", RESERVED),  # benchmarking
        ("198.51.100.0/24", RESERVED),  # TEST-NET-2
        ("203.0.113.0/24", RESERVED),  # TEST-NET-3
        ("224.0.0.0/4", MULTICAST),
        ("240.0.0.0/4", RESERVED),  # includes 255.255.255.255
    )
)

_V6_TABLE: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), kind)
    for net, kind in (
        ("::/128", UNSPECIFIED),
        ("::1/128", LOOPBACK),
        ("::ffff:0:0/96", IPV4_MAPPED),
        ("::/96", IPV4_COMPATIBLE),
        ("fd00:ec2::254/128", METADATA),  # AWS IMDS over IPv6
        ("fd00:ec2::23/128", METADATA),  # AWS EKS Pod Identity over IPv6
        ("64:ff9b:1::/48", PRIVATE),  # local-use NAT64
        ("100::/64", RESERVED),  # discard-only
        ("2001:db8::/32", RESERVED),  # documentation
        ("3fff::/20", RESERVED),  # documentation (RFC 9637)
        ("2001:2::/48", RESERVED),  # benchmarking (RFC 5180), as 198.18.0.0/15 is
        ("2001:10::/28", RESERVED),  # ORCHID
        ("2001:20::/28", RESERVED),  # ORCHIDv2
        ("fc00::/7", PRIVATE),  # unique local
        ("fe80::/10", LINK_LOCAL),
        ("fec0::/10", PRIVATE),  # deprecated site-local
        ("ff00::/8", MULTICAST),
    )
)

_GLOBAL_UNICAST = IPv6Network("2000::/3")
_NAT64 = IPv6Network("64:ff9b::/96")
_TEREDO = IPv6Network("2001::/32")
_SIX_TO_FOUR = IPv6Network("2002::/16")


@dataclass(frozen=True, slots=True)
class AddressRules:
    """The two ALLOW flags. Loopback is loosened only by ``allow_localhost``."""

    allow_private: bool = False
    allow_localhost: bool = False

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` must not be dialled, or None when it may be."""
        kind = _v4_kind(address) if isinstance(address, IPv4Address) else self._v6_kind(address)
        if kind is None or self._loosened(kind):
            return None
        return kind

    def refusal_for_text(self, text: str) -> str | None:
        """Same as ``refusal`` for an address string from a resolver."""
        if "%" in text:  # a scope id binds the connect to an interface: never wanted
            return ZONE_ID
        try:
            return self.refusal(ip_address(text))
        except ValueError:
            return RESERVED

    def _loosened(self, kind: str) -> bool:
        if kind == LOOPBACK:
            return self.allow_localhost
        return kind in _PRIVATE_KINDS and self.allow_private

    def _v6_kind(self, address: IPv6Address) -> str | None:
        for net, kind in _V6_TABLE:
            if address in net:
                return kind
        for embedded, label in _embedded_v4(address):
            inner = self.refusal(embedded)
            if inner is not None:
                return f"{label}_{inner}"
        if address in _NAT64:
            return None  # translated to the (public) IPv4 address it embeds
        if address not in _GLOBAL_UNICAST:
            return RESERVED  # nothing outside 2000::/3 is allocated for public unicast
        return None


def _v4_kind(address: IPv4Address) -> str | None:
    for net, kind in _V4_TABLE:
        if address in net:
            return kind
    return None


def _embedded_v4(address: IPv6Address) -> list[tuple[IPv4Address, str]]:
    value = int(address)
    if address in _NAT64:
        return [(IPv4Address(value & 0xFFFFFFFF), "nat64")]
    if address in _SIX_TO_FOUR:
        return [(IPv4Address((value >> 80) & 0xFFFFFFFF), "6to4")]
    if address in _TEREDO:
        server = IPv4Address((value >> 64) & 0xFFFFFFFF)
        client = IPv4Address(~value & 0xFFFFFFFF)  # the client address is stored inverted
        return [(server, "teredo"), (client, "teredo")]
    return []


# ---------------------------------------------------------------- legacy IPv4 forms

_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_PART_PARSERS: tuple[tuple[re.Pattern[str], Callable[[str], int]], ...] = (
    (_HEX, lambda p: int(p[2:] or "0", 16)),
    (re.compile(r"0[0-7]+"), lambda p: int(p[1:], 8)),
    (re.compile(r"0|[1-9][0-9]*"), int),  # "08" is neither octal nor decimal: refused
)


def ends_in_number(labels: list[str]) -> bool:
    """True when a host must be read as IPv4 (the URL standard's rule)."""
    last = labels[-1]
    return bool(_DECIMAL.fullmatch(last) or _HEX.fullmatch(last))


def parse_ipv4_like_resolvers(labels: list[str]) -> IPv4Address:
    """Read 1-4 dotted parts in decimal, octal (leading 0) or hex (0x) like inet_aton.

    ``2130706433``, ``0177.0.0.1``, ``0x7f.1`` and ``127.1`` are all 127.0.0.1;
    the last part fills the remaining bytes. Raises ValueError when the host
    looks numeric but is not a valid address (``1.2.3.256``, ``09.1``).
    """
    if not 1 <= len(labels) <= 4:
        raise ValueError("too many parts for an IPv4 address")
    numbers = [_parse_part(label) for label in labels]
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise ValueError("IPv4 part out of range")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return IPv4Address(value)


def _parse_part(part: str) -> int:
    for pattern, convert in _PART_PARSERS:
        if pattern.fullmatch(part):
            return convert(part)
    raise ValueError(f"not an IPv4 number: {part!r}")
