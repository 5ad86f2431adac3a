"""Tests for dealctl.text: matching keys and terminal widths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealctl.text import company_key, display_width, email_key, norm


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello", "hello"),
        ("  Hello   World  ", "hello world"),
        ("\u3000サンプル\u3000\u3000商事\u3000", "サンプル 商事"),
        ("a\t\nb", "a b"),
        ("ＡＢＣ　１２３", "abc 123"),
        ("ｻﾝﾌﾟﾙ", "サンプル"),
        ("Straße", "strasse"),
        ("", ""),
        (" \u3000 ", ""),
    ],
)
def test_norm(text: str, expected: str) -> None:
    assert norm(text) == expected


@given(st.text())
def test_norm_is_idempotent(text: str) -> None:
    assert norm(norm(text)) == norm(text)


@pytest.mark.parametrize(
    "name",
    [
        "株式会社サンプル",
        "(株)サンプル",
        "（株）サンプル",
        "㈱サンプル",
        "サンプル 株式会社",
        "株式会社　サンプル",
        "サンプル株式会社",
        "サンプル(株)",
        "サンプル㈱",
        "有限会社サンプル",
        "(有)サンプル",
        "㈲サンプル",
        "合同会社サンプル",
        "サンプル(同)",
        "ｻﾝﾌﾟﾙ株式会社",
    ],
)
def test_company_key_drops_japanese_legal_forms(name: str) -> None:
    assert company_key(name) == "サンプル"


@pytest.mark.parametrize(
    "name",
    [
        "Example",
        "Example Inc.",
        "EXAMPLE, INC",
        "Example Inc",
        "Example Co., Ltd.",
        "Example Co.,Ltd.",
        "Example Ltd",
        "Example Ltd.",
        "Example LLC",
        "Example Corp",
        "Example Corp.",
        "Example Corporation",
        "Example K.K.",
        "  ｅｘａｍｐｌｅ　ｉｎｃ．",
    ],
)
def test_company_key_drops_english_legal_forms(name: str) -> None:
    assert company_key(name) == "example"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Only whole trailing words are legal forms.
        ("Bancorp", "bancorp"),
        ("Inc Example", "incexample"),
        ("Example Incorporated", "exampleincorporated"),
        # Spaces and , . ・ never tell names apart.
        ("Sample Trading", "sampletrading"),
        ("サンプル・トレーディング株式会社", "サンプルトレーディング"),
        ("A.B.C. Holdings, Inc.", "abcholdings"),
        # Nothing but a legal form: the name itself is the key.
        ("株式会社", "株式会社"),
        ("(株)", "(株)"),
        ("Inc.", "inc."),
        ("", ""),
    ],
)
def test_company_key_keeps_the_name(name: str, expected: str) -> None:
    assert company_key(name) == expected


def test_company_key_tells_different_companies_apart() -> None:
    assert company_key("株式会社サンプル") != company_key("株式会社サンプル商事")
    assert company_key("Example Inc.") != company_key("Examples Inc.")


@pytest.mark.parametrize(
    "email",
    [
        "taro.yamada@example.com",
        "  Taro.Yamada@Example.com ",
        "ｔａｒｏ．ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        "\u3000TARO.YAMADA@EXAMPLE.COM\u3000",
        "taro.yamada @ example.com",
    ],
)
def test_email_key(email: str) -> None:
    assert email_key(email) == "taro.yamada@example.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("abc", 3),
        ("案件", 4),
        ("ＡＢＣ", 6),
        ("ｻﾝﾌﾟﾙ", 5),
        ("株式会社 Example", 16),
        ("e\u0301", 1),
        ("か\u3099", 2),
        ("\u3000", 2),
        ("€", 1),
    ],
)
def test_display_width(text: str, expected: int) -> None:
    assert display_width(text) == expected
