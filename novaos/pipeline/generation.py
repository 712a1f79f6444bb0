"""The model phase: stream from the router through the output check.

Text is held back by the ``StreamCheck`` and released per sentence; releases
are coalesced further in time (``flush_interval_s``) so a stream costs one
gRPC message per sentence or per ~20 ms, never one per provider token.
Before anything is released a violation regenerates (at most
``max_regenerations`` times, the violation fed back as a constraint); the last
attempt has a minor violation edited out as after release, and blocks only for
harm or when the edits leave nothing; after release a harmful violation blocks
the stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

from novaos.domain import Decision, GateRecord, TextDelta, Usage
from novaos.errors import DeadlineExceededError, NovaError, UpstreamTruncatedError
from novaos.pipeline.gate import CheckStep, OutputChecker, OutputConstraints, StreamCheck
from novaos.ports import ChatMessage, ModelRouter, ProviderChunk, ProviderRequest, TokenBudget
from novaos.tokens import charged_usage, estimate_usage, reservation

# A whole answer longer than this is judged in a worker thread: the output
# check costs ~3 ms per 1,000 characters with the self-harm model, and on the
# event loop every other call of the process would wait for it (an answer of
# DEFAULT_MAX_TOKENS=512, ~2,000 characters, held them ~6 ms; 10,000 characters
# ~29 ms). A shorter one costs little more than the handoff.
_OFF_LOOP_CHARS = 1_000


class OutputBlocked(Exception):
    """Harmful text appeared after release, or regeneration was exhausted.
    ``harm`` is the shield category of the harmful text that stopped it ("" when
    something else did)."""

    def __init__(self, reason: str, harm: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.harm = harm


@dataclass
class GenerationStats:
    """Mutable per-request record of what the model phase did."""

    # The provider (and model) the call is charged for: the last one that accepted
    # it (answered, or was given up on while it was called); "" when none did. One
    # that failed before accepting costs nothing and is never named here.
    provider: str = ""
    model: str = ""
    usage: Usage = field(default_factory=Usage)  # every attempt's, regenerations included
    spent: Usage = field(default_factory=Usage)  # the attempts before the current one
    provider_wait_s: float = 0.0
    first_token_s: float | None = None
    regenerations: int = 0
    edits: int = 0  # in the drafts whose text counts: not one regenerated or dropped
    edited: list[str] = field(default_factory=list)  # the kinds of those edits, each once
    released: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    cut_at_max_tokens: bool = False  # the last attempt stopped at max_tokens
    # Streams given up before any of their text was released (another provider
    # answered instead); their usage is in ``usage`` too.
    failovers: list[Failover] = field(default_factory=list)

    @property
    def released_text(self) -> str:
        return "".join(self.released)


@dataclass(frozen=True, slots=True)
class Failover:
    """A provider's stream that broke before any of its text was released: all of
    it was dropped and the router's next provider answered instead."""

    provider: str
    model: str
    usage: Usage  # what the dropped stream is charged
    cause: str  # why it broke: stream_cut, stalled, malformed, error_event, ...
    seconds: float  # how long it ran


@dataclass(frozen=True, slots=True)
class _Retry:
    reason: str
    harm: str = ""


@dataclass
class _Run:
    """What the attempts of one ``run`` share (per request: never on the Generator)."""

    constraints: OutputConstraints
    budget: TokenBudget | None
    on_failover: Callable[[Failover], None] | None
    calls: int = 0  # upstream calls reserved so far

    async def reserve(self, request: ProviderRequest, stats: GenerationStats) -> None:
        """Before each upstream call of ``request``: the reservation must cover what
        the calls before it are charged (``stats.usage``: a dropped stream, a draft
        regenerated, at what they used, not what they had reserved) plus this
        call's most (its messages and ``max_tokens``). What an earlier call reserved
        and did not use is this call's to use, not reserved a second time."""
        spent = stats.usage.input_tokens + stats.usage.output_tokens
        needed = spent + reservation(request.messages, request.max_tokens)
        retry, self.calls = self.calls > 0, self.calls + 1
        if self.budget is not None:
            await self.budget.reserve(needed, retry=retry)


