"""Lines logged while a call is served name its request id, from every layer.

Operators find a call's lines by its x-request-id (docs/operations.md, Errors):
the router's "provider call failed" warning, logged inside the call, had none.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.config import load_settings
from novaos.observability.logging import QUIET_LOGGERS, configure_logging
from tests.fixtures.fake_providers import Reply, StartServer
from tests.fixtures.provider_wire import openai_error
from tests.fixtures.server import BASE_ENV, bearer, mint, running_app


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The JSON handler the server installs, writing here; the root logger as it was after."""
    root = logging.getLogger()
    level, quiet = root.level, {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    stream = io.StringIO()
    handler = configure_logging(load_settings({**BASE_ENV, "LOG_LEVEL": "info"}), stream=stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)
    for name, was in quiet.items():
        logging.getLogger(name).setLevel(was)


async def test_a_failed_provider_call_is_logged_with_the_calls_request_id(
    fake_server: StartServer, json_log: io.StringIO
) -> None:
    upstream = await fake_server()
    upstream.default = Reply(status=500, body=openai_error(500, "upstream broke"))
    env = {
        "PREFERRED_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": upstream.url + "/v1",
        "CIRCUIT_FAILURE_THRESHOLD": "1",
    }
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        metadata = (*bearer(mint("logged")), ("x-request-id", "rid-provider-500"))
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Chat(chat_pb2.ChatRequest(message="hello there"), metadata=metadata)
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    by_message = {line["message"]: line for line in lines}
    for message in ("provider call failed", "CIRCUIT_BREAKER state changed", "Call failed"):
        assert by_message[message].get("requestId") == "rid-provider-500", by_message[message]
    started = by_message["gRPC server listening"]  # not within a call: no request id
    assert "requestId" not in started
