"""All or nothing: standard input, --report, --skip-invalid, dry runs, re-imports that
change no byte, a bad last row of a large file, and a progress bar only on a terminal."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dealctl.cli import app
from dealctl.importing import engine
from dealctl.transfer import DEAL_FIELDS
from tests.conftest import EXAMPLES, Cli

BOOK = EXAMPLES / "book"
SAME = (
    "the same company once 株式会社 / (株) / ㈱ / 有限会社 / (有) / ㈲, full-width letters, case"
    " and spaces are set aside"
)


def run(*args: str, stdin: bytes | None = None, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout, result.stderr


def deals(cli: Cli) -> list[dict[str, Any]]:
    rows = json.loads(cli("export", "deals", "--format", "json"))
    assert isinstance(rows, list)
    return rows


def table_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered: 'the same values'."""
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"'), key=repr) for n in names}
    finally:
        conn.close()


def big_file(path: Path, rows: int, last: dict[str, str] | None = None) -> Path:
    """A dealctl deals.csv of ``rows`` deals; ``last`` overrides cells of the last one."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, DEAL_FIELDS, restval="", lineterminator="\n")
        writer.writeheader()
        for n in range(1, rows + 1):
            row = {
                "title": f"案件 {n}",
                "account": f"株式会社テスト{n % 97}",
                "contact": f"担当 {n % 13}",
                "stage": ("approach", "hearing", "proposal")[n % 3],
                "status": "open",
                "amount": str(n * 1000),
                "currency": "JPY",
                "created_at": f"2026-11-{n % 28 + 1:02d}T10:00:00+09:00",
                "notes": f"call secret{n}@example.com",
            }
            if n == rows and last:
                row.update(last)
            writer.writerow(row)
    return path


# --- standard input ----------------------------------------------------------------------------


def test_import_reads_standard_input(cli: Cli, tmp_path: Path) -> None:
    data = "商談名,取引先,金額\n新規導入,株式会社サンプル,120万\n".encode("cp932")
    out, _ = run("import", "-", stdin=data)
    assert out == (
        "imported (japanese): 1 deal created, 0 updated, 0 unchanged; 1 account, 0 follow-ups,"
        " 1 stage change\n"
        "  read as CP932 (Windows Japanese)\n"
    )
    assert [(d["title"], d["amount"]) for d in deals(cli)] == [("新規導入", 1200000)]


def test_standard_input_in_every_export_format(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(BOOK / "deals.csv"))
    for fmt in ("csv", "tsv", "json", "jsonl"):
        exported = cli("export", "deals", "--format", fmt).encode("utf-8")
        db = str(tmp_path / f"{fmt}.db")
        out, _ = run("--db", db, "import", "-", stdin=exported)
        assert out.startswith("imported (dealctl): 45 deals created,"), fmt
        assert cli("--db", db, "export", "deals", "--format", fmt).encode("utf-8") == exported


# --- rejected cells: report, skip, dry run --------------------------------------------------------


def test_report_file_lists_every_rejected_cell_and_is_private(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "商談名,金額,完了予定日\nA,12O,2024/4/1\nB,100,4月1日\nC,200,2024/4/3\n", "utf-8"
    )
    report = tmp_path / "rejected.csv"
    cli("import", str(path), "--report", str(report), code=2)
    assert cli.stderr.endswith(
        f"dealctl: import stopped: 2 rejected cells; nothing was written (every one in {report})\n"
    )
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert not db_path.exists()
    with report.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows == [
        ["record", "row", "column", "value", "outcome", "reason"],
        ["1", "2", "金額", "12O", "rejected",
         "expected a number such as 1,200,000, 1200.50 or 120万, optionally with ¥ $ € £ 円 and"
         " a sign (-, △, ▲ or parentheses)"],
        ["2", "3", "完了予定日", "4月1日", "rejected",
         "the date has no year; write it (2024年4月1日) or give --year"],
    ]  # fmt: skip


def test_skip_invalid_imports_the_valid_rows_and_reports_the_rest(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("商談名,金額\nA,100\nB,12O\nC,300\n", "utf-8")
    report = tmp_path / "r.csv"
    out = cli("import", str(path), "--skip-invalid", "--report", str(report))
    assert out == (
        "imported (japanese): 2 deals created, 0 updated, 0 unchanged; 0 accounts, 0 follow-ups,"
        " 2 stage changes\n"
        "  not imported: 1 row with rejected cells (--skip-invalid)\n"
    )
    assert cli.stderr.startswith("dealctl: record 2 (row 3), column '金額', value '12O': ")
    assert "dealctl: warning: 1 row with rejected cells were not imported (every one in" in (
        cli.stderr
    )
    assert [(d["title"], d["amount"]) for d in deals(cli)] == [("A", 100), ("C", 300)]
    assert len(report.read_text(encoding="utf-8").splitlines()) == 2


# A row with a non-empty cell beyond the last header, in each layout: the cell is rejected
# and, with --skip-invalid, the row is not imported (the empty cells after it are no cell).
LONG_ROWS = {
    "spreadsheet": "Deal name,Company,Value\nA,Acme,100,,extra\nB,Beta,200,,\n",
    "pipedrive": "Deal - Title,Deal - Organization,Deal - Value\nA,Acme,100,,extra\nB,Beta,200\n",
    "maven": "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,"
    "close_value\nA,Anna,GTX,Acme,Prospecting,2026-10-01,,,,extra\n"
    "B,Anna,GTX,Beta,Prospecting,2026-10-01,,\n",
    "dealctl": "title,account,stage,status,external_id\nA,Acme,hearing,open,A,,extra\n"
    "B,Beta,hearing,open,B\n",
}


@pytest.mark.parametrize("layout", LONG_ROWS)
def test_skip_invalid_leaves_out_a_row_with_a_cell_beyond_the_last_header(
    cli: Cli, tmp_path: Path, layout: str
) -> None:
    path = tmp_path / "long.csv"
    path.write_text(LONG_ROWS[layout], "utf-8")
    out = cli("import", str(path), "--skip-invalid")
    assert out.startswith(
        f"imported ({layout}): 1 deal created, 0 updated, 0 unchanged; 1 account,"
    )
    assert "  not imported: 1 row with rejected cells (--skip-invalid)\n" in out
    width = LONG_ROWS[layout].split("\n", 1)[0].count(",") + 1
    assert cli.stderr.startswith(
        f"dealctl: record 1{' (row 2)' if layout != 'dealctl' else ''}, column"
        f" 'column {width + 2}', value 'extra': a cell beyond the last header\n"
    )
    assert [(d["account"], d["status"]) for d in deals(cli)] == [("Beta", "open")]
    cli("import", str(path), code=2)  # without --skip-invalid: nothing
    assert cli.stderr.endswith("import stopped: 1 rejected cells; nothing was written\n")


def test_rows_not_written_create_no_account_and_no_contact(cli: Cli, tmp_path: Path) -> None:
    def people(kind: str) -> list[tuple[Any, ...]]:
        rows = json.loads(cli("export", kind, "--format", "json"))
        return [(r["number"], r["name"]) for r in rows]

    first = tmp_path / "first.csv"
    first.write_text("External ID,Deal name,Company,Contact\n1,A,Acme,Ann\n", "utf-8")
    cli("import", str(first))
    # record 2 repeats record 1's id: refused when matched, after its names were read
    again = tmp_path / "again.csv"
    again.write_text(
        "External ID,Deal name,Company,Contact\n2,B,Beta,Bob\n2,C,Gamma,Cy\n3,D,Delta,Di\n",
        "utf-8",
    )
    out = cli("import", str(again), "--skip-invalid")
    assert out.startswith("imported (spreadsheet): 2 deals created, 0 updated, 0 unchanged;"
                          " 2 accounts,")  # fmt: skip
    assert cli.stderr.startswith(
        "dealctl: record 2 (row 3), column 'External ID', value '2': the same id as record 1\n"
    )
    assert people("accounts") == [(1, "Acme"), (2, "Beta"), (3, "Delta")]
    assert people("contacts") == [(1, "Ann"), (2, "Bob"), (3, "Di")]
    # a changed row left as it is: its new company and person are not created either
    skipped = tmp_path / "skipped.csv"
    skipped.write_text(
        "External ID,Deal name,Company,Contact\n1,A,Omega,Oz\n4,E,Epsilon,Eve\n", "utf-8"
    )
    out = cli("import", str(skipped), "--on-duplicate", "skip")
    assert out.startswith("imported (spreadsheet): 1 deal created, 0 updated, 0 unchanged;"
                          " 1 account,")  # fmt: skip
    assert people("accounts") == [(1, "Acme"), (2, "Beta"), (3, "Delta"), (4, "Epsilon")]
    assert people("contacts") == [(1, "Ann"), (2, "Bob"), (3, "Di"), (4, "Eve")]
    first_deal = deals(cli)[0]
    assert (first_deal["title"], first_deal["account"], first_deal["contact"]) == (
        "A",
        "Acme",
        "Ann",
    )


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("商談名,金額\nA,12O\nB,zz\n", ("--skip-invalid",)),
        ("Deal - Title,Deal - Status\nA,deleted\n", ()),  # every row deleted there
    ],
    ids=["all-invalid", "all-deleted"],
)
def test_an_import_that_leaves_nothing_to_write_creates_no_database(
    cli: Cli, tmp_path: Path, db_path: Path, text: str, args: tuple[str, ...]
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text, "utf-8")
    out = cli("import", str(path), *args)
    assert out.splitlines()[0].endswith(
        ": 0 deals created, 0 updated, 0 unchanged; 0 accounts, 0 follow-ups, 0 stage changes"
    )
    assert "created database" not in cli.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    cli("import", str(BOOK))
    before = db_path.read_bytes()
    cli("import", str(path), *args)
    assert db_path.read_bytes() == before


def test_dry_run_says_what_would_be_created_updated_and_merged(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    first = tmp_path / "first.csv"
    first.write_text("Deal name,Company,Value,External ID\nA,Acme Inc.,100,1\n", "utf-8")
    cli("import", str(first))
    before = db_path.read_bytes()
    later = tmp_path / "later.csv"
    later.write_text(
        "Deal name,Company,Value,External ID\nA,ACME,150,1\nB,Acme,50,2\nC,Acme,x,3\n", "utf-8"
    )
    out = cli("import", str(later), "--dry-run", "--skip-invalid")
    assert out == (
        "dry run, would import (spreadsheet): 1 deal created, 1 updated, 0 unchanged;"
        " 0 accounts, 0 follow-ups, 1 stage change\n"
        "  not imported: 1 row with rejected cells (--skip-invalid)\n"
        f"  merged: record 1 (row 2), Company: 'ACME' is account 'Acme Inc.': {SAME}\n"
        f"  merged: record 2 (row 3), Company: 'Acme' is account 'Acme Inc.': {SAME}\n"
    )
    assert cli.stderr == (
        "dealctl: record 3 (row 4), column 'Value', value 'x': expected a number such as"
        " 1,200,000, 1200.50 or 120万, optionally with ¥ $ € £ 円 and a sign (-, △, ▲ or"
        " parentheses)\n"
        "dealctl: warning: 1 row with rejected cells were not imported\n"
        "dealctl: updated: record 1 (row 2), amount: deal #1\n"
    )
    assert db_path.read_bytes() == before


# --- files with nothing to import -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty: nothing to import"),
        ("\n\n", "is empty: nothing to import"),
        ("deal,amount\n", "has no rows to import: only its header line; nothing was written"),
        (
            "deal,amount\r\n,,\r\n",
            "has no rows to import: only its header line (1 blank row); nothing was written",
        ),
    ],
    ids=["empty", "blank-lines", "header", "header-and-blank"],
)
def test_a_file_with_nothing_to_import_says_so_and_creates_no_database(
    cli: Cli, tmp_path: Path, db_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "nothing.csv"
    path.write_bytes(text.encode())
    for dry_run in ((), ("--dry-run",)):
        cli("import", str(path), *dry_run, code=2)
        assert cli.stderr.endswith(f"dealctl: {path} {message}\n")
        assert not db_path.exists()


# --- re-imports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [BOOK, BOOK / "deals.csv", EXAMPLES.parent.parent / "shared" / "cases" / "case-17.csv"],
    ids=["book", "deals", "contacts"],
)
def test_importing_the_same_file_again_changes_no_byte(
    cli: Cli, db_path: Path, source: Path
) -> None:
    cli("import", str(source))
    rows = table_rows(db_path)
    before = db_path.read_bytes()
    cli("import", str(source))
    assert table_rows(db_path) == rows  # same row counts, same values
    assert db_path.read_bytes() == before


# --- a bad last row of a large file ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "bad"), [("amount", "12O,000"), ("close_date", "2026-02-30"), ("stage", "nowhere")]
)
def test_a_bad_cell_in_the_last_row_of_a_large_file_changes_no_byte(
    cli: Cli, tmp_path: Path, db_path: Path, column: str, bad: str
) -> None:
    cli("import", str(BOOK))
    before = db_path.read_bytes()
    rows = table_rows(db_path)
    path = big_file(tmp_path / "big.csv", 20_000, {column: bad})

    assert cli("import", str(path), code=2) == ""

    lines = cli.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"dealctl: record 20000, column {column!r}, value {bad!r}: ")
    assert "secret" not in cli.stderr and "株式会社" not in cli.stderr
    assert lines[1] == "dealctl: import stopped: 1 rejected cells; nothing was written"
    assert db_path.read_bytes() == before
    assert table_rows(db_path) == rows
    assert not db_path.with_name("deals.db-wal").exists()


def test_the_same_large_file_without_the_bad_cell_imports_whole(cli: Cli, tmp_path: Path) -> None:
    path = big_file(tmp_path / "big.csv", 20_000)
    out = cli("import", str(path))
    assert out == (
        "imported (dealctl): 20000 deals created, 0 updated, 0 unchanged; 97 accounts,"
        " 0 follow-ups, 20000 stage changes\n"
    )
    assert cli("list", "--status", "all", "-q").split()[-1] == "20000"
    # "担当 k" at "株式会社テストa" for every k < 13 and a < 97 (13 and 97 are coprime).
    assert len(json.loads(cli("export", "contacts", "--format", "json"))) == 13 * 97


# --- a quote left open near the end of a large file ---------------------------------------------


def quoted_file(path: Path, rows: int, unclosed: int, header: str) -> Path:
    """A spreadsheet of ``rows`` deals, every seventh with a quoted two-line note; record
    ``unclosed`` opens a quote in its amount and never closes it."""
    lines = [header]
    for n in range(1, rows + 1):
        amount = f'"{n}00' if n == unclosed else f"{n}00"
        date = "" if "close" not in header else ",2026-12-20"
        note = f'"call secret{n}@example.com\nthen, later"' if n % 7 == 0 else "plain"
        lines.append(f"案件 {n},{amount}{date},{note}")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.mark.parametrize(
    "header", ["title,amount,close_date,notes", "title,amount,notes"], ids=["dated", "undated"]
)
def test_a_quote_left_open_near_the_end_of_a_large_file_is_named_and_nothing_is_written(
    cli: Cli, tmp_path: Path, db_path: Path, header: str
) -> None:
    # The open quote takes the lines up to the next quoted note, whose opening quote then
    # reads as the missing closing one: the same refusal as a quote open to the end.
    path = quoted_file(tmp_path / "big.csv", 3_000, 2_990, header)
    message = (
        "dealctl: record 2990 (row 2991): a quoted cell opened in column 'amount' never closes"
        ' (a " is missing); nothing was written\n'
    )
    assert cli("import", str(path), code=2) == ""
    assert cli.stderr == message
    assert not db_path.exists()
    cli("import", str(BOOK))
    before = db_path.read_bytes()
    assert cli("import", str(path), code=2) == ""
    assert cli.stderr == message
    assert db_path.read_bytes() == before
    assert cli("import", str(quoted_file(path, 3_000, 0, header))).startswith(
        "imported (spreadsheet): 3000 deals created,"
    )


def test_text_after_a_closing_quote_is_refused_by_its_record_and_column(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    path = tmp_path / "stray.csv"
    path.write_text('deal,notes,amount\nA,plain,100\nB,"say "hi"",200\n', "utf-8")
    assert cli("import", str(path), code=2) == ""
    assert cli.stderr == (
        "dealctl: record 2 (row 3): the quoted cell in column 'notes' has text after its closing"
        ' quote (a quote inside a quoted cell is written twice: ""); nothing was written\n'
    )
    assert not db_path.exists()


# --- indexes set aside while a large import writes ----------------------------------------------


def indexes(db: Path) -> dict[str, tuple[int, str, str]]:
    """Every index with SQL of its own, by name: (its row in sqlite_master, table, SQL)."""
    conn = sqlite3.connect(db)
    try:
        return {
            name: (rowid, table, sql)
            for rowid, name, table, sql in conn.execute(
                "SELECT rowid, name, tbl_name, sql FROM sqlite_master"
                " WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
    finally:
        conn.close()


def test_a_large_import_rebuilds_the_indexes_it_outgrows_exactly(
    cli: Cli, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "BULK_INDEX_ROWS", 2000)
    cli("import", str(BOOK))  # 45 deals, their history and activities
    before = indexes(db_path)
    assert "WHERE" in before["deals_no_next"][2]  # a partial index among them

    cli("import", str(big_file(tmp_path / "big.csv", 3000)))

    after = indexes(db_path)
    rebuilt = {name for name in after if after[name][0] != before[name][0]}
    assert {after[name][1] for name in rebuilt} == {"deals", "stage_changes", "changes"}
    assert {n: (t, sql) for n, (_, t, sql) in after.items()} == {
        n: (t, sql) for n, (_, t, sql) in before.items()
    }
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    cli("doctor")

    # 2,500 other deals into a book of 3,045: many, but fewer than it holds; none rebuilt.
    more = big_file(tmp_path / "more.csv", 2500)
    more.write_text(more.read_text(encoding="utf-8").replace("案件", "追加"), encoding="utf-8")
    assert "2500 deals created" in cli("import", str(more))
    assert indexes(db_path) == after


# --- progress ------------------------------------------------------------------------------------


def test_no_progress_bar_when_stderr_is_not_a_terminal(cli: Cli, tmp_path: Path) -> None:
    path = big_file(tmp_path / "big.csv", 6000)
    cli("import", str(path))
    assert cli.stderr.startswith("dealctl: created database")
    assert "\x1b" not in cli.stderr and "import:" not in cli.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_on_a_terminal_for_large_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dealctl.commands import transfer

    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with transfer._progress() as tick:
        assert tick is not None
        tick("checking", 10, 100)  # a small file: no bar
        assert screen.getvalue() == ""
        tick("checking", 2000, 6000)
        tick("checking", 6000, 6000)
        tick("writing", 6000, 6000)
    shown = screen.getvalue()
    assert "import: checking" in shown and "import: writing" in shown
    assert "6000/6000" in shown
