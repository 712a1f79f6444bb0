"""Start-up, configuration errors, reflection, health transitions and the drain at a
stop signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import await_until, wait_until
from tests.fixtures.fake_providers import FakeProviderServer, Reply, paced
from tests.fixtures.postgres_server import PostgresServer
from tests.fixtures.provider_wire import openai_json, openai_stream
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import BASE_ENV, ROOT, Running, Subprocess, bearer, mint


def _run_server(env: dict[str, str], *, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    """``python server.py`` to its end (start-up refused), output captured."""
    return subprocess.run(
        [sys.executable, "server.py"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"JWT_SECRET": "", "REQUIRE_AUTH": "true"}, "JWT_SECRET"),
        # blank (an empty template substitution padded out): anyone could mint tokens
        ({"JWT_SECRET": " " * 40, "NODE_ENV": "production"}, "JWT_SECRET"),
        ({"ACK_SECRET": "a" * 40, "NODE_ENV": "production"}, "ACK_SECRET"),
        (
            {
                "AUDIT_CHAIN_PREVIOUS_KEYS": "REPLACE_ME_with_at_least_32_random_characters",
                "NODE_ENV": "production",
            },
            "AUDIT_CHAIN_PREVIOUS_KEYS",
        ),
        ({"GRPC_PORT": "seventy"}, "GRPC_PORT"),
        # gRPC's C core logged a line of its own, and ours guessed "in use"
        ({"GRPC_HOST": " "}, "GRPC_HOST"),
        ({"GRPC_HOST": "not a host"}, "GRPC_HOST"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"AUDIT_STORAGE_TYPE": "tape"}, "AUDIT_STORAGE_TYPE"),
        ({"JWT_EXPIRY": "forever"}, "JWT_EXPIRY"),
        ({"MOCK_SCRIPT_FILE": "/tmp/x.json", "NODE_ENV": "production"}, "MOCK_SCRIPT_FILE"),
        ({"RATE_LIMIT_FREE": "-1"}, "RATE_LIMIT_FREE"),
        ({"ALLOWED_ORIGINS": "https://app.example.com,example.com"}, "ALLOWED_ORIGINS"),
        # found while the app is built, not while the settings are read
        ({"PREFERRED_PROVIDER": "openai"}, "PREFERRED_PROVIDER"),
        ({"PROVIDER_FALLBACK_ORDER": "mock,nope"}, "PROVIDER_FALLBACK_ORDER"),
        # these went up as a traceback with exit 1, and WORKERS>1 restarted for ever
        ({"REDIS_URL": "not-a-url"}, "REDIS_URL"),
        ({"REDIS_CLUSTER_NODES": "x"}, "REDIS_CLUSTER_NODES"),
        ({"MOCK_SCRIPT_FILE": "/nonexistent/script.json"}, "MOCK_SCRIPT_FILE"),
        ({"AUDIT_STORAGE_TYPE": "database", "DATABASE_URL": "notaurl"}, "DATABASE_URL"),
        ({"OPENAI_BASE_URL": "notaurl"}, "OPENAI_BASE_URL"),
        ({"SHUTDOWN_GRACE_S": "inf"}, "SHUTDOWN_GRACE_S"),  # the drain had no bound
        # read case-insensitively, it switched authentication off (environment order won)
        ({"REQUIRE_AUTH": "true", "require_auth": "false"}, "require_auth"),
    ],
)
def test_bad_config_stops_startup_with_one_line(env: dict[str, str], variable: str) -> None:
    full = {**os.environ, **BASE_ENV, **env}
    if env.get("JWT_SECRET") == "":
        full.pop("JWT_SECRET")
    proc = _run_server(full)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert variable in lines[0] and lines[0].startswith("novaos: invalid configuration")


@pytest.mark.parametrize(
    "env",
    [
        {"MOCK_SCRIPT_FILE": "/nonexistent/script.json"},
        {"AUDIT_STORAGE_TYPE": "database", "DATABASE_URL": "notaurl"},
    ],
)
def test_a_config_error_found_in_a_worker_stops_the_supervisor(env: dict[str, str]) -> None:
    # The worker exited 1 with a traceback, and the supervisor restarted it for ever.
    proc = _run_server({**os.environ, **BASE_ENV, **env, "WORKERS": "2"})
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    variable = next(iter(env)) if "DATABASE_URL" not in env else "DATABASE_URL"
    assert f"novaos: invalid configuration: {variable}" in proc.stderr
    assert "Traceback" not in proc.stderr and "restarting" not in proc.stdout


@pytest.mark.parametrize(
    ("variable", "workers"),
    [("GRPC_PORT", "1"), ("METRICS_PORT", "1"), ("METRICS_PORT", "2")],  # 2: the supervisor's
)
def test_a_port_in_use_stops_startup_with_one_line(variable: str, workers: str) -> None:
    # The holder even allows port sharing (as a second gateway would): a lone
    # server must still refuse to share it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = str(holder.getsockname()[1])
        proc = _run_server({**os.environ, **BASE_ENV, variable: taken, "WORKERS": workers})
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    # Not preceded by gRPC's C core's own line about the failed bind (add_port.cc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("novaos: invalid configuration") and variable in lines[0]
    assert "Traceback" not in proc.stderr and "listening" not in proc.stdout


@pytest.mark.parametrize(
    ("audit_env", "variable"),
    [
        # sysfs refuses mkdir even to root; the default spill file lives under it too
        ({"AUDIT_FILE_PATH": "/sys/novaos/audit"}, "AUDIT_FILE_PATH"),
        # the spill elsewhere: the sink's own directory is what fails
        ({"AUDIT_FILE_PATH": "/sys/novaos/audit", "AUDIT_SPILL_PATH": "{tmp}/spill.jsonl"},
         "AUDIT_FILE_PATH"),
        ({"AUDIT_FILE_PATH": "{tmp}/a-file/audit"}, "AUDIT_FILE_PATH"),  # not a directory
        ({"AUDIT_FILE_PATH": "{tmp}/audit", "AUDIT_SPILL_PATH": "/sys/novaos/spill.jsonl"},
         "AUDIT_SPILL_PATH"),
    ],
)  # fmt: skip
def test_an_unwritable_audit_path_stops_startup_with_one_line(
    audit_env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    env = {k: v.replace("{tmp}", str(tmp_path)) for k, v in audit_env.items()}
    proc = _run_server({**os.environ, **BASE_ENV, "AUDIT_STORAGE_TYPE": "file", **env})
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"novaos: invalid configuration: {variable}: "), lines[0]
    reason = "Not a directory" if "a-file" in str(env) else "Operation not permitted"
    assert reason in lines[0]
    assert "listening" not in proc.stdout


@pytest.mark.parametrize("spill", ["/dev/full", "{tmp}/fifo"])
def test_a_spill_path_that_is_not_a_file_stops_startup_with_one_line(
    spill: str, tmp_path: Path
) -> None:
    # /dev/full hung start-up at 100 % CPU: checking the spill read its endless zeros.
    os.mkfifo(tmp_path / "fifo")
    spill = spill.replace("{tmp}", str(tmp_path))
    audit = {"AUDIT_STORAGE_TYPE": "file", "AUDIT_FILE_PATH": str(tmp_path / "audit")}
    proc = _run_server({**os.environ, **BASE_ENV, **audit, "AUDIT_SPILL_PATH": spill})
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.strip().splitlines() == [
        f"novaos: invalid configuration: AUDIT_SPILL_PATH: cannot write the spill file {spill}:"
        " not a regular file"
    ]
    assert "listening" not in proc.stdout


def test_a_config_error_in_the_workers_stops_the_supervisor(tmp_path: Path) -> None:
    # WORKERS=2: restarting a worker cannot fix its configuration, so the
    # supervisor stops with the same exit code instead of restarting forever.
    (tmp_path / "a-file").write_text("not a directory")
    audit = {"AUDIT_STORAGE_TYPE": "file", "AUDIT_FILE_PATH": str(tmp_path / "a-file" / "x")}
    env = {**os.environ, **BASE_ENV, "WORKERS": "2", **audit}
    proc = _run_server(env, timeout_s=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "invalid configuration: AUDIT_" in proc.stderr
    assert "stopped on a configuration error" in proc.stdout
    assert "restarting" not in proc.stdout


def _stops_with_one_line(workers: str, redis_url: str, line: str) -> None:
    """A server on ``redis_url`` exits 2 at start with ``line`` (once from each worker),
    restarting nothing."""
    env = {**os.environ, **BASE_ENV, "WORKERS": workers, "REDIS_URL": redis_url}
    proc = _run_server(env, timeout_s=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert set(proc.stderr.strip().splitlines()) == {line}, proc.stderr
    assert "restarting" not in proc.stdout
    if workers == "2":
        assert "stopped on a configuration error" in proc.stdout


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_redis_database_the_server_lacks_stops_startup_with_one_line(
    workers: str, redis_url: str
) -> None:
    # The start-up PING's SELECT went up as a traceback (ResponseError) with exit 1,
    # and with WORKERS=2 each worker was restarted for ever.
    _stops_with_one_line(
        workers,
        redis_url.rsplit("/", 1)[0] + "/99999",  # 16 databases by default
        "novaos: invalid configuration: REDIS_URL: the server has no database 99999 "
        "(it has as many as its 'databases' setting, from 0)",
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_redis_password_the_server_refuses_stops_startup_with_one_line(
    workers: str, tmp_path: Path
) -> None:
    # It started on the in-memory fallback, per-worker limits, readiness SERVING,
    # and a log line that gave no cause: an outage that would never end.
    server = RedisServer(tmp_path / "redis", extra_args=("--requirepass", "right-password"))
    server.start()
    try:
        _stops_with_one_line(
            workers,
            f"redis://:wrong-password@127.0.0.1:{server.port}/0",
            "novaos: invalid configuration: REDIS_URL: authentication refused: "
            "invalid username-password pair or user is disabled.",
        )
    finally:
        server.kill()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_redis_acl_user_lacking_novaos_keys_stops_startup_with_one_line(
    workers: str, tmp_path: Path
) -> None:
    # A user limited to ~nova:* started, readiness said storage "ok", and every chat
    # then failed at the shield (its keys are shield:veto:*).
    server = RedisServer(tmp_path / "redis").start()
    try:
        server.cli("ACL", "SETUSER", "nov", "on", ">nov-password", "~nova:*", "&*", "+@all")
        _stops_with_one_line(
            workers,
            f"redis://nov:nov-password@127.0.0.1:{server.port}/0",
            "novaos: invalid configuration: REDIS_URL: permission refused: the Redis user "
            "lacks keys shield:veto:*, ack:nonce:*, spark:count:*, spark:gap:* "
            "(docs/operations.md, Redis ACL)",
        )
    finally:
        server.kill()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_redis_url_option_redis_py_refuses_stops_startup_with_one_line(workers: str) -> None:
    # A traceback from redis-py (a ValueError) with exit 1; WORKERS=2 restarted for ever.
    env = {**os.environ, **BASE_ENV, "WORKERS": workers}
    env["REDIS_URL"] = "redis://127.0.0.1:6379/0?socket_timeout=abc"
    proc = _run_server(env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("novaos: invalid configuration: REDIS_URL: ")
    assert "'socket_timeout'" in lines[0]
    assert "listening" not in proc.stdout and "worker" not in proc.stdout  # none started


def test_misspelt_variables_are_named_once_at_start_and_do_not_stop_it(
    spawn_server: Callable[..., Subprocess],
) -> None:
    # REDIS_ULR, AUDIT_STORAGE, RATE_LIMIT_FRE were ignored without a word: the
    # gateway ran on memory, the default sink and the default limit.
    misspelt = {"REDIS_ULR": "redis://127.0.0.1:1/0", "AUDIT_STORAGE": "file"}
    srv = spawn_server(WORKERS="2", RATE_LIMIT_FRE="5", **misspelt)
    wait_until(lambda: srv.count("serving on") >= 2, timeout_s=60, what="both workers up")
    warnings = [line for line in srv.lines if "not NovaOS variables" in line]
    assert len(warnings) == 1, srv.lines  # the supervisor's, not one per worker
    logged = json.loads(warnings[0])
    assert logged["level"] == "warn" and logged["component"] == "config"
    assert logged["message"] == (
        "not NovaOS variables, ignored: AUDIT_STORAGE (did you mean AUDIT_STORAGE_TYPE?), "
        "RATE_LIMIT_FRE (did you mean RATE_LIMIT_FREE?), REDIS_ULR (did you mean REDIS_URL?)"
    )


def test_a_provider_config_error_stops_the_supervisor_before_its_workers() -> None:
    # The supervisor printed that it listened, then each worker printed the error.
    env = {**os.environ, **BASE_ENV, "WORKERS": "2", "PREFERRED_PROVIDER": "openai"}
    env.pop("OPENAI_API_KEY", None)
    proc = _run_server(env, timeout_s=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "invalid configuration: PREFERRED_PROVIDER" in lines[0], lines
    assert "listening" not in proc.stdout and "worker" not in proc.stdout


async def test_reflection_lists_every_service(server: Running) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel)

    async def requests():  # type: ignore[no-untyped-def]
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names = set()
    async for reply in stub.ServerReflectionInfo(requests()):
        names = {s.name for s in reply.list_services_response.service}
        break
    assert {
        "novaos.v1.ChatService",
        "novaos.v1.AuditService",
        "novaos.v1.HealthService",
        "grpc.health.v1.Health",
    } <= names


async def test_grpc_health_per_service_and_transition_on_drain(server: Running) -> None:
    stub = health_pb2_grpc.HealthStub(server.channel)
    for service in (
        "",
        "novaos.v1.ChatService",
        "novaos.v1.HealthService",
        "novaos.v1.AuditService",
    ):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
    first = await watch.read()
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    drain = asyncio.create_task(server.app.drain(grace_s=1))
    second = await watch.read()
    assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
    await drain


async def test_drain_ends_health_watches_once_they_heard_not_serving(server: Running) -> None:
    """A Watch got NOT_SERVING and then held the drain open for the whole grace
    (10 s with nothing else open, against 0.2 s), until gRPC cut it UNAVAILABLE."""
    stub = health_pb2_grpc.HealthStub(server.channel)
    first = {
        "": health_pb2.HealthCheckResponse.SERVING,
        "novaos.v1.HealthService": health_pb2.HealthCheckResponse.SERVING,
        "no.such.Service": health_pb2.HealthCheckResponse.SERVICE_UNKNOWN,
    }
    watches = {name: stub.Watch(health_pb2.HealthCheckRequest(service=name)) for name in first}
    for name, watch in watches.items():
        reply = await watch.read()
        assert isinstance(reply, health_pb2.HealthCheckResponse) and reply.status == first[name]
    async with asyncio.timeout(10):  # not the 30 s grace
        await server.app.drain(grace_s=30)
    for name, watch in watches.items():
        rest = []
        while (reply := await watch.read()) is not grpc.aio.EOF:
            assert isinstance(reply, health_pb2.HealthCheckResponse)
            rest.append(reply.status)
        assert await watch.code() == grpc.StatusCode.OK, name
        known = first[name] == health_pb2.HealthCheckResponse.SERVING
        assert rest == ([health_pb2.HealthCheckResponse.NOT_SERVING] if known else []), name


async def test_drain_refuses_new_connections_before_it_says_not_serving(server: Running) -> None:
    """Whoever hears NOT_SERVING and dials again must be refused, not served: the
    listener closes first (the SIGTERM test below raced on exactly this)."""
    health = server.app.grpc_health
    announce = health.drain
    dialled: list[bool] = []

    async def drain_after_dialling() -> None:
        try:
            socket.create_connection(("127.0.0.1", server.app.port), timeout=2).close()
            dialled.append(True)
        except ConnectionRefusedError:
            dialled.append(False)
        await announce()

    health.drain = drain_after_dialling  # type: ignore[method-assign]
    await server.app.drain(grace_s=1)
    assert dialled == [False]


def test_sigterm_drains_open_stream_refuses_new_and_exits_zero(
    spawn_server: Callable[..., Subprocess],
) -> None:
    srv = spawn_server(MOCK_TOKEN_DELAY_MS="25", SHUTDOWN_GRACE_S="10")

    async def scenario() -> tuple[list[str], grpc.StatusCode | None, int]:
        refused: grpc.StatusCode | None = None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service="")
            )
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            call = stub.StreamChat(
                chat_pb2.StreamChatRequest(message="long answer please"), metadata=bearer(mint())
            )
            kinds: list[str] = []
            final = chat_pb2.OUTCOME_UNSPECIFIED
            async for event in call:
                kinds.append(event.WhichOneof("event"))
                if kinds.count("delta") == 1:
                    srv.proc.send_signal(signal.SIGTERM)
                    assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
                    refused = await _try_new_chat(srv.port)
                final = event.completed.outcome
            return kinds, refused, final

    kinds, refused, final = asyncio.run(scenario())
    assert kinds[-1] == "completed" and kinds.count("completed") == 1
    assert final == chat_pb2.OUTCOME_COMPLETED  # it finished within the grace: untouched
    assert refused is not None
    assert srv.proc.wait(timeout=20) == 0


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT])
def test_sighup_and_sigquit_drain_like_sigterm(
    spawn_server: Callable[..., Subprocess], tmp_path: Path, sig: signal.Signals
) -> None:
    # Left to their defaults they ended the process at once: the open stream was
    # cut without its completed event and its audit record was lost.
    audit_dir = tmp_path / "audit"
    srv = spawn_server(
        MOCK_TOKEN_DELAY_MS="25",
        SHUTDOWN_GRACE_S="10",
        AUDIT_STORAGE_TYPE="file",
        AUDIT_FILE_PATH=str(audit_dir),
    )

    async def scenario() -> list[chat_pb2.StreamChatResponse]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            call = chat_pb2_grpc.ChatServiceStub(channel).StreamChat(
                chat_pb2.StreamChatRequest(message="long answer please"), metadata=bearer(mint())
            )
            events: list[chat_pb2.StreamChatResponse] = []
            async for event in call:
                events.append(event)
                if event.HasField("delta") and sum(e.HasField("delta") for e in events) == 1:
                    srv.proc.send_signal(sig)  # mid-answer
            return events

    events = asyncio.run(scenario())
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds.count("completed") == 1 and kinds[-1] == "completed", kinds
    assert events[-1].completed.outcome == chat_pb2.OUTCOME_COMPLETED  # within the grace
    assert srv.proc.wait(timeout=20) == 0
    wait_until(lambda: srv.count("novaos: stopped") == 1, timeout_s=5, what="stopped line")
    assert srv.count("novaos: draining") == 1
    audited = [
        json.loads(line)
        for path in sorted(audit_dir.glob("audit-*.log"))
        for line in path.read_text().splitlines()
    ]
    assert [r["request_id"] for r in audited] == [events[-1].completed.request_id]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_sighup_ignored_at_start_stays_ignored(
    spawn_server: Callable[..., Subprocess], workers: str
) -> None:
    # ``nohup novaos serve &`` then logging out: the handler taken over SIGHUP
    # overrode nohup's SIG_IGN, and the gateway drained and exited at the hang-up.
    srv = spawn_server(ignored=(signal.SIGHUP,), WORKERS=workers)
    if workers == "2":
        wait_until(lambda: srv.count("serving on") == 2, timeout_s=30, what="both workers")

    async def chat() -> str:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            reply = await chat_pb2_grpc.ChatServiceStub(channel).Chat(
                chat_pb2.ChatRequest(message="hello"), metadata=bearer(mint())
            )
            return reply.request_id

    assert asyncio.run(chat())
    os.killpg(srv.proc.pid, signal.SIGHUP)  # what the terminal sends its session's jobs
    for _ in range(int(workers) * 3):  # the new connections may reach any worker
        assert asyncio.run(chat())
    assert srv.proc.poll() is None
    assert srv.count("draining") == 0, "".join(srv.lines)
    srv.proc.send_signal(signal.SIGTERM)  # SIGTERM still drains
    assert srv.proc.wait(timeout=40) == 0
    wait_until(lambda: "stopped" in "".join(srv.lines), timeout_s=5, what="stopped line")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_second_signal_during_the_drain_stops_at_once(
    spawn_server: Callable[..., Subprocess], tmp_path: Path, workers: str
) -> None:
    # Every further signal only asked for the drain again: a Ctrl-C then Ctrl-\
    # waited out SHUTDOWN_GRACE_S for the open stream (Ctrl-\ used to end it at once).
    srv = spawn_server(
        MOCK_TOKEN_DELAY_MS="200", SHUTDOWN_GRACE_S="60", WORKERS=workers, TMPDIR=str(tmp_path)
    )
    if workers == "2":
        wait_until(lambda: srv.count("serving on") == 2, timeout_s=30, what="both workers")

    async def scenario() -> float:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            call = chat_pb2_grpc.ChatServiceStub(channel).StreamChat(
                chat_pb2.StreamChatRequest(message="long answer please"), metadata=bearer(mint())
            )
            async for event in call:
                if event.HasField("delta"):
                    break
            os.killpg(srv.proc.pid, signal.SIGINT)  # Ctrl-C: to the whole process group

            async def draining() -> bool:
                if workers == "1":
                    return srv.count("novaos: draining") == 1
                return all(srv.count(f"novaos: worker {i} draining") == 1 for i in (0, 1))

            async def exited() -> bool:
                return srv.proc.poll() is not None

            try:
                await await_until(draining, timeout_s=10, what="draining")
            except AssertionError:
                raise AssertionError("".join(srv.lines)) from None
            started = time.monotonic()
            os.killpg(srv.proc.pid, signal.SIGQUIT)  # Ctrl-\: now
            with contextlib.suppress(grpc.aio.AioRpcError):  # cut: no completed event
                async for event in call:
                    assert not event.HasField("completed")
            await await_until(exited, timeout_s=10, what="exit")
            return time.monotonic() - started

    took = asyncio.run(scenario())
    assert took < 10 and srv.proc.returncode == 128 + signal.SIGQUIT, "".join(srv.lines)
    if workers == "1":
        wait_until(lambda: srv.count("novaos: second signal; stopping now") == 1, timeout_s=5)
    else:  # the supervisor still reaped its workers and removed their metrics directory
        wait_until(lambda: srv.count("novaos: supervisor stopped") == 1, timeout_s=5)
        assert not list(tmp_path.glob("novaos-prom-*"))
        assert srv.count("workers stopped now") == 1


class SilentRedis:
    """A Redis that accepts connections and never answers: a start-up that probes
    it waits there (REDIS_COMMAND_TIMEOUT_MS), so a test knows it is mid-start-up."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.setblocking(False)
        self.held: list[socket.socket] = []
        self.url = f"redis://127.0.0.1:{self._sock.getsockname()[1]}/0"

    def accepted(self, n: int) -> bool:
        with contextlib.suppress(BlockingIOError):  # none waiting yet
            self.held.append(self._sock.accept()[0])
        return len(self.held) >= n

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self._sock.close()


