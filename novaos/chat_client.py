"""The terminal chat client behind ``novaos chat`` (a gRPC stub user)."""

from __future__ import annotations

import sys

import grpc

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc

_DIM, _RESET = "\x1b[2m", "\x1b[0m"
_POLICY = {chat_pb2.OUTCOME_CONTROL, chat_pb2.OUTCOME_HARD_VETO, chat_pb2.OUTCOME_ACK_REQUIRED}


def _exit_code(outcome: int) -> int:
    if outcome == chat_pb2.OUTCOME_COMPLETED:
        return 0
    return 3 if outcome in _POLICY else 4


async def run_chat(target: str, message: str, token: str, conversation: str, ack: str) -> int:
    metadata: tuple[tuple[str, str | bytes], ...] = (
        (("authorization", f"Bearer {token}"),) if token else ()
    )
    request = chat_pb2.StreamChatRequest(
        message=message, conversation_id=conversation, ack_token=ack
    )
    outcome = chat_pb2.OUTCOME_UNSPECIFIED
    async with grpc.aio.insecure_channel(target) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        try:
            async for event in stub.StreamChat(request, metadata=metadata):  # type: ignore[attr-defined]
                kind = event.WhichOneof("event")
                # "keepalive" (text held back, a slow model) and kinds this client
                # does not know show nothing.
                if kind == "delta":
                    sys.stdout.write(event.delta.text)
                    sys.stdout.flush()
                elif kind == "gate":
                    decision = chat_pb2.GateDecision.Name(event.gate.decision).removeprefix(
                        "GATE_DECISION_"
                    )
                    sys.stderr.write(f"{_DIM}[{event.gate.gate}: {decision.lower()}]{_RESET}\n")
                elif kind == "ack_required":
                    sys.stderr.write(
                        f"\nacknowledge: {event.ack_required.prompt}\n"
                        f"resend with --ack {event.ack_required.token}\n"
                    )
                elif kind == "completed":
                    outcome = event.completed.outcome
                    name = chat_pb2.Outcome.Name(outcome).removeprefix("OUTCOME_").lower()
                    sys.stderr.write(
                        f"\n{_DIM}[{name}; {event.completed.conversation_id}]{_RESET}\n"
                    )
        except grpc.aio.AioRpcError as err:
            sys.stderr.write(f"\nerror: {err.code().name}: {err.details()}\n")
            return 1
    return _exit_code(outcome)
