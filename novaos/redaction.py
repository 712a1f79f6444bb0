"""PII redaction and pseudonyms, shared by the audit log and the JSON logs.

Each kind has one precompiled candidate pattern; kinds with a checksum (cards:
Luhn, IBANs: mod 97) or a strict grammar (IP addresses, SSN ranges) confirm the
candidate before redacting, so order numbers and version strings stay readable.
Patterns are immutable module constants; nothing here holds mutable state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus, unquote, urlsplit

from novaos.config import Settings

# Kinds are tried in this order; an earlier match claims its span, so a JWT is
# not also read as an API key and an IBAN's digits are not read as a card.
# Any signature length, none included ("alg": "none" tokens end in a bare dot).
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_API_KEY = re.compile(
    r"\b(?:sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{20,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|(?:rk|pk|sk)_(?:live|test)_[A-Za-z0-9]{16,})"
    # A secret handed over by name (password: ..., api_key=..., "token": "..."):
    # a quoted value whole, spaces and symbols included, or an unquoted one up to
    # the next space, quote, comma or semicolon. A password of any length that
    # looks like one (4+ characters); other names from 8, so "token: 4096" stays.
    r"|(?<![A-Za-z0-9])(?i:pass(?:word|wd|phrase)|pwd)[\"']?\s*[:=]\s*"
    r"(?:\"[^\"\n]{1,256}\"|'[^'\n]{1,256}'|[^\s\"',;]{4,})"
    r"|(?<![A-Za-z0-9])(?i:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|secret|"
    r"client[_-]?secret|token)[\"']?\s*[:=]\s*"
    r"(?:\"[^\"\n]{8,256}\"|'[^'\n]{8,256}'|[^\s\"',;]{8,})"
    # an HTTP credential: Authorization: Bearer <opaque token> / Basic <base64>
    r"|(?<![A-Za-z0-9])(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{16,}"
)
# The local part is at most 64 characters (RFC 5321), a label 63: unbounded, a
# long run of word characters and dots with no "@" was tried from each word
# start to its end (32k characters of "a." took 1.3 s of CPU per redaction).
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\d.+-])\d(?:[ -]?\d){12,18}(?![\d-])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
# An address may end a sentence: a full stop after it is not part of it (an
# IPv6 candidate does not end in "."), but a fifth ".digit" makes a version.
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f:.]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:.]{1,44}[0-9A-Fa-f:](?![\w:])"
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_PHONE = re.compile(
    # international: a country code (maybe in parentheses), then groups split by
    # single separators, with an area code or the trunk "(0)" in parentheses
    # ("+44 (0)20 7946 0958", "+33 1 23 45 67 89", "+7 912 345-67-89")
    # The code may run on into the area code ("+1415 555 0100"); _phone_ok counts.
    r"(?<![\w+])(?:\+\d{1,6}|\(\+\d{1,3}\))(?:[ .-]?\(\d{1,4}\)[ .-]?|[ .-])"
    r"\d{1,12}(?:[ .-]\d{1,12}){0,6}(?![\w-])"
    r"|(?<![\w+.-])(?<!\d[ .-])(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?![\w-])"
    r"|(?<![\w+])\+\d{8,15}(?!\w)"
    # a national number in groups after its trunk 0 ("07700 900123", "06 12 34 56 78")
    r"|(?<![\w+.-])(?<!\d[ .-])0\d{1,4}(?:[ .-]\d{2,8}){1,4}(?![\w-]|[ .-]\d)"
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rotated = compact[4:] + compact[:4]
    numeric = "".join(str(int(c, 36)) for c in rotated)
    return int(numeric) % 97 == 1


def _card_ok(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def _ip_ok(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _phone_ok(candidate: str) -> bool:
    # Without a country code a national number has 10-11 digits; shorter
    # groups ("100 200 300") are counts, not phones.
    # With one: 8-15 digits in all (E.164), but "+48.856613" is a coordinate.
    digits = sum(c.isdigit() for c in candidate)
    if candidate.lstrip("(").startswith("+"):
        decimal = candidate.count(".") == 1 and not any(c in " -()" for c in candidate)
        return 8 <= digits <= 15 and not decimal
    return 10 <= digits <= 11


def _always(_: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class PiiKind:
    name: str
    pattern: re.Pattern[str]
    confirm: Callable[[str], bool]


KINDS: tuple[PiiKind, ...] = (
    PiiKind("jwt", _JWT, _always),
    PiiKind("api_key", _API_KEY, _always),
    PiiKind("email", _EMAIL, _always),
    PiiKind("iban", _IBAN, iban_ok),
    PiiKind("card", _CARD, _card_ok),
    PiiKind("ssn", _SSN, _always),
    PiiKind("ipv6", _IPV6, _ip_ok),
    PiiKind("ipv4", _IPV4, _ip_ok),
    PiiKind("phone", _PHONE, _phone_ok),
)


@dataclass(frozen=True, slots=True)
class PiiMatch:
    kind: str
    start: int
    end: int


def find_pii(text: str) -> list[PiiMatch]:
    """Confirmed PII spans, non-overlapping, in text order."""
    taken: list[PiiMatch] = []
    for kind in KINDS:
        for match in kind.pattern.finditer(text):
            start, end = match.span()
            if any(start < m.end and m.start < end for m in taken):
                continue
            if kind.confirm(match.group()):
                taken.append(PiiMatch(kind.name, start, end))
    return sorted(taken, key=lambda m: m.start)


def redact(text: str) -> str:
    """Replace every confirmed PII span with ``[REDACTED:<kind>]``."""
    if not text:
        return text
    out: list[str] = []
    pos = 0
    for match in find_pii(text):
        out.append(text[pos : match.start])
        out.append(f"[REDACTED:{match.kind}]")
        pos = match.end
    out.append(text[pos:])
    return "".join(out)


# A configured secret shorter than this is not looked for: replacing every "x" or
# "ollama" in a provider's message would garble it, and such a value guards nothing.
SECRET_MIN_CHARS = 8
SECRET_MARK = "[REDACTED:secret]"


@dataclass(frozen=True, slots=True)
class SecretScrubber:
    """Removes the gateway's own secrets from text that came from outside.

    ``redact`` knows vendor key shapes; a provider (or a proxy before it) that
    quotes the credential it was sent back in its error body may quote one of any
    shape (an OpenAI-compatible server's ``--api-key``, Anthropic's ``x-api-key``
    value). The gateway knows its secrets exactly: each is replaced as written,
    URL-encoded, JSON-escaped (any of its characters as a ``\\uXXXX`` escape, in
    either case, or a short escape such as ``\\/``) and in base64 (standard or
    URL-safe, as far as its whole 3-byte groups go, so also at the start of a
    longer encoding), and so is the start of one (8 characters or more) that ends
    the text, cut there. ``repr`` shows how many it holds, never them."""

    _pattern: re.Pattern[str] | None = field(default=None, repr=False)
    count: int = 0
    _forms: tuple[str, ...] = field(default=(), repr=False)
    _json: _JsonSpellings | None = field(default=None, repr=False)

    @classmethod
    def of(cls, secrets: Iterable[str]) -> SecretScrubber:
        kept = {s for s in secrets if len(s) >= SECRET_MIN_CHARS}
        forms = {
            form
            for s in kept
            for form in (
                s,
                quote(s, safe=""),
                quote_plus(s),
                json.dumps(s)[1:-1],
                *_base64_forms(s),
            )
        }
        if not forms:
            return cls()
        # Longest first: a secret that contains another is replaced whole. One
        # alternation of literals, which re scans for fast; the spellings with JSON
        # escapes in them are looked for only where the text has such an escape.
        longest = tuple(sorted(forms, key=len, reverse=True))
        pattern = re.compile("|".join(re.escape(f) for f in longest))
        return cls(pattern, len(kept), longest, _JsonSpellings.of(kept))

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        text = self._pattern.sub(SECRET_MARK, text)
        if self._json is not None and "\\" in text:
            text = self._json.sub(text)
        return self._without_cut_secret(text)

    def _without_cut_secret(self, text: str) -> str:
        """``text`` without a secret's first ``SECRET_MIN_CHARS`` or more characters
        at its very end: what is left of one that a cut (an error body read up to
        its limit, a message shortened) went through."""
        for form in self._forms:
            head = form[:SECRET_MIN_CHARS]
            start = text.find(head, max(0, len(text) - len(form) + 1))
            while start != -1:
                if form.startswith(text[start:]):
                    return text[:start] + SECRET_MARK
                start = text.find(head, start + 1)
        return text


@dataclass(frozen=True, slots=True)
class _JsonSpellings:
    """The secrets with any of their characters JSON-escaped. Matching that at
    every position of a text costs 10-50 times the literal forms' alternation, so
    for a plain secret it runs only when the text, with the escapes that can stand
    for a secret's characters turned back into them, holds one. An odd secret (see
    ``of``) has no such check: its spellings alone are always looked for."""

    spelled: re.Pattern[str]  # each secret, any of its characters escaped
    plain: re.Pattern[str] | None  # the plain secrets as written; None: there are none
    odd: re.Pattern[str] | None  # the odd secrets' spellings alone; None: there are none

    @classmethod
    def of(cls, secrets: Iterable[str]) -> _JsonSpellings | None:
        kept = sorted(secrets, key=len, reverse=True)
        if not kept:
            return None
        # Odd: a secret with a backslash (an escaped one can start another escape),
        # a character beyond the BMP (a surrogate pair) or a control character (a
        # short escape such as \n). No cheap check finds those, so they are looked
        # for spelled in every text with a backslash; the others keep the check.
        odd = [s for s in kept if not all(_plain_char(c) for c in s)]
        plain = [s for s in kept if s not in odd]
        return cls(
            _spellings(kept),
            re.compile("|".join(re.escape(s) for s in plain)) if plain else None,
            _spellings(odd) if odd else None,
        )

    def sub(self, text: str) -> str:
        if self.plain is not None and self.plain.search(_unescaped(text)):
            return self.spelled.sub(SECRET_MARK, text)
        # No plain secret is spelled anywhere in the text, so the odd ones' spellings
        # alone match what all of them would (each longest first).
        return self.odd.sub(SECRET_MARK, text) if self.odd is not None else text


def _plain_char(char: str) -> bool:
    return char != "\\" and char.isprintable() and len(_utf16_units(char)) == 1


def _spellings(secrets: list[str]) -> re.Pattern[str]:
    """One pattern for ``secrets``, longest first: any of their characters escaped."""
    return re.compile("|".join(_json_spellings(s) for s in secrets))


# A backslash that starts no \uXXXX escape.
_NOT_U_ESCAPE = re.compile(r"\\(?!u[0-9a-fA-F]{4})")


def _unescaped(text: str) -> str:
    """``text`` with its JSON escapes of printable characters turned back into
    them, all in C: ``\\/`` and ``\\"`` by hand, any other backslash that starts
    no ``\\uXXXX`` made harmless, the rest decoded by ``unicode_escape`` (characters
    beyond Latin-1 go through it as its own escapes). It decodes more than JSON
    would (the "u0041" after an escaped backslash): a text in which this finds no
    secret has none spelled with escapes either."""
    text = text.replace("\\/", "/").replace('\\"', '"')
    text = _NOT_U_ESCAPE.sub("\x01", text)
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _utf16_units(char: str) -> list[str]:
    """``char``'s UTF-16 code units, in hex: two for one beyond the BMP."""
    units = char.encode("utf-16-be", "surrogatepass")
    return [units[i : i + 2].hex() for i in range(0, len(units), 2)]


