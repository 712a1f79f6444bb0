"""Shared HTTP plumbing for provider adapters: one pooled client, deadlines, errors.

Each adapter supplies the wire format (request body, a ``StreamDecoder`` for
its SSE events, a parser for the JSON answer); this base owns everything that
is the same for all: timeouts, mapping transport failures and HTTP statuses to
``novaos.providers.errors``, and closing the upstream response the moment the
consumer stops (so the connection goes back to the pool or is dropped).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from novaos.errors import DeadlineExceededError
from novaos.ports import ChatMessage, ProviderChunk, ProviderRequest, ProviderResponse
from novaos.providers import errors as perr
from novaos.providers.retry_after import parse_retry_after
from novaos.providers.sse import SSEEvent, aiter_sse

_ERROR_BODY_LIMIT = 16 * 1024
JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Pool and timeout settings every adapter shares (from PROVIDER_* variables)."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0
    total_timeout_s: float = 120.0
    max_connections: int = 100
    http2: bool = True


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One upstream request: where, what, and by when (an event-loop time)."""

    path: str
    body: JSON
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    deadline: float = 0.0
    caller_deadline: bool = False  # the deadline is the client's, not our total timeout


class StreamDecoder(Protocol):
    """Turns one provider's SSE events into chunks; raises ``ProviderError``s."""

    def feed(self, event: SSEEvent) -> list[ProviderChunk]: ...

    def finish(self) -> ProviderChunk:
        """The last chunk (usage, finish reason); ``StreamCutError`` if no end marker came."""
        ...


