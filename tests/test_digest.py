"""`dealctl digest` and `dealctl calendar`: the cron job's morning message and the phone's calendar.

One hand-made book (below) is used throughout; each deal is there to land in exactly one
or two sections, or in none, at a known moment. Deals are added at known moments by
moving the injected clock, so "idle", "stale" and "waiting for a first response" are exact.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli

DEALCTL = str(Path(sys.executable).with_name("dealctl"))
ESC = b"\x1b"
BEFORE = "2026-11-25T10:00:00+09:00"  # when most deals were added and last followed up
TITLES = {
    "overdue": "Overdue",
    "today": "Due today",
    "upcoming": "Due in the next 7 days",
    "first_response": "No first response within 24 h",
    "no_next_action": "No next action",
    "stale": "Stale",
    "slipped": "Past expected close",
}


CONFIG = 'timezone = "Asia/Tokyo"\nowner = "佐藤"\n'


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digest's scenario, built once: 佐藤's book in Tokyo, today Thu 2026-12-03."""
    folder = tmp_path_factory.mktemp("digest")
    (folder / "config.toml").write_text(CONFIG, encoding="utf-8")
    base = {"DEALCTL_DB": str(folder / "deals.db"), "DEALCTL_CONFIG": str(folder / "config.toml")}
    cli = Cli()

    def add(at: str, *args: str, log: bool = True) -> None:
        env = {**base, "DEALCTL_NOW": at, "TZ": "UTC"}
        number = cli("add", *args, "-q", env=env).strip()
        if log:
            cli("log", number, "met", env=env)

    add(BEFORE, "Overdue five", "--amount", "100万", "--next", "call", "--due", "2026-11-28")
    add(BEFORE, "Overdue one", "--next", "send quote", "--due", "2026-12-02")
    add(BEFORE, "Due today", "--owner", "田中", "--next", "demo", "--due", "2026-12-03")
    add(BEFORE, "Due tonight", "--next", "call", "--due", "2026-12-03 23:30")
    add(BEFORE, "After midnight", "--next", "mail", "--due", "2026-12-04 00:30")
    add(BEFORE, "Late yesterday", "--next", "check", "--due", "2026-12-02 23:30")
    add(BEFORE, "In ten days", "--next", "visit", "--due", "2026-12-13")
    add(BEFORE, "Nothing planned")
    add("2026-11-01T10:00:00+09:00", "Never touched", "--next", "x", "--due", "+52d", log=False)
    add(BEFORE, "Slipped", "--close", "2026-11-30", "--next", "y", "--due", "2026-12-20")
    add(
        "2026-12-02T06:00:00+09:00", "New lead", "--pipeline", "b2c",
        "--next", "call", "--due", "2026-12-20", log=False,
    )  # fmt: skip
    add(BEFORE, "Won already", "--next", "z", "--due", "2026-11-20")
    cli("close", "12", env={**base, "DEALCTL_NOW": BEFORE})
    add(BEFORE, "Suzuki's", "--owner", "鈴木", "--next", "visit", "--due", "2026-11-30")
    add(BEFORE, "In a week", "--next", "w", "--due", "2026-12-10")
    return folder


@pytest.fixture
def book(built: Path, isolated: Path) -> Path:
    """A private copy of the scenario in this test's folder (its DEALCTL_DB and config)."""
    for source in built.iterdir():
        shutil.copy2(source, isolated / source.name)
    return isolated


def _sections(text: str) -> dict[str, list[int]]:
    """Section title -> deal numbers, read back from a text digest."""
    found: dict[str, list[int]] = {}
    title = ""
    for line in text.splitlines()[4:]:
        if line.startswith("  #"):
            found[title].append(int(line[3:].split()[0]))
        elif line:
            match = re.fullmatch(r"(.+) \((\d+)\)", line)
            assert match, line
            title = match[1]
            found[title] = []
    return found


