# syntax=docker/dockerfile:1
# NovaOS gateway image: `python server.py` (grpc.aio on GRPC_PORT, /metrics on METRICS_PORT).
# Runs as uid 1000 on a read-only root filesystem; only /tmp (a volume) is written, and
# /var/lib/novaos/audit-spill and /var/log/novaos/audit where volumes are mounted for the
# audit spill (compose) and the file sink (.env.example, the deployment guide).
# The Envoy sidecar is the official envoyproxy/envoy image; this image also carries
# envoy/render.py, web/ and generated/novaos.pb so an init step can render its config.

# Exact tag (not "3.11-slim") so a rebuild cannot silently change the interpreter;
# override with a digest in CI: --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:…
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- builder: a virtualenv with the runtime dependencies at the locked versions -------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
COPY pyproject.toml requirements.lock ./
COPY scripts/runtime_requirements.py ./scripts/
# The lock pins every version (it also covers the dev tools); pyproject says which of
# them run in production. Wheels only: nothing is compiled, so no toolchain is needed.
RUN python -m venv /opt/venv \
    && python scripts/runtime_requirements.py pyproject.toml > runtime.txt \
    && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: \
        -c requirements.lock -r runtime.txt \
    && /opt/venv/bin/python -m compileall -q /opt/venv

# --- runtime -------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# A fixed uid/gid 1000 matches runAsUser in kubernetes/ and `user:` in compose.
RUN groupadd --system --gid 1000 novaos \
    && useradd --system --uid 1000 --gid 1000 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin novaos
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Code stays owned by root: the service cannot rewrite itself even if the root
# filesystem were mounted read-write.
COPY server.py pyproject.toml ./
COPY novaos ./novaos
COPY generated ./generated
COPY envoy ./envoy
COPY web ./web
COPY scripts/grpc_health_probe.py ./scripts/
# Bytecode compiled now, because nothing can be written next to the sources at run time.
# /etc/envoy/rendered is the hand-off point for the sidecar's rendered config: owned by
# uid 1000 so a fresh compose volume mounted there is writable by the renderer; so is
# /var/lib/novaos/audit-spill, where compose mounts each replica's spill volume, and
# /var/log/novaos/audit, where .env.example's (and the guide's) file sink writes, on a
# volume mounted there.
RUN python -m compileall -q /app \
    && install -d -o 1000 -g 1000 -m 0755 /etc/envoy/rendered \
    && install -d -o 1000 -g 1000 -m 0700 /var/lib/novaos/audit-spill \
    && install -d -o 1000 -g 1000 -m 0700 /var/log/novaos/audit

# Everything else the service writes goes under /tmp (an emptyDir / tmpfs in production).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    NODE_ENV=production \
    GRPC_PORT=50051 \
    METRICS_PORT=9464 \
    SHUTDOWN_GRACE_S=20 \
    AUDIT_FILE_PATH=/tmp/novaos/audit
USER 1000:1000
EXPOSE 50051 9464
# server.py drains on SIGTERM: health NOT_SERVING, new RPCs refused, open streams get
# SHUTDOWN_GRACE_S (20 s), the audit sink 1 s more (then what it has not taken
# spills); with WORKERS>1 the supervisor kills a worker still running 5 s after the
# grace. 25 s < compose's stop_grace_period (30 s), `docker run --stop-timeout 30`
# (Docker's default is 10 s) and, with the 5 s preStop, < Kubernetes'
# terminationGracePeriodSeconds (35 s): the drain ends before SIGKILL.
STOPSIGNAL SIGTERM
# Speaks grpc.health.v1 (no HTTP endpoint exists in this container). Liveness, not
# readiness: a provider or audit-sink outage makes the gateway unready, and restarting
# a container for that fixes nothing.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["sh", "-c", "exec python /app/scripts/grpc_health_probe.py --port \"$GRPC_PORT\" --service novaos.v1.HealthService"]
ENTRYPOINT ["python", "server.py"]
