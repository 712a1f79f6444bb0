"""docker-compose.yml, the Dockerfile and the Redis policy, read from the files."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from novaos.app import spill_location
from novaos.config import Settings, load_settings
from novaos.sidecar.drain import DRAIN_ARGS
from tests.fixtures.deploy_assets import (
    COMPOSE_FILE,
    COMPOSE_TEST_ENV,
    DOCKERFILE,
    ROOT,
    compose_config,
    created_for,
    dockerfile_stages,
    find_manifest,
    load_yaml_docs,
    resolved_compose,
)

(RAW_COMPOSE,) = load_yaml_docs(COMPOSE_FILE)
# As Compose itself resolves it: anchors merged, variables interpolated, schema checked.
COMPOSE = resolved_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
REPLICAS = sorted(name for name in SERVICES if re.fullmatch(r"novaos-\d+", name))


def test_compose_refuses_to_start_without_its_secrets() -> None:
    result = compose_config({k: v for k, v in COMPOSE_TEST_ENV.items() if k != "JWT_SECRET"})
    assert result.returncode != 0 and "JWT_SECRET" in result.stderr


def test_compose_interpolates_the_secrets() -> None:
    env = SERVICES["novaos-1"]["environment"]
    assert env["JWT_SECRET"] == COMPOSE_TEST_ENV["JWT_SECRET"]
    assert COMPOSE_TEST_ENV["REDIS_PASSWORD"] in env["REDIS_URL"]


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_compose_service_is_hardened(name: str) -> None:
    service = SERVICES[name]
    assert service.get("read_only") is True, name
    assert service.get("cap_drop") == ["ALL"], name
    assert "no-new-privileges:true" in service.get("security_opt", []), name
    user = str(service.get("user", "root"))
    assert user.split(":", maxsplit=1)[0] not in {"0", "root"}, f"{name} runs as root"
    assert not service.get("privileged"), name
    image = service["image"]
    assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"


def _sidecars() -> dict[str, str]:
    """replica -> the sidecar whose network namespace it joins."""
    return {name: str(SERVICES[name]["network_mode"]).removeprefix("service:") for name in REPLICAS}


def test_three_replicas_each_with_its_own_envoy() -> None:
    assert REPLICAS == ["novaos-1", "novaos-2", "novaos-3"]
    sidecars = _sidecars()
    assert len(set(sidecars.values())) == len(REPLICAS)
    for replica, sidecar in sidecars.items():
        assert SERVICES[replica]["network_mode"] == f"service:{sidecar}"
        assert SERVICES[sidecar]["image"].startswith("envoyproxy/envoy:v1.40.")
        assert SERVICES[replica]["user"] == "1000:1000"
        assert SERVICES[replica]["tmpfs"][0].startswith("/tmp")
        # The front Envoy and Prometheus still reach the replica by its own name.
        for network in SERVICES[sidecar]["networks"].values():
            assert network["aliases"] == [replica]


def test_replicas_stop_after_their_drain() -> None:
    for name in REPLICAS:
        env = SERVICES[name]["environment"]
        assert SERVICES[name]["stop_signal"] == "SIGTERM"
        assert float(env["SHUTDOWN_GRACE_S"]) < _seconds(SERVICES[name]["stop_grace_period"])


def _needs(name: str) -> set[str]:
    """Every service ``name`` depends on, directly or not (network_mode counts)."""
    found: set[str] = set()
    todo = [name]
    while todo:
        for dep in SERVICES[todo.pop()].get("depends_on", {}):
            if dep not in found:
                found.add(dep)
                todo.append(dep)
    return found


def test_each_sidecar_and_the_front_outlive_the_replica_behind_them() -> None:
    # Compose stops a service before the ones it depends on, network_mode included.
    # The sidecars joined the replicas' namespaces and the front depended on the
    # sidecars, so both were stopped first: Envoy exits at once on SIGTERM, and every
    # stream the gateway was about to end in-band was cut without its terminal event.
    for replica, sidecar in _sidecars().items():
        assert sidecar in _needs(replica), replica
        assert "front" in _needs(sidecar), sidecar
        assert replica not in _needs(sidecar) and replica not in _needs("front")
    # And the replica's stop starts its sidecar's drain first (as the pod's preStop).
    for replica in REPLICAS:
        (hook,) = SERVICES[replica]["pre_stop"]
        assert hook["command"][:3] == ["python", "-m", "novaos.sidecar.drain"]
        admin = SERVICES["envoy-config"]["environment"].get("ENVOY_ADMIN_PORT", "9901")
        assert hook["command"][hook["command"].index("--admin-port") + 1] == admin
    for sidecar in _sidecars().values():
        command = SERVICES[sidecar]["command"]
        flags = {command[i]: command[i + 1] for i in range(len(command) - 1)}
        expected = dict(zip(DRAIN_ARGS[::2], DRAIN_ARGS[1::2], strict=True))
        assert {k: flags.get(k) for k in expected} == expected


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, source, target) of each of the service's mounts, tmpfs ones included."""
    mounts = [("tmpfs", "", entry.split(":", 1)[0]) for entry in service.get("tmpfs", [])]
    volumes = service.get("volumes", [])
    return mounts + [(m["type"], m.get("source", ""), m["target"]) for m in volumes]


