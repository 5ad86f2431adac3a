"""`dealctl due` lists in one order however the due values were stored.

Due values are local dates or date-times with an offset. One stored with another offset than
the zone's (written in another zone, or imported) can fall on a local day before or after the
date it starts with. `due` streams its rows in SQLite's order of the stored text and merges
those in at their place: this book has one of each kind, next to rows that sort between them.
Today is Thu 2026-12-03 in Tokyo (+09:00).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Cli

# title: the stored due value, and the local day it falls on in Tokyo
BOOK = {
    "A": "2026-12-01",  # 2 days overdue
    "L": "2026-12-01T22:00:00+09:00",  # 2 days overdue, sorts after K in stored order
    "K": "2026-12-01T20:00:00-12:00",  # = 2026-12-02 17:00 in Tokyo: 1 day overdue
    "D": "2026-12-01T23:30:00-12:00",  # = 2026-12-02 20:30: 1 day overdue
    "F": "2026-12-02",  # 1 day overdue
    "J": "2026-12-03T02:00:00+14:00",  # = 2026-12-02 21:00: 1 day overdue, stored after B
    "B": "2026-12-03",  # today
    "I": "2026-12-03T10:00:00",  # no offset: read as local, today
    "C": "2026-12-04T01:00:00+14:00",  # = 2026-12-03 20:00: today
    "E": "2026-12-05T00:30:00+14:00",  # = 2026-12-04 19:30: due tomorrow
    "H": "2026-12-07T00:30:00+14:00",  # = 2026-12-06 19:30: due in 3 days
    "G": "2026-12-06T20:00:00-12:00",  # = 2026-12-07 17:00: due in 4 days
    "Z": "2026-12-20",  # far ahead
}
OVERDUE = {"A": 2, "L": 2, "K": 1, "D": 1, "F": 1, "J": 1, "B": 0, "I": 0, "C": 0}
OVERDUE |= {"E": -1, "H": -3, "G": -4, "Z": -17}


@pytest.fixture
def book(cli: Cli, db_path: Path) -> Path:
    # Added in an order unrelated to the due order, so numbers do not decide it.
    for title in sorted(BOOK, reverse=True):
        cli("add", title, "--next", "call", "--due", "2026-12-25", "-q")
    with sqlite3.connect(db_path) as conn:
        for title, value in BOOK.items():
            conn.execute("UPDATE deals SET next_due = ? WHERE title = ?", (value, title))
    conn.close()
    cli("add", "No action", "-q")
    return db_path


def listed(cli: Cli, *args: str) -> list[tuple[str, int]]:
    out = cli("due", *args, "--format", "jsonl")
    return [(row["title"], row["days_overdue"]) for row in map(json.loads, out.splitlines())]


def expected(titles: str) -> list[tuple[str, int]]:
    return [(title, OVERDUE[title]) for title in titles]


def test_due_merges_values_stored_with_another_offset_at_their_local_day(
    cli: Cli, book: Path
) -> None:
    assert listed(cli) == expected("ALKDFJBIC")
    assert listed(cli, "--within", "3d") == expected("ALKDFJBICEH")
    assert listed(cli, "--within", "4d") == expected("ALKDFJBICEHG")
    assert listed(cli, "--overdue") == expected("ALKDFJ")
    assert listed(cli, "--today") == expected("BIC")


def test_due_in_every_format_and_as_numbers_gives_the_same_order(cli: Cli, book: Path) -> None:
    numbers = _numbers(cli)
    order = [numbers[t] for t in "ALKDFJBIC"]
    assert cli("due", "-q").split() == [str(n) for n in order]
    tsv = cli("due", "--format", "tsv").splitlines()
    assert [line.split("\t")[0] for line in tsv[1:]] == [str(n) for n in order]
    rows = json.loads(cli("due", "--format", "json"))
    assert [row["number"] for row in rows] == order
    assert "no next action or no due date on 1 open deal" in cli.stderr


def _numbers(cli: Cli) -> dict[str, int]:
    rows = json.loads(cli("list", "--format", "json"))
    return {row["title"]: row["number"] for row in rows}


def _on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from dealctl import render

    monkeypatch.setattr(render.Output, "is_terminal", property(lambda self: True))
    monkeypatch.setenv("COLUMNS", "200")


def test_a_terminal_shows_a_page_and_counts_the_rest_in_sql(
    cli: Cli, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sheet = tmp_path / "more.csv"
    lines = ["title,next_action,next_due"] + [f"Today {n},call,2026-12-03" for n in range(55)]
    lines += [f"Nothing {n},," for n in range(11)]
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli("import", str(sheet))
    _on_a_terminal(monkeypatch)

    def page(*args: str) -> tuple[int, list[str]]:
        shown = cli("due", *args).splitlines()
        rows = [line for line in shown if "│" in line and "Title" not in line]
        return len(rows), [line for line in shown if "more — use --all" in line]

    # 9 of the book + 55 listed; 12 without a next action, on a page of 10.
    assert page() == (
        60,
        ["14 more — use --all to show every row", "2 more — use --all to show every row"],
    )
    # C's text says 12-04 and J's says 12-03, but both are listed by their local day.
    assert page("--today") == (
        60,
        ["8 more — use --all to show every row", "2 more — use --all to show every row"],
    )
    assert page("--overdue") == (16, ["2 more — use --all to show every row"])
    assert page("--all") == (64 + 12, [])


def test_a_damaged_due_value_stops_due_before_it_writes_anything(
    cli: Cli, book: Path, db_path: Path
) -> None:
    number = _numbers(cli)["I"]
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE deals SET next_due = '2026-11-31' WHERE title = 'I'")
    conn.close()
    for args in ((), ("--format", "json"), ("-q",), ("--today",)):
        assert cli("due", *args, code=5) == "", args
        assert cli.stderr == (
            f"dealctl: deal {number} has a damaged due value '2026-11-31' in the database;"
            " dealctl doctor says how to fix it\n"
        )


def test_tables_show_a_due_time_in_the_zone_whatever_offset_it_was_stored_with(
    cli: Cli, book: Path
) -> None:
    table = cli("due", "--format", "table")
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if "│" in line}
    assert "2026-12-03 20:00" in rows["C"]  # stored 2026-12-04T01:00:00+14:00
    assert "2026-12-02 21:00" in rows["J"]  # stored 2026-12-03T02:00:00+14:00
    assert "2026-12-03 10:00" in rows["I"]  # stored without an offset: as it is
    assert "2026-12-01 22:00" in rows["L"]  # stored in the zone's own offset
    number = _numbers(cli)["C"]
    assert "due 2026-12-03 20:00" in cli("show", str(number))


@pytest.mark.parametrize(
    "text", ["7dwdw", "7ddd", "", " ", "d", "1e3", "-1", "7x", "９", "9" * 5000]
)
def test_a_within_that_is_not_a_number_of_days_or_weeks_is_refused(cli: Cli, text: str) -> None:
    cli("due", "--within", text, code=2)
    assert cli.stderr.startswith("dealctl: invalid --within"), cli.stderr


@pytest.mark.parametrize(("text", "days"), [("0", 0), ("7", 7), ("7d", 7), ("2w", 14), (" 3D ", 3)])
def test_within_takes_days_or_weeks(text: str, days: int) -> None:
    from dealctl.analytics import parse_within

    assert parse_within(text) == days
