"""Records: what is kept, what is pseudonymised or redacted, how it is encoded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from novaos.audit.chain import ChainHead, seal_all
from novaos.audit.record import AuditPolicy, build_record, decode, decode_stored
from novaos.config import load_settings
from novaos.ports import AuditGateEntry
from novaos.redaction import Pseudonymizer
from tests.fixtures.audit_data import POLICY, summary

SECRET = "record-secret-0123456789abcdefghijklmn"


def test_record_keeps_hashes_not_content_by_default() -> None:
    s = summary(1, prompt="my email is jo@example.com")
    record = build_record(s, POLICY, ended_unix=1_700_000_000.25)
    assert record.content is None
    assert record.prompt_sha256 == hashlib.sha256(s.prompt.encode()).hexdigest()
    assert record.released_sha256 == hashlib.sha256(s.released_text.encode()).hexdigest()
    assert record.released_chars == len(s.released_text)
    assert b"jo@example.com" not in record.line()
    assert record.time == "2023-11-14T22:13:20.250000Z"
    assert record.client == "203.0.113.0/24"
    assert record.user == POLICY.pseudonymize("user-1") and record.user.startswith("u_")
    assert [(g.gate, g.decision) for g in record.gates] == [("intent", "pass"), ("shield", "stop")]
    assert record.gate_decisions == {"intent:pass", "shield:stop"}
    assert (record.input_tokens, record.output_tokens, record.duration_ms) == (11, 21, 101.0)


def test_content_only_on_request_and_then_redacted() -> None:
    policy = AuditPolicy(redact_pii=True, include_content=True, pseudonymize=Pseudonymizer(b"k"))
    record = build_record(
        summary(1, prompt="card 4111 1111 1111 1111 please"), policy, ended_unix=0
    )
    assert record.content is not None
    assert record.content.prompt == "card [REDACTED:card] please"
    assert record.content.released == "answer 1"


def test_without_redaction_the_user_and_client_stay() -> None:
    policy = AuditPolicy(redact_pii=False, pseudonymize=Pseudonymizer(b"k"))
    record = build_record(summary(2), policy, ended_unix=0)
    assert record.user == "user-2"
    assert record.client == "ipv4:203.0.113.2:40002"


def test_canonical_encoding_is_sorted_compact_utf8_without_hash() -> None:
    record = build_record(summary(3, prompt="héllo"), POLICY, ended_unix=0)
    raw = record.canonical()
    data = json.loads(raw)
    assert "hash" not in data and {"seq", "prev_hash"} <= data.keys()
    assert (
        raw == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert b", " not in raw and b": " not in raw


def test_policy_key_comes_from_settings() -> None:
    env = {"JWT_SECRET": SECRET, "REDACT_PII": "true", "AUDIT_INCLUDE_CONTENT": "true"}
    one = AuditPolicy.from_settings(load_settings(env))
    two = AuditPolicy.from_settings(load_settings(env))
    assert one.include_content and one.redact_pii
    assert one.user_ref("alice") == two.user_ref("alice") != "alice"
    keyed = env | {"AUDIT_HMAC_KEY": "hmac-key-0123456789abcdefghijklmnopq"}
    other = AuditPolicy.from_settings(load_settings(keyed))
    assert other.user_ref("alice") != one.user_ref("alice")


def test_gate_reasons_are_redacted_every_time_they_recur() -> None:
    leaky = AuditGateEntry("lens", "flag", "asked to mail jo@example.com", 0.5)
    s = replace(summary(3), gates=(*summary(3).gates, leaky))
    first, again = (build_record(s, POLICY, ended_unix=0) for _ in range(2))
    for record in (first, again):
        assert record.gates[-1].reason == "asked to mail [REDACTED:email]"
        assert b"jo@example.com" not in record.line()
    plain = AuditPolicy(redact_pii=False, pseudonymize=Pseudonymizer(b"k"))
    assert build_record(s, plain, ended_unix=0).gates[-1].reason == leaky.reason


def _retyped(edit: Callable[[dict[str, Any]], None]) -> bytes:
    data = json.loads(build_record(summary(1), POLICY, ended_unix=0).line())
    edit(data)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(seq="10"),
        lambda d: d.update(seq=10.0),
        lambda d: d.update(seq=True),
        lambda d: d.update(seq=2**63),
        lambda d: d.update(hash=12345),
        lambda d: d.update(hash=None),
        lambda d: d.update(prev_hash=5),
        lambda d: d.update(key_id=7),
        lambda d: d.update(input_tokens="11"),
        lambda d: d.update(duration_ms="fast"),
        lambda d: d.update(duration_ms=float("inf")),
        lambda d: d.update(time="yesterday"),
        lambda d: d.update(outcome=None),
        lambda d: d["gates"][0].update(reason=5),
        lambda d: d["gates"][0].update(latency_ms=None),
        lambda d: d["gates"][0].update(extra="x"),
        lambda d: d.update(gates="none"),
        lambda d: d.update(content="hello"),
        lambda d: d.update(content={"prompt": 1, "released": ""}),
    ],
)
def test_a_field_of_the_wrong_type_makes_the_record_unreadable(
    edit: Callable[[dict[str, Any]], None],
) -> None:
    # seq "10", a null hash, a time that is no time... decoded as they were and
    # failed later (verify and list: INTERNAL with a traceback).
    with pytest.raises(ValueError, match="malformed audit record"):
        decode(_retyped(edit))


def test_a_line_that_is_not_an_object_is_unreadable() -> None:
    for raw in (b"[1,2]", b"5", b"null", b'"text"', b"\xff"):
        with pytest.raises(ValueError, match="malformed audit record"):
            decode(raw)


_CJK = "请问这个问题的答案是什么"


def _cjk_line() -> bytes:
    policy = replace(POLICY, include_content=True)
    draft = build_record(summary(1, prompt=_CJK), policy, ended_unix=1_700_000_000)
    return seal_all([draft], ChainHead())[0].line()


def _in_char(line: bytes) -> int:
    return line.index(_CJK.encode()) + 1  # one byte into a three-byte character


@pytest.mark.parametrize(
    ("damage", "reason"),
    [(lambda line: line[: _in_char(line)] + b"\n",
      "a line cut short (it ends after {cut} bytes, inside a character)"),
     (lambda line: line[: _in_char(line)] + line,
      "two records run together: one cut short at byte {lead} (inside a character),"
      " then a whole one"),
     (lambda line: line[:40] + line,
      "two records run together: one cut short at character 40, then a whole one"),
     (lambda line: b"\xef\xbb\xbf" + line,
      "a byte order mark (BOM) before the record, which is never written")],
)  # fmt: skip
def test_a_cut_or_run_on_line_and_a_bom_are_named_plainly(
    damage: Callable[[bytes], bytes], reason: str
) -> None:
    # Found by a reviewer: a line cut inside a multibyte character read as "not UTF-8
    # text: byte 0xe6", a torn record with a whole one after it as cut short at the
    # line's end, and a BOM as json's "decode using utf-8-sig".
    line = _cjk_line()
    assert line[:40].isascii()  # character 40 is byte 40
    cut = _in_char(line)
    with pytest.raises(ValueError) as raised:
        decode_stored(damage(line))
    assert str(raised.value) == "malformed audit record: " + reason.format(cut=cut, lead=cut - 1)
