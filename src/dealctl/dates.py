"""Dates and moments as users type them, and as dealctl stores them.

Everything here is relative to an explicit ``today``/``now`` and an explicit zone, so
commands stay testable; ``DEALCTL_NOW`` fixes the clock for tests and demos.
Stored forms: due values are ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM+09:00`` (minutes),
moments are ``YYYY-MM-DDTHH:MM:SS+09:00`` (seconds).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dealctl.errors import DatabaseError, InvalidInput

CLOCK_ENV = "DEALCTL_NOW"

FIRST_YEAR, LAST_YEAR = 1900, 2999
_Day = TypeVar("_Day", bound=date)
_DATE_FORMS = "use YYYY-MM-DD, today, tomorrow, +3d, +2w, +1m, a weekday (fri), eow, eom"
_WHEN_FORMS = (
    "use now, 14:30, 2026-12-03 14:30 (optional :SS and +09:00 or Z), "
    "a date (today, fri, +3d, eom) or a date and time (yesterday 16:00)"
)
_DUE_FORMS = (
    "use a date (YYYY-MM-DD, today, tomorrow, +3d, fri, eow, eom), "
    "optionally with a time (fri 14:00, 2026-12-04T14:00)"
)

# Patterns stay strings so importing this module compiles nothing: most commands only
# call today() and due_date(), and re's own cache compiles each pattern on first use.
# re.ASCII (see _match): `\d` would otherwise accept any script's digits; NFKC has
# already folded the full-width ones users actually type.
_YEAR_FIRST = r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})"
_DAY_MONTH_ORDER = r"(\d{1,2})([/.-])(\d{1,2})(?:\2(\d{2}|\d{4}))?"
_RELATIVE = r"([+-])(\d+)([dwmy])"
# The `t` separator only counts after a digit, so 'sat 9:00' never splits inside a word.
_WITH_TIME = (
    r"(?:(?P<day>.+?)(?:\s+|(?<=\d)t))?"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"(?P<offset>z|[+-]\d{2}(?::?\d{2})?)?"
)

_WEEKDAYS = {
    name: number
    for number, names in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for name in names
}


class _Ambiguous(ValueError):
    """A day/month-order form such as 03/04/2025: refused with its own explanation."""


def local_zone(name: str | None) -> tzinfo:
    """The zone dates are read and shown in.

    ``ZoneInfo(name)`` when a name is given; otherwise the ``TZ`` environment variable when
    it names a known zone, else the operating system's current local offset.
    """
    if name is not None:
        try:
            return ZoneInfo(name)
        # ValueError and OSError come from keys that are not zone files at all
        # ('', '../x', 'Asia', over-long names).
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise InvalidInput(
                f"unknown time zone {name!r}: use an IANA name such as Asia/Tokyo, "
                "Europe/Berlin or UTC"
            ) from None
    # POSIX allows a leading ':' before a zone file name.
    tz_name = os.environ.get("TZ", "").removeprefix(":")
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        # POSIX rule strings ('JST-9') are valid TZ values but not zone keys.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    local = datetime.now().astimezone().tzinfo
    assert local is not None  # astimezone() always attaches a zone
    return local


def now(zone: tzinfo, environ: Mapping[str, str] | None = None) -> datetime:
    """The current time in ``zone``, aware.

    ``DEALCTL_NOW`` (read from ``environ``, default ``os.environ``) fixes the clock: an ISO
    date-time with or without an offset (naive means in ``zone``) or a bare date (00:00
    that day in ``zone``). An empty value counts as unset.
    """
    env = os.environ if environ is None else environ
    value = env.get(CLOCK_ENV, "")
    if not value.strip():
        return datetime.now(zone)
    try:
        fixed = datetime.fromisoformat(value.strip())
        fixed = fixed.replace(tzinfo=zone) if fixed.tzinfo is None else fixed.astimezone(zone)
        return _in_range(fixed, CLOCK_ENV, value)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"invalid {CLOCK_ENV} {value!r}: use an ISO date-time such as 2026-12-03T09:00, "
            "2026-12-03T09:00+09:00, 2026-12-03T00:00Z or a date such as 2026-12-03"
        ) from None


def today(zone: tzinfo, environ: Mapping[str, str] | None = None) -> date:
    """The user's local date: ``now(zone, environ).date()``."""
    return now(zone, environ).date()


