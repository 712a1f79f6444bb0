"""One server interceptor: request id, authentication, role checks, error
mapping and RPC metrics — wrapping each handler by its streaming type."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc

from novaos import errors
from novaos.observability.logging import bind_request_id, unbind_request_id
from novaos.observability.metrics import Metrics
from novaos.transport import context as callctx
from novaos.transport import decoding
from novaos.transport.auth import JwtAuthenticator
from novaos.transport.context import Ctx
from novaos.transport.errors import abort
from novaos.transport.path_bindings import refuse_contradicted_path

_log = logging.getLogger("novaos.transport")

PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
PUBLIC_METHODS = frozenset(
    f"/novaos.v1.HealthService/{m}" for m in ("Live", "Ready", "GetHealth", "ListCircuits")
)
ADMIN_PREFIXES = ("/novaos.v1.AuditService/", "/novaos.v1.HealthService/ResetCircuit")


@dataclass(frozen=True)
class _Method:
    full: str
    service: str
    name: str
    kind: str  # unary | server_stream | client_stream | bidi_stream

    @classmethod
    def parse(cls, full: str, kind: str) -> _Method:
        _, service, name = full.split("/", 2)
        return cls(full, service, name, kind)

    @property
    def labels(self) -> tuple[str, str, str]:
        return (self.service, self.name, self.kind)


class _Observed:
    """Start/finish bookkeeping for one RPC's metrics."""

    def __init__(self, metrics: Metrics, method: _Method) -> None:
        self._m, self._method = metrics, method
        self._t0 = time.perf_counter()
        metrics.rpc_started(method.labels)

    def sent(self) -> None:
        self._m.rpc_sent(self._method.labels)

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._t0

    def done(self, code: grpc.StatusCode) -> None:
        self._m.rpc_handled(self._method.labels, self._method.full, code.name, self.elapsed_s)


def _log_failed_call(
    method: _Method,
    request_id: str,
    info: callctx.CallInfo | None,
    code: grpc.StatusCode,
    reason: str,
    elapsed_s: float,
) -> None:
    """One info line for a call that ended with an error status, so its
    x-request-id is in the logs even when it was refused before the pipeline ran
    (auth, bad input, a limit), which writes no request line or audit record."""
    principal = info.principal if info is not None else None
    extra: dict[str, object] = {
        "component": "transport",
        "requestId": request_id,
        "duration": round(elapsed_s * 1000),
        "method": method.full,
        "code": code.name,
    }
    if reason:
        extra["reason"] = reason
    if principal is not None:
        extra["userId"] = principal.user_id
    _log.info("Call failed", extra=extra)


def _final_code(context: Ctx, exc: BaseException | None) -> grpc.StatusCode:
    if exc is not None and not isinstance(exc, grpc.aio.AbortError):
        # The call was cancelled under us: by the caller, or by its deadline,
        # which its client reports as DEADLINE_EXCEEDED and the runbook reads so.
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED
        return grpc.StatusCode.CANCELLED
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.OK if exc is None else grpc.StatusCode.UNKNOWN


def _metadata(context: Ctx) -> dict[str, str]:
    return {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}


def _one_authorization(context: Ctx, metadata: dict[str, str]) -> str | None:
    """The call's credentials; two of them are ambiguous (which user is it?), so
    the call is refused rather than the last one winning.

    A proxy merges repeated headers into one value joined by commas (Envoy does:
    "Bearer a,Bearer b"), and a bearer token (RFC 6750 token68, a JWT) never
    holds one, so a comma means two headers as surely as two entries do."""
    sent = [v for k, v in context.invocation_metadata() or () if k == "authorization"]
    if len(sent) > 1 or any("," in value for value in sent):
        raise errors.UnauthenticatedError(
            "more than one authorization header", reason="TOKEN_MALFORMED"
        )
    return metadata.get("authorization")


def _is_public(method: str) -> bool:
    return method.startswith(PUBLIC_PREFIXES) or method in PUBLIC_METHODS


