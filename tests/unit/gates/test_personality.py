from __future__ import annotations

import re

import pytest

from novaos.pipeline.gate import CheckStep, OutputConstraints
from novaos.pipeline.gates import rules
from novaos.pipeline.gates.personality import PersonalityChecker, PersonalityStream

HARM_MARKER = "detonator wiring"


def stand_in_harm(text: str) -> str | None:
    return "weapons" if HARM_MARKER in text.lower() else None


def _open(**kwargs: object) -> PersonalityStream:
    constraints = OutputConstraints(**kwargs)  # type: ignore[arg-type]
    return PersonalityChecker(stand_in_harm).open(constraints)


def run(stream: PersonalityStream, chunks: list[str]) -> tuple[str, list[CheckStep]]:
    steps = [stream.feed(c) for c in chunks] + [stream.finish()]
    return "".join(s.release for s in steps), steps


def test_releases_whole_sentences_coalesced() -> None:
    stream = _open()
    first = stream.feed("Hello there. How are")
    assert first.release == "Hello there. "
    second = stream.feed(" you? Fine. And")
    assert second.release == "How are you? Fine. "
    assert stream.finish().release == "And"


def test_clean_text_is_released_unchanged() -> None:
    text = "Cook the rice for 12 minutes. Then let it rest!\nServe warm."
    released, steps = run(_open(), list(text))
    assert released == text
    assert all(s.action == "continue" for s in steps)
    assert sum(1 for s in steps if s.release) <= 4  # per sentence, never per token


def test_banned_phrase_before_release_regenerates() -> None:
    stream = _open()
    assert stream.feed("I'm always here ").release == ""
    step = stream.feed("for you. Now, about your plan.")
    assert step.action == "regenerate"
    assert step.reason == "banned phrase: I'm always here for you"
    assert stream.feed("more").action == "regenerate"
    assert stream.finish().release == ""


@pytest.mark.parametrize(
    "phrase",
    [
        "I'm always here for you",
        "I am always here for you",
        "I’m ALWAYS here for you",
        "You can always count on me",
        "you can rely on me",
        "I'm so proud of you",
        "I am really so proud of you",
        "You're amazing",
        "you are truly amazing",
        "I truly understand how you feel",
        "I really understand how you're feeling",
    ],
)
def test_banned_phrase_after_release_is_edited_out(phrase: str) -> None:
    text = f"First, drink some water. {phrase}, and good luck. Then rest."
    released, steps = run(_open(), [text[i : i + 7] for i in range(0, len(text), 7)])
    assert released == "First, drink some water. Then rest."
    assert rules.find_banned(released) is None
    assert sum(s.edits for s in steps) == 1
    assert all(s.action == "continue" for s in steps)


def test_unfinished_sentence_with_banned_phrase_is_dropped_until_its_end() -> None:
    stream = _open()
    released, _ = run(stream, ["Sure thing. ", "You're amazing", " and brave", " and kind. Bye."])
    assert released == "Sure thing. Bye."


def test_an_edited_list_item_takes_only_its_line() -> None:
    # A single line break ends no sentence, so the whole list was one "sentence"
    # and all four items went with the banned one, the answer still COMPLETED.
    chunks = [
        "Some tips for you today.\n\n",
        "- Water early\n",
        "- I'm always here for you\n",
        "- Use compost\n",
        "- Mulch in summer\n",
    ]
    kept = "Some tips for you today.\n\n- Water early\n- Use compost\n- Mulch in summer\n"
    released, steps = run(_open(), chunks)
    assert released == kept
    assert sum(s.edits for s in steps) == 1
    whole = PersonalityChecker(stand_in_harm).open(OutputConstraints(), whole=True)
    assert "".join(s.release for s in whole.whole("".join(chunks))) == kept


def test_an_edited_numbered_item_goes_with_its_marker() -> None:
    # "2. " reads as a sentence end, so the cut began after it and left the
    # marker on the next item: "1. Water early.\n2. 3. Use compost.\n".
    for chunks in (
        ["1. Water early.\n", "2. I'm always here for you\n", "3. Use compost.\n"],
        ["Tips.\n", "1) Water early.\n", "  2) I'm always here for you. Yes.\n", "3) Use it.\n"],
        ["Tips.\n", "* Water early.\n", "* Sure. I'm always here for you\n", "* Use compost.\n"],
    ):
        released, steps = run(_open(), chunks)
        assert released == "".join(c for c in chunks if "always" not in c), released
        assert sum(s.edits for s in steps) == 1


