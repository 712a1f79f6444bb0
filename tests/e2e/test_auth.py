"""Every authentication and authorisation failure mode, over a real channel."""

from __future__ import annotations

import time

import grpc
import jwt
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2 as ghealth_pb2
from grpc_health.v1 import health_pb2_grpc as ghealth_pb2_grpc
from grpc_status import rpc_status

from generated.novaos.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    health_pb2,
    health_pb2_grpc,
)
from novaos.audit.sink import AuditQuery
from tests.fixtures.common import await_until
from tests.fixtures.server import TEST_SECRET, Running, bearer, mint, running_app

_NULL = object()  # a claim given as JSON null (None leaves the claim out)


def _token(**claims: object) -> str:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "alice",
        "tier": "free",
        "roles": [],
        "iat": now,
        "exp": now + 600,
    }
    base.update(claims)
    return jwt.encode(
        {k: None if v is _NULL else v for k, v in base.items() if v is not None},
        TEST_SECRET,
        algorithm="HS256",
    )


def _reason(err: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(err)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return info.reason


async def _chat(running: Running, metadata: tuple[tuple[str, str], ...]) -> chat_pb2.ChatResponse:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    return await stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=metadata)


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ((), "TOKEN_MISSING"),
        ((("authorization", "Basic abc"),), "TOKEN_MALFORMED"),
        ((("authorization", "Bearer not.a.jwt"),), "TOKEN_INVALID"),
        (bearer(_token(exp=int(time.time()) - 3600)), "TOKEN_EXPIRED"),
        (
            bearer(
                jwt.encode(
                    {"sub": "a", "iat": 1, "exp": 2**31},
                    "another-secret-of-32-characters-long!",
                    algorithm="HS256",
                )
            ),
            "TOKEN_INVALID",
        ),
        (bearer(_token(tier="platinum")), "TOKEN_INVALID"),
        (bearer(_token(sub=None)), "TOKEN_INVALID"),
        (bearer(_token(iat=None)), "TOKEN_INVALID"),
        (bearer(jwt.encode({"sub": "a"}, key=None, algorithm="none")), "TOKEN_INVALID"),
        # minted for some other service: refused when no JWT_AUDIENCE says it is ours
        (bearer(_token(aud="billing")), "TOKEN_INVALID"),
        # an empty one too: the README refuses a token that carries an aud at all
        (bearer(_token(aud="")), "TOKEN_INVALID"),
        (bearer(_token(aud=[])), "TOKEN_INVALID"),
        (bearer(_token(aud=_NULL)), "TOKEN_INVALID"),
        (bearer(_token(roles="admin")), "TOKEN_INVALID"),
        # an anonymous caller's key (REQUIRE_AUTH=false): it would share their limits
        (bearer(_token(sub="ip:127.0.0.1")), "TOKEN_INVALID"),
        # what novaos token refuses to mint: one identity for every blank token,
        # another caller than alice (her own limits and conversations)
        (bearer(_token(sub=" ")), "TOKEN_INVALID"),
        (bearer(_token(sub="\t")), "TOKEN_INVALID"),
        (bearer(_token(sub="alice ")), "TOKEN_INVALID"),
    ],
    ids=[
        "missing",
        "wrong-scheme",
        "garbled",
        "expired",
        "wrong-secret",
        "bad-tier",
        "no-sub",
        "no-iat",
        "alg-none",
        "foreign-audience",
        "empty-audience",
        "empty-audience-list",
        "null-audience",
        "roles-not-a-list",
        "anonymous-subject",
        "blank-subject",
        "tab-subject",
        "padded-subject",
    ],
)
async def test_bad_tokens_are_unauthenticated(
    server: Running, metadata: tuple[tuple[str, str], ...], reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _chat(server, metadata)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(err.value) == reason


@pytest.mark.parametrize(
    ("sub", "why"),
    [(" ", "sub: blank, it names nobody"), ("alice ", "sub: begins or ends with whitespace")],
)
async def test_a_blank_or_padded_subject_is_refused_naming_the_claim(
    server: Running, sub: str, why: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _chat(server, bearer(_token(sub=sub)))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details() == why


@pytest.mark.parametrize(
    ("sub", "code_point"),
    [
        ('eve\u2028{"level":"error","message":"FORGED"}', "U+2028"),  # a line break in logs
        ("mal\x85lory", "U+0085"),
        ("ansi\x1b[31mRED", "U+001B"),  # a terminal's escape
        ("al\u200bice", "U+200B"),  # reads as alice
        ("\u202eexe.live", "U+202E"),
    ],
    ids=["line-separator", "next-line", "escape", "zero-width-space", "bidi-override"],
)
async def test_a_subject_with_a_control_or_invisible_character_is_refused(
    server: Running, sub: str, code_point: str
) -> None:
    # Signed and accepted, it reached the log raw (with REDACT_PII=false) and the
    # audit record, and named a caller no one could tell from another.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _chat(server, bearer(_token(sub=sub)))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(err.value) == "TOKEN_INVALID"
    assert err.value.details() == f"sub: holds a control or invisible character ({code_point})"


@pytest.mark.parametrize(
    "sub",
    [
        "Zoë-日本-عربي",
        "می\u200cخواهم",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "Schiff\u00adfahrt",
    ],
    ids=["scripts", "persian-zwnj", "emoji-zwj", "soft-hyphen"],
)
async def test_a_subject_in_any_script_is_accepted(server: Running, sub: str) -> None:
    # ZWNJ, ZWJ and the soft hyphen are format characters (Cf) of ordinary names:
    # refused with the zero-width space, their tokens were TOKEN_INVALID.
    reply = await _chat(server, bearer(_token(sub=sub)))
    assert reply.text


@pytest.mark.parametrize("merged", ["{valid},Bearer x", "Bearer x,{valid}", "{valid}, {valid}"])
async def test_two_authorization_headers_merged_into_one_are_refused_alike(
    server: Running, merged: str
) -> None:
    # What the gateway sees behind Envoy, which joins repeated headers with commas:
    # it used to be TOKEN_INVALID "Invalid payload padding" there, TOKEN_MALFORMED here.
    valid = bearer(mint("alice"))[0][1]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _chat(server, (("authorization", merged.format(valid=valid)),))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(err.value) == "TOKEN_MALFORMED"
    assert err.value.details() == "more than one authorization header"


@pytest.mark.parametrize("order", ["valid-first", "valid-last"])
async def test_two_authorization_headers_are_refused_whatever_their_order(
    server: Running, order: str
) -> None:
    # Which user would it be? The last one used to win: [garbage, valid] passed.
    tokens = [bearer(mint("alice"))[0], ("authorization", "Bearer not-a-token")]
    if order == "valid-last":
        tokens.reverse()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _chat(server, tuple(tokens))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(err.value) == "TOKEN_MALFORMED"


async def test_stream_without_token_is_unauthenticated(server: Running) -> None:
    stub = chat_pb2_grpc.ChatServiceStub(server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stub.StreamChat(chat_pb2.StreamChatRequest(message="hi")):
            pass
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_audit_requires_admin_role(server: Running) -> None:
    stub = audit_pb2_grpc.AuditServiceStub(server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(), metadata=bearer(mint("bob", "enterprise"))
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    ok = await stub.ListAuditEvents(
        audit_pb2.ListAuditEventsRequest(), metadata=bearer(mint("root", roles=("admin",)))
    )
    assert isinstance(ok, audit_pb2.ListAuditEventsResponse)


async def test_reset_circuit_requires_admin(server: Running) -> None:
    stub = health_pb2_grpc.HealthServiceStub(server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ResetCircuit(
            health_pb2.ResetCircuitRequest(provider="mock"), metadata=bearer(mint())
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_health_and_reflection_need_no_token(server: Running) -> None:
    live = await health_pb2_grpc.HealthServiceStub(server.channel).Live(health_pb2.LiveRequest())
    assert live.status == "ok"
    check = await ghealth_pb2_grpc.HealthStub(server.channel).Check(
        ghealth_pb2.HealthCheckRequest(service="")
    )
    assert check.status == ghealth_pb2.HealthCheckResponse.SERVING


async def test_valid_token_is_admitted(server: Running) -> None:
    reply = await _chat(server, bearer(mint("carol", "pro")))
    assert reply.outcome == chat_pb2.OUTCOME_COMPLETED


async def test_anonymous_callers_allowed_when_auth_not_required() -> None:
    async with running_app(REQUIRE_AUTH="false") as running:
        reply = await _chat(running, ())
        assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
        reader, writer = running.app.audit_reader, running.app.audit_log
        assert reader is not None and writer is not None

        async def audited() -> bool:
            return bool((await reader.list(AuditQuery())).records)

        await await_until(audited, timeout_s=5, what="audit record")
        record = (await reader.list(AuditQuery())).records[-1]
        assert record.user == writer.policy.user_ref("ip:127.0.0.1") != "ip:127.0.0.1"
        assert record.tier == "free"


async def test_a_token_without_a_jwt_secret_is_unauthenticated_not_internal() -> None:
    # PyJWT refused the empty key with an InvalidKeyError, which is no
    # InvalidTokenError: INTERNAL and an error log with a traceback, per call.
    async with running_app(REQUIRE_AUTH="false", unset=("JWT_SECRET",)) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Chat(chat_pb2.ChatRequest(message="hi"), metadata=bearer(mint()))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "no JWT_SECRET" in (err.value.details() or "")
        assert (await _chat(running, ())).outcome == chat_pb2.OUTCOME_COMPLETED


async def test_an_anonymous_ipv6_caller_is_one_caller_across_connections() -> None:
    # gRPC names an IPv6 peer "ipv6:%5B::1%5D:port": read raw, the address kept its
    # port, so each new connection was a new caller with fresh free-tier limits.
    async with running_app(REQUIRE_AUTH="false", GRPC_HOST="::1") as running:
        said = []
        for _ in range(2):
            async with grpc.aio.insecure_channel(f"[::1]:{running.app.port}") as channel:
                stub = chat_pb2_grpc.ChatServiceStub(channel)
                reply = await stub.Chat(chat_pb2.ChatRequest(message="hello"))
                listed = await stub.ListConversations(chat_pb2.ListConversationsRequest())
            said.append(reply.conversation_id)
            ids = {c.conversation_id for c in listed.conversations}
        assert set(said) <= ids, (said, ids)  # the second connection sees the first's


async def test_auth_failures_carry_the_request_id(server: Running) -> None:
    stub = chat_pb2_grpc.ChatServiceStub(server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Chat(
            chat_pb2.ChatRequest(message="hi"), metadata=(("x-request-id", "req-abc-1"),)
        )
    status = rpc_status.from_call(err.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.metadata["requestId"] == "req-abc-1"
    assert dict(err.value.trailing_metadata() or ())["x-request-id"] == "req-abc-1"
