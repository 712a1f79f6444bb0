"""The lens's claims: what in a message says its answer rests on fresh facts.

A claim needs evidence that the answer depends on what changed after the model
was trained: the price of something traded ("share price", "bitcoin" next to a
price word, a cashtag with one), weather ahead, news with a recency cue, a
result of a game still being decided, a "today / current / latest" question
about the world. A word that only looks like one is not evidence: "share a
recipe", "stock up", "echo $HOME", "who won more battles", "what should I
cook tonight". A false claim costs the user: the answer's figures become
"[figure not verified]" and it ends with a note that is not true.

Rules are case-insensitive, written in lowercase (``CaselessRule``).
"""

from __future__ import annotations

import re

from novaos.pipeline.gates import claims_news, claims_weather, claims_words
from novaos.pipeline.gates.claims_news import news_claim
from novaos.pipeline.gates.claims_weather import weather_claim
from novaos.pipeline.gates.claims_words import any_of as _any
from novaos.pipeline.gates.claims_words import asks_about_the_world, unquoted
from novaos.pipeline.gates.intent import CaselessRule, CaselessText


def _near(a: str, b: str, gap: int) -> str:
    """Words ``a`` and ``b`` within ``gap`` characters, in either order."""
    return rf"\b{a}\b.{{0,{gap}}}?\b{b}\b|\b{b}\b.{{0,{gap}}}?\b{a}\b"


# Things traded on a market. A singular "stock" is too often soup or supplies.
_ASSET = _any(
    r"stocks(?! up\b)",
    r"shares",
    r"crypto(?:currenc(?:y|ies)|s|coins?)?",
    r"bitcoins?",
    r"btc",
    r"ethereum",
    r"eth",
    r"dogecoin",
    r"solana",
    r"xrp",
    r"etfs?",
    r"nasdaq",
    r"dow jones",
    r"acciones",
    r"criptomonedas?",
    r"cryptomonnaies?",
    r"aktien?",
    r"kryptow[äa]hrung(?:en)?",
    r"a[çc][õo]es",
    r"criptomoedas?",
)
_PRICE_WORD = _any(
    r"prices?",
    r"priced",
    r"costs?",
    r"worth(?! it\b)",
    r"value of",
    r"valued",
    r"quotes?",
    r"trad(?:ing|es|ed) at",
    # es, fr, de, pt
    r"precios?",
    r"cotiza\w*",
    r"valen?",
    r"cuestan?",
    r"valor",
    r"prix",
    r"cours",
    r"vau[tx]",
    r"valent",
    r"co[uû]tent?",
    r"valeur",
    r"preis\w*",
    r"kurs\w*",
    r"kostet",
    r"kosten",
    r"wert",
    r"pre[çc]os?",
    r"cota[çc]\w*",
    r"valem",
    r"custa[mr]?",
)
_CURRENCY = _any(
    r"dollars?", r"euros?", r"pounds?", r"yen", r"pesos?", r"usd", r"eur", r"gbp", r"jpy", r"chf"
)
_COMMODITY = _any(r"gold", r"silver", r"oil", r"crude", r"gas", r"gasoline", r"petrol", r"copper")
_PRICE = CaselessRule(
    _near(_ASSET, _PRICE_WORD, 30)
    + r"|\$[a-z]{1,5}\b.{0,20}?\b(?:price|quote|trad(?:ing|es) at|stock|shares)\b"
    + r"|\b(?:"
    + _any(
        r"share prices?",
        r"stock (?:prices?|markets?|quotes?|exchanges?)",
        r"market caps?",
        r"exchange rates?",
        r"trading at",
        r"how much is .{1,40} worth",
        # "the price of Tesla stock", not of chicken stock
        r"(?:price|value) of (?!(?:chicken|beef|fish|veggie|vegetable|bone|soup)\b)"
        r"(?:\w+ ){1,2}(?:stock|shares)",
        rf"{_CURRENCY} (?:to|in|into|against|vs|versus) (?:the )?{_CURRENCY}",
        rf"how many {_CURRENCY} (?:is|are|in|for|buys?) .{{0,15}}?\b{_CURRENCY}",
        rf"{_COMMODITY} prices?",
        rf"price of {_COMMODITY}",
        # es
        r"precio de (?:la |las |una )?acci[oó]n(?:es)?",
        r"cotizaci[oó]n\w*",
        r"bolsa de valores",
        r"en bolsa",
        r"tipo de cambio",
        r"precio del (?:bitcoin|oro|d[oó]lar|euro|petr[oó]leo)",
        # fr
        r"cours de l'action",
        r"cours des actions",
        r"cours (?:de (?:la )?bourse|du bitcoin|de l'or|du dollar|de l'euro|du p[ée]trole)",
        r"actions? en bourse",
        r"taux de change",
        r"prix (?:de l'action|des actions|du bitcoin|de l'or)",
        # de
        r"aktien(?:kurs|preis)\w*",
        r"b[öo]rse\w*",
        r"wechselkurs\w*",
        r"(?:bitcoin|eth|ethereum|krypto|gold|silber|[öo]l|benzin|dollar|euro)(?:preis|kurs)\w*",
        # pt
        r"pre[çc]o d[aeo]s? a[çc](?:[ãa]o|[õo]es)",
        r"cota[çc][ãa]o",
        r"na bolsa",
        r"taxa de c[âa]mbio",
        r"pre[çc]o do (?:bitcoin|ouro|d[oó]lar|euro|petr[oó]leo)",
    )
    + r")\b"
)
# A ticker is upper case, which the lowercase rules cannot see: "AAPL price".
_TICKER_PRICE = re.compile(r"(?<![\w$])[A-Z]{2,5} (?:price|quote|share price)s?\b")

