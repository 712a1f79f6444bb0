"""The HTTP filter chain both listeners share.

Order matters. Requests run top to bottom, responses bottom to top:
header_mutation (security headers; first, so it also sees every local reply; a
spare request id) → lua (x-request-id the gateway accepts; no ``*-bin`` or
``grpc-timeout`` header on a call that is not gRPC; ``x-grpc-web`` on every
grpc-web call and no other; Retry-After; HEAD bodies; CORS on replies sent
before cors runs; a JSON error's gRPC code for the access log) → grpc_web → lua
(a grpc-web call's route picked again, now that it is gRPC, so the gateway is
told its time limit) → buffer (body limit) → grpc_json_transcoder → cors →
router. The buffer counts the bytes the caller sent: before the transcoder,
because the transcoder streams JSON into the gRPC message and drops what names
no field, so counted after it a body padded with an unknown field or with
whitespace passed at any size (a 60 MB string held in Envoy's memory); after
grpc_web, so its 413 passes back through grpc_web (a grpc-web client gets a
status). CORS comes after the transcoder because it only acts on routes with a
route entry: a JSON call has one only once rewritten to its gRPC path. Replies
sent before it (the buffer's 413, the transcoder's 400s, the catch-all 404) get
their CORS headers from the Lua filter, for the same origins.
The transcoder turns JSON/SSE into gRPC and gRPC errors into HTTP codes with a
JSON ``google.rpc.Status`` body; native gRPC and grpc-web pass through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from novaos.config import Settings
from novaos.sidecar.envoy_routes import (
    API_CSP,
    CORS_EXPOSE_HEADERS,
    route_config,
    security_headers,
)
from novaos.sidecar.http_bindings import allowed_methods
from novaos.sidecar.local_replies import GRPC_STATUS_LOGGED, local_reply_config
from novaos.sidecar.web_assets import WebAsset
from novaos.wire_limits import (
    GRPC_MAX_MESSAGE_BYTES,
    MAX_REQUEST_HEADERS,
    MAX_REQUEST_HEADERS_KIB,
)

Json = dict[str, Any]

SERVICES = ("novaos.v1.ChatService", "novaos.v1.AuditService", "novaos.v1.HealthService")
_T = "type.googleapis.com/envoy.extensions."
_HCM = _T + "filters.network.http_connection_manager.v3.HttpConnectionManager"

# A 401 gets WWW-Authenticate (Bearer). Browsers and plain HTTP clients want
# Retry-After on 429/503; the gateway sends
# google.rpc.RetryInfo in the status details, which the transcoder renders into
# the JSON body. Only error replies are read (small, already complete), never a stream.
# A HEAD (a probe path's HEAD binding) is transcoded like GET, and Envoy passes the
# JSON body on as it is: it is dropped here, and Content-Length kept, as for GET.
# A reply sent before the CORS filter runs (the transcoder's 400 for an unknown query
# parameter, the catch-all 404) gets the CORS headers here, for an allowed
# origin only: the same origins (ALLOWED_ORIGINS) and exposed headers as the filter.
# Not a 431: the codec refuses it before the request hook sees the Origin.
# ``ALLOWED`` and ``EXPOSE`` are filled in by ``response_lua``.
RESPONSE_LUA = """
local ALLOWED = {ALLOWED}
local EXPOSE = EXPOSE_HEADERS
local SPARE_ID = "SPARE_ID_HEADER"

local function valid_request_id(id)
  return id ~= nil and #id <= 64 and string.match(id, "^[A-Za-z0-9_.:%-]+$") ~= nil
end

