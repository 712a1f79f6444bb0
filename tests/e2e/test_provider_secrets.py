"""A provider that quotes the gateway's own API key back: the key reaches neither
the client, nor the logs, nor the audit."""

from __future__ import annotations

import logging
from urllib.parse import quote

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.audit.sink import AuditQuery
from tests.fixtures.common import await_until
from tests.fixtures.fake_providers import Reply, StartServer
from tests.fixtures.provider_wire import anthropic_error, openai_error
from tests.fixtures.server import bearer, mint, running_app

MESSAGE = "How should I plan my week?"
# Shapes no vendor pattern knows (an Ollama or vLLM --api-key, a proxy's token).
COMPAT_KEY = "ollama-local-key-ZZTOPSECRET42"
ANTHROPIC_KEY = "anthropic-custom-key-QQSECRET99887766/+="


def _echo(key: str, status: int) -> str:
    # What the tester's upstream answered: the key bare, in its header, URL-encoded.
    return (
        f"Key {key} rejected (auth header x-api-key: {key}) for model m{status}x;"
        f" see /keys?k={quote(key, safe='')}"
    )


@pytest.mark.parametrize("status", [400, 401])
async def test_a_provider_quoting_our_key_leaks_it_nowhere(
    status: int, caplog: pytest.LogCaptureFixture, fake_server: StartServer
) -> None:
    caplog.set_level(logging.WARNING, logger="novaos")
    compat, anthropic = await fake_server(), await fake_server()
    compat.default = Reply(status, openai_error(status, _echo(COMPAT_KEY, status)))
    anthropic.default = Reply(status, anthropic_error(status, _echo(ANTHROPIC_KEY, status)))
    env = {
        "PREFERRED_PROVIDER": "openai_compat",
        "PROVIDER_FALLBACK_ORDER": "anthropic",
        "OPENAI_COMPAT_BASE_URL": compat.url + "/v1",
        "OPENAI_COMPAT_API_KEY": COMPAT_KEY,
        "OPENAI_COMPAT_MODEL": "fake-1",
        "ANTHROPIC_BASE_URL": anthropic.url + "/v1",
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "AUDIT_INCLUDE_CONTENT": "true",
        "CIRCUIT_FAILURE_THRESHOLD": "10",
    }
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
        events: list[chat_pb2.StreamChatResponse] = []
        with pytest.raises(grpc.aio.AioRpcError) as streamed:
            async for event in stub.StreamChat(
                chat_pb2.StreamChatRequest(message=MESSAGE), metadata=bearer(mint())
            ):
                events.append(event)
        reader = running.app.audit_reader
        assert reader is not None

        async def both_audited() -> bool:
            return len((await reader.list(AuditQuery())).records) >= 2

        await await_until(both_audited, timeout_s=5, what="both calls' audit records")
        records = (await reader.list(AuditQuery())).records
    assert len(compat.requests) == len(anthropic.requests) == 2, "both were asked, twice"
    told = [unary.value.details() or "", streamed.value.details() or ""]
    told.append(events[-1].completed.detail)
    if status == 400:  # the request's own fault: each provider's reason is quoted
        assert unary.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert all("openai_compat: HTTP 400: Key [REDACTED:secret] rejected" in t for t in told)
    logged = [repr(vars(r)) for r in caplog.records if r.getMessage() == "provider call failed"]
    assert len(logged) == 4 and all("[REDACTED:secret]" in line for line in logged)
    audited = [repr(r) for r in records]
    for key in (COMPAT_KEY, ANTHROPIC_KEY):
        for form in (key, quote(key, safe=""), "ZZTOPSECRET42", "QQSECRET99887766"):
            assert not any(form in text for text in told + logged + audited), form


# A corporate proxy's service token: past the 200 characters an error message
# was cut to before the gateway scrubbed it (no vendor shape: redact() misses it).
LONG_KEY = "corp-gw-token-" + "".join(f"{i:03d}Q7x" for i in range(46))[:271]


async def test_a_long_key_quoted_twice_is_scrubbed_before_any_cut(
    caplog: pytest.LogCaptureFixture, fake_server: StartServer
) -> None:
    caplog.set_level(logging.WARNING, logger="novaos")
    compat = await fake_server()
    compat.default = Reply(
        400, openai_error(400, f"Key {LONG_KEY} rejected; expected format differs from {LONG_KEY}")
    )
    env = {
        "PREFERRED_PROVIDER": "openai_compat",
        "OPENAI_COMPAT_BASE_URL": compat.url + "/v1",
        "OPENAI_COMPAT_API_KEY": LONG_KEY,
        "OPENAI_COMPAT_MODEL": "fake-1",
        "CIRCUIT_FAILURE_THRESHOLD": "10",
    }
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
    told = unary.value.details() or ""
    assert "HTTP 400: Key [REDACTED:secret] rejected; expected format differs from" in told
    logged = [repr(vars(r)) for r in caplog.records if r.getMessage() == "provider call failed"]
    assert len(logged) == 1
    pieces = {LONG_KEY[i : i + 12] for i in range(len(LONG_KEY) - 11)}
    for text in (told, *logged):
        assert not any(piece in text for piece in pieces), text
