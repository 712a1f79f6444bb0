"""The chat service: validation, admission, history, the pipeline, the audit.

Transport hands it a ``ChatCall`` (request context + input) and relays the
events it yields. Whatever happens — completion, veto, error, cancel — exactly
one audit summary is written (before the terminal event when there is one, else
in the ``finally``) and the lease is released. The exchange is stored before
the summary is written, so the summary's outcome is the one the client is told:
an exchange that could not be stored ends FAILED, in the record too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, aclosing, nullcontext
from dataclasses import dataclass, field, replace
from typing import Protocol

from novaos.conversations import CONVERSATION_ID, CONVERSATION_ID_RULE
from novaos.domain import (
    MODEL_ID,
    MODEL_ID_RULE,
    ChatEvent,
    ChatInput,
    Completed,
    Outcome,
    RequestContext,
    Started,
    TextDelta,
)
from novaos.errors import (
    AuditNotStoredError,
    DeadlineExceededError,
    InvalidArgumentError,
    NovaError,
    RateLimitHeaders,
    ShuttingDownError,
)
from novaos.pipeline.gates.normalize import shows_nothing
from novaos.pipeline.orchestrator import Orchestrator, RunRecord
from novaos.ports import (
    AuditGateEntry,
    AuditLog,
    ChatMessage,
    OpenedTurn,
    RequestSummary,
    TurnEnding,
)
from novaos.services.fit import Ask, Fitted, fit
from novaos.services.pump import EventPump

log = logging.getLogger("novaos.chat")

# Turns kept in the conversation. Policy outcomes count too: a crisis stated two
# turns ago must still reach the shield. An ack request is not kept: the user
# resends that same message with the token. A cancelled stream is kept when some
# of its answer went out (``_stores``).
_REMEMBERED = frozenset(
    {
        Outcome.COMPLETED,
        Outcome.CONTROL,
        Outcome.HARD_VETO,
        Outcome.OUTPUT_BLOCKED,
        Outcome.UPSTREAM_TRUNCATED,
    }
)


# What a hard-vetoed request is kept as (GetConversation shows it too).
VETOED_TURN = "[a request refused by policy]"
# What an answer with no text is kept as, and sent as with later turns: the
# Anthropic and Gemini APIs refuse an empty turn (400), so one stored empty would
# fail every later turn of the conversation. Withheld: blocked (the provider's
# own filter, or the output checks) before any of it was released.
WITHHELD_TURN = "[an answer withheld by policy]"
EMPTY_TURN = "[no text]"  # any other turn with no text (the model said nothing)
# The detail of a live stream ended at its time limit (``ChatCall.ends_by``).
TIME_LIMIT_REACHED = "stream time limit reached"
# The DEADLINE_EXCEEDED message of a unary call ended at its time limit.
ANSWER_TIME_LIMIT_REACHED = "time limit reached before the answer was complete"
# A call with an ``ends_by`` and less than this left when it would begin (its
# headers go out with Started) ends at once with DEADLINE_EXCEEDED, sending
# nothing: ended a margin early (``_stop_margin``), it would still be cut by the
# sidecar's timer when the margin is shorter than the loop takes to end it.
MIN_TIME_TO_BEGIN_S = 0.2
# How long before its ``ends_by`` a unary call ends itself (half of a shorter
# time left): enough for its trailers to beat the sidecar's timer (none cut in
# hundreds of calls under CPU load; 50 ms was cut a few times in a hundred), and
# no more, as the answer it paid for is thrown away. 1 s lost answers that came
# with most of a second to spare.
UNARY_STOP_MARGIN_S = 0.2
# With AUDIT_STORE_BEFORE_REPLY the reply also waits for the audit write after
# the run, so the margin is the live streams' 1 s: with 200 ms a slow audit
# write (350 ms) left a grpc-web Chat cut by the sidecar with no status.
UNARY_STOP_MARGIN_STORED_S = 1.0
TOO_LITTLE_TIME = "too little time left before the call's deadline to answer"


def _check_time_to_begin(call: ChatCall) -> None:
    """Raises DEADLINE_EXCEEDED for a call with too little time left to begin."""
    if call.ends_by is not None and call.ends_by - time.monotonic() < MIN_TIME_TO_BEGIN_S:
        call.abandoned = True  # audited as cancelled, as a call cut at its deadline is
        raise DeadlineExceededError(TOO_LITTLE_TIME)


def _stop_margin(left: float) -> float:
    """How long before its ``ends_by`` a live stream ends itself, as a drain does:
    1 s (half of a shorter time left), so that its terminal event is out before the
    call is cut."""
    return min(1.0, left / 2)


def _unary_stop_margin(left: float, margin: float = UNARY_STOP_MARGIN_S) -> float:
    """How long before its ``ends_by`` a unary call ends itself, with
    DEADLINE_EXCEEDED: ``margin`` (half of a shorter time left)."""
    return min(margin, left / 2)


Handler = asyncio.Task[object] | None  # the task serving a call (gRPC cancels it)


class LeaseLike(Protocol):
    headers: RateLimitHeaders

    async def reserve(self, total_tokens: int, *, retry: bool = False) -> None: ...

    def settle(self, actual_tokens: int) -> None: ...


class Admission(Protocol):
    """Admits a request under the caller's tier limits (``novaos.limits``)."""

    def hold(
        self, ctx: RequestContext, estimated_tokens: int, advice: str = ""
    ) -> AbstractAsyncContextManager[LeaseLike]:
        """``advice``: what to make smaller, said when the reservation is over
        the most the caller's tier can ever admit."""
        ...

    def token_bound(self, ctx: RequestContext) -> int:
        """The largest reservation the caller's tokens/min limit can ever admit."""
        ...


