"""The one token estimate: admission reservations, the mock's usage, providers' fallback.

Not any vendor's tokenizer: a stable approximation (one token per ~4
characters of each word or punctuation mark, one per character of Chinese,
Japanese, Korean and Thai, plus per-message framing) so
budgets still trip and a streamed and a non-streamed answer of the same text
count the same. Always estimate over the whole text, never per chunk: a word
split across two chunks must not count twice.

Admission reserves ``reservation(messages, max_tokens)`` for the exact messages
sent upstream; the mock provider reports ``estimate_usage`` of the same
messages, so for it a reservation is an exact upper bound of what is charged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from novaos.domain import Usage
from novaos.ports import ChatMessage

# Scripts written without spaces, where tokenizers spend about a token per
# character: Han, kana, Hangul, Thai (counted four to a token, CJK text was
# estimated at about half its real usage).
_PER_CHARACTER = (
    "\u0e00-\u0e7f"  # Thai
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"  # Han
    "\uac00-\ud7af"  # Hangul syllables
)
# One token per character of those scripts, per started run of 4 other word
# characters, and per punctuation mark: each match is one token, so counting
# matches is the whole estimate (no per-piece arithmetic). A run never crosses a
# word, since words are split by spaces or punctuation.
_TOKEN = re.compile(rf"[{_PER_CHARACTER}]|[^\W{_PER_CHARACTER}]{{1,4}}|[^\w\s]")
_MESSAGE_FRAMING = 3  # role and separators, as chat formats add around each message
_REPLY_PRIMING = 3


@lru_cache(maxsize=128)
def estimate_tokens(text: str) -> int:
    """Cached: a request estimates its message at admission and again inside the
    prompt, and system prompts repeat across requests."""
    return len(_TOKEN.findall(text))


def estimate_input_tokens(messages: Iterable[ChatMessage]) -> int:
    total = _REPLY_PRIMING
    for message in messages:
        total += _MESSAGE_FRAMING + estimate_tokens(message.content)
    return total


def estimate_usage(messages: Iterable[ChatMessage], output_text: str, reasoning: str = "") -> Usage:
    """``reasoning``: thinking text the provider streamed besides the answer, billed
    as output like it."""
    output = estimate_tokens(output_text) + (estimate_tokens(reasoning) if reasoning else 0)
    return Usage(estimate_input_tokens(messages), output)


def with_estimates(
    input_tokens: int | None, output_tokens: int | None, estimate: Callable[[], Usage]
) -> Usage:
    """A finished call's usage from the counts its provider reported, each one it
    did not (None: left out of its usage object, null, or out of range) taken from
    ``estimate`` (of the prompt sent and the text and reasoning received), so a
    count a proxy leaves out never makes the prompt or the answer free, and a
    streamed and a whole answer are charged alike."""
    if input_tokens is not None and output_tokens is not None:
        return Usage(input_tokens, output_tokens)
    guess = estimate()
    return Usage(
        guess.input_tokens if input_tokens is None else input_tokens,
        guess.output_tokens if output_tokens is None else output_tokens,
    )


def charged_usage(reported: Usage | None, estimate: Usage) -> Usage:
    """What a call given up on or broken mid-stream is charged: the counts the
    provider reported by then where it gave them (0 is a count not given yet), but
    never less output than ``estimate`` (of the text and reasoning that arrived)."""
    if reported is None:
        return estimate
    return Usage(
        reported.input_tokens or estimate.input_tokens,
        max(reported.output_tokens, estimate.output_tokens),
    )


# The most one count of a provider's usage report is believed to say: more than
# any model's context window holds (the largest, Llama 4 Scout's, is 10 M tokens;
# Gemini's 2 M), so no real call reaches it. A count past it is a broken or
# hostile upstream (a proxy, a self-hosted server): believed, one number would
# lock its user out of tokens/min, overflow the API's int64 fields and Redis'
# counters, and put an absurd total into ``llm_token_usage_total``. A count below 0
# is as broken: believed, the client and the audit would show it and the call would
# be free (tokens/min charges no less than 0).
MAX_REPORTED_TOKENS = 10_000_000


def believable(*counts: int) -> bool:
    """Are these counts a provider reported worth charging? A usage report with
    one that is not is no report: the call is charged its estimate, as a
    provider that reports none is (never a failure: the answer is good)."""
    return all(0 <= n <= MAX_REPORTED_TOKENS for n in counts)


def reservation(messages: Iterable[ChatMessage], max_tokens: int) -> int:
    """The most one upstream call with these messages may charge: input plus max output."""
    return estimate_input_tokens(messages) + max(max_tokens, 0)
