"""Routes, CORS and security headers of the sidecar's one virtual host.

Transcoded JSON calls are rewritten by the transcoder to their gRPC path and
re-routed, so the gRPC routes below carry every API call (JSON, grpc-web and
native gRPC alike) and their timeouts. A known API path called with another method
gets a JSON 405 with ``Allow``; anything else a JSON 404: nothing (``/metrics``,
admin paths, reflection) reaches the gateway by accident.
"""

from __future__ import annotations

from typing import Any

from novaos.config import Settings
from novaos.sidecar.web_assets import WebAsset

Json = dict[str, Any]

CLUSTER = "novaos_grpc"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
CORS_ALLOW_HEADERS = (
    "authorization, content-type, accept, x-request-id, last-event-id, "
    "x-grpc-web, x-user-agent, grpc-timeout"
)
# Every header README.md promises a chat call returns, and what errors add.
CORS_EXPOSE_HEADERS = (
    "x-request-id, x-novaos-worker, x-novaos-overhead-ms, "
    "x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, "
    "x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, "
    "x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens, "
    "retry-after, www-authenticate, grpc-status, grpc-message, grpc-status-details-bin"
)
_CORS = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy"


def _ms(value: int) -> str:
    return f"{value / 1000:g}s"


def security_headers(settings: Settings, *, tls: bool) -> list[tuple[str, str]]:
    """The guide's headers, set on every response by the first filter."""
    headers = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("x-xss-protection", "1; mode=block"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
    ]
    if tls:  # RFC 6797: HSTS is only meaningful (and only sent) over TLS
        hsts = f"max-age={settings.hsts_max_age}"
        if settings.hsts_include_subdomains:
            hsts += "; includeSubDomains"
        if settings.hsts_preload:
            hsts += "; preload"
        headers.insert(0, ("strict-transport-security", hsts))
    return headers


def cors_policy(settings: Settings) -> Json | None:
    """Exact origins from ALLOWED_ORIGINS, no credentials; None means same-origin only."""
    if not settings.allowed_origins:
        return None
    return {
        "@type": _CORS,
        "allow_origin_string_match": [{"exact": o} for o in settings.allowed_origins],
        "allow_methods": "GET, POST, DELETE, OPTIONS",
        "allow_headers": CORS_ALLOW_HEADERS,
        "expose_headers": CORS_EXPOSE_HEADERS,
        "max_age": str(settings.envoy_cors_max_age_s),
        "allow_credentials": False,
        # Envoy answers every preflight itself; none is forwarded to the gateway.
        "forward_not_matching_preflights": False,
    }


def preflight_route() -> Json:
    """Gives the CORS filter a route to act on (it needs one with a route entry).

    Only genuine preflights match, and the filter answers all of them before the
    router, so the cluster named here is never actually called.
    """
    present = {"present_match": True}
    return {
        "match": {
            "prefix": "/",
            "headers": [
                {"name": ":method", "string_match": {"exact": "OPTIONS"}},
                {"name": "origin", **present},
                {"name": "access-control-request-method", **present},
            ],
        },
        "route": {"cluster": CLUSTER, "timeout": "1s"},
    }


def _grpc_route(match: Json, timeout: str, idle: str | None = None) -> Json:
    # With max_stream_duration set, Envoy ignores the route's ``timeout``: the
    # bound must be max_stream_duration itself, or JSON, SSE, grpc-web calls and
    # gRPC calls without a grpc-timeout header would have none. gRPC and grpc-web
    # callers may ask for less via grpc-timeout, never for more; JSON/SSE callers'
    # grpc-timeout is dropped by the Lua filter. "0s": unbounded. Envoy sends the
    # bound it applies on to the gateway as the call's grpc-timeout (a grpc-web
    # call's once its route is picked again, see envoy_http), so the gateway knows
    # when an SSE or grpc-web stream will be cut and ends it in-band before.
    duration: Json = {"grpc_timeout_header_max": timeout}
    if timeout != "0s":
        duration["max_stream_duration"] = timeout
    route: Json = {"cluster": CLUSTER, "timeout": timeout, "max_stream_duration": duration}
    if idle is not None:
        route["idle_timeout"] = idle
    # Prefix, not `grpc: {}`: the route is picked before grpc_web rewrites
    # application/grpc-web* to application/grpc, so both must match here.
    grpc_only = {"name": "content-type", "string_match": {"prefix": "application/grpc"}}
    return {"match": {**match, "headers": [grpc_only]}, "route": route}