@dataclass
class _Draft:
    """One provider's stream in the pipeline: its check (and the text it holds
    back), what it sent and what it reported, until it is let go or dropped."""

    check: StreamCheck
    # ``stats.edits`` and how many kinds ``stats.edited`` had when it began: a
    # dropped draft's edits do not count.
    edits_before: tuple[int, int]
    started: float = field(default_factory=time.monotonic)
    pending: list[str] = field(default_factory=list)  # checked, not yet released
    received: list[str] = field(default_factory=list)
    thoughts: list[str] = field(default_factory=list)  # reasoning: never released, but billed
    reported: bool = False  # its usage arrived
    so_far: Usage | None = None  # the usage the provider reported before that, if any
    finish: str = ""
    # The provider (and model) the router named before calling it, while nothing of
    # that call came yet: charged, and so named, only if the call is given up on
    # (cancel, deadline) while it waits; one that fails before accepting is not.
    calling: tuple[str, str] | None = None


# Finish reasons (lower-cased) that say the provider's own filter stopped or
# withheld the answer: OpenAI content_filter, Gemini SAFETY/RECITATION/... and a
# blocked prompt, Anthropic refusal. The answer is blocked, never passed off as whole.
_FILTERED = frozenset(
    {
        "content_filter", "safety", "recitation", "blocklist", "prohibited_content",
        "spii", "image_safety", "image_prohibited_content", "image_recitation", "blocked",
        "refusal",
    }
)  # fmt: skip
# ... and those that say it stopped at max_tokens (OpenAI length, Gemini and
# Anthropic max_tokens) or at the context window (Anthropic, Mistral's
# model_length): whole as far as it goes, which the terminal event says. A finish
# that says neither nor a normal end never gets here (the adapter ends the call as
# cut, ``UnfinishedAnswerError``), but for openai_compat's unknown ones: whole.
_AT_LIMIT = frozenset({"length", "max_tokens", "model_context_window_exceeded", "model_length"})


def _judge_finish(reason: str, stats: GenerationStats) -> None:
    """Raise ``OutputBlocked`` when the provider filtered the answer; note a cut at
    max_tokens."""
    reason = reason.lower()
    if reason in _FILTERED:
        raise OutputBlocked(f"the provider's own filter stopped the answer ({reason})")
    stats.cut_at_max_tokens = reason in _AT_LIMIT


def revision_message(attempt: int, reason: str) -> ChatMessage:
    return ChatMessage(
        "system",
        f"REVISION {attempt}: the previous draft was rejected ({reason}). "
        "Write the answer again without that problem.",
    )