class History(Protocol):
    """Conversation turns per owner (``novaos.conversations``)."""

    async def open_turn(self, owner: str, conversation_id: str) -> OpenedTurn: ...

    def check_room(self, owner: str, conversation_id: str, opened: OpenedTurn) -> None: ...

    async def claim_turn(
        self, owner: str, conversation_id: str, opened: OpenedTurn
    ) -> OpenedTurn: ...

    async def append_turns(
        self,
        owner: str,
        conversation_id: str,
        turns: Sequence[tuple[str, str]],
        *,
        opened: OpenedTurn | None = None,
        ending: TurnEnding | None = None,
        asked_at: float | None = None,
    ) -> None: ...


@dataclass
class ChatCall:
    """One call's facts and the meta transport needs (headers, timings)."""

    ctx: RequestContext
    chat: ChatInput
    started_monotonic: float = field(default_factory=time.monotonic)
    asked_at: float | None = None  # ChatService.clock() as the service took the call
    rate_limit: RateLimitHeaders | None = None
    record: RunRecord = field(default_factory=RunRecord)
    released: list[str] = field(default_factory=list)
    completed: Completed | None = None
    opened: OpenedTurn | None = None  # the conversation as the call found it
    made_up_id: bool = False  # the server made up its conversation id (nobody claimed it)
    abandoned: bool = False  # the caller stopped reading first (cancel, deadline)
    finished: bool = False  # its one audit summary is written (and history stored)
    not_stored: str = ""  # why its exchange could not be stored (its terminal event's detail)
    # Events reach the client as they happen (StreamChat): silences get keepalives,
    # and a shutdown ends the stream with its own terminal event. Unary Chat: False.
    live: bool = True
    # time.monotonic() by which the call must have ended, by the gateway: the
    # sidecar's time limit for a stream it transcodes (an SSE client reads no
    # status, so a cut there would just stop), and a grpc-web call's deadline
    # (once its headers are out, the sidecar's timer can only cut it). A live
    # stream says it in-band, then DEADLINE_EXCEEDED; a unary call ends with that.
    # None: the call has no such limit.
    ends_by: float | None = None

    @property
    def text(self) -> str:
        """What the client gets: the released text (none, from a unary call that
        failed closed)."""
        return "".join(self.released)

    @property
    def overhead_ms(self) -> float:
        total = time.monotonic() - self.started_monotonic
        return max(total - self.record.generation.provider_wait_s, 0.0) * 1000


@dataclass
class ChatLimits:
    max_message_chars: int = 32000
    max_output_tokens: int = 8192
    default_max_tokens: int = 512
    # Reserved at admission for the system prompt the gates have yet to write
    # (``novaos.pipeline.gates.model.system_prompt_bound``).
    prompt_allowance_tokens: int = 0
    # The configured providers ``options.provider`` may name (empty: not checked
    # here, the router refuses an unknown one, after admission).
    providers: frozenset[str] = frozenset()
    # ``requested_actions``: the capabilities number eight, and every denied one is
    # named in the capability gate's reason, streamed and audited; unbounded, one
    # request wrote a gate reason of 840,000 characters.
    max_requested_actions: int = 16
    max_action_chars: int = 64


