"""What hostile HTML costs to extract, with and without the markup bounds.

    .venv/bin/python -m bench.webfetch_markup [size_bytes]

For each page shape, at ``size_bytes`` (default: the 1 MB body cap), prints
the CPU time of ``read_page`` (bounded: what the fetcher does) and, for the
shapes that are superlinear, of an unbounded lexbor parse of a smaller page
(``before``, 120 KB: the full size would take minutes).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial

from selectolax.lexbor import LexborHTMLParser

from novaos.webfetch.extract import read_page

BEFORE_BYTES = 120_000


def _fill(unit: str, size: int) -> str:
    return unit * (size // len(unit))


def _attributes(size: int) -> str:
    return "<br " + " ".join(f"a{i}" for i in range(size // 7)) + ">"


def _ids_then_paragraphs(size: int) -> str:
    ids = "".join(f"<b id={i}>" for i in range(10_000))
    return ids + _fill("<p>x", size - len(ids))


SHAPES: dict[str, Callable[[int], str]] = {
    "ul-li nested": lambda n: _fill("<ul><li>", n),
    "div nested": lambda n: _fill("<div>x", n),
    "li-dd nested": lambda n: _fill("<li><dd>", n),
    "stray </p>": lambda n: "<div>" * 10_000 + _fill("</p>", n - 50_000),
    "b ids + p": _ids_then_paragraphs,
    "one tag, many attributes": _attributes,
    "flat spans": lambda n: _fill("<span>a</span>", n),
    "plain words": lambda n: _fill("word ", n),
}


def _cpu(call: Callable[[], object]) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def main(size: int) -> None:
    print(f"{'shape':26} {'bounded (' + str(size) + ' B)':>22} {'unbounded (120 KB)':>20}")
    for name, shape in SHAPES.items():
        body = shape(size).encode()[:size]
        after = _cpu(partial(read_page, body, "text/html", max_chars=4000))
        before = _cpu(partial(LexborHTMLParser, shape(BEFORE_BYTES)))
        print(f"{name:26} {after:20.3f} s {before:18.3f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