def _start_waiting_on_redis(
    redis: SilentRedis, connections: int, **env: str
) -> subprocess.Popen[str]:
    full = {**os.environ, **BASE_ENV, "REDIS_URL": redis.url, "REDIS_COMMAND_TIMEOUT_MS": "60000"}
    proc = subprocess.Popen(
        [sys.executable, "server.py"],
        cwd=ROOT,
        env={**full, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the test signals its process group, as a terminal does
    )

    def waiting() -> bool:
        assert proc.poll() is None, proc.communicate()
        return redis.accepted(connections)

    wait_until(waiting, timeout_s=60, what="start-up waiting on Redis")
    return proc


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_during_startup_ends_it_cleanly(sig: signal.Signals, code: int) -> None:
    # The handlers came after start-up: SIGTERM killed the process outright (143),
    # SIGINT printed "Event loop is closed" tracebacks.
    redis = SilentRedis()
    try:
        proc = _start_waiting_on_redis(redis, 1)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)  # not the 60 s Redis timeout
    finally:
        redis.close()
    assert proc.returncode == code, (out, err)
    assert out.splitlines() == ["novaos: signal during start-up; stopping", "novaos: stopped"]
    assert "Traceback" not in err and "never awaited" not in err, err


def test_ctrl_c_while_the_workers_start_stops_the_supervisor_cleanly() -> None:
    # Ctrl-C reaches the whole process group: each starting worker died with a
    # traceback and exit 130, which the supervisor reported as a failure (exit 1).
    redis = SilentRedis()
    try:
        proc = _start_waiting_on_redis(redis, 2, WORKERS="2")  # both workers probing
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=40)
    finally:
        redis.close()
    assert proc.returncode == 0, (out, err)
    lines = out.splitlines()
    for worker in (0, 1):  # each a whole line, naming its worker
        assert lines.count(f"novaos: worker {worker} signal during start-up; stopping") == 1, out
        assert lines.count(f"novaos: worker {worker} stopped") == 1, out
    assert "serving on" not in out and out.rstrip().endswith("novaos: supervisor stopped")
    assert "Traceback" not in err, err


