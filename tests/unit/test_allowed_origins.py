"""ALLOWED_ORIGINS: each entry is an origin exactly as a browser sends it, or ``*``.

An entry that is not (no scheme, a trailing slash, a wildcard subdomain) never
matched any Origin header: CORS failed for that page with nothing said anywhere.
"""

from __future__ import annotations

import re

import pytest

from novaos.config import load_settings
from novaos.errors import ConfigError

SECRET = "unit-secret-0123456789abcdefghijklmnop"


def _origins(value: str) -> tuple[str, ...]:
    return load_settings({"JWT_SECRET": SECRET, "ALLOWED_ORIGINS": value}).allowed_origins


def test_origins_as_a_browser_sends_them_are_kept_in_order() -> None:
    value = (
        "https://app.example.com, http://localhost:3000,https://b.example:8443,http://[::1]:8080"
    )
    assert _origins(value) == (
        "https://app.example.com",
        "http://localhost:3000",
        "https://b.example:8443",
        "http://[::1]:8080",
    )
    assert _origins("*") == ("*",)
    assert load_settings({"JWT_SECRET": SECRET}).allowed_origins == ()  # make run's default
    assert load_settings({"JWT_SECRET": SECRET, "ALLOWED_ORIGINS": ""}).allowed_origins == ()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("example.com", "no scheme; .* e.g. https://example.com$"),
        ("https://example.com/", "has no path, query or fragment; use https://example.com$"),
        ("https://example.com/app", "has no path, query or fragment; use https://example.com$"),
        ("https://example.com?x=1", "has no path, query or fragment; use https://example.com$"),
        ("https://*.example.com", "wildcard subdomains are not supported"),
        ("*.example.com", "no scheme"),
        ("ftp://example.com", "scheme 'ftp'"),
        ("https://App.Example.com", "lower case: https://app.example.com$"),
        ("https://example.com:443", "default port as https://example.com$"),
        ("http://example.com:80", "default port as http://example.com$"),
        ("https://example.com:70000", "port 70000 is out of range"),
        ("https://exa mple.com", "want scheme://host"),
        ("https://", "want scheme://host"),
    ],
)
def test_a_value_that_never_matches_is_a_configuration_error_naming_it(
    value: str, why: str
) -> None:
    # next to a good entry: one bad entry is enough to refuse the setting
    with pytest.raises(ConfigError) as caught:
        _origins(f"https://ok.example.com,{value}")
    message = str(caught.value)
    assert message.startswith(f"invalid configuration: ALLOWED_ORIGINS: {value!r} ")
    assert "\n" not in message
    assert re.search(why, message), message
