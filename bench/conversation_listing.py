"""What ListConversations costs an owner with many conversations, on a private Redis.

    python -m bench.conversation_listing [--conversations 500] [--calls 300] [--port N]

Writes ``--conversations`` two-turn conversations for one owner, then times
``ConversationHistory.list`` (the whole of ListConversations below the servicer)
at the default page size (100) and at 10, and reads from the server how many
commands, and how much of its CPU, each call cost (``INFO commandstats``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import redis

from bench.procs import redis_server
from novaos.conversations import ConversationHistory
from novaos.storage import RedisStore

OWNER = "heavy"


def server_cost(client: redis.Redis) -> tuple[int, int]:
    """Commands run and their CPU (microseconds) since the last CONFIG RESETSTAT."""
    stats = client.info("commandstats")
    own = ("cmdstat_info", "cmdstat_config|resetstat")
    rows = [v for k, v in stats.items() if k not in own]
    return sum(int(r["calls"]) for r in rows), sum(int(r["usec"]) for r in rows)


async def measure(url: str, client: redis.Redis, conversations: int, calls: int) -> None:
    store = RedisStore.from_url(url, pool_size=8, timeout_s=5)
    history = ConversationHistory(store, max_turns=20, ttl_s=3600)
    try:
        for i in range(conversations):
            await history.append_turns(OWNER, f"c{i}", (("user", "q"), ("assistant", "a")))
        print("| page size | p50 ms | p99 ms | Redis commands/call | Redis CPU us/call |")
        print("|---|---|---|---|---|")
        for limit in (100, 10):
            for _ in range(20):  # warm: pooled connections, scripts loaded
                await history.list(OWNER, limit=limit)
            client.config_resetstat()
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                await history.list(OWNER, limit=limit)
                times.append(time.perf_counter() - started)
            commands, usec = server_cost(client)
            times.sort()
            p50, p99 = statistics.median(times), times[max(int(len(times) * 0.99) - 1, 0)]
            print(
                f"| {limit} | {p50 * 1000:.2f} | {p99 * 1000:.2f} | {commands / calls:.0f} "
                f"| {usec / calls:.0f} |"
            )
    finally:
        await store.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--port", type=int, default=0, help="redis-server port (0: a free one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nova-listing-") as tmp:
        server, port = redis_server(Path(tmp), frozenset(), port=args.port)
        try:
            with redis.Redis(port=port) as client:
                url = f"redis://127.0.0.1:{port}/0"
                asyncio.run(measure(url, client, args.conversations, args.calls))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
