from __future__ import annotations

import pytest

from novaos.config import load_settings
from novaos.errors import ConfigError
from novaos.pipeline.assembly import ack_secret, build_pipeline
from novaos.pipeline.orchestrator import CANONICAL_ORDER
from tests.fixtures.gate_fakes import FakeStore
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
