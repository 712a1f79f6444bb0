"""OpenAI Chat Completions adapter (``POST /chat/completions``).

Streams are SSE ``data:`` lines holding ``chat.completion.chunk`` objects and
end with ``data: [DONE]``. With ``stream_options.include_usage`` the last
chunk before ``[DONE]`` has empty ``choices`` and the ``usage`` of the call;
servers that ignore the option get their usage estimated instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from novaos.domain import Usage
from novaos.ports import ProviderChunk, ProviderRequest, ProviderResponse
from novaos.providers import errors as perr
from novaos.providers.http import JSON, HttpCall, HttpProvider, HttpSettings, load_json_event
from novaos.providers.sse import SSEEvent
from novaos.tokens import believable, estimate_usage, with_estimates

# The finish reason an answer OpenAI refused ends with (``finish_reason`` says stop):
# the pipeline takes it, as Anthropic's own, for the provider's filter.
REFUSED = "refusal"

# A usage object's (prompt_tokens, completion_tokens); one it left out or sent
# null is None: not reported, so estimated.
Counts = tuple[int | None, int | None]


class OpenAIProvider(HttpProvider):
    name = "openai"
    # stop, length, content_filter, a refusal (REFUSED), and what compatible servers
    # and proxies say for them: eos (Together), eos_token and stop_sequence (Hugging
    # Face TGI), end_turn (proxies that pass Anthropic's through), model_length
    # (Mistral: at the context length, a limit as length is). Not tool_calls or
    # function_call (no tool is offered), nor any other: cut, never done.
    whole_finishes = frozenset(
        {
            "stop", "length", "content_filter", REFUSED, "eos", "eos_token", "stop_sequence",
            "end_turn", "model_length",
        }
    )  # fmt: skip
    _max_tokens_field = "max_completion_tokens"

    def __init__(
        self,
        *,
        api_key: SecretStr | None,
        base_url: str,
        default_model: str,
        http: HttpSettings,
        name: str = "",
    ) -> None:
        super().__init__(base_url=base_url, default_model=default_model, http=http)
        if name:
            self.name = name
        self._api_key = api_key

    def _headers(self) -> dict[str, str]:
        if self._api_key is None:
            return {}
        return {"authorization": f"Bearer {self._api_key.get_secret_value()}"}

    def _body(self, request: ProviderRequest, model: str) -> JSON:
        body: JSON = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            self._max_tokens_field: request.max_tokens,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    def _stream_call(self, request: ProviderRequest, model: str) -> HttpCall:
        body = self._body(request, model) | {
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        return HttpCall("/chat/completions", body, self._headers())

    def _complete_call(self, request: ProviderRequest, model: str) -> HttpCall:
        return HttpCall("/chat/completions", self._body(request, model), self._headers())

    def _decoder(self, request: ProviderRequest, model: str) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(self.name, request, model)

    def _parse_response(self, data: JSON, request: ProviderRequest, model: str) -> ProviderResponse:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise perr.MalformedChunkError(self.name, "response has no choices")
        message = choices[0].get("message")
        text = (message.get("content") or "") if isinstance(message, dict) else ""
        if not isinstance(text, str):
            raise perr.MalformedChunkError(self.name, "message content is not text")
        refusal = _refusal(message)
        # Billed as output like the answer, in the order a stream counts them.
        billed = _thought(message) + refusal
        prompt, completion = _usage(self.name, data.get("usage")) or (None, None)
        usage = with_estimates(
            prompt, completion, lambda: estimate_usage(request.messages, text, billed)
        )
        finish = str(choices[0].get("finish_reason") or "stop")
        return ProviderResponse(
            text=text,
            usage=usage,
            model=str(data.get("model") or model),
            finish_reason=REFUSED if refusal else finish,
        )


class OpenAIStreamDecoder:
    def __init__(self, provider: str, request: ProviderRequest, model: str) -> None:
        self._provider = provider
        self._request = request
        self._model = model
        self._text: list[str] = []
        self._thoughts: list[str] = []
        self._refusal: list[str] = []
        self._counts: Counts | None = None
        self._finish = ""
        self._done = False

    def feed(self, event: SSEEvent) -> list[ProviderChunk]:
        if self._done:
            return []
        if event.data.strip() == "[DONE]":
            self._done = True
            return []
        data = load_json_event(self._provider, event)
        if data.get("error") is not None:  # some compatible servers send "error": null
            raise perr.StreamErrorEventError(self._provider, _error_text(data["error"]))
        self._counts = _after(self._counts, _usage(self._provider, data.get("usage")))
        self._model = str(data.get("model") or self._model)
        choices = data.get("choices")
        if not isinstance(choices, list):
            raise perr.MalformedChunkError(self._provider, "chunk has no choices list")
        return [chunk for c in choices if (chunk := self._choice(c)) is not None]

    def _choice(self, choice: Any) -> ProviderChunk | None:
        if not isinstance(choice, dict):
            raise perr.MalformedChunkError(self._provider, "choice is not an object")
        if choice.get("index", 0) != 0:
            return None
        if choice.get("finish_reason"):
            self._finish = str(choice["finish_reason"])
        delta = choice.get("delta") or {}
        if refusal := _refusal(delta):
            self._refusal.append(refusal)  # never answer text; ends the answer as refused
            return None
        content = delta.get("content") if isinstance(delta, dict) else None
        if not content:
            return self._reasoning(delta)
        if not isinstance(content, str):
            raise perr.MalformedChunkError(self._provider, "delta content is not text")
        self._text.append(content)
        return ProviderChunk(text=content, model=self._model)

    def _reasoning(self, delta: Any) -> ProviderChunk | None:
        """A reasoning delta (DeepSeek and vLLM ``reasoning_content``, others
        ``reasoning``): not answer text, but billed."""
        thought = _thought(delta)
        if not thought:
            return None
        self._thoughts.append(thought)
        return ProviderChunk(model=self._model, reasoning=thought)

    @property
    def complete(self) -> bool:
        return self._done

    def reported(self) -> Usage | None:
        if self._counts is None:  # the usage chunk comes last, just before [DONE]
            return None
        prompt, completion = self._counts
        return Usage(prompt or 0, completion or 0)

    def finish(self) -> ProviderChunk:
        if not self._done:
            raise perr.StreamCutError(self._provider, "stream ended before [DONE]")
        thoughts = "".join(self._thoughts) + "".join(self._refusal)
        prompt, completion = self._counts or (None, None)
        usage = with_estimates(
            prompt,
            completion,
            lambda: estimate_usage(self._request.messages, "".join(self._text), thoughts),
        )
        finish = REFUSED if self._refusal else self._finish or "stop"
        return ProviderChunk(usage=usage, finish_reason=finish, model=self._model)


def _thought(message: object) -> str:
    """A message's (or a stream delta's) reasoning: ``reasoning_content`` (vLLM,
    DeepSeek) or ``reasoning`` (Ollama, OpenRouter). Never answer text, but billed."""
    if not isinstance(message, dict):
        return ""
    thought = message.get("reasoning_content") or message.get("reasoning")
    return thought if isinstance(thought, str) else ""


def _refusal(message: object) -> str:
    """OpenAI's ``refusal`` (a message's, or a stream delta's): the model declined,
    with a reason in place of an answer (``finish_reason`` still says stop)."""
    refusal = message.get("refusal") if isinstance(message, dict) else None
    return refusal if isinstance(refusal, str) else ""


def _usage(provider: str, raw: object) -> Counts | None:
    """The counts a usage object reports, or None for none: an empty object (some
    compatible servers), or a count out of range (charged as if none were reported).
    A count left out or null (a compatible proxy's) is not reported: estimated."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise perr.MalformedChunkError(provider, "usage is not an object")
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    given = [n for n in (prompt, completion) if n is not None]
    if not all(isinstance(n, int) for n in given):
        raise perr.MalformedChunkError(provider, "usage counts are not integers")
    if not given or not believable(*given):
        return None
    return prompt, completion


def _after(so_far: Counts | None, new: Counts | None) -> Counts | None:
    """Running counts after another usage report: each count's last value given."""
    if so_far is None or new is None:
        return new or so_far
    return (
        so_far[0] if new[0] is None else new[0],
        so_far[1] if new[1] is None else new[1],
    )


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or "error")
    return str(error)  # whole: the router shortens it, secrets out (ProviderError.scrub)
