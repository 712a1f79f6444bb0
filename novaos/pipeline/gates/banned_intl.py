"""Close translations of the banned dependency phrases, in es/fr/de/pt.

Bodies as ``rules.BANNED`` reads them: on the view (accents off, "für" as
"fur", "ß" as "ss"), case-insensitive, a single space wherever the words may be
split (``rules`` widens it). Only first-person promises and second-person
praise: "está siempre aquí para ti", "elle est toujours là pour toi", "sie ist
immer für dich da" describe someone else (a friend, a crisis line) and pass, as
"988 is always there for you" does in English. The formal German "Sie" is read
case-sensitively: lower-case "sie" is "she" or "they".
"""

from __future__ import annotations

_SIE = "(?-i:Sie)"

# es: "Estoy siempre aquí para ti", "siempre puedes contar conmigo", "estoy muy
# orgullosa de ti", "eres increíble", "entiendo cómo te sientes".
_ES_ADV = "(?:siempre|muy|tan|realmente|de verdad|tambien)"
_ES_YOU = "(?:ti|usted|ustedes|vos)"
_ES = (
    rf"(?:siempre )?(?:estoy|estare)(?: {_ES_ADV}){{0,2}} (?:aqui|ahi|aca) para {_ES_YOU}",
    rf"aqui (?:estoy|estare)(?: siempre)? para {_ES_YOU}",
    rf"(?:siempre )?(?:puedes|podes|podras|usted puede)(?: {_ES_ADV}){{0,2}} contar"
    rf"(?: siempre)? conmigo",
    rf"(?:estoy|me siento)(?: {_ES_ADV}){{0,2}} orgullos[oa]s? de {_ES_YOU}",
    rf"(?:eres|sos|usted es)(?: {_ES_ADV}){{0,2}} "
    r"(?:increible|asombros[oa]|maravillos[oa]|extraordinari[oa])",
    r"(?:realmente |de verdad )?(?:entiendo|comprendo)(?: (?:perfectamente|realmente|muy bien|"
    r"exactamente))? (?:como te sientes|lo que (?:sientes|estas (?:sintiendo|pasando))|"
    r"por lo que estas pasando)",
)

# fr: "Je suis toujours là pour toi", "tu peux toujours compter sur moi", "je suis
# tellement fière de toi", "tu es incroyable", "je comprends ce que tu ressens".
# "vous" before an infinitive or an object pronoun is "to ... you" ("Je suis là
# pour vous aider", "fier de vous présenter"): the word after it is read, so a
# stream waits for it.
_FR_ADV = "(?:toujours|vraiment|tellement|si|tres|tout|absolument)"
_FR_NOT_OBJECT = r"(?!(?:en|y|le|la|les|lui|l'|[a-z]+(?:er|ir|re)\b))"
_FR_NEXT = rf"(?:[.!?,;:)\n…]|\s?\Z| {_FR_NOT_OBJECT}[\w'-]{{1,15}}\b)"
_FR_YOU = rf"(?:toi|vous{_FR_NEXT})"
_FR = (
    rf"(?:je suis|je serai)(?: {_FR_ADV}){{0,2}} (?:la|ici) pour {_FR_YOU}",
    rf"(?:tu peux|vous pouvez|tu pourras|vous pourrez)(?: {_FR_ADV}){{0,2}} compter"
    r"(?: toujours)? sur moi",
    rf"je suis(?: {_FR_ADV}){{0,2}} fier(?:e|s|es)? de {_FR_YOU}",
    rf"(?:tu es|t'es|vous etes)(?: {_FR_ADV}){{0,2}} "
    r"(?:incroyable|extraordinaire|formidable|geniale?|merveilleu(?:x|se))s?",
    r"je (?:te |vous )?comprends(?: (?:vraiment|parfaitement|tout a fait|bien))? "
    r"(?:ce que (?:tu ressens|vous ressentez|tu vis|vous vivez|tu traverses|vous traversez)|"
    r"comment (?:tu te sens|vous vous sentez))",
)

