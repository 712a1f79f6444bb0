"""The lens's weather claim: a question about the weather now or ahead.

Evidence is a forecast phrasing ("will it rain", "¿qué tiempo hará?", "fera-t-il
beau", "wie wird das Wetter", "vai chover") or a weather word with a time
("hot ... tomorrow", "Unwetter ... morgen", "temperatura ... agora"). A weather
word alone is not: "Ist diese Jacke wetterfest?", "¿Qué tiempo hace falta para
cocer un huevo?", "Will it freeze if I put a soda can in the freezer?".
"""

from __future__ import annotations

from novaos.pipeline.gates.claims_words import (
    AHEAD,
    any_of,
    asking_clauses,
    near_spans,
    starting_within,
)
from novaos.pipeline.gates.intent import CaselessRule, CaselessText

# Words that name the weather, whatever the sentence does with them.
_WEATHER_WORD = any_of(
    r"weather",
    r"forecast",
    r"rain(?:ing|y|fall)?",
    r"snow(?:ing|y|fall)?",
    r"(?:thunder)?storms?",
    r"stormy",
    r"hail",
    r"sleet",
    r"sunshine",
    r"temperatures?",
    r"umbrella",
    r"heat ?wave",
    # es
    r"lluvias?",
    r"llover\w*",
    r"llueve",
    r"lloviendo",
    r"nieve",
    r"nevar\w*",
    r"nieva",
    r"nevando",
    r"tormentas?",
    r"granizo",
    r"helada",
    r"temperaturas?",
    r"paraguas",
    r"pron[oó]stico",
    # fr
    r"pluie",
    r"pleuv\w+",
    r"pleut",
    r"neiger?",
    r"neigera",
    r"orages?",
    r"gr[êe]le",
    r"canicule",
    r"temp[ée]ratures?",
    r"parapluie",
    r"m[ée]t[ée]o",
    # de
    r"wetter(?:bericht|vorhersage|aussichten|lage)?",
    r"unwetter\w*",
    r"regen(?:schauer|schirm|wahrscheinlichkeit)?",
    r"regnet",
    r"schnee(?:fall)?",
    r"schneit",
    r"gewitter",
    r"sturm",
    r"hagel",
    r"glatteis",
    r"hitze(?:welle)?",
    r"temperatur(?:en)?",
    # pt
    r"chuvas?",
    r"chov\w+",
    r"chove",
    r"neve",
    r"neva",
    r"tempestades?",
    r"geada",
    r"guarda-chuva",
    r"previs[ãa]o do tempo",
)
# How warm or wet it is, said of the day ("it"), not of an oven or a laptop.
_WEATHER_STATE = any_of(
    r"(?:it|it'll|it's) (?:\w+ ){0,3}(?:hot|cold|warm|chilly|humid|freezing|sunny|cloudy|windy|"
    r"foggy|rainy|snowy)",
    r"how (?:hot|cold|warm|chilly|humid|windy) (?:will|is|it)",
    r"(?:hace|har[aá]|va a hacer) (?:mucho )?(?:calor|fr[ií]o|sol|viento)",
    r"(?:hace|har[aá]|va a hacer) (?:buen|mal) tiempo",
    r"(?:fait|fera|faire)(?:-t-il)? (?:tr[èe]s |du )?"
    r"(?:beau|chaud|froid|doux|frais|soleil|vent)",
    # the time may come between: "Wird es morgen heiß?"
    r"(?:wird|ist) es(?=\b.{0,25}?\b(?:hei[ßs]|kalt|warm|sonnig|windig|regnen|schneien)\b)",
    r"wie (?:warm|kalt|hei[ßs]) (?:wird|ist) es",
    r"(?:faz|far[áa]|vai fazer|est[áa] fazendo) (?:muito )?(?:calor|frio|sol|vento)",
)
# Phrasings that ask for a forecast or today's weather by themselves.
_FORECAST = any_of(
    r"what(?:'s| is| will be) the (?:weather|forecast)",
    r"how(?:'s| is| will be) the weather",
    r"(?:weather |rain |snow |storm )?forecast (?:for|in) ",
    r"(?:will|is) it (?:going to |gonna )?(?:rain|snow|storm|hail|pour|drizzle)",
    r"is it (?:raining|snowing|pouring|hailing|sunny|cloudy)",
    r"(?:need|bring|take|pack) an umbrella",
    r"(?:is there|are there|any) (?:an? )?(?:\w+ )?(?:storm|weather|tornado|hurricane|flood|heat|"
    r"frost|snow) (?:warnings?|watch(?:es)?|alerts?)",
    r"(?:storm|weather|tornado|hurricane|flood|heat|frost|snow) (?:warnings?|alerts?) (?:for|in)",
    r"temperature (?:in|at) (?!(?:the|a|an|my|your|our|which|what|celsius|fahrenheit|"
    r"kelvin|degrees?|room)\b|\d)\w+",
    # es
    r"qu[eé] (?:tiempo|temperatura) (?:hace|har[aá]|va a hacer)(?! falta)",
    # "pronóstico para un paciente" is a prognosis
    r"pron[oó]stico (?:del tiempo|meteorol[oó]gico)",
    r"pron[oó]stico (?:para|en) (?!(?:una?|el|la|los|las|pacientes?|personas?)\b)",
    r"(?<=¿)(?:hace|llueve|nieva) (?:sol |fr[ií]o |calor |viento |buen tiempo |mal tiempo )?en",
    r"c[oó]mo (?:est[aá]|estar[aá]|va a estar) el (?:tiempo|clima)"
    r"(?= ?[?.!]| en | para | hoy| ma[ñn]ana| este| esta)",
    r"va a (?:llover|nevar|granizar)",
    r"llover[aá]",
    r"nevar[aá]",
    # fr
    r"quel temps (?:fait|fera)(?:-t-il)?",
    r"quel temps va-t-il faire",
    r"quelle temp[ée]rature (?:fait-il|fera-t-il|il fait|il fera)",
    r"il fait combien(?! de\b)",
    r"(?:la|quelle) m[ée]t[ée]o (?:à|a|de|du|d'|pour|en|au)",
    r"(?:va(?:-t-il)?|devrait) (?:pleuvoir|neiger)",
    r"pleuvra",
    r"neigera",
    r"(?:pleut|neige)(?:-t)?-il",
    r"il (?:pleut|neige) (?:à|a|en|au)(?! (?:verse|torrents?|seaux|cordes|boire)\b)",
    # de
    r"wie (?:wird|ist) das wetter",
    r"wird es\b.{0,30}?\b(?:regnen|schneien|gewittern|st[üu]rmen)",
    r"(?:^|[.?!,;:]\s*)(?:regnet|schneit|hagelt) es",
    # pt
    r"que tempo (?:faz|far[áa]|vai fazer)(?! falta)",
    r"como (?:est[áa]|estar[áa]|vai estar|fica|ficar[áa]) o (?:tempo|clima)"
    r"(?= ?[?.!]| em | no | na | para | hoje| amanh| este| esta| neste| nesta)",
    r"previs[ãa]o do tempo (?:para|em|no|na)",
    r"vai (?:chover|nevar)",
    r"chover[áa]",
    r"nevar[áa]",
    r"est[áa] (?:chovendo|nevando)",
)
_FORECAST_RULE = CaselessRule(r"\b" + _FORECAST + r"\b")
_SAID = CaselessRule(r"\b" + any_of(_WEATHER_WORD, _WEATHER_STATE) + r"\b")