@dataclass
class Generator:
    router: ModelRouter
    checker: OutputChecker
    max_regenerations: int = 2
    flush_interval_s: float = 0.02

    async def run(
        self,
        request: ProviderRequest,
        constraints: OutputConstraints,
        stats: GenerationStats,
        *,
        whole: bool = False,
        budget: TokenBudget | None = None,
        on_failover: Callable[[Failover], None] | None = None,
    ) -> AsyncIterator[TextDelta]:
        """``whole``: the caller wants the answer at once (unary Chat), so ask the
        upstream for one response instead of a stream: the same checks run on
        it, nothing is released before they pass, and reading one body costs far
        less than reading every chunk.

        ``budget``: before each upstream call the request's token reservation
        grows to cover what every call so far is charged plus this one's most
        (its real messages and ``max_tokens``); over the tokens/min limit that
        raises and the upstream is not called.

        ``on_failover``: told of each stream dropped before any of its text was
        released, as the next provider is about to be called instead."""
        attempt = 0
        attempt_fn = self._attempt_whole if whole else self._attempt
        run = _Run(constraints, budget, on_failover)
        while True:
            last = attempt >= self.max_regenerations
            if last:
                # The last try: a minor violation is edited out of it, as after
                # release; harm (or nothing left to send) still blocks.
                run.constraints = replace(constraints, may_regenerate=False)
            await run.reserve(request, stats)
            stats.spent = stats.usage
            retry = None
            before = _edits_so_far(stats)
            async for item in attempt_fn(request, run, stats):
                if isinstance(item, _Retry):
                    retry = item
                else:
                    yield TextDelta(item)
            if retry is None:
                if last and not stats.released and stats.edits > before[0]:
                    raise OutputBlocked("regeneration exhausted: the last draft edited to nothing")
                return
            _undo_edits(stats, before)  # a regenerated draft's edits were never shown
            stats.violations.append(retry.reason)
            if last:
                raise OutputBlocked(f"regeneration exhausted: {retry.reason}", retry.harm)
            attempt += 1
            stats.regenerations = attempt
            messages = (*request.messages, revision_message(attempt, retry.reason))
            request = replace(request, messages=messages)

    async def _attempt(
        self, request: ProviderRequest, run: _Run, stats: GenerationStats
    ) -> AsyncIterator[str | _Retry]:
        """Yields released text; a final ``_Retry`` means 'regenerate'."""
        draft = _Draft(self.checker.open(run.constraints), _edits_so_far(stats))
        billed = True  # the upstream was called: its prompt is charged, cut or not
        last_flush = time.monotonic()
        # Until text is released, a provider whose stream breaks is dropped for the next.
        chunks = self.router.stream(request, released=lambda: bool(stats.released))
        try:
            while True:
                waited = time.monotonic()
                try:
                    chunk = await _next_chunk(chunks, stats)
                finally:  # a cancel or deadline while waiting: still the provider's time
                    stats.provider_wait_s += time.monotonic() - waited
                if chunk is None:
                    break
                if chunk.restart:
                    draft = self._drop(draft, chunk, run, stats)
                    await run.reserve(request, stats)  # before the next provider is called
                    continue
                if (regen := self._take(chunk, draft, stats)) is not None:
                    yield regen
                    return
                now = time.monotonic()
                pending = draft.pending
                if pending and (
                    now - last_flush >= self.flush_interval_s or _ends_sentence(pending)
                ):
                    yield self._flush(pending, stats)
                    last_flush = now
        except NovaError as exc:
            # Every provider refused or failed before answering (circuit open, 5xx,
            # 429): none read the prompt. A passed deadline is a cut like a cancel.
            billed = isinstance(exc, DeadlineExceededError)
            raise
        finally:
            if not draft.reported and (
                billed or draft.received or draft.thoughts or draft.so_far is not None
            ):
                # Cut short (regeneration, block, cancel, deadline) before the usage
                # chunk, even before the first byte: the upstream read the prompt and
                # wrote this much, reasoning included: what it reported by then
                # (its prompt count), never less than the estimate of what arrived,
                # as a broken stream is charged. Counted before the close, which a
                # second cancel may interrupt.
                estimate = estimate_usage(
                    request.messages, "".join(draft.received), "".join(draft.thoughts)
                )
                stats.usage = stats.spent + charged_usage(draft.so_far, estimate)
                if billed and draft.calling is not None:
                    stats.provider, stats.model = draft.calling
            await chunks.aclose()  # type: ignore[attr-defined]
        _judge_finish(draft.finish, stats)  # before the held-back text is let go
        regen = self._apply(draft.check.finish(), stats, draft.pending)
        if regen is not None:
            yield regen
            return
        if draft.pending:
            yield self._flush(draft.pending, stats)

    def _take(self, chunk: ProviderChunk, draft: _Draft, stats: GenerationStats) -> _Retry | None:
        """Note one chunk and feed its text to the check; a ``_Retry`` means 'regenerate'."""
        if _names_only(chunk):  # before its call: named once it is charged
            draft.calling = (chunk.provider, chunk.model)
            return None
        draft.calling = None  # it answered: named by its own chunks
        self._note_chunk(chunk.provider, chunk.model, chunk.usage, stats)
        draft.reported = draft.reported or chunk.usage is not None
        draft.finish = chunk.finish_reason or draft.finish
        if chunk.reported is not None:
            draft.so_far = chunk.reported
        if chunk.reasoning:
            draft.thoughts.append(chunk.reasoning)
        if not chunk.text:
            return None
        draft.received.append(chunk.text)
        if stats.first_token_s is None:
            stats.first_token_s = time.monotonic() - draft.started
        return self._apply(draft.check.feed(chunk.text), stats, draft.pending)

    def _drop(
        self, draft: _Draft, chunk: ProviderChunk, run: _Run, stats: GenerationStats
    ) -> _Draft:
        """The stream broke before any of its text was released: drop that text, held
        back or checked, with the check that read it; the next provider's stream starts
        on a fresh one. What the dropped stream used stays charged."""
        _undo_edits(stats, draft.edits_before)
        _charge_dropped(chunk, run, stats, draft.started)
        return _Draft(self.checker.open(run.constraints), _edits_so_far(stats))

    async def _attempt_whole(
        self, request: ProviderRequest, run: _Run, stats: GenerationStats
    ) -> AsyncIterator[str | _Retry]:
        # One body: the router moves on from a provider that fails to deliver all of
        # it (a cut body too), and nothing is released before it came whole.
        check = self.checker.open(run.constraints, whole=True)
        waited = called = time.monotonic()
        calling: tuple[str, str] | None = None  # as ``_Draft.calling``

        def routed(name: str, model: str) -> None:
            nonlocal called, calling
            called, calling = time.monotonic(), (name, model)

        async def dropped(chunk: ProviderChunk) -> None:
            # A provider that accepted the call and then failed it read the prompt:
            # charged as a broken stream is, and dropped for the next like one.
            if not chunk.restart:  # nothing else is called: the final error follows
                self._note_chunk(chunk.provider, chunk.model, chunk.usage, stats)
                return
            _charge_dropped(chunk, run, stats, called)
            await run.reserve(request, stats)  # before the next provider is called

        try:
            response = await self.router.complete(request, routed=routed, dropped=dropped)
        except (asyncio.CancelledError, DeadlineExceededError):
            # Given up on while the upstream answers: it has read the prompt.
            stats.usage = stats.spent + estimate_usage(request.messages, "")
            if calling is not None:
                stats.provider, stats.model = calling
            raise
        finally:  # given up on or not, the wait was the provider's (not overhead)
            stats.provider_wait_s += time.monotonic() - waited
        if response.text and stats.first_token_s is None:
            # One response: its first token came with it. The runbook compares
            # this with the gateway's overhead, for unary calls as for streams.
            stats.first_token_s = time.monotonic() - waited
        self._note_chunk(response.provider, response.model, response.usage, stats)
        _judge_finish(response.finish_reason, stats)
        pending: list[str] = []
        # As if streamed: edits decide as they do on a stream (regenerate before
        # the first sentence, edit after).
        text = response.text
        judged = (
            await asyncio.to_thread(check.whole, text)
            if len(text) > _OFF_LOOP_CHARS
            else check.whole(text)
        )
        for step in judged:
            regen = self._apply(step, stats, pending)
            if regen is not None:
                yield regen
                return
        if pending:
            yield self._flush(pending, stats)

    @staticmethod
    def _note_chunk(provider: str, model: str, usage: Usage | None, stats: GenerationStats) -> None:
        stats.provider = provider or stats.provider
        stats.model = model or stats.model
        if usage is not None:  # this attempt's usage so far, on top of earlier attempts'
            stats.usage = stats.spent + usage

    @staticmethod
    def _apply(step: CheckStep, stats: GenerationStats, pending: list[str]) -> _Retry | None:
        stats.edits += step.edits
        stats.edited += [kind for kind in step.edited if kind not in stats.edited]
        if step.action == "block":
            raise OutputBlocked(step.reason or "harmful output", step.harm)
        if step.action == "regenerate":
            if stats.released:  # the client has seen text: too late to start over
                raise OutputBlocked(step.reason or "violation after release", step.harm)
            pending.clear()
            return _Retry(step.reason or "output violation", step.harm)
        if step.release:
            pending.append(step.release)
        return None

    @staticmethod
    def _flush(pending: list[str], stats: GenerationStats) -> str:
        text = "".join(pending)
        pending.clear()
        stats.released.append(text)
        return text


