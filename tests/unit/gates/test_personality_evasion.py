"""Output rules read text as a reader sees it: spellings that only fool a pattern.

Each evasion here shipped with outcome COMPLETED and personality PASS when the
rules matched the raw text."""

from __future__ import annotations

import re

import pytest

from novaos.pipeline.gate import CheckStep, OutputConstraints
from novaos.pipeline.gates import rules
from novaos.pipeline.gates.personality import _MAX_PADDING, PersonalityChecker, PersonalityStream

EVASIONS = {
    "zero-width space": "I'm al\u200bways here for you",
    "zero-width joiner": "I'm always here for y\u200dou",
    "soft hyphen": "I'm al\u00adways here for you",
    "no-break space": "I'm always here\u00a0for you",
    "four spaces": "I'm always    here for you",
    "tab and spaces": "You can always \t  count on me",
    "cyrillic a and e": "I'm \u0430lw\u0430ys h\u0435re for you",
    "greek and cyrillic capitals": "\u0399'm so pr\u041eud of you",
    "modifier apostrophe": "I\u02bcm always here for you",
    "left quote as apostrophe": "You\u2018re amazing",
    "fullwidth letters": "\uff59\uff4f\uff55're amazing",
    "combining accent": "You're a\u0301mazing",
    "zero-width in a gap": "I'm always \u200b here\u2009for you",
    "line break and indent": "I'm always\n        here for you",
    "line holding only a zero-width space": "I'm always\n\u200b\nhere for you",
    # Markup a renderer shows as nothing, inside the phrase.
    "italic word": "I'm *always* here for you",
    "bold word": "I'm so **proud** of you",
    "italic adverb": "You're *so* amazing",
    "italic truly": "I *truly* understand how you feel",
    "underscore italic": "I'm always _here_ for you",
    "bold italic": "You can ***always*** count on me",
    "code span": "I'm `always` here for you",
    "html tag": "I'm <b>always</b> here for you",
    "fullwidth asterisks": "I'm \uff0aalways\uff0a here for you",
    # Characters that render as a blank, between the words instead of spaces.
    "hangul fillers as spaces": "I'm always\u3164here\u3164for\u3164you",
    "halfwidth hangul filler": "You're\uffa0amazing",
    "braille blanks as spaces": "I'm always\u2800here\u2800for you",
}
CLEAN = [
    "Run 10\u00a0km at an easy pace. Rest for 2\u00a0days after.",
    "The caf\u00e9 serves cr\u00e8me br\u00fbl\u00e9e; se\u00f1or G\u00f6del na\u00efvely agreed.",
    "Family night \U0001f469\u200d\U0001f469\u200d\U0001f467 is fun! Flags: \U0001f3f4\U000e0067"
    "\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f ok.",
    "It\u2019s fine \u2014 you\u2019re nearly there\u2026 Keep going.",
    "Stra\u00dfe und \u6771\u4eac and \u041c\u043e\u0441\u043a\u0432\u0430 are places.",
    "Your sister\u00a0says I'm so proud of your cooking.",
    "Indented:\n    line one\n    line two\n\nDone.",
    "Set `max_retries * 2` in **my_config.py** [1]; see <b>notes</b> and ~~old~~ docs.",
    "Your *sister* says I'm so proud of _your_ cooking.",
]


def harm(text: str) -> str | None:
    return None


def _open(whole: bool = False, **kwargs: object) -> PersonalityStream:
    constraints = OutputConstraints(**kwargs)  # type: ignore[arg-type]
    return PersonalityChecker(harm).open(constraints, whole=whole)


def _stream(stream: PersonalityStream, chunks: list[str]) -> tuple[str, list[CheckStep]]:
    steps = [stream.feed(c) for c in chunks] + [stream.finish()]
    return "".join(s.release for s in steps), steps


def _chunkings(text: str) -> list[list[str]]:
    """Char by char, in 7s, and cut at each character a reader does not see."""
    by_invisible = re.split(r"(?=[^\x20-\x7e])", text)
    return [list(text), [text[i : i + 7] for i in range(0, len(text), 7)], by_invisible]


@pytest.mark.parametrize("phrase", EVASIONS.values(), ids=EVASIONS.keys())
def test_find_banned_reads_through_the_evasion(phrase: str) -> None:
    assert rules.find_banned(f"Whatever happens, {phrase}. Rest.") == phrase


@pytest.mark.parametrize("phrase", EVASIONS.values(), ids=EVASIONS.keys())
def test_stream_regenerates_before_release(phrase: str) -> None:
    for chunks in _chunkings(f"{phrase}. Now, about your plan."):
        released, steps = _stream(_open(), chunks)
        assert released == ""
        stop = next(s for s in steps if s.action != "continue")
        assert stop.action == "regenerate"
        assert stop.reason == f"banned phrase: {phrase}"


@pytest.mark.parametrize("phrase", EVASIONS.values(), ids=EVASIONS.keys())
def test_stream_edits_the_sentence_out_after_release(phrase: str) -> None:
    first = "First, drink some water. "
    for chunks in _chunkings(f"{phrase}, and good luck. Then rest."):
        released, steps = _stream(_open(), [first, *chunks])
        assert released == "First, drink some water. Then rest."
        assert all(s.action == "continue" for s in steps)
        assert sum(s.edits for s in steps) == 1


