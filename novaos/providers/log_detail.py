"""What the ``provider call failed`` log line says of the provider's answer.

A provider's error message may quote the request (a validation error repeating
the messages, a proxy echoing the body, a fake's 401 that repeats the prompt).
Logged verbatim it carried the user's prompt into the logs, which the audit keeps
out by default (``AUDIT_INCLUDE_CONTENT=false``) and which ``REDACT_PII`` only
thins. The line now carries the status and the provider's error type and code;
of the message, only ``DETAIL_CHARS``, every run of it that repeats the request's
text replaced and PII redacted whatever ``REDACT_PII`` says. The gateway's own
secrets are already gone from it: the router scrubs every provider error first
(``ProviderError.scrub``).
"""

from __future__ import annotations

import json

from novaos.ports import ProviderRequest
from novaos.redaction import redact

DETAIL_CHARS = 120
# A run of the message this long found in one of the request's texts is a quote of
# it. Shorter echoes go unnoticed: ordinary words would match too.
ECHO_CHARS = 12
ECHO_MARK = "[REDACTED:prompt]"


def log_detail(message: str, request: ProviderRequest) -> str:
    text = redact(_without_echoes(message, _request_texts(request)))
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


# The request text searched for echoes, newest message first: every window of the
# message is looked for in it, so a long history (tens of 32k-character turns) made
# one failed call's log line cost the event loop ~0.4 s, in an outage for every call.
ECHO_SCOPE_CHARS = 64_000


def _request_texts(request: ProviderRequest) -> list[str]:
    """The newest messages (``ECHO_SCOPE_CHARS`` in all) as sent, and as they read
    once JSON-escaped (a body quoted whole)."""
    texts: set[str] = set()
    left = ECHO_SCOPE_CHARS
    for m in reversed(request.messages):
        if left <= 0:
            break
        content = m.content[:left]
        left -= len(content)
        for form in (
            content,
            json.dumps(content)[1:-1],
            json.dumps(content, ensure_ascii=False)[1:-1],
        ):
            if len(form) >= ECHO_CHARS:
                texts.add(form)
    return list(texts)


def _without_echoes(message: str, texts: list[str]) -> str:
    quoted = [False] * len(message)
    for start in range(len(message) - ECHO_CHARS + 1):
        window = message[start : start + ECHO_CHARS]
        if any(window in text for text in texts):
            quoted[start : start + ECHO_CHARS] = [True] * ECHO_CHARS
    out: list[str] = []
    for char, cut in zip(message, quoted, strict=True):
        if not cut:
            out.append(char)
        elif not out or out[-1] != ECHO_MARK:
            out.append(ECHO_MARK)
    return "".join(out)
