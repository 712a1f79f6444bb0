"""Parse how long a 429 asks us to wait (``retry-after-ms``, ``retry-after``,
or a ``google.rpc.RetryInfo`` in the error body, as Gemini sends it)."""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)s\s*$")  # google.protobuf.Duration in JSON

_MAX_WAIT_S = 3600.0  # a broken header must not bench a provider for days


def parse_retry_after(headers: Mapping[str, str], *, now_unix: float | None = None) -> float | None:
    """Seconds to wait, or None when the response does not say.

    ``retry-after`` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3);
    some providers add a more precise ``retry-after-ms``.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return _clamp(float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return _clamp(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now_unix is None else now_unix
    return _clamp(when.timestamp() - now)


# OpenAI's x-ratelimit-reset-requests / -tokens: "1s", "6m0s", "20ms", "1h2m3.5s".
_GO_DURATION = re.compile(
    r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$"
)
# When a 429 names no wait at all: long enough not to hammer a provider that is
# throttling us, short enough to try it again soon.
DEFAULT_RATE_LIMIT_WAIT_S = 2.0


def parse_rate_limit_reset(headers: Mapping[str, str]) -> float | None:
    """The longest of OpenAI's ``x-ratelimit-reset-requests`` / ``-tokens``, or None."""
    waits = []
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        match = _GO_DURATION.match((headers.get(name) or "").strip())
        if match and any(match.groups()):
            h, m, sec, ms = (float(g) if g else 0.0 for g in match.groups())
            waits.append(h * 3600 + m * 60 + sec + ms / 1000)
    return _clamp(max(waits)) if waits else None


def _clamp(seconds: float) -> float | None:
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_WAIT_S)


def retry_delay_in_body(body: bytes) -> float | None:
    """The ``retryDelay`` of a ``google.rpc.RetryInfo`` among the error's details
    (``{"error": {"details": [{"@type": ".../google.rpc.RetryInfo", "retryDelay": "37s"}]}}``),
    or None."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("RetryInfo"):
            continue
        match = _DURATION.match(str(detail.get("retryDelay", "")))
        if match:
            return _clamp(float(match.group(1)))
    return None
