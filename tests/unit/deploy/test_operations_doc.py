"""docs/operations.md's environment table and the settings object agree, both ways, at
test time — a field added to novaos/config.py without a row (or a row for a variable
nothing reads, or a stale default) fails here. The manifests may only set variables
that exist."""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from novaos.app import spill_location
from novaos.config import Settings, load_settings
from novaos.errors import ConfigError
from tests.fixtures.deploy_assets import (
    COMPOSE_FILE,
    DOCKERFILE,
    KUBE_DIR,
    OPERATIONS_DOC,
    created_for,
    example_secrets,
    find_manifest,
    load_yaml_docs,
    pod_environment,
)

# What `openssl rand -base64 48` gives (this one printed once, never used anywhere).
RANDOM_LOOKING = "Hq7vXk2pLm9sRt4wYz6bNc3dJf8gUe5hKi1oPa0qSd7rTy2uVb4nMw6x"
_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*(.*?)\s*\|\s*(.*?)\s*\|\s*$")


def env_name(name: str, field: FieldInfo) -> str:
    """The variable a field is read from: its alias if it has one, else its upper-cased name."""
    alias = field.validation_alias or field.alias
    if isinstance(alias, AliasChoices):
        alias = next(c for c in alias.choices if isinstance(c, str))
    return str(alias).upper() if isinstance(alias, str) else name.upper()


def render_default(value: Any) -> str:
    """A default as the table writes it."""
    rendered: str
    if value is None:
        rendered = "(unset)"
    elif isinstance(value, bool):
        rendered = "true" if value else "false"
    elif isinstance(value, Enum):
        rendered = str(value.value)
    elif isinstance(value, tuple):
        rendered = ",".join(map(str, value)) or "(empty)"
    elif isinstance(value, float) and value.is_integer():
        rendered = str(int(value))
    elif isinstance(value, Path):
        rendered = value.as_posix()
    else:
        rendered = str(value) or "(empty)"
    return rendered


def settings_defaults() -> dict[str, str]:
    return {
        env_name(name, field): render_default(field.get_default(call_default_factory=True))
        for name, field in Settings.model_fields.items()
    }


