"""``KeyValueStore.batch`` for stores with no cheaper way: the ops one at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from novaos.ports import (
    ExpireOp,
    GetOp,
    KeyValueStore,
    LenOp,
    PushOp,
    RangeOp,
    RankOp,
    SetOp,
    StoreOp,
    TopOp,
    UnrankOp,
)


def single(store: KeyValueStore, op: StoreOp) -> Awaitable[object]:
    """The single-call method ``op`` stands for."""
    if isinstance(op, GetOp):
        return store.get(op.key)
    if isinstance(op, SetOp):
        return store.set(op.key, op.value, ttl_ms=op.ttl_ms, nx=op.nx)
    if isinstance(op, PushOp):
        return store.list_push(
            op.key, *op.values, max_len=op.max_len, ttl_ms=op.ttl_ms, op_id=op.op_id
        )
    if isinstance(op, ExpireOp):
        return store.expire(op.key, op.ttl_ms)
    return _rest(store, op)


def _rest(
    store: KeyValueStore, op: RangeOp | LenOp | RankOp | TopOp | UnrankOp
) -> Awaitable[object]:
    """The reads of a list, and the ranked-set ops."""
    if isinstance(op, RangeOp):
        return store.list_range(op.key, op.start, op.end)
    if isinstance(op, LenOp):
        return store.list_len(op.key)
    if isinstance(op, RankOp):
        return store.ranked_add(op.key, op.member, op.score, max_len=op.max_len, ttl_ms=op.ttl_ms)
    if isinstance(op, TopOp):
        return store.ranked_top(op.key, op.count, min_score=op.min_score)
    return store.ranked_remove(op.key, *op.members)


async def one_by_one(store: KeyValueStore, ops: Sequence[StoreOp]) -> list[object]:
    return [await single(store, op) for op in ops]