def validate(chat: ChatInput, limits: ChatLimits) -> ChatInput:
    # The length first: the blank check reads the text, which may be 4 MB.
    if len(chat.message) > limits.max_message_chars:
        raise InvalidArgumentError("message", f"longer than {limits.max_message_chars} characters")
    # Blank as the user sees it: a message of zero-width spaces is no message.
    if shows_nothing(chat.message):
        raise InvalidArgumentError("message", "must not be empty")
    if chat.conversation_id and not CONVERSATION_ID.match(chat.conversation_id):
        raise InvalidArgumentError("conversation_id", CONVERSATION_ID_RULE)
    opts = chat.options
    if not 0 <= opts.max_tokens <= limits.max_output_tokens:
        raise InvalidArgumentError(
            "options.max_tokens", f"must be between 0 and {limits.max_output_tokens}"
        )
    if opts.temperature is not None and not 0.0 <= opts.temperature <= 2.0:
        raise InvalidArgumentError("options.temperature", "must be between 0 and 2")
    if opts.model and not MODEL_ID.fullmatch(opts.model):
        raise InvalidArgumentError("options.model", MODEL_ID_RULE)
    if opts.provider and limits.providers and opts.provider not in limits.providers:
        # Before admission: a refused request must not spend the caller's quota
        # or leave an audit record.
        raise InvalidArgumentError("options.provider", f"{opts.provider!r} is not configured")
    _validate_actions(chat.requested_actions, limits)
    if not chat.conversation_id:
        chat = replace(chat, conversation_id=f"conv_{uuid.uuid4().hex[:20]}")
    return chat


def _validate_actions(actions: Sequence[str], limits: ChatLimits) -> None:
    if len(actions) > limits.max_requested_actions:
        raise InvalidArgumentError(
            "requested_actions", f"more than {limits.max_requested_actions} actions"
        )
    for i, action in enumerate(actions):
        if len(action) > limits.max_action_chars:
            raise InvalidArgumentError(
                f"requested_actions[{i}]", f"longer than {limits.max_action_chars} characters"
            )
        # An empty entry names no capability: passed silently, it hid a client's bug.
        if shows_nothing(action):
            raise InvalidArgumentError(f"requested_actions[{i}]", "must not be empty")


def fitted(
    chat: ChatInput, history: tuple[ChatMessage, ...], limits: ChatLimits, bound: int | None
) -> Fitted:
    """What admission reserves before any gate runs: the turns sent and the
    message, max output, and room for the longest system prompt; the oldest
    turns left out while that is over ``bound``, the most the caller's tier can
    ever admit for one request (``novaos.services.fit``).

    Lens sources are not known yet; the pipeline grows the reservation to the
    real prompt before it calls the upstream when they (or a regeneration)
    need more.
    """
    output = chat.options.max_tokens or limits.default_max_tokens
    ask = Ask(chat.message, output, not chat.options.max_tokens, limits.prompt_allowance_tokens)
    return fit(history, ask, bound)