def doc_table() -> dict[str, tuple[str, str]]:
    """{variable: (default, meaning)} from the '## Environment variables' section."""
    text = OPERATIONS_DOC.read_text()
    section = text.split("\n## Environment variables\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            name, default, meaning = match.groups()
            assert name not in rows, f"{name} is listed twice"
            rows[name] = (default.replace("`", ""), meaning)
    return rows


def test_every_setting_has_a_row() -> None:
    missing = set(settings_defaults()) - set(doc_table())
    hint = "\n".join(f"| `{n}` | `{settings_defaults()[n]}` | … |" for n in sorted(missing))
    assert not missing, f"add to docs/operations.md:\n{hint}"


def test_every_row_is_a_setting() -> None:
    extra = set(doc_table()) - set(settings_defaults())
    assert not extra, f"documented but not read by novaos/config.py: {sorted(extra)}"


def test_documented_defaults_match_the_code() -> None:
    table = doc_table()
    wrong = {
        name: (table[name][0], default)
        for name, default in settings_defaults().items()
        if name in table and table[name][0] != default
    }
    assert not wrong, f"(documented, actual): {wrong}"


def test_every_row_says_what_it_means() -> None:
    assert all(len(meaning) > 8 for _, meaning in doc_table().values())


def test_the_table_is_checked_against_all_fields() -> None:
    # Guard against the parser silently matching nothing.
    assert len(doc_table()) == len(Settings.model_fields) > 50
    assert env_name("node_env", Settings.model_fields["node_env"]) == "NODE_ENV"
    assert "VALIDATE_CERTS" in doc_table()


def test_manifests_set_only_real_variables() -> None:
    known = set(settings_defaults())
    config = find_manifest("ConfigMap", "novaos-config")["data"]
    assert set(config) <= known, set(config) - known
    for secret in load_yaml_docs(KUBE_DIR / "secret.example.yaml"):
        if secret["metadata"]["name"] == "novaos-secrets":
            assert set(secret["stringData"]) <= known, set(secret["stringData"]) - known
    (compose,) = load_yaml_docs(COMPOSE_FILE)
    env = compose["services"]["novaos-1"]["environment"]
    assert set(env) <= known, set(env) - known


def test_secrets_stay_out_of_the_configmap() -> None:
    secret_fields = {
        env_name(name, field)
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    } | {"REDIS_URL", "DATABASE_URL"}  # carry passwords
    config = find_manifest("ConfigMap", "novaos-config")["data"]
    assert not secret_fields & set(config)


def test_the_pod_environment_is_a_valid_configuration() -> None:
    settings = load_settings(pod_environment())
    assert settings.is_production and settings.require_auth
    assert str(settings.audit_file_path).startswith("/tmp/")
    assert settings.fetch_validates_certs and not settings.web_fetch_allow_private_ips


def test_the_example_secret_unchanged_would_stop_a_production_pod() -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET: the example's placeholder"):
        load_settings({**pod_environment(), **example_secrets()})


def test_a_bad_value_in_the_configmap_would_stop_startup() -> None:
    with pytest.raises(ConfigError, match="WORKERS"):
        load_settings({**pod_environment(), "WORKERS": "two"})


def _env_example() -> dict[str, str]:
    text = (OPERATIONS_DOC.parents[1] / ".env.example").read_text()
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


def test_env_example_sets_real_variables_and_is_a_valid_configuration() -> None:
    # The guide's Secret Management step is `cp .env.example .env.production`; the
    # file did not exist.
    example = _env_example()
    assert set(example) <= set(settings_defaults()), set(example) - set(settings_defaults())
    assert {"JWT_SECRET", "REDIS_URL", "WEB_FETCH_VALIDATE_CERTS", "ALLOWED_ORIGINS"} <= set(
        example
    )
    # Copied unchanged, its placeholder secret must not start a production gateway.
    with pytest.raises(ConfigError, match="JWT_SECRET: the example's placeholder"):
        load_settings(example)
    settings = load_settings(example | {"JWT_SECRET": RANDOM_LOOKING})
    assert settings.is_production and settings.require_auth and settings.port is None
    # Its audit sink and spill went to /var/log/novaos/audit, which the image (read-only
    # root, uid 1000) cannot write: both workers stopped at start. They must be under
    # /tmp or a directory the image makes for uid 1000 (where a volume is mounted).
    spill, _ = spill_location(settings)
    assert spill is not None
    for path in (settings.audit_file_path, spill):
        assert path.is_absolute(), path  # relative to the image's WORKDIR, /app: root's
        writable = [p for p in (path, *path.parents) if created_for("1000", str(p))]
        assert path.is_relative_to("/tmp") or writable, f"{path}: the image cannot write it"
    # Not /tmp, a tmpfs emptied at every stop: a volume, which the docs say to mount.
    # The guide's path, so that its `grep … /var/log/novaos/audit/*.log` finds the log.
    assert settings.audit_file_path == Path("/var/log/novaos/audit")
    mount = f"-v novaos-audit:{settings.audit_file_path} "
    assert mount in " ".join(OPERATIONS_DOC.read_text().split())
    assert mount.strip() in (OPERATIONS_DOC.parents[1] / ".env.example").read_text()


def test_no_shipped_configuration_trusts_a_forwarded_for_nobody_appends() -> None:
    # The ConfigMap and .env.example set TRUST_PROXY=true while only an L4 Service (and
    # compose's TCP-passthrough front Envoy) stood in front of Envoy: any client chose
    # the address its audit record and anonymous limits went by.
    for name, env in (("configmap", pod_environment()), (".env.example", _env_example())):
        settings = load_settings(env | {"JWT_SECRET": RANDOM_LOOKING})
        assert settings.trust_proxy is False, name
    for service in ("novaos", "novaos-headless"):
        assert find_manifest("Service", service)["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert not [doc for path in KUBE_DIR.glob("*.yaml") for doc in load_yaml_docs(path)
                if doc["kind"] == "Ingress"]  # fmt: skip


@pytest.mark.parametrize(
    "secret",
    [
        "your-unique-secret-key-minimum-32-characters-long",  # the guide's
        "REPLACE_ME_with_at_least_32_random_characters",  # secret.example.yaml's
        "replace-with-a-unique-secret-of-at-least-32-characters",  # .env.example's
    ],
)
@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("JWT_SECRET", "JWT_SECRET"),
        ("ACK_SECRET", "ACK_SECRET"),
        ("AUDIT_HMAC_KEY", "AUDIT_HMAC_KEY"),
        ("AUDIT_CHAIN_KEY", "AUDIT_CHAIN_KEY"),
        # each retired key: one copied unchanged was taken in production
        ("AUDIT_CHAIN_PREVIOUS_KEYS", "AUDIT_CHAIN_PREVIOUS_KEYS: key 1"),
    ],
)
def test_placeholder_secrets_are_refused_in_production(
    secret: str, name: str, refused: str
) -> None:
    env = {"NODE_ENV": "production", "JWT_SECRET": RANDOM_LOOKING, name: secret}
    with pytest.raises(ConfigError, match=f"^invalid configuration: {refused}: the example"):
        load_settings(env)
    assert load_settings(env | {"NODE_ENV": "development"})  # fine for a laptop
    if name == "AUDIT_CHAIN_PREVIOUS_KEYS":  # found wherever it is in the list
        later = f"{RANDOM_LOOKING[::-1]},{secret}"
        with pytest.raises(ConfigError, match=f"^invalid configuration: {name}: key 2: the"):
            load_settings(env | {name: later})


