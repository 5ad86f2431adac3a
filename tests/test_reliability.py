"""Nothing lost, ever: atomic commands, crashes, migrations, backups, doctor, privacy.

Each test here backs one promise of docs/reliability.md.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dealctl import migrations
from dealctl.importing import engine
from tests.conftest import EXAMPLES, NOW, Cli, set_clock
from tests.fixtures.clicache import build_once
from tests.fixtures.dbstate import SCHEMA1, counts, full_dump, live_state

DEALCTL = str(Path(sys.executable).with_name("dealctl"))
SRC = Path(__file__).resolve().parents[1] / "src" / "dealctl"
_connect = sqlite3.connect


# --- atomic commands -----------------------------------------------------------------------------


class Plan:
    """Which write step fails: statements counted from BEGIN IMMEDIATE to COMMIT."""

    def __init__(self, fail_at: int | None = None, vm_steps: int | None = None) -> None:
        self.fail_at = fail_at
        self.vm_steps = vm_steps  # fail inside a statement, after this many progress ticks
        self.count = 0
        self.ticks = 0
        self.failed = False

    def step(self, sql: str, in_transaction: bool) -> None:
        head = sql.lstrip()[:8].upper()
        if not (in_transaction or head.startswith("BEGIN")):
            return
        if head.startswith(("SELECT", "PRAGMA", "ROLLBACK")):
            return
        self.count += 1
        if self.count == self.fail_at:
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error (injected)")

    def tick(self) -> int:
        self.ticks += 1
        if self.vm_steps is not None and self.ticks == self.vm_steps:
            self.failed = True
            return 1  # SQLite interrupts the running statement
        return 0


class FailingConnection:
    """A real sqlite3 connection whose Nth write step raises, as a full disk would."""

    def __init__(self, conn: sqlite3.Connection, plan: Plan) -> None:
        self.__dict__.update(_conn=conn, _plan=plan)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self._plan.step(sql, self._conn.in_transaction)
        cursor = self._conn.execute(sql, params)
        if sql.lstrip().upper().startswith("BEGIN") and self._plan.vm_steps is not None:
            self._conn.set_progress_handler(self._plan.tick, 100)
        if sql.lstrip().upper().startswith(("COMMIT", "ROLLBACK")):
            self._conn.set_progress_handler(None, 0)
        return cursor

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        self._plan.step(sql, self._conn.in_transaction)
        return self._conn.executemany(sql, rows)


@pytest.fixture
def inject(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Plan]]:
    """While a plan is set, every connection dealctl opens follows it."""
    plans: list[Plan] = []

    def connect(*args: Any, **kwargs: Any) -> Any:
        conn = _connect(*args, **kwargs)
        return FailingConnection(conn, plans[-1]) if plans else conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    yield plans


def _small_book(folder: Path, numbers: set[str]) -> Path:
    """A book folder with a few deals of the example book and their history."""
    folder.mkdir()
    for name, key in (
        ("deals.csv", "number"),
        ("activities.csv", "deal_number"),
        ("stage-changes.csv", "deal_number"),
    ):
        with (EXAMPLES / "book" / name).open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [r for r in reader if r[key] in numbers]
            fields = reader.fieldnames
        assert fields is not None
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fields)
            writer.writeheader()
            writer.writerows(rows)
    return folder


ATOMIC = {
    "advance": ("advance", "1", "--next", "demo", "--due", "fri"),
    "lose": ("lose", "1", "--reason", "price", "--note", "n"),
    "close": ("close", "1", "--amount", "90万"),
    "log": ("log", "1", "called", "--kind", "call", "--next", "send deck", "--due", "mon"),
    "add": ("add", "New", "-a", "NewCo", "--contact", "n@example.com", "--amount", "1"),
    "edit": ("edit", "1", "--amount", "5", "-a", "Other", "--stage", "proposal"),
    "import": ("import", "{book}"),
    # The same import with every table's indexes dropped while it writes and created again.
    "import, indexes rebuilt": ("import", "{book}"),
    "undo": ("undo",),
}


def _snapshot(db_path: Path, copy: Path) -> None:
    conn = _connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copy2(db_path, copy)


def _restore(db_path: Path, copy: Path) -> None:
    """Put the file back as it was (the counting runs below do write)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    shutil.copy2(copy, db_path)