# Asking for a film, a song or a story with the rain in it asks for no
# forecast: "Recommend a movie like Singin' in the Rain for tonight", "Write a
# short story where it will rain tomorrow". Only the request: "Will it rain
# tomorrow in Seattle? I want to read my novel outside." still asks.
_WORK = any_of(
    r"movies?",
    r"films?",
    r"songs?",
    r"poems?",
    r"stor(?:y|ies)",
    r"novels?",
    r"lyrics",
    r"haikus?",
    r"pel[ií]culas?",
    r"canci[oó]n",
    r"poemas?",
    r"cuentos?",
    r"chansons?",
    r"po[èe]mes?",
    r"histoires?",
    r"(?:ein|das|dem|einem) lied",
    r"gedicht",
    r"geschichte",
    r"can[çc][ãa]o",
    r"hist[óo]rias?",
)
_MAKE = any_of(
    r"write",
    r"compose",
    r"tell me",
    r"make up",
    r"create",
    r"generate",
    r"recommend",
    r"suggest",
    r"escrib\w*",
    r"comp[oó]n\w*",
    r"cu[eé]ntame",
    r"recomi[eé]nda\w*",
    r"recomienda\w*",
    r"inventa\w*",
    r"[ée]cri(?:s|vez|re)(?:-moi)?",
    r"compose[zr]?",
    r"raconte(?:z|r)?(?:-moi)?",
    r"recommande(?:z|r)?(?:-moi)?",
    r"conseille(?:z|r)?(?:-moi)?",
    r"schreib(?:e|en)?",
    r"erz[äa]hl(?:e|en)?",
    r"empfiehl",
    r"escrev\w*",
    r"componha",
    r"conte(?:-me)?",
    r"recomende",
)
# A message to write, which may give the weather as its reason: "Help me write
# an email to say I'll be late today because of the snow".
_NOTE = any_of(
    r"e-?mails?",
    r"letters?",
    r"messages?",
    r"notes?",
    r"texts?",
    r"posts?",
    r"correos?",
    r"cartas?",
    r"mensajes?",
    r"lettres?",
    r"courriels?",
    r"mails?",
    r"nachricht(?:en)?",
    r"briefe?",
    r"mensage(?:m|ns)",
)
# What the work is about or like, after its name: "un poema sobre la lluvia",
# "ein Gedicht über den Regen morgen".
_WORK_OF = any_of(
    r"about",
    r"where",
    r"in which",
    r"like",
    r"sobre",
    r"donde",
    r"en (?:el|la) que",
    r"sur",
    r"où",
    r"comme",
    r"über",
    r"in (?:der|dem)",
    r"onde",
    r"em que",
)
_CREATIVE_REQUEST = CaselessRule(
    rf"\b{_MAKE}\b(?: [\w'-]+){{0,3}}? (?:{_WORK}|{_NOTE})\b|\b{_WORK} {_WORK_OF}\b"
)
# A query of a place alone: "Weather in Tokyo?", "Météo à Lyon", "Wetter in Köln?".
_PLACE_QUERY = CaselessRule(
    r"^[\s¿¡]*"
    + any_of(
        r"(?:the )?weather (?:in|for|at)",
        r"(?:la )?m[ée]t[ée]o (?:à|a|de|du|pour|en|au)",
        r"(?:das )?wetter (?:in|für|am|an der)",
        r"(?:el )?(?:tiempo|clima) (?:en|para)",
        r"(?:o )?(?:tempo|clima) (?:em|no|na|para)",
        r"previs[ãa]o (?:para|em|no|na)",
    )
    + r"(?: [\w'.-]+){1,3}\s*[?.!]?\s*$"
)
# Weather in a month or season is the climate, which needs no fresh facts:
# "Is it cold in Antarctica in July?", "Wie ist das Wetter in England im Winter?".
_CLIMATE = CaselessRule(
    r"\b"
    + any_of(
        r"(?:in|en|im|em) (?:january|february|march|april|may|june|july|august|september|"
        r"october|november|december|winter|summer|spring|autumn|fall|"
        r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|"
        r"diciembre|invierno|verano|oto[ñn]o|primavera|"
        r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|"
        r"d[ée]cembre|hiver|[ée]t[ée]|automne|"
        r"januar|februar|m[äa]rz|juni|juli|oktober|dezember|sommer|herbst|fr[üu]hling|"
        r"janeiro|fevereiro|mar[çc]o|maio|junho|julho|agosto|setembro|outubro|novembro|"
        r"dezembro|inverno|ver[ãa]o|outono)",
        r"usually",
        r"normally",
        r"typically",
        r"on average",
        r"normalmente",
        r"suele",
        r"en promedio",
        r"g[ée]n[ée]ralement",
        r"en moyenne",
        r"normalerweise",
        r"durchschnittlich",
        r"geralmente",
        r"em m[ée]dia",
    )
    + r"\b"
)
_AHEAD = CaselessRule(r"\b" + AHEAD + r"\b")

RULES = (_FORECAST_RULE, _SAID, _CREATIVE_REQUEST, _PLACE_QUERY, _CLIMATE, _AHEAD)


def weather_claim(text: CaselessText) -> bool:
    """Whether the text asks about the weather now or ahead (its quotations
    and any asking-at-all check are the caller's): in a clause that asks, not
    a statement of today's weather before another question ("Hace mucho calor
    hoy, ¿cómo refresco mi casa?")."""
    if _CREATIVE_REQUEST.search(text):
        return False
    asking = asking_clauses(text)
    if _PLACE_QUERY.search(text) or starting_within(_FORECAST_RULE.spans(text), asking):
        return not _CLIMATE.search(text)
    said = starting_within(_SAID.spans(text), asking)
    return bool(said) and near_spans(said, _AHEAD.spans(text), 40)
