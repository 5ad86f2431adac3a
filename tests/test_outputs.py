"""Files dealctl writes besides the database, and where the database may be made.

Devices and pipes are written as they are, never replaced or re-moded (a command pointed at
``/dev/null`` must leave it a device); ``-`` is standard output; a mistyped ``--db`` does
not grow folders. FIFOs in the test folder stand in for devices: the tests never touch
real ones.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli


@pytest.fixture
def fifo(isolated: Path) -> Iterator[tuple[Path, Callable[[], bytes]]]:
    """A named pipe with a reader; the callable waits for the reader and returns what came."""
    path = isolated / "pipe"
    os.mkfifo(path, 0o644)
    received: list[bytes] = []

    def read() -> None:
        with path.open("rb") as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def collect() -> bytes:
        reader.join(10)
        return b"".join(received)

    yield path, collect
    if reader.is_alive():  # nothing opened it: let the reader go
        with path.open("wb"):
            pass
    reader.join(5)


def _is_untouched_fifo(path: Path) -> bool:
    mode = path.stat().st_mode
    return stat.S_ISFIFO(mode) and stat.S_IMODE(mode) == 0o644


@pytest.mark.parametrize(
    "command", [("export", "--format", "csv", "-o"), ("calendar", "-o")], ids=lambda c: c[0]
)
def test_writing_to_a_pipe_keeps_it_a_pipe(
    cli: Cli, fifo: tuple[Path, Callable[[], bytes]], command: tuple[str, ...]
) -> None:
    path, collect = fifo
    cli("add", "Pipe test", "--next", "call", "--due", "today")
    cli(*command, str(path))
    assert b"Pipe test" in collect()
    assert _is_untouched_fifo(path)


def test_dash_is_standard_output(cli: Cli, isolated: Path) -> None:
    cli("add", "A", "--next", "call", "--due", "today")
    assert cli("export", "-o", "-").startswith("number,id,title")
    assert cli.stderr == ""
    assert "BEGIN:VCALENDAR" in cli("calendar", "-o", "-")
    assert not (isolated / "-").exists()


def test_backup_and_config_refuse_to_replace_a_pipe(cli: Cli, isolated: Path) -> None:
    path = isolated / "pipe"
    os.mkfifo(path, 0o644)  # nothing reads it: writing it would hang the test
    cli("add", "A")
    cli("backup", str(path), "--force", code=2)
    assert cli.stderr == f"dealctl: {path} is not a regular file: choose a file or a folder\n"
    cli("config", "set", "currency", "USD", code=2, env={"DEALCTL_CONFIG": str(path)})
    assert cli.stderr == f"dealctl: cannot write settings to {path}: not a regular file\n"
    assert _is_untouched_fifo(path)


def test_a_cp932_export_is_guarded_like_excel_and_imports_back(cli: Cli, isolated: Path) -> None:
    cli(
        "add", "=HYPERLINK(1)", "--account", "株式会社サンプル"
    )  # Japanese: the file reads as CP932
    cli("add", "'=quoted already")
    out = isolated / "sjis.csv"
    cli("export", "--encoding", "cp932", "-o", str(out))
    cells = out.read_bytes().decode("cp932")
    assert ",'=HYPERLINK(1)," in cells and ",''=quoted already," in cells
    cli("--db", str(isolated / "copy.db"), "import", str(out))
    titles = cli("--db", str(isolated / "copy.db"), "list", "-f", "csv").splitlines()
    assert [line.split(",")[2] for line in titles[1:]] == ["=HYPERLINK(1)", "'=quoted already"]


def test_an_explicit_database_in_a_missing_folder_is_not_made(cli: Cli, isolated: Path) -> None:
    target = isolated / "no" / "such" / "deals.db"
    cli("--db", str(target), "add", "A", code=5)
    assert cli.stderr == f"dealctl: cannot create database {target}: no folder {target.parent}\n"
    assert not (isolated / "no").exists()


def test_the_default_location_gets_its_folders(cli: Cli, isolated: Path) -> None:
    cli("add", "A", env={"DEALCTL_DB": ""})
    made = isolated / "data" / "dealctl"
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert stat.S_IMODE((made / "deals.db").stat().st_mode) == 0o600


def test_an_empty_file_made_beforehand_becomes_private(cli: Cli, db_path: Path) -> None:
    db_path.touch(mode=0o644)
    db_path.chmod(0o644)
    cli("add", "A")
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert cli("list", "-q") == "1\n"


@pytest.mark.parametrize("target", [".", "", "folder"])
def test_an_export_to_a_folder_is_refused(cli: Cli, isolated: Path, target: str) -> None:
    (isolated / "folder").mkdir()
    cli("add", "A")
    cli("export", "-o", str(isolated / target) if target == "folder" else target, code=2)
    assert cli.stderr.endswith(": it is a folder\n") and cli.stderr.count("\n") == 1


def test_an_import_report_to_a_pipe_keeps_it_a_pipe(
    cli: Cli, fifo: tuple[Path, Callable[[], bytes]], isolated: Path
) -> None:
    path, collect = fifo
    source = isolated / "in.csv"
    source.write_text("title,amount\nA,12O\nB,100\n", encoding="utf-8")
    cli("import", str(source), "--skip-invalid", "--report", str(path))
    assert collect().startswith(b"record,row,column,value,outcome,reason\n")
    assert b",amount,12O,rejected," in collect()
    assert _is_untouched_fifo(path)


def test_a_carriage_return_in_a_field_is_quoted_in_every_csv(cli: Cli, db_path: Path) -> None:
    import csv
    import io
    import sqlite3

    cli("add", "A", "--next", "call", "--due", "today")
    title = "CR\ronly"  # nothing else that csv.writer would quote for
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE deals SET title = ?", (title,))
    conn.close()
    for args in (("list",), ("due",), ("export",)):
        records = list(csv.reader(io.StringIO(cli(*args, "--format", "csv"), newline="")))
        assert len(records) == 2, (args, records)
        assert records[1][records[0].index("title")] == title, args


def test_the_csv_fallback_for_carriage_returns_writes_what_csv_writer_writes() -> None:
    import csv
    import io

    from dealctl.render import _csv_line

    rows: list[list[object]] = [
        ["plain", 12, None, 1.5, True, "", "a,b", 'say "hi"', "two\nlines", "株式会社　テスト"],
        [""],
        [None, ""],
        [" spaced ", "-3", "=1+1"],
    ]
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(row)
        assert _csv_line(row) == buffer.getvalue(), row
    assert _csv_line(["a\rb", "c"]) == '"a\rb",c\n'
