"""WORKERS=2: breakers are per worker, and what the pod reports says so.

Two fake OpenAI-wire upstreams (openai, then openai_compat); channels pinned to
one worker each (a connection of their own: SO_REUSEPORT keeps a connection on
the worker that accepted it). A provider made to fail while a pinned channel calls
it opens its breaker on that worker only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from generated.novaos.v1 import health_pb2 as novaos_health_pb2
from generated.novaos.v1 import health_pb2_grpc as novaos_health_pb2_grpc
from tests.e2e.test_metrics import _worker_pid, scrape
from tests.fixtures.common import await_until, holds
from tests.fixtures.deploy_assets import alert_rules
from tests.fixtures.fake_providers import FakeProviderServer, Reply, StartServer
from tests.fixtures.promql_eval import evaluate, scraped
from tests.fixtures.provider_wire import openai_error, openai_json
from tests.fixtures.server import Subprocess, bearer, mint

Spawn = Callable[..., Subprocess]
USER = bearer(mint("circuits", "enterprise"))
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
RULES = {rule["alert"]: rule["expr"] for rule in alert_rules()}


@dataclass
class Upstreams:
    openai: FakeProviderServer
    compat: FakeProviderServer

    def env(self) -> dict[str, str]:
        return {
            "PREFERRED_PROVIDER": "openai",
            "PROVIDER_FALLBACK_ORDER": "openai,openai_compat",
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": self.openai.url + "/v1",
            "OPENAI_COMPAT_BASE_URL": self.compat.url + "/v1",
            "OPENAI_COMPAT_MODEL": "compat-model",
            "CIRCUIT_FAILURE_THRESHOLD": "1",
            "CIRCUIT_RESET_TIMEOUT_MS": "600000",  # stays open for the whole test
        }


def answering(server: FakeProviderServer, ok: bool) -> None:
    server.default = (
        Reply(body=openai_json("Fine.", (5, 3))) if ok else Reply(500, openai_error(500, "down"))
    )


async def upstreams(fake_server: StartServer) -> Upstreams:
    ups = Upstreams(await fake_server(), await fake_server())
    answering(ups.openai, True)
    answering(ups.compat, True)
    return ups


async def chat(channel: grpc.aio.Channel, provider: str = "") -> tuple[str, str]:
    """(the worker that answered, the status code's name)."""
    options = chat_pb2.GenerationOptions(provider=provider)
    call = chat_pb2_grpc.ChatServiceStub(channel).Chat(
        chat_pb2.ChatRequest(message="tell me about otters", options=options),
        metadata=USER,
        timeout=30,
    )
    with suppress(grpc.aio.AioRpcError):
        await call
    worker = dict(await call.trailing_metadata() or ()).get("x-novaos-worker", "")
    return str(worker), (await call.code()).name


@asynccontextmanager
async def pinned(target: str) -> AsyncIterator[dict[str, grpc.aio.Channel]]:
    """One channel on each of the two workers."""
    channels: list[grpc.aio.Channel] = []
    on: dict[str, grpc.aio.Channel] = {}
    try:
        while len(on) < 2:
            assert len(channels) < 60, f"new connections reached only workers {sorted(on)}"
            channel = grpc.aio.insecure_channel(target, options=OWN_CONNECTION)
            channels.append(channel)
            worker, code = await chat(channel)
            assert code == "OK", code
            on.setdefault(worker, channel)
        yield on
    finally:
        await asyncio.gather(*(channel.close() for channel in channels))


async def two_workers(spawn_server: Spawn, ups: Upstreams) -> Subprocess:
    srv = spawn_server(WORKERS="2", **ups.env())
    # Polled without blocking the loop: the fake upstreams answer from it.
    await await_until(
        lambda: holds(srv.count("serving on") >= 2), timeout_s=100, what="both workers up"
    )
    return srv


async def open_one_each(ups: Upstreams, on: dict[str, grpc.aio.Channel]) -> None:
    """openai open on worker 0, openai_compat open on worker 1; each still answers."""
    answering(ups.openai, False)
    assert await chat(on["0"]) == ("0", "OK")  # openai fails and opens; compat answers
    answering(ups.openai, True)
    answering(ups.compat, False)
    assert await chat(on["1"], "openai_compat") == ("1", "OK")  # and the other way round
    answering(ups.compat, True)


def firing(alert: str, metrics_port: int) -> set[frozenset[tuple[str, str]]]:
    return set(evaluate(RULES[alert], scraped(scrape(metrics_port))))


async def test_different_circuits_open_on_each_worker_is_not_every_circuit_open(
    spawn_server: Spawn, fake_server: StartServer
) -> None:
    # Merged over the workers by max, the gauge said both providers were open: the
    # critical NovaOSAllCircuitsOpen held while every worker answered every chat.
    ups = await upstreams(fake_server)
    srv = await two_workers(spawn_server, ups)
    async with pinned(f"127.0.0.1:{srv.port}") as on:
        await open_one_each(ups, on)
        assert firing("NovaOSAllCircuitsOpen", srv.metrics_port) == set()
        state = {
            (dict(labels)["provider"], dict(labels)["worker"]): value
            for (name, labels), value in scrape(srv.metrics_port).items()
            if name == "circuit_breaker_state"
        }
        assert state == {
            ("openai", "0"): 1,
            ("openai_compat", "0"): 0,
            ("openai", "1"): 0,
            ("openai_compat", "1"): 1,
        }
        assert firing("NovaOSCircuitOpen", srv.metrics_port) == {
            frozenset({("provider", "openai")}),
            frozenset({("provider", "openai_compat")}),
        }
        # Worker 0's last one opens too: it refuses chat, and the alert names it.
        answering(ups.compat, False)
        assert await chat(on["0"]) == ("0", "UNAVAILABLE")
        answering(ups.compat, True)
        assert firing("NovaOSAllCircuitsOpen", srv.metrics_port) == {
            frozenset({("instance", "pod-0"), ("worker", "0")})
        }


async def test_one_process_reports_its_circuits_as_worker_0(
    spawn_server: Spawn, fake_server: StartServer
) -> None:
    ups = await upstreams(fake_server)
    srv = spawn_server(**ups.env())
    answering(ups.openai, False)
    answering(ups.compat, False)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
        assert (await chat(channel))[1] == "UNAVAILABLE"
    assert firing("NovaOSAllCircuitsOpen", srv.metrics_port) == {
        frozenset({("instance", "pod-0"), ("worker", "0")})
    }


def run_dir(srv: Subprocess) -> Path:
    environ = Path(f"/proc/{_worker_pid(srv.proc.pid, 0)}/environ").read_bytes().split(b"\0")
    (found,) = [v for v in environ if v.startswith(b"NOVAOS_RUN_DIR=")]
    return Path(found.split(b"=", 1)[1].decode())


async def probe(channel: grpc.aio.Channel) -> str:
    """The kubelet's readiness probe: grpc.health.v1 for novaos.v1.ChatService."""
    request = health_pb2.HealthCheckRequest(service="novaos.v1.ChatService")
    reply = await health_pb2_grpc.HealthStub(channel).Check(request, timeout=10)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


async def ready_checks(channel: grpc.aio.Channel) -> dict[str, str]:
    """``/ready`` (HealthService.Ready): the checks of a ready answer, or of a refusal."""
    stub = novaos_health_pb2_grpc.HealthServiceStub(channel)
    try:
        reply = await stub.Ready(novaos_health_pb2.ReadyRequest(), timeout=10)
    except grpc.aio.AioRpcError as err:
        return {"refused": err.details() or ""}
    return dict(reply.checks)


async def probes_on_new_connections(target: str, n: int) -> list[str]:
    seen = []
    for _ in range(n):
        async with grpc.aio.insecure_channel(target, options=OWN_CONNECTION) as channel:
            seen.append(await probe(channel))
    return seen


async def every_circuit_open_on(worker: str, ups: Upstreams, channel: grpc.aio.Channel) -> None:
    answering(ups.openai, False)
    answering(ups.compat, False)
    assert await chat(channel) == (worker, "UNAVAILABLE")
    answering(ups.openai, True)
    answering(ups.compat, True)


async def test_readiness_is_the_pods_not_the_worker_that_takes_the_probe(
    spawn_server: Spawn, fake_server: StartServer
) -> None:
    # Each worker answered for its own breakers: with worker 0's circuits all open the
    # kubelet's probe (a new connection each time) flipped between SERVING and
    # NOT_SERVING as it landed on one worker or the other, and the pod flapped.
    ups = await upstreams(fake_server)
    srv = await two_workers(spawn_server, ups)
    target = f"127.0.0.1:{srv.port}"
    async with pinned(target) as on:
        await every_circuit_open_on("0", ups, on["0"])
        assert (await ready_checks(on["0"])).get("providers") == "ok"  # worker 1's count
        state = run_dir(srv) / "circuits"
        # Worker 0's readiness tick has run since (it writes its state first).
        await await_until(
            lambda: holds((state / "0").read_text() == "0"), what="worker 0's state published"
        )
        assert await probe(on["0"]) == "SERVING"
        assert set(await probes_on_new_connections(target, 12)) == {"SERVING"}

        # Once no worker has a usable circuit the pod is unready, whichever is asked.
        await every_circuit_open_on("1", ups, on["1"])
        await await_until(
            lambda: holds((state / "1").read_text() == "0"), what="worker 1's state published"
        )

        async def both_not_serving() -> bool:
            return {await probe(on["0"]), await probe(on["1"])} == {"NOT_SERVING"}

        await await_until(both_not_serving, what="both workers NOT_SERVING")
        assert "providers=all_circuits_open" in (await ready_checks(on["0"]))["refused"]