def test_sigterm_right_after_listening_drains_and_exits_zero(
    spawn_server: Callable[..., Subprocess],
) -> None:
    # The handlers were installed just after the "listening" line: a SIGTERM sent
    # the moment it appeared killed the process (exit 143) about half of the time.
    srv = spawn_server()
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=20) == 0
    wait_until(lambda: srv.count("novaos: stopped") == 1, timeout_s=5, what="stopped line")
    assert srv.count("novaos: draining") == 1


def test_sigterm_ends_a_stream_longer_than_the_grace_in_band(
    spawn_server: Callable[..., Subprocess], tmp_path: Path
) -> None:
    """SHUTDOWN_GRACE_S=1 and an answer that would take ~10 s: the stream gets one
    terminal event (cancelled, "server shutting down") instead of being cut."""
    audit_dir = tmp_path / "audit"

    async def scenario() -> tuple[list[chat_pb2.StreamChatResponse], FakeProviderServer]:
        upstream = await FakeProviderServer().start()
        tokens = [f"Step {i} is short. " for i in range(100)]
        upstream.default = Reply(body=paced(openai_stream(tokens, (9, 500)), 0.1))
        srv = spawn_server(
            SHUTDOWN_GRACE_S="1",
            PREFERRED_PROVIDER="openai",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=upstream.url + "/v1",
            AUDIT_STORAGE_TYPE="file",
            AUDIT_FILE_PATH=str(audit_dir),
        )
        events: list[chat_pb2.StreamChatResponse] = []
        signalled = False
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            call = chat_pb2_grpc.ChatServiceStub(channel).StreamChat(
                chat_pb2.StreamChatRequest(message="a long answer please"), metadata=bearer(mint())
            )
            async for event in call:  # an RPC error (the old "Cancelling all calls") fails here
                events.append(event)
                if event.WhichOneof("event") == "delta" and not signalled:
                    srv.proc.send_signal(signal.SIGTERM)  # mid-answer
                    signalled = True
            assert await call.code() == grpc.StatusCode.OK
        assert srv.proc.wait(timeout=20) == 0
        # the upstream call was stopped, not left to run
        await await_until(_no_connections(upstream), timeout_s=5, what="upstream closed")
        await upstream.close()
        return events, upstream

    events, upstream = asyncio.run(scenario())
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds.count("completed") == 1 and kinds[-1] == "completed", kinds
    done = events[-1].completed
    assert (done.outcome, done.detail) == (chat_pb2.OUTCOME_CANCELLED, "server shutting down")
    assert 0 < upstream.parts_sent < 100  # cut short: it did not run to its end
    assert done.released_chars == sum(len(e.delta.text) for e in events if e.HasField("delta"))
    audited = [
        json.loads(line)
        for path in sorted(audit_dir.glob("audit-*.log"))
        for line in path.read_text().splitlines()
    ]
    outcomes = {r["request_id"]: r["outcome"] for r in audited}
    assert outcomes[done.request_id] == "cancelled"


