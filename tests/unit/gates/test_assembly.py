from __future__ import annotations

import pytest

from novaos.config import load_settings
from novaos.domain import CANONICAL_ORDER
from novaos.errors import ConfigError
from novaos.pipeline.assembly import ack_secret, build_pipeline
from novaos.pipeline.gates.lens import LensGate
from tests.fixtures.gate_fakes import FakeFetcher, FakeStore
from tests.unit.gates.test_pipeline_flow import ScriptedShield

JWT = "assembly-jwt-0123456789abcdefghijklmn"
ACK = "assembly-ack-0123456789abcdefghijklmn"


def test_plan_follows_the_canonical_order() -> None:
    settings = load_settings({"JWT_SECRET": JWT})
    pipeline = build_pipeline(settings, FakeStore(), shield=ScriptedShield(), harm_check=None)
    names = [g.name for g in pipeline.plan.pre_model] + ["personality"]
    names += [g.name for g in pipeline.plan.post_model]
    assert tuple(names) == CANONICAL_ORDER


def test_ack_secret_sources() -> None:
    explicit = load_settings({"JWT_SECRET": JWT, "ACK_SECRET": ACK})
    assert ack_secret(explicit) == ACK.encode()
    derived = ack_secret(load_settings({"JWT_SECRET": JWT}))
    assert len(derived) == 32 and derived != JWT.encode()
    dev = load_settings({"REQUIRE_AUTH": "false"})
    assert len(ack_secret(dev)) == 32
    prod = load_settings({"REQUIRE_AUTH": "false", "NODE_ENV": "production"})
    with pytest.raises(ConfigError, match="ACK_SECRET"):
        ack_secret(prod)


@pytest.mark.parametrize("total_ms", [None, "6000", "15000", "60000"])
def test_the_lens_outwaits_the_fetchers_own_total_timeout(total_ms: str | None) -> None:
    # With the defaults the lens gave up at 0.9 x (15 s + 1 s) = 14.4 s, before
    # the fetcher's own 15 s: a slow page ended as "timeout: budget", uncounted.
    env = {"JWT_SECRET": JWT, "ENABLE_WEB_FETCH": "true"}
    if total_ms is not None:
        env["WEB_FETCH_TOTAL_TIMEOUT_MS"] = total_ms
    settings = load_settings(env)
    pipeline = build_pipeline(
        settings, FakeStore(), shield=ScriptedShield(), harm_check=None, fetcher=FakeFetcher()
    )
    (lens,) = [g for g in pipeline.plan.pre_model if isinstance(g, LensGate)]
    assert settings.web_fetch_total_timeout_ms < lens.fetch_wait_ms < lens.budget_ms
