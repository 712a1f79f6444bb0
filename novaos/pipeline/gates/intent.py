"""Intent gate: what kind of message this is. Deterministic, precompiled, never stops.

The facts it produces (type, domains, complexity, hypothetical framing, language)
feed stance, lens and the model prompt. It is a cheap heuristic on purpose: the
shield, not intent, decides what is dangerous.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from novaos.domain import Decision
from novaos.pipeline.facts import IntentFacts
from novaos.pipeline.gate import GateInput, GateResult, InlineGate

# Lower-case letters that IGNORECASE also matches to an ASCII letter while
# ``str.lower`` leaves them apart: dotless i (i) and long s (s). Every other
# case-insensitive match of a lower-case pattern is one ``str.lower`` makes
# (tests/unit/gates/test_intent.py checks this over all of Unicode).
_FOLDS_APART = frozenset("\u0131\u017f")


def lowered(raw: str) -> str | None:
    """``raw.lower()`` when matching it case-sensitively with a lower-case
    pattern finds exactly what matching ``raw`` case-insensitively does, else None.

    Each character then lowers to one character that matches a pattern's
    letter exactly when the raw one does under IGNORECASE, and is a word
    character, digit or space exactly when the raw one is (so word boundaries
    fall alike). Not so for a dotted capital I (it lowers to two
    characters) or a dotless i or long s (IGNORECASE reads them as i, s)."""
    low = raw.lower()
    if raw.isascii():
        return low
    if len(low) != len(raw) or not _FOLDS_APART.isdisjoint(low):
        return None
    return low


class CaselessText:
    """A message, and its lowercase where that matches alike (``lowered``)."""

    __slots__ = ("lowered", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.lowered = lowered(raw)


class CaselessRule:
    """A case-insensitive pattern written in lowercase, compiled twice.

    On lowered text (``lowered``), matching case-sensitively finds the same as
    matching the raw text case-insensitively and is 3-8x faster: under
    IGNORECASE the regex engine compares every character's case variants. The
    rare text ``lowered`` refuses takes the case-insensitive form."""

    def __init__(self, source: str) -> None:
        if source != source.lower():  # also rejects \W, \S, \B, whose meaning lower() flips
            raise ValueError(f"write intent rules in lowercase: {source[:40]!r}")
        self._any = re.compile(source, re.IGNORECASE)
        self._lowered = re.compile(source)

    def search(self, text: CaselessText) -> bool:
        if text.lowered is not None:
            return self._lowered.search(text.lowered) is not None
        return self._any.search(text.raw) is not None

    def spans(self, text: CaselessText) -> list[tuple[int, int]]:
        """Where it matches, non-overlapping (the same spans either way)."""
        if text.lowered is not None:
            return [m.span() for m in self._lowered.finditer(text.lowered)]
        return [m.span() for m in self._any.finditer(text.raw)]

    def count(self, text: CaselessText) -> int:
        """How many non-overlapping matches (the same spans either way)."""
        if text.lowered is not None:
            return len(self._lowered.findall(text.lowered))
        return len(self._any.findall(text.raw))


def _words(*alternatives: str) -> CaselessRule:
    return CaselessRule(r"\b(?:" + "|".join(alternatives) + r")\b")


# First match wins, so the more specific task types come before question/action.
_TYPE_RULES: tuple[tuple[str, CaselessRule], ...] = (
    (
        "translate",
        _words(
            r"translate", r"translation", r"traduc\w*", r"tradui\w*", r"übersetz\w*", r"traduz\w*"
        ),
    ),
    (
        "summarize",
        _words(
            r"summari[sz]e\w*",
            r"summary",
            r"tl;?dr",
            r"resum\w+",
            r"zusammenfass\w*",
            r"key points of",
        ),
    ),
    (
        "rewrite",
        _words(
            r"rewrite",
            r"re-?word",
            r"rephrase",
            r"paraphrase",
            r"proofread",
            r"reescrib\w*",
            r"réécri\w*",
            r"umschreib\w*",
            r"reescrev\w*",
            r"make (?:this|it) (?:more|less|sound)",
        ),
    ),
    (
        "planning",
        _words(
            r"plan",
            r"planning",
            r"schedule",
            r"roadmap",
            r"itinerary",
            r"step[- ]by[- ]step",
            r"strategy",
            r"organi[sz]e my",
            r"planific\w*",
            r"planifi\w*",
            r"planen",
            r"planej\w*",
        ),
    ),
)

_ACTION_START = CaselessRule(
    r"^\s*(?:please\s+)?(?:write|create|make|build|draft|generate|send|book|set up|compose|"
    r"list|give me|help me|design|code|implement|fix|calculate|convert|find|remind)\b"
)
_QUESTION_START = CaselessRule(
    r"^\s*(?:what|why|how|when|where|who|which|whose|is|are|was|were|can|could|should|would|"
    r"do|does|did|will|qu[eé]|c[oó]mo|por qu[eé]|cu[aá]ndo|d[oó]nde|cu[aá]l(?:es)?|"
    r"cu[aá]nt[oa]s?|quoi|pourquoi|comment|quel(?:le)?s?|combien|est-ce|warum|wie|wann|wo|"
    r"was|wer|welche[rsnm]?|wieviel|o que|por que|quando|onde|qual|quais|quant[oa]s?)\b|^\s*¿"
)

# A stock someone buys or holds, not soup stock (Python lookbehinds are fixed-width: one each).
_STOCK_HELD = (
    "".join(
        f"(?<!{food} )"
        for food in ("chicken", "beef", "fish", "veggie", "vegetable", "bone", "soup")
    )
    + r"stock(?! up\b)"
)

_DOMAIN_RULES: Mapping[str, CaselessRule] = {
    # "share" and "stock" alone are a recipe to share or food to stock up on.
    "finance": _words(
        r"stocks(?! up\b)",
        r"stock (?:markets?|prices?|exchanges?|options?|portfolios?|splits?|picks?|tips?|"
        r"trading|brokers?|quotes?|charts?|funds?)",
        r"(?:which|what|best|top|penny|growth|dividend|tech|one|single) stock"
        r"(?! (?:up|pots?|cubes?|photos?|images?|footage|cars?)\b)",
        rf"(?:buy|sell|bought|sold|short|dump|own|hold|invest in)(?:s|ing)? (?:\w+ ){{0,2}}"
        rf"(?:shares|{_STOCK_HELD})",
        r"(?:my|our|your) (?:\w+ )?shares",
        r"shares (?:of|in)",
        r"(?:share|stock)holders?",
        r"share prices?",
        r"invest\w*",
        r"money",
        r"budget\w*",
        r"loans?",
        r"debts?",
        r"mortgage\w*",
        r"crypto(?:currenc(?:y|ies)|s|coins?)?",
        r"bitcoin",
        r"ethereum",
        r"tax(?:es)?",
        r"savings",
        r"retirement",
        r"401k",
        r"salary",
        r"bank\w*",
        r"dinero",
        r"argent",
        r"geld",
        r"dinheiro",
        r"aktie\w*",
        r"kryptow[äa]hrung\w*",
        r"criptomoneda\w*",
        r"cryptomonnaie\w*",
        r"criptomoeda\w*",
    ),
    "health": _words(
        r"doctor",
        r"medication\w*",
        r"medicine",
        r"symptoms?",
        r"dos(?:e|age)s?",
        r"diagnos\w+",
        r"pills?",
        r"prescri\w+",
        r"disease",
        r"sick",
        r"fever",
        r"pain",
        r"health",
        r"médico",
        r"médecin",
        r"arzt",
        r"medicament\w*",
        r"medikament\w*",
        # common drugs by name: "is it safe to take ibuprofen with coffee?" is a
        # health claim as much as one that says "medication"
        r"ibuprofen",
        r"paracetamol",
        r"acetaminophen",
        r"tylenol",
        r"advil",
        r"aspirin",
        r"antibiotics?",
        r"antidepressants?",
        # treatments and conditions a plan may be about ("plan my chemo week")
        r"chemo\w*",
        r"dialysis",
        r"radiotherapy",
        r"radiation (?:therapy|treatment)",
        r"surgery",
        r"sertraline",
        r"zoloft",
        r"prozac",
        r"lexapro",
        r"fluoxetine",
        r"ssris?",
        r"antidepresivos?",
        r"antidépresseurs?",
        r"antidepressiva",
        r"antidepressivos?",
        r"médicaments?",
        r"remédios?",
        r"insulin",
        r"statins?",
        r"melatonin",
        r"benadryl",
        r"xanax",
        r"vaccines?",
        r"supplements?",
        r"vitamins?",
        r"painkillers?",
        r"blood pressure",
        r"pregnan\w+",
    ),
    "legal": _words(
        r"lawyer",
        r"attorney",
        r"sue",
        r"lawsuit",
        r"court",
        r"contracts?",
        r"legal\w*",
        r"law",
        r"custody",
        r"divorce",
        r"tenant",
        r"landlord",
        r"abogado",
        r"avocat",
        r"anwalt",
        r"advogado",
    ),
    "mental_health": _words(
        r"anxi\w+",
        r"depress\w+",
        r"therap\w+",
        r"stress\w*",
        r"panic",
        r"lonely",
        r"loneliness",
        r"grief",
        r"griev\w+",
        r"burn-?out",
        r"mental health",
        r"bipolar",
        r"eating disorders?",
        r"anorexi\w*",
        r"bulimi\w*",
        r"suicid\w*",
        r"self-harm",
        r"ansiedad",
        r"angoisse",
        r"angst",
        r"ansiedade",
    ),
    "technology": _words(
        r"code",
        r"python",
        r"javascript",
        r"typescript",
        r"servers?",
        r"software",
        r"bugs?",
        r"api",
        r"database",
        r"computer",
        r"linux",
        r"kubernetes",
        r"docker",
        r"programming",
        r"deploy\w*",
        r"sql",
        r"git",
    ),
}

_HYPOTHETICAL = _words(
    r"what if",
    r"hypothetical\w*",
    r"suppose",
    r"supposing",
    r"imagin[ae]\w*",
    r"pretend",
    r"in a (?:story|novel|game|movie|film)",
    r"fiction\w*",
    r"if you were",
    r"thought experiment",
    r"hipotétic\w*",
    r"hypothétique",
    r"angenommen",
)


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Short function words and request verbs: a one-line request ("Tell me a
# joke") has few words, so each must count. A word several languages share
# ("a", "me", "que", "de") is split between them (``_WEIGHTS``), so it alone
# never decides, and English wins what stays tied.
_STOPWORDS: Mapping[str, frozenset[str]] = {
    "en": _set(
        "the and is are you what how i to of my it this that with for a an me tell write "
        "give show about please can could would do does in on your be have was not but at "
        "from we they he she why when where who which help make some there thanks hello hi"
    ),
    "es": _set(
        "el la los las que de y es por para cómo qué mi estoy no una un con me dame dime "
        "hola del al muy pero más cuál dónde cuándo gracias quiero puedes necesito hay sobre "
        "se lo le su te tu"
    ),
    "fr": _set(
        "le la les est et je vous que pas pour une des comment mon ma avec un du au ce il "
        "elle moi tu bonjour merci quel quelle où sont suis ne sur dans qui"
    ),
    "de": _set(
        "der die das und ist ich nicht sie wie ein eine mit für mein zu mir einen dem den "
        "du es hallo danke bitte was von auf im wo wann warum gib erzähl schreib welche welcher "
        "welches welchen wer gibt neues zur zum wird sind kann auch noch heute morgen gerade"
    ),
    "pt": _set(
        "o a os as que de e é não um uma para com você como eu meu me dá olá obrigado "
        "obrigada sobre do da dos das no na em quero preciso pode são está tudo"
    ),
}
_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    lang: {w: 1 / sum(w in other for other in _STOPWORDS.values()) for w in words}
    for lang, words in _STOPWORDS.items()
}
# Case-sensitive hints search the raw text, case-insensitive ones (``CaselessRule``) the lowered.
_LETTER_HINTS: Mapping[str, re.Pattern[str] | CaselessRule] = {
    "es": re.compile(r"[ñ¿¡]"),
    "fr": CaselessRule(r"[èêëœ]|\b(?:c'est|j'ai|qu'il|n'est)\b|\b(?:l|d|qu)'[a-zàâéèêîôû]"),
    "de": re.compile(r"[ßäöü]"),
    "pt": CaselessRule(r"[ãõ]|ção\b"),
}
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)


def _type(text: CaselessText) -> str:
    for name, rule in _TYPE_RULES:
        if rule.search(text):
            return name
    if _ACTION_START.search(text):
        return "action"
    if text.raw.rstrip().endswith(("?", "？")) or _QUESTION_START.search(text):
        return "question"
    return "conversation"


def _domains(text: CaselessText) -> frozenset[str]:
    return frozenset(name for name, rule in _DOMAIN_RULES.items() if rule.search(text))


def classify_complexity(message: str) -> str:
    words = len(message.split())
    questions = message.count("?")
    structure = len(_BULLET.findall(message)) + message.count("```") + message.count("\n\n")
    if words > 120 or questions >= 3 or structure >= 4:
        return "high"
    if words > 25 or questions >= 2 or structure >= 1:
        return "medium"
    return "low"


def guess_language(message: str) -> str:
    """Stop-word vote plus letter hints; English wins ties (the most common case),
    and a message with no sign of any language is English."""
    return _language(CaselessText(message))


def _language(text: CaselessText) -> str:
    # Tokens of the lowered text are the lowered tokens (``lowered`` keeps every
    # character a letter or not); each distinct token is looked up once.
    if text.lowered is not None:
        tokens = Counter(_TOKEN.findall(text.lowered))
    else:
        tokens = Counter(t.lower() for t in _TOKEN.findall(text.raw))
    scores = {
        lang: sum(n * weights.get(t, 0.0) for t, n in tokens.items())
        for lang, weights in _WEIGHTS.items()
    }
    for lang, hint in _LETTER_HINTS.items():
        scores[lang] += 2 * (
            hint.count(text) if isinstance(hint, CaselessRule) else len(hint.findall(text.raw))
        )
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best if scores[best] > 0 else "en"


def analyse(message: str) -> IntentFacts:
    text = CaselessText(message)
    return IntentFacts(
        type=_type(text),
        domains=_domains(text),
        complexity=classify_complexity(message),
        hypothetical=_HYPOTHETICAL.search(text),
        language=_language(text),
    )


# ~1 ms of CPU per 2,000 characters (15-35 ms for 32k): a longer message is
# analysed in a worker thread (``InlineGate.heavy``).
HEAVY_CHARS = 2000


class IntentGate(InlineGate):
    name = "intent"

    def __init__(self, budget_ms: int = 50) -> None:
        self.budget_ms = budget_ms

    def heavy(self, inp: GateInput) -> bool:
        return len(inp.chat.message) >= HEAVY_CHARS

    def decide(self, inp: GateInput) -> GateResult:
        facts = analyse(inp.chat.message)
        domains = ",".join(sorted(facts.domains)) or "none"
        reason = (
            f"type={facts.type} domains={domains} complexity={facts.complexity} "
            f"lang={facts.language}" + (" hypothetical" if facts.hypothetical else "")
        )
        return GateResult(decision=Decision.PASS, reason=reason, facts=facts)
