"""Readiness follows the circuits; dashboards and alerts name only metrics a live server exports."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2 as ghealth_pb2
from grpc_health.v1 import health_pb2_grpc as ghealth_pb2_grpc

from generated.novaos.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    health_pb2,
    health_pb2_grpc,
)
from tests.fixtures.common import free_port
from tests.fixtures.deploy_assets import (
    EXPORTED_METRICS,
    SYNTHETIC_METRICS,
    alert_metric_names,
    dashboard_metric_names,
)
from tests.fixtures.fake_providers import Reply, StartServer
from tests.fixtures.provider_wire import openai_error, openai_json
from tests.fixtures.server import Subprocess, bearer, mint, running_app

SERVING = ghealth_pb2.HealthCheckResponse.SERVING
NOT_SERVING = ghealth_pb2.HealthCheckResponse.NOT_SERVING


async def _status(channel: grpc.aio.Channel, service: str = "") -> int:
    stub = ghealth_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(ghealth_pb2.HealthCheckRequest(service=service))
    return int(reply.status)


async def _until_status(channel: grpc.aio.Channel, want: int, timeout_s: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await _status(channel) != want:
        assert asyncio.get_running_loop().time() < deadline, f"health never became {want}"
        await asyncio.sleep(0.05)


async def test_readiness_flips_with_the_circuits_and_liveness_stays(
    fake_server: StartServer,
) -> None:
    upstream = await fake_server()
    upstream.default = Reply(500, openai_error(500, "down"))
    env = {
        "PREFERRED_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": upstream.url + "/v1",
        "CIRCUIT_FAILURE_THRESHOLD": "1",
        "CIRCUIT_RESET_TIMEOUT_MS": "1500",
    }
    async with running_app(**env) as running:
        running.app.readiness_interval_s = 0.05
        channel = running.channel
        health = health_pb2_grpc.HealthServiceStub(channel)
        assert await _status(channel) == SERVING
        chat = chat_pb2_grpc.ChatServiceStub(channel)
        try:
            await chat.Chat(chat_pb2.ChatRequest(message="hello"), metadata=bearer(mint()))
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE
        await _until_status(channel, NOT_SERVING)
        assert await _status(channel, "novaos.v1.ChatService") == NOT_SERVING
        assert await _status(channel, "novaos.v1.HealthService") == SERVING, "liveness target"
        assert (await health.Live(health_pb2.LiveRequest())).status == "ok"
        try:  # not ready is UNAVAILABLE (503 through Envoy), naming the failing check
            await health.Ready(health_pb2.ReadyRequest())
            raise AssertionError("Ready answered OK with every circuit open")
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE
            assert "providers=all_circuits_open" in (err.details() or "")
        upstream.default = Reply(body=openai_json("all good.", (5, 3)))  # unary: one response
        await _until_status(channel, SERVING)  # reset timeout passed: half-open admits a probe
        reply = await chat.Chat(chat_pb2.ChatRequest(message="hello"), metadata=bearer(mint()))
        assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
        assert (await health.Ready(health_pb2.ReadyRequest())).status == "ready"


def _exported_families(metrics_port: int) -> set[str]:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    return set(re.findall(r"^# TYPE (\S+) ", text, flags=re.M))


def _fold(name: str) -> str:
    return re.sub(r"_(bucket|sum|count|created)$", "", name)


def test_dashboard_and_alerts_name_only_metrics_the_server_exports(
    spawn_server: Callable[..., Subprocess],
) -> None:
    srv = spawn_server()
    families = _exported_families(srv.metrics_port)
    # Counters are typed under their base name; samples carry `_total`.
    live = families | {f"{f}_total" for f in families}
    wanted = {_fold(n) for n in dashboard_metric_names() | alert_metric_names()}
    missing = wanted - SYNTHETIC_METRICS - live
    assert not missing, f"dashboard/alerts use metrics the server does not export: {missing}"
    assert live >= EXPORTED_METRICS, EXPORTED_METRICS - live


async def test_a_gateway_whose_audit_sink_is_down_at_start_is_never_reported_ready() -> None:
    # PostgreSQL unreachable at start: records spill, and readiness says so at
    # once, not after the first readiness interval.
    dead_db = f"postgresql://novaos@127.0.0.1:{free_port()}/novaos"
    async with running_app(AUDIT_STORAGE_TYPE="database", DATABASE_URL=dead_db) as running:
        assert await _status(running.channel) == NOT_SERVING
        assert await _status(running.channel, "novaos.v1.HealthService") == SERVING  # liveness


@pytest.mark.parametrize("port", ["3000", "abc"])  # abc stopped start-up
async def test_the_guides_port_variable_is_named_as_unused_at_start(
    caplog: pytest.LogCaptureFixture, port: str
) -> None:
    # PORT=3000 (the guide's required variable) was silently ignored: probes and
    # scrapes aimed at 3000 found nothing and nothing said why.
    caplog.set_level(logging.WARNING, logger="novaos.app")
    async with running_app(PORT=port):
        pass
    warned = [r.getMessage() for r in caplog.records if r.name == "novaos.app"]
    assert any("PORT is not used" in m and "GRPC_PORT" in m for m in warned), warned


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_production_start_without_a_chain_key_warns_that_the_chain_is_plain(
    caplog: pytest.LogCaptureFixture, keyed: bool
) -> None:
    caplog.set_level(logging.WARNING, logger="novaos.app")
    key = {"AUDIT_CHAIN_KEY": "operability-chain-key-0123456789abcdef"}
    env = {"NODE_ENV": "production"} | (key if keyed else {})
    async with running_app(**env):
        pass
    warned = [r.getMessage() for r in caplog.records if r.name == "novaos.app"]
    assert any("AUDIT_CHAIN_KEY is not set" in m for m in warned) is not keyed, warned


@pytest.mark.parametrize(
    ("env", "warns"),
    [
        ({"NODE_ENV": "production"}, True),  # PREFERRED_PROVIDER=mock, as BASE_ENV sets it
        ({"NODE_ENV": "production", "PROVIDER_FALLBACK_ORDER": "mock"}, True),
        ({"NODE_ENV": "test"}, False),
    ],
)
async def test_a_production_start_on_the_mock_provider_warns_that_answers_are_canned(
    caplog: pytest.LogCaptureFixture, env: dict[str, str], warns: bool
) -> None:
    caplog.set_level(logging.WARNING, logger="novaos.app")
    async with running_app(**env):
        pass
    warned = [r.getMessage() for r in caplog.records if r.name == "novaos.app"]
    assert any("mock provider is configured in production" in m for m in warned) is warns, warned


async def test_a_call_refused_before_the_pipeline_leaves_a_log_line_with_its_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A refused call (no token, over a limit) writes no request line and no audit
    # record; its x-request-id must still be findable in the logs.
    caplog.set_level(logging.INFO, logger="novaos.transport")
    async with running_app(RATE_LIMIT_FREE="1") as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        token = bearer(mint("ops-user"))
        answered = await stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=token)
        refused = {}
        for name, metadata in (("limit", token), ("auth", ())):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=metadata)
            refused[name] = dict(err.value.trailing_metadata() or ())["x-request-id"]
    lines = {
        r.__dict__["requestId"]: r.__dict__
        for r in caplog.records
        if r.name == "novaos.transport" and r.getMessage() == "Call failed"
    }
    assert answered.request_id not in lines
    limit, auth = lines[refused["limit"]], lines[refused["auth"]]
    assert (limit["code"], limit["reason"], limit["userId"]) == (
        "RESOURCE_EXHAUSTED",
        "RATE_LIMITED",
        "ops-user",
    )
    assert limit["method"] == "/novaos.v1.ChatService/Chat"
    assert (auth["code"], auth["reason"]) == ("UNAUTHENTICATED", "TOKEN_MISSING")
    assert "userId" not in auth


async def test_a_refused_admin_call_logs_who_tried_it(caplog: pytest.LogCaptureFixture) -> None:
    # PERMISSION_DENIED was raised before the caller was recorded, so the one line
    # about an unauthorised read of the audit log had no userId, though the token
    # was read and valid.
    caplog.set_level(logging.INFO, logger="novaos.transport")
    async with running_app() as running:
        audit = audit_pb2_grpc.AuditServiceStub(running.channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await audit.ListAuditEvents(
                audit_pb2.ListAuditEventsRequest(), metadata=bearer(mint("eve-ops"))
            )
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        request_id = dict(err.value.trailing_metadata() or ())["x-request-id"]
    (line,) = [
        r.__dict__
        for r in caplog.records
        if r.getMessage() == "Call failed" and r.__dict__.get("requestId") == request_id
    ]
    assert (line["code"], line["reason"], line["userId"]) == (
        "PERMISSION_DENIED",
        "ROLE_REQUIRED",
        "eve-ops",
    )
    assert line["method"] == "/novaos.v1.AuditService/ListAuditEvents"


@pytest.mark.parametrize("require_auth", ["false", "true"])
async def test_a_production_start_without_auth_warns_that_every_caller_is_anonymous(
    caplog: pytest.LogCaptureFixture, require_auth: str
) -> None:
    caplog.set_level(logging.WARNING, logger="novaos.app")
    async with running_app(NODE_ENV="production", REQUIRE_AUTH=require_auth):
        pass
    warned = [r.getMessage() for r in caplog.records if r.name == "novaos.app"]
    found = any(m.startswith("REQUIRE_AUTH=false in production") for m in warned)
    assert found is (require_auth == "false"), warned
