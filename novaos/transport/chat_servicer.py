"""ChatService servicer: protobuf in, one service call, protobuf out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos import domain
from novaos.conversations import ConversationHistory
from novaos.errors import DeadlineExceededError, InvalidArgumentError, NotFoundError
from novaos.observability.metrics import Metrics
from novaos.pipeline.orchestrator import RunRecord
from novaos.services.chat import TIME_LIMIT_REACHED, ChatCall, ChatService
from novaos.transport import convert
from novaos.transport.context import Ctx, request_context


def _initial(call: ChatCall, worker: int) -> list[tuple[str, str]]:
    meta = [("x-request-id", call.ctx.request_id), ("x-novaos-worker", str(worker))]
    return meta + (call.rate_limit.as_metadata() if call.rate_limit else [])


def _retrieve(sent: asyncio.Future[None]) -> None:
    """Mark a failed early header send as seen: the call's own status reports it."""
    if not sent.cancelled():
        sent.exception()


def _trailing(call: ChatCall) -> list[tuple[str, str]]:
    return [("x-novaos-overhead-ms", f"{call.overhead_ms:.3f}")]


# Set by Envoy's gRPC-JSON transcoder on the calls it makes from HTTP/JSON
# requests; x-grpc-web by the sidecar on every grpc-web call it bridges, and on
# no other (it removes a caller's own; the gRPC port is pod-local).
_TRANSCODED = "x-envoy-original-path"
_FROM_HTTP = frozenset({_TRANSCODED, "x-grpc-web"})


def _from_http(context: Ctx) -> bool:
    """An HTTP/JSON or grpc-web call through the sidecar, whose metadata must be
    HTTP response headers (which CORS lets a page read).

    Envoy turns a unary call's initial metadata into response headers, but not
    its trailers (it ends the JSON body with them; grpc-web frames them)."""
    return any(key in _FROM_HTTP for key, _ in context.invocation_metadata() or ())


def _transcoded(context: Ctx) -> bool:
    """A JSON/SSE call the transcoder made: its client reads no gRPC status, and
    its deadline is the sidecar's stream time limit (the client's grpc-timeout is
    dropped before it)."""
    return any(key == _TRANSCODED for key, _ in context.invocation_metadata() or ())


def _grpc_web(context: Ctx) -> bool:
    """A grpc-web call (the sidecar marks every one): Envoy arms a timer from the
    same grpc-timeout, and when it fires on a stream that has begun it can only
    reset it (envoyproxy/envoy#13925), which a browser reads as a network error."""
    return any(key == "x-grpc-web" for key, _ in context.invocation_metadata() or ())


