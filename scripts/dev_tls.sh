#!/usr/bin/env bash
# Self-signed TLS pair for local development and tests (never for production).
#   scripts/dev_tls.sh [OUT_DIR]   -> OUT_DIR/cert.pem, OUT_DIR/key.pem (default .dev/tls)
# ECDSA P-256 (matches the guide's ECDHE-ECDSA-AES128-GCM-SHA256 suite), valid
# for localhost and 127.0.0.1, 30 days. An existing pair is kept unless it expires
# within a day, so browsers that trusted it once keep trusting it.
set -euo pipefail
OUT=${1:-"$(dirname "$0")/../.dev/tls"}
mkdir -p "$OUT"
if [[ -s "$OUT/cert.pem" && -s "$OUT/key.pem" ]] \
  && openssl x509 -checkend 86400 -noout -in "$OUT/cert.pem" >/dev/null 2>&1; then
  exit 0
fi
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
  -days 30 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$OUT/key.pem" -out "$OUT/cert.pem" >/dev/null 2>&1
chmod 644 "$OUT/cert.pem"
