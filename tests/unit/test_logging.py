"""JSON log lines in the guide's format; LOG_LEVEL and REDACT_PII honoured."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from generated.novaos.v1 import audit_pb2
from novaos import audit_client
from novaos.config import load_settings
from novaos.observability.logging import (
    QUIET_LOGGERS,
    JsonFormatter,
    bind_request_id,
    configure_logging,
    log_request,
    unbind_request_id,
)
from novaos.redaction import Pseudonymizer
from novaos.tasks import detached

SECRET = "logging-secret-0123456789abcdefghijklm"


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, list[logging.Handler]]]:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    stream = io.StringIO()
    installed: list[logging.Handler] = []
    yield stream, installed
    for handler in installed:
        root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_request_line_has_the_guide_fields(captured) -> None:
    stream, installed = captured
    settings = load_settings({"JWT_SECRET": SECRET, "REDACT_PII": "true", "LOG_LEVEL": "info"})
    installed.append(configure_logging(settings, stream=stream))
    log_request(
        logging.getLogger("novaos.services.chat"),
        request_id="req_abc123",
        user_id="usr_xyz",
        duration_ms=245.4,
        stance="lens",
        gates_executed=["intent", "shield", "lens"],
        outcome="completed",
    )
    (line,) = _lines(stream)
    assert list(line) == [
        "timestamp", "level", "requestId", "userId", "component", "message",
        "duration", "stance", "gatesExecuted", "outcome",
    ]  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(line["timestamp"]))
    assert line["level"] == "info" and line["component"] == "pipeline"
    assert line["requestId"] == "req_abc123" and line["message"] == "Request processed"
    assert line["userId"] == Pseudonymizer(SECRET.encode())("usr_xyz") != "usr_xyz"
    assert line["duration"] == 245 and line["stance"] == "lens"
    assert line["gatesExecuted"] == ["intent", "shield", "lens"]


def test_level_and_redaction_are_honoured(captured) -> None:
    stream, installed = captured
    settings = load_settings({"JWT_SECRET": SECRET, "REDACT_PII": "true", "LOG_LEVEL": "warn"})
    installed.append(configure_logging(settings, stream=stream))
    log = logging.getLogger("novaos.storage.redis")
    log.info("not shown")
    log.warning("redis down for jo@example.com at 10.0.0.7")
    (line,) = _lines(stream)
    assert line["level"] == "warn" and line["component"] == "storage"
    assert line["message"] == "redis down for [REDACTED:email] at [REDACTED:ipv4]"


def test_without_redaction_user_ids_stay(captured) -> None:
    stream, installed = captured
    settings = load_settings({"JWT_SECRET": SECRET, "REDACT_PII": "false", "LOG_LEVEL": "debug"})
    installed.append(configure_logging(settings, stream=stream))
    logging.getLogger("novaos.x").debug("mail jo@example.com", extra={"userId": "usr_1"})
    (line,) = _lines(stream)
    assert line["userId"] == "usr_1" and line["message"] == "mail jo@example.com"
    assert line["level"] == "debug"


def test_line_breakers_and_terminal_controls_are_escaped_and_text_stays_readable(
    captured,
) -> None:
    # With REDACT_PII=false a signed token's sub reached the line raw: U+2028 and
    # U+0085 split it for a viewer or str.splitlines (a forged line after them), and
    # U+009B is a terminal's CSI.
    stream, installed = captured
    settings = load_settings({"JWT_SECRET": SECRET, "REDACT_PII": "false", "LOG_LEVEL": "info"})
    installed.append(configure_logging(settings, stream=stream))
    forged = 'eve\u2028{"level":"error","message":"FORGED"}\u2029mal\x85lory\x9b32m\u202eexe'
    logging.getLogger("novaos.x").info("café 日本 ünïcode %s", forged, extra={"userId": forged})
    text = stream.getvalue()
    assert len(text.splitlines()) == 1, text
    for raw in ("\u2028", "\u2029", "\x85", "\x9b", "\u202e"):
        assert raw not in text
    assert "\\u2028" in text and "\\u0085" in text and "\\u009b" in text
    assert "café 日本 ünïcode" in text  # written as itself, not \u escapes
    (line,) = _lines(stream)
    assert line["userId"] == forged and line["message"] == f"café 日本 ünïcode {forged}"


def test_the_log_and_novaos_audit_escape_the_same_characters() -> None:
    # Two sets: the audit client's left U+2028 and the bidi overrides raw on the
    # operator's terminal, the log's DEL.
    everything = "".join(map(chr, [*range(0x7F, 0xA0), 0x2028, 0x2029, 0x202E, 0x2066, 0xD800]))
    kept = "café 日本 \u200c\u200e"  # text, a joiner and a mark stay as they are
    formatted = JsonFormatter(redact_pii=False).format(
        logging.LogRecord("novaos.x", logging.INFO, __file__, 1, everything + kept, None, None)
    )
    line = audit_client._line(
        audit_pb2.AuditEvent(canonical_json=json.dumps({"prompt": everything + kept}), hash="h")
    )
    for text in (formatted, line):
        assert not set(everything) & set(text), text
        assert kept in text
    assert json.loads(line)["prompt"] == everything + kept


def test_configure_twice_keeps_one_handler(captured) -> None:
    stream, installed = captured
    settings = load_settings({"JWT_SECRET": SECRET})
    installed.append(configure_logging(settings, stream=stream))
    installed.append(configure_logging(settings, stream=stream))
    logging.getLogger("novaos.y").warning("once")
    assert len(_lines(stream)) == 1


class _Collected:
    def __init__(self) -> None:
        self.summaries: list[object] = []

    async def record(self, summary: object) -> None:
        self.summaries.append(summary)


async def test_request_logger_logs_one_line_and_forwards(captured) -> None:
    from novaos.observability.logging import RequestLogger
    from tests.fixtures.audit_data import summary

    stream, installed = captured
    settings = load_settings({"JWT_SECRET": SECRET, "REDACT_PII": "true", "LOG_LEVEL": "info"})
    installed.append(configure_logging(settings, stream=stream))
    inner = _Collected()
    one = summary(1)
    await RequestLogger(inner).record(one)  # type: ignore[arg-type]
    assert inner.summaries == [one]
    (line,) = _lines(stream)
    assert line["requestId"] == "req-00001" and line["gatesExecuted"] == ["intent", "shield"]
    assert line["outcome"] == one.outcome and line["stance"] == one.stance
    assert line["userId"] != "user-1"


class _Refusing:
    async def record(self, summary: object) -> None:
        from novaos.errors import AuditNotStoredError

        raise AuditNotStoredError("audit record not stored: sink and spill both failed")


@pytest.mark.parametrize(
    ("recorded", "logged"), [("completed", "failed"), ("cancelled", "cancelled")]
)
async def test_request_line_says_what_the_caller_got_when_the_audit_refused(
    captured, recorded: str, logged: str
) -> None:
    """AUDIT_STORE_BEFORE_REPLY: an answer whose record was not stored reaches
    its caller as UNAVAILABLE, so its line must not say ``completed``; a call
    cancelled before any answer stays ``cancelled``."""
    from novaos.errors import AuditNotStoredError
    from novaos.observability.logging import RequestLogger
    from tests.fixtures.audit_data import summary

    stream, installed = captured
    settings = load_settings({"JWT_SECRET": SECRET, "LOG_LEVEL": "info"})
    installed.append(configure_logging(settings, stream=stream))
    with pytest.raises(AuditNotStoredError):
        await RequestLogger(_Refusing()).record(summary(2, outcome=recorded))  # type: ignore[arg-type]
    (line,) = _lines(stream)
    assert line["outcome"] == logged and line["error"] == "AUDIT_NOT_STORED"
    assert line["requestId"] == "req-00002"


async def test_request_line_has_no_error_field_when_the_record_is_kept(captured) -> None:
    from novaos.observability.logging import RequestLogger
    from tests.fixtures.audit_data import summary

    stream, installed = captured
    settings = load_settings({"JWT_SECRET": SECRET, "LOG_LEVEL": "info"})
    installed.append(configure_logging(settings, stream=stream))
    await RequestLogger(_Collected()).record(summary(3, outcome="completed"))  # type: ignore[arg-type]
    (line,) = _lines(stream)
    assert "error" not in line and line["outcome"] == "completed"


def test_other_extra_fields_are_kept_and_scrubbed(captured) -> None:
    stream, installed = captured
    settings = load_settings({"JWT_SECRET": SECRET, "LOG_LEVEL": "info"})
    installed.append(configure_logging(settings, stream=stream))
    logging.getLogger("novaos.app").info(
        "listening", extra={"component": "server", "port": 50051, "peer": "jo@example.com"}
    )
    (line,) = _lines(stream)
    assert line["component"] == "server" and line["port"] == 50051
    assert line["peer"] == "[REDACTED:email]"


async def test_http_clients_do_not_log_each_request_url(captured) -> None:
    # httpx logged "HTTP Request: GET <the user's URL>" at info, with no request id.
    stream, installed = captured
    settings = load_settings({"REQUIRE_AUTH": "false", "LOG_LEVEL": "debug"})
    installed.append(configure_logging(settings, stream=stream))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://user-supplied.example/private?q=secret")
    logging.getLogger("httpx").warning("client trouble")
    logging.getLogger("novaos.webfetch").debug("our own debug line")
    assert "user-supplied" not in stream.getvalue()
    assert [line["message"] for line in _lines(stream)] == ["client trouble", "our own debug line"]


@pytest.mark.parametrize(
    ("level", "own", "quiet"),
    [
        ("error", ["error"], ["error"]),
        ("warn", ["warning", "error"], ["warning", "error"]),
        ("info", ["info", "warning", "error"], ["warning", "error"]),
        ("debug", ["info", "warning", "error"], ["warning", "error"]),
    ],
)
def test_library_loggers_log_warnings_only_where_log_level_lets_them(
    captured, level: str, own: list[str], quiet: list[str]
) -> None:
    # Held at warning whatever LOG_LEVEL said, they wrote their warnings at
    # LOG_LEVEL=error too (asyncio's "socket.send() raised exception."), when
    # NovaOS's own warnings were dropped.
    stream, installed = captured
    settings = load_settings({"REQUIRE_AUTH": "false", "LOG_LEVEL": level})
    installed.append(configure_logging(settings, stream=stream))
    for name in ("novaos.providers", *QUIET_LOGGERS):
        logging.getLogger(name).info(f"{name} info")
        logging.getLogger(name).warning(f"{name} warning")
        logging.getLogger(name).error(f"{name} error")
    shown = [line["message"] for line in _lines(stream)]
    assert shown == [f"novaos.providers {m}" for m in own] + [
        f"{name} {m}" for name in QUIET_LOGGERS for m in quiet
    ]


async def test_a_task_for_the_process_does_not_log_the_request_that_started_it(captured) -> None:
    # A reconnect loop a request happened to start logs for the process later on:
    # naming that request would send whoever greps its id the wrong way.
    stream, installed = captured
    installed.append(configure_logging(load_settings({"JWT_SECRET": SECRET}), stream=stream))
    log = logging.getLogger("novaos.storage")

    async def warn(message: str) -> None:
        log.warning(message)

    token = bind_request_id("req_started_it")
    try:
        await asyncio.create_task(warn("for the request"))
        await detached(warn("for the process"))
    finally:
        unbind_request_id(token)
    log.warning("after the request")
    lines = {str(line["message"]): line for line in _lines(stream)}
    assert lines["for the request"]["requestId"] == "req_started_it"
    assert "requestId" not in lines["for the process"]
    assert "requestId" not in lines["after the request"]