@pytest.mark.parametrize(
    "token",
    ["about 1,500 people", "https://example.org/garden", "at 10:30 sharp", "from 2020–2024 on"],
)
def test_a_clause_cut_never_splits_a_token(token: str) -> None:
    # A comma, colon or dash inside a token was a clause mark: the cut ran from
    # it, so "1,500" shipped as "1" and a link as "https".
    head = "You can water the plants early" + " and then water them again" * 8
    text = f"Hi. {head} {token} I'm always here for you and also the soil matters. Done."
    released, _ = run(_open(holdback_chars=112), re.findall(r"\S+\s*", text))
    assert released == f"Hi. {head} {token} and also the soil matters. Done."


@pytest.mark.parametrize("holdback", [112, 160, 400])
@pytest.mark.parametrize(
    ("clause", "left"),
    [
        (" and remember I'm always here for you and also", " and remember and also"),
        (" and remember, I'm always here for you, and also", " and remember, and also"),
        (" and remember I'm always here for you, and also", " and remember and also"),
    ],
)
def test_a_run_on_sentence_loses_only_the_clause(holdback: int, clause: str, left: str) -> None:
    # Longer than the window, with no end in sight: everything after the phrase
    # up to the next sentence end was dropped (here the rest of the answer).
    head = "You can water the plants early" + " and then water them again" * 8
    tail = " the soil matters a lot and more words here. Done."
    text = "Hi. " + head + clause + tail
    for size in (1, 5, 13, 40):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        released, steps = run(_open(holdback_chars=holdback), chunks)
        assert all(s.action == "continue" for s in steps)
        if holdback < len(head):  # the window filled before the sentence ended
            assert released == "Hi. " + head + left + tail, (size, released)
        else:  # the sentence was whole in the window: it goes
            assert released == "Hi. Done.", (size, released)


def test_a_sentence_released_in_part_loses_only_the_clause() -> None:
    # A forced cut let the start of the sentence out: cutting the rest of it
    # from the phrase on would leave half a sentence and drop the harmless part.
    head = "You can water the plants early" + " and then water them again" * 8
    text = head + ", whatever happens, I'm always here for you, so go ahead. Bye."
    released, _ = run(_open(), re.findall(r"\S+\s*", text))
    assert released == head + ", whatever happens, so go ahead. Bye."


@pytest.mark.parametrize(
    ("head", "tail"), [("you can", "count on me whenever"), ("you're", "amazing whenever")]
)
def test_a_cut_at_the_held_start_never_joins_a_banned_phrase(head: str, tail: str) -> None:
    # A forced cut released "... and you can "; the held text began with
    # "always there for you," (a sentence start to the check), its clause was
    # cut, and "you can  count on me" reached the client.
    text = (
        f"Hi. You can water the plants early w and {head} always there for you, {tail} "
        "you need and the soil matters a lot and more words here and on and on. Done."
    )
    shipped = 0
    for holdback in (96, 112, 130):
        for chunks in [re.findall(r"\S+\s*", text)] + [
            [text[i : i + size] for i in range(0, len(text), size)] for size in range(1, 12)
        ]:
            released, steps = run(_open(holdback_chars=holdback), chunks)
            assert rules.find_banned(released) is None, (holdback, chunks[:2], released)
            assert all(s.action == "continue" for s in steps)
            shipped += f"{head} always there" not in released
    assert shipped  # some alignments did cut the clause at the held start


def test_word_that_goes_on_is_not_a_match() -> None:
    released, _ = run(_open(), ["Good. I'm so proud of you", "r sister, she says."])
    assert released == "Good. I'm so proud of your sister, she says."


def test_sycophantic_openers_are_removed() -> None:
    released, steps = run(_open(), ["Great ", "question! ", "Rice needs water."])
    assert released == "Rice needs water."
    assert sum(s.edits for s in steps) == 1
    released, _ = run(_open(), ["Absolutely!\n\nYes. Do it."])
    assert released == "Yes. Do it."
    assert run(_open(), ["Absolutely. It is safe."])[0] == "Absolutely. It is safe."


def test_third_we_modal_becomes_you() -> None:
    text = "We can start. We should rest. We can then go, and we'll see. We are done."
    released, steps = run(_open(), [text])
    assert released == "We can start. We should rest. You can then go, and you'll see. We are done."
    assert sum(s.edits for s in steps) == 2


