"""The command line as a whole: help, README coverage, due warnings, colour choice."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer

from dealctl.cli import app
from tests.conftest import Cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    names = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        names.extend([f"{name} {sub}" for sub in subcommands] if subcommands else [name])
    return names


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help_and_is_in_the_readme(cli: Cli, command: str) -> None:
    text = cli(*command.split(), "-h")
    assert f"Usage: dealctl {command}" in " ".join(text.split())
    assert "Example: dealctl" in text or command in ("win", "ls")
    assert re.search(rf"dealctl (\S+ )?{re.escape(command)}\b", README), command


def test_due_warns_about_deals_without_next_action(cli: Cli) -> None:
    cli("add", "A", "--next", "call", "--due", "today")
    cli("add", "B")
    cli("add", "C", "--next", "think about it")
    assert cli("due", "--format", "csv").splitlines()[1].startswith("1,")
    assert cli.stderr == "dealctl: warning: no next action or no due date on 2 open deals: 2, 3\n"
    table = cli("due", "--format", "table")
    assert "No next action or no due date (2)" in table and "think about it" not in table


def test_colour_is_explicit_or_absent(cli: Cli) -> None:
    cli("add", "Renewal [2025]", "--amount", "1000")
    assert "\x1b" not in cli("list", "--format", "table")
    coloured = cli("--color", "always", "list", "--format", "table")
    assert "\x1b[" in coloured
    assert "Renewal [2025]" in coloured  # user text is never read as markup
    cli("--color", "sometimes", "list", code=2)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("show", "99999999999999999999999"), 3, "no deal 99999999999999999999999"),
        (("add", "esc\x1b[31mred"), 2, "the title contains a control character: remove it"),
        (("list", "--bogus"), 2, "No such option: --bogus (see dealctl list -h)"),
        (("add", "Y", "--next", "", "--due", "tomorrow"), 2, "a due date needs a next action"),
        (("config", "set", "currency", "yen!"), 2, "invalid currency"),
        (("config", "set", "date_order", "foo"), 2, "invalid date_order 'foo'"),
        (("config", "set", "bogus", "1"), 2, "unknown config key 'bogus'"),
    ],
)
def test_reviewed_bad_inputs_get_one_line(
    cli: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    cli("add", "existing")
    cli(*args, code=code)
    assert cli.stderr.startswith(f"dealctl: {message}")
    assert cli.stderr.count("\n") == 1


def test_config_set_normalises_currency(cli: Cli) -> None:
    cli("config", "set", "currency", "usd")
    assert cli("config", "get", "currency") == "USD\n"


def test_a_read_never_turns_a_foreign_file_into_a_database(cli: Cli, isolated: Path) -> None:
    empty = isolated / "empty.db"
    empty.write_bytes(b"")
    cli("--db", str(empty), "list", code=5)
    assert cli.stderr == f"dealctl: {empty} is not a dealctl database\n"
    assert empty.read_bytes() == b""


def test_timeline_shows_edits(cli: Cli) -> None:
    cli("add", "A", "--amount", "100万")
    cli("edit", "1", "--amount", "150万")
    timeline = cli("show", "1")
    assert "edit      amount: 1000000 → 1500000" in timeline


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--bogus",), "No such option: --bogus (see dealctl -h)"),
        (("nope",), "No such command 'nope'."),
        (("--color", "bad", "list"), "Invalid value for --color: use one of auto, always, never"),
    ],
)
def test_usage_errors_before_the_command_are_one_line(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    cli(*args, code=2)
    assert cli.stderr.startswith(f"dealctl: {message}")
    assert cli.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ("add", "ok", "-a", "x\x01y"),
        ("add", "ok", "-t", "p\x02q"),
        ("add", "ok", "--contact", "c\x03d"),
        ("lose", "1", "--reason", "price", "--note", "n\x04o"),
    ],
)
def test_control_characters_are_refused_everywhere(cli: Cli, args: tuple[str, ...]) -> None:
    cli("add", "existing")
    before = cli("export")
    cli(*args, code=2)
    assert "control character" in cli.stderr
    assert cli("export") == before


def test_advancing_into_the_won_stage_closes_today(cli: Cli) -> None:
    cli("add", "A", "--close", "2027-01-29", "--stage", "negotiation")
    cli("advance", "1", "--next", "sign", code=2)
    assert cli.stderr == (
        "dealctl: advancing deal 1 to contract wins it, and a won deal has no next action:"
        " leave out --next and --due\n"
    )
    assert cli("advance", "1") == "deal 1 → contract (契約) (won)\n"
    card = cli("show", "1", "--format", "json")
    assert '"status": "won"' in card and '"close_date": "2026-12-03"' in card


def test_a_deal_is_not_won_before_its_last_stage_change(cli: Cli) -> None:
    cli("add", "A")
    cli("close", "1", "--date", "2026-12-02", code=2)
    assert cli.stderr == (
        "dealctl: close date '2026-12-02' is before deal 1's last stage change (2026-12-03):"
        " its history would run backwards\n"
    )
    cli("close", "1", "--date", "today")


def _at(cli: Cli, monkeypatch: pytest.MonkeyPatch, moment: str, *args: str, code: int = 0) -> str:
    """``dealctl ARGS`` run at ``moment`` (the injected clock stays there)."""
    monkeypatch.setenv("DEALCTL_NOW", moment)
    return cli(*args, code=code)


def test_a_win_dated_the_day_of_the_last_move_comes_after_that_move(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    _at(cli, monkeypatch, "2026-12-01T09:00:00+09:00", "add", "A")
    _at(cli, monkeypatch, "2026-12-05T15:00:00+09:00", "advance", "1")
    _at(cli, monkeypatch, "2026-12-10T09:00:00+09:00", "close", "1", "--date", "2026-12-05")
    moves = [
        json.loads(line)
        for line in cli("export", "stage-changes", "--format", "jsonl").splitlines()
    ]
    assert [(m["to_status"], m["at"]) for m in moves] == [
        ("open", "2026-12-01T09:00:00+09:00"),
        ("open", "2026-12-05T15:00:00+09:00"),
        ("won", "2026-12-05T15:00:00+09:00"),  # not noon, three hours before the move
    ]
    cli("add", "B")  # 12-10 09:00
    _at(cli, monkeypatch, "2026-12-12T09:00:00+09:00", "close", "2", "--date", "2026-12-11")
    assert json.loads(cli("show", "2", "--format", "json"))["closed_at"] == (
        "2026-12-11T12:00:00+09:00"
    )


def test_a_move_taken_back_by_undo_does_not_hold_back_a_close_date(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(cli, monkeypatch, "2026-12-01T09:00:00+09:00", "add", "A")
    _at(cli, monkeypatch, "2026-12-10T10:00:00+09:00", "advance", "1")
    cli("undo")
    cli("close", "1", "--date", "2026-11-30", code=2)  # before it was added
    cli("close", "1", "--date", "2026-12-08")


def test_a_foreign_sqlite_file_is_never_written(cli: Cli, isolated: Path) -> None:
    import sqlite3

    other = isolated / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x)")
    before = other.read_bytes()
    cli("--db", str(other), "add", "x", code=5)
    assert cli.stderr == f"dealctl: {other} is not a dealctl database\n"
    assert other.read_bytes() == before


def test_a_global_option_after_the_command_says_where_it_goes(cli: Cli) -> None:
    cli("add", "A")
    cli("list", "--db", "other.db", code=2)
    assert cli.stderr == (
        "dealctl: --db is a global option: give it before the command (dealctl --db … list)\n"
    )
    cli("account", "list", "--color", "never", code=2)
    assert "give it before the command (dealctl --color … account list)" in cli.stderr


def test_due_names_at_most_20_deals_without_a_next_action(cli: Cli) -> None:
    for n in range(25):
        cli("add", f"D{n}")
    cli("due")
    assert cli.stderr == (
        "dealctl: warning: no next action or no due date on 25 open deals: "
        + ", ".join(str(n) for n in range(1, 21))
        + " and 5 more (dealctl stale)\n"
    )


def test_a_damaged_stored_due_value_is_a_database_problem_naming_the_deal(
    cli: Cli, db_path: Path
) -> None:
    import sqlite3

    cli("add", "A", "--next", "call", "--due", "today")
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE deals SET next_due = 'garbage' WHERE number = 1")
    conn.close()
    message = (
        "dealctl: deal 1 has a damaged due value 'garbage' in the database;"
        " dealctl doctor says how to fix it\n"
    )
    for command in (("list",), ("show", "1"), ("digest",)):
        cli(*command, code=5)
        assert cli.stderr == message, command


def test_list_refuses_an_owner_no_deal_has_like_the_reports(cli: Cli) -> None:
    cli("add", "A", "--owner", "佐藤")
    cli("list", "--owner", "佐籐", code=3)
    assert cli.stderr == "dealctl: no deal has owner '佐籐' (owners: 佐藤)\n"
    assert cli("list", "--owner", " 佐藤 ", "-q") == "1\n"


def test_reopening_a_won_deal_brings_back_its_expected_close_date(cli: Cli) -> None:
    cli("add", "A", "--close", "2027-01-29")
    cli("add", "B")  # no expected close date: none comes back
    cli("close", "1")
    cli("close", "2")
    closed = json.loads(cli("list", "--status", "all", "-f", "json"))
    assert [d["close_date"] for d in closed] == ["2026-12-03", "2026-12-03"]
    cli("reopen", "1")
    cli("reopen", "2")
    reopened = json.loads(cli("list", "-f", "json"))
    assert [(d["status"], d["close_date"]) for d in reopened] == [
        ("open", "2027-01-29"),
        ("open", None),
    ]
    cli("undo")
    cli("undo")
    assert [d["close_date"] for d in json.loads(cli("list", "--status", "all", "-f", "json"))] == [
        "2026-12-03",
        "2026-12-03",
    ]


def test_ctrl_c_after_the_commit_says_the_change_was_saved(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dealctl.session import Session

    cli("add", "A")
    close = Session.close

    def interrupted(self: Session) -> None:
        close(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(Session, "close", interrupted)
    cli("add", "B", code=130)
    assert cli.stderr == "dealctl: interrupted; the change was saved (dealctl history)\n"
    monkeypatch.setattr(Session, "close", close)
    assert [line.split("\t")[2] for line in cli("list").splitlines()[1:]] == ["A", "B"]
