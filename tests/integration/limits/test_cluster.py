"""A real 3-master Redis Cluster: limits and history work, a subject's keys share a slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from novaos.conversations import ConversationHistory
from novaos.domain import Tier
from novaos.errors import NotFoundError, RateLimitedError
from novaos.limits import LimitSubject, TierLimits
from novaos.limits.model import limit_keys
from novaos.storage import RedisClusterStore, RedisLimiter
from tests.fixtures.redis_server import RedisClusterNodes


@pytest.fixture
async def cluster_store(redis_cluster: RedisClusterNodes) -> AsyncIterator[RedisClusterStore]:
    store = RedisClusterStore.from_nodes(redis_cluster.addresses, pool_size=10, timeout_s=5)
    try:
        yield store
    finally:
        await store.aclose()


async def server_slot(store: RedisClusterStore, key: str) -> int:
    return int(await store.client.execute_command("CLUSTER KEYSLOT", key))


async def test_limits_are_exact_on_a_cluster(cluster_store: RedisClusterStore) -> None:
    limits = dict.fromkeys(Tier, TierLimits(40, 10**9, 10**6))
    limiter = RedisLimiter(cluster_store, limits, lease_ttl_ms=30_000)
    subjects = [LimitSubject(f"cluster-user-{i}", Tier.PRO) for i in range(6)]

    async def attempt(subject: LimitSubject) -> bool:
        try:
            async with limiter.hold(subject, 1):
                return True
        except RateLimitedError:
            return False

    results = await asyncio.gather(*(attempt(s) for s in subjects for _ in range(60)))
    per_subject = [sum(results[i * 60 : (i + 1) * 60]) for i in range(6)]
    assert per_subject == [40] * 6
    slots = {s: {await server_slot(cluster_store, k) for k in limit_keys(s)} for s in subjects}
    assert all(len(one) == 1 for one in slots.values())  # a subject's keys: one slot
    owners = {cluster_store.client.get_node_from_key(limit_keys(s)[0]).name for s in subjects}
    assert len(owners) > 1  # and subjects really are spread over the masters
    await limiter.aclose()
    for subject in subjects:
        assert await limiter.backend.active_leases(subject) == 0


async def test_history_works_on_a_cluster(cluster_store: RedisClusterStore) -> None:
    history = ConversationHistory(cluster_store, max_turns=3, ttl_s=600)
    for i in range(5):
        await history.append("cluster-owner", "conv-1", "user", f"t{i}")
    assert [m.content for m in await history.history("cluster-owner", "conv-1")] == [
        "t2",
        "t3",
        "t4",
    ]
    assert [s.conversation_id for s in await history.list("cluster-owner")] == ["conv-1"]
    await history.append("cluster-owner", "conv-2", "user", "another")
    assert [s.conversation_id for s in await history.list("cluster-owner", limit=1)] == ["conv-2"]
    index, meta = "nova:conv:{cluster-owner}:recent", "nova:conv:{cluster-owner}:conv-1:meta"
    assert await server_slot(cluster_store, index) == await server_slot(cluster_store, meta)
    await history.delete("cluster-owner", "conv-2")
    with pytest.raises(NotFoundError):
        await history.get("someone-else", "conv-1")
    await history.delete("cluster-owner", "conv-1")
    assert await history.list("cluster-owner") == ()


async def test_concurrent_exchanges_on_one_conversation_stay_whole_on_a_cluster(
    cluster_store: RedisClusterStore,
) -> None:
    # A cluster's batch runs op by op (its keys span slots). Question and answer
    # were two pushes, and another request's pushes landed between them: the
    # history held "q1, q2, a1, a2", so the model was sent consecutive user turns
    # and answers under the wrong question.
    history = ConversationHistory(cluster_store, max_turns=1000, ttl_s=600)
    owner, conversation_id = "cluster-talker", "busy"
    await history.append_turns(
        owner, conversation_id, (("user", "q-open"), ("assistant", "a-open"))
    )
    opened = await history.open_turn(owner, conversation_id)

    async def exchange(n: int) -> None:
        turns = (("user", f"q{n}"), ("assistant", f"a{n}"))
        await history.append_turns(owner, conversation_id, turns, opened=opened)

    await asyncio.gather(*(exchange(n) for n in range(120)))
    stored = [(m.role, m.content) for m in await history.history(owner, conversation_id)]
    assert len(stored) == 2 * 121
    pairs = list(zip(stored[::2], stored[1::2], strict=True))
    misaligned = [
        (question, answer)
        for question, answer in pairs
        if question[0] != "user" or answer != ("assistant", "a" + question[1][1:])
    ]
    assert misaligned == []
    assert sorted(q for (_, q), _ in pairs) == sorted(["q-open", *(f"q{n}" for n in range(120))])
    await history.delete(owner, conversation_id)