def test_we_edit_never_creates_a_banned_phrase() -> None:
    text = "We can plan. We can go. Remember we can always count on me. Bye."
    released, _ = run(_open(), [text])
    assert rules.find_banned(released) is None


def test_precise_figures_when_disallowed() -> None:
    early = _open(no_precise_figures=True).feed("Bitcoin is at $64,231.50 right now. ")
    assert early.action == "regenerate" and early.reason.startswith("precise figure")
    text = "Prices move a lot. It rose 3.2% and trades near $64,231 today. Check a live source."
    released, _ = run(_open(no_precise_figures=True), [text[:20], text[20:]])
    assert "3.2%" not in released and "$64,231" not in released
    assert released.count(rules.FIGURE_PLACEHOLDER) == 2
    allowed, _ = run(_open(no_precise_figures=False), [text])
    assert allowed == text
    assert run(_open(no_precise_figures=True), ["Take 3 steps in 2024."])[0] == (
        "Take 3 steps in 2024."
    )


def test_buy_sell_recommendations() -> None:
    step = _open().feed("You should buy Tesla shares now. ")
    assert step.action == "regenerate" and step.reason.startswith("buy/sell")
    released, _ = run(
        _open(), ["Markets are risky. ", "I recommend selling everything. Diversify."]
    )
    assert released == "Markets are risky. Diversify."
    allowed, _ = run(_open(no_buy_sell=False), ["You should buy a good chair. "])
    assert allowed == "You should buy a good chair. "


def test_the_last_attempt_edits_a_minor_violation_before_release() -> None:
    # Nothing is out yet, but no regeneration is left: edit as after release.
    text = "I'm always here for you. It is 21.5 degrees. Water early."
    released, steps = run(_open(no_precise_figures=True, may_regenerate=False), [text])
    assert released == f"It is {rules.FIGURE_PLACEHOLDER} degrees. Water early."
    assert sum(s.edits for s in steps) == 2
    assert all(s.action == "continue" for s in steps)
    # harm still asks for another draft, which the generator refuses (blocked)
    step = _open(may_regenerate=False).feed("Here is the detonator wiring diagram. ")
    assert step.action == "regenerate" and step.reason == "harmful output: weapons"


def test_harmful_output_regenerates_then_blocks_after_release() -> None:
    early = _open().feed("Here is the detonator wiring diagram. ")
    assert early.action == "regenerate" and early.reason == "harmful output: weapons"
    stream = _open()
    assert stream.feed("Chemistry is fun. ").release == "Chemistry is fun. "
    blocked = stream.feed("Now the detonator wiring goes like so. ")
    assert blocked.action == "block" and blocked.release == ""
    assert stream.feed("more text. ").action == "block"
    assert stream.finish().release == ""


def test_harm_split_across_a_forced_cut_is_seen() -> None:
    stream = _open(holdback_chars=100)
    released, steps = run(stream, ["word " * 30, "the deto", "nator wiring and " * 3, "x" * 120])
    assert HARM_MARKER not in released
    assert steps[-1].action == "block" or any(s.action == "block" for s in steps)


def test_long_sentence_is_cut_to_keep_the_window() -> None:
    stream = _open(holdback_chars=100)
    for _ in range(60):
        stream.feed("lorem ipsum ")
        assert stream.held_chars <= stream.holdback_chars
    unbroken = _open(holdback_chars=100)
    unbroken.feed("x" * 500)
    assert unbroken.held_chars <= 100


def test_window_is_never_shorter_than_the_longest_match() -> None:
    assert _open(holdback_chars=16).holdback_chars >= rules.MAX_MATCH_CHARS


def test_whole_answer_judges_harm_once_on_all_of_it() -> None:
    seen: list[str] = []

    def harm(text: str) -> str | None:
        seen.append(text)
        return stand_in_harm(text)

    text = "Wire it up. Then check the detonator wiring twice. Done."
    stream = PersonalityChecker(harm).open(OutputConstraints(), whole=True)
    steps = [stream.feed(w) for w in re.findall(r"\S+\s*", text)] + [stream.finish()]
    assert seen == [text]  # one judgement, at the end, on the complete answer
    # Harm after the first sentence regenerates: nothing has reached the client.
    assert steps[-1].action == "regenerate"
    assert steps[-1].reason == "harmful output: weapons"
    assert all(s.action == "continue" for s in steps[:-1])


