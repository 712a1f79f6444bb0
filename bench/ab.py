"""A/B two NovaOS checkouts at concurrency 1, request by request.

    python -m bench.ab /path/to/other/checkout [--requests 400] [--mode unary|stream] [--redis]

Starts the mock upstream, this checkout's server (A) and the other
checkout's `server.py` (B) on the server core, then lets direct, A and B take
turns in short blocks (shuffled each round, each block after an uncounted
warm-up request), so a stall of the shared machine hits all three alike.
Full runs of `make bench` move c=1 p99 by about a millisecond from run to
run here; one change is easier to judge this way. Prints added latency
(vs direct) p50 / p90 / p99 in ms, and each server's CPU time per request
(from /proc: steadier than latency for small steps). ``--redis`` starts a
private redis-server on the server core and points both servers at it (a
database each), as a deployment with ``REDIS_URL`` runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench import procs, report
from bench.__main__ import C1_BLOCK, PACE, SIZES, Bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="a checkout of NovaOS to compare against")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--mode", choices=("unary", "stream"), default="unary")
    parser.add_argument("--redis", action="store_true", help="both servers use a private Redis")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable for this checkout's server only (repeatable)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="novaos-ab-") as tmp, ExitStack() as stack:
        bench = Bench(SIZES["quick"], Path(tmp))
        cpus = bench.server_cpus
        up, up_port = procs.upstream(bench.work, cpus, PACE)
        stack.callback(up.stop)
        extra: list[dict[str, str]] = [{}, {}]
        if args.redis:
            redis, redis_port = procs.redis_server(bench.work, cpus)
            stack.callback(redis.stop)
            extra = [{"REDIS_URL": f"redis://127.0.0.1:{redis_port}/{db}"} for db in (0, 1)]
        mine_env = extra[0] | dict(item.split("=", 1) for item in args.env)
        mine, mine_port = procs.novaos(bench.work, cpus, up_port, 1, extra_env=mine_env)
        stack.callback(mine.stop)
        port = procs.free_port()
        cmd = [sys.executable, str(args.other.resolve() / "server.py")]
        env = procs.novaos_env(up_port, port, 1) | extra[1]
        other = procs.Proc("novaos-b", cmd, bench.work / "b.log", env, cpus).start()
        stack.callback(other.stop)
        other.wait_for(lambda: procs.port_open(port), timeout_s=60)
        paths = [
            ("direct", "openai", f"127.0.0.1:{up_port}"),
            ("A_this", "novaos_grpc", f"127.0.0.1:{mine_port}"),
            ("B_other", "novaos_grpc", f"127.0.0.1:{port}"),
        ]
        listed = [{"name": n, "kind": k, "target": t, "auth": ""} for n, k, t in paths]
        warm = {"interleave": listed, "mode": args.mode, "requests": 30, "duration_s": 60}
        bench.spawn(warm, 60)
        spec = {
            "interleave": listed,
            "mode": args.mode,
            "requests": args.requests,
            "block": C1_BLOCK,
        }
        servers = {"A_this": mine.pid, "B_other": other.pid}
        before = {name: procs.cpu_s(pid) for name, pid in servers.items()}
        results = bench.spawn({**spec, "duration_s": 600}, 600)
        used = {name: procs.cpu_s(pid) - before[name] for name, pid in servers.items()}
    direct = results["direct"]["latency"]
    head = "added p50 ms | added p90 ms | added p99 ms | server CPU ms/req | errors"
    print(f"| {args.mode} | {head} |")
    print("|---|---|---|---|---|---|")
    for name, raw in results.items():
        added = [report.pct(raw["latency"], q) - report.pct(direct, q) for q in (0.5, 0.9, 0.99)]
        cells = " | ".join(f"{a:.2f}" for a in added)
        done = len(raw["latency"]) + raw.get("warm_up_requests", 0)
        cpu = f"{used[name] * 1000 / done:.2f}" if name in used and done else "-"
        print(f"| {name} | {cells} | {cpu} | {raw['errors']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
