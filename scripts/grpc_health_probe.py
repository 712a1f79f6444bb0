"""Container health check: ask the gateway's grpc.health.v1 service, exit 0 only if SERVING.

Docker's HEALTHCHECK runs a command, not a gRPC call, so the image carries this tiny
client (Kubernetes uses its native ``grpc:`` probes instead). Kept free of the
``novaos`` package so it stays cheap: it runs every few seconds in every container.

    python scripts/grpc_health_probe.py --port 50051 [--service novaos.v1.ChatService]

Exit codes: 0 SERVING, 1 anything else (another status, or the call failed); Docker
reserves 2, so it is never used. The reason goes to stderr.
"""

from __future__ import annotations

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = 0
UNHEALTHY = 1


def probe(address: str, service: str, timeout_s: float) -> int:
    """One Health.Check call; the exit code for its answer."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            print(f"health check failed: {code}", file=sys.stderr)
            return UNHEALTHY
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        print(f"service {service!r}: {status}", file=sys.stderr)
        return UNHEALTHY
    return SERVING


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50051)
    parser.add_argument("--service", default="", help='health service name; "" is the server')
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds")
    args = parser.parse_args(argv)
    return probe(f"{args.host}:{args.port}", args.service, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
