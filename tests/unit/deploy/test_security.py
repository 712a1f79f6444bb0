"""The security settings a review asks for, on every container of every workload.

Read from the files themselves, so removing one setting from one container (or adding a
container without them) fails CI.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from novaos.config import load_settings
from novaos.sidecar.drain import DRAIN_ARGS, DRAIN_TIME_S
from novaos.supervisor import KILL_AFTER_GRACE_S
from tests.fixtures.deploy_assets import (
    all_containers,
    example_secrets,
    find_manifest,
    kube_manifests,
    pod_environment,
    pod_specs,
)

PODS = pod_specs()
CONTAINERS = [(name, spec, container) for name, spec in PODS for container in all_containers(spec)]
GATEWAY_UID = 1000


def _cid(item: tuple[str, dict[str, Any], dict[str, Any]]) -> str:
    return f"{item[0]}/{item[2]['name']}"


def test_the_workloads_are_the_ones_we_expect() -> None:
    assert {name for name, _ in PODS} == {"Deployment/novaos", "StatefulSet/redis"}
    names = {c["name"] for c in all_containers(dict(PODS)["Deployment/novaos"])}
    assert names == {"envoy-config", "envoy", "novaos"}


@pytest.mark.parametrize("item", CONTAINERS, ids=[_cid(c) for c in CONTAINERS])
def test_container_security_context(item: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
    workload, _, container = item
    ctx = container.get("securityContext", {})
    where = f"{workload}/{container['name']}"
    assert ctx.get("runAsNonRoot") is True, where
    assert isinstance(ctx.get("runAsUser"), int) and ctx["runAsUser"] > 0, where
    if workload == "Deployment/novaos":
        assert ctx["runAsUser"] == GATEWAY_UID and ctx.get("runAsGroup") == GATEWAY_UID, where
    assert ctx.get("readOnlyRootFilesystem") is True, where
    assert ctx.get("allowPrivilegeEscalation") is False, where
    assert ctx.get("privileged", False) is False, where
    caps = ctx.get("capabilities", {})
    assert caps.get("drop") == ["ALL"], where
    assert not caps.get("add"), where
    assert ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", where


@pytest.mark.parametrize("item", CONTAINERS, ids=[_cid(c) for c in CONTAINERS])
def test_container_resources_and_writable_mounts(
    item: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    workload, spec, container = item
    where = f"{workload}/{container['name']}"
    resources = container.get("resources", {})
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{where}: {bound}"
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        if mount.get("readOnly"):
            continue
        volume = volumes.get(mount["name"])  # None: a volumeClaimTemplate (the Redis data)
        assert volume is None or "emptyDir" in volume, f"{where}: {mount['name']} is writable"


@pytest.mark.parametrize("item", PODS, ids=[p[0] for p in PODS])
def test_pod_security(item: tuple[str, dict[str, Any]]) -> None:
    name, spec = item
    assert spec.get("automountServiceAccountToken") is False, name
    assert spec["securityContext"]["runAsNonRoot"] is True, name
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(flag), f"{name}: {flag}"
    assert not [v for v in spec.get("volumes", []) if "hostPath" in v], name


def test_service_accounts_mount_no_token() -> None:
    accounts = [doc for _, doc in kube_manifests() if doc["kind"] == "ServiceAccount"]
    assert accounts
    assert all(sa["automountServiceAccountToken"] is False for sa in accounts)


def test_namespace_enforces_restricted_pod_security() -> None:
    labels = find_manifest("Namespace", "novaos")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def _gateway() -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    spec = find_manifest("Deployment", "novaos")["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in all_containers(spec)}
    settings = find_manifest("ConfigMap", "novaos-config")["data"]
    return spec, containers, settings


def test_gateway_probes_speak_grpc_health_on_the_grpc_port() -> None:
    _, containers, settings = _gateway()
    novaos = containers["novaos"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        grpc = novaos[probe]["grpc"]
        assert grpc["port"] == int(settings["GRPC_PORT"]), probe
    # Liveness must not follow dependencies (a provider outage must not restart pods).
    assert novaos["livenessProbe"]["grpc"]["service"] == "novaos.v1.HealthService"
    assert novaos["readinessProbe"]["grpc"]["service"] == "novaos.v1.ChatService"


def test_the_sidecar_is_ready_only_with_a_tls_handshake_and_outlives_its_drain() -> None:
    # A pair Envoy cannot load is rejected by SDS while the listener still binds:
    # a TCP readiness probe passed and every handshake failed. And 5 s into the
    # drain Envoy closes its listeners: a liveness probe that gave up before the
    # grace period ended killed it while streams still drained through it.
    spec, containers, _ = _gateway()
    envoy = containers["envoy"]
    ready = envoy["readinessProbe"]["httpGet"]
    assert (ready["scheme"], ready["port"]) == ("HTTPS", "https")
    live = envoy["livenessProbe"]
    patience = live["periodSeconds"] * live["failureThreshold"]
    assert patience > spec["terminationGracePeriodSeconds"]


def _pre_stop_hold_s(novaos: dict[str, Any]) -> float:
    command = novaos["lifecycle"]["preStop"]["exec"]["command"]
    return float(command[command.index("--hold-s") + 1])


def test_drain_fits_in_the_grace_period() -> None:
    # preStop + grace + the supervisor's backstop was exactly the 30 s grace
    # period: the kubelet's SIGKILL raced the supervisor's kill of a worker that
    # was still draining (its audit records lost with it).
    spec, containers, settings = _gateway()
    pre_stop = _pre_stop_hold_s(containers["novaos"])
    drain = float(settings["SHUTDOWN_GRACE_S"])
    assert int(settings["WORKERS"]) > 1  # so the supervisor's backstop counts
    assert pre_stop + drain + KILL_AFTER_GRACE_S < spec["terminationGracePeriodSeconds"]


def test_envoy_is_a_native_sidecar_and_the_only_entry() -> None:
    spec, containers, settings = _gateway()
    assert containers["envoy"]["restartPolicy"] == "Always"  # stops after novaos
    assert spec["topologySpreadConstraints"]
    novaos_ports = {p["containerPort"] for p in containers["novaos"]["ports"]}
    assert novaos_ports == {int(settings["GRPC_PORT"]), int(settings["METRICS_PORT"])}
    annotations = find_manifest("Deployment", "novaos")["spec"]["template"]["metadata"]
    assert annotations["annotations"]["prometheus.io/port"] == settings["METRICS_PORT"]


def test_the_sidecar_drains_first_and_sends_goaway_at_once() -> None:
    # Envoy was only stopped after the gateway, and nothing drained it: clients on a
    # kept-alive connection got "no healthy upstream" for the whole grace, no GOAWAY.
    _, containers, _ = _gateway()
    command = containers["novaos"]["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:3] == ["python", "-m", "novaos.sidecar.drain"]
    admin_port = command[command.index("--admin-port") + 1]
    assert admin_port == find_manifest("ConfigMap", "novaos-envoy")["data"]["ENVOY_ADMIN_PORT"]
    args = containers["envoy"]["args"]
    flags = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
    expected = dict(zip(DRAIN_ARGS[::2], DRAIN_ARGS[1::2], strict=True))
    assert {k: flags.get(k) for k in expected} == expected
    # Envoy refuses new connections only once the endpoint's removal has spread.
    assert _pre_stop_hold_s(containers["novaos"]) <= DRAIN_TIME_S


def test_only_the_gateway_mounts_its_tmp_volume() -> None:
    # The Envoy sidecar and the init container mounted the gateway's /tmp emptyDir,
    # which holds the audit spill (the only copy of records the sink has not taken):
    # a compromised internet-facing Envoy, same uid, could rewrite or cut it.
    _, containers, _ = _gateway()
    for name, container in containers.items():
        mounts = {m["name"] for m in container.get("volumeMounts", [])}
        assert ("tmp" in mounts) == (name == "novaos"), name
    writable = [m for m in containers["envoy"]["volumeMounts"] if not m.get("readOnly")]
    assert writable == [], "Envoy writes no file"


def test_the_init_container_gets_only_the_secrets_validation_needs() -> None:
    # It took envFrom the whole Secret (provider keys, ACK_SECRET) to render a file
    # that holds none of them.
    _, containers, _ = _gateway()
    init = containers["envoy-config"]
    assert not [s for s in init["envFrom"] if "secretRef" in s]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in init.get("env", [])}
    assert {r["name"] for r in refs.values()} == {"novaos-secrets"}
    assert all(r["key"] == name for name, r in refs.items())
    given = {name for name in pod_environment() if name in example_secrets()}
    assert set(refs) < given and {"OPENAI_API_KEY", "ACK_SECRET"} <= given - set(refs)
    # ...and that is enough for the renderer's settings to validate.
    env = dict(find_manifest("ConfigMap", "novaos-config")["data"])
    env.update(find_manifest("ConfigMap", "novaos-envoy")["data"])
    env.update({name: pod_environment()[name] for name in refs})
    load_settings(env)


def test_envoy_runs_as_many_workers_as_its_cpu_limit() -> None:
    # --concurrency 2 under a 1-CPU limit, beside a comment saying the threads were
    # sized to the limit: two busy workers spend the CFS quota in half the period,
    # then both wait (throttled) for the next one.
    _, containers, _ = _gateway()
    envoy = containers["envoy"]
    args = envoy["args"]
    workers = int(args[args.index("--concurrency") + 1])
    cpu = str(envoy["resources"]["limits"]["cpu"])
    cores = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    assert workers == max(1, int(cores)), (workers, cpu)


def _policy(name: str) -> dict[str, Any]:
    return dict(find_manifest("NetworkPolicy", name)["spec"])


def test_default_deny_covers_the_namespace() -> None:
    deny = _policy("default-deny")
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny


def test_gateway_ingress_is_envoy_only_plus_scrapes() -> None:
    policy = _policy("novaos")
    open_ports: set[int] = set()
    scoped_ports: set[int] = set()
    for rule in policy["ingress"]:
        ports = {p["port"] for p in rule["ports"]}
        (scoped_ports if rule.get("from") else open_ports).update(ports)
    assert open_ports == {8443}, "only Envoy's TLS port is open to all"
    assert scoped_ports == {9464}, "metrics only from the selected Prometheus"


def test_gateway_egress_is_redis_postgres_dns_and_public_https() -> None:
    policy = _policy("novaos")
    ports = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert ports == {(6379, "TCP"), (5432, "TCP"), (53, "UDP"), (53, "TCP"), (443, "TCP")}
    https = next(r for r in policy["egress"] if r["ports"][0]["port"] == 443)
    block = https["to"][0]["ipBlock"]
    excluded = [ipaddress.ip_network(c) for c in block["except"]]
    for private in ("10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "127.0.0.1"):
        addr = ipaddress.ip_address(private)
        assert any(addr in net for net in excluded), f"HTTPS egress reaches {private}"


def test_web_fetches_go_only_to_ports_the_egress_policy_opens() -> None:
    # The ConfigMap enabled web fetch with the default ports 80,443 while the policy
    # opened 443 only: an http:// source hung until the connect timeout.
    settings = load_settings(pod_environment())
    assert settings.enable_web_fetch
    public = [
        rule
        for rule in _policy("novaos")["egress"]
        if rule["to"][0].get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
    ]
    assert public
    opened = {p["port"] for rule in public for p in rule["ports"] if p["protocol"] == "TCP"}
    assert set(settings.web_fetch_allowed_ports) <= opened, settings.web_fetch_allowed_ports


def test_redis_accepts_the_gateway_only_and_opens_nothing() -> None:
    policy = _policy("redis")
    assert policy["egress"] == []
    (rule,) = policy["ingress"]
    assert rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "novaos"