local function drop_grpc_only_headers(headers)
  -- Not a gRPC or grpc-web call (JSON, SSE, the page, a probe): a header named
  -- "*-bin" would reach the gateway as gRPC binary metadata, whose value must be
  -- base64, and grpc-core refused the whole call (500 INTERNAL) over an HTTP
  -- client's own header (a tracing one) that nothing behind reads anyway. And
  -- grpc-timeout is for gRPC callers: the route's limit bounds a JSON/SSE call
  -- (a stream told it in-band), never one the client picks.
  local ctype = headers:get("content-type") or ""
  if string.sub(ctype, 1, 16) == "application/grpc" then
    return
  end
  local drop = {}
  for name, _ in pairs(headers) do
    if name == "grpc-timeout" or string.sub(name, -4) == "-bin" then
      drop[#drop + 1] = name
    end
  end
  for _, name in ipairs(drop) do
    headers:remove(name)
  end
end

function envoy_on_request(handle)
  local headers = handle:headers()
  drop_grpc_only_headers(headers)
  -- The gateway ends a grpc-web stream before its deadline itself (Envoy's timer
  -- could only cut it), so it must know the call is one: grpc_web below rewrites
  -- the content-type, and not every client sends x-grpc-web. Said by the sidecar
  -- only: a native gRPC or SSE caller's own x-grpc-web ended its stream early and
  -- had it counted as DEADLINE_EXCEEDED.
  local ctype = headers:get("content-type") or ""
  if string.sub(ctype, 1, 20) == "application/grpc-web" then
    headers:replace("x-grpc-web", "1")
  else
    headers:remove("x-grpc-web")
  end
  -- The gateway only keeps an x-request-id it accepts (the same pattern) and mints
  -- its own otherwise; Envoy echoes and logs this header. Replacing a rejected one
  -- here, with the id the first filter made, gives both the same id.
  local spare = headers:get(SPARE_ID)
  headers:remove(SPARE_ID)
  if not valid_request_id(headers:get("x-request-id")) and spare ~= nil then
    headers:replace("x-request-id", spare)
  end
  local meta = handle:streamInfo():dynamicMetadata()
  local method = headers:get(":method")
  -- For the access log: the transcoder makes every call it transcodes a POST.
  meta:set("novaos", "method", method)
  if method == "HEAD" then
    meta:set("novaos", "head", "1")
  end
  local origin = headers:get("origin")
  if origin ~= nil and (ALLOWED[origin] or ALLOWED["*"]) then
    meta:set("novaos", "origin", origin)
  end
end

local function vary_by_origin(headers)
  -- Whether a reply is allowed to a page depends on the request's Origin: a
  -- shared cache must not give one origin's reply to another.
  local vary = headers:get("vary")
  if vary == nil then
    headers:add("vary", "Origin")
    return
  end
  for name in string.gmatch(vary, "[^,]+") do
    name = string.lower(string.match(name, "^%s*(.-)%s*$"))
    if name == "origin" or name == "*" then
      return  -- already varies by it (or by everything)
    end
  end
  headers:replace("vary", vary .. ", Origin")
end

local function cors(handle, headers)
  if next(ALLOWED) == nil then
    return  -- no CORS (ALLOWED_ORIGINS empty): every origin gets the same reply
  end
  vary_by_origin(headers)
  if headers:get("access-control-allow-origin") ~= nil then
    return  -- the CORS filter saw the request
  end
  local meta = handle:streamInfo():dynamicMetadata():get("novaos")
  if meta == nil or meta["origin"] == nil then
    return
  end
  headers:add("access-control-allow-origin", meta["origin"])
  headers:add("access-control-expose-headers", EXPOSE)
end

local function body_text(handle)
  -- The whole response body (buffered), or nil when there is none.
  local body = handle:body()
  if body == nil then
    return nil
  end
  return body:getBytes(0, body:length())
end

local function retry_after(handle, headers)
  local status = headers:get(":status")
  if (status ~= "429" and status ~= "503") or headers:get("retry-after") ~= nil then
    return
  end
  local text = body_text(handle)
  if text == nil then
    return
  end
  local delay = string.match(text, '"retry_delay"%s*:%s*"([%d%.]+)s"')
  if delay ~= nil then
    -- body() yields: the header handle taken before it is no longer valid
    -- rounded up, never raised: "0s" (a provider may be called again now) stays 0
    handle:headers():replace("retry-after", string.format("%d", math.ceil(tonumber(delay))))
  end
end

local function logged_status(handle, headers)
  -- A JSON error's gRPC code is in its body only (the transcoder drops grpc-status,
  -- and Envoy's own replies never had one); %GRPC_STATUS% would guess it from the
  -- HTTP status (404 -> Unimplemented). Kept for the access log.
  local status = tonumber(headers:get(":status")) or 0
  if status < 400 or headers:get("content-type") ~= "application/json" then
    return
  end
  local text = body_text(handle)
  if text == nil then
    return
  end
  local code = string.match(text, '^%s*{%s*"code"%s*:%s*(%d+)')
  if code ~= nil then
    handle:streamInfo():dynamicMetadata():set("novaos", "grpc_status", tonumber(code))
  end
end

local function drop_head_body(handle)
  local meta = handle:streamInfo():dynamicMetadata():get("novaos")
  if meta == nil or meta["head"] ~= "1" then
    return
  end
  local length = handle:headers():get("content-length")
  local body = handle:body()
  if body == nil then
    return  -- already headers only (a local reply, the page)
  end
  if length == nil then
    length = tostring(body:length())
  end
  body:setBytes("")
  handle:headers():replace("content-length", length)
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local ctype = headers:get("content-type") or ""
  if ctype == "application/json" or ctype == "text/event-stream" then
    -- transcoded: the gRPC framing headers mean nothing to a JSON client
    headers:remove("grpc-status")
    headers:remove("grpc-message")
    headers:remove("grpc-accept-encoding")
  end
  if ctype == "text/event-stream" then
    headers:replace("cache-control", "no-store")
    headers:replace("x-accel-buffering", "no")  -- tell any proxy ahead not to buffer SSE
  end
  if headers:get(":status") == "401" and headers:get("www-authenticate") == nil then
    -- RFC 6750: a 401 names the scheme the client must use
    headers:add("www-authenticate", 'Bearer realm="novaos"')
  end
  cors(handle, headers)
  logged_status(handle, headers)
  retry_after(handle, handle:headers())
  drop_head_body(handle)
end
"""

# Envoy passes the limit it applies (the route's, or the caller's shorter
# grpc-timeout) to the gateway as grpc-timeout only for a call that is gRPC when
# its route is picked: a native one at once, a JSON/SSE one when the transcoder
# re-picks the route after rewriting it. A grpc-web call is picked as grpc-web,
# and grpc_web rewrites it to gRPC without re-picking, so the gateway got no
# deadline (or the caller's longer one) and Envoy's timer cut the stream with no
# status. Re-picked here, after grpc_web, it gets its limit as the others do.
GRPC_WEB_DEADLINE_LUA = """
function envoy_on_request(handle)
  if handle:headers():get("x-grpc-web") ~= nil then
    handle:clearRouteCache()
  end
end
"""

# Request header the first filter fills with a fresh UUID and the Lua filter removes.
SPARE_ID_HEADER = "x-novaos-spare-request-id"

# What the transcoder may buffer to turn one unary gRPC reply into JSON (a long
# conversation, a full page of audit records): gRPC's own message cap.
TRANSCODE_MAX_BODY = GRPC_MAX_MESSAGE_BYTES


def _header_mutation(settings: Settings, *, tls: bool) -> Json:
    overwrite = [
        {
            "append": {
                "header": {"key": k, "value": v},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        }
        for k, v in security_headers(settings, tls=tls)
    ]
    # The page routes set their own (self-only) CSP; everything else is API.
    api_csp = {
        "append": {
            "header": {"key": "content-security-policy", "value": API_CSP},
            "append_action": "ADD_IF_ABSENT",
        }
    }
    # A fresh id for every request, for the Lua filter to use in place of a caller's
    # x-request-id the gateway would reject (Lua has no UUID source of its own).
    spare_id = {
        "append": {
            "header": {"key": SPARE_ID_HEADER, "value": "%UNIQUE_ID%"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        }
    }
    return {
        "@type": _T + "filters.http.header_mutation.v3.HeaderMutation",
        "mutations": {
            "request_mutations": [spare_id],
            "response_mutations": [*overwrite, api_csp],
        },
    }


def _transcoder(descriptor: Path, max_request_bytes: int) -> Json:
    return {
        "@type": _T + "filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
        "proto_descriptor": str(descriptor.resolve()),
        # The buffer ahead has counted the body; this caps what the transcoder holds.
        "max_request_body_size": max_request_bytes,
        "max_response_body_size": TRANSCODE_MAX_BODY,
        "services": list(SERVICES),
        "print_options": {
            "add_whitespace": False,
            "always_print_primitive_fields": True,
            "preserve_proto_field_names": True,
            "stream_sse_style_delimited": True,
        },
        "convert_grpc_status": True,
        "case_insensitive_enum_parsing": True,
        # A query parameter that names no request field ("?_=123", a typo'd filter)
        # is a 400 naming it. Without this the call was not transcoded at all and
        # fell through to the catch-all 404, which carries no CORS headers.
        # A body field that contradicts the path's binding is a 400 naming it. The
        # transcoder otherwise let the body win: POST .../circuits/mock:reset with
        # {"provider":"openai_compat"} reset openai_compat, while the access log
        # (and any path-based rule in front) saw mock. It compares only the first of
        # a repeated key and no query parameter: novaos.transport.path_bindings
        # refuses those.
        "request_validation_options": {
            "reject_unknown_query_parameters": True,
            "reject_binding_body_field_collisions": True,
        },
    }


def _lua_string(text: str) -> str:
    """A Lua string literal: every byte outside a safe set as a decimal escape."""
    safe = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:/-_*, ")
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in text.encode()) + '"'


def response_lua(settings: Settings) -> str:
    allowed = ", ".join(f"[{_lua_string(o)}] = true" for o in settings.allowed_origins)
    return (
        RESPONSE_LUA.replace("{ALLOWED}", "{" + allowed + "}", 1)
        .replace("EXPOSE_HEADERS", _lua_string(CORS_EXPOSE_HEADERS), 1)
        .replace("SPARE_ID_HEADER", SPARE_ID_HEADER, 1)
    )


def http_filters(settings: Settings, descriptor: Path, *, tls: bool) -> list[Json]:
    return [
        {
            "name": "envoy.filters.http.header_mutation",
            "typed_config": _header_mutation(settings, tls=tls),
        },
        {
            "name": "envoy.filters.http.lua",
            "typed_config": {
                "@type": _T + "filters.http.lua.v3.Lua",
                "default_source_code": {"inline_string": response_lua(settings)},
            },
        },
        {
            "name": "envoy.filters.http.grpc_web",
            "typed_config": {"@type": _T + "filters.http.grpc_web.v3.GrpcWeb"},
        },
        {
            "name": "envoy.filters.http.lua.grpc_web_deadline",
            "typed_config": {
                "@type": _T + "filters.http.lua.v3.Lua",
                "default_source_code": {"inline_string": GRPC_WEB_DEADLINE_LUA},
            },
        },
        {
            "name": "envoy.filters.http.buffer",
            "typed_config": {
                "@type": _T + "filters.http.buffer.v3.Buffer",
                "max_request_bytes": settings.envoy_max_request_bytes,
            },
        },
        {
            "name": "envoy.filters.http.grpc_json_transcoder",
            "typed_config": _transcoder(descriptor, settings.envoy_max_request_bytes),
        },
        {
            "name": "envoy.filters.http.cors",
            "typed_config": {"@type": _T + "filters.http.cors.v3.Cors"},
        },
        {
            "name": "envoy.filters.http.router",
            "typed_config": {
                "@type": _T + "filters.http.router.v3.Router",
                "suppress_envoy_headers": True,
            },
        },
    ]


_KEPT = "metadata.filter_metadata"


# The method the client sent, kept by the Lua filter before the transcoder made
# it POST; a request refused before that filter ran has its own.
METHOD_LOGGED = (
    f"%CEL('novaos' in {_KEPT} && 'method' in {_KEPT}.novaos"
    f" ? {_KEPT}.novaos.method : request.method)%"
)


def _access_log() -> Json:
    fields = {
        "timestamp": "%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)%",
        "level": "info",
        "component": "envoy",
        "requestId": "%REQ(X-REQUEST-ID)%",
        "method": METHOD_LOGGED,
        # Without the query: it may carry credentials (?access_token=, ?key=).
        "path": "%PATH(NQ:ORIG_OR_PATH)%",
        "route": "%PATH(NQ:PATH)%",
        "status": "%RESPONSE_CODE%",
        "grpcStatus": GRPC_STATUS_LOGGED,
        "flags": "%RESPONSE_FLAGS%",
        "protocol": "%PROTOCOL%",
        "duration": "%DURATION%",
        "bytesSent": "%BYTES_SENT%",
    }
    return {
        "name": "envoy.access_loggers.stdout",
        "typed_config": {
            "@type": _T + "access_loggers.stream.v3.StdoutAccessLog",
            "log_format": {"json_format": fields},
        },
    }


def http_connection_manager(
    settings: Settings, descriptor: Path, assets: list[WebAsset], *, tls: bool
) -> Json:
    config: Json = {
        "@type": _HCM,
        "stat_prefix": "https" if tls else "http",
        "codec_type": "AUTO",
        "use_remote_address": True,
        "xff_num_trusted_hops": 1 if settings.trust_proxy else 0,
        "normalize_path": True,
        "merge_slashes": True,
        "server_name": "novaos",
        "server_header_transformation": "OVERWRITE",
        "preserve_external_request_id": True,
        "always_set_request_id_in_response": True,
        # The gRPC server accepts what passes here (novaos.wire_limits); 431 beyond.
        "max_request_headers_kb": MAX_REQUEST_HEADERS_KIB,
        "request_headers_timeout": "10s",
        # A body trickled a byte at a time held a connection forever. Disarmed when
        # the request has gone upstream (or the reply began): streams are not cut.
        "request_timeout": f"{settings.envoy_request_timeout_ms / 1000:g}s",
        "stream_idle_timeout": "300s",
        "common_http_protocol_options": {
            "idle_timeout": "300s",
            "headers_with_underscores_action": "REJECT_REQUEST",
            "max_headers_count": MAX_REQUEST_HEADERS,
        },
        "http2_protocol_options": {
            "max_concurrent_streams": 100,
            "initial_stream_window_size": 65536,
            "initial_connection_window_size": 1048576,
        },
        "route_config": route_config(settings, assets, allowed_methods(descriptor, SERVICES)),
        "http_filters": http_filters(settings, descriptor, tls=tls),
        "local_reply_config": local_reply_config(settings, tls=tls),
        "access_log": [_access_log()],
    }
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": config}
