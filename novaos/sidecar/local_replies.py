"""Envoy's own replies (404 route, 413 body limit, timeouts) to JSON callers.

They get the same shape as transcoded gRPC errors, ``{"code":N,"message":...}``.
gRPC and grpc-web callers keep Envoy's gRPC-style local replies except the 413 and
a time limit's 504 and 408, which ``grpc_replies`` rewrites, and a failed connect's
503, whose message the mapper below sets for them too.

A local reply normally passes back through the filter chain, where the Lua filter
keeps its body's code for the access log. Not once a reply had begun through the
filters: the transcoder holds a unary call's response headers until its body is
whole, and a timeout then (``ENVOY_CHAT_TIMEOUT_MS``) goes straight to the codec.
The log reads such a reply's code from this table instead of Envoy's guess from
the HTTP status (504 as UNAVAILABLE, which counted chat timeouts as outages), and
the mapper adds the headers the filters would have: the security headers, and
CORS for an allowed origin (without them a page saw a network error, not the 504).
"""

from __future__ import annotations

from typing import Any

from novaos.config import Settings
from novaos.errors import ERROR_DOMAIN
from novaos.sidecar.envoy_routes import API_CSP, CORS_EXPOSE_HEADERS, security_headers
from novaos.sidecar.grpc_replies import grpc_time_limit_mappers, grpc_too_large_mapper

Json = dict[str, Any]

# HTTP status of a local reply -> the gRPC code its JSON body carries.
# 426: HTTP/1.0 (Envoy speaks 1.1 and 2 only); the request itself is what is refused.
LOCAL_REPLY_CODES = {
    400: 3,
    404: 5,
    408: 4,
    413: 3,
    421: 7,  # a Host ENVOY_ALLOWED_HOSTS does not name
    405: 12,  # a known path, another method (with Allow)
    426: 3,
    431: 3,
    500: 13,
    503: 14,
    504: 4,
}
# Envoy's own message for a route's limit is "downstream duration timeout".
TIME_LIMIT_MESSAGE = "no answer within the sidecar's time limit for this call"
# A 408: the request itself was not whole in time (Envoy: "request timeout", or
# "downstream duration timeout" for a gRPC caller's grpc-timeout). JSON callers
# keep Envoy's words; gRPC and grpc-web callers get these.
REQUEST_TIME_LIMIT_MESSAGE = "request not received in full within the sidecar's time limit"


def _status_is(http_status: int) -> Json:
    return {
        "status_code_filter": {
            "comparison": {
                "op": "EQ",
                "value": {"default_value": http_status, "runtime_key": f"lr.{http_status}"},
            }
        }
    }


def _json_caller() -> Json:
    not_grpc = {
        "header_filter": {
            "header": {
                "name": "content-type",
                "string_match": {"prefix": "application/grpc"},
                "invert_match": True,
                "treat_missing_header_as_empty": True,
            }
        }
    }
    # HCM decides "gRPC local reply" from the *original* content-type, but by
    # now the transcoder has rewritten it; its x-envoy-original-path marks JSON calls.
    transcoded = {
        "header_filter": {"header": {"name": "x-envoy-original-path", "present_match": True}}
    }
    return {"or_filter": {"filters": [not_grpc, transcoded]}}


def _json_body(http_status: int) -> Json:
    if http_status == 504:
        # A time limit makes Envoy answer 504 (it sets no response flag for one,
        # so no flag can pick it out), and so does the stream idle timer (SI) on a
        # hung gateway; said as the gateway says a deadline, with the same ErrorInfo.
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "DEADLINE_EXCEEDED",
            "domain": ERROR_DOMAIN,
        }
        return {"code": 4, "message": TIME_LIMIT_MESSAGE, "details": [info]}
    return {"code": LOCAL_REPLY_CODES[http_status], "message": "%LOCAL_REPLY_BODY%"}


def _json_override(http_status: int) -> Json:
    """A mapper's ``body_format_override``: the JSON body for ``http_status``."""
    return {"json_format": _json_body(http_status), "content_type": "application/json"}


# Envoy's own words when no gateway is healthy; docs and runbooks quote them.
NO_HEALTHY_UPSTREAM = "no healthy upstream"


