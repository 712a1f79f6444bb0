"""Shared HTTP plumbing for provider adapters: one pooled client, deadlines, errors.

Each adapter supplies the wire format (request body, a ``StreamDecoder`` for
its SSE events, a parser for the JSON answer); this base owns everything that
is the same for all: timeouts, mapping transport failures and HTTP statuses to
``novaos.providers.errors``, and closing the upstream response the moment the
consumer stops (so the connection goes back to the pool or is dropped).

The client is aiohttp: one ``ClientSession`` (an HTTP/1.1 keep-alive pool) per
provider, made on first use inside the running event loop, which it is then
bound to. It costs about a fifth of httpx's CPU per request, and that CPU is
most of what a gateway adds to each call (docs/providers.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import certifi
from yarl import URL

from novaos.domain import Usage
from novaos.errors import DeadlineExceededError
from novaos.ports import ChatMessage, ProviderChunk, ProviderRequest, ProviderResponse
from novaos.providers import errors as perr
from novaos.providers.retry_after import (
    DEFAULT_RATE_LIMIT_WAIT_S,
    parse_rate_limit_reset,
    parse_retry_after,
    retry_delay_in_body,
)
from novaos.providers.sse import (
    KEEPALIVE,
    MAX_EVENT_CHARS,
    EventTooLargeError,
    SSEEvent,
    aiter_sse,
)
from novaos.providers.text import SurrogateJoiner, clean

log = logging.getLogger(__name__)

_ERROR_BODY_LIMIT = 16 * 1024
# The largest whole (non-streamed) answer read: max_tokens is at most 8192, a few
# hundred KB of JSON even with logprobs. Counted as it arrives (decompressed, with
# or without a Content-Length), so a misbehaving or hostile upstream cannot make
# the gateway buffer gigabytes; past it the call fails as ``too_large``.
BODY_LIMIT = 8 * 1024 * 1024
# The most answer text a stream may bring, however small its events: the same
# bound as one event's (a whole answer fits in one). Past it the stream fails as
# ``too_large``; only the total timeout ended it before, the text held meanwhile.
MAX_ANSWER_CHARS = MAX_EVENT_CHARS
# A whole answer's text is held to the same MAX_ANSWER_CHARS, and to this much
# UTF-8 besides: the unary reply that carries it must stay within a gRPC client's
# default 4 MiB receive limit (and the sidecar's transcoding buffer, as large), or
# the client could not read an answer the gateway recorded as completed. 1 Mi
# characters of 4-byte ones would not fit; 3-byte ones (CJK) would.
MAX_ANSWER_BYTES = 3 * 1024 * 1024
JSON = dict[str, Any]


# Failures of a request on a connection the upstream closed before answering.
_STALE_CONNECTION = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)

# A chunk with nothing in it: the upstream is working (a reasoning delta, a ping)
# without answer text. The stream attempt restarts its idle timer on it and
# passes nothing on (``StreamAttempt.next``).
HEARTBEAT = ProviderChunk()
# The provider answered 200: the stream attempt knows a stall from here is charged
# as a cut at the same point would be (``StreamAttempt.next``).
ACCEPTED = ProviderChunk(accepted=True)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Pool and timeout settings every adapter shares (from PROVIDER_* variables)."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0
    total_timeout_s: float = 120.0
    max_connections: int = 100
    keepalive_s: float = 30.0


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

    @property
    def complete(self) -> bool:
        """The end marker (or finish reason) arrived: the answer is whole, and a
        transport failure or silence after it takes nothing from it."""
        ...

    def finish(self) -> ProviderChunk:
        """The last chunk (usage, finish reason); ``StreamCutError`` if no end marker came."""
        ...

    def reported(self) -> Usage | None:
        """The usage the provider has reported so far (0 for a count it has not
        given yet), or None: what a stream that breaks here is charged from."""
        ...


class HttpProvider:
    """Base of the HTTP adapters. Subclasses set ``name`` and the format hooks."""

    name = "http"
    # The finish reasons (lower-cased) that end a whole answer, as far as it goes: a
    # normal end, one at max_tokens (or another limit), or the provider's filter
    # (``novaos.pipeline.generation`` tells these apart). Any other one ends the
    # call as cut (``UnfinishedAnswerError``), never as done...
    whole_finishes: frozenset[str] = frozenset()
    # ... unless the adapter speaks for an open set of servers (openai_compat: any
    # server with the OpenAI format, each with its own words for a normal end). Then
    # only these reasons, which say the answer is not whole, end it as cut; one it
    # does not know ends a whole answer, with a warning (once per reason) so the
    # operator can see it. Only if it is word-shaped (``_FINISH_WORD``): anything
    # else (4 MiB of text, a JSON object) is no server's word for an end, so it cuts,
    # and what is remembered stays small (64 reasons of 64 characters at most).
    cut_finishes: frozenset[str] | None = None

    def __init__(self, *, base_url: str, default_model: str, http: HttpSettings) -> None:
        self.default_model = default_model
        self._unknown_finishes: set[str] = set()  # warned about already
        self._http = http
        self._base_url = base_url.rstrip("/")  # + the call's path, which starts with "/"
        # Every request's path stays under this one (``_url``).
        self._base_path = URL(self._base_url).raw_path.rstrip("/") + "/"
        # Read once, as httpx did: HTTP(S)_PROXY / ALL_PROXY / NO_PROXY and the CA bundle.
        self._proxy = _env_proxy(self._base_url)
        self._ssl = _ssl_context() if self._base_url.startswith("https:") else None
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None  # connections in use, made with the session
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

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
        joiner = SurrogateJoiner()
        answered = 0  # characters of answer text passed on
        reported: Usage | None = None  # the provider's usage so far, as last passed on
        accepted = False  # it answered 200: a failure from here on is charged
        try:
            async with self._open(call) as response:
                accepted = True
                yield ACCEPTED
                expiry = _Expiry(response, call.deadline)
                events = aiter_sse(response.content.iter_any())
                try:
                    while not decoder.complete:
                        if (event := await self._next_event(events, call, expiry)) is None:
                            break
                        # Comment lines alone: nothing to decode, a heartbeat below.
                        chunks = [] if event is KEEPALIVE else decoder.feed(event)
                        so_far = decoder.reported()
                        if so_far is not reported and so_far != reported:
                            # Passed on as it changes: a stream given up on from here
                            # (cancel, deadline) is charged from it, not a guess.
                            reported = so_far
                            chunks = _reporting(chunks, so_far)
                        elif not chunks and not decoder.complete:
                            # An event with no answer text (a ping, a usage-only chunk,
                            # reasoning or thinking deltas) or SSE comments: the upstream
                            # is alive, so the idle timer starts over. One place for
                            # every adapter.
                            chunks = [HEARTBEAT]
                        for chunk in chunks:
                            if (passed := joiner.chunk(chunk)) is not None:
                                answered += len(passed.text)
                                if answered > MAX_ANSWER_CHARS:
                                    limit = (
                                        f"stream answer longer than {MAX_ANSWER_CHARS} characters"
                                    )
                                    raise perr.ResponseTooLargeError(self.name, limit)
                                yield passed
                    if decoder.complete:
                        for chunk in await _after_end(events, decoder):
                            if (passed := joiner.chunk(chunk)) is not None:
                                yield passed
                finally:
                    expiry.cancel()
                    await events.aclose()
            last = decoder.finish()
            self._judge_finish(last.finish_reason, last.usage)
            yield joiner.last(last)
        except perr.ProviderError as exc:
            # What the provider said it used before the break (Anthropic's prompt
            # count at message_start, OpenAI's usage chunk before a lost [DONE],
            # Gemini's running counts): the router charges from it, not a guess.
            exc.usage = exc.usage or decoder.reported()
            exc.accepted = exc.accepted or accepted
            raise

    async def complete(self, request: ProviderRequest) -> ProviderResponse:
        model = request.model or self.default_model
        call = self._with_deadline(self._complete_call(request, model), request)
        accepted = False  # it answered 200: a body that fails from here on is charged
        try:
            async with self._open(call) as response, self._mapped(call, mid_stream=True):
                accepted = True
                raw = await self._read_body(response)
            return self._answer(raw, request, model)
        except perr.ProviderError as exc:
            exc.accepted = exc.accepted or accepted
            raise

    def _answer(self, raw: bytes, request: ProviderRequest, model: str) -> ProviderResponse:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise perr.MalformedChunkError(self.name, "response is not JSON") from exc
        if not isinstance(data, dict):
            raise perr.MalformedChunkError(self.name, "response is not a JSON object")
        answer = self._parse_response(data, request, model)
        self._judge_finish(answer.finish_reason, answer.usage)
        text = clean(answer.text)
        if len(text) > MAX_ANSWER_CHARS or (
            len(text) > MAX_ANSWER_BYTES // 4
            and len(text.encode("utf-8", "surrogatepass")) > MAX_ANSWER_BYTES
        ):
            # As a stream past MAX_ANSWER_CHARS: too large, so the router moves on.
            limit = (
                f"answer longer than {MAX_ANSWER_CHARS} characters"
                f" or {MAX_ANSWER_BYTES // 2**20} MiB"
            )
            raise perr.ResponseTooLargeError(self.name, limit)
        return answer if text is answer.text else replace(answer, text=text)

    def _judge_finish(self, reason: str, usage: Usage | None) -> None:
        """``UnfinishedAnswerError`` (charged ``usage``) unless ``reason`` ends a
        whole answer."""
        known = reason.lower()
        if known in self.whole_finishes:
            return
        if (
            self.cut_finishes is not None
            and known not in self.cut_finishes
            and _FINISH_WORD.fullmatch(known)
        ):
            if known not in self._unknown_finishes and len(self._unknown_finishes) < 64:
                self._unknown_finishes.add(known)
                log.warning(
                    "%s: finish reason %r is unknown; its answer is taken as whole",
                    self.name,
                    reason[:40],
                    extra={"provider": self.name},
                )
            return
        error = perr.UnfinishedAnswerError(
            self.name, f"the answer ended with finish reason {reason[:40]!r}, not whole"
        )
        error.usage = usage
        raise error

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

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

    def _client(self) -> aiohttp.ClientSession:
        """This provider's pool, made on first use in (and bound to) the running loop."""
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is loop:
            return self._session
        if self._closed:
            raise RuntimeError(f"provider {self.name} is closed")
        if self._session is not None:
            raise RuntimeError(
                f"provider {self.name} is bound to another event loop; build one per loop"
            )
        http = self._http
        # The pool's size is kept by self._slots, not by aiohttp: a wait for a free
        # connection must not look like a connect timeout, which is the provider's.
        self._slots = asyncio.Semaphore(http.max_connections)
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=0,
            keepalive_timeout=http.keepalive_s,
            ssl=self._ssl if self._ssl is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,  # the call deadline bounds the whole call (asyncio.timeout_at)
                connect=http.connect_timeout_s,  # connecting (the pool never makes it wait)
                sock_connect=http.connect_timeout_s,
                sock_read=http.read_timeout_s,  # between two reads, headers and body alike
            ),
            headers={"content-type": "application/json"},
            proxy=self._proxy,
            trust_env=False,  # the environment was read once, in __init__
            auto_decompress=True,
        )
        self._loop = loop
        return self._session

    def _url(self, call: HttpCall) -> URL:
        """Where ``call`` goes: under the base URL's path, whatever its path holds.
        yarl resolves "." and ".." segments (percent-encoded ones too), so a model
        id in the path (Gemini's) that held them would reach another path on the
        provider's host, with the gateway's API key; refused before any request."""
        url = URL(self._base_url + call.path)
        if not url.raw_path.startswith(self._base_path):
            raise perr.ProviderRequestError(
                self.name, f"request path {url.raw_path[:80]!r} leaves the base URL's path"
            )
        return url.with_query(call.params) if call.params else url

    @asynccontextmanager
    async def _open(self, call: HttpCall) -> AsyncIterator[aiohttp.ClientResponse]:
        url = self._url(call)
        # The bytes httpx sent for json=: compact, UTF-8, no NaN.
        data = json.dumps(call.body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        client = self._client()
        await self._take_slot(call)
        try:
            async with self._mapped(call, mid_stream=False):
                try:
                    response = await client.post(
                        url, data=data.encode(), headers=call.headers, allow_redirects=False
                    )
                except _STALE_CONNECTION as exc:
                    if isinstance(exc, aiohttp.ClientConnectorError):
                        raise  # could not connect at all: no second try
                    # A pooled connection the upstream had closed while idle (its
                    # keep-alive ran out as we sent): no answer came, so once more,
                    # on a fresh connection.
                    response = await client.post(
                        url, data=data.encode(), headers=call.headers, allow_redirects=False
                    )
        except BaseException:
            self._free_slot()
            raise
        try:
            if response.status >= 300:  # redirects are never followed: an error too
                async with self._mapped(call, mid_stream=True):
                    body = await _read_limited(response.content)
                raise self._status_error(response, body)
            yield response
        finally:
            if response.content.at_eof():
                response.release()  # fully read: the connection goes back to the pool
            else:
                response.close()  # stopped early: drop the connection, the upstream sees it
            self._free_slot()

    async def _read_body(self, response: aiohttp.ClientResponse) -> bytes:
        """The whole body, up to ``BODY_LIMIT``; past it the connection is dropped
        (``_open`` closes a response not read to its end), never drained."""
        # A Content-Length over the limit is refused before a byte is read.
        if (response.content_length or 0) <= BODY_LIMIT:
            raw = await _read_upto(response.content, BODY_LIMIT)
            if len(raw) <= BODY_LIMIT:
                return raw
        limit = f"response body larger than {BODY_LIMIT // 2**20} MiB"
        raise perr.ResponseTooLargeError(self.name, limit)

    async def _take_slot(self, call: HttpCall) -> None:
        """A connection of this provider's pool, waiting at most the connect timeout
        (and never past the call's deadline) when all of them are busy."""
        slots = self._slots
        assert slots is not None  # made with the session
        if not slots.locked():
            await slots.acquire()  # free: returns at once
            return
        wait_until = min(
            asyncio.get_running_loop().time() + self._http.connect_timeout_s, call.deadline
        )
        try:
            async with asyncio.timeout_at(wait_until):
                await slots.acquire()
        except TimeoutError:
            if wait_until >= call.deadline:
                raise self._translated(TimeoutError(), call, mid_stream=False) from None
            busy = f"all {self._http.max_connections} connections busy"
            raise perr.ProviderBusyError(self.name, busy) from None

    def _free_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    async def _next_event(
        self, events: AsyncIterator[SSEEvent], call: HttpCall, expiry: _Expiry
    ) -> SSEEvent | None:
        # Runs once per chunk: the mapping of _mapped, without a context manager
        # or a deadline timer per read (the body's one timer is ``expiry``).
        try:
            return await anext(events, None)
        except EventTooLargeError as exc:
            raise perr.ResponseTooLargeError(self.name, str(exc)) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            if expiry.fired:  # the read failed because the deadline closed the body
                raise self._translated(TimeoutError(), call, mid_stream=True) from exc
            raise self._translated(exc, call, mid_stream=True) from exc

    @asynccontextmanager
    async def _mapped(self, call: HttpCall, *, mid_stream: bool) -> AsyncIterator[None]:
        """Bound the awaited step by the call deadline; translate aiohttp failures."""
        try:
            async with asyncio.timeout_at(call.deadline):
                yield
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._translated(exc, call, mid_stream=mid_stream) from exc

    def _translated(self, exc: Exception, call: HttpCall, *, mid_stream: bool) -> Exception:
        # aiohttp's own connect/read timeouts are TimeoutErrors too: test them first.
        if isinstance(exc, aiohttp.ServerTimeoutError):
            return perr.ProviderTimeoutError(self.name, type(exc).__name__)
        if isinstance(exc, TimeoutError):
            if call.caller_deadline:
                return DeadlineExceededError("deadline exceeded waiting for the model")
            return perr.ProviderTimeoutError(self.name, "total timeout")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return perr.ProviderConnectError(self.name, "connect failed")
        if mid_stream:  # transport failures, undecodable bodies
            return perr.StreamCutError(self.name, type(exc).__name__)
        return perr.ProviderConnectError(self.name, type(exc).__name__)

    def _status_error(self, response: aiohttp.ClientResponse, body: bytes) -> perr.ProviderError:
        error = self._status_error_of_kind(response, body)
        error.error_type, error.error_code = _error_ids(body)
        return error

    def _status_error_of_kind(
        self, response: aiohttp.ClientResponse, body: bytes
    ) -> perr.ProviderError:
        status = response.status
        message = f"HTTP {status}: {_error_message(body)}"
        if status == 429:
            retry = parse_retry_after(response.headers)
            if retry is None:
                retry = retry_delay_in_body(body)
            if retry is None:
                retry = parse_rate_limit_reset(response.headers)
            if retry is None:  # says nothing: still do not hit it again at once
                retry = DEFAULT_RATE_LIMIT_WAIT_S
            return perr.ProviderRateLimitedError(self.name, message, retry_after_s=retry)
        if status in (401, 403) or (status == 400 and _bad_key(body)):
            # Gemini answers a bad API key with 400 INVALID_ARGUMENT, API_KEY_INVALID.
            return perr.ProviderAuthError(self.name, message, status=status)
        if 300 <= status < 400:  # never followed: a base URL that needs fixing
            where = response.headers.get("location", "")
            return perr.ProviderRequestError(
                self.name,
                f"HTTP {status}: redirected to {where!r}; fix the base URL",
                status=status,
            )
        if status == 408:
            return perr.ProviderTimeoutError(self.name, message, status=status)
        if status >= 500:
            return perr.ProviderServerError(self.name, message, status=status)
        return perr.ProviderRequestError(self.name, message, status=status)


def _bad_key(body: bytes) -> bool:
    return b"API_KEY_INVALID" in body or b"API key not valid" in body


# How long to wait, after the end marker, for the rest of the body (normally just
# the end of its chunked encoding, or Gemini's usage right after its finish
# reason) before dropping the connection instead. An upstream that holds its body
# open delays every answer's end by this much (1 s before; a review measured it).
_AFTER_END_S = 0.25


def _reporting(chunks: list[ProviderChunk], usage: Usage | None) -> list[ProviderChunk]:
    """``chunks`` with the last one carrying the usage reported so far (a chunk of
    its own when there is none)."""
    if not chunks:
        return [ProviderChunk(reported=usage)]
    return [*chunks[:-1], replace(chunks[-1], reported=usage)]


async def _after_end(
    events: AsyncIterator[SSEEvent], decoder: StreamDecoder
) -> list[ProviderChunk]:
    """Read what follows the end marker, briefly, so a body that ends cleanly
    leaves its connection to the pool. Late events still reach the decoder (a
    usage chunk after Gemini's finish reason); a cut, a reset or silence here
    no longer matters: the answer is already whole."""
    chunks: list[ProviderChunk] = []
    try:
        async with asyncio.timeout(_AFTER_END_S):
            async for event in events:
                if event is not KEEPALIVE:
                    chunks += decoder.feed(event)
    except (TimeoutError, aiohttp.ClientError, perr.ProviderError, EventTooLargeError):
        pass  # nothing after the end marker can undo the answer
    return chunks


class _Expiry:
    """The call deadline over a streamed body: one timer for the whole body
    instead of one per read. At the deadline it closes the response, so the
    read under way (or the next one) fails; ``fired`` tells that failure from
    the upstream's own."""

    __slots__ = ("_handle", "fired")

    def __init__(self, response: aiohttp.ClientResponse, deadline: float) -> None:
        self.fired = False
        self._handle = asyncio.get_running_loop().call_at(deadline, self._fire, response)

    def _fire(self, response: aiohttp.ClientResponse) -> None:
        self.fired = True
        response.close()

    def cancel(self) -> None:
        self._handle.cancel()


async def _read_limited(content: aiohttp.StreamReader) -> bytes:
    return (await _read_upto(content, _ERROR_BODY_LIMIT))[:_ERROR_BODY_LIMIT]


async def _read_upto(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The body, but never more than ``limit + 1`` bytes of it: one byte over the
    limit says it was longer."""
    body = bytearray()
    while len(body) <= limit and (piece := await content.read(limit + 1 - len(body))):
        body += piece
    return bytes(body)


def _env_proxy(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url``, honouring NO_PROXY."""
    proxies = urllib.request.getproxies()
    parts = urlsplit(base_url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def _ssl_context() -> ssl.SSLContext:
    """The CA bundle httpx used: SSL_CERT_FILE or SSL_CERT_DIR if set, else certifi's."""
    if cafile := os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=cafile)
    if capath := os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


def _error_message(body: bytes) -> str:
    """The provider's error message, whatever its JSON shape. Whole: the router
    shortens it once the gateway's secrets are out (``ProviderError.scrub``)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))
    if isinstance(error, str):
        return error
    return ""


# A finish reason as servers spell them (lower-cased): stop, eos_token, end_turn,
# repetition. Only such a reason may be an unknown normal end (``cut_finishes``).
_FINISH_WORD = re.compile(r"[a-z0-9_.:-]{1,64}")

# An error type or code as providers spell them (invalid_api_key, 429,
# RESOURCE_EXHAUSTED, overloaded_error): anything else is not logged as one.
_ERROR_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _error_ids(body: bytes) -> tuple[str, str]:
    """(type, code) from the provider's JSON error body, each "" when absent or odd."""
    try:
        data = json.loads(body)
    except ValueError:
        return "", ""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "", ""

    def ident(value: object) -> str:
        number = isinstance(value, int) and not isinstance(value, bool)
        text = str(value) if isinstance(value, str) or number else ""
        return text if _ERROR_ID.fullmatch(text) else ""

    return ident(error.get("type") or error.get("status")), ident(error.get("code"))


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