def parse_date(
    text: str,
    today: date,
    *,
    what: str = "date",
    order: str | None = None,
    forms: str = _DATE_FORMS,
) -> date:
    """A date the user typed, relative to ``today``.

    Accepted, case-insensitive and NFKC-normalised: ``YYYY-MM-DD`` and ``YYYY/M/D``;
    today/tod, tomorrow/tom, yesterday; ``+Nd -Nd +Nw -Nw +Nm -Nm +Ny -Ny`` (months and
    years clamp the day); weekday names (the next such day strictly after today);
    eow/eom/eoq/eoy (end of this week, month, quarter, year); sow/som/soq/soy (the next
    start of a week, month, quarter, year strictly after today). Day and month with
    slashes, dots or dashes (``13/4/2026``, ``4/13``, ``3.4.26``; no year means this year)
    when the numbers tell which is the day, or by ``order`` (the ``date_order`` setting,
    ``DMY`` or ``MDY``) when both could be. Anything else, including ``03/04/2025`` with no
    order set, raises InvalidInput naming ``what``.
    """
    try:
        return _in_range(_day(_normalise(text), today, order), what, text)
    except _Ambiguous:
        raise InvalidInput(_ambiguous(what, text)) from None
    except (ValueError, OverflowError):
        raise InvalidInput(f"invalid {what} {text!r}: {forms}") from None


def parse_when(text: str, now: datetime, order: str | None = None) -> datetime:
    """A moment the user typed (``log --at``), aware and in ``now.tzinfo``.

    Accepted: ``now``; an ISO date-time (``2026-12-03T14:30``, ``2026-12-03 14:30``, optional
    seconds, optional offset or Z, naive meaning local); ``HH:MM`` (today); any
    :func:`parse_date` form followed by a time (``yesterday 16:00``); any :func:`parse_date`
    form alone, meaning ``now`` when it is today and 12:00 local on any other day.
    """
    zone = _zone_of(now)
    normalised = _normalise(text)
    if normalised == "now":
        return now
    try:
        value = _in_range(_read(normalised, now, zone, order), "time", text)
    except _Ambiguous:
        raise InvalidInput(_ambiguous("time", text)) from None
    except (ValueError, OverflowError):
        raise InvalidInput(f"invalid time {text!r}: {_WHEN_FORMS}") from None
    if isinstance(value, datetime):
        return value
    if value == now.date():
        return now
    return datetime.combine(value, time(12), tzinfo=zone)


def parse_due(text: str, now: datetime, order: str | None = None) -> str:
    """A next-action deadline in its stored form.

    A date (:func:`parse_date` rules) gives ``YYYY-MM-DD``; a date and a time (``fri 14:00``,
    ``2026-12-04T14:00``) or a bare time (today) gives ISO 8601 in ``now.tzinfo`` with the
    offset, to the minute: ``2026-12-04T14:00+09:00``.
    """
    zone = _zone_of(now)
    try:
        value = _in_range(_read(_normalise(text), now, zone, order), "due date", text)
    except _Ambiguous:
        raise InvalidInput(_ambiguous("due date", text)) from None
    except (ValueError, OverflowError):
        raise InvalidInput(f"invalid due date {text!r}: {_DUE_FORMS}") from None
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return value.isoformat()


def due_moment(value: str, zone: tzinfo) -> date:
    """A stored due value (a date or an ISO date-time) in ``zone``: the date, or the
    date-time there (one written without an offset is taken as it is)."""
    try:
        if not _day_form(value):
            raise ValueError(value)
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo is None else moment.astimezone(zone)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"invalid due value {value!r}: use YYYY-MM-DD or an ISO date-time with offset "
            "such as 2026-12-04T14:00+09:00"
        ) from None


def day_of(moment: date) -> date:
    """The calendar date of a :func:`due_moment`."""
    return moment.date() if isinstance(moment, datetime) else moment


def due_date(value: str, zone: tzinfo) -> date:
    """The calendar date in ``zone`` of a stored due value (a date or an ISO date-time)."""
    return day_of(due_moment(value, zone))