class HttpProvider:
    """Base of the HTTP adapters. Subclasses set ``name`` and the format hooks."""

    name = "http"

    def __init__(self, *, base_url: str, default_model: str, http: HttpSettings) -> None:
        self.default_model = default_model
        self._http = http
        self._client = httpx.AsyncClient(
            base_url=base_url,
            http2=http.http2,
            timeout=httpx.Timeout(
                connect=http.connect_timeout_s,
                read=http.read_timeout_s,
                write=http.read_timeout_s,
                pool=http.connect_timeout_s,
            ),
            limits=httpx.Limits(
                max_connections=http.max_connections,
                max_keepalive_connections=http.max_connections,
                keepalive_expiry=30.0,
            ),
            follow_redirects=False,
        )

    # ---- format hooks (subclasses)

    def _stream_call(self, request: ProviderRequest, model: str) -> HttpCall:
        raise NotImplementedError

    def _complete_call(self, request: ProviderRequest, model: str) -> HttpCall:
        raise NotImplementedError

    def _decoder(self, request: ProviderRequest, model: str) -> StreamDecoder:
        raise NotImplementedError

    def _parse_response(self, data: JSON, request: ProviderRequest, model: str) -> ProviderResponse:
        raise NotImplementedError

    # ---- the Provider port

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        model = request.model or self.default_model
        call = self._with_deadline(self._stream_call(request, model), request)
        decoder = self._decoder(request, model)
        async with self._open(call) as response:
            events = aiter_sse(response)
            try:
                while (event := await self._next_event(events, call)) is not None:
                    for chunk in decoder.feed(event):
                        yield chunk
            finally:
                await events.aclose()
        yield decoder.finish()

    async def complete(self, request: ProviderRequest) -> ProviderResponse:
        model = request.model or self.default_model
        call = self._with_deadline(self._complete_call(request, model), request)
        async with self._open(call) as response, self._mapped(call, mid_stream=True):
            raw = await response.aread()
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise perr.MalformedChunkError(self.name, "response is not JSON") from exc
        if not isinstance(data, dict):
            raise perr.MalformedChunkError(self.name, "response is not a JSON object")
        return self._parse_response(data, request, model)

    async def aclose(self) -> None:
        await self._client.aclose()

    # ---- plumbing

    def _with_deadline(self, call: HttpCall, request: ProviderRequest) -> HttpCall:
        loop_now = asyncio.get_running_loop().time()
        deadline = loop_now + self._http.total_timeout_s
        caller = False
        if request.deadline_monotonic is not None:
            caller_deadline = loop_now + (request.deadline_monotonic - time.monotonic())
            if caller_deadline <= deadline:
                deadline, caller = caller_deadline, True
        return HttpCall(call.path, call.body, call.headers, call.params, deadline, caller)

    @asynccontextmanager
    async def _open(self, call: HttpCall) -> AsyncIterator[httpx.Response]:
        request = self._client.build_request(
            "POST", call.path, json=call.body, headers=call.headers, params=call.params
        )
        async with self._mapped(call, mid_stream=False):
            response = await self._client.send(request, stream=True)
        try:
            if response.status_code >= 400:
                async with self._mapped(call, mid_stream=True):
                    body = await _read_limited(response)
                raise self._status_error(response, body)
            yield response
        finally:
            await response.aclose()

    async def _next_event(self, events: AsyncIterator[SSEEvent], call: HttpCall) -> SSEEvent | None:
        # Runs once per chunk: the same bound and mapping as _mapped, without
        # building a generator-based context manager each time (bench profile).
        try:
            async with asyncio.timeout_at(call.deadline):
                return await anext(events, None)
        except (TimeoutError, httpx.RequestError) as exc:
            raise self._translated(exc, call, mid_stream=True) from exc

    @asynccontextmanager
    async def _mapped(self, call: HttpCall, *, mid_stream: bool) -> AsyncIterator[None]:
        """Bound the awaited step by the call deadline; translate httpx failures."""
        try:
            async with asyncio.timeout_at(call.deadline):
                yield
        except (TimeoutError, httpx.RequestError) as exc:
            raise self._translated(exc, call, mid_stream=mid_stream) from exc

    def _translated(self, exc: Exception, call: HttpCall, *, mid_stream: bool) -> Exception:
        if isinstance(exc, TimeoutError):
            if call.caller_deadline:
                return DeadlineExceededError("deadline exceeded waiting for the model")
            return perr.ProviderTimeoutError(self.name, "total timeout")
        if isinstance(exc, httpx.TimeoutException):
            return perr.ProviderTimeoutError(self.name, type(exc).__name__)
        if isinstance(exc, httpx.ConnectError):
            return perr.ProviderConnectError(self.name, "connect failed")
        if mid_stream:  # transport failures, undecodable bodies
            return perr.StreamCutError(self.name, type(exc).__name__)
        return perr.ProviderConnectError(self.name, type(exc).__name__)

    def _status_error(self, response: httpx.Response, body: bytes) -> perr.ProviderError:
        status = response.status_code
        message = f"HTTP {status}: {_error_message(body)}"
        if status == 429:
            retry = parse_retry_after(response.headers)
            return perr.ProviderRateLimitedError(self.name, message, retry_after_s=retry)
        if status in (401, 403):
            return perr.ProviderAuthError(self.name, message, status=status)
        if status == 408:
            return perr.ProviderTimeoutError(self.name, message, status=status)
        if status >= 500:
            return perr.ProviderServerError(self.name, message, status=status)
        return perr.ProviderRequestError(self.name, message, status=status)


async def _read_limited(response: httpx.Response) -> bytes:
    body = bytearray()
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) >= _ERROR_BODY_LIMIT:
            break
    return bytes(body[:_ERROR_BODY_LIMIT])


def _error_message(body: bytes) -> str:
    """The provider's error message, whatever its JSON shape, shortened for logs."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))[:200]
    if isinstance(error, str):
        return error[:200]
    return ""


def load_json_event(provider: str, event: SSEEvent) -> JSON:
    """An event's ``data`` as a JSON object, or ``MalformedChunkError``."""
    try:
        data = json.loads(event.data)
    except ValueError as exc:
        raise perr.MalformedChunkError(provider, "stream event is not JSON") from exc
    if not isinstance(data, dict):
        raise perr.MalformedChunkError(provider, "stream event is not a JSON object")
    return data


def system_text(messages: tuple[ChatMessage, ...]) -> str:
    return "\n\n".join(m.content for m in messages if m.role == "system")


def chat_turns(messages: tuple[ChatMessage, ...]) -> list[ChatMessage]:
    return [m for m in messages if m.role != "system"]
