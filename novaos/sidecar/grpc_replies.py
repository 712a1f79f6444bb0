"""What a gRPC or grpc-web caller gets when the sidecar itself refuses a request
body as too large, or ends a call at its time limit.

Envoy turns its own 413 into grpc-status 2 (UNKNOWN) "Payload Too Large" for gRPC
and grpc-web callers (it has no better mapping for 413), while a JSON caller got
``{"code":3,...}`` and the same message sent to the gateway directly is
INVALID_ARGUMENT naming the field. The local-reply mapper here sets the status,
a message naming the limit and the ``google.rpc.Status`` details (ErrorInfo and
BadRequest naming ``request``, as for request bytes the gateway cannot decode),
so every caller is told the same thing and that a retry cannot succeed.

A time limit (the route's, or the caller's shorter ``grpc-timeout``) Envoy
reaches before the gateway answers is its 504 (408 while the request body is
still arriving). Envoy decides "gRPC local reply" from the request's original
content-type, so a native gRPC caller got grpc-status 4, but a grpc-web caller
a plain 504 that the grpc_web filter turned into HTTP 504 with grpc-status 14
(UNAVAILABLE, which gRPC clients retry: a chat sent twice) "downstream duration
timeout", and a 408 into grpc-status 2. With a short ``grpc-timeout`` this raced
the gateway's own DEADLINE_EXCEEDED, about one call in three. Both now get a
trailers-only DEADLINE_EXCEEDED with ``ErrorInfo`` DEADLINE_EXCEEDED: for a 504
the words a JSON caller's 504 body carries; for a 408 words of their own (a JSON
caller's 408 keeps Envoy's "request timeout", with no details). The stream idle
timer's 504, a hung gateway, is left as Envoy makes it (UNAVAILABLE).
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from novaos.errors import ERROR_DOMAIN

Json = dict[str, Any]


def too_large_message(limit_bytes: int) -> str:
    return f"request: larger than {limit_bytes} bytes, the sidecar's request size limit"


def _status_bin(code: int, message: str, *details: Any) -> str:
    packed_details = []
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        packed_details.append(packed)
    status = status_pb2.Status(code=code, message=message, details=packed_details)
    return base64.b64encode(status.SerializeToString()).decode()


def _trailers_only_mapper(http_status: int, code: int, message: str, *details: Any) -> Json:
    """A local-reply mapper for an ``http_status`` reply to a gRPC or grpc-web caller
    (put it after the JSON callers' mappers: the first match wins).

    A trailers-only reply: HTTP 200, no body, the status in headers. Envoy keeps a
    grpc-status the mapper set for a gRPC caller; the grpc-web filter passes a
    reply that carries one through as gRPC instead of deriving a status from the
    HTTP code (413 -> UNKNOWN, 504 -> UNAVAILABLE) and the body."""
    headers = {
        "grpc-status": str(code),
        # Printable ASCII without "%": needs no percent-encoding.
        "grpc-message": message,
        "grpc-status-details-bin": _status_bin(code, message, *details),
    }
    return {
        "filter": {
            "status_code_filter": {
                "comparison": {
                    "op": "EQ",
                    "value": {
                        "default_value": http_status,
                        "runtime_key": f"lr.grpc.{http_status}",
                    },
                }
            }
        },
        "status_code": 200,
        "headers_to_add": [
            {"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for k, v in headers.items()
        ],
        "body": {"inline_string": ""},
    }


def grpc_too_large_mapper(limit_bytes: int) -> Json:
    """A 413 (the body limit) to a gRPC or grpc-web caller: INVALID_ARGUMENT naming it."""
    info = error_details_pb2.ErrorInfo(
        reason="INVALID_ARGUMENT",
        domain=ERROR_DOMAIN,
        metadata={"field": "request", "limitBytes": str(limit_bytes)},
    )
    violation = error_details_pb2.BadRequest.FieldViolation(
        field="request", description=f"larger than {limit_bytes} bytes"
    )
    bad = error_details_pb2.BadRequest(field_violations=[violation])
    message = too_large_message(limit_bytes)
    return _trailers_only_mapper(413, code_pb2.INVALID_ARGUMENT, message, info, bad)


def _idle_upstream() -> Json:
    """Envoy's stream idle timer with the request whole: a 504 with the ``SI``
    flag (set before the reply is made, unlike a time limit's ``DT``). Envoy's
    reply is kept: UNAVAILABLE "stream timeout". A gateway silent for
    ``STREAM_IDLE_TIMEOUT_MS`` + 5 s despite its keepalives is hung; that is no
    deadline (an audit watch has no time limit), and a caller may retry it.

    No rewrite, so it only has to come before the time-limit mappers: the first
    match wins. (A 408 with ``SI``, a caller that stopped sending its body, is
    the caller's own stall and stays with the 408 mapper.)"""
    return {
        "filter": {
            "and_filter": {
                "filters": [
                    {
                        "status_code_filter": {
                            "comparison": {
                                "op": "EQ",
                                "value": {"default_value": 504, "runtime_key": "lr.grpc.idle"},
                            }
                        }
                    },
                    {"response_flag_filter": {"flags": ["SI"]}},
                ]
            }
        }
    }


def grpc_time_limit_mappers(answer_message: str, request_message: str) -> list[Json]:
    """A time limit to a gRPC or grpc-web caller: DEADLINE_EXCEEDED, as the gateway
    says it. 504: the request was whole, no answer came in time; 408: the request
    itself had not arrived whole (its body still coming at the caller's
    ``grpc-timeout``, or past ``ENVOY_REQUEST_TIMEOUT_MS``). Not the idle timer's
    504 (see ``_idle_upstream``)."""
    info = error_details_pb2.ErrorInfo(reason="DEADLINE_EXCEEDED", domain=ERROR_DOMAIN)
    return [
        _idle_upstream(),
        _trailers_only_mapper(504, code_pb2.DEADLINE_EXCEEDED, answer_message, info),
        _trailers_only_mapper(408, code_pb2.DEADLINE_EXCEEDED, request_message, info),
    ]
