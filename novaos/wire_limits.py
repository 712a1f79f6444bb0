"""Request size limits the sidecar and the gRPC server share.

One number each, read by both renderings (``novaos.sidecar`` for Envoy,
``novaos.transport.server`` for grpc-core), so that a request the sidecar lets
through is never refused behind it for the same reason with another status.
"""

from __future__ import annotations

# Envoy's max_request_headers_kb: request headers beyond it get 431.
MAX_REQUEST_HEADERS_KIB = 60
# Envoy's max_headers_count: more headers than this get 431 too.
MAX_REQUEST_HEADERS = 100

# grpc-core counts each header as name + value + 32 bytes (HPACK's entry
# overhead) and also sees the few headers Envoy adds (x-request-id,
# x-forwarded-*, te, grpc-timeout, content-type). The headroom covers both for
# a request at Envoy's limits. Soft and hard limits are the same number: below
# the hard one grpc-core otherwise refuses a random share of calls
# ("exceeds soft limit", 8 KiB by default) with RESOURCE_EXHAUSTED.
_GRPC_HEADROOM_BYTES = 8 * 1024
GRPC_MAX_METADATA_BYTES = MAX_REQUEST_HEADERS_KIB * 1024 + _GRPC_HEADROOM_BYTES

# The gRPC server's receive limit for one message (grpc-core refuses larger ones
# with RESOURCE_EXHAUSTED "Received message larger than max"); also what the
# transcoder may buffer to turn one unary reply into JSON. Through the sidecar a
# request body is capped lower first (ENVOY_MAX_REQUEST_BYTES).
GRPC_MAX_MESSAGE_BYTES = 4 * 1024 * 1024

# The most one unary reply the gateway builds may hold (a long conversation's
# turns): within a gRPC client's default receive limit and the sidecar's
# transcoding buffer (both GRPC_MAX_MESSAGE_BYTES), less room for the gRPC frame
# and the reply's other fields.
MAX_REPLY_BYTES = GRPC_MAX_MESSAGE_BYTES - 4 * 1024