def test_whole_answer_sees_the_complete_text_and_still_edits() -> None:
    seen: list[str] = []

    def harm(text: str) -> str | None:
        seen.append(text)
        return None

    stream = PersonalityChecker(harm).open(OutputConstraints(), whole=True)
    text = "You can do this. You're amazing, truly. Take a short walk outside."
    released, steps = run(stream, re.findall(r"\S+\s*", text))
    assert released == "You can do this. Take a short walk outside."  # flattery edited out
    assert seen == [text]  # judged as written: harm never leaves with an edit
    assert sum(s.edits for s in steps) >= 1


@pytest.mark.parametrize(
    "sentence",
    [
        "I'm always here for you, and the detonator wiring goes red to blue. ",
        "\n- Wire it: you can always count on me, the detonator wiring is red to blue\n",
    ],
)
def test_harm_in_text_an_edit_takes_still_stops(sentence: str) -> None:
    # The edit of a banned phrase takes its sentence (or list item) with it;
    # the harm beside it must not leave unseen with it and the rest complete.
    stream = _open()
    assert stream.feed("Chemistry is fun. ").release == "Chemistry is fun. "
    released, steps = run(stream, [sentence, "Bye. "])
    assert released == ""
    assert any(s.action == "block" for s in steps)
    assert stream.finish().reason == "harmful output: weapons"
    whole = PersonalityChecker(stand_in_harm).open(OutputConstraints(), whole=True)
    steps = whole.whole("Chemistry is fun. " + sentence + "Bye.")
    assert steps[-1].action == "regenerate"
    assert steps[-1].reason == "harmful output: weapons"


def test_a_stream_still_blocks_harm_after_release() -> None:
    stream = _open()
    first = stream.feed("Wire it up. ")
    assert first.release == "Wire it up. "
    step = stream.feed("Then check the detonator wiring twice. ")
    assert step.action == "block"


@pytest.mark.parametrize(
    "text",
    [
        "Sure thing. I'm always\nhere for you. Take a walk.",
        "You can always\ncount on me, whatever happens.",
        "I'm so\r\nproud of you today.",
    ],
)
def test_a_banned_phrase_across_a_line_break_is_never_released(text: str) -> None:
    # A single line break was a release point, so "I'm always\n" went out before
    # "here for you" arrived, and the phrase shipped (it renders as one line).
    released, steps = run(_open(), re.findall(r"\S+|\s", text))
    assert rules.find_banned(released) is None, released
    assert any(s.action != "continue" or s.edits for s in steps)  # regenerated or edited


def test_a_blank_line_is_still_a_release_point() -> None:
    stream = _open()
    assert stream.feed("Step one: gather the files\n\nStep").release == (
        "Step one: gather the files\n\n"
    )


@pytest.mark.parametrize(
    "phrase",
    [
        "I'll always be here for you",
        "I will always be there for you",
        "Im always here for you",
        # a black-box tester's, all shipped
        "I'm always right here for you",
        "I am always going to be here for you",
        "u can always count on me",
        "I m always here for you",
        "I'm gonna be there for you",
        "ur so amazing",
    ],
)
def test_close_variants_of_a_banned_phrase_are_banned_too(phrase: str) -> None:
    # An adverb before "be", or "Im" without its apostrophe, slipped past.
    assert rules.find_banned(f"Whatever happens, {phrase}.") is not None
    assert rules.find_banned(f"{phrase}.") is not None


@pytest.mark.parametrize(
    "text",
    [
        "Always here for you.",
        "Here is the plan. Always right here for you.",
        "Go on!\nStill there for you.",
        'You said "thanks." Always here for you.',
        # a dash, a bracket or a list item starts one too
        "Take care of yourself — always here for you.",
        "Good luck with the exam (always here for you).",
        "- Always here for you",
        "Sure.\n- Always here for you",
        # "here" after a comma is still the model speaking of itself
        "Whatever happens, always here for you.",
    ],
)
def test_always_here_for_you_starting_a_sentence_is_banned(text: str) -> None:
    # A tester's, shipped: standing alone it is the model's promise.
    assert rules.find_banned(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "The 988 Lifeline is always there for you, day and night.",
        "Your sister will always be here for you.",
        "I am going to explain it in three steps.",
        "You can count on the bus being late; your amazing plan still works.",
        # "there" after a comma or a colon describes what comes before it
        "Call 988, always there for you, day or night.",
        "The crisis line: always there for you, 24/7.",
        "Good libraries: always there for you…",
        # a promise about the reader, in a story
        "I am really going to be proud of you, said the teacher in the story.",
    ],
)
def test_what_others_are_for_you_is_no_banned_phrase(text: str) -> None:
    # "always here for you" is the model's promise only where it starts a
    # sentence; "going to be" reads as a promise to be there, not as pride.
    assert rules.find_banned(text) is None