def _connect_failed(json_caller: bool) -> Json:
    """The gateway's port refused the connection (it drains after SIGTERM, or is
    down) before the health check has ejected it, 2-4 s: Envoy's "upstream connect
    error or disconnect/reset before headers. reset reason: remote connection
    failure" reads like a network fault, and says the same as "no healthy
    upstream", which follows. Only a failed connect (UF): the call never reached
    the gateway, so a retry cannot repeat it. A connection lost mid-call keeps
    Envoy's words. ``body`` also becomes a gRPC caller's grpc-message."""
    failed = [_status_is(503), {"response_flag_filter": {"flags": ["UF"]}}]
    mapper: Json = {"body": {"inline_string": NO_HEALTHY_UPSTREAM}}
    if json_caller:
        failed.append(_json_caller())
        mapper["body_format_override"] = _json_override(503)
    return {"filter": {"and_filter": {"filters": failed}}, **mapper}


def _set(headers: list[tuple[str, str]]) -> list[Json]:
    return [
        {"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
        for k, v in headers
    ]


def _allowed_origin(settings: Settings) -> Json:
    """The request's Origin is one ALLOWED_ORIGINS names (any, for ``*``)."""
    if "*" in settings.allowed_origins:
        return {"header_filter": {"header": {"name": "origin", "present_match": True}}}
    exact = [
        {"header_filter": {"header": {"name": "origin", "string_match": {"exact": o}}}}
        for o in settings.allowed_origins
    ]
    return exact[0] if len(exact) == 1 else {"or_filter": {"filters": exact}}


def _time_limit(settings: Settings, *, tls: bool) -> list[Json]:
    """The 504 at a route's limit goes straight to the codec (see above), past the
    first filter's security headers and the CORS the cors and Lua filters add: an
    allowed page saw a network error. The mapper adds what they would have."""
    headers = [*security_headers(settings, tls=tls), ("content-security-policy", API_CSP)]
    if settings.allowed_origins:
        headers.append(("vary", "Origin"))
    when = [_status_is(504), _json_caller()]
    body = _json_override(504)
    mappers = []
    if settings.allowed_origins:
        cors = [
            ("access-control-allow-origin", "%REQ(origin)%"),
            ("access-control-expose-headers", CORS_EXPOSE_HEADERS),
        ]
        mappers.append(
            {
                "filter": {"and_filter": {"filters": [*when, _allowed_origin(settings)]}},
                "headers_to_add": _set(headers + cors),
                "body_format_override": body,
            }
        )
    mappers.append(
        {
            "filter": {"and_filter": {"filters": when}},
            "headers_to_add": _set(headers),
            "body_format_override": body,
        }
    )
    return mappers


def local_reply_config(settings: Settings, *, tls: bool) -> Json:
    """The first matching mapper wins."""
    mappers = [_connect_failed(json_caller=True), _connect_failed(json_caller=False)]
    mappers += _time_limit(settings, tls=tls)
    for http_status in LOCAL_REPLY_CODES:
        if http_status == 504:
            continue
        mappers.append(
            {
                "filter": {"and_filter": {"filters": [_status_is(http_status), _json_caller()]}},
                "body_format_override": _json_override(http_status),
            }
        )
    mappers.append(grpc_too_large_mapper(settings.envoy_max_request_bytes))
    mappers += grpc_time_limit_mappers(TIME_LIMIT_MESSAGE, REQUEST_TIME_LIMIT_MESSAGE)
    return {"mappers": mappers}


def _code_of_json_reply() -> str:
    """CEL: the code a JSON local reply's body carries, by its HTTP status."""
    guess = "response.grpc_status"
    for http_status, grpc_code in reversed(LOCAL_REPLY_CODES.items()):
        guess = f"response.code == {http_status} ? {grpc_code} : {guess}"
    return guess


_KEPT = "metadata.filter_metadata"
_JSON = (
    "'content-type' in response.headers && response.headers['content-type'] == 'application/json'"
)
# A JSON error reply has no grpc-status; the Lua filter keeps the code from its body
# in dynamic metadata, which wins over %GRPC_STATUS%'s guess from the HTTP code. A
# JSON reply the filters never saw is one of Envoy's own, mapped above.
GRPC_STATUS_LOGGED = (
    f"%CEL('novaos' in {_KEPT} && 'grpc_status' in {_KEPT}.novaos"
    f" ? int({_KEPT}.novaos.grpc_status)"
    f" : ({_JSON} ? ({_code_of_json_reply()}) : response.grpc_status))%"
)
