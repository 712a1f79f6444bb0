"""The one place that maps domain errors to gRPC status codes and details.

Every error carries one ``google.rpc.ErrorInfo`` (UPPER_SNAKE reason,
lowerCamel metadata incl. ``requestId``) plus the standard detail that fits
(``BadRequest``, ``RetryInfo``, ``QuotaFailure``). Anything unexpected is
INTERNAL with a generic message; the exception is logged, never echoed.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from novaos import errors

DOMAIN = errors.ERROR_DOMAIN
_log = logging.getLogger("novaos.transport")


@dataclass(frozen=True)
class Mapped:
    code: grpc.StatusCode
    status: status_pb2.Status
    trailers: tuple[tuple[str, str], ...] = ()


_CODES: tuple[tuple[type[errors.NovaError], grpc.StatusCode], ...] = (
    (errors.UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (errors.InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFoundError, grpc.StatusCode.NOT_FOUND),
    (errors.RateLimitedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.OverTokenLimitError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.CircuitOpenError, grpc.StatusCode.UNAVAILABLE),
    (errors.ProviderUnavailableError, grpc.StatusCode.UNAVAILABLE),
    # Not retryable: the request must change (it names no one field: no BadRequest).
    (errors.ProviderRejectedRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UpstreamTruncatedError, grpc.StatusCode.UNAVAILABLE),
    (errors.ShuttingDownError, grpc.StatusCode.UNAVAILABLE),
    (errors.NotReadyError, grpc.StatusCode.UNAVAILABLE),
    (errors.StorageUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (errors.StorageFullError, grpc.StatusCode.UNAVAILABLE),
    (errors.HistoryUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (errors.DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (errors.AuditWatchLaggedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.AuditWatchInterruptedError, grpc.StatusCode.UNAVAILABLE),
    (errors.AuditNotStoredError, grpc.StatusCode.UNAVAILABLE),
    (errors.AuditSinkUnavailableError, grpc.StatusCode.UNAVAILABLE),
)


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p.title() for p in rest)


def _retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(int(max(seconds, 0.0) * 1e9))
    return error_details_pb2.RetryInfo(retry_delay=delay)


def _extra_details(exc: errors.NovaError) -> list[object]:
    if isinstance(exc, errors.InvalidArgumentError):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=exc.field, description=_short(exc.description)
        )
        return [error_details_pb2.BadRequest(field_violations=[violation])]
    if isinstance(exc, errors.RateLimitedError):
        quota = error_details_pb2.QuotaFailure.Violation(
            subject=exc.violation.subject, description=exc.violation.description
        )
        return [_retry_info(exc.retry_after_s), error_details_pb2.QuotaFailure(violations=[quota])]
    if isinstance(exc, errors.OverTokenLimitError):  # no RetryInfo: waiting never helps
        failure = error_details_pb2.PreconditionFailure.Violation(
            type="TOKENS_PER_MINUTE", subject=exc.violation.subject, description=exc.message
        )
        return [error_details_pb2.PreconditionFailure(violations=[failure])]
    if isinstance(
        exc, (errors.CircuitOpenError, errors.ProviderUnavailableError, errors.ShuttingDownError)
    ):
        return [_retry_info(exc.retry_after_s)]
    return []


def _code_for(exc: errors.NovaError) -> grpc.StatusCode:
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


# Error texts may quote what the client sent (a provider name, a record id).
# The status travels in trailers, which gRPC caps at 8 KiB (soft) / 16 KiB:
# a longer one would replace the real status with a transport error.
_MAX_TEXT = 500


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _expected(exc: BaseException, request_id: str) -> errors.NovaError:
    if isinstance(exc, errors.NovaError):
        return exc
    internal = errors.NovaError(f"internal error (request id {request_id})")
    internal.reason = "INTERNAL"
    return internal


def _status(exc: errors.NovaError, request_id: str) -> status_pb2.Status:
    metadata = {_camel(k): _short(v) for k, v in exc.metadata.items()} | {"requestId": request_id}
    info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN, metadata=metadata)
    details = [_pack(info)] + [_pack(d) for d in _extra_details(exc)]
    code = _code_for(exc).value[0]
    return status_pb2.Status(code=code, message=_short(exc.message), details=details)


def status_of(exc: BaseException, request_id: str) -> status_pb2.Status:
    """The status ``exc`` ends the call with, for a stream to send in-band before
    ending with it (nothing is logged: the call's own end logs an unexpected one)."""
    return _status(_expected(exc, request_id), request_id)


def map_error(exc: BaseException, request_id: str) -> Mapped:
    if not isinstance(exc, errors.NovaError):
        _log.error("unexpected error", exc_info=exc, extra={"requestId": request_id})
    exc = _expected(exc, request_id)
    code = _code_for(exc)
    status = _status(exc, request_id)
    trailers: tuple[tuple[str, str], ...] = ()
    if isinstance(exc, errors.RateLimitedError):
        # Rounded up: a client that waits a rounded-down Retry-After is refused again.
        retry_after = str(max(1, math.ceil(exc.retry_after_s)))
        trailers = (*exc.headers.as_metadata(), ("retry-after", retry_after))
    elif isinstance(exc, errors.OverTokenLimitError):
        trailers = tuple(exc.headers.as_metadata())
    return Mapped(code, status, trailers)


async def abort(
    context: grpc.aio.ServicerContext[Any, Any],
    exc: BaseException,
    request_id: str,
    worker: int | None = None,
) -> None:
    """End the call with the mapped status (never returns). ``worker``: the process
    that answered, shown with the request id on a refusal as on an answer."""
    mapped = map_error(exc, request_id)
    status = rpc_status.to_status(mapped.status)
    trailers = (*mapped.trailers, *status.trailing_metadata, ("x-request-id", request_id))
    if worker is not None:
        trailers = (*trailers, ("x-novaos-worker", str(worker)))
    # What the handler set before it failed (a unary chat's rate-limit headers) stays.
    own = {key for key, _ in trailers}
    kept = tuple(kv for kv in context.trailing_metadata() or () if kv[0] not in own)
    await context.abort(status.code, status.details, trailing_metadata=(*trailers, *kept))
