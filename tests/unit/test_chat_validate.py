"""Request checks before admission: what a refusal costs the event loop."""

from __future__ import annotations

import unicodedata

import pytest

from novaos.domain import ChatInput
from novaos.errors import InvalidArgumentError
from novaos.pipeline.gates.normalize import _IGNORABLE, shows_nothing
from novaos.services.chat import ChatLimits, validate


@pytest.mark.parametrize("blank", ["\u200b", " "])
def test_an_over_long_blank_message_is_refused_by_its_length_unread(blank: str) -> None:
    # The blank check ran first, in Python, over the whole message: a 4 MB one
    # (the gRPC maximum) of spaces or U+200B held the event loop 0.3-0.5 s per
    # request, before admission, so no rate limit applied.
    limits = ChatLimits()
    with pytest.raises(InvalidArgumentError, match="longer than 32000 characters"):
        validate(ChatInput(message=blank * 1_390_000), limits)
    with pytest.raises(InvalidArgumentError, match="must not be empty"):
        validate(ChatInput(message=blank * limits.max_message_chars), limits)


def test_an_over_long_blank_action_is_refused_by_its_length() -> None:
    with pytest.raises(InvalidArgumentError, match=r"requested_actions\[1\]: longer than 64"):
        validate(ChatInput(message="hi", requested_actions=("verify", "\u200b" * 65)), ChatLimits())


# The prepended concatenation marks: format characters that draw a glyph.
_VISIBLE_CF = [*range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD]


def test_shows_nothing_is_whitespace_format_and_ignorable_characters() -> None:
    # One regular expression now: the same set as the per-character reading.
    for cp in range(0x110000):
        c = chr(cp)
        blank = c.isspace() or cp in _IGNORABLE or unicodedata.category(c) == "Cf"
        assert shows_nothing(c) is (blank and cp not in _VISIBLE_CF), hex(cp)
    assert shows_nothing("") and shows_nothing(" \u200b\ufeff\u2060\n")
    assert not shows_nothing("\u200b" * 100 + "a")


@pytest.mark.parametrize("cp", _VISIBLE_CF)
def test_a_format_character_that_draws_a_glyph_is_a_message(cp: int) -> None:
    # "\u06dd" (end of ayah) or "\u0600" (Arabic number sign) alone was refused
    # as blank: they are category Cf, but a reader sees them.
    assert validate(ChatInput(message=chr(cp)), ChatLimits()).message == chr(cp)
    assert validate(ChatInput(message=f" {chr(cp)}\u200b"), ChatLimits())
