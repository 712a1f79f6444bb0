"""Shield policy: versioned data files, loaded and validated once at start.

Files (all JSON, each carrying the same ``policy_version``):

- ``policy.json``: categories (verdict, risk), languages, history window.
- ``rules_<lang>.json``: a lexicon of named regex fragments, the rules
  (category + pattern over canonical text), output rules, benign guards,
  output guards, and framing markers (role-play, fake ``[system]``, prompt
  injection).
- ``messages.json``: per language the crisis block, refusals, ack prompts, the
  note ending an answer whose current data could not be verified (lens), and what
  stands in such an answer for a figure taken out (English when not given).

A rule marked ``over_guards`` (crisis and hard-veto rules only) outranks the
guards: a view it matches is scanned unmasked, and no guard switches its
category off, so a first-person self-harm statement is never hidden by an
idiom guard, nor a stated attack ("I am going to shoot up my school") by a
topic guard elsewhere in the message (photography, a doctor's advice).

``cues`` are weak signals with a weight: none stops a message alone, but
cues of one category whose weights (each cue counted once, over the message
and the recent user turns) reach ``cue_threshold`` give that category's
verdict, so two independent hints ("I can't do this anymore" + "I've been
giving my things away") decide where neither phrase could.

Model output is checked against the output rules (instruction-shaped text:
"pack the pipe with black powder") and the hard-veto rules, never the crisis
or soft-veto ones (an answer may mention a crisis line or life savings).
``output_guards`` are patterns over the output as written (case-insensitive):
a clause holding one, a refusal or a statement of the law ("I can't help
with making a bomb", "it is illegal to convert a rifle"), is left out of that
check. A guard naming ``categories`` leaves its clause out for those only: an
explanation of what attackers or scammers do ("scammers clone the bank's
login page") is awareness, not an intrusion or fraud instruction, while a
recipe for a weapon is one in any voice. A clause ends at punctuation or at
one of the pack's ``output_clause_breaks`` ("but"), so "I can't help with
that, but here is how: ..." is still checked after the refusal.

A suppressing guard marked ``unless_negated`` does not fire where one of the
pack's ``negation`` ``words`` stands among the few words before its match or
inside it ("sans même en parler à mon médecin", "I refuse to talk to my
doctor", "my doctor never said"), unless that word is part of a
``not_negating`` phrase ("¿por qué no hablar con mi médico?"): talking to
one's doctor switches the medication soft veto off, refusing to does not.

Patterns reference lexicon entries as ``{NAME}``; ``{_}`` stands for up to
three filler words and ``{__}`` for up to six. Validation fails start-up with
a ``PolicyError`` naming the file and the rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from novaos.errors import PolicyError
from novaos.pipeline.facts import Risk, ShieldVerdict

_MACRO = re.compile(r"\{([A-Z_][A-Z0-9_]*)\}")
_BUILTIN = {"_": r"(?:[a-z0-9]+ ){0,3}", "__": r"(?:[a-z0-9]+ ){0,6}"}
_CRISIS_MARKERS = ("988", "741741", "1-800-662-4357", "iasp")
_MAX_EXPANSIONS = 4
# The verdicts whose rules may be marked ``over_guards``.
_OUTRANKING = frozenset({ShieldVerdict.CONTROL, ShieldVerdict.HARD_VETO})


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    verdict: ShieldVerdict
    risk: Risk


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: str
    pattern: str  # fully expanded regex over canonical text
    # A first-person crisis statement that outranks the benign guards: where it
    # matches, the view is checked unmasked ("hurt myself on purpose" is not
    # the idiom "hurt myself on the stairs").
    over_guards: bool = False


@dataclass(frozen=True, slots=True)
class Guard:
    """A benign reading. Without ``suppresses`` its span is masked before
    matching; with it, a match switches those categories off: in the whole
    message (``scope`` "message": a role or a setting, "as a nurse", "in my
    novel") or only in the sentence it matched in ("sentence": a question
    about a thing, "what is a pipe bomb?", which says nothing about the
    request in the next sentence)."""

    id: str
    pattern: str
    suppresses: frozenset[str] = frozenset()
    scope: str = "message"
    # ``unless_negated``: the pack's negation words, and the phrases in which they
    # do not negate ("why not talk to my doctor?"); empty when the guard fires
    # whatever comes before it.
    negators: str = ""
    not_negating: str = ""


@dataclass(frozen=True, slots=True)
class OutputGuard:
    """A refusal, a statement of the law or an explanation in model output
    (see the module doc)."""

    id: str
    pattern: str  # over the text as written, case-insensitive
    categories: frozenset[str] = frozenset()  # empty: every category


@dataclass(frozen=True, slots=True)
class Cue:
    """A weak signal: ``weight`` towards ``category`` (see the module doc)."""

    id: str
    category: str
    weight: float
    pattern: str


@dataclass(frozen=True, slots=True)
class Framing:
    id: str
    flag: str  # roleplay | fake_system | prompt_injection
    pattern: str  # over folded text (punctuation kept)


@dataclass(frozen=True, slots=True)
class LanguagePack:
    language: str
    stopwords: frozenset[str]
    rules: tuple[Rule, ...]
    output_rules: tuple[Rule, ...]
    guards: tuple[Guard, ...]
    framing: tuple[Framing, ...]
    cues: tuple[Cue, ...] = ()
    output_guards: tuple[OutputGuard, ...] = ()
    output_clause_breaks: str = ""  # words that end a clause, an alternation


# What stands for a figure taken out of a degraded answer, unless a language gives its own.
FIGURE_PLACEHOLDER = "[figure not verified]"


@dataclass(frozen=True, slots=True)
class Messages:
    crisis_block: str
    refusal: str
    throttled: str
    ack_prompts: Mapping[str, str]
    degraded_note: str
    figure_placeholder: str = FIGURE_PLACEHOLDER


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    categories: Mapping[str, Category]
    languages: tuple[str, ...]
    default_language: str
    history_turns: int
    packs: Mapping[str, LanguagePack]
    messages: Mapping[str, Messages]
    cue_threshold: float = 1.0

    def messages_for(self, language: str) -> Messages:
        return self.messages.get(language) or self.messages[self.default_language]


Reader = Callable[[str], str]


def packaged_file(name: str) -> str:
    """The text of one packaged policy file."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def _read(name: str, reader: Reader) -> dict[str, Any]:
    try:
        data = json.loads(reader(name))
    except (OSError, ValueError) as exc:
        raise PolicyError(f"policy file {name}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("policy_version"), str):
        raise PolicyError(f"policy file {name}: missing policy_version")
    return data


def _expand(pattern: str, lexicon: Mapping[str, str], where: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _BUILTIN:
            return _BUILTIN[name]
        if name not in lexicon:
            raise PolicyError(f"{where}: unknown lexicon entry {{{name}}}")
        return f"(?:{lexicon[name]})"

    for _ in range(_MAX_EXPANSIONS):
        expanded = _MACRO.sub(sub, pattern)
        if expanded == pattern:
            break
        pattern = expanded
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PolicyError(f"{where}: bad pattern: {exc}") from exc
    return pattern


def _rules(items: list[dict[str, Any]], ctx: _PackContext) -> tuple[Rule, ...]:
    out = []
    for item in items:
        rule_id, category = str(item["id"]), str(item["category"])
        where = f"{ctx.file}: rule {rule_id}"
        if category not in ctx.categories:
            raise PolicyError(f"{where}: unknown category {category!r}")
        over_guards = item.get("over_guards", False)
        if not isinstance(over_guards, bool):
            raise PolicyError(f"{where}: over_guards must be true or false")
        if over_guards and ctx.categories[category].verdict not in _OUTRANKING:
            raise PolicyError(f"{where}: only crisis and hard-veto rules may outrank the guards")
        pattern = _expand(str(item["pattern"]), ctx.lexicon, where)
        out.append(Rule(rule_id, category, pattern, over_guards))
    return tuple(out)


def _cues(items: list[dict[str, Any]], ctx: _PackContext) -> tuple[Cue, ...]:
    out = []
    for item in items:
        cue_id, category = str(item["id"]), str(item["category"])
        where = f"{ctx.file}: cue {cue_id}"
        if category not in ctx.categories:
            raise PolicyError(f"{where}: unknown category {category!r}")
        weight = float(item["weight"])
        if not 0 < weight < 1:
            raise PolicyError(f"{where}: weight must be in (0, 1), a cue never decides alone")
        out.append(Cue(cue_id, category, weight, _expand(str(item["pattern"]), ctx.lexicon, where)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _PackContext:
    file: str
    lexicon: Mapping[str, str]
    categories: Mapping[str, Category]


def _pack(
    language: str, categories: Mapping[str, Category], reader: Reader
) -> tuple[str, LanguagePack]:
    name = f"rules_{language}.json"
    data = _read(name, reader)
    ctx = _PackContext(name, {str(k): str(v) for k, v in data["lexicon"].items()}, categories)
    guards = []
    negation = data.get("negation", {})
    for item in data.get("guards", []):
        where = f"{name}: guard {item['id']}"
        suppresses = frozenset(str(c) for c in item.get("suppresses", []))
        if not suppresses <= categories.keys():
            raise PolicyError(f"{where}: unknown category in suppresses")
        scope = str(item.get("scope", "message"))
        if scope not in ("message", "sentence"):
            raise PolicyError(f"{where}: scope must be 'message' or 'sentence'")
        pattern = _expand(item["pattern"], ctx.lexicon, where)
        negators = not_negating = ""
        if item.get("unless_negated", False):
            if not negation.get("words") or not suppresses:
                raise PolicyError(
                    f"{where}: unless_negated needs the pack's negation words and a suppresses list"
                )
            negators = _expand(str(negation["words"]), ctx.lexicon, f"{name}: negation words")
            not_negating = _expand(
                str(negation.get("not_negating", "")), ctx.lexicon, f"{name}: negation not_negating"
            )
        guards.append(Guard(str(item["id"]), pattern, suppresses, scope, negators, not_negating))
    framing = tuple(
        Framing(
            str(i["id"]), str(i["flag"]), _expand(i["pattern"], ctx.lexicon, f"{name}: {i['id']}")
        )
        for i in data.get("framing", [])
    )
    pack = LanguagePack(
        language=language,
        stopwords=frozenset(data.get("stopwords", [])),
        rules=_rules(data["rules"], ctx),
        output_rules=_rules(data.get("output_rules", []), ctx),
        guards=tuple(guards),
        framing=framing,
        cues=_cues(data.get("cues", []), ctx),
        output_guards=tuple(
            _output_guard(i, name, categories) for i in data.get("output_guards", [])
        ),
        output_clause_breaks=_raw_pattern(
            str(data.get("output_clause_breaks", "")), f"{name}: output_clause_breaks"
        ),
    )
    for rule in pack.output_rules:
        if categories[rule.category].verdict is not ShieldVerdict.HARD_VETO:
            raise PolicyError(f"{name}: output rule {rule.id} must name a hard-veto category")
    return str(data["policy_version"]), pack


def _output_guard(
    item: dict[str, Any], name: str, categories: Mapping[str, Category]
) -> OutputGuard:
    where = f"{name}: output guard {item['id']}"
    scope = frozenset(str(c) for c in item.get("categories", []))
    if any(
        c not in categories or categories[c].verdict is not ShieldVerdict.HARD_VETO for c in scope
    ):
        raise PolicyError(f"{where}: categories must be hard-veto categories")
    return OutputGuard(str(item["id"]), _raw_pattern(str(item["pattern"]), where), scope)


def _raw_pattern(pattern: str, where: str) -> str:
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise PolicyError(f"{where}: bad pattern: {exc}") from exc
    return pattern


def _messages(
    data: dict[str, Any], languages: tuple[str, ...], soft: set[str]
) -> dict[str, Messages]:
    out = {}
    for language in languages:
        entry = data["languages"].get(language)
        if entry is None:
            raise PolicyError(f"messages.json: no messages for {language}")
        block = str(entry["crisis_block"])
        missing = [m for m in _CRISIS_MARKERS if m not in block.lower()]
        if missing:
            raise PolicyError(f"messages.json: {language} crisis block lacks {missing}")
        prompts = {str(k): str(v) for k, v in entry["ack_prompts"].items()}
        if not soft <= prompts.keys():
            raise PolicyError(
                f"messages.json: {language} lacks ack prompts {soft - prompts.keys()}"
            )
        out[language] = Messages(
            block,
            str(entry["refusal"]),
            str(entry["throttled"]),
            prompts,
            str(entry["degraded_note"]),
            str(entry.get("figure_placeholder", FIGURE_PLACEHOLDER)),
        )
    return out


def _categories(data: dict[str, Any]) -> dict[str, Category]:
    try:
        return {
            str(name): Category(str(name), ShieldVerdict(c["verdict"]), Risk(c["risk"]))
            for name, c in data["categories"].items()
        }
    except (KeyError, ValueError) as exc:
        raise PolicyError(f"policy.json: bad category: {exc}") from exc


def load_policy(reader: Reader = packaged_file) -> Policy:
    """Read and validate every policy file (raises ``PolicyError``).

    ``reader`` maps a file name to its text (tests feed altered copies).
    """
    try:
        base = _read("policy.json", reader)
        version = base["policy_version"]
        categories = _categories(base)
        languages = tuple(str(lang) for lang in base["languages"])
        packs = {}
        for language in languages:
            pack_version, packs[language] = _pack(language, categories, reader)
            if pack_version != version:
                raise PolicyError(
                    f"rules_{language}.json: policy_version {pack_version} != {version}"
                )
        ids = [r.id for p in packs.values() for r in (*p.rules, *p.output_rules)]
        ids += [c.id for p in packs.values() for c in p.cues]
        ids += [g.id for p in packs.values() for g in p.output_guards]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise PolicyError(f"policy files: duplicate rule ids {dupes}")
        messages_data = _read("messages.json", reader)
        if messages_data["policy_version"] != version:
            raise PolicyError("messages.json: policy_version differs from policy.json")
        soft = {n for n, c in categories.items() if c.verdict is ShieldVerdict.SOFT_VETO}
        return Policy(
            version=version,
            categories=categories,
            languages=languages,
            default_language=str(base.get("default_language", "en")),
            history_turns=int(base.get("history_turns", 3)),
            packs=packs,
            messages=_messages(messages_data, languages, soft),
            cue_threshold=float(base.get("cue_threshold", 1.0)),
        )
    except (KeyError, TypeError) as exc:
        raise PolicyError(f"policy files: missing or malformed field {exc}") from exc


@cache
def default_policy() -> Policy:
    """The packaged policy, loaded once per process (it is immutable)."""
    return load_policy()
