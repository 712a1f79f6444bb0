"""What the lens reads as a claim that needs fresh facts, measured on messages
people send. Everyday questions whose words merely look like a claim ("share a
recipe", "stock up", "echo $HOME", "tonight") were degraded: the answer's
numbers became "[figure not verified]" and it ended with a false note that
current data could not be verified. Weather and news questions outside English
("Wie wird das Wetter morgen in Berlin?", "Was gibt es Neues zur Wahl?") and
"will it rain tomorrow" passed with no degrade: a made-up forecast shipped as fact.
The rules that fixed those then read a bare weather or news word as a claim
("Ist diese Jacke wetterfest?", "¿Cómo escribo buenos titulares?") and a story
or a translation as a question: the evidence is now a forecast phrasing or a
weather or news word with a time, in a message that asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from novaos.domain import Decision
from novaos.pipeline.gates.claims_words import unquoted
from novaos.pipeline.gates.intent import CaselessText, IntentGate, analyse
from novaos.pipeline.gates.lens import LensGate, detect_claims
from novaos.pipeline.gates.model import build_model_facts
from novaos.pipeline.policy import default_policy
from tests.fixtures.gate_fakes import gate_input

# The tester's false positives first, then everyday questions like them.
EVERYDAY = [
    "can you share a good pancake recipe",
    "how do I share my screen on zoom",
    "should I stock up on canned food for winter",
    "why does echo $HOME print nothing in my script",
    "how do I stop my shoelaces from breaking",
    "who won more battles, Napoleon or Caesar",
    "Who won the 1998 World Cup?",
    "what should I cook tonight",
    "can you give me a good pancake recipe",
    "What's the best way to share a Google Doc?",
    "Can you share some tips for a job interview?",
    "How do I make chicken stock from leftover bones?",
    "Is it better to stock my pantry with rice or pasta?",
    "How do I take stock of my life after a breakup?",
    "Where can I find free stock photos?",
    "How do I set $PATH in bash?",
    "What's the value of $x after this loop runs?",
    "How do I fix a breaking change in my API?",
    "What does breaking bad mean?",
    "What's a good movie to watch tonight?",
    "How are you today?",
    "What is the current in a circuit with 10 ohms and 5 volts?",
    "What is cryptography used for?",
    "Explain how bitcoin mining works",
    "Who won the Battle of Waterloo?",
    "Who won more Grand Slams, Federer or Sampras?",
    "What temperature should I bake chicken at?",
    "What's the temperature in the oven for pizza?",
    "How do I forecast sales for next quarter?",
    "I'm feeling under the weather, any tips?",
    "Why is the news so negative?",
    "What rhymes with share?",
    "¿Puedes compartir una receta de tortilla?",
    "¿Qué puedo cocinar hoy?",
    "¿Cuánto tiempo tarda en cocerse un huevo?",
    "Peux-tu partager une recette de crêpes ?",
    "Combien de temps faut-il pour cuire des pâtes ?",
    "Was soll ich heute kochen?",
    "Wie geht es dir heute?",
    "O que devo cozinhar hoje?",
    "Quanto tempo leva para cozinhar arroz?",
    "What is the actual size of the sun?",
    "How much does chicken stock cost?",
    "What is the ETH Zurich known for?",
    "¿Qué acciones de mejora puedo tomar?",
    "Quais são as ações do governo para a saúde?",
    "¿Tengo tiempo para mañana?",
    "Why does it rain more in Seattle?",
    "Il pleut des cordes, c'est une expression ?",
    "Was gibt es Neues?",
    "Quoi de neuf ?",
    "¿Qué hay de nuevo?",
    # Review of the five-language weather and news rules (95f31b6): every one of
    # these degraded on a bare weather or news word, a lead outside a contest, or
    # in a story, a film or a translation rather than a question about the world.
    "¿Qué tiempo hace falta para cocer un huevo?",
    "¿Qué tiempo hace falta para aprender alemán?",
    "¿Cómo está el tiempo verbal en esta frase?",
    "¿Cómo está el clima laboral en mi empresa?",
    "¿Cómo escribo buenos titulares para mi blog?",
    '¿Qué significa "titulares" en periodismo?',
    "¿Quién lidera un equipo Scrum?",
    "¿Cuál es la temperatura exterior ideal para correr?",
    '¿Qué significa "está lloviendo a cántaros"?',
    "Que veut dire « il pleut à verse » ?",
    "Comment fonctionne une station météo ?",
    "Comment écrire de gros titres accrocheurs ?",
    "Qui est en tête du classement des plus longs fleuves ?",
    "Quel temps va-t-on utiliser dans cette phrase ?",
    "Ist diese Jacke wetterfest?",
    "Was ist ein Wetterballon?",
    "Was bedeutet das Wort Wetterfahne?",
    "Was ist der Unterschied zwischen Wetter und Klima?",
    "Warum ist das Wetter in England so wechselhaft?",
    "Wie funktioniert eine Wettervorhersage?",
    "Wer führt die Trauung durch?",
    "Wer liegt vorne bei der Geburt, Mutter oder Kind?",
    "Wie wird ein Wahlergebnis berechnet?",
    "Wie schreibe ich gute Schlagzeilen?",
    "O que é meteorologia?",
    "Como escrever boas manchetes?",
    "Como fica o tempo verbal nesta frase?",
    "Quem está liderando o projeto? Como devo falar com essa pessoa?",
    'O que significa "está chovendo canivetes"?',
    "Will it be hot if I leave my laptop on the bed?",
    "Will it freeze if I put a soda can in the freezer?",
    "Is it going to be hot in the oven at 200 degrees?",
    "Will it be windy at the top of Everest?",
    "Recommend a movie like Singin' in the Rain for tonight.",
    "Write a song about sunshine today.",
    'Translate "take an umbrella" into Spanish.',
    "Write a short story where it will rain tomorrow in the village.",
    # the review's other probes that degraded the same way
    'How do I say "weather" in French?',
    "Can you explain how weather forecasting models work?",
    "Que tempo faz falta para cozinhar arroz?",
    "Erklär mir bitte den Unterschied zwischen Wetter und Klima.",
    "Is it cold in Antarctica in July?",
    "Can you recommend a movie like Singin' in the Rain for tonight?",
    "How do I write good headlines?",
    "How are election results certified?",
    "Who is leading the project?",
    "Comment dit-on « il pleut » en anglais ?",
    # next to the phrasings the fresh list below now reads
    "What's the difference between a tornado watch and a warning?",
    "Il fait combien de kilomètres, ce trajet ?",
    "¿Cuál es el pronóstico para un paciente con diabetes?",
    "Quelles sont les nouvelles règles du code de la route ?",
    "What is the price of chicken stock?",
    "¿Hace frío en Siberia en invierno?",
    "Quais são as notícias falsas mais comuns?",
    "Who will win in a fight, a lion or a tiger?",
    "Wie steht es um die Rente?",
    # Review of 28cda5c: only a request for a story, a poem or a film exempts
    # a message, not a novel mentioned in it (the fresh list has those).
    "Escribe un poema sobre la lluvia de mañana.",
    "Kannst du ein Gedicht über den Regen morgen schreiben?",
    "Écris un poème sur la pluie de demain.",
    "Weather in England is so changeable, why?",
    # Review of 28cda5c/7696316: today's weather stated, then another question.
    "Hace mucho calor hoy, ¿cómo refresco mi casa?",
    "Il fait chaud aujourd'hui, comment rafraîchir mon appartement ?",
    "Está fazendo calor hoje, como refresco minha casa?",
    "Hoy llueve, ¿qué puedo hacer con los niños?",
    "Es regnet heute. Was kann ich mit den Kindern machen?",
    "Can you help me write an email to say I'll be late today because of the snow?",
    "My soup, it's too cold now. How do I reheat it?",
    "It's raining today, what can I do with the kids?",
    "Who will win the game of life?",
    # next to the results the fresh list below now reads
    "Who won the World Cup in 1966?",
    "Who won the World Cup the most times?",
    "Who won Super Bowl 50?",
]

# Genuine fresh-fact questions, with the claim each must raise: the evidence
# the lens now asks for is still there.
FRESH = [
    ("What's the bitcoin price?", "price"),
    ("TSLA stock price", "price"),
    ("what's ETH trading at", "price"),
    ("how much is ethereum worth", "price"),
    ("What is Apple's share price today?", "price"),
    ("How is the stock market doing today?", "price"),
    ("What's the euro to dollar exchange rate?", "price"),
    ("How many dollars is 50 euros?", "price"),
    ("What is the AAPL price?", "price"),
    ("What's $TSLA trading at?", "price"),
    ("What's the weather forecast for London this weekend?", "weather"),
    ("Who won last night's game?", "news"),
    ("What's the latest news about the election?", "news"),
    ("What are today's headlines?", "news"),
    ("Who won the game last night?", "news"),
    ("Who is winning the election?", "news"),
    ("will it rain tomorrow in Seattle", "weather"),
    ("Is it going to snow in Denver tomorrow?", "weather"),
    ("Should I bring an umbrella today?", "weather"),
    # not a question, but asking all the same
    ("Tell me the weather in Paris tomorrow.", "weather"),
    ("Plan a picnic, what's the weather tomorrow", "weather"),
    ("weather this weekend", "weather"),
    ("Give me today's headlines.", "news"),
    ("Will it rain in Seattle?", "weather"),
    ("Is it raining in London?", "weather"),
    ("Who's winning the game?", "news"),
    ("Who is the current prime minister of the UK?", "current"),
    ("What is the date today?", "current"),
    # Which release is newest changes after the model was trained: a "latest" question.
    ("What's the latest version of Python?", "current"),
    ("¿Cuál es el precio del bitcoin hoy?", "price"),
    ("¿Qué tiempo hará mañana en Madrid?", "weather"),
    ("¿Va a llover mañana en Sevilla?", "weather"),
    ("¿Cómo está el clima hoy en Bogotá?", "weather"),
    ("¿Cuáles son las últimas noticias sobre las elecciones?", "news"),
    ("¿Quién ganó el partido de anoche?", "news"),
    ("Quel est le prix du bitcoin ?", "price"),
    ("Quel temps fera-t-il demain à Paris ?", "weather"),
    ("Va-t-il pleuvoir ce week-end à Lyon ?", "weather"),
    ("Quelle est la météo à Nice ?", "weather"),
    ("Quelles sont les dernières nouvelles sur les élections ?", "news"),
    ("Qui a gagné le match hier soir ?", "news"),
    ("Welcher Kurs hat Bitcoin gerade?", "price"),
    ("¿Cuánto valen las acciones de Apple?", "price"),
    ("Wie viel kostet eine Tesla Aktie gerade?", "price"),
    ("Wie wird das Wetter morgen in Berlin?", "weather"),
    ("Wird es morgen in Hamburg regnen?", "weather"),
    ("Was gibt es Neues zur Wahl in Deutschland?", "news"),
    ("Wer hat gestern das Spiel gewonnen?", "news"),
    ("Quanto custa o bitcoin agora?", "price"),
    ("Quanto custam as ações da Petrobras?", "price"),
    ("Qual é a previsão do tempo para amanhã em Lisboa?", "weather"),
    ("Vai chover amanhã no Porto?", "weather"),
    ("Como está o tempo em São Paulo?", "weather"),
    ("Quais são as últimas notícias sobre as eleições?", "news"),
    ("Quem ganhou o jogo ontem?", "news"),
    # Review of 95f31b6: common fresh-fact phrasings it still missed in each
    # language ("hot tomorrow", "winning now", "this year's winner", "the news?").
    ("How hot will it be in Phoenix tomorrow?", "weather"),
    ("Is there a storm warning for Florida?", "weather"),
    ("What's the score of the Lakers game?", "news"),
    ("What is the price of Tesla stock?", "price"),
    ("¿Hará calor mañana en Sevilla?", "weather"),
    ("¿Va a hacer frío mañana en Madrid?", "weather"),
    ("¿Qué temperatura hace en Madrid?", "weather"),
    ("¿Cuál es el pronóstico para Barcelona?", "weather"),
    ("¿Nieva en Granada ahora?", "weather"),
    ("¿Hace sol en Málaga?", "weather"),
    ("¿Qué dicen las noticias?", "news"),
    ("¿Quién ganó el Mundial de este año?", "news"),
    ("¿Quién va a ganar las elecciones de mañana?", "news"),
    ("Fera-t-il beau demain à Paris ?", "weather"),
    ("Va-t-il faire chaud demain ?", "weather"),
    ("Quelle température fait-il à Lyon ?", "weather"),
    ("Il fait combien dehors à Paris ?", "weather"),
    ("Quelles sont les nouvelles ?", "news"),
    ("Quelles sont les actualités ?", "news"),
    ("Qui a remporté le match hier soir ?", "news"),
    ("Qui a gagné le Tour de France cette année ?", "news"),
    ("Qui gagne le match ?", "news"),
    ("Wie warm wird es morgen in Köln?", "weather"),
    ("Wird es morgen heiß in Berlin?", "weather"),
    ("Gibt es morgen ein Unwetter in Bayern?", "weather"),
    ("Brauche ich morgen einen Regenschirm?", "weather"),
    ("Wer hat die Bundestagswahl gewonnen?", "news"),
    ("Wer gewinnt gerade das Spiel?", "news"),
    ("Wie steht es beim Spiel Bayern gegen Dortmund?", "news"),
    ("Vai fazer calor amanhã em Lisboa?", "weather"),
    ("Vai fazer frio amanhã em Curitiba?", "weather"),
    ("Qual a temperatura em São Paulo agora?", "weather"),
    ("Quem venceu o jogo ontem?", "news"),
    ("Quem está vencendo o jogo?", "news"),
    ("Quem ganhou o Brasileirão este ano?", "news"),
    ("Quem vai ganhar as eleições?", "news"),
    ("Quais são as notícias?", "news"),
    ("Who is leading in the polls?", "news"),
    ("Wie wird das Wetter?", "weather"),
    ("Como vai estar o tempo amanhã?", "weather"),
    # Review of 28cda5c: a novel or a poem named in another sentence made these
    # pass as stories, and a place alone was no evidence.
    ("Will it rain tomorrow in Seattle? I want to read my novel outside.", "weather"),
    ("Wie wird das Wetter morgen in Berlin? Ich möchte ein Gedicht draußen schreiben.", "weather"),
    ("¿Va a llover mañana en Madrid? Quiero leer un cuento en el parque.", "weather"),
    ("Weather in Tokyo?", "weather"),
    ("Météo à Lyon ?", "weather"),
    ("Wetter in Köln?", "weather"),
    # the weather asked about, next to those statements
    ("Is it too cold outside to paint my fence?", "weather"),
    ("Is it warm enough now to plant tomatoes?", "weather"),
    ("I'm in Seattle today, is it cold?", "weather"),
    ("I'm going to Paris tomorrow, will it rain?", "weather"),
    # Review of 7696316: results and forecasts it still missed.
    ("Who will win the Super Bowl?", "news"),
    ("Wer gewinnt das Spiel?", "news"),
    ("Pleut-il à Lyon ?", "weather"),
    ("Who won Eurovision?", "news"),
    ("Who won the Champions League final?", "news"),
]


@pytest.mark.parametrize("message", EVERYDAY)
def test_an_everyday_question_needs_no_fresh_facts(message: str) -> None:
    assert detect_claims(message, analyse(message)) == ()


@pytest.mark.parametrize(("message", "claim"), FRESH)
def test_a_fresh_fact_question_needs_fresh_facts(message: str, claim: str) -> None:
    assert claim in detect_claims(message, analyse(message))


def _best_cpu(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def test_opening_quotation_marks_alone_cost_no_more_than_closed_quotations() -> None:
    # Each "„" with no closing mark after it was read 200 characters on: a 32k
    # message of them took ~2.5x the lens's CPU of plain text.
    opened = CaselessText("„a " * 10_000)
    closed = CaselessText('"a" ' * 7_500)
    assert unquoted(opened) is opened
    assert _best_cpu(lambda: unquoted(opened)) < 3 * _best_cpu(lambda: unquoted(closed)) + 0.002


@pytest.mark.parametrize(
    ("message", "finance"),
    [
        ("can you share a good pancake recipe", False),
        ("should I stock up on canned food for winter", False),
        ("Where do I buy chicken stock?", False),
        ("What is cryptography used for?", False),
        ("should I sell my apple shares", True),
        ("Should I buy Tesla stock today?", True),
        ("What's a penny stock?", True),
        ("How many shares of Apple do I own?", True),
        ("Soll ich Aktien kaufen?", True),
    ],
)
def test_share_and_stock_are_finance_only_as_investments(message: str, finance: bool) -> None:
    # "share" and "stock" alone made intent tag a recipe or a pantry question
    # as finance, and the lens then wanted it verified (finance_claim).
    assert ("finance" in analyse(message).domains) is finance


@pytest.mark.parametrize(
    "message",
    [
        "Welcher Kurs hat Bitcoin gerade?",
        "Was gibt es Neues zur Wahl in Deutschland?",
        "Wird es morgen in Hamburg regnen?",
    ],
)
async def test_a_german_fresh_fact_question_degrades_with_the_german_note(message: str) -> None:
    # Read as English (and the weather and news ones as needing nothing): the
    # German user got no note, or the English one.
    intent = await IntentGate().check(gate_input(message))
    lens = await LensGate(None).check(gate_input(message, prior={"intent": intent}))
    assert lens.decision is Decision.DEGRADE
    notes = build_model_facts({"intent": intent, "lens": lens}).required_notes
    assert notes == (default_policy().messages_for("de").degraded_note,)
