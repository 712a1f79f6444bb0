"""The spill is checked before its records are stored: edits, deletions and forged
lines are quarantined, never sealed under the chain key."""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from novaos.app import spill_location
from novaos.audit.chain import ChainKeys
from novaos.audit.reader import AuditReader
from novaos.audit.sinks.file import FileAuditSink
from novaos.audit.sinks.memory import MemoryAuditSink
from novaos.audit.spill_check import check_spill
from novaos.audit.writer import AuditWriter
from novaos.config import load_settings
from tests.fixtures.audit_data import POLICY, chain, summary

KEYS = ChainKeys.of(b"spill-check-key-0123456789abcdef")


def _delete_third(lines: list[bytes]) -> None:
    del lines[2]


def _veto_to_completed(lines: list[bytes]) -> None:
    # record 2 is a hard veto; its hash is kept
    assert b'"outcome":"hard_veto"' in lines[1]
    lines[1] = lines[1].replace(b'"outcome":"hard_veto"', b'"outcome":"completed"')


def _forged_fourth(lines: list[bytes]) -> None:
    forged = json.loads(lines[2])
    forged.update(id="f" * 32, request_id="req-FORGED", seq=4, hash="deadbeef")
    lines.insert(3, json.dumps(forged, sort_keys=True, separators=(",", ":")).encode() + b"\n")


def _garbled_last(lines: list[bytes]) -> None:
    lines[-1] = b'{"broken": \n'


def _unkeyed_fourth(lines: list[bytes]) -> None:
    # a forger without the key: a plain SHA-256 record in the keyed chain
    lines[3:] = [r.line() for r in chain(3, first=3, start=None)]


@pytest.mark.parametrize(
    ("tamper", "kept"),
    [(_delete_third, 2), (_veto_to_completed, 1), (_forged_fourth, 3), (_garbled_last, 5),
     (_unkeyed_fourth, 3)],
)  # fmt: skip
async def test_a_tampered_spill_is_quarantined_and_only_its_sound_prefix_stored(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    tamper: Callable[[list[bytes]], None],
    kept: int,
) -> None:
    # Found by a tester: after editing the spill while the sink was down, the
    # replay re-sealed every line under AUDIT_CHAIN_KEY and verify said ok.
    spilled = chain(6, keys=KEYS)  # a previous run's records, sealed while the sink was down
    lines = [r.line() for r in spilled]
    tamper(lines)
    path = tmp_path / "spill" / "spill.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"".join(lines))
    sink = MemoryAuditSink(keys=KEYS)
    writer = AuditWriter(sink, POLICY, spill_path=path, keys=KEYS, max_backoff_s=0.05)
    caplog.set_level(logging.ERROR, logger="novaos.audit")
    await writer.start()
    await writer.record(summary(100))
    await writer.aclose()

    stored = list(sink.records)
    assert [r.id for r in stored[:-1]] == [r.id for r in spilled[:kept]]
    assert stored[-1].request_id == "req-00100"
    assert all(r.key_id == KEYS.sealing_id for r in stored)
    result = await AuditReader(sink, keys=KEYS).verify()
    assert (result.ok, result.checked) == (True, kept + 1), result
    (aside,) = path.parent.glob("spill.quarantined-*.jsonl")
    assert aside.read_bytes() == b"".join(lines)  # the evidence, as found
    assert path.read_bytes() == b""
    assert writer.status().status == "quarantined"
    assert f"line {kept + 1}" in caplog.text and str(aside) in caplog.text


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the image's and the manifests' (they do not change it)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
async def test_the_quarantine_copy_and_the_directories_we_make_are_owner_only(
    tmp_path: Path,
) -> None:
    # Found by a tester: the quarantine copy of a spill holding prompts and answers was
    # made 0644 (shutil.copyfile takes the umask) beside a 0600 spill, and kept for long.
    # Found by a reviewer: every missing parent was made 0700 too (/var/log/novaos for
    # AUDIT_FILE_PATH=/var/log/novaos/audit), locking other users out of what the
    # operator later puts beside the audit directory.
    (tmp_path / "var" / "log").mkdir(parents=True)
    audit_dir = tmp_path / "var" / "log" / "novaos" / "audit"
    settings = load_settings({"REQUIRE_AUTH": "false", "AUDIT_FILE_PATH": str(audit_dir)})
    path, setting = spill_location(settings)  # spill/ under the audit directory
    assert path is not None and path.parent.parent == audit_dir
    sink = FileAuditSink(audit_dir, keys=KEYS)
    writer = AuditWriter(sink, POLICY, spill_path=path, spill_setting=setting, keys=KEYS)
    await writer.start()  # the spill's directory is made first
    await writer.aclose()
    assert _mode(audit_dir) == 0o700 and _mode(path.parent) == 0o700
    assert _mode(audit_dir.parent) == 0o755  # a parent: the umask's mode, as mkdir -p

    lines = [r.line() for r in chain(3, keys=KEYS)]
    _veto_to_completed(lines)
    path.write_bytes(b"".join(lines))
    writer = AuditWriter(sink, POLICY, spill_path=path, keys=KEYS)
    await writer.start()
    await writer.aclose()
    (aside,) = path.parent.glob("spill.quarantined-*.jsonl")
    assert aside.read_bytes() == b"".join(lines)
    assert (_mode(aside), _mode(path)) == (0o600, 0o600)