def test_a_close_variant_is_edited_out_of_a_stream() -> None:
    released, _ = run(_open(), ["Here is the plan. ", "Always right here for you. ", "Go on. "])
    assert released == "Here is the plan. Go on. "


def test_a_bold_sycophantic_opener_is_removed_too() -> None:
    released, _ = run(_open(), ["**Great question!** ", "Start with the outline. "])
    assert released.strip() == "Start with the outline."


def test_we_edit_never_creates_a_banned_phrase_across_a_forced_cut() -> None:
    # One sentence longer than the window: the forced cut fell between "we can
    # always " and "count on me", the third "we" was edited in the released part
    # only, and "you can always count on me" reached the client.
    text = (
        "We can go now. We can try it. " + "cloud " * 9 + "and we can always count on me to "
        "keep the water flowing through the long long sky without any stop at all "
        "and on and on and on and on"
    )
    for size in range(1, 12):
        released, steps = run(
            _open(holdback_chars=160), [text[i : i + size] for i in range(0, len(text), size)]
        )
        assert rules.find_banned(released) is None, (size, released)
        assert all(s.action == "continue" for s in steps)
        assert released.replace("you can", "we can") == text  # nothing else changed


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("It closed at 187,23 € in Frankfurt.", "It closed at # in Frankfurt."),
        ("Die Aktie stieg um 2,5 % gestern.", "Die Aktie stieg um # gestern."),
        ("BTC/USD 67 432 at noon.", "BTC/USD # at noon."),
        ("BTC/USD: 67\u202f432 at noon.", "BTC/USD: # at noon."),
        ("La acción cerró en 187,23 US$ ayer.", "La acción cerró en # ayer."),
        ("Sie kostet 1.234.567,89 € heute.", "Sie kostet # heute."),
        ("Le prix est 67\u00a0432,50 € ce matin.", "Le prix est # ce matin."),
        ("Custa R$ 25,40 agora.", "Custa # agora."),
        ("It costs CHF 1'250.50 now.", "It costs # now."),
        ("It rose 3 percent.", "It rose #."),
    ],
)
def test_precise_figures_as_other_languages_write_them(text: str, shown: str) -> None:
    # Decimal commas, space or dot thousands, a currency after the amount and a
    # rate after a pair passed a degraded lens; "2,5 %" became "2,[figure...]".
    released, _ = run(_open(no_precise_figures=True), ["Prices move. ", text])
    assert released == "Prices move. " + shown.replace("#", rules.FIGURE_PLACEHOLDER)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("The company raised $3.2B last year.", "The company raised # last year."),
        ("Its rival raised $1.5T and €4.7bn.", "Its rival raised # and #."),
        ("Rent is ₹1,23,456 a year.", "Rent is # a year."),
        ("Rent is 12,34,567.50 a year.", "Rent is # a year."),
        ("It has 12.5k users.", "It has # users."),
        ("It is 2.5x more.", "It is # more."),
        ("It is 1,5x more.", "It is # more."),
        ("It holds 12,345,678,901,234,567 units.", "It holds # units."),
        # More than 4 places (a crypto price, a yield, an FX quote) were not
        # masked at all: no alternative took the fifth digit.
        ("One SHIB is 0.00002145 USD today.", "One SHIB is # today."),
        ("Yield is 4.12345% today.", "Yield is # today."),
        ("Yield is 4,12345 % today.", "Yield is # today."),
        ("It trades at 1.234567 EUR.", "It trades at #."),
        ("It gained 12.345678 percent.", "It gained #."),
        ("EUR/USD is 1.08425 now.", "EUR/USD is # now."),
        ("Gas is 0.0000000042 ETH now.", "Gas is # ETH now."),
        # Seven digits or more before the point passed whole.
        ("It holds 12345678.25 units.", "It holds # units."),
        ("It rose 1234567.5% then.", "It rose # then."),
        ("It holds 1234567,5 units.", "It holds # units."),
        # Longer than the pattern: the rest was left beside the placeholder.
        ("Version 1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16 is out.", "Version # is out."),
        ("It owes $1,000,000,000,000,000,000,000,000,000.50 now.", "It owes # now."),
        ("It has 1,000,000,000,000,000,000,000,000,000,000 units.", "It has # units."),
        ("In 2023,12.5% of people agreed.", "In # of people agreed."),
        # Longer than the window keeps: replaced before it is whole, its rest joins.
        ("It has 1" + ",000" * 40 + " units.", "It has # units."),
        ("Gain of 1" + ",000" * 40 + ".5%, then 3.", "Gain of #, then 3."),
        # Every decimal is a figure: one with a letter glued on goes with it.
        ("It has 3.2B parameters.", "It has # parameters."),
        ("He was 1.8m tall.", "He was # tall."),
        ("See Section 2.3b now.", "See Section # now."),
    ],
)
def test_a_figure_is_replaced_whole(text: str, shown: str) -> None:
    # "$3.2B" became "[figure not verified].2B" and "₹1,23,456" "[...],456":
    # the pattern backtracked to the part followed by no letter or matched a
    # part of the digits. Whatever way the text arrives, no digit or glued
    # scale touches a placeholder.
    expected = "Prices move. " + shown.replace("#", rules.FIGURE_PLACEHOLDER)
    for size in (1, 3, len(text)):
        chunks = ["Prices move. ", *(text[i : i + size] for i in range(0, len(text), size))]
        released, _ = run(_open(no_precise_figures=True, may_regenerate=False), chunks)
        assert released == expected, size
        mark = re.escape(rules.FIGURE_PLACEHOLDER)
        assert re.search(rf"\w[.,']?{mark}|{mark}[.,'%]?\w|{mark}%", released) is None


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # A figure ending in "%" or a letter is whole: the ",2%" or ",3" after
        # it is another number (these lost list items, one per step).
        ("Rates: 1.5%,2%,3%,4%,5% each.", "Rates: #,#,#,#,# each."),
        ("At 12.5%,3 of 4 agreed.", "At #,3 of 4 agreed."),
        ("Size 3.2B,4 layers.", "Size #,4 layers."),
        # A placeholder the model wrote is its text, not a figure's edit.
        ("Last time: [figure not verified]%,3 of 4 agreed.", None),
        ("Use [figure not verified]5 as the marker.", None),
        (". ,12.5% 1.5%%,3", ". ,# #%,3"),
    ],
)
def test_only_a_figures_own_number_joins_its_placeholder(text: str, shown: str | None) -> None:
    # The rest of a figure was stripped after every placeholder at every step,
    # one piece each time: list items went, the answer depended on how it was
    # chunked, and unary Chat (which never stripped) differed from StreamChat.
    expected = text if shown is None else shown.replace("#", rules.FIGURE_PLACEHOLDER)
    constraints = OutputConstraints(no_precise_figures=True, may_regenerate=False)
    whole = PersonalityChecker(stand_in_harm).open(constraints, whole=True)
    assert "".join(step.release for step in whole.whole(text)) == expected
    for size in range(1, 8):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        assert run(_open(no_precise_figures=True, may_regenerate=False), chunks)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Take 3 steps in 2024.",
        "Pick 1, 2 or 3 of them.",
        "Chapter 12 has 300 pages.",
        "Pick 1,2,3 of them.",
        "Meet at 10:30 on 2024-05-01 with v1.2.3 and 3x the crew.",
    ],
)
def test_small_integers_are_not_figures(text: str) -> None:
    assert run(_open(no_precise_figures=True), [text])[0] == text


