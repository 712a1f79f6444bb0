"""Render the Envoy sidecar config from the environment (the one source of truth).

    python envoy/render.py --out .dev/envoy.yaml            # reads env like the server
    python envoy/render.py --out x.yaml --validate          # also runs `envoy --mode validate`
    python envoy/render.py --dev-token "$TOKEN" ...         # NODE_ENV=development only

Beside the config goes its TLS SDS file (.dev/envoy.tls.yaml here), which names
the certificate and key so that Envoy re-reads them when they are renewed, and,
with a dev token, the page that holds it (.dev/envoy.pages/, owner-only): the
config names that file rather than inlining the token, so Envoy's admin
/config_dump never shows it.
Nothing here is hand-edited per environment: every value comes from
novaos.config.Settings (see docs/envoy.md for the variables).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from novaos.config import Environment, Settings, load_settings  # noqa: E402
from novaos.errors import ConfigError  # noqa: E402
from novaos.sidecar import RenderInputs, build_envoy_config, tls_secret_resources  # noqa: E402
from novaos.sidecar.binary import envoy_binary  # noqa: E402
from novaos.sidecar.web_assets import (  # noqa: E402
    WebAsset,
    load_web_assets,
    served_from_files,
    write_asset_files,
)

DEFAULT_DESCRIPTOR = ROOT / "generated" / "novaos.pb"
HEADER = "# Rendered by envoy/render.py from the environment. Do not edit; re-render.\n"


def tls_secret_path(out: Path) -> Path:
    """Where the TLS SDS file goes: beside the config (envoy.yaml -> envoy.tls.yaml)."""
    return out.with_name(f"{out.stem}.tls{out.suffix}")


def pages_path(out: Path) -> Path:
    """Where the pages holding the dev token go: beside the config (envoy.pages/)."""
    return out.with_name(f"{out.stem}.pages")


def render(
    settings: Settings,
    *,
    tls_secret: Path,
    descriptor: Path = DEFAULT_DESCRIPTOR,
    dev_token: str | None = None,
    pages: Path | None = None,
) -> str:
    """The config as YAML text; it names ``tls_secret`` (``render_tls_secret``'s file)
    and, with ``dev_token``, the files in ``pages`` (``page_assets``)."""
    return _render(settings, tls_secret, descriptor, dev_token, pages)[0]


def _render(
    settings: Settings,
    tls_secret: Path,
    descriptor: Path,
    dev_token: str | None,
    pages: Path | None,
) -> tuple[str, list[WebAsset]]:
    if dev_token and settings.node_env is not Environment.DEVELOPMENT:
        raise ConfigError(
            "invalid configuration: a dev token is only embedded when NODE_ENV=development"
        )
    if dev_token and "*" in settings.envoy_allowed_hosts:
        # Any Host would be served the page: a DNS-rebinding site could read it.
        raise ConfigError(
            "invalid configuration: ENVOY_ALLOWED_HOSTS: a dev token is only embedded "
            "when it names the hosts the page is reached by (not *)"
        )
    if not descriptor.is_file():
        raise ConfigError(f"descriptor set {descriptor} is missing (run make generate)")
    web_root = settings.web_root if settings.web_root.is_absolute() else ROOT / settings.web_root
    assets = load_web_assets(web_root, dev_token=dev_token)
    if dev_token:
        if pages is None:
            raise ConfigError("a dev token is embedded only in a page file: name its directory")
        assets = served_from_files(assets, pages)
    inputs = RenderInputs(descriptor=descriptor, assets=assets, tls_secret=tls_secret)
    config = build_envoy_config(settings, inputs)
    return HEADER + yaml.safe_dump(config, sort_keys=False, width=100), assets


def render_tls_secret(settings: Settings) -> str:
    """The SDS file naming the certificate and key (Envoy re-reads them on renewal)."""
    return HEADER + yaml.safe_dump(tls_secret_resources(settings), sort_keys=False, width=100)


def write(
    settings: Settings,
    out: Path,
    *,
    descriptor: Path = DEFAULT_DESCRIPTOR,
    dev_token: str | None = None,
) -> None:
    """The config at ``out``, the TLS SDS file beside it and, with ``dev_token``,
    the pages holding it (owner-only) in ``pages_path(out)``."""
    secret = tls_secret_path(out)
    # Absolute: Envoy would resolve a relative one from its own working directory.
    pages = pages_path(out.absolute())
    text, assets = _render(settings, secret, descriptor, dev_token, pages)
    secret_text = render_tls_secret(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_asset_files(assets)
    secret.write_text(secret_text, encoding="utf-8")
    out.write_text(text, encoding="utf-8")


def validate(path: Path) -> None:
    """Let Envoy itself check the file (schema, filter configs, descriptor)."""
    result = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(path), "--log-level", "error"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ConfigError(f"envoy rejected {path}: {(result.stderr or result.stdout).strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="the config; the TLS SDS file goes beside it"
    )
    parser.add_argument("--descriptor", type=Path, default=DEFAULT_DESCRIPTOR)
    parser.add_argument(
        "--dev-token", default=None, help="embed in the chat page (development only)"
    )
    parser.add_argument(
        "--validate", action="store_true", help="run envoy --mode validate on --out"
    )
    args = parser.parse_args(argv)
    try:
        write(load_settings(), args.out, descriptor=args.descriptor, dev_token=args.dev_token)
        if args.validate:
            validate(args.out)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
