"""Money as exact integers: an amount in minor units plus an ISO 4217 code.

Amounts are typed by people in many shapes (``¥1,200,000``, ``120万円``, ``△50,000``,
``$1.2k``), so parsing is strict about anything that could be read two ways and never
rounds: an amount that does not fit the currency is refused, not adjusted. No float is
ever involved; every step works on ``int``.
"""

from __future__ import annotations

import re
import unicodedata

from dealctl.errors import InvalidInput

__all__ = ["currency_code", "format_amount", "minor_units", "parse_amount", "to_decimal_text"]

# ISO 4217 exponents that differ from 2; every other code has 2.
# fmt: off
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys([
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
        "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
    ], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
# fmt: on

# ISO 4217 codes in use (list one, 2025), with a few withdrawn ones still found in old
# exports (HRK, SLL, ZWL); the funds, metals and test codes are left out.
# fmt: off
_CODES = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
BWP BYN BZD CAD CDF CHF CLF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK
JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP
SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYI UYU UYW UZS VED VES VND VUV WST
XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
""".split())  # noqa: SIM905 (a block of codes reads better than a list)
# fmt: on
# Words people write for a currency, for the hint when they are refused.
_WORDS = {"YEN": "JPY", "RMB": "CNY", "EURO": "EUR", "DOLLAR": "USD", "POUND": "GBP", "WON": "KRW"}

# What a symbol means when it stands alone (``currency_code("$")``)...
_SYMBOL_CODES: dict[str, str] = {"¥": "JPY", "円": "JPY", "$": "USD", "€": "EUR", "£": "GBP"}
# ...and every currency whose amounts are written with it, so that '$1,200' for an AUD
# deal or '¥1,200' for a CNY deal is not taken for a contradiction.
_SYMBOL_CURRENCIES: dict[str, frozenset[str]] = {
    "¥": frozenset({"JPY", "CNY"}),
    "円": frozenset({"JPY"}),
    "$": frozenset({"USD", "AUD", "CAD", "HKD", "NZD", "SGD", "TWD"}),
    "€": frozenset({"EUR"}),
    "£": frozenset({"GBP"}),
}

_CODE = re.compile(r"[A-Za-z]{3}")

# The shape around the number: sign, parentheses, symbols and a k/m/b suffix. Runs after
# NFKC, so full-width digits, commas, parentheses and ￥ already are their ASCII forms.
_AMOUNT = re.compile(
    r"""
    (?P<open>\()?\s*
    (?P<sign>[-−+△▲])?\s*
    (?P<prefix>[¥$€£])?\s*
    (?P<inner_sign>[-−])?\s*
    (?P<number>[0-9.,万億兆]+)\s*
    (?P<suffix>[kKmMbB])?\s*
    (?P<postfix>[¥$€£円])?\s*
    (?P<close>\))?
    """,
    re.VERBOSE,
)
_NEGATIVE_SIGNS = frozenset("-−△▲")
_SUFFIX_POWERS = {"k": 3, "m": 6, "b": 9}

# Japanese myriad units in the only order they may appear: '3億5000万' but not '5000万3億'.
_MYRIADS = re.compile(r"(?:([0-9.,]+)兆)?(?:([0-9.,]+)億)?(?:([0-9.,]+)万)?([0-9.,]+)?")
_MYRIAD_POWERS = (12, 8, 4, 0)

_NUMBER = re.compile(r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<fraction>[0-9]+))?")

_MAX_MAJOR = 10**15
# A whole part with more significant digits than this is at least 10 * _MAX_MAJOR.
_MAX_WHOLE_DIGITS = len(str(_MAX_MAJOR))


def minor_units(currency: str) -> int:
    """Return the number of decimal places (the ISO 4217 exponent) of ``currency``.

    ``currency`` goes through :func:`currency_code` first, so ``"jpy"`` and ``"円"`` work.
    JPY, KRW, VND, CLP, ISK... have 0, BHD, KWD, OMR, JOD, TND... have 3, and every other
    ISO 4217 code has 2.
    """
    return _EXPONENTS.get(currency_code(currency), 2)


def currency_code(text: str) -> str:
    """Return ``text`` as an upper-case ISO 4217 code.

    The text is NFKC-normalised and stripped; ``¥``, ``￥`` and ``円`` mean JPY, ``$`` USD,
    ``€`` EUR and ``£`` GBP. Anything else must be an ISO 4217 code in use (any case),
    else :class:`InvalidInput`, which suggests the code for a word such as ``yen``.
    """
    normalised = unicodedata.normalize("NFKC", text).strip()
    code = _SYMBOL_CODES.get(normalised, normalised)
    # Checked before upper-casing, which would turn 'ß' into the ASCII 'SS'.
    if _CODE.fullmatch(code) and code.upper() in _CODES:
        return code.upper()
    meant = _WORDS.get(normalised.upper().rstrip("S"))
    hint = f" (did you mean {meant}?)" if meant else ""
    raise InvalidInput(
        f"invalid currency {text!r}{hint}: expected an ISO 4217 code such as JPY or USD,"
        " or one of ¥ 円 $ € £"
    )


def parse_amount(text: str, currency: str) -> int:
    """Return the amount people wrote in ``text`` as an integer of ``currency`` minor units.

    Accepted, after NFKC (so full-width digits, commas and ￥ count as ASCII):

    * digits, grouped by commas in threes or not, with an optional decimal point:
      ``1200000``, ``1,200,000``, ``1,200.50``;
    * Japanese myriad units, largest first, each with an optional fraction:
      ``120万``, ``1.5億``, ``3億5000万``;
    * a ``k``/``m``/``b`` suffix (thousand, million, billion, either case), only for
      currencies with minor units: ``$1.2k`` is 120000 cents, but ``1.2k`` yen is refused;
    * a currency symbol before (``¥ $ € £``) or after (``円 ¥ $ € £``), which must agree
      with ``currency``; spaces around symbols, signs and suffixes are allowed;
    * a negative sign ``-``, ``−``, ``△`` or ``▲``, or accounting parentheses
      ``(50,000)``; ``+`` is allowed and means nothing.

    Raises :class:`InvalidInput` for empty text, letters or other junk, dots used as
    thousands separators, misplaced commas, more decimal places than the currency has
    (including ``1.200`` for USD: trailing zeros still count as written), a contradicting
    symbol, and amounts beyond ±10**15 major units.
    """
    code = currency_code(currency)
    exponent = minor_units(code)
    normalised = unicodedata.normalize("NFKC", text).strip()
    if not normalised:
        raise _bad_amount(text, "it is empty; expected a number such as 1,200,000 or 120万")
    shape = _AMOUNT.fullmatch(normalised)
    if (
        shape is None
        or (shape["open"] is None) != (shape["close"] is None)
        # '-(50)', '△-50' and the like: one negative mark is all an amount may carry.
        or [shape["sign"], shape["inner_sign"], shape["open"]].count(None) < 2
    ):
        raise _bad_amount(
            text,
            "expected a number such as 1,200,000, 1200.50 or 120万, optionally with ¥ $ € £ 円"
            " and a sign (-, △, ▲ or parentheses)",
        )
    for symbol in (shape["prefix"], shape["postfix"]):
        if symbol is not None and code not in _SYMBOL_CURRENCIES[symbol]:
            raise _bad_amount(
                text, f"the symbol {symbol} means {_SYMBOL_CODES[symbol]}, not {code}"
            )

    groups = _myriad_groups(shape["number"], text)
    if shape["suffix"] is not None:
        if exponent == 0:
            raise _bad_amount(
                text,
                f"k/m/b suffixes are ambiguous for {code}, which has no minor unit;"
                " write the amount in full (1200000) or with 万/億 (120万)",
            )
        if len(groups) != 1 or groups[0][1] != 0:
            raise _bad_amount(text, "a k/m/b suffix cannot be combined with 万/億/兆")
        groups = [(groups[0][0], _SUFFIX_POWERS[shape["suffix"].lower()])]

    minor = sum(_to_minor(number, power, code, exponent, text) for number, power in groups)
    if shape["open"] is not None or (shape["sign"] or shape["inner_sign"]) in _NEGATIVE_SIGNS:
        minor = -minor
    if abs(minor) > _MAX_MAJOR * 10**exponent:
        raise _out_of_range(text, code)
    return minor


def _myriad_groups(number: str, text: str) -> list[tuple[str, int]]:
    """Split ``number`` at 万/億/兆 into (digits, power of ten) pairs, largest first."""
    match = _MYRIADS.fullmatch(number)
    if match is None:
        raise _bad_amount(
            text, "兆, 億 and 万 must each follow a number, largest first (3億5000万)"
        )
    return [
        (digits, power)
        for digits, power in zip(match.groups(), _MYRIAD_POWERS, strict=True)
        if digits is not None
    ]


def _to_minor(number: str, power: int, code: str, exponent: int, text: str) -> int:
    """Return ``number`` × 10**``power`` in minor units, refusing anything inexact."""
    match = _NUMBER.fullmatch(number)
    if match is None:
        if number.count(".") > 1:
            reason = (
                "dots as thousands separators are ambiguous; group with commas (1,200,000)"
                " and use one dot only for decimals"
            )
        elif "," in number:
            reason = "commas must separate groups of three digits before any decimal point"
        else:
            reason = "expected digits with an optional decimal point, such as 1200 or 1200.50"
        raise _bad_amount(text, reason)
    whole = match["whole"].replace(",", "").lstrip("0")
    fraction = match["fraction"] or ""
    shift = power + exponent - len(fraction)
    if shift < 0:
        limit = (
            f"{code} has no minor unit, so the amount must be whole"
            if exponent == 0
            else f"{code} allows at most {exponent} decimal places"
        )
        raise _bad_amount(text, f"{limit}; amounts are never rounded")
    # Bail out before int() meets a pathological number of digits.
    if len(whole) + power > _MAX_WHOLE_DIGITS:
        raise _out_of_range(text, code)
    scale: int = 10**shift  # typeshed types int ** int as Any: it is a float if negative
    return int(whole + fraction or "0") * scale


def _out_of_range(text: str, code: str) -> InvalidInput:
    return _bad_amount(text, f"amounts must be within ±1,000,000,000,000,000 {code}")


def _bad_amount(text: str, reason: str) -> InvalidInput:
    # repr() keeps the message on one line whatever the text holds.
    return InvalidInput(f"invalid amount {text!r}: {reason}")


def format_amount(minor: int, currency: str) -> str:
    """Return ``minor`` units of ``currency`` for people: ``(120050, "USD")`` -> ``"1,200.50"``.

    Thousands are grouped with commas, the currency's decimal places are always shown,
    and negatives get a leading ``-``. :func:`parse_amount` reads the result back.
    """
    return _major_units_text(minor, currency, grouping=",")


def to_decimal_text(minor: int, currency: str) -> str:
    """Return ``minor`` units of ``currency`` as exact major units without grouping.

    ``(120050, "USD")`` -> ``"1200.50"``, ``(1200000, "JPY")`` -> ``"1200000"``: the form
    for machines (JSON, CSV), which :func:`parse_amount` reads back.
    """
    return _major_units_text(minor, currency, grouping="")


def _major_units_text(minor: int, currency: str, grouping: str) -> str:
    exponent = minor_units(currency)
    major, rest = divmod(abs(minor), 10**exponent)
    text = f"{major:{grouping}}"
    if exponent:
        text += f".{rest:0{exponent}d}"
    return f"-{text}" if minor < 0 else text
