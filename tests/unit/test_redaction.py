"""PII redaction: every kind is caught (true positives) and look-alikes are left
alone (false positives), with checksums deciding for cards and IBANs."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from novaos.config import load_settings
from novaos.redaction import (
    Pseudonymizer,
    SecretScrubber,
    configured_secrets,
    find_pii,
    iban_ok,
    luhn_ok,
    redact,
    redact_client_addr,
)

TRUE_POSITIVES = [
    ("email", "write to jane.doe+news@example.co.uk today"),
    ("email", "ADMIN@Sub.Example.ORG"),
    ("phone", "call +1 (415) 555-2671 now"),
    ("phone", "call 415-555-2671 now"),
    ("phone", "office +44 20 7183 8750"),
    ("phone", "mobile +4915112345678"),
    ("phone", "text me on 07700 900123 tonight"),
    ("card", "card 4111 1111 1111 1111 exp"),
    ("card", "card 5500-0000-0000-0004"),
    ("card", "amex 378282246310005"),
    ("iban", "iban GB82 WEST 1234 5698 7654 32"),
    ("iban", "to DE89370400440532013000 please"),
    ("ipv4", "from 192.168.10.20 at noon"),
    ("ipv4", "peer 8.8.8.8"),
    ("ipv6", "from 2001:db8:85a3::8a2e:370:7334 today"),
    ("ipv6", "loopback ::1 here"),
    # an address that ends a sentence: the full stop is not part of it
    ("ipv4", "my ip 10.1.2.3. Help"),
    ("ipv4", "the attacker was 8.8.8.8."),
    ("ipv6", "address 2001:db8::1."),
    ("ipv6", "mapped ::ffff:192.0.2.1. ok"),
    ("ssn", "ssn 123-45-6789 on file"),
    (
        "jwt",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
        ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("api_key", "key sk-proj-abcdefghijklmnopqrstuvwxyz123456"),
    ("api_key", "key sk-ant-api03-abcdefghijklmnopqrstuvwxyz"),
    ("api_key", "key AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("api_key", "token ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("api_key", "aws AKIAIOSFODNN7EXAMPLE"),
    # a secret given by name, and a JWT with a short or no signature (both passed)
    ("api_key", "config api_key=0123456789abcdef0123456789abcdef"),
    ("api_key", 'send {"client_secret": "Zq9x-Ab12_cd34Ef56"}'),
    ("api_key", "Password: hunter2hunter2x"),
    # short ones, with symbols, with spaces when quoted, and HTTP credentials
    ("api_key", "my password: hunter2xyz"),
    ("api_key", "login with password=Tr0ub4dor&3xx! please"),
    ("api_key", 'the config has "password": "correct horse battery" in it'),
    ("api_key", "use pwd=abc!def@ghi#jkl"),
    ("api_key", "Authorization: Bearer ya29.a0AfH6SMBxOpaqueToken-123"),
    ("api_key", "Authorization: Basic dXNlcjpwYXNzd29yZA=="),
    ("jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.abc"),
    ("jwt", "unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. ok"),
]

FALSE_POSITIVES = [
    ("email", "the @handle and user@localhost and a@b"),
    ("phone", "counts 100 200 300 and the year 2024"),
    ("phone", "on 2024-01-15 at 10:30:00"),
    ("phone", "ids 0123 45678 9 and 0800 12"),
    ("card", "card 4111 1111 1111 1112 fails Luhn"),
    ("card", "order 1234567890123 is not a card"),
    ("card", "zeros 0000 0000 0000 0000"),
    ("iban", "GB82 WEST 1234 5698 7654 33 fails mod 97"),
    ("iban", "code AB12 CDEF is too short"),
    ("ipv4", "version 1.2.3.4.5 and 999.1.1.1"),
    ("ipv4", "the release was 1.2.3.4.5. and 999.1.1.1."),
    ("ipv4", "pi is 3.14159"),
    ("ipv6", "time 12:34:56 and deadbeef:cafe and a::b::c"),
    ("ssn", "ssn-shaped 000-12-3456, 666-12-3456, 900-12-3456, 123-00-4567"),
    ("jwt", "eyJ alone and a.b.c"),
    ("api_key", "sk-short and the risk-assessment-framework-for-teams"),
    ("api_key", "the token limit is 4096 and my password is short"),
    ("api_key", "asiatravelguidebook12 is a site"),
    ("api_key", "token: 4096, max_tokens=4096, password: tbd, the bearer bonds"),
]


@pytest.mark.parametrize(("kind", "text"), TRUE_POSITIVES)
def test_true_positive(kind: str, text: str) -> None:
    assert [m.kind for m in find_pii(text)] == [kind]
    assert f"[REDACTED:{kind}]" in redact(text)


@pytest.mark.parametrize(("kind", "text"), FALSE_POSITIVES)
def test_false_positive(kind: str, text: str) -> None:
    assert find_pii(text) == []
    assert redact(text) == text


def test_every_kind_has_true_and_false_cases() -> None:
    kinds = {"email", "phone", "card", "iban", "ipv4", "ipv6", "ssn", "jwt", "api_key"}
    assert {k for k, _ in TRUE_POSITIVES} == kinds
    assert {k for k, _ in FALSE_POSITIVES} == kinds


def test_mixed_text_keeps_the_rest() -> None:
    text = "Hi, I'm Jo (jo@example.com, 415-555-2671); card 4111111111111111."
    assert redact(text) == (
        "Hi, I'm Jo ([REDACTED:email], [REDACTED:phone]); card [REDACTED:card]."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my ip 10.1.2.3. Help", "my ip [REDACTED:ipv4]. Help"),
        ("at 10.0.0.5.", "at [REDACTED:ipv4]."),
        ("address 2001:db8::1.", "address [REDACTED:ipv6]."),
        ("net 2001:db8::.", "net [REDACTED:ipv6]."),
    ],
)
def test_an_address_ending_a_sentence_keeps_its_full_stop(text: str, expected: str) -> None:
    assert redact(text) == expected


# Phones as people write them in ~15 countries: with a country code (spaced,
# dashed, dotted, with the trunk "(0)" or an area code in parentheses) and in
# national form after a trunk 0. Each must go whole, not in part.
PHONES = [
    "+1 415 555 0100",
    "+1 (415) 555-2671",
    "+1-800-555-0199",
    "+1.415.555.0100",
    "+1415 555 0100",
    "+44 7700 900123",
    "+44 7911 123456",
    "+44 (0)20 7946 0958",
    "(+44) 7700 900123",
    "+44 7700900123",
    "+49 30 1234567",
    "+49 151 12345678",
    "+33 1 23 45 67 89",
    "+33 (0)1 23 45 67 89",
    "+91 98765 43210",
    "+34 612 34 56 78",
    "+31 6 12345678",
    "+7 912 345-67-89",
    "+39 06 6982 1234",
    "+39 347 123 4567",
    "+81 3-1234-5678",
    "+81 90-1234-5678",
    "+86 138 0013 8000",
    "+55 11 91234-5678",
    "+61 2 9876 5432",
    "+61 412 345 678",
    "+52 55 1234 5678",
    "+41 44 668 18 00",
    "+46 8 123 456 78",
    "+353 87 123 4567",
    "+27 82 123 4567",
    "+82 10-1234-5678",
    "+234 803 123 4567",
    "+65 6123 4567",
    "(415) 555-0100",
    "07700 900123",
    "020 7946 0958",
    "06 12 34 56 78",
    "01 23 45 67 89",
    "030 1234567",
    "06 12345678",
    "03-1234-5678",
    "0412 345 678",
    "0470 12 34 56",
]

# Numbers that are not phones: years, prices, versions, dates, times, ISBNs,
# order ids, counts, big numbers with digit groups, coordinates, time zones.
NOT_PHONES = [
    "in 2024 and 2025",
    "costs $1,299.99 or 1 299,00 EUR",
    "Python 3.11.7 and version 10.2.3.4567",
    "due on 2026-11-28, 28.11.2026 or 11/28/2026",
    "at 10:30:00 or 14:05",
    "2026-11-28 10:30:00",
    "ISBN 978-3-16-148410-0",
    "ISBN 0-306-40615-2",
    "ISBN 978 0 306 40615 7",
    "order ORD-2024-11-000123 and #A1234-5678",
    "1 2 3 4",
    "counts 100 200 300",
    "population 1 234 567 890",
    "the sum 12 345 678 901",
    "German style 1.234.567.890",
    "temperature +20 °C, up +3.5% today",
    "UTC+05:30 or +0530",
    "at +48.856613, +2.352222",
    "diff @@ -12,7 +12,8 @@",
    "scores +1 2 3",
    "timestamp 1732789200",
    "build 20261128.1030",
    "range 1000-2000 and pages 123-145",
    "sizes 1024 2048 4096",
    "ratio 16:9, chapter 3.2.1",
    "10 000 steps",
    "dates 01.12.2026 and 02.12.2026",
    "0.5 0.25 0.125",
    "between 0 and 100 000 000",
    "ids 0123 45678 9 and 0800 12",
]


@pytest.mark.parametrize("phone", PHONES)
def test_a_phone_is_redacted_whole(phone: str) -> None:
    assert redact(f"call {phone} now") == "call [REDACTED:phone] now"


@pytest.mark.parametrize("text", NOT_PHONES)
def test_other_numbers_stay(text: str) -> None:
    assert find_pii(text) == []


def test_phones_in_a_list_each_go() -> None:
    text = "+44 7700 900123, +33 1 23 45 67 89; 06 12 34 56 78 or (415) 555-0100."
    assert redact(text) == (
        "[REDACTED:phone], [REDACTED:phone]; [REDACTED:phone] or [REDACTED:phone]."
    )


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("ipv4:203.0.113.77:5555", "203.0.113.0/24"),
        ("ipv6:[2001:db8:1:2::5]:443", "2001:db8:1::/48"),
        ("198.51.100.9", "198.51.100.0/24"),
        ("unix:/run/novaos.sock", "redacted"),
        ("", ""),
    ],
)
def test_client_address_keeps_only_the_network(addr: str, expected: str) -> None:
    assert redact_client_addr(addr) == expected


def test_pseudonyms_are_keyed_and_stable() -> None:
    one, other = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    assert one("alice") == one("alice") != one("bob")
    assert one("alice") != other("alice")
    assert "alice" not in one("alice") and one("alice").startswith("u_")
    assert one("") == ""


def test_an_email_has_the_rfc_lengths() -> None:
    # Unbounded, a run of word characters and dots with no "@" was tried from
    # every word start to its end: 32k characters of "a." took 1.3 s of CPU on
    # each audit or log redaction. The local part is at most 64 characters.
    assert redact("write to " + "a" * 64 + "@example.com") == "write to [REDACTED:email]"
    assert "[REDACTED:email]" not in redact("x" * 65 + "@example.com")
    assert redact("a.b+c@mail.co.uk") == "[REDACTED:email]"
    text = "a." * 16000
    assert redact(text) == text


def test_configured_secrets_are_scrubbed_in_any_shape() -> None:
    key = "local-key/ZZ TOP+secret"
    scrub = SecretScrubber.of([key, "short"])
    text = f"key {key} url k={quote(key, safe='')} form {quote_plus(key)} json {json.dumps(key)}"
    gone = "[REDACTED:secret]"
    assert scrub(text) == f'key {gone} url k={gone} form {gone} json "{gone}"'
    assert scrub("a short word") == "a short word", "under 8 characters: not looked for"
    assert key not in repr(scrub) and SecretScrubber.of([])("text") == "text"


def test_a_secret_in_any_json_escaping_or_in_base64_goes_too() -> None:
    # Only the minimal JSON escaping was looked for: "sk\u002doai..." and the key
    # in base64 were quoted to the client as the provider wrote them.
    key = "sk-oai-qa/key-1234567890\U0001f642"
    scrub = SecretScrubber.of([key])
    gone = "[REDACTED:secret]"
    every = "".join(f"\\u{ord(c):04x}" for c in key[:-1]) + "\\uD83D\\uDE42"
    mixed = key[:-1].replace("-", "\\u002D").replace("/", "\\/") + "\\ud83d\\ude42"
    assert scrub(f"a {every} b") == f"a {gone} b"
    assert scrub(f"a {mixed} b") == f"a {gone} b"
    raw = key.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        alone = encode(raw).decode()
        longer = encode(raw + b" and more").decode()  # the key at the start of a longer one
        assert key not in scrub(f"x {alone} y {longer}")
        assert gone in scrub(f"x {alone}") and alone[:8] not in scrub(f"x {alone} y")
        assert longer[:12] not in scrub(f"x {longer} y")
    assert scrub("sk\\u002doai and a plain sentence") == "sk\\u002doai and a plain sentence"


@pytest.mark.parametrize(
    "spelled",
    [
        "".join(f"\\u{ord(c):04x}" for c in "sk-oai-qa/key-1234567890"),
        "".join(f"\\u{ord(c):04X}" for c in "sk-oai-qa/key-1234567890"),
        "sk\\u002Doai\\u002dqa\\/key-1234567890",
        "s\\u006b-oai-qa/key-123456789\\u0030",
        "\\\\sk\\u002doai-qa/key-1234567890",  # after an escaped backslash
    ],
)
def test_an_ascii_secret_json_escaped_goes_and_a_near_miss_stays(spelled: str) -> None:
    # The escaped spellings are looked for only where the text, unescaped, holds a
    # secret: every spelling must still go.
    scrub = SecretScrubber.of(["sk-oai-qa/key-1234567890", "other-secret-abcdef"])
    assert "[REDACTED:secret]" in scrub(f'{{"error": "bad key {spelled}", "n": "\\n"}}')
    odd = "\\q \\u12 \\x4 \\N{ \\U0001f642 ü 🙂 \\"  # not JSON escapes: no error, no warning
    assert scrub(f"{odd} {spelled} {odd}") == f"{odd} {scrub(spelled)} {odd}"
    near = spelled.replace("0", "9")
    assert scrub(f'"bad key {near}\\n"') == f'"bad key {near}\\n"'


SECRETS = [
    "sk-proj-" + "A1b2C3d4" * 6,
    "sk-ant-api03-" + "xY9-" * 20,
    "AIzaSy" + "Q" * 33,
    "sk-oai-qa/key-1234567890",
    "audit-key-" + "z" * 32,
    "redispass123",
]


def spied(scrub: SecretScrubber) -> tuple[SecretScrubber, list[int]]:
    """``scrub`` with its escaped-spelling search counted: the length of each text
    it is run on."""
    runs: list[int] = []
    spellings = scrub._json
    assert spellings is not None

    class Counted:
        def __init__(self, pattern: re.Pattern[str]) -> None:
            self.pattern = pattern

        def sub(self, mark: str, text: str) -> str:
            runs.append(len(text))
            return self.pattern.sub(mark, text)

    counted = dataclasses.replace(spellings, spelled=Counted(spellings.spelled))  # type: ignore[arg-type]
    return dataclasses.replace(scrub, _json=counted), runs


@pytest.mark.parametrize(
    "text",
    [
        "x" * (1 << 20),  # no backslash at all
        '\\u00e9 \\n \\\\ \\/ \\" \\t' * 20_000,  # escapes, none of them a secret's
        "sk\\u002doai-qa/key-123456789" + "x" * 1000,  # a near miss, escaped
        "sk-oai-qa/key-1234567890 \\n",  # the secret as written: gone by the literal forms
    ],
)
def test_the_escaped_spellings_are_not_looked_for_in_text_without_a_secret(text: str) -> None:
    # Matching each secret character by character (as written or escaped) at every
    # position costs 10-50 times the literal forms: 1 MiB of an error event took
    # 140-200 ms of event loop. It runs only where the text, unescaped, holds a secret.
    # (The time itself: python -m bench.redaction_bench.)
    scrub, runs = spied(SecretScrubber.of(SECRETS))
    assert scrub(text) == text.replace("sk-oai-qa/key-1234567890", "[REDACTED:secret]")
    assert runs == []


@pytest.mark.parametrize(
    "spelled",
    [
        "sk\\u002doai-qa\\/key-1234567890",
        "".join(f"\\u{ord(c):04X}" for c in "redispass123"),
        "\\\\sk\\u002Doai-qa/key-1234567890",  # after an escaped backslash
    ],
)
def test_the_escaped_spellings_are_looked_for_where_a_secret_is(spelled: str) -> None:
    scrub, runs = spied(SecretScrubber.of(SECRETS))
    assert "[REDACTED:secret]" in scrub(f'{{"error": "bad key {spelled}", "n": 1}}')
    assert len(runs) == 1


def test_an_odd_secret_leaves_the_check_on_for_the_others() -> None:
    # One secret with a backslash (a DATABASE_URL password, say), a control character
    # or one beyond the BMP turned the check off for all: every text with a backslash
    # had every secret's spellings looked for again. Only the odd one's are now.
    odd = "db-pass\\word-2024"
    scrub, runs = spied(SecretScrubber.of([*SECRETS, odd, "tab\there-9876"]))
    assert scrub("\\u00e9 \\n \\\\ \\/ x" * 1000) == "\\u00e9 \\n \\\\ \\/ x" * 1000
    assert runs == []
    gone = "[REDACTED:secret]"
    assert scrub("a db\\u002dpass\\\\word-2024 b") == f"a {gone} b"
    assert scrub("a db-pass\\u005Cword-2024 b") == f"a {gone} b"
    assert scrub("a tab\\there\\u002d9876 b") == f"a {gone} b"
    assert runs == []
    both = "a redispass\\u0031\\u0032\\u0033 db-pass\\u005cword-2024 b"
    assert scrub(both) == f"a {gone} {gone} b"
    assert len(runs) == 1


def test_a_secret_cut_at_the_end_of_the_text_goes_too() -> None:
    key = "proxy-token-0123456789abcdef"
    scrub = SecretScrubber.of([key])
    gone = "[REDACTED:secret]"
    assert scrub(f"bad {key} and {key[:20]}") == f"bad {gone} and {gone}"
    assert scrub(f"bad {key[:8]}") == "bad [REDACTED:secret]"
    assert scrub(f"word {key[:7]}") == f"word {key[:7]}", "under 8 characters: kept"
    assert scrub(f"{key[:12]} in the middle") == f"{key[:12]} in the middle"


def test_every_secret_the_settings_hold_is_listed() -> None:
    settings = load_settings(
        {
            "JWT_SECRET": "jwt-secret-0123456789-abcdefghijklmnop",
            "OPENAI_COMPAT_BASE_URL": "http://proxy:p%40ssword1@127.0.0.1:9/v1",
            "OPENAI_COMPAT_MODEL": "m",
            "OPENAI_COMPAT_API_KEY": "compat-key-1",
            "ANTHROPIC_API_KEY": "anthropic-key-1",
            "REDIS_URL": "redis://:redis-pass-1@127.0.0.1:6379/0",
        }
    )
    held = set(configured_secrets(settings))
    assert {"compat-key-1", "anthropic-key-1", "redis-pass-1", "p@ssword1"} <= held
    # aiohttp sends a base URL's user:password as Authorization: Basic base64(...)
    basic = base64.b64encode(b"proxy:p@ssword1").decode()
    assert {"proxy:p@ssword1", basic} <= held
    scrub = SecretScrubber.of(held)
    echoed = scrub(f"denied: Authorization: Basic {basic} (user proxy:p@ssword1)")
    assert echoed == "denied: Authorization: Basic [REDACTED:secret] (user [REDACTED:secret])"
    assert "jwt-secret-0123456789-abcdefghijklmnop" in held
