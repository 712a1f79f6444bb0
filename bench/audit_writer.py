"""Audit writer throughput per sink: ``python -m bench.audit_writer [--records N]``.

Records come from 50 concurrent tasks through ``AuditWriter.record`` (the
request path's cost) and are timed until ``aclose()`` has drained them into
the sink. PostgreSQL is a private server started like the test fixture.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from novaos.audit.sink import AuditSink
from novaos.audit.sinks.file import FileAuditSink
from novaos.audit.sinks.memory import MemoryAuditSink
from novaos.audit.sinks.postgres import PostgresAuditSink
from novaos.audit.writer import AuditWriter
from tests.fixtures.audit_data import POLICY, summary
from tests.fixtures.common import free_port
from tests.fixtures.postgres_server import PostgresServer

TASKS = 50


async def _run(sink: AuditSink, spill: Path, count: int) -> tuple[float, float]:
    writer = AuditWriter(sink, POLICY, spill_path=spill, queue_size=count, batch_size=200)
    await writer.start()
    summaries = [summary(i) for i in range(count)]
    enqueue_s = 0.0

    async def worker(offset: int) -> None:
        nonlocal enqueue_s
        for i in range(offset, count, TASKS):
            t0 = time.perf_counter()
            await writer.record(summaries[i])
            enqueue_s += time.perf_counter() - t0

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(TASKS)))
    await writer.aclose()
    total = time.perf_counter() - start
    assert writer.status().written == count
    return count / total, enqueue_s / count * 1e6


async def _bench(root: Path, dsn: str, count: int) -> None:
    cases: list[tuple[str, AuditSink]] = [
        ("memory", MemoryAuditSink(count)),
        *[
            (f"file fsync={mode}", FileAuditSink(root / f"file-{mode}", fsync=mode))
            for mode in ("never", "batch", "always")
        ],
        ("database", PostgresAuditSink(dsn)),
    ]
    print(f"{count} records from {TASKS} tasks, batch 200")
    print(f"{'sink':<20}{'records/s':>12}{'record() us':>14}")
    for n, (name, sink) in enumerate(cases):
        per_s, enqueue_us = await _run(sink, root / f"spill-{n}.jsonl", count)
        print(f"{name:<20}{per_s:>12.0f}{enqueue_us:>14.1f}")


def main(count: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="novaos-bench-"))
    root.chmod(0o755)  # the postgres user must reach its data dir
    pg = PostgresServer(root=root / "pg", port=free_port())
    pg.root.mkdir()
    try:
        pg.init()
        pg.start()
        asyncio.run(_bench(root, pg.create_database(), count))
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000)
    main(parser.parse_args().records)
