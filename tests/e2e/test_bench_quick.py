"""The benchmark end to end in its smallest size: real upstream, Envoy, NovaOS, load.

Asserts the run produced sane, complete results (counts, files, structure),
never timings: those belong to bench/ and vary with the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATHS = ("direct", "envoy", "novaos_grpc", "novaos_envoy_http", "novaos_grpc_w2")
PNG_MAGIC = b"\x89PNG"


def test_bench_smoke_produces_complete_results(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "| path | p50 ms |" in run.stdout  # the ratio table is printed
    result = json.loads((tmp_path / "bench-smoke.json").read_text())

    assert set(result["summary"]) == set(PATHS)
    assert "litellm" in result["skipped"]
    raw = result["raw"]
    for path in PATHS:
        assert len(raw["unary_c1"][path]["latency"]) == result["size"]["unary"], path
        stream = raw["stream_c1"][path]
        assert len(stream["ttft"]) == result["size"]["streams"], path
        assert stream["itl"], path  # several tokens per stream, so gaps exist
        assert all(t > 0 for t in stream["ttft"]), path
        assert raw["unary_c1"][path]["errors"] == 0, raw["unary_c1"][path]["first_error"]
        steps = raw["sweep"][path]
        assert steps and all(step["rps"] > 0 for step in steps), path
    for label in ("WORKERS=1", "WORKERS=2"):
        soak = raw["soak"][label]
        assert soak["completed"] > 0 and soak["errors"] == 0, label
        assert soak["rss"] and all(kb > 0 for _, kb in soak["rss"]), label
    # WORKERS=2 is a supervisor plus two workers: more resident memory than one process.
    assert raw["soak"]["WORKERS=2"]["rss"][0][1] > raw["soak"]["WORKERS=1"]["rss"][0][1]
    assert result["machine"]["cores"] >= 1 and result["machine"]["python"]
    assert result["shield"]["prompt_p50_ms"] > 0
    assert len(result["plots"]) == 3
    for name in result["plots"]:
        assert (tmp_path / name).read_bytes()[:4] == PNG_MAGIC, name


def test_cold_path_prints_one_row_per_gap() -> None:
    cmd = [sys.executable, "-m", "bench.cold_path", "--runs", "5"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and "ms |" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["0 ms", "1 ms", "10 ms", "50 ms"]
    for row in rows:
        p50_us, ratio = (float(cell) for cell in row.split("|")[2:4])
        assert p50_us > 0 and ratio > 0


def test_ab_compares_two_checkouts_request_by_request() -> None:
    cmd = [sys.executable, "-m", "bench.ab", str(ROOT), "--requests", "5"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line for line in run.stdout.splitlines()[2:]}
    assert set(rows) == {"direct", "A_this", "B_other"}
    for name, row in rows.items():
        cells = [cell.strip() for cell in row.split("|")[2:7]]
        assert cells[-1] == "0", row  # no errors
        if name == "direct":
            assert cells[:4] == ["0.00", "0.00", "0.00", "-"]
        else:  # each server's CPU per request, from /proc
            assert float(cells[3]) > 0, row
