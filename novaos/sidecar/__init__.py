"""The Envoy sidecar's configuration, rendered from the one settings object.

``envoy/render.py`` is the command-line entry point; this package builds the
config as plain data so it is typed, testable and has a single source of truth.
"""

from novaos.sidecar.envoy_config import RenderInputs, build_envoy_config, tls_secret_resources

__all__ = ["RenderInputs", "build_envoy_config", "tls_secret_resources"]
