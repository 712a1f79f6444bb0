"""The one settings object, read from the environment (names from the guide).

Nothing else reads ``os.environ``. Invalid values stop start-up with one line
naming the variable (``load_settings`` raises ``ConfigError``).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import SplitResult, unquote, urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from novaos.domain import MODEL_ID, MODEL_ID_RULE
from novaos.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$")
# A provider's model name where it goes in the request body (OpenAI, Anthropic, a
# compatible server): up to 200 characters, none of these Unicode categories, as it
# is also an audit field and a label: control (Cc), format (Cf: bidi overrides and
# isolates, zero-width characters), lone surrogates (Cs: what os.environ makes of a
# byte that is not UTF-8, which an exporter cannot encode) and spaces (Z*).
_MODEL_NAME_CHARS = 200
_MODEL_NAME_REFUSED = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
# redis-py takes the path's digits as the database and quietly uses 0 for anything else.
_DB_PATH = re.compile(r"/?[0-9]*")


# Durations rendered for Envoy (as "<seconds>s") are at most a day: far larger ones
# were written as "1e+20s", which Envoy refuses to parse, so the sidecar never started.
_ENVOY_MAX_MS = 86_400_000


class AuditStorage(StrEnum):
    MEMORY = "memory"
    FILE = "file"
    DATABASE = "database"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def parse_duration_s(value: str) -> int:
    """'24h' -> 86400; a bare number is seconds."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError("expected a duration like 3600, 90s, 15m, 24h or 7d")
    return int(int(match.group(1)) * _UNIT_S[match.group(2)])


# A browser's Origin header: lower-case scheme and host, a port only when not the
# scheme's default, nothing after it (RFC 6454 serialisation).
_ORIGIN = re.compile(
    r"^(?P<scheme>https?)://"
    r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9_.-]*[a-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?$"
)
_DEFAULT_PORT = {"http": 80, "https": 443}


