"""Cell parsers for imported files: dates, moments, amounts, percents, flags and text.

Spreadsheets and CRM exports write the same value many ways: ``2024年4月1日``, ``令和6年4月1日``,
``R6.4.1``, ``2024/4/1``, the Excel serial ``45383``, ``¥1,200,000``, ``120万円``, ``△50,000``.
Each parser here reads one cell, or raises :class:`CellError` with a reason that never repeats
another cell. Nothing is rounded and nothing ambiguous is guessed: a day/month order is one
decision per column (:func:`infer_order`), never per value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from dealctl.errors import InvalidInput
from dealctl.money import minor_units, parse_amount

__all__ = [
    "DAY_FIRST",
    "MONTH_FIRST",
    "CellError",
    "Moment",
    "amount_parser",
    "flag",
    "infer_order",
    "parse_moment",
    "percent",
]

DAY_FIRST = "DMY"
MONTH_FIRST = "MDY"


class CellError(ValueError):
    """A cell that cannot be read; ``str()`` is the reason shown to the user."""


class Ambiguous(CellError):
    """A day/month value such as 01/04/2024 in a column whose order is not known."""


@dataclass(frozen=True, slots=True)
class Moment:
    """A date as written in a cell, with the time of day and offset when it had them."""

    day: date
    clock: time | None = None
    offset: tzinfo | None = None
    serial: bool = False

    def local(self, zone: tzinfo) -> datetime:
        """The moment in ``zone``: a bare date is midnight there, a naive time is local."""
        if self.offset is not None:
            return datetime.combine(self.day, self.clock or time(0), self.offset).astimezone(zone)
        return datetime.combine(self.day, self.clock or time(0), zone)

    def date_in(self, zone: tzinfo) -> date:
        """The calendar date: as written, or in ``zone`` when the cell had an offset."""
        return self.local(zone).date() if self.offset is not None else self.day

    def stamp(self, zone: tzinfo) -> str:
        """A stored moment: ISO 8601 to the second with the offset of ``zone``."""
        return self.local(zone).isoformat(timespec="seconds")

    def due(self, zone: tzinfo) -> str:
        """A stored next-action deadline: the date, or date and time to the minute."""
        if self.clock is None and self.offset is None:
            return self.day.isoformat()
        return self.local(zone).isoformat(timespec="minutes")


# --- dates ------------------------------------------------------------------------------------

_TIME = (
    r"(?:(?:\s*T\s*|\s+|(?<=日))(?P<hour>\d{1,2})\s*[:時]\s*(?P<minute>\d{2})\s*分?"
    r"(?::(?P<second>\d{2})(?:\.\d+)?)?\s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_YEAR_FIRST = re.compile(
    r"(?P<y>\d{4})\s*(?:(?P<sep>[-/.])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<d>\d{1,2})"
    r"|年\s*(?P<jm>\d{1,2})\s*月\s*(?P<jd>\d{1,2})\s*日)" + _TIME,
    re.ASCII | re.IGNORECASE,
)
_ERA = re.compile(
    r"(?P<era>令和|平成|昭和|[RHS])\s*(?P<y>\d{1,2}|元)\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*"
    r"(?:[-/.]|月)\s*(?P<d>\d{1,2})\s*日?" + _TIME,
    re.ASCII | re.IGNORECASE,
)
_DAY_MONTH = re.compile(
    r"(?P<a>\d{1,2})\s*(?P<sep>[-/.])\s*(?P<b>\d{1,2})\s*(?P=sep)\s*(?P<y>\d{2}|\d{4})" + _TIME,
    re.ASCII | re.IGNORECASE,
)
_NO_YEAR = re.compile(r"(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日" + _TIME, re.ASCII)
_SERIAL = re.compile(r"(?P<whole>\d{1,8})(?:\.(?P<fraction>\d+))?", re.ASCII)

# Era name -> the Gregorian year before its first year (令和1年 is 2019).
_ERAS = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988, "昭和": 1925, "s": 1925}
# Excel's day 0 is 1899-12-30 once its 1900 leap-year bug is behind (serials from 61).
_EXCEL_EPOCH = date(1899, 12, 30)
# Serials read as dates: 10000 (1927-05-18) to 2958465 (9999-12-31). A smaller number in
# a date column is more likely a typo or a year than a date in the 1900s.
_SERIAL_RANGE = (10_000, 2_958_465)

_FORMS = (
    "use 2024-04-01, 2024/4/1, 2024年4月1日, 令和6年4月1日, R6.4.1, 01/04/2024 with a known"
    " day/month order, or an Excel date number"
)


def _normalise(raw: str) -> str:
    text = raw.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return text


def _clock(match: re.Match[str]) -> tuple[time | None, tzinfo | None]:
    if match["hour"] is None:
        return None, None
    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise CellError(f"not a time of day; {_FORMS}")
    offset = _offset(match["tz"]) if match["tz"] else None
    return time(hour, minute, second), offset


def _offset(text: str) -> tzinfo:
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise CellError("not a valid UTC offset")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _day(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise CellError(f"no such date ({year:04d}-{month:02d}-{day:02d})") from None


def infer_order(values: Iterable[str]) -> tuple[str | None, bool]:
    """The day/month order a column's values prove, and whether they contradict each other.

    ``13/04/2024`` proves day-first and ``04/13/2024`` month-first; ``01/04/2024`` proves
    nothing. Year-first values (``2024/04/01``) never count: they are always Y-M-D.
    """
    day_first = month_first = False
    for raw in values:
        text = _normalise(raw)
        match = _DAY_MONTH.fullmatch(text)
        if match is None:
            continue
        first, second = int(match["a"]), int(match["b"])
        if first > 12 >= second:
            day_first = True
        elif second > 12 >= first:
            month_first = True
    if day_first and month_first:
        return None, True
    if day_first:
        return DAY_FIRST, False
    if month_first:
        return MONTH_FIRST, False
    return None, False


def parse_moment(
    raw: str, order: str | None, *, default_year: int | None = None, conflict: bool = False
) -> Moment:
    """A date (optionally with a time and offset) as people and spreadsheets write it.

    Year-first forms are always year-month-day. ``a/b/yyyy`` needs ``order``
    (``DMY`` or ``MDY``) unless one of ``a`` and ``b`` is above 12. A number is an Excel
    serial date (``45383`` is 2024-04-01, ``45383.5`` noon that day), and eight digits are
    ``YYYYMMDD``. ``4月1日`` has no year and is refused unless ``default_year`` is given.
    """
    text = _normalise(raw)
    if not text:
        raise CellError("empty")
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.isascii():
        try:
            return Moment(date.fromisoformat(text))
        except ValueError:
            pass  # falls through to the full patterns and their reasons
    if match := _YEAR_FIRST.fullmatch(text):
        month = match["m"] or match["jm"]
        day = match["d"] or match["jd"]
        clock, offset = _clock(match)
        return Moment(_day(int(match["y"]), int(month), int(day)), clock, offset)
    if match := _ERA.fullmatch(text):
        era = _ERAS[match["era"].lower()]
        year = 1 if match["y"] == "元" else int(match["y"])
        if year < 1:
            raise CellError("an era year starts at 1 (元年)")
        clock, offset = _clock(match)
        return Moment(_day(era + year, int(match["m"]), int(match["d"])), clock, offset)
    if match := _DAY_MONTH.fullmatch(text):
        if len(match["y"]) == 2:
            raise CellError("a two-digit year is ambiguous; write the year in full (2024)")
        first, second, year = int(match["a"]), int(match["b"]), int(match["y"])
        clock, offset = _clock(match)
        if conflict and order is None and first != second:
            raise Ambiguous(
                "the column has both day-first and month-first dates; give --date-order DMY or MDY"
            )
        if first > 12 >= second:
            wanted = DAY_FIRST
        elif second > 12 >= first:
            wanted = MONTH_FIRST
        elif first == second:
            wanted = order or DAY_FIRST  # 04/04/2024 reads the same either way
        elif order is None:
            raise Ambiguous(
                "ambiguous date: the day/month order is unknown; give --date-order DMY or MDY"
            )
        else:
            wanted = order
        if order is not None and wanted != order and first != second:
            raise CellError(f"not a date in {_ORDER_NAMES[order]} order")
        day, month = (first, second) if wanted == DAY_FIRST else (second, first)
        return Moment(_day(year, month, day), clock, offset)
    if match := _SERIAL.fullmatch(text):
        whole = match["whole"]
        if len(whole) == 8 and match["fraction"] is None:
            return Moment(_day(int(whole[:4]), int(whole[4:6]), int(whole[6:])))
        number = int(whole)
        if not _SERIAL_RANGE[0] <= number <= _SERIAL_RANGE[1]:
            raise CellError(
                "a number that is not a plausible Excel date (10000-2958465); " + _FORMS
            )
        day = _EXCEL_EPOCH + timedelta(days=number)
        fraction = match["fraction"]
        if fraction is None or not fraction.strip("0"):
            return Moment(day, serial=True)
        seconds = round(float("0." + fraction) * 86400)
        if seconds >= 86400:
            return Moment(day + timedelta(days=1), time(0), serial=True)
        clock = time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
        return Moment(day, clock, serial=True)
    if match := _NO_YEAR.fullmatch(text):
        if default_year is None:
            raise CellError("the date has no year; write it (2024年4月1日) or give --year")
        clock, offset = _clock(match)
        return Moment(_day(default_year, int(match["m"]), int(match["d"])), clock, offset)
    raise CellError(f"not a date; {_FORMS}")


_ORDER_NAMES = {DAY_FIRST: "day/month/year", MONTH_FIRST: "month/day/year"}


def strict_day(raw: str) -> str:
    """dealctl's own layout: ``YYYY-MM-DD`` only, returned as written."""
    return date.fromisoformat(raw).isoformat()


