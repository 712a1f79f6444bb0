"""Linters over the deployment files: hadolint (Dockerfile), yamllint (every YAML file in
the repository, with .yamllint), and Envoy's own validator for the static front config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fixtures.deploy_assets import DOCKERFILE, ROOT

BIN = Path(sys.executable).parent


def _run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = _run(BIN / "hadolint", "--failure-threshold", "info", DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_regression(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(DOCKERFILE.read_text().replace("USER 1000:1000", "USER root"))
    assert _run(BIN / "hadolint", "--failure-threshold", "info", bad).returncode != 0


def test_yamllint_passes_on_every_yaml_file() -> None:
    result = _run(BIN / "yamllint", "--strict", "-c", ROOT / ".yamllint", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_sees_the_deployment_files() -> None:
    result = _run(BIN / "yamllint", "--list-files", "-c", ROOT / ".yamllint", ".")
    listed = {Path(line).as_posix().removeprefix("./") for line in result.stdout.split()}
    expected = {"docker-compose.yml", "deploy/prometheus/alerts.yml", "kubernetes/deployment.yaml"}
    assert expected <= listed, result.stderr


def test_envoy_accepts_the_compose_front_config() -> None:
    result = _run(
        BIN / "envoy",
        "--mode",
        "validate",
        "--disable-hot-restart",
        "-c",
        ROOT / "deploy" / "compose" / "front-envoy.yaml",
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
