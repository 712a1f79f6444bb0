"""The built-in mock provider: deterministic text, paced tokens, no network.

For a given message it always answers the same text, streamed one word at a
time every ``token_delay_ms``. Tests may script outputs with a JSON file
(``MOCK_SCRIPT_FILE``: {"<substring of the user message>": "<answer>", ...});
settings refuse that file when NODE_ENV=production.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from novaos.ports import ProviderChunk, ProviderRequest, ProviderResponse
from novaos.tokens import estimate_tokens, estimate_usage

_WORDS = tuple(
    [
        "clear",
        "steps",
        "help",
        "most",
        "when",
        "they",
        "are",
        "small",
        "and",
        "concrete",
        ".",
        "start",
        "with",
        "what",
        "you",
        "know",
        ",",
        "write",
        "down",
        "the",
        "next",
        "action",
        ",",
        "and",
        "check",
        "the",
        "result",
        "before",
        "moving",
        "on",
        ".",
        "a",
        "short",
        "plan",
        "beats",
        "a",
        "long",
        "one",
        ",",
        "and",
        "a",
        "finished",
        "draft",
        "beats",
        "a",
        "perfect",
        "outline",
        ".",
        "keep",
        "notes",
        "simple",
        "so",
        "that",
        "tomorrow",
        "you",
        "can",
        "pick",
        "up",
        "where",
        "you",
        "stopped",
        ".",
    ]
)
# Where a sentence of the word list begins: answers start there, capitalised.
_SENTENCE_STARTS = tuple(i for i in range(len(_WORDS)) if i == 0 or _WORDS[i - 1] == ".")
_TOKEN = re.compile(r"\S+\s*")


def _capped(pieces: list[str], max_tokens: int | None) -> tuple[list[str], str]:
    """The pieces that fit in ``max_tokens`` (as a real upstream stops at it) and why it ended."""
    # Pieces split at whitespace, so their estimates add up to the whole text's.
    used = 0
    for i, piece in enumerate(pieces):
        used += estimate_tokens(piece)
        if max_tokens and used > max_tokens:
            return pieces[:i], "length"
    return pieces, "stop"


def load_script(path: Path | None) -> Mapping[str, str]:
    if path is None:
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError("MOCK_SCRIPT_FILE must be a JSON object of string -> string")
    return dict(data)


class MockProvider:
    """Deterministic provider used by ``make run``, tests and benchmarks."""

    def __init__(
        self,
        *,
        token_delay_ms: int = 20,
        response_tokens: int = 60,
        script: Mapping[str, str] | None = None,
        name: str = "mock",
    ) -> None:
        self.name = name
        self.default_model = "mock-1"
        self._delay_s = token_delay_ms / 1000
        self._length = response_tokens
        self._script = dict(script or {})
        self.calls = 0  # how many requests reached the model (tests assert on it)
        self.active = 0  # upstream streams currently open

    def answer_for(self, request: ProviderRequest) -> str:
        user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        for key, scripted in self._script.items():
            if key in user:
                return self._scripted(key, scripted, request)
        seed = int.from_bytes(hashlib.sha256(user.encode()).digest()[:4], "big")
        start = _SENTENCE_STARTS[seed % len(_SENTENCE_STARTS)]  # never ". start with ..."
        words = [_WORDS[(start + i) % len(_WORDS)] for i in range(self._length)]
        words = [w.capitalize() if not i or words[i - 1] == "." else w for i, w in enumerate(words)]
        text = " ".join(words).replace(" .", ".").replace(" ,", ",").rstrip(",")
        return text if text.endswith(".") else text + "."

    def _scripted(self, key: str, scripted: str, request: ProviderRequest) -> str:
        # "a|||b" scripts successive attempts (regeneration); feedback in the system
        # prompt moves to the next variant, so tests can script a fixed retry.
        variants = scripted.split("|||")
        attempt = sum(1 for m in request.messages if m.role == "system" and "REVISION" in m.content)
        return variants[min(attempt, len(variants) - 1)]

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        self.calls += 1
        self.active += 1
        pieces, finish = _capped(_TOKEN.findall(self.answer_for(request)), request.max_tokens)
        model = request.model or self.default_model
        try:
            for piece in pieces:
                if self._delay_s:
                    await asyncio.sleep(self._delay_s)
                yield ProviderChunk(text=piece, provider=self.name, model=model)
        finally:
            self.active -= 1
        usage = estimate_usage(request.messages, "".join(pieces))
        yield ProviderChunk(usage=usage, finish_reason=finish, provider=self.name, model=model)

    async def complete(self, request: ProviderRequest) -> ProviderResponse:
        self.calls += 1
        pieces, finish = _capped(_TOKEN.findall(self.answer_for(request)), request.max_tokens)
        text = "".join(pieces)
        usage = estimate_usage(request.messages, text)
        model = request.model or self.default_model
        return ProviderResponse(
            text=text, usage=usage, model=model, provider=self.name, finish_reason=finish
        )

    async def aclose(self) -> None:
        return None
