"""Builds the lens's fetcher from settings (called by the composition root)."""

from __future__ import annotations

import ssl

import httpx

from novaos.config import Settings
from novaos.ports import WebFetcher
from novaos.webfetch.fetcher import FetchLimits, SafeWebFetcher
from novaos.webfetch.observer import FetchObserver
from novaos.webfetch.policy import UrlPolicy
from novaos.webfetch.resolver import Resolver


def build_fetcher(
    settings: Settings,
    *,
    observer: FetchObserver | None = None,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> WebFetcher | None:
    """The fetcher, or None when ENABLE_WEB_FETCH is off (the lens then degrades)."""
    if not settings.enable_web_fetch:
        return None
    policy = UrlPolicy(
        allowed_ports=settings.web_fetch_allowed_ports,
        allow_private=settings.web_fetch_allow_private_ips,
        allow_localhost=settings.web_fetch_allow_localhost,
    )
    limits = FetchLimits(
        connect_timeout_s=settings.web_fetch_connect_timeout_ms / 1000,
        read_timeout_s=settings.web_fetch_read_timeout_ms / 1000,
        total_timeout_s=settings.web_fetch_total_timeout_ms / 1000,
        max_bytes=settings.web_fetch_max_bytes,
        max_extract_chars=settings.web_fetch_max_extract_chars,
    )
    if ssl_context is None:
        # certifi's roots, as httpx uses elsewhere; VALIDATE_CERTS=false turns
        # off both chain and hostname checks (test and lab setups only).
        ssl_context = httpx.create_ssl_context(
            verify=settings.fetch_validates_certs, trust_env=False
        )
    return SafeWebFetcher(
        policy=policy,
        limits=limits,
        ssl_context=ssl_context,
        resolver=resolver,
        observer=observer,
    )
