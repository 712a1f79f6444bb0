"""Known SSRF bypass forms, each refused with its reason and without a socket.

Every case goes through the real fetcher built from settings with the guide's
defaults (no ALLOW flags, ports 80/443). Names are answered by the loopback
DNS stub; the connect audit hook proves no connection was even attempted.
"""

from __future__ import annotations

import pytest

from tests.fixtures.dns_stub import StubZone
from tests.fixtures.sockets import ConnectLog
from tests.integration.webfetch.conftest import CountingObserver, MakeFetcher

# Names the stub answers. "Public" addresses are never dialled by these tests:
# each case must be refused before any connect.
ZONE = {
    "public.example": ["93.184.215.14"],
    "internal-db.example": ["10.0.0.5"],
    "meta.example": ["169.254.169.254"],
    "alibaba-meta.example": ["100.100.100.200"],
    "v6-loopback.example": ["::1"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "one-bad-answer.example": ["93.184.215.14", "192.168.0.10"],
    "v6-ula.example": ["2606:4700:4700::1111", "fd12:3456::1"],
    "cgnat.example": ["100.64.1.2"],
    "zero.example": ["0.0.0.0"],
}

CASES: list[tuple[str, str]] = [
    # numeric forms of 127.0.0.1 that resolvers (inet_aton) accept
    ("http://2130706433/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://0x7F.0.0.01/", "loopback"),
    ("http://0xa9fea9fe/", "metadata"),  # 169.254.169.254 as one hex number
    ("http://１２７。０。０。１/", "loopback"),  # full-width digits, ideographic stops
    ("http://127.0.0.%31/", "invalid_host"),  # percent-escape in the host
    ("http://08.0.0.1/", "invalid_host"),  # looks numeric, is not valid octal
    ("http://example.0x7f/", "invalid_host"),  # ends in a number: must be an IPv4
    # IPv6 literals
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "ipv4_mapped"),
    ("http://[::ffff:7f00:1]/", "ipv4_mapped"),
    ("http://[::127.0.0.1]/", "ipv4_compatible"),
    ("http://[fe80::1%25eth0]/", "zone_id"),
    ("http://[fe80::1]/", "link_local"),
    ("http://[fc00::1]/", "private"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[64:ff9b::a9fe:a9fe]/", "nat64_metadata"),
    ("http://[64:ff9b::127.0.0.1]/", "nat64_loopback"),
    ("http://[2002:c0a8:101::]/", "6to4_private"),  # 6to4 of 192.168.1.1
    ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "teredo_private"),  # client 10.0.0.1
    # unspecified, metadata, private ranges
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("http://METADATA.google.internal./", "metadata"),  # case and trailing dot
    ("http://10.0.0.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "cgnat"),
    ("http://169.254.10.10/", "link_local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "reserved"),
    ("http://198.18.0.1/", "reserved"),
    # names, via the DNS stub
    ("http://localhost/", "loopback"),
    ("http://localhost./", "loopback"),
    ("http://app.localhost/", "loopback"),
    ("http://internal-db.example/", "private"),
    ("http://meta.example/", "metadata"),
    ("http://alibaba-meta.example/", "metadata"),
    ("http://v6-loopback.example/", "loopback"),
    ("http://mapped.example/", "ipv4_mapped"),
    ("http://one-bad-answer.example/", "private"),  # one bad answer spoils the lot
    ("http://v6-ula.example/", "private"),
    ("http://cgnat.example/", "cgnat"),
    ("http://zero.example/", "unspecified"),
    ("http://router.local/", "private_name"),
    ("http://db.internal/", "private_name"),
    # userinfo tricks
    ("http://good@127.0.0.1/", "userinfo"),
    ("http://public.example@127.0.0.1/", "userinfo"),
    ("http://user:pass@public.example/", "userinfo"),
    ("http://127.0.0.1:80@public.example/", "userinfo"),
    ("http://127.0.0.1\\@public.example/", "invalid_url"),  # backslash: parsers disagree
    ("http://public.example /", "invalid_url"),
    # ports
    ("http://public.example:8080/", "port_not_allowed"),
    ("http://public.example:22/", "port_not_allowed"),
    ("https://public.example:6379/", "port_not_allowed"),
    ("http://public.example:0/", "port_not_allowed"),
    ("http://public.example:99999/", "port_not_allowed"),
    # schemes
    ("file:///etc/passwd", "scheme_not_allowed"),
    ("gopher://127.0.0.1:70/_HELO", "scheme_not_allowed"),
    ("ftp://public.example/", "scheme_not_allowed"),
    ("dict://127.0.0.1:11211/stat", "scheme_not_allowed"),
    ("jar:http://public.example/a.jar!/", "scheme_not_allowed"),
    ("//public.example/", "scheme_not_allowed"),
    # IDN homographs
    ("http://аррӏе.com/", "confusable"),  # all-Cyrillic look-alike of apple
    ("http://xn--80ak6aa92e.com/", "confusable"),  # the same, as punycode
    ("http://pаypal.com/", "mixed_script"),  # Cyrillic а inside Latin
    ("http://xn--pypal-4ve.com/", "mixed_script"),
    ("http://gοοgle.com/", "mixed_script"),  # Greek omicrons
    ("http://xn--80a.com/", "confusable"),  # a lone Cyrillic а
    ("http://exa_mple.com/", "invalid_host"),
    ("http://a..b/", "invalid_host"),
    ("http:///path", "invalid_host"),
]


def test_there_are_at_least_thirty_forms() -> None:
    assert len(CASES) >= 30
    assert len({url for url, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("url", "reason"), CASES, ids=[u for u, _ in CASES])
async def test_bypass_form_is_refused_before_any_connect(
    url: str,
    reason: str,
    make_fetcher: MakeFetcher,
    dns_stub: StubZone,
    connect_log: ConnectLog,
    observer: CountingObserver,
) -> None:
    for name, answers in ZONE.items():
        dns_stub.set(name, answers)
    fetcher = make_fetcher()

    result = await fetcher.fetch(url)

    assert (result.result, result.reason) == ("blocked", reason)
    assert result.url == url and result.text == ""
    assert connect_log.addresses == []
    assert observer.results == {"blocked": 1}


async def test_names_were_really_resolved_through_the_stub(
    make_fetcher: MakeFetcher, dns_stub: StubZone, connect_log: ConnectLog
) -> None:
    dns_stub.set("internal-db.example", ["10.0.0.5"])
    result = await make_fetcher().fetch("http://internal-db.example/x")
    assert (result.result, result.reason) == ("blocked", "private")
    assert dns_stub.queries[("internal-db.example", "A")] == 1
    assert connect_log.addresses == []


async def test_unknown_name_is_an_error_not_a_block(
    make_fetcher: MakeFetcher, dns_stub: StubZone, connect_log: ConnectLog
) -> None:
    result = await make_fetcher().fetch("http://nowhere.example/")
    assert (result.result, result.reason) == ("error", "dns_failed")
    assert connect_log.addresses == []


async def test_allow_flags_loosen_only_their_own_ranges(
    make_fetcher: MakeFetcher, dns_stub: StubZone, connect_log: ConnectLog
) -> None:
    local_only = make_fetcher(WEB_FETCH_ALLOW_LOCALHOST="true")
    private_only = make_fetcher(WEB_FETCH_ALLOW_PRIVATE_IPS="true")
    assert (await local_only.fetch("http://10.0.0.1/")).reason == "private"
    assert (await private_only.fetch("http://127.0.0.1/")).reason == "loopback"
    for fetcher in (local_only, private_only):
        for url in ("http://169.254.169.254/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"):
            assert (await fetcher.fetch(url)).result == "blocked"
    assert connect_log.addresses == []
