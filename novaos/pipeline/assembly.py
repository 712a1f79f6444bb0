"""Assembles the gate pipeline from settings: the one place gate wiring lives.

The composition root (``novaos.app``) picks the adapters (store, fetcher) and
the shield, and hands them here; this module knows the gate order, budgets and
the ack secret rules.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from novaos.config import Settings
from novaos.errors import ConfigError
from novaos.pipeline.ack import AckTokens, derive_ack_secret
from novaos.pipeline.ack_flow import AckShieldGate
from novaos.pipeline.gate import Gate
from novaos.pipeline.gates.capability import CapabilityGate
from novaos.pipeline.gates.intent import IntentGate
from novaos.pipeline.gates.lens import LensGate, Screen
from novaos.pipeline.gates.model import ModelGate, PolicyMessages, policy_messages
from novaos.pipeline.gates.personality import HarmCheck, PersonalityChecker
from novaos.pipeline.gates.spark import SparkGate
from novaos.pipeline.gates.stance import StanceGate
from novaos.pipeline.orchestrator import PipelinePlan
from novaos.ports import KeyValueStore, WebFetcher

_log = logging.getLogger("novaos.pipeline")
# The lens waits the fetcher's own total timeout plus this (less its own
# bookkeeping), so a slow page ends with the fetcher's ``total_timeout``.
_LENS_MARGIN_MS = 1000


@dataclass(frozen=True)
class Pipeline:
    plan: PipelinePlan
    checker: PersonalityChecker


def ack_secret(settings: Settings) -> bytes:
    """ACK_SECRET, else derived from JWT_SECRET; a throwaway key only outside production."""
    ack = settings.ack_secret.get_secret_value() if settings.ack_secret else None
    jwt = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    secret = derive_ack_secret(ack, jwt)
    if secret is not None:
        return secret
    if settings.is_production:
        raise ConfigError("invalid configuration: ACK_SECRET: required (or JWT_SECRET)")
    _log.warning("ACK_SECRET and JWT_SECRET unset: ack tokens only work in this process")
    return secrets.token_bytes(32)


def build_pipeline(
    settings: Settings,
    store: KeyValueStore,
    *,
    shield: Gate,
    harm_check: HarmCheck | None,
    ack_prompt: Callable[[str, str], str] | None = None,
    fetcher: WebFetcher | None = None,
    source_screen: Screen | None = None,
    messages: PolicyMessages = policy_messages,
) -> Pipeline:
    tokens = AckTokens(ack_secret(settings), store)
    lens = LensGate(
        fetcher if settings.enable_web_fetch else None,
        max_urls=settings.web_fetch_max_urls,
        budget_ms=settings.web_fetch_total_timeout_ms + _LENS_MARGIN_MS,
        screen=source_screen,
    )
    plan = PipelinePlan(
        pre_model=(
            IntentGate(),
            AckShieldGate(shield, tokens, ack_prompt),
            lens,
            StanceGate(),
            CapabilityGate(),
            ModelGate(messages=messages),
        ),
        post_model=(SparkGate(store),),
    )
    plan.validate()
    return Pipeline(plan, PersonalityChecker(harm_check))
