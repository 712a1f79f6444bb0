"""What of a conversation one request sends: the newest whole exchanges that fit."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from novaos.ports import ChatMessage
from novaos.services.fit import Ask, fit
from novaos.tokens import reservation

ALLOWANCE = 450


def _ask(message: str = "thanks", max_tokens: int = 512) -> Ask:
    return Ask(message, max_tokens, output_is_default=False, allowance=ALLOWANCE)


def _exchange(question: str, *answers: str) -> tuple[ChatMessage, ...]:
    return (ChatMessage("user", question), *(ChatMessage("assistant", a) for a in answers))


def _sent_cost(history: tuple[ChatMessage, ...], ask: Ask) -> int:
    return reservation((*history, ChatMessage("user", ask.message)), ask.output_tokens) + ALLOWANCE


def test_a_request_that_fits_sends_the_whole_history() -> None:
    history = _exchange("tea " * 100, "ok") + _exchange("more tea", "sure")
    fitted = fit(history, _ask(), bound=10_000)
    assert fitted.left_out == 0 and not fitted.advice
    assert fitted.estimate == _sent_cost(history, _ask())
    assert fit(history, _ask(), bound=fitted.estimate).left_out == 0  # at the bound: fits
    assert fit(history, _ask(), bound=None) == fitted  # no bound: nothing left out


def test_the_oldest_whole_exchanges_are_left_out_until_it_fits() -> None:
    # The tester's case: one long message, then "thanks" on the same bound.
    long = _exchange("日" * 9000, "a short answer")
    history = long + _exchange("tea", "first answer", "[no text]") + _exchange("cake", "yes")
    bound = _sent_cost(history[len(long) :], _ask())
    fitted = fit(history, _ask(), bound)
    assert fitted.left_out == len(long) and not fitted.advice
    assert fitted.estimate == bound
    # One token less: the next exchange goes too, with both of its answers.
    tighter = fit(history, _ask(), bound - 1)
    assert tighter.left_out == len(long) + 3
    assert history[tighter.left_out].content == "cake"


def test_a_message_that_cannot_fit_alone_names_max_tokens_when_lowering_it_helps() -> None:
    ask = Ask("tea " * 2200, 512, output_is_default=True, allowance=ALLOWANCE)
    history = _exchange("tea " * 1500, "ok")
    fitted = fit(history, ask, bound=3000)
    assert fitted.left_out == len(history)  # the history is not what is too big
    room = 3000 - _sent_cost((), Ask(ask.message, 0, True, ALLOWANCE))
    assert fitted.advice == (
        "the message takes 2203 tokens, the system prompt and framing 453 and max_tokens 512 "
        "(the default) more, the conversation's earlier turns left out already: set "
        f"options.max_tokens to at most {room}, or shorten the message"
    )
    assert fitted.estimate == 2203 + 453 + 512  # what the refusal says it reserves
    assert not fit((), Ask(ask.message, room, False, ALLOWANCE), bound=3000).advice


def test_a_message_too_long_for_any_answer_says_shorten_it() -> None:
    fitted = fit((), _ask("tea " * 2600, max_tokens=1), bound=3000)
    assert fitted.advice == (
        "the message takes 2603 tokens, the system prompt and framing 453 and max_tokens 1 "
        "more; the message leaves no room for an answer: shorten the message"
    )
    assert fitted.estimate == 2603 + 453 + 1


def test_a_limit_below_the_system_prompt_room_is_not_blamed_on_the_message() -> None:
    # TOKEN_LIMIT_FREE=400 under a 450-token room: "hi" was told to shorten the
    # message, though no message can fit, and 4 + 450 + 1 did not make the 458 reserved.
    for bound in (400, 457):  # at 458, "hi" with max_tokens 1 fits
        fitted = fit((), _ask("hi", max_tokens=1), bound)
        assert fitted.estimate == 458
        assert fitted.advice == (
            "the message takes 4 tokens, the system prompt and framing 453 and max_tokens 1 "
            "more; the system prompt and framing alone leave no room for any message and "
            "answer: the tier's limit is set below what any request needs (no shorter "
            "message or lower max_tokens helps)"
        )
        assert "shorten the message" not in fitted.advice
    assert not fit((), _ask("x", max_tokens=1), 458).advice


_turn = st.text(alphabet="tea 日.", max_size=60)


@given(
    st.lists(st.tuples(_turn, st.lists(_turn, min_size=1, max_size=2)), max_size=6),
    _turn.filter(str.strip),
    st.integers(min_value=400, max_value=900),
)
def test_what_is_sent_is_the_longest_tail_of_whole_exchanges_that_fits(
    exchanges: list[tuple[str, list[str]]], message: str, bound: int
) -> None:
    history = tuple(m for q, answers in exchanges for m in _exchange(q, *answers))
    ask = _ask(message, max_tokens=20)
    fitted = fit(history, ask, bound)
    sent = history[fitted.left_out :]
    assert not sent or sent[0].role == "user"  # whole exchanges only
    assert fitted.estimate == _sent_cost(sent, ask)
    if fitted.advice:
        assert not sent and fitted.estimate > bound
        # The figures it names add up to the reservation the refusal states.
        figures = re.search(
            r"takes (\d+) tokens, .* framing (\d+) and max_tokens (\d+)", fitted.advice
        )
        assert figures and sum(map(int, figures.groups())) == fitted.estimate
        return
    assert fitted.estimate <= bound
    if fitted.left_out:  # the exchange before it would not have fitted
        previous = max(i for i in range(fitted.left_out) if history[i].role == "user")
        assert _sent_cost(history[previous:], ask) > bound
