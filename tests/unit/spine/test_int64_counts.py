"""A count past a proto int64 saturates at the encoding boundary instead of
failing the whole message (a terminal event, a unary reply) as INTERNAL."""

from __future__ import annotations

from novaos.domain import Completed, Outcome, Stance, Usage
from novaos.transport import convert

INT64_MAX = 2**63 - 1


def test_a_terminal_events_usage_past_int64_saturates() -> None:
    done = Completed(Outcome.COMPLETED, Stance.LENS, Usage(10**20, -(2**70)), (), "req-1")
    usage = convert.stream_response(done).completed.usage
    assert (usage.input_tokens, usage.output_tokens) == (INT64_MAX, -INT64_MAX - 1)
    reply = convert.chat_response("text", done, [], None)
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (INT64_MAX, -INT64_MAX - 1)


def test_counts_in_range_pass_unchanged() -> None:
    assert [convert.int64(n) for n in (0, 1, 25, -5, INT64_MAX)] == [0, 1, 25, -5, INT64_MAX]
