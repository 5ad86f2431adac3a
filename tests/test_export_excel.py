"""Exports for spreadsheets: field case 09 (formula injection) and case 21 (CP932 for
Japanese Excel), UTF-8 with a BOM, the formula guard and its removal on import, and
machine formats left exactly as stored."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED, Cli

CASES = SHARED / "cases"
BOM = b"\xef\xbb\xbf"


def export_json(cli: Cli, kind: str = "deals", *db: str) -> list[dict[str, Any]]:
    rows = json.loads(cli(*db, "export", kind, "--format", "json"))
    assert isinstance(rows, list)
    return rows


def export_bytes(cli: Cli, tmp_path: Path, *args: str) -> bytes:
    target = tmp_path / "export.out"
    cli("export", *args, "--output", str(target))
    return target.read_bytes()


def cells(data: bytes, column: str, encoding: str = "utf-8-sig") -> list[str]:
    rows = list(csv.DictReader(io.StringIO(data.decode(encoding), newline="")))
    return [row[column] for row in rows]


# --- case 09: formula injection -----------------------------------------------------------------


def test_case_09_an_export_for_excel_guards_formulas_and_keeps_numbers(
    cli: Cli, tmp_path: Path
) -> None:
    cli("import", str(CASES / "case-09.csv"))
    data = export_bytes(cli, tmp_path, "deals", "--excel")

    assert data.startswith(BOM)
    assert cells(data, "title") == [
        '\'=HYPERLINK("http://example.com/x","詳細")',
        "'+81 商談",
        "'@担当変更",
    ]
    assert cells(data, "notes") == ["通常", "'-値引き交渉中", "'=1+1"]
    assert cells(data, "contact") == ["03-0000-0000", "'+81-90-0000-1111", "0120-000-000"]
    # Real numbers stay numbers: no apostrophe, no quotes.
    assert cells(data, "amount") == ["1000000", "-50000", "0"]
    assert b",-50000," in data
    phones = cells(export_bytes(cli, tmp_path, "contacts", "--excel"), "phone")
    assert phones == ["03-0000-0000", "'+81-90-0000-1111", "0120-000-000"]


def test_case_09_machine_formats_are_unchanged(cli: Cli) -> None:
    cli("import", str(CASES / "case-09.csv"))
    titles = ['=HYPERLINK("http://example.com/x","詳細")', "+81 商談", "@担当変更"]
    assert [d["title"] for d in export_json(cli)] == titles
    plain = cli("export", "deals", "--format", "csv")
    assert not plain.startswith("\ufeff")
    assert cells(plain.encode("utf-8"), "title") == titles
    # --excel leaves JSON and JSON Lines as they are: a program reads them, not Excel.
    for fmt in ("json", "jsonl"):
        assert cli("export", "deals", "--format", fmt, "--excel") == cli(
            "export", "deals", "--format", fmt
        )


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_case_09_reimporting_an_excel_export_restores_the_text(
    cli: Cli, tmp_path: Path, fmt: str
) -> None:
    cli("import", str(CASES / "case-09.csv"))
    original = cli("export", "deals", "--format", "csv")
    path = tmp_path / f"for-excel.{fmt}"
    path.write_bytes(export_bytes(cli, tmp_path, "deals", "--format", fmt, "--excel"))

    fresh = ("--db", str(tmp_path / "fresh.db"))
    out = cli(*fresh, "import", str(path))
    assert out.startswith("imported (dealctl): 3 deals created,")
    assert cli(*fresh, "export", "deals", "--format", "csv") == original


def test_apostrophes_already_in_front_survive_the_round_trip(cli: Cli, tmp_path: Path) -> None:
    cli("add", "'=already quoted")
    cli("add", "''+twice")
    cli("add", "'plain apostrophe")
    cli("add", "--", "-5")
    data = export_bytes(cli, tmp_path, "deals", "--excel")
    assert cells(data, "title") == ["''=already quoted", "'''+twice", "'plain apostrophe", "'-5"]
    path = tmp_path / "again.csv"
    path.write_bytes(data)
    fresh = ("--db", str(tmp_path / "fresh.db"))
    cli(*fresh, "import", str(path))
    titles = ["'=already quoted", "''+twice", "'plain apostrophe", "-5"]
    assert [d["title"] for d in export_json(cli, "deals", *fresh)] == titles


def test_a_plain_csv_keeps_a_leading_apostrophe_as_written(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text("Deal name\n'=not a guard here\n", encoding="utf-8")
    cli("import", str(path))
    assert [d["title"] for d in export_json(cli)] == ["'=not a guard here"]
    cli("--db", str(tmp_path / "b.db"), "import", str(path), "--excel")
    assert [d["title"] for d in export_json(cli, "deals", "--db", str(tmp_path / "b.db"))] == [
        "=not a guard here"
    ]


def test_an_excel_export_is_private_and_replaces_a_file_whole(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(CASES / "case-09.csv"))
    target = tmp_path / "deals.csv"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o644)
    cli("export", "--excel", "--output", str(target))
    assert cli.stderr == f"dealctl: wrote 3 deals to {target}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes().startswith(BOM)
    assert list(tmp_path.glob(".deals.csv.*")) == []


# --- case 21: CP932 for Japanese Excel ------------------------------------------------------------


def _case_21(cli: Cli) -> None:
    cli("import", str(CASES / "case-21.csv"), "--map", "金額表記=amount")


def test_case_21_imports_with_the_amount_column_mapped(cli: Cli) -> None:
    _case_21(cli)
    assert [(d["title"], d["amount"], d["notes"]) for d in export_json(cli)] == [
        ("輸入代行", 300000, "納期—要確認"),
        ("ありがとう案件", 1000, "感謝🙏"),
        ("通常", 2000, "〜4月末"),
    ]


@pytest.mark.parametrize("name", ["cp932", "sjis", "Shift_JIS", "windows-31j"])
def test_case_21_cp932_refuses_what_it_cannot_hold_and_writes_nothing(
    cli: Cli, tmp_path: Path, name: str
) -> None:
    _case_21(cli)
    target = tmp_path / "for-excel.csv"
    assert cli("export", "--encoding", name, "--output", str(target), code=2) == ""
    assert cli.stderr == (
        "dealctl: record 2 (row 3), column 'notes': '🙏' (U+1F64F) has no CP932 code\n"
        "dealctl: export refused: 1 cells have characters CP932 cannot hold; nothing was"
        " written (change the text, or export UTF-8 for Excel with --excel)\n"
    )
    assert not target.exists()
    assert not any(p.name.startswith(".for-excel") for p in tmp_path.iterdir())
    assert cli("export", "--encoding", name, code=2) == ""  # standard output: nothing either


def test_case_21_cp932_maps_clear_equivalents(cli: Cli, tmp_path: Path) -> None:
    _case_21(cli)
    cli("edit", "2", "--notes", "感謝")
    cli("add", "¥サービス‖−", "--amount", "1")
    data = export_bytes(cli, tmp_path, "deals", "--encoding", "cp932")
    assert not data.startswith(BOM)
    assert "?" not in data.decode("cp932")
    assert cells(data, "notes", "cp932") == ["納期―要確認", "感謝", "～4月末", ""]
    assert cells(data, "title", "cp932")[-1] == "￥サービス∥－"


def test_case_21_a_utf8_export_for_excel_has_a_bom_and_every_character(
    cli: Cli, tmp_path: Path
) -> None:
    _case_21(cli)
    data = export_bytes(cli, tmp_path, "deals", "--excel")
    assert data.startswith(BOM)
    assert cells(data, "notes") == ["納期—要確認", "感謝🙏", "〜4月末"]


def test_cp932_with_the_formula_guard_reimports_as_it_was(cli: Cli, tmp_path: Path) -> None:
    cli("add", "=SUM(A1)", "--notes", "¥1,000 — 見積")
    original = cli("export", "deals", "--format", "csv")
    path = tmp_path / "sjis.csv"
    path.write_bytes(export_bytes(cli, tmp_path, "deals", "--excel", "--encoding", "cp932"))
    assert cells(path.read_bytes(), "title", "cp932") == ["'=SUM(A1)"]
    fresh = ("--db", str(tmp_path / "fresh.db"))
    assert cli(*fresh, "import", str(path)).splitlines() == [
        "imported (dealctl): 1 deal created, 0 updated, 0 unchanged; 0 accounts, 0 follow-ups,"
        " 1 stage change",
        "  read as CP932 (Windows Japanese)",
    ]
    # The guard comes off; the CP932 equivalents stay what the file says (￥, ―).
    again = export_json(cli, "deals", *fresh)[0]
    assert (again["title"], again["notes"]) == ("=SUM(A1)", "￥1,000 ― 見積")
    assert original.count("\n") == cli(*fresh, "export", "deals", "--format", "csv").count("\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--encoding", "euc-jp"), "unsupported export encoding 'euc-jp': use utf-8 or cp932"),
        (("--encoding", "klingon"), "unknown encoding 'klingon'"),
        (("--format", "json", "--encoding", "cp932"), "JSON is always UTF-8"),
        (("--format", "xml"), "unknown export format 'xml': use csv, tsv, json or jsonl"),
        (("bogus",), "unknown export 'bogus': use one of deals, accounts, contacts,"),
    ],
)
def test_bad_export_options(cli: Cli, args: tuple[str, ...], message: str) -> None:
    cli("add", "A")
    cli("export", *args, code=2)
    assert cli.stderr.startswith(f"dealctl: {message}")
    assert cli.stderr.count("\n") == 1