def test_sigterm_ends_a_unary_chat_still_running_with_shutting_down_and_retry_info(
    spawn_server: Callable[..., Subprocess], tmp_path: Path
) -> None:
    """A unary Chat whose model has not answered when the grace is nearly over
    ends UNAVAILABLE with ErrorInfo SHUTTING_DOWN and a RetryInfo, like every
    other failure; gRPC's own cancel at the grace's end was a bare "Cancelling
    all calls" (no details, no Retry-After through Envoy)."""
    audit_dir = tmp_path / "audit"

    async def scenario() -> grpc.aio.AioRpcError:
        upstream = await FakeProviderServer().start()
        late = openai_json("Too late.", (9, 3))
        upstream.default = Reply(body=paced([b" ", late], 30), content_type="application/json")
        srv = spawn_server(
            SHUTDOWN_GRACE_S="2",
            PREFERRED_PROVIDER="openai",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=upstream.url + "/v1",
            AUDIT_STORAGE_TYPE="file",
            AUDIT_FILE_PATH=str(audit_dir),
        )

        async def called() -> bool:
            return bool(upstream.requests)

        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            call = chat_pb2_grpc.ChatServiceStub(channel).Chat(
                chat_pb2.ChatRequest(message="hello there"), metadata=bearer(mint())
            )
            await await_until(called, timeout_s=10, what="the model called")
            srv.proc.send_signal(signal.SIGTERM)
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await call
        assert srv.proc.wait(timeout=20) == 0
        await upstream.close()
        return failure.value

    err = asyncio.run(scenario())
    assert err.code() == grpc.StatusCode.UNAVAILABLE, err
    status = rpc_status.from_call(err)
    assert status is not None, err
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info) and info.reason == "SHUTTING_DOWN", status
    assert any(d.Unpack(retry) for d in status.details[1:]), status
    assert retry.retry_delay.ToTimedelta().total_seconds() >= 1
    audited = [
        json.loads(line)
        for path in sorted(audit_dir.glob("audit-*.log"))
        for line in path.read_text().splitlines()
    ]
    outcomes = {r["request_id"]: r["outcome"] for r in audited}
    assert outcomes[info.metadata["requestId"]] == "cancelled"