def _charge_dropped(
    chunk: ProviderChunk, run: _Run, stats: GenerationStats, started: float
) -> None:
    """A provider's attempt given up for the next one (``chunk.restart``): what it
    used stays charged, and it is told as a failover."""
    usage = chunk.usage or Usage()
    stats.spent = stats.usage = stats.spent + usage
    # Charged: named until another provider answers (none may: the final error).
    stats.provider, stats.model = chunk.provider, chunk.model
    stats.first_token_s = None  # the next provider's, from when it is called
    seconds = time.monotonic() - started
    failover = Failover(chunk.provider, chunk.model, usage, chunk.restart, seconds)
    stats.failovers.append(failover)
    if run.on_failover is not None:
        run.on_failover(failover)


def _names_only(chunk: ProviderChunk) -> bool:
    """The router's chunk naming the provider it calls next, before the call."""
    return not (
        chunk.text
        or chunk.usage is not None
        or chunk.reasoning
        or chunk.reported is not None
        or chunk.finish_reason
        or chunk.restart
    ) and bool(chunk.provider)


async def _next_chunk(
    chunks: AsyncIterator[ProviderChunk], stats: GenerationStats
) -> ProviderChunk | None:
    try:
        return await anext(chunks, None)
    except UpstreamTruncatedError as cut:
        # The router counts what it passed on; the client got only what was released
        # (text is held back), which is what its error must describe.
        raise cut.released(len(stats.released_text)) from cut


