"""Fetchers built the way the app builds them: settings -> build_fetcher."""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Callable

import pytest

from novaos.config import load_settings
from novaos.webfetch import SafeWebFetcher, build_fetcher


class CountingObserver:
    def __init__(self) -> None:
        self.results: Counter[str] = Counter()

    def fetched(self, result: str) -> None:
        self.results[result] += 1


MakeFetcher = Callable[..., SafeWebFetcher]


@pytest.fixture
def observer() -> CountingObserver:
    return CountingObserver()


@pytest.fixture
def make_fetcher(observer: CountingObserver) -> MakeFetcher:
    """``make_fetcher(ENV=value, ..., ssl_context=None)``: defaults are the guide's,
    with short timeouts so failing cases end quickly."""

    def make(ssl_context: ssl.SSLContext | None = None, **env: str) -> SafeWebFetcher:
        base = {
            "REQUIRE_AUTH": "false",
            "ENABLE_WEB_FETCH": "true",
            "WEB_FETCH_CONNECT_TIMEOUT_MS": "1000",
            "WEB_FETCH_READ_TIMEOUT_MS": "1000",
            "WEB_FETCH_TOTAL_TIMEOUT_MS": "3000",
        }
        fetcher = build_fetcher(
            load_settings(base | env), observer=observer, ssl_context=ssl_context
        )
        assert isinstance(fetcher, SafeWebFetcher)
        return fetcher

    return make


def local_env(port: int, **extra: str) -> dict[str, str]:
    """Settings that let the fetcher reach a loopback test server on ``port``."""
    return {
        "WEB_FETCH_ALLOW_LOCALHOST": "true",
        "WEB_FETCH_ALLOWED_PORTS": f"80,443,{port}",
    } | extra
