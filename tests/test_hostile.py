"""Any input at all: generated command lines for every command, and random sessions.

``test_any_command_line`` draws argument lists for each command of the app (found
at run time, so commands added later are covered): ids, dates, amounts, unicode,
empty strings, huge numbers and option soup. Whatever happens, the exit status is
a documented one, stderr is a few ``dealctl:`` lines and never a traceback, the
database passes ``doctor``, a command that failed left the file exactly as it was (a
full dump), and a command that wrote can be undone exactly (and redone).

``DealSessions`` runs random add / advance / lose / close / reopen / log / edit /
undo / redo sequences against a model and checks the invariants after every step.

Examples are bounded so the suite stays fast; DEALCTL_SLOW_TESTS=1 runs many more.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from typer.testing import CliRunner

from dealctl import doctor
from dealctl.cli import app
from dealctl.storage import Store
from tests.conftest import EXAMPLES, NOW
from tests.fixtures.dbstate import full_dump, live_state

SLOW = bool(os.environ.get("DEALCTL_SLOW_TESTS"))
EXIT_CODES = {0, 1, 2, 3, 4, 5}
ROOT = typer.main.get_command(app)


def _leaves(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in sorted(group.commands.items()):
        if getattr(command, "commands", None):
            yield from _leaves(command, (*prefix, name))
        else:
            yield (*prefix, name), command


COMMANDS = dict(_leaves(ROOT))
OPTION_NAMES = sorted(
    {
        name
        for _, c in COMMANDS.items()
        for p in c.params
        for name in getattr(p, "opts", [])
        if name.startswith("-")
    }
)

IDS = ["1", "2", "3", "4", "46", "0", "-1", "#2", "99999999999999999999999", "1.5", "0x10",
       "01a2b3c4", "ffffffff", " 2 ", ""]  # fmt: skip
DATES = ["2026-12-24", "2026/12/24", "today", "tomorrow", "yesterday", "+3d", "-3d", "+2w",
         "+1m", "fri", "fri 14:00", "eow", "eom", "eoq", "eoy", "03/04/2026", "2026-02-30",
         "9999-12-31", "0001-01-01", "25:00", "2026-12-24T09:00+09:00", "this-month",
         "last-quarter", "7d", "-30d", "3"]  # fmt: skip
AMOUNTS = ["1200000", "1,200,000", "¥1,200,000", "120万", "1.5億", "△50,000", "$1,200.50",
           "1e400", "9" * 40, "-0", "NaN", "inf", "0.001", "1,2,3",
           "9223372036854775808"]  # fmt: skip
WORDS = ["approach", "hearing", "proposal", "negotiation", "contract", "lead", "ヒアリング",
         "price", "timing", "b2b", "b2c", "json", "csv", "tsv", "jsonl", "table", "text",
         "markdown", "xml", "open", "won", "lost", "all", "call", "email", "note", "JPY", "USD",
         "XXX", "overdue", "due", "any", "ringi", "decision-maker", "dealctl", "maven",
         "utf-8", "cp932", "DMY", "update", "skip", "Acme", "株式会社サンプル",
         "a@example.com", "number", "amount", "timezone", "currency", "lost_reasons",
         "pipelines.b2b", "Asia/Tokyo", "[1, 2]", "{a = 1}"]  # fmt: skip
ODD = ["9" * 400, "x" * 3000, "-----", "--", "-", "%s%n", "{0}", "' OR 1=1 --", "\u202e",
       "🙂", "ｱｶﾞ", "\t", "\n", " ", "\x1b[31m", "\r\n", "a\x7fb"]  # fmt: skip
# Files and folders in the scratch folder (the database itself among them).
PATHS = ["deals.db", "book", "book/deals.csv", "maven.csv", "binary.csv", "missing.csv", "out",
         "out.csv", "new/out.csv", ".", "..", "-", ""]  # fmt: skip

# Text as a shell can pass it: anything but NUL, which no argv can hold.
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12)
VALUES = st.one_of(
    st.sampled_from(IDS),
    st.sampled_from(DATES),
    st.sampled_from(AMOUNTS),
    st.sampled_from(WORDS),
    st.sampled_from(ODD),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    TEXT,
)
# Mostly none: the global options are tried, but most runs reach the command.
GLOBAL_OPTIONS = [[]] * 12 + [
    ["--color", "always"],
    ["--color", "bad"],
    ["--db", "deals.db"],
    ["--db", "other.db"],
    ["--db", "book"],
]
PATH_PARAMS = {"path", "output", "report_path", "maps", "stage_maps"}


def _is_path(param: Any) -> bool:
    return param.name in PATH_PARAMS or type(param.type).__name__ in ("TyperPath", "Path")


def _values(param: Any) -> st.SearchStrategy[str]:
    """Values for one parameter: the words of its own help (its valid choices, mostly:
    `deals, accounts, contacts…`), half the time; anything else otherwise."""
    if _is_path(param):
        return st.sampled_from(PATHS)
    words = sorted(set(re.findall(r"[\w@.+#-]+", getattr(param, "help", None) or "")))
    return st.one_of(st.sampled_from(words), VALUES) if words else VALUES


@st.composite
def command_lines(draw: st.DrawFn, path: tuple[str, ...]) -> list[str]:
    """One command line for the command at ``path``: its parameters, shuffled, plus soup."""
    command = COMMANDS[path]
    chunks: list[list[str]] = []
    positionals: list[str] = []
    for param in command.params:
        value = _values(param)
        if param.param_type_name == "argument":
            if draw(st.integers(0, 9)) > 0:
                positionals.append(draw(value))
            continue
        if draw(st.integers(0, 9)) < (1 if param.required else 6):
            continue
        name = draw(st.sampled_from([o for o in param.opts if o.startswith("-")]))
        for _ in range(2 if param.multiple and draw(st.booleans()) else 1):
            chunks.append([name] if param.is_flag else [name, draw(value)])
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # option soup, now and then
        chunks.append([draw(st.sampled_from([*OPTION_NAMES, "--bogus", "-Z"])), draw(VALUES)])
    chunks = draw(st.permutations(chunks)) if chunks else []
    global_opts = draw(st.sampled_from(GLOBAL_OPTIONS))
    args = [*global_opts, *path, *positionals, *(a for chunk in chunks for a in chunk)]
    if draw(st.integers(0, 19)) == 0:
        args.append(draw(VALUES))  # one argument too many
    return args


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small book: a few imported deals with history, and one of each status."""
    folder = tmp_path_factory.mktemp("hostile")
    db = folder / "deals.db"
    env = {"DEALCTL_DB": str(db), "DEALCTL_NOW": NOW, "TZ": "Asia/Tokyo",
           "DEALCTL_CONFIG": str(folder / "none.toml")}  # fmt: skip
    runner = CliRunner()
    for args in (
        (
            "add",
            "Open deal",
            "-a",
            "Acme",
            "--contact",
            "a@example.com",
            "--amount",
            "100万",
            "--next",
            "call",
            "--due",
            "fri",
        ),
        ("add", "Lost deal", "-a", "Beta KK", "--stage", "proposal"),
        ("lose", "2", "--reason", "price"),
        ("add", "Won deal", "--amount", "$1,200.50", "--currency", "USD"),
        ("close", "3"),
        ("log", "1", "called", "--kind", "call"),
        ("import", str(EXAMPLES / "book" / "deals.csv")),
    ):
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, (args, result.output)
    return db


