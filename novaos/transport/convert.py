"""Protobuf <-> domain conversion, in one place."""

from __future__ import annotations

import math
import struct

from generated.novaos.v1 import chat_pb2
from novaos import domain
from novaos.conversations import Conversation, ConversationSummary
from novaos.domain import ChatEvent
from novaos.wire_limits import MAX_REPLY_BYTES

_OUTCOMES: dict[domain.Outcome, chat_pb2.Outcome.ValueType] = {
    o: getattr(chat_pb2, f"OUTCOME_{o.name}") for o in domain.Outcome
}
_STANCES = {s: getattr(chat_pb2, f"STANCE_{s.name}") for s in domain.Stance}
_DECISIONS = {d: getattr(chat_pb2, f"GATE_DECISION_{d.name}") for d in domain.Decision}
_KEEPALIVE = chat_pb2.StreamChatResponse(keepalive=chat_pb2.Keepalive())


def chat_input(request: chat_pb2.StreamChatRequest | chat_pb2.ChatRequest) -> domain.ChatInput:
    opts = request.options
    options = domain.GenerationOptions(
        provider=opts.provider,
        model=opts.model,
        max_tokens=opts.max_tokens,
        temperature=_float32(opts.temperature) if opts.HasField("temperature") else None,
    )
    return domain.ChatInput(
        message=request.message,
        conversation_id=request.conversation_id,
        ack_token=request.ack_token,
        options=options,
        requested_actions=tuple(request.requested_actions),
    )


def _float32(value: float) -> float:
    """A proto ``float`` as the client wrote it: protobuf hands a float32 over as the
    nearest double (0.7 arrives as 0.699999988079071), which would reach the
    provider so. The shortest decimal that reads back as the same float32 is it."""
    if not math.isfinite(value):
        return value
    for digits in range(1, 10):  # 9 significant digits always round-trip a float32
        shorter = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", shorter))[0] == value:
            return shorter
    return value


def gate_event(record: domain.GateRecord) -> chat_pb2.GateEvent:
    return chat_pb2.GateEvent(
        gate=record.gate,
        decision=_DECISIONS[record.decision],
        reason=record.reason,
        latency_ms=round(record.latency_ms, 3),
    )


def ack_required(ack: domain.AckRequired) -> chat_pb2.AckRequired:
    return chat_pb2.AckRequired(
        token=ack.token, prompt=ack.prompt, expires_at_unix=ack.expires_at_unix, reason=ack.reason
    )


def _spark(spark: domain.SparkSuggestion | None) -> chat_pb2.Spark | None:
    return chat_pb2.Spark(action=spark.action, minutes=spark.minutes) if spark else None


def _stance(stance: domain.Stance | None) -> chat_pb2.Stance.ValueType:
    """STANCE_UNSPECIFIED for a request that ended before a stance was decided."""
    return chat_pb2.STANCE_UNSPECIFIED if stance is None else _STANCES[stance]


_INT64_MAX = 2**63 - 1


def int64(count: int) -> int:
    """A count as a proto ``int64`` takes it: saturated at its ends. Out of range,
    protobuf raises ValueError, which would fail the whole message (a terminal
    event, an audit page) as INTERNAL. The adapters refuse such usage counts
    (``novaos.tokens.MAX_REPORTED_TOKENS``); this is the last guard, for a record
    stored before they did (its ``canonical_json`` still holds the stored value)."""
    return max(-_INT64_MAX - 1, min(count, _INT64_MAX))


def _usage(usage: domain.Usage) -> chat_pb2.Usage:
    return chat_pb2.Usage(
        input_tokens=int64(usage.input_tokens), output_tokens=int64(usage.output_tokens)
    )


def completed(event: domain.Completed) -> chat_pb2.Completed:
    return chat_pb2.Completed(
        outcome=_OUTCOMES[event.outcome],
        stance=_stance(event.stance),
        usage=_usage(event.usage),
        gates_executed=list(event.gates_executed),
        request_id=event.request_id,
        provider=event.provider,
        model=event.model,
        spark=_spark(event.spark),
        detail=event.detail,
        conversation_id=event.conversation_id,
        released_chars=event.released_chars,
    )


