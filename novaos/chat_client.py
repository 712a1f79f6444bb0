"""The terminal chat client behind ``novaos chat`` (a gRPC stub user)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import grpc

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos import terminal

_DIM, _RESET = "\x1b[2m", "\x1b[0m"
_POLICY = {chat_pb2.OUTCOME_CONTROL, chat_pb2.OUTCOME_HARD_VETO, chat_pb2.OUTCOME_ACK_REQUIRED}


def _exit_code(outcome: int) -> int:
    if outcome == chat_pb2.OUTCOME_COMPLETED:
        return 0
    return 3 if outcome in _POLICY else 4


@dataclass
class _Screen:
    """Prints a stream's events; keeps what later lines need."""

    conversation: str = ""  # from `started`: an ack belongs to its conversation
    outcome: int = chat_pb2.OUTCOME_UNSPECIFIED

    def show(self, event: chat_pb2.StreamChatResponse) -> bool:
        """Print one event; False once a reader went away (``| head``)."""
        kind = event.WhichOneof("event")
        # "keepalive" (text held back, a slow model) and kinds this client
        # does not know show nothing.
        if kind == "started":
            self.conversation = event.started.conversation_id
        elif kind == "delta":
            return terminal.write(sys.stdout, event.delta.text)
        elif kind == "gate":
            name = chat_pb2.GateDecision.Name(event.gate.decision)
            decision = name.removeprefix("GATE_DECISION_").lower()
            return terminal.write(sys.stderr, f"{_DIM}[{event.gate.gate}: {decision}]{_RESET}\n")
        elif kind == "ack_required":
            return terminal.write(sys.stderr, self._ack_hint(event.ack_required))
        elif kind == "completed":
            self.outcome = event.completed.outcome
            name = chat_pb2.Outcome.Name(self.outcome).removeprefix("OUTCOME_").lower()
            return terminal.write(
                sys.stderr, f"\n{_DIM}[{name}; {event.completed.conversation_id}]{_RESET}\n"
            )
        return True

    def _ack_hint(self, ack: chat_pb2.AckRequired) -> str:
        # The token is bound to this conversation: without it the resend is refused.
        where = f"--conversation {self.conversation} " if self.conversation else ""
        return (
            f"\nacknowledge: {ack.prompt}\nresend the same message with {where}--ack {ack.token}\n"
        )


async def run_chat(target: str, message: str, token: str, conversation: str, ack: str) -> int:
    metadata: tuple[tuple[str, str | bytes], ...] = (
        (("authorization", f"Bearer {token}"),) if token else ()
    )
    request = chat_pb2.StreamChatRequest(
        message=message, conversation_id=conversation, ack_token=ack
    )
    screen = _Screen()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        try:
            async for event in stub.StreamChat(request, metadata=metadata):  # type: ignore[attr-defined]
                if not screen.show(event):
                    # Quietly, as `| head` expects; closing the channel cancels the call.
                    return 0
        except grpc.aio.AioRpcError as err:
            sys.stderr.write(f"\nerror: {err.code().name}: {err.details()}\n")
            return 1
    return _exit_code(screen.outcome)
