"""URL policy: what the fetcher may ask for, decided before any socket exists.

A URL is parsed once here into a ``Target``; everything later (the request
line, the Host header, TLS SNI, the redirect base) is built from that one
parse, so no second parser can disagree with the one that was checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import SplitResult, urlsplit

from novaos.webfetch.addresses import AddressRules, IPAddress
from novaos.webfetch.errors import FetchBlockedError
from novaos.webfetch.hostnames import INVALID_HOST, normalize_host

INVALID_URL = "invalid_url"
SCHEME = "scheme_not_allowed"
USERINFO = "userinfo"
PORT = "port_not_allowed"
ZONE_ID = "zone_id"
METADATA_NAME = "metadata"
LOOPBACK_NAME = "loopback"
PRIVATE_NAME = "private_name"

MAX_URL_CHARS = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Whitespace, controls and backslashes are read differently by different URL
# parsers ("http://a\\@b" is host b to some); refuse rather than pick one.
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
# Special-use suffixes that only ever name hosts inside a private network.
_PRIVATE_SUFFIXES = (".internal", ".local", ".localdomain", ".home.arpa", ".lan", ".intranet")


@dataclass(frozen=True, slots=True)
class Target:
    """One checked URL. ``host`` is ASCII (IPv6 without brackets)."""

    scheme: str
    host: str
    port: int
    path: str  # path and query; the fragment never leaves the client
    literal: IPAddress | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = host if _DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"


class UrlPolicy:
    """Checks URLs and resolved addresses against the web-fetch settings."""

    def __init__(
        self,
        *,
        allowed_ports: Iterable[int] = (80, 443),
        allow_private: bool = False,
        allow_localhost: bool = False,
    ) -> None:
        self.rules = AddressRules(allow_private=allow_private, allow_localhost=allow_localhost)
        self._ports = frozenset(allowed_ports)

    def check_url(self, url: str) -> Target:
        """Parse and check ``url``; raises ``FetchBlockedError`` with the reason."""
        parts = _split(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise FetchBlockedError(SCHEME)
        netloc = parts.netloc
        if "@" in netloc:
            raise FetchBlockedError(USERINFO)
        port = _port(parts, scheme)
        if port not in self._ports:
            raise FetchBlockedError(PORT)
        host, literal = self._host(netloc, parts)
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        return Target(scheme=scheme, host=host, port=port, path=path, literal=literal)

    def check_address(self, address: str) -> None:
        """Raise ``FetchBlockedError`` unless a resolved ``address`` may be dialled."""
        reason = self.rules.refusal_for_text(address)
        if reason is not None:
            raise FetchBlockedError(reason)

    def _host(self, netloc: str, parts: SplitResult) -> tuple[str, IPAddress | None]:
        raw = parts.hostname or ""
        if netloc.startswith("["):
            return self._bracketed(raw)
        if not raw or "%" in raw:  # percent-escapes in a host are decoded by some parsers
            raise FetchBlockedError(INVALID_HOST)
        host = normalize_host(raw)
        if isinstance(host, IPv4Address):
            self._check_literal(host)
            return str(host), host
        self._check_name(host)
        return host, None

    def _bracketed(self, raw: str) -> tuple[str, IPAddress]:
        if "%" in raw:
            raise FetchBlockedError(ZONE_ID)
        try:
            address = IPv6Address(raw)
        except ValueError as exc:
            raise FetchBlockedError(INVALID_HOST) from exc
        self._check_literal(address)
        return str(address), address

    def _check_literal(self, address: IPAddress) -> None:
        reason = self.rules.refusal(address)
        if reason is not None:
            raise FetchBlockedError(reason)

    def _check_name(self, host: str) -> None:
        # Names are re-checked by address after resolution; refusing the
        # well-known ones here too means a resolver that lies cannot help.
        if host in _METADATA_NAMES:
            raise FetchBlockedError(METADATA_NAME)
        if host == "localhost" or host.endswith(".localhost"):
            if not self.rules.allow_localhost:
                raise FetchBlockedError(LOOPBACK_NAME)
        elif host.endswith(_PRIVATE_SUFFIXES) and not self.rules.allow_private:
            raise FetchBlockedError(PRIVATE_NAME)


def check_chars(url: str) -> None:
    """Refuse (``invalid_url``) a URL or reference too long or with unsafe characters.

    A redirect's ``Location`` is checked before it is joined to its base:
    ``urljoin`` (urlsplit) silently drops tabs and newlines, so "/pl\tain"
    would otherwise arrive here as "/plain"."""
    if len(url) > MAX_URL_CHARS or _UNSAFE_CHARS.search(url):
        raise FetchBlockedError(INVALID_URL)


def _split(url: str) -> SplitResult:
    check_chars(url)
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise FetchBlockedError(INVALID_URL) from exc


def _port(parts: SplitResult, scheme: str) -> int:
    try:
        port = parts.port
    except ValueError as exc:
        raise FetchBlockedError(PORT) from exc
    return _DEFAULT_PORTS[scheme] if port is None else port
