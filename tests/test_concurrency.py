"""Several dealctl at once: writers queue, readers never wait, a stuck writer says busy.

The load test starts 4 writer processes and a reader process. Each writer runs
`dealctl log` 100 times (500 with DEALCTL_SLOW_TESTS=1) through Click's CliRunner
inside its own Python process: every call opens the file with a connection of its
own, as a separate `dealctl` would, without paying a Python start-up per call, so the
run stays short (a few seconds, most of it SQLite's fsync at each commit) while the
processes really contend for the file. The reader loops over the reports until the
writers are done.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dealctl import migrations
from dealctl.storage import DEFAULT_BUSY_SECONDS
from tests.conftest import EXAMPLES, Cli
from tests.fixtures.dbstate import SCHEMA1, full_dump, live_state

DEALCTL = str(Path(sys.executable).with_name("dealctl"))
SLOW = bool(os.environ.get("DEALCTL_SLOW_TESTS"))
WRITERS = 4
LOGS = 500 if SLOW else 100

# A worker process: runs dealctl commands in a loop and reports each exit status.
WORKER = """
import json, os, sys, time
import typer.main, typer.testing
from dealctl.cli import app
command = typer.main.get_command(app)
typer.testing._get_command = lambda _: command  # build the command once
runner = typer.testing.CliRunner()
role, name, count, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
results = []
i = 0
while (i < count) if role == "writer" else not os.path.exists(stop):
    if role == "writer":
        args = ["log", "1", f"{name}-{i}", "--kind", "call"]
    else:
        args = [["digest"], ["pipeline"], ["due"], ["export", "activities"]][i % 4]
        if args == ["digest"] and "digest" not in command.commands:
            args = ["list"]
    started = time.monotonic()
    result = runner.invoke(app, args)
    took = time.monotonic() - started
    lines = result.stdout.count("\\n") if args[0] == "export" else None
    results.append([args[0], result.exit_code, result.stderr[-300:], took, lines])
    i += 1
