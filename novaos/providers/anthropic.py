"""Anthropic Messages adapter (``POST /messages``).

The stream is named SSE events: ``message_start`` (input usage), then
``content_block_start`` / ``content_block_delta`` (``text_delta``) /
``content_block_stop``, ``message_delta`` (stop reason and cumulative output
usage), ``message_stop``; ``ping`` keeps the connection alive and ``error``
(e.g. ``overloaded_error``) can arrive mid-stream. Unknown event types are
ignored, as the API documents new ones may appear.
"""

from __future__ import annotations

from typing import Any

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
from novaos.tokens import believable, estimate_usage, with_estimates

API_VERSION = "2023-06-01"


class AnthropicProvider(HttpProvider):
    name = "anthropic"
    # end_turn, stop_sequence, the limits (max_tokens, model_context_window_exceeded)
    # and refusal. Not tool_use (no tool is offered) or pause_turn (a turn to be
    # continued), nor one added later: cut, never done.
    whole_finishes = frozenset(
        {"end_turn", "stop_sequence", "max_tokens", "model_context_window_exceeded", "refusal"}
    )

    def __init__(
        self, *, api_key: SecretStr, base_url: str, default_model: str, http: HttpSettings
    ) -> None:
        super().__init__(base_url=base_url, default_model=default_model, http=http)
        self._headers = {"x-api-key": api_key.get_secret_value(), "anthropic-version": API_VERSION}

    def _body(self, request: ProviderRequest, model: str) -> JSON:
        body: JSON = {
            "model": model,
            "max_tokens": request.max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in chat_turns(request.messages)
            ],
        }
        if system := system_text(request.messages):
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    def _stream_call(self, request: ProviderRequest, model: str) -> HttpCall:
        return HttpCall("/messages", self._body(request, model) | {"stream": True}, self._headers)

    def _complete_call(self, request: ProviderRequest, model: str) -> HttpCall:
        return HttpCall("/messages", self._body(request, model), self._headers)

    def _decoder(self, request: ProviderRequest, model: str) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(self.name, request, model)

    def _parse_response(self, data: JSON, request: ProviderRequest, model: str) -> ProviderResponse:
        if data.get("type") == "error":
            raise perr.StreamErrorEventError(self.name, _error_text(data.get("error")))
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise perr.MalformedChunkError(self.name, "response has no content list")
        text = _blocks(blocks, "text")
        thinking = _blocks(blocks, "thinking")  # not answer text, but billed as output
        raw = data.get("usage")
        prompt = _count(self.name, raw, "input_tokens") if raw is not None else None
        output = _count(self.name, raw, "output_tokens") if raw is not None else None
        usage = with_estimates(
            prompt, output, lambda: estimate_usage(request.messages, text, thinking)
        )
        return ProviderResponse(
            text=text,
            usage=usage,
            model=str(data.get("model") or model),
            finish_reason=str(data.get("stop_reason") or "end_turn"),
        )


class AnthropicStreamDecoder:
    def __init__(self, provider: str, request: ProviderRequest, model: str) -> None:
        self._provider = provider
        self._request = request
        self._model = model
        self._text: list[str] = []
        self._thoughts: list[str] = []
        self._input: int | None = None
        self._output: int | None = None
        self._finish = ""
        self._done = False

    def feed(self, event: SSEEvent) -> list[ProviderChunk]:
        data = load_json_event(self._provider, event)
        kind = data.get("type", event.event)
        if kind == "content_block_delta":
            return self._delta(data.get("delta"))
        if kind == "message_start":
            self._start(data.get("message"))
        elif kind == "message_delta":
            self._message_delta(data)
        elif kind == "message_stop":
            self._done = True
        elif kind == "error":
            raise perr.StreamErrorEventError(self._provider, _error_text(data.get("error")))
        return []

    def _start(self, message: Any) -> None:
        if not isinstance(message, dict):
            raise perr.MalformedChunkError(self._provider, "message_start without message")
        self._model = str(message.get("model") or self._model)
        usage = message.get("usage")
        if usage is not None:
            self._input = _count(self._provider, usage, "input_tokens")
            # Its output_tokens is a placeholder (1): the count is message_delta's,
            # estimated when that carries none (some Anthropic-compatible proxies).

    def _message_delta(self, data: JSON) -> None:
        delta = data.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason"):
            self._finish = str(delta["stop_reason"])
        usage = data.get("usage")
        if usage is None:
            return
        # Cumulative counts, so never lower than message_start's; a count null or
        # left out says nothing.
        self._output = _cumulative(self._output, _count(self._provider, usage, "output_tokens"))
        self._input = _cumulative(self._input, _count(self._provider, usage, "input_tokens"))

    def _delta(self, delta: Any) -> list[ProviderChunk]:
        if not isinstance(delta, dict):
            raise perr.MalformedChunkError(self._provider, "content_block_delta without delta")
        if delta.get("type") == "thinking_delta":
            # Not answer text, but billed as output.
            thought = delta.get("thinking")
            if not thought or not isinstance(thought, str):
                return []
            self._thoughts.append(thought)
            return [ProviderChunk(model=self._model, reasoning=thought)]
        if delta.get("type") != "text_delta":
            return []  # tool input deltas (and signatures) are not answer text
        text = delta.get("text")
        if not isinstance(text, str):
            raise perr.MalformedChunkError(self._provider, "text_delta without text")
        if not text:
            return []
        self._text.append(text)
        return [ProviderChunk(text=text, model=self._model)]

    @property
    def complete(self) -> bool:
        return self._done

    def reported(self) -> Usage | None:
        if self._input is None and self._output is None:
            return None
        return Usage(self._input or 0, self._output or 0)

    def finish(self) -> ProviderChunk:
        if not self._done:
            raise perr.StreamCutError(self._provider, "stream ended before message_stop")
        usage = with_estimates(
            self._input,
            self._output,
            lambda: estimate_usage(
                self._request.messages, "".join(self._text), "".join(self._thoughts)
            ),
        )
        finish = self._finish or "end_turn"
        return ProviderChunk(usage=usage, finish_reason=finish, model=self._model)


def _blocks(blocks: list[Any], kind: str) -> str:
    """The text of a whole answer's ``kind`` blocks: ``text`` (the answer) or
    ``thinking`` (its reasoning, whose text is in a field of that name)."""
    return "".join(
        b[kind]
        for b in blocks
        if isinstance(b, dict) and b.get("type") == kind and isinstance(b.get(kind), str)
    )


def _count(provider: str, usage: Any, key: str) -> int | None:
    """The count, or None for one not reported: left out or null (the API types
    the counts as optional, and some Anthropic-compatible proxies leave one out)
    or out of range. The estimate stands in for it; the other count still holds."""
    if not isinstance(usage, dict):
        raise perr.MalformedChunkError(provider, "usage is not an object")
    value = usage.get(key)
    if value is None:
        return None
    if not isinstance(value, int):
        raise perr.MalformedChunkError(provider, f"usage.{key} is not an integer")
    return value if believable(value) else None


def _cumulative(so_far: int | None, count: int | None) -> int | None:
    """A running count after another report of it (None: one out of range, no report)."""
    return so_far if count is None else max(so_far or 0, count)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('message', '')}"
    return str(error)  # whole: the router shortens it, secrets out (ProviderError.scrub)