def test_passwords_pasted_into_urls_are_generated_url_safe() -> None:
    # docker-compose.yml and the Kubernetes recipe paste REDIS_PASSWORD (and compose
    # POSTGRES_PASSWORD) into a URL unencoded; the same page made its secrets with
    # openssl rand -base64, whose output mostly holds a '/': a crash loop.
    pasted = ("REDIS_PASSWORD", "POSTGRES_PASSWORD")
    text = OPERATIONS_DOC.read_text() + COMPOSE_FILE.read_text()
    made = re.findall(r"(REDIS_PASSWORD|POSTGRES_PASSWORD)=\"?\$\(openssl rand (\S+)", text)
    assert {name for name, _ in made} == set(pasted), made
    assert all(how == "-hex" for _, how in made), made
    used = text.index('REDIS_URL="redis://:$REDIS_PASSWORD@')
    assert text.rfind('REDIS_PASSWORD="$(openssl rand -hex', 0, used) != -1  # defined first


def test_the_guides_port_is_read_only_to_be_refused_politely() -> None:
    assert load_settings({"REQUIRE_AUTH": "false", "PORT": "3000"}).port == "3000"
    # Not used, so not checked either: PORT=abc stopped start-up ("a valid integer").
    assert load_settings({"REQUIRE_AUTH": "false", "PORT": "abc"}).port == "abc"


def test_production_refuses_several_workers_without_a_shared_store() -> None:
    # DESIGN: no limit, lease or nonce may live only in one process's memory; with
    # WORKERS=2 and no Redis each worker enforced its own limits, silently.
    env = {"NODE_ENV": "production", "JWT_SECRET": RANDOM_LOOKING, "WORKERS": "2"}
    with pytest.raises(ConfigError, match=r"^invalid configuration: WORKERS: more than one"):
        load_settings(env)
    assert load_settings(env | {"REDIS_URL": "redis://redis:6379/0"}).workers == 2
    assert load_settings(env | {"REDIS_CLUSTER_NODES": "a:6379,b:6379"}).workers == 2
    assert load_settings(env | {"NODE_ENV": "development"}).workers == 2  # warned, not refused


@pytest.mark.parametrize("storage", ["file", "database"])
def test_the_spill_path_row_names_where_an_unset_spill_path_spills(storage: str) -> None:
    # The row said only "(unset)", while the database sink spilled to
    # var/audit/spill/spill.jsonl under the working directory.
    env = {"REQUIRE_AUTH": "false", "DATABASE_URL": "postgresql://db/novaos"}
    env["AUDIT_STORAGE_TYPE"] = storage
    spill, setting = spill_location(load_settings(env))
    assert spill is not None and setting == "AUDIT_FILE_PATH"
    meaning = doc_table()["AUDIT_SPILL_PATH"][1]
    assert f"`{spill.as_posix()}`" in meaning, meaning
    assert "`memory` sink has none" in meaning
    env["AUDIT_STORAGE_TYPE"] = "memory"
    assert spill_location(load_settings(env))[0] is None


def _section(heading: str) -> str:
    text = OPERATIONS_DOC.read_text()
    start = text.index(heading)
    return text[start : text.index("\n#### ", start + len(heading))]


def test_the_spill_advice_matches_what_the_manifests_do() -> None:
    # The docs promised "not ready, records held in memory" for a full spill, but the
    # manifests spill into a size-limited emptyDir, which the kubelet answers by evicting
    # the pod at once, spill and all; and `rollout pause` was the advice to keep the
    # spills, which leaves the HPA free to scale pods (and their spills) away.
    spill = Path(pod_environment()["AUDIT_SPILL_PATH"])
    spec = find_manifest("Deployment", "novaos")["spec"]["template"]["spec"]
    (novaos,) = [c for c in spec["containers"] if c["name"] == "novaos"]
    mount = max(
        (m for m in novaos["volumeMounts"] if spill.is_relative_to(m["mountPath"])),
        key=lambda m: len(m["mountPath"]),
    )
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    limit = volume["emptyDir"]["sizeLimit"]
    section = _section("### Audit sink down")
    assert f"sizeLimit: {limit}" in section
    if [name for name in Settings.model_fields if "spill" in name] == ["audit_spill_path"]:
        assert "no setting that caps the spill" in section and "evicts" in section
    assert "rollout pause" in section
    patch = re.search(r"patch hpa novaos --type merge -p\s+'([^']+)'", section)
    assert patch, "the advice leaves HPA scale-down on"
    hpa = find_manifest("HorizontalPodAutoscaler", "novaos")
    behavior = json.loads(patch.group(1))["spec"]["behavior"]
    hpa["spec"]["behavior"]["scaleDown"].update(behavior["scaleDown"])
    assert hpa["spec"]["behavior"]["scaleDown"]["selectPolicy"] == "Disabled"
    kubernetes_validate.validate(hpa, kubernetes_validate.latest_version(), strict=True)


