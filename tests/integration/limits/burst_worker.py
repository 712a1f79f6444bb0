"""A stand-in gateway process: bursts admissions at one Redis and reports counts.

Run by the multi-process tests. Prints ``ready`` once connected, starts on a
``go`` line on stdin (so all workers burst together), then prints one JSON
line. In ``hold`` mode admitted requests keep their lease until another line
arrives on stdin (or the process is killed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from novaos.domain import Tier
from novaos.errors import RateLimitedError
from novaos.limits import LimitSubject, TierLimits
from novaos.storage import RedisLimiter, RedisStore


async def main(args: argparse.Namespace) -> None:
    store = RedisStore.from_url(args.url, pool_size=10, timeout_s=5)
    limits = {t: TierLimits(args.rpm, args.tpm, args.conc) for t in Tier}
    limiter = RedisLimiter(store, limits, lease_ttl_ms=args.ttl_ms)
    subject = LimitSubject(args.subject, Tier.PRO)
    assert await store.ping()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go"
    release, resolved = asyncio.Event(), asyncio.Event()
    counts = {"admitted": 0, "refused": 0, "tokens": 0}

    def count(key: str, tokens: int = 0) -> None:
        counts[key] += 1
        counts["tokens"] += tokens
        if counts["admitted"] + counts["refused"] == args.n:
            resolved.set()

    async def one() -> None:
        try:
            async with limiter.hold(subject, args.tokens):
                count("admitted", args.tokens)
                if args.mode == "hold":
                    await release.wait()
        except RateLimitedError:
            count("refused")

    tasks = [asyncio.create_task(one()) for _ in range(args.n)]
    if args.mode == "hold":
        await resolved.wait()
        print(json.dumps(counts), flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        release.set()
    await asyncio.gather(*tasks)
    if args.mode != "hold":
        print(json.dumps(counts), flush=True)
    await limiter.aclose()
    await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rpm", type=int, default=1_000_000)
    parser.add_argument("--tpm", type=int, default=1_000_000_000)
    parser.add_argument("--conc", type=int, default=1_000_000)
    parser.add_argument("--tokens", type=int, default=1)
    parser.add_argument("--ttl-ms", type=int, default=30_000)
    parser.add_argument("--mode", choices=["burst", "hold"], default="burst")
    asyncio.run(main(parser.parse_args()))