# --- the cron job: installed command, minimal environment, server clock in UTC -----------------

AT_0700 = {
    "overdue": [1, 13, 2, 6],
    "today": [3, 4],
    "upcoming": [5, 14],
    "first_response": [9, 11],
    "no_next_action": [8],
    "stale": [9],
    "slipped": [10],
}


def _cron(book: Path, now: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`env -i` with only what a crontab line would set; the machine's zone is UTC."""
    env = [
        f"PATH={Path(DEALCTL).parent}:/usr/bin:/bin",
        f"HOME={book}",
        f"DEALCTL_DB={book / 'deals.db'}",
        f"DEALCTL_CONFIG={book / 'config.toml'}",
        f"DEALCTL_NOW={now}",
        "TZ=UTC",
    ]
    return subprocess.run(
        ["env", "-i", *env, "dealctl", "digest", *args],
        capture_output=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("now", "first_response"),
    [
        # 07:00 in Tokyo is still the previous day in UTC; the lead added at 06:00
        # yesterday has waited 25 hours.
        ("2026-12-02T22:00:00Z", [9, 11]),
        # 00:05 in Tokyo: the new lead has waited only 18 hours.
        ("2026-12-02T15:05:00Z", [9]),
        # 23:55 in Tokyo is the same Tokyo day; 23:30 today is still due today, not overdue.
        ("2026-12-03T14:55:00Z", [9, 11]),
    ],
)
def test_cron_digest_shows_the_tokyo_day_on_a_utc_server(
    book: Path, now: str, first_response: list[int]
) -> None:
    expected = {TITLES[k]: v for k, v in AT_0700.items()}
    expected[TITLES["first_response"]] = first_response
    result = _cron(book, now)
    assert result.returncode == 0, result.stderr
    assert ESC not in result.stdout + result.stderr
    assert result.stderr == b""
    text = result.stdout.decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "Digest for Thu 2026-12-03 (Asia/Tokyo)"
    n = len(first_response)
    assert lines[1] == (
        f"4 overdue, 2 due today, 2 due in the next 7 days, {n} waiting for a first response,"
        " 1 without a next action, 1 stale, 1 past expected close"
    )
    assert lines[2] == "Open pipeline: 13 deals, weighted 100,000 JPY"
    assert _sections(text) == expected
    assert "  #1 Overdue five · アプローチ · 1,000,000 JPY · next: call · 5 days overdue" in text
    assert "  #4 Due tonight · アプローチ · next: call · due today at 23:30" in text
    assert "  #5 After midnight · アプローチ · next: mail · due Fri 2026-12-04 00:30" in text


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((), 0),
        (("--fail-on", "overdue"), 1),
        (("--fail-on", "due"), 1),
        (("--fail-on", "any"), 1),
        (("--owner", "田中", "--fail-on", "overdue"), 0),  # only a deal due today
        (("--owner", "田中", "--fail-on", "due"), 1),
        (("--owner", "nobody", "--fail-on", "any"), 3),  # a typo is not a clear day
        (("--fail-on", "sometimes"), 2),
    ],
)
def test_cron_exit_status_follows_fail_on(book: Path, args: tuple[str, ...], code: int) -> None:
    result = _cron(book, "2026-12-02T22:00:00Z", *args)
    assert result.returncode == code, result.stderr
    assert ESC not in result.stdout + result.stderr
    if code == 2:
        assert result.stdout == b""
        assert result.stderr == (
            b"dealctl: unknown --fail-on 'sometimes': use one of overdue, due, any\n"
        )
    elif code == 3:
        assert result.stdout == b""
        assert result.stderr.startswith(b"dealctl: no deal has owner 'nobody' (owners: ")
    else:
        assert result.stdout.startswith(b"Digest for Thu 2026-12-03 (Asia/Tokyo)")


# --- in-process: formats and options -----------------------------------------------------------


