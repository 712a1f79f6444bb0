from __future__ import annotations

import pytest

from novaos.config import load_settings
from novaos.errors import ConfigError
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
    assert load_settings(BASE).fetch_validates_certs is True
    assert load_settings(BASE | {"VALIDATE_CERTS": "false"}).fetch_validates_certs is False
    assert (
        load_settings(BASE | {"WEB_FETCH_VALIDATE_CERTS": "false"}).fetch_validates_certs is False
    )


def test_the_two_names_must_agree_and_errors_name_the_one_set() -> None:
    # VALIDATE_CERTS used to win silently over the guide's WEB_FETCH_VALIDATE_CERTS,
    # and a bad value of the guide's name was reported as VALIDATE_CERTS.
    both = {"WEB_FETCH_VALIDATE_CERTS": "false", "VALIDATE_CERTS": "true"}
    with pytest.raises(ConfigError, match="WEB_FETCH_VALIDATE_CERTS and VALIDATE_CERTS disagree"):
        load_settings(BASE | both)
    same = {"WEB_FETCH_VALIDATE_CERTS": "false", "VALIDATE_CERTS": "false"}
    assert load_settings(BASE | same).fetch_validates_certs is False
    with pytest.raises(ConfigError, match=r"^invalid configuration: WEB_FETCH_VALIDATE_CERTS:"):
        load_settings(BASE | {"WEB_FETCH_VALIDATE_CERTS": "nope"})
    with pytest.raises(ConfigError, match=r"^invalid configuration: VALIDATE_CERTS:"):
        load_settings(BASE | {"VALIDATE_CERTS": "nope"})


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
