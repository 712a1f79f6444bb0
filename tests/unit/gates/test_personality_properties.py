"""Properties of the stream check for any split of a scripted output into feeds."""

from __future__ import annotations

import itertools
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from novaos.pipeline.gate import CheckStep, OutputConstraints
from novaos.pipeline.gates import rules
from novaos.pipeline.gates.normalize import fold
from novaos.pipeline.gates.personality import PersonalityChecker, PersonalityStream

HARM_MARKER = "detonator wiring"

BENIGN = [
    "Boil the water first. ",
    "Then add a pinch of salt! ",
    "Is the pan hot enough? ",
    "Stir it gently, slowly and with patience for a few minutes. ",
    "They can taste it later. ",
    "Your sister says I'm so proud of your cooking. ",
    "a" * 130 + " ",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two ",
    "\n",
    "Caf\u00e9 at 10\u00a0km with \U0001f469\u200d\U0001f467, it\u2019s fine. ",
    "Je suis l\u00e0 pour vous aider. ",
    "Elle est toujours l\u00e0 pour toi. ",
]
BAD = [
    "I'm al\u200bways here for you. ",
    "you\u00a0are  \u0430mazing! ",
    "I\u02bcm so pr\u043eud of you ",
    "I'm always here for you. ",
    "You can ALWAYS count on me, truly. ",
    "And I'm so proud of you ",
    "you’re amazing! ",
    "I truly understand how you feel. ",
    "Je suis toujours l\u00e0 pour vous. ",
    "\u00a1Eres incre\u00edble! ",
    "Here is the detonator wiring. ",
]


def shows_banned(text: str) -> bool:
    """Whether a reader sees a banned phrase: an oracle apart from ``rules.find_banned``
    (the shield's fold, any whitespace run as one space, U+02BC as an apostrophe)."""
    seen = re.sub(r"\s+", " ", fold(text).replace("\u02bc", "'"))
    return rules.BANNED.search(seen) is not None


def harm(text: str) -> str | None:
    return "weapons" if HARM_MARKER in text.lower() else None


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


scripts = st.lists(st.sampled_from(BENIGN + BAD), min_size=1, max_size=8).map("".join)
benign_scripts = st.lists(st.sampled_from(BENIGN), min_size=1, max_size=8).map("".join)
cuts = st.lists(st.integers(min_value=0, max_value=2000), max_size=40)
holdbacks = st.sampled_from([16, 100, 160, 400])


@settings(max_examples=300, deadline=None)
@given(script=scripts, cut_at=cuts, holdback=holdbacks, figures=st.booleans())
def test_banned_or_harmful_text_is_never_released(
    script: str, cut_at: list[int], holdback: int, figures: bool
) -> None:
    constraints = OutputConstraints(holdback_chars=holdback, no_precise_figures=figures)
    stream = PersonalityChecker(harm).open(constraints)
    released = ""
    stopped = False
    for chunk in _split(script, cut_at):
        step = stream.feed(chunk)
        assert stream.held_chars <= stream.holdback_chars
        if stopped:
            assert step.release == ""
        stopped = stopped or step.action != "continue"
        released += step.release
    released += stream.finish().release
    assert rules.find_banned(released) is None
    assert not shows_banned(released)
    assert HARM_MARKER not in released.lower()


@settings(max_examples=300, deadline=None)
@given(script=benign_scripts, cut_at=cuts, holdback=holdbacks)
def test_clean_output_streams_unchanged_within_the_window(
    script: str, cut_at: list[int], holdback: int
) -> None:
    stream = PersonalityChecker(harm).open(OutputConstraints(holdback_chars=holdback))
    generated = released = ""
    for chunk in _split(script, cut_at):
        generated += chunk
        step = stream.feed(chunk)
        assert step.action == "continue"
        released += step.release
        assert generated.lstrip().startswith(released)  # a prefix of what was generated
        assert len(generated.lstrip()) - len(released) <= stream.holdback_chars
    released += stream.finish().release
    assert released == script.lstrip()


def test_every_rule_pattern_is_shorter_than_the_window() -> None:
    parser = re._parser  # type: ignore[attr-defined]
    for pattern in (rules.BANNED, rules.BUY_SELL, rules.FIGURE):
        _, widest = parser.parse(pattern.pattern, pattern.flags).getwidth()
        assert widest <= rules.MAX_MATCH_CHARS, pattern.pattern[:60]


class _EveryFeedSteps(PersonalityStream):
    quiet_feeds = False


