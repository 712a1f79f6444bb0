"""Which fan-out a gateway's audit watchers get, and the channel it is shared on."""

from __future__ import annotations

from pathlib import Path

import pytest

from novaos.app import audit_watch_channel, build_audit_sink, build_watch_hub, chain_keys
from novaos.audit.watch import SharedFanout
from novaos.config import Settings, load_settings
from tests.fixtures.server import BASE_ENV

WORKER = {"NOVAOS_SUPERVISOR_PID": "4242", "NOVAOS_WORKER_INDEX": "1"}
REDIS = {"REDIS_URL": "redis://127.0.0.1:1/0"}  # never dialled here


def _settings(tmp_path: Path, **env: str) -> Settings:
    file_sink = {"AUDIT_STORAGE_TYPE": "file", "AUDIT_FILE_PATH": str(tmp_path / "audit")}
    return load_settings({**BASE_ENV, **file_sink, **env})


@pytest.mark.parametrize(
    ("env", "shared"),
    [
        ({**WORKER, **REDIS}, True),  # WORKERS>1 on one chain and one Redis
        (REDIS, False),  # one process: its own records are all there is
        (WORKER, False),  # no Redis: nothing to share on
        ({**WORKER, **REDIS, "AUDIT_STORAGE_TYPE": "memory"}, False),  # a chain per process
    ],
)
async def test_only_workers_on_a_shared_chain_and_redis_share_records(
    tmp_path: Path, env: dict[str, str], shared: bool
) -> None:
    settings = _settings(tmp_path, **env)
    keys = chain_keys(settings)
    hub = build_watch_hub(settings, build_audit_sink(settings, keys), keys)
    assert isinstance(hub, SharedFanout) is shared
    if hub is not None:
        await hub.aclose()


def test_the_channel_names_the_chain_and_no_password(tmp_path: Path) -> None:
    one = audit_watch_channel(_settings(tmp_path))
    assert one == audit_watch_channel(_settings(tmp_path))  # every worker of the gateway
    assert one != audit_watch_channel(_settings(tmp_path / "other"))  # another log
    db = {"AUDIT_STORAGE_TYPE": "database"}
    a = audit_watch_channel(_settings(tmp_path, **db, DATABASE_URL="postgresql://u:secret1@db/n"))
    b = audit_watch_channel(_settings(tmp_path, **db, DATABASE_URL="postgresql://u:secret2@db/n"))
    c = audit_watch_channel(_settings(tmp_path, **db, DATABASE_URL="postgresql://u:secret1@db/m"))
    assert a == b != c and a.startswith("audit:records:")
    assert "secret" not in a


def test_deployments_on_different_redis_databases_get_different_channels(tmp_path: Path) -> None:
    # pub/sub ignores the database number: staging on db 1 and prod on db 0 of one
    # server, each with a `postgres` service of its own, must not hear each other
    db = {"AUDIT_STORAGE_TYPE": "database", "DATABASE_URL": "postgresql://u:p@postgres/novaos"}
    prod = audit_watch_channel(_settings(tmp_path, **db, REDIS_URL="redis://redis:6379/0"))
    staging = audit_watch_channel(_settings(tmp_path, **db, REDIS_URL="redis://redis:6379/1"))
    same = audit_watch_channel(_settings(tmp_path, **db, REDIS_URL="redis://redis:6379"))
    assert prod != staging and prod == same
