"""Tests for dealctl.money: exact amounts in minor units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealctl.errors import InvalidInput
from dealctl.money import (
    currency_code,
    format_amount,
    minor_units,
    parse_amount,
    to_decimal_text,
)

_TWO_DECIMALS = ["USD", "EUR", "GBP", "CNY", "TWD", "HKD", "SGD", "AUD", "CAD", "CHF", "NZD"]
_TWO_DECIMALS += ["THB", "INR", "PHP", "IDR", "MYR"]


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        *[(code, 0) for code in ["JPY", "KRW", "VND", "CLP", "ISK"]],
        *[(code, 2) for code in _TWO_DECIMALS],
        *[(code, 3) for code in ["BHD", "KWD", "OMR", "JOD", "TND"]],
        ("jpy", 0),
        ("円", 0),
    ],
)
def test_minor_units(currency: str, expected: int) -> None:
    assert minor_units(currency) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JPY", "JPY"),
        (" usd ", "USD"),
        ("ｊｐｙ", "JPY"),
        ("Eur", "EUR"),
        ("¥", "JPY"),
        ("￥", "JPY"),
        ("円", "JPY"),
        ("$", "USD"),
        ("＄", "USD"),
        ("€", "EUR"),
        ("£", "GBP"),
        ("hrk", "HRK"),  # withdrawn in 2023, still in old exports
    ],
)
def test_currency_code(text: str, expected: str) -> None:
    assert currency_code(text) == expected


@pytest.mark.parametrize(
    "text", ["", "  ", "JP", "JPYY", "J1Y", "ÉUR", "ßx", "元", "US D", "XYZ", "abc", "XXX"]
)
def test_currency_code_rejects(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        currency_code(text)
    assert str(caught.value) == (
        f"invalid currency {text!r}: expected an ISO 4217 code such as JPY or USD,"
        " or one of ¥ 円 $ € £"
    )


@pytest.mark.parametrize(("text", "meant"), [("yen", "JPY"), ("Euros", "EUR"), ("RMB", "CNY")])
def test_currency_code_suggests_the_code_for_a_word(text: str, meant: str) -> None:
    with pytest.raises(
        InvalidInput, match=rf"^invalid currency {text!r} \(did you mean {meant}\?\)"
    ):
        currency_code(text)


@pytest.mark.parametrize(
    "text",
    [
        "¥1,200,000",
        "￥1,200,000",
        "1,200,000円",
        "１，２００，０００",
        "120万円",
    ],
    ids=["a", "b", "c", "d", "e"],
)
def test_japanese_spellings_of_one_amount(text: str) -> None:
    assert parse_amount(text, "JPY") == 1_200_000


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("1200000", "JPY", 1_200_000),
        ("1,200,000", "JPY", 1_200_000),
        ("120万", "JPY", 1_200_000),
        ("１２０万円", "JPY", 1_200_000),
        ("1,200万", "JPY", 12_000_000),
        ("1.5億", "JPY", 150_000_000),
        ("3億5000万", "JPY", 350_000_000),
        ("3億5,000万1234", "JPY", 350_001_234),
        ("2兆", "JPY", 2_000_000_000_000),
        ("¥ 1,200,000", "JPY", 1_200_000),
        ("1,200,000 円", "JPY", 1_200_000),
        ("0", "JPY", 0),
        ("-0", "JPY", 0),
        ("+500", "JPY", 500),
        ("-50000", "JPY", -50_000),
        ("−50,000", "JPY", -50_000),
        ("△50,000", "JPY", -50_000),
        ("▲50,000", "JPY", -50_000),
        ("(50,000)", "JPY", -50_000),
        ("（５０，０００）", "JPY", -50_000),
        ("( ¥50,000 )", "JPY", -50_000),
        ("-¥50,000", "JPY", -50_000),
        ("¥-50,000", "JPY", -50_000),
        ("△120万円", "JPY", -1_200_000),
        ("1,200.50", "USD", 120_050),
        ("$1,200.50", "USD", 120_050),
        ("$ 1,200.5", "USD", 120_050),
        ("1200", "USD", 120_000),
        ("-$1,200.50", "USD", -120_050),
        ("($1,200.50)", "USD", -120_050),
        ("$1.2k", "USD", 120_000),
        ("1.2K", "USD", 120_000),
        ("$1.2345k", "USD", 123_450),
        ("3m", "USD", 300_000_000),
        ("3 M", "USD", 300_000_000),
        ("2b", "USD", 200_000_000_000),
        ("＄１．２ｋ", "USD", 120_000),
        ("120万", "USD", 120_000_000),
        ("€1200.00", "EUR", 120_000),
        ("1200 €", "EUR", 120_000),
        ("£3", "GBP", 300),
        ("$5", "AUD", 500),
        ("¥100", "CNY", 10_000),
        ("1.234", "BHD", 1_234),
        ("1.5k", "BHD", 1_500_000),
        ("1,000,000,000,000,000", "JPY", 10**15),
        ("-1,000,000,000,000,000", "JPY", -(10**15)),
        ("1000兆", "JPY", 10**15),
        ("1,000,000,000,000,000.000", "BHD", 10**18),
        ("0001", "JPY", 1),
    ],
)
def test_parse_amount(text: str, currency: str, expected: int) -> None:
    assert parse_amount(text, currency) == expected


_JUNK = (
    "expected a number such as 1,200,000, 1200.50 or 120万, optionally with ¥ $ € £ 円"
    " and a sign (-, △, ▲ or parentheses)"
)
_DOTS = (
    "dots as thousands separators are ambiguous; group with commas (1,200,000)"
    " and use one dot only for decimals"
)
_COMMAS = "commas must separate groups of three digits before any decimal point"
_DIGITS = "expected digits with an optional decimal point, such as 1200 or 1200.50"
_NO_MINOR = "JPY has no minor unit, so the amount must be whole; amounts are never rounded"
_USD_PLACES = "USD allows at most 2 decimal places; amounts are never rounded"
_SUFFIX = (
    "k/m/b suffixes are ambiguous for JPY, which has no minor unit;"
    " write the amount in full (1200000) or with 万/億 (120万)"
)
_MYRIADS = "兆, 億 and 万 must each follow a number, largest first (3億5000万)"
_RANGE = "amounts must be within ±1,000,000,000,000,000"


@pytest.mark.parametrize(
    ("text", "currency", "reason"),
    [
        ("", "JPY", "it is empty; expected a number such as 1,200,000 or 120万"),
        ("  　", "JPY", "it is empty; expected a number such as 1,200,000 or 120万"),
        ("12O,000", "JPY", _JUNK),
        ("abc", "USD", _JUNK),
        ("1,200,000 JPY", "JPY", _JUNK),
        ("1 200 000", "EUR", _JUNK),
        ("50,000-", "JPY", _JUNK),
        ("(50,000", "JPY", _JUNK),
        ("50,000)", "JPY", _JUNK),
        ("-(50,000)", "JPY", _JUNK),
        ("△-50,000", "JPY", _JUNK),
        ("--5", "JPY", _JUNK),
        ("1e5", "USD", _JUNK),
        ("1.2kk", "USD", _JUNK),
        ("1.200.000", "JPY", _DOTS),
        ("1.200.000", "EUR", _DOTS),
        ("12,00", "JPY", _COMMAS),
        ("1,2345", "JPY", _COMMAS),
        ("1200,000", "JPY", _COMMAS),
        (",100", "JPY", _COMMAS),
        ("1.200,50", "EUR", _COMMAS),
        (".5", "USD", _DIGITS),
        ("100.", "USD", _DIGITS),
        ("1200.5", "JPY", _NO_MINOR),
        ("1.200", "JPY", _NO_MINOR),
        ("1.23456万", "JPY", _NO_MINOR),
        ("1,200.505", "USD", _USD_PLACES),
        ("1.230", "USD", _USD_PLACES),
        ("1.234567k", "USD", _USD_PLACES),
        ("1.2345", "BHD", "BHD allows at most 3 decimal places; amounts are never rounded"),
        ("$100", "JPY", "the symbol $ means USD, not JPY"),
        ("$1.2k", "JPY", "the symbol $ means USD, not JPY"),
        ("100円", "USD", "the symbol 円 means JPY, not USD"),
        ("¥100", "USD", "the symbol ¥ means JPY, not USD"),
        ("€100", "GBP", "the symbol € means EUR, not GBP"),
        ("1.2k", "JPY", _SUFFIX),
        ("3m", "JPY", _SUFFIX),
        ("1万k", "USD", "a k/m/b suffix cannot be combined with 万/億/兆"),
        ("万", "JPY", _MYRIADS),
        ("5000万3億", "JPY", _MYRIADS),
        ("1,000,000,000,000,001", "JPY", f"{_RANGE} JPY"),
        ("-1,000,000,000,000,000.01", "USD", f"{_RANGE} USD"),
        ("1001兆", "JPY", f"{_RANGE} JPY"),
        ("10000000000000000000000", "JPY", f"{_RANGE} JPY"),
    ],
)
def test_parse_amount_rejects(text: str, currency: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_amount(text, currency)
    assert str(caught.value) == f"invalid amount {text!r}: {reason}"


def test_parse_amount_refuses_thousands_of_digits_as_out_of_range() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_amount("1" * 5000, "JPY")
    assert str(caught.value).endswith(f"': {_RANGE} JPY")


def test_rejected_value_is_named_as_typed_not_as_normalised() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_amount("１．２００．０００", "JPY")
    assert str(caught.value) == f"invalid amount '１．２００．０００': {_DOTS}"


def test_parse_amount_rejects_a_bad_currency() -> None:
    with pytest.raises(InvalidInput, match="invalid currency 'dollars'"):
        parse_amount("100", "dollars")


@pytest.mark.parametrize(
    ("minor", "currency", "people", "plain"),
    [
        (1_200_000, "JPY", "1,200,000", "1200000"),
        (-50_000, "JPY", "-50,000", "-50000"),
        (0, "JPY", "0", "0"),
        (120_050, "USD", "1,200.50", "1200.50"),
        (-120_050, "USD", "-1,200.50", "-1200.50"),
        (5, "USD", "0.05", "0.05"),
        (-5, "USD", "-0.05", "-0.05"),
        (0, "USD", "0.00", "0.00"),
        (1_234_567, "BHD", "1,234.567", "1234.567"),
        (-1, "BHD", "-0.001", "-0.001"),
        (10**15, "JPY", "1,000,000,000,000,000", "1000000000000000"),
    ],
)
def test_format_amount_and_to_decimal_text(
    minor: int, currency: str, people: str, plain: str
) -> None:
    assert format_amount(minor, currency) == people
    assert to_decimal_text(minor, currency) == plain


@st.composite
def _money(draw: st.DrawFn) -> tuple[int, str]:
    currency = draw(st.sampled_from(["JPY", "USD", "BHD"]))
    limit = 10**15 * 10 ** minor_units(currency)
    return draw(st.integers(-limit, limit)), currency


@given(_money())
def test_decimal_text_round_trips(money: tuple[int, str]) -> None:
    minor, currency = money
    assert parse_amount(to_decimal_text(minor, currency), currency) == minor


@given(_money())
def test_formatted_amount_round_trips(money: tuple[int, str]) -> None:
    minor, currency = money
    assert parse_amount(format_amount(minor, currency), currency) == minor


# Mostly the characters amounts are made of, so that the draws reach past the first check.
_AMOUNT_CHARS = st.sampled_from(list("0123456789,.万億兆円¥$€()-−△▲+kKmb 　１，．O"))


@given(st.text(_AMOUNT_CHARS, max_size=20) | st.text(max_size=20), st.sampled_from(["JPY", "USD"]))
def test_parse_amount_answers_any_text_with_an_amount_or_invalid_input(
    text: str, currency: str
) -> None:
    try:
        minor = parse_amount(text, currency)
    except InvalidInput as error:
        assert "\n" not in str(error)
    else:
        assert abs(minor) <= 10**15 * 10 ** minor_units(currency)
