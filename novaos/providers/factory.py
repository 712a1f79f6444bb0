"""Builds the configured provider adapters and the router from settings.

Called only by the composition root (``novaos.app``). A provider is configured
when its key (or, for an OpenAI-compatible server, its base URL) is set.
"""

from __future__ import annotations

from collections.abc import Mapping

from novaos.config import Settings
from novaos.errors import ConfigError
from novaos.ports import Provider
from novaos.providers.anthropic import AnthropicProvider
from novaos.providers.gemini import GeminiProvider
from novaos.providers.http import HttpSettings
from novaos.providers.observer import ProviderObserver
from novaos.providers.openai import OpenAIProvider
from novaos.providers.openai_compat import OpenAICompatProvider
from novaos.providers.router import ProviderRouter, RouterSettings
from novaos.redaction import SecretScrubber, configured_secrets

KNOWN_PROVIDERS = ("openai", "gemini", "anthropic", "openai_compat", "mock")


def http_settings(settings: Settings) -> HttpSettings:
    return HttpSettings(
        connect_timeout_s=settings.provider_connect_timeout_ms / 1000,
        read_timeout_s=settings.provider_read_timeout_ms / 1000,
        total_timeout_s=settings.provider_total_timeout_ms / 1000,
        max_connections=settings.provider_max_connections,
    )


def build_providers(settings: Settings) -> dict[str, Provider]:
    """The HTTP providers that have credentials; ``mock`` is the app's to add."""
    http = http_settings(settings)
    providers: dict[str, Provider] = {}
    if settings.openai_api_key is not None:
        providers["openai"] = OpenAIProvider(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            default_model=settings.openai_model,
            http=http,
        )
    if settings.gemini_api_key is not None:
        providers["gemini"] = GeminiProvider(
            api_key=settings.gemini_api_key,
            base_url=settings.gemini_base_url,
            default_model=settings.gemini_model,
            http=http,
        )
    if settings.anthropic_api_key is not None:
        providers["anthropic"] = AnthropicProvider(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            default_model=settings.anthropic_model,
            http=http,
        )
    if settings.openai_compat_base_url:
        if not settings.openai_compat_model:
            raise ConfigError(
                "invalid configuration: OPENAI_COMPAT_MODEL: required when "
                "OPENAI_COMPAT_BASE_URL is set"
            )
        providers["openai_compat"] = OpenAICompatProvider(
            api_key=settings.openai_compat_api_key,
            base_url=settings.openai_compat_base_url,
            default_model=settings.openai_compat_model,
            http=http,
        )
    return providers


def build_router(
    settings: Settings,
    providers: Mapping[str, Provider],
    observer: ProviderObserver | None = None,
) -> ProviderRouter:
    """The router over ``providers``; refuses names it does not know or cannot use."""
    _check_names(settings, providers)
    models = {
        "openai": settings.openai_model,
        "gemini": settings.gemini_model,
        "anthropic": settings.anthropic_model,
        "openai_compat": settings.openai_compat_model,
        "mock": "mock-1",
    }
    unconfigured = {n: m for n, m in models.items() if n not in providers}
    return ProviderRouter(
        providers,
        RouterSettings(
            preferred=settings.preferred_provider,
            fallback_order=settings.provider_fallback_order,
            failure_threshold=settings.circuit_failure_threshold,
            reset_timeout_s=settings.circuit_reset_timeout_ms / 1000,
            idle_timeout_s=settings.stream_idle_timeout_ms / 1000,
        ),
        observer=observer,
        unconfigured=unconfigured,
        scrub=SecretScrubber.of(configured_secrets(settings)),
    )


def check_provider_settings(settings: Settings) -> None:
    """The provider checks start-up makes, without starting anything: a supervisor
    runs them before its workers, so an error is reported once, before any worker
    (or line saying the server listens) exists. ``ConfigError`` when they fail."""
    names = set(build_providers(settings))
    if "mock" in (settings.preferred_provider, *settings.provider_fallback_order):
        names.add("mock")
    _check_names(settings, dict.fromkeys(names))


def _check_names(settings: Settings, providers: Mapping[str, object]) -> None:
    known = ", ".join(KNOWN_PROVIDERS)
    preferred = settings.preferred_provider
    if settings.is_production and "preferred_provider" not in settings.model_fields_set:
        # Its default is the mock: a production start that forgot it (or misspelt
        # it) answered every chat with canned text, ready and without a word. A
        # fallback list alone may look enough: it is only tried after the mock.
        listed = ",".join(settings.provider_fallback_order)
        fallback = f" before PROVIDER_FALLBACK_ORDER ({listed}), tried after it" if listed else ""
        raise ConfigError(
            "invalid configuration: PREFERRED_PROVIDER: not set, and NODE_ENV=production "
            f"would serve the mock provider{fallback}; set a real provider (openai, gemini, "
            "anthropic, openai_compat), or PREFERRED_PROVIDER=mock to run the mock on purpose"
        )
    if preferred not in KNOWN_PROVIDERS:
        raise ConfigError(f"invalid configuration: PREFERRED_PROVIDER: must be one of {known}")
    if preferred not in providers:
        raise ConfigError(
            f"invalid configuration: PREFERRED_PROVIDER: {preferred} is not configured "
            "(set its API key or base URL)"
        )
    for name in settings.provider_fallback_order:
        if name not in KNOWN_PROVIDERS:
            raise ConfigError(
                f"invalid configuration: PROVIDER_FALLBACK_ORDER: unknown provider {name!r} "
                f"(known: {known})"
            )
