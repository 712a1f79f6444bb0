"""The sidecar's overload limits: connections below the descriptor limit, heap actions."""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from novaos.config import load_settings
from novaos.errors import ConfigError
from novaos.sidecar.envoy_overload import (
    CONNECTIONS_MONITOR,
    HEAP_MONITOR,
    max_connections,
    open_files_limit,
)
from tests.unit.sidecar.test_render import ROOT, SECRET, render_mod


def _settings(**env: str) -> Any:
    return load_settings({"JWT_SECRET": SECRET, **env})


@pytest.mark.parametrize(
    ("open_files", "expected"), [(1024, 768), (20_000, 18_000), (1 << 20, 943_719)]
)
def test_connections_stay_below_the_descriptor_limit(open_files: int, expected: int) -> None:
    # The old fixed 50,000 was above a 20,000 limit: Envoy ran out of descriptors
    # first, and every new caller (/ready too) timed out.
    assert max_connections(_settings(), open_files) == expected


def test_a_configured_cap_only_lowers_it() -> None:
    assert max_connections(_settings(ENVOY_MAX_CONNECTIONS="5000"), 20_000) == 5000
    assert max_connections(_settings(ENVOY_MAX_CONNECTIONS="50000"), 20_000) == 18_000


def test_too_few_descriptors_stop_the_render_with_one_line() -> None:
    with pytest.raises(ConfigError, match="RLIMIT_NOFILE"):
        max_connections(_settings(), 300)


def test_the_render_reads_this_process_hard_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert open_files_limit() == (1 << 20 if hard == resource.RLIM_INFINITY else hard)


def _rendered(tmp_path: Path, **env: str) -> tuple[Path, dict[str, Any]]:
    subprocess.run([str(ROOT / "scripts" / "dev_tls.sh"), str(tmp_path / "tls")], check=True)
    settings = _settings(
        NODE_ENV="production",
        TLS_CERT_FILE=str(tmp_path / "tls" / "cert.pem"),
        TLS_KEY_FILE=str(tmp_path / "tls" / "key.pem"),
        **env,
    )
    out = tmp_path / "envoy.yaml"
    render_mod.write(settings, out)
    config: dict[str, Any] = yaml.safe_load(out.read_text())
    return out, config


def test_heap_pressure_actions_render_and_envoy_accepts_them(tmp_path: Path) -> None:
    out, config = _rendered(tmp_path, ENVOY_MAX_HEAP_MB="192", ENVOY_MAX_CONNECTIONS="4000")
    overload = config["overload_manager"]
    monitors = {m["name"]: m["typed_config"] for m in overload["resource_monitors"]}
    assert monitors[HEAP_MONITOR]["max_heap_size_bytes"] == 192 * 1024 * 1024
    assert monitors[CONNECTIONS_MONITOR]["max_active_downstream_connections"] == 4000
    actions = {a["name"].rsplit(".", 1)[1] for a in overload["actions"]}
    assert actions == {"shrink_heap", "reset_high_memory_stream", "stop_accepting_requests"}
    render_mod.validate(out)


def test_without_a_heap_size_only_connections_are_watched(tmp_path: Path) -> None:
    _, config = _rendered(tmp_path)
    overload = config["overload_manager"]
    assert [m["name"] for m in overload["resource_monitors"]] == [CONNECTIONS_MONITOR]
    assert "actions" not in overload


def test_the_request_timeout_is_rendered(tmp_path: Path) -> None:
    _, config = _rendered(tmp_path, ENVOY_REQUEST_TIMEOUT_MS="2500")
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    assert hcm["typed_config"]["request_timeout"] == "2.5s"
