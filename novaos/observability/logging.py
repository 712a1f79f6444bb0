"""JSON log lines in the guide's format, on stdlib ``logging``.

One object per line: ``timestamp``, ``level``, ``requestId``, ``userId``,
``component``, ``message``, ``duration``, ``stance``, ``gatesExecuted`` (the
request fields appear when the call passes them as ``extra``; ``requestId`` also
on any line logged while a call is served, see ``bind_request_id``). With
REDACT_PII=true the user id becomes the same keyed pseudonym the audit log
uses, and PII in messages and tracebacks is redacted. A worker process under
the supervisor (WORKERS > 1) adds ``worker`` (its ``NOVAOS_WORKER_INDEX``) to
every line: the workers share one stderr, and breakers, fallbacks and readiness
are each worker's own. Text stays readable (non-ASCII written as itself), but
what a log viewer or a terminal would act on is escaped (``\\u2028``): see
``novaos.terminal.escape_in_json``, which ``novaos audit`` uses too.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import secrets
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from novaos.config import Settings
from novaos.domain import Outcome, gates_run
from novaos.errors import AuditNotStoredError
from novaos.ports import AuditLog, RequestSummary
from novaos.redaction import Pseudonymizer, pseudonym_secret, redact
from novaos.terminal import escape_in_json

# Request fields a caller may pass in ``extra``, in output order.
REQUEST_FIELDS = (
    "requestId",
    "userId",
    "duration",
    "stance",
    "gatesExecuted",
    "outcome",
    "error",
)
_LEVELS = {"WARNING": "warn", "CRITICAL": "fatal"}
# Attributes every LogRecord has; anything else came from ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "component",
}
_HANDLER_MARK = "_novaos_json"

# Libraries kept at warning whatever LOG_LEVEL says. The HTTP clients log every
# request's full URL at info/debug level, with no request id: user-supplied URLs
# (web fetch) would reach the log. grpc logs "[_cygrpc] Loaded running loop" at
# debug for about every call and asyncio its selector: at LOG_LEVEL=debug they
# outnumbered NovaOS's own lines several times over.
QUIET_LOGGERS = ("httpx", "httpcore", "grpc", "asyncio")
# The id of the request the running code serves. Transport binds it for each
# call, so what is logged below it (providers, limits, gates, the tasks the call
# starts) carries ``requestId`` without each layer passing the id to its logger;
# nothing but this module reads it. A line's own ``requestId`` (extra) wins.
_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("novaos_log_request_id")


def bind_request_id(request_id: str) -> contextvars.Token[str]:
    return _REQUEST_ID.set(request_id)


def unbind_request_id(token: contextvars.Token[str]) -> None:
    # A stream's generator that gRPC dropped is closed in a task of its own, whose
    # context is not the call's: nothing to restore there (as transport.context).
    with contextlib.suppress(ValueError):
        _REQUEST_ID.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(
        self,
        *,
        redact_pii: bool,
        pseudonymize: Pseudonymizer | None = None,
        worker: int | None = None,
    ) -> None:
        super().__init__()
        self._redact_pii = redact_pii
        self._pseudonymize = pseudonymize or Pseudonymizer(secrets.token_bytes(32))
        self._worker = worker  # None: a process of its own (WORKERS=1, the supervisor)

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "timestamp": created.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{created.microsecond // 1000:03d}Z",
            "level": _LEVELS.get(record.levelname, record.levelname.lower()),
        }
        fields = record.__dict__
        if request_id := fields.get("requestId") or _REQUEST_ID.get(""):
            entry["requestId"] = str(request_id)
        if fields.get("userId"):
            entry["userId"] = self._scrub_field("userId", str(fields["userId"]))
        entry["component"] = str(fields.get("component") or _component(record.name))
        entry["message"] = self._scrub(record.getMessage())
        for name in REQUEST_FIELDS[2:]:
            if name in fields:
                entry[name] = fields[name]
        if self._worker is not None:
            entry["worker"] = self._worker
        for name, value in fields.items():  # other ``extra`` fields, e.g. port
            if name not in _STANDARD and name not in entry:
                entry[name] = self._scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = self._scrub(self.formatException(record.exc_info))
        # Written raw (ensure_ascii=False keeps text readable), a caller's token
        # (`sub`, with REDACT_PII=false) or a provider's message could split the line
        # (U+0085, U+2028: a forged line after it), or reach a terminal's CSI (U+009B):
        # escaped inside their JSON strings, they read back the same.
        return escape_in_json(json.dumps(entry, ensure_ascii=False, default=str))

    def _scrub_field(self, name: str, value: str) -> str:
        if name == "userId" and self._redact_pii:
            return self._pseudonymize(value)
        return value

    def _scrub(self, text: str) -> str:
        return redact(text) if self._redact_pii else text


def _component(logger_name: str) -> str:
    """``novaos.pipeline.gates.shield`` -> ``pipeline``."""
    parts = logger_name.split(".")
    if parts[0] == "novaos" and len(parts) > 1:
        return parts[1]
    return parts[0] or "root"


def configure_logging(
    settings: Settings, *, stream: TextIO | None = None, worker: bool = False
) -> logging.Handler:
    """Install the JSON handler on the root logger at LOG_LEVEL (idempotent);
    ``QUIET_LOGGERS`` at LOG_LEVEL but never below warning.
    ``worker``: this is one of the supervisor's workers, so lines name it."""
    key = pseudonym_secret(settings) or secrets.token_bytes(32)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            redact_pii=settings.redact_pii,
            pseudonymize=Pseudonymizer(key),
            worker=settings.novaos_worker_index if worker else None,
        )
    )
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # Propagated lines skip the root logger's level: at LOG_LEVEL=error these would
    # write their warnings, which NovaOS's own loggers drop.
    quiet = max(logging.WARNING, root.level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    return handler


def log_request(
    logger: logging.Logger,
    *,
    request_id: str,
    user_id: str,
    duration_ms: float,
    stance: str,
    gates_executed: Sequence[str],
    outcome: str,
    message: str = "Request processed",
    error: str | None = None,
) -> None:
    """The one info line per request; ``error`` is a reason code, set only when
    the request's audit record could not be stored before the reply."""
    extra: dict[str, object] = {
        "component": "pipeline",
        "requestId": request_id,
        "userId": user_id,
        "duration": round(duration_ms),
        "stance": stance,
        "gatesExecuted": list(gates_executed),
        "outcome": outcome,
    }
    if error is not None:
        extra["error"] = error
    logger.info(message, extra=extra)


class RequestLogger:
    """The ``AuditLog`` port wrapped so every finished request also logs its
    one info line (and counts its outcome, ``outcomes``); the chat service needs
    no logging code of its own."""

    def __init__(
        self,
        inner: AuditLog,
        logger: logging.Logger | None = None,
        *,
        outcomes: Callable[[str], None] | None = None,
    ) -> None:
        self._inner = inner
        self._logger = logger or logging.getLogger("novaos.requests")
        self._outcomes = outcomes

    async def record(self, summary: RequestSummary) -> None:
        outcome, error = summary.outcome, None
        try:
            await self._inner.record(summary)
        except AuditNotStoredError as exc:
            # AUDIT_STORE_BEFORE_REPLY: the caller gets UNAVAILABLE in place of
            # the answer, so the line says so, though the record may still be
            # written later with the answer's outcome. A call that had no answer
            # keeps its own error or cancel.
            if outcome != Outcome.CANCELLED:
                outcome = Outcome.FAILED.value
            error = exc.reason
            raise
        finally:
            log_request(
                self._logger,
                request_id=summary.request_id,
                user_id=summary.user_id,
                duration_ms=summary.duration_ms,
                stance=summary.stance,
                gates_executed=gates_run(g.gate for g in summary.gates),
                outcome=outcome,
                error=error,
            )
            if self._outcomes is not None:
                self._outcomes(outcome)
