"""Google Gemini adapter (``models/{model}:streamGenerateContent?alt=sse``).

Each SSE ``data:`` line is a ``GenerateContentResponse``: ``candidates`` with
text ``parts`` (thought summaries' are marked ``thought`` and skipped), a
``finishReason`` on the last one, and ``usageMetadata`` (cumulative, so the
last value wins). There is no ``[DONE]``: a stream that
ends before a ``finishReason`` (or a prompt block) was cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from novaos.domain import Usage
from novaos.ports import ProviderChunk, ProviderRequest, ProviderResponse
from novaos.providers import errors as perr
from novaos.providers.http import (
    JSON,
    HttpCall,
    HttpProvider,
    HttpSettings,
    chat_turns,
    load_json_event,
    system_text,
)
from novaos.providers.sse import SSEEvent
from novaos.tokens import believable, estimate_tokens, estimate_usage, with_estimates

_ROLES = {"user": "user", "assistant": "model"}
_USAGE_KEYS = ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount")


class GeminiProvider(HttpProvider):
    name = "gemini"
    # STOP, MAX_TOKENS, the filters' (and "blocked": promptFeedback.blockReason).
    # Not OTHER ("unknown reason"), LANGUAGE, MALFORMED_FUNCTION_CALL,
    # FINISH_REASON_UNSPECIFIED or one added later: cut, never done.
    whole_finishes = frozenset(
        {
            "stop", "max_tokens", "safety", "recitation", "blocklist", "prohibited_content",
            "spii", "image_safety", "image_prohibited_content", "image_recitation", "blocked",
        }
    )  # fmt: skip

    def __init__(
        self, *, api_key: SecretStr, base_url: str, default_model: str, http: HttpSettings
    ) -> None:
        super().__init__(base_url=base_url, default_model=default_model, http=http)
        self._headers = {"x-goog-api-key": api_key.get_secret_value()}

    def _body(self, request: ProviderRequest) -> JSON:
        config: JSON = {"maxOutputTokens": request.max_tokens}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        body: JSON = {
            "contents": [
                {"role": _ROLES.get(m.role, "user"), "parts": [{"text": m.content}]}
                for m in chat_turns(request.messages)
            ],
            "generationConfig": config,
        }
        if system := system_text(request.messages):
            body["systemInstruction"] = {"parts": [{"text": system}]}
        return body

    def _stream_call(self, request: ProviderRequest, model: str) -> HttpCall:
        path = f"{_in_path(model)}:streamGenerateContent"
        return HttpCall(path, self._body(request), self._headers, {"alt": "sse"})

    def _complete_call(self, request: ProviderRequest, model: str) -> HttpCall:
        path = f"{_in_path(model)}:generateContent"
        return HttpCall(path, self._body(request), self._headers)

    def _decoder(self, request: ProviderRequest, model: str) -> GeminiStreamDecoder:
        return GeminiStreamDecoder(self.name, request, model)

    def _parse_response(self, data: JSON, request: ProviderRequest, model: str) -> ProviderResponse:
        piece = _Piece.parse(self.name, data)
        if not piece.finish:
            raise perr.MalformedChunkError(self.name, "response has no finishReason")
        usage = _charged(piece.counts, request, piece.text, piece.thought)
        return ProviderResponse(
            text=piece.text, usage=usage, model=piece.model or model, finish_reason=piece.finish
        )


def _in_path(model: str) -> str:
    """The model's resource name as the URL path under the base URL: ``/models/{id}``
    for ``id``, ``models/id`` (the name Gemini's own API gives it) or a tuned
    model's ``tunedModels/id`` as it is; percent-encoded but for "/" and ":" (a
    model id holds no other reserved character: ``novaos.domain.MODEL_ID``). Dot
    segments are refused where the URL is made (``HttpProvider._url``)."""
    if not model.startswith(("models/", "tunedModels/")):
        model = f"models/{model}"
    return "/" + quote(model, safe="/:@+")


class GeminiStreamDecoder:
    def __init__(self, provider: str, request: ProviderRequest, model: str) -> None:
        self._provider = provider
        self._request = request
        self._model = model
        self._text: list[str] = []
        self._thoughts: list[str] = []
        self._counts: _Counts | None = None
        self._finish = ""

    def feed(self, event: SSEEvent) -> list[ProviderChunk]:
        piece = _Piece.parse(self._provider, load_json_event(self._provider, event))
        self._counts = _Counts.after(self._counts, piece.counts)
        self._model = piece.model or self._model
        self._finish = piece.finish or self._finish
        chunks: list[ProviderChunk] = []
        if piece.thought:  # not answer text, but billed as output (even beside text)
            self._thoughts.append(piece.thought)
            chunks.append(ProviderChunk(model=self._model, reasoning=piece.thought))
        if piece.text:
            self._text.append(piece.text)
            chunks.append(ProviderChunk(text=piece.text, model=self._model))
        return chunks

    @property
    def complete(self) -> bool:
        return bool(self._finish)  # Gemini has no end marker: the finish reason is it

    def reported(self) -> Usage | None:
        counts = self._counts  # usageMetadata: running counts, on any chunk
        if counts is None:
            return None
        return Usage(counts.prompt or 0, (counts.candidates or 0) + (counts.thoughts or 0))

    def finish(self) -> ProviderChunk:
        if not self._finish:
            raise perr.StreamCutError(self._provider, "stream ended before a finishReason")
        text, thoughts = "".join(self._text), "".join(self._thoughts)
        usage = _charged(self._counts, self._request, text, thoughts)
        return ProviderChunk(usage=usage, finish_reason=self._finish, model=self._model)


class _Piece:
    """What one ``GenerateContentResponse`` says (text, finish, usage, model, and
    the thought summaries' text)."""

    def __init__(self, text: str, finish: str, counts: _Counts | None, model: str) -> None:
        self.text, self.finish, self.counts, self.model = text, finish, counts, model
        self.thought = ""

    @classmethod
    def parse(cls, provider: str, data: JSON) -> _Piece:
        if "error" in data:
            error = data["error"]
            message = error.get("message", "") if isinstance(error, dict) else str(error)
            raise perr.StreamErrorEventError(provider, str(message))  # shortened by the router
        text, thought, finish = _candidate(provider, data.get("candidates"))
        feedback = data.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            finish = finish or "blocked"
        counts = _counts(provider, data.get("usageMetadata"))
        piece = cls(text, finish.lower(), counts, str(data.get("modelVersion") or ""))
        piece.thought = thought
        return piece


def _candidate(provider: str, candidates: Any) -> tuple[str, str, str]:
    """The first candidate's answer text, thought text and finish reason."""
    if candidates is None:
        return "", "", ""
    if not isinstance(candidates, list) or (candidates and not isinstance(candidates[0], dict)):
        raise perr.MalformedChunkError(provider, "candidates is not a list of objects")
    if not candidates:
        return "", "", ""
    first = candidates[0]
    content = first.get("content") or {}
    parts = (content.get("parts") or []) if isinstance(content, dict) else None
    if not isinstance(parts, list):
        raise perr.MalformedChunkError(provider, "content parts is not a list")
    texts = [p["text"] for p in parts if _is_answer(p)]
    thoughts = [p["text"] for p in parts if _is_thought(p)]
    return "".join(texts), "".join(thoughts), str(first.get("finishReason") or "")


def _is_answer(part: Any) -> bool:
    """A text part that is not a thought summary: Gemini 2.5 marks its reasoning
    ``"thought": true``. That is never answer text; its tokens are still billed
    (``thoughtsTokenCount``) and its events still keep a stream alive."""
    return isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought")


def _is_thought(part: Any) -> bool:
    return (
        isinstance(part, dict) and isinstance(part.get("text"), str) and bool(part.get("thought"))
    )


@dataclass(frozen=True, slots=True)
class _Counts:
    """A ``usageMetadata``'s counts; one it left out (or null) is None: not
    reported, so estimated, never 0 (``thoughtsTokenCount`` is left out when the
    model did not think, and its thought text is then empty, so estimated 0)."""

    prompt: int | None
    candidates: int | None
    thoughts: int | None

    @staticmethod
    def after(so_far: _Counts | None, new: _Counts | None) -> _Counts | None:
        """Running counts after another report: each count's last value given."""
        if so_far is None or new is None:
            return new or so_far
        return _Counts(
            so_far.prompt if new.prompt is None else new.prompt,
            so_far.candidates if new.candidates is None else new.candidates,
            so_far.thoughts if new.thoughts is None else new.thoughts,
        )


def _counts(provider: str, raw: Any) -> _Counts | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise perr.MalformedChunkError(provider, "usageMetadata is not an object")
    counts = [raw.get(key) for key in _USAGE_KEYS]
    if not all(n is None or isinstance(n, int) for n in counts):
        raise perr.MalformedChunkError(provider, "usageMetadata counts are not integers")
    if not believable(*(n for n in counts if n is not None)):
        return None  # a count out of range: the last believable counts, else the estimate
    return _Counts(*counts)


def _charged(counts: _Counts | None, request: ProviderRequest, text: str, thoughts: str) -> Usage:
    """A finished answer's usage: the counts reported, each one left out estimated
    (of the prompt, the answer text, the thought text); thinking tokens are billed
    as output."""
    counts = counts or _Counts(None, None, None)
    output = None
    if counts.candidates is not None:
        thinking = counts.thoughts if counts.thoughts is not None else estimate_tokens(thoughts)
        output = counts.candidates + thinking
    elif counts.thoughts is not None:
        output = estimate_tokens(text) + counts.thoughts
    return with_estimates(
        counts.prompt, output, lambda: estimate_usage(request.messages, text, thoughts)
    )
