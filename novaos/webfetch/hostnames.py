"""Host names: IDNA (UTS46) mapping, numeric hosts and homograph refusal.

The mapping runs *before* the numeric check because UTS46 turns full-width
digits and ideographic full stops into ASCII: ``１２７。０。０。１`` is
127.0.0.1 to a browser and must be to us too.

Homographs: a label may use one script, or Latin together with the Han-based
combinations that Japanese, Chinese and Korean names need (the "highly
restrictive" profile of Unicode TS 39). A label written wholly in Cyrillic or
Greek letters that all look like Latin ones (``аррӏе``) is refused as well.
Scripts are read from the Unicode character name, which the standard library
carries; that is coarse but errs towards refusing.
"""

from __future__ import annotations

import re
import unicodedata
from ipaddress import IPv4Address

import idna

from novaos.webfetch.addresses import ends_in_number, parse_ipv4_like_resolvers
from novaos.webfetch.errors import FetchBlockedError

INVALID_HOST = "invalid_host"
MIXED_SCRIPT = "mixed_script"
CONFUSABLE = "confusable"

_ASCII_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ALLOWED_MIXES = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)
# Lower-case letters that render like Latin ones (UTS46 has already lower-cased).
_LATIN_LOOKALIKES = {
    "CYRILLIC": frozenset("асԁеһіјӏорԛѕԝхуъьҽпгѵѡ"),
    "GREEK": frozenset("αβεικνορτυχϲϳ"),
}
# Name prefixes that belong to a script above (the long-vowel mark ー, 々).
_SCRIPT_ALIASES = {"KATAKANA-HIRAGANA": "KATAKANA", "IDEOGRAPHIC": "CJK"}
# Latin letters that pass the script rule yet imitate other Latin letters.
_DECEPTIVE_LATIN = frozenset("ıȷɑɡɩʀꞵɢʜʟɴ")


def normalize_host(raw: str) -> str | IPv4Address:
    """Map ``raw`` to an ASCII host name, or to the IPv4 address it denotes.

    Raises ``FetchBlockedError`` for invalid names and homographs.
    """
    try:
        mapped = idna.uts46_remap(raw, std3_rules=True, transitional=False)
    except idna.IDNAError as exc:
        raise FetchBlockedError(INVALID_HOST) from exc
    labels = mapped.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # one trailing dot names the same host; "a.." stays invalid
    if not labels or "" in labels:
        raise FetchBlockedError(INVALID_HOST)
    if ends_in_number(labels):
        try:
            return parse_ipv4_like_resolvers(labels)
        except ValueError as exc:
            raise FetchBlockedError(INVALID_HOST) from exc
    ascii_labels = [_to_ascii(label) for label in labels]
    host = ".".join(ascii_labels)
    if len(host) > 253:
        raise FetchBlockedError(INVALID_HOST)
    return host


def _to_ascii(label: str) -> str:
    try:
        unicode_label = idna.decode(label) if label.startswith("xn--") else label
        ascii_label = idna.encode(unicode_label).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise FetchBlockedError(INVALID_HOST) from exc
    if not unicode_label.isascii():
        _check_homograph(unicode_label)
    elif not _ASCII_LABEL.fullmatch(ascii_label):
        raise FetchBlockedError(INVALID_HOST)
    return ascii_label


def _check_homograph(label: str) -> None:
    letters = [ch for ch in label if ch.isalpha()]
    if any(ch in _DECEPTIVE_LATIN for ch in letters):
        raise FetchBlockedError(CONFUSABLE)
    scripts = {_script(ch) for ch in letters}
    if len(scripts) > 1 and not any(scripts <= mix for mix in _ALLOWED_MIXES):
        raise FetchBlockedError(MIXED_SCRIPT)
    if len(scripts) == 1:
        lookalikes = _LATIN_LOOKALIKES.get(next(iter(scripts)))
        if lookalikes is not None and all(ch in lookalikes for ch in letters):
            raise FetchBlockedError(CONFUSABLE)


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "UNKNOWN")
    first = name.split(" ", 1)[0]
    if first == "LATIN" or (ch.isascii() and ch.isalpha()):
        return "LATIN"
    return _SCRIPT_ALIASES.get(first, first)  # CYRILLIC, GREEK, CJK, HIRAGANA, ...
