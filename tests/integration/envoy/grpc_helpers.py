"""gRPC and grpc-web calls through Envoy's TLS port with the generated stubs."""

from __future__ import annotations

import struct

import grpc

from generated.novaos.v1 import health_pb2, health_pb2_grpc
from tests.fixtures.envoy import EnvoySidecar


def tls_channel(sidecar: EnvoySidecar) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(sidecar.ca_file.read_bytes())
    return grpc.secure_channel(f"localhost:{sidecar.https_port}", creds)


def live_over_tls(sidecar: EnvoySidecar) -> str:
    """Calls HealthService.Live; returns "ok" or the status code's name."""
    with tls_channel(sidecar) as channel:
        try:
            reply = health_pb2_grpc.HealthServiceStub(channel).Live(
                health_pb2.LiveRequest(), timeout=10
            )
        except grpc.RpcError as err:
            return str(err.code())
    return str(reply.status)


def grpc_web_frame(payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(payload)) + payload


def grpc_web_frames(body: bytes) -> list[tuple[int, bytes]]:
    frames, offset = [], 0
    while offset < len(body):
        flag, size = body[offset], struct.unpack(">I", body[offset + 1 : offset + 5])[0]
        frames.append((flag, body[offset + 5 : offset + 5 + size]))
        offset += 5 + size
    return frames