def test_owner_digest_and_an_empty_day(cli: Cli, book: Path) -> None:
    assert cli("digest", "--owner", "田中") == (
        "Digest for Thu 2026-12-03 (Asia/Tokyo), owner 田中\n"
        "1 due today\n"
        "Open pipeline: 1 deal, weighted 0 JPY\n"
        "\n"
        "Due today (1)\n"
        "  #3 Due today · アプローチ · next: demo · due today\n"
    )
    number = cli("add", "Old lead", "--owner", "山本 ", "-q").strip()  # spaces are trimmed
    cli("lose", number, "--reason", "price")
    assert cli("digest", "--owner", " 山本", "--fail-on", "any") == (
        "Digest for Thu 2026-12-03 (Asia/Tokyo), owner 山本\n"
        "Nothing due, overdue or waiting: a clear day.\n"
        "Open pipeline: no open deals\n"
    )
    cli("digest", "--owner", "山元", code=3)
    assert cli.stderr.startswith("dealctl: no deal has owner '山元' (owners: ")


def test_markdown_digest(cli: Cli, book: Path) -> None:
    cli("edit", "13", "--title", "Suzuki *urgent* [A]")
    assert cli("digest", "--owner", "鈴木", "--format", "markdown") == (
        "# Digest for Thu 2026-12-03 (Asia/Tokyo), owner 鈴木\n"
        "\n"
        "1 overdue  \n"
        "Open pipeline: 1 deal, weighted 0 JPY\n"
        "\n"
        "## Overdue (1)\n"
        "\n"
        r"- #13 Suzuki \*urgent\* \[A\] · アプローチ · next: visit"
        " · 3 days overdue (due Mon 2026-11-30)\n"
    )


def test_json_digest_has_every_section_and_the_documented_keys(cli: Cli, book: Path) -> None:
    document = json.loads(cli("digest", "--format", "json", "--fail-on", "overdue", code=1))
    assert list(document) == [
        "date",
        "generated_at",
        "timezone",
        "owner",
        "days",
        "first_response_hours",
        "open_deals",
        "weighted_pipeline",
        "counts",
        "sections",
    ]
    assert document["date"] == "2026-12-03"
    assert document["generated_at"] == "2026-12-03T09:00:00+09:00"
    assert (document["timezone"], document["owner"], document["days"]) == ("Asia/Tokyo", None, 7)
    assert (document["open_deals"], document["weighted_pipeline"]) == (13, {"JPY": 100000})
    sections = document["sections"]
    assert list(sections)[:7] == list(TITLES)
    # 09:00 Tokyo: the same as the cron job at 07:00.
    assert {k: [d["number"] for d in v] for k, v in sections.items() if v} == AT_0700
    assert document["counts"] == {k: len(v) for k, v in sections.items()}
    from dealctl.digest import DEAL_KEYS

    for deals in sections.values():
        for deal in deals:
            assert tuple(deal) == DEAL_KEYS
    first = sections["overdue"][0]
    assert (first["days_overdue"], first["idle_days"], first["amount"]) == (5, 8, 1000000)
    assert first["note"] == "5 days overdue (due Sat 2026-11-28)"
    assert sections["stale"][0]["note"] == "idle 32 days (stage limit 14)"
    assert sections["first_response"][1]["note"] == "added 27 hours ago, nothing logged since"
    assert sections["slipped"][0]["note"] == "expected close 2026-11-30, 3 days ago"