def stream_response(event: ChatEvent) -> chat_pb2.StreamChatResponse:
    if isinstance(event, domain.TextDelta):
        return chat_pb2.StreamChatResponse(delta=chat_pb2.Delta(text=event.text))
    if isinstance(event, domain.GateEvent):
        return chat_pb2.StreamChatResponse(gate=gate_event(event.record))
    if isinstance(event, domain.Started):
        started = chat_pb2.Started(
            request_id=event.request_id, conversation_id=event.conversation_id
        )
        return chat_pb2.StreamChatResponse(started=started)
    if isinstance(event, domain.AckRequired):
        return chat_pb2.StreamChatResponse(ack_required=ack_required(event))
    if isinstance(event, domain.Keepalive):
        return _KEEPALIVE
    return chat_pb2.StreamChatResponse(completed=completed(event))


def chat_response(
    text: str,
    done: domain.Completed,
    gates: list[domain.GateRecord],
    ack: domain.AckRequired | None,
) -> chat_pb2.ChatResponse:
    return chat_pb2.ChatResponse(
        text=text,
        outcome=_OUTCOMES[done.outcome],
        stance=_stance(done.stance),
        usage=_usage(done.usage),
        gates_executed=list(done.gates_executed),
        request_id=done.request_id,
        provider=done.provider,
        model=done.model,
        gates=[gate_event(g) for g in gates],
        ack_required=ack_required(ack) if ack else None,
        spark=_spark(done.spark),
        detail=done.detail,
        conversation_id=done.conversation_id,
    )


def conversation_list(
    summaries: tuple[ConversationSummary, ...],
) -> chat_pb2.ListConversationsResponse:
    return chat_pb2.ListConversationsResponse(
        conversations=[
            chat_pb2.ConversationSummary(
                conversation_id=c.conversation_id,
                turn_count=c.turn_count,
                updated_at_unix=c.updated_at_unix,
            )
            for c in summaries
        ]
    )


def _stored_outcome(value: str) -> chat_pb2.Outcome.ValueType:
    """OUTCOME_UNSPECIFIED for a user turn, or one stored before outcomes were kept."""
    try:
        return _OUTCOMES[domain.Outcome(value)]
    except ValueError:
        return chat_pb2.OUTCOME_UNSPECIFIED


def conversation(
    found: Conversation, max_bytes: int = MAX_REPLY_BYTES
) -> chat_pb2.GetConversationResponse:
    """The conversation's newest turns that fit ``max_bytes``, from a user turn on,
    and how many older ones are left out: a long one (up to CONVERSATION_MAX_TURNS
    turns of long messages and answers) could exceed a gRPC client's 4 MiB receive
    limit (RESOURCE_EXHAUSTED) and the sidecar's transcoding buffer (an HTTP 500),
    and so could not be read back at all."""
    turns = [
        chat_pb2.Turn(
            role=t.role,
            text=t.text,
            created_at_unix=t.created_at_unix,
            outcome=_stored_outcome(t.outcome),
            detail=t.detail,
        )
        for t in found.turns
    ]
    size = chat_pb2.GetConversationResponse(
        conversation_id=found.conversation_id, omitted_turns=len(turns)
    ).ByteSize()
    start = len(turns)
    while start and size + (need := turns[start - 1].ByteSize() + _FIELD_HEAD) <= max_bytes:
        size += need
        start -= 1
    while 0 < start < len(turns) and turns[start].role != "user":
        start += 1  # an answer without its question: left out with it
    return chat_pb2.GetConversationResponse(
        conversation_id=found.conversation_id, turns=turns[start:], omitted_turns=start
    )


# A repeated message field's tag and length prefix, at most (1 + a 5-byte varint).
_FIELD_HEAD = 6
