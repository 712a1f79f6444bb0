"""What a failed provider call's log line keeps of the provider's message."""

from __future__ import annotations

from novaos.ports import ChatMessage, ProviderRequest
from novaos.providers.log_detail import ECHO_MARK, ECHO_SCOPE_CHARS, log_detail


def _request(*contents: str) -> ProviderRequest:
    roles = ("user", "assistant")
    return ProviderRequest(
        messages=tuple(ChatMessage(roles[i % 2], c) for i, c in enumerate(contents))
    )


def test_an_echo_of_the_newest_message_is_replaced() -> None:
    prompt = "my neighbour's wifi password is hunter2, log me in"
    detail = log_detail(f"invalid input: {prompt!s}", _request("hello there", prompt))
    assert prompt not in detail and ECHO_MARK in detail


def test_only_the_newest_history_is_searched_for_echoes() -> None:
    # Every window of the message is looked for in the request's text: a long
    # history made each failed call's log line cost the event loop most of a
    # second. Only the newest ECHO_SCOPE_CHARS are searched.
    oldest = "the very first turn of this long conversation"
    filler = "x" * ECHO_SCOPE_CHARS
    request = _request(oldest, filler, "and the newest question")
    assert log_detail(f"bad: {oldest}", request) == f"bad: {oldest}"
    assert ECHO_MARK in log_detail("bad: and the newest question", request)
