"""The interceptor wraps each registered handler once, not on every call."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import grpc

from novaos.observability.metrics import Metrics
from novaos.transport import context as callctx
from novaos.transport.auth import JwtAuthenticator, JwtConfig
from novaos.transport.interceptors import NovaInterceptor


class Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


async def _echo(request: Any, context: Any) -> Any:
    return request


async def test_a_methods_wrapper_is_built_once_per_registered_handler() -> None:
    interceptor = NovaInterceptor(JwtAuthenticator(JwtConfig("s" * 32, False)), Metrics())
    registered = {"/novaos.v1.ChatService/Chat": grpc.unary_unary_rpc_method_handler(_echo)}

    async def lookup(details: grpc.HandlerCallDetails) -> Any:
        return registered.get(details.method)

    chat = Details("/novaos.v1.ChatService/Chat")
    first = await interceptor.intercept_service(lookup, chat)
    assert first is not registered[chat.method]  # wrapped: auth, metrics, errors
    assert await interceptor.intercept_service(lookup, chat) is first
    # A handler registered anew (another object) gets its own wrapper.
    registered[chat.method] = grpc.unary_unary_rpc_method_handler(_echo)
    again = await interceptor.intercept_service(lookup, chat)
    assert again is not first and again.unary_unary is not None
    assert await interceptor.intercept_service(lookup, Details("/x.Y/Unknown")) is None


async def test_a_call_context_set_in_one_task_can_be_reset_from_another() -> None:
    # asyncio closes a stream generator gRPC dropped in a task of its own; the
    # interceptor's reset then ran in another context and raised ValueError.
    info = callctx.CallInfo("req_1", None, "127.0.0.1", "/novaos.v1.ChatService/StreamChat")
    token = await asyncio.create_task(_set(info))
    await asyncio.create_task(_reset(token))  # raised "created in a different Context"


async def _set(info: callctx.CallInfo) -> contextvars.Token[callctx.CallInfo]:
    return callctx.set_current(info)


async def _reset(token: contextvars.Token[callctx.CallInfo]) -> None:
    callctx.reset_current(token)
