"""Tier limits, conversation RPCs and storage health through the real gRPC server."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc, health_pb2, health_pb2_grpc
from tests.fixtures.common import await_until, holds
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import Running, bearer, mint, running_app


def _details(err: grpc.aio.AioRpcError) -> dict[str, object]:
    status = rpc_status.from_call(err)
    assert status is not None
    found: dict[str, object] = {}
    for detail in status.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.RetryInfo,
            error_details_pb2.QuotaFailure,
        ):
            if detail.Is(cls.DESCRIPTOR):
                message = cls()
                detail.Unpack(message)
                found[cls.DESCRIPTOR.name] = message
    return found


async def test_over_the_limit_is_resource_exhausted_with_details(redis_url: str) -> None:
    async with running_app(REDIS_URL=redis_url, RATE_LIMIT_FREE="2") as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("limited-user", "free"))
        for remaining in (1, 0):
            rpc = stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=who)
            await rpc
            headers = dict(await rpc.trailing_metadata())  # a native unary reply's metadata
            assert headers["x-ratelimit-limit"] == "2"
            assert headers["x-ratelimit-remaining"] == str(remaining)
            assert 0 < int(str(headers["x-ratelimit-reset"])) <= 60
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=who)
        err = caught.value
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(err.trailing_metadata() or ())
        assert trailers["x-ratelimit-limit"] == "2"
        assert trailers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(str(trailers["retry-after"])) <= 60
        details = _details(err)
        info = details["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert info.reason == "RATE_LIMITED" and info.metadata["limit"] == "requests_per_minute"
        retry = details["RetryInfo"]
        assert isinstance(retry, error_details_pb2.RetryInfo)
        assert 0 < retry.retry_delay.seconds <= 60
        quota = details["QuotaFailure"]
        assert isinstance(quota, error_details_pb2.QuotaFailure)
        assert "requests per minute" in quota.violations[0].description
        # another user has a budget of their own
        await stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=bearer(mint("other")))
        assert (
            running.app.metrics.rate_limited.labels("free", "requests_per_minute")._value.get() == 1
        )


async def _chat(running: Running, user: str, conversation_id: str, text: str) -> int:
    """One completed turn; returns the prompt tokens the model was sent."""
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    request = chat_pb2.ChatRequest(message=text, conversation_id=conversation_id)
    reply = await stub.Chat(request, metadata=bearer(mint(user)))
    assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
    return reply.usage.input_tokens


async def test_conversation_rpcs_serve_only_the_owner(redis_url: str) -> None:
    async with running_app(REDIS_URL=redis_url, CONVERSATION_MAX_TURNS="2") as running:
        first = await _chat(running, "owner", "trip-plans", "same question")
        second = await _chat(running, "owner", "trip-plans", "same question")
        assert second > first  # the earlier turns were fed to the model
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        owner, stranger = bearer(mint("owner")), bearer(mint("stranger"))
        listed = await stub.ListConversations(chat_pb2.ListConversationsRequest(), metadata=owner)
        assert [(c.conversation_id, c.turn_count) for c in listed.conversations] == [
            ("trip-plans", 2)
        ]
        got = await stub.GetConversation(
            chat_pb2.GetConversationRequest(conversation_id="trip-plans"), metadata=owner
        )
        assert [t.role for t in got.turns] == ["user", "assistant"]
        assert got.turns[0].text == "same question"
        empty = await stub.ListConversations(chat_pb2.ListConversationsRequest(), metadata=stranger)
        assert list(empty.conversations) == []
        with pytest.raises(grpc.aio.AioRpcError) as negative:
            await stub.ListConversations(
                chat_pb2.ListConversationsRequest(page_size=-1), metadata=owner
            )
        assert negative.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "page_size" in (negative.value.details() or "")
        for rpc in (stub.GetConversation, stub.DeleteConversation):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await rpc(
                    chat_pb2.GetConversationRequest(conversation_id="trip-plans"), metadata=stranger
                )  # type: ignore[operator]
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        await stub.DeleteConversation(
            chat_pb2.DeleteConversationRequest(conversation_id="trip-plans"), metadata=owner
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetConversation(
                chat_pb2.GetConversationRequest(conversation_id="trip-plans"), metadata=owner
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_get_health_reports_the_redis_fallback(private_redis: RedisServer) -> None:
    async with running_app(
        REDIS_URL=private_redis.url, REDIS_RECONNECT_MAX_BACKOFF_MS="500"
    ) as running:
        health = health_pb2_grpc.HealthServiceStub(running.channel)

        async def storage_is(status: str) -> bool:
            got = await health.GetHealth(health_pb2.GetHealthRequest())
            return got.storage.backend == "redis" and got.storage.status == status

        assert await storage_is("ok")
        private_redis.kill()
        await await_until(lambda: storage_is("fallback"), what="storage fallback in GetHealth")
        # No id: one the client names is refused while memory cannot vouch for its
        # history (HISTORY_UNAVAILABLE); one the server makes up is answered.
        await _chat(running, "during-outage", "", "still answering?")
        assert running.app.metrics.storage_fallback._value.get() == 1
        private_redis.start()
        await await_until(lambda: storage_is("ok"), timeout_s=5, what="storage ok again")
        assert running.app.metrics.storage_fallback._value.get() == 0


async def test_a_tokens_refusal_carries_the_token_limit_headers(redis_url: str) -> None:
    # Requests/min has room left: the headers used to say limit 10, remaining 7,
    # a 429 with quota left.
    env = {"RATE_LIMIT_FREE": "10", "TOKEN_LIMIT_FREE": "3000", "MOCK_TOKEN_DELAY_MS": "0"}
    async with running_app(REDIS_URL=redis_url, MOCK_RESPONSE_TOKENS="1000", **env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("token-spender", "free"))
        request = chat_pb2.ChatRequest(
            message="hello", options=chat_pb2.GenerationOptions(max_tokens=1200)
        )
        admitted = 0
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            for _ in range(10):  # ~1,000 tokens each: the third does not fit
                await stub.Chat(request, metadata=who)
                admitted += 1
        assert 1 <= admitted < 10
        err = caught.value
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = _details(err)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert info.metadata["limit"] == "tokens_per_minute"
        trailers = {k: str(v) for k, v in err.trailing_metadata() or ()}
        assert trailers["x-ratelimit-limit"] == "3000"
        assert trailers["x-ratelimit-remaining"] == "0"
        assert trailers["x-ratelimit-reset"] == trailers["retry-after"]
        assert 1 <= int(trailers["retry-after"]) <= 60
        assert trailers["x-ratelimit-limit-tokens"] == "3000"
        # what is left, though less than the call reserves (max_tokens + the longest prompt)
        assert 0 <= int(trailers["x-ratelimit-remaining-tokens"]) < 3000 - 1000 * admitted
        assert trailers["x-ratelimit-reset-tokens"] == trailers["retry-after"] + "s"
        assert trailers["x-ratelimit-limit-requests"] == "10"
        assert trailers["x-ratelimit-remaining-requests"] == str(10 - admitted)


async def test_a_concurrency_refusal_carries_the_concurrency_limit_headers() -> None:
    # In-process limits this time. Two slow streams hold both slots.
    env = {"CONCURRENCY_LIMIT_FREE": "2", "RATE_LIMIT_FREE": "5", "MOCK_TOKEN_DELAY_MS": "200"}
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("parallel-user", "free"))
        request = chat_pb2.StreamChatRequest(message="hello")
        holding = [stub.StreamChat(request, metadata=who) for _ in range(2)]
        for call in holding:
            first = await call.read()  # admitted: its lease is held until the stream ends
            assert isinstance(first, chat_pb2.StreamChatResponse)
            assert first.WhichOneof("event") == "started"
        third = stub.StreamChat(request, metadata=who)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await third.read()
        for call in holding:
            call.cancel()
        err = caught.value
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = _details(err)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert info.metadata["limit"] == "concurrency"
        trailers = {k: str(v) for k, v in err.trailing_metadata() or ()}
        # A refused stream names its worker with its request id, as an answer does.
        assert trailers["x-request-id"] and trailers["x-novaos-worker"] == "0"
        assert trailers["x-ratelimit-limit"] == "2"  # used to be 5, remaining 3
        assert trailers["x-ratelimit-remaining"] == "0"
        assert trailers["x-ratelimit-reset"] == trailers["retry-after"] == "1"
        assert trailers["x-ratelimit-limit-requests"] == "5"
        assert trailers["x-ratelimit-remaining-requests"] == "3"


@pytest.mark.parametrize("store", ["redis", "memory"])
async def test_a_request_over_the_whole_token_limit_is_a_failed_precondition_without_retry(
    redis_url: str, store: str
) -> None:
    # Default free limits: 10,000 tokens/min. An 8.5k-character message and
    # max_tokens=8192 can never fit; it was RESOURCE_EXHAUSTED with retry-after 60
    # and a RetryInfo, which a client following them retries forever.
    env = {"TOKEN_LIMIT_FREE": "10000", **({"REDIS_URL": redis_url} if store == "redis" else {})}
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        message = ("please review this paragraph about budget planning. " * 170)[:8500]
        request = chat_pb2.ChatRequest(
            message=message, options=chat_pb2.GenerationOptions(max_tokens=8192)
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Chat(request, metadata=bearer(mint("never-fits", "free")))
        err = caught.value
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        text = err.details() or ""
        assert "10000 tokens per minute" in text and "max_tokens" in text
        details = _details(err)
        assert "RetryInfo" not in details
        info = details["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert info.reason == "REQUEST_OVER_TOKEN_LIMIT"
        assert info.metadata["limit"] == "tokens_per_minute"
        assert int(info.metadata["reservedTokens"]) > 10000
        assert f"reserves {info.metadata['reservedTokens']} tokens" in text
        trailers = {k: str(v) for k, v in err.trailing_metadata() or ()}
        assert "retry-after" not in trailers
        assert trailers["x-ratelimit-limit-tokens"] == "10000"
        assert trailers["x-ratelimit-remaining-tokens"] == "10000"  # nothing was charged
        assert "x-request-id" in trailers and trailers["x-novaos-worker"] == "0"
        # Nothing charged: a request that fits is admitted at once.
        small = chat_pb2.ChatRequest(message="hello")
        await stub.Chat(small, metadata=bearer(mint("never-fits", "free")))


@pytest.mark.parametrize("store", ["redis", "memory"])
async def test_one_subject_has_one_budget_whatever_tier_its_tokens_name(
    redis_url: str, store: str
) -> None:
    # Counters were keyed by (sub, tier): one sub holding a free, a pro and an
    # enterprise token ran 2 + 3 + 3 streams at once, and an old token kept after a
    # downgrade added its tier's limits to the new one's.
    env = {
        "CONCURRENCY_LIMIT_FREE": "2",
        "CONCURRENCY_LIMIT_PRO": "3",
        "CONCURRENCY_LIMIT_ENTERPRISE": "3",
        "MOCK_TOKEN_DELAY_MS": "200",
        **({"REDIS_URL": redis_url} if store == "redis" else {}),
    }
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.StreamChatRequest(message="hello")
        held: list[grpc.aio.UnaryStreamCall[object, object]] = []
        refused: list[str] = []
        for tier in ("free", "pro", "enterprise") * 3:
            call = stub.StreamChat(request, metadata=bearer(mint("one-person", tier)))
            try:
                await call.read()  # admitted: its lease is held until the stream ends
                held.append(call)
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                refused.append(tier)
        for call in held:
            call.cancel()
    # Each tier's own number applies to the subject's one count: at most the
    # largest (3) run at once, never the sum (8).
    assert len(held) == 3, (len(held), refused)


async def test_a_full_redis_is_served_from_memory_not_internal(private_redis: RedisServer) -> None:
    # maxmemory with noeviction, as production runs it: the conversation write after
    # the model answered failed with OOM, the call with INTERNAL (the stream after its
    # text had been sent), and nothing said Redis was in trouble.
    async with running_app(
        REDIS_URL=private_redis.url, REDIS_RECONNECT_MAX_BACKOFF_MS="200"
    ) as running:
        private_redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
        private_redis.cli("CONFIG", "SET", "maxmemory", "1")
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        # A new id the server makes up: the claim written on memory is this
        # process's own, so the conversation goes on during the outage.
        reply = await stub.Chat(
            chat_pb2.ChatRequest(message="still answering?"), metadata=bearer(mint("full-redis"))
        )
        assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
        assert running.app.metrics.storage_fallback._value.get() == 1
        request = chat_pb2.StreamChatRequest(
            message="and streaming?", conversation_id=reply.conversation_id
        )
        kinds = [
            e.WhichOneof("event")
            async for e in stub.StreamChat(request, metadata=bearer(mint("full-redis")))
        ]
        assert kinds[-1] == "completed" and "delta" in kinds
        assert running.app.metrics.storage_fallback._value.get() == 1, "still full: no flapping"
        private_redis.cli("CONFIG", "SET", "maxmemory", "0")
        await await_until(
            lambda: holds(running.app.metrics.storage_fallback._value.get() == 0),
            what="back on Redis once it takes writes",
        )
