from __future__ import annotations

from novaos.config import load_settings
from novaos.webfetch import SafeWebFetcher, build_fetcher

BASE = {"REQUIRE_AUTH": "false"}


def test_no_fetcher_when_web_fetch_is_disabled() -> None:
    assert build_fetcher(load_settings(BASE)) is None
    assert build_fetcher(load_settings(BASE | {"ENABLE_WEB_FETCH": "false"})) is None


def test_fetcher_when_enabled() -> None:
    assert isinstance(
        build_fetcher(load_settings(BASE | {"ENABLE_WEB_FETCH": "true"})), SafeWebFetcher
    )


def test_both_names_of_the_certificate_switch_are_read() -> None:
    assert load_settings(BASE).web_fetch_validate_certs is True
    assert load_settings(BASE | {"VALIDATE_CERTS": "false"}).web_fetch_validate_certs is False
    assert (
        load_settings(BASE | {"WEB_FETCH_VALIDATE_CERTS": "false"}).web_fetch_validate_certs
        is False
    )


def test_allowed_ports_are_a_list() -> None:
    settings = load_settings(BASE | {"WEB_FETCH_ALLOWED_PORTS": "443, 8443"})
    assert settings.web_fetch_allowed_ports == (443, 8443)


def test_metrics_export_every_fetch_result_from_the_start() -> None:
    from novaos.observability.metrics import Metrics

    metrics = Metrics()
    for result in ("ok", "blocked", "timeout", "too_large", "error"):
        assert metrics.registry.get_sample_value("web_fetch_total", {"result": result}) == 0.0
    metrics.fetched("blocked")
    assert metrics.registry.get_sample_value("web_fetch_total", {"result": "blocked"}) == 1.0
