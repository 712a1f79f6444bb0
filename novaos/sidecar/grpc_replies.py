"""What a gRPC caller gets when the sidecar itself refuses a request body as too large.

Envoy turns its own 413 into grpc-status 2 (UNKNOWN) "Payload Too Large" for gRPC
and grpc-web callers (it has no better mapping for 413), while a JSON caller got
``{"code":3,...}`` and the same message sent to the gateway directly is
INVALID_ARGUMENT naming the field. The local-reply mapper here sets the status,
a message naming the limit and the ``google.rpc.Status`` details (ErrorInfo and
BadRequest naming ``request``, as for request bytes the gateway cannot decode),
so every caller is told the same thing and that a retry cannot succeed.
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


def _status_bin(limit_bytes: int) -> str:
    info = error_details_pb2.ErrorInfo(
        reason="INVALID_ARGUMENT",
        domain=ERROR_DOMAIN,
        metadata={"field": "request", "limitBytes": str(limit_bytes)},
    )
    violation = error_details_pb2.BadRequest.FieldViolation(
        field="request", description=f"larger than {limit_bytes} bytes"
    )
    details = []
    for detail in (info, error_details_pb2.BadRequest(field_violations=[violation])):
        packed = any_pb2.Any()
        packed.Pack(detail)
        details.append(packed)
    status = status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT, message=too_large_message(limit_bytes), details=details
    )
    return base64.b64encode(status.SerializeToString()).decode()


def grpc_too_large_mapper(limit_bytes: int) -> Json:
    """A local-reply mapper for a 413 to a gRPC or grpc-web caller (put it after the
    JSON callers' mappers: the first match wins).

    A trailers-only reply: HTTP 200, no body, the status in headers. Envoy keeps a
    grpc-status the mapper set for a gRPC caller; the grpc-web filter passes a
    reply that carries one through as gRPC instead of deriving a status from the
    HTTP code (413 -> UNKNOWN) and the body."""
    headers = {
        "grpc-status": str(code_pb2.INVALID_ARGUMENT),
        # Printable ASCII without "%": needs no percent-encoding.
        "grpc-message": too_large_message(limit_bytes),
        "grpc-status-details-bin": _status_bin(limit_bytes),
    }
    return {
        "filter": {
            "status_code_filter": {
                "comparison": {
                    "op": "EQ",
                    "value": {"default_value": 413, "runtime_key": "lr.grpc.413"},
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
