"""Direct gRPC callers: metadata up to the shared limit is accepted on every call,
above it refused every time with grpc-core's message naming both sizes.

grpc-core's defaults refused a random share of calls between 8 and 16 KiB ("exceeds
soft limit") and all above 16 KiB, while the sidecar in front accepts 60 KiB.
"""

from __future__ import annotations

import re

import grpc
import pytest

from generated.novaos.v1 import health_pb2, health_pb2_grpc
from novaos.wire_limits import GRPC_MAX_METADATA_BYTES, MAX_REQUEST_HEADERS_KIB
from tests.fixtures.server import ROOT, Running


def _padding(total: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"x-pad-{i}", "a" * 1000) for i in range(total // 1000))


async def _live(running: Running, metadata: tuple[tuple[str, str], ...]) -> str:
    stub = health_pb2_grpc.HealthServiceStub(running.channel)
    reply = await stub.Live(health_pb2.LiveRequest(), metadata=metadata, timeout=10)
    return str(reply.status)


@pytest.mark.parametrize("total", [12_000, MAX_REQUEST_HEADERS_KIB * 1024 - 2_000])
async def test_metadata_up_to_the_sidecars_limit_is_always_accepted(
    server: Running, total: int
) -> None:
    # Ten calls: the soft-limit lottery refused some of them at 12 KB.
    replies = [await _live(server, _padding(total)) for _ in range(10)]
    assert replies == ["ok"] * 10


async def test_one_large_value_under_the_limit_is_accepted(server: Running) -> None:
    big = (("x-big", "b" * (MAX_REQUEST_HEADERS_KIB * 1024 - 2_000)),)
    assert await _live(server, big) == "ok"


async def test_metadata_over_the_limit_is_refused_naming_the_sizes(server: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _live(server, _padding(GRPC_MAX_METADATA_BYTES + 2_000))
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeds hard limit" in (caught.value.details() or "")
    assert f"vs. {GRPC_MAX_METADATA_BYTES})" in (caught.value.details() or "")


@pytest.mark.parametrize(
    "metadata",
    [
        _padding(GRPC_MAX_METADATA_BYTES + 2_000),
        (("x-big", "b" * (GRPC_MAX_METADATA_BYTES + 400)),),
    ],
    ids=["many-headers", "one-value"],
)
async def test_the_refusal_is_worded_as_the_readme_quotes_it(
    server: Running, metadata: tuple[tuple[str, str], ...]
) -> None:
    # The README quoted "(N vs. 69632)" alone; one long value says "(value length N vs. …)".
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _live(server, metadata)
    details = (caught.value.details() or "").split(";", 1)[0]  # then each header's size
    quoted = re.sub(r"\((value length )?\d+ vs\.", r"(\1N vs.", details)
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"`{quoted}`" in readme, quoted
