"""Text normalisation for the shield: undo the cheap tricks before matching.

The shield matches its rules on a *canonical* form: NFKC, case-folded, each
run of characters that render as nothing (zero-width, soft hyphen, bidi marks,
fillers) read as nothing inside a word and as a space between words
(``respace``; the reading with them all taken out is a view too), Cyrillic/Greek
look-alikes folded to Latin, accents stripped (rules are written without them,
so "suicídio" and "suicidio" meet), leetspeak folded in words that are mostly
letters (``k1ll`` -> ``kill`` but ``401k`` stays; an age glued to its unit,
``13yo``, stays a number), letters spelled out one by
one joined (``b o m b``, ``k.i.l.l``), and everything that is not a letter or
digit turned into single spaces. Base64 segments, rot13 text and two readings
taken only where they make words the rules use (a capital I or a 1 inside a
lower-case word as an l: ``kiII``) and texting
shorthand spelled out (``kms``, ``wanna``, ``jveux``, ``kiero``, ``dont``,
``w/o``, ``sewer slide``, common misspellings of ``myself``, ``suicide``) are
decoded into extra *views* that
the shield checks as well.

Everything here is pure and allocation-light: tables and patterns are module
constants (immutable), built once at import.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Cyrillic and Greek letters that render like Latin ones (after case folding).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
        "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ɑ": "a", "ı": "i",
        "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u",
        "ν": "v", "ο": "o", "ρ": "p", "σ": "s", "ς": "s", "τ": "t", "υ": "u", "χ": "x",
        "ω": "w", "ϲ": "c", "ø": "o", "ł": "l", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe",
        # Cyrillic palochka, Armenian letters that pass for Latin ones
        "ӏ": "l", "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n",
        # Latin small capitals (NFKC leaves them; casefold does not reach them)
        "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h",
        "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p",
        "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    }
)  # fmt: skip
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
     "@": "a", "$": "s", "!": "i", "|": "l", "€": "e"}
)  # fmt: skip
_LEET_CHARS = frozenset("0134578@$!|€")

# A "chunk" keeps leet symbols inside words; trailing "!" is punctuation.
_CHUNK = re.compile(r"[^\W_]+(?:[@$!|€][^\W_]*)*|[@$€][^\W_]+")
_WORD = re.compile(r"[^\W_]+")
# k.i.l.l / p-i-p-e / b_o_m_b / b. o. m. b / b , o , m , b: single characters
# joined by one separator, a space allowed on either side of it.
_SEPARATORS = ".\\-_*·•/,+"
_DOTTED = re.compile(rf"(?<![^\W_])(?:[^\W_@$] ?[{_SEPARATORS}] ?){{2,}}[^\W_@$](?![^\W_])")
_DOTS = re.compile(rf"[ {_SEPARATORS}]")
# b o m b: three or more single characters separated by single spaces.
_SPACED = re.compile(r"(?<!\S)(?:[^\W_@$] ){2,}[^\W_@$](?!\S)")
_SPACES = re.compile(r"\s+")
_MAX_PIECE = 3  # letters in a piece of a split-up word ("pi pe bo mb")
_MAX_JOINED = 6  # pieces joined into one word at most
# Two or more tokens of one to three letters, the first after a space or an opening
# mark but never an apostrophe's tail ("son's tab"), the last followed by a space,
# the end, or closing marks ("bo mb."): the runs _fragments_joined reads.
_PIECE_RUN = re.compile(
    r"(?<![^\s(\"'])(?<![^\W_]')[^\W\d_]{1,3}(?:[ \t]+[^\W\d_]{1,3})+(?=[.,;:!?)\"']*(?:\s|$))"
)
_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_ROT13_HINT = re.compile(r"rot ?-?13|caesar|cesar|c[ée]sar")
# Single-letter words that must not be glued to the spelled-out word after them.
_LEADING_WORDS = frozenset({"a", "i", "y", "e", "o", "u"})
# "kiII" / "ki11" / "ki||": a capital I, a one or a bar inside a word otherwise in
# lower case, which case folding and leet read as i, may stand for an l.
_L_WORD = re.compile(r"(?<![^\W_])[a-z]+[I1|][a-zI1|]*(?![^\W_])")
_L_LIKE = str.maketrans("I1|", "lll")
# Texting shorthand and frequent misspellings of the words crisis messages turn
# on, read as the words they stand for (an extra view: the plain one stays).
_SHORTHAND = {
    # English
    "kms": "kill myself", "wanna": "want to", "gonna": "going to", "gotta": "got to",
    "idc": "i don t care", "idgaf": "i don t care", "rn": "right now", "tn": "tonight",
    "tonite": "tonight", "bf": "boyfriend", "gf": "girlfriend", "hubby": "husband",
    "thinkin": "thinking", "bout": "about", "cuz": "because", "bc": "because",
    "myslef": "myself", "mysefl": "myself", "myslf": "myself", "mysef": "myself",
    "myelf": "myself", "kil": "kill", "suicde": "suicide", "sucide": "suicide",
    "suicid": "suicide", "suiside": "suicide", "sucidal": "suicidal",
    "suicdal": "suicidal", "suicidel": "suicidal", "sewerslide": "suicide",
    # Contractions typed without the apostrophe (as the rules spell them), more shorthand
    "dont": "don t", "cant": "can t", "wont": "won t", "didnt": "didn t",
    "doesnt": "doesn t", "isnt": "isn t", "wasnt": "wasn t", "arent": "aren t",
    "couldnt": "couldn t", "wouldnt": "wouldn t", "shouldnt": "shouldn t",
    "havent": "haven t", "im": "i m", "hes": "he s", "shes": "she s",
    "theyll": "they ll", "theyre": "they re", "youre": "you re", "thats": "that s",
    "tonights": "tonight s", "todays": "today s",
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmrow": "tomorrow", "2nite": "tonight",
    "2night": "tonight", "wld": "would", "abt": "about", "ppl": "people",
    "msg": "message", "msgs": "messages", "lil": "little", "sis": "sister",
    "noone": "no one", "u": "you", "ur": "your", "gfs": "girlfriend s",
    "bfs": "boyfriend s", "insta": "instagram", "w": "with",
    # Spanish, Portuguese
    "kiero": "quiero", "xq": "porque", "pq": "porque", "vo": "vou", "hj": "hoje",
    "vc": "voce", "pra": "para", "q": "que",
    # French
    "jveux": "je veux", "jsuis": "je suis", "chuis": "je suis", "jvais": "je vais",
    "jpeux": "je peux", "jpense": "je pense",
}  # fmt: skip
# Two-word shorthand, read as the one word it stands for ("sewer slide", "w/o").
_SHORTHAND_PAIRS = {("sewer", "slide"): "suicide", ("sewer", "slides"): "suicide",
                    ("w", "o"): "without", ("how", "2"): "how to", ("want", "2"): "want to",
                    ("need", "2"): "need to", ("going", "2"): "going to"}  # fmt: skip
# Words that call for the spelled-out view: a pair is looked for only when its
# rarer word is there ("how", "want" alone would spell out most texts for nothing).
_SHORTHAND_KEYS = frozenset(_SHORTHAND) | {"sewer", "2"}
# An age glued to its unit ("13yo", "9yr"): the number stays a number.
# One with a leet digit is split where leet is undone (``_unleet``); the other
# digits ("9yo") need a scan of the text, as costly as a rule on a long message,
# so it runs only when such a digit stands right before a "y" (``_glued_age``).
_AGE = re.compile(r"(\d{1,2})(yo|yos|yr|yrs|yro|yrold|yearold)")
_AGE_IN_TEXT = re.compile(r"(?<![^\W_])(\d{1,2})(yo|yos|yr|yrs|yro|yrold|yearold)(?![^\W_])")
_MAX_B64_SEGMENTS = 3
_MAX_DECODED = 4096


@dataclass(frozen=True, slots=True)
class Normalized:
    """The forms of one message the shield matches on.

    ``folded`` keeps punctuation (for framing markers such as ``[system]``);
    ``views`` holds the canonical text first, then the other reading of
    spelled-out letters (if any) and decoded base64/rot13 views.
    """

    folded: str
    views: tuple[str, ...]
    flags: frozenset[str]

    @property
    def canonical(self) -> str:
        return self.views[0]


# Default_Ignorable_Code_Point characters that are not format characters (Cf):
# variation selectors (the emoji one, U+FE0F, among them), the combining
# grapheme joiner, Hangul and Khmer fillers, Mongolian selectors, the tag and
# variation-selector supplements. Rendered as nothing, they split a word for a
# matcher while the reader sees it whole ("ki\ufe0fll").
_IGNORABLE: dict[int, None] = dict.fromkeys(
    [
        0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810), 0x2065, 0x3164,
        *range(0xFE00, 0xFE10), 0xFFA0, *range(0xFFF0, 0xFFF9), *range(0xE0000, 0xE1000),
    ]
)  # fmt: skip


def shows_nothing(text: str) -> bool:
    """Whether ``text`` is blank to a reader: only whitespace and characters
    that render as nothing (format characters but those that draw a glyph,
    ``_VISIBLE_FORMAT``, and ``_IGNORABLE``), "\u200b" too.
    One regular-expression match, at C speed, up to the first character that
    shows: callers bound the text's length first."""
    return _blank().fullmatch(text) is not None