def _scratch(template: Path, folder: Path) -> Path:
    shutil.copytree(EXAMPLES / "book", folder / "book")
    (folder / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (folder / "maven.csv").write_text(
        "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,"
        "close_value\nX1,Ann,GTX,Acme,Won,2026-01-02,2026-02-03,1000\n",
        encoding="utf-8",
    )
    db = folder / "deals.db"
    shutil.copy(template, db)
    db.chmod(0o600)
    return db


def _commands(db: Path) -> tuple[int, str | None]:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT COUNT(*), MAX(rowid) FROM commands").fetchone()
        last = conn.execute("SELECT name FROM commands ORDER BY rowid DESC LIMIT 1").fetchone()
        return int(row[0]), (last[0] if last else None)
    finally:
        conn.close()


def _doctor_problems(db: Path) -> list[doctor.Problem]:
    store, _ = Store.open(db, create=False)
    try:
        return doctor.run(store).problems
    finally:
        store.close()


def _check_output(args: list[str], code: int, stderr: str) -> None:
    where = f"dealctl {args!r} exited {code}\nstderr: {stderr[-2000:]}"
    assert code in EXIT_CODES, where
    assert "Traceback" not in stderr and "internal error" not in stderr, where
    if not stderr or stderr.startswith("Usage: "):  # help for a bare group: documented
        return
    lines = stderr.splitlines()
    assert all(line.startswith("dealctl: ") for line in lines), where
    # An import's rejection report names each refused cell on a line of its own.
    own = [line for line in lines if not line.startswith(("dealctl: record ", "dealctl: ... "))]
    assert len(own) <= 3, where


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_any_command_line(
    template: Path, path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    monkeypatch.setenv("HOME", str(isolated))
    runner = CliRunner()

    @settings(
        max_examples=60 if SLOW else 4,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(args=command_lines(path))
    def run(args: list[str]) -> None:
        with tempfile.TemporaryDirectory(dir=isolated) as name:
            folder = Path(name)
            db = _scratch(template, folder)
            env = {"DEALCTL_DB": str(db), "DEALCTL_CONFIG": str(folder / "config.toml")}
            before_state = live_state(db)
            before_dump = full_dump(db)
            before_commands = _commands(db)
            old = Path.cwd()
            os.chdir(folder)
            try:
                result = runner.invoke(app, args, env=env)
                _check_output(args, result.exit_code, result.stderr)
                if result.exit_code != 0:  # a command that failed wrote nothing at all
                    assert full_dump(db) == before_dump, args
                assert _doctor_problems(db) == [], args
                after_commands = _commands(db)
                if after_commands[0] > before_commands[0] and after_commands[1] != "undo":
                    _undo_and_redo(runner, env, db, before_state, args)
            finally:
                os.chdir(old)

    run()


def _undo_and_redo(
    runner: CliRunner, env: dict[str, str], db: Path, before: Any, args: list[str]
) -> None:
    """A command that wrote is taken back exactly, and brought back exactly."""
    after = live_state(db)
    listed = runner.invoke(app, ["undo", "--list", "--format", "json"], env=env)
    conn = sqlite3.connect(db)
    newest = conn.execute("SELECT id FROM commands ORDER BY rowid DESC LIMIT 1").fetchone()[0]
    conn.close()
    steps = json.loads(listed.stdout)
    if not steps or steps[0]["id"] != newest:
        assert after == before, f"{args!r} changed the book without anything to undo"
        return
    result = runner.invoke(app, ["undo"], env=env)
    assert result.exit_code == 0, (args, result.stderr)
    assert live_state(db) == before, f"undo of {args!r}"
    result = runner.invoke(app, ["undo", "--redo"], env=env)
    assert result.exit_code == 0, (args, result.stderr)
    assert live_state(db) == after, f"redo of {args!r}"


# --- random sessions against a model -------------------------------------------------------------

OPEN_STAGES = ["approach", "hearing", "proposal", "negotiation"]
WON = "contract"
REASONS = ["price", "timing", "competitor"]


class DealSessions(RuleBasedStateMachine):
    """Random work on a few deals; the model says what every deal must look like."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="sessions-"))
        self.db = self.folder / "deals.db"
        self.env = {"DEALCTL_DB": str(self.db), "DEALCTL_CONFIG": str(self.folder / "c.toml")}
        self.runner = CliRunner()
        self.deals: dict[int, dict[str, Any]] = {}
        self.numbers = 0
        # (model, book) before each command that can still be undone, and the undone ones
        self.done: list[tuple[dict[int, dict[str, Any]], Any, dict[int, dict[str, Any]], Any]] = []
        self.undone: list[
            tuple[dict[int, dict[str, Any]], Any, dict[int, dict[str, Any]], Any]
        ] = []

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def cli(self, *args: str, code: int = 0) -> str:
        result = self.runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        _check_output(list(args), result.exit_code, result.stderr)
        return result.stdout

    def write(self, *args: str, change: Any) -> None:
        """Run a write and apply ``change`` to the model; remember how to take it back."""
        model_before = copy.deepcopy(self.deals)
        book_before = live_state(self.db) if self.db.exists() else None
        self.cli(*args)
        change()
        self.done.append((model_before, book_before, copy.deepcopy(self.deals), None))
        self.undone.clear()

    @initialize()
    def start(self) -> None:
        self.cli("add", "first", "--amount", "100")  # creates the book; not on the undo stack
        self._added(100, "approach")

    def _added(self, amount: int | None, stage: str) -> None:
        self.numbers += 1
        self.deals[self.numbers] = {"status": "open", "stage": stage, "amount": amount}

    def _pick(self, data: st.DataObject, status: str | None = None) -> int:
        choices = sorted(n for n, d in self.deals.items() if status in (None, d["status"]))
        assume(choices)
        return data.draw(st.sampled_from(choices))

    @rule(amount=st.one_of(st.none(), st.integers(0, 10**12)), stage=st.sampled_from(OPEN_STAGES))
    def add(self, amount: int | None, stage: str) -> None:
        args = ["add", f"deal {self.numbers + 1}", "--stage", stage]
        if amount is not None:
            args += ["--amount", str(amount)]
        self.write(*args, change=lambda: self._added(amount, stage))

    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        number = self._pick(data, "open")
        deal = self.deals[number]
        target = data.draw(st.sampled_from([None, *OPEN_STAGES, WON]))
        if target == deal["stage"]:
            self.cli("advance", str(number), target, code=1)
            return
        following = ([*OPEN_STAGES, WON])[([*OPEN_STAGES, WON]).index(deal["stage"]) + 1]
        new = target or following

        def change() -> None:
            deal.update(stage=new, status="won" if new == WON else "open")

        self.write("advance", str(number), *([target] if target else []), change=change)

    @rule(data=st.data(), reason=st.sampled_from(REASONS))
    def lose(self, data: st.DataObject, reason: str) -> None:
        number = self._pick(data, "open")
        self.write(
            "lose", str(number), "--reason", reason,
            change=lambda: self.deals[number].update(status="lost"),
        )  # fmt: skip

    @rule(data=st.data(), amount=st.one_of(st.none(), st.integers(0, 10**9)))
    def close(self, data: st.DataObject, amount: int | None) -> None:
        number = self._pick(data, "open")
        deal = self.deals[number]

        def change() -> None:
            deal.update(status="won", stage=WON)
            if amount is not None:
                deal["amount"] = amount

        extra = ["--amount", str(amount)] if amount is not None else []
        self.write("close", str(number), *extra, change=change)

    @rule(data=st.data())
    def reopen(self, data: st.DataObject) -> None:
        closed = sorted(n for n, d in self.deals.items() if d["status"] != "open")
        assume(closed)
        number = data.draw(st.sampled_from(closed))
        deal = self.deals[number]
        stage = data.draw(st.sampled_from(OPEN_STAGES))

        def change() -> None:
            deal.update(status="open", stage=stage)

        self.write("reopen", str(number), "--stage", stage, change=change)

    @rule(data=st.data(), text=st.text(st.characters(codec="utf-8", categories=["L", "N"]),
                                       min_size=1, max_size=10))  # fmt: skip
    def log(self, data: st.DataObject, text: str) -> None:
        number = self._pick(data)
        self.write("log", str(number), text, change=lambda: None)

    @rule(data=st.data(), amount=st.integers(0, 10**12))
    def edit(self, data: st.DataObject, amount: int) -> None:
        number = self._pick(data)
        deal = self.deals[number]
        if deal["amount"] == amount:
            return
        self.write(
            "edit", str(number), "--amount", str(amount),
            change=lambda: deal.update(amount=amount),
        )  # fmt: skip

    @precondition(lambda self: bool(self.done))
    @rule()
    def undo(self) -> None:
        model_before, book_before, model_after, _ = self.done.pop()
        book_after = live_state(self.db)
        self.cli("undo")
        assert live_state(self.db) == book_before  # exactly the state before that command
        self.deals = copy.deepcopy(model_before)  # numbers are never given out again
        self.undone.append((model_before, book_before, model_after, book_after))

    @precondition(lambda self: bool(self.undone))
    @rule()
    def redo(self) -> None:
        model_before, book_before, model_after, book_after = self.undone.pop()
        self.cli("undo", "--redo")
        assert live_state(self.db) == book_after
        self.deals = copy.deepcopy(model_after)
        self.done.append((model_before, book_before, model_after, book_after))

    @invariant()
    def book_matches_the_model(self) -> None:
        if not self.db.exists():
            return
        conn = sqlite3.connect(self.db)
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute(
                "SELECT d.id, d.number, d.status, d.amount, d.stage_id, s.key AS stage, s.kind"
                " FROM deals d JOIN stages s ON s.id = d.stage_id WHERE d.deleted_at IS NULL"
            ).fetchall()
            book = {r["number"]: r for r in rows}
            assert set(book) == set(self.deals)
            for number, deal in self.deals.items():
                row = book[number]
                assert (row["status"], row["stage"]) == (deal["status"], deal["stage"]), number
                assert row["amount"] == deal["amount"], number
                # status agrees with the stage: won exactly at the won stage
                assert (row["status"] == "won") == (row["kind"] == "won"), number
                # the stage history is one unbroken chain ending where the deal is
                chain = conn.execute(
                    "SELECT from_stage_id, to_stage_id, from_status, to_status FROM stage_changes"
                    " WHERE deal_id = ? AND deleted_at IS NULL ORDER BY rowid",
                    (row["id"],),
                ).fetchall()
                assert chain and chain[0]["from_stage_id"] is None, number
                for earlier, later in itertools.pairwise(chain):
                    assert (later["from_stage_id"], later["from_status"]) == (
                        earlier["to_stage_id"],
                        earlier["to_status"],
                    ), number
                assert (chain[-1]["to_stage_id"], chain[-1]["to_status"]) == (
                    row["stage_id"],
                    row["status"],
                ), number
        finally:
            conn.close()

    @invariant()
    def pipeline_totals_are_the_open_amounts(self) -> None:
        if not self.db.exists():
            return
        rows = json.loads(self.cli("pipeline", "--format", "json"))
        got = {r["stage"]: (r["count"], r["amount"]) for r in rows if r["count"]}
        want: dict[str, tuple[int, int]] = {}
        for deal in self.deals.values():
            if deal["status"] == "open":
                count, amount = want.get(deal["stage"], (0, 0))
                want[deal["stage"]] = (count + 1, amount + (deal["amount"] or 0))
        assert got == want


DealSessions.TestCase.settings = settings(
    max_examples=100 if SLOW else 5,
    stateful_step_count=40 if SLOW else 20,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_random_sessions_keep_every_invariant(
    monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    monkeypatch.setenv("DEALCTL_NOW", NOW)
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(DealSessions, settings=DealSessions.TestCase.settings)