def _short_escape(char: str) -> str:
    """JSON's two-character escape of ``char`` (``\\"``, ``\\n``, ...), or ""."""
    short = json.dumps(char)[1:-1]
    return short if short != char and not short.startswith("\\u") else ""


def _json_spellings(secret: str) -> str:
    """A pattern for ``secret`` with any of its characters as written or escaped as
    JSON may escape it: ``\\u002d`` or ``\\u002D`` for "-", ``\\/`` for "/", a
    surrogate pair for one beyond the BMP."""
    parts = []
    for char in secret:
        escaped = "".join(rf"\\u(?i:{h})" for h in _utf16_units(char))
        spellings = [re.escape(char), escaped]
        if short := _short_escape(char):
            spellings.append(re.escape(short))  # \" \\ \n ...
        if char == "/":
            spellings.append(re.escape("\\/"))
        parts.append(f"(?:{'|'.join(spellings)})")
    return "".join(parts)


def _base64_forms(secret: str) -> tuple[str, ...]:
    """``secret`` in base64, standard and URL-safe, up to its last whole 3-byte
    group: those characters are the same whatever follows it in an encoding that
    starts with it (a proxy echoing a header it decoded, or one it did not)."""
    raw = secret.encode("utf-8", "surrogatepass")
    whole = len(raw) // 3 * 3
    if whole < 6:  # under 8 characters of base64: too short to look for
        return ()
    return tuple(
        {
            base64.b64encode(raw[:whole]).decode("ascii"),
            base64.urlsafe_b64encode(raw[:whole]).decode("ascii"),
        }
    )


