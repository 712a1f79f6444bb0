"""gateway_overhead_seconds is NovaOS's own time: a call given up on while the
provider has not answered yet counts that wait as the provider's.

The wait was added up only after the provider's chunk (or whole answer) came: a
deadline or a cancel that interrupted it left the wait out, and the call's whole
life (a hanging upstream up to the client's deadline) was observed as overhead.
A unary call observed its overhead only when it answered: one that failed or was
given up on was left out of the histogram (``tests/unit/spine/test_provider_wait.py``
covers the unary path's wait itself).
"""

from __future__ import annotations

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import await_until, holds
from tests.fixtures.fake_providers import Reply, Stall, StartServer
from tests.fixtures.server import Running, bearer, mint, running_app

DEADLINE_S = 1.0


def _overhead(running: Running) -> tuple[float, float]:
    """(count, sum) of gateway_overhead_seconds so far."""
    registry = running.app.metrics.registry
    count = registry.get_sample_value("gateway_overhead_seconds_count") or 0.0
    return count, registry.get_sample_value("gateway_overhead_seconds_sum") or 0.0


async def _give_up(running: Running, *, unary: bool) -> None:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    metadata = bearer(mint("overhead", "free"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        if unary:
            request = chat_pb2.ChatRequest(message="hello there")
            await stub.Chat(request, metadata=metadata, timeout=DEADLINE_S)
        else:
            stream = chat_pb2.StreamChatRequest(message="hello there")
            async for _ in stub.StreamChat(stream, metadata=metadata, timeout=DEADLINE_S):
                pass
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize("unary", [False, True], ids=["stream", "unary"])
async def test_a_call_whose_deadline_passes_while_the_provider_hangs_is_not_overhead(
    fake_server: StartServer, *, unary: bool
) -> None:
    upstream = await fake_server()
    upstream.default = Reply(body=[Stall()], content_type="text/event-stream")
    env = {
        "PREFERRED_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": upstream.url + "/v1",
    }
    async with running_app(**env) as running:
        await _give_up(running, unary=unary)
        await await_until(lambda: holds(_overhead(running)[0] == 1), what="overhead observed")
        assert len(upstream.requests) == 1  # the wait was the provider's
        _, seconds = _overhead(running)
    # The gates and the rest take milliseconds here; the hang took the whole second.
    assert seconds < DEADLINE_S / 2, f"{seconds:.3f} s counted as NovaOS's own time"
