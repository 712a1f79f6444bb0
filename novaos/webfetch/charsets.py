"""Charset labels read as browsers read them (the WHATWG Encoding Standard).

A page labelled ``iso-8859-1`` or ``us-ascii`` is nearly always windows-1252,
and every browser decodes it so: the standard's label table maps those labels
(and ``latin1``, ``l1``, ``ascii``, ``cp819``...) to windows-1252. Python's
codec of the same name is the strict one, which reads 0x80-0x9F as C1 controls
(then stripped from the extract: "12,50 €" became "12,50"), or does not know
the label at all.

No dependency exposes the table (lexbor's is internal to its C library, and
its Python prescan hands back the label as written), so this holds the part of
it where Python's codec for the label differs: each WHATWG encoding with the
Python codec that decodes as it does, and the labels Python reads otherwise.
The labels Python's codec registry already reads the same way (``utf-8``,
``windows-1251``, ``koi8-r``, ``iso-8859-2``...) are not repeated here.
"""

from __future__ import annotations

_DIFFERING_LABELS: dict[str, tuple[str, ...]] = {
    # windows-1252: the labels of Latin-1 and ASCII
    "cp1252": (
        "ansi_x3.4-1968", "ascii", "cp819", "csisolatin1", "ibm819", "iso-8859-1",
        "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1",
        "latin1", "us-ascii", "x-cp1252",
    ),
    # windows-1254: the labels of Latin-5 (Turkish)
    "cp1254": (
        "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599", "iso_8859-9",
        "iso_8859-9:1989", "l5", "latin5", "x-cp1254",
    ),
    # windows-874: the labels of TIS-620 (Thai)
    "cp874": ("dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874"),
    # gbk, whose decoder is gb18030's
    "gb18030": (
        "chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312", "gb_2312-80", "gbk",
        "iso-ir-58", "x-gbk",
    ),
    "big5hkscs": ("big5", "cn-big5", "csbig5", "x-x-big5"),  # big5 has the HKSCS extensions
    "cp949": (  # euc-kr is windows-949
        "cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean", "ks_c_5601-1987",
        "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949",
    ),
    "cp932": (  # shift_jis is windows-31j
        "csshiftjis", "shift-jis", "shift_jis", "sjis", "windows-31j", "x-sjis",
    ),
    "euc_jp": ("cseucpkdfmtjapanese", "x-euc-jp"),
    "iso8859-6": ("csiso88596e", "csiso88596i", "iso-8859-6-e", "iso-8859-6-i", "iso88596"),
    "iso8859-8": (
        "csiso88598e", "csiso88598i", "iso-8859-8-e", "iso-8859-8-i", "iso88598", "logical",
        "visual",
    ),
    "iso8859-2": ("iso88592",),
    "iso8859-3": ("iso88593",),
    "iso8859-4": ("iso88594",),
    "iso8859-5": ("iso88595",),
    "iso8859-7": ("iso88597", "sun_eu_greek"),
    "iso8859-10": ("iso885910",),
    "iso8859-13": ("iso885913",),
    "iso8859-14": ("iso885914",),
    "iso8859-15": ("csisolatin9", "iso885915"),
    "koi8-r": ("koi", "koi8"),
    "koi8-u": ("koi8-ru",),
    "mac-roman": ("csmacintosh", "mac", "x-mac-roman"),
    "mac-cyrillic": ("x-mac-cyrillic", "x-mac-ukrainian"),
    "cp1250": ("x-cp1250",),
    "cp1251": ("x-cp1251",),
    "cp1253": ("x-cp1253",),
    "cp1255": ("x-cp1255",),
    "cp1256": ("x-cp1256",),
    "cp1257": ("x-cp1257",),
    "cp1258": ("x-cp1258",),
    "utf-8": ("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"),
    # utf-16le: without a byte-order mark (one decides before the label is read)
    "utf-16-le": ("csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16"),
    "utf-16-be": ("unicodefffe",),
}  # fmt: skip
_CODEC_OF_LABEL = {label: codec for codec, labels in _DIFFERING_LABELS.items() for label in labels}


def codec_for_label(label: str) -> str:
    """The Python codec that decodes what ``label`` names as a browser does;
    a label the table does not list is Python's own name for it."""
    name = label.strip("\t\n\f\r ").lower()
    return _CODEC_OF_LABEL.get(name, name)
