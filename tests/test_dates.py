"""Tests for dealctl.dates: user date forms, the fixed clock, zones and stored forms."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealctl import dates
from dealctl.dates import (
    CLOCK_ENV,
    due_date,
    iso_now,
    local_zone,
    now,
    parse_date,
    parse_due,
    parse_when,
    today,
)
from dealctl.errors import DatabaseError, InvalidInput

TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

THURSDAY = date(2026, 12, 3)
FRIDAY = date(2026, 12, 4)
SUNDAY = date(2026, 12, 6)
MONDAY = date(2026, 12, 7)
# Thursday 2026-12-03, 10:15:30 in Tokyo.
NOW_TOKYO = datetime(2026, 12, 3, 10, 15, 30, tzinfo=TOKYO)


def assert_refused(error: pytest.ExceptionInfo[InvalidInput], text: str) -> str:
    """The message is one line and names the bad value; returns it for further checks."""
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert repr(text) in message
    return message


# --- local_zone -------------------------------------------------------------


def test_local_zone_by_name() -> None:
    assert local_zone("Asia/Tokyo") == TOKYO
    assert local_zone("UTC") == ZoneInfo("UTC")


@pytest.mark.parametrize("name", ["Asia/Tokio", "", "Asia", "../etc/passwd", "utc/x", "a" * 300])
def test_local_zone_unknown_name(name: str) -> None:
    with pytest.raises(InvalidInput) as error:
        local_zone(name)
    message = assert_refused(error, name)
    assert message.startswith("unknown time zone")
    assert "Asia/Tokyo" in message


@pytest.mark.parametrize("tz", ["Asia/Tokyo", ":Asia/Tokyo"])
def test_local_zone_from_tz_variable(monkeypatch: pytest.MonkeyPatch, tz: str) -> None:
    monkeypatch.setenv("TZ", tz)
    assert local_zone(None) == TOKYO


@pytest.mark.parametrize("tz", [None, "", "JST-9", "Asia/Tokio"])
def test_local_zone_falls_back_to_os(monkeypatch: pytest.MonkeyPatch, tz: str | None) -> None:
    if tz is None:
        monkeypatch.delenv("TZ", raising=False)
    else:
        monkeypatch.setenv("TZ", tz)
    zone = local_zone(None)
    moment = datetime.now(UTC)
    assert moment.astimezone(zone).utcoffset() == moment.astimezone().utcoffset()


# --- now / today and DEALCTL_NOW ------------------------------------------------


def test_now_reads_the_real_clock_without_override() -> None:
    for environ in ({}, {CLOCK_ENV: ""}, {CLOCK_ENV: "  "}):
        moment = now(TOKYO, environ)
        assert moment.tzinfo is TOKYO
        assert abs(moment - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2026-12-03T09:00", TOKYO, datetime(2026, 12, 3, 9, 0, tzinfo=TOKYO)),
        ("2026-12-03 09:00:15", TOKYO, datetime(2026, 12, 3, 9, 0, 15, tzinfo=TOKYO)),
        ("2026-12-03T09:00+00:00", TOKYO, datetime(2026, 12, 3, 18, 0, tzinfo=TOKYO)),
        ("2026-12-02T22:30Z", TOKYO, datetime(2026, 12, 3, 7, 30, tzinfo=TOKYO)),
        ("2026-12-02T22:30Z", UTC, datetime(2026, 12, 2, 22, 30, tzinfo=UTC)),
        ("2026-12-03", TOKYO, datetime(2026, 12, 3, 0, 0, tzinfo=TOKYO)),
        (" 2026-12-03 ", UTC, datetime(2026, 12, 3, 0, 0, tzinfo=UTC)),
    ],
)
def test_now_fixed_by_environment(value: str, zone: ZoneInfo, expected: datetime) -> None:
    moment = now(zone, {CLOCK_ENV: value})
    assert moment == expected
    assert moment.utcoffset() == expected.utcoffset()
    assert moment.tzinfo is zone


def test_now_defaults_to_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLOCK_ENV, "2026-12-03T09:00")
    assert now(TOKYO) == datetime(2026, 12, 3, 9, 0, tzinfo=TOKYO)
    assert today(TOKYO) == THURSDAY


def test_today_depends_on_zone() -> None:
    environ = {CLOCK_ENV: "2026-12-02T22:30Z"}
    assert today(TOKYO, environ) == date(2026, 12, 3)
    assert today(ZoneInfo("UTC"), environ) == date(2026, 12, 2)
    assert today(NEW_YORK, environ) == date(2026, 12, 2)


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01", "12/03/2026", "2026-12-03T25:00", "x"])
def test_now_refuses_bad_override(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        now(TOKYO, {CLOCK_ENV: value})
    assert CLOCK_ENV in assert_refused(error, value)


# --- parse_date -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03", date(2026, 12, 3)),
        ("2025-01-09", date(2025, 1, 9)),
        ("2026/12/03", date(2026, 12, 3)),
        ("2026/1/5", date(2026, 1, 5)),
        ("2026-1-5", date(2026, 1, 5)),
        ("  2026-12-24\t", date(2026, 12, 24)),
        ("２０２６－１２－２４", date(2026, 12, 24)),
        ("２０２６／１２／２４", date(2026, 12, 24)),
        ("2024-02-29", date(2024, 2, 29)),
        ("2000-02-29", date(2000, 2, 29)),
    ],
)
def test_parse_date_absolute(text: str, expected: date) -> None:
    assert parse_date(text, THURSDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", date(2026, 12, 3)),
        ("tod", date(2026, 12, 3)),
        ("TODAY", date(2026, 12, 3)),
        ("tomorrow", date(2026, 12, 4)),
        ("tom", date(2026, 12, 4)),
        ("Tomorrow", date(2026, 12, 4)),
        ("yesterday", date(2026, 12, 2)),
        ("ｔｏｍｏｒｒｏｗ", date(2026, 12, 4)),
    ],
)
def test_parse_date_words(text: str, expected: date) -> None:
    assert parse_date(text, THURSDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+0d", date(2026, 12, 3)),
        ("+3d", date(2026, 12, 6)),
        ("+30d", date(2027, 1, 2)),
        ("-3d", date(2026, 11, 30)),
        ("+2w", date(2026, 12, 17)),
        ("-1w", date(2026, 11, 26)),
        ("+1m", date(2027, 1, 3)),
        ("-1m", date(2026, 11, 3)),
        ("+1y", date(2027, 12, 3)),
        ("-1y", date(2025, 12, 3)),
        ("+3D", date(2026, 12, 6)),
        ("＋３ｄ", date(2026, 12, 6)),
        ("－３ｄ", date(2026, 11, 30)),
        ("\u22123d", date(2026, 11, 30)),
    ],
)
def test_parse_date_relative(text: str, expected: date) -> None:
    assert parse_date(text, THURSDAY) == expected


@pytest.mark.parametrize(
    ("text", "base", "expected"),
    [
        ("+1m", date(2026, 1, 31), date(2026, 2, 28)),
        ("+1m", date(2024, 1, 31), date(2024, 2, 29)),
        ("+1m", date(2026, 10, 31), date(2026, 11, 30)),
        ("-1m", date(2026, 3, 31), date(2026, 2, 28)),
        ("+13m", date(2026, 1, 31), date(2027, 2, 28)),
        ("+1m", date(2026, 12, 15), date(2027, 1, 15)),
        ("-12m", date(2026, 1, 15), date(2025, 1, 15)),
        ("+1y", date(2024, 2, 29), date(2025, 2, 28)),
        ("+4y", date(2024, 2, 29), date(2028, 2, 29)),
        ("-1y", date(2024, 2, 29), date(2023, 2, 28)),
        ("+1d", date(2024, 2, 28), date(2024, 2, 29)),
        ("+1d", date(2026, 2, 28), date(2026, 3, 1)),
    ],
)
def test_parse_date_month_arithmetic_clamps(text: str, base: date, expected: date) -> None:
    assert parse_date(text, base) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon", date(2026, 12, 7)),
        ("tue", date(2026, 12, 8)),
        ("wed", date(2026, 12, 9)),
        ("thu", date(2026, 12, 10)),
        ("fri", date(2026, 12, 4)),
        ("sat", date(2026, 12, 5)),
        ("sun", date(2026, 12, 6)),
        ("monday", date(2026, 12, 7)),
        ("tuesday", date(2026, 12, 8)),
        ("wednesday", date(2026, 12, 9)),
        ("thursday", date(2026, 12, 10)),
        ("friday", date(2026, 12, 4)),
        ("saturday", date(2026, 12, 5)),
        ("sunday", date(2026, 12, 6)),
        ("Fri", date(2026, 12, 4)),
    ],
)
def test_parse_date_weekday_from_thursday(text: str, expected: date) -> None:
    assert parse_date(text, THURSDAY) == expected


def test_parse_date_weekday_is_strictly_after_today() -> None:
    assert parse_date("fri", FRIDAY) == date(2026, 12, 11)
    assert parse_date("friday", FRIDAY) == date(2026, 12, 11)
    assert parse_date("sat", FRIDAY) == date(2026, 12, 5)
    assert parse_date("mon", SUNDAY) == date(2026, 12, 7)
    assert parse_date("sun", SUNDAY) == date(2026, 12, 13)


@pytest.mark.parametrize(
    ("text", "base", "expected"),
    [
        ("eow", THURSDAY, date(2026, 12, 6)),
        ("eow", SUNDAY, SUNDAY),
        ("eow", MONDAY, date(2026, 12, 13)),
        ("eom", THURSDAY, date(2026, 12, 31)),
        ("eom", date(2024, 2, 10), date(2024, 2, 29)),
        ("eom", date(2026, 2, 10), date(2026, 2, 28)),
        ("eom", date(2026, 4, 30), date(2026, 4, 30)),
        ("eoq", THURSDAY, date(2026, 12, 31)),
        ("eoq", date(2026, 1, 1), date(2026, 3, 31)),
        ("eoq", date(2026, 5, 15), date(2026, 6, 30)),
        ("eoq", date(2026, 9, 30), date(2026, 9, 30)),
        ("eoq", date(2999, 11, 1), date(2999, 12, 31)),  # the last day of the range
        ("eoy", THURSDAY, date(2026, 12, 31)),
        ("eoy", date(2026, 1, 1), date(2026, 12, 31)),
        ("sow", THURSDAY, date(2026, 12, 7)),
        ("sow", SUNDAY, date(2026, 12, 7)),
        ("sow", MONDAY, date(2026, 12, 14)),
        ("som", THURSDAY, date(2027, 1, 1)),
        ("som", date(2026, 1, 1), date(2026, 2, 1)),
        ("som", date(2024, 2, 29), date(2024, 3, 1)),
        ("soq", THURSDAY, date(2027, 1, 1)),
        ("soq", date(2026, 1, 1), date(2026, 4, 1)),
        ("soq", date(2026, 3, 31), date(2026, 4, 1)),
        ("soq", date(2026, 8, 15), date(2026, 10, 1)),
        ("soy", THURSDAY, date(2027, 1, 1)),
        ("soy", date(2026, 1, 1), date(2027, 1, 1)),
        ("EOM", THURSDAY, date(2026, 12, 31)),
    ],
)
def test_parse_date_period_bounds(text: str, base: date, expected: date) -> None:
    assert parse_date(text, base) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "next week",
        "2025-02-30",
        "2025-02-29",
        "1900-02-29",
        "2025-13-01",
        "2026-00-10",
        "0000-01-01",
        "2026-12-03x",
        "2026-12/03",
        "26-12-03x",
        "20261203",
        "+3",
        "3d",
        "+d",
        "+1.5d",
        "+3x",
        "++3d",
        "+ 3d",
        "+\u0663d",
        "fr",
        "fridays",
        "now",
        "today\nrm -rf /",
        "+99999999d",
        "+999999m",
        "+99999y",
        "-3000y",
    ],
)
def test_parse_date_refuses(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_date(text, THURSDAY)
    message = assert_refused(error, text)
    assert message == (
        f"invalid date {text!r}: "
        "use YYYY-MM-DD, today, tomorrow, +3d, +2w, +1m, a weekday (fri), eow, eom"
    )


@pytest.mark.parametrize(
    ("text", "base"),
    [("tomorrow", date.max), ("soy", date(9999, 6, 1)), ("yesterday", date.min)],
)
def test_parse_date_refuses_beyond_calendar(text: str, base: date) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_date(text, base)
    assert_refused(error, text)


@pytest.mark.parametrize("text", ["03/04/2025", "4/1", "4/1/25", "03.04.2025", "03-04-2025"])
def test_parse_date_refuses_day_month_order(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_date(text, THURSDAY)
    message = assert_refused(error, text)
    assert message.startswith("ambiguous date")
    assert "YYYY-MM-DD" in message


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("13/4/2026", None, date(2026, 4, 13)),  # 13 can only be the day
        ("4/13/2026", None, date(2026, 4, 13)),
        ("13.04.26", None, date(2026, 4, 13)),
        ("25/12", None, date(2026, 12, 25)),  # no year: this year
        ("03/04/2025", "DMY", date(2025, 4, 3)),
        ("03/04/2025", "MDY", date(2025, 3, 4)),
        ("13/04/2025", "MDY", date(2025, 4, 13)),  # the numbers beat the setting
        ("０３/０４/２０２５", "DMY", date(2025, 4, 3)),
    ],
)
def test_parse_date_reads_day_and_month_when_it_is_clear(
    text: str, order: str | None, expected: date
) -> None:
    assert parse_date(text, THURSDAY, order=order) == expected


@pytest.mark.parametrize(("text", "order"), [("03/04/2025", "YMD"), ("13/13/2025", "DMY")])
def test_parse_date_day_and_month_that_stay_unclear_or_impossible(text: str, order: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_date(text, THURSDAY, order=order)
    assert_refused(error, text)


def test_parse_date_names_what_was_asked_for() -> None:
    with pytest.raises(InvalidInput, match=r"^invalid close date 'soon': use YYYY-MM-DD"):
        parse_date("soon", THURSDAY, what="close date")
    with pytest.raises(InvalidInput, match=r"^ambiguous close date '4/1'"):
        parse_date("4/1", THURSDAY, what="close date")


# Typed dates are kept to years 1900-2999 (see the range test below).
IN_RANGE = st.dates(min_value=date(1900, 1, 1), max_value=date(2998, 11, 30))


@given(day=IN_RANGE, n=st.integers(min_value=0, max_value=400))
def test_parse_date_days_ahead_property(day: date, n: int) -> None:
    assert parse_date(f"+{n}d", day) == day + timedelta(days=n)


@pytest.mark.parametrize(
    ("text", "today"),
    [("1899-12-31", THURSDAY), ("3000-01-01", THURSDAY), ("+1d", date(2999, 12, 31))],
)
def test_parse_date_keeps_to_the_years_1900_to_2999(text: str, today: date) -> None:
    with pytest.raises(InvalidInput, match=r"is out of range: use a year from 1900 to 2999$"):
        parse_date(text, today)


@given(day=IN_RANGE, name=st.sampled_from(["mon", "fri", "sun"]))
def test_parse_date_weekday_property(day: date, name: str) -> None:
    result = parse_date(name, day)
    assert 1 <= (result - day).days <= 7
    assert result.strftime("%a").lower() == name


@given(text=st.text(max_size=30))
def test_parse_date_refusals_are_one_line_property(text: str) -> None:
    try:
        parse_date(text, THURSDAY)
    except InvalidInput as error:
        assert len(str(error).splitlines()) == 1
        assert repr(text) in str(error)


# --- parse_when -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03T14:30", datetime(2026, 12, 3, 14, 30, tzinfo=TOKYO)),
        ("2026-12-03 14:30", datetime(2026, 12, 3, 14, 30, tzinfo=TOKYO)),
        ("2026-12-01 14:30:45", datetime(2026, 12, 1, 14, 30, 45, tzinfo=TOKYO)),
        ("2026-12-03t14:30", datetime(2026, 12, 3, 14, 30, tzinfo=TOKYO)),
        ("2026-12-03T05:30Z", datetime(2026, 12, 3, 14, 30, tzinfo=TOKYO)),
        ("2026-12-02T22:30Z", datetime(2026, 12, 3, 7, 30, tzinfo=TOKYO)),
        ("2026-12-03T05:30+00:00", datetime(2026, 12, 3, 14, 30, tzinfo=TOKYO)),
        ("2026-12-03T14:30+0900", datetime(2026, 12, 3, 14, 30, tzinfo=TOKYO)),
        ("2026-12-02T19:00-05:00", datetime(2026, 12, 3, 9, 0, tzinfo=TOKYO)),
        ("2026-12-03T14:30+05:30", datetime(2026, 12, 3, 18, 0, tzinfo=TOKYO)),
        ("14:30", datetime(2026, 12, 3, 14, 30, tzinfo=TOKYO)),
        ("9:05", datetime(2026, 12, 3, 9, 5, tzinfo=TOKYO)),
        ("１４：３０", datetime(2026, 12, 3, 14, 30, tzinfo=TOKYO)),
        ("yesterday 16:00", datetime(2026, 12, 2, 16, 0, tzinfo=TOKYO)),
        ("yesterday", datetime(2026, 12, 2, 12, 0, tzinfo=TOKYO)),
        ("fri", datetime(2026, 12, 4, 12, 0, tzinfo=TOKYO)),
        ("2026-11-30", datetime(2026, 11, 30, 12, 0, tzinfo=TOKYO)),
        ("-3d", datetime(2026, 11, 30, 12, 0, tzinfo=TOKYO)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    moment = parse_when(text, NOW_TOKYO)
    assert moment == expected
    assert moment.utcoffset() == timedelta(hours=9)
    assert moment.tzinfo is TOKYO


@pytest.mark.parametrize("text", ["now", "NOW", " now ", "today", "2026-12-03", "+0d"])
def test_parse_when_today_is_now(text: str) -> None:
    assert parse_when(text, NOW_TOKYO) is NOW_TOKYO


def test_parse_when_in_utc() -> None:
    base = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    assert parse_when("2026-12-03T07:30+09:00", base) == datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    assert parse_when("tomorrow", base) == datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "later",
        "25:00",
        "14:60",
        "14:30:61",
        "1430",
        "14:30 today",
        "2026-12-03T14:30+25:00",
        "2026-12-03T14:30+09:75",
        "2026-12-03T14:30 +09:00",
        "2026-02-30 10:00",
        "someday 10:00",
        "tomorrowt10:00",
        "9999-12-31T23:00-05:00",
    ],
)
def test_parse_when_refuses(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_when(text, NOW_TOKYO)
    message = assert_refused(error, text)
    assert message.startswith("invalid time")
    assert "now" in message
    assert "14:30" in message


def test_parse_when_refuses_day_month_order() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_when("4/1 14:00", NOW_TOKYO)
    assert assert_refused(error, "4/1 14:00").startswith("ambiguous time")


def test_parse_when_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("now", datetime(2026, 12, 3, 10, 0))


# --- parse_due ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fri", "2026-12-04"),
        ("2026-12-04", "2026-12-04"),
        ("2026/12/4", "2026-12-04"),
        ("eom", "2026-12-31"),
        ("+1m", "2027-01-03"),
        ("today", "2026-12-03"),
        ("fri 14:00", "2026-12-04T14:00+09:00"),
        ("friday  14:00", "2026-12-04T14:00+09:00"),
        ("tomorrow 9:30", "2026-12-04T09:30+09:00"),
        ("2026-12-04T14:00", "2026-12-04T14:00+09:00"),
        ("2026-12-04 14:00", "2026-12-04T14:00+09:00"),
        ("2026-12-04 14:00:59", "2026-12-04T14:00+09:00"),
        ("2026-12-04T05:00Z", "2026-12-04T14:00+09:00"),
        ("2026-12-03T20:00-05:00", "2026-12-04T10:00+09:00"),
        ("14:00", "2026-12-03T14:00+09:00"),
        ("ｆｒｉ　１４：００", "2026-12-04T14:00+09:00"),
    ],
)
def test_parse_due(text: str, expected: str) -> None:
    assert parse_due(text, NOW_TOKYO) == expected


def test_parse_due_uses_the_zone_rules_of_the_day() -> None:
    winter = datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN)
    assert parse_due("fri 14:00", winter) == "2026-12-04T14:00+01:00"
    assert parse_due("2027-07-01 14:00", winter) == "2027-07-01T14:00+02:00"
    utc_now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert parse_due("fri 14:00", utc_now) == "2026-12-04T14:00+00:00"
    fixed = datetime(2026, 12, 3, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_due("2026-12-04T14:00Z", fixed) == "2026-12-04T09:00-05:00"


@pytest.mark.parametrize(
    "text", ["", "someday", "fri 25:00", "fri at 14:00", "2026-02-30", "now", "14:00 fri"]
)
def test_parse_due_refuses(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_due(text, NOW_TOKYO)
    message = assert_refused(error, text)
    assert message.startswith("invalid due date")
    assert "fri 14:00" in message


def test_parse_due_follows_the_date_order() -> None:
    assert parse_due("03/04/2027 14:00", NOW_TOKYO, "DMY") == "2027-04-03T14:00+09:00"
    assert parse_when("4/3 16:00", NOW_TOKYO, "MDY").isoformat() == "2026-04-03T16:00:00+09:00"


def test_parse_due_refuses_day_month_order() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_due("03/04/2025 14:00", NOW_TOKYO)
    assert assert_refused(error, "03/04/2025 14:00").startswith("ambiguous due date")


# --- due_date -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2026-12-04", TOKYO, date(2026, 12, 4)),
        ("2026-12-04", NEW_YORK, date(2026, 12, 4)),
        ("2026-12-04T14:00+09:00", TOKYO, date(2026, 12, 4)),
        ("2026-12-02T22:30+00:00", TOKYO, date(2026, 12, 3)),
        ("2026-12-02T22:30+00:00", ZoneInfo("UTC"), date(2026, 12, 2)),
        ("2026-12-03T08:00+09:00", NEW_YORK, date(2026, 12, 2)),
        ("2026-12-03T08:00+09:00", TOKYO, date(2026, 12, 3)),
        ("2026-12-02T22:30Z", TOKYO, date(2026, 12, 3)),
        ("2026-12-04T14:00", NEW_YORK, date(2026, 12, 4)),
    ],
)
def test_due_date(value: str, zone: ZoneInfo, expected: date) -> None:
    assert due_date(value, zone) == expected


def test_due_date_reads_what_parse_due_writes() -> None:
    for text, expected in [("fri", FRIDAY), ("fri 23:30", FRIDAY), ("2026-12-04T00:30", FRIDAY)]:
        assert due_date(parse_due(text, NOW_TOKYO), TOKYO) == expected


@pytest.mark.parametrize("value", ["", "someday", "2026-02-30", "2026-12-04T25:00+09:00"])
def test_due_date_refuses(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        due_date(value, TOKYO)
    assert "YYYY-MM-DD" in assert_refused(error, value)


# --- iso_now --------------------------------------------------------------------


def test_iso_now() -> None:
    moment = datetime(2026, 12, 3, 9, 0, 0, 987654, tzinfo=TOKYO)
    assert iso_now(moment) == "2026-12-03T09:00:00+09:00"
    assert iso_now(moment.astimezone(UTC)) == "2026-12-03T00:00:00+00:00"
    assert iso_now(datetime(2026, 7, 1, 8, 5, 7, tzinfo=BERLIN)) == "2026-07-01T08:05:07+02:00"


def test_iso_now_needs_an_aware_moment() -> None:
    with pytest.raises(ValueError, match="aware"):
        iso_now(datetime(2026, 12, 3, 9, 0))


def test_a_report_period_outside_the_range_says_so() -> None:
    from dealctl.analytics import period_bound

    with pytest.raises(InvalidInput, match=r"^--since '1000-01-01' is out of range: use a year"):
        period_bound("1000-01-01", THURSDAY, end=False, what="--since")


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2026-12-25", date(2026, 12, 25)),
        ("2026-12-25T10:00:00+09:00", None),  # a date is stored alone
        ("20261225", None),  # date.fromisoformat() would read it
        ("2026-W52-5", None),  # and this one too
        ("2026-13-01", None),
        ("2026-02-30", None),
        ("０２０２-12-25", None),  # other digits than ASCII
        (20261225, None),
        (None, None),
    ],
)
def test_a_stored_date_is_yyyy_mm_dd_and_the_sql_test_agrees(value: object, day: object) -> None:
    assert dates.stored_date(value) == day
    conn = sqlite3.connect(":memory:")
    [sql] = conn.execute(f"SELECT {dates.sql_day('?1')}", (value,)).fetchone()
    conn.close()
    assert sql == (None if value is None else int(day is not None))


def _starts_with_day_in_sql(value: object) -> object:
    conn = sqlite3.connect(":memory:")
    [(fast, slow)] = conn.execute(
        f"SELECT {dates.sql_starts_with_day('?1')}, {dates.sql_day('substr(?1, 1, 10)')}",
        (value,),
    ).fetchall()
    conn.close()
    assert fast == slow, value  # the cheaper test says what sql_day says of the first ten
    return fast


@pytest.mark.parametrize(
    ("value", "starts"),
    [
        ("2026-12-25T10:00:00+09:00", True),
        ("2026-12-25", True),
        ("2024-02-29T10:00:00+09:00", True),
        ("0001-01-01T00:00:00Z", True),
        ("9999-12-31T23:59:59+14:00", True),
        ("2026-12-25garbage", True),  # the day is what the reports count by
        ("2026-02-29T10:00:00+09:00", False),  # julianday() carries these to March
        ("2026-02-30T10:00:00+09:00", False),
        ("2026-04-31T10:00:00+09:00", False),
        ("2026-13-01T10:00:00+09:00", False),
        ("2026-00-10T10:00:00+09:00", False),
        ("2026-12-32T10:00:00+09:00", False),
        ("0000-01-01T10:00:00+09:00", False),
        ("-0001-01-01T10:00:00+09:00", False),
        ("2026/09/11 10:00", False),
        ("20261225T100000+0900", False),
        ("2026-W52-5T10:00", False),
        ("2026-1-25T10:00:00+09:00", False),
        (" 2026-12-25T10:00:00+09:00", False),
        ("２０２６-12-25T10:00:00+09:00", False),
        ("2461400.5", False),  # julianday() reads a number as a day
        ("now", False),
        ("10:00", False),
        ("garbage", False),
        ("", False),
        (20261225, False),
    ],
)
def test_a_moment_starts_with_a_stored_day_and_the_cheaper_sql_test_agrees(
    value: object, starts: bool
) -> None:
    day = dates.stored_date(value[:10]) if isinstance(value, str) else None
    assert (day is not None) is starts
    assert _starts_with_day_in_sql(value) == int(starts)


@given(
    st.one_of(
        st.text(max_size=30),
        st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]?[0-9:+\-]{0,14}\Z"),
        st.datetimes().map(lambda moment: moment.isoformat()),
    )
)
def test_the_cheaper_sql_test_of_a_stored_day_agrees_with_python_property(value: str) -> None:
    assert _starts_with_day_in_sql(value) == int(dates.stored_date(value[:10]) is not None)


def test_a_stored_day_is_the_date_a_moment_starts_with_or_a_damaged_value() -> None:
    assert dates.stored_day("2026-12-25T10:00:00+09:00", 5, "closed_at") == date(2026, 12, 25)
    for value in ("20261225T100000+0900", "2026-W52-5T10:00", "garbage"):
        with pytest.raises(DatabaseError) as raised:
            dates.stored_day(value, 5, "closed_at")
        assert str(raised.value) == (
            f"deal 5 has a damaged closed_at value {value!r} in the database;"
            " dealctl doctor says how to fix it"
        )
