#!/usr/bin/env bash
# Installs the system services the test suite starts privately (redis-server,
# PostgreSQL, Chromium, curl) when they are missing. Tests never skip: a missing
# service fails the run, so this runs before every `make test`.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl ca-certificates)  # an HTTP/2 client for the sidecar tests
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then echo "missing: ${need[*]} (install them, or run as root)"; exit 1; fi
  echo "installing: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