async def test_a_quarantine_copy_the_disk_cannot_hold_is_removed_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by a reviewer: on a full disk each start left one more partial copy (counted
    # as evidence) and failed with a bare OSError naming no file.
    path = tmp_path / "spill.jsonl"
    lines = [r.line() for r in chain(3, keys=KEYS)]
    _veto_to_completed(lines)
    path.write_bytes(b"".join(lines))

    def disk_full(fd: int, data: bytes) -> None:
        os.write(fd, data[:100])  # what fits, then ENOSPC, as a real full disk does
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("novaos.audit.spill.write_all", disk_full)
    writer = AuditWriter(MemoryAuditSink(), POLICY, spill_path=path, keys=KEYS)
    with pytest.raises(OSError, match="No space left on device") as raised:
        await writer.start()
    assert raised.value.filename == str(path)
    assert "spill.quarantined-" in str(raised.value.filename2)
    assert os.listdir(tmp_path) == ["spill.jsonl"]  # no partial copy left
    assert path.read_bytes() == b"".join(lines)  # the spill kept whole


@pytest.mark.usefixtures("umask_022")
async def test_a_spill_directory_the_operator_made_keeps_its_mode(tmp_path: Path) -> None:
    # A mounted volume or a directory made by the image is the operator's to set.
    spill_dir = tmp_path / "volume"
    spill_dir.mkdir(mode=0o750)
    writer = AuditWriter(MemoryAuditSink(), POLICY, spill_path=spill_dir / "spill.jsonl")
    await writer.start()
    await writer.aclose()
    assert _mode(spill_dir) == 0o750


@pytest.mark.usefixtures("umask_022")
async def test_only_the_spill_directory_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "srv" / "novaos" / "spill" / "spill.jsonl"  # AUDIT_SPILL_PATH
    writer = AuditWriter(MemoryAuditSink(), POLICY, spill_path=path)
    await writer.start()
    await writer.aclose()
    assert _mode(path.parent) == 0o700
    assert _mode(path.parent.parent) == _mode(tmp_path / "srv") == 0o755


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_restart_keeps_the_spill_one_chain_and_a_quarantine_stays_visible(
    tmp_path: Path,
) -> None:
    # A run that starts with the sink down chains its records onto the spilled
    # ones (not onto seq 0), so the spill passes its check at the replay.
    path = tmp_path / "spill.jsonl"
    path.write_bytes(b"".join(r.line() for r in chain(3, keys=KEYS)))
    (tmp_path / "spill.quarantined-20260101T000000Z-000000001.jsonl").write_bytes(b"")

    class DownSink(MemoryAuditSink):
        async def open(self) -> object:  # type: ignore[override]
            raise ConnectionError("sink down")

    writer = AuditWriter(DownSink(keys=KEYS), POLICY, spill_path=path, keys=KEYS)
    await writer.start()
    await writer.record(summary(3))
    await writer.aclose()
    records = list(check_spill(path.read_bytes().splitlines(keepends=True), KEYS).records)
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert check_spill(path.read_bytes().splitlines(keepends=True), KEYS).problem == ""

    sink = MemoryAuditSink(keys=KEYS)
    writer = AuditWriter(sink, POLICY, spill_path=path, keys=KEYS)
    await writer.start()
    assert writer.status().status == "spilling"
    await writer.record(summary(4))
    await writer.aclose()
    assert [r.seq for r in sink.records] == [1, 2, 3, 4, 5]
    assert (await AuditReader(sink, keys=KEYS).verify()).ok
    assert writer.status().status == "quarantined"  # an older quarantine file is still there


async def test_a_sink_never_re_seals_a_record_whose_hash_does_not_match() -> None:
    # The backstop: a sink re-chaining a batch onto a moved head vouches for each
    # record under the key, so an edited one is refused, not made genuine.
    sink = MemoryAuditSink(keys=KEYS)
    await sink.append(chain(2, keys=KEYS))
    batch = chain(2, keys=KEYS, first=10)  # sealed onto seq 0: re-chained
    edited = [batch[0], dataclasses.replace(batch[1], outcome="completed")]
    with pytest.raises(ValueError, match="refusing to re-seal record 2"):
        await sink.append(edited)
    assert [r.seq for r in await sink.append(batch)] == [3, 4]


def test_a_record_sealed_with_a_key_no_longer_held_is_named_for_its_key() -> None:
    # A spill from before a key rotation, without AUDIT_CHAIN_PREVIOUS_KEYS: it cannot
    # be verified, and saying "edited or forged" sent the operator the wrong way.
    old = ChainKeys.of(b"the-retired-chain-key-0123456789ab")
    lines = [r.line() for r in chain(3, keys=old)]
    found = check_spill(lines, KEYS)
    assert found.records == [] and found.lines == 3
    assert "does not hold (AUDIT_CHAIN_KEY, AUDIT_CHAIN_PREVIOUS_KEYS)" in found.problem
    rotated = ChainKeys.of(KEYS.sealing, [b"the-retired-chain-key-0123456789ab"])
    assert check_spill(lines, rotated).problem == ""  # with the previous key: sound
