"""The bound on how much HTML the parser sees (``novaos.webfetch.markup``).

lexbor's cost grows with tags x nesting depth and with attributes squared on
one tag; these tests pin the bounds themselves, not a time."""

from __future__ import annotations

import pytest

from novaos.webfetch.extract import read_page
from novaos.webfetch.markup import MAX_ATTRIBUTES, MAX_TAG_ATTRIBUTES, MAX_TAGS, bound_markup


def test_an_ordinary_page_is_handed_over_whole() -> None:
    page = "<html><head><title>T</title></head><body>" + "<p>para <b>bold</b></p>" * 500
    assert bound_markup(page).html == page
    assert not bound_markup(page).cut


def test_nesting_past_the_tag_bound_is_cut_at_that_tag() -> None:
    nested = "<ul><li>" * MAX_TAGS  # twice the bound, every tag one level deeper
    bounded = bound_markup(nested)
    assert bounded.cut
    assert bounded.html == "<ul><li>" * (MAX_TAGS // 2)


def test_exactly_the_tag_bound_is_not_cut() -> None:
    page = "<div>" * MAX_TAGS + "deep"
    assert bound_markup(page).html == page
    assert not bound_markup(page).cut


@pytest.mark.parametrize(
    "wrapper",
    [
        ("<!--", "-->"),  # the tokenizer may not agree where a comment ends (<!-->)
        ("<script>", "</script>"),
        ('<p title="', '">'),  # quotes
        ("<!-->", ""),
    ],
)
def test_tags_inside_comments_scripts_and_values_still_count(wrapper: tuple[str, str]) -> None:
    start, end = wrapper
    assert bound_markup(start + "<div>" * (MAX_TAGS + 5) + end).cut


def test_attributes_on_one_tag_are_bounded() -> None:
    many = "<br " + " ".join(f"a{i}" for i in range(MAX_TAG_ATTRIBUTES + 1)) + ">"
    within = "<br " + " ".join(f"a{i}" for i in range(MAX_TAG_ATTRIBUTES)) + ">"
    assert bound_markup("<p>before</p>" + many).html == "<p>before</p>"
    assert not bound_markup(within).cut


def test_attribute_values_are_read_as_the_tokenizer_reads_them() -> None:
    # A quote opens a value only after "=": b"c is one unquoted value, and the
    # names after it are attributes, not the inside of a quoted string.
    names = " ".join(f"x{i}" for i in range(MAX_TAG_ATTRIBUTES + 1))
    assert bound_markup(f'<div a=b"c {names} d=">').cut
    # A long quoted value holding spaces is one attribute.
    words = " ".join(["w"] * 5000)
    assert not bound_markup(f'<img alt="{words}" src=x>').cut


def test_attributes_in_all_are_bounded() -> None:
    per_tag = 100
    tag = "<br " + " ".join(f"a{i}" for i in range(per_tag)) + ">"
    page = tag * (MAX_ATTRIBUTES // per_tag + 1)
    bounded = bound_markup(page)
    assert bounded.cut
    assert bounded.html == tag * (MAX_ATTRIBUTES // per_tag)


def test_a_cut_page_says_so() -> None:
    page = ("<p>Intro text.</p>" + "<br>" * MAX_TAGS + "<p>never read</p>").encode()
    extract = read_page(page, "text/html", max_chars=1000)
    assert extract.cut
    assert extract.text == "Intro text.…"
    whole = read_page(b"<p>Intro text.</p>", "text/html", max_chars=1000)
    assert (whole.text, whole.cut) == ("Intro text.", False)


def test_the_charset_is_found_before_the_page_is_bounded() -> None:
    utf16 = "\ufeff<p>caf\u00e9</p>".encode("utf-16-le")  # BOM included
    assert read_page(utf16, "text/html", max_chars=100).text == "café"
    meta = b'<meta http-equiv="content-type" content="text/html; charset=windows-1251"><p>\xcf\xf0'
    assert read_page(meta, "text/html", max_chars=100).text == "Пр"