def test_today_and_days_make_runs_reproducible(cli: Cli, book: Path) -> None:
    sections = json.loads(cli("digest", "-f", "json", "--today", "2026-11-29", "--days", "1"))
    listed = {k: [d["number"] for d in v] for k, v in sections["sections"].items() if v}
    assert sections["date"] == "2026-11-29"
    assert sections["generated_at"] == "2026-11-29T09:00:00+09:00"
    assert listed["overdue"] == [1]
    assert listed["upcoming"] == [13]
    assert "today" not in listed
    later = json.loads(cli("digest", "-f", "json", "--today", "tomorrow", "--days", "10"))
    assert later["date"] == "2026-12-04"
    assert [d["number"] for d in later["sections"]["today"]] == [5]
    assert [d["number"] for d in later["sections"]["upcoming"]] == [14, 7]
    assert "Due in the next" not in cli("digest", "--days", "0")
    assert "Due in the next day (1)" in cli("digest", "--days", "1")
    cli("digest", "--today", "03/12/2026", code=2)
    assert cli.stderr.startswith("dealctl: ambiguous --today date '03/12/2026'")


def test_settings_come_from_the_config(cli: Cli, book: Path) -> None:
    cli("config", "set", "digest.days", "10")
    cli("config", "set", "sla.first_response_hours", "0")
    text = cli("digest")
    assert "Due in the next 10 days (3)" in text
    assert "first response" not in text
    cli("config", "set", "sla.first_response_hours", "30")
    assert "No first response within 30 h (1)\n  #9 " in cli("digest")
    config = book / "config.toml"
    config.write_text('[digest]\ndays = "a week"\n', encoding="utf-8")
    cli("digest", code=1)
    assert cli.stderr == (
        f"dealctl: config {config}: digest.days must be a whole number of days from 0 to 3650,"
        " not 'a week'\n"
    )


def test_bad_format_is_refused_before_reading(cli: Cli, book: Path) -> None:
    cli("digest", "--format", "html", code=2)
    assert cli.stderr == "dealctl: unknown format 'html': use one of text, markdown, json\n"


def test_styling_only_when_asked_or_on_a_terminal(cli: Cli, book: Path) -> None:
    plain = cli("digest")
    assert "\x1b" not in plain and "─" not in plain
    coloured = cli("--color", "always", "digest")
    assert "\x1b[1mOverdue (4)\x1b[0m" in coloured
    assert "─" not in coloured  # box drawing only on a terminal
    for fmt in ("markdown", "json"):
        assert "\x1b" not in cli("--color", "always", "digest", "--format", fmt)


def test_digest_in_a_pipe_imports_neither_rich_nor_icalendar(book: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dealctl", "digest"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 0
    modules = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "dealctl" in modules
    assert not modules & {"rich", "icalendar", "sqlite_utils", "dateutil"}


# --- calendar ---------------------------------------------------------------------------------


def _events(data: bytes) -> dict[str, object]:
    from icalendar import Calendar

    calendar = Calendar.from_ical(data)
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def _deal_ids(cli: Cli) -> dict[int, str]:
    rows = json.loads(cli("list", "--status", "all", "--format", "json"))
    return {row["number"]: row["id"] for row in rows}


def test_calendar_is_valid_icalendar_with_stable_ids(cli: Cli, book: Path) -> None:
    from icalendar import Calendar

    data = _calendar(cli)
    assert data.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")
    calendar = Calendar.from_ical(data)
    assert str(calendar["prodid"]) == "-//dealctl//dealctl 0.1.0//EN"
    ids = _deal_ids(cli)
    events = _events(data)
    # every open deal with a dated next action, and no other (12 is won, 8 has none)
    assert set(events) == {f"{ids[n]}@dealctl" for n in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 14)}
    today = events[f"{ids[3]}@dealctl"]
    assert str(today["summary"]) == "demo — Due today #3"
    assert today.decoded("dtstart") == date(2026, 12, 3)
    assert today.decoded("dtend") == date(2026, 12, 4)
    assert str(today["transp"]) == "TRANSPARENT"
    timed = events[f"{ids[5]}@dealctl"]
    start = timed.decoded("dtstart")
    assert isinstance(start, datetime)
    assert start == datetime.fromisoformat("2026-12-04T00:30+09:00")
    assert start.utcoffset() == timedelta(0)
    assert b"DTSTART:20261203T153000Z" in data
    assert timed.decoded("dtend") - start == timedelta(minutes=30)
    assert timed.decoded("dtstamp") == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert "Deal 5: After midnight\nStage: アプローチ" in str(timed["description"])