def strict_moment(raw: str) -> str:
    """dealctl's own layout: ISO 8601 with an offset, stored exactly as written."""
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        raise CellError("a date-time needs its offset, e.g. 2026-12-03T09:00:00+09:00")
    return raw


# --- numbers ----------------------------------------------------------------------------------


def reason_of(exc: InvalidInput, text: str) -> str:
    """The reason of an error about ``text``, without ``text``: messages such as
    ``invalid amount '…': reason`` repeat the value, which a rejection shows already
    (shortened when long)."""
    message = str(exc)
    _, found, reason = message.partition(f"{text!r}: ")
    return reason if found else message


# A decimal fraction: the digits after the one dot of an amount.
_FRACTION = re.compile(r"(?P<whole>[0-9,]*[0-9])\.(?P<fraction>[0-9]+)", re.ASCII)


def _without_zero_places(text: str, places: int) -> str:
    """``1200000.00`` for a currency with ``places`` decimals: zeros beyond them dropped,
    which rounds nothing. ``1.000`` stays as written: its dot may separate thousands,
    and :func:`parse_amount` refuses it."""
    match = _FRACTION.search(text) if text.count(".") == 1 else None
    if match is None:
        return text
    whole, fraction = match["whole"], match["fraction"]
    extra = fraction[places:]
    thousands = len(fraction) == 3 and len(whole) <= 3
    if not extra or extra.strip("0") or thousands:
        return text
    kept = fraction[:places]
    return text[: match.end("whole")] + (f".{kept}" if kept else "") + text[match.end() :]


