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

from novaos.pipeline.gates.intent import CaselessRule, CaselessText


def _any(*alternatives: str) -> str:
    return "(?:" + "|".join(alternatives) + ")"


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

_WEATHER = CaselessRule(
    r"\b(?:"
    + _any(
        r"(?<!under the )weather(?! the\b)",
        r"(?:weather|rain|snow|storm|tomorrow's|today's|weekend) forecast",
        r"forecast (?:for |like )?(?:today|tomorrow|tonight|the weekend|this (?:week|weekend))",
        r"temperature (?:outside|today|tomorrow|tonight|right now)",
        r"temperature (?:in|at) (?!(?:the|a|an|my|your|our|which|what|celsius|fahrenheit|"
        r"kelvin|degrees?|room)\b|\d)\w+",
        r"raining",
        r"snowing",
        r"(?:will it|is it (?:going to|gonna)) (?:be )?"
        r"(?:rain|snow|storm|hail|freez|sunny|cloudy|windy|foggy|hot|cold|warm)\w*",
        r"(?:rain|snow|storms?|hail|frost|sunshine)\b.{0,20}?\b"
        r"(?:today|tomorrow|tonight|this (?:weekend|week|afternoon|evening))",
        r"(?:need|bring|take|pack) an umbrella",
        # es
        r"qu[eé] tiempo (?:hace|har[aá]|va a hacer)",
        r"c[oó]mo (?:est[aá]|estar[aá]|va a estar) el (?:tiempo|clima)",
        r"el (?:tiempo|clima) (?:para |de )?(?:hoy|ma[ñn]ana|este fin de semana)",
        r"pron[oó]stico (?:del tiempo|meteorol[oó]gico|para (?:hoy|ma[ñn]ana|el fin de semana))",
        r"previsi[oó]n (?:del tiempo|meteorol[oó]gica)",
        r"va a (?:llover|nevar)",
        r"llover[aá]",
        r"nevar[aá]",
        r"est[aá] (?:lloviendo|nevando)",
        r"temperatura (?:hoy|ma[ñn]ana|de hoy|de ma[ñn]ana|afuera|exterior)",
        # fr
        r"m[ée]t[ée]o",
        r"quel temps (?:fait|fera|va)",
        r"pr[ée]visions? du temps",
        r"(?:va(?:-t-il)?|devrait) (?:pleuvoir|neiger)",
        r"pleuvra",
        r"neigera",
        r"(?:pleut|neige)-t-il",
        r"il (?:pleut|neige) (?:à|a|en|au|aujourd'hui|dehors|encore)",
        r"temp[ée]rature (?:aujourd'hui|demain|dehors|ext[ée]rieure)",
        # de
        r"wetter\w*",
        r"(?:regnet|schneit) es",
        r"wird es\b.{0,30}?\b(?:regnen|schneien|gewittern|st[üu]rmen|sonnig)",
        r"(?:regen|schnee|gewitter) (?:heute|morgen|am wochenende)",
        r"temperatur(?:en)? (?:heute|morgen|drau[ßs]en)",
        # pt
        r"previs[ãa]o (?:do tempo|meteorol[óo]gica)",
        r"meteorologia",
        r"que tempo (?:faz|far[áa]|vai fazer)",
        r"como (?:est[áa]|estar[áa]|vai estar|fica|ficar[áa]) o (?:tempo|clima)",
        r"o (?:tempo|clima) (?:para |de )?(?:hoje|amanh[ãa])",
        r"vai (?:chover|nevar)",
        r"chover[áa]",
        r"nevar[áa]",
        r"est[áa] (?:chovendo|nevando)",
        r"temperatura (?:hoje|amanh[ãa]|l[áa] fora)",
    )
    + r")\b"
)

# Days and words that say "now" (the news and "current" claims need one).
_RECENT = _any(
    r"today",
    r"tonight",
    r"yesterday",
    r"last night",
    r"this (?:morning|week|weekend|month|year|season)",
    r"right now",
)
_NEWS = CaselessRule(
    r"\b(?:"
    + _any(
        r"headlines?",
        r"breaking news",
        r"election results?",
        r"who (?:won|wins) the (?:election|vote|primary|primaries)(?! (?:of|in) \d)",
        r"(?:latest|recent|today's|todays|any) news",
        rf"news (?:from )?{_RECENT}",
        # a result still being decided, or just decided
        r"who(?:'s| is) (?:winning|leading|ahead)",
        r"who won the (?:last|latest|most recent)",
        rf"who (?:won|wins)\b.{{0,40}}?\b{_RECENT}",
        r"score of (?:the|last night's|tonight's|today's) (?:game|match)",
        # es
        r"[úu]ltimas noticias",
        r"noticias (?:de )?(?:hoy|ayer|esta semana)",
        r"titulares",
        r"qu[eé] hay de nuevo (?:sobre|con|en)",
        r"resultados? de las elecciones",
        r"qui[eé]n (?:va ganando|lidera)",
        r"qui[eé]n gan[oó] las elecciones(?! de \d)",
        r"qui[eé]n (?:gan[oó]|gana)\b.{0,40}?\b(?:hoy|ayer|anoche|esta noche)",
        # fr
        r"derni[eè]res? (?:nouvelles|actualit[ée]s|infos)",
        r"(?:actualit[ée]s?|nouvelles|infos) (?:du jour|d'aujourd'hui)",
        r"quoi de neuf (?:sur|concernant|avec|dans|à propos|chez)",
        r"gros titres",
        r"r[ée]sultats? des [ée]lections",
        r"qui est en t[êe]te",
        r"qui a gagn[ée] les [ée]lections(?! de \d)",
        r"qui a gagn[ée]\b.{0,40}?\b(?:hier|ce soir|aujourd'hui)",
        # de
        r"(?:neueste|aktuelle)n? nachrichten",
        r"nachrichten (?:von )?(?:heute|gestern)",
        r"schlagzeilen",
        r"wahlergebnis\w*",
        r"was gibt(?:'s| es) neues (?:zu[rm]?|bei|über|von|vom|in|im|aus)",
        r"wer (?:f[üu]hrt|liegt vorne)",
        r"wer hat die wahl gewonnen",
        r"wer (?:hat|gewinnt)\b.{0,40}?\b(?:gestern|heute)",
        # pt
        r"[úu]ltimas not[íi]cias",
        r"not[íi]cias (?:de )?(?:hoje|ontem)",
        r"manchetes",
        r"o que h[áa] de novo (?:sobre|com|em|no|na)",
        r"resultados? das elei[çc][õo]es",
        r"quem est[áa] (?:ganhando|liderando)",
        r"quem ganhou as elei[çc][õo]es(?! de \d)",
        r"quem (?:ganhou|ganha)\b.{0,40}?\b(?:hoje|ontem)",
    )
    + r")\b"
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
RULES = (_PRICE, _WEATHER, _NEWS, _CURRENT, _ABOUT_THE_ASKER)


def claims_in(text: CaselessText, *, asking: bool) -> list[str]:
    """The fresh-fact claims the text makes. "Today / current / latest" is a
    claim only in a question (``asking``) about the world, not the asker."""
    found = []
    if _PRICE.search(text) or _TICKER_PRICE.search(text.raw):
        found.append("price")
    if _WEATHER.search(text):
        found.append("weather")
    if _NEWS.search(text):
        found.append("news")
    if asking and _CURRENT.search(text) and not _ABOUT_THE_ASKER.search(text):
        found.append("current")
    return found