def due_shown(moment: date) -> str:
    """A :func:`due_moment` as a person reads it: ``2026-12-04``, or ``2026-12-04 14:00``."""
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


def damaged(number: int, field: str, value: object) -> DatabaseError:
    """The error for deal ``number``'s stored ``field`` that is not in its stored form: it
    was written by something other than dealctl, so it is a database problem (exit
    status 5), not bad input, and ``dealctl doctor`` says how to put it right."""
    return DatabaseError(
        f"deal {number} has a damaged {field} value {value!r} in the database;"
        " dealctl doctor says how to fix it"
    )


def _day_form(text: str) -> bool:
    """Whether ``text`` has the dashes of the stored form of a day, ``YYYY-MM-DD``, in its
    first ten characters: date.fromisoformat(), which checks the digits, alone also reads
    20261225 and 2026-W52-5 (no other form it reads has these two dashes)."""
    return text[4:5] == "-" and text[7:8] == "-"


def stored_date(value: object) -> date | None:
    """The calendar day ``value`` is when it is one in the stored form, ``YYYY-MM-DD`` and
    nothing more; else None (see :func:`sql_day` for the same test in SQL)."""
    if not isinstance(value, str) or len(value) != 10 or not _day_form(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def stored_day(value: str, number: int, field: str) -> date:
    """The day a deal's stored date or moment (its ``field``) starts with, as written;
    :func:`damaged` when that is no calendar day (:func:`stored_date`)."""
    day = stored_date(value[:10])
    if day is None:
        raise damaged(number, field, value)
    return day


def sql_day(expr: str) -> str:
    """SQL that is 1 when ``expr`` (SQL text from code, never input) is a calendar day
    written ``YYYY-MM-DD`` (as :func:`stored_date` reads one) and 0 for any other value
    but NULL: never NULL itself, so ``NOT`` of it selects every other value. (julianday()
    carries 02-30 to 03-02 and is NULL for a month 13 or a day 32; ``IS`` makes that
    NULL a 0.)"""
    return (
        f"({expr} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"
        f" AND substr({expr}, 1, 4) <> '0000' AND date(julianday({expr})) IS {expr})"
    )


def sql_starts_with_day(expr: str) -> str:
    """SQL that is 1 when ``expr`` (SQL text from code, never input) starts with a calendar
    day written ``YYYY-MM-DD``, the day :func:`stored_day` reads, and 0 for any other value
    but NULL: what :func:`sql_day` says of its first ten characters, at under half the
    cost, for reports that test every row of a big table. (Through julianday(), date()
    gives back a day in that form only when it is one: 02-30 comes back as 03-02, a month
    13 as NULL, and ``IS`` makes that NULL a 0; the comparison leaves out the year 0000.)"""
    day = f"substr({expr}, 1, 10)"
    return f"(date(julianday({day})) IS {day} AND {expr} >= '0001')"


def stored_moment(value: str, number: int, field: str) -> datetime:
    """A deal's stored moment (its ``field``), aware; :func:`damaged` when it is not an ISO
    date-time with its offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise damaged(number, field, value) from None
    if moment.tzinfo is None:
        raise damaged(number, field, value)
    return moment


def stored_due_moment(value: str, zone: tzinfo, number: int) -> date:
    """A deal's stored due value in ``zone`` (:func:`due_moment`); :func:`damaged` when it
    is not in the stored form."""
    try:
        return due_moment(value, zone)
    except InvalidInput:
        raise damaged(number, "due", value) from None


def stored_due_date(value: str, zone: tzinfo, number: int) -> date:
    """The local date of a deal's stored due value (see :func:`stored_due_moment`)."""
    return day_of(stored_due_moment(value, zone, number))


def iso_now(moment: datetime) -> str:
    """``moment`` as stored: ISO 8601 with offset, to the second (``2026-12-03T09:00:00+09:00``)."""
    _zone_of(moment)
    return moment.isoformat(timespec="seconds")


def _in_range(value: _Day, what: str, text: str) -> _Day:
    """A typed date within years 1900-2999: anything else is a typo, and dates near the
    ends of Python's range break date arithmetic (a calendar's next day after 9999-12-31)."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InvalidInput(
            f"{what} {text!r} is out of range: use a year from {FIRST_YEAR} to {LAST_YEAR}"
        )
    return value


def _zone_of(moment: datetime) -> tzinfo:
    # A naive `now` is a caller bug, not bad user input: results would silently lose the zone.
    if moment.tzinfo is None:
        raise ValueError(f"expected an aware datetime, got {moment!r}")
    return moment.tzinfo


def _normalise(text: str) -> str:
    # NFKC folds full-width digits, signs and spaces; U+2212 MINUS SIGN survives NFKC but
    # arrives in pasted text, so it is folded by hand.
    return unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip().lower()


def _match(pattern: str, text: str) -> re.Match[str] | None:
    return re.fullmatch(pattern, text, re.ASCII)


def _ambiguous(what: str, text: str) -> str:
    return (
        f"ambiguous {what} {text!r}: day and month order is unclear; "
        "use YYYY-MM-DD such as 2026-12-03"
    )


def _read(normalised: str, now: datetime, zone: tzinfo, order: str | None) -> date | datetime:
    """A plain date for a date form, an aware datetime in ``zone`` when a time is given."""
    match = _match(_WITH_TIME, normalised)
    if match is None:
        return _day(normalised, now.date(), order)
    day = now.date() if match["day"] is None else _day(match["day"], now.date(), order)
    clock = time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
    if match["offset"] is None:
        return datetime.combine(day, clock, tzinfo=zone)
    return datetime.combine(day, clock, tzinfo=_offset(match["offset"])).astimezone(zone)


def _offset(text: str) -> tzinfo:
    if text == "z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if minutes >= 60:
        raise ValueError(text)
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _day(normalised: str, today: date, order: str | None = None) -> date:
    """The date a normalised date form names; ValueError/OverflowError when it names none."""
    if match := _match(_YEAR_FIRST, normalised):
        return date(int(match[1]), int(match[3]), int(match[4]))
    if (word := _WORDS.get(normalised)) is not None:
        return word(today)
    if (weekday := _WEEKDAYS.get(normalised)) is not None:
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    if match := _match(_RELATIVE, normalised):
        count = int(match[2]) * (-1 if match[1] == "-" else 1)
        unit = match[3]
        if unit == "d":
            return today + timedelta(days=count)
        if unit == "w":
            return today + timedelta(weeks=count)
        return _add_months(today, count * 12 if unit == "y" else count)
    if match := _match(_DAY_MONTH_ORDER, normalised):
        return _day_and_month(match, today, order)
    raise ValueError(normalised)


def _day_and_month(match: re.Match[str], today: date, order: str | None) -> date:
    """``13/4/2026`` or ``4/13``: the day is the number over 12, else ``order`` decides."""
    first, second = int(match[1]), int(match[3])
    year = today.year if match[4] is None else int(match[4])
    if match[4] is not None and len(match[4]) == 2:
        year += 2000
    if first > 12 or (second <= 12 and order == "DMY"):
        return date(year, second, first)
    if second > 12 or order == "MDY":
        return date(year, first, second)
    raise _Ambiguous(match[0])


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


def _month_end(year: int, month: int) -> date:
    return date(year, month, _days_in_month(year, month))


def _add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month0 + 1
    return date(year, month, min(day.day, _days_in_month(year, month)))


def _quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


_WORDS: dict[str, Callable[[date], date]] = {
    "today": lambda d: d,
    "tod": lambda d: d,
    "tomorrow": lambda d: d + timedelta(days=1),
    "tom": lambda d: d + timedelta(days=1),
    "yesterday": lambda d: d - timedelta(days=1),
    "eow": lambda d: d + timedelta(days=6 - d.weekday()),
    "eom": lambda d: _month_end(d.year, d.month),
    "eoq": lambda d: _month_end(d.year, _quarter_start(d).month + 2),
    "eoy": lambda d: date(d.year, 12, 31),
    "sow": lambda d: d + timedelta(days=7 - d.weekday()),
    "som": lambda d: _add_months(d.replace(day=1), 1),
    "soq": lambda d: _add_months(_quarter_start(d), 3),
    "soy": lambda d: date(d.year + 1, 1, 1),
}