def configured_secrets(settings: Settings) -> tuple[str, ...]:
    """Every secret ``settings`` hold: the providers' API keys, the signing and
    audit keys, and the passwords in the Redis, database and provider base URLs
    (with their ``user:password`` forms, as sent in a Basic header)."""
    held = [
        settings.openai_api_key,
        settings.gemini_api_key,
        settings.anthropic_api_key,
        settings.openai_compat_api_key,
        settings.jwt_secret,
        settings.ack_secret,
        settings.audit_hmac_key,
        settings.audit_chain_key,
        *settings.audit_chain_previous_keys,
    ]
    secrets = [s.get_secret_value() for s in held if s is not None]
    urls = (
        settings.redis_url,
        settings.database_url,
        settings.openai_base_url,
        settings.gemini_base_url,
        settings.anthropic_base_url,
        settings.openai_compat_base_url,
    )
    secrets += [password for url in urls for password in _url_passwords(url)]
    return tuple(secrets)


def _url_passwords(url: str) -> tuple[str, ...]:
    """The password in ``url``, as written and percent-decoded (none: empty), and
    its credentials as an HTTP client sends them from it: ``user:password`` and
    that in base64 (``Authorization: Basic ...``), which a proxy may echo."""
    try:
        parts = urlsplit(url) if "@" in url else None
        password = parts.password if parts is not None else None
    except ValueError:
        return ()
    if parts is None or not password:
        return ()
    user = parts.username or ""
    forms = {password, unquote(password)}
    for pair in {f"{user}:{password}", f"{unquote(user)}:{unquote(password)}"}:
        forms.add(pair)
        for encoding in ("utf-8", "latin-1"):
            try:
                forms.add(base64.b64encode(pair.encode(encoding)).decode("ascii"))
            except UnicodeEncodeError:
                continue
    return tuple(sorted(forms))