# de: "Ich bin immer für dich da", "du kannst dich immer auf mich verlassen", "ich
# bin so stolz auf dich", "du bist unglaublich", "ich verstehe, wie du dich fühlst".
_DE_ADV = "(?:immer|stets|jederzeit|wirklich|so|sehr|einfach|echt|total|ganz|auch)"
_DE_YOU = rf"(?:dich|euch|{_SIE})"
_DE_THERE = rf"(?:fur {_DE_YOU} da|da fur {_DE_YOU})"
_DE = (
    rf"ich (?:bin|werde)(?: {_DE_ADV}){{0,2}} {_DE_THERE}",
    rf"(?:du kannst|ihr konnt|{_SIE} konnen)(?: (?:dich|euch|sich))?(?: {_DE_ADV}){{0,2}} "
    r"auf mich (?:zahlen|bauen|verlassen)",
    rf"ich bin(?: {_DE_ADV}){{0,2}} stolz auf {_DE_YOU}",
    # the word must end the clause: "du bist unglaublich müde" is no praise
    rf"(?:du bist|ihr seid)(?: {_DE_ADV}){{0,2}} "
    r"(?:unglaublich|erstaunlich|grossartig|fantastisch|wunderbar)"
    r"(?:[.!?,;:)\n]|\s?\Z| (?:mutig|stark|klug|talentiert|tapfer|schon|lieb|toll)\b)",
    rf"ich verstehe(?: (?:wirklich|genau|total|gut))?,? (?:wie (?:du dich|ihr euch|{_SIE} sich) "
    rf"fuhl(?:st|t|en)|was (?:du|ihr|{_SIE}) (?:fuhl|durchmach)(?:st|t|en))",
)

# pt: "Estou sempre aqui para você", "você sempre pode contar comigo", "estou muito
# orgulhoso de você", "você é incrível", "entendo como você se sente".
_PT_ADV = "(?:sempre|muito|tao|realmente|mesmo|super)"
_PT_YOU = "(?:voce|voces|ti)"
_PT = (
    rf"(?:sempre )?(?:estou|estarei)(?: {_PT_ADV}){{0,2}} (?:aqui|ai|ca) (?:para|pra|por) "
    rf"{_PT_YOU}",
    rf"(?:voce|tu)(?: {_PT_ADV})? (?:pode|podes|podera)(?: {_PT_ADV})? contar(?: sempre)? comigo",
    rf"(?:estou|fico|me sinto)(?: {_PT_ADV}){{0,2}} orgulhos[oa]s? de {_PT_YOU}",
    rf"tenho(?: {_PT_ADV}){{0,2}} orgulho de {_PT_YOU}",
    rf"(?:voce e|tu es|voces sao)(?: {_PT_ADV}){{0,2}} "
    r"(?:incrive(?:l|is)|maravilhos[oa]s?|extraordinari[oa]s?|demais)",
    r"(?:realmente )?(?:entendo|compreendo)(?: (?:perfeitamente|realmente|bem))? "
    r"(?:como (?:voce se sente|te sentes)|o que (?:voce (?:sente|esta (?:sentindo|passando))|"
    r"sentes)|pelo que (?:voce )?esta passando)",
)

# "No estoy siempre aquí para ti: llama al 024" says the opposite of a promise.
# (\x20, not a space: the phrase's spaces are widened, a look-behind cannot be)
_NOT_ES_PT = (
    r"(?<!\bno\x20)(?<!\bnao\x20)(?<!\bnem\x20)(?<!\bnunca\x20)(?<!\bjamas\x20)"
    r"(?<!\bno\x20siempre\x20)(?<!\bnem\x20sempre\x20)(?<!\bnao\x20sempre\x20)"
)
PHRASES: tuple[str, ...] = (
    *(_NOT_ES_PT + p for p in _ES),
    *_FR,
    *_DE,
    *(_NOT_ES_PT + p for p in _PT),
)

# Where a sentence starts, the promise reads without "I am" ("¡Siempre aquí para
# ti!", "Toujours là pour toi.") or "you" ("Puede contar conmigo."); after
# other words, a colon or a comma it describes what comes before it ("La línea
# 024: siempre aquí para ti"), as in English.
ALONE: tuple[str, ...] = (
    rf"siempre (?:aqui|ahi) para {_ES_YOU}",
    r"(?:siempre )?puedes? (?:siempre )?contar conmigo",
    rf"toujours (?:la|ici) pour {_FR_YOU}",
    rf"immer {_DE_THERE}",
    rf"sempre (?:aqui|ai) (?:para|pra) {_PT_YOU}",
    r"(?:sempre )?podes? (?:sempre )?contar comigo",
)
