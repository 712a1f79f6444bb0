"""Start the Envoy sidecar's drain before the gateway's, so its clients go elsewhere.

    python -m novaos.sidecar.drain --admin-port 9901 --hold-s 5   # the pod's preStop

While the gateway drains, Envoy's health check ejects it, and Envoy itself is only
stopped once the gateway has exited: every new call on a kept-alive HTTP/2
connection was answered "no healthy upstream" for the whole grace, and nothing told
the client to reconnect. Draining Envoy's listeners first (admin ``POST
/drain_listeners?graceful``, with Envoy run with ``DRAIN_ARGS``) sends a GOAWAY on
every connection at once: the client's next call opens a new connection, to another
pod once the endpoint is gone, while the streams already open on the old one finish.
After ``DRAIN_TIME_S`` Envoy stops accepting connections (a client still sent here
is refused and tries another address) and keeps serving the ones it has.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request

from novaos.sidecar.pod_ports import ADMIN_HOST

# As long as the preStop's wait: the endpoint's removal has reached the Service's
# proxies by then, so only strays still arrive.
DRAIN_TIME_S = 5
# Envoy's command-line flags for this drain. The default strategy (gradual) would
# spread the GOAWAYs over Envoy's default 600 s.
DRAIN_ARGS = ("--drain-strategy", "immediate", "--drain-time-s", str(DRAIN_TIME_S))


def start_drain(admin_port: int, *, timeout_s: float = 1.0) -> str | None:
    """Ask Envoy to drain its listeners gracefully; None when it said OK, else why not."""
    url = f"http://{ADMIN_HOST}:{admin_port}/drain_listeners?graceful"
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, method="POST"), timeout=timeout_s
        ) as reply:
            reply.read()
    except OSError as exc:  # refused, timed out, or an HTTP error status
        return f"{url}: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-port", type=int, default=9901)
    parser.add_argument(
        "--hold-s",
        type=float,
        default=0.0,
        help="return this long after starting, whatever the drain did (the preStop's delay)",
    )
    args = parser.parse_args(argv)
    failed = start_drain(args.admin_port)
    print(f"envoy drain: {failed or 'started'}", file=sys.stderr if failed else sys.stdout)
    # The hold whatever Envoy answered: it is what keeps the gateway serving until the
    # endpoint's removal has spread. A failure exits 1 only after it, so that the
    # kubelet records the hook's output in a FailedPreStopHook event and then goes on
    # exactly as after a success.
    time.sleep(max(0.0, started + args.hold_s - time.monotonic()))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