def amount_parser(currency: str) -> Callable[[str], int]:
    """A parser of amounts as people write them, in minor units of ``currency``."""
    places = minor_units(currency)
    scale: int = 10**places

    def parse(raw: str) -> int:
        text = raw.strip()
        if text.isdecimal() and text.isascii() and len(text) < 16:
            return int(text) * scale
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        if "." in text:
            text = _without_zero_places(text, places)
        try:
            return parse_amount(text, currency)
        except InvalidInput as exc:
            reason = reason_of(exc, text)
            if "amounts are never rounded" in reason:
                reason += "; is the currency right? (a currency column or --currency)"
            raise CellError(reason) from None

    return parse


def minor_integer(raw: str) -> int:
    """dealctl's own layout: an integer of minor units."""
    return int(raw)


def percent(raw: str) -> int:
    """A whole percent 0-100, optionally with ``%`` (``70``, ``70%``, ``70.0``)."""
    text = _normalise(raw).removesuffix("%").strip()
    whole, _, fraction = text.partition(".")
    if not whole.isdecimal() or (fraction and fraction.strip("0")) or not whole.isascii():
        raise CellError("a probability is a whole percent 0-100")
    value = int(whole)
    if value > 100:
        raise CellError("a probability is 0-100")
    return value


def strict_percent(raw: str) -> int:
    """dealctl's own layout: an integer 0-100."""
    value = int(raw)
    if not 0 <= value <= 100:
        raise CellError("a probability is 0-100")
    return value


_TRUE = frozenset({"1", "true", "yes", "y", "t", "○", "◯", "はい"})
_FALSE = frozenset({"0", "false", "no", "n", "f", "×", "いいえ"})


def flag(raw: str) -> bool:
    """A yes/no cell: ``1``/``true``/``yes`` or ``0``/``false``/``no`` (Salesforce's IsWon)."""
    text = _normalise(raw).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError("expected 1 or 0 (true or false)")