def grpc_routes(settings: Settings) -> list[Json]:
    stream = _ms(settings.envoy_stream_timeout_ms)
    # The gateway ends an idle provider stream itself, and sends keepalives while it
    # holds text back, or while an audit watch is quiet (Settings.stream_keepalive_s);
    # Envoy's timer is the backstop, so a hung gateway is noticed in seconds.
    stream_idle = _ms(settings.stream_idle_timeout_ms + 5000)
    unary = _ms(settings.envoy_unary_timeout_ms)
    return [
        _grpc_route({"path": "/novaos.v1.ChatService/StreamChat"}, stream, stream_idle),
        _grpc_route({"path": "/novaos.v1.ChatService/Chat"}, _ms(settings.envoy_chat_timeout_ms)),
        _grpc_route({"path": "/novaos.v1.AuditService/WatchAuditEvents"}, "0s", stream_idle),
        _grpc_route({"prefix": "/novaos.v1."}, unary),
        _grpc_route({"prefix": "/grpc.health.v1.Health/"}, unary),
    ]


def page_routes(assets: list[WebAsset]) -> list[Json]:
    routes = []
    for asset in assets:
        routes.append(
            {
                "match": {
                    "path": asset.path,
                    "headers": [
                        {"name": ":method", "string_match": {"safe_regex": {"regex": "GET|HEAD"}}}
                    ],
                },
                "direct_response": {"status": 200, "body": _page_body(asset)},
                "response_headers_to_add": [
                    _header("content-type", asset.content_type),
                    _header("content-security-policy", PAGE_CSP),
                    _header("cache-control", "no-cache"),
                ],
            }
        )
    return routes


def _page_body(asset: WebAsset) -> Json:
    # A file (Envoy's DataSource) for the page holding the dev token: the admin
    # /config_dump shows the path, not the token. Read once, when Envoy loads the config.
    if asset.file is not None:
        return {"filename": str(asset.file)}
    return {"inline_string": asset.body}


def _header(key: str, value: str) -> Json:
    return {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}


def wrong_method_routes(allowed: dict[str, list[str]]) -> list[Json]:
    """405 with ``Allow`` for a transcoded path called with a method it has no
    binding for (the transcoder passes such a call on untouched)."""
    routes = []
    for path, methods in allowed.items():
        other_method = {
            "name": ":method",
            "string_match": {"safe_regex": {"regex": "|".join(methods)}},
            "invert_match": True,
        }
        routes.append(
            {
                "match": {"safe_regex": {"regex": path}, "headers": [other_method]},
                "direct_response": {"status": 405, "body": {"inline_string": "Method Not Allowed"}},
                "response_headers_to_add": [_header("allow", ", ".join(methods))],
            }
        )
    return routes


# What a request naming another host gets (RFC 9110: "not able to produce a
# response" for that authority); the body is short and holds nothing of ours.
MISDIRECTED = (
    "Misdirected Request: this server does not answer for that host "
    "(its names are set in ENVOY_ALLOWED_HOSTS)"
)


def misdirected_host(settings: Settings) -> Json:
    """The virtual host for every Host (:authority) ENVOY_ALLOWED_HOSTS does not
    name: a page a DNS-rebinding site loads from the sidecar under its own name
    would read the dev token the chat page embeds, and call the API with it. Only
    the probe paths answer there (``GET /health``, ``/ready``, once transcoded, and
    gRPC health): a kubelet or load balancer probes with the pod's IP as Host."""
    unary = _ms(settings.envoy_unary_timeout_ms)
    return {
        "name": "misdirected",
        "domains": ["*"],
        "routes": [
            _grpc_route({"path": "/novaos.v1.HealthService/Live"}, unary),
            _grpc_route({"path": "/novaos.v1.HealthService/Ready"}, unary),
            _grpc_route({"prefix": "/grpc.health.v1.Health/"}, unary),
            {
                "match": {"prefix": "/"},
                "direct_response": {"status": 421, "body": {"inline_string": MISDIRECTED}},
            },
        ],
    }


def route_config(settings: Settings, assets: list[WebAsset], allowed: dict[str, list[str]]) -> Json:
    """``allowed``: path regex -> HTTP methods, from the services' HTTP bindings."""
    not_found = {
        "match": {"prefix": "/"},
        "direct_response": {"status": 404, "body": {"inline_string": "Not Found"}},
    }
    vhost: Json = {
        "name": "novaos",
        "domains": list(settings.envoy_allowed_hosts),
        "routes": [
            *page_routes(assets),
            *grpc_routes(settings),
            *wrong_method_routes(allowed),
            not_found,
        ],
    }
    cors = cors_policy(settings)
    if cors is not None:
        vhost["typed_per_filter_config"] = {"envoy.filters.http.cors": cors}
        vhost["routes"].insert(0, preflight_route())
    config: Json = {
        "name": "novaos",
        "max_direct_response_body_size_bytes": 1024 * 1024,
        "virtual_hosts": [vhost],
    }
    if "*" not in settings.envoy_allowed_hosts:
        config["virtual_hosts"].append(misdirected_host(settings))
        # Hosts are listed without ports: "localhost:8443" is "localhost" here. The
        # header itself is passed on unchanged.
        config["ignore_port_in_host_matching"] = True
    return config
