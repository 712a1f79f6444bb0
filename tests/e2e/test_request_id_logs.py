"""Lines logged while a call is served name its request id, from every layer.

Operators find a call's lines by its x-request-id (docs/operations.md, Errors):
the router's "provider call failed" warning, logged inside the call, had none.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.config import load_settings
from novaos.observability.logging import QUIET_LOGGERS, configure_logging
from tests.fixtures.fake_providers import Reply, StartServer
from tests.fixtures.provider_wire import openai_error
from tests.fixtures.server import BASE_ENV, bearer, mint, running_app


@contextmanager
def _logging_to_string(**env: str) -> Iterator[io.StringIO]:
    """The JSON handler the server installs, writing here; the root logger as it was after."""
    root = logging.getLogger()
    level, quiet = root.level, {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    stream = io.StringIO()
    handler = configure_logging(
        load_settings({**BASE_ENV, "LOG_LEVEL": "info", **env}), stream=stream
    )
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)
    for name, was in quiet.items():
        logging.getLogger(name).setLevel(was)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    with _logging_to_string() as stream:
        yield stream


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


@pytest.fixture
def unredacted_log() -> Iterator[io.StringIO]:
    """REDACT_PII=false: nothing but the line's own care keeps PII out."""
    with _logging_to_string(REDACT_PII="false") as stream:
        yield stream


PROMPT = "Please tell me a short fact about otters, my email is otter.fan@example.org"
_QUOTED = json.dumps([{"role": "user", "content": PROMPT}])
ECHOING = {
    # OpenAI's shape; the message repeats the key and the request's messages
    "401-json": Reply(
        401,
        json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided: sk-test. prompt was: {_QUOTED}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        ).encode(),
    ),
    # a proxy's plain-text page quoting the body it could not pass on
    "502-text": Reply(
        502, f"bad gateway; request body: {PROMPT}".encode(), content_type="text/plain"
    ),
}


@pytest.mark.parametrize("case", list(ECHOING))
async def test_a_provider_error_that_quotes_the_prompt_keeps_it_out_of_the_log(
    fake_server: StartServer, unredacted_log: io.StringIO, case: str
) -> None:
    # The line's detail was the provider's message verbatim: a body quoting the
    # request put the user's prompt in the logs (PII redaction, when on, hid only
    # the key and the e-mail address).
    upstream = await fake_server()
    upstream.default = ECHOING[case]
    env = {
        "PREFERRED_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": upstream.url + "/v1",
    }
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Chat(chat_pb2.ChatRequest(message=PROMPT), metadata=bearer(mint("quoted")))
    assert PROMPT in upstream.requests[0].body.decode()  # it was sent, and echoed
    text = unredacted_log.getvalue()
    (line,) = [json.loads(x) for x in text.splitlines() if "provider call failed" in x]
    for start in range(0, len(PROMPT) - 12):
        assert PROMPT[start : start + 12] not in text, line
    assert len(line["detail"]) <= 120
    assert "[REDACTED:prompt]" in line["detail"]
    if case == "401-json":
        assert (line["status"], line["kind"]) == (401, "auth_error")
        assert (line["error_type"], line["error_code"]) == (
            "invalid_request_error",
            "invalid_api_key",
        )
        assert line["detail"].startswith("HTTP 401: Incorrect API key provided: ")
    else:
        assert (line["status"], line["error_type"], line["error_code"]) == (502, "", "")
        assert line["detail"] == "HTTP 502: bad gateway; request body: [REDACTED:prompt]"