def _calendar(cli: Cli) -> bytes:
    from dealctl.cli import app

    result = cli.runner.invoke(app, ["calendar"], catch_exceptions=False)
    assert result.exit_code == 0
    return result.stdout_bytes


def test_reimporting_updates_events_instead_of_adding_them(cli: Cli, book: Path) -> None:
    ids = _deal_ids(cli)
    uid = f"{ids[2]}@dealctl"
    before = _events(_calendar(cli))
    cli("edit", "2", "--due", "2026-12-07 10:00")
    cli("close", "1")
    after = _events(_calendar(cli))
    assert set(after) == set(before) - {f"{ids[1]}@dealctl"}
    moved = after[uid]
    assert moved.decoded("dtstart") == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    assert int(moved["sequence"]) == int(before[uid]["sequence"]) + 1
    assert moved.decoded("dtstamp") == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    assert _calendar(cli) == _calendar(cli)  # the same book gives the same file


def test_calendar_for_one_owner_to_a_private_file(cli: Cli, book: Path) -> None:
    target = book / "next.ics"
    assert cli("calendar", "--owner", "鈴木", "--output", str(target)) == ""
    assert cli.stderr == f"dealctl: wrote 1 next actions to {target}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    events = list(_events(target.read_bytes()).values())
    assert [str(e["summary"]) for e in events] == ["visit — Suzuki's #13"]


def test_decision_maker_and_revisit_sections_come_from_their_reports(
    cli: Cli, book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dealctl import analytics, stakeholders
    from dealctl.deals import DEAL_VIEW

    cli("lose", "7", "--reason", "price")

    def rows(session: Any, number: int) -> list[dict[str, Any]]:
        found = session.store.query(DEAL_VIEW + " AND d.number = ?", (number,))
        return [analytics.deal_row(r, session.today, session.zone) for r in found]

    def revisit(session: Any, owner: str | None = None) -> list[dict[str, Any]]:
        extra = {"lost_reason_name": "価格", "lost_on": "2026-12-03", "revisit_on": "2027-06-03"}
        return [{**row, **extra} for row in rows(session, 7)]

    monkeypatch.setattr(
        stakeholders, "missing_decision_maker", lambda session, owner=None: rows(session, 2)
    )
    monkeypatch.setattr(analytics, "revisit", revisit, raising=False)
    text = cli("digest")
    assert text.endswith(
        "\n\nNo decision maker (1)\n"
        "  #2 Overdue one · アプローチ · next: send quote"
        " · no decision maker among the deal's contacts\n"
        "\nLost deals to revisit (1)\n"
        "  #7 In ten days · アプローチ · lost 2026-12-03 (価格), to revisit since 2027-06-03\n"
    )
    assert ", 1 without a decision maker, 1 lost to revisit\n" in text
    document = json.loads(cli("digest", "--format", "json"))
    assert list(document["sections"])[-2:] == ["no_decision_maker", "revisit"]
    assert document["sections"]["revisit"][0]["idle_days"] is None
    assert document["sections"]["revisit"][0]["status"] == "lost"


def test_a_deal_past_the_proposal_without_a_decision_maker_is_listed(cli: Cli, book: Path) -> None:
    cli("advance", "2", "proposal")
    assert "\nNo decision maker (1)\n  #2 Overdue one · 提案 · next: send quote · no decision" in (
        cli("digest")
    )
    cli("contact", "add", "山田太郎", "-e", "yamada@example.jp")
    cli("stakeholder", "add", "2", "山田太郎", "--role", "decision-maker")
    digest = json.loads(cli("digest", "--format", "json"))
    assert digest["sections"]["no_decision_maker"] == []
    assert "No decision maker" not in cli("digest")