def test_sigterm_while_the_audit_database_hangs_spills_and_exits_within_the_grace(
    spawn_server: Callable[..., Subprocess],
    postgres_server: PostgresServer,
    postgres_dsn: str,
    tmp_path: Path,
) -> None:
    """The audit database stops answering (every PostgreSQL process stopped) and
    SIGTERM ends two open streams in-band. Their records cannot reach the
    database: they must be in the spill when the process exits, soon after the
    grace. The drain waited on the database 10 s per call, past the supervisor's
    grace + 5 s (and the kubelet's kill), which killed it with the records."""
    spill = tmp_path / "spill.jsonl"
    srv = spawn_server(
        SHUTDOWN_GRACE_S="2",
        MOCK_TOKEN_DELAY_MS="100",
        MOCK_RESPONSE_TOKENS="300",
        AUDIT_STORAGE_TYPE="database",
        DATABASE_URL=postgres_dsn,
        AUDIT_SPILL_PATH=str(spill),
    )

    async def scenario() -> tuple[list[chat_pb2.Completed], int | None]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            calls = await _two_streams_under_way(channel)
            with postgres_server.paused():
                srv.proc.send_signal(signal.SIGTERM)
                ends = [await _last_event(call) for call in calls]
                try:  # grace 2 s + the audit's 1 s + closing; not 10 s more
                    code = await asyncio.to_thread(srv.proc.wait, 6)
                except subprocess.TimeoutExpired:
                    code = None
            return ends, code

    ends, code = asyncio.run(scenario())
    assert [(e.outcome, e.detail) for e in ends] == [
        (chat_pb2.OUTCOME_CANCELLED, "server shutting down")
    ] * 2
    assert code == 0, "the drain outlived its grace"
    spilled = {json.loads(line)["request_id"] for line in spill.read_text().splitlines()}
    assert spilled == {e.request_id for e in ends}