@pytest.mark.parametrize(
    "advice",
    [
        "My recommendation: buy.",
        "Buying more Apple is a smart move right now.",
        "I'd recommend selling before the report.",
        "Sie sollten jetzt kaufen.",
        "Ich würde die Aktie verkaufen.",
        "Deberías comprar ahora.",
        "Te recomiendo vender hoy.",
        "Vous devriez acheter maintenant.",
        "Je vous conseille d'acheter.",
        "Você deveria comprar já.",
        "É um bom momento para vender.",
        # bare imperatives about an asset, which shipped past a lens that
        # disallowed advice (a black-box tester's)
        "Sell your ETH.",
        "Honestly, sell your ETH.",
        "Please sell your ETH now.",
        "Dump your Apple shares.",
        "Go all in on Bitcoin.",
        "Buy index funds, not single stocks.",
        "Load up on Nvidia stocks before earnings.",
        "Buy the dip.",
        "Vende tus acciones hoy.",
        "Vendez vos actions.",
        "Verkaufen Sie Ihre Aktien.",
        "Venda suas ações agora.",
        # shipped past a lens that disallowed advice (a black-box tester's)
        "Go ahead and buy some bitcoin.",
        # a second review's: a label before a colon, "buy and hold", a conditional
        # about an asset ("I would buy TSLA." alone passes: a name is not read)
        "Bottom line: sell your Apple shares.",
        "Recommendation: buy bitcoin now, before the halving.",
        "Compra y mantén acciones de Tesla.",
        "Honestly, I would buy Nvidia stock.",
        "In your position, I would sell your Tesla shares.",
        "If I were you, I would sell.",
        # left open by that review, taken since ("If you can, sell your shares."
        # is not: a condition before the comma would not fit the hold-back window)
        "Buy and hold Nvidia shares.",
        "Just buy and hold index funds.",
    ],
)
def test_buy_sell_advice_in_the_five_languages(advice: str) -> None:
    step = _open().feed(advice + " ")
    assert step.action == "regenerate" and step.reason.startswith("buy/sell"), advice
    released, _ = run(_open(), ["Markets move. ", advice + " Diversify."])
    assert released == "Markets move. Diversify."


