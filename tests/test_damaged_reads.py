"""Damaged stored values that a command compared as text, and so passed over in silence:
`due` and a next action's date that sorts after every date or is in another ISO form, and
`log` and a damaged last contact. Each now stops the command with exit 5 and one line
naming the deal and the column, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Cli
from tests.fixtures.dbstate import full_dump
from tests.test_reliability import _doctor, _sql


def _damaged(value: str, field: str = "due", number: int = 40) -> str:
    return (
        f"dealctl: deal {number} has a damaged {field} value {value!r} in the database;"
        " dealctl doctor says how to fix it\n"
    )


@pytest.mark.parametrize("value", ["garbage", "未定", "Z2026-11-20"])
def test_due_stops_at_a_next_action_date_that_sorts_after_every_date(
    cli: Cli, db_path: Path, value: str
) -> None:
    """Such a value is in no window, so `due` never read it and left an overdue deal out."""
    cli("import", str(EXAMPLES / "book"))
    listed = cli("due", "-q")
    assert "40\n" in listed
    _sql(db_path, f"UPDATE deals SET next_due = '{value}' WHERE number = 40")
    before = full_dump(db_path)
    for args in (["due"], ["due", "--within", "30d"], ["due", "-q"], ["due", "-f", "json"]):
        assert cli(*args, code=5) == "", args
        assert cli.stderr == _damaged(value), args
    cli("due", "--owner", "田中")  # deal 40 is 佐藤's: not read
    assert full_dump(db_path) == before
    [row] = _doctor(cli)
    assert (row["number"], row["fix"].split(" --due")[0]) == (40, "dealctl edit 40")
    cli("edit", "40", "--due", "2026-11-20")
    assert cli("due", "-q") == listed


def _digest_numbers(cli: Cli) -> dict[str, list[int]]:
    sections = json.loads(cli("digest", "-f", "json"))["sections"]
    return {key: [deal["number"] for deal in deals] for key, deals in sections.items()}


@pytest.mark.parametrize("value", ["20261120", "2026-W47-5", "20261120T100000+09:00"])
def test_a_next_action_date_in_another_iso_form_stops_every_command_that_reads_it(
    cli: Cli, db_path: Path, value: str
) -> None:
    """Python reads 20261120 and week dates as dates, so `list` showed such a deal 13 days
    overdue while `due` and the digest's count, comparing the stored text, left it out.
    The stored form is YYYY-MM-DD: every command that reads the value now stops at it.
    (`due` reads the values that sort into its window, and those that start with no digit:
    these sort after its window.)"""
    cli("import", str(EXAMPLES / "book"))
    healthy = _digest_numbers(cli)
    _sql(db_path, f"UPDATE deals SET next_due = '{value}' WHERE number = 40")
    before = full_dump(db_path)
    for args in (["list"], ["show", "40"], ["digest"], ["next"], ["due", "--within", "400d"]):
        assert cli(*args, code=5) == "", args
        assert cli.stderr == _damaged(value), args
    assert full_dump(db_path) == before
    cli("edit", "40", "--due", "2026-11-20")
    assert _digest_numbers(cli) == healthy
    assert healthy["overdue"][0] == 40


@pytest.mark.parametrize("value", ["2026-13-01T10:00:00+09:00", "garbage"])
def test_log_stops_at_a_damaged_last_contact_instead_of_keeping_it(
    cli: Cli, db_path: Path, value: str
) -> None:
    """`log` compared the new contact with the stored one as text: a damaged value that
    sorts after it stayed, and the contact just logged was lost once doctor's fix was run."""
    cli("import", str(EXAMPLES / "book"))
    _sql(db_path, f"UPDATE deals SET last_contact_at = '{value}' WHERE number = 40")
    before = full_dump(db_path)
    assert cli("log", "40", "電話した", code=5) == ""
    assert cli.stderr == _damaged(value, "last_contact_at")
    assert full_dump(db_path) == before
    fixed = "2026-11-01T10:00:00+09:00"
    _sql(db_path, f"UPDATE deals SET last_contact_at = '{fixed}' WHERE number = 40")
    cli("log", "40", "電話した")
    [deal] = [d for d in json.loads(cli("list", "-f", "json")) if d["number"] == 40]
    assert deal["last_contact_at"] == "2026-12-03T09:00:00+09:00"


@pytest.mark.parametrize("value", ["2026/11/30", "20261130", "2026-13-01", "garbage"])
def test_a_damaged_expected_close_date_stops_the_reports_that_say_it_has_passed(
    cli: Cli, db_path: Path, value: str
) -> None:
    """Whether an open deal's expected close date has passed was a comparison of text: a
    damaged one that sorts after today left the deal out of the digest's "past expected
    close" in silence. Every report that says it reads the date as one now."""
    cli("import", str(EXAMPLES / "book"))
    healthy = _digest_numbers(cli)
    assert healthy["slipped"] == [29, 8, 23]
    _sql(db_path, f"UPDATE deals SET close_date = '{value}' WHERE number = 8")
    before = full_dump(db_path)
    for args in (["digest"], ["digest", "-f", "json"], ["stale"], ["next"], ["show", "8"]):
        assert cli(*args, code=5) == "", args
        assert cli.stderr == _damaged(value, "close_date", 8), args
    assert full_dump(db_path) == before
    cli("edit", "8", "--close", "2026-11-30")
    assert _digest_numbers(cli) == healthy
