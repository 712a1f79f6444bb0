from __future__ import annotations

import codecs
import contextlib
import gzip
import zlib
from collections.abc import AsyncIterator

import pytest

from novaos.webfetch import charsets
from novaos.webfetch.body import read_capped
from novaos.webfetch.errors import FetchAbortedError, FetchTooLargeError
from novaos.webfetch.extract import check_media_type, extract_text


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_plain_body_is_collected_up_to_the_cap() -> None:
    assert (
        await read_capped(_chunks(b"ab", b"cd"), encoding="", max_bytes=4, declared_length=None)
        == b"abcd"
    )
    with pytest.raises(FetchTooLargeError):
        await read_capped(
            _chunks(b"ab", b"cde"), encoding="identity", max_bytes=4, declared_length=None
        )


async def test_declared_length_over_the_cap_is_refused_before_reading() -> None:
    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("body must not be read")
        yield b""  # pragma: no cover

    with pytest.raises(FetchTooLargeError):
        await read_capped(never(), encoding="", max_bytes=10, declared_length=11)


async def test_gzip_is_decoded_in_bounded_steps() -> None:
    bomb = gzip.compress(b"z" * 5_000_000)
    with pytest.raises(FetchTooLargeError):
        await read_capped(_chunks(bomb), encoding="gzip", max_bytes=1000, declared_length=len(bomb))
    small = gzip.compress(b"hello")
    assert (
        await read_capped(
            _chunks(small[:5], small[5:]), encoding="GZIP", max_bytes=100, declared_length=None
        )
        == b"hello"
    )


async def test_corrupt_or_unknown_encodings_are_errors() -> None:
    with pytest.raises(FetchAbortedError) as corrupt:
        await read_capped(
            _chunks(b"not gzip at all"), encoding="gzip", max_bytes=100, declared_length=None
        )
    with pytest.raises(FetchAbortedError) as unknown:
        await read_capped(_chunks(b"x"), encoding="zstd", max_bytes=100, declared_length=None)
    assert (corrupt.value.result, corrupt.value.reason) == ("error", "content_encoding")
    assert (unknown.value.result, unknown.value.reason) == ("error", "content_encoding")


async def test_a_truncated_compressed_body_is_an_error() -> None:
    # The decompressor was never asked whether the stream ended: a cut gzip was "ok".
    for encoding, whole in (
        ("gzip", gzip.compress(b"truncated gzip content " * 100)),
        ("deflate", zlib.compress(b"truncated deflate content " * 100)),
    ):
        with pytest.raises(FetchAbortedError) as cut:
            await read_capped(
                _chunks(whole[:-4]), encoding=encoding, max_bytes=10_000, declared_length=None
            )
        assert (cut.value.result, cut.value.reason) == ("error", "content_encoding"), encoding


async def test_every_gzip_member_is_decoded() -> None:
    members = gzip.compress(b"first member ") + gzip.compress(b"second member")
    for size in (1, 7, len(members)):
        parts = [members[i : i + size] for i in range(0, len(members), size)]
        decoded = await read_capped(
            _chunks(*parts), encoding="gzip", max_bytes=100, declared_length=None
        )
        assert decoded == b"first member second member", size
    padded = gzip.compress(b"padded") + b"\0" * 16  # zero padding after a member, as gzip(1) allows
    assert (
        await read_capped(_chunks(padded), encoding="gzip", max_bytes=100, declared_length=None)
        == b"padded"
    )
    bomb = gzip.compress(b"z" * 600) * 10  # members add up past the cap
    with pytest.raises(FetchTooLargeError):
        await read_capped(_chunks(bomb), encoding="gzip", max_bytes=5000, declared_length=None)


async def test_deflate_is_read_zlib_wrapped_or_raw() -> None:
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw_body = raw.compress(b"raw deflate text") + raw.flush()
    for body in (raw_body, zlib.compress(b"raw deflate text")):
        parts = [body[:1], body[1:]]  # the wrapper is told apart only after two bytes
        decoded = await read_capped(
            _chunks(*parts), encoding="deflate", max_bytes=100, declared_length=None
        )
        assert decoded == b"raw deflate text"