print(json.dumps(results))
"""


def _spawn(role: str, name: str, count: int, stop: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, role, name, str(count), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def _results(proc: subprocess.Popen[str]) -> list[list[object]]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    results: list[list[object]] = json.loads(out)
    return results


def test_writers_at_once_lose_nothing_and_the_reader_never_fails(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    cli("add", "Busy deal", "--next", "call", "--due", "today")
    stop = tmp_path / "stop"
    reader = _spawn("reader", "r", 0, stop)
    writers = [_spawn("writer", f"w{n}", LOGS, stop) for n in range(WRITERS)]
    try:
        written = [_results(w) for w in writers]
    finally:
        stop.touch()
    read = _results(reader)
    for results in written:
        assert [(r[0], r[1], r[2]) for r in results] == [("log", 0, "")] * LOGS
    conn = sqlite3.connect(db_path)
    texts = [t for (t,) in conn.execute("SELECT text FROM activities WHERE deleted_at IS NULL")]
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert sorted(texts) == sorted(f"w{n}-{i}" for n in range(WRITERS) for i in range(LOGS))
    assert len(read) >= 4, "the reader ran while the writers wrote"
    assert {(r[1], r[2]) for r in read} == {(0, "")}  # never "database busy", never an error
    # A read that queued behind the writers would take up to the busy timeout (and fail
    # at it); none came near. (That readers take no lock at all is shown with a timeout
    # of 0 by test_readers_never_wait_for_a_writer: timing a loaded machine cannot.)
    slowest = max(read, key=lambda r: float(str(r[3])))
    assert float(str(slowest[3])) < DEFAULT_BUSY_SECONDS, slowest
    # Every export the reader took was a committed state: the count only ever grows.
    seen = [int(str(r[4])) for r in read if r[0] == "export"]
    assert seen == sorted(seen)
    cli("doctor")


@contextmanager
def _write_lock(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's writer, stuck in the middle of its transaction."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO commands (id, name, args, at) VALUES ('uncommitted', 'x', '[]', 'x')")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def _run(*args: str, timeout: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [DEALCTL, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DEALCTL_BUSY_TIMEOUT": timeout},
        timeout=60,
        check=False,
    )
    return result, time.monotonic() - started


def test_readers_never_wait_for_a_writer(cli: Cli, db_path: Path, tmp_path: Path) -> None:
    cli("import", str(EXAMPLES / "book"))
    expected = cli("list", "--format", "csv")
    with _write_lock(db_path):
        # With no patience at all, every read still goes through: WAL readers take no lock.
        for args in (("list", "--format", "csv"), ("doctor",), ("undo", "--list")):
            result, _ = _run(*args, timeout="0")
            assert (result.returncode, result.stderr) == (0, ""), args
            if args[0] == "list":
                assert result.stdout == expected
        result, _ = _run("backup", str(tmp_path / "copy.db"), timeout="0")
        assert result.returncode == 0, result.stderr
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT COUNT(*) FROM commands WHERE id = 'uncommitted'").fetchone() == (0,)
    copy.close()


@pytest.mark.parametrize(
    "args",
    [("log", "1", "called"), ("add", "x"), ("undo",), ("import", str(EXAMPLES / "book"))],
    ids=lambda a: a[0],
)
def test_a_writer_that_cannot_get_the_lock_says_busy_and_writes_nothing(
    cli: Cli, db_path: Path, args: tuple[str, ...]
) -> None:
    cli("add", "A")
    before = full_dump(db_path)
    with _write_lock(db_path):
        result, took = _run(*args, timeout="0.3")
    assert result.returncode == 4
    assert result.stderr == (
        f"dealctl: database busy: {db_path} is locked by another dealctl; try again\n"
    )
    assert result.stdout == ""
    assert took >= 0.3
    assert full_dump(db_path) == before


def test_an_upgrade_waits_for_the_lock_and_backs_up_nothing_while_busy(
    cli: Cli, tmp_path: Path
) -> None:
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA1, db)
    db.chmod(0o600)
    before = full_dump(db)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        result, _ = _run("--db", str(db), "list", timeout="0.2")
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    assert result.returncode == 4
    assert result.stderr.startswith("dealctl: database busy: ")
    assert full_dump(db) == before
    assert not (tmp_path / "old.db.schema1.bak").exists()


def test_first_use_by_several_processes_at_once(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    old = tmp_path / "old.db"
    shutil.copy(SCHEMA1, old)
    old.chmod(0o600)
    env = {**os.environ, "DEALCTL_BUSY_TIMEOUT": "30"}
    procs = [
        subprocess.Popen(
            [DEALCTL, "--db", str(path), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for path, args in [(new, ("add", f"deal {n}")) for n in range(4)]
        + [(old, ("list",)) for _ in range(4)]
    ]
    outcomes = [(p.wait(timeout=60), p.communicate()) for p in procs]
    assert [code for code, _ in outcomes] == [0] * 8, outcomes
    created = [err for _, (_, err) in outcomes if "created database" in err]
    assert created == [f"dealctl: created database {new}\n"]
    upgraded = [err for _, (_, err) in outcomes if "upgraded" in err]
    assert upgraded == [
        f"dealctl: upgraded {old} from schema 1 to {migrations.SCHEMA_VERSION};"
        f" the old file is kept as {old}.schema1.bak\n"
    ]
    for path in (new, old):
        conn = sqlite3.connect(path)
        names = [n for (n,) in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
        assert names == [name for name, _ in migrations.STEPS], path
        conn.close()
    state = live_state(new)
    assert sorted(r[1] for r in state["deals"]) == [1, 2, 3, 4]
    assert len(state["pipelines"]) == 2  # the configured pipelines, once
    assert sorted(p.name for p in tmp_path.iterdir() if ".bak" in p.name) == ["old.db.schema1.bak"]


def test_backups_taken_during_writes_are_consistent(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    cli("add", "A")
    stop = tmp_path / "stop"
    writer = _spawn("writer", "w", 60, stop)
    copies = []
    try:
        while writer.poll() is None and _activities(db_path) == 0:
            time.sleep(0.01)
        while writer.poll() is None and len(copies) < 5:
            target = tmp_path / f"copy{len(copies)}.db"
            cli("backup", str(target))
            copies.append(target)
    finally:
        results = _results(writer)
    assert {r[1] for r in results} == {0}
    seen = []
    for copy in copies:
        conn = sqlite3.connect(copy)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        logs = conn.execute("SELECT COUNT(*) FROM commands WHERE name = 'log'").fetchone()[0]
        activities = conn.execute("SELECT COUNT(*) FROM activities").fetchone()[0]
        assert logs == activities  # a whole number of commands, never half of one
        seen.append(logs)
        conn.close()
        cli("--db", str(copy), "doctor")
    assert any(0 < n < 60 for n in seen), seen  # taken while the writer was writing


def _activities(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM activities").fetchone()[0])
    finally:
        conn.close()