def _ends_sentence(pending: list[str]) -> bool:
    tail = pending[-1].rstrip()
    return bool(tail) and tail[-1] in ".!?…"


def _edits_so_far(stats: GenerationStats) -> tuple[int, int]:
    return stats.edits, len(stats.edited)


def _undo_edits(stats: GenerationStats, before: tuple[int, int]) -> None:
    stats.edits = before[0]
    del stats.edited[before[1] :]


def _kind(violation: str) -> str:
    """A violation's kind ("banned phrase"), never the text it matched; harmful
    output keeps its category ("harmful output: self_harm"), which is no text."""
    kind, _, detail = violation.partition(": ")
    return violation if kind == "harmful output" and detail else kind


def personality_records(
    stats: GenerationStats, latency_ms: float, blocked: str = ""
) -> tuple[GateRecord, ...]:
    """The output check's decisions on an answer: a regeneration and an edit of
    the draft that shipped are both reported (the audit filter and the metrics
    find each), the check's time on the first; an answer that was stopped
    (``blocked`` names why) ends with that stop, after what came before it.
    Reasons name the kinds of violation, never the text."""
    records: list[GateRecord] = []
    if stats.regenerations:
        kinds = dict.fromkeys(map(_kind, stats.violations))
        reason = f"regenerated {stats.regenerations}x: {', '.join(kinds)}"
        records.append(GateRecord("personality", Decision.REGENERATE, reason, latency_ms))
    if stats.edits:
        reason = f"{stats.edits} edit(s) in held-back text"
        reason += f": {', '.join(stats.edited)}" if stats.edited else ""
        latency = 0.0 if records else latency_ms
        records.append(GateRecord("personality", Decision.EDIT, reason, latency))
    if blocked:
        latency = 0.0 if records else latency_ms
        records.append(GateRecord("personality", Decision.STOP, blocked, latency))
    if not records:
        records.append(GateRecord("personality", Decision.PASS, "output checks passed", latency_ms))
    return tuple(records)
