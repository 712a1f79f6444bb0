"""``SafeWebFetcher``: the lens's SSRF-safe ``WebFetcher``.

Per hop: check the URL, resolve the name once, check every address it
resolves to, then connect only to those addresses (``PinnedTransport``).
Redirects are followed here, not by httpx, so every hop goes through the same
checks. Callers always get a ``FetchResult``; only cancellation propagates.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from novaos.ports import FetchResult
from novaos.webfetch.body import read_capped
from novaos.webfetch.errors import FetchAbortedError, FetchBlockedError, FetchTimeoutError
from novaos.webfetch.extract import check_media_type, read_page
from novaos.webfetch.observer import FetchObserver, NoopFetchObserver
from novaos.webfetch.policy import INVALID_URL, Target, UrlPolicy, check_chars
from novaos.webfetch.resolver import Resolver, SystemResolver
from novaos.webfetch.transport import LOCATION, PinnedTransport

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MARKUP_CUT = "markup_cut"  # an ok result whose page was read only up to the markup bounds
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = {
    "user-agent": "NovaOS-Lens/1.0 (+source verification)",
    "accept": "text/html, text/plain;q=0.9, application/json;q=0.9",
    "accept-encoding": "gzip, deflate",
    "connection": "close",  # one request per pinned connection
}
_TIMEOUT_REASONS: tuple[tuple[type[httpx.TimeoutException], str], ...] = (
    (httpx.ConnectTimeout, "connect_timeout"),
    (httpx.ReadTimeout, "read_timeout"),
    (httpx.WriteTimeout, "write_timeout"),
    (
        httpx.PoolTimeout,
        "connect_timeout",
    ),  # one connection per fetch: waiting for it is connecting
)
_ERROR_REASONS: tuple[tuple[type[httpx.HTTPError], str], ...] = (
    (httpx.ConnectError, "connect_failed"),
    (httpx.RemoteProtocolError, "protocol_error"),
    (httpx.ReadError, "read_failed"),
)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 15.0
    max_bytes: int = 1_000_000
    max_extract_chars: int = 4000


class SafeWebFetcher:
    """Fetches public http(s) pages as short text extracts. Safe to share."""

    def __init__(
        self,
        *,
        policy: UrlPolicy,
        limits: FetchLimits,
        ssl_context: ssl.SSLContext,
        resolver: Resolver | None = None,
        observer: FetchObserver | None = None,
    ) -> None:
        self._policy = policy
        self._limits = limits
        self._ssl = ssl_context
        self._resolver = resolver or SystemResolver()
        self._observer = observer or NoopFetchObserver()
        self._timeout = httpx.Timeout(
            connect=limits.connect_timeout_s,
            read=limits.read_timeout_s,
            write=limits.read_timeout_s,
            pool=limits.connect_timeout_s,
        )

    async def fetch(self, url: str) -> FetchResult:
        try:
            result = await self._guarded(url)
        except asyncio.CancelledError:
            # Its caller stopped waiting (the lens budget, the pipeline deadline,
            # the client leaving): still one fetch, and it did not finish in time.
            self._observed("timeout")
            raise
        log.debug("web fetch finished", extra={"result": result.result, "reason": result.reason})
        self._observed(result.result)
        return result

    def _observed(self, result: str) -> None:
        try:
            self._observer.fetched(result)
        except Exception:  # metrics trouble must not turn a result into an exception
            log.exception("web fetch observer failed")

    async def _guarded(self, url: str) -> FetchResult:
        deadline = asyncio.timeout(self._limits.total_timeout_s)
        try:
            async with deadline:
                return await self._follow(url)
        except TimeoutError:
            reason = "total_timeout" if deadline.expired() else "os_timeout"
            return FetchResult(url, "timeout", reason=reason)
        except Exception as exc:  # CancelledError is a BaseException: it propagates
            return _failure(url, exc)

    async def _follow(self, url: str) -> FetchResult:
        target = self._policy.check_url(url)
        for _ in range(MAX_REDIRECTS + 1):
            addresses = await self._resolve(target)
            async with self._get(target, addresses) as response:
                location = _redirect_location(response)
                if location is None:
                    return await self._read(url, response)
            target = self._next_hop(target, location)
        raise FetchAbortedError("too_many_redirects")

    async def _resolve(self, target: Target) -> list[str]:
        if target.literal is not None:
            return [target.host]  # checked by the URL policy; nothing to look up
        lookup = asyncio.timeout(self._limits.connect_timeout_s)
        try:
            async with lookup:
                addresses = await self._resolver.resolve(target.host, target.port)
        except TimeoutError as exc:
            if lookup.expired():
                raise FetchTimeoutError("dns_timeout") from exc
            raise FetchAbortedError("dns_failed") from exc
        except OSError as exc:  # socket.gaierror and friends
            raise FetchAbortedError("dns_failed") from exc
        if not addresses:
            raise FetchAbortedError("dns_failed")
        for address in addresses:  # one bad answer spoils the lot: no picking
            self._policy.check_address(address)
        return addresses

    @asynccontextmanager
    async def _get(self, target: Target, addresses: list[str]) -> AsyncIterator[httpx.Response]:
        transport = PinnedTransport(host=target.host, addresses=addresses, ssl_context=self._ssl)
        async with (
            httpx.AsyncClient(
                transport=transport,
                timeout=self._timeout,
                follow_redirects=False,
                trust_env=False,  # env proxies would bypass the pinned transport
            ) as client,
            client.stream("GET", target.url, headers=_HEADERS) as response,
        ):
            yield response

    def _next_hop(self, current: Target, location: str) -> Target:
        check_chars(location)  # before urljoin, which drops tabs and newlines unseen
        try:
            joined = urljoin(current.url, location)
        except ValueError as exc:  # "http://[" and other hosts urllib cannot split
            raise FetchBlockedError(INVALID_URL) from exc
        target = self._policy.check_url(joined)
        if current.scheme == "https" and target.scheme == "http":
            raise FetchBlockedError("redirect_downgrade")
        return target

    async def _read(self, url: str, response: httpx.Response) -> FetchResult:
        if not 200 <= response.status_code < 300:
            raise FetchAbortedError(f"http_{response.status_code}")
        content_type = response.headers.get("content-type", "")
        kind = check_media_type(content_type)
        body = await read_capped(
            response.aiter_raw(),
            encoding=response.headers.get("content-encoding", ""),
            max_bytes=self._limits.max_bytes,
            declared_length=_declared_length(response),
        )
        # Parsing is CPU work (bounded by markup.py, up to ~0.5 s): never on the loop.
        page = await asyncio.to_thread(
            read_page, body, content_type, max_chars=self._limits.max_extract_chars
        )
        reason = MARKUP_CUT if page.cut else ""
        return FetchResult(url, "ok", text=page.text, content_type=kind, reason=reason)


def _failure(url: str, exc: Exception) -> FetchResult:
    if isinstance(exc, FetchAbortedError):
        return FetchResult(url, exc.result, reason=exc.reason)
    if isinstance(exc, httpx.InvalidURL):  # a checked URL httpx still would not take
        return FetchResult(url, "blocked", reason=INVALID_URL)
    if isinstance(exc, httpx.TimeoutException):
        return FetchResult(url, "timeout", reason=_reason(exc, _TIMEOUT_REASONS, "timeout"))
    if isinstance(exc, httpx.HTTPError):
        return FetchResult(url, "error", reason=_error_reason(exc))
    # A bug here must not fail the lens, but it must be seen.
    log.error("web fetch failed unexpectedly", exc_info=exc)
    return FetchResult(url, "error", reason="internal")


def _redirect_location(response: httpx.Response) -> str | None:
    if response.status_code not in _REDIRECTS:
        return None
    raw = response.extensions.get(LOCATION)
    location = _header_text(raw).strip() if isinstance(raw, bytes) else ""
    if not location:
        raise FetchAbortedError("redirect_without_location")
    return location


def _header_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")  # what HTTP/1.1 header bytes were, historically


def _declared_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _reason(
    exc: Exception, table: tuple[tuple[type[httpx.HTTPError], str], ...], default: str
) -> str:
    return next((reason for kind, reason in table if isinstance(exc, kind)), default)


def _error_reason(exc: httpx.HTTPError) -> str:
    cause: BaseException | None = exc
    while cause is not None:  # certificate failures arrive wrapped in ConnectError
        if isinstance(cause, ssl.SSLError):
            return "tls_error"
        cause = cause.__cause__ or cause.__context__
    return _reason(exc, _ERROR_REASONS, "transport_error")
