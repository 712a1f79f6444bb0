"""A keyed chain (AUDIT_CHAIN_KEY): whoever rewrites the log without the key is found,
however carefully they recompute the hashes."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json

import pytest
from pydantic import ValidationError

from novaos.audit.chain import (
    UNKEYED,
    ChainHead,
    ChainKeys,
    ChainVerifier,
    digest,
    key_id,
    seal_all,
    verify,
)
from novaos.audit.record import AuditRecord, decode
from novaos.config import Settings
from tests.fixtures.audit_data import chain

KEY_A = b"a" * 32
KEY_B = b"b" * 32
A = ChainKeys.of(KEY_A)


def _sha_rechained(records: list[AuditRecord], head: ChainHead) -> list[AuditRecord]:
    """What a forger without the key does: drop the key id, re-hash with SHA-256."""
    unkeyed = [dataclasses.replace(r, key_id="", hash="") for r in records]
    return seal_all(unkeyed, head)


def test_a_keyed_record_carries_an_hmac_under_its_key_not_a_sha256() -> None:
    record = chain(1, keys=A)[0]
    assert record.key_id == key_id(KEY_A) != ""
    assert KEY_A.hex() not in record.line().decode()  # the id names the key, never holds it
    assert record.hash == hmac.new(KEY_A, record.canonical(), hashlib.sha256).hexdigest()
    assert record.hash != hashlib.sha256(record.canonical()).hexdigest()
    assert json.loads(record.canonical())["key_id"] == record.key_id  # covered by the hash
    assert decode(record.line()) == record


def test_an_unkeyed_record_keeps_the_bytes_it_had_before_keys_existed() -> None:
    record = chain(1)[0]
    assert "key_id" not in json.loads(record.canonical())
    assert record.hash == hashlib.sha256(record.canonical()).hexdigest()


def test_a_keyed_chain_verifies_with_its_key_and_counts_nothing_unkeyed() -> None:
    result = verify(chain(6, keys=A), keys=A)
    assert result.ok and result.checked == 6 and result.unkeyed == 0


def test_without_the_key_a_keyed_chain_does_not_verify_and_says_which_key() -> None:
    result = verify(chain(3, keys=A))
    assert not result.ok and result.first_bad_seq == 1
    assert key_id(KEY_A) in result.problem and "AUDIT_CHAIN_KEY" in result.problem


def test_an_edit_with_a_recomputed_sha256_is_found_at_the_edited_record() -> None:
    records = chain(6, keys=A)
    forged = dataclasses.replace(records[3], outcome="completed", released_chars=0)
    # The forger keeps the key id and recomputes what they can: it is not the HMAC.
    forged = dataclasses.replace(forged, hash=hashlib.sha256(forged.canonical()).hexdigest())
    records[3] = forged
    result = verify(records, keys=A)
    assert not result.ok and result.first_bad_seq == 4 and "edited" in result.problem


def test_a_tail_rewritten_without_the_key_is_found_where_the_keys_stop() -> None:
    records = chain(8, keys=A)
    head = ChainHead(records[4].seq, records[4].hash)
    records[5:] = _sha_rechained(records[5:], head)  # every link and hash consistent
    assert verify(records[5:], start_seq=6, anchor=head.hash).ok  # as SHA-256 alone
    result = verify(records, keys=A)
    assert not result.ok and result.first_bad_seq == 6
    assert "no chain key but follows keyed records" in result.problem


def test_a_range_after_a_keyed_record_refuses_an_unkeyed_start() -> None:
    records = chain(8, keys=A)
    head = ChainHead(records[4].seq, records[4].hash)
    tail = _sha_rechained(records[5:], head)
    verifier = ChainVerifier(start_seq=6, anchor=head.hash, keys=A, keyed_before=True)
    assert not verifier.feed(tail[0])
    assert "follows keyed records" in verifier.result().problem


def test_a_log_rewritten_unkeyed_from_the_start_shows_as_all_unkeyed() -> None:
    records = _sha_rechained(chain(5, keys=A), ChainHead())
    result = verify(records, keys=A)
    assert result.ok and result.unkeyed == result.checked == 5  # the operator sees it


def test_records_from_before_the_key_was_set_verify_and_are_counted() -> None:
    legacy = chain(3)
    keyed = chain(4, start=ChainHead(legacy[-1].seq, legacy[-1].hash), keys=A, first=3)
    result = verify([*legacy, *keyed], keys=A)
    assert result.ok and result.checked == 7 and result.unkeyed == 3


def test_a_retired_key_still_verifies_what_it_sealed() -> None:
    old = chain(3, keys=A)
    rotated = ChainKeys.of(KEY_B, [KEY_A])
    new = chain(3, start=ChainHead(old[-1].seq, old[-1].hash), keys=rotated, first=3)
    assert {r.key_id for r in new} == {key_id(KEY_B)}
    assert verify([*old, *new], keys=rotated).ok
    result = verify([*old, *new], keys=ChainKeys.of(KEY_B))  # the old key forgotten
    assert not result.ok and result.first_bad_seq == 1 and key_id(KEY_A) in result.problem


def test_a_key_id_of_the_wrong_type_is_a_malformed_record() -> None:
    data = json.loads(chain(1, keys=A)[0].line())
    data["key_id"] = ["x"]
    with pytest.raises(ValueError, match="key_id"):
        decode(json.dumps(data))


def test_digest_of_a_record_under_an_unknown_key_is_none() -> None:
    assert digest(chain(1, keys=A)[0], UNKEYED) is None


CURRENT = "chain-key-current-0123456789abcdefghij"
RETIRED = ("chain-key-retired-0123456789abcdefg", "chain-key-retired-klmnopqrstuvwxyz0")


def test_settings_read_the_current_and_the_retired_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRE_AUTH", "false")
    monkeypatch.setenv("AUDIT_CHAIN_KEY", CURRENT)
    monkeypatch.setenv("AUDIT_CHAIN_PREVIOUS_KEYS", f"{RETIRED[0]}, {RETIRED[1]}")
    settings = Settings()
    assert settings.audit_chain_key is not None
    assert [k.get_secret_value() for k in settings.audit_chain_previous_keys] == list(RETIRED)
    assert CURRENT not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [("AUDIT_CHAIN_KEY", "short"), ("AUDIT_CHAIN_PREVIOUS_KEYS", f"{RETIRED[0]},short")],
)
def test_a_short_chain_key_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("REQUIRE_AUTH", "false")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()