def _rebuild_indexes_of_any_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every table an import writes more rows into than it holds gets its indexes rebuilt."""
    monkeypatch.setattr(engine, "BULK_INDEX_ROWS", 1)


@pytest.mark.parametrize("name", list(ATOMIC))
def test_a_failure_at_any_write_step_leaves_the_database_exactly_as_before(
    cli: Cli,
    db_path: Path,
    tmp_path: Path,
    inject: list[Plan],
    name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if name.endswith("indexes rebuilt"):
        _rebuild_indexes_of_any_import(monkeypatch)
    book = _small_book(tmp_path / "book", {"3", "7", "30"})
    cli("add", "Alpha", "-a", "Acme", "--amount", "100万", "--next", "call", "--due", "fri")
    if name == "undo":  # undo of an import: the biggest undo there is
        cli("import", str(book))
    args = [a.format(book=book) for a in ATOMIC[name]]
    before = full_dump(db_path)
    _snapshot(db_path, tmp_path / "before.db")
    inject.append(Plan())
    cli(*args)  # counts the write steps
    steps = inject[-1].count
    inject.clear()
    assert full_dump(db_path) != before
    assert steps >= 4, steps  # BEGIN, the commands row, at least one write, COMMIT
    _restore(db_path, tmp_path / "before.db")
    for fail_at in range(1, steps + 1):
        inject.append(Plan(fail_at=fail_at))
        cli(*args, code=5)
        assert inject[-1].failed
        assert cli.stderr.endswith("disk I/O error (injected)\n"), cli.stderr
        assert cli.stderr.count("\n") == 1
        inject.clear()
        assert full_dump(db_path) == before, f"{name}: failure at step {fail_at} of {steps}"
    cli(*args)  # and without a failure it still works


@pytest.mark.parametrize("rebuilt", [False, True], ids=["indexes kept", "indexes rebuilt"])
def test_an_import_stopped_inside_a_statement_leaves_nothing(
    cli: Cli,
    db_path: Path,
    tmp_path: Path,
    inject: list[Plan],
    rebuilt: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Failures in the middle of one statement (a bulk insert) too, sampled over the import."""
    if rebuilt:
        _rebuild_indexes_of_any_import(monkeypatch)
    cli("add", "Alpha")
    before = full_dump(db_path)
    _snapshot(db_path, tmp_path / "before.db")
    inject.append(Plan(vm_steps=10**9))
    cli("import", str(EXAMPLES / "book"))
    ticks = inject[-1].ticks
    inject.clear()
    _restore(db_path, tmp_path / "before.db")
    assert ticks > 100, ticks
    for at in sorted({1, 2, *range(3, ticks, max(1, ticks // 40)), ticks - 1}):
        inject.append(Plan(vm_steps=at))
        cli("import", str(EXAMPLES / "book"), code=5)
        assert inject[-1].failed, at
        assert cli.stderr.endswith("interrupted\n"), cli.stderr
        inject.clear()
        assert full_dump(db_path) == before, f"import interrupted at tick {at} of {ticks}"


# --- crashes -------------------------------------------------------------------------------------


def _big_deals_csv(path: Path, count: int) -> None:
    with (EXAMPLES / "book" / "deals.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        fields = reader.fieldnames
    assert fields is not None
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        for i in range(count):
            row = dict(rows[i % len(rows)])
            row.update(number="", title=f"{row['title']} #{i}", account=f"Crash Co {i % 997}")
            writer.writerow(row)


def _write_lock_held(db_path: Path) -> bool:
    conn = _connect(db_path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
    return False


def test_an_import_killed_part_way_leaves_none_of_its_rows(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    cli("add", "Before the crash", "-a", "Kept KK")
    before = live_state(db_path)
    big = tmp_path / "big.csv"
    _big_deals_csv(big, 9_000)  # spills into the WAL early
    wal = Path(f"{db_path}-wal")
    proc = subprocess.Popen(
        [DEALCTL, "import", str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    deadline = time.monotonic() + 60
    try:
        # Kill it once it holds the write lock and has spilled its transaction into the WAL.
        while time.monotonic() < deadline and proc.poll() is None:
            if wal.exists() and wal.stat().st_size > 100_000 and _write_lock_held(db_path):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the import finished before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert b"imported" not in out
    conn = _connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("SELECT name FROM commands").fetchall() == [("add",)]
    conn.close()
    assert live_state(db_path) == before
    assert cli("list", "--format", "csv").count("\n") == 2
    cli("doctor")


# --- migrations ----------------------------------------------------------------------------------


def _schema1_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every schema-1 table, schema-1 columns only, in rowid order."""
    fixture = _connect(f"file:{SCHEMA1}?immutable=1", uri=True)
    columns = {
        t: [c[1] for c in fixture.execute(f'PRAGMA table_info("{t}")')]
        for (t,) in fixture.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name <> '_sqlite_migrations'"
        )
    }
    fixture.close()
    conn = _connect(path)
    try:
        return {
            table: conn.execute(
                f'SELECT {", ".join(cols)} FROM "{table}" ORDER BY rowid'
            ).fetchall()
            for table, cols in columns.items()
        }
    finally:
        conn.close()


def _upgraded(db: Path, kept: Path) -> str:
    return (
        f"dealctl: upgraded {db} from schema 1 to {migrations.SCHEMA_VERSION};"
        f" the old file is kept as {kept}\n"
    )


def test_schema1_fixture_upgrades_with_every_row_intact(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA1, db)
    db.chmod(0o600)
    rows_before = _schema1_rows(db)
    counts_before = counts(db)
    assert counts_before["deals"] == 47 and counts_before["deal_contacts"] == 1
    assert all(counts_before.values()), counts_before  # every table of schema 1 has rows
    exports = {"deals": cli("--db", str(db), "export", "deals", "--format", "json")}
    backup = tmp_path / "old.db.schema1.bak"
    assert cli.stderr == _upgraded(db, backup)
    exports.update({kind: cli("--db", str(db), "export", kind, "--format", "json") for kind in
                    ("accounts", "contacts", "activities", "stage-changes")})  # fmt: skip
    assert cli.stderr == ""  # said once, by the command that upgraded
    assert backup.exists(), "the first command (a read) made the backup before upgrading"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert _schema1_rows(backup) == rows_before
    assert full_dump(backup)[0] == "user_version 1"
    conn = _connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    applied = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    assert applied == [name for name, _ in migrations.STEPS]
    conn.close()
    assert _schema1_rows(db) == rows_before
    after = counts(db)
    assert {t: after[t] for t in counts_before if t != "_sqlite_migrations"} == {
        t: n for t, n in counts_before.items() if t != "_sqlite_migrations"
    }
    # What people see: every live record exported, each with its stored values.
    raw = {r[1]: r for r in rows_before["deals"]}  # by number
    deals = json.loads(exports["deals"])
    assert len(deals) == 47
    for deal in deals:
        stored = raw[deal["number"]]
        assert (deal["id"], deal["title"], deal["status"], deal["amount"]) == (
            stored[0],
            stored[2],
            stored[7],
            stored[8],
        )
    assert len(json.loads(exports["activities"])) == 107
    assert len(json.loads(exports["stage-changes"])) == 154
    assert len(json.loads(exports["accounts"])) == 36
    assert len(json.loads(exports["contacts"])) == 42
    assert cli("--db", str(db), "export", "deals", "--format", "json") == exports["deals"]
    cli("--db", str(db), "doctor")
    # ... and it is a working book: the next write lands, and undo reaches schema-1 commands.
    cli("--db", str(db), "log", "46", "after the upgrade")
    cli("--db", str(db), "undo")
    assert cli("--db", str(db), "undo").startswith("undid fixture")
    assert cli("--db", str(db), "undo").startswith("undid reopen deal=47")


def test_commands_recorded_before_the_actor_column_keep_it_null(cli: Cli, tmp_path: Path) -> None:
    """Migration 0004 adds ``commands.actor``: the schema-1 commands keep NULL (shown as
    ``unknown``); the next command records who ran it."""
    assert ("0004_command_actor", "ALTER TABLE commands ADD COLUMN actor TEXT") in [
        (name, script.strip()) for name, script in migrations.STEPS
    ]
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA1, db)
    db.chmod(0o600)
    old_commands = _schema1_rows(db)["commands"]
    history = json.loads(cli("--db", str(db), "history", "--format", "json"))
    assert cli.stderr == _upgraded(db, tmp_path / "old.db.schema1.bak")
    assert len(history) > 100 and {row["by"] for row in history} == {None}
    assert "unknown" in cli("--db", str(db), "history", "47", "--format", "table")
    steps = json.loads(cli("--db", str(db), "undo", "--list", "--format", "json"))
    assert steps and {step["by"] for step in steps} == {None}
    cli("--db", str(db), "log", "46", "after the upgrade", env={"DEALCTL_ACTOR": "sato"})
    conn = _connect(db)
    rows = conn.execute("SELECT id, name, args, at, actor FROM commands ORDER BY rowid").fetchall()
    conn.close()
    assert [row[:4] for row in rows[:-1]] == old_commands
    assert [row[4] for row in rows] == [None] * len(old_commands) + ["sato"]
    assert json.loads(cli("--db", str(db), "history", "46", "--format", "json"))[-1]["by"] == "sato"


def test_a_failed_upgrade_leaves_the_old_file_as_it_was(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA1, db)
    before = full_dump(db)
    broken = "CREATE TABLE half_done (id TEXT PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1)"
    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, ("9999_broken", broken)])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", len(migrations.STEPS))
    cli("--db", str(db), "list", code=5)
    assert cli.stderr.startswith(f"dealctl: database error in {db}: no such table: no_such_table")
    assert full_dump(db) == before
    assert not list(tmp_path.glob("*.bak")), "a file that was not upgraded needs no copy"
    monkeypatch.undo()
    build_once(monkeypatch)
    cli("--db", str(db), "list")  # the real upgrade still works afterwards
    assert cli.stderr == _upgraded(db, tmp_path / "old.db.schema1.bak")


def _old_file(db: Path) -> None:
    """Put a schema-1 book at ``db`` (over an upgraded one, as a restore would)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(SCHEMA1, db)
    db.chmod(0o600)


def test_an_upgrade_never_replaces_or_writes_into_what_is_there(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    db = folder / "deals.db"
    _old_file(db)
    cli("--db", str(db), "list")
    first = folder / "deals.db.schema1.bak"
    assert cli.stderr == _upgraded(db, first)
    kept = first.read_bytes()
    # The old file is restored and opened again: the first copy stays as it was.
    _old_file(db)
    cli("--db", str(db), "list")
    second = folder / "deals.db.schema1-2.bak"
    assert cli.stderr == _upgraded(db, second)
    assert first.read_bytes() == kept
    assert full_dump(second)[0] == "user_version 1"
    # Whatever holds the next names is skipped, never followed or written into: junk (which
    # used to fail the upgrade as "file is not a database"), a symlink to a file, a dangling
    # symlink (following it would create its target).
    (folder / "deals.db.schema1-3.bak").write_bytes(b"junk")
    precious = tmp_path / "precious.txt"
    precious.write_text("mine")
    (folder / "deals.db.schema1-4.bak").symlink_to(precious)
    (folder / "deals.db.schema1-5.bak").symlink_to(tmp_path / "nowhere")
    _old_file(db)
    cli("--db", str(db), "list")
    assert cli.stderr == _upgraded(db, folder / "deals.db.schema1-6.bak")
    assert (folder / "deals.db.schema1-3.bak").read_bytes() == b"junk"
    assert precious.read_text() == "mine"
    assert not (tmp_path / "nowhere").exists()
    assert first.read_bytes() == kept
    assert stat.S_IMODE((folder / "deals.db.schema1-6.bak").stat().st_mode) == 0o600
    cli("--db", str(db), "list")
    assert cli.stderr == "", "a current file is not copied again"


def test_a_newer_file_is_refused_and_left_alone(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    shutil.copy(SCHEMA1, db)
    conn = _connect(db)
    conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = full_dump(db)
    for args in (("list",), ("add", "x"), ("undo",), ("doctor",), ("backup", str(tmp_path))):
        cli("--db", str(db), *args, code=5)
        assert cli.stderr == (
            f"dealctl: {db} was written by a newer dealctl (schema"
            f" {migrations.SCHEMA_VERSION + 1}, this one knows {migrations.SCHEMA_VERSION});"
            " upgrade dealctl to use it\n"
        )
    assert full_dump(db) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("new")) == ["new.db"]


# --- backups -------------------------------------------------------------------------------------


def test_backup_is_a_complete_private_copy(cli: Cli, db_path: Path, tmp_path: Path) -> None:
    cli("import", str(EXAMPLES / "book"))
    target = tmp_path / "copy.db"
    assert cli("backup", str(target)) == f"{target}\n"
    assert cli.stderr == f"dealctl: backed up {db_path} to {target} (45 deals)\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert live_state(target) == live_state(db_path)
    assert full_dump(target) == full_dump(db_path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("copy", ".copy"))) == [
        "copy.db"
    ]
    cli("--db", str(target), "doctor")


def test_backup_never_overwrites_by_accident(cli: Cli, db_path: Path, tmp_path: Path) -> None:
    cli("add", "A")
    target = tmp_path / "copy.db"
    target.write_text("precious")
    target.chmod(0o644)
    cli("backup", str(target), code=2)
    assert cli.stderr == f"dealctl: {target} exists: pass --force to replace it\n"
    assert target.read_text() == "precious"
    cli("backup", str(db_path), code=2)
    assert cli.stderr == f"dealctl: {db_path} is the database itself: choose another file\n"
    cli("backup", str(tmp_path / "nowhere" / "x.db"), code=2)
    assert cli.stderr.startswith("dealctl: cannot write ")
    cli("backup", str(target), "--force")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert live_state(target) == live_state(db_path)
    folder = tmp_path / "backups"
    folder.mkdir()
    assert cli("backup", str(folder)) == f"{folder / 'deals-20261203-090000.db'}\n"


@pytest.mark.parametrize(
    "args",
    [
        ("export", "deals", "-o", "{db}"),
        ("export", "deals", "-o", "{db}-wal"),
        ("export", "activities", "--output", "./{name}"),
        ("calendar", "-o", "{db}"),
        ("import", str(EXAMPLES / "book"), "--report", "{db}"),
        ("import", str(EXAMPLES / "book"), "--dry-run", "--report", "{db}-shm"),
        ("backup", "{db}"),
        ("backup", "{db}-wal", "--force"),
    ],
    ids=lambda a: " ".join(a[:1] + a[-2:-1]),
)
def test_no_command_writes_a_file_over_the_database(
    cli: Cli, db_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    cli("add", "A", "--next", "call", "--due", "fri")
    monkeypatch.chdir(db_path.parent)
    before = full_dump(db_path)
    cli(*(a.format(db=db_path, name=db_path.name) for a in args), code=2)
    assert cli.stderr.endswith("is the database itself: choose another file\n"), cli.stderr
    assert cli.stderr.count("\n") == 1
    assert full_dump(db_path) == before


# --- doctor --------------------------------------------------------------------------------------


def _sql(db_path: Path, *statements: str) -> None:
    conn = _connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    for statement in statements:
        conn.execute(statement)
    conn.close()


def _doctor(cli: Cli, code: int = 1) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(cli("doctor", "--format", "json", code=code))
    return rows


def test_a_book_imported_without_its_indexes_gets_the_same_last_moves(
    cli: Cli, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A book folder's stage history sets each new deal's moved_at once the indexes are
    built again (here every table is written without them)."""
    from dealctl.importing import engine

    cli("import", str(EXAMPLES / "book"))
    expected = _moved_at(db_path)
    db_path.unlink()
    monkeypatch.setattr(engine, "BULK_INDEX_ROWS", 1)
    cli("import", str(EXAMPLES / "book"))
    assert _moved_at(db_path) == expected and None not in expected.values()
    assert _doctor(cli, code=0) == []


def _moved_at(db: Path) -> dict[str, str | None]:
    conn = _connect(db)
    try:
        return dict(conn.execute("SELECT title, moved_at FROM deals").fetchall())
    finally:
        conn.close()


def test_doctor_passes_a_healthy_book(cli: Cli) -> None:
    cli("import", str(EXAMPLES / "book"))
    cli("add", "A", "-a", "Acme", "--contact", "a@example.com")
    cli("lose", "46", "--reason", "price")
    cli("undo")
    assert _doctor(cli, code=0) == []
    table = cli("doctor", "--format", "table")
    assert table.endswith(
        "  integrity     ok\n  foreign_keys  ok\n  orphans       ok\n  states        ok\n"
        "  numbers       ok\nno problems found\n"
    )


DOCTOR_CASES = [
    (
        "UPDATE deals SET lost_reason = 'price' WHERE number = 2",
        ("states", "deal 2 won, but has a lost reason (price)"),
        "dealctl reopen 2 && dealctl close 2 (reopen clears the lost reason)",
    ),
    (
        "UPDATE deals SET status = 'open' WHERE number = 2",
        ("states", "deal 2 status open disagrees with its stage contract (won stage)"),
        "dealctl reopen 2 --stage STAGE, or dealctl edit 2 --stage STAGE (a won stage means won)",
    ),
    (
        "UPDATE deals SET stage_id = (SELECT s.id FROM stages s JOIN pipelines p"
        " ON p.id = s.pipeline_id WHERE p.key = 'b2c' LIMIT 1) WHERE number = 1",
        ("states", "deal 1 stage lead is not a stage of its pipeline b2b"),
        "dealctl edit 1 --pipeline b2b --stage STAGE",
    ),
    (
        "UPDATE deals SET next_action = NULL WHERE number = 1",
        ("states", "deal 1 has a due date (2026-12-04) but no next action"),
        'dealctl edit 1 --next "WHAT" (or --due "" to drop the date)',
    ),
    (
        "UPDATE deals SET number = 1 WHERE number = 2",
        ("numbers", "deal number 1 is used by 2 records"),
        "refer to them by id; give one a free number:",
    ),
    (
        "UPDATE deals SET deleted_at = '2026-12-01T00:00:00+09:00' WHERE number = 2",
        ("orphans", "activity belongs to a deleted deal"),
        "dealctl undo --list shows whether undoing a recent command brings the deal back;",
    ),
    (
        "INSERT INTO activities (id, deal_id, kind, at, text, created_at) VALUES"
        " ('x1', 'no-such-deal', 'note', '2026-12-01', 't', '2026-12-01')",
        ("foreign_keys", "activity points at a deal that does not exist"),
        "restore your latest copy, or retire the record:",
    ),
    (
        "DELETE FROM accounts WHERE name = 'Acme'",
        ("orphans", "1 change-log rows are about account records that no longer exist"),
        "nothing to repair in the log itself;",
    ),
]


@pytest.mark.parametrize(("sql", "problem", "fix"), DOCTOR_CASES, ids=lambda c: str(c)[:30])
def test_doctor_finds_each_impossible_state_and_says_how_to_fix_it(
    cli: Cli, db_path: Path, sql: str, problem: tuple[str, str], fix: str
) -> None:
    cli("add", "Open one", "-a", "Acme", "--next", "call", "--due", "tomorrow")
    cli("add", "Won one")
    cli("log", "2", "signed")
    cli("close", "2")
    _sql(db_path, sql)
    rows = _doctor(cli)
    assert cli.stderr.startswith("dealctl: doctor found ")
    found = [(r["check"], r["problem"], r["fix"]) for r in rows]
    assert any(
        check == problem[0] and text.startswith(problem[1]) and f.startswith(fix)
        for check, text, f in found
    ), found
    assert list(rows[0]) == ["check", "table", "number", "id", "problem", "fix"]


def test_doctor_finds_a_stage_history_that_does_not_end_at_the_deal(
    cli: Cli, db_path: Path
) -> None:
    cli("add", "A")
    cli("advance", "1")
    _sql(db_path, "UPDATE stage_changes SET deleted_at = 'x' WHERE from_stage_id IS NOT NULL")
    rows = _doctor(cli)
    assert [(r["check"], r["number"], r["problem"]) for r in rows] == [
        (
            "states",
            1,
            "deal 1 has a stage history that does not end at its stage and status (hearing, open)",
        )
    ]


def test_doctor_finds_a_last_stage_change_that_disagrees_with_the_history(
    cli: Cli, db_path: Path
) -> None:
    _small_pipeline(cli)
    assert _doctor(cli, code=0) == []
    _sql(
        db_path,
        "UPDATE deals SET moved_at = NULL WHERE number = 1",
        "UPDATE deals SET moved_at = '2020-01-01T00:00:00+09:00' WHERE number = 2",
    )
    rows = _doctor(cli)
    stamp = "2026-12-03T09:00:00+09:00"  # every move happened at the test clock's moment
    assert [(r["check"], r["number"], r["problem"]) for r in rows] == [
        ("states", 1, f"deal 1 has a last stage change of none stored, but its stage"
                      f" history's latest is {stamp}"),
        ("states", 2, "deal 2 has a last stage change of 2020-01-01T00:00:00+09:00 stored,"
                      f" but its stage history's latest is {stamp}"),
    ]  # fmt: skip
    for row in rows:
        assert row["fix"] == (
            f"sqlite3 FILE \"UPDATE deals SET moved_at = '{stamp}' WHERE id = '{row['id']}'\""
        )
        _run_fix(db_path, row["fix"])
    assert _doctor(cli, code=0) == []


def test_the_upgrade_to_schema_6_fills_moved_at_from_the_live_stage_history(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0006 copies each deal's latest live stage-change moment to deals.moved_at:
    a history row taken back (soft-deleted) before the upgrade does not count."""
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA1, db)
    db.chmod(0o600)
    steps = migrations.STEPS
    monkeypatch.setattr(migrations, "STEPS", steps[:5])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 5)
    cli("--db", str(db), "list")  # now at schema 5, as the previous dealctl left it
    conn = _connect(db, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    # The latest row of the deal with the longest history is taken back; another deal
    # loses its whole history.
    longest, second = conn.execute(
        "SELECT deal_id FROM stage_changes GROUP BY deal_id ORDER BY COUNT(*) DESC, deal_id LIMIT 2"
    ).fetchall()
    conn.execute(
        "UPDATE stage_changes SET deleted_at = '2026-12-01T00:00:00+09:00' WHERE id = (SELECT id"
        " FROM stage_changes WHERE deal_id = ? ORDER BY at DESC, rowid DESC LIMIT 1)",
        longest,
    )
    conn.execute(
        "UPDATE stage_changes SET deleted_at = '2026-12-01T00:00:00+09:00' WHERE deal_id = ?",
        second,
    )
    expected: dict[str, str | None] = {r[0]: None for r in conn.execute("SELECT id FROM deals")}
    for deal_id, at in conn.execute(
        "SELECT deal_id, at FROM stage_changes WHERE deleted_at IS NULL"
    ):
        expected[deal_id] = max(at, expected[deal_id] or at)
    conn.close()
    assert expected[second[0]] is None and len(expected) == 47
    monkeypatch.setattr(migrations, "STEPS", steps)
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", len(steps))
    cli("--db", str(db), "list")
    assert cli.stderr.startswith(f"dealctl: upgraded {db} from schema 5 to {len(steps)};")
    conn = _connect(db)
    assert dict(conn.execute("SELECT id, moved_at FROM deals").fetchall()) == expected
    conn.close()


def test_doctor_reports_a_damaged_file(cli: Cli, db_path: Path) -> None:
    cli("import", str(EXAMPLES / "book"))
    conn = _connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'deals_account'"
    ).fetchone()[0]
    conn.close()
    with db_path.open("r+b") as handle:  # scribble over one index page
        handle.seek((root - 1) * page_size + 8)
        handle.write(b"\xff" * 64)
    rows = _doctor(cli)
    assert rows and {r["check"] for r in rows} == {"integrity"}
    assert rows[0]["fix"].startswith("restore your latest copy")


def _run_fix(db_path: Path, fix: str, value: str = "") -> None:
    """Run the SQL a fix gives, as a person would in the sqlite3 shell (foreign keys off)."""
    match = re.search(r'sqlite3 FILE "([^"]*)"', fix)
    assert match, fix
    sql = match[1]
    for placeholder in ("YYYY-MM-DDTHH:MM:SS+HH:MM", "YYYY-MM-DD"):
        sql = sql.replace(f"'{placeholder}'", f"'{value}'")
    _sql(db_path, sql)


def _small_pipeline(cli: Cli) -> None:
    cli("add", "Open one", "--next", "call", "--due", "tomorrow")
    cli("advance", "1")  # at hearing, by its history
    cli("add", "Won one")
    cli("close", "2")
    cli("add", "Lost one")
    cli("lose", "3", "--reason", "price")


LOST_DEALS = [
    (
        "UPDATE deals SET stage_id = 'x' WHERE number = 1",
        1,
        "deal 1 is at a stage that does not exist (stage_id 'x'), so no dealctl command can"
        " see it (written by another tool?)",
        "put it at stage hearing of b2b (where its stage history last put it): sqlite3 FILE"
        ' "UPDATE deals SET stage_id = (SELECT id FROM stages WHERE pipeline_id ='
        " deals.pipeline_id AND key = 'hearing' AND deleted_at IS NULL) WHERE id = ",
        [],
    ),
    (
        "UPDATE deals SET pipeline_id = 'y' WHERE number = 3",
        3,
        "deal 3 is in a pipeline that does not exist (pipeline_id 'y'), so no dealctl command"
        " can see it (written by another tool?)",
        'put it back in the pipeline of its stage approach (b2b): sqlite3 FILE "UPDATE deals'
        " SET pipeline_id = (SELECT pipeline_id FROM stages WHERE id = deals.stage_id)",
        [],
    ),
    (
        "UPDATE deals SET stage_id = 'x', pipeline_id = 'y' WHERE number = 2",
        2,
        "deal 2 is at a stage that does not exist (stage_id 'x') and in a pipeline that does"
        " not exist (pipeline_id 'y'), so no dealctl command can see it",
        "put it at stage contract of b2b (where its stage history last put it): sqlite3 FILE"
        " \"UPDATE deals SET pipeline_id = (SELECT id FROM pipelines WHERE key = 'b2b'",
        [],
    ),
    (
        "UPDATE deals SET stage_id = 'x' WHERE number = 2;"
        "UPDATE stage_changes SET deleted_at = 'x' WHERE deal_id ="
        " (SELECT id FROM deals WHERE number = 2)",
        2,
        "deal 2 is at a stage that does not exist (stage_id 'x')",
        "put it at stage contract of b2b (the won stage, as the deal is won)",
        # Visible again, so the next problem gets a command that works.
        [("states", "deal 2 has no stage history", "dealctl history 2 shows its moves")],
    ),
]


@pytest.mark.parametrize(
    ("sql", "number", "problem", "fix", "then"),
    LOST_DEALS,
    ids=["stage", "pipeline", "both", "no history"],
)
def test_doctor_fixes_a_deal_at_a_stage_or_pipeline_that_does_not_exist(
    cli: Cli,
    db_path: Path,
    sql: str,
    number: int,
    problem: str,
    fix: str,
    then: list[tuple[str, str, str]],
) -> None:
    _small_pipeline(cli)
    _sql(db_path, *sql.split(";"))
    cli("show", str(number), code=3)  # every command reads deals joined to both
    assert cli.stderr == f"dealctl: no deal {number}\n"
    rows = _doctor(cli)
    # One problem, and no fix that names a command (it could not see the deal).
    assert [(r["check"], r["table"], r["number"]) for r in rows] == [
        ("foreign_keys", "deals", number)
    ], rows
    assert rows[0]["problem"].startswith(problem), rows[0]["problem"]
    assert rows[0]["fix"].startswith("restore your latest copy from before this happened, or ")
    assert fix in rows[0]["fix"], rows[0]["fix"]
    assert "dealctl " not in rows[0]["fix"] and "None" not in rows[0]["problem"]
    _run_fix(db_path, rows[0]["fix"])
    cli("show", str(number))
    after = _doctor(cli, code=1 if then else 0)
    assert [(r["check"], r["problem"]) for r in after] == [(c, p) for c, p, _ in then]
    assert all(r["fix"].startswith(f) for r, (_, _, f) in zip(after, then, strict=True))


BAD_DATES = [
    # (column made bad, value, the problem's start, the fix's start, how to apply it)
    ("deals", "next_due", "garbage", "deal 1 has next_due 'garbage', which is not a date"
     " (YYYY-MM-DD) or a moment with its offset", "dealctl edit 1 --due DATE", ("--due", "fri")),
    ("deals", "close_date", "soon", "deal 1 has close_date 'soon', which is not a date",
     "dealctl edit 1 --close DATE", ("--close", "eom")),
    ("deals", "next_due", "2026-12-04T14:00", "deal 1 has next_due '2026-12-04T14:00', which"
     " is not", "dealctl edit 1 --due DATE", ("--due", "")),
    ("deals", "closed_at", "2026-12-01", "deal 2 has closed_at '2026-12-01', which is not a"
     " moment with its offset", "sqlite3 FILE \"UPDATE deals SET closed_at =", None),
    ("deals", "created_at", "yesterday", "deal 1 has created_at 'yesterday'",
     "sqlite3 FILE \"UPDATE deals SET created_at =", None),
    ("deals", "updated_at", "2026-12-03T09:00:00", "deal 1 has updated_at", "sqlite3 FILE", None),
    ("deals", "last_contact_at", "2026/12/01 10:00+09:00", "deal 1 has last_contact_at",
     "sqlite3 FILE", None),
    ("activities", "at", "12/01/2026", "activity ", "sqlite3 FILE \"UPDATE activities SET at =",
     None),
    ("activities", "created_at", "", "activity ", "sqlite3 FILE", None),
    ("stage_changes", "at", "x", "stage change ", "sqlite3 FILE \"UPDATE stage_changes SET at =",
     None),
    ("stage_changes", "at", "2026-13-01T10:00:00+09:00", "stage change ",
     "sqlite3 FILE \"UPDATE stage_changes SET at =", None),
    ("activities", "at", "2026-12-32T10:00:00+09:00", "activity ",
     "sqlite3 FILE \"UPDATE activities SET at =", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "column", "value", "problem", "fix", "edit"),
    BAD_DATES,
    ids=[f"{c[0]}.{c[1]}={c[2]}" for c in BAD_DATES],
)
def test_doctor_finds_a_stored_date_in_the_wrong_form(
    cli: Cli,
    db_path: Path,
    table: str,
    column: str,
    value: str,
    problem: str,
    fix: str,
    edit: tuple[str, str] | None,
) -> None:
    _small_pipeline(cli)
    cli("log", "1", "called")
    cli("edit", "1", "--close", "eom")
    number = 2 if column == "closed_at" else 1
    deal = f"(SELECT id FROM deals WHERE number = {number})"
    where = f"id = {deal}" if table == "deals" else f"rowid = (SELECT MAX(rowid) FROM {table}"
    where += "" if table == "deals" else f" WHERE deal_id = {deal})"
    _sql(db_path, f"UPDATE {table} SET {column} = '{value}' WHERE {where}")
    rows = _doctor(cli)
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["check"], row["table"]) == ("states", table)
    assert row["number"] == (number if table == "deals" else None)
    assert row["problem"].startswith(problem), row["problem"]
    if table != "deals":
        assert f"of deal {number} has {column} {value!r}" in row["problem"], row["problem"]
    assert row["fix"].startswith(fix), row["fix"]
    if edit is not None:
        cli("edit", str(number), *edit)
    else:
        good = "2026-12-01" if column == "close_date" else "2026-12-01T10:00:00+09:00"
        _run_fix(db_path, row["fix"], good)
    assert _doctor(cli, code=0) == []
    cli("list", "--status", "all")
    cli("show", str(number))


@pytest.mark.parametrize(
    ("value", "form", "ok"),
    [
        ("2026-12-25", "date", True),
        ("2026-02-30", "date", False),
        ("0000-01-01", "date", False),
        ("2026-12-25T10:00:00+09:00", "date", False),
        ("2026-12-03T09:00:00+09:00", "moment", True),
        ("2026-12-03 09:00:00Z", "moment", True),
        ("2026-11-28T12:00:00.250-05:00", "moment", True),
        ("2026-12-03T09:00:00", "moment", False),  # no offset: commands compare with aware times
        ("2026-12-03", "moment", False),
        ("20261203T090000+0900", "moment", False),  # the commands read the date as [:10]
        ("2026-12-03T24:00:00+09:00", "moment", False),
        ("2026-12-03T09:00:00+24:00", "moment", False),
        ("2026-02-29T09:00:00+09:00", "moment", False),
        # No such month or day: julianday() is NULL for them, not a carried date.
        ("2026-13-01", "date", False),
        ("2026-12-32", "date", False),
        ("2026-00-10", "date", False),
        ("2026-13-01", "due", False),
        ("2026-13-01T10:00+09:00", "due", False),
        ("2026-13-01T10:00:00+09:00", "moment", False),
        ("2026-12-32T10:00:00+09:00", "moment", False),
        ("2026-12-04", "due", True),
        ("2026-12-04T14:00+09:00", "due", True),
        ("2026-12-04T14:00", "due", False),
        ("2026-12-04T14:60+09:00", "due", False),
        (None, "due", False),
        (20261204, "date", False),
    ],
)
def test_the_documented_date_forms(value: object, form: str, ok: bool) -> None:
    from dealctl.doctor import surely_well_formed, well_formed

    assert well_formed(value, form) is ok
    # doctor's fast path in SQL passes only values well_formed accepts, and the forms
    # dealctl writes (to the second, or to the minute for a due moment) among them.
    conn = _connect(":memory:")
    conn.execute("CREATE TABLE t (v)")
    conn.execute("INSERT INTO t VALUES (?)", (value,))
    [sure] = conn.execute(f"SELECT {surely_well_formed('v', form)} FROM t").fetchone()
    conn.close()
    # Never NULL for a value: doctor selects `NOT (...)`, and NOT NULL selects nothing.
    assert sure in (0, 1) or value is None, sure
    assert not sure or ok
    if ok and isinstance(value, str) and (value.endswith("+09:00") or len(value) == 10):
        assert sure, value


# The commands that read a deal's day last active: the latest of created_at,
# last_contact_at and moved_at (stage rows from an index for `pipeline --summary` and the
# machine formats, the deals themselves for the rest).
AGING = [
    "stale", "stale -f json", "pipeline --summary", "pipeline -f json", "pipeline", "next",
    "show 1", "digest", "calendar -o CAL",
]  # fmt: skip
# The lost deal's closed_at: the deals worth another try, in a period too, and the digest.
REVISIT = ["revisit", "revisit --since 2026-01-01 --pipeline b2b", "digest"]
# (column damaged, value, deal, the commands that stop at it, a good value to put back)
DAMAGED_READS = [
    ("moved_at", "garbage", 1, [*AGING, "close 1 --date yesterday"], None),
    ("moved_at", "2026-02-30T10:00:00+09:00", 1, [*AGING, "close 1 --date yesterday"], None),
    ("last_contact_at", "garbage", 1, AGING, "2026-02-20T10:00:00+09:00"),
    ("last_contact_at", "2026-02-30T10:00:00+09:00", 1, AGING, "2026-02-20T10:00:00+09:00"),
    ("created_at", "garbage", 1, [*AGING, "close 1 --date yesterday"], "2026-02-20T09:00:00+09:00"),
    ("created_at", "2026-02-30T10:00:00+09:00", 1, [*AGING, "close 1 --date yesterday"],
     "2026-02-20T09:00:00+09:00"),
    # Deal 3 has had nothing done since it was added: digest's first-response wait reads
    # the whole moment, which must carry its offset.
    ("created_at", "2026-02-20T09:00:00", 3, ["digest", "calendar -o CAL",
     "close 3 --date yesterday"], "2026-02-20T09:00:00+09:00"),
    ("updated_at", "garbage", 1, ["calendar -o CAL"], "2026-02-20T09:00:00+09:00"),
    ("close_date", "2026-02-30", 1, ["digest", "forecast"], "2026-02-27"),
    ("closed_at", "2026-02-30T10:00:00+09:00", 2, REVISIT, "2026-02-20T09:00:00+09:00"),
    # No such month or day (SQLite's julianday() gives NULL for them).
    ("next_due", "2026-13-01", 1, ["list", "show 1", "digest", "calendar -o CAL"],
     "2026-12-04"),
    ("close_date", "2026-00-10", 1, ["digest", "forecast"], "2026-02-27"),
    ("close_date", "2026-12-32", 1, ["forecast"], "2026-02-27"),
    ("created_at", "2026-13-01T10:00:00+09:00", 1, [*AGING, "close 1 --date yesterday"],
     "2026-02-20T09:00:00+09:00"),
    ("last_contact_at", "2026-13-01T10:00:00+09:00", 1, AGING, "2026-02-20T10:00:00+09:00"),
    ("closed_at", "2026-13-01T10:00:00+09:00", 2, REVISIT, "2026-02-20T09:00:00+09:00"),
    # Sorts after every date, so a comparison as text would pass it over.
    ("closed_at", "garbage", 2, REVISIT, "2026-02-20T09:00:00+09:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("column", "value", "number", "commands", "good"),
    DAMAGED_READS,
    ids=[f"{c[0]}={c[1]}" for c in DAMAGED_READS],
)
def test_a_damaged_stored_date_stops_each_command_that_reads_it_naming_deal_and_field(
    cli: Cli,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    column: str,
    value: str,
    number: int,
    commands: list[str],
    good: str | None,
) -> None:
    set_clock(monkeypatch, "2026-02-20T09:00:00+09:00")  # 02-30 sorts after every stamp
    cli("add", "Open one", "--next", "call", "--due", "tomorrow", "--close", "2026-02-27")
    cli("log", "1", "called")
    cli("advance", "1")
    cli("add", "Lost one")
    cli("lose", "2", "--reason", "price")
    cli("add", "Quiet one", "--next", "call", "--due", "tomorrow")
    set_clock(monkeypatch, NOW)
    _sql(db_path, f"UPDATE deals SET {column} = '{value}' WHERE number = {number}")
    before = full_dump(db_path)
    field = "due" if column == "next_due" else column
    message = (
        f"dealctl: deal {number} has a damaged {field} value {value!r} in the database;"
        " dealctl doctor says how to fix it\n"
    )
    calendar = db_path.parent / "cal.ics"
    runs = [[str(calendar) if a == "CAL" else a for a in c.split()] for c in commands]
    for args in runs:
        assert cli(*args, code=5) == "", args
        assert cli.stderr == message, args
    assert full_dump(db_path) == before
    assert not calendar.exists()
    # doctor names the deal and the column, and its fix makes every command work again.
    rows = _doctor(cli)
    assert [(r["check"], r["table"], r["number"]) for r in rows] == [("states", "deals", number)]
    problem, fix = rows[0]["problem"], rows[0]["fix"]
    assert problem.startswith(f"deal {number} has "), problem
    assert column in problem + fix, rows[0]
    if fix.startswith("dealctl edit"):  # dealctl edit N --due DATE, or --close DATE
        cli("edit", str(number), fix.split()[3], str(good))
    else:
        _run_fix(db_path, fix, good or "")
    assert _doctor(cli, code=0) == []
    for args in runs:
        cli(*args)


@pytest.mark.parametrize(
    "value", ["2026-13-01", "2026/12/25", "20261225", "garbage", "2026-02-30", "2026-12-25 "]
)
def test_forecast_stops_at_an_expected_close_date_that_is_no_date(
    cli: Cli, db_path: Path, value: str
) -> None:
    """Every open deal has a row in the forecast: one whose close_date is no date, which
    would fit no bucket (or the wrong one, compared as text), stops it instead."""
    cli("import", str(EXAMPLES / "book"))
    healthy = cli("forecast", "-f", "json")
    opened = json.loads(cli("list", "--status", "open", "-f", "json"))
    assert sum(r["open_count"] for r in json.loads(healthy)) == len(opened)
    _sql(db_path, f"UPDATE deals SET close_date = '{value}' WHERE number = 5")
    before = full_dump(db_path)
    for args in (
        ["forecast"],
        ["forecast", "-f", "json"],
        ["forecast", "--since", "2027-02-01", "--months", "2"],
        ["forecast", "--pipeline", "b2b", "--owner", "佐藤"],
    ):
        assert cli(*args, code=5) == "", args
        assert cli.stderr == (
            f"dealctl: deal 5 has a damaged close_date value {value!r} in the database;"
            " dealctl doctor says how to fix it\n"
        )
    assert full_dump(db_path) == before
    cli("forecast", "--owner", "田中")  # deal 5 is not in that forecast
    [row] = _doctor(cli)
    assert (row["number"], row["fix"]) == (
        5,
        'dealctl edit 5 --close DATE (or --close "" to clear it)',
    )
    cli("edit", "5", "--close", "2026-12-25")
    assert cli("forecast", "-f", "json") == healthy


def test_a_damaged_approval_step_date_stops_route_check_naming_the_deal(
    cli: Cli, db_path: Path
) -> None:
    cli("add", "A")
    cli("route", "set", "1", "--template", "ringi")
    cli("route", "check", "1", "--date", "2026-12-01")
    for value in ("garbage", "2026-02-30"):
        _sql(db_path, f"UPDATE approval_steps SET done_on = '{value}' WHERE done_on IS NOT NULL")
        before = full_dump(db_path)
        assert cli("route", "check", "1", code=5) == ""
        assert cli.stderr == (
            f"dealctl: deal 1 has a damaged approval step done_on value {value!r} in the"
            " database; dealctl doctor says how to fix it\n"
        )
        assert full_dump(db_path) == before
    [row] = _doctor(cli)
    assert (row["table"], row["problem"]) == (
        "approval_steps",
        f"approval step {row['id'][:8]} of deal 1 has done_on '2026-02-30', which is not a date"
        " (YYYY-MM-DD); commands that read it stop with an error",
    )
    _run_fix(db_path, row["fix"], "2026-12-01")
    assert _doctor(cli, code=0) == []
    cli("route", "check", "1")


# The funnel counts every deal of its pipeline by its stage history, whatever the period.
FUNNEL = [
    "funnel", "funnel -f json", "funnel --overall", "funnel --overall -f json",
    "funnel --since 2026-11-01 --until 2026-11-30",
]  # fmt: skip
# The commands that count an open deal's days at its stage from its stage history.
IN_STAGE = [
    "stale", "stale -f json", "pipeline -f table", "next", "next -f json", "show 1",
    "show 1 -f json", "digest", "calendar -o CAL",
]  # fmt: skip
# And those that read the history as text only: they show the value as stored.
AS_TEXT = ["list", "pipeline", "pipeline -f json", "funnel --pipeline b2c", "show 2", "show 3"]
# (deal, its stage change damaged, the commands that stop at it)
DAMAGED_MOVES = [
    (1, "created", [*FUNNEL, *IN_STAGE]),  # open, at hearing since its advance
    (2, "won", FUNNEL),  # the sales cycle ends at this move
]


@pytest.mark.parametrize(
    "value",
    ["garbage", "2026-13-01T10:00:00+09:00", "2026-02-30T10:00:00+09:00", "2026/09/11 10:00"],
)
@pytest.mark.parametrize(("number", "move", "commands"), DAMAGED_MOVES, ids=["open", "won"])
def test_a_damaged_stage_change_moment_stops_the_reports_that_count_days_by_it(
    cli: Cli,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    number: int,
    move: str,
    commands: list[str],
) -> None:
    """Days in stage, the funnel and the sales cycle are counted from the day each stage
    change starts with: a moment that starts with no calendar day (julianday() has none for
    a month 13 and carries 02-30 to 03-02) would be left out of the sums or counted on
    another day, so those reports stop instead, naming the deal."""
    for moment, args in [
        ("2026-10-01T09:00:00+09:00", ("add", "Open one", "--next", "call", "--due", "+90d")),
        ("2026-10-01T10:00:00+09:00", ("add", "Won one")),
        ("2026-10-15T09:00:00+09:00", ("advance", "1")),
        ("2026-10-20T09:00:00+09:00", ("advance", "2")),
        ("2026-11-10T09:00:00+09:00", ("close", "2")),
        ("2026-11-12T09:00:00+09:00", ("add", "Lost one")),
        ("2026-11-20T09:00:00+09:00", ("lose", "3", "--reason", "price")),
    ]:
        set_clock(monkeypatch, moment)
        cli(*args)
    set_clock(monkeypatch, NOW)
    calendar = db_path.parent / "cal.ics"

    def lines(texts: list[str]) -> list[list[str]]:
        return [[str(calendar) if a == "CAL" else a for a in c.split()] for c in texts]

    runs = lines(commands)
    passing = lines([c for c in [*FUNNEL, *IN_STAGE, *AS_TEXT] if c not in commands])
    healthy = {tuple(args): cli(*args) for args in runs + passing}
    written = calendar.read_bytes()
    calendar.unlink()
    to_status = "open" if move == "created" else "won"
    row = (
        "(SELECT sc.rowid FROM stage_changes sc JOIN deals d ON d.id = sc.deal_id"
        f" WHERE d.number = {number} AND sc.to_status = '{to_status}' ORDER BY sc.rowid LIMIT 1)"
    )
    conn = _connect(db_path)
    [(stored,)] = conn.execute(f"SELECT at FROM stage_changes WHERE rowid = {row}")
    conn.close()
    _sql(db_path, f"UPDATE stage_changes SET at = '{value}' WHERE rowid = {row}")
    before = full_dump(db_path)
    for args in runs:
        assert cli(*args, code=5) == "", args
        assert cli.stderr == (
            f"dealctl: deal {number} has a damaged stage change at value {value!r} in the"
            " database; dealctl doctor says how to fix it\n"
        ), args
    assert full_dump(db_path) == before
    assert not calendar.exists()
    for args in passing:  # they do not count by it: it passes through them as text
        cli(*args)
    assert value in cli("export", "stage-changes")
    if move == "won":  # a closed deal's timeline shows it as stored
        assert f"  {value[:16].replace('T', ' ')}  stage     open → won" in cli("show", "2")
    # doctor names the deal and the column; its fix (the value it had) gives every figure back.
    problems = _doctor(cli)
    if value < stored and move == "won":  # the history's latest is now the move before
        moved = problems.pop(0)
        assert (moved["table"], moved["number"]) == ("deals", number), moved
        assert "has a last stage change of 2026-11-10T09:00:00+09:00 stored" in moved["problem"]
    [problem] = problems
    assert (problem["check"], problem["table"]) == ("states", "stage_changes")
    assert problem["problem"] == (
        f"stage change {problem['id'][:8]} of deal {number} has at {value!r}, which is not a"
        " moment with its offset (2026-12-03T09:00:00+09:00); commands that read it stop with"
        " an error"
    )
    _run_fix(db_path, problem["fix"], stored)
    assert _doctor(cli, code=0) == []
    for args in runs + passing:
        assert cli(*args) == healthy[tuple(args)], args
    assert calendar.read_bytes() == written


def test_doctor_says_a_follow_up_moment_that_is_no_moment_is_only_shown(
    cli: Cli, db_path: Path
) -> None:
    """No command reads a follow-up's moments as dates: doctor says what happens to them."""
    cli("add", "A")
    cli("log", "1", "called")
    _sql(db_path, "UPDATE activities SET at = 'garbage'")
    assert "garbage" in cli("show", "1")
    [problem] = _doctor(cli)
    assert problem["problem"] == (
        f"activity {problem['id'][:8]} of deal 1 has at 'garbage', which is not a moment with"
        " its offset (2026-12-03T09:00:00+09:00); commands show it as stored and count nothing"
        " by it"
    )


def _cell_content(path: Path) -> int:
    """Where page 1's records start: the schema itself (sqlite_master)."""
    header = path.read_bytes()[:108]
    return int.from_bytes(header[105:107], "big") or 65536


DAMAGE = {
    "schema page": lambda path: _scribble(path, _cell_content(path), b"junk" * 50),
    "cut in half": lambda path: os.truncate(path, path.stat().st_size // 2),
    "cut short": lambda path: os.truncate(path, 50),
    "header": lambda path: _scribble(path, 0, b"not a database at all\n"),
}


def _scribble(path: Path, offset: int, junk: bytes) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(junk)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_doctor_reports_a_file_too_damaged_to_open(cli: Cli, db_path: Path, damage: str) -> None:
    cli("import", str(EXAMPLES / "book"))
    _snapshot(db_path, db_path.with_name("copy.db"))  # checkpointed: all in the one file
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    DAMAGE[damage](db_path)
    cli("list", code=5)  # other commands stop at once, as before
    before = db_path.read_bytes()
    rows = _doctor(cli)
    assert cli.stderr == "dealctl: doctor found 1 problem\n"
    assert [(r["check"], r["table"], r["number"], r["id"]) for r in rows] == [
        ("integrity", "", None, None)
    ]
    assert rows[0]["problem"].startswith("damaged: SQLite cannot read the file ("), rows[0]
    assert rows[0]["problem"].endswith("so no other check can run"), rows[0]
    assert "\n" not in rows[0]["problem"]
    assert rows[0]["fix"] == (
        "restore your latest copy (dealctl backup PATH makes one; an upgrade keeps the old"
        " file as FILE.schemaN.bak), or rescue what is readable:"
        " sqlite3 FILE .recover | sqlite3 NEW.db"
    )
    table = cli("doctor", "--format", "table", code=1)
    assert table.splitlines()[1:3] == ["  integrity     1 problem", "  foreign_keys  ok"]
    assert db_path.read_bytes() == before, "doctor only reads"


# --- privacy -------------------------------------------------------------------------------------


def test_every_file_dealctl_writes_is_private(cli: Cli, db_path: Path, tmp_path: Path) -> None:
    old_umask = os.umask(0)
    cli("add", "A")
    reader = _connect(db_path)  # an open reader keeps -wal and -shm in place
    reader.execute("SELECT COUNT(*) FROM deals").fetchall()
    try:
        cli("import", str(EXAMPLES / "book"))
        cli("backup", str(tmp_path / "copy.db"))
        cli("export", "deals", "-o", str(tmp_path / "deals.csv"))
        old = tmp_path / "old.db"
        shutil.copy(SCHEMA1, old)
        old.chmod(0o600)
        cli("--db", str(old), "list")
    finally:
        os.umask(old_umask)
    files = [db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), tmp_path / "copy.db",
             tmp_path / "deals.csv", tmp_path / "old.db.schema1.bak"]  # fmt: skip
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {
        f.name: "0o600" for f in files
    }
    reader.close()


def test_debug_tracebacks_never_show_local_values(cli: Cli) -> None:
    cli("add", "A")
    secret = "SECRET-4f2a-customer-note"
    env = {**os.environ, "DEALCTL_DEBUG": "1"}
    result = subprocess.run(
        [DEALCTL, "log", "999", secret, "--next", secret],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "dealctl.errors.NotFound: no deal 999" in result.stderr
    assert secret not in result.stderr
    assert "locals" not in result.stderr.lower() and "╭" not in result.stderr


def test_an_internal_error_shows_no_values_without_debug(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dealctl import deals

    def broken(*args: Any, **kwargs: Any) -> None:
        note = "SECRET-note"
        raise RuntimeError(f"boom {note}")

    monkeypatch.setattr(deals, "log", broken)
    cli("add", "A")
    cli("log", "1", "SECRET-text", code=1)
    assert cli.stderr == (
        "dealctl: internal error (RuntimeError); nothing was written."
        " Run with DEALCTL_DEBUG=1 to see the traceback\n"
    )


def test_hostile_text_is_stored_as_text_and_names_come_from_allow_lists(
    cli: Cli, db_path: Path
) -> None:
    evil = "x'); DROP TABLE deals; --"
    cli("add", evil, "-a", evil, "--next", evil, "--tag", evil, "--notes", '" OR 1=1 --')
    assert json.loads(cli("show", "1", "--format", "json"))["title"] == evil
    assert cli("list", "--search", "' OR '1'='1", "--format", "csv").count("\n") == 1
    cli("list", "--sort", "number; DROP TABLE deals", code=2)
    assert cli.stderr.startswith("dealctl: invalid --sort 'number; DROP TABLE deals'")
    cli("list", "--status", "open' OR 1=1 --", code=2)
    cli("export", "deals; DROP TABLE deals", code=2)
    cli("list", "--stage", "x' OR 1=1 --", code=2)
    assert counts(db_path)["deals"] == 1
    cli("doctor")


# Every f-string that builds SQL in src/, keyed by file and what it interpolates. Each was
# read: the values are column or table names from code or sqlite_master, placeholders,
# or constants, never text from the command line or a file. A new one must be read too,
# then added here (and to the audit in docs/reliability.md).
SQL_FSTRINGS = {
    ("accounts.py", ("_STATUS_ORDER",)),
    ("analytics.py", ("_LAST_ACTIVE",)),
    ("analytics.py", ("_LOCAL_DAY",)),
    ("analytics.py", ("marks",)),
    ("analytics.py", ("position",)),
    ("analytics.py", ("index", "index")),
    ("catalogue.py", ("table", "column")),
    ("deals.py", ("table",)),
    ("deals.py", ("columns", "marks")),
    ("deals.py", ("assignments",)),
    ("deals.py", ("order",)),
    ("deals.py", ("LAST_MOVE", "where")),
    ("doctor.py", ("table",)),
    ("doctor.py", ("table", "table")),
    ("doctor.py", ("table", "parent", "column")),
    ("doctor.py", ("base", "condition")),
    ("doctor.py", ("LAST_MOVE", "LAST_MOVE")),
    # Column names of doctor's constant _DATED, and conditions built from them and
    # constant GLOB patterns (surely_well_formed); the table is a key of _DATED.
    ("doctor.py", ("', '.join(values)", "doubtful")),
    ("doctor.py", ("', '.join(values)", "table", "live", "doubtful")),
    # Shown, never run: the UPDATE a fix gives (table from the catalogue, id quoted as a
    # literal) and its assignments (stage and pipeline keys quoted as literals).
    ("doctor.py", ("table", "assignments", "_quoted(row_id)")),
    ("doctor.py", ("stage",)),
    ("doctor.py", ("pipeline", "pipeline", "stage")),
    ("importing/engine.py", ("', '.join(_INSERT_COLUMNS)",)),
    ("importing/engine.py", ("BIG_IMPORT_CACHE_KIB",)),
    ("importing/engine.py", ("int(before)",)),
    ("importing/engine.py", ("merged",)),
    ("importing/engine.py", ("marks",)),
    ("importing/engine.py", ("column",)),
    ("importing/engine.py", ("table",)),
    ("queries.py", ("column", "table")),
    ("records.py", ("table", "columns", "marks")),
    ("records.py", ("table", "assignments")),
    ("storage.py", ("int(busy * 1000)",)),
    ("storage.py", ("migrations.SCHEMA_VERSION",)),
    ("transfer.py", ("select", "rest")),
    ("transfer.py", ("sql", "starts", "sql", "sql")),
    ("undo.py", ("name",)),
    ("undo.py", ("table",)),
    ("undo.py", ("table", "column")),
    ("undo.py", ("column", "table")),
    ("undo.py", ("record.table",)),
}
_SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|ORDER BY|GROUP BY|FROM|JOIN|PRAGMA|VALUES|SET|IN \()"
)
# `IN (?, ?, ?)`: one placeholder per value, nothing else.
_PLACEHOLDERS = re.compile(r"^', '\.join\(\('\?' for _ in [\w.]+\)\)$")


def test_no_sql_is_built_from_unreviewed_text() -> None:
    found = set()
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.JoinedStr):
                continue
            text = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
            if _SQL_WORDS.search(text):
                exprs = tuple(
                    ast.unparse(v.value) for v in node.values if isinstance(v, ast.FormattedValue)
                )
                exprs = tuple(e for e in exprs if not _PLACEHOLDERS.match(e))
                if exprs:
                    found.add((path.relative_to(SRC).as_posix(), exprs))
    assert found - SQL_FSTRINGS == set(), "review these f-strings that build SQL"