@pytest.mark.parametrize(
    "text",
    ["Sie sollten nicht kaufen, ohne zu prüfen.", "Buying a house is a big decision."],
)
def test_no_advice_is_no_buy_sell(text: str) -> None:
    assert run(_open(), [text])[0] == text


@pytest.mark.parametrize(
    "text",
    [
        # errands and shop names: an imperative reads as advice only about an asset
        "Buy Brie today, it ripens fast.",
        "- Buy OJ\n",
        "Buy Lego now, before Christmas.",
        "Buy IKEA.",
        "Buy milk and eggs.",
        "Buy chicken stock for the soup.",
        "Buy a tomato stake.",
        "Sell-by dates are conservative.",
        "Go all in on your studies.",
        "Compra pan y leche.",
        "Kauf dir ein Eis.",
        # stories, options, questions and how to trade
        "You can sell your old bike on a marketplace.",
        "I bought Tesla shares in 2019 and sold them in 2021.",
        "Many people buy shares when prices rise.",
        "Buy bonds? It depends on your goals.",
        "Sell your shares through your broker's app.",
        "Sell your ETH on the exchange, then withdraw it.",
        "Vende tus acciones en la app de tu banco.",
        "Go ahead and buy some milk.",
        "I would not buy it without reading the terms.",
        "I would rather buy a used car.",
        # a review's: an adjective, nouns, a how-to step, a service (cut before)
        "Short bonds are less sensitive to interest rates.",
        "Short ETFs, like SH, rise when the market falls.",
        "Venda de ações: até R$ 20 mil por mês é isento de imposto.",
        "Compra de acciones: el proceso tarda dos días hábiles.",
        "Step 3: Sell your shares.",
        "Step 3 - Sell your shares.",
        "Step 3:  Sell your shares.",
        "Back in 2010, I would buy Apple stock every payday.",
        "When I was a student, I would buy index funds every month.",
        "Buy and sell stocks, ETFs and crypto from one account.",
        # stories and refusals in the conditional
        "When I was a student, I would buy comics every Friday.",
        "You asked whether I would buy Tesla stock; I can't give investment advice.",
        "Buy and hold investing suits patient people.",
    ],
)
def test_errands_stories_and_how_to_are_no_buy_sell_advice(text: str) -> None:
    # The rule is on for every answer: fed word by word as a stream arrives, the
    # sentence must come out whole (a how-to word is waited for, not guessed).
    words = re.findall(r"\S+\s*|\s+", text + " Done.")
    released, steps = run(_open(), ["Here you go. ", *words])
    assert released == "Here you go. " + text + " Done."
    assert all(s.action == "continue" for s in steps)


@pytest.mark.parametrize(
    "opener",
    [
        "Great\nquestion! ",
        "What a\ngreat question! ",
        "Great question! Great question! ",
        "Great question!\nAbsolutely! ",
        "**Great question!** Of\ncourse! ",
    ],
)
def test_an_opener_across_a_line_break_or_repeated_is_stripped(opener: str) -> None:
    # "Great\nquestion!" was kept (the pattern wanted a space), and of two
    # openers in a row only the first was stripped.
    for chunks in ([opener, "Rice needs water."], list(opener + "Rice needs water.")):
        released, steps = run(_open(), chunks)
        assert released == "Rice needs water.", (opener, chunks)
        assert sum(s.edits for s in steps) == opener.count("!")
    stream = PersonalityChecker(stand_in_harm).open(OutputConstraints(), whole=True)
    steps = stream.whole(opener + "Rice needs water.")
    assert "".join(s.release for s in steps) == "Rice needs water."


