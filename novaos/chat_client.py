"""The terminal chat client behind ``novaos chat`` (a gRPC stub user)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos import terminal

_POLICY = {chat_pb2.OUTCOME_CONTROL, chat_pb2.OUTCOME_HARD_VETO, chat_pb2.OUTCOME_ACK_REQUIRED}


def _exit_code(outcome: int) -> int:
    # 4 for every other end: the answer did not arrive whole (blocked, truncated,
    # cancelled by a gateway shutdown, failed a final check or was not stored).
    # Not 1, also when a non-OK status follows the terminal event (truncated, not
    # stored): what a script must know is not to use the text on stdout as is.
    if outcome == chat_pb2.OUTCOME_COMPLETED:
        return 0
    return 3 if outcome in _POLICY else 4


def _name(name_of: Callable[[Any], str], number: int, prefix: str) -> str:
    """``number``'s name (``name_of``, an enum's ``Name``), lower case, without
    ``prefix``; a number this client does not know (a newer gateway's) as
    ``prefix`` + the number."""
    try:
        return name_of(number).removeprefix(prefix).lower()
    except ValueError:
        return f"{prefix.lower()}{number}"


@dataclass
class _Screen:
    """Prints a stream's events; keeps what later lines need."""

    conversation: str = ""  # from `started`: an ack belongs to its conversation
    outcome: int = chat_pb2.OUTCOME_UNSPECIFIED
    ended: bool = False  # the terminal event came: its outcome says how the answer ended
    open_line: bool = False  # the answer on stdout does not end with a line break yet
    # end_line() printed a line break the answer did not have (a gate line came
    # mid-answer): the answer's own next one, if it comes, is that one.
    owed_break: bool = False

    def show(self, event: chat_pb2.StreamChatResponse) -> bool:
        """Print one event; False once a reader went away (``| head``)."""
        kind = event.WhichOneof("event")
        # "keepalive" (text held back, a slow model) and kinds this client
        # does not know show nothing.
        if kind == "started":
            self.conversation = event.started.conversation_id
        elif kind == "delta":
            return self._text(event.delta.text)
        elif kind == "gate":
            decision = _name(chat_pb2.GateDecision.Name, event.gate.decision, "GATE_DECISION_")
            line = terminal.dim(sys.stderr, terminal.safe(f"[{event.gate.gate}: {decision}]"))
            # A gate that decides after the text (personality, spark) gets a line
            # of its own, not the end of the answer's last one.
            return self.end_line() and terminal.write(sys.stderr, f"{line}\n")
        elif kind == "ack_required":
            return self.end_line() and terminal.write(
                sys.stderr, self._ack_hint(event.ack_required)
            )
        elif kind == "completed":
            self.outcome, self.ended = event.completed.outcome, True
            name = _name(chat_pb2.Outcome.Name, self.outcome, "OUTCOME_")
            why = f": {event.completed.detail}" if event.completed.detail else ""
            line = terminal.safe(f"[{name}{why}; {event.completed.conversation_id}]")
            line = terminal.dim(sys.stderr, line)
            return self.end_line() and terminal.write(sys.stderr, f"{line}\n")
        return True

    def _text(self, delta: str) -> bool:
        # A model's text goes to a terminal: what would drive it goes first.
        text = terminal.safe(delta)
        if text and self.owed_break:
            # Notes after the answer start with their own line breaks: stdout keeps
            # the answer's text as sent, not one more line break than it had.
            text = text.removeprefix("\n")
            self.owed_break = False
        if text:
            self.open_line = not text.endswith("\n")
        return terminal.write(sys.stdout, text)

    def end_line(self) -> bool:
        """End the answer's line on stdout, before a closing line on stderr.

        On stdout, not as a blank line on stderr: a file or pipe that takes the
        answer gets its final line break, and stderr gets no empty line."""
        if not self.open_line:
            return True
        self.open_line = False
        self.owed_break = True
        return terminal.write(sys.stdout, "\n")

    def _ack_hint(self, ack: chat_pb2.AckRequired) -> str:
        # The token is bound to this conversation: without it the resend is refused.
        where = f"--conversation {self.conversation} " if self.conversation else ""
        hint = f"acknowledge: {ack.prompt}\nresend the same message with {where}--ack {ack.token}"
        return f"{terminal.safe(hint)}\n"


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
            screen.end_line()
            terminal.write(
                sys.stderr, terminal.safe(f"error: {err.code().name}: {err.details()}") + "\n"
            )
            # A status after the terminal event restates the outcome it already
            # gave (truncated, not stored: UNAVAILABLE): that outcome decides, or a
            # script would take a partial answer on stdout for an RPC error.
            return _exit_code(screen.outcome) if screen.ended else 1
        except asyncio.CancelledError:  # Ctrl-C: the shell's prompt starts a line of its own
            screen.end_line()
            raise
    return _exit_code(screen.outcome)
