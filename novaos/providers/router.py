"""Routes each model call to a provider, behind a circuit breaker per provider.

Order: the request's provider (or PREFERRED_PROVIDER), then
PROVIDER_FALLBACK_ORDER, then any other configured provider. A provider is
skipped while its breaker is open or a 429 ``Retry-After`` runs.

A chunk naming only the provider and model comes first, before each provider is
called; reasoning chunks may follow: neither is an answer. The naming chunk is no
charge: the consumer names the call after that provider only once it accepted the
call, or when the call is given up on while it waits for it. Any failure before
the first answer text moves on to the next provider; one after the provider
accepted the call (its ``200``) or passed on reasoning or usage goes through a
``restart`` chunk as below, since it is billed (with no provider left, its usage
chunk comes before the final error). A stream that breaks
after it (cut, stall, malformed, error event) is a failure of its provider all
the same (its breaker counts it once); then the consumer is asked
(``released``) whether any of the text reached the client:

- not yet (the pipeline holds text back until a sentence is checked): when
  another provider may be called now, a ``restart`` chunk carrying the usage
  the broken stream is charged tells the consumer to drop everything that
  stream passed on, and the next provider answers instead;
- yes, or no other provider may be called (none left, breakers open, back-off):
  one last usage-only chunk (the estimate over the text sent, or what the
  provider reported) and ``UpstreamTruncatedError``; nothing else is called, so
  the client never gets two answers spliced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from novaos.errors import InvalidArgumentError, NotFoundError
from novaos.ports import (
    CircuitInfo,
    Dropped,
    ProviderChunk,
    ProviderInfo,
    ProviderRequest,
    ProviderResponse,
    Released,
    Routed,
)
from novaos.ports import Provider as ProviderPort
from novaos.providers import errors as perr
from novaos.providers.attempt import Failures, StreamAttempt, as_counted
from novaos.providers.breaker import CircuitBreaker, CircuitState, Permit
from novaos.providers.log_detail import log_detail
from novaos.providers.observer import NullProviderObserver, ProviderObserver
from novaos.tokens import charged_usage, estimate_usage

log = logging.getLogger(__name__)

# A provider that may be called now: its name, its request and its breaker permit.
Admitted = tuple[str, ProviderRequest, Permit]


@dataclass(frozen=True, slots=True)
class RouterSettings:
    preferred: str = ""
    fallback_order: tuple[str, ...] = ()
    failure_threshold: int = 3
    reset_timeout_s: float = 30.0
    idle_timeout_s: float = 30.0


class ProviderRouter:
    """Implements the ``ModelRouter`` and ``CircuitAdmin`` ports."""

    def __init__(
        self,
        providers: Mapping[str, ProviderPort],
        settings: RouterSettings,
        *,
        observer: ProviderObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        unconfigured: Mapping[str, str] | None = None,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        """``scrub``: removes the gateway's own secrets from a provider's error text
        (``novaos.redaction.SecretScrubber``) before it is logged, counted or quoted
        to the client."""
        self._providers = dict(providers)
        self._scrub = scrub
        self._settings = settings
        self._observer = observer or NullProviderObserver()
        self._clock = clock
        self._unconfigured = dict(unconfigured or {})  # name -> default model, for health
        self._not_before: dict[str, float] = {}  # 429 back-off ends, in ``clock`` time
        self._breakers = {
            name: CircuitBreaker(
                name,
                failure_threshold=settings.failure_threshold,
                reset_timeout_s=settings.reset_timeout_s,
                clock=clock,
                wall_clock=wall_clock,
                on_change=self._state_changed,
            )
            for name in self._providers
        }
        for name in self._providers:
            self._observer.circuit_state(name, int(CircuitState.CLOSED))

    # ---- ModelRouter

    async def stream(
        self, request: ProviderRequest, *, released: Released | None = None
    ) -> AsyncIterator[ProviderChunk]:
        """Consumers should close it (``aclosing``) so an early stop frees the upstream.
        ``released``: see the module docstring (without it, text sent counts as released)."""
        failures = Failures()
        order = self._candidates(request)
        admitted = self._admit_next(order, failures)
        while admitted is not None:
            name, sub, permit = admitted
            admitted = dropped = None
            provider = self._providers[name]
            attempt = StreamAttempt(
                name,
                sub,
                provider.default_model,
                idle_timeout_s=self._settings.idle_timeout_s,
                observer=self._observer,
            )
            settled = False
            try:
                # Who is called, before the call: a request given up on before any
                # answer is still charged (and counted) under this provider.
                yield ProviderChunk(provider=name, model=attempt.model)
                async with _closing(provider.stream(sub)) as chunks:
                    while (chunk := await attempt.next(chunks)) is not None:
                        yield attempt.stamp(chunk)
                if (closing := attempt.closing_usage()) is not None:
                    yield closing
                settled = self._succeeded(name, permit)
                attempt.report_tokens()
                return
            except perr.ProviderError as exc:
                settled = self._failed(name, sub, exc, failures, permit)
                # Moving on is safe while no text of it reached the client (the
                # consumer holds it back); else the answer would come spliced.
                if not (attempt.sent and (released is None or released())):
                    admitted = self._admit_next(order, failures)
                if attempt.sent and admitted is None:
                    truncated = attempt.truncated(exc)
                    attempt.report_tokens()
                    # the estimated usage of what was sent, so token budgets still count it
                    yield attempt.usage_chunk()
                    raise truncated from exc
                # It took the request (answered 200) or passed something on: it read
                # the prompt, so it is charged whether or not another one follows.
                if attempt.passed_on or exc.accepted:
                    dropped = attempt.dropped(exc, retried=admitted is not None)
                    attempt.report_tokens()
            finally:
                if not settled:  # cancelled, deadline or a bug: no verdict on the provider
                    self._breakers[name].release(permit)
            if dropped is not None:  # a restart, or its usage before the final error
                try:
                    yield dropped
                except BaseException:
                    # Closed here (cancelled, or over its token budget): the next
                    # provider was admitted but is not called; free its permit.
                    if admitted is not None:
                        self._breakers[admitted[0]].release(admitted[2])
                    raise
        raise failures.final_error()

    async def complete(
        self,
        request: ProviderRequest,
        *,
        routed: Routed | None = None,
        dropped: Dropped | None = None,
    ) -> ProviderResponse:
        """Fallback as for a stream before its first chunk; a provider that failed
        after it accepted the request (its body cut, stalled, malformed) is charged
        as a broken stream is, through ``dropped``."""
        failures = Failures()
        order = self._candidates(request)
        admitted = self._admit_next(order, failures)
        while admitted is not None:
            name, sub, permit = admitted
            admitted = charge = response = None
            settled = False
            provider = self._providers[name]
            model = sub.model or provider.default_model
            try:
                if routed is not None:  # as a stream's first chunk does
                    routed(name, model)
                response = await provider.complete(sub)
                settled = self._succeeded(name, permit)
            except perr.ProviderError as exc:
                settled = self._failed(name, sub, exc, failures, permit)
                admitted = self._admit_next(order, failures)
                if exc.accepted:  # it read the prompt: charged, cut or not
                    usage = charged_usage(exc.usage, estimate_usage(sub.messages, ""))
                    self._observer.tokens(name, model, "input", usage.input_tokens)
                    self._observer.tokens(name, model, "output", usage.output_tokens)
                    cause = exc.kind if admitted is not None else ""
                    charge = ProviderChunk(usage=usage, provider=name, model=model, restart=cause)
            finally:
                if not settled:
                    self._breakers[name].release(permit)
            if response is None:  # failed: tell what it is charged, then the next one
                if charge is not None and dropped is not None:
                    try:
                        await dropped(charge)
                    except BaseException:
                        if admitted is not None:  # admitted but never called
                            self._breakers[admitted[0]].release(admitted[2])
                        raise
                continue
            self._observer.tokens(name, response.model, "input", response.usage.input_tokens)
            self._observer.tokens(name, response.model, "output", response.usage.output_tokens)
            return replace(response, provider=name)
        raise failures.final_error()

    # ---- CircuitAdmin

    def circuits(self) -> list[CircuitInfo]:
        return [breaker.info() for breaker in self._breakers.values()]

    def providers(self) -> list[ProviderInfo]:
        configured = [ProviderInfo(n, p.default_model, True) for n, p in self._providers.items()]
        missing = [ProviderInfo(n, m, False) for n, m in self._unconfigured.items()]
        return configured + missing

    def reset(self, provider: str) -> CircuitInfo:
        breaker = self._breakers.get(provider)
        if breaker is None:
            raise NotFoundError(f"no provider named {provider!r}")
        self._not_before.pop(provider, None)
        breaker.reset()
        log.warning("CIRCUIT_BREAKER reset by admin", extra={"provider": provider})
        return breaker.info()

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()

    # ---- internals

    def _candidates(self, request: ProviderRequest) -> Iterator[tuple[str, ProviderRequest]]:
        """Providers in try order. An explicit model only applies to the first choice:
        a fallback provider would not know another vendor's model name."""
        wanted = request.preferred_provider
        if wanted and wanted not in self._providers:
            raise InvalidArgumentError("options.provider", f"{wanted!r} is not configured")
        order: list[str] = []
        for name in (wanted or self._settings.preferred, *self._settings.fallback_order):
            if name in self._providers and name not in order:
                order.append(name)
        order += [name for name in self._providers if name not in order]
        for index, name in enumerate(order):
            yield name, request if index == 0 else replace(request, model="")

    def _admit_next(
        self, order: Iterator[tuple[str, ProviderRequest]], failures: Failures
    ) -> Admitted | None:
        """The next provider in ``order`` that may be called now, with its permit."""
        for name, sub in order:
            if (permit := self._admit(name, failures)) is not None:
                return name, sub, permit
        return None

    def _admit(self, name: str, failures: Failures) -> Permit | None:
        wait = self._not_before.get(name, 0.0) - self._clock()
        if wait > 0:
            failures.rate_waits.append(wait)
            failures.skipped.append(f"{name}: rate limited")
            return None
        breaker = self._breakers[name]
        permit = breaker.try_acquire()
        if permit is None:
            failures.open_waits.append(breaker.seconds_until_retry())
            failures.skipped.append(f"{name}: circuit open")
        return permit

    def _succeeded(self, name: str, permit: Permit) -> bool:
        self._breakers[name].record_success(permit)
        return True

    def _failed(
        self,
        name: str,
        sub: ProviderRequest,
        exc: perr.ProviderError,
        failures: Failures,
        permit: Permit,
    ) -> bool:
        # Every provider failure passes here first: whatever is made of it (the log
        # line, the client's error, a truncation's cause) is made of the scrubbed,
        # then shortened, text.
        exc.scrub(self._scrub or _unchanged)
        exc = as_counted(exc, sub.model)
        summary = {"status": exc.status, "error_type": exc.error_type, "error_code": exc.error_code}
        self._observer.failed(name, exc.kind)
        log.warning(
            "provider call failed",
            extra={
                "provider": name,
                "kind": exc.kind,
                **summary,
                "detail": log_detail(exc.message, sub),  # never the body verbatim
            },
        )
        if isinstance(exc, perr.ProviderRateLimitedError) and exc.retry_after_s:
            self._not_before[name] = self._clock() + exc.retry_after_s
        breaker = self._breakers[name]
        if exc.counts_as_failure:
            breaker.record_failure(permit)
        else:
            breaker.release(permit)
        backoff = self._not_before.get(name, 0.0) - self._clock()
        wait = max(backoff, breaker.seconds_until_retry(), 0.0)
        failures.failed(exc, wait)
        return True

    def _state_changed(self, name: str, state: CircuitState) -> None:
        self._observer.circuit_state(name, int(state))
        log.warning(
            "CIRCUIT_BREAKER state changed",
            extra={"provider": name, "state": state.name.lower()},
        )


@asynccontextmanager
async def _closing(
    chunks: AsyncIterator[ProviderChunk],
) -> AsyncIterator[AsyncIterator[ProviderChunk]]:
    """Close the provider's generator on every exit, so its HTTP response closes now."""
    try:
        yield chunks
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def _unchanged(text: str) -> str:
    return text