def test_controls_escapes_and_invisible_characters_are_removed() -> None:
    body = (
        "nul\x00here \x1b[31mred\x1b[0m \u202eevil\u202c zero\u200bwidth "
        "\U000e0041\U000e0042tags bell\x07 tab\tline\nend"
    ).encode()
    expected = "nulhere red evil zerowidth tags bell tab line end"
    assert extract_text(body, "text/plain", max_chars=200) == expected
    html = b"<p>a&#x202e;b\x00c&#x200b;d</p>"
    assert extract_text(html, "text/html", max_chars=200) == "abcd"


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("text/html; charset=utf-8", "text/html"),
        ("TEXT/PLAIN", "text/plain"),
        ("application/json", "application/json"),
        ("application/ld+json; profile=x", "application/ld+json"),
    ],
)
def test_allowed_media_types(header: str, kind: str) -> None:
    assert check_media_type(header) == kind


@pytest.mark.parametrize(
    "header",
    [
        "", "image/svg+xml", "application/pdf", "text/javascript", "multipart/mixed",
        "image", "video; charset=utf-8",  # no subtype: the email parser would say text/plain
        "image/png,text/html", "text/plain, image/png",  # unparseable: the same fallback
    ],
)  # fmt: skip
def test_refused_media_types(header: str) -> None:
    with pytest.raises(FetchAbortedError) as refused:
        check_media_type(header)
    assert (refused.value.result, refused.value.reason) == ("blocked", "content_type")


def test_html_extraction_drops_code_and_chrome() -> None:
    html = b"""<html><head><title>Title</title><script>steal()</script></head><body>
    <nav><a href=/>Home</a></nav><p>First&nbsp;para &amp; more</p><style>p{}</style>
    <template><p>hidden</p></template><svg><text>svg text</text></svg><p>Second <i>para</i></p>
    <!-- comment --></body></html>"""
    assert extract_text(html, "text/html", max_chars=1000) == "Title First para & more Second para"


def test_fallback_content_of_embeds_and_frames_is_not_text() -> None:
    html = b"<body><p>Kept</p><noembed><script>var k='x'</script></noembed>"
    html += b"<noframes><b>frames</b></noframes></body>"
    assert extract_text(html, "text/html", max_chars=1000) == "Kept"


@pytest.mark.parametrize("charset", ["base64", "rot13", "hex", "zlib"])
def test_a_codec_that_is_not_a_text_encoding_reads_as_utf8(charset: str) -> None:
    body = "café".encode()
    assert extract_text(body, f"text/plain; charset={charset}", max_chars=100) == "café"
    assert extract_text(b"<p>" + body, f"text/html; charset={charset}", max_chars=100) == "café"


def test_html_charset_comes_from_header_or_meta() -> None:
    latin = "<p>café</p>".encode("latin-1")
    assert extract_text(latin, "text/html; charset=iso-8859-1", max_chars=100) == "café"
    meta = b'<meta charset="iso-8859-1"><p>caf\xe9</p>'
    assert extract_text(meta, "text/html", max_chars=100) == "café"
    assert (
        extract_text(b"caf\xc3\xa9", "text/plain; charset=bogus-charset", max_chars=100) == "café"
    )


@pytest.mark.parametrize(
    "label", ["iso-8859-1", "ISO-8859-1", "latin1", "l1", "us-ascii", "ascii", "cp819"]
)
def test_latin1_and_ascii_labels_read_as_windows_1252(label: str) -> None:
    # Python's latin-1 reads 0x80-0x9F as controls, which the extract strips:
    # "12,50 € – „günstig“ ™" became "12,50 günstig", the price lost its currency.
    body = "Preis: 12,50 € pro Stück – „günstig“ ™".encode("cp1252")
    shown = "Preis: 12,50 € pro Stück – „günstig“ ™"
    assert extract_text(body, f"text/plain; charset={label}", max_chars=100) == shown
    assert extract_text(b"<p>" + body, f"text/html; charset={label}", max_chars=100) == shown
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={label}">'.encode()
    assert extract_text(meta + b"<p>" + body, "text/html", max_chars=100) == shown


