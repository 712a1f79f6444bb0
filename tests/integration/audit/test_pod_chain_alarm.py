"""WORKERS>1: a broken audit chain one worker finds makes every worker answer down.

Two writers over one audit directory and one run directory, as the supervisor's
workers share them; the worker that finds the cut is the one that stored the cut
record, so which one it is does not depend on who serves what.
"""

from __future__ import annotations

from pathlib import Path

from novaos.audit.chain import ChainKeys
from novaos.audit.sinks.file import FileAuditSink
from novaos.audit.writer import AuditWriter
from novaos.pod_audit import FilePodChainAlarm, chain_alarm_dir
from tests.fixtures.audit_data import POLICY, summary
from tests.fixtures.common import await_until, holds

KEYS = ChainKeys.of(b"pod-chain-key-0123456789abcdef0123")


def _worker(tmp_path: Path, run_dir: Path, index: int) -> AuditWriter:
    return AuditWriter(
        FileAuditSink(tmp_path / "audit", keys=KEYS),
        POLICY,
        spill_path=tmp_path / f"spill-{index}.jsonl",
        keys=KEYS,
        max_backoff_s=0.05,
        chain_alarm=FilePodChainAlarm(chain_alarm_dir(run_dir), index),
    )


def _last_file(tmp_path: Path) -> Path:
    return sorted((tmp_path / "audit").glob("audit-*.log"))[-1]


def _cut_last_line(tmp_path: Path) -> bytes:
    last = _last_file(tmp_path)
    lines = last.read_bytes().splitlines(keepends=True)
    last.write_bytes(b"".join(lines[:-1]))
    return lines[-1]


async def test_a_tail_rewritten_that_one_worker_finds_makes_every_worker_down(
    tmp_path: Path,
) -> None:
    # Found by a reviewer: only the worker that had stored or seen the cut record found
    # it; the other answered audit=ok, and probes landing on either made readiness flap.
    run_dir = tmp_path / "run"
    finder, other = _worker(tmp_path, run_dir, 0), _worker(tmp_path, run_dir, 1)
    await finder.start()
    await other.start()
    await other.record(summary(0))
    await await_until(lambda: holds(other.status().written == 1), what="other's record")
    for i in range(1, 4):
        await finder.record(summary(i))
    await await_until(lambda: holds(finder.status().written == 3), what="finder's records")
    _cut_last_line(tmp_path)  # record 4, the finder's
    await other.record(summary(10))  # never saw 4: chains onto 3, reusing seq 4
    await await_until(lambda: holds(other.status().written == 2), what="4 written again")
    assert (finder.status().status, other.status().status) == ("ok", "ok")  # nobody knows yet

    await finder.record(summary(11))
    await await_until(lambda: holds(finder.status().spilled == 1), what="the finder spilled")
    assert finder.status().status == "down"
    assert other.status().status == "down"  # the pod's readiness, not the finder's alone
    await other.record(summary(12))  # the other writes on (it has nothing to refuse)...
    await await_until(lambda: holds(other.status().written == 3), what="other wrote on")
    assert other.status().status == "down"  # ...and stays down with the finder
    marker = chain_alarm_dir(run_dir) / "0"
    assert "record 4 is not the one this process stored or saw" in marker.read_text()
    # A new run directory (the supervisor's, at the pod's next start) starts clear.
    fresh = _worker(tmp_path, tmp_path / "run-next", 1)
    assert fresh.status().status == "down"  # not opened yet
    await fresh.start()
    assert fresh.status().status == "ok"
    for writer in (finder, other, fresh):
        await writer.aclose()


async def test_the_cut_records_restored_bring_every_worker_back(tmp_path: Path) -> None:
    # Restoring a plain cut still brings the pod back: the finder withdraws its alarm
    # once its sink takes records again.
    run_dir = tmp_path / "run"
    finder, other = _worker(tmp_path, run_dir, 0), _worker(tmp_path, run_dir, 1)
    await finder.start()
    await other.start()
    for i in range(3):
        await finder.record(summary(i))
    await await_until(lambda: holds(finder.status().written == 3), what="3 written")
    cut = _cut_last_line(tmp_path)
    await finder.record(summary(3))
    await await_until(lambda: holds(finder.status().spilled == 1), what="the finder spilled")
    assert (finder.status().status, other.status().status) == ("down", "down")

    with _last_file(tmp_path).open("ab") as log:
        log.write(cut)
    await await_until(lambda: holds(finder.status().status == "ok"), what="the finder back")
    assert other.status().status == "ok"
    assert not any(chain_alarm_dir(run_dir).iterdir())
    await finder.aclose()
    await other.aclose()