# Days and words that say "now" (the "current" claim needs one).
_RECENT = _any(
    r"today",
    r"tonight",
    r"yesterday",
    r"last night",
    r"this (?:morning|week|weekend|month|year|season)",
    r"right now",
)

# "Current" as a noun is electricity or water, not time.
_CURRENT = CaselessRule(
    r"\b(?:"
    + _any(
        _RECENT,
        r"current(?! (?:in|through|flow\w*|density|source|draw)\b)",
        r"currently",
        r"latest",
        r"recent(?:ly)?",
        r"as of",
        r"up[- ]to[- ]date",
        r"hoy",
        r"actualmente",
        r"(?:el|la|los|las) (?:\w+ ){0,2}actual(?:es)?",
        r"ahora mismo",
        r"en este momento",
        r"aujourd'hui",
        r"en ce moment",
        r"actuel(?:le|lement)?s?",
        r"heute",
        r"aktuell\w*",
        r"derzeit",
        r"momentan",
        r"hoje",
        r"atual(?:mente)?",
        r"neste momento",
        r"agora mesmo",
    )
    + r")\b"
)
# A question about the asker's own day, or asking for a suggestion, needs no
# fresh facts whatever its "today": "what should I cook tonight", "how are you today".
_ABOUT_THE_ASKER = CaselessRule(
    r"\b(?:"
    + _any(
        r"i(?:'m|'ve|'ll|'d)?",
        r"my",
        r"mine",
        r"we(?:'re|'ve|'ll)?",
        r"our",
        r"how (?:are|were) you",
        r"how(?:'s| is| was) your",
        r"should",
        r"shall",
        r"recommend\w*",
        r"suggest\w*",
        r"ideas?",
        r"good",
        r"fun",
        r"nice",
        r"recipes?",
        # es, fr, de, pt
        r"yo",
        r"mis?",
        r"debo",
        r"deber[ií]a",
        r"puedo",
        r"quiero",
        r"necesito",
        r"nosotros",
        r"nuestr[oa]s?",
        r"c[oó]mo est[aá]s",
        r"je",
        r"j'",
        r"mon",
        r"ma",
        r"mes",
        r"nous",
        r"notre",
        r"dois-je",
        r"puis-je",
        r"comment (?:vas-tu|allez-vous|[çc]a va)",
        r"ich",
        r"mein\w*",
        r"mir",
        r"mich",
        r"wir",
        r"unser\w*",
        r"uns",
        r"wie geht",
        r"meus?",
        r"minhas?",
        r"devo",
        r"posso",
        r"quero",
        r"preciso",
        r"nós",
        r"noss[oa]s?",
        r"como vai",
    )
    + r")\b"
)

# Every rule, for the tests that check lowered and case-insensitive matching agree.
RULES = (
    _PRICE,
    _CURRENT,
    _ABOUT_THE_ASKER,
    *claims_weather.RULES,
    *claims_news.RULES,
    *claims_words.RULES,
)


def claims_in(text: CaselessText, *, kind: str | None) -> list[str]:
    """The fresh-fact claims the text makes, given intent's message type
    (``kind``; None when unknown, read as a question).

    Weather and news are claims only when the message asks about the world
    (``asks_about_the_world``), outside its quotations: not a story where it
    rains tomorrow, nor Translate "take an umbrella". "Today / current /
    latest" only in a question, and not about the asker."""
    found = []
    if _PRICE.search(text) or _TICKER_PRICE.search(text.raw):
        found.append("price")
    if asks_about_the_world(text, kind):
        said = unquoted(text)
        if weather_claim(said):
            found.append("weather")
        if news_claim(said):
            found.append("news")
    if kind in (None, "question") and _CURRENT.search(text) and not _ABOUT_THE_ASKER.search(text):
        found.append("current")
    return found
