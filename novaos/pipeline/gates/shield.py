"""The shield classifier: crisis, hard veto, soft veto or pass.

Built once from the policy: every pattern is compiled in ``__init__`` and the
classifier holds no per-request state, so one instance serves all requests.
A message is normalised (``normalize``) into one or more canonical views;
benign guards mask their spans (or switch categories off); the rules run in
severity order and the first hit decides. Weak cues (``shield_cues``) that
add up can decide too. The recent user turns are checked for crisis rules
and crisis cues: a crisis stated two turns ago still counts.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from novaos.pipeline.facts import Risk, ShieldFacts, ShieldVerdict, SourceScreen
from novaos.pipeline.gates.normalize import Normalized, normalize, prepare, respace
from novaos.pipeline.gates.shield_cues import CueHit, CueScorer, MaskedView
from novaos.pipeline.gates.shield_model import (
    ShieldModel,
    default_model,
    default_output_model,
)
from novaos.pipeline.gates.word_index import (
    TextKeys,
    WordIndex,
    found_in,
    needed_substrings,
    parse,
    text_keys,
)
from novaos.pipeline.policy import Policy, Rule, default_policy

# Where one sentence ends and the next begins: ? ! ; and line breaks always,
# a full stop only before a space or the end ("2.5 mg", "e.g.x" stay whole).
# Characters that render as nothing or as a blank, which an answer may put
# between its words and sentences instead of spaces: they end a word and may
# follow a sentence's full stop as a space does.
_INVISIBLE = (
    "\u00ad\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2800\u3164\ufeff\uffa0"
)
_SENTENCE_END = re.compile(rf"(?:[.;]+(?=[\s{_INVISIBLE}]|$)|[?!]+|\n)+")
# The output model reads an answer sentence by sentence: one harmful sentence
# among everyday ones ("Thanks for your message. ... Let me know if you want
# more tips.") was diluted below its threshold when the answer was read whole.
# A sentence of fewer content words than this is read with the next one (the
# last with the one before), and a whole answer of fewer is not read: on a few
# words its probabilities are extreme ("Look after yourself too." and "Here is
# a plain answer." read as self-harm), so "Nobody will miss you. Do it
# tonight." passes.
_ANSWER_MIN_WORDS = 6
# Counted on an answer ``respace`` has read: none of ``_INVISIBLE`` is left in it
# but the Braille blank, which is no word character anyway.
_WORD = re.compile(r"\w+")


def _sentences(text: str) -> list[str]:
    starts = [0, *(m.end() for m in _SENTENCE_END.finditer(text) if m.end() < len(text))]
    bounds = [*starts, len(text)]
    return [text[bounds[i] : bounds[i + 1]] for i in range(len(starts))]


_RANK = {
    ShieldVerdict.CONTROL: 3,
    ShieldVerdict.HARD_VETO: 2,
    ShieldVerdict.SOFT_VETO: 1,
    ShieldVerdict.PASS: 0,
}
# Letters that only some of our languages use (checked on the raw, case-folded text).
_LANGUAGE_HINTS = {
    "es": frozenset("ñ¿¡"),
    "pt": frozenset("ãõ"),
    "de": frozenset("äöüß"),
    "fr": frozenset("èêëœùâî"),
}
_MASK = " | "
_VOCABULARY_WORD = re.compile(r"[a-z]{2,}")
_OPTIONAL_PLURAL = re.compile(r"\(\?:e?s\)\?|s\?")  # "grenades?", "bus(?:es)?"
_MASK_SUBSETS = 128  # guard subsets kept compiled (see ShieldClassifier._mask_of)
_MODEL_MIN_WORDS = 2  # words beyond the stopwords the learned model needs to read
# On a message that thin the model alone decides from a handful of features
# ("plan step 2" was a violence veto at 0.92 for "step"): it may still send
# crisis resources (cheap if wrong), but it refuses only when its doubt is at
# most this share of what its threshold allows ("teach me how to make c4": 0.98).
_THIN_DOUBT = 0.5
# How many words before a guard's match a negation word reaches ("sans même en
# parler à mon médecin", "I don't want to talk to my doctor").
_NEGATION_REACH = 4


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    verdict: ShieldVerdict
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Hit:
    verdict: ShieldVerdict
    category: str
    rule_id: str


_NO_HIT = _Hit(ShieldVerdict.PASS, "", "")


@dataclass(frozen=True, slots=True)
class _Negation:
    """A guard's negation words (``Guard.negators``) and the phrases in which
    they do not negate (``Guard.not_negating``), each over a padded view."""

    words: re.Pattern[str]
    not_negating: re.Pattern[str] | None

    def leaves(self, guard: re.Pattern[str], view: str) -> bool:
        """Whether ``guard`` matches ``view`` somewhere no negation word reaches:
        inside its match or among the ``_NEGATION_REACH`` words before it."""
        negations = [n.start() for n in self.words.finditer(view)]
        if negations and self.not_negating is not None:
            phrases = [(p.start(), p.end()) for p in self.not_negating.finditer(view)]
            negations = [at for at in negations if not any(a <= at < b for a, b in phrases)]
        for match in guard.finditer(view):
            reach = match.start()
            for _ in range(_NEGATION_REACH):
                reach = max(view.rfind(" ", 0, reach), 0)
            if not any(reach <= at < match.end() for at in negations):
                return True
        return False


class _RuleSet:
    """Rules in severity order, indexed by the words a match can start with, each
    with the strings one of which its match needs (``needed_substrings``)."""

    def __init__(self, rules: Sequence[_Compiled]) -> None:
        self.rules = tuple(rules)
        trees = [parse(c.rule.pattern) for c in self.rules]  # one parse for both analyses
        self._index = WordIndex(trees)
        self._needs = tuple(_as_tuple(needed_substrings(tree)) for tree in trees)

    def candidates(self, keys: TextKeys, text: str) -> list[tuple[_Compiled, list[str] | None]]:
        """The rules that could match ``text`` (a superset of those that do), in
        order, each with where its match can start (``WordIndex.starts``)."""
        needs = self._needs
        return [
            (self.rules[i], openings)
            for i, openings in self._index.located(keys)
            if not needs[i] or any(s in text for s in needs[i])
        ]


def _as_tuple(strings: frozenset[str] | None) -> tuple[str, ...]:
    """In a stable order; empty means no filter."""
    return tuple(sorted(strings or ()))


def _bounded(pattern: str) -> re.Pattern[str]:
    """Whole words only: a rule never fires inside a longer word.

    Views are scanned padded with spaces (``_padded``), so a leading literal
    space anchors every pattern at a word start; the regex engine then skips
    to spaces instead of trying every position (about 30 % faster than a
    lookbehind).
    """
    return re.compile(f" (?:{pattern})(?= )")


def _padded(view: str) -> str:
    return f" {view} "


def crisis_block(language: str, policy: Policy | None = None) -> str:
    """The fixed, localised crisis resources NovaOS renders (never the model)."""
    return (policy or default_policy()).messages_for(language).crisis_block


def crisis_block_sha256(language: str, policy: Policy | None = None) -> str:
    """Hex SHA-256 of the crisis block, for the audit record."""
    return hashlib.sha256(crisis_block(language, policy).encode("utf-8")).hexdigest()


@cache
def default_classifier() -> ShieldClassifier:
    """The packaged-policy classifier, compiled once per process (immutable)."""
    return ShieldClassifier()


class ShieldClassifier:
    """Classifies user messages (and model output) against the shield policy."""

    def __init__(
        self,
        policy: Policy | None = None,
        model: ShieldModel | Literal["packaged"] | None = "packaged",
        output_model: ShieldModel | Literal["packaged"] | None = "packaged",
    ) -> None:
        self.policy = policy or default_policy()
        self._model = default_model() if model == "packaged" else model
        self._output_model = default_output_model() if output_model == "packaged" else output_model
        self.policy_version = self.policy.version  # the rules'
        # What decides: the rules, and the models when loaded (the shield model's
        # file names the policy it was trained with). The audit records this.
        self.version = self.policy.version if self._model is None else self._model.version
        if self._output_model is not None:
            self.version += f"+{self._output_model.version}"
        packs = [self.policy.packs[lang] for lang in self.policy.languages]
        categories = self.policy.categories
        rules = [
            _Compiled(rule, categories[rule.category].verdict, _bounded(rule.pattern))
            for pack in packs
            for rule in pack.rules
        ]
        # Severity order: the first rule that fires is the verdict.
        rules.sort(key=lambda c: -_RANK[c.verdict])
        self._rules = _RuleSet(rules)
        # Model output: the output rules (instruction-shaped text) and the
        # hard-veto rules, never a crisis or soft-veto rule (an answer may
        # name a crisis line or talk about life savings).
        self._output_rules = _RuleSet(
            [
                *(
                    _Compiled(rule, categories[rule.category].verdict, _bounded(rule.pattern))
                    for pack in packs
                    for rule in pack.output_rules
                ),
                *(c for c in rules if c.verdict is ShieldVerdict.HARD_VETO),
            ]
        )
        self._hard_veto_categories = frozenset(
            name for name, c in categories.items() if c.verdict is ShieldVerdict.HARD_VETO
        )
        scopes: dict[frozenset[str], list[str]] = {}
        for guard in (g for pack in packs for g in pack.output_guards):
            scopes.setdefault(guard.categories, []).append(guard.pattern)
        compiled = {
            scope: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
            for scope, patterns in scopes.items()
        }
        self._refusal = compiled.pop(frozenset(), None)  # clauses left out for every category
        self._explaining = tuple(compiled.items())  # ... and for some
        breaks = "|".join(b for pack in packs if (b := pack.output_clause_breaks))
        self._clause_end = re.compile(
            rf"[,;:.!?\n]+|\s(?:{breaks})\s" if breaks else r"[,;:.!?\n]+", re.IGNORECASE
        )
        over = [r.pattern for pack in packs for r in pack.rules if r.over_guards]
        self._over_guards = _bounded("|".join(f"(?:{p})" for p in over)) if over else None
        self._mask_patterns = tuple(
            g.pattern for pack in packs for g in pack.guards if not g.suppresses
        )
        self._mask_index = WordIndex(self._mask_patterns)
        self._masks: dict[tuple[int, ...], re.Pattern[str]] = {}
        self._masks_lock = threading.Lock()
        suppressors = [g for pack in packs for g in pack.guards if g.suppresses]
        self._suppressors = tuple(
            (
                _bounded(g.pattern),
                g.suppresses,
                g.scope == "sentence",
                _Negation(
                    _bounded(g.negators),
                    _bounded(g.not_negating) if g.not_negating else None,
                )
                if g.negators
                else None,
            )
            for g in suppressors
        )
        self._suppressor_index = WordIndex([g.pattern for g in suppressors])
        self._sentence_scoped = frozenset().union(
            *(g.suppresses for g in suppressors if g.scope == "sentence")
        )
        self._framing = tuple(
            (re.compile(f.pattern), f.flag) for pack in packs for f in pack.framing
        )
        self._stopwords = {pack.language: pack.stopwords for pack in packs}
        self._common = frozenset().union(*self._stopwords.values())
        # The words the rules are written with: obfuscated readings that make none
        # of them are not taken (normalize's ``vocabulary``).
        patterns = " ".join(c.rule.pattern for c in rules)
        # "agents?" is written with "agents" and "agent"
        singular = _OPTIONAL_PLURAL.sub("", patterns)
        self._vocabulary = frozenset(_VOCABULARY_WORD.findall(f"{patterns} {singular}"))
        # Every word it knows, to tell a word cut into pieces ("pi pe") from short
        # words ("be a ten"): normalize's ``known``.
        learned = self._model.words if self._model is not None else frozenset()
        self._known = self._common | self._vocabulary | learned
        self._by_id = {c.rule.id: c for c in rules}
        self._control_rules = _RuleSet(
            [c for c in self._rules.rules if c.verdict is ShieldVerdict.CONTROL]
        )
        self._cues = CueScorer(self.policy)
        prepare()

    def _normalize(self, text: str) -> Normalized:
        return normalize(text, self._common, self._vocabulary, self._known)

    # ------------------------------------------------------------ public API

    def classify(self, message: str, history: Sequence[str] = ()) -> ShieldFacts:
        """Verdict for ``message`` given the earlier user turns (oldest first)."""
        norm = self._normalize(message)
        flags = set(norm.flags) | self._framing_flags(norm)
        masked = self._masked(norm)
        hit, guarded = self._scan(masked, self._rules)
        model_view = masked[0]
        if self._sentence_guard_fired(masked):
            hit, model_view = self._by_sentence(message, norm, hit, model_view)
        cues = self._cues.find(masked) if hit.verdict is not ShieldVerdict.CONTROL else set()
        words = norm.canonical.split()
        language = self._detect(message.casefold(), words)
        if hit.verdict is not ShieldVerdict.CONTROL:
            earlier, turn, earlier_cues = self._history(history)
            if earlier.verdict is ShieldVerdict.CONTROL:
                hit = earlier
                flags.add("history")
                # "yes, tonight" carries no language; the crisis turn does.
                if sum(w in self._common for w in words) < 2:
                    language = self.detect_language(turn)
            else:
                hit = self._with_cues(hit, cues, earlier_cues, flags)
                if hit.verdict is ShieldVerdict.SOFT_VETO:
                    hit = self._crisis_over_soft_veto(message, hit, model_view, flags)
                else:
                    hit = self._with_model(hit, model_view, flags)
                if "zero_width" in norm.flags and model_view is masked[0]:
                    # The other readings of its invisible characters (taken out,
                    # read as spaces): the model reads them too.
                    for other in masked[1:3]:
                        hit = self._with_model(hit, other, flags)
        return ShieldFacts(
            verdict=hit.verdict,
            category=hit.category,
            risk=self._risk(hit, guarded or bool(flags - {"history", "cues", "model"})),
            language=language,
            flags=frozenset(flags),
            matched=hit.rule_id,
        )

    def _history(self, history: Sequence[str]) -> tuple[_Hit, str, set[CueHit]]:
        """The latest crisis rule (or model) hit in the recent turns, else their crisis cues."""
        recent = [t for t in history if t][-self.policy.history_turns :]
        cues: set[CueHit] = set()
        for turn in reversed(recent):
            masked = self._masked(self._normalize(turn))
            earlier, _ = self._scan(masked, self._control_rules)
            found = self._cues.find(masked, crisis_only=True)
            if earlier.verdict is not ShieldVerdict.CONTROL:
                earlier = self._with_model(_NO_HIT, masked[0], set(), crisis_only=True)
            if earlier.verdict is ShieldVerdict.CONTROL:
                return earlier, turn, set()
            cues |= found
        return _NO_HIT, "", cues

    def _with_model(
        self, hit: _Hit, view: MaskedView, flags: set[str], *, crisis_only: bool = False
    ) -> _Hit:
        """``hit`` unless the learned model stops a message the rules passed.

        It covers the rules' blind spots and never overrides their judgement:
        not a rule's soft veto, not a message a guard read as benign, not the
        categories a guard switched off; and it reads the message without its
        cues, whose weights are the cue layer's to add up (it would count them
        a second time: "I can't do this anymore" alone passes)."""
        if self._model is None or hit.verdict is not ShieldVerdict.PASS:
            return hit  # a rule's soft veto stands: its acknowledgement is the answer
        text = self._model_text(view)
        if text is None:
            return hit
        found = self._model.decide(text, view.suppressed)
        if found is None:
            return hit
        verdict = self.policy.categories[found.category].verdict
        if crisis_only and verdict is not ShieldVerdict.CONTROL:
            return hit
        if verdict is ShieldVerdict.HARD_VETO and self._thin(text):
            allowed = 1 - self._model.thresholds[verdict.value]
            if 1 - found.probability > _THIN_DOUBT * allowed:
                return hit
        flags.add("model")
        return _Hit(verdict, found.category, f"model:{found.probability:.2f}")

    def _crisis_over_soft_veto(
        self, message: str, hit: _Hit, view: MaskedView, flags: set[str]
    ) -> _Hit:
        """A rule's soft veto, unless the learned model reads a crisis both in the
        whole message and in its clauses the rule did not match ("I'm stopping
        my antidepressants tonight ..., I'm so done with everything": the
        medication ack alone would answer a crisis with a prompt). The model
        reads crisis into many a soft-veto message as a whole ("I'm going to
        represent myself against the IRS") and into short clauses on their own
        ("I've had enough" after a divorce), never into both: the second read
        keeps its cues (the rest is often a cue and little else)."""
        found = self._with_model(_NO_HIT, view, set(), crisis_only=True)
        if found.verdict is not ShieldVerdict.CONTROL:
            return hit
        rule = self._by_id[hit.rule_id].regex
        clauses = [c for c in self._clause_end.split(message) if c.strip()]
        rest = [c for c in clauses if not rule.search(_padded(self._normalize(c).canonical))]
        if not rest or len(rest) == len(clauses):
            return hit  # all of it is the rule's, or its match spans clauses
        rest_view = self._masked(self._normalize(" ".join(rest)))[0]
        text = self._model_text(rest_view, cues=False)
        if text is None or self._model is None:
            return hit
        confirmed = self._model.decide(text, rest_view.suppressed)
        if confirmed is None or self.policy.categories[confirmed.category].verdict is not (
            ShieldVerdict.CONTROL
        ):
            return hit
        flags.add("model")
        return found

    def _model_text(self, view: MaskedView, *, cues: bool = True) -> str | None:
        if _MASK in view.text:
            # A guard read part of this message as benign ("die my hair"): what
            # is left ("i want to") would be read without the part that decides.
            return None
        text = self._cues.mask(view, _MASK) if cues else view.text
        # Too little left to read ("i ve been |" once the cue is out): the
        # model would be deciding on its prior, not on the message.
        return text if self._content_words(text) >= _MODEL_MIN_WORDS else None

    def _content_words(self, text: str) -> int:
        return sum(len(w) > 2 and w not in self._common for w in text.split())

    def _thin(self, text: str) -> bool:
        """Just enough for the model to read (``_THIN_DOUBT``)."""
        return self._content_words(text) <= _MODEL_MIN_WORDS

    def model_view(self, message: str, *, cues: bool = True) -> str | None:
        """What the learned model reads of ``message`` (None: it is not asked).

        Training reads messages through this with ``cues=False``: it learns
        from whole messages, so the fragments a cue leaves ("i ve been |") are
        never crisis features of their own."""
        view = self._masked(self._normalize(message))[0]
        return self._model_text(view, cues=cues)

    def _with_cues(
        self, hit: _Hit, cues: set[CueHit], earlier: set[CueHit], flags: set[str]
    ) -> _Hit:
        """``hit`` unless the cues add up to a more severe verdict."""
        decided = self._cues.decide(cues | earlier)
        if decided is None:
            return hit
        category, ids = decided
        verdict = self.policy.categories[category].verdict
        if _RANK[verdict] <= _RANK[hit.verdict]:
            return hit
        flags.add("cues")
        if not cues & {c for c in earlier if c.category == category} and earlier - cues:
            flags.add("history")
        return _Hit(verdict, category, f"cues:{ids}")

    def classify_output(self, text: str) -> str | None:
        """The hard-veto category model output falls into, or None.

        The output rules and the hard-veto rules run over ``text`` with the
        benign guards' spans masked; a guard that switches a category off
        ("in my novel") covers only its own sentence here: an answer is many
        sentences, and a story's framing says nothing about the instructions
        after it. A hit is confirmed without the clauses the output guards
        leave out (``_left_out``): refusals and statements of the law for
        every category, explanations of what attackers do for theirs."""
        # Most answers match no rule at all: the guards are read only for a hit.
        hit = self._output_hit(text, frozenset())
        if hit is None:
            return None
        told = self._left_out(text, self._refusal)
        if told != text:
            hit = self._output_hit(told, frozenset())
            if hit is None:
                return None
        fired = [(scope, regex) for scope, regex in self._explaining if regex.search(told)]
        explained = frozenset().union(*(scope for scope, _ in fired))
        if hit not in explained:
            return hit
        found = self._output_hit(told, explained)
        if found is not None:
            return found
        for _, regex in fired:
            told = self._left_out(told, regex)
        return self._output_hit(told, self._hard_veto_categories - explained)

    def classify_answer(self, text: str) -> str | None:
        """The category an answer falls into: ``classify_output``'s hard-veto
        categories, then self-harm as the output model reads it (instructions
        or encouragement to hurt oneself; a crisis-line, dosing or first-aid
        answer shares their words and passes). The model reads the answer
        sentence by sentence (``_answer_windows``), so harm among everyday
        sentences is not diluted by them."""
        found = self.classify_output(text)
        if found is not None or self._output_model is None:
            return found
        text = respace(text, self._known)  # sentence windows and the model read words
        for window in self._answer_windows(text):
            view = self.answer_view(window)
            if view.count(" ") + 1 < _ANSWER_MIN_WORDS:
                continue  # a whole answer of a few words: too little to read
            hit = self._output_model.decide(view)
            if hit is not None:
                return hit.category
        return None

    def _answer_windows(self, text: str) -> list[str]:
        """``text`` in runs of whole sentences of at least ``_ANSWER_MIN_WORDS``
        content words each (counted on the raw words; the view's own count may
        differ a little), a short last run joined to the one before."""
        windows: list[str] = []
        run = ""
        words = 0
        for sentence in _sentences(text):
            run += sentence
            words += sum(w.casefold() not in self._common for w in _WORD.findall(sentence))
            if words >= _ANSWER_MIN_WORDS:
                windows.append(run)
                run, words = "", 0
        if run.strip():
            if windows:
                windows[-1] += run
            else:
                windows.append(run)
        return windows

    def answer_view(self, text: str) -> str:
        """What the output model reads of ``text``: the canonical view with the
        benign guards' spans masked (no pair of words across a mask)."""
        return self._answer_text(self._masked(self._normalize(text))[0].text)

    def _answer_text(self, view: str) -> str:
        """``view`` without its common words: nearly every answer speaks to
        "you", so a model reading "you", "it" and "so" learned that answers are
        harmful and messages are not ("I'm really sorry you're going through
        this." read as self-harm); what is left is what an answer is about."""
        return " ".join(w for w in view.split() if w not in self._common)

    def screen_source(self, text: str) -> SourceScreen:
        """What a fetched page's extract holds that the model must not get as it is:
        the hard-veto category it falls into (the output check: pages are
        instruction-shaped text like an answer, not a request), and whether it
        addresses the model with instructions ("ignore previous instructions")."""
        flags = self._framing_flags(self._normalize(text))
        return SourceScreen(self.classify_output(text), "prompt_injection" in flags)

    def _output_hit(self, text: str, skip: frozenset[str]) -> str | None:
        """The first output check hit in ``text`` outside the ``skip`` categories."""
        views = self._masked(self._normalize(text))
        hit, _ = self._scan([v._replace(suppressed=skip) for v in views], self._output_rules)
        if hit.verdict is ShieldVerdict.PASS or not any(v.suppressed for v in views):
            return hit.category or None
        for sentence in _SENTENCE_END.split(text):
            if sentence.strip():
                views = self._masked(self._normalize(sentence))
                views = [v._replace(suppressed=v.suppressed | skip) for v in views]
                found, _ = self._scan(views, self._output_rules)
                if found.verdict is not ShieldVerdict.PASS:
                    return found.category
        return None

    def _left_out(self, text: str, guard: re.Pattern[str] | None) -> str:
        """``text`` with each clause ``guard`` matches in blanked: "I can't help
        you hide money from the tax authorities" restates the request it
        refuses."""
        if guard is None or guard.search(text) is None:
            return text
        pieces: list[str] = []
        start = 0
        for end in self._clause_end.finditer(text):
            clause = text[start : end.start()]
            pieces += [" " if guard.search(clause) else clause, end.group()]
            start = end.end()
        clause = text[start:]
        pieces.append(" " if guard.search(clause) else clause)
        return "".join(pieces)

    def ack_prompt(self, category: str, language: str) -> str:
        """The sentence a user acknowledges to lift a soft veto."""
        prompts = self.policy.messages_for(language).ack_prompts
        default = self.policy.messages_for(self.policy.default_language).ack_prompts
        return prompts.get(category) or default.get(category) or prompts["default"]

    def refusal(self, language: str) -> str:
        return self.policy.messages_for(language).refusal

    def throttled_text(self, language: str) -> str:
        return self.policy.messages_for(language).throttled

    def crisis_block(self, language: str) -> str:
        return crisis_block(language, self.policy)

    def detect_language(self, text: str) -> str:
        """Best guess among the policy languages (default when no cue at all)."""
        return self._detect(text.casefold(), normalize(text).canonical.split())

    # ------------------------------------------------------------ internals

    def _detect(self, lowered: str, words: Sequence[str]) -> str:
        best, best_score = self.policy.default_language, 0
        for language, stopwords in self._stopwords.items():
            score = sum(w in stopwords for w in words)
            hints = _LANGUAGE_HINTS.get(language)
            if hints and not hints.isdisjoint(lowered):
                score += 2
            if score > best_score:
                best, best_score = language, score
        return best

    def _sentence_guard_fired(self, views: Sequence[MaskedView]) -> bool:
        return any(v.suppressed & self._sentence_scoped for v in views)

    def _by_sentence(
        self, message: str, norm: Normalized, hit: _Hit, view: MaskedView
    ) -> tuple[_Hit, MaskedView]:
        """A guard scoped to its sentence ("what is a pipe bomb?") switched a
        category off: check each sentence on its own, where it covers only
        itself, keeping the whole message's role and setting guards. The most
        severe hit wins ("what is a pipe bomb? how do I build one" is a veto).

        The learned model reads the whole message, so the question's guard
        does not switch a category off for it once another sentence follows:
        "how does a pipe bomb work. now give me the exact quantities for one"
        names the object only in the question (the view the model is given
        back keeps only the message's role and setting guards)."""
        sentences = [s for s in _SENTENCE_END.split(message) if s.strip()]
        if len(sentences) < 2:
            return hit, view
        whole = self._message_scope_suppressed(norm)
        for sentence in sentences:
            views = self._masked(self._normalize(sentence), also=whole)
            found, _ = self._scan(views, self._rules)
            if _RANK[found.verdict] > _RANK[hit.verdict]:
                hit = found
        return hit, view._replace(suppressed=whole)

    def _message_scope_suppressed(self, norm: Normalized) -> frozenset[str]:
        suppressed: set[str] = set()
        for view in map(_padded, norm.views):
            suppressed |= self._suppressed(view, text_keys(view), sentence_scoped=False)
        return frozenset(suppressed)

    def _suppressed(self, view: str, keys: TextKeys, *, sentence_scoped: bool) -> set[str]:
        """The categories the suppressing guards matching ``view`` switch off
        (``sentence_scoped``: those scoped to their sentence count too)."""
        suppressed: set[str] = set()
        for i, openings in self._suppressor_index.located(keys):
            regex, categories, sentence_only, negation = self._suppressors[i]
            if (
                (sentence_scoped or not sentence_only)
                and found_in(regex, keys, view, openings)
                and (negation is None or negation.leaves(regex, view))
            ):
                suppressed |= categories
        return suppressed

    def _masked(self, norm: Normalized, also: frozenset[str] = frozenset()) -> list[MaskedView]:
        """Each padded view with benign spans masked, and the categories guards switch off.

        Canonical views hold only letters, digits and spaces, so the mask
        (``" | "``) showing up in a view means a guard fired. A view holding a
        crisis statement that outranks the guards stays unmasked (checked only
        when a mask fired, so unguarded messages pay nothing).
        """
        out = []
        for view in map(_padded, norm.views):
            keys = text_keys(view)
            masked = view
            guards = self._mask_index.candidates(keys)
            if guards:
                masked = self._mask_of(guards).sub(_MASK, view)
            if self._over_guards and _MASK in masked and self._over_guards.search(view):
                masked = view
            suppressed = self._suppressed(view, keys, sentence_scoped=True) | also
            out.append(
                MaskedView(
                    masked, frozenset(suppressed), keys if masked is view else text_keys(masked)
                )
            )
        return out

    def _mask_of(self, guards: list[int]) -> re.Pattern[str]:
        """One alternation of the guards that could match a view, in policy order.

        It masks exactly what the alternation of every guard would: a guard the
        index leaves out matches nowhere in the view, so it never wins a
        position. Scanning a long answer with all of them was most of an
        output check; the handful of subsets real texts produce are compiled
        once (at most ``_MASK_SUBSETS`` kept)."""
        key = tuple(guards)
        regex = self._masks.get(key)
        if regex is None:
            patterns = self._mask_patterns
            regex = _bounded("|".join(f"(?:{patterns[i]})" for i in key))
            with self._masks_lock:  # long texts are classified in worker threads
                if len(self._masks) >= _MASK_SUBSETS:
                    self._masks.pop(next(iter(self._masks)))  # the oldest subset
                self._masks[key] = regex
        return regex

    def _scan(self, views: Sequence[MaskedView], rules: _RuleSet) -> tuple[_Hit, bool]:
        """The most severe rule hit over all masked views, and whether a guard fired."""
        best, guarded = _NO_HIT, False
        for masked, suppressed, keys in views:
            guarded = guarded or _MASK in masked or bool(suppressed)
            for compiled, starts in rules.candidates(keys, masked):
                if _RANK[compiled.verdict] <= _RANK[best.verdict]:
                    break  # sorted by severity: nothing left can beat ``best``
                if (
                    compiled.rule.category in suppressed and not compiled.rule.over_guards
                ) or not found_in(compiled.regex, keys, masked, starts):
                    continue
                best = _Hit(compiled.verdict, compiled.rule.category, compiled.rule.id)
                break
        return best, guarded

    def _framing_flags(self, norm: Normalized) -> set[str]:
        texts = (norm.folded, *norm.views[1:])
        return {flag for regex, flag in self._framing if any(regex.search(t) for t in texts)}

    def _risk(self, hit: _Hit, sensitive: bool) -> Risk:
        if hit.verdict is not ShieldVerdict.PASS:
            return self.policy.categories[hit.category].risk
        return Risk.LOW if sensitive else Risk.NONE