def test_sigterm_with_redis_and_the_audit_database_hung_spills_a_second_after_the_grace(
    spawn_server: Callable[..., Subprocess],
    postgres_server: PostgresServer,
    postgres_dsn: str,
    private_redis: RedisServer,
    tmp_path: Path,
) -> None:
    """Redis hangs too: after the grace the drain waits on the streams' lease
    releases (REDIS_COMMAND_TIMEOUT_MS each) before it closes the audit log. The
    audit's 1 s counted from that close, so the records spilled only at grace +
    Redis's wait + 1 s, past the supervisor's kill on a slow enough Redis. They
    are in the spill 1 s after the grace, while the drain still waits on Redis
    (the streams, stuck on Redis too, are cancelled by gRPC at the grace)."""
    spill = tmp_path / "spill.jsonl"
    srv = spawn_server(
        SHUTDOWN_GRACE_S="2",
        MOCK_TOKEN_DELAY_MS="100",
        MOCK_RESPONSE_TOKENS="300",
        AUDIT_STORAGE_TYPE="database",
        DATABASE_URL=postgres_dsn,
        AUDIT_SPILL_PATH=str(spill),
        REDIS_URL=private_redis.url,
        REDIS_COMMAND_TIMEOUT_MS="6000",
    )

    def spilled() -> set[str]:
        lines = spill.read_text().splitlines() if spill.exists() else []
        return {json.loads(line)["request_id"] for line in lines}

    async def both_spilled() -> bool:
        return len(spilled()) == 2

    async def scenario() -> float:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            calls = await _two_streams_under_way(channel)
            assert private_redis.proc is not None
            with postgres_server.paused():
                private_redis.proc.send_signal(signal.SIGSTOP)
                try:
                    started = time.monotonic()
                    srv.proc.send_signal(signal.SIGTERM)
                    # grace 2 s + the audit's 1 s, not + Redis's 6 s first
                    await await_until(both_spilled, timeout_s=15, what="records spilled")
                    took = time.monotonic() - started
                    await asyncio.to_thread(srv.proc.wait, 20)
                finally:
                    private_redis.proc.send_signal(signal.SIGCONT)
            for call in calls:
                call.cancel()
            return took

    took = asyncio.run(scenario())
    assert took < 5.5, f"spilled {took:.1f} s after SIGTERM"


