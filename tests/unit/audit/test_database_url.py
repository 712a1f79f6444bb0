"""A DATABASE_URL that parses but that libpq refuses at every connect stops
start-up naming it; it left every pod unready for ever, spilling the audit."""

from __future__ import annotations

import pytest

from novaos.app import build_audit_sink, chain_keys
from novaos.audit.sinks.postgres import PostgresAuditSink
from novaos.config import load_settings
from novaos.errors import ConfigError
from tests.fixtures.server import BASE_ENV

PASSWORD = "s3cret-pw"


def _build(url: str) -> object:
    settings = load_settings({**BASE_ENV, "AUDIT_STORAGE_TYPE": "database", "DATABASE_URL": url})
    return build_audit_sink(settings, chain_keys(settings))


@pytest.mark.parametrize(
    ("url", "named"),
    [
        (f"postgres://postgres:{PASSWORD}@127.0.0.1:99999/novaos", "port '99999'"),
        (f"postgresql://postgres:{PASSWORD}@db/novaos?sslmode=verify-ful", "sslmode 'verify-ful'"),
        (f"host=a,b port=5432,0 password={PASSWORD}", "port '0'"),
        (f"postgresql://u:{PASSWORD}@db/n?target_session_attrs=rw", "target_session_attrs 'rw'"),
        (f"postgresql://u:{PASSWORD}@db/n?gssencmode=yes", "gssencmode 'yes'"),
        (f"postgresql://u:{PASSWORD}@db/n?channel_binding=on", "channel_binding 'on'"),
        (f"postgresql://u:{PASSWORD}@a,b/n?load_balance_hosts=rando", "load_balance_hosts 'rando'"),
        # libpq reads a port with strtol: ASCII digits only, and something besides blanks
        (f"host=db port=５４３２ password={PASSWORD}", "port '５４３２'"),
        (f"host=db port=²2 password={PASSWORD}", "port '²2'"),
        (f"host=db port=' ' password={PASSWORD}", "port ' '"),
        (f"host=db port=-5432 password={PASSWORD}", "port '-5432'"),
    ],
)
def test_a_value_libpq_always_refuses_stops_start_up(url: str, named: str) -> None:
    with pytest.raises(ConfigError) as err:
        _build(url)
    line = str(err.value)
    assert line.startswith(f"invalid configuration: DATABASE_URL: {named} "), line
    assert PASSWORD not in line and "\n" not in line


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db:5432/n?sslmode=verify-full&target_session_attrs=read-write",
        "postgresql://u:pw@db1:5432,db2/n?channel_binding=require&gssencmode=disable",
        "host=/var/run/postgresql dbname=n",
        # a sign, and blanks around, as libpq's strtol reads a port; an empty entry
        # is the default port
        "host=db port=+5432 dbname=n",
        "postgresql://u:pw@db:+5432/n",
        "host=a,b port=' 5432,5433\t'",
        "host=a,b port=,05433",
        "host=a,b load_balance_hosts=random",
    ],
)
def test_values_libpq_takes_are_accepted(url: str) -> None:
    assert isinstance(_build(url), PostgresAuditSink)
