"""The output rules the personality check enforces, as precompiled patterns.

Kept apart from the stream mechanics so the model prompt, the invariant check
and the stream check all share one list. The patterns match on what a reader
sees (``readable``: invisible characters dropped, whitespace runs as one space,
look-alike letters and apostrophes folded), never on the raw text: ``search``
does that and maps the match back. Every pattern is bounded
(``MAX_MATCH_CHARS`` characters of that view) so a hold-back window keeping
that much of the view can never release the first half of a match; a unit test
checks the bound.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from novaos.pipeline import policy
from novaos.pipeline.gates import banned_intl
from novaos.pipeline.gates.readable import Readable, readable

BANNED_PHRASES: tuple[str, ...] = (
    "I'm always here for you",
    "you can always count on me",
    "I'm so proud of you",
    "you're amazing",
    "I truly understand how you feel",
)
SYCOPHANTIC_OPENERS: tuple[str, ...] = ("Great question!", "Absolutely!")

MAX_MATCH_CHARS = 88

# Between the words of a phrase: spaces, or one line break (a single newline
# renders as a space), never a blank line, which is a release point
# (``SENTENCE_END``): a phrase may not straddle text already let go.
_SP = r"(?:[\x20\t]{1,3}|\r?\n[\x20\t]?)"  # \x20: _phrase replaces spaces
_ADV = r"(?:so|very|really|truly|always|just|still|incredibly|completely|totally|fully|absolutely)"
# I'm / Im / I m / I am; I'll be / I will be, an adverb allowed before "be"
# ("I'll always be").
_AM = rf"i(?:(?:['’]?|{_SP})m|{_SP}am)"
_IM = rf"{_AM}|i(?:['’]ll|{_SP}will){_SP}(?:{_ADV}{_SP})?be"
# A promise to be there reads "going to be" / "gonna be" too ("I am always going
# to be here for you"); pride does not: "I am really going to be proud of you"
# is a promise about what the reader will do, a teacher's line in a story. The
# short adverbs before "going" keep the longest match inside MAX_MATCH_CHARS.
_GOING = rf"(?:{_SP}(?:(?:always|still|really|just){_SP})?(?:going{_SP}to|gonna){_SP}be)"
_IM_THERE = rf"{_AM}{_GOING}|{_IM}"
# Texting spellings too ("u can always count on me", "here for u"); "U.S." is no "u".
_YOU = r"(?:you|u(?!\.\w)|ya)"
_HERE = rf"(?:right )?(?:here|there) for {_YOU}"
# Where a sentence starts: "Always here for you." says "I'm" without the words,
# after a dash or a bracket too ("Take care — always here for you", "(always
# here for you)"), or as a list item ("- Always here for you"). After other
# words it describes someone else ("988 is always there for you"). Spanish
# opens an exclamation with "¡" ("¡Siempre aquí para ti!").
_SENTENCE_START = r"(?:^|(?<=[.!?…\n(•\-–—])|(?<=[.!?…][\"'”’)\]]))[\x20\t]{0,3}¡?"
# After a comma, "here" is still the model speaking of itself ("Whatever
# happens, always here for you"); "there" describes what comes before it
# ("Call 988, always there for you", "The crisis line: always there for you").
_AFTER_COMMA = r"(?<=[,;])[\x20\t]{0,3}"


def _phrase(body: str) -> str:
    # (?!\w), not \b: a translation's body may end by taking the space or mark
    # after its last word (``banned_intl``).
    return r"\b" + body.replace(" ", _SP) + r"(?!\w)"


# Close variants of each banned dependency phrase (case-insensitive, curly quotes).
BANNED = re.compile(
    "|".join(
        (
            _phrase(rf"(?:{_IM_THERE}) (?:{_ADV} ){{0,2}}{_HERE}"),
            _SENTENCE_START + _phrase(rf"(?:{_ADV} ){{1,2}}{_HERE}"),
            _AFTER_COMMA + _phrase(rf"(?:{_ADV} ){{1,2}}(?:right )?here for {_YOU}"),
            _phrase(rf"{_YOU} (?:can|could) (?:{_ADV} ){{0,2}}(?:count|rely|depend) on me"),
            _phrase(rf"(?:{_IM}) (?:{_ADV} ){{0,2}}proud of you"),
            _phrase(rf"(?:{_YOU}(?:['’]?re| are| r)|ur) (?:{_ADV} ){{0,2}}(?:amazing|incredible)"),
            _phrase(
                rf"i (?:{_ADV} ){{0,2}}understand (?:exactly )?"
                rf"(?:how|what) you(?:['’]re| are)? (?:feel|feeling|going through)"
            ),
            *(_phrase(body) for body in banned_intl.PHRASES),
            *(_SENTENCE_START + _phrase(body) for body in banned_intl.ALONE),
        )
    ),
    re.IGNORECASE,
)

# Only at the very start of an answer; removed, never regenerated for. Bold or
# italic ones too: the view drops the marks (the strip takes the closing ones).
# Words may be split by a line break ("Great\nquestion!"), as in a phrase.
_OPENERS = (
    r"(?:what an? )?(?:great|excellent|fantastic|wonderful|good|amazing) question[!.]|"
    r"absolutely!|certainly!|of course!"
)
OPENER = re.compile(r"^\s*(?:" + _OPENERS.replace(" ", _SP) + ")", re.IGNORECASE)

# "we" beyond the allowed count turns into "you" when it starts a modal phrase.
WE = re.compile(r"\bwe\b", re.IGNORECASE)
WE_MODAL = re.compile(
    r"\b(we)(?=\s{1,3}(?:can|could|should|will|might|may|must|need|have to)\b|['’]ll\b)",
    re.IGNORECASE,
)
MAX_WE = 2

# Buy/sell advice, in the five languages, read on the view (accents off: the
# view folds "deberías" to "deberias", "müssen" to "mussen"). A few words may
# stand between a modal and its verb ("Sie sollten jetzt Apple-Aktien kaufen"),
# never a negation. Like "you should buy", these flag any purchase advice: the
# rule is on for every answer, and telling buying a share from buying a chair
# is beyond a pattern.
_NOT = r"(?!(?:not|nicht|kein\w{0,3}|no|pas|nao|nunca|jamais|never|rien) )"
_FILL = rf"(?:{_NOT}[\w'-]{{1,15}} ){{0,3}}"  # German puts the verb last
_FILL1 = rf"(?:{_NOT}[\w'-]{{1,15}} )?"  # "tu devrais en acheter"
_BUY = r"(?:buy|sell|short|dump|buying|selling|shorting)"
# A bare imperative is advice only where a sentence, clause or list item starts
# ("Sell your ETH."; "you can sell your old bike" is none) and only about an
# asset named by a word no errand uses ("shares", "stocks", "ETF", "bitcoin"):
# "Buy Brie today", "- Buy OJ", "Buy chicken stock" are shopping. A name or a
# ticker alone ("Buy Tesla now", "Buy TSLA") is not read: telling them from a
# shop's name is beyond a pattern. How to trade ("Sell your shares through
# your broker's app") is an instruction, and a question ("Buy bonds? It
# depends") is no advice.
_OPENS = r"[.!?…\n:;(•\-–—*]"
# A numbered step is a how-to, not advice: "Step 3: Sell your shares."
_NOT_A_STEP = (
    r"(?<!step \d: )(?<!step \d - )(?<!step \d\d: )(?<!step \d\d - )"
    r"(?<!step \d:  )(?<!step \d\d:  )"
)
_CLAUSE_START = (  # at a word start, after one of those and up to 2 spaces
    rf"\b{_NOT_A_STEP}(?:^|(?<=^[\x20\t])|(?<={_OPENS})|(?<={_OPENS}[\x20\t])|(?<={_OPENS}[\x20\t]{{2}})|"
    r"(?<=[.!?…][\"'”’)\]][\x20\t]))"
)
_URGE = (
    r"(?:(?:just|so|then|now|simply|honestly|frankly|definitely|seriously|please|"
    r"go ahead and),? )?"
)
_ASSET_WORDS = (
    r"shares|stocks|equities|etfs?|index funds?|mutual funds?|bonds|crypto(?:currenc(?:y|ies))?|"
    r"bitcoins?|btc|ethereum|eth|dogecoin|doge|solana|xrp|altcoins?|memecoins?|"
    r"acciones|criptomonedas|bonos|fondos|"  # es
    r"actions|cryptos?|obligations|fonds|"  # fr
    r"aktien|kryptos?|kryptowahrungen|anleihen|"  # de
    r"acoes|criptomoedas|titulos"  # pt
)
# The match takes what follows the asset word, so a stream waits for it: a
# clause mark, the end, or a word that does not start a how-to ("by", "on", "via").
_NOT_HOW_TO = r"(?!(?:by|through|via|using|with|on|in|from|at|por|en|sur|par|uber|mit|pela|pelo)\b)"
_FOLLOWS = rf"(?:[.!,;:)\n]|\s?\Z| {_NOT_HOW_TO}[\w'-]{{1,15}}\b)"
_TRADE = (
    r"(?:buy and hold|buy|sell|dump|purchase|offload|unload|load up on|"
    r"go (?:all[- ]in|long|short) on|"
    r"pile into|cash out of|"
    r"compra|vende|compre|venda|comprad|vended|"  # es, pt
    r"achetez|vendez|achete|vends|"  # fr
    r"kaufen sie|verkaufen sie|kauf|verkauf|kauft|verkauft)"  # de
)
# "Compra de acciones" and "Venda de ações" are nouns (a purchase, a sale), "Buy
# and sell stocks from one account" names a service: neither is advice.
_NOT_A_NOUN = (
    r"(?!(?:de|do|da|dos|das|del) |(?:and|or|y|o|et|ou|und|oder|e|&) "
    r"(?:sell|buy|vende|vender|compra|comprar|vendez|vendre|achetez|acheter|verkauf|kauf|"
    r"venda|compre)\b)"
)
_IMPERATIVE = (
    rf"{_CLAUSE_START}{_URGE}{_TRADE} {_NOT_A_NOUN}"
    rf"(?:[\w'&-]{{1,12}} ){{0,2}}(?:{_ASSET_WORDS}){_FOLLOWS}"
)
BUY_SELL = re.compile(
    "|".join(
        (
            _IMPERATIVE,
            r"\bbuy (?:the|this|every) dip\b",
            # English
            r"\b(?:you should|i (?:would |strongly )?(?:recommend|suggest|advise)(?: that you)?|"
            # "I'd buy" reads as advice; the spelled-out "I would buy" is as often a
            # story ("When I was a student, I would buy comics") or a refusal's echo.
            r"i'd(?: (?:recommend|suggest|advise))?|i would (?:recommend|suggest|advise)|"
            r"if i were you,? i would|"
            r"it's (?:a )?(?:good|great) (?:time|idea) to|"
            r"now is (?:a |the )?(?:good |great )?time to)\s{1,3}" + _BUY + r"\b",
            # "I would buy" about an asset ("Honestly, I would buy Nvidia stock"), not a
            # question echoed ("whether I would buy Tesla stock")
            # (nor a habit: "When I was a student, I would buy index funds every month";
            # the word after the asset is read, so a stream waits for it)
            r"(?<!whether )(?<!if )\bi would (?:\w{1,12} )?(?:buy|sell|dump) "
            rf"(?:[\w'&-]{{1,12}} ){{0,2}}(?:stock|{_ASSET_WORDS})"
            r"(?:[.!,;:)\n]|\s?\Z| (?!every|each|whenever|back)[\w'-]{1,15}\b)",
            r"\b(?:strong(?:ly)? (?:buy|sell)|buy (?:now|today|immediately)|"
            r"sell (?:now|today|immediately))\b",
            r"\b(?:my|our) (?:recommendation|advice|verdict|call|suggestion|pick)"
            r"(?: (?:is|would be))?(?: ?:| -|,)? (?:to )?" + _BUY + r"\b",
            r"\b(?:buying|selling|shorting) " + _FILL + r"(?:is|would be|seems|looks) "
            r"(?:like )?(?:a |an )?(?:smart|good|great|wise|sound|solid|clever|no-brainer)\b",
            r"\b(?:it's|this is|now's|now is) (?:a |the )?(?:smart|right|perfect|best|good|great) "
            r"(?:time|moment|idea) to (?:buy|sell|short)\b",
            # Spanish
            r"\b(?:deberias|debes|deberian|tienes que|usted deberia|le recomiendo|te recomiendo|"
            r"(?:yo )?recomiendo|te aconsejo|le aconsejo|te sugiero) "
            + _FILL1
            + r"(?:comprar|vender)\b",
            r"\b(?:compra|vende|comprar|vender) (?:ya|ahora|hoy mismo)\b",
            r"\bes (?:un )?(?:buen|gran|el) momento (?:para|de) (?:comprar|vender)\b",
            r"\bmi (?:recomendacion|consejo)(?: es)?(?: ?:|,)? (?:comprar|vender)\b",
            # French
            r"\b(?:vous devriez|tu devrais|vous devez|tu dois|il faut) "
            + _FILL1
            + r"(?:acheter|vendre)\b",
            r"\bje (?:vous |te )?(?:recommande|conseille|suggere) (?:d'|de )(?:en )?"
            r"(?:acheter|vendre)\b",
            r"\b(?:achetez|vendez|achete|vends)(?: des| en)? (?:maintenant|tout de suite|"
            r"des maintenant|aujourd'hui)\b",
            r"\bc'est (?:le|un) (?:bon |meilleur )?moment (?:d'acheter|de vendre)\b",
            r"\bmon (?:conseil|avis|verdict)(?: est)?(?: ?:|,)? (?:d')?(?:acheter|vendre)\b",
            # German
            r"\b(?:sie sollten|du solltest|ihr solltet|sie mussen|du musst|man sollte|"
            r"ich wurde|ich empfehle(?: ihnen| dir| euch)?(?: zu)?) "
            + _FILL
            + r"(?:kaufen|verkaufen|nachkaufen|zukaufen)\b",
            r"\b(?:jetzt|sofort|heute noch) (?:kaufen|verkaufen)\b",
            r"\b(?:kaufen|verkaufen) sie (?:jetzt|sofort|heute)\b",
            r"\b(?:kauf|verkauf)empfehlung\b",
            r"\bguter zeitpunkt (?:zum|um zu) (?:kaufen|verkaufen)\b",
            # Portuguese
            r"\b(?:voce deveria|voce deve|voce precisa|tu deverias|(?:eu )?recomendo|"
            r"(?:eu )?aconselho|(?:eu )?sugiro) " + _FILL1 + r"(?:comprar|vender)\b",
            r"\b(?:compre|venda) (?:ja|agora|hoje)\b",
            r"\be (?:um )?(?:bom|otimo|o) momento (?:para|de) (?:comprar|vender)\b",
            r"\bminha (?:recomendacao|dica)(?: e)?(?: ?:|,)? (?:comprar|vender)\b",
        )
    ),
    re.IGNORECASE,
)

# Precise figures: money, percentages, decimals, thousands, in the ways the five
# languages write them (decimal comma, thousands by comma, dot, apostrophe or a
# space, no-break ones too: the view reads them as a space; Indian lakh groups,
# "1,23,456"), a currency before or after, a scale glued on ("$3.2B", "12.5k",
# "2.5x"), a rate after a pair ("BTC/USD 67 432"). Bare small integers ("3
# steps"), years and a list written "1,2,3" are fine.
# A decimal part runs to 8 places (a crypto price, "0.00002145 USD", an FX
# quote, "1.234567 EUR"); a longer one is a figure whatever follows (the last
# alternative), its rest joining the match.
_DEC = r"\d{1,8}"
_AMOUNT = (
    r"\d{1,2}(?:,\d{2}){1,3},\d{3}(?:\." + _DEC + r")?"
    r"|\d{1,3}(?:(?:,\d{3}){1,4}|(?:\.\d{3}){1,4}|(?: \d{3}){1,4}|(?:'\d{3}){1,4})"
    r"(?:[.,]" + _DEC + r")?|\d{1,9}(?:[.,]" + _DEC + r")?"
)
# A code right after a slash names a pair ("BTC/USD 67 432"), the rate is the figure.
_CURRENCY_BEFORE = r"(?:[$€£¥₹₽₩]|[ucar]\$|us\$|(?<!/)(?:usd|eur|gbp|chf|jpy))"
_CURRENCY_AFTER = (
    r"(?:[$€£¥₹₽₩]|us\$|r\$|usd|eur|gbp|chf|jpy|btc|eth|dollars?|euros?|pounds?|dolares|"
    r"reais|francs?|franken|yen)"
)
_SCALE = (
    r"(?:k|m|b|t|bn|mn|tn|million|billion|trillion|millions|milliards?|millones|milhoes|"
    r"mio|mrd)"
)
_GLUED_SCALE = r"(?:k|m|b|t|bn|mn|tn|x)(?!\w)"  # "12.5k", "2.5x": no space before
_PAIR = r"[a-z]{3}/[a-z]{3}"
# A figure never starts or ends inside a number: not after a digit (or a digit
# and a separator), and whatever digits, separators and glued scale follow the
# matched part join it, so a replacement leaves no ".2B" or ",456" behind.
_NOT_MID_NUMBER = r"(?<!\d)(?<!\d[.,'])"
_REST_OF_NUMBER = r"(?:(?<=\d)(?:[.,']?\d){1,12})?(?:(?<=\d)" + _GLUED_SCALE + r")?"
FIGURE = re.compile(
    _NOT_MID_NUMBER
    + "(?:"
    + "|".join(
        (
            _CURRENCY_BEFORE + r"\s?(?:" + _AMOUNT + r")(?:\s?" + _SCALE + r")?(?!\w)",
            r"\b(?:" + _AMOUNT + r")(?:\s?" + _SCALE + r")?\s?" + _CURRENCY_AFTER + r"(?!\w)",
            r"\b\d{1,9}(?:[.,]" + _DEC + r")?\s?(?:%|(?:percent|per cent|por ciento|pour cent|"
            r"prozent|por cento)\b)",
            r"\b\d{1,9}\." + _DEC + r"(?:\b|(?=" + _GLUED_SCALE + r"))",
            # 187,23 (1,2,3 is a list)
            r"(?<![\w,])\d{1,9},\d{1,2}(?:(?![\w,])|(?=" + _GLUED_SCALE + r"))",
            r"\b\d{1,2}(?:,\d{2}){1,3},\d{3}(?:\." + _DEC + r")?\b",  # 1,23,456 (lakh)
            r"\b\d{1,3}(?:,\d{3}){1,4}(?:\." + _DEC + r")?\b",
            r"\b\d{1,3}(?:\.\d{3}){1,4}(?:," + _DEC + r")?\b",
            r"\b\d{1,3}(?: \d{3}){2,4}\b|\b\d{1,3} \d{3}," + _DEC + r"\b",  # 1 234 567, 67 432,50
            r"\b\d{1,3}(?:'\d{3}){1,4}(?:[.,]" + _DEC + r")?\b",
            r"(?:(?<=" + _PAIR + r" )|(?<=" + _PAIR + r": )|(?<=" + _PAIR + r" = ))"
            r"(?:" + _AMOUNT + r")(?!\w)",
            r"\b\d{1,9}[.,]\d{9}",  # more places than _DEC: the rest joins below
        )
    )
    + ")"
    + _REST_OF_NUMBER,
    re.IGNORECASE,
)
FIGURE_PLACEHOLDER = policy.FIGURE_PLACEHOLDER  # the English one; see OutputConstraints

# Sentence ends: terminator(s) and closing quotes/brackets followed by whitespace,
# or a blank line. A single line break is not one: a banned phrase may continue
# after it ("I'm always\nhere for you" renders as one line).
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n[ \t\r]*\n\s*")


class Hit(NamedTuple):
    """A match found on the view, as a span of the text as written."""

    start: int
    end: int
    text: str


def search(pattern: re.Pattern[str], text: str, view: Readable | None = None) -> Hit | None:
    """The first match of ``pattern`` in what a reader sees of ``text``."""
    view = view or readable(text)
    match = pattern.search(view.text)
    if match is None:
        return None
    start, end = view.start(match.start()), view.end(match.end())
    return Hit(start, end, text[start:end])


def find_banned(text: str) -> str | None:
    """The first banned phrase in ``text`` (as written), or None."""
    hit = search(BANNED, text)
    return hit.text if hit else None
