"""SSRF-safe web fetching for the lens gate (an adapter for ``ports.WebFetcher``)."""

from novaos.webfetch.factory import build_fetcher
from novaos.webfetch.fetcher import FetchLimits, SafeWebFetcher
from novaos.webfetch.observer import FetchObserver, NoopFetchObserver
from novaos.webfetch.policy import Target, UrlPolicy
from novaos.webfetch.resolver import Resolver, SystemResolver

__all__ = [
    "FetchLimits",
    "FetchObserver",
    "NoopFetchObserver",
    "Resolver",
    "SafeWebFetcher",
    "SystemResolver",
    "Target",
    "UrlPolicy",
    "build_fetcher",
]