_Stream = grpc.aio.UnaryStreamCall[chat_pb2.StreamChatRequest, chat_pb2.StreamChatResponse]


async def _two_streams_under_way(channel: grpc.aio.Channel) -> list[_Stream]:
    """Two long answers, each past its first event."""
    stub = chat_pb2_grpc.ChatServiceStub(channel)
    calls = [
        stub.StreamChat(
            chat_pb2.StreamChatRequest(message="a long story please"), metadata=bearer(mint())
        )
        for _ in range(2)
    ]
    for call in calls:
        await call.read()  # under way
    return calls


async def _last_event(
    call: grpc.aio.UnaryStreamCall[chat_pb2.StreamChatRequest, chat_pb2.StreamChatResponse],
) -> chat_pb2.Completed:
    """The terminal event of a stream read with ``read()`` (which rules out ``async for``)."""
    last = chat_pb2.StreamChatResponse()
    while (event := await call.read()) is not grpc.aio.EOF:
        assert isinstance(event, chat_pb2.StreamChatResponse)
        last = event
    return last.completed


def _no_connections(upstream: FakeProviderServer) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return upstream.open_connections == 0

    return check


async def _try_new_chat(port: int) -> grpc.StatusCode | None:
    """A new RPC during drain must not be served."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as fresh:
        stub = chat_pb2_grpc.ChatServiceStub(fresh)
        try:
            await stub.Chat(chat_pb2.ChatRequest(message="new"), metadata=bearer(mint()), timeout=5)
        except grpc.aio.AioRpcError as err:
            return err.code()
    return None
