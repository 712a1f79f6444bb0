"""Which token subjects name a caller: ``subject_refusal`` (the gateway and ``novaos token``)."""

from __future__ import annotations

import pytest

from novaos.domain import subject_refusal

# Each was refused while every format character (Cf) was: an IdP that uses readable
# names as sub had its tokens turn TOKEN_INVALID.
ORDINARY = {
    "persian-zwnj": "می\u200cخواهم",
    "devanagari-zwj": "क्\u200dष",
    "emoji-zwj-family": "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "subdivision-flag": "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "soft-hyphen": "Schiff\u00adfahrt",
    "arabic-number-sign": "\u0600\u0661\u0662",
    "auth0": "auth0|5f7c8ec7c33c6c004bbafe82",
    "idn-mail": "josé@bücher.de",
}

HIDDEN = {
    "line-separator": ("eve\u2028x", "U+2028"),
    "paragraph-separator": ("eve\u2029x", "U+2029"),
    "next-line": ("mal\x85lory", "U+0085"),
    "escape": ("ansi\x1b[31mRED", "U+001B"),
    "lone-surrogate": ("a\ud800b", "U+D800"),
    "zero-width-space": ("al\u200bice", "U+200B"),
    "word-joiner": ("al\u2060ice", "U+2060"),
    "byte-order-mark": ("\ufeffalice", "U+FEFF"),
    "bidi-override": ("\u202eexe.live", "U+202E"),
    "bidi-isolate": ("a\u2067b", "U+2067"),
    "left-to-right-mark": ("alice\u200e", "U+200E"),
    "right-to-left-mark": ("alice\u200f", "U+200F"),
    "arabic-letter-mark": ("\u061calice", "U+061C"),
}


@pytest.mark.parametrize("sub", ORDINARY.values(), ids=ORDINARY.keys())
def test_names_in_every_script_with_their_joiners_are_subjects(sub: str) -> None:
    assert subject_refusal(sub) is None


@pytest.mark.parametrize(("sub", "code_point"), HIDDEN.values(), ids=HIDDEN.keys())
def test_controls_separators_bidi_controls_and_invisibles_are_refused(
    sub: str, code_point: str
) -> None:
    assert subject_refusal(sub) == f"sub: holds a control or invisible character ({code_point})"


@pytest.mark.parametrize("sub", ["\u200d", "\u200c\u200d", "\u00ad", "\U000e0061 \u200d"])
def test_a_subject_of_joiners_alone_is_refused(sub: str) -> None:
    assert subject_refusal(sub) == "sub: holds no visible character"
