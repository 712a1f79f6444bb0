"""Secrets that key tokens, acks, pseudonyms or the audit chain must look generated.

Forty spaces (an empty template substitution padded out) or forty ``a`` were taken
as the HS256 key, even with NODE_ENV=production: anyone could mint tokens.
"""

from __future__ import annotations

import base64
import secrets

import pytest

from novaos.config import load_settings
from novaos.errors import ConfigError

NAMES = ("JWT_SECRET", "ACK_SECRET", "AUDIT_HMAC_KEY", "AUDIT_CHAIN_KEY")
GOOD = "Hq7vXk2pLm9sRt4wYz6bNc3dJf8gUe5hKi1oPa0qSd7rTy2uVb4nMw6x"
TRIVIAL = {
    "blank": " " * 40,
    "one character": "a" * 40,
    "two characters": "ab" * 20,
    "seven characters": "abcdefg" * 5,
    "padded": f" {GOOD} ",
    "a file's newline": f"{GOOD}\n",
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("env", ["production", "development"])
@pytest.mark.parametrize("value", TRIVIAL.values(), ids=TRIVIAL.keys())
def test_a_trivial_secret_stops_startup_naming_the_variable(
    name: str, env: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=f"^invalid configuration: {name}: ") as refused:
        load_settings({"NODE_ENV": env, "JWT_SECRET": GOOD, name: value})
    message = str(refused.value)
    assert "\n" not in message
    assert not value.strip() or value.strip() not in message  # not quoted back


# The list is split on commas and each item stripped: padding never reaches a key.
UNPADDED = {k: v for k, v in TRIVIAL.items() if v.strip() == v}


@pytest.mark.parametrize("value", UNPADDED.values(), ids=UNPADDED.keys())
def test_a_trivial_retired_chain_key_is_refused(value: str) -> None:
    env = {"JWT_SECRET": GOOD, "AUDIT_CHAIN_PREVIOUS_KEYS": f"{GOOD[::-1]},{value}"}
    refusal = r"^invalid configuration: AUDIT_CHAIN_PREVIOUS_KEYS: key 2: "
    with pytest.raises(ConfigError, match=refusal):
        load_settings(env)


def test_the_short_message_is_unchanged() -> None:
    with pytest.raises(ConfigError, match=r"JWT_SECRET: must be at least 32 characters$"):
        load_settings({"JWT_SECRET": "short"})


@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_hex(16),  # openssl rand -hex 16: the shortest that passes
        lambda: secrets.token_hex(32),  # openssl rand -hex 32
        lambda: base64.b64encode(secrets.token_bytes(48)).decode(),  # openssl rand -base64 48
        lambda: secrets.token_urlsafe(32),
    ],
    ids=["hex16", "hex32", "base64-48", "urlsafe"],
)
def test_generated_secrets_pass(make: object) -> None:
    assert callable(make)
    # Fewer than 8 distinct characters in 32 random hex ones: about 4e-8 per draw.
    for _ in range(100):
        key = make()
        settings = load_settings({"NODE_ENV": "production", **dict.fromkeys(NAMES, key)})
        assert settings.jwt_secret is not None and settings.jwt_secret.get_secret_value() == key


def test_a_passphrase_with_inner_spaces_passes() -> None:
    phrase = "correct horse battery staple under the violet moon"
    assert load_settings({"JWT_SECRET": phrase}).jwt_secret is not None


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        (
            "OPENAI_COMPAT_BASE_URL",
            "ftp://u:supersecretpw99@host/v1",
            "'ftp://u:***@host/v1' is not an http:// or https:// URL",
        ),
        (
            "ANTHROPIC_BASE_URL",
            "https://u:supersecretpw99@host:99999/v1",
            "'https://u:***@host:99999/v1' is not an http:// or https:// URL",
        ),
        ("ALLOWED_ORIGINS", "https://u:supersecretpw99@app.example", "'https://u:***@app.example'"),
        ("ALLOWED_ORIGINS", "https://u:super/secret@pw99@app.example", "'https://u:***@app."),
        # the scheme or its slashes forgotten: the password was quoted (twice for an origin)
        ("OPENAI_COMPAT_BASE_URL", "u:supersecretpw99@host/v1", "'u:***@host/v1'"),
        ("OPENAI_COMPAT_BASE_URL", "//u:supersecretpw99@host/v1", "'//u:***@host/v1'"),
        ("OPENAI_COMPAT_BASE_URL", "http:/u:supersecretpw99@host/v1", "'http:/u:***@host/v1'"),
        ("ALLOWED_ORIGINS", "u:supersecretpw99@app.example", "'u:***@app.example'"),
    ],
)
def test_a_url_is_quoted_without_its_password(name: str, value: str, shown: str) -> None:
    with pytest.raises(ConfigError, match=f"^invalid configuration: {name}: ") as refused:
        load_settings({name: value, "OPENAI_COMPAT_MODEL": "m"})
    message = str(refused.value)
    assert shown in message
    assert "secret" not in message and "pw99" not in message