def test_each_replicas_audit_spill_outlives_its_container() -> None:
    # The spill was on the replicas' /tmp tmpfs, which Docker empties whenever the
    # container stops: a restart (an OOM kill at the memory limit, a crash) during a
    # PostgreSQL outage lost the only copy of every record it held. It belongs on a
    # named volume, one per replica, that the image's uid can write.
    sources = set()
    for replica in REPLICAS:
        service = SERVICES[replica]
        spill, _ = spill_location(load_settings(service["environment"]))
        assert spill is not None, replica
        mounts = [m for m in _mounts(service) if spill.is_relative_to(m[2])]
        assert mounts, f"{replica}: the spill {spill} is on the read-only root filesystem"
        kind, source, target = max(mounts, key=lambda m: len(Path(m[2]).parts))
        assert kind == "volume" and source, f"{replica}: the spill {spill} is on a {kind} mount"
        assert source in COMPOSE["volumes"], source
        assert created_for(service["user"].split(":")[0], target), f"{target} is not uid 1000's"
        sources.add(source)
    assert len(sources) == len(REPLICAS), "each replica has its own spill volume"


def test_compose_secrets_come_from_the_environment_not_the_file() -> None:
    secret_vars = ("JWT_SECRET", "REDIS_URL", "DATABASE_URL", "POSTGRES_PASSWORD")
    raw_services = RAW_COMPOSE["services"] | {"x-novaos": RAW_COMPOSE["x-novaos"]}
    for name, service in raw_services.items():
        env = service.get("environment", {})
        for var in secret_vars:
            if var in env:
                assert "${" in env[var], f"{name}.{var} is a literal"


def test_prometheus_scrapes_every_replica() -> None:
    (config,) = load_yaml_docs(ROOT / "deploy" / "compose" / "prometheus.yml")
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "novaos")
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    ports = {SERVICES[r]["environment"]["METRICS_PORT"] for r in REPLICAS}
    assert targets == {f"{r}:{p}" for r in REPLICAS for p in ports}
    assert "/etc/prometheus/alerts.yml" in config["rule_files"]


def _redis_settings_compose() -> dict[str, str]:
    args = SERVICES["redis"]["command"]
    return {args[i].removeprefix("--"): args[i + 1] for i in range(1, len(args) - 1, 2)}


def _redis_settings_kube() -> dict[str, str]:
    conf = find_manifest("ConfigMap", "redis-config")["data"]["redis.conf"]
    pairs = [line.split(None, 1) for line in conf.splitlines() if line and line[0] != "#"]
    return {key: value for key, value in pairs}


def _front_check() -> dict[str, Any]:
    (front,) = load_yaml_docs(ROOT / "deploy" / "compose" / "front-envoy.yaml")
    (cluster,) = front["static_resources"]["clusters"]
    (check,) = cluster["health_checks"]
    return dict(check)


def test_the_fronts_check_outlasts_a_slow_redis() -> None:
    # /ready pings Redis with REDIS_COMMAND_TIMEOUT_MS before it answers. A check
    # timing out first took every replica (they share the one Redis) out together
    # while Redis answered in 1-2 s, and with no panic routing refused every client.
    check = _front_check()
    redis_s = Settings.model_fields["redis_command_timeout_ms"].default / 1000
    assert float(check["timeout"].removesuffix("s")) >= redis_s + 1  # + Envoy, gRPC


def test_the_fronts_check_counts_failures_as_the_readiness_probe() -> None:
    # As the pod's readinessProbe: one 503 is one failure, not an ejection at once.
    check = _front_check()
    (pod,) = [
        c
        for c in find_manifest("Deployment", "novaos")["spec"]["template"]["spec"]["containers"]
        if c["name"] == "novaos"
    ]
    probe = pod["readinessProbe"]
    assert check["unhealthy_threshold"] == probe["failureThreshold"]
    assert check["healthy_threshold"] == probe.get("successThreshold", 1)
    statuses = check["http_health_check"]["retriable_statuses"]
    assert any(r["start"] <= 503 < r["end"] for r in statuses)


