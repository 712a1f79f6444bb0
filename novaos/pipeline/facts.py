"""Typed findings gates hand to later gates (``GateResult.facts``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from novaos.domain import Stance


class Risk(enum.StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ShieldVerdict(enum.StrEnum):
    PASS = "pass"
    CONTROL = "control"  # crisis
    HARD_VETO = "hard_veto"
    SOFT_VETO = "soft_veto"


# The policy's crisis category the output model reads answers for (policy.json):
# an answer stopped for it is followed by the crisis resources.
SELF_HARM = "self_harm"


@dataclass(frozen=True, slots=True)
class IntentFacts:
    type: str  # question | action | planning | rewrite | summarize | translate | conversation
    domains: frozenset[str] = frozenset()  # finance, health, legal, mental_health, technology
    complexity: str = "low"  # low | medium | high
    hypothetical: bool = False
    language: str = "en"  # en | es | fr | de | pt


@dataclass(frozen=True, slots=True)
class ShieldFacts:
    verdict: ShieldVerdict
    category: str = ""  # e.g. self_harm, weapons, medication ...
    risk: Risk = Risk.NONE
    language: str = "en"
    flags: frozenset[str] = frozenset()  # e.g. {"prompt_injection"}
    ack_accepted: bool = False  # a valid ack token overrode a soft veto
    matched: str = ""  # the rule id that fired (for the audit, never the user text)


@dataclass(frozen=True, slots=True)
class SourceScreen:
    """The shield's reading of a fetched page's extract."""

    harmful: str | None  # the hard-veto category it falls into: never given to the model
    instructions: bool  # it addresses the model with instructions (prompt injection)


@dataclass(frozen=True, slots=True)
class LensFacts:
    needs_verification: bool
    degraded: bool
    reasons: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()  # (url, extract)
    source_instructions: bool = False  # a source given to the model holds instructions


@dataclass(frozen=True, slots=True)
class StanceFacts:
    stance: Stance


@dataclass(frozen=True, slots=True)
class CapabilityFacts:
    allowed: frozenset[str]
    denied: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelFacts:
    system_prompt: str
    constraints: tuple[str, ...] = field(default_factory=tuple)
    required_notes: tuple[str, ...] = ()
    # What replaces a figure in a degraded answer, in the note's language ("": English).
    figure_placeholder: str = ""