# Format characters that draw a glyph: the prepended concatenation marks
# (Arabic number sign, end of ayah "\u06dd", Syriac abbreviation mark, Kaithi
# number signs...). A message of one of them shows something.
_VISIBLE_FORMAT = frozenset(
    [*range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD]
)


@functools.cache
def _invisible_points() -> tuple[int, ...]:
    """The format characters (every code point of category Cf) and ``_IGNORABLE``."""
    return tuple(
        sorted(
            {cp for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf"}
            | set(_IGNORABLE)
        )
    )


def _class_body(points: Iterable[int]) -> str:
    """The body of a character class of ``points`` (ascending), as ranges."""
    ranges: list[list[int]] = []
    for cp in points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


@functools.cache
def _invisible_run() -> re.Pattern[str]:
    """A run of characters that render as nothing (the matchers read the
    visible format characters as nothing too). Built on first use."""
    body = _class_body(_invisible_points())
    return re.compile(f"([{body}]+)")  # a group: ``split`` keeps the runs


@functools.cache
def _blank() -> re.Pattern[str]:
    """Whitespace and characters that render as nothing, any number of them."""
    body = _class_body(cp for cp in _invisible_points() if cp not in _VISIBLE_FORMAT)
    return re.compile(rf"[\s{body}]*")


def prepare() -> None:
    """Build what reading a message with characters that render as nothing
    needs (a scan of every code point, ~0.1 s), so that the classifier's
    construction pays for it rather than the first such request."""
    _invisible_run()
    _blank()


_MAX_JOIN = 16  # pieces put together into one word at most
# The short words ``respace`` reads pieces as: one- and two-letter words of the
# five languages and what is left of a contraction once its apostrophe splits
# it ("what's", "I'll"). The shield knows many more short tokens ("mb", "xx"),
# which would read letters spelled out as pieces of nothing.
_SHORT = """
    a i y e o u s t m d ll re ve
    am an as at be by do go he hi if in is it me my no of ok on or so to up us we
    al de el en es ha la le lo mi ni se si su te tu un va ya yo
    au ce du et il je ma ne ou sa ta vu
    ab da er im ja ob um wo zu
    ao em eu na os vi
"""
_SHORT_WORDS = frozenset(_SHORT.split())
_MAX_WORD = 40  # characters of a word put together from pieces
_WORD_COST = 0.25  # of each word of a reading: fewer, longer words read better
_LETTER_RUN = re.compile(r"[^\W\d_]+")


@functools.lru_cache(maxsize=4)
def _segmenting_words(known: frozenset[str]) -> frozenset[str]:
    """The words ``respace`` puts pieces together into: ``known`` and the
    shorthand, but of the words of one or two letters only ``_SHORT_WORDS``,
    so letters spelled out with a separator between each are read as the word
    they spell ("b<ZWSP>o<ZWSP>m<ZWSP>b"), not as known one-letter words."""
    words = known | frozenset(_SHORTHAND)
    return frozenset(w for w in words if len(w) > 2 or w in _SHORT_WORDS)


# Invisible characters that stand between words where they are used: the
# zero-width space (a line-break opportunity), the Mongolian vowel separator
# (a space before Unicode 6.3) and the Hangul fillers, which render as blanks.
# The others (soft hyphen, joiners, variation selectors, tags) belong inside
# a word, a copied soft hyphen most often ("every<SHY>where").
_GAP_LIKE = frozenset("\u200b\u180e\u115f\u1160\u3164\uffa0")


def respace(text: str, known: frozenset[str]) -> str:
    """``text`` with each run of characters that render as nothing either taken
    out or read as a space, token by token (``_segment``).

    Put between the words instead of spaces ("I<ZWSP>want<ZWSP>to<ZWSP>kill
    <ZWSP>myself", a Hangul filler a reader sees as a blank) they are word gaps;
    inside a word ("ki<ZWSP>ll", a soft hyphen in "every<SHY>where", a word
    joiner in "pi<WJ>pe") they are nothing; both in one message, each run is
    decided on its own. ``text`` itself (the same object) when it has none."""
    if text.isascii():
        return text
    run = _invisible_run()
    if run.search(text) is None:
        return text
    words = _segmenting_words(known)
    out: list[str] = []
    for token in re.split(r"(\s+)", text):
        out.append(_segment(run.split(token), words) if run.search(token) else token)
    return "".join(out)


def _add_other_readings(views: list[str], text: str, known: frozenset[str]) -> None:
    """Beside ``respace``'s reading of ``text`` (``views[0]``), for the rules:
    each invisible run taken out (the reading before it: "to<ZWSP>do" may be
    "todo", and "a<ZWSP>bogado" is "abogado", a word the shield's list lacks),
    and each read as a space (``_all_gaps``)."""
    _add_view(views, _canonical_views(_fold_flags(text)[0])[0])
    if (gapped := _all_gaps(text, known)) is not None:
        _add_view(views, _canonical_views(_fold_flags(gapped)[0])[0])


def _all_gaps(text: str, known: frozenset[str]) -> str | None:
    """``text`` with every invisible run read as a space, when a token holds five
    pieces or more and at least three in four are words the shield knows:
    a soft hyphen or a joiner put between all the words of a message is read as
    nothing where ``respace`` finds the pieces too short to be sure
    ("how<SHY>do<SHY>I<SHY>hack<SHY>into"); the rules read this view too. None
    otherwise: a word hyphenated for print ("pro<SHY>tag<SHY>o<SHY>nist") is cut
    into pieces that are no words."""
    run = _invisible_run()
    words = _segmenting_words(known)
    for token in text.split():
        pieces = [fold(p) for p in run.split(token)[::2] if p]
        if len(pieces) > 4 and sum(_unknown(p, words) == 0 for p in pieces) * 4 >= len(pieces) * 3:
            return run.sub(" ", text)
    return None


def _run_costs(run: str, *, inside: bool = False) -> tuple[float, float]:
    """What reading ``run`` against its kind costs: (taken out, read as a space).
    A gap-like one is a space where it is used: taking a single one out costs
    more than an unknown word (two words the shield does not know stay apart:
    "several<ZWSP>branches"), a run of them more still. Another kind
    belongs inside a word, and costs a little more to read as a space than a
    word a split leaves unknown saves (``_segment``); several in a row may well
    stand for one. A soft hyphen is read as a space only against long odds: it
    marks where a word may break for print ("per<SHY>so<SHY>na<SHY>je"), and a
    message spelled with it between the words is read by ``_all_gaps``.
    ``inside``: runs of other lengths stand between the words, so a single one
    is inside a word whatever its kind."""
    if run == "\u00ad":  # a soft hyphen: where a word may break for print
        return 0.0, 2.5
    if _GAP_LIKE.isdisjoint(run) or (inside and len(run) == 1):
        return 0.0, (0.4 if len(run) == 1 else 0.1)
    return (1.5 if len(run) == 1 else 3.0), 0.0


def _segment(parts: list[str], known: frozenset[str]) -> str:
    """A token cut at its invisible runs (``parts``: pieces and the runs between
    them, alternately) put together into words. Of the readings, the one with
    the lowest cost: each word 0.25, and what its words not in ``known`` (leet
    undone) cost (``_unknown``) (so gluing a known word onto an unknown one, which makes
    no more unknown words, still costs: "the|recommended"), and each run read
    against its kind as ``_run_costs`` says; of equal ones, the fewest words."""
    pieces: list[str] = []
    befores: list[str] = []  # the run before each piece ("" before the first)
    before = ""
    for k, part in enumerate(parts):
        if k % 2:
            before += part
        elif part:
            pieces.append(part)
            befores.append(before if pieces[1:] else "")
            before = ""
    if not pieces:
        return ""
    # Single runs beside longer ones ("h<ZWSP>o<ZWSP>w<ZWSP><ZWSP><ZWSP>t<ZWSP>o"):
    # the longer ones are the word gaps, the single ones inside the words; so are
    # runs between single letters only ("t<ZWSP>e<ZWSP>l<ZWSP>l me").
    inside = len({len(b) for b in befores[1:]} - {0}) > 1 or all(len(p) == 1 for p in pieces)
    runs = [_run_costs(b, inside=inside) if b else (0.0, 0.0) for b in befores]
    folded = [fold(p) for p in pieces]
    n = len(pieces)
    # best[j]: (cost, words) of the best reading of pieces[:j]; back[j]: where
    # its last word starts.
    best: list[tuple[float, int]] = [(0.0, 0)] * (n + 1)
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        word, joined = "", 0.0  # the runs inside pieces[i:j], taken out
        choice = (0.0, 0)
        for i in range(j - 1, max(-1, j - 1 - _MAX_JOIN), -1):
            if i < j - 1:
                joined += runs[i + 1][0]
            word = folded[i] + word
            if i < j - 1 and len(word) > _MAX_WORD:
                break
            split = runs[i][1] if i > 0 else 0.0
            unknown = _unknown(word, known)
            # A word the shield knows is read whole, whatever the runs inside it:
            # "some<ZWSP>one", "over<ZWSP>dose" are "someone", "overdose".
            joined_here = joined if unknown else 0.0
            cost = (best[i][0] + unknown + joined_here + split + _WORD_COST, best[i][1] + 1)
            if i == j - 1 or cost < choice:
                choice, back[j] = cost, i
        best[j] = choice
    words: list[str] = []
    j = n
    while j > 0:
        words.append("".join(pieces[back[j] : j]))
        j = back[j]
    return " ".join(reversed(words))


def _unknown(word: str, known: frozenset[str]) -> float:
    """What the words of ``word`` the shield does not know cost: 1 each, 0.2 a
    letter, and 1.5 more for a single letter (no word: "r<ZWSP>ecommended")."""
    unknown = [w for w in _LETTER_RUN.findall(_unleet(word)) if w not in known]
    return len(unknown) + 0.2 * sum(map(len, unknown)) + 1.5 * sum(len(w) == 1 for w in unknown)


def _visible(text: str) -> str:
    """NFKC without the characters that render as nothing: format characters
    (zero-width, soft hyphen, bidi marks) and the other default-ignorables."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").translate(_IGNORABLE)


# Rendered as a blank, not as a letter or a mark: read as a space.
_BLANKS = {0x2800: " "}  # the Braille pattern blank


def _fold_flags(text: str) -> tuple[str, set[str]]:
    if text.isascii():  # NFKC, format characters, homoglyphs, accents: none can occur
        return text.lower(), set()
    flags: set[str] = set()
    visible = _visible(text)
    if len(visible) != len(unicodedata.normalize("NFKC", text)):
        flags.add("zero_width")
    lowered = visible.casefold().translate(_BLANKS)
    text = lowered.translate(_HOMOGLYPHS)
    if text != lowered:
        flags.add("homoglyph")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)), flags


def fold(text: str) -> str:
    """NFKC, drop format characters, case-fold, fold homoglyphs, strip accents."""
    return _fold_flags(text)[0]


@functools.lru_cache(maxsize=4096)
def fold_char(ch: str) -> str:
    """``fold`` of one character: what it reads as, "" when it renders as nothing.

    Folded one at a time, a text can be matched on and the match mapped back to
    the characters as written (the output checks edit what they find)."""
    return fold(ch)


def _join_spelled(text: str) -> tuple[str, str | None]:
    """Spelled-out letters joined; and the reading that also glues a leading
    one-letter word ("a b o m b" -> "abomb"), or None when no such run occurs."""
    text = _SPACES.sub(" ", _DOTTED.sub(lambda m: _DOTS.sub("", m.group(0)), text))
    split = False

    def glue(match: re.Match[str]) -> str:
        nonlocal split
        letters = match.group(0).split(" ")
        # "a b o m b" is usually "a bomb", but "e x p l o s i v e s" is one word:
        # the caller checks both readings.
        if len(letters) >= 4 and letters[0] in _LEADING_WORDS:
            split = True
            return letters[0] + " " + "".join(letters[1:])
        return "".join(letters)

    joined = _SPACED.sub(glue, text)
    return joined, _SPACED.sub(lambda m: m.group(0).replace(" ", ""), text) if split else None


def _unleet(chunk: str) -> str:
    if not _LEET_CHARS.intersection(chunk):
        return chunk
    if chunk[0].isdigit() and (age := _AGE.fullmatch(chunk)):
        return f"{age[1]} {age[2]}"  # an age glued to its unit, not leet ("13yo")
    letters = sum(ch.isalpha() for ch in chunk)
    others = len(chunk) - letters
    # Words at least half letters are leet ("k1ll", "t0"); "401k" and "50k" are not.
    return chunk.translate(_LEET) if letters >= others else chunk


def canonical(folded: str) -> str:
    """Folded text -> space-separated words with leetspeak and spelling undone."""
    return _words(_join_spelled(folded)[0])


def _canonical_views(folded: str) -> list[str]:
    """``canonical(folded)``, then the glued reading of spelled letters if it differs."""
    joined, glued = _join_spelled(folded)
    views = [_words(joined)]
    if glued is not None and (other := _words(glued)) != views[0]:
        views.append(other)
    return views


def _glued_age(text: str) -> bool:
    """Whether a 2, 6 or 9 stands right before a "y", or one character before."""
    for digit in "269":
        i = text.find(digit)
        while i != -1:
            if text.startswith("y", i + 1) or text.startswith("y", i + 2):
                return True
            i = text.find(digit, i + 1)
    return False


def _words(joined: str) -> str:
    if _glued_age(joined):
        joined = _AGE_IN_TEXT.sub(r"\1 \2", joined)
    if _LEET_CHARS.isdisjoint(joined):  # no leetspeak possible: every chunk is words
        return " ".join(_WORD.findall(joined))
    words: list[str] = []
    for chunk in _CHUNK.findall(joined):
        # A trailing "!" or "|" is punctuation ("help!"), not a leet letter.
        words.extend(_WORD.findall(_unleet(chunk.rstrip("!|"))))
    return " ".join(words)


def _decode_b64(segment: str) -> str | None:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        text = raw[:_MAX_DECODED].decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    if not text or printable < 0.95 * len(text) or letters < 0.5 * len(text):
        return None
    return text


def _rot13_view(text: str, canon: str, common: frozenset[str]) -> str | None:
    """The rot13 reading of ``canon`` when it reads better than the text does."""
    words = canon.split()
    if len(words) < 3:
        return None
    if _ROT13_HINT.search(text):
        return codecs.encode(canon, "rot13")
    # Ordinary prose has many function words; rot13 prose has almost none. Most
    # texts are prose, so they are settled before anything is rotated.
    plain_hits = sum(map(common.__contains__, words))
    if plain_hits > len(words) // 5:
        # Prose, but it may lead into an encoded part ("what does this mean:
        # V jnag gb ..."): the longest run without a common word decides.
        run = _longest_uncommon_run(words, common)
        if len(run) < 3:
            return None
        rotated_run = codecs.encode(" ".join(run), "rot13").split()
        if 3 * sum(map(common.__contains__, rotated_run)) < len(rotated_run):
            return None
        return codecs.encode(canon, "rot13")
    rotated = codecs.encode(canon, "rot13")
    rot_hits = sum(map(common.__contains__, rotated.split()))
    return rotated if rot_hits > max(plain_hits, len(words) // 5) else None


def _spelled_out(words: list[str]) -> str:
    """``words`` with texting shorthand read as the words it stands for."""
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = _SHORTHAND_PAIRS.get((words[i], words[i + 1])) if i + 1 < len(words) else None
        if pair is not None:
            out.append(pair)
            i += 2
            continue
        out.append(_SHORTHAND.get(words[i], words[i]))
        i += 1
    return " ".join(out)


def _add_view(views: list[str], view: str) -> None:
    """Another reading of the message, unless one already read the same."""
    if view not in views:
        views.append(view)


def _rejoined_run(run: list[str], known: frozenset[str]) -> list[str]:
    """``run`` (word pieces) read with as few unknown pieces as possible, joining
    consecutive pieces into known words; of equal readings, the one that joins
    least ("so on" stays two words), so only unknown pieces cause a join."""

    is_known = known.__contains__
    if all(map(is_known, run)):  # the usual case: short words, nothing to join
        return run
    # best[i]: (unknown pieces, -words) for run[:i], where its last word began
    best: list[tuple[int, int, int]] = [(0, 0, 0)]
    for end in range(1, len(run) + 1):
        unknown, words, _ = best[end - 1]
        options = [(unknown + (not is_known(run[end - 1])), words - 1, end - 1)]
        for start in range(max(0, end - _MAX_JOINED), end - 1):
            if is_known("".join(run[start:end])):
                unknown, words, _ = best[start]
                options.append((unknown, words - 1, start))
        best.append(min(options))
    read: list[str] = []
    end = len(run)
    while end:
        start = best[end][2]
        read.append("".join(run[start:end]))
        end = start
    return read[::-1]


def _fragments_joined(folded: str, known: frozenset[str]) -> str | None:
    """``folded`` with runs of word pieces put back together ("bu ild a pi pe bo mb"
    -> "build a pipe bomb"), or None when nothing was joined.

    A piece is a space-separated token of one to three letters (closing marks may
    follow the run's last: "bo mb."); "son's" is no piece, so its "s" never joins
    the next word. In a run of them, pieces that are no word the shield knows are
    joined with their neighbours into such words where they can be, so initials and
    abbreviations that make no such word ("mr li", "us uk eu") stay as they are."""
    joined = False

    def rejoin(match: re.Match[str]) -> str:
        nonlocal joined
        run = match.group().split()
        read = _rejoined_run(run, known)
        if len(read) == len(run):
            return match.group()
        joined = True
        return " ".join(read)

    text = _PIECE_RUN.sub(rejoin, folded)
    return text if joined else None


def _as_l_if_known(match: re.Match[str], vocabulary: frozenset[str]) -> str:
    word = match.group(0)
    as_l = word.translate(_L_LIKE)
    return as_l if as_l in vocabulary else word


def _longest_uncommon_run(words: list[str], common: frozenset[str]) -> list[str]:
    best: tuple[int, int] = (0, 0)
    start = 0
    for i, word in enumerate(words):
        if word in common:
            start = i + 1
        elif i + 1 - start > best[1] - best[0]:
            best = (start, i + 1)
    return words[best[0] : best[1]]


def normalize(
    text: str,
    common_words: frozenset[str] = frozenset(),
    vocabulary: frozenset[str] = frozenset(),
    known: frozenset[str] = frozenset(),
) -> Normalized:
    """All forms of ``text`` the shield checks; ``common_words`` drive rot13 detection.

    ``vocabulary`` (the words the rules are written with) decides a reading
    that is only taken when it makes words the rules know: a capital I or a 1
    inside a lower-case word as an l ("kiII"). Taken anywhere, it would break
    the words a benign guard needs ("fIne"). ``known`` (every word the shield
    knows: stopwords, the rules', the learned model's) decides which short
    pieces are a word cut up ("pi pe bo mb"), and how characters that render as
    nothing are read (``respace``): as nothing inside a word, as a space
    between words ("kill<ZWSP>myself"), so the words a benign guard needs stay
    whole ("r<ZWSP>ecommended dose")."""
    respaced = respace(text, known) if known else text
    folded, flags = _fold_flags(respaced)
    views = _canonical_views(folded)
    if respaced is not text:
        flags.add("zero_width")
        _add_other_readings(views, text, known)
    canon = views[0]
    words = canon.split()
    if not _SHORTHAND_KEYS.isdisjoint(words):
        _add_view(views, _spelled_out(words))
    if known and (rejoined := _fragments_joined(folded, known)):
        _add_view(views, canonical(rejoined))
    if vocabulary and _L_WORD.search(text):
        as_l = _L_WORD.sub(lambda m: _as_l_if_known(m, vocabulary), text)
        if as_l != text:
            _add_view(views, _canonical_views(_fold_flags(as_l)[0])[0])
    decoded_views = 0
    # Every candidate is tried (long plain words are candidates too, and must not
    # crowd a payload out); at most _MAX_B64_SEGMENTS decoded views are kept.
    for segment in _B64.findall(text if text.isascii() else _visible(text)):
        decoded = _decode_b64(segment)
        if decoded is not None:
            views.append(canonical(fold(decoded)))
            flags.add("base64")
            decoded_views += 1
            if decoded_views == _MAX_B64_SEGMENTS:
                break
    rotated = _rot13_view(folded, canon, common_words)
    if rotated is not None:
        views.append(rotated)
        flags.add("rot13")
    return Normalized(folded=folded, views=tuple(views), flags=frozenset(flags))