# A URL's user info up to its password: everything from the first ':' after the
# user to the last '@' (a password with an unencoded '@' or '/' too) is hidden.
# A URL's "user:password@", with or without its scheme and slashes ("u:pw@host",
# "//u:pw@host", "http:/u:pw@host"): everything from the user's ":" to the last "@".
_URL_PASSWORD = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?/*[^:/?#@\[\]]*):.*@", re.DOTALL)


def shown_url(value: str) -> str:
    """``value`` as a settings error may quote it: its password replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1:***@", value, count=1)


def check_origin(value: str) -> str:
    """``*`` or an origin exactly as a browser sends it; otherwise ValueError saying why."""
    if value == "*":
        return value
    match = _ORIGIN.match(value)
    shown = shown_url(value)
    if match is None:
        raise ValueError(f"{shown!r} is not an origin: {_why_not_origin(shown)}")
    port = match["port"]
    if port is not None:
        if not 0 < int(port) <= 65535:
            raise ValueError(f"{shown!r} is not an origin: port {port} is out of range")
        if int(port) == _DEFAULT_PORT[match["scheme"]]:
            plain = f"{match['scheme']}://{match['host']}"
            raise ValueError(
                f"{value!r} never matches: a browser sends its default port as {plain}"
            )
    return value


def _why_not_origin(value: str) -> str:
    want = "scheme://host[:port] with scheme http or https, or * for any origin"
    scheme, sep, rest = value.partition("://")
    if not sep:
        return f"no scheme; want {want}, e.g. https://{value.strip('/')}"
    if scheme.lower() not in _DEFAULT_PORT:
        return f"scheme {scheme!r}; want {want}"
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "*" in authority:
        return (
            "wildcard subdomains are not supported (a browser sends one exact origin); "
            "list each origin, or * for any"
        )
    if authority != rest:
        return f"a browser's Origin has no path, query or fragment; use {scheme}://{authority}"
    if value != value.lower():
        return f"a browser sends it in lower case: {value.lower()}"
    return f"want {want}"


# A host name as resolvers take it: dot-separated labels of letters, digits, '-' and
# (Docker's service names) '_', neither starting nor ending with '-'.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


def check_listen_host(value: str) -> str:
    """An IP address (IPv6 bare or in brackets) or a host name; otherwise ValueError.

    gRPC's C core found a malformed one only once the whole app was built, in a
    line of its own ("Misformatted domain name") beside ours guessing another cause."""
    if value.startswith("[") and value.endswith("]"):
        try:
            ipaddress.IPv6Address(value[1:-1])
        except ValueError:
            raise ValueError(f"{value!r}: only an IPv6 address goes in brackets") from None
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if len(value) > 253 or not _HOST_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an IP address or a host name") from None
    return value


def check_allowed_host(value: str) -> str:
    """An ENVOY_ALLOWED_HOSTS entry, lower-cased: ``*``, a host name (``*.`` before
    it for its subdomains), an IPv4 address or an IPv6 one in brackets, as a Host
    header names them, without a port (the sidecar ignores the port)."""
    host = value.lower()
    if host == "*":
        return host
    if ":" in host and not host.startswith("["):
        if host.count(":") == 1:
            raise ValueError(f"{value!r}: no port (any port is accepted); write the host alone")
        raise ValueError(f"{value!r}: an IPv6 address goes in brackets, as in a Host header")
    if "]:" in host:
        raise ValueError(f"{value!r}: no port (any port is accepted); write the host alone")
    name = host.removeprefix("*.")
    try:
        check_listen_host(name)
    except ValueError:
        raise ValueError(f"{value!r} is not a host name, an IP address or *.<domain>") from None
    if problem := _not_as_browsers_send(name, wildcard=name != host):
        raise ValueError(f"{value!r} never matches: {problem}")
    return host


def _not_as_browsers_send(name: str, *, wildcard: bool) -> str | None:
    """Why a browser's Host header never names ``name`` so (None: it may). The
    sidecar compares names as written: an address must be in the one form a
    browser serialises it to (WHATWG URL), and a name ending in a number is
    read as an IPv4 address, or refused."""
    if name.startswith("["):
        if wildcard:
            return "*. goes before a domain, not an address"
        inner = name[1:-1]
        canonical = "%" not in inner and f"[{ipaddress.IPv6Address(inner).compressed}]"
        if canonical != name:
            form = f"write {canonical}" if canonical else "a zone (%...) is never sent"
            return f"a browser sends an IPv6 address compressed: {form}"
        return None
    last = name.rstrip(".").rsplit(".", 1)[-1]
    if last.isdigit() or last.startswith("0x"):
        if wildcard:
            return "*. goes before a domain, not an address"
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return "a browser reads a name ending in a number as an IPv4 address (a.b.c.d, 0-255)"
    return None


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    return value


def _upper_case(env: Mapping[str, str]) -> dict[str, str]:
    """The variables spelt as the guide spells them. A process environment is
    case-sensitive: ``require_auth`` is another variable than ``REQUIRE_AUTH``, and
    read case-insensitively, whichever of the two came last in it would win."""
    return {name: value for name, value in env.items() if name == name.upper()}


class _UpperCaseEnvSource(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _upper_case(os.environ)
        # Field names are lower-case; the names read are only the upper-case ones.
        return {k.lower(): v for k, v in env.items() if not (self.env_ignore_empty and v == "")}


class Settings(BaseSettings):
    """Every variable NovaOS reads. See docs/operations.md for the table."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=False,  # field names match the upper-case names _UpperCaseEnvSource reads
        extra="ignore",
        env_ignore_empty=True,  # VAR= (as compose and k8s templates leave it) means unset
        allow_inf_nan=False,  # SHUTDOWN_GRACE_S=inf would make the drain unbounded
    )

    # -- core
    node_env: Environment = Field(Environment.DEVELOPMENT, alias="NODE_ENV")
    grpc_host: str = "0.0.0.0"
    grpc_port: int = Field(50051, ge=0, le=65535)
    metrics_port: int = Field(9464, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"  # Prometheus scrapes the pod's address
    # The guide's single-port PORT=3000 has no meaning here (DESIGN fixes the ports
    # above and ENVOY_*_PORT): read only to warn at start that it is not used, so
    # any text (PORT=abc) is taken: a variable never used stops nothing.
    port: str | None = None
    workers: int = Field(1, ge=1, le=64)
    novaos_worker_index: int = Field(0, ge=0)  # set by the supervisor for each worker
    novaos_supervisor_pid: int = Field(0, ge=0)  # likewise
    novaos_run_dir: str = ""  # likewise: the workers share circuits and a broken audit chain
    shutdown_grace_s: float = Field(20.0, ge=0)
    log_level: str = "info"

    # -- security / auth
    jwt_secret: SecretStr | None = None
    require_auth: bool = True
    jwt_expiry: str = "24h"
    jwt_issuer: str = ""
    jwt_audience: str = ""
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    trust_proxy: bool = False
    hsts_max_age: int = Field(63072000, ge=0)
    hsts_include_subdomains: bool = True
    hsts_preload: bool = True
    ack_secret: SecretStr | None = None

    # -- redis
    redis_url: str = ""
    redis_cluster_nodes: Annotated[tuple[str, ...], NoDecode] = ()
    redis_pool_size: int = Field(10, ge=1, le=1000)
    # Capped so a restarted Redis is noticed within ~2 s (the guide promises < 5 s).
    redis_reconnect_min_backoff_ms: int = Field(100, ge=10)
    redis_reconnect_max_backoff_ms: int = Field(2000, ge=50)
    # At most an hour: the wait is also a Redis expiry (the release script's), and
    # Redis refused a huge one, failing every chat with INTERNAL (see LEASE_TTL_MS).
    redis_command_timeout_ms: int = Field(2000, ge=50, le=3_600_000)
    # Keys the in-process store holds (memory-only mode, and the fallback during an
    # outage); conversations beyond it are evicted least recently used first.
    memory_store_max_keys: int = Field(20000, ge=100)

    # -- providers
    preferred_provider: str = "mock"
    provider_fallback_order: Annotated[tuple[str, ...], NoDecode] = ()
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str = "https://generativelanguage.googleapis.com/v1beta"
    gemini_model: str = "gemini-2.0-flash"
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str = "https://api.anthropic.com/v1"
    anthropic_model: str = "claude-3-5-haiku-latest"
    openai_compat_base_url: str = ""
    openai_compat_api_key: SecretStr | None = None
    openai_compat_model: str = ""
    provider_connect_timeout_ms: int = Field(5000, ge=1)
    provider_read_timeout_ms: int = Field(60000, ge=1)
    provider_total_timeout_ms: int = Field(120000, ge=1)
    provider_max_connections: int = Field(100, ge=1, le=10000)  # pool size per provider
    stream_idle_timeout_ms: int = Field(30000, ge=1, le=_ENVOY_MAX_MS)  # rendered (+5 s) for Envoy
    circuit_failure_threshold: int = Field(3, ge=1)
    circuit_reset_timeout_ms: int = Field(30000, ge=1)
    default_max_tokens: int = Field(512, ge=1, le=100000)

    # -- mock provider
    mock_token_delay_ms: int = Field(20, ge=0, le=10000)
    mock_response_tokens: int = Field(60, ge=1, le=100000)
    mock_script_file: Path | None = None  # test-only scripted outputs; refused in production

    # -- limits (per minute / concurrent). 0 would admit no request of the tier
    # and tell each one to retry; a tier to shut out gets no tokens minted.
    rate_limit_free: int = Field(10, ge=1)
    rate_limit_pro: int = Field(60, ge=1)
    rate_limit_enterprise: int = Field(300, ge=1)
    token_limit_free: int = Field(10_000, ge=1)
    token_limit_pro: int = Field(100_000, ge=1)
    token_limit_enterprise: int = Field(500_000, ge=1)
    concurrency_limit_free: int = Field(2, ge=1)
    concurrency_limit_pro: int = Field(10, ge=1)
    concurrency_limit_enterprise: int = Field(50, ge=1)
    # Upper bounds here and on CONVERSATION_TTL_S: Redis refuses an expiry past its
    # clock's range (and Lua writes 1e17 and up as "1e+17"), which failed every chat
    # with INTERNAL while the memory store (tests, /ready) took it. A crashed
    # replica's slots stay taken a lease's lifetime: a day is already far too long.
    lease_ttl_ms: int = Field(30000, ge=1000, le=86_400_000)

    # -- pipeline
    pipeline_timeout_ms: int = Field(30000, ge=100)
    output_holdback_chars: int = Field(160, ge=16, le=10000)
    max_message_chars: int = Field(32000, ge=1)
    conversation_max_turns: int = 20  # turns, kept in whole exchanges (_whole_exchanges)
    conversation_ttl_s: int = Field(7 * 86400, ge=60, le=3650 * 86400)  # ten years

    # -- shield (hard vetoes per user within a window before the user is paused)
    shield_veto_limit: int = Field(5, ge=1, le=10000)
    shield_veto_window_s: int = Field(900, ge=1, le=86400)
    shield_budget_ms: int = Field(250, ge=1, le=10000)  # CPU per 2,000 characters read

    # -- logging / audit
    redact_pii: bool = True
    audit_storage_type: AuditStorage = AuditStorage.FILE
    audit_file_path: Path = Path("var/audit")
    audit_include_content: bool = False
    audit_queue_size: int = Field(10000, ge=1)
    audit_file_max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    audit_fsync: str = "batch"  # always | batch | never
    # Answers wait until their audit record is in the sink or the spill file.
    audit_store_before_reply: bool = False
    audit_spill_path: Path | None = None
    audit_memory_capacity: int = Field(10000, ge=1)
    audit_hmac_key: SecretStr | None = None  # pseudonym key; falls back to JWT_SECRET
    # Keys the audit hash chain (HMAC-SHA256); none: plain SHA-256. Retired
    # chain keys, comma-separated, still verify the records they sealed.
    audit_chain_key: SecretStr | None = None
    audit_chain_previous_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    audit_batch_size: int = Field(100, ge=1, le=10000)
    audit_retry_max_backoff_ms: int = Field(5000, ge=10)
    audit_watch_queue_size: int = Field(1000, ge=1)
    audit_db_pool_size: int = Field(4, ge=1, le=100)
    database_url: str = ""

    # -- web fetch (lens)
    enable_web_fetch: bool = False
    web_fetch_connect_timeout_ms: int = Field(5000, ge=1)
    web_fetch_read_timeout_ms: int = Field(10000, ge=1)
    web_fetch_total_timeout_ms: int = Field(15000, ge=1)
    web_fetch_allow_private_ips: bool = False
    web_fetch_allow_localhost: bool = False
    # The guide's name. VALIDATE_CERTS, this project's earlier spelling (still in
    # older ConfigMaps), is read too; set both, they must agree (_cross_checks).
    # Read through ``fetch_validates_certs``; neither set means true.
    web_fetch_validate_certs: bool | None = None
    validate_certs: bool | None = None
    web_fetch_max_bytes: int = Field(1_000_000, ge=1024)
    web_fetch_allowed_ports: Annotated[tuple[int, ...], NoDecode] = (80, 443)
    web_fetch_max_urls: int = Field(3, ge=0, le=10)
    web_fetch_max_extract_chars: int = Field(4000, ge=200, le=100_000)

    # -- envoy sidecar (read only by envoy/render.py, which renders Envoy's config)
    envoy_listen_host: str = "0.0.0.0"
    envoy_https_port: int = Field(8443, ge=0, le=65535)
    envoy_http_port: int = Field(8080, ge=0, le=65535)  # 0: no plain listener (never in production)
    envoy_admin_port: int = Field(9901, ge=0, le=65535)  # always bound to 127.0.0.1
    envoy_upstream_host: str = "127.0.0.1"
    envoy_upstream_port: int | None = Field(None, ge=1, le=65535)  # default: GRPC_PORT
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    web_root: Path = Path("web")
    # Envoy's field is a uint32: 2^32 and up rendered, and Envoy refused the config.
    envoy_max_request_bytes: int = Field(256 * 1024, ge=1024, le=4_294_967_295)
    envoy_unary_timeout_ms: int = Field(15000, ge=100, le=_ENVOY_MAX_MS)  # health, audit, …
    envoy_chat_timeout_ms: int = Field(150000, ge=100, le=_ENVOY_MAX_MS)  # unary Chat: an answer
    # StreamChat overall; 0 = unbounded
    envoy_stream_timeout_ms: int = Field(600000, ge=0, le=_ENVOY_MAX_MS)
    envoy_cors_max_age_s: int = Field(600, ge=0)
    # The whole request (headers and body) must arrive within this; disarmed once it
    # went upstream, so streamed answers are not limited by it (slow-body clients are).
    envoy_request_timeout_ms: int = Field(30000, ge=100, le=_ENVOY_MAX_MS)
    envoy_max_connections: int = Field(0, ge=0)  # 0: below RLIMIT_NOFILE only
    envoy_max_heap_mb: int = Field(0, ge=0, le=1_048_576)  # 0: no heap-pressure actions; ≤ 1 TiB
    # The Host (:authority) names the sidecar answers, any port; others get a 421
    # (a DNS-rebinding page would otherwise read the dev page's token). make run:
    # the loopback names; a pod: any, as kubelets and load balancers send its IP.
    envoy_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ("*",)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _UpperCaseEnvSource(settings_cls)

    _csv = field_validator(
        "allowed_origins",
        "redis_cluster_nodes",
        "provider_fallback_order",
        "web_fetch_allowed_ports",
        "audit_chain_previous_keys",
        "envoy_allowed_hosts",
        mode="before",
    )(_split_csv)

    @field_validator("envoy_allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:  # every request would be refused, with nothing said
            raise ValueError("no host listed (* for any)")
        hosts = tuple(dict.fromkeys(check_allowed_host(host) for host in value))
        if "*" in hosts and len(hosts) > 1:
            raise ValueError("* allows any host: list hosts, or * alone")
        return hosts

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # An entry that is not an origin as a browser sends it never matches: CORS
        # would fail for that page with nothing said anywhere.
        return tuple(check_origin(origin) for origin in value)

    @field_validator("grpc_host", "metrics_host")
    @classmethod
    def _grpc_host(cls, value: str) -> str:
        return check_listen_host(value) if value else value  # "": every address, as 0.0.0.0

    @field_validator("envoy_listen_host")
    @classmethod
    def _envoy_listen_host(cls, value: str) -> str:
        # Envoy binds only an address: a name (localhost) or [::] rendered fine and
        # crash-looped the sidecar ("malformed IP address").
        bracketed = value.startswith("[") and value.endswith("]")
        try:
            if bracketed:
                return str(ipaddress.IPv6Address(value[1:-1]))
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IP address (Envoy binds an address: 0.0.0.0, ::, 127.0.0.1)"
            ) from None

    @field_validator("envoy_upstream_host")
    @classmethod
    def _envoy_upstream_host(cls, value: str) -> str:
        # Rendered into a DNS cluster: a bad name, or an IPv6 address in brackets,
        # was found only at run time, as "no healthy upstream".
        return check_listen_host(value).removeprefix("[").removesuffix("]")

    @field_validator("node_env", "audit_storage_type", "audit_fsync", mode="before")
    @classmethod
    def _folded(cls, value: object) -> object:
        # As LOG_LEVEL: NODE_ENV=Production names a value, it is no typo to refuse.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("web_fetch_allowed_ports")
    @classmethod
    def _ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:  # "," or " ": every fetch would be refused, with nothing said
            raise ValueError("no port listed (unset means 80,443)")
        for port in value:
            if not 1 <= port <= 65535:
                raise ValueError(f"port {port} is out of range (1-65535)")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in {"debug", "info", "warn", "warning", "error"}:
            raise ValueError("must be one of debug, info, warn, error")
        return "warning" if level == "warn" else level

    @field_validator("jwt_expiry")
    @classmethod
    def _expiry(cls, value: str) -> str:
        if parse_duration_s(value) < 1:
            raise ValueError("must be at least 1 second: tokens would be minted expired")
        return value

    @field_validator("audit_fsync")
    @classmethod
    def _fsync(cls, value: str) -> str:
        if value not in {"always", "batch", "never"}:
            raise ValueError("must be one of always, batch, never")
        return value

    @field_validator("conversation_max_turns")
    @classmethod
    def _whole_exchanges(cls, value: int) -> int:
        # Trimmed to an odd count, history would start with an answer whose
        # question is gone (refused by providers that want the user first), and
        # with 1 the shield would never see the user's earlier turns.
        if not 2 <= value <= 1000 or value % 2:
            raise ValueError(
                "must be an even number from 2 to 1000 (a question and its answer are two "
                "turns, kept together)"
            )
        return value

    @field_validator("jwt_secret", "ack_secret", "audit_hmac_key", "audit_chain_key")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (problem := secret_problem(value.get_secret_value())):
            raise ValueError(problem)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value:
            return value
        url = _parsed(value)  # not quoted back: it may hold a password
        hostless = url is None or not url.hostname
        if _userinfo_cut_short(value, query_too=hostless):
            raise ValueError(_PASSWORD_CUT)
        if url is None:
            raise ValueError("does not parse as a URL (check the port)")
        if url.scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        if url.scheme != "unix" and not url.hostname:
            raise ValueError("names no host (redis://host:6379/0)")
        if url.scheme == "unix" and not url.path:
            raise ValueError("names no socket path (unix:///path/to/redis.sock)")
        if url.scheme != "unix" and not _DB_PATH.fullmatch(unquote(url.path)):
            raise ValueError("the path is not a database number (redis://host:6379/0)")
        # What else redis-py refuses (query options) check_store_settings finds, and a
        # database past the server's count RedisStore.ping: config imports no redis.
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # libpq would take the user name for the host and the password's start for
        # the port, and the audit would spill for ever; key=value strings have no '://'.
        if _userinfo_cut_short(value):
            raise ValueError(_PASSWORD_CUT)
        return value

    @field_validator("redis_cluster_nodes")
    @classmethod
    def _cluster_nodes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for node in value:
            host, _, port = node.rpartition(":")
            if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError(f"{node!r} is not host:port")
        return value

    @field_validator(
        "openai_base_url", "gemini_base_url", "anthropic_base_url", "openai_compat_base_url"
    )
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value:
            return value
        url = _parsed(value)
        if url is None or url.scheme not in {"http", "https"} or not url.hostname:
            raise ValueError(f"{shown_url(value)!r} is not an http:// or https:// URL")
        if url.query or url.fragment or value.endswith(("?", "#")):
            # Each request's path goes after the base URL's path: a query (Azure's
            # ?api-version=) would be sent as part of it, or refused at every call.
            # Not quoted: a query may hold a key.
            raise ValueError(
                "a base URL cannot have a query (?...) or fragment (#...): "
                "give the scheme, host and path only"
            )
        return value

    @field_validator("gemini_model")
    @classmethod
    def _gemini_model(cls, value: str) -> str:
        # As options.model is checked: Gemini's model is part of the upstream URL's
        # path, where "." and ".." segments would move the request.
        if value and not MODEL_ID.fullmatch(value):
            raise ValueError(f"{value[:60]!r}: {MODEL_ID_RULE}")
        return value

    @field_validator("openai_model", "anthropic_model", "openai_compat_model")
    @classmethod
    def _model(cls, value: str) -> str:
        # These go in the request body, so any name a server gives its model will
        # do (vLLM's is its --model path by default: /models/Meta-Llama-3-8B-Instruct);
        # only what would spoil audit records and metric labels is refused.
        if len(value) > _MODEL_NAME_CHARS or any(
            unicodedata.category(c) in _MODEL_NAME_REFUSED for c in value
        ):
            raise ValueError(
                f"{value[:60]!r}: use up to {_MODEL_NAME_CHARS} characters, with no spaces,"
                " control, format (bidi, zero-width) or surrogate characters"
            )
        return value

    @field_validator("audit_chain_previous_keys")
    @classmethod
    def _previous_keys(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for i, key in enumerate(value, 1):
            if problem := secret_problem(key.get_secret_value()):
                raise ValueError(f"key {i}: {problem}")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if self.require_auth and self.jwt_secret is None:
            raise ValueError("JWT_SECRET: required when REQUIRE_AUTH=true")
        if self.node_env is Environment.PRODUCTION and self.workers > 1 and not self.shared_store:
            raise ValueError(
                "WORKERS: more than one worker needs REDIS_URL or REDIS_CLUSTER_NODES in "
                "production; without it limits, leases, ack nonces and conversations "
                "are per worker"
            )
        if self.node_env is Environment.PRODUCTION and (placeholder := _placeholder_in(self)):
            raise ValueError(
                f"{placeholder}: the example's placeholder, refused when "
                "NODE_ENV=production (use e.g. openssl rand -base64 48)"
            )
        if self.mock_script_file is not None and self.node_env is Environment.PRODUCTION:
            raise ValueError("MOCK_SCRIPT_FILE: test-only, refused when NODE_ENV=production")
        if self.audit_storage_type is AuditStorage.DATABASE and not self.database_url:
            raise ValueError("DATABASE_URL: required when AUDIT_STORAGE_TYPE=database")
        if problem := _never_right(self):
            raise ValueError(problem)
        both = (self.web_fetch_validate_certs, self.validate_certs)
        if None not in both and both[0] != both[1]:
            raise ValueError("WEB_FETCH_VALIDATE_CERTS and VALIDATE_CERTS disagree; set one")
        return self

    @property
    def fetch_validates_certs(self) -> bool:
        """WEB_FETCH_VALIDATE_CERTS (or VALIDATE_CERTS); true unless one says false."""
        for value in (self.web_fetch_validate_certs, self.validate_certs):
            if value is not None:
                return value
        return True

    @property
    def jwt_expiry_s(self) -> int:
        return parse_duration_s(self.jwt_expiry)

    @property
    def stream_keepalive_s(self) -> float:
        """How long a StreamChat or an audit watch may send nothing before it sends
        a keepalive.

        Envoy resets a stream silent for STREAM_IDLE_TIMEOUT_MS + 5 s, even while the
        provider is writing text the output check still holds. Half the idle timeout
        stays well inside that; at most 15 s, for proxies further out (often 60 s);
        at least 0.25 s, so a tiny idle timeout does not turn into a flood."""
        return min(max(self.stream_idle_timeout_ms / 2000, 0.25), 15.0)

    @property
    def shared_store(self) -> bool:
        """State lives in Redis (one server or a cluster), shared by every process."""
        return bool(self.redis_url or self.redis_cluster_nodes)

    @property
    def is_production(self) -> bool:
        return self.node_env is Environment.PRODUCTION


# Markers of the placeholder secrets in the guide, .env.example and
# kubernetes/secret.example.yaml: copied unchanged, they are public knowledge.
_PLACEHOLDER_MARKERS = (
    "replace_me",
    "replace-me",
    "replace-with",
    "your-unique-secret",
    "changeme",
)


def _placeholder_in(s: Settings) -> str | None:
    """Which secret (``AUDIT_CHAIN_PREVIOUS_KEYS: key 2``) is a placeholder, or None."""
    named: list[tuple[str, SecretStr | None]] = [
        (name.upper(), getattr(s, name))
        for name in ("jwt_secret", "ack_secret", "audit_hmac_key", "audit_chain_key")
    ]
    # A retired key verifies records: a public one would vouch for forged ones.
    named += [
        (f"AUDIT_CHAIN_PREVIOUS_KEYS: key {i}", key)
        for i, key in enumerate(s.audit_chain_previous_keys, 1)
    ]
    for name, secret in named:
        if secret is not None and _is_placeholder(secret.get_secret_value()):
            return name
    return None


def _never_right(s: Settings) -> str | None:
    """A pair of values each fine alone that can never work together."""
    if s.grpc_port and s.grpc_port == s.metrics_port:
        return f"METRICS_PORT: the same port as GRPC_PORT ({s.grpc_port})"
    if s.redis_reconnect_min_backoff_ms > s.redis_reconnect_max_backoff_ms:
        return (
            "REDIS_RECONNECT_MIN_BACKOFF_MS: larger than REDIS_RECONNECT_MAX_BACKOFF_MS "
            f"({s.redis_reconnect_min_backoff_ms} > {s.redis_reconnect_max_backoff_ms})"
        )
    if s.provider_connect_timeout_ms > s.provider_total_timeout_ms:
        return (
            "PROVIDER_CONNECT_TIMEOUT_MS: longer than PROVIDER_TOTAL_TIMEOUT_MS "
            f"({s.provider_connect_timeout_ms} > {s.provider_total_timeout_ms})"
        )
    if s.web_fetch_connect_timeout_ms > s.web_fetch_total_timeout_ms:
        return (
            "WEB_FETCH_CONNECT_TIMEOUT_MS: longer than WEB_FETCH_TOTAL_TIMEOUT_MS "
            f"({s.web_fetch_connect_timeout_ms} > {s.web_fetch_total_timeout_ms})"
        )
    return None


def _parsed(value: str) -> SplitResult | None:
    """``value`` split as a URL, or None where even that fails (a bad port, say)."""
    try:
        url = urlsplit(value)
        _ = url.port  # raises on a port that is not a number in range
    except ValueError:
        return None
    return url


_SECRET_MIN_CHARS = 32
# Random hex of 32 characters holds fewer than 8 distinct ones about once in 10^8
# draws; base64 even less often. A key with fewer was typed, not generated.
_SECRET_MIN_DISTINCT = 8


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is unfit to key anything (tokens, acks, pseudonyms, the
    audit chain), or None. Never quotes the secret."""
    if len(secret) < _SECRET_MIN_CHARS:
        return f"must be at least {_SECRET_MIN_CHARS} characters"
    if not secret.strip():
        return "is blank (only whitespace): an empty template substitution?"
    if secret != secret.strip():
        return "begins or ends with whitespace: a padded template substitution or a file's newline?"
    distinct = len(set(secret))
    if distinct < _SECRET_MIN_DISTINCT:
        return (
            f"only {distinct} distinct characters, at least {_SECRET_MIN_DISTINCT} wanted: "
            "not a random key (use e.g. openssl rand -hex 32)"
        )
    return None


_PASSWORD_CUT = (
    "the password holds a '/' (or '?', '#'), which ends a URL's host part: URL-encode "
    "it ('/' as %2F) or use a URL-safe one (openssl rand -hex 32)"
)


def _userinfo_cut_short(value: str, *, query_too: bool = False) -> bool:
    """``scheme://user:pass@host/…`` with a '/' in the password: URL parsers end the
    host part there, so the '@' and the real host land in the path (most base64
    passwords hold a '/'). A '@' in the query (``?user=a@b``) is one only with
    ``query_too`` (for a URL that found no host: '?' or '#' in its password)."""
    _, sep, rest = value.partition("://")
    scanned = rest if query_too else re.split(r"[?#]", rest, maxsplit=1)[0]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return bool(sep) and "@" not in authority and "@" in scanned


def _is_placeholder(secret: str) -> bool:
    folded = secret.casefold()
    return any(marker in folded for marker in _PLACEHOLDER_MARKERS)


# A numeric bound (Field ge/le/gt/lt) broken, said as the other refusals say theirs
# rather than in pydantic's words ("Input should be greater than or equal to 100").
_BOUNDS = {
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}",
}


def _bound_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _first_error_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if (bound := _BOUNDS.get(err.get("type", ""))) is not None:
        # As operations.md's rows state it: "at least 0", not pydantic's 0.0 for a float.
        msg = bound.format(**{k: _bound_number(v) for k, v in err.get("ctx", {}).items()})
    if not loc:  # model-level validators name the variable themselves
        return f"invalid configuration: {msg}"
    name = loc[0].upper()
    return f"invalid configuration: {name}: {msg}"


# Names other programs read that share a prefix with ours: gRPC's core (GRPC_TRACE,
# GRPC_VERBOSITY, …), Node's (NODE_OPTIONS, NODE_EXTRA_CA_CERTS, …), the REDIS_PASSWORD
# docker-compose.yml builds REDIS_URL from (its .env reaches the container too), and
# Kubernetes service links (REDIS_PORT, NOVAOS_SERVICE_HOST, …). Named only when
# they are a near miss of one of ours (GRPC_PROT).
_NOT_OURS = re.compile(r"(GRPC|NODE)_.*|REDIS_PASSWORD|.+_SERVICE_(HOST|PORT.*)|.+_PORT(_.+)?")
# Other programs' names never named, however alike one of ours (SSL_CERT_FILE,
# OpenSSL's, is a near miss of TLS_CERT_FILE): the shell's, the locale's, Python's,
# Kubernetes', proxies', libpq's, the dynamic loader's.
_FOREIGN = re.compile(
    r"PATH|HOME|USER|SHELL|TERM|LANG|LANGUAGE|PWD|OLDPWD|HOSTNAME|TZ|SHLVL|LC_.+|PYTHON.*"
    r"|KUBERNETES_.+|SSL_.+|(HTTPS?|NO|ALL)_PROXY|PG[A-Z]+|LD_.+|PIP_.+|XDG_.+|SSH_.+"
)
_NEAR_MISS = 0.85
_SUGGESTED = 0.7  # difflib's ratio: REDIS_ULR/REDIS_URL 0.89, AUDIT_STORAGE/_TYPE 0.84


def unknown_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """Variables in ``env`` (default: the process environment) that look meant for
    NovaOS but name no setting, which the settings ignore without a word: those
    sharing a setting's prefix (``REDIS_``, ``AUDIT_``, ``RATE_``, …), and any other
    whose whole name is a near miss of a setting's (``LOGLEVEL``, ``METRIC_PORT``,
    ``CONCURENCY_LIMIT_FREE``). Each as ``NAME``, or ``NAME (did you mean KNOWN?)``
    for the closest setting."""
    known = [(field.alias or name).upper() for name, field in Settings.model_fields.items()]
    prefixes = {name.split("_", 1)[0] for name in known if "_" in name}
    found = []
    for name in sorted(os.environ if env is None else env):
        upper = name.upper()
        if upper in known or _FOREIGN.fullmatch(upper):
            continue
        if "_" in upper and upper.split("_", 1)[0] in prefixes:
            # Only a setting of the same family is suggested: REDIS_HOST is no
            # METRICS_HOST, however alike the letters.
            family = [k for k in known if k.split("_", 1)[0] == upper.split("_", 1)[0]]
            close = difflib.get_close_matches(upper, family, n=1, cutoff=_SUGGESTED)
        else:
            # Its first word misspelt, or its underscores: only a near miss is named.
            close = difflib.get_close_matches(upper, known, n=1, cutoff=_NEAR_MISS)
            if not close:
                continue
        near = close and difflib.SequenceMatcher(None, upper, close[0]).ratio() >= _NEAR_MISS
        if _NOT_OURS.fullmatch(upper) and not near:
            continue
        found.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return found


def process_environment() -> dict[str, str]:
    """The environment handed to worker processes (the supervisor's own)."""
    return dict(os.environ)


def _other_case(env: Mapping[str, str]) -> str | None:
    """The refusal of a setting's name spelt in another case (``require_auth``), or None."""
    known = {(field.alias or name).upper() for name, field in Settings.model_fields.items()}
    for name in sorted(env):
        if name != name.upper() and name.upper() in known and env[name] != "":
            # Refused, not ignored: it was read until names became case-sensitive, and
            # ignored, REQUIRE_AUTH or JWT_AUDIENCE would quietly say something else.
            return (
                f"invalid configuration: {name}: variable names are upper-case; "
                f"set {name.upper()} instead"
            )
    return None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment)."""
    if problem := _other_case(os.environ if env is None else env):
        raise ConfigError(problem)
    try:
        if env is None:
            return Settings()
        named = _upper_case(env)
        return Settings.model_validate({k.lower(): v for k, v in named.items()} | named)
    except ValidationError as exc:
        raise ConfigError(_first_error_line(exc)) from exc