def _number(value: Any) -> str:
    """A bound as start-up and the table write it: 0, not 0.0."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _bounds(field: FieldInfo) -> dict[str, Any]:
    """A field's Field(ge=, le=, gt=, lt=) bounds."""
    return {
        kind: getattr(meta, kind)
        for meta in field.metadata
        for kind in ("ge", "le", "gt", "lt")
        if getattr(meta, kind, None) is not None
    }


def _range(bounds: dict[str, Any]) -> str:
    """How a row begins that states these bounds: "1 to 64", "at least 10", ..."""
    low = (f"at least {_number(bounds['ge'])}" if "ge" in bounds else "") or (
        f"more than {_number(bounds['gt'])}" if "gt" in bounds else ""
    )
    high = (f"at most {_number(bounds['le'])}" if "le" in bounds else "") or (
        f"less than {_number(bounds['lt'])}" if "lt" in bounds else ""
    )
    if "ge" in bounds and "le" in bounds:
        return f"{_number(bounds['ge'])} to {_number(bounds['le'])}"
    return ", ".join(p for p in (low, high) if p)


BOUNDED = {
    env_name(name, field): _bounds(field)
    for name, field in Settings.model_fields.items()
    if _bounds(field)
}


@pytest.mark.parametrize("variable", sorted(BOUNDED))
def test_each_row_begins_with_the_range_start_up_takes(variable: str) -> None:
    # 57 rows left their bound out (OUTPUT_HOLDBACK_CHARS' read as if any value were
    # taken, while start-up refused less than 16): an operator found it only when a
    # value stopped start-up.
    meaning = doc_table()[variable][1]
    stated = _range(BOUNDED[variable])
    assert re.match(rf"{re.escape(stated)}\b(?![.\d])", meaning), (
        f"begin the {variable} row's meaning with {stated!r}: {meaning[:80]!r}"
    )


def _beyond(bounds: dict[str, Any]) -> list[tuple[str, str]]:
    """(a value just outside a bound, the refusal start-up gives for it)."""
    out = []
    for kind, step, said in (("ge", -1, "at least"), ("le", 1, "at most")):
        if kind in bounds:
            out.append((_number(bounds[kind] + step), f"must be {said} {_number(bounds[kind])}"))
    for kind, said in (("gt", "more than"), ("lt", "less than")):
        if kind in bounds:
            out.append((_number(bounds[kind]), f"must be {said} {_number(bounds[kind])}"))
    return out


@pytest.mark.parametrize(
    ("variable", "value", "refusal"),
    [(v, value, said) for v, b in sorted(BOUNDED.items()) for value, said in _beyond(b)],
)
def test_start_up_refuses_a_value_past_a_bound_naming_the_row_s_number(
    variable: str, value: str, refusal: str
) -> None:
    # The same number as the row's, written the same way ("at least 0", not 0.0).
    with pytest.raises(ConfigError, match=f"^invalid configuration: {variable}: {refusal}$"):
        load_settings({"REQUIRE_AUTH": "false", variable: value})


def _docker_runs() -> list[str]:
    """Each ``docker run`` command in the guide's code blocks, continuations joined."""
    blocks = re.findall(r"^```\w*\n(.*?)^```", OPERATIONS_DOC.read_text(), re.S | re.M)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [line for line in text.splitlines() if line.lstrip().startswith("docker run ")]


def test_the_documented_docker_run_gives_the_drain_time_to_end() -> None:
    # The guide said the drain ends "before the 30 s kill timeout", but its docker run
    # left Docker's default stop timeout, 10 s: a docker stop killed the gateway
    # mid-drain, cutting streams without their in-band end and losing queued audit.
    (grace,) = re.findall(r"\bSHUTDOWN_GRACE_S=(\d+)", DOCKERFILE.read_text())
    backstop = int(grace) + 5  # the supervisor kills a worker still running then
    runs = _docker_runs()
    assert runs
    for run in runs:
        timeout = re.search(r"--stop-timeout[ =](\d+)", run)
        assert timeout and int(timeout[1]) > backstop, run
