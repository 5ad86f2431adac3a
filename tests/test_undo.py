"""`dealctl undo`: every write command taken back exactly, repeatable, listed, redoable."""

from __future__ import annotations

import getpass
import json
import os
import pty
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dealctl.session import open_session
from dealctl.storage import actor, new_id
from tests.conftest import EXAMPLES, Cli, read_until_closed, set_clock
from tests.fixtures.dbstate import live_state, moved_at_astray


@pytest.fixture
def book(cli: Cli) -> Cli:
    """Two deals with some history, on top of which each command is tried."""
    cli("add", "Alpha", "-a", "Acme", "--amount", "100万", "--next", "call", "--due", "fri")
    cli("add", "Beta", "-a", "Beta KK", "--contact", "b@example.com", "--stage", "proposal")
    cli("log", "2", "sent the quote", "--kind", "email")
    return cli


WRITES = [
    ("add", "Gamma", "-a", "NewCo", "--contact", "g@example.com", "--amount", "5", "-t", "x"),
    ("edit", "1", "--amount", "200万", "--close", "2026-12-31", "-a", "Other Co", "--tag", "hot"),
    ("edit", "1", "--next", "", "--notes", "n"),
    ("edit", "1", "--stage", "negotiation"),
    ("advance", "1", "--next", "demo", "--due", "mon"),
    ("advance", "2", "approach"),
    ("lose", "1", "--reason", "price", "--note", "too dear"),
    ("close", "2", "--amount", "90万"),
    ("win", "1"),
    ("log", "1", "called", "--kind", "call", "--next", "send deck", "--due", "+2d"),
    ("log", "2", "met", "--done"),
    ("import", str(EXAMPLES / "book")),
]


@pytest.mark.parametrize("args", WRITES, ids=lambda a: " ".join(a[:2]))
def test_undo_restores_the_state_before_and_redo_the_state_after(
    book: Cli, db_path: Path, args: tuple[str, ...]
) -> None:
    before = live_state(db_path)
    book(*args)
    after = live_state(db_path)
    assert after != before
    out = book("undo")
    assert out.startswith(f"undid {args[0]} ")
    assert live_state(db_path) == before
    assert book("undo", "--redo").startswith(f"redid {args[0]} ")
    assert live_state(db_path) == after
    book("undo")
    assert live_state(db_path) == before


def test_reopen_is_undone(book: Cli, db_path: Path) -> None:
    book("lose", "1", "--reason", "timing")
    before = live_state(db_path)
    book("reopen", "1", "--stage", "hearing")
    book("undo")
    assert live_state(db_path) == before
    assert _show(book, "1")["status"] == "lost"


