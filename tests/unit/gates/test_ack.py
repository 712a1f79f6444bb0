from __future__ import annotations

import base64
import json

import pytest

from novaos.errors import AckInvalidError
from novaos.pipeline.ack import AckTokens, derive_ack_secret
from tests.fixtures.gate_fakes import FakeStore, ManualClock

SECRET = b"s" * 32
MESSAGE = "I want to put my life savings into one stock today"


@pytest.fixture
def tokens(store: FakeStore, clock: ManualClock) -> AckTokens:
    return AckTokens(SECRET, store, clock)


async def test_issue_then_redeem_once(
    tokens: AckTokens, store: FakeStore, clock: ManualClock
) -> None:
    token, prompt, expires_at = tokens.issue("alice", "c1", MESSAGE, "finance")
    assert expires_at == int(clock()) + 600
    assert "lose money" in prompt
    assert await tokens.redeem(token, "alice", "c1", MESSAGE) == "finance"
    assert len(store.writes) == 1 and store.writes[0].startswith("ack:nonce:")
    with pytest.raises(AckInvalidError, match="already used"):
        await tokens.redeem(token, "alice", "c1", MESSAGE)
    assert len(store.writes) == 1


async def test_surrounding_whitespace_is_the_same_message(tokens: AckTokens) -> None:
    token, _, _ = tokens.issue("alice", "c1", MESSAGE, "finance")
    assert await tokens.redeem(token, "alice", "c1", f"  {MESSAGE}\n") == "finance"


def _tamper(token: str) -> str:
    body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["u"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{forged}.{sig}"


def _flip_signature(token: str) -> str:
    return token[:-2] + ("AA" if token[-2:] != "AA" else "BB")


@pytest.mark.parametrize(
    ("mutate", "user", "conversation", "message", "advance_s", "why"),
    [
        (None, "bob", "c1", MESSAGE, 0, "another user"),
        (None, "alice", "c2", MESSAGE, 0, "another conversation"),
        (None, "alice", "c1", MESSAGE + " and my house", 0, "another message"),
        (None, "alice", "c1", MESSAGE, 600 + 31, "expired"),
        (_tamper, "mallory", "c1", MESSAGE, 0, "signature"),
        (
            lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),
            "alice",
            "c1",
            MESSAGE,
            0,
            "signature",
        ),
        (lambda t: "garbage", "alice", "c1", MESSAGE, 0, "malformed"),
        (lambda t: "", "alice", "c1", MESSAGE, 0, "malformed"),
        (lambda t: "a.b.c", "alice", "c1", MESSAGE, 0, "malformed"),
        (lambda t: "é." + t.split(".")[1], "alice", "c1", MESSAGE, 0, "signature"),
        (lambda t: t + "x" * 5000, "alice", "c1", MESSAGE, 0, "malformed"),
    ],
)
async def test_misuse_is_refused_and_stores_nothing(
    tokens: AckTokens,
    store: FakeStore,
    clock: ManualClock,
    *,
    mutate: object,
    user: str,
    conversation: str,
    message: str,
    advance_s: int,
    why: str,
) -> None:
    token, _, _ = tokens.issue("alice", "c1", MESSAGE, "finance")
    if callable(mutate):
        token = mutate(token)
    clock.advance(advance_s)
    with pytest.raises(AckInvalidError, match=why) as err:
        await tokens.redeem(token, user, conversation, message)
    assert err.value.reason == "ACK_INVALID"
    assert err.value.field == "ack_token"
    assert store.writes == []


async def test_clock_skew_is_tolerated(tokens: AckTokens, clock: ManualClock) -> None:
    token, _, _ = tokens.issue("alice", "c1", MESSAGE, "finance")
    clock.advance(600 + 29)
    assert await tokens.redeem(token, "alice", "c1", MESSAGE) == "finance"


async def test_token_from_the_future_beyond_skew(store: FakeStore, clock: ManualClock) -> None:
    future = ManualClock(clock() + 120)
    token, _, _ = AckTokens(SECRET, store, future).issue("alice", "c1", MESSAGE, "finance")
    with pytest.raises(AckInvalidError, match="not valid yet"):
        await AckTokens(SECRET, store, clock).redeem(token, "alice", "c1", MESSAGE)
    assert store.writes == []


async def test_a_token_made_to_outlive_the_lifetime_is_refused(
    store: FakeStore, clock: ManualClock
) -> None:
    long_lived = AckTokens(SECRET, store, clock, ttl_s=86_400)
    token, _, _ = long_lived.issue("alice", "c1", MESSAGE, "finance")
    with pytest.raises(AckInvalidError, match="longer than allowed"):
        await AckTokens(SECRET, store, clock).redeem(token, "alice", "c1", MESSAGE)
    assert store.writes == []


async def test_other_secret_is_refused(store: FakeStore, clock: ManualClock) -> None:
    token, _, _ = AckTokens(b"o" * 32, store, clock).issue("alice", "c1", MESSAGE, "finance")
    with pytest.raises(AckInvalidError, match="signature"):
        await AckTokens(SECRET, store, clock).redeem(token, "alice", "c1", MESSAGE)
    assert store.writes == []


async def test_nonce_burn_is_shared_between_instances(store: FakeStore, clock: ManualClock) -> None:
    first, second = AckTokens(SECRET, store, clock), AckTokens(SECRET, store, clock)
    token, _, _ = first.issue("alice", "c1", MESSAGE, "medication")
    assert await second.redeem(token, "alice", "c1", MESSAGE) == "medication"
    with pytest.raises(AckInvalidError, match="already used"):
        await first.redeem(token, "alice", "c1", MESSAGE)


def test_secret_derivation() -> None:
    assert derive_ack_secret("a" * 32, "j" * 32) == b"a" * 32
    derived = derive_ack_secret(None, "j" * 32)
    assert derived is not None and len(derived) == 32
    assert derived != b"j" * 32
    assert derived == derive_ack_secret(None, "j" * 32)
    assert derived != derive_ack_secret(None, "k" * 32)
    assert derive_ack_secret(None, None) is None
    with pytest.raises(ValueError, match="32 bytes"):
        AckTokens(b"short", FakeStore())
