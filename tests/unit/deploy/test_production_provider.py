"""A production start names its provider: the mock is the default only for
development and tests, and served in production it answered every chat with
canned text while /ready said providers: ok."""

from __future__ import annotations

import pytest

from novaos.config import load_settings
from novaos.errors import ConfigError
from novaos.providers.factory import check_provider_settings
from tests.fixtures.server import TEST_SECRET

PRODUCTION = {"NODE_ENV": "production", "JWT_SECRET": TEST_SECRET, "OPENAI_API_KEY": "sk-abc"}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"PREFERED_PROVIDER": "openai"},  # the tester's typo
    ],
)
def test_production_without_a_preferred_provider_refuses_to_start(
    extra: dict[str, str],
) -> None:
    with pytest.raises(ConfigError) as err:
        check_provider_settings(load_settings(PRODUCTION | extra))
    line = str(err.value)
    assert line.startswith("invalid configuration: PREFERRED_PROVIDER: not set"), line
    assert "PREFERRED_PROVIDER=mock" in line and "\n" not in line


def test_a_fallback_list_without_a_preferred_provider_is_named_in_the_refusal() -> None:
    # The list is tried after PREFERRED_PROVIDER, i.e. after the mock: whoever set
    # only it should see why it is not enough.
    env = PRODUCTION | {"PROVIDER_FALLBACK_ORDER": "openai"}
    with pytest.raises(ConfigError) as err:
        check_provider_settings(load_settings(env))
    line = str(err.value)
    assert line.startswith("invalid configuration: PREFERRED_PROVIDER: not set"), line
    assert "before PROVIDER_FALLBACK_ORDER (openai)" in line and "\n" not in line


@pytest.mark.parametrize("provider", ["mock", "openai"])
def test_production_takes_a_provider_named_even_the_mock(provider: str) -> None:
    check_provider_settings(load_settings(PRODUCTION | {"PREFERRED_PROVIDER": provider}))


def test_outside_production_the_mock_stays_the_default() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "NODE_ENV"}
    settings = load_settings(env)
    assert settings.preferred_provider == "mock"
    check_provider_settings(settings)
