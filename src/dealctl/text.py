"""Matching keys and terminal widths for text typed by Japanese and English users.

People type the same name in full-width or half-width forms, with an ideographic space,
with or without ``株式会社`` or ``Inc.``; the keys here make those spellings compare
equal. Keys are for matching only and are never shown.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["company_key", "display_width", "email_key", "norm"]

# Japanese legal forms, after norm(): NFKC has already turned ㈱ and （株） into (株).
_JAPANESE_LEGAL_FORMS = re.compile(
    r"株式会社|有限会社|合同会社|合資会社|合名会社|\((?:株|有|同|資|名)\)"
)
# English legal forms, after norm() (so lower case), as whole words at the end only: a
# word like 'corp' inside 'Bancorp' or at the front of a name belongs to the name.
_ENGLISH_LEGAL_FORM = re.compile(
    r"(?:^|[\s,])(?:inc|co\.?\s*,?\s*ltd|ltd|llc|corp|corporation|k\.k)\.?$"
)
_KEY_PUNCTUATION = str.maketrans("", "", " ,.・")


def norm(text: str) -> str:
    """Return the key for matching what people type.

    NFKC (full-width letters and digits become ASCII, half-width kana become full-width),
    case-folded, whitespace including U+3000 trimmed, and inner runs of whitespace
    collapsed to one space.
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def company_key(name: str) -> str:
    """Return the key for matching company names.

    :func:`norm`, then legal-form markers are dropped: ``株式会社``, ``(株)``, ``（株）``,
    ``㈱``, ``有限会社``, ``(有)``, ``㈲``, ``合同会社``, ``(同)`` (and ``合資会社``,
    ``合名会社``, ``(資)``, ``(名)``) wherever they stand, and ``inc``, ``inc.``,
    ``co., ltd.``, ``co.,ltd.``, ``ltd``, ``llc``, ``corp``, ``corporation`` and ``k.k.``
    as the last word; then all spaces and the punctuation ``,`` ``.`` ``・`` are removed.
    ``株式会社サンプル``, ``㈱サンプル`` and ``サンプル 株式会社`` give the same key, as do
    ``Example Inc.``, ``EXAMPLE, INC`` and ``Example``. A name that is nothing but markers
    and punctuation keeps its :func:`norm` as its key rather than an empty one.
    """
    normalised = norm(name)
    bare = _JAPANESE_LEGAL_FORMS.sub("", normalised).strip()
    bare = _ENGLISH_LEGAL_FORM.sub("", bare)
    return bare.translate(_KEY_PUNCTUATION) or normalised


def email_key(email: str) -> str:
    """Return the key for matching e-mail addresses: :func:`norm` without any spaces.

    ``"  Taro.Yamada@Example.com "`` and ``"ｔａｒｏ．ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ"`` both
    give ``"taro.yamada@example.com"``. The address is not validated.
    """
    return norm(email).replace(" ", "")


def display_width(text: str) -> int:
    """Return the number of terminal cells ``text`` takes.

    East Asian Wide and Fullwidth characters take 2, combining marks (categories Mn and
    Me) take 0, and everything else takes 1.
    """
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.category(char) in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def counted(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``: a count with its noun (regular plurals only)."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def reference_number(ref: str) -> int | None:
    """The record number a reference gives (``3``, ``#3``, ``＃３``), or None for a name, an
    e-mail or an id. NFKC first, so full-width forms count as typed in ASCII."""
    bare = unicodedata.normalize("NFKC", ref).strip().removeprefix("#")
    return int(bare) if bare.isdecimal() else None
