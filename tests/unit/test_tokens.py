"""The one token estimate: what admission reserves is what the mock charges."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from novaos.ports import ChatMessage, ProviderRequest
from novaos.providers.mock import MockProvider
from novaos.tokens import estimate_input_tokens, estimate_tokens, estimate_usage, reservation

MESSAGES = (
    ChatMessage("system", "You are Nova. Sources: [1] http://x.test/a rates rose."),
    ChatMessage("user", "What is the latest rate today?"),
)


def test_estimate_is_deterministic_and_split_independent() -> None:
    text = "Hello, wonderful world! Tokenisation is approximate."
    assert estimate_tokens(text) == estimate_tokens(text) > 0
    # summing per-chunk estimates over a word split would over-count; the whole text must be used
    assert estimate_tokens("tokenisation") < estimate_tokens("tokeni") + estimate_tokens("sation")
    assert estimate_tokens("") == 0


@given(st.text())
def test_estimate_is_a_token_per_four_word_characters_and_per_mark(text: str) -> None:
    """The definition: each word costs ceil(len / 4), each punctuation mark 1."""
    pieces = re.findall(r"\w+|[^\w\s]", text)
    assert estimate_tokens(text) == sum(-(-len(p) // 4) for p in pieces)


def test_estimate_usage_counts_prompt_framing() -> None:
    messages = (ChatMessage("system", "be brief"), ChatMessage("user", "hi"))
    usage = estimate_usage(messages, "hello there")
    assert usage.input_tokens == 3 + (3 + 3) + (3 + 1)  # "be"=1 "brief"=2, "hi"=1
    assert usage.output_tokens == 4


def test_reservation_is_the_input_plus_max_output() -> None:
    assert reservation(MESSAGES, 50) == estimate_input_tokens(MESSAGES) + 50
    assert reservation(MESSAGES, -1) == estimate_input_tokens(MESSAGES)
    # every extra message costs its framing and text: a system prompt is never free
    assert reservation(MESSAGES, 50) > reservation(MESSAGES[1:], 50)


async def test_the_mock_charges_the_estimate_and_stays_within_the_reservation() -> None:
    mock = MockProvider(token_delay_ms=0, response_tokens=60)
    for max_tokens in (512, 7):
        request = ProviderRequest(messages=MESSAGES, max_tokens=max_tokens)
        whole = await mock.complete(request)
        assert whole.usage == estimate_usage(MESSAGES, whole.text)
        assert whole.usage.output_tokens <= max_tokens
        assert whole.usage.input_tokens + whole.usage.output_tokens <= reservation(
            MESSAGES, max_tokens
        )
        chunks = [c async for c in mock.stream(request)]
        assert "".join(c.text for c in chunks) == whole.text  # streamed and unary agree
        assert chunks[-1].usage == whole.usage
        assert chunks[-1].finish_reason == whole.finish_reason
    assert whole.finish_reason == "length" and whole.text  # cut at max_tokens, not empty
