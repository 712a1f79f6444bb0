"""Scrape /metrics after scripted traffic and check exact deltas, with 1 and 2 workers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.domain import Outcome
from novaos.observability.metrics import MODEL_LABELS_PER_PROVIDER, OTHER_MODEL
from tests.fixtures.common import await_until, holds, wait_until
from tests.fixtures.deploy_assets import alert_rules
from tests.fixtures.fake_providers import Pause, Reply, StartServer, paced
from tests.fixtures.promql_eval import evaluate, registry_samples
from tests.fixtures.provider_wire import openai_error, openai_json, openai_stream
from tests.fixtures.server import Subprocess, bearer, mint, running_app

Sample = tuple[str, frozenset[tuple[str, str]]]


def scrape(port: int) -> dict[Sample, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = frozenset((k, v) for k, v in sample.labels.items() if k != "pid")
            key = (sample.name, labels)
            out[key] = out.get(key, 0.0) + sample.value
    return out


def value(samples: dict[Sample, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def _traffic(port: int, unary: int, streams: int) -> tuple[int, int, int]:
    """Returns (output tokens, input tokens, stream messages received)."""
    out_tokens = in_tokens = messages = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        for i in range(unary):
            reply = await stub.Chat(
                chat_pb2.ChatRequest(message=f"unary {i}"), metadata=bearer(mint())
            )
            out_tokens += reply.usage.output_tokens
            in_tokens += reply.usage.input_tokens
        for i in range(streams):
            events = [
                e
                async for e in stub.StreamChat(
                    chat_pb2.StreamChatRequest(message=f"stream {i}"), metadata=bearer(mint())
                )
            ]
            messages += len(events)
            done = events[-1].completed
            out_tokens += done.usage.output_tokens
            in_tokens += done.usage.input_tokens
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Chat(chat_pb2.ChatRequest(message="no token"))
    return out_tokens, in_tokens, messages


@pytest.mark.parametrize("workers", ["1", "2"])
def test_exact_counter_deltas(spawn_server: Callable[..., Subprocess], workers: str) -> None:
    srv = spawn_server(WORKERS=workers)
    assert srv.metrics_port
    if workers == "2":
        wait_until(
            lambda: srv.count("serving on") >= 2,
            timeout_s=60,
            what=f"both workers up; output so far: {srv.lines}",
        )
    before = scrape(srv.metrics_port)
    out_tokens, in_tokens, messages = asyncio.run(_traffic(srv.port, unary=3, streams=2))
    after = scrape(srv.metrics_port)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    chat = "/novaos.v1.ChatService/Chat"
    stream = "/novaos.v1.ChatService/StreamChat"
    assert delta("http_requests_total", method=chat, code="OK") == 3
    assert delta("http_requests_total", method=chat, code="UNAUTHENTICATED") == 1
    assert delta("http_requests_total", method=stream, code="OK") == 2
    assert delta("http_request_duration_seconds_count", method=chat, code="OK") == 3
    base = {"grpc_service": "novaos.v1.ChatService"}
    assert delta("grpc_server_started_total", **base, grpc_method="Chat", grpc_type="unary") == 4
    assert (
        delta(
            "grpc_server_handled_total",
            **base,
            grpc_method="StreamChat",
            grpc_type="server_stream",
            grpc_code="OK",
        )
        == 2
    )
    assert (
        delta(
            "grpc_server_msg_sent_total",
            **base,
            grpc_method="StreamChat",
            grpc_type="server_stream",
        )
        == messages
    )
    assert (
        delta("grpc_server_handling_seconds_count", **base, grpc_method="Chat", grpc_type="unary")
        == 4
    )
    assert (
        delta("llm_token_usage_total", provider="mock", model="mock-1", kind="output") == out_tokens
    )
    assert (
        delta("llm_token_usage_total", provider="mock", model="mock-1", kind="input") == in_tokens
    )
    assert delta("gate_decisions_total", gate="personality", decision="pass") == 5
    assert delta("gate_duration_seconds_count", gate="personality") == 5
    assert delta("gateway_overhead_seconds_count") == 5
    # a unary call's first token comes with its one upstream response, told apart
    assert delta("llm_time_to_first_token_seconds_count", provider="mock", grpc_type="unary") == 3
    assert (
        delta("llm_time_to_first_token_seconds_count", provider="mock", grpc_type="server_stream")
        == 2
    )
    assert value(after, "active_streams") == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_fresh_gateway_exports_its_refusal_and_sink_error_counters_at_zero(
    spawn_server: Callable[..., Subprocess], workers: str
) -> None:
    # They had no series until the first refusal or error: NovaOSRateLimitSpike's
    # "3 x the hour before" then compared with nothing (an empty vector, not 0) and
    # could not fire on a first flood, and the dashboard showed "No data".
    srv = spawn_server(WORKERS=workers)
    wait_until(
        lambda: srv.count("serving on") >= int(workers) or workers == "1",
        timeout_s=100,
        what="every worker up",
    )
    samples = scrape(srv.metrics_port)
    refusals = {
        (labels["tier"], labels["limit"]): v
        for (name, key), v in samples.items()
        if name == "rate_limit_exceeded_total" and (labels := dict(key))
    }
    tiers, limits = ("free", "pro", "enterprise"), ("requests_per_minute", "tokens_per_minute")
    assert refusals == {(t, lim): 0 for t in tiers for lim in (*limits, "concurrency")}
    assert samples[("audit_sink_errors_total", frozenset({("sink", "memory")}))] == 0


async def _chat_with_models(port: int, models: list[str]) -> int:
    """Returns the output tokens of all the answers."""
    out_tokens = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        for model in models:
            options = chat_pb2.GenerationOptions(model=model)
            reply = await stub.Chat(
                chat_pb2.ChatRequest(message="hi", options=options), metadata=bearer(mint())
            )
            out_tokens += reply.usage.output_tokens
    return out_tokens


def test_client_chosen_models_make_a_bounded_number_of_series(
    spawn_server: Callable[..., Subprocess],
) -> None:
    # The mock answers as whatever model was asked for: each request could add a
    # llm_token_usage_total series. Past the cap the tokens count under "other".
    srv = spawn_server()
    models = [f"client-model-{i}" for i in range(MODEL_LABELS_PER_PROVIDER + 5)]
    out_tokens = asyncio.run(_chat_with_models(srv.port, models))
    output = {
        dict(labels)["model"]: v
        for (name, labels), v in scrape(srv.metrics_port).items()
        if name == "llm_token_usage_total" and ("kind", "output") in labels
    }
    assert len(output) == MODEL_LABELS_PER_PROVIDER + 1, sorted(output)
    assert set(output) - set(models) == {OTHER_MODEL}
    assert output[OTHER_MODEL] > 0 and sum(output.values()) == out_tokens


async def test_client_chosen_models_never_take_the_configured_models_label(
    fake_server: StartServer,
) -> None:
    # An OpenAI-compatible server that answers as whatever model was asked for:
    # one client filled every label with its own names, and the deployment's
    # OPENAI_COMPAT_MODEL was counted as "other" for the worker's life.
    upstream = await fake_server()
    junk = [f"junk-{i}" for i in range(MODEL_LABELS_PER_PROVIDER + 1)]
    upstream.queue(*(Reply(body=openai_json("Fine.", (5, 3), model=m)) for m in junk))
    upstream.queue(Reply(body=openai_json("Fine.", (5, 7), model="house-model")))
    env = {
        "PREFERRED_PROVIDER": "openai_compat",
        "OPENAI_COMPAT_BASE_URL": upstream.url + "/v1",
        "OPENAI_COMPAT_MODEL": "house-model",
    }
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("squatter"))
        for model in [*junk, ""]:  # "": the configured model
            options = chat_pb2.GenerationOptions(model=model)
            await stub.Chat(chat_pb2.ChatRequest(message="hi", options=options), metadata=who)
        registry = running.app.metrics.registry

        def output(model: str) -> float:
            labels = {"provider": "openai_compat", "model": model, "kind": "output"}
            return registry.get_sample_value("llm_token_usage_total", labels) or 0.0

        assert output("house-model") == 7
        assert output(OTHER_MODEL) == 3  # the one junk name past the cap
        assert output(junk[0]) == 3


async def test_slow_unary_answers_fire_no_latency_alert(
    fake_server: StartServer,
) -> None:
    # A unary Chat's "first token" is the provider's whole answer, seconds for a real
    # LLM: counted with the streams', NovaOSSlowFirstToken ("streaming answers start
    # late") fired on ordinary unary traffic while every stream started at once.
    # NovaOSHighLatencyP95 did too: a unary Chat's duration is that whole answer.
    upstream = await fake_server()
    fast, stream = openai_json("Fine.", (5, 3)), openai_stream(["Fine."], (5, 3))
    slow = Reply(body=[Pause(2.5), fast], content_type="application/json")
    async with running_app(
        PREFERRED_PROVIDER="openai",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=upstream.url + "/v1",
    ) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("ttft"))

        async def traffic(unary: Reply, streams: int) -> None:
            upstream.queue(unary, *(Reply(body=list(stream)) for _ in range(streams)))
            await stub.Chat(chat_pb2.ChatRequest(message="hi"), metadata=who)
            for _ in range(streams):
                async for _event in stub.StreamChat(
                    chat_pb2.StreamChatRequest(message="hi"), metadata=who
                ):
                    pass

        registry = running.app.metrics.registry
        await traffic(Reply(body=fast), 1)  # every series exists before the window
        before = registry_samples(registry)
        await traffic(slow, 3)
        after = registry_samples(registry)
    for rule in alert_rules():
        if rule["alert"] in (
            "NovaOSSlowFirstToken",
            "NovaOSHighLatencyP95",
            "NovaOSGatewayOverheadP95",  # the provider's time is not NovaOS's
        ):
            assert evaluate(rule["expr"], after, before) == {}, rule["alert"]
    chat = {"method": "/novaos.v1.ChatService/Chat", "code": "OK"}
    assert (registry.get_sample_value("http_request_duration_seconds_sum", chat) or 0) > 2.5
    unary = {"provider": "openai", "grpc_type": "unary"}  # still there, told apart
    assert (registry.get_sample_value("llm_time_to_first_token_seconds_sum", unary) or 0) > 2.5


def test_killed_worker_is_restarted_and_others_unaffected(
    spawn_server: Callable[..., Subprocess],
) -> None:
    srv = spawn_server(WORKERS="2", MOCK_TOKEN_DELAY_MS="20", MOCK_RESPONSE_TOKENS="200")
    wait_until(
        lambda: srv.count("serving on") >= 2,
        timeout_s=60,
        what=f"both workers up; output so far: {srv.lines}",
    )
    assert value(scrape(srv.metrics_port), "worker_restarts_total") == 0
    results, victim = asyncio.run(_streams_while_killing_one(srv))
    survivors = [result for worker, result in results if worker != victim]
    assert survivors, f"every stream landed on worker {victim}: {results}"
    assert all(result == "completed" for result in survivors), results
    wait_until(lambda: srv.count("restarting") >= 1, timeout_s=20, what="restart line")
    wait_until(lambda: srv.count("serving on") >= 3, timeout_s=60, what="replacement worker")
    # The only trace was that stdout line: no metric, no alert, and the pod's restart
    # count does not move for a worker the supervisor restarts.
    assert value(scrape(srv.metrics_port), "worker_restarts_total") == 1


async def _streams_while_killing_one(srv: Subprocess) -> tuple[list[tuple[str, str]], str]:
    # A local subchannel pool gives each channel its own connection, so
    # SO_REUSEPORT spreads them over both workers.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels: list[grpc.aio.Channel] = []
    calls, workers = [], []
    try:
        # Open connections until both workers hold streams (the kernel spreads
        # SO_REUSEPORT connections by hash, so a few tries may land on one).
        while len(set(workers)) < 2 and len(channels) < 40:
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}", options=options)
            channels.append(channel)
            call = chat_pb2_grpc.ChatServiceStub(channel).StreamChat(
                chat_pb2.StreamChatRequest(message=f"q{len(channels)}"), metadata=bearer(mint())
            )
            calls.append(call)
            workers.append(dict(await call.initial_metadata())["x-novaos-worker"])
        victim = workers[0]
        os.kill(_worker_pid(srv.proc.pid, int(victim)), signal.SIGKILL)
        results = []
        for worker, call in zip(workers, calls, strict=True):
            try:
                kinds = [e.WhichOneof("event") async for e in call]
                results.append((str(worker), str(kinds[-1])))
            except grpc.aio.AioRpcError as err:
                results.append((str(worker), err.code().name))
        return results, str(victim)
    finally:
        for ch in channels:
            await ch.close()


def _worker_pid(supervisor_pid: int, index: int) -> int:
    children = subprocess.run(
        ["ps", "--ppid", str(supervisor_pid), "-o", "pid=,args="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pids = [int(line.split()[0]) for line in children.strip().splitlines() if "--worker" in line]
    for pid in pids:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if f"NOVAOS_WORKER_INDEX={index}".encode() in env:
            return pid
    raise AssertionError(f"no worker {index} among {pids}")


def test_a_worker_that_will_not_drain_is_killed_and_the_metrics_dir_removed(
    spawn_server: Callable[..., Subprocess],
) -> None:
    srv = spawn_server(WORKERS="2", SHUTDOWN_GRACE_S="1")
    wait_until(lambda: srv.count("serving on") >= 2, timeout_s=60, what="both workers up")
    stuck = _worker_pid(srv.proc.pid, 0)
    env = Path(f"/proc/{stuck}/environ").read_bytes().split(b"\0")
    metrics_dir = next(v for v in env if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")).split(b"=")[1]
    os.kill(stuck, signal.SIGSTOP)  # it cannot drain: the supervisor must not wait forever
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=30) == 1
    assert not Path(f"/proc/{stuck}").exists(), "the stuck worker was left behind"
    assert not Path(metrics_dir.decode()).exists()


def test_sighup_to_the_supervisor_drains_the_workers_and_removes_the_metrics_dir(
    spawn_server: Callable[..., Subprocess],
) -> None:
    # SIGHUP killed the supervisor by its default action: /metrics went at once and
    # its /tmp/novaos-prom-* directory was left behind.
    srv = spawn_server(WORKERS="2")
    wait_until(lambda: srv.count("serving on") >= 2, timeout_s=60, what="both workers up")
    env = Path(f"/proc/{_worker_pid(srv.proc.pid, 0)}/environ").read_bytes().split(b"\0")
    metrics_dir = next(v for v in env if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")).split(b"=")[1]
    srv.proc.send_signal(signal.SIGHUP)
    assert srv.proc.wait(timeout=30) == 0, "".join(srv.lines)
    wait_until(
        lambda: srv.count("novaos: supervisor stopped") == 1, timeout_s=5, what="stopped line"
    )
    assert srv.count("draining") == 2
    assert not Path(metrics_dir.decode()).exists()


def test_sigterm_while_a_worker_waits_to_restart_exits_0(
    spawn_server: Callable[..., Subprocess],
) -> None:
    # The dead worker's old exit code (-9) was counted at shutdown: a clean stop
    # exited 1, the code kept for a worker killed for not draining.
    srv = spawn_server(WORKERS="2")
    wait_until(lambda: srv.count("serving on") >= 2, timeout_s=60, what="both workers up")
    for deaths in (1, 2, 3):  # restarts back off 0.5, 1, then 2 s
        os.kill(_worker_pid(srv.proc.pid, 0), signal.SIGKILL)
        wait_until(lambda d=deaths: srv.count("restarting in") >= d, timeout_s=20, what="death")
        if deaths < 3:
            up = 2 + deaths
            wait_until(lambda u=up: srv.count("serving on") >= u, timeout_s=60, what="back")
    assert "restarting in 2.0 s" in "".join(srv.lines)
    srv.proc.send_signal(signal.SIGTERM)  # within those 2 s
    assert srv.proc.wait(timeout=30) == 0, "".join(srv.lines)


async def test_health_watches_and_reflection_are_counted_like_every_rpc() -> None:
    # Only unary calls were observed: a client holding thousands of health Watches,
    # or one using reflection, was missing from grpc_server_* and http_requests_*.
    async with running_app() as running:
        health = health_pb2_grpc.HealthStub(running.channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING

        async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        reflection = reflection_pb2_grpc.ServerReflectionStub(running.channel)
        replies = [r async for r in reflection.ServerReflectionInfo(ask())]
        assert [r.WhichOneof("message_response") for r in replies] == ["list_services_response"]
        registry = running.app.metrics.registry
        watching = {
            "grpc_service": "grpc.health.v1.Health",
            "grpc_method": "Watch",
            "grpc_type": "server_stream",
        }
        reflecting = {
            "grpc_service": "grpc.reflection.v1alpha.ServerReflection",
            "grpc_method": "ServerReflectionInfo",
            "grpc_type": "bidi_stream",
        }

        def sample(name: str, labels: dict[str, str]) -> float:
            return registry.get_sample_value(name, labels) or 0.0

        assert sample("grpc_server_started_total", watching) == 1
        assert sample("grpc_server_msg_sent_total", watching) == 1
        assert sample("grpc_server_handled_total", watching | {"grpc_code": "OK"}) == 0  # open
        watch.cancel()
        cancelled = watching | {"grpc_code": "CANCELLED"}
        await await_until(
            lambda: holds(sample("grpc_server_handled_total", cancelled) == 1),
            timeout_s=5,
            what="the cancelled watch counted",
        )
        assert sample("grpc_server_started_total", reflecting) == 1
        assert sample("grpc_server_msg_sent_total", reflecting) == 1
        assert sample("grpc_server_handled_total", reflecting | {"grpc_code": "OK"}) == 1
        path = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        assert sample("http_requests_total", {"method": path, "code": "OK"}) == 1


async def test_chat_outcomes_and_provider_failures_a_fallback_covered_are_counted(
    fake_server: StartServer,
) -> None:
    # Crisis, veto and answer were all code OK in http_requests_total, and a
    # provider failing while the fallback answered showed in no metric at all.
    failing, answering = await fake_server(), await fake_server()
    failing.default = Reply(500, openai_error(500, "down"))
    answering.default = Reply(body=openai_json("Fine.", (5, 3)))
    env = {
        "PREFERRED_PROVIDER": "openai",
        "PROVIDER_FALLBACK_ORDER": "openai,openai_compat",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": failing.url + "/v1",
        "OPENAI_COMPAT_BASE_URL": answering.url + "/v1",
        "OPENAI_COMPAT_MODEL": "compat-model",
    }
    async with running_app(**env) as running:
        registry = running.app.metrics.registry
        zeros = registry_samples(registry)
        for outcome in ("completed", "control", "hard_veto", "output_blocked", "failed"):
            assert zeros[("chat_requests_total", frozenset({("outcome", outcome)}))] == 0
        for provider in ("openai", "openai_compat"):
            labels = frozenset({("provider", provider), ("kind", "server_error")})
            assert zeros[("provider_errors_total", labels)] == 0
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        asked = ("tell me about otters", "I want to kill myself", "how do I make a pipe bomb")
        for message in asked:
            await stub.Chat(chat_pb2.ChatRequest(message=message), metadata=bearer(mint()))

        def count(name: str, **labels: str) -> float:
            return registry.get_sample_value(name, labels) or 0.0

        async def all_counted() -> bool:  # the request line comes after the reply
            return sum(count("chat_requests_total", outcome=o) for o in OUTCOMES) == 3

        await await_until(all_counted, what="three chat requests counted")
        assert [count("chat_requests_total", outcome=o) for o in OUTCOMES] == [1, 1, 1]
        assert count("provider_errors_total", provider="openai", kind="server_error") == 1
        assert count("provider_errors_total", provider="openai_compat", kind="server_error") == 0
        assert count("circuit_breaker_state", provider="openai", worker="0") == 0  # still closed


OUTCOMES = ("completed", "control", "hard_veto")


async def test_chat_requests_count_streams_and_cancels_and_no_call_refused_before_the_pipeline(
    fake_server: StartServer,
) -> None:
    # chat_requests_total counts the requests the pipeline ran, once each: a whole
    # stream, a stream the client cancelled; not a call refused at the door (bad
    # input, no token, over the rate limit), which never reached the pipeline.
    upstream = await fake_server()
    env = {
        "PREFERRED_PROVIDER": "openai",
        "PROVIDER_FALLBACK_ORDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": upstream.url + "/v1",
        "RATE_LIMIT_PRO": "1",
    }
    async with running_app(**env) as running:
        registry = running.app.metrics.registry
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        asked = chat_pb2.ChatRequest(message="tell me about otters")

        def counted() -> dict[str, float]:
            values = {
                o: registry.get_sample_value("chat_requests_total", {"outcome": o}) for o in Outcome
            }
            return {o: v for o, v in values.items() if v}

        upstream.default = Reply(body=openai_stream(["Otters ", "are ", "nice."], (5, 3)))
        events = [e async for e in stub.StreamChat(asked, metadata=bearer(mint()))]
        assert events[-1].completed.outcome == chat_pb2.OUTCOME_COMPLETED
        await await_until(lambda: holds(counted() == {"completed": 1}), what="the stream counted")

        upstream.default = Reply(body=paced(openai_stream(["Otters "] * 40, (5, 40)), 0.1))
        call = stub.StreamChat(asked, metadata=bearer(mint()))
        async for _ in call:  # the first event: the pipeline runs
            call.cancel()
            break
        await await_until(
            lambda: holds(counted() == {"completed": 1, "cancelled": 1}), what="the cancel counted"
        )

        upstream.default = Reply(body=openai_json("Fine.", (5, 3)))
        pro = bearer(mint("pat", tier="pro"))
        await stub.Chat(asked, metadata=pro)  # the one call a minute RATE_LIMIT_PRO allows
        no_message = chat_pb2.ChatRequest(message="")
        for metadata, request, code in [
            (bearer(mint()), no_message, "INVALID_ARGUMENT"),
            ((), asked, "UNAUTHENTICATED"),
            (pro, asked, "RESOURCE_EXHAUSTED"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Chat(request, metadata=metadata)
            assert caught.value.code().name == code
        await stub.Chat(asked, metadata=bearer(mint()))  # counted after the refusals' ends
        await await_until(lambda: holds(counted().get("completed") == 3), what="last chat counted")
        assert counted() == {"completed": 3, "cancelled": 1}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_name_filter_selects_series_as_prometheus_client_documents(
    spawn_server: Callable[..., Subprocess], workers: str
) -> None:
    # Under WORKERS=2 (the supervisor's aggregated endpoint) /metrics?name[]=…
    # answered an empty 200 whatever was asked; worker_restarts_total never matched.
    srv = spawn_server(WORKERS=workers)
    if workers == "2":  # a single process is up once it listens (spawn_server)
        wait_until(lambda: srv.count("serving on") >= 2, timeout_s=60, what="workers up")
    wanted = ("active_streams", "rate_limit_exceeded_total", "worker_restarts_total")
    response = httpx.get(
        f"http://127.0.0.1:{srv.metrics_port}/metrics",
        params=[("name[]", name) for name in wanted],
        timeout=5,
    )
    assert response.status_code == 200
    families = {f.name for f in text_string_to_metric_families(response.text)}
    assert families == {"active_streams", "rate_limit_exceeded", "worker_restarts"}, response.text