def redact_client_addr(addr: str) -> str:
    """Keep the network, drop the host: IPv4 -> /24, IPv6 -> /48, no port.

    Accepts gRPC peer strings (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``) and bare
    addresses; anything else (unix sockets, names) becomes ``redacted``.
    """
    host = addr
    for prefix in ("ipv4:", "ipv6:"):
        host = host.removeprefix(prefix)
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "redacted" if addr else ""
    prefix_len = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix_len}", strict=False))


class Pseudonymizer:
    """Keyed hash of user ids: stable per key, not reversible without it.

    The key is derived (HMAC with a fixed label) from AUDIT_HMAC_KEY or
    JWT_SECRET so the raw secret is never used directly as the pseudonym key.
    """

    _LABEL = b"novaos/audit/pseudonym/v1"

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, self._LABEL, hashlib.sha256).digest()

    def __call__(self, user_id: str) -> str:
        if not user_id:
            return ""
        digest = hmac.new(self._key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"u_{digest[:32]}"


def pseudonym_secret(settings: Settings) -> bytes | None:
    """AUDIT_HMAC_KEY, else JWT_SECRET; ``None`` when neither is set."""
    secret = settings.audit_hmac_key or settings.jwt_secret
    return secret.get_secret_value().encode() if secret is not None else None