@pytest.mark.parametrize("settings", [_redis_settings_compose(), _redis_settings_kube()])
def test_redis_cannot_evict_live_limit_keys(settings: dict[str, str]) -> None:
    assert settings["maxmemory"] == "1gb"
    # Every NovaOS key has a TTL, so volatile-* would evict them as readily as allkeys-*.
    assert settings["maxmemory-policy"] == "noeviction"
    assert settings["appendonly"] == "yes" and settings["appendfsync"] == "everysec"
    assert settings["save"] == "900 1"


def test_dockerfile_is_multistage_pinned_and_runs_as_uid_1000() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base[1])
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert "USER 1000:1000" in final
    assert "STOPSIGNAL SIGTERM" in final
    healthcheck = next(line for line in final if line.startswith("HEALTHCHECK"))
    assert "grpc_health_probe.py" in healthcheck
    # Liveness, not readiness: a provider outage (every circuit open) or an audit sink
    # down makes the gateway unready, and a container marked unhealthy for that gets
    # restarted by orchestrators that act on Docker health, which fixes nothing.
    assert "--service novaos.v1.HealthService" in healthcheck
    assert any("-c requirements.lock" in line for line in stages[0])


def test_image_writes_only_under_tmp_and_drains_before_kill() -> None:
    final = " ".join(dockerfile_stages()[-1])
    env = dict(re.findall(r"(\w+)=(\S+)", final.split("ENV ", 1)[1].split(" USER ")[0]))
    assert env["AUDIT_FILE_PATH"].startswith("/tmp/")
    grace = find_manifest("Deployment", "novaos")["spec"]["template"]["spec"]
    assert float(env["SHUTDOWN_GRACE_S"]) < grace["terminationGracePeriodSeconds"]


def test_dockerignore_keeps_secrets_and_tests_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*", "allow-list: everything is excluded unless named"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert not allowed & {"tests", ".env", ".git", ".venv", "bench", "docs"}
    # Everything the Dockerfile copies is allowed in.
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    for source in " ".join(copied).split():
        assert source.rstrip("/") in allowed, f"{source} is copied but ignored"


def _runtime_requirements() -> list[str]:
    """pyproject's runtime requirements, as scripts/runtime_requirements.py reads them."""
    spec = importlib.util.spec_from_file_location(
        "runtime_requirements", ROOT / "scripts" / "runtime_requirements.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    runtime_requirements: Callable[[Path], list[str]] = module.runtime_requirements
    return runtime_requirements(ROOT / "pyproject.toml")


def test_runtime_requirements_are_all_pinned_by_the_lock() -> None:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith(" "):
            name, version = line.split(";")[0].strip().split("==")
            pins[_norm(name)] = version
    requirements = [Requirement(r) for r in _runtime_requirements()]
    assert requirements
    for req in requirements:
        assert _norm(req.name) in pins, f"{req.name} is not in requirements.lock"
        assert req.specifier.contains(pins[_norm(req.name)]), f"{req} vs {pins[_norm(req.name)]}"


# An API NovaOS calls -> the first release of the package that has it.
API_FLOORS = {
    # novaos/supervisor.py: CollectorRegistry(support_collectors_without_names=True)
    ("prometheus-client", "support_collectors_without_names"): "0.25.0",
}


@pytest.mark.parametrize(("package", "api"), list(API_FLOORS), ids=lambda v: v)
def test_pyproject_allows_no_release_without_an_api_novaos_calls(package: str, api: str) -> None:
    # pyproject allowed prometheus-client>=0.21 while the supervisor needs 0.25: an
    # install that followed it could get 0.24, and WORKERS>1 then died at start-up
    # (TypeError: unexpected keyword argument), /metrics refusing connections.
    assert any(api in path.read_text() for path in (ROOT / "novaos").rglob("*.py"))
    floor = Version(API_FLOORS[(package, api)])
    (req,) = [r for r in map(Requirement, _runtime_requirements()) if _norm(r.name) == package]
    older = Version(f"{floor.major}.{floor.minor - 1}.999")
    assert req.specifier.contains(floor) and not req.specifier.contains(older), str(req)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_runtime_requirements_script_prints_pyproject_dependencies() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "runtime_requirements.py"), "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "grpcio-health-checking>=1.70" in out
    assert not [r for r in out if r.startswith(("pytest", "ruff", "mypy"))]
