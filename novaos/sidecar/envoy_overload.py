"""Envoy's overload manager: what one client flooding the sidecar cannot exhaust.

Each downstream connection holds a file descriptor and up to
``per_connection_buffer_limit_bytes`` of buffers. Without a cap below the
process's descriptor limit, one client holding many slow connections took every
descriptor (``/ready`` timed out for everyone) and most of the memory. So:

- connections are capped below ``RLIMIT_NOFILE`` (Envoy raises its soft limit to
  the hard one at start, so the hard limit the renderer sees, in the same pod or
  shell, is Envoy's), keeping a reserve for upstream connections, the admin
  API, logs and Envoy's own descriptors; ``ENVOY_MAX_CONNECTIONS`` may lower it;
- with ``ENVOY_MAX_HEAP_MB`` (the container's memory limit minus headroom), heap
  pressure first returns freed memory, then resets the streams holding the most
  buffered data, then stops taking new requests, before the kernel's OOM killer
  would take every stream at once.
"""

from __future__ import annotations

import resource
from typing import Any

from novaos.config import Settings
from novaos.errors import ConfigError

Json = dict[str, Any]

_T = "type.googleapis.com/envoy.extensions.resource_monitors."
CONNECTIONS_MONITOR = "envoy.resource_monitors.global_downstream_max_connections"
HEAP_MONITOR = "envoy.resource_monitors.fixed_heap"
# Linux's default fs.nr_open: what "unlimited" means for descriptors.
_UNLIMITED_FILES = 1 << 20
_MIN_RESERVE = 256
_MIN_CONNECTIONS = 64


def open_files_limit() -> int:
    """The hard ``RLIMIT_NOFILE`` of this process: Envoy's, launched alongside."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return _UNLIMITED_FILES if hard == resource.RLIM_INFINITY else int(hard)


def max_connections(settings: Settings, open_files: int) -> int:
    """Downstream connections Envoy accepts at once: below the descriptor limit."""
    cap = open_files - max(_MIN_RESERVE, open_files // 10)
    if cap < _MIN_CONNECTIONS:
        raise ConfigError(
            f"invalid configuration: RLIMIT_NOFILE: {open_files} open files leave Envoy "
            f"fewer than {_MIN_CONNECTIONS} connections; raise the hard limit (ulimit -Hn)"
        )
    if settings.envoy_max_connections:
        return min(cap, settings.envoy_max_connections)
    return cap


def _trigger(threshold: float) -> Json:
    return {"name": HEAP_MONITOR, "threshold": {"value": threshold}}


def _heap_actions() -> list[Json]:
    scaled = {"scaled": {"scaling_threshold": 0.85, "saturation_threshold": 0.95}}
    return [
        {"name": "envoy.overload_actions.shrink_heap", "triggers": [_trigger(0.80)]},
        # Streams above 1 MiB of buffered data are tracked; the biggest go first.
        {
            "name": "envoy.overload_actions.reset_high_memory_stream",
            "triggers": [{"name": HEAP_MONITOR, **scaled}],
        },
        {"name": "envoy.overload_actions.stop_accepting_requests", "triggers": [_trigger(0.95)]},
    ]


def overload_manager(settings: Settings, open_files: int) -> Json:
    monitors: list[Json] = [
        {
            "name": CONNECTIONS_MONITOR,
            "typed_config": {
                "@type": _T + "downstream_connections.v3.DownstreamConnectionsConfig",
                "max_active_downstream_connections": max_connections(settings, open_files),
            },
        }
    ]
    config: Json = {"refresh_interval": "0.25s", "resource_monitors": monitors}
    if settings.envoy_max_heap_mb:
        monitors.append(
            {
                "name": HEAP_MONITOR,
                "typed_config": {
                    "@type": _T + "fixed_heap.v3.FixedHeapConfig",
                    "max_heap_size_bytes": settings.envoy_max_heap_mb * 1024 * 1024,
                },
            }
        )
        config["actions"] = _heap_actions()
        config["buffer_factory_config"] = {"minimum_account_to_track_power_of_two": 20}
    return config
