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


# Thai, kana, CJK extension A, CJK unified, Hangul, compatibility ideographs, planes 2-3.
SPACELESS = [
    (0x0E00, 0x0E7F), (0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF),
]  # fmt: skip


def _spaceless(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in SPACELESS)


def _word_cost(word: str) -> int:
    cost, run = 0, 0  # run: word characters since the last spaceless one
    for ch in word:
        if _spaceless(ch):
            cost, run = cost + 1 + -(-run // 4), 0
        else:
            run += 1
    return cost + -(-run // 4)


@given(st.text())
def test_estimate_is_a_token_per_four_word_characters_and_per_mark(text: str) -> None:
    """The definition: each run of word characters costs ceil(len / 4), each
    character of a script written without spaces 1, each punctuation mark 1."""
    pieces = re.findall(r"\w+|[^\w\s]", text)
    assert estimate_tokens(text) == sum(_word_cost(p) for p in pieces)


def test_chinese_japanese_korean_and_thai_cost_a_token_per_character() -> None:
    # Counted four characters to a token, CJK text was reserved at about half
    # of what providers charged for it.
    assert estimate_tokens("你好世界今天天气很好") == 10
    assert estimate_tokens("こんにちは") == 5
    assert estimate_tokens("안녕하세요") == 5
    assert estimate_tokens("abcd漢字efgh") == 4


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