@pytest.mark.parametrize(
    ("label", "text", "codec"),
    [
        ("iso-8859-9", "Fiyat: 12,50 € – “uygun”", "cp1254"),
        ("tis-620", "ราคา 12.50 … บาท", "cp874"),
        ("gb2312", "价格 12.50 元 €", "gb18030"),
        ("shift_jis", "価格 ①１２.５０円", "cp932"),
        ("euc-kr", "가격 똠 12.50 원", "cp949"),
        ("koi8", "Цена 12,50 руб", "koi8-r"),
        ("x-mac-cyrillic", "Цена 12,50 руб", "mac-cyrillic"),
    ],
)
def test_charset_labels_name_what_browsers_decode(label: str, text: str, codec: str) -> None:
    body = text.encode(codec)
    assert extract_text(body, f"text/plain; charset={label}", max_chars=100) == text


def test_the_label_table_names_known_codecs_python_reads_otherwise() -> None:
    # Every entry changes something: a listed label Python reads the same way
    # is noise, an unknown codec would fall back to UTF-8.
    for codec, labels in charsets._DIFFERING_LABELS.items():
        target = codecs.lookup(codec).name
        for label in labels:
            assert charsets.codec_for_label(f" {label.upper()}\t") == codec
            with contextlib.suppress(LookupError):
                assert codecs.lookup(label).name != target, label


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")],
)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/html; charset=iso-8859-1",
        "text/html",
        "text/plain",
        "text/plain; charset=iso-8859-1",
        "application/json; charset=utf-8",
    ],
)
def test_a_byte_order_mark_decides_before_any_label(
    bom: bytes, codec: str, content_type: str
) -> None:
    # The header's charset won over the mark ("ï»¿ Prix : 12,50 â¬"), and
    # text/plain ignored marks altogether (UTF-16 read as "��Price").
    text = "Prix : 12,50 € — café"
    page = f'<meta charset="windows-1251"><p>{text}</p>' if "html" in content_type else text
    assert extract_text(bom + page.encode(codec), content_type, max_chars=100) == text


def test_extract_is_trimmed_on_a_word_boundary() -> None:
    text = extract_text(b"alpha beta gamma delta epsilon", "text/plain", max_chars=20)
    assert text == "alpha beta gamma…"
    assert len(text) <= 20


def test_inline_markup_inside_a_word_joins_it_and_blocks_keep_words_apart() -> None:
    # A browser shows "pi</span><span>pe" as "pipe"; read as "pi pe" it hid a
    # weapon recipe from the source screen while the model read it fine.
    html = (
        b"<p>a pi</span><span>pe bo<b></b>mb, a fu<!---->se, a ca<wbr>p. "
        b"<b>W</b>ord, <a href=/x>link</a>ed, H<sub>2</sub>O</p>"
        b"<div>one</div>two<br>three<ul><li>four<li>five</ul>"
        b"<table><tr><td>six</td><td>seven</td></tr></table><h2>eight</h2>nine"
    )
    assert extract_text(html, "text/html", max_chars=1000) == (
        "a pipe bomb, a fuse, a cap. Word, linked, H2O one two three four five "
        "six | seven eight nine"
    )