def _require_role(info: callctx.CallInfo) -> None:
    principal = info.principal
    if principal is not None and info.method.startswith(ADMIN_PREFIXES) and not principal.is_admin:
        raise errors.PermissionDeniedError("the admin role is required for this method")


def _refuse_bad_request(parsed: _Method, context: Ctx, request: Any) -> None:
    """A request the handler must not see: bytes that are no valid message, or a
    transcoded call whose fields contradict its path (INVALID_ARGUMENT)."""
    decoding.refuse_undecodable(request)
    refuse_contradicted_path(parsed.full, context.invocation_metadata() or (), request)


async def _end_with_error(
    context: Ctx, exc: BaseException, request_id: str, worker: int
) -> BaseException:
    """Map an escaped domain error to its status; returns what ends the call."""
    if isinstance(exc, grpc.aio.AbortError) or not isinstance(exc, Exception):
        return exc  # already aborted, or cancellation
    try:
        await abort(context, exc, request_id or "unknown", worker)
    except grpc.aio.AbortError as aborted:
        failure: BaseException = aborted
        return failure
    return exc


async def _refuse(context: Ctx, request: decoding.Undecodable, worker: int) -> None:
    request_id = callctx.request_id_from(context.invocation_metadata() or ())
    await abort(context, request.error, request_id, worker)


async def _checked(requests: AsyncIterator[Any], context: Ctx, worker: int) -> AsyncIterator[Any]:
    async for request in requests:
        if type(request) is decoding.Undecodable:
            await _refuse(context, request, worker)
        yield request


def _guarded(behavior: Any, *, request_stream: bool, worker: int) -> Any:
    """``behavior`` (a handler outside the RPC frame) refusing undecodable
    requests; None when there is none or it is not async (none here is)."""

    async def checked(request: Any, context: Ctx) -> Any:
        if request_stream:
            return _checked(request, context, worker)
        if type(request) is decoding.Undecodable:
            await _refuse(context, request, worker)
        return request

    async def generator(request: Any, context: Ctx) -> AsyncIterator[Any]:
        async with aclosing(behavior(await checked(request, context), context)) as messages:
            async for message in messages:
                yield message

    async def coroutine(request: Any, context: Ctx) -> Any:
        return await behavior(await checked(request, context), context)

    if inspect.isasyncgenfunction(behavior):
        return generator
    return coroutine if inspect.iscoroutinefunction(behavior) else None


_PLAIN_HANDLERS = {  # handler attribute: (grpc_type label, how to make one)
    "unary_stream": ("server_stream", grpc.unary_stream_rpc_method_handler),
    "stream_unary": ("client_stream", grpc.stream_unary_rpc_method_handler),
    "stream_stream": ("bidi_stream", grpc.stream_stream_rpc_method_handler),
}


class NovaInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        auth: JwtAuthenticator,
        metrics: Metrics,
        *,
        trust_proxy: bool = False,
        worker: int = 0,
    ) -> None:
        self._auth = auth
        self._worker = worker  # NOVAOS_WORKER_INDEX: x-novaos-worker on refusals too
        self._metrics = metrics
        self._trust_proxy = trust_proxy
        # method -> (the registered handler, our wrapper of it): wrapping builds a
        # handler and closures, the same for every call of a method.
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(details)
        if handler is None:
            return handler
        method: str = details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: Any) -> Any:
        # Every handler gets the tolerant deserializer: bytes that do not parse
        # end as INVALID_ARGUMENT, not as grpc's UNKNOWN with a logged traceback.
        deserialize = decoding.tolerant(method, handler.request_deserializer)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                deserialize,
                handler.response_serializer,
            )
        if handler.unary_stream and not _is_public(method):
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(_Method.parse(method, "server_stream"), handler.unary_stream),
                deserialize,
                handler.response_serializer,
            )
        # Public streams (health Watch, reflection) write via context or take a
        # request stream: undecodable requests are refused, and the call is counted
        # in the RPC metrics like any other (a client holding thousands of health
        # Watches was invisible there).
        for kind, (grpc_type, make) in _PLAIN_HANDLERS.items():
            guarded = _guarded(
                getattr(handler, kind),
                request_stream=kind.startswith("stream"),
                worker=self._worker,
            )
            if guarded is not None:
                observed = self._wrap_plain(_Method.parse(method, grpc_type), guarded)
                return make(observed, deserialize, handler.response_serializer)
        return handler

    def _wrap_plain(self, parsed: _Method, behavior: Any) -> Any:
        """A public stream handler (async generator, or a coroutine that writes via
        its context) inside the RPC frame: metrics and request id; no token asked."""

        async def generator(request: Any, context: Ctx) -> AsyncIterator[Any]:
            async with (
                self._call(parsed, context) as observed,
                aclosing(behavior(request, context)) as messages,
            ):
                async for message in messages:
                    observed.sent()
                    yield message

        async def coroutine(request: Any, context: Ctx) -> Any:
            async with self._call(parsed, context):
                return await behavior(request, context)

        return generator if inspect.isasyncgenfunction(behavior) else coroutine

    def _begin(
        self, method: str, context: Ctx, metadata: dict[str, str], request_id: str
    ) -> callctx.CallInfo:
        """The call's caller; authentication refuses it here, the role check
        after, so a refused admin call's ``Call failed`` line names who tried."""
        client_ip = self._client_ip(metadata, context.peer())
        info = callctx.CallInfo(request_id, None, client_ip, method)
        if _is_public(method):
            return info
        principal = self._auth.principal(_one_authorization(context, metadata), client_ip)
        return callctx.CallInfo(request_id, principal, client_ip, method)

    def _client_ip(self, metadata: dict[str, str], peer: str) -> str:
        forwarded = metadata.get("x-forwarded-for", "")
        return callctx.client_address(peer, forwarded, behind_balancer=self._trust_proxy)

    @asynccontextmanager
    async def _call(self, parsed: _Method, context: Ctx) -> AsyncIterator[_Observed]:
        """One RPC's frame: metrics, request id, auth, and the error mapping."""
        observed = _Observed(self._metrics, parsed)
        metadata = _metadata(context)
        request_id = callctx.request_id_from(context.invocation_metadata() or ())
        logged = bind_request_id(request_id)  # every line logged for this call names it
        failure: BaseException | None = None
        reason = ""  # the domain error's reason code, when one ended the call
        info: callctx.CallInfo | None = None
        try:
            info = self._begin(parsed.full, context, metadata, request_id)
            _require_role(info)
            token = callctx.set_current(info)
            try:
                yield observed
            finally:
                callctx.reset_current(token)
        except BaseException as exc:
            reason = exc.reason if isinstance(exc, errors.NovaError) else ""
            failure = await _end_with_error(context, exc, request_id, self._worker)
            if failure is exc:
                raise
            raise failure from None
        finally:
            code = _final_code(context, failure)
            observed.done(code)
            if code is not grpc.StatusCode.OK and not _is_public(parsed.full):
                _log_failed_call(parsed, request_id, info, code, reason, observed.elapsed_s)
            unbind_request_id(logged)

    def _wrap_unary(
        self, method: str, behavior: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        parsed = _Method.parse(method, "unary")

        async def unary(request: Any, context: Ctx) -> Any:
            async with self._call(parsed, context):
                _refuse_bad_request(parsed, context, request)
                return await behavior(request, context)

        return unary

    def _wrap_stream(
        self, parsed: _Method, behavior: Callable[..., AsyncGenerator[Any, None]]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def stream(request: Any, context: Ctx) -> AsyncIterator[Any]:
            # aclosing: when gRPC drops this generator (the client went away
            # mid-write), the handler's own generator closes with it, now.
            async with (
                self._call(parsed, context) as observed,
                aclosing(behavior(request, context)) as messages,
            ):
                # refused, the handler's generator never started: it is closed unrun
                _refuse_bad_request(parsed, context, request)
                async for message in messages:
                    observed.sent()
                    yield message

        return stream