class ChatServicer(chat_pb2_grpc.ChatServiceServicer):
    def __init__(
        self,
        service: ChatService,
        metrics: Metrics,
        conversations: ConversationHistory | None = None,
        worker: int = 0,
    ) -> None:
        self._service = service
        self._metrics = metrics
        self._conversations = conversations
        self._worker = worker

    def _history(self) -> ConversationHistory:
        if self._conversations is None:
            raise NotFoundError("conversation history is not kept on this server")
        return self._conversations

    def _finished(self, call: ChatCall) -> list[tuple[str, str]]:
        self._metrics.overhead.observe(call.overhead_ms / 1000)
        self._count_tokens(call)
        return _trailing(call)

    def _count_tokens(self, call: ChatCall) -> None:
        """What the call was charged (tokens/min and the audit say the same), also
        for a call that failed or was given up on after the upstream was called."""
        gen = call.record.generation
        # A stream dropped for the next provider counts under its own provider.
        dropped = [(f.provider, f.model, f.usage) for f in gen.failovers]
        answered = domain.Usage(
            gen.usage.input_tokens - sum(u.input_tokens for *_, u in dropped),
            gen.usage.output_tokens - sum(u.output_tokens for *_, u in dropped),
        )
        for provider, model, usage in [*dropped, (gen.provider, gen.model, answered)]:
            self._metrics.count_tokens(provider, model, "input", usage.input_tokens)
            self._metrics.count_tokens(provider, model, "output", usage.output_tokens)
        if gen.first_token_s is not None and gen.provider:
            streamed = not call.record.whole_answer
            self._metrics.first_token(gen.provider, gen.first_token_s, streamed=streamed)

    async def StreamChat(
        self, request: chat_pb2.StreamChatRequest, context: Ctx
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        call = ChatCall(request_context(context), convert.chat_input(request))
        transcoded, grpc_web = _transcoded(context), _grpc_web(context)
        if transcoded or grpc_web:
            # Ended before the limit, by the gateway: an SSE client that is just
            # cut sees no terminal event, a grpc-web one no status. Native callers
            # get DEADLINE_EXCEEDED from gRPC (their client's timer, or Envoy's reset).
            call.ends_by = call.ctx.deadline_monotonic
        headers_sent = False
        self._metrics.active_streams.inc()
        try:
            # aclosing: when the call is cancelled while this generator waits at
            # its yield, the service's finally (lease release, audit record) must
            # run now, not whenever the abandoned generator is garbage-collected.
            async with aclosing(self._service.stream(call)) as events:
                async for event in events:
                    if not headers_sent:
                        await context.send_initial_metadata(_initial(call, self._worker))
                        headers_sent = True
                    yield convert.stream_response(event)
            if grpc_web and call.completed and call.completed.detail == TIME_LIMIT_REACHED:
                # After the in-band terminal event, the status the deadline means.
                raise DeadlineExceededError(TIME_LIMIT_REACHED)
        finally:
            self._metrics.active_streams.dec()
            context.set_trailing_metadata(self._finished(call))

    async def Chat(self, request: chat_pb2.ChatRequest, context: Ctx) -> chat_pb2.ChatResponse:
        call = ChatCall(
            request_context(context),
            convert.chat_input(request),
            record=RunRecord(whole_answer=True, gate_events=False),
            live=False,
        )
        if _grpc_web(context):
            # Its headers go out at Started: ended by the gateway before the
            # sidecar's timer, which could then only cut it with no status.
            call.ends_by = call.ctx.deadline_monotonic
        ack, done = None, None
        headers: asyncio.Future[None] | None = None
        via_http = _from_http(context)
        try:
            async with aclosing(self._service.stream(call)) as events:
                async for event in events:
                    if isinstance(event, domain.Started) and not via_http:
                        # Admitted: the metadata is known. A native unary reply
                        # carries it in its trailers, which reach the client with
                        # the reply; initial metadata would be one more batch through
                        # gRPC's completion queue (~0.3 ms of CPU a call, bench.ab).
                        # Set now, so a call that fails later still carries it.
                        context.set_trailing_metadata(_initial(call, self._worker))
                    elif isinstance(event, domain.Started):
                        # Through Envoy only initial metadata becomes HTTP headers.
                        # Started now, the send overlaps the pipeline and the model
                        # instead of adding to the reply.
                        headers = asyncio.ensure_future(
                            context.send_initial_metadata(_initial(call, self._worker))
                        )
                        headers.add_done_callback(_retrieve)
                    elif isinstance(event, domain.AckRequired):
                        ack = event
                    elif isinstance(event, domain.Completed):
                        done = event
        except BaseException:
            # Counted like a stream that fails: refusals, cuts and give-ups are
            # calls too, or the histogram shows only the calls that went well.
            self._metrics.overhead.observe(call.overhead_ms / 1000)
            self._count_tokens(call)
            if headers is not None:  # out before the error's status; never in its place
                await asyncio.wait({headers})
            raise
        assert done is not None, "the pipeline always ends with a terminal event"
        if via_http:
            await (headers or context.send_initial_metadata(_initial(call, self._worker)))
            context.set_trailing_metadata(self._finished(call))
        else:
            context.set_trailing_metadata(_initial(call, self._worker) + self._finished(call))
        gates = call.record.gates  # every decision, in order (no events for unary)
        return convert.chat_response(call.text, done, gates, ack)

    async def ListConversations(
        self, request: chat_pb2.ListConversationsRequest, context: Ctx
    ) -> chat_pb2.ListConversationsResponse:
        owner = request_context(context).principal.user_id
        if request.page_size < 0:
            raise InvalidArgumentError("page_size", "must not be negative")
        limit = min(request.page_size or 100, 1000)
        return convert.conversation_list(await self._history().list(owner, limit=limit))

    async def GetConversation(
        self, request: chat_pb2.GetConversationRequest, context: Ctx
    ) -> chat_pb2.GetConversationResponse:
        owner = request_context(context).principal.user_id
        found = await self._history().get(owner, request.conversation_id)
        return convert.conversation(found)

    async def DeleteConversation(
        self, request: chat_pb2.DeleteConversationRequest, context: Ctx
    ) -> chat_pb2.DeleteConversationResponse:
        owner = request_context(context).principal.user_id
        await self._history().delete(owner, request.conversation_id)
        return chat_pb2.DeleteConversationResponse()
