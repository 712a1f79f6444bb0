"""The hash chain finds each kind of tampering at the exact record."""

from __future__ import annotations

import dataclasses
import itertools

from novaos.audit.chain import GENESIS_HASH, ChainHead, digest, seal, verify
from novaos.audit.record import build_record, decode
from tests.fixtures.audit_data import POLICY, chain, summary


def test_intact_chain_verifies() -> None:
    records = chain(10)
    assert [r.seq for r in records] == list(range(1, 11))
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    assert verify(records) == verify(records)
    result = verify(records)
    assert result.ok and result.checked == 10 and result.first_bad_seq == 0


def test_hash_covers_seq_and_prev_hash() -> None:
    record = chain(1)[0]
    assert digest(dataclasses.replace(record, seq=2)) != record.hash
    assert digest(dataclasses.replace(record, prev_hash="1" * 64)) != record.hash
    assert digest(dataclasses.replace(record, hash="x")) == record.hash  # hash not in its input


def test_stored_line_round_trips_exactly() -> None:
    record = chain(1)[0]
    back = decode(record.line())
    assert back == record
    assert back.canonical() == record.canonical()


def test_edit_is_found_at_the_edited_record() -> None:
    records = chain(10)
    records[4] = dataclasses.replace(
        records[4], outcome="completed" if records[4].outcome != "completed" else "control"
    )
    result = verify(records)
    assert not result.ok and result.first_bad_seq == 5 and result.checked == 4
    assert "edited" in result.problem


def test_edit_with_recomputed_hash_is_found_at_the_link() -> None:
    records = chain(10)
    forged = dataclasses.replace(records[4], released_chars=0)
    records[4] = dataclasses.replace(forged, hash=digest(forged))
    result = verify(records)
    assert not result.ok and result.first_bad_seq == 6
    assert "link" in result.problem


def test_delete_is_found_where_the_record_is_missing() -> None:
    records = chain(10)
    del records[6]
    result = verify(records)
    assert not result.ok and result.first_bad_seq == 7 and "missing" in result.problem


def test_reorder_is_found_at_the_first_moved_record() -> None:
    records = chain(10)
    records[2], records[3] = records[3], records[2]
    result = verify(records)
    assert not result.ok and result.first_bad_seq == 3


def test_insert_is_found_at_the_record_after_the_forgery() -> None:
    records = chain(10)
    # A well-formed forgery taking seq 4's place: its own hash and link are fine,
    # so the break shows at the genuine record 4 that follows it.
    draft = build_record(summary(99), POLICY, ended_unix=1_700_000_500)
    forged = seal(draft, ChainHead(records[2].seq, records[2].hash))
    records.insert(3, forged)
    result = verify(records)
    assert not result.ok and result.first_bad_seq == 5 and result.checked == 4
    assert "reordered or inserted" in result.problem


def test_a_range_links_to_its_anchor() -> None:
    records = chain(10)
    assert verify(records[5:], start_seq=6, anchor=records[4].hash).ok
    bad = verify(records[5:], start_seq=6, anchor=records[3].hash)
    assert not bad.ok and bad.first_bad_seq == 6