def test_undoing_an_advance_gives_back_the_idle_days(
    book: Cli, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle days count from the last stage change (deals.moved_at): undo takes the move
    back, and the days since the move before it count again; redo brings the move back."""

    def idle() -> dict[str, object]:
        rows = json.loads(book("pipeline", "--format", "json"))
        return {r["stage"]: r["avg_idle_days"] for r in rows if r["count"]}

    set_clock(monkeypatch, "2026-12-10T09:00:00+09:00")
    book("advance", "1")  # approach -> hearing, a week after it was added
    set_clock(monkeypatch, "2026-12-12T09:00:00+09:00")
    before = idle()
    assert before == {"hearing": 2.0, "proposal": 9.0}
    book("advance", "1")
    assert idle() == {"proposal": 4.5}  # deal 1 idle 0 days, deal 2 idle 9 days
    book("undo")
    assert idle() == before  # deal 1 is 2 days idle again, not 0 nor 9 (its creation)
    book("undo", "--redo")
    assert idle() == {"proposal": 4.5}
    book("undo")
    book("undo")  # the first advance too: idle since creation
    assert idle() == {"approach": 9.0, "proposal": 9.0}
    assert moved_at_astray(db_path) == []


def _show(cli: Cli, number: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(cli("show", number, "--format", "json"))
    return result


def test_undo_is_repeatable_back_to_an_empty_book(book: Cli, db_path: Path) -> None:
    empty_deals = {"deals": [], "accounts": [], "contacts": [], "activities": []}
    book("undo")
    book("undo")
    assert book("undo") == (
        "undid add account=Acme amount=100万 next_action=call due=fri title=Alpha"
        " (2026-12-03 09:00): 3 records removed, 0 changes reverted\n"
    )
    state = live_state(db_path)
    assert {k: state[k] for k in empty_deals} == empty_deals
    assert state["stage_changes"] == []
    book("undo", code=1)
    assert book.stderr == "dealctl: nothing to undo\n"


def test_list_shows_what_would_be_undone_next_first(book: Cli) -> None:
    book("edit", "1", "--amount", "120万")
    rows = json.loads(book("undo", "--list", "--format", "json"))
    assert [(r["step"], r["command"], r["args"], r["created"], r["changed"]) for r in rows] == [
        (1, "edit", "amount=120万 deal=1", 0, 1),
        (2, "log", "kind=email deal=2 text=sent the quote", 1, 1),
        (3, "add", "account=Beta KK contact=b@example.com stage=proposal title=Beta", 4, 0),
        (4, "add", "account=Acme amount=100万 next_action=call due=fri title=Alpha", 3, 0),
    ]
    assert list(rows[0]) == ["step", "id", "at", "command", "args", "created", "changed", "by"]
    book("undo")
    tsv = book("undo", "--list", "--format", "tsv").splitlines()
    assert tsv[0] == "step\tid\tat\tcommand\targs\tcreated\tchanged\tby"
    assert tsv[1].split("\t")[3] == "log"
    redo = json.loads(book("undo", "--redo", "--list", "--format", "json"))
    assert [(r["command"], r["args"]) for r in redo] == [("edit", "amount=120万 deal=1")]
    table = book("undo", "--list", "--format", "table")
    assert "log kind=email deal=2 text=sent the quote" in table


def test_undo_walks_back_past_undone_commands_and_redo_walks_forward(
    book: Cli, db_path: Path
) -> None:
    states = [live_state(db_path)]
    for amount in ("1", "2", "3"):
        book("edit", "1", "--amount", amount)
        states.append(live_state(db_path))
    book("undo")
    book("undo")
    assert live_state(db_path) == states[1]
    book("undo", "--redo")
    assert live_state(db_path) == states[2]
    book("undo", "--redo")
    assert live_state(db_path) == states[3]
    book("undo", "--redo", code=1)
    assert book.stderr.startswith("dealctl: nothing to redo")
    # an undo after a redo takes back the redone command again
    book("undo")
    assert live_state(db_path) == states[2]


def test_a_new_write_ends_redo(book: Cli, db_path: Path) -> None:
    book("edit", "1", "--amount", "1")
    book("undo")
    book("log", "1", "called")
    book("undo", "--redo", code=1)
    assert book.stderr == (
        "dealctl: nothing to redo: redo takes back an undo, until another command writes\n"
    )
    book("undo")  # the log
    book("undo")  # not the edit (already undone): the log before it
    assert [a["text"] for a in _activities(db_path)] == []


def _activities(path: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT * FROM activities WHERE deleted_at IS NULL").fetchall()
    conn.close()
    return rows


def test_history_shows_undo_and_redo(book: Cli) -> None:
    book("edit", "1", "--amount", "150万")
    book("undo")
    book("undo", "--redo")
    rows = json.loads(book("history", "1", "--format", "json"))
    tail = [(r["command"], r["field"], r["old"], r["new"]) for r in rows[-3:]]
    assert tail == [
        ("edit", "amount", "1000000", "1500000"),
        ("undo", "amount", "1500000", "1000000"),
        ("undo", "amount", "1000000", "1500000"),
    ]
    everything = json.loads(book("history", "--format", "json"))
    marks = [(r["entity"], r["field"], r["new"]) for r in everything if r["entity"] == "command"]
    assert marks == [
        ("command", "undone", "edit amount=150万 deal=1"),
        ("command", "redone", "edit amount=150万 deal=1"),
    ]


def _by(cli: Cli, *args: str) -> list[tuple[str, str, str | None]]:
    """(command, field, by) of each row of ``history`` in JSON."""
    rows = json.loads(cli("history", *args, "--format", "json"))
    return [(r["command"], r["field"], r["by"]) for r in rows]


def test_history_and_undo_list_show_who_ran_each_command(cli: Cli) -> None:
    cli("add", "Alpha", env={"DEALCTL_ACTOR": "sato@laptop (terminal)"})
    cli("log", "1", "called", env={"DEALCTL_ACTOR": "nightly sync"})
    # One line whatever it holds: whitespace runs become a space, escapes and bidi
    # overrides are dropped, and at most 200 characters are kept.
    cli("edit", "1", "--amount", "5", env={"DEALCTL_ACTOR": " cron\n\tjob\x1b[2J\u202e "})
    cli("edit", "1", "--amount", "6", env={"DEALCTL_ACTOR": "x" * 300})
    cli("edit", "1", "--amount", "7", env={"DEALCTL_ACTOR": " \n"})  # blank: unset
    by = {command_by for _, _, command_by in _by(cli)}
    here = f"{getpass.getuser()}@{socket.gethostname()} (script)"  # CliRunner: no terminal
    assert by == {"sato@laptop (terminal)", "nightly sync", "cron job[2J", "x" * 200, here}
    deal = _by(cli, "1")
    assert ("add", "title", "sato@laptop (terminal)") in deal
    assert ("log", "last_contact_at", "nightly sync") in deal
    assert [b for c, f, b in deal if f == "amount"][-3:] == ["cron job[2J", "x" * 200, here]
    # The column is last in every machine format, and in the table for people.
    tsv = cli("history", "1", "--format", "tsv").splitlines()
    assert tsv[0].endswith("\tnew\tby")
    assert tsv[1].endswith("\tsato@laptop (terminal)")
    table = cli("history", "1", "--format", "table")
    assert "By" in table.splitlines()[0] and "nightly sync" in table
    steps = json.loads(cli("undo", "--list", "--format", "json"))
    assert [(s["command"], s["by"]) for s in steps] == [
        ("edit", here),
        ("edit", "x" * 200),
        ("edit", "cron job[2J"),
        ("log", "nightly sync"),
        ("add", "sato@laptop (terminal)"),
    ]
    assert "sato@laptop (terminal)" in cli("undo", "--list", "--format", "table")
    # The undo itself is a command with its own actor; redo lists who ran the command.
    cli("undo", env={"DEALCTL_ACTOR": "suzuki"})
    assert _by(cli, "1")[-1] == ("undo", "amount", "suzuki")
    redo = json.loads(cli("undo", "--redo", "--list", "--format", "json"))
    assert [(s["command"], s["by"]) for s in redo] == [("edit", here)]


def test_actor_falls_back_to_the_user_id_and_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_name() -> str:
        raise OSError("no login name")

    def no_host() -> str:
        raise OSError("no host name")

    monkeypatch.setattr(getpass, "getuser", no_name)
    monkeypatch.setattr(socket, "gethostname", no_host)
    assert actor({}) == f"{os.getuid()}@localhost (script)"
    monkeypatch.setattr(getpass, "getuser", lambda: "sa\nto")
    monkeypatch.setattr(socket, "gethostname", lambda: "")
    assert actor({}) == "sa to@localhost (script)"
    assert actor({"DEALCTL_ACTOR": "ci"}) == "ci"


def _actors(db: Path) -> set[str | None]:
    conn = sqlite3.connect(db)
    try:
        return {by for (by,) in conn.execute("SELECT actor FROM commands")}
    finally:
        conn.close()


def test_a_script_and_a_typed_command_are_told_apart(db_path: Path) -> None:
    """End to end, the installed dealctl: without a terminal (as from cron) it records
    ``user@host (script)``; with standard input and output on a terminal, ``(terminal)``."""
    dealctl = str(Path(sys.executable).with_name("dealctl"))
    env = dict(os.environ)  # DEALCTL_ACTOR unset (tests/conftest.py)
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    script = subprocess.run(
        [dealctl, "add", "from cron"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert script.returncode == 0, script.stderr
    assert _actors(db_path) == {f"{who} (script)"}
    leader, follower = pty.openpty()
    typed = subprocess.Popen(
        [dealctl, "log", "1", "typed"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    printed = read_until_closed(leader)
    assert typed.wait(timeout=60) == 0, printed
    os.close(leader)
    assert _actors(db_path) == {f"{who} (script)", f"{who} (terminal)"}
    shown = subprocess.run(
        [dealctl, "history", "1", "--format", "json"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    by = [(r["command"], r["by"]) for r in json.loads(shown.stdout)]
    assert ("add", f"{who} (script)") in by and ("log", f"{who} (terminal)") in by


def test_undo_refuses_what_changed_behind_its_back(book: Cli, db_path: Path) -> None:
    book("edit", "1", "--amount", "5")
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE deals SET amount = 7 WHERE number = 1")
    conn.commit()
    conn.close()
    before = live_state(db_path)
    book("undo", code=1)
    assert book.stderr == (
        "dealctl: cannot undo edit amount=5 deal=1: deal 1's amount was changed since"
        " (it is '7', the command left '5'); nothing was undone\n"
    )
    assert live_state(db_path) == before


def test_nothing_to_undo_creates_no_database(cli: Cli, db_path: Path) -> None:
    cli("undo", code=1)
    assert cli.stderr == "dealctl: nothing to undo\n"
    assert not db_path.exists()
    cli("add", "A")
    assert cli("undo", "--list", "--format", "csv").count("\n") == 2


def test_undo_takes_back_tables_it_has_never_heard_of(book: Cli, db_path: Path) -> None:
    """A table and a command added by a later version are undone like the others."""
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TABLE widgets (id TEXT PRIMARY KEY, deal_id TEXT REFERENCES deals(id),"
        " size INTEGER, command_id TEXT REFERENCES commands(id), updated_at TEXT,"
        " deleted_at TEXT)"
    )
    conn.commit()
    conn.close()
    session = open_session(db_path, write=True)
    store = session.store
    widget = new_id()
    deal = store.one("SELECT id FROM deals WHERE number = 1")
    assert deal is not None
    with store.transaction("widget add", [], session.stamp):
        store.execute(
            "INSERT INTO widgets (id, deal_id, size, command_id) VALUES (?, ?, 3, ?)",
            (widget, deal["id"], store.command_id),
        )
    with store.transaction("widget grow", [], session.stamp):
        store.execute("UPDATE widgets SET size = 4 WHERE id = ?", (widget,))
        store.log_change("widget", widget, "size", 3, 4, session.stamp)
    session.close()
    book("undo")
    assert [tuple(r) for r in _widgets(db_path)] == [(3, None)]
    book("undo")
    assert [r["deleted_at"] for r in _widgets(db_path)] == ["2026-12-03T09:00:00+09:00"]
    assert isinstance(_widgets(db_path)[0]["size"], int)  # restored as a number, not '3'


def _widgets(path: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT size, deleted_at FROM widgets").fetchall()
    conn.close()
    return rows


def test_undone_import_leaves_exports_empty_and_redo_brings_every_row_back(
    cli: Cli,
) -> None:
    cli("import", str(EXAMPLES / "book"))
    exports = {k: cli("export", k) for k in ("deals", "activities", "stage-changes")}
    assert cli("undo").startswith("undid import ")
    for kind in exports:
        assert cli("export", kind).count("\n") == 1, kind  # the header only
    cli("undo", "--redo")
    assert {k: cli("export", k) for k in exports} == exports


# Write commands of every noun, in an order where each has something to work on.
OTHER_WRITES = [
    ("account", "add", "Acme-Systems"),
    ("account", "add", "株式会社サンプル", "--notes", "製造業"),
    ("account", "edit", "36", "--name", "Acme Two"),
    ("account", "merge", "1", "36"),
    ("contact", "add", "山田太郎", "-a", "株式会社山城精機", "--email", "yamada@example.jp"),
    ("contact", "edit", "yamada@example.jp", "--title", "本部長"),
    ("stakeholder", "add", "5", "山田太郎", "--role", "decision-maker"),
    ("stakeholder", "remove", "5", "山田太郎", "--role", "decision-maker"),
    ("qualify", "5", "--budget", "500万", "--need", "在庫管理", "--timing", "2027-03"),
    ("route", "set", "5", "--template", "ringi"),
    ("route", "check", "5", "--date", "2026-12-01"),
    ("route", "uncheck", "5"),
    ("route", "add", "5", "法務確認", "--before", "稟議書"),
    ("route", "remove", "5", "法務確認"),
]


def test_every_noun_s_write_commands_are_undone_and_redone_exactly(cli: Cli, db_path: Path) -> None:
    """Undo knows no command: accounts, contacts, stakeholders, BANT and routes included."""
    cli("import", str(EXAMPLES / "book"))
    for args in OTHER_WRITES:
        before = live_state(db_path)
        cli(*args)
        after = live_state(db_path)
        assert after != before, args
        name = " ".join(args[:1] if args[0] == "qualify" else args[:2])
        assert cli("undo").startswith(f"undid {name} "), args
        assert live_state(db_path) == before, args
        cli("undo", "--redo")
        assert live_state(db_path) == after, args


def test_an_import_that_updates_and_fills_in_is_undone_exactly(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    """Re-imports change stored deals and fill in what a contact lacked: all taken back."""
    cli("import", str(EXAMPLES / "book"))
    cli("add", "Walk-in", "-a", "Acme", "--contact", "Bob")
    exported = tmp_path / "deals.csv"
    cli("export", "deals", "-o", str(exported))
    text = exported.read_text(encoding="utf-8")
    changed = text.replace(",4800000,JPY,", ",4900000,JPY,").replace(",open,", ",lost,", 1)
    exported.write_text(changed, encoding="utf-8")
    filled = tmp_path / "fill.csv"
    filled.write_text(
        "deal,account,contact,email,stage\nNew,Acme,Bob,bob@example.com,approach\n",
        encoding="utf-8",
    )
    for path in (exported, filled):
        before = live_state(db_path)
        cli("import", str(path))
        after = live_state(db_path)
        assert after != before, path
        cli("undo")
        assert live_state(db_path) == before, path
        cli("undo", "--redo")
        assert live_state(db_path) == after, path


def test_a_file_naming_deals_removed_by_undo_is_refused_not_silently_matched(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    """Importing again, after an undo, a book that carries ids must not 'update' deleted deals."""
    cli("import", str(EXAMPLES / "book"))
    book = tmp_path / "book"
    book.mkdir()
    for kind, name in (("deals", "deals"), ("activities", "activities"),
                       ("stage-changes", "stage-changes")):  # fmt: skip
        cli("export", kind, "-o", str(book / f"{name}.csv"))
    other = tmp_path / "other.db"
    cli("--db", str(other), "import", str(book))
    cli("--db", str(other), "undo")
    before = live_state(other)
    cli("--db", str(other), "import", str(book), code=2)
    assert cli.stderr.endswith("import stopped: 45 rejected cells; nothing was written\n")
    first = cli.stderr.splitlines()[0]
    assert first.startswith("dealctl: record 1, column 'id', value '")
    assert first.endswith(
        "a deleted deal has this id (taken back by dealctl undo?): dealctl undo --redo brings"
        " it back, or leave the id out to import the row as a new deal"
    )
    assert live_state(other) == before
    cli("--db", str(other), "undo", "--redo")
    assert cli("--db", str(other), "export", "deals") == cli("export", "deals")
