"""Token estimate and Retry-After parsing."""

from __future__ import annotations

from novaos.ports import ChatMessage
from novaos.providers.retry_after import parse_retry_after
from novaos.providers.tokens import estimate_tokens, estimate_usage


def test_estimate_is_deterministic_and_split_independent() -> None:
    text = "Hello, wonderful world! Tokenisation is approximate."
    assert estimate_tokens(text) == estimate_tokens(text) > 0
    # summing per-chunk estimates over a word split would over-count; the whole text must be used
    assert estimate_tokens("tokenisation") < estimate_tokens("tokeni") + estimate_tokens("sation")
    assert estimate_tokens("") == 0


def test_estimate_usage_counts_prompt_framing() -> None:
    messages = (ChatMessage("system", "be brief"), ChatMessage("user", "hi"))
    usage = estimate_usage(messages, "hello there")
    assert usage.input_tokens == 3 + (3 + 3) + (3 + 1)  # "be"=1 "brief"=2, "hi"=1
    assert usage.output_tokens == 4


def test_retry_after_seconds_ms_and_http_date() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert parse_retry_after({"retry-after": date}, now_unix=1445412480.0) == 10.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-5"}) == 0.0
    assert parse_retry_after({"retry-after": "99999999"}) == 3600.0