@pytest.mark.parametrize("phrase", EVASIONS.values(), ids=EVASIONS.keys())
def test_unary_regenerates_or_edits(phrase: str) -> None:
    steps = _open(whole=True).whole(f"{phrase}. Now, about your plan.")
    stop = next(s for s in steps if s.action != "continue")
    assert stop.action == "regenerate" and stop.reason == f"banned phrase: {phrase}"
    assert all(s.release == "" for s in steps)
    steps = _open(whole=True).whole(f"First, drink some water. {phrase}, and good luck. Then rest.")
    assert "".join(s.release for s in steps) == "First, drink some water. Then rest."
    assert all(s.action == "continue" for s in steps)


@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_unicode_text_is_released_unchanged(text: str) -> None:
    assert rules.find_banned(text) is None
    constraints = {"no_precise_figures": False}
    for chunks in _chunkings(text):
        released, steps = _stream(_open(**constraints), chunks)
        assert released == text
        assert all(s.action == "continue" and not s.edits for s in steps)
    steps = _open(whole=True, **constraints).whole(text)
    assert "".join(s.release for s in steps) == text
    assert all(s.action == "continue" and not s.edits for s in steps)


@pytest.mark.parametrize(
    "padding",
    ["\u200b" * 150, " " * 150, "\u00a0" * 150, "\u200b \u00ad" * 50],
    ids=["zero-width", "spaces", "no-break", "mixed"],
)
def test_padding_does_not_let_a_phrase_straddle_a_forced_cut(padding: str) -> None:
    # A long sentence forces cuts to keep the window; the window is counted in
    # raw characters, so 150 invisible ones would push "I'm" out before the
    # rest of the phrase is seen.
    text = "word " * 60 + "I'm" + padding + " always here for you, and more words follow."
    for holdback in (16, 160):
        for chunks in ([text[i : i + 5] for i in range(0, len(text), 5)], list(text)):
            released, _ = _stream(_open(holdback_chars=holdback), chunks)
            assert "I'm" not in released
            assert rules.find_banned(released) is None
            assert released.startswith("word " * 10)  # the forced cuts still release


def test_a_flood_of_invisible_characters_stops_the_stream() -> None:
    stream = _open(holdback_chars=160)
    assert stream.feed("Fine. ").release == "Fine. "
    steps = [stream.feed("I'm"), *(stream.feed("\u200b" * 10) for _ in range(_MAX_PADDING // 8))]
    assert steps[-1].action == "block" and steps[-1].reason == "padded output"
    assert all(s.release == "" for s in steps)
    assert stream.held_chars == 0


def test_an_evaded_opener_is_still_stripped() -> None:
    for opener in ("Great\u00a0question! ", "Gr\u0435at question! ", "\uff21bsolutely! "):
        released, steps = _stream(_open(), [opener, "Rice needs water."])
        assert released == "Rice needs water.", opener
        assert sum(s.edits for s in steps) == 1


def test_evaded_buy_sell_and_figures_are_found() -> None:
    step = _open().feed("You should b\u200buy Tesla shares now. ")
    assert step.action == "regenerate" and step.reason.startswith("buy/sell")
    text = "Prices move. It trades near $64,\u200b231 today and rose 3\u00a0% again. Check."
    released, _ = _stream(_open(no_precise_figures=True), [text[:15], text[15:]])
    assert released == (
        f"Prices move. It trades near {rules.FIGURE_PLACEHOLDER} today and rose "
        f"{rules.FIGURE_PLACEHOLDER} again. Check."
    )


def test_an_evaded_we_is_counted() -> None:
    text = "We can start. W\u200be should rest. We can go, and w\u0435'll see. Done."
    released, steps = _stream(_open(), [text])
    assert released == "We can start. W\u200be should rest. You can go, and you'll see. Done."
    assert sum(s.edits for s in steps) == 2


@pytest.mark.parametrize(
    "text",
    [
        "I'm always here for **you**. Rest.",
        "I'm always here for [you](https://example.com). Rest.",
        "*You're* ~amazing~. Rest.",
    ],
)
def test_markup_at_the_edge_of_a_phrase_is_read_through(text: str) -> None:
    assert rules.find_banned(text) is not None
    released, _ = _stream(_open(), ["First, drink some water. ", *_chunkings(text)[1]])
    assert released == "First, drink some water. Rest."


def test_an_emphasised_opener_is_stripped_with_its_marks() -> None:
    for opener in ("**Great question!** ", "*Great* question! ", "_Absolutely!_ "):
        released, steps = _stream(_open(), [opener, "Rice *needs* water."])
        assert released == "Rice *needs* water.", opener
        assert sum(s.edits for s in steps) == 1


WIDE = ("a" + " " * 30) * 100  # a benign answer laid out with wide space runs


def _judgements(text: str, size: int) -> tuple[tuple[str, str], ...]:
    """(released text, last action) streamed in ``size`` pieces, in one piece,
    and judged whole."""
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    small = _stream(_open(holdback_chars=160), pieces)
    one = _stream(_open(holdback_chars=160), [text])
    whole = _open(whole=True, holdback_chars=160).whole(text)
    return tuple(
        ("".join(s.release for s in steps), steps[-1].action if steps else "")
        for steps in (small[1], one[1], whole)
    )


def test_wide_space_runs_are_judged_alike_however_they_arrive() -> None:
    # Streamed in 8-character pieces the answer stopped as "padded output" with
    # nothing released; in one piece, or whole, it completed.
    judged = _judgements(WIDE, 8)
    assert set(judged) == {(WIDE, "continue")}, judged


def test_a_padded_stretch_is_judged_alike_however_it_arrives() -> None:
    # Padding far beyond the window stops the stream whichever way it came.
    text = "Fine. I'm" + " \u200b" * (_MAX_PADDING + 200) + " here. More text follows."
    for size in (3, 64):
        judged = _judgements(text, size)
        assert {action for _, action in judged} == {"block"}, (size, judged)
