"""The built-in mock's answers read as prose: what `make run` shows a new user first."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from novaos.ports import ChatMessage, ProviderRequest
from novaos.providers.mock import MockProvider

# A sentence: a capitalised word, then words and commas, then a full stop.
_SENTENCE = re.compile(r"[A-Z][a-z]*(?:,? [a-z]+)*\.")


def _answer(prompt: str, length: int = 60) -> str:
    mock = MockProvider(token_delay_ms=0, response_tokens=length)
    return mock.answer_for(ProviderRequest(messages=(ChatMessage("user", prompt),)))


@settings(max_examples=300, deadline=None)
@given(prompt=st.text(max_size=80), length=st.integers(min_value=1, max_value=120))
def test_every_answer_is_whole_capitalised_sentences(prompt: str, length: int) -> None:
    text = _answer(prompt, length)
    sentences = text.split(". ")
    assert all(_SENTENCE.fullmatch(s if s.endswith(".") else s + ".") for s in sentences), text
    assert not text.startswith((".", ","))


def test_a_prompt_that_used_to_start_mid_sentence() -> None:
    # Before, the start was any word of the list: this prompt began ". start with".
    text = _answer("how do I make my bread rise better")
    assert text[0].isupper() and not text.startswith((".", ","))


def test_the_answer_is_deterministic_and_varies_between_prompts() -> None:
    prompts = [f"question number {i}" for i in range(20)]
    answers = [_answer(p) for p in prompts]
    assert answers == [_answer(p) for p in prompts]
    assert len(set(answers)) > 1
