"""Book-keeping for one routed call: the stream attempt and the failures so far."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from novaos.domain import Usage
from novaos.errors import (
    CircuitOpenError,
    NovaError,
    ProviderRejectedRequestError,
    ProviderUnavailableError,
)
from novaos.ports import ProviderChunk, ProviderRequest
from novaos.providers import errors as perr
from novaos.providers.observer import ProviderObserver
from novaos.redaction import redact
from novaos.tokens import charged_usage, estimate_usage

# The most of one provider's refusal quoted to the client: three of them fit the
# status message (``novaos.transport.errors`` cuts it at 500 characters).
_REASON_CHARS = 150


@dataclass
class Failures:
    """Why providers were skipped or failed during one routed call."""

    errors: list[perr.ProviderError] = field(default_factory=list)
    open_waits: list[float] = field(default_factory=list)  # s until an open breaker probes
    rate_waits: list[float] = field(default_factory=list)  # s until a 429 back-off ends
    failed_waits: list[float] = field(default_factory=list)  # per error: s until usable again
    refusals: list[bool] = field(default_factory=list)  # per error: the request's own fault
    skipped: list[str] = field(default_factory=list)

    def failed(self, exc: perr.ProviderError, wait_s: float) -> None:
        """``exc`` as ``as_counted`` made it. ``wait_s``: how long the failed provider
        is now out of reach (its breaker opened, or a 429 back-off began); 0 when it
        could be called again at once."""
        self.errors.append(exc)
        self.failed_waits.append(wait_s)
        self.refusals.append(isinstance(exc, perr.ProviderRequestError))

    def final_error(self) -> NovaError:
        if not self.errors and not self.rate_waits and self.open_waits:
            return CircuitOpenError("Circuit open", retry_after_s=min(self.open_waits))
        if self.errors and not self.skipped and all(self.refusals):
            return _rejected(self.errors)
        reasons = [f"{e.provider}: {e.kind}" for e in self.errors] + self.skipped
        detail = "; ".join(reasons) or "no provider configured"
        return ProviderUnavailableError(
            f"no provider could answer ({detail})", retry_after_s=self._retry_after_s()
        )

    def _retry_after_s(self) -> float:
        waits = self.rate_waits + self.open_waits
        if all(wait > 0 for wait in self.failed_waits):
            # Nothing can be called before the first of these ends: a 0 s RetryInfo on
            # the call that opened the last breaker would invite an immediate retry.
            return min(waits + self.failed_waits, default=0.0)
        waits += [
            e.retry_after_s
            for e in self.errors
            if isinstance(e, perr.ProviderRateLimitedError) and e.retry_after_s is not None
        ]
        return min(waits, default=0.0)


def as_counted(exc: perr.ProviderError, asked_model: str) -> perr.ProviderError:
    """``exc`` as the router logs, counts and breaks on it. A 4xx is the request's
    (``ProviderRequestError``: it leaves the breaker alone), except a 404 for the
    configured model or path and a redirect: those fail every call until the config
    is fixed, so they become a ``ProviderConfigError``, which moves the breaker (an
    open one spares each request the round trip and gives RetryInfo a real wait) and
    has a ``kind`` of its own, which the alert on failed calls counts.
    ``asked_model``: the model the client asked this provider for (its
    ``options.model``); empty when it was called with its configured model."""
    if not isinstance(exc, perr.ProviderRequestError) or _refused_request(exc, asked_model):
        return exc
    ours = perr.ProviderConfigError(exc.provider, exc.message, status=exc.status)
    ours.error_type, ours.error_code = exc.error_type, exc.error_code
    ours.__cause__ = exc
    return ours


def _refused_request(exc: perr.ProviderRequestError, asked_model: str) -> bool:
    """A 4xx caused by the request itself (not a redirect: that is our base URL).

    A 404 is the client's only for a model it asked for: for the configured model
    (OPENAI_MODEL misspelt, one the provider retired) or a base URL with a wrong
    path, every call fails alike until the config is fixed, which is ours to
    mend and to be alerted on (UNAVAILABLE), not the client's (INVALID_ARGUMENT,
    which no alert counts). 400, 413 and 422 stay the request's: a prompt over the
    context length is by far the common case, and the provider's body does not
    tell it apart from a malformed request of ours in any one way."""
    if not 400 <= exc.status < 500:
        return False
    return exc.status != 404 or bool(asked_model)


def _rejected(errors: list[perr.ProviderError]) -> ProviderRejectedRequestError:
    """Every provider refused the request itself: the client learns why from each
    (its message as the provider wrote it, our secrets already scrubbed by the
    router, shortened, PII redacted as the logs do)."""
    reasons = "; ".join(f"{e.provider}: {redact(e.message)[:_REASON_CHARS]}" for e in errors)
    return ProviderRejectedRequestError(
        f"every provider refused the request ({reasons})",
        metadata={"providers": ",".join(f"{e.provider}:{e.status}" for e in errors)},
    )


class StreamAttempt:
    """One provider's stream as the router relays it: idle timeout, timing, usage."""

    def __init__(
        self,
        provider: str,
        request: ProviderRequest,
        default_model: str,
        *,
        idle_timeout_s: float,
        observer: ProviderObserver,
    ) -> None:
        self.provider = provider
        self.request = request
        self.model = request.model or default_model
        # Answer text went to the consumer: fallback only while it says none of it
        # reached the client (``ModelRouter.stream``'s ``released``).
        self.sent = False
        self.usage: Usage | None = None
        self._idle_timeout_s = idle_timeout_s
        self._observer = observer
        self._released: list[str] = []
        self._reasoning: list[str] = []
        self._told = False  # reasoning or reported usage went to the consumer
        # The provider answered 200, and the usage it reported so far: what a stall
        # is charged from, as the adapter charges a cut at the same point.
        self._accepted = False
        self._reported: Usage | None = None
        self._started = time.monotonic()
        self._last = self._started

    async def next(self, chunks: AsyncIterator[ProviderChunk]) -> ProviderChunk | None:
        """The next chunk, or None at the end; ``StreamStalledError`` after the idle timeout.

        A heartbeat (a chunk with nothing in it: a ping) is not passed on, but it
        starts the idle timer over: the upstream is working. So does a reasoning
        chunk, which is passed on (it is billed) without counting as the first
        token, and one with the usage reported so far (the consumer charges a
        stream it gives up on from it). The provider's ``200`` (``accepted``) does
        neither: the wait for the first chunk runs from the call."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._idle_timeout_s
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await anext(chunks, None)
            except TimeoutError as exc:
                raise self._stalled() from exc
            if chunk is not None and chunk.reported is not None:
                self._reported = chunk.reported
            if chunk is None or chunk.text or chunk.usage is not None or chunk.finish_reason:
                break
            if chunk.accepted:
                self._accepted = True
                continue
            deadline = loop.time() + self._idle_timeout_s
            if chunk.reasoning or chunk.reported is not None:
                if chunk.reasoning:
                    self._reasoning.append(chunk.reasoning)
                self._told = True
                # The model the provider says answers (Anthropic's message_start): a
                # stream dropped after reasoning alone is charged under it.
                self.model = chunk.model or self.model
                return chunk
        if chunk is not None:
            self._observe(chunk)
        return chunk

    def _stalled(self) -> perr.StreamStalledError:
        """The idle timeout, raised here rather than in the adapter: what the adapter
        sets on a cut at the same point (``HttpProvider.stream``) is set from what
        came through, so a stall after the ``200`` is charged and listed as a cut."""
        ms = round(self._idle_timeout_s * 1000)
        stalled = perr.StreamStalledError(self.provider, f"no chunk within {ms} ms")
        stalled.accepted = self._accepted
        stalled.usage = self._reported
        return stalled

    def _observe(self, chunk: ProviderChunk) -> None:
        now = time.monotonic()
        if self.sent:
            self._observer.inter_token(self.provider, now - self._last)
        else:
            self._observer.first_token(self.provider, now - self._started)
        self._last = now
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self.usage = chunk.usage

    def stamp(self, chunk: ProviderChunk) -> ProviderChunk:
        """Mark the chunk as released and fill in who produced it. Reasoning or
        usage reported so far alone is no answer: another provider may still be
        tried after it."""
        model = chunk.model or self.model
        if not (chunk.text or chunk.usage is not None or chunk.finish_reason):
            return ProviderChunk(
                provider=self.provider,
                model=model,
                reasoning=chunk.reasoning,
                reported=chunk.reported,
            )
        self.sent = True
        self._released.append(chunk.text)
        # Per chunk: the constructor costs about half of dataclasses.replace.
        if chunk.reported is None:
            return ProviderChunk(chunk.text, chunk.usage, chunk.finish_reason, self.provider, model)
        return ProviderChunk(
            chunk.text,
            chunk.usage,
            chunk.finish_reason,
            self.provider,
            model,
            "",
            "",
            chunk.reported,
        )

    def closing_usage(self) -> ProviderChunk | None:
        """A usage chunk when the provider never sent one (estimated over the released text)."""
        if self.usage is not None:
            return None
        self.usage = self.estimate()
        return ProviderChunk(usage=self.usage, provider=self.provider, model=self.model)

    def estimate(self) -> Usage:
        """What this call is charged when the provider reports no usage: the prompt,
        the text passed on and the reasoning (``novaos.pipeline.generation`` counts
        the same for the request's tokens/min)."""
        received = "".join(self._released)
        return estimate_usage(self.request.messages, received, "".join(self._reasoning))

    def report_tokens(self) -> None:
        usage = self.usage or self.estimate()
        self._observer.tokens(self.provider, self.model, "input", usage.input_tokens)
        self._observer.tokens(self.provider, self.model, "output", usage.output_tokens)

    @property
    def passed_on(self) -> bool:
        """The consumer got something of this stream: text (held back by it, or
        released), reasoning or the usage reported so far."""
        return self.sent or self._told

    def dropped(self, cause: perr.ProviderError, *, retried: bool) -> ProviderChunk:
        """The chunk that voids this stream, broken before any of it was released,
        charged as a truncation would be (``truncated``): a ``restart`` when the next
        provider is called instead, else only its usage (the final error follows)."""
        self.usage = charged_usage(cause.usage, self.estimate())
        restart = cause.kind if retried else ""
        return ProviderChunk(
            usage=self.usage, provider=self.provider, model=self.model, restart=restart
        )

    def usage_chunk(self) -> ProviderChunk:
        usage = self.usage or Usage()
        return ProviderChunk(
            usage=usage, finish_reason="truncated", provider=self.provider, model=self.model
        )

    def truncated(self, cause: perr.ProviderError) -> perr.UpstreamTruncatedError:
        """The error for a break after the first chunk. Usage becomes what the provider
        reported before the break where it did (its prompt count; its output count
        when that is more than the text passed on), else the estimate. Only the
        consumer knows how much of it reached the client
        (``UpstreamTruncatedError.released``)."""
        received = "".join(self._released)
        usage = charged_usage(cause.usage, self.estimate())
        self.usage = usage
        return perr.UpstreamTruncatedError(
            f"upstream stream from {self.provider} broke after {len(received)} characters"
            f" arrived ({cause.kind})",
            metadata={
                "provider": self.provider,
                "model": self.model,
                "cause": cause.kind,
                "receivedChars": str(len(received)),
                "inputTokens": str(usage.input_tokens),
                "outputTokens": str(usage.output_tokens),
            },
        )