def test_numbers_keep_their_meaning_in_tables_and_superscripts() -> None:
    # "3×10<sup>8</sup>" read "3×108", and cells "3" "250.00" read "3 250.00",
    # which the figure rules (and French readers) take for 3,250.00.
    html = (
        b"<p>Light travels at 3&times;10<sup>8</sup> m/s, 10<sup>&minus;3</sup> s; "
        b"see 2023<sup>[1]</sup> and H<sub>2</sub>O.</p>"
        b"<table><caption>Order</caption><thead><tr><th>Item</th> <th>Qty</th></tr></thead>"
        b"<tbody><tr><td>Widget</td>\n<td>3</td><td>250.00</td></tr>"
        b"<tr><td>12</td><td>500</td></tr></tbody></table>"
    )
    assert extract_text(html, "text/html", max_chars=1000) == (
        "Light travels at 3×10^8 m/s, 10^−3 s; see 2023[1] and H2O. "
        "Order Item | Qty ; Widget | 3 | 250.00 ; 12 | 500"
    )


def test_empty_cells_and_rows_add_no_marks() -> None:
    # Spacer rows and empty cells gave "; ; ;" and "| |": a page of an empty
    # table was text (not "no text"), and layout tables spent the extract's cap.
    empty = b"<table><tr></tr><tr><td></td><td> </td></tr><tr><td><br></td></tr></table>"
    assert extract_text(empty, "text/html", max_chars=1000) == ""
    html = (
        b"<p>Rates</p><table><tr><td></td><td>EUR</td><td></td><td>1.08</td><td></td></tr>"
        b"<tr></tr><tr><td></td></tr><tr><td>GBP</td><td>0.85</td></tr><tr></tr></table>"
        b"<table><tr><td></td><td>Note</td></tr></table>"
    )
    assert extract_text(html, "text/html", max_chars=1000) == "Rates EUR | 1.08 ; GBP | 0.85 Note"
    # A table in a cell is its cell's text: the marks around it are the outer
    # table's ("12 500" read as 12,500), while the inner table's own leading
    # and trailing empty cells still add none.
    nested = (
        b"<table><tr><td>12</td><td><table><tr><td>500</td></tr></table></td></tr>"
        b"<tr><td><table><tr><td></td><td>Qty</td></tr></table></td><td>3</td>"
        b"<td><table><tr><td>250.00</td><td></td></tr><tr></tr></table></td></tr>"
        b"<tr><td><table><tr><td>EUR</td><td>1.08</td></tr></table></td></tr>"
        b"<tr><td><table><tr><td>GBP</td><td>0.85</td></tr></table></td></tr></table>"
    )
    assert (
        extract_text(nested, "text/html", max_chars=1000)
        == "12 | 500 ; Qty | 3 | 250.00 ; EUR | 1.08 ; GBP | 0.85"
    )


def test_a_pages_own_bars_and_semicolons_are_its_text() -> None:
    # Only the marks the extract inserts are tidied: a cell holding "|" or ";"
    # vanished with the mark before the next cell, and a page's "a | | b" or
    # a line starting with ";" was rewritten.
    html = (
        b"<p>; start</p><p>a | | b ;</p>"
        b"<table><tr><td>|</td><td>;</td><td>z</td></tr><tr><td>|</td></tr></table>"
    )
    assert extract_text(html, "text/html", max_chars=1000) == "; start a | | b ; | | ; | z ; |"


def test_dropped_chrome_and_replaced_elements_still_keep_words_apart() -> None:
    # header, footer, nav, aside and form are blocks on the page: once dropped,
    # the text either side of them must not join ("noteAfter"). An image or a
    # field is a box of its own too ("foo<img>bar" shows two words).
    html = (
        b"<main><p>Intro</p>Before the note<aside>Side</aside>After the note"
        b"<form>f</form>Next<nav>n</nav>one<header>h</header>two<footer>f</footer>three"
        b"<button>b</button>four<svg><text>s</text></svg>five</main>"
        b"<p>foo<img src=x>bar<input>baz<video></video>qux<canvas></canvas>end</p>"
    )
    assert extract_text(html, "text/html", max_chars=1000) == (
        "Intro Before the note After the note Next one two three four five foo bar baz qux end"
    )