@dataclass
class ChatService:
    orchestrator: Orchestrator
    audit: AuditLog
    limits: ChatLimits = field(default_factory=ChatLimits)
    admission: Admission | None = None
    conversations: History | None = None
    policy_version: str = ""
    clock: Callable[[], float] = time.time
    keepalive_s: float = 15.0  # Settings.stream_keepalive_s
    # UNARY_STOP_MARGIN_STORED_S when the audit is stored before each reply
    unary_stop_margin_s: float = UNARY_STOP_MARGIN_S
    _inflight: int = field(default=0, init=False)
    _pumps: set[EventPump] = field(default_factory=set, init=False)
    _unary: set[asyncio.Timeout] = field(default_factory=set, init=False)  # running runs
    _stopping: str = field(default="", init=False)  # why live streams end now (shutdown)
    _idle: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _writes: set[asyncio.Future[None]] = field(default_factory=set, init=False)

    def _left(self) -> None:
        self._inflight -= 1
        if self._inflight == 0:
            self._idle.set()

    def stop_streams(self, detail: str) -> int:
        """End every live stream in-band, now and from now on: its pipeline (and
        upstream call) stops and it sends a terminal event with outcome CANCELLED.
        A unary call whose answer is not complete yet stops too, with
        ``ShuttingDownError`` (a unary reply has no terminal event to say it in).
        Returns how many calls were open."""
        self._stopping = detail
        for pump in self._pumps:
            pump.stop(detail)
        now = asyncio.get_running_loop().time()
        for scope in self._unary:
            scope.reschedule(now)
        return len(self._pumps) + len(self._unary)

    async def drained(self, timeout_s: float) -> bool:
        """Wait until every stream has run its ``finally`` (audit written, lease
        released). gRPC's ``server.stop`` cancels handlers without awaiting them."""
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout_s
        if self._inflight:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._idle.wait()
            except TimeoutError:
                return False
        if self._writes:  # history writes that outlived a cancelled call
            _, late = await asyncio.wait(set(self._writes), timeout=max(until - loop.time(), 0))
            return not late
        return True

    async def stream(self, call: ChatCall) -> AsyncGenerator[ChatEvent, None]:
        # The question's time as stored: when it was asked, not when its answer ended.
        call.asked_at = self.clock()
        named = bool(call.chat.conversation_id)  # else validate() makes up a fresh id
        call.chat = validate(call.chat, self.limits)
        history = await self._open(call, named)
        self._inflight += 1
        self._idle.clear()
        try:
            hold: AbstractAsyncContextManager[LeaseLike | None] = nullcontext()
            left_out = 0
            if self.admission is not None:
                bound = self.admission.token_bound(call.ctx)
                fits = fitted(call.chat, history, self.limits, bound)
                hold = self.admission.hold(call.ctx, fits.estimate, fits.advice)
                left_out = fits.left_out
            async with hold as lease:
                if lease is not None:
                    call.rate_limit = lease.headers
                try:
                    await self._claim(call)
                    _check_time_to_begin(call)
                    yield Started(call.ctx.request_id, call.chat.conversation_id)
                    run = self.orchestrator.run(
                        call.ctx, call.chat, history, call.record, lease, left_out=left_out
                    )
                    ends = self._live(call, run) if call.live else self._stoppable(call, run)
                    async with aclosing(ends) as events:
                        async for event in events:
                            self._observe(call, event)
                            if isinstance(event, Completed):
                                # Before the terminal event: the next turn finds this
                                # one stored, and an audit that must be stored before
                                # the reply holds the reply back when it is not.
                                try:
                                    await self._finish(call)
                                except Exception as exc:  # not stored: history or audit
                                    if call.live:
                                        # SSE clients never see the status in the
                                        # trailers: the terminal event says it in-band.
                                        detail = call.not_stored or _failure_detail(call, exc)
                                        yield replace(event, outcome=Outcome.FAILED, detail=detail)
                                    raise
                            yield event
                except (asyncio.CancelledError, GeneratorExit):
                    # GeneratorExit: closed at a yield, the caller gone. gRPC can drop
                    # a stream's generators mid-write, and asyncio then closes them in
                    # a task of its own that nobody cancelled.
                    call.abandoned = True
                    raise
                finally:
                    if lease is not None:
                        usage = call.record.generation.usage
                        lease.settle(usage.input_tokens + usage.output_tokens)
                    if not call.finished:  # no terminal event: an error or a cancel
                        try:
                            await self._finish(call)
                        except AuditNotStoredError as exc:
                            # There is no answer to hold back; the call's own error
                            # (or cancel) is what the caller must see, not this.
                            log.error("%s (request %s)", exc, call.ctx.request_id)
        finally:
            self._left()

    async def _open(self, call: ChatCall, named: bool) -> tuple[ChatMessage, ...]:
        """The conversation's turn opened: its history so far."""
        if self.conversations is None:
            return ()
        owner, cid = call.ctx.principal.user_id, call.chat.conversation_id
        if named:
            call.opened = await self.conversations.open_turn(owner, cid)
        else:
            call.opened = OpenedTurn.fresh()  # nobody can hold an id made up just now
            call.made_up_id = True
        # Before admission: nothing is spent on an answer the store already
        # knows it cannot keep (a Redis outage's journal is full).
        self.conversations.check_room(owner, cid, call.opened)
        messages = call.opened.messages
        # An answer whose question was trimmed off (kept under an odd
        # CONVERSATION_MAX_TURNS, allowed before it had to be even): providers
        # that want the user to speak first refuse it, and it means nothing alone.
        while messages and messages[0].role == "assistant":
            messages = messages[1:]
        # Turns stored empty before empty answers were kept as a marker: sent as
        # they are, a provider that refuses empty content would fail every turn.
        return tuple(m if m.content.strip() else ChatMessage(m.role, EMPTY_TURN) for m in messages)

    async def _claim(self, call: ChatCall) -> None:
        """A new id the client named becomes its own once admitted, before any
        event: another user who named it first gets NOT_FOUND now, not after the
        model has answered."""
        if self.conversations is not None and call.opened is not None and not call.opened.ours:
            owner = call.ctx.principal.user_id
            cid = call.chat.conversation_id
            call.opened = await self.conversations.claim_turn(owner, cid, call.opened)

    async def _live(
        self, call: ChatCall, run: AsyncGenerator[ChatEvent, None]
    ) -> AsyncGenerator[ChatEvent, None]:
        pump = EventPump(run, self.keepalive_s)
        self._pumps.add(pump)
        if self._stopping:
            pump.stop(self._stopping)
        timer = None
        if call.ends_by is not None:
            left = call.ends_by - time.monotonic()
            loop = asyncio.get_running_loop()
            timer = loop.call_later(left - _stop_margin(left), pump.stop, TIME_LIMIT_REACHED)
        try:
            async with aclosing(pump.relay()) as events:
                async for event in events:
                    yield event
        finally:
            self._pumps.discard(pump)
            if timer is not None:
                timer.cancel()
        if pump.stopped and call.completed is None:  # one terminal event, never two
            yield self.orchestrator.cancelled(call.ctx, call.chat, call.record, pump.reason)

    async def _stoppable(
        self, call: ChatCall, run: AsyncGenerator[ChatEvent, None]
    ) -> AsyncGenerator[ChatEvent, None]:
        """A unary call's run, which ``stop_streams`` ends before gRPC's grace does:
        with UNAVAILABLE ``SHUTTING_DOWN`` and a RetryInfo, not gRPC's bare
        "Cancelling all calls". Stoppable only until its terminal event: while it
        is registered, the call awaits nothing outside the run. A call with an
        ``ends_by`` stops a margin before it, with DEADLINE_EXCEEDED."""
        scope = asyncio.timeout(None)
        loop = asyncio.get_running_loop()
        try:
            async with scope:
                self._unary.add(scope)
                if self._stopping:
                    scope.reschedule(loop.time())
                elif call.ends_by is not None:
                    left = call.ends_by - time.monotonic()
                    margin = _unary_stop_margin(left, self.unary_stop_margin_s)
                    scope.reschedule(loop.time() + left - margin)
                async with aclosing(run) as events:
                    async for event in events:
                        if isinstance(event, Completed):  # the answer is whole: storing it
                            self._unary.discard(scope)
                            if scope.expired():
                                # Stopped first, but the run lost the cancel
                                # (novaos.tasks) and went on: it ends as stopped.
                                call.abandoned = True
                                raise self._cut_short()
                            scope.reschedule(None)
                        yield event
        except TimeoutError:
            if not scope.expired():
                raise  # a timeout of the run's own
            call.abandoned = True  # audited as cancelled, as a stream stopped so is
            raise self._cut_short() from None
        finally:
            self._unary.discard(scope)

    def _cut_short(self) -> NovaError:
        """Why a unary run was stopped: the shutdown, else its ``ends_by``."""
        if self._stopping:
            return ShuttingDownError(self._stopping)
        return DeadlineExceededError(ANSWER_TIME_LIMIT_REACHED)

    @staticmethod
    def _observe(call: ChatCall, event: ChatEvent) -> None:
        if isinstance(event, TextDelta):
            call.released.append(event.text)
        elif isinstance(event, Completed):
            call.completed = event
            if call.record.violations and not call.live:
                # Failed closed. A stream cannot take back what it sent (its
                # terminal event says FAILED); a unary reply is not out yet, so it
                # carries none of the text, and the audit records exactly that.
                call.released.clear()

    async def _finish(self, call: ChatCall) -> None:
        """Store the exchange, then write the audit summary with the outcome the
        client is told: FAILED, and no text for a unary caller, when the exchange
        could not be stored (the next turn would be answered without it).

        Raises what the store or the audit raised, after the summary is written."""
        call.finished = True  # exactly once, even when the audit raises
        handler = asyncio.current_task()
        outcome = _ending(call, handler)
        failed: Exception | None = None
        if self._stores(call, outcome):
            # A stream's client has its answer and may hang up now, and a unary
            # reply is committed once the write begins: a cancel must not stop the
            # exchange from being stored (the next turn needs it).
            write = self._keep(self._store(call, outcome, handler))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                if not call.live:  # the reply never left: the caller has none of it
                    outcome = _give_up(call)
                late = self._keep(self._record_when_stored(call, outcome, write))
                late.add_done_callback(_report_late_failure)
                raise
            except Exception as exc:
                failed, outcome = exc, Outcome.FAILED
                call.not_stored = _failure_detail(call, exc, "the exchange was not stored")
                if not call.live:
                    call.released.clear()  # a unary caller gets the error, not the text
            else:  # not written (gone as it began), or written as the caller went
                # A stream's text went out as it was made: the caller going after it
                # takes none of it back.
                if (call.abandoned and not call.live) or _gone(call, handler):
                    outcome = _give_up(call)
        # Gone while the record is stored (AUDIT_STORE_BEFORE_REPLY): it stays queued.
        await self.audit.record(self._summary(call, outcome))
        if failed is not None:
            raise failed
        if call.abandoned and call.completed is not None:  # unary, gone before its reply
            # Past its deadline, or cancelled: gRPC ends the call on its own (its
            # cancel may be on the way still), so no reply is built for it.
            raise asyncio.CancelledError

    def _stores(self, call: ChatCall, outcome: Outcome) -> bool:
        if self.conversations is None:
            return False
        if outcome is Outcome.CANCELLED:
            # A stream ended early (shutdown, its time limit, its client gone) after
            # the user read part of the answer: kept as it went out, so a reload
            # shows it and the next turn (and the shield) has it. Cancelled before
            # any text went out: nothing to keep, as for a unary call, whose reply
            # never left.
            return call.live and bool(call.text.strip())
        return outcome in _REMEMBERED or (outcome is Outcome.ACK_REQUIRED and call.made_up_id)

    async def _store(self, call: ChatCall, outcome: Outcome, handler: Handler) -> None:
        """The exchange written, unless the unary caller is gone by the time the
        write begins: a loop turn after the call's last check, in which a cancel
        gRPC already had (a call that never waited could not see it) reaches the
        handler."""
        if _gone(call, handler):
            _give_up(call)
            return
        if outcome is Outcome.ACK_REQUIRED:
            await self._claim_made_up_id(call)
        else:
            await self._remember(call, outcome)

    async def _record_when_stored(
        self, call: ChatCall, outcome: Outcome, write: asyncio.Future[None]
    ) -> None:
        """A call cancelled while its exchange was stored: its summary once the
        write is done, saying whether it was."""
        try:
            await write
        except Exception as exc:
            log.warning("history write after a cancelled call failed: %r", exc)
            if not call.abandoned:  # a unary caller gets nothing either way
                outcome = Outcome.FAILED
        try:
            await self.audit.record(self._summary(call, outcome))
        except AuditNotStoredError as exc:  # nobody is left to tell
            log.error("%s (request %s)", exc, call.ctx.request_id)

    async def _claim_made_up_id(self, call: ChatCall) -> None:
        """An ack request stores no turn, so no write claims an id the server made
        up for it; yet the client is told to resend with that id (readable in the
        ack token too). Claimed now, before the token goes out: the resend finds
        it the caller's, and anyone else who names it gets NOT_FOUND."""
        assert self.conversations is not None
        owner, cid = call.ctx.principal.user_id, call.chat.conversation_id
        unclaimed = OpenedTurn((), None, ours=False)
        call.opened = await self.conversations.claim_turn(owner, cid, unclaimed)

    def _keep(self, work: Coroutine[object, object, None]) -> asyncio.Future[None]:
        """A store write as a task of its own that outlives a cancel of the call
        (``drained`` waits for it)."""
        write = asyncio.ensure_future(work)
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        return write

    async def _remember(self, call: ChatCall, outcome: Outcome) -> None:
        assert self.conversations is not None
        owner, cid = call.ctx.principal.user_id, call.chat.conversation_id
        # A hard-vetoed request never reaches the model, this turn or later: the
        # history sent with the next one holds a marker, not the request.
        asked = VETOED_TURN if outcome is Outcome.HARD_VETO else call.chat.message
        exchange = (("user", asked), ("assistant", _kept_answer(outcome, call.text)))
        # Kept with the answer: shown again, a cut or blocked one must not look whole.
        detail = call.completed.detail if call.completed is not None else self._why_gone(call)
        ending = TurnEnding(outcome.value, detail)
        await self.conversations.append_turns(
            owner, cid, exchange, opened=call.opened, ending=ending, asked_at=call.asked_at
        )

    def _why_gone(self, call: ChatCall) -> str:
        """Why a stream with no terminal event ended: gRPC cancelled it (its client
        went, its deadline passed, or the shutdown grace ran out)."""
        if self._stopping:
            return self._stopping
        deadline = call.ctx.deadline_monotonic
        if deadline is not None and time.monotonic() >= deadline:
            return "deadline exceeded"
        return "cancelled by the client"

    def _summary(self, call: ChatCall, outcome: Outcome) -> RequestSummary:
        rec, principal = call.record, call.ctx.principal
        return RequestSummary(
            request_id=call.ctx.request_id,
            user_id=principal.user_id,
            tier=principal.tier.value,
            client_addr=call.ctx.client_addr,
            outcome=outcome.value,
            stance=rec.stance.value if rec.stance else "",  # ended before a stance
            gates=tuple(
                AuditGateEntry(g.gate, g.decision.value, g.reason, g.latency_ms) for g in rec.gates
            ),
            provider=rec.generation.provider,
            model=rec.generation.model,
            usage=rec.generation.usage,
            duration_ms=(time.monotonic() - call.started_monotonic) * 1000,
            prompt=call.chat.message,
            released_text=call.text,
            policy_version=self.policy_version,
            conversation_id=call.chat.conversation_id,
        )


