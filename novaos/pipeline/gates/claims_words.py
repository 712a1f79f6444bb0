"""Words the lens's weather and news claims share: when (a time ahead, a
recent day), whether the message asks at all, and what it only mentions.

A weather or news word alone is no evidence of a fresh fact: "Wetterballon",
"gros titres accrocheurs", "titulares en periodismo". The evidence is the word
with a time ("tomorrow", "hier soir", "gerade"), or a phrasing that asks for
the state of things now ("will it rain", "qui gagne le match").
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

from novaos.pipeline.gates.intent import CaselessRule, CaselessText


def any_of(*alternatives: str) -> str:
    return "(?:" + "|".join(alternatives) + ")"


def near(a: CaselessRule, b: CaselessRule, text: CaselessText, gap: int) -> bool:
    """Whether a match of ``a`` and one of ``b`` lie within ``gap`` characters.

    Two scans and a bisection: one pattern "a, up to gap characters, b" tried at
    every position costs ~10x more on a long message of short words."""
    found = a.spans(text)
    return bool(found) and near_spans(found, b.spans(text), gap)


def near_spans(found: list[tuple[int, int]], others: list[tuple[int, int]], gap: int) -> bool:
    """Whether one of ``found`` and one of ``others`` lie within ``gap`` characters."""
    ends = [end for _, end in others]
    for start, end in found:
        i = bisect_left(ends, start - gap)  # the first that ends near enough before
        if i < len(others) and others[i][0] <= end + gap:
            return True
    return False


def _tomorrow(word: str) -> str:
    """``word`` for tomorrow, not the morning: "am Morgen", "por la mañana"."""
    return word + "".join(
        rf"(?<!{before} {word})" for before in ("am", "guten", "jeden", "la", "cada")
    )


# Now, or a time ahead: what a forecast is for.
AHEAD = any_of(
    r"today",
    r"tonight",
    r"tomorrow",
    r"this (?:morning|afternoon|evening|weekend|week)",
    r"(?:right )?now",
    r"at the moment",
    r"outside",
    r"(?:the )?(?:next|coming) (?:few )?days",
    # es
    r"hoy",
    _tomorrow(r"ma[ñn]ana"),
    r"esta (?:noche|tarde|semana)",
    r"este fin de semana",
    r"ahora(?: mismo)?",
    r"en este momento",
    r"afuera",
    # fr
    r"aujourd'hui",
    r"demain",
    r"ce (?:soir|matin|week-end|weekend)",
    r"cet apr[èe]s-midi",
    r"cette semaine",
    r"en ce moment",
    r"maintenant",
    r"dehors",
    # de
    r"heute",
    r"[üu]bermorgen",
    _tomorrow(r"morgen"),
    r"am wochenende",
    r"diese woche",
    r"gerade",
    r"jetzt",
    r"momentan",
    r"im moment",
    r"drau[ßs]en",
    # pt
    r"hoje",
    _tomorrow(r"amanh[ãa]"),
    r"esta noite",
    r"(?:este|neste) fim de semana",
    r"esta semana",
    r"agora",
    r"neste momento",
    r"l[áa] fora",
)

# A recent day: what news and results are from.
RECENT = any_of(
    r"today",
    r"tonight",
    r"yesterday",
    r"last night",
    r"this (?:morning|week|weekend|month|year|season)",
    r"right now",
    # es
    r"hoy",
    r"ayer",
    r"anoche",
    r"esta (?:noche|semana|temporada)",
    r"este (?:a[ñn]o|mes|fin de semana)",
    r"ahora(?: mismo)?",
    # fr
    r"aujourd'hui",
    r"hier(?: soir)?",
    r"ce (?:soir|matin|week-end|weekend|mois)",
    r"cette (?:semaine|ann[ée]e|saison)",
    r"en ce moment",
    # de
    r"heute",
    r"gestern(?: abend)?",
    r"letzte nacht",
    r"(?:diese[nsm]?|dieser) (?:woche|jahr|saison|monat)",
    r"am wochenende",
    r"gerade",
    r"jetzt",
    # pt
    r"hoje",
    r"ontem(?: à noite)?",
    r"esta (?:noite|semana|temporada)",
    r"(?:este|neste) (?:ano|m[êe]s|fim de semana)",
    r"agora",
)

# A question about what a phrase means or how to say it uses weather and news
# words without asking for either: "¿Qué significa está lloviendo a cántaros?".
ABOUT_WORDS = CaselessRule(
    r"\b(?:"
    + any_of(
        r"what does .{0,60}? mean",
        r"meaning of",
        r"how (?:do|would) (?:you|i) say",
        r"qu[eé] (?:significa|quiere decir)",
        r"c[oó]mo se dice",
        r"que (?:veut dire|signifie)",
        r"comment (?:dit-on|on dit)",
        r"was (?:bedeutet|hei[ßs]t)",
        r"wie sagt man",
        r"o que (?:significa|quer dizer)",
        r"como se diz",
    )
    + r")\b"
)

# Whether a message that is not a question still asks something: "Plan a
# picnic, what's the weather tomorrow", "Tell me today's headlines".
_ASKS_WITHIN = CaselessRule(
    r"[?¿]|(?:^|[,;:.!]\s*)(?:please )?"
    + any_of(
        r"whats?",
        r"how",
        r"who",
        r"will",
        r"is it",
        r"tell me",
        r"give me",
        r"show me",
        r"let me know",
        r"check",
        r"look up",
        r"qu[eé]",
        r"c[oó]mo",
        r"qui[eé]n",
        r"dime",
        r"dame",
        r"quel(?:le)?s?",
        r"qui",
        r"comment",
        r"dis-moi",
        r"donne-moi",
        r"wie",
        r"was",
        r"wer",
        r"wird",
        r"sag mir",
        r"gib mir",
        r"o que",
        r"qual",
        r"quais",
        r"quem",
        r"como",
        r"vai",
        r"diga-me",
        r"me diga",
    )
    + r"\b"
)

_QUERY_WORDS = 5

# Message types whose text is material to work on, not a request about the world.
_MATERIAL = frozenset({"translate", "rewrite"})

# Text in quotation marks is mentioned, not asked about: Translate "take an umbrella".
# Each kind is looked for only when the text holds its closing mark: an opening
# one alone ("„a „a ...") read up to 200 characters at every one of them.
_QUOTES = (
    ('"', re.compile(r'"[^"\n]{0,200}"')),
    ("”", re.compile(r"“[^”\n]{0,200}”")),
    ("»", re.compile(r"«[^»\n]{0,200}»")),
    ("“”", re.compile(r"„[^“”\n]{0,200}[“”]")),
)


# Where a question starts inside a sentence, after a statement: "Hace calor
# hoy, ¿cómo refresco mi casa?", "Il fait chaud aujourd'hui, comment ...?".
_OPENER = any_of(
    r"whats?",
    r"what's",
    r"how",
    r"who",
    r"where",
    r"when",
    r"why",
    r"which",
    r"will",
    r"is it",
    r"can",
    r"could",
    r"should",
    r"tell me",
    r"give me",
    r"show me",
    r"let me know",
    r"qu[eé]",
    r"c[oó]mo",
    r"qui[eé]n",
    r"d[oó]nde",
    r"cu[aá]ndo",
    r"cu[aá]l",
    r"puedo",
    r"debo",
    r"dime",
    r"quel(?:le)?s?",
    r"qui",
    r"comment",
    r"où",
    r"quand",
    r"pourquoi",
    r"est-ce",
    r"qu'est-ce",
    r"dis-moi",
    r"wie",
    r"was",
    r"wer",
    r"wo",
    r"wann",
    r"warum",
    r"welche[rsmn]?",
    r"wird",
    r"kann",
    r"soll",
    r"o que",
    r"qual",
    r"quais",
    r"quem",
    r"onde",
    r"quando",
    r"vai",
    r"posso",
    r"devo",
)
# The end of a clause: a sentence's, an opening "¿", or a comma before a question.
_CLAUSE_END = CaselessRule(r"[.!?;\n¿¡]|,(?=\s*" + _OPENER + r"\b)")
_OPENS = CaselessRule(r"(?:^|(?<=[.!?;\n¿¡,]))\s*(?:please )?" + _OPENER + r"\b")


def asking_clauses(text: CaselessText) -> list[tuple[int, int]]:
    """The clauses of the text that ask: each that ends in "?" or opens with a
    question word or a request ("tell me"); the whole text when none does ("weather
    this weekend"). Not a statement before another question: "Es regnet heute.
    Was kann ich mit den Kindern machen?" asks about the children."""
    opens = {start for start, _ in _OPENS.spans(text)}
    raw = text.raw
    asking, start = [], 0
    for end, after in [*_CLAUSE_END.spans(text), (len(raw), len(raw))]:
        if start in opens or raw[end:after] == "?":
            asking.append((start, end))
        start = after
    return asking or [(0, len(raw))]


def starting_within(
    spans: list[tuple[int, int]], clauses: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The spans that start inside one of the clauses (both in text order)."""
    starts = [start for start, _ in clauses]
    kept = []
    for span in spans:
        i = bisect_right(starts, span[0]) - 1
        if i >= 0 and span[0] < clauses[i][1]:
            kept.append(span)
    return kept


def asks_about_the_world(text: CaselessText, kind: str | None) -> bool:
    """Whether a weather or news claim can stand: the message asks (a
    question, or a request that holds one), and not about words."""
    if kind in _MATERIAL or ABOUT_WORDS.search(text):
        return False
    if kind in (None, "question") or _ASKS_WITHIN.search(text):
        return True
    # typed like a search: "weather this weekend", "news today"
    return kind == "conversation" and len(text.raw.split()) <= _QUERY_WORDS and "!" not in text.raw


def unquoted(text: CaselessText) -> CaselessText:
    """The text without its quotations (the same object when it has none)."""
    raw = text.raw
    for closers, quoted in _QUOTES:
        if any(closer in raw for closer in closers):
            raw = quoted.sub(" ", raw)
    return text if raw == text.raw else CaselessText(raw)


RULES = (ABOUT_WORDS, _ASKS_WITHIN, _CLAUSE_END, _OPENS)
