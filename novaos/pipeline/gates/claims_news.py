"""The lens's news claim: a question about what happened lately, or a game or
vote still being decided.

Evidence is a recency cue ("latest news", "noticias de hoy", "qui a gagné ...
hier soir", "wer hat ... gestern gewonnen"), or asking for the news or a
result now ("who's winning", "quais são as notícias?"). A news word alone is
not: "Wie schreibe ich gute Schlagzeilen?", "¿Qué significa titulares?", nor is
a lead outside a contest: "¿Quién lidera un equipo Scrum?", "Wer führt die
Trauung durch?".
"""

from __future__ import annotations

from novaos.pipeline.gates.claims_words import RECENT, any_of, near
from novaos.pipeline.gates.intent import CaselessRule, CaselessText

# What can be led or won while it is still going on.
_CONTEST = any_of(
    r"games?",
    r"match(?:es)?",
    r"race",
    r"elections?",
    r"votes?",
    r"polls?",
    r"primar(?:y|ies)",
    r"series",
    r"tournament",
    r"league",
    r"championship",
    r"standings",
    r"partido",
    r"carrera",
    r"elecciones",
    r"encuestas",
    r"liga",
    r"campeonato",
    r"mundial",
    r"torneo",
    r"course",
    r"[ée]lections?",
    r"sondages?",
    r"championnat",
    r"tournoi",
    r"spiel",
    r"rennen",
    r"\w*wahl",
    r"umfragen?",
    r"bundesliga",
    r"meisterschaft",
    r"tabelle",
    r"turnier",
    r"jogo",
    r"partida",
    r"corrida",
    r"elei[çc][õo]es",
    r"pesquisas?",
    r"brasileir[ãa]o",
)
_LEADS = any_of(
    r"who(?:'s| is) (?:leading|ahead)",
    r"qui[eé]n (?:lidera|va primero|est[aá] liderando|va liderando)",
    r"qui (?:est en t[êe]te|m[eè]ne)",
    r"wer (?:f[üu]hrt|liegt vorne)",
    r"quem (?:lidera|est[áa] liderando)",
)
# Where a question ends: "Quelles sont les nouvelles ?" (not "... nouvelles règles").
_END = r"(?=\s*[?.!]|\s*$)"
_NEWS = CaselessRule(
    r"\b(?:"
    + any_of(
        r"breaking news",
        r"(?:latest|recent|today's|todays|any) news",
        rf"news (?:from )?{RECENT}",
        r"(?:today's|latest|top|current|breaking) headlines",
        r"(?:what are|read me|give me) (?:the )?headlines",
        r"(?:latest|current|live|today's) election results",
        r"election results? (?:so far|yet|today|tonight)",
        r"who (?:won|wins) the (?:election|vote|primary|primaries)(?! (?:of|in) \d)",
        # a result still being decided, or just decided
        r"who(?:'s| is) winning",
        r"who won the (?:last|latest|most recent)",
        rf"who (?:won|wins)\b.{{0,40}}?\b{RECENT}",
        r"score of (?:the|last night's|tonight's|today's) (?:game|match)",
        r"what(?:'s| is) the score (?:of|in) (?:the |tonight's |today's )?(?:[\w'-]+ ){0,3}"
        r"(?:game|match)",
        rf"what(?:'s| is)(?: in)? the news(?:{_END}| today| about| on)",
        # not "the game of life"
        r"who (?:will|is going to|'s going to) win the (?:election|vote|primary|game|match|race|"
        r"super bowl|world cup|world series|final|finals|championship|league|cup|tournament)"
        r"(?! of\b)",
        # the last of a yearly contest, not one of a given year
        r"who won (?:the )?(?:eurovision|super bowl|world cup|world series|champions league|"
        r"stanley cup|nba finals|ballon d'or|tour de france)(?: final)?"
        r"(?! ?\d| (?:in|of) \d| the most)",
        # es
        r"[úu]ltimas noticias",
        r"noticias (?:de )?(?:hoy|ayer|esta semana)",
        r"(?:los )?titulares (?:de hoy|del d[ií]a)",
        r"[úu]ltimos titulares",
        r"qu[eé] hay de nuevo (?:sobre|con|en)",
        r"qu[eé] dicen las noticias",
        rf"cu[aá]les son las noticias(?:{_END}| de hoy| del d[ií]a)",
        r"qui[eé]n (?:va|est[aá]) ganando",
        r"qui[eé]n gan[oó] las elecciones(?! de \d)",
        rf"qui[eé]n (?:gan[oó]|gana|venci[oó])\b.{{0,40}}?\b{RECENT}",
        r"qui[eé]n (?:va a ganar|ganar[aá]) (?:las elecciones|el partido|la final)",
        # fr
        r"derni[eè]res? (?:nouvelles|actualit[ée]s|infos)",
        r"(?:actualit[ée]s?|nouvelles|infos) (?:du jour|d'aujourd'hui)",
        r"quoi de neuf (?:sur|concernant|avec|dans|à propos|chez)",
        r"(?:gros )?titres (?:du jour|d'aujourd'hui)",
        rf"quelles sont les (?:actualit[ée]s|infos|nouvelles{_END}|nouvelles du jour)",
        r"qui a gagn[ée] les [ée]lections(?! de \d)",
        rf"qui a (?:gagn[ée]|remport[ée])\b.{{0,40}}?\b{RECENT}",
        r"qui gagne (?:le match|la partie|la course|les [ée]lections)",
        r"qui va (?:gagner|remporter) (?:les [ée]lections|le match|la finale)",
        # de
        r"(?:neueste|aktuelle)n? nachrichten",
        r"nachrichten (?:von )?(?:heute|gestern)",
        r"(?:heutigen|aktuellen|neuesten) schlagzeilen",
        r"schlagzeilen (?:von heute|des tages)",
        r"(?:aktuelle|neueste|vorl[äa]ufige)s? wahlergebnis\w*",
        r"was gibt(?:'s| es) neues (?:zu[rm]?|bei|über|von|vom|in|im|aus)",
        rf"(?:was|wie) (?:sind|lauten) die nachrichten{_END}",
        r"wer hat die \w*wahl gewonnen",
        rf"wer (?:hat|gewinnt)\b.{{0,40}}?\b{RECENT}",
        r"wer gewinnt die \w*wahl",
        r"wer gewinnt (?:das (?:spiel|match|rennen|finale|derby)|die meisterschaft|den pokal)",
        r"wie steht(?:'s| es) (?:beim|im) \w*spiel",
        # pt
        r"[úu]ltimas not[íi]cias",
        r"not[íi]cias (?:de )?(?:hoje|ontem)",
        r"manchetes (?:de hoje|do dia)",
        r"[úu]ltimas manchetes",
        r"o que h[áa] de novo (?:sobre|com|em|no|na)",
        rf"quais (?:s[ãa]o )?as not[íi]cias(?:{_END}| de hoje| do dia)",
        r"quem est[áa] (?:ganhando|vencendo)",
        r"quem ganhou as elei[çc][õo]es(?! de \d)",
        rf"quem (?:ganhou|ganha|venceu|vence)\b.{{0,40}}?\b{RECENT}",
        r"quem (?:vai ganhar|vai vencer|ganhar[áa]|vencer[áa]) "
        r"(?:as elei[çc][õo]es|o jogo|a partida)",
    )
    + r")\b"
)
_LEADS_RULE = CaselessRule(r"\b" + _LEADS + r"\b")
_CONTEST_RULE = CaselessRule(r"\b" + _CONTEST + r"\b")

RULES = (_NEWS, _LEADS_RULE, _CONTEST_RULE)


def news_claim(text: CaselessText) -> bool:
    """Whether the text asks for news or a result still changing (its
    quotations and any asking-at-all check are the caller's)."""
    return _NEWS.search(text) or near(_LEADS_RULE, _CONTEST_RULE, text, 40)
