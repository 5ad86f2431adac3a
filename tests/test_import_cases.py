"""Field cases 02-07, 15, 17, 18, 19 (import side): each file from ../shared/cases imported
as a user would, with the expected values the cases README gives."""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dealctl.cli import app
from dealctl.importing.cells import CellError, parse_moment
from dealctl.importing.source import load
from tests.conftest import NOW, SHARED, Cli

CASES = SHARED / "cases"


def deals(cli: Cli, *db: str) -> list[dict[str, Any]]:
    rows = json.loads(cli(*db, "export", "deals", "--format", "json"))
    assert isinstance(rows, list)
    return rows


def pick(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(row[k] for k in keys) for row in rows]


def rewrite(source: Path, target: Path, keep: Any) -> Path:
    """A copy of a case file with only the rows ``keep`` accepts (the header always)."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    target.write_text(lines[0] + "".join(line for line in lines[1:] if keep(line)), "utf-8")
    return target


# --- 02: CP932 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding", [None, "sjis", "shift_jis", "shift-jis", "windows-31j", "cp932", "Shift_JIS"]
)
def test_case_02_cp932_is_detected_and_every_shift_jis_name_means_cp932(
    cli: Cli, encoding: str | None
) -> None:
    raw = (CASES / "case-02.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("shift_jis")  # strict Shift_JIS has no ①, ㈱, ㈲, №, 髙, 﨑
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")

    args = ("--encoding", encoding) if encoding else ()
    out = cli("import", str(CASES / "case-02.csv"), *args)

    first = (
        "imported (japanese): 2 deals created, 0 updated, 0 unchanged; 2 accounts,"
        " 0 follow-ups, 2 stage changes"
    )
    assert out == first + "\n" + ("  read as CP932 (Windows Japanese)\n" if not encoding else "")
    assert pick(deals(cli), "title", "account", "owner", "notes") == [
        ("①初期導入", "㈱サンプル精機", "髙橋", "第②期は未定"),
        ("②追加ライセンス", "﨑山テスト㈲", "山﨑", "№12 の見積"),
    ]


# --- 03: UTF-8 with BOM, CRLF ---------------------------------------------------------------------


def test_case_03_the_bom_does_not_stick_to_the_first_header(cli: Cli) -> None:
    path = CASES / "case-03.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in path.read_bytes()
    table = load(str(path))
    assert table.headers == ["商談名", "取引先", "金額", "完了予定日"]
    assert table.headers[0] == "商談名"

    cli("import", str(path))

    assert pick(deals(cli), "title", "account", "amount", "currency", "close_date") == [
        ("新規導入", "株式会社サンプル", 500000, "JPY", "2024-04-30")
    ]


# --- 04: Japanese dates -------------------------------------------------------------------------


def test_case_04_a_date_without_a_year_is_rejected_by_row_and_column(
    cli: Cli, db_path: Path
) -> None:
    assert cli("import", str(CASES / "case-04.csv"), code=2) == ""
    assert cli.stderr == (
        "dealctl: record 6 (row 7), column '完了予定日', value '4月1日': the date has no year;"
        " write it (2024年4月1日) or give --year\n"
        "dealctl: import stopped: 1 rejected cells; nothing was written\n"
    )
    assert not db_path.exists()


def test_case_04_japanese_dates_and_an_explicit_year(cli: Cli) -> None:
    cli("import", str(CASES / "case-04.csv"), "--year", "2024")
    assert pick(deals(cli), "title", "close_date") == [
        ("A", "2024-04-01"),
        ("B", "2024-04-01"),
        ("C", "2024-04-01"),
        ("D", "2024-04-01"),
        ("E", "2024-04-01"),
        ("F", "2024-04-01"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和元年5月1日", "2019-05-01"),
        ("令和1年5月1日", "2019-05-01"),
        ("R1.5.1", "2019-05-01"),
        ("r01/05/01", "2019-05-01"),
        ("平成31年4月30日", "2019-04-30"),
        ("H31.4.30", "2019-04-30"),
        ("昭和64年1月7日", "1989-01-07"),
        ("㋿6年4月1日", "2024-04-01"),  # the one-character era sign, after NFKC
        ("２０２４年４月１日", "2024-04-01"),
        ("2024年4月1日", "2024-04-01"),
        ("2024-4-1", "2024-04-01"),
        ("2024.04.01", "2024-04-01"),
        ("20240401", "2024-04-01"),
    ],
)
def test_japanese_date_forms(text: str, expected: str) -> None:
    assert parse_moment(text, None).day.isoformat() == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2024年2月30日", "no such date (2024-02-30)"),
        ("01/04/24", "a two-digit year is ambiguous; write the year in full (2024)"),
        ("2024", "a number that is not a plausible Excel date (10000-2958465)"),
        ("来週", "not a date"),
    ],
)
def test_dates_that_are_refused(text: str, reason: str) -> None:
    with pytest.raises(CellError) as caught:
        parse_moment(text, "DMY")
    assert str(caught.value).startswith(reason)


# --- 05: one day/month order per column ----------------------------------------------------------

DAY_FIRST = [
    ("iso", "2024-04-01"),
    ("ymd_slash", "2024-04-01"),
    ("uk_style", "2024-04-01"),
    ("uk_unambiguous", "2024-04-13"),
    ("dotted", "2024-07-12"),
]


@pytest.mark.parametrize("option", [(), ("--date-order", "DMY"), ("--date-order", "dmy")])
def test_case_05_day_first_from_the_option_or_from_13_04(cli: Cli, option: tuple[str, ...]) -> None:
    out = cli("import", str(CASES / "case-05.csv"), *option)
    assert out.startswith("imported (spreadsheet): 5 deals created,")
    assert pick(deals(cli), "title", "close_date") == DAY_FIRST


def test_case_05_month_first_refuses_13_04(cli: Cli, db_path: Path) -> None:
    cli("import", str(CASES / "case-05.csv"), "--date-order", "MDY", code=2)
    assert cli.stderr == (
        "dealctl: record 4 (row 5), column 'close_date', value '13/04/2024': not a date in"
        " month/day/year order\n"
        "dealctl: import stopped: 1 rejected cells; nothing was written\n"
    )
    assert not db_path.exists()


def test_case_05_ambiguous_values_with_no_known_order_stop_and_are_listed(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    path = rewrite(CASES / "case-05.csv", tmp_path / "no-13.csv", lambda line: "13/" not in line)
    cli("import", str(path), code=2)
    reason = "ambiguous date: the day/month order is unknown; give --date-order DMY or MDY"
    assert cli.stderr == (
        f"dealctl: record 3 (row 4), column 'close_date', value '01/04/2024': {reason}\n"
        f"dealctl: record 4 (row 5), column 'close_date', value '12.07.2024': {reason}\n"
        "dealctl: import stopped: 2 rejected cells; nothing was written\n"
    )
    assert not db_path.exists()
    # Year-first values never needed an order: with one given, all import.
    cli("import", str(path), "--date-order", "DMY")
    assert pick(deals(cli), "close_date") == [
        ("2024-04-01",),
        ("2024-04-01",),
        ("2024-04-01",),
        ("2024-07-12",),
    ]


def test_a_column_mixing_day_first_and_month_first_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("deal,close_date\na,13/04/2024\nb,04/13/2024\nc,2024/04/01\n", "utf-8")
    cli("import", str(path), code=2)
    reason = "the column has both day-first and month-first dates; give --date-order DMY or MDY"
    assert cli.stderr == (
        f"dealctl: record 1 (row 2), column 'close_date', value '13/04/2024': {reason}\n"
        f"dealctl: record 2 (row 3), column 'close_date', value '04/13/2024': {reason}\n"
        "dealctl: import stopped: 2 rejected cells; nothing was written\n"
    )


# --- 06: Excel serial dates -----------------------------------------------------------------------


def test_case_06_excel_serials_in_date_columns(cli: Cli) -> None:
    out = cli("import", str(CASES / "case-06.csv"))
    assert out == (
        "imported (japanese): 2 deals created, 0 updated, 0 unchanged; 0 accounts,"
        " 0 follow-ups, 2 stage changes\n"
        "  converted: 2 Excel date numbers (完了予定日 1, 次回アクション日時 1)\n"
    )
    assert pick(deals(cli), "title", "close_date", "next_due") == [
        ("A", "2024-04-01", "2024-04-01T12:00+09:00"),
        ("B", "2024-04-02", "2024-04-02T09:00+09:00"),
    ]


def test_case_06_numbers_outside_date_columns_stay_numbers(cli: Cli, tmp_path: Path) -> None:
    text = (CASES / "case-06.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "with-amount.csv"
    path.write_text(
        f"{text[0]},金額,顧客番号\n{text[1]},45383,45383\n{text[2]},45383.5,0045383\n", "utf-8"
    )
    cli("import", str(path), "--map", "顧客番号=external_id", "--skip-invalid")
    warned = cli.stderr
    assert pick(deals(cli), "title", "amount", "external_id") == [("A", 45383, "45383")]
    # 45383.5 yen has a fraction JPY cannot hold: refused, never taken for a date.
    assert warned.startswith(
        "dealctl: record 2 (row 3), column '金額', value '45383.5': JPY has no minor unit"
    )


# --- 07: amounts as people write them -----------------------------------------------------------


def test_case_07_amounts_in_jpy_with_rejected_cells_named(cli: Cli, db_path: Path) -> None:
    cli("import", str(CASES / "case-07.csv"), code=2)
    assert cli.stderr == (
        "dealctl: record 8 (row 9), column '金額', value '$1.2k': the symbol $ means USD,"
        " not JPY\n"
        "dealctl: record 9 (row 10), column '金額', value '1.200.000': dots as thousands"
        " separators are ambiguous; group with commas (1,200,000) and use one dot only for"
        " decimals\n"
        "dealctl: import stopped: 2 rejected cells; nothing was written\n"
    )
    assert not db_path.exists()

    cli("import", str(CASES / "case-07.csv"), "--skip-invalid")
    warned = cli.stderr
    assert pick(deals(cli), "title", "amount", "currency") == [
        ("a", 1200000, "JPY"),
        ("b", 1200000, "JPY"),
        ("c", 1200000, "JPY"),
        ("d", 1200000, "JPY"),
        ("e", 1200000, "JPY"),
        ("f", -50000, "JPY"),
        ("g", -50000, "JPY"),
    ]
    assert "dealctl: warning: 2 rows with rejected cells were not imported\n" in warned


def test_case_07_1_2k_is_1200_dollars_only_in_usd(cli: Cli, tmp_path: Path) -> None:
    out = cli("import", str(CASES / "case-07.csv"), "--currency", "USD", "--skip-invalid")
    warned = cli.stderr
    assert out.startswith("imported (japanese): 4 deals created,")
    # USD keeps cents: $1.2k is 1,200.00 dollars, 120000 cents; never 1.2 or 1.
    assert pick(deals(cli), "title", "amount", "currency") == [
        ("d", 120000000, "USD"),
        ("f", -5000000, "USD"),
        ("g", -5000000, "USD"),
        ("h", 120000, "USD"),
    ]
    rejected = [line.split(":", 2)[1] for line in warned.splitlines() if "value" in line]
    assert rejected == [
        " record 1 (row 2), column '金額', value '¥1,200,000'",
        " record 2 (row 3), column '金額', value '￥1,200,000'",
        " record 3 (row 4), column '金額', value '1,200,000円'",
        " record 5 (row 6), column '金額', value '120万円'",
        " record 9 (row 10), column '金額', value '1.200.000'",
    ]


def test_cents_in_a_jpy_book_are_rejected_with_a_hint_never_rounded(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "cents.csv"
    path.write_text("商談名,金額\n保守,1200.50\n", encoding="utf-8")
    cli("import", str(path), code=2)
    assert cli.stderr.splitlines()[0] == (
        "dealctl: record 1 (row 2), column '金額', value '1200.50': JPY has no minor unit, so"
        " the amount must be whole; amounts are never rounded; is the currency right?"
        " (a currency column or --currency)"
    )


def test_a_whole_amount_written_with_zero_decimals_is_whole(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "zeros.csv"
    path.write_text(
        '商談名,金額\nA,1200000.00\nB,"1,200,000.0円"\nC,１２０００００．００\n', "utf-8"
    )
    cli("import", str(path))
    assert pick(deals(cli), "title", "amount") == [("A", 1200000), ("B", 1200000), ("C", 1200000)]
    # A real fraction is still refused, and 1.000 may be a thousands separator.
    for amount in ("1200000.50", "1.000"):
        path.write_text(f"商談名,金額\nD,{amount}\n", "utf-8")
        cli("import", str(path), code=2)
        assert "JPY has no minor unit, so the amount must be whole" in cli.stderr


# --- 15: codes keep their leading zeros ---------------------------------------------------------


CASE_15_MAPS = (
    "--map",
    "顧客コード=title",
    "--map",
    "担当者コード=owner",
    "--map",
    "郵便番号=notes",
)


def test_case_15_codes_phones_and_postcodes_stay_text(cli: Cli) -> None:
    cli("import", str(CASES / "case-15.csv"), *CASE_15_MAPS)
    rows = deals(cli)
    assert pick(rows, "title", "contact", "owner", "notes", "amount") == [
        ("00123", "09000001111", "007", "郵便番号: 0600001", 1200000),
        ("00456", "0300000000", "010", "郵便番号: 1000001", 5000),
    ]
    assert all(isinstance(r["title"], str) and isinstance(r["amount"], int) for r in rows)
    contacts = json.loads(cli("export", "contacts", "--format", "json"))
    assert pick(contacts, "name", "phone") == [
        ("09000001111", "09000001111"),
        ("0300000000", "0300000000"),
    ]
    table = list(csv.reader(io.StringIO(cli("export", "deals", "--format", "csv"))))
    assert [row[2] for row in table[1:]] == ["00123", "00456"]


@pytest.mark.parametrize(
    ("case", "args"), [("case-09.csv", ()), ("case-15.csv", CASE_15_MAPS)], ids=["09", "15"]
)
def test_contacts_with_only_a_phone_number_are_matched_on_reimport(
    cli: Cli, db_path: Path, case: str, args: tuple[str, ...]
) -> None:
    cli("import", str(CASES / case), *args)
    contacts = json.loads(cli("export", "contacts", "--format", "json"))
    before = db_path.read_bytes()
    for _ in range(2):
        out = cli("import", str(CASES / case), *args)
        assert out.startswith("imported (") and " 0 deals created, 0 updated, " in out
        assert cli.stderr == ""
        assert db_path.read_bytes() == before  # not even the change log
    assert json.loads(cli("export", "contacts", "--format", "json")) == contacts
    history = json.loads(cli("history", "1", "--format", "json"))
    assert [h["field"] for h in history] == ["imported"]


def test_a_phone_only_contact_matches_the_same_digits_at_the_same_account(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "phones.csv"
    path.write_text(
        "Deal name,Phone,Company\nA,03-1111-2222,Acme\nB,０３（１１１１）２２２２,Acme\n"
        "C,03-1111-2222,Other\n",
        "utf-8",
    )
    out = cli("import", str(path))
    assert out.splitlines()[-1] == (
        "  merged: record 2 (row 3), Phone: '０３（１１１１）２２２２' is contact '03-1111-2222':"
        " the same phone number (its digits, after NFKC) at the same account"
    )
    # The same number at another company is another person's desk.
    contacts = json.loads(cli("export", "contacts", "--format", "json"))
    assert pick(contacts, "account", "name", "phone") == [
        ("Acme", "03-1111-2222", "03-1111-2222"),
        ("Other", "03-1111-2222", "03-1111-2222"),
    ]
    assert pick(deals(cli), "title", "contact") == [
        ("A", "03-1111-2222"),
        ("B", "03-1111-2222"),
        ("C", "03-1111-2222"),
    ]


# --- 17: one person, one company, however typed ---------------------------------------------------


def test_case_17_contacts_merge_on_normalised_email_and_the_report_says_why(
    cli: Cli, tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    out = cli("import", str(CASES / "case-17.csv"), "--report", str(report))

    account_reason = (
        "the same company once 株式会社 / (株) / ㈱ / 有限会社 / (有) / ㈲, full-width letters,"
        " case and spaces are set aside"
    )
    email_reason = "the same e-mail address once NFKC-normalised, trimmed and case-folded"
    assert out == (
        "imported contacts (japanese): 2 created, 2 matched; 1 account\n"
        f"  merged: record 2 (row 3), 会社名: '(株)サンプル' is account '株式会社サンプル':"
        f" {account_reason}\n"
        f"  merged: record 2 (row 3), メール: 'taro.yamada@example.com' is contact '山田 太郎':"
        f" {email_reason}\n"
        f"  merged: record 3 (row 4), 会社名: '㈱サンプル' is account '株式会社サンプル':"
        f" {account_reason}\n"
        "  merged: record 3 (row 4), メール: 'ｔａｒｏ．ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ' is"
        f" contact '山田 太郎': {email_reason}\n"
    )
    contacts = json.loads(cli("export", "contacts", "--format", "json"))
    assert pick(contacts, "account", "name", "email", "phone") == [
        ("株式会社サンプル", "山田 太郎", "Taro.Yamada@Example.com", "090-0000-1111"),
        ("株式会社サンプル", "鈴木 花子", "hanako.suzuki@example.com", "03-0000-2222"),
    ]
    accounts = json.loads(cli("export", "accounts", "--format", "json"))
    assert [a["name"] for a in accounts] == ["株式会社サンプル"]

    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    with report.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["record", "row", "column", "value", "outcome", "reason"]
    assert [r[:5] for r in rows[1:]] == [
        ["2", "3", "会社名", "(株)サンプル", "merged"],
        ["2", "3", "メール", "taro.yamada@example.com", "merged"],
        ["3", "4", "会社名", "㈱サンプル", "merged"],
        ["3", "4", "メール", "ｔａｒｏ．ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ", "merged"],
    ]

    # Again: nothing new; the same people and the same company.
    again = cli("import", str(CASES / "case-17.csv"))
    assert again.splitlines()[0] == "imported contacts (japanese): 0 created, 4 matched; 0 accounts"
    assert json.loads(cli("export", "contacts", "--format", "json")) == contacts


def test_a_deal_file_matches_contacts_by_email_then_by_name_and_account(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(
        "商談名,会社名,氏名,メール\n"
        "A,株式会社サンプル,山田 太郎,Taro.Yamada@Example.com\n"
        "B,(株)サンプル,ﾔﾏﾀﾞ ﾀﾛｳ,TARO.YAMADA@example.com\n"
        "C,株式会社サンプル,山田 太郎,\n"
        "D,別会社,山田 太郎,\n",
        encoding="utf-8",
    )
    cli("import", str(path))
    assert pick(deals(cli), "title", "account", "contact") == [
        ("A", "株式会社サンプル", "山田 太郎"),
        ("B", "株式会社サンプル", "山田 太郎"),
        ("C", "株式会社サンプル", "山田 太郎"),
        ("D", "別会社", "山田 太郎"),
    ]
    contacts = json.loads(cli("export", "contacts", "--format", "json"))
    # D's 山田 太郎 works elsewhere: a different person with the same name.
    assert pick(contacts, "account", "name", "email") == [
        ("株式会社サンプル", "山田 太郎", "Taro.Yamada@Example.com"),
        ("別会社", "山田 太郎", None),
    ]


# --- 18: a config with a byte-order mark ----------------------------------------------------------


def test_case_18_a_config_saved_with_a_bom_sets_the_date_order(
    cli: Cli, tmp_path: Path, isolated: Path
) -> None:
    raw = (CASES / "case-18.toml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    # The case's own keys, with the setting an import reads placed before its tables.
    config = raw[:3] + b'date_order = "DMY"\n' + raw[3:]
    (isolated / "config.toml").write_bytes(config)
    path = rewrite(CASES / "case-05.csv", tmp_path / "no-13.csv", lambda line: "13/" not in line)

    cli("import", str(path))

    assert pick(deals(cli), "title", "close_date") == [
        ("iso", "2024-04-01"),
        ("ymd_slash", "2024-04-01"),
        ("uk_style", "2024-04-01"),
        ("dotted", "2024-07-12"),
    ]
    broken = isolated / "config.toml"
    broken.write_bytes(raw[:3] + b"date_order = \n")
    cli("import", str(path), code=1)
    assert cli.stderr.startswith(f"dealctl: config {broken} is not valid TOML")
    assert cli.stderr.count("\n") == 1


# --- 19: no traceback, no other cell --------------------------------------------------------------

CASE_19_STDERR = (
    "dealctl: record 1 (row 2), column 'amount', value '12O,000': expected a number such as"
    " 1,200,000, 1200.50 or 120万, optionally with ¥ $ € £ 円 and a sign (-, △, ▲ or"
    " parentheses)\n"
    "dealctl: import stopped: 1 rejected cells; nothing was written\n"
)
SECRETS = ("taro", "hanako", "token", "sk-test", "Renewal", "Upgrade", "80,000", "@")


def test_case_19_a_bad_cell_names_row_column_and_value_only(cli: Cli, db_path: Path) -> None:
    assert cli("import", str(CASES / "case-19.csv"), code=2) == ""
    assert cli.stderr == CASE_19_STDERR
    for secret in SECRETS:
        assert secret not in cli.stderr
    assert not db_path.exists()


def test_case_19_installed_command_has_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DEALCTL_DEBUG"}
    result = subprocess.run(
        [sys.executable, "-m", "dealctl", "import", str(CASES / "case-19.csv")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == CASE_19_STDERR
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "deals.db").exists()


def test_a_quoted_cell_that_never_closes_names_where_and_shows_no_cell(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    path = tmp_path / "unclosed.csv"
    path.write_text('deal,email,amount\nA,secret@x.com,"100\nB,token=abc,200\n', "utf-8")
    assert cli("import", str(path), code=2) == ""
    assert cli.stderr == (
        "dealctl: record 1 (row 2): a quoted cell opened in column 'amount' never closes"
        ' (a " is missing); nothing was written\n'
    )
    assert not db_path.exists()
    # A quote inside a cell, and doubled quotes inside a quoted one, are no such thing.
    path.write_text('deal,notes,amount\nA,"say ""hi""",100\nB,5" screen,200\n', "utf-8")
    cli("import", str(path))
    assert pick(deals(cli), "title", "notes", "amount") == [
        ("A", 'say "hi"', 100),
        ("B", '5" screen', 200),
    ]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b"deal,amount\nA,100\nB,2\x000\n", "line 3, byte offset 21"),
        ("商談名,金額\n案件,\x00\n".encode("cp932"), "line 2, byte offset 17"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 3, byte offset 8"),
    ],
    ids=["utf-8", "cp932", "binary"],
)
def test_a_nul_byte_is_named_where_it_is(
    cli: Cli, tmp_path: Path, db_path: Path, raw: bytes, where: str
) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(raw)
    said = (
        f"contains a NUL byte ({where}): binary data, or text in an encoding such as UTF-16"
        " (give --encoding)\n"
    )
    assert cli("import", str(path), code=2) == ""
    assert cli.stderr == f"dealctl: {path} {said}"
    assert not db_path.exists()
    result = cli.runner.invoke(app, ["import", "-"], input=raw)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"dealctl: standard input {said}"
    assert not db_path.exists()


