"""Retry-After parsing (the token estimate is tested in tests/unit/test_tokens.py)."""

from __future__ import annotations

import json

from novaos.providers.retry_after import parse_retry_after, retry_delay_in_body


def test_retry_after_seconds_ms_and_http_date() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert parse_retry_after({"retry-after": date}, now_unix=1445412480.0) == 10.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-5"}) == 0.0
    assert parse_retry_after({"retry-after": "99999999"}) == 3600.0


def test_retry_delay_from_a_google_rpc_retry_info_in_the_body() -> None:
    def body(*details: object) -> bytes:
        return json.dumps({"error": {"code": 429, "details": list(details)}}).encode()

    info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
    assert retry_delay_in_body(body({"@type": "x.QuotaFailure"}, info)) == 37.0
    assert retry_delay_in_body(body({**info, "retryDelay": "1.5s"})) == 1.5
    assert retry_delay_in_body(body({**info, "retryDelay": "999999s"})) == 3600.0
    assert retry_delay_in_body(body({**info, "retryDelay": "soon"})) is None
    assert retry_delay_in_body(body({"@type": "x.QuotaFailure"})) is None
    assert retry_delay_in_body(b'{"error": {"message": "slow down"}}') is None
    assert retry_delay_in_body(b"not json") is None
    assert retry_delay_in_body(b"[1, 2]") is None