# Pieces that reach each branch of a step: openers (also glued to what follows),
# edits, figures, buy/sell, "we" modals, closing quotes after a terminator,
# newlines and a sentence longer than any window.
EDGY = [
    *BENIGN,
    *BAD,
    "Great question! ",
    "Absolutely!Here it is",
    "Of course!Great question!Sure",
    "Absolutely! ",
    "  what a good question. ",
    "It costs $1,250.50 today. ",
    "I would recommend you buy now. ",
    "We can try. We should rest. We will go. We can count on me. ",
    'He said "stop." ',
    "It ended.\u201d Then",
    "done.' next",
    "x" * 200,
    "tidy the desk first",
    " ",
]
edgy_scripts = st.lists(st.sampled_from(EDGY), min_size=1, max_size=10).map("".join)


@settings(max_examples=400, deadline=None)
# Two glued openers: the second is stripped on the next feed, even a quiet one.
@example("Of course!Great question!Sure more", [27, 29], 160, False, False)
@given(
    script=edgy_scripts,
    cut_at=cuts,
    holdback=holdbacks,
    figures=st.booleans(),
    whole=st.booleans(),
)
def test_skipping_quiet_feeds_changes_no_step(
    script: str, cut_at: list[int], holdback: int, figures: bool, whole: bool
) -> None:
    """A feed that cannot release, edit or strip anything skips the step: every
    step, and the end, must be what stepping on every feed gives."""
    constraints = OutputConstraints(holdback_chars=holdback, no_precise_figures=figures)
    fast = PersonalityChecker(harm).open(constraints, whole=whole)
    slow = _EveryFeedSteps(constraints, harm, whole=whole)
    assert fast.quiet_feeds and not slow.quiet_feeds
    for chunk in _split(script, cut_at):
        assert fast.feed(chunk) == slow.feed(chunk)
        assert fast.held_chars == slow.held_chars
    assert fast.finish() == slow.finish()


def test_word_feeds_of_a_plain_answer_mostly_skip_the_step() -> None:
    """The fast path is taken: most words of a plain answer step nothing."""
    stepped = []

    class Counting(PersonalityStream):
        def _step(self, *, final: bool) -> CheckStep:
            stepped.append(final)
            return super()._step(final=final)

    stream = Counting(OutputConstraints(), harm, whole=True)
    words = re.findall(r"\S+\s*", "tidy the desk first then sort papers and rest. " * 6)
    released = "".join(stream.feed(w).release for w in words) + stream.finish().release
    assert released == "tidy the desk first then sort papers and rest. " * 6
    assert len(stepped) <= 6 + 6 + 1  # per sentence: its first word and its last; the end


def _outcome(steps: list[CheckStep]) -> tuple[str, str, str, int]:
    """What the generator makes of a whole answer's steps: the released text,
    the first stop (action and reason) and the edits counted before it."""
    released, edits = "", 0
    for step in steps:
        edits += step.edits
        if step.action != "continue":
            return "", step.action, step.reason, edits
        released += step.release
    return released, "continue", "", edits


@settings(max_examples=400, deadline=None)
@example("Of course!Great question!Sure more", 160, False)
@example("  plain words only, nothing to edit. " * 8, 16, False)
@given(script=edgy_scripts, holdback=holdbacks, figures=st.booleans())
def test_a_whole_answer_comes_out_as_fed_word_by_word(
    script: str, holdback: int, figures: bool
) -> None:
    """``whole`` (unary Chat) skips the feeds when no rule can match: the text
    released, any stop and the edits must be what word-by-word feeding gives."""
    constraints = OutputConstraints(holdback_chars=holdback, no_precise_figures=figures)
    fast = PersonalityChecker(harm).open(constraints, whole=True)
    slow = _EveryFeedSteps(constraints, harm, whole=True)
    words = re.findall(r"\S+\s*|\s+", script)
    expected = _outcome([*(slow.feed(w) for w in words), slow.finish()])
    assert _outcome(fast.whole(script)) == expected


def test_a_whole_plain_answer_takes_one_step() -> None:
    """The shortcut is taken for a plain answer, and not for one with a rule hit."""
    plain = "  tidy the desk first then sort papers and rest. " * 6
    steps = PersonalityChecker(harm).open(OutputConstraints(), whole=True).whole(plain)
    assert [s.release for s in steps] == [plain.lstrip()]
    banned = plain + "I'm always here for you. Rest well. "
    steps = PersonalityChecker(harm).open(OutputConstraints(), whole=True).whole(banned)
    assert len(steps) > 1 and _outcome(steps)[0] == plain.lstrip() + "Rest well. "
