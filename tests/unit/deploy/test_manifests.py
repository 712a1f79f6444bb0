"""Every Kubernetes manifest is valid against the API schemas (offline), and the
kustomization, images and selectors hang together."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.fixtures.deploy_assets import (
    KUBE_DIR,
    OPERATIONS_DOC,
    all_containers,
    built_manifests,
    find_manifest,
    kube_manifests,
    load_yaml_docs,
    pod_specs,
)

# Oldest version we support (native sidecars whose named port a Service can target, grpc
# probes, ContainerResource HPA metrics) and the newest schema the package
# ships.
KUBE_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())

MANIFESTS = kube_manifests()


def _id(item: tuple[Path, dict[str, Any]]) -> str:
    path, doc = item
    return f"{path.name}:{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("item", MANIFESTS, ids=[_id(m) for m in MANIFESTS])
def test_manifest_is_valid_against_the_strict_schema(
    item: tuple[Path, dict[str, Any]], version: str
) -> None:
    _, doc = item
    # strict: unknown fields (a misspelt securityContext key, say) are errors too.
    kubernetes_validate.validate(doc, version, strict=True)


BUILT = built_manifests()


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("doc", BUILT, ids=[f"{d['kind']}/{d['metadata']['name']}" for d in BUILT])
def test_built_kustomization_is_valid(doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def test_built_kustomization_is_every_file_in_one_namespace() -> None:
    from_files = {
        (doc["kind"], doc["metadata"]["name"])
        for path, doc in MANIFESTS
        if path.name != "secret.example.yaml"
    }
    assert {(d["kind"], d["metadata"]["name"]) for d in BUILT} == from_files
    for doc in BUILT:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "novaos", doc["metadata"]["name"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "novaos"


def test_the_validator_rejects_a_misspelt_field() -> None:
    doc = find_manifest("Deployment", "novaos")
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBE_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    (kustomization,) = load_yaml_docs(KUBE_DIR / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in KUBE_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}
    assert kustomization["namespace"] == "novaos"


def test_secret_example_holds_placeholders_only() -> None:
    secrets = load_yaml_docs(KUBE_DIR / "secret.example.yaml")
    assert {s["metadata"]["name"] for s in secrets} >= {"novaos-secrets", "redis-auth"}
    for secret in secrets:
        assert "data" not in secret, "base64 data hides what is in it; use stringData"
        for key, value in secret["stringData"].items():
            assert "REPLACE_ME" in value, f"{secret['metadata']['name']}.{key} looks real"


def test_every_image_is_pinned_and_envoy_is_1_40() -> None:
    (kustomization,) = load_yaml_docs(KUBE_DIR / "kustomization.yaml")
    pins = {img["name"]: img["newTag"] for img in kustomization["images"]}
    for name, spec in pod_specs():
        for container in all_containers(spec):
            image = container["image"]
            repo, _, tag = image.rpartition(":")
            assert repo and tag and tag != "latest", f"{name}/{container['name']}: {image}"
            if repo in pins:
                assert pins[repo] == tag, f"kustomization pins {repo}:{pins[repo]}, not {tag}"
    assert re.fullmatch(r"v1\.40\.\d+", pins["envoyproxy/envoy"])


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_every_selector_selects_a_pod_template() -> None:
    templates = [
        doc["spec"]["template"]["metadata"]["labels"]
        for _, doc in MANIFESTS
        if "template" in doc.get("spec", {})
    ]
    for _, doc in MANIFESTS:
        kind, spec = doc["kind"], doc.get("spec", {})
        if kind == "Service":
            selector = spec["selector"]
        elif kind in {"PodDisruptionBudget", "Deployment", "StatefulSet"}:
            selector = spec["selector"]["matchLabels"]
        elif kind == "NetworkPolicy" and spec["podSelector"]:
            selector = spec["podSelector"]["matchLabels"]
        else:
            continue
        assert any(_matches(selector, labels) for labels in templates), (
            f"{kind}/{doc['metadata']['name']} selects no pod: {selector}"
        )


def test_services_route_to_envoy_only_with_app_protocols() -> None:
    deployment = find_manifest("Deployment", "novaos")
    envoy = next(
        c for c in all_containers(deployment["spec"]["template"]["spec"]) if c["name"] == "envoy"
    )
    envoy_ports = {p["name"] for p in envoy["ports"]} | {p["containerPort"] for p in envoy["ports"]}
    for name in ("novaos", "novaos-headless"):
        service = find_manifest("Service", name)
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in envoy_ports, f"{name}:{port['name']} bypasses Envoy"
            assert port.get("appProtocol"), f"{name}:{port['name']} has no appProtocol"
    protocols = {p["appProtocol"] for p in find_manifest("Service", "novaos")["spec"]["ports"]}
    assert protocols == {"grpc", "https"}


# Services resolve a named targetPort on a native sidecar (an init container with
# restartPolicy Always) only from 1.32 (kubernetes/kubernetes#127958, fixed by #127976).
_SIDECAR_NAMED_TARGET_PORT = (1, 32)


def _version(text: str) -> tuple[int, int]:
    major, minor = re.findall(r"(\d+)\.(\d+)", text)[0]
    return int(major), int(minor)


def test_the_stated_minimum_kubernetes_version_is_one_and_covers_the_sidecar_port() -> None:
    # The Deployment said ">= 1.29", operations.md "1.33 or newer": on 1.29-1.31 the
    # Services' targetPort "https" (the Envoy sidecar's port) resolves to no endpoint.
    pod = find_manifest("Deployment", "novaos")["spec"]["template"]["spec"]
    sidecar_ports = {
        p["name"]
        for c in pod.get("initContainers", ())
        if c.get("restartPolicy") == "Always"
        for p in c.get("ports", ())
    }
    targets = {p["targetPort"] for s in ("novaos", "novaos-headless")
               for p in find_manifest("Service", s)["spec"]["ports"]}  # fmt: skip
    assert targets & sidecar_ports, "the Services no longer target the sidecar: recheck"
    stated = {
        "tests": _version(KUBE_VERSIONS[0]),
        "docs": _version(
            re.findall(r"\(Kubernetes (\d+\.\d+) or newer", OPERATIONS_DOC.read_text())[0]
        ),
        "deployment": _version(
            re.findall(r"Kubernetes >= (\d+\.\d+)", (KUBE_DIR / "deployment.yaml").read_text())[0]
        ),
    }
    assert set(stated.values()) == {_SIDECAR_NAMED_TARGET_PORT}, stated


def test_hpa_follows_the_guide() -> None:
    hpa = find_manifest("HorizontalPodAutoscaler", "novaos")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "novaos",
    }
    targets = {}
    for metric in hpa["metrics"]:
        body = metric.get("containerResource") or metric["resource"]
        targets[body["name"]] = body["target"]["averageUtilization"]
    assert targets == {"cpu": 70, "memory": 80}
    assert "replicas" not in find_manifest("Deployment", "novaos")["spec"], "the HPA owns it"


def test_pdb_keeps_all_but_one_pod() -> None:
    pdb = find_manifest("PodDisruptionBudget", "novaos")["spec"]
    assert pdb.get("maxUnavailable") == 1 or pdb.get("minAvailable") == 2
