"""Variable names are read as the guide spells them, upper-case. Read case-insensitively,
``require_auth=false`` next to ``REQUIRE_AUTH=true`` switched authentication off or not
depending on which came last in the environment, and errors named the wrong spelling."""

from __future__ import annotations

import pytest

from novaos.config import Settings, load_settings
from novaos.errors import ConfigError

SECRET = "Hq7vXk2pLm9sRt4wYz6bNc3dJf8gUe5hKi1oPa0qSd7rTy2uVb4nMw6x"


@pytest.mark.parametrize(
    "env",
    [
        {"REQUIRE_AUTH": "true", "JWT_SECRET": SECRET, "require_auth": "false"},
        {"require_auth": "false", "REQUIRE_AUTH": "true", "JWT_SECRET": SECRET},
    ],
)
def test_a_lower_case_spelling_of_a_setting_is_refused_naming_it(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(env)
    assert str(refused.value) == (
        "invalid configuration: require_auth: variable names are upper-case; "
        "set REQUIRE_AUTH instead"
    )


def test_the_process_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_PORT", "50051")
    monkeypatch.setenv("REQUIRE_AUTH", "false")
    monkeypatch.setenv("Grpc_Port", "abc")  # the error named GRPC_PORT, which is fine
    with pytest.raises(ConfigError, match=r"^invalid configuration: Grpc_Port: .* GRPC_PORT"):
        load_settings()


def test_only_upper_case_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRE_AUTH", "false")
    monkeypatch.setenv("jwt_audience", "api")
    monkeypatch.setenv("grpc_port", "1234")
    settings = Settings()
    assert settings.jwt_audience == "" and settings.grpc_port == 50051
    # ... nor taken from a mapping handed to load_settings (an empty one is unset)
    assert load_settings({"REQUIRE_AUTH": "false", "jwt_audience": ""}).jwt_audience == ""
