"""The shield gate: turns the classifier's verdict into a pipeline decision.

Crisis -> STOP with the localised crisis block (always, even for a throttled
user: crisis resources are never withheld). Hard veto -> STOP with a short
refusal, counted per user by ``VetoThrottle``; a user over the limit gets the
throttle refusal for the rest of the window. Soft veto -> AWAIT_ACK with the
sentence to acknowledge in ``response_text`` (the ack module issues the token
and fills ``GateResult.ack``; the sentence reaches the client in that event only,
never as answer text). Prompt injection alone -> FLAG. Else PASS.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

from novaos.domain import Decision, Outcome, RequestContext, Stance
from novaos.pipeline.facts import ShieldFacts, ShieldVerdict
from novaos.pipeline.gate import GateInput, GateResult
from novaos.pipeline.gates.shield import ShieldClassifier
from novaos.ports import KeyValueStore

_KEY_PREFIX = "shield:veto:"
# From this many characters (message and earlier user turns) on, the classifier
# runs in a worker thread (``ShieldGate._classify``): ~2-5 ms of CPU and more.
THREAD_CHARS = 2000
# Classification is CPU-bound under the GIL: more threads than cores would only
# queue behind it. A wait here is not counted against the budget (CPU time);
# what is left of PIPELINE_TIMEOUT_MS bounds it.
_WORKERS = 2


class VetoThrottle:
    """Counts hard vetoes per user in the shared store (fixed window with TTL).

    The subject is the authenticated user id, or for anonymous callers their
    own client address: never one shared anonymous bucket. Ids are hashed so
    the store holds no raw user ids.
    """

    def __init__(self, store: KeyValueStore, *, limit: int, window_ms: int) -> None:
        self._store = store
        self.limit = limit
        self.window_ms = window_ms

    @staticmethod
    def subject(ctx: RequestContext) -> str | None:
        principal = ctx.principal
        ident = principal.user_id or ctx.client_addr
        if not ident:
            return None  # nothing identifies the caller: do not pool strangers
        kind = "anon" if principal.anonymous else "user"
        return f"{kind}:{ident}"

    def _key(self, subject: str) -> str:
        return _KEY_PREFIX + hashlib.sha256(subject.encode("utf-8")).hexdigest()[:32]

    async def count(self, subject: str) -> int:
        raw = await self._store.get(self._key(subject))
        return int(raw) if raw else 0

    async def is_throttled(self, subject: str) -> bool:
        return await self.count(subject) >= self.limit

    async def record(self, subject: str) -> int:
        """Count one veto; returns the count within the current window."""
        return await self._store.incr(self._key(subject), 1, ttl_ms=self.window_ms)


class ShieldGate:
    """Gate "shield": crisis, hard veto, soft veto (ack), injection flag, pass."""

    name = "shield"

    def __init__(
        self,
        classifier: ShieldClassifier,
        throttle: VetoThrottle | None = None,
        *,
        budget_ms: int = 250,
        thread_chars: int = THREAD_CHARS,
    ) -> None:
        self.classifier = classifier
        self.throttle = throttle
        self.budget_ms = budget_ms
        # budget_ms is CPU time, checked here (``_classify``): the orchestrator's
        # wall-clock timer would count the waits (for a worker thread behind other
        # long messages, for the GIL, for a slow Redis) and refuse safe requests
        # under load. PIPELINE_TIMEOUT_MS still bounds the gate's wall time.
        self.times_itself = True
        self.thread_chars = thread_chars
        self._pool: ThreadPoolExecutor | None = None  # made on the first long text
        self.policy_version = classifier.policy_version

    def ack_prompt(self, category: str, language: str) -> str:
        return self.classifier.ack_prompt(category, language)

    async def check(self, inp: GateInput) -> GateResult:
        turns = tuple(m.content for m in inp.history if m.role == "user")
        facts = await self._classify(inp.chat.message, turns)
        if facts.verdict is ShieldVerdict.CONTROL:
            return GateResult(
                decision=Decision.STOP,
                reason=_reason("control", facts),
                facts=facts,
                outcome=Outcome.CONTROL,
                stance=Stance.CONTROL,
                response_text=self.classifier.crisis_block(facts.language),
            )
        subject = VetoThrottle.subject(inp.ctx) if self.throttle else None
        if self.throttle and subject and await self.throttle.is_throttled(subject):
            return self._refuse(
                dataclasses.replace(facts, flags=facts.flags | {"throttled"}),
                "veto_throttled",
                self.classifier.throttled_text(facts.language),
            )
        if facts.verdict is ShieldVerdict.HARD_VETO:
            if self.throttle and subject:
                await self.throttle.record(subject)
            return self._refuse(
                facts, _reason("hard_veto", facts), self.classifier.refusal(facts.language)
            )
        return self._pass_or_ack(facts)

    def budget_s(self, chars: int) -> float:
        """The CPU the classification of ``chars`` characters (the message and the
        earlier user turns) may take: ``SHIELD_BUDGET_MS`` per ``thread_chars``,
        since the work is linear in the text."""
        return self.budget_ms / 1000 * max(1.0, chars / self.thread_chars)

    async def _classify(self, message: str, turns: tuple[str, ...]) -> ShieldFacts:
        """The classifier's verdict; for a long text, from a worker thread.

        A 32k-character message costs tens of milliseconds of CPU. Run on the
        event loop, it stalls every other stream that long; in a thread the loop
        keeps its turns (the GIL switches every 5 ms). There the CPU it took is
        measured, and over the budget the request is refused (fails closed): a
        pathological text, not a busy machine. Short texts, nearly all, stay
        inline and untimed (well under a millisecond): a hop costs ~50 us."""
        chars = len(message) + sum(map(len, turns))
        if chars < self.thread_chars:
            return self.classifier.classify(message, turns)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="shield")
        loop = asyncio.get_running_loop()
        facts, cpu_s = await loop.run_in_executor(self._pool, self._timed, message, turns)
        if cpu_s > (budget_s := self.budget_s(chars)):
            raise TimeoutError(f"classification took {cpu_s:.3f} s of CPU, over {budget_s:.3f} s")
        return facts

    def _timed(self, message: str, turns: tuple[str, ...]) -> tuple[ShieldFacts, float]:
        """In the worker thread: the verdict and the CPU this thread spent on it
        (waits for the GIL are not CPU time)."""
        started = time.thread_time()
        facts = self.classifier.classify(message, turns)
        return facts, time.thread_time() - started

    def close(self) -> None:
        """Stop the worker threads (when the app shuts down); idempotent."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _refuse(self, facts: ShieldFacts, reason: str, text: str) -> GateResult:
        return GateResult(
            decision=Decision.STOP,
            reason=reason,
            facts=facts,
            outcome=Outcome.HARD_VETO,
            stance=Stance.SHIELD,
            response_text=text,
        )

    def _pass_or_ack(self, facts: ShieldFacts) -> GateResult:
        if facts.verdict is ShieldVerdict.SOFT_VETO:
            return GateResult(
                decision=Decision.AWAIT_ACK,
                reason=f"soft_veto:{facts.category}",
                facts=facts,
                outcome=Outcome.ACK_REQUIRED,
                stance=Stance.SHIELD,
                response_text=self.ack_prompt(facts.category, facts.language),
            )
        if "prompt_injection" in facts.flags:
            return GateResult(decision=Decision.FLAG, reason="prompt_injection", facts=facts)
        return GateResult(decision=Decision.PASS, facts=facts)


def _reason(verdict: str, facts: ShieldFacts) -> str:
    """``control:self_harm``; a verdict only the learned model reached says so
    (``control:self_harm (model:0.93)``), for the audit and whoever reviews it."""
    reason = f"{verdict}:{facts.category}"
    return f"{reason} ({facts.matched})" if "model" in facts.flags else reason
