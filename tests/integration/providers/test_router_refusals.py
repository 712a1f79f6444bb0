"""Router over real adapters and fake servers: a request every provider refused
because of the request itself ends as no retry can mend, naming each refusal."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from novaos.errors import ProviderRejectedRequestError, ProviderUnavailableError
from novaos.ports import ProviderRequest
from tests.fixtures.fake_providers import Reply
from tests.fixtures.provider_wire import openai_error
from tests.integration.providers.test_router import (
    DOWN_SECONDARY,
    OK_SECONDARY,
    REQUEST,
    Pair,
    collect,
)
from tests.integration.providers.test_router_failover import open_secondary

TOO_LONG = Reply(
    400,
    json.dumps(
        {
            "error": {
                "message": "This model's maximum context length is 128000 tokens. However,"
                " your messages resulted in 200000 tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        }
    ).encode(),
)
PROMPT_TOO_LONG = Reply(
    400,
    b'{"type":"error","error":{"type":"invalid_request_error",'
    b'"message":"prompt is too long: 210000 tokens > 200000 maximum"}}',
)
NO_MODEL = Reply(
    404,
    b'{"type":"error","error":{"type":"not_found_error","message":"model: claude-9"}}',
)
NO_OPENAI_MODEL = Reply(
    404,
    json.dumps(
        {
            "error": {
                "message": "The model `gpt-4o-minii` does not exist or you do not have access"
                " to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        }
    ).encode(),
)


async def refused(
    pair: Pair, *, whole: bool, request: ProviderRequest = REQUEST
) -> ProviderRejectedRequestError:
    with pytest.raises(ProviderRejectedRequestError) as caught:
        if whole:
            await pair.router.complete(request)
        else:
            await collect(pair.router, request)
    return caught.value


async def unavailable(
    pair: Pair, *, whole: bool, request: ProviderRequest = REQUEST
) -> ProviderUnavailableError:
    with pytest.raises(ProviderUnavailableError) as caught:
        if whole:
            await pair.router.complete(request)
        else:
            await collect(pair.router, request)
    return caught.value


@pytest.mark.parametrize("whole", [False, True], ids=["stream", "unary"])
async def test_a_request_every_provider_refused_is_rejected_naming_each(
    pair: Pair, whole: bool
) -> None:
    # It was UNAVAILABLE PROVIDER_UNAVAILABLE with a 0 s RetryInfo, the providers'
    # reasons dropped: a client that retries on UNAVAILABLE looped for ever.
    pair.primary.queue(TOO_LONG)
    pair.secondary.queue(PROMPT_TOO_LONG)
    error = await refused(pair, whole=whole)
    assert error.reason == "PROVIDER_REJECTED_REQUEST"
    assert "openai: HTTP 400: This model's maximum context length is 128000" in error.message
    assert "anthropic: HTTP 400: prompt is too long: 210000 tokens" in error.message
    assert error.metadata == {"providers": "openai:400,anthropic:400"}
    assert not hasattr(error, "retry_after_s"), "no wait mends it"
    assert [c.consecutive_failures for c in pair.router.circuits()] == [0, 0]


async def test_each_refusal_is_redacted_and_shortened(pair: Pair) -> None:
    # Providers quote the request back; what reaches the client is redacted as
    # the logs are, and short enough for three to fit the status message.
    quoted = "Invalid value for messages[0]: mail jane.doe@example.com now. " + "x" * 400
    pair.secondary.queue(NO_MODEL)  # asked first, for the model the client named
    pair.primary.queue(Reply(422, openai_error(422, quoted)))
    asked = replace(REQUEST, model="claude-9", preferred_provider="anthropic")
    error = await refused(pair, whole=False, request=asked)
    assert "jane.doe@example.com" not in error.message
    assert "[REDACTED:" in error.message
    assert len(error.message) < 400
    assert "anthropic: HTTP 404: model: claude-9" in error.message
    assert error.metadata == {"providers": "anthropic:404,openai:422"}


@pytest.mark.parametrize("whole", [False, True], ids=["stream", "unary"])
async def test_a_404_for_a_configured_model_stays_unavailable(pair: Pair, whole: bool) -> None:
    # A model name misspelt in the config (or a base URL with a wrong path) failed
    # every call as the client's fault, INVALID_ARGUMENT, which no alert counts.
    pair.primary.queue(NO_OPENAI_MODEL)
    pair.secondary.queue(NO_MODEL)
    error = await unavailable(pair, whole=whole)
    assert error.reason == "PROVIDER_UNAVAILABLE"
    assert "openai: config_error; anthropic: config_error" in error.message
    assert [r.json()["model"] for r in pair.primary.requests] == ["gpt-4o-mini"]


async def test_a_404_is_the_requests_own_for_the_model_the_client_asked(pair: Pair) -> None:
    # The model asked of the first provider is the client's; the fallback is
    # called with its configured one, whose 404 is the gateway's to mend.
    asked = replace(REQUEST, model="gpt-9")
    pair.primary.queue(NO_OPENAI_MODEL)
    pair.secondary.queue(PROMPT_TOO_LONG)
    error = await refused(pair, whole=False, request=asked)
    assert error.metadata == {"providers": "openai:404,anthropic:400"}
    pair.primary.queue(NO_OPENAI_MODEL)
    pair.secondary.queue(NO_MODEL)
    assert (await unavailable(pair, whole=True, request=asked)).reason == "PROVIDER_UNAVAILABLE"


async def test_a_404_for_a_configured_model_opens_its_breaker(pair: Pair) -> None:
    # It did not count as a breaker failure: a misspelt OPENAI_MODEL cost every
    # request a round trip to the broken provider before its fallback was asked.
    for _ in range(3):  # the failure threshold
        pair.primary.queue(NO_OPENAI_MODEL)
        pair.secondary.queue(OK_SECONDARY)
        await collect(pair.router)
    assert pair.router.circuits()[0].state == 1  # open
    pair.secondary.queue(OK_SECONDARY)
    await collect(pair.router)
    assert len(pair.primary.requests) == 3, "its open breaker keeps it out"
    # Counted under a kind of its own: as request_error, which also labels the
    # client's own bad requests, the alert on failed calls could not count it.
    assert pair.observer.failures == [("openai", "config_error")] * 3


async def test_a_redirect_opens_the_breaker_as_a_config_error(pair: Pair) -> None:
    moved = Reply(301, b"", headers={"location": "https://elsewhere.example/v1"})
    for _ in range(3):
        pair.primary.queue(moved)
        pair.secondary.queue(OK_SECONDARY)
        await collect(pair.router)
    assert pair.router.circuits()[0].state == 1  # open
    assert pair.observer.failures == [("openai", "config_error")] * 3


async def test_a_404_for_the_model_the_client_asked_leaves_the_breaker_closed(
    pair: Pair,
) -> None:
    asked = replace(REQUEST, model="gpt-9")
    for _ in range(4):
        pair.primary.queue(NO_OPENAI_MODEL)
        pair.secondary.queue(OK_SECONDARY)
        await collect(pair.router, asked)
    circuit = pair.router.circuits()[0]
    assert (circuit.state, circuit.consecutive_failures) == (0, 0)
    assert len(pair.primary.requests) == 4
    assert pair.observer.failures == [("openai", "request_error")] * 4


@pytest.mark.parametrize(
    "secondary",
    [DOWN_SECONDARY, Reply(429, b'{"type":"error","error":{"type":"rate_limit_error"}}')],
    ids=["529", "429"],
)
async def test_a_refusal_with_any_other_failure_stays_unavailable(
    pair: Pair, secondary: Reply
) -> None:
    # The other provider may answer once it is back: retrying may help.
    pair.primary.queue(TOO_LONG)
    pair.secondary.queue(secondary)
    with pytest.raises(ProviderUnavailableError) as caught:
        await collect(pair.router)
    assert caught.value.reason == "PROVIDER_UNAVAILABLE"


async def test_a_refusal_with_a_provider_skipped_stays_unavailable(pair: Pair) -> None:
    # Anthropic's breaker is open: it was never asked, and may take the request later.
    await open_secondary(pair)
    pair.primary.queue(TOO_LONG)
    with pytest.raises(ProviderUnavailableError) as caught:
        await collect(pair.router)
    assert "anthropic: circuit open" in caught.value.message
    assert caught.value.retry_after_s > 0