def test_a_rejected_long_or_multiline_value_is_shown_shortened(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    long = "1" * 70 + "x"
    path.write_text(f'deal,amount\nA,"100\ntoken=abc"\nB,{long}\n', "utf-8")
    report = tmp_path / "report.csv"
    cli("import", str(path), "--report", str(report), code=2)
    lines = cli.stderr.splitlines()
    assert lines[0].startswith("dealctl: record 1 (row 2), column 'amount', value '100…': ")
    assert lines[1].startswith(f"dealctl: record 2 (row 3), column 'amount', value '{'1' * 60}…': ")
    assert "token" not in cli.stderr and long not in cli.stderr
    with report.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert [r[3] for r in rows[1:]] == ["100\ntoken=abc", long]  # the file has them whole


def test_rows_of_empty_cells_are_skipped_and_counted(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(b"deal,amount\r\nA,1,,\r\n,,,\r\n , \t,\r\nB,2\r\n")
    out = cli("import", str(path))
    assert out == (
        "imported (spreadsheet): 2 deals created, 0 updated, 0 unchanged; 0 accounts,"
        " 0 follow-ups, 2 stage changes\n"
        "  2 blank rows skipped\n"
    )
    assert pick(deals(cli), "title", "amount") == [("A", 1), ("B", 2)]


# A row that stops early (a spreadsheet drops its trailing empty cells) reads the cells it
# lacks as empty, in every layout: one with a date column too, whose day/month order is
# read from the whole column before the rows are checked.
SHORT_ROWS = {
    "spreadsheet": "title,amount,currency,close_date,stage\n"
    "A,100,JPY,2026-12-20,proposal\nB,200,JPY\nC\n",
    "japanese": "商談名,金額,完了予定日,ステージ\nA,100,2026/12/20,提案\nB,200\nC\n",
    "pipedrive": "Deal - Title,Deal - Value,Deal - Currency,Deal - Expected close date,"
    "Deal - Stage\n"
    "A,100,JPY,2026-12-20,Proposal Made\nB,200,JPY\nC\n",
    "hubspot": "Deal Name,Amount,Close Date,Deal Stage\nA,100,2026-12-20,presentationscheduled\n"
    "B,200\nC\n",
    "salesforce": "Opportunity Name,Amount,CloseDate,StageName\n"
    "A,100,2026-12-20,Proposal/Price Quote\nB,200\nC\n",
    "dealctl": "title,stage,status,amount,currency,close_date,tags\n"
    "A,proposal,open,100,JPY,2026-12-20,x\nB,hearing,open,200\nC,hearing,open\n",
}


@pytest.mark.parametrize("layout", SHORT_ROWS)
def test_a_short_row_reads_its_missing_cells_as_empty(
    cli: Cli, tmp_path: Path, layout: str
) -> None:
    path = tmp_path / "short.csv"
    path.write_text(SHORT_ROWS[layout], "utf-8")
    out = cli("import", str(path))
    assert out.startswith(f"imported ({layout}): 3 deals created,"), out
    assert cli.stderr == "dealctl: created database " + os.environ["DEALCTL_DB"] + "\n"
    assert pick(deals(cli), "title", "amount", "close_date") == [
        ("A", 100, "2026-12-20"),
        ("B", 200, None),
        ("C", None, None),
    ]


def test_short_rows_in_maven_and_in_a_book_folder(cli: Cli, tmp_path: Path) -> None:
    maven = tmp_path / "sales_pipeline.csv"
    maven.write_text(
        "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n"
        "X1,Anna,GTX,Acme,Won,2026-10-01,2026-11-01,1200\n"
        "X2,Anna,GTX,Acme,Prospecting\n",
        "utf-8",
    )
    assert cli("import", str(maven)).startswith("imported (maven): 2 deals created,")
    assert pick(deals(cli), "external_id", "status", "close_date") == [
        ("X1", "won", "2026-11-01"),
        ("X2", "open", None),
    ]
    book = tmp_path / "book"
    book.mkdir()
    (book / "deals.csv").write_text(
        "number,id,title,account,stage,status,amount,currency,close_date\n"
        "1,,Full,Acme,hearing,open,100,JPY,2026-12-20\n"
        "2,,Short,Acme,hearing,open\n",
        "utf-8",
    )
    (book / "activities.csv").write_text(
        "id,deal_id,deal_number,kind,at,text\n,,2,call,2026-11-02T10:00:00+09:00\n", "utf-8"
    )
    db = ("--db", str(tmp_path / "book.db"))
    out = cli(*db, "import", str(book))
    assert out.startswith("imported (dealctl): 2 deals created,") and "1 follow-up" in out
    assert pick(deals(cli, *db), "title", "amount", "close_date") == [
        ("Full", 100, "2026-12-20"),
        ("Short", None, None),
    ]
    follow_ups = json.loads(cli(*db, "export", "activities", "--format", "json"))
    assert [(a["deal_number"], a["kind"], a["text"]) for a in follow_ups] == [(2, "call", "")]


def test_an_account_csv_row_without_a_name_leaves_the_account_id(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "Opportunity.csv").write_text(
        "Id,Name,AccountId,StageName\n006A,One,001A,Prospecting\n006B,Two,001B,Prospecting\n"
        "006C,Three,001C,Prospecting\n",
        "utf-8",
    )
    (tmp_path / "Account.csv").write_text("Id,Name\n001A,Acme\n001B\n001C,\n", "utf-8")
    out = cli("import", str(tmp_path / "Opportunity.csv"))
    assert "  accounts: named from Account.csv next to the file" in out
    assert pick(deals(cli), "title", "account") == [
        ("One", "Acme"),
        ("Two", "001B"),
        ("Three", "001C"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "deal,amount\rA,1\rB,2\r",  # old Mac line ends
        'deal,notes\r"A","one\r\ntwo"\rB,x\r\n\rC,"3\n4"',  # mixed, breaks in cells
        'deal,notes\r\nA,1\r\nB,"x\ry"\r\n',  # CRLF with a return in a cell
    ],
)
def test_lines_end_at_lf_crlf_or_a_lone_cr_as_in_a_text_stream(tmp_path: Path, text: str) -> None:
    path = tmp_path / "returns.csv"
    path.write_bytes(text.encode("utf-8"))
    table = load(str(path))
    expected = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    assert [table.headers, *table.records] == expected
    assert len(table.rows) == len(table.records)


@pytest.mark.parametrize("enabled", [True, False])
def test_an_import_leaves_the_cycle_collector_as_it_found_it(
    cli: Cli, tmp_path: Path, enabled: bool
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        cli("import", str(CASES / "case-03.csv"))
        assert gc.isenabled() is enabled
        cli("import", str(empty), code=2)  # refused from inside the import
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_the_clock_of_an_import_is_the_session_clock(cli: Cli) -> None:
    cli("import", str(CASES / "case-03.csv"))
    assert deals(cli)[0]["created_at"] == NOW


# --- a book folder's activities.csv and stage-changes.csv ----------------------------------------

BOOK_DEALS = (
    "number,id,title,account,stage,status\n1,,One,Acme,hearing,open\n2,,Two,Beta,hearing,open\n"
)
BOOK_ACTIVITIES = "id,deal_id,deal_number,kind,at,text\n"
BOOK_HISTORY = "id,deal_id,deal_number,from_stage,to_stage,from_status,to_status,at\n"
AT = "2026-11-02T10:00:00+09:00"


def book(tmp_path: Path, activities: str, history: str) -> Path:
    folder = tmp_path / "book"
    folder.mkdir(exist_ok=True)
    (folder / "deals.csv").write_text(BOOK_DEALS, "utf-8")
    (folder / "activities.csv").write_text(BOOK_ACTIVITIES + activities, "utf-8")
    (folder / "stage-changes.csv").write_text(BOOK_HISTORY + history, "utf-8")
    return folder


GOOD_HISTORY = (
    f",,1,,approach,,open,{AT}\n,,1,approach,hearing,open,open,{AT}\n,,2,,hearing,,open,{AT}\n"
)


@pytest.mark.parametrize(
    ("activities", "history", "said"),
    [
        (f",,1,call,{AT},hello,extra\n", GOOD_HISTORY,
         "activities.csv record 1, column 'column 7', value 'extra': a cell beyond the last"
         " header"),
        (f",,1,call,{AT},ring\a ring\n", GOOD_HISTORY,
         "activities.csv record 1, column 'text', value 'ring\\x07 ring': contains a control"
         " character: remove it"),
        (f",,1,bogus,{AT},hello\n", GOOD_HISTORY,
         "activities.csv record 1, column 'kind', value 'bogus': use one of call, email, meeting,"
         " demo, document, note"),
        (f",,1,call,{AT},hello\n,,1,call,yesterday,hello\n", GOOD_HISTORY,
         "activities.csv record 2, column 'at', value 'yesterday': not a valid value"),
        (f"a1,,1,call,{AT},hello\na1,,1,note,{AT},again\n", GOOD_HISTORY,
         "activities.csv record 2, column 'id', value 'a1': the same id as record 1"),
        ("", GOOD_HISTORY + f",,2,hearing,proposal,open,open,{AT},extra\n",
         "stage-changes.csv record 4, column 'column 9', value 'extra': a cell beyond the last"
         " header"),
        ("", f",,1,nowhere,hearing,open,open,{AT}\n",
         "stage-changes.csv record 1, column 'from_stage', value 'nowhere': not a stage of the"
         " deal's pipeline"),
        ("", f",,1,approach,hearing,weird,open,{AT}\n",
         "stage-changes.csv record 1, column 'from_status', value 'weird': use open, won or lost"),
        ("", f",,1,,approach,,bogus,{AT}\n",
         "stage-changes.csv record 1, column 'to_status', value 'bogus': use open, won or lost"),
        ("", f",,1,,approach,,open,{AT}\n,,1,,approach,,open,2026-11-02\n",
         "stage-changes.csv record 2, column 'at', value '2026-11-02': a date-time needs its"
         " offset, e.g. 2026-12-03T09:00:00+09:00"),
    ],
    ids=["activity-long-row", "activity-control", "activity-kind", "activity-at", "activity-id",
         "history-long-row", "from-stage", "from-status", "to-status", "history-at"],
)  # fmt: skip
def test_a_book_folders_other_files_are_checked_like_deals_csv(
    cli: Cli, tmp_path: Path, db_path: Path, activities: str, history: str, said: str
) -> None:
    folder = book(tmp_path, activities, history)
    report = tmp_path / "report.csv"
    assert cli("import", str(folder), "--report", str(report), code=2) == ""
    assert cli.stderr == (
        f"dealctl: {said}\n"
        f"dealctl: import stopped: 1 rejected cells; nothing was written (every one in {report})\n"
    )
    assert not db_path.exists()
    with report.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    file, rest = said.split(" record ", 1)
    assert rows[1][4:] == ["rejected", f"{file}: {rest.split(': ', 1)[1]}"]  # the file is named


def test_skip_invalid_leaves_out_a_bad_follow_up_and_a_deal_whose_history_is_refused(
    cli: Cli, tmp_path: Path
) -> None:
    folder = book(
        tmp_path,
        f",,1,call,{AT},kept\n,,1,bogus,{AT},left out\n,,2,call,{AT},of a deal left out\n",
        f",,1,,approach,,open,{AT}\n,,1,approach,hearing,open,open,{AT}\n"
        f",,2,,hearing,,bogus,{AT}\n",
    )
    out = cli("import", str(folder), "--skip-invalid")
    assert out.splitlines()[:2] == [
        "imported (dealctl): 1 deal created, 0 updated, 0 unchanged; 1 account, 1 follow-up,"
        " 2 stage changes",
        "  not imported: 3 rows with rejected cells (--skip-invalid)",
    ]
    assert cli.stderr.splitlines()[:3] == [
        "dealctl: activities.csv record 2, column 'kind', value 'bogus': use one of call, email,"
        " meeting, demo, document, note",
        "dealctl: stage-changes.csv record 3, column 'to_status', value 'bogus': use open, won or"
        " lost",
        "dealctl: record 2, column 'number', value '2': its stage history has a rejected row"
        " (stage-changes.csv record 3)",
    ]
    assert pick(deals(cli), "title", "account") == [("One", "Acme")]
    follow_ups = json.loads(cli("export", "activities", "--format", "json"))
    assert [(a["deal_number"], a["kind"], a["text"]) for a in follow_ups] == [(1, "call", "kept")]
    history = json.loads(cli("export", "stage-changes", "--format", "json"))
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        (None, "approach"),
        ("approach", "hearing"),
    ]


@pytest.mark.parametrize(
    ("name", "text", "shown"),
    [
        ("j.json", '[{"title": "A\\u0000b"}, {"title": "B"}]', "A\\x00b"),
        ("j.json", '[{"title": "B"}, {"title": "A\\bb"}]', "A\\x08b"),
        ("j.jsonl", '{"title": "A\\u001bb"}\n{"title": "B"}\n', "A\\x1bb"),
        ("j.jsonl", '{"title": "B"}\r\n{"title": "A\\u007Fb"}\r\n', "A\\x7fb"),
        ("j.jsonl", '{"title": "B"}\n{"title": "A\x7fb"}\n', "A\\x7fb"),
    ],
    ids=["nul", "backspace", "escape", "del-escaped", "del"],
)
def test_json_cells_with_a_control_character_are_refused_as_in_csv(
    cli: Cli, tmp_path: Path, db_path: Path, name: str, text: str, shown: str
) -> None:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    record = 1 if text.index("A") < text.index("B") else 2
    cli("import", str(path), code=2)
    assert cli.stderr == (
        f"dealctl: record {record}, column 'title', value '{shown}': contains a control"
        " character: remove it\n"
        "dealctl: import stopped: 1 rejected cells; nothing was written\n"
    )
    assert not db_path.exists()
    cli("import", str(path), "--skip-invalid")
    assert pick(deals(cli), "title") == [("B",)]


def test_json_cells_keep_tabs_and_line_breaks(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text('[{"title": "A", "notes": "one\\ttwo\\nthree\\u0009four"}]', "utf-8")
    cli("import", str(path))
    assert pick(deals(cli), "notes") == [("one\ttwo\nthree\tfour",)]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "deal,notes,amount\nA,foo\rbar,1\nB,x,2\n",
            "record 1 (row 2), line 2: a carriage return (CR) outside quotes in column 'notes',"
            " in a file whose lines end with LF",
        ),
        (
            'deal,notes,amount\r\nA,"q\r\nq",1\r\nB,x\ry,2\r\n',
            "record 2 (row 3), line 4: a carriage return (CR) outside quotes in column 'notes',"
            " in a file whose lines end with CRLF",
        ),
        (
            'deal,notes,amount\nA,"foo"\rbar,1\n',
            "record 1 (row 2), line 2: a carriage return (CR) outside quotes in column 'notes',"
            " in a file whose lines end with LF",
        ),
    ],
    ids=["lf", "crlf", "after-a-quoted-cell"],
)
def test_a_lone_cr_outside_quotes_in_a_file_of_lf_lines_is_refused_by_line(
    cli: Cli, tmp_path: Path, db_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "lone_cr.csv"
    path.write_bytes(text.encode("utf-8"))
    for args in ((), ("--skip-invalid",)):
        cli("import", str(path), *args, code=2)
        assert cli.stderr == (
            f"dealctl: {said}: it would split the row (quote the cell, or remove the CR);"
            " nothing was written\n"
        )
        assert not db_path.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('deal,notes,amount\nA,"foo\rbar",1\nB,x,2\n', [("A", "foo\nbar", 1), ("B", "x", 2)]),
        ("deal,notes,amount\nA,x,1\r\r\n\rB,y,2\r", [("A", "x", 1), ("B", "y", 2)]),
        ("deal,notes,amount\rA,x,1\rB,y,2\r\n", [("A", "x", 1), ("B", "y", 2)]),
    ],
    ids=["quoted", "between-lines", "old-mac"],
)
def test_a_lone_cr_that_splits_no_row_is_read(
    cli: Cli, tmp_path: Path, text: str, expected: list[tuple[Any, ...]]
) -> None:
    path = tmp_path / "cr.csv"
    path.write_bytes(text.encode("utf-8"))
    cli("import", str(path))
    assert pick(deals(cli), "title", "notes", "amount") == expected


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("h.csv", "deal,amount\a\nA,1\n", "column 2 ('amount\\x07')"),
        ("h.tsv", "deal\tamount\nA\t1\n".replace("deal", "de\x1bal"), "column 1 ('de\\x1bal')"),
        ("h.json", '[{"title": "A", "amount\\u0007": "1"}]', "column 2 ('amount\\x07')"),
    ],
    ids=["csv", "tsv", "json"],
)
def test_a_header_with_a_control_character_is_refused_by_column(
    cli: Cli, tmp_path: Path, db_path: Path, name: str, text: str, said: str
) -> None:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    cli("import", str(path), "--skip-invalid", code=2)
    assert cli.stderr == (
        f"dealctl: {path}: the header of {said} contains a control character: remove it;"
        " nothing was written\n"
    )
    assert not db_path.exists()


def test_a_header_with_a_control_character_in_a_book_folder_is_refused(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    folder = book(tmp_path, "", GOOD_HISTORY)
    (folder / "activities.csv").write_text("id,deal_id,deal_number,kind,at,te\x7fxt\n", "utf-8")
    cli("import", str(folder), code=2)
    assert cli.stderr == (
        f"dealctl: {folder / 'activities.csv'}: the header of column 6 ('te\\x7fxt') contains a"
        " control character: remove it; nothing was written\n"
    )
    assert not db_path.exists()