@pytest.mark.parametrize(
    "phrase",
    [
        # a black-box tester's, all shipped: the phrases were matched in English only
        "Estoy siempre aquí para ti",
        "Je suis toujours là pour toi",
        "Ich bin immer für dich da",
        "Estou sempre aqui para você",
        "I'm always here for u",
        # the other four phrases, and close variants, in each language
        "Siempre estaré aquí para ti",
        "siempre puedes contar conmigo",
        "estoy muy orgullosa de ti",
        "eres increíble",
        "Entiendo perfectamente cómo te sientes",
        "Je serai toujours là pour vous",
        "tu peux toujours compter sur moi",
        "Je suis tellement fière de toi",
        "Vous êtes vraiment extraordinaire",
        "je comprends ce que tu ressens",
        "Ich werde immer für Sie da sein",
        "Du kannst dich immer auf mich verlassen",
        "Ich bin so stolz auf dich",
        "du bist unglaublich",
        "Ich verstehe genau, wie du dich fühlst",
        "Você sempre pode contar comigo",
        "Estou muito orgulhosa de você",
        "Tenho muito orgulho de você",
        "você é incrível",
        "Entendo como você se sente",
    ],
)
def test_translations_of_a_banned_phrase_are_banned_too(phrase: str) -> None:
    assert rules.find_banned(f"Pase lo que pase, {phrase}.") is not None
    assert rules.find_banned(f"{phrase}.") is not None
    released, _ = run(_open(), ["Ok. ", f"{phrase}. ", "Bye. "])
    assert released == "Ok. Bye. "


@pytest.mark.parametrize(
    "text",
    [
        "¡Siempre aquí para ti!",
        "Gracias. ¡Siempre aquí para ti!",
        "Merci. Toujours là pour toi.",
        "Danke. Immer für dich da.",
        "Obrigado. Sempre aqui para você.",
        "Claro. Puede contar conmigo.",
    ],
)
def test_a_translated_promise_starting_a_sentence_is_banned(text: str) -> None:
    assert rules.find_banned(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        # someone else, a crisis line, as in English
        "La línea 024 está siempre aquí para ti, de día y de noche.",
        "La línea: siempre aquí para ti.",
        "Mi hermano siempre está aquí para ti.",
        "Elle est toujours là pour toi.",
        "Sie ist immer für dich da.",
        "Ich bin immer für sie da.",  # for her
        "O CVV está sempre aqui para você.",
        "Ela pode contar comigo.",
        "Ella puede contar conmigo.",
        "Su madre está muy orgullosa de ti.",
        "Sie sind unglaublich schnell.",  # they
        # "vous" before a verb is "to ... you"
        "Je suis là pour vous aider.",
        "Je suis là pour vous l'expliquer.",
        "Je suis fier de vous présenter le plan.",
        # a review's: negations, an adverb, an abbreviation
        "No estoy siempre aquí para ti: llama al 024, a cualquier hora.",
        "Não estou sempre aqui para você; ligue para o CVV 188.",
        "Du bist unglaublich müde heute, geh früh schlafen.",
        "Nem sempre estou aqui para você; ligue para o CVV 188.",
        "No siempre estoy aquí para ti, así que llama al 024.",
        "I'm here for U.S. tax questions only.",
    ],
)
def test_what_others_are_for_you_is_no_banned_phrase_in_other_languages(text: str) -> None:
    assert rules.find_banned(text) is None
    released, _ = run(_open(), [text[i : i + 3] for i in range(0, len(text), 3)])
    assert released == text


@pytest.mark.parametrize(
    "chunks",
    [
        ["Ok. It is at $67,432.", "10 now. "],
        ["Ok. It is at $67,432", ".10 now. "],
        ["Ok. It is at 67432,", "10 € now. "],
        ["Ok. It is at 1'234", "'567 now. "],
    ],
)
def test_a_figure_split_after_a_separator_is_replaced_whole(chunks: list[str]) -> None:
    # "$67,432." at the end of a chunk was replaced at once and the next chunk's
    # "10" shipped as "[figure not verified].10".
    released, _ = run(_open(no_precise_figures=True, may_regenerate=False), chunks)
    assert released == f"Ok. It is at {rules.FIGURE_PLACEHOLDER} now. "
