"""Retry-After parsing (the token estimate is tested in tests/unit/test_tokens.py)."""

from __future__ import annotations

from novaos.providers.retry_after import parse_retry_after


def test_retry_after_seconds_ms_and_http_date() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert parse_retry_after({"retry-after": date}, now_unix=1445412480.0) == 10.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-5"}) == 0.0
    assert parse_retry_after({"retry-after": "99999999"}) == 3600.0
