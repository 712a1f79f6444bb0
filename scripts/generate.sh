#!/usr/bin/env bash
# Regenerates generated/ from protos/: messages, gRPC stubs, .pyi stubs and the
# descriptor set Envoy's transcoder loads. OUT defaults to generated/ so that
# `make lint` can render into a temp dir and diff (staleness check).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export PATH="$(pwd)/.venv/bin:$PATH"
OUT=${1:-generated}
rm -rf "$OUT" && mkdir -p "$OUT"
INC=$("$PY" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
PROTOS=(novaos/v1/chat.proto novaos/v1/audit.proto novaos/v1/health.proto)
"$PY" -m grpc_tools.protoc -I protos -I "$INC" \
  --python_out="$OUT" --grpc_python_out="$OUT" \
  --mypy_out=quiet:"$OUT" --mypy_grpc_out=quiet:"$OUT" "${PROTOS[@]}"
# The transcoder needs every message it may render, including rich error details.
"$PY" -m grpc_tools.protoc -I protos -I "$INC" --include_imports --include_source_info \
  --descriptor_set_out="$OUT/novaos.pb" "${PROTOS[@]}" google/rpc/status.proto google/rpc/error_details.proto
# Relative imports so generated/ is its own package and never shadows `novaos`.
# (a descriptor set of our files alone, so google.* imports stay absolute.)
OWN=$(mktemp) && trap 'rm -f "$OWN"' EXIT
"$PY" -m grpc_tools.protoc -I protos -I "$INC" --descriptor_set_out="$OWN" "${PROTOS[@]}"
"$PY" -m protoletariat --create-package --in-place --exclude-imports-glob "google/*" --python-out "$OUT" raw "$OWN" >/dev/null
touch "$OUT/py.typed"
