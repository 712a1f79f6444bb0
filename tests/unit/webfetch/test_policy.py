from __future__ import annotations

from ipaddress import ip_address

import pytest

from novaos.webfetch.errors import FetchBlockedError
from novaos.webfetch.policy import UrlPolicy

POLICY = UrlPolicy()

ALLOWED = [
    ("http://example.com", "http://example.com/"),
    ("HTTPS://Example.COM:443/a/b?q=1&r=2#frag", "https://example.com/a/b?q=1&r=2"),
    ("http://example.com.:80/", "http://example.com/"),
    ("https://bücher.de/", "https://xn--bcher-kva.de/"),
    ("https://例え.jp/", "https://xn--r8jz45g.jp/"),  # Han + Hiragana is a normal Japanese mix
    ("https://пример.рф/", "https://xn--e1afmkfd.xn--p1ai/"),  # Cyrillic, not Latin look-alikes
    ("https://ελληνικά.gr/", "https://xn--hxargifdar.gr/"),
    ("https://コーヒー.jp/", "https://xn--tck2c4fb.jp/"),  # Katakana with the long-vowel mark
    ("https://日々.jp/", "https://xn--u6j053n.jp/"),
    ("https://ＥＸＡＭＰＬＥ.com/", "https://example.com/"),  # full-width mapped by UTS46
    ("http://8.8.8.8/", "http://8.8.8.8/"),
    ("http://134744072/", "http://8.8.8.8/"),  # decimal form of a public address
    ("http://[2606:4700:4700::1111]/dns", "http://[2606:4700:4700::1111]/dns"),
    ("http://example.com//other.host/x", "http://example.com//other.host/x"),
]


@pytest.mark.parametrize(("url", "canonical"), ALLOWED)
def test_allowed_urls_and_their_canonical_form(url: str, canonical: str) -> None:
    assert POLICY.check_url(url).url == canonical


def test_literal_hosts_are_marked_so_they_are_not_resolved() -> None:
    assert POLICY.check_url("http://134744072/").literal == ip_address("8.8.8.8")
    assert POLICY.check_url("http://example.com/").literal is None


def test_ports_come_from_settings() -> None:
    policy = UrlPolicy(allowed_ports=(8443,))
    assert policy.check_url("https://example.com:8443/").port == 8443
    with pytest.raises(FetchBlockedError) as refused:
        policy.check_url("https://example.com/")
    assert refused.value.reason == "port_not_allowed"


def test_localhost_flag_admits_loopback_names_and_literals() -> None:
    policy = UrlPolicy(allow_localhost=True)
    assert policy.check_url("http://localhost/").host == "localhost"
    assert policy.check_url("http://127.1/").host == "127.0.0.1"
    with pytest.raises(FetchBlockedError) as refused:
        policy.check_url("http://metadata.google.internal/")
    assert refused.value.reason == "metadata"


def test_over_long_urls_are_refused() -> None:
    with pytest.raises(FetchBlockedError) as refused:
        POLICY.check_url("http://example.com/" + "a" * 3000)
    assert refused.value.reason == "invalid_url"


def test_resolved_addresses_are_checked_one_by_one() -> None:
    POLICY.check_address("93.184.215.14")
    with pytest.raises(FetchBlockedError) as refused:
        POLICY.check_address("fd00:ec2::254")
    assert (refused.value.result, refused.value.reason) == ("blocked", "metadata")