def _kept_answer(outcome: Outcome, text: str) -> str:
    """The answer as history keeps it: the released text, or a marker for none."""
    if text.strip():
        return text
    return WITHHELD_TURN if outcome is Outcome.OUTPUT_BLOCKED else EMPTY_TURN


def _report_late_failure(late: asyncio.Future[None]) -> None:
    if not late.cancelled() and (exc := late.exception()) is not None:
        log.warning("audit record after a cancelled call failed: %r", exc)


def _failure_detail(call: ChatCall, exc: Exception, what: str = "") -> str:
    """A terminal event's detail for ``exc``: a domain error's own message, never
    the text of an unexpected one (transport logs it)."""
    if isinstance(exc, NovaError):
        told = exc.message
    else:
        told = f"internal error (request id {call.ctx.request_id})"
    return f"{what}: {told}" if what else told


def _ending(call: ChatCall, handler: Handler) -> Outcome:
    """The outcome a call ends with, before its exchange is stored. A unary call
    with no terminal event (an error, a cancel) sends no text, nor does one whose
    caller is gone before its reply: nothing is stored for that one."""
    if call.completed is None:
        if not call.live:
            call.released.clear()
        return Outcome.CANCELLED if call.abandoned else _unfinished_outcome()
    if _gone(call, handler):
        return _give_up(call)
    return call.completed.outcome


def _gone(call: ChatCall, handler: Handler) -> bool:
    """A unary caller gone before its reply left: its deadline passed, or its
    handler was told to stop (a cancel; gRPC cancels the handler when the client
    goes or its deadline passes, but only once the event loop gets to it, so a
    call that never waits reaches its reply first). A stream's text went out as
    it was made: it is never gone before its reply."""
    if call.live:
        return False
    deadline = call.ctx.deadline_monotonic
    if deadline is not None and time.monotonic() >= deadline:
        return True
    return handler is not None and handler.cancelling() > 0


def _give_up(call: ChatCall) -> Outcome:
    """A unary call whose caller is gone: nothing released (the reply never left);
    its outcome is CANCELLED."""
    call.abandoned = True
    call.released.clear()
    return Outcome.CANCELLED


def _unfinished_outcome() -> Outcome:
    """No terminal event: the call was cancelled or failed mid-way."""
    task = asyncio.current_task()
    cancelled = task is not None and task.cancelling() > 0
    return Outcome.CANCELLED if cancelled else Outcome.FAILED
