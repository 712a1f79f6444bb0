"""The gate interface: one input object in, one decision out.

Gates are stateless objects built once at start; everything per request lives
in ``GateInput`` (and in the ``StreamCheck`` an output checker opens per stream).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from novaos.domain import AckRequired, ChatInput, Decision, Outcome, RequestContext, Stance
from novaos.errors import NovaError
from novaos.ports import ChatMessage


@dataclass(frozen=True, slots=True)
class GateResult:
    """A gate's verdict.

    ``facts`` carries the gate's typed findings for later gates (e.g. the
    shield's verdict for stance). A stopping gate sets ``outcome`` and, when
    NovaOS itself answers (crisis block, refusal), ``response_text``. A stop
    that is the client's error rather than a verdict (an invalid ack token) sets
    ``error``: the decision is recorded, counted and streamed like any other,
    then the call ends with that error.
    """

    decision: Decision
    reason: str = ""
    facts: object | None = None
    outcome: Outcome | None = None
    stance: Stance | None = None
    response_text: str = ""
    ack: AckRequired | None = None
    error: NovaError | None = None


@dataclass(frozen=True, slots=True)
class GateInput:
    ctx: RequestContext
    chat: ChatInput
    history: tuple[ChatMessage, ...] = ()
    prior: Mapping[str, GateResult] = field(default_factory=dict)
    # The oldest ``history`` messages the model is not sent: the request would not
    # fit the caller's per-request token bound with them (``novaos.services.fit``).
    left_out: int = 0

    def facts(self, gate: str) -> object | None:
        result = self.prior.get(gate)
        return result.facts if result else None


class Gate(Protocol):
    """``budget_ms`` bounds the gate's own work. A gate that calls the store also
    has ``store_calls`` (the most calls one check makes in a row): each may take
    the store's own timeout on top, after which the store answers from memory,
    so a slow Redis delays such a gate rather than failing it. A gate with
    ``times_itself`` set enforces its budget itself (the shield: on CPU time) and
    is bounded by the orchestrator only by what is left of the pipeline's."""

    name: str
    budget_ms: int

    async def check(self, inp: GateInput) -> GateResult: ...


class InlineGate:
    """Base of gates that do no I/O: the orchestrator calls ``decide`` directly.

    Such a gate's ``check`` never suspends, so a budget timer could not fire
    before it returns; running it inline skips arming one (and a coroutine)."""

    name: str
    budget_ms: int

    def decide(self, inp: GateInput) -> GateResult:
        raise NotImplementedError

    def heavy(self, inp: GateInput) -> bool:
        """Whether ``decide`` would hold the event loop long enough (a few ms of
        CPU) to run in a worker thread instead; still never timed out."""
        return False

    async def check(self, inp: GateInput) -> GateResult:
        return self.decide(inp)


@dataclass(frozen=True, slots=True)
class CheckStep:
    """What a stream check says after a feed or at the end.

    ``release`` is text now safe to send. ``action``: ``continue``;
    ``regenerate`` (nothing released yet and a violation found: retry with
    ``reason`` as a constraint); ``block`` (harmful text after release: stop
    with OUTPUT_BLOCKED). ``edits`` counts minor edits made in held-back text;
    ``edited`` names their kinds, each once (a rule's violation kind, "opener",
    "we"), never the text edited. ``harm`` is the shield category of harmful
    text that stopped it ("" for any other stop).
    """

    release: str = ""
    action: str = "continue"
    reason: str = ""
    edits: int = 0
    edited: tuple[str, ...] = ()
    harm: str = ""


class StreamCheck(Protocol):
    def feed(self, text: str) -> CheckStep: ...

    def finish(self) -> CheckStep: ...

    def whole(self, text: str) -> Sequence[CheckStep]:
        """The steps for a complete answer (a check opened with ``whole``): what
        feeding it word by word, as a stream, then finishing would give."""
        ...


@dataclass(frozen=True, slots=True)
class OutputConstraints:
    """Constraints the output check enforces (from stance / lens)."""

    stance: Stance = Stance.LENS
    no_precise_figures: bool = False
    no_buy_sell: bool = True
    holdback_chars: int = 160
    # What replaces a precise figure, in the answer's language ("": the English one).
    figure_placeholder: str = ""
    # Whether a minor violation before anything is released asks for another
    # draft; on the last attempt it is edited as after release (harm still stops).
    may_regenerate: bool = True


class OutputChecker(Protocol):
    def open(self, constraints: OutputConstraints, *, whole: bool = False) -> StreamCheck:
        """A check for one model attempt. ``whole``: the text is a complete answer
        that nobody sees before ``finish`` (unary Chat), so harm is judged once,
        on all of it, and any harm asks for a regeneration."""
        ...
