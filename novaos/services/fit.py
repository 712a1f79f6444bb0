"""What of a conversation one request sends: the newest exchanges that fit its tier.

A tier's tokens/min limit is also the largest reservation one request can ever
be admitted with: no wait admits more. The stored history keeps
CONVERSATION_MAX_TURNS turns whatever their size, so one long but admitted
message, or a history built under a bigger tier, used to make every later
request of its conversation too big: refused, storing nothing, until the
conversation expired. So, as a model's context window is kept, the oldest whole
exchanges are left out of what is sent to the model (and reserved) until the
request fits. The stored history stays whole, and the gates still read all of
it: the shield weighs a crisis stated in a turn the model is no longer sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from novaos.ports import ChatMessage
from novaos.tokens import estimate_input_tokens, reservation


@dataclass(frozen=True, slots=True)
class Fitted:
    """``estimate``: what admission reserves for what is sent. ``left_out``: how
    many of the oldest history messages are not sent. ``advice``: what to make
    smaller, when even the message alone does not fit (admission refuses it)."""

    estimate: int
    left_out: int = 0
    advice: str = ""


@dataclass(frozen=True, slots=True)
class Ask:
    """One request's parts, as admission counts them."""

    message: str
    output_tokens: int  # options.max_tokens, or the default
    output_is_default: bool  # options.max_tokens left unset
    allowance: int  # room reserved for the system prompt the gates have yet to write


def fit(history: Sequence[ChatMessage], ask: Ask, bound: int | None) -> Fitted:
    """The request with as much of ``history`` as fits ``bound`` (None: no bound),
    dropping the oldest exchange first, each one whole: a question is never sent
    without its answer, nor an answer without its question."""
    new = ChatMessage("user", ask.message)
    estimate = reservation((*history, new), ask.output_tokens) + ask.allowance
    left_out = 0
    while bound is not None and estimate > bound and left_out < len(history):
        end = left_out + 1
        while end < len(history) and history[end].role != "user":
            end += 1
        estimate -= _cost(history[left_out:end])
        left_out = end
    if bound is None or estimate <= bound:
        return Fitted(estimate, left_out)
    return Fitted(estimate, left_out, _advice(ask, estimate, bound, left_out > 0))


def _cost(messages: Sequence[ChatMessage]) -> int:
    return estimate_input_tokens(messages) - estimate_input_tokens(())


def _advice(ask: Ask, estimate: int, bound: int, had_history: bool) -> str:
    """What is too big, once the conversation's earlier turns are out of it; the
    parts named add up to ``estimate``, what the refusal says the request reserves."""
    message = _cost((ChatMessage("user", ask.message),))
    fixed = estimate - message - ask.output_tokens  # the system prompt's room, framing
    without = ", the conversation's earlier turns left out already" if had_history else ""
    default = " (the default)" if ask.output_is_default else ""
    parts = (
        f"the message takes {message} tokens, the system prompt and framing {fixed} "
        f"and max_tokens {ask.output_tokens}{default} more{without}"
    )
    if bound - fixed < _SMALLEST_ASK:
        # No message is short enough (a TOKEN_LIMIT_* below the system prompt's
        # room): telling the caller to shorten it sends them after no fix at all.
        return (
            f"{parts}; the system prompt and framing alone leave no room for any message "
            "and answer: the tier's limit is set below what any request needs (no shorter "
            "message or lower max_tokens helps)"
        )
    room = bound - (estimate - ask.output_tokens)  # what max_tokens may be
    if room < 1:
        return f"{parts}; the message leaves no room for an answer: shorten the message"
    return f"{parts}: set options.max_tokens to at most {room}, or shorten the message"


# The least a message and its answer take: one token and its framing, one token out.
_SMALLEST_ASK = _cost((ChatMessage("user", "x"),)) + 1
