"""Accounts: duplicates found by normalised name, merged with every deal and contact kept and
undoable from the change log, and an account view whose totals add up."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, set_clock
from tests.test_contract import _documented_tables

ACCOUNT_COLUMNS = (
    "number",
    "id",
    "name",
    "open_deals",
    "won_deals",
    "lost_deals",
    "contacts",
    "last_contact_at",
    "notes",
    "created_at",
    "updated_at",
)
DUPE_COLUMNS = (
    "group",
    "match",
    "number",
    "id",
    "name",
    "key",
    "deals",
    "contacts",
    "created_at",
)
VIEW_KEYS = (
    "number",
    "id",
    "name",
    "notes",
    "created_at",
    "updated_at",
    "totals",
    "deals",
    "contacts",
    "last_contact",
)
TOTAL_KEYS = (
    "currency",
    "open_count",
    "open_amount",
    "weighted_amount",
    "won_count",
    "won_amount",
    "lost_count",
    "lost_amount",
)


def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli(*args, "--format", "json"))


def _two_companies_three_ways(cli: Cli) -> None:
    """Two companies, each written three ways, as a copy merged from another machine has them.

    Deals and contacts are spread over the six accounts; `--account` with the exact spelling
    picks that account among accounts of the same name.
    """
    cli("account", "add", "株式会社サンプル")  # 1
    cli("account", "add", "(株)サンプル", "--force")  # 2
    cli("account", "add", "ｻﾝﾌﾟﾙ", "--force")  # 3: half-width kana
    cli("account", "add", "Acme Corp")  # 4
    cli("account", "add", "ACME", "--force")  # 5: case
    cli("account", "add", "Ａｃｍｅ Inc.", "--force")  # 6: full-width
    cli("account", "add", "サンプル商事")  # 7: another company
    cli("account", "add", "Globex")  # 8
    cli("add", "基幹システム更新", "--account", "株式会社サンプル", "--amount", "300万")  # deal 1
    cli("add", "保守契約", "--account", "(株)サンプル", "--amount", "50万")  # deal 2
    cli("add", "追加開発", "--account", "(株)サンプル", "--amount", "120万")  # deal 3
    cli("add", "Renewal", "--account", "ACME", "--amount", "$1,000", "--currency", "USD")  # 4
    cli("add", "商事の案件", "--account", "サンプル商事")  # deal 5
    cli("contact", "add", "山田太郎", "--account", "#3", "--email", "yamada@sample.co.jp")  # 1
    cli("contact", "add", "Jane Roe", "--account", "#6", "--email", "jane@acme.example")  # 2


def test_dupes_group_the_three_spellings_of_each_company(cli: Cli) -> None:
    _two_companies_three_ways(cli)
    rows = _json(cli, "account", "dupes")
    assert [
        (r["group"], r["match"], r["number"], r["name"], r["key"], r["deals"], r["contacts"])
        for r in rows
    ] == [
        (1, "exact", 2, "(株)サンプル", "サンプル", 2, 0),  # most deals first: merge into it
        (1, "exact", 1, "株式会社サンプル", "サンプル", 1, 0),
        (1, "exact", 3, "ｻﾝﾌﾟﾙ", "サンプル", 0, 1),
        (2, "exact", 5, "ACME", "acme", 1, 0),
        (2, "exact", 4, "Acme Corp", "acme", 0, 0),
        (2, "exact", 6, "Ａｃｍｅ Inc.", "acme", 0, 1),
    ]
    table = cli("account", "dupes", "--format", "table")
    assert table.splitlines()[-2:] == [
        "merge: dealctl account merge 2 1 3",
        "merge: dealctl account merge 5 4 6",
    ]
    csv_text = cli("account", "dupes", "--format", "csv")
    assert csv_text.splitlines()[0] == ",".join(DUPE_COLUMNS)
    assert [list(r) for r in rows] == [list(DUPE_COLUMNS)] * 6


def test_names_differing_only_in_punctuation_are_similar(cli: Cli) -> None:
    cli("account", "add", "Acme-Systems")
    cli("account", "add", "Acme Systems")
    cli("account", "add", "Acme Systems Japan")
    rows = _json(cli, "account", "dupes")
    assert [(r["group"], r["match"], r["number"]) for r in rows] == [
        (1, "similar", 1),
        (1, "similar", 2),
    ]
    assert cli("account", "dupes", "--format", "tsv").splitlines()[0] == "\t".join(DUPE_COLUMNS)


def test_no_duplicates_is_a_friendly_empty_state(cli: Cli) -> None:
    cli("account", "add", "株式会社サンプル")
    assert cli("account", "dupes", "--format", "table") == "no likely duplicates\n"
    assert cli("account", "dupes", "--format", "json") == "[]\n"


def test_a_second_account_with_the_same_name_is_refused_naming_the_first(cli: Cli) -> None:
    cli("account", "add", "株式会社サンプル")
    cli("account", "add", "㈱ サンプル", code=1)
    assert cli.stderr == (
        "dealctl: account 1 株式会社サンプル has that name already: use it, or pass --force"
        " to add another company of the same name\n"
    )
    cli("account", "add", "Other")
    cli("account", "edit", "2", "--name", "（株）サンプル", code=1)
    assert cli.stderr == (
        "dealctl: account 1 株式会社サンプル has that name already: merge the two"
        " (dealctl account merge 1 2), or pass --force\n"
    )
    assert cli("account", "edit", "Other", "--name", "Other KK", "--notes", "代理店") == (
        "account Other: name, notes changed\n"
    )
    cli("account", "add", "", code=2)
    assert cli.stderr == "dealctl: an account needs a name\n"
    cli("account", "show", "nobody", code=3)
    assert cli.stderr == "dealctl: no account nobody\n"


def _snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a merge touches, without the moments of the last update."""
    conn = sqlite3.connect(db)
    out = {}
    for table in ("accounts", "deals", "contacts"):
        columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
        keep = [c for c in columns if c != "updated_at"]
        out[table] = conn.execute(f"SELECT {', '.join(keep)} FROM {table} ORDER BY id").fetchall()
    conn.close()
    return out


def test_merge_keeps_every_deal_and_contact_and_is_undoable(
    cli: Cli, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_companies_three_ways(cli)
    cli("account", "edit", "1", "--notes", "製造業・従業員300名")
    before = _snapshot(db_path)
    deals_before = {r["number"]: r for r in _json(cli, "list", "--status", "all")}

    set_clock(monkeypatch, "2026-12-03T10:00:00+09:00")
    assert cli("account", "merge", "2", "1", "ｻﾝﾌﾟﾙ") == (
        "merged 1 株式会社サンプル, 3 ｻﾝﾌﾟﾙ into 2 (株)サンプル: 1 deal and 1 contact moved\n"
    )
    deals_after = {r["number"]: r for r in _json(cli, "list", "--status", "all")}
    assert sorted(deals_after) == sorted(deals_before) == [1, 2, 3, 4, 5]
    assert {n: r["account"] for n, r in deals_after.items()} == {
        1: "(株)サンプル",
        2: "(株)サンプル",
        3: "(株)サンプル",
        4: "ACME",
        5: "サンプル商事",
    }
    for number, row in deals_after.items():  # nothing else about a deal changed
        assert {k: v for k, v in row.items() if k not in ("account", "updated_at")} == {
            k: v for k, v in deals_before[number].items() if k not in ("account", "updated_at")
        }
    contacts = _json(cli, "contact", "list")
    assert [(c["number"], c["name"], c["account"]) for c in contacts] == [
        (1, "山田太郎", "(株)サンプル"),
        (2, "Jane Roe", "Ａｃｍｅ Inc."),
    ]
    accounts = _json(cli, "account", "list")
    assert [(a["number"], a["name"], a["open_deals"], a["contacts"]) for a in accounts] == [
        (2, "(株)サンプル", 3, 1),
        (4, "Acme Corp", 0, 0),
        (5, "ACME", 1, 0),
        (6, "Ａｃｍｅ Inc.", 0, 1),
        (7, "サンプル商事", 1, 0),
        (8, "Globex", 0, 0),
    ]
    assert _json(cli, "account", "show", "2")["notes"] == "製造業・従業員300名"
    # The merge is in the history: each moved deal and contact, each merged account.
    merge_rows = [r for r in _json(cli, "history") if r["command"] == "account merge"]
    assert [(r["entity"], r["number"], r["field"], r["old"], r["new"]) for r in merge_rows] == [
        ("deal", 1, "account", "株式会社サンプル", "(株)サンプル"),
        ("account", None, "deleted_at", None, "2026-12-03T10:00:00+09:00"),
        ("account", None, "merged_into", None, "(株)サンプル"),
        ("contact", None, "account", "ｻﾝﾌﾟﾙ", "(株)サンプル"),
        ("account", None, "deleted_at", None, "2026-12-03T10:00:00+09:00"),
        ("account", None, "merged_into", None, "(株)サンプル"),
        ("account", None, "notes", None, "製造業・従業員300名"),
    ]
    assert cli("account", "dupes", "-f", "csv").count("\n") == 4  # only the Acme group is left

    assert cli("undo").startswith("undid account merge")
    assert _snapshot(db_path) == before
    assert [r["number"] for r in _json(cli, "account", "dupes")] == [2, 1, 3, 5, 4, 6]
    cli("undo", "--redo")
    assert [a["number"] for a in _json(cli, "account", "list")] == [2, 4, 5, 6, 7, 8]


def test_a_name_merged_away_leads_to_the_account_it_went_into(cli: Cli) -> None:
    cli("account", "add", "Acme-Systems")
    cli("account", "add", "Acme Systems")
    cli("add", "A", "--account", "Acme-Systems")
    cli("account", "merge", "Acme Systems", "Acme-Systems")
    cli("add", "B", "--account", "Acme-Systems")  # not a new account
    assert [(r["number"], r["account"]) for r in _json(cli, "list")] == [
        (1, "Acme Systems"),
        (2, "Acme Systems"),
    ]
    assert _json(cli, "account", "show", "acme-systems")["number"] == 2
    assert [a["number"] for a in _json(cli, "account", "list")] == [2]
    cli("account", "merge", "2", "2", code=2)
    assert cli.stderr == "dealctl: account 2 Acme Systems cannot be merged into itself\n"


def test_account_view_totals_equal_independent_sums(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_clock(monkeypatch, "2026-11-20T09:00:00+09:00")
    a = ("--account", "株式会社サンプル")
    cli("add", "基幹", *a, "--amount", "1,005", "-s", "approach", "-n", "訪問", "-d", "mon")
    cli("add", "保守", *a, "--amount", "1,005", "--stage", "approach")
    cli("add", "追加", *a, "--amount", "1,005", "--probability", "15")
    cli("add", "大型", *a, "--amount", "12,345,678", "--stage", "negotiation")
    cli("add", "未定", *a, "--stage", "proposal")  # no amount: counts as 0
    cli("add", "US", *a, "--amount", "$1,234.57", "--currency", "USD", "--stage", "proposal")
    cli("add", "US2", *a, "--amount", "$99.99", "--currency", "USD", "--probability", "33")
    cli("add", "won", *a, "--amount", "500万")
    cli("add", "won2", *a, "--amount", "$10", "--currency", "USD")
    cli("add", "lost", *a, "--amount", "70万", "--stage", "proposal")
    cli("add", "other company", "--account", "Globex", "--amount", "999万")
    cli("close", "8")
    cli("close", "9", "--amount", "$12.34")
    cli("lose", "10", "--reason", "price")
    set_clock(monkeypatch, "2026-11-25T15:30:00+09:00")
    cli("log", "2", "電話で状況確認", "--kind", "call")
    cli("contact", "add", "山田太郎", *a, "--title", "部長")
    cli("stakeholder", "add", "1", "山田太郎", "--role", "decision-maker")
    cli("stakeholder", "add", "4", "#1", "--role", "approver")
    cli("stakeholder", "add", "4", "佐藤花子", "--role", "key-person")
    cli("edit", "3", "--contact", "山田太郎")
    set_clock(monkeypatch, "2026-12-03T09:00:00+09:00")

    # Independently: the deals of the account as `list` reports them, summed per currency.
    deals = [r for r in _json(cli, "list", "--status", "all") if r["account"] == "株式会社サンプル"]
    expected: dict[str, dict[str, int]] = {}
    products: dict[str, int] = {}
    for d in deals:
        t = expected.setdefault(
            d["currency"], dict.fromkeys(TOTAL_KEYS[1:], 0) | {"currency": d["currency"]}
        )
        t[f"{d['status']}_count"] += 1
        t[f"{d['status']}_amount"] += d["amount"] or 0
        if d["status"] == "open":
            products[d["currency"]] = (
                products.get(d["currency"], 0) + (d["amount"] or 0) * d["probability"]
            )
    for currency, product in products.items():
        expected[currency]["weighted_amount"] = (product + 50) // 100  # halves up
    view = _json(cli, "account", "show", "サンプル")
    assert tuple(view) == VIEW_KEYS
    assert [tuple(t) for t in view["totals"]] == [TOTAL_KEYS, TOTAL_KEYS]
    assert view["totals"] == [expected["JPY"], expected["USD"]]
    # ... and by hand: 1005×10 + 1005×10 + 1005×15 + 12,345,678×70 + 0×40 = 864,232,635
    # → 8,642,326.35 → 8,642,326; USD 123,457×40 + 9,999×33 = 5,268,247 → 52,682.47 → 52,682.
    assert view["totals"] == [
        {
            "currency": "JPY",
            "open_count": 5,
            "open_amount": 12348693,
            "weighted_amount": 8642326,
            "won_count": 1,
            "won_amount": 5000000,
            "lost_count": 1,
            "lost_amount": 700000,
        },
        {
            "currency": "USD",
            "open_count": 2,
            "open_amount": 133456,
            "weighted_amount": 52682,
            "won_count": 1,
            "won_amount": 1234,
            "lost_count": 0,
            "lost_amount": 0,
        },
    ]
    assert [(d["number"], d["status"], d["next_action"]) for d in view["deals"]] == [
        (1, "open", "訪問"),
        (2, "open", None),
        (3, "open", None),
        (4, "open", None),
        (5, "open", None),
        (6, "open", None),
        (7, "open", None),
        (8, "won", None),
        (9, "won", None),
        (10, "lost", None),
    ]
    assert view["deals"][0]["next_due"] == "2026-11-23"
    assert [d["weighted_amount"] for d in view["deals"]] == [
        101, 101, 151, 8641975, 0, 49383, 3300, None, None, None,
    ]  # fmt: skip
    assert view["last_contact"] == {
        "at": "2026-11-25T15:30:00+09:00",
        "deal": 2,
        "kind": "call",
        "text": "電話で状況確認",
    }
    assert [
        (p["number"], p["name"], p["title"], p["roles"], p["main_contact_of"])
        for p in view["contacts"]
    ] == [
        (
            1,
            "山田太郎",
            "部長",
            [
                {"deal": 1, "role": "decision-maker", "role_name": "決裁者"},
                {"deal": 4, "role": "approver", "role_name": "承認者"},
            ],
            [3],
        ),
        (2, "佐藤花子", None, [{"deal": 4, "role": "key-person", "role_name": "キーパーソン"}], []),
    ]
    text = cli("account", "show", "1")
    lines = text.splitlines()
    assert lines[:6] == [
        "Account      #1 株式会社サンプル",
        "Open         5 deals · 12,348,693 JPY · weighted 8,642,326 JPY",
        "             2 deals · 1,334.56 USD · weighted 526.82 USD",
        "Won          1 deal · 5,000,000 JPY",
        "             1 deal · 12.34 USD",
        "Lost         1 deal · 700,000 JPY",
    ]
    assert lines[6] == "Last contact 2026-11-25 15:30 · #2 · call · 電話で状況確認"
    assert "#1 決裁者, #4 承認者, #3 main contact" in text
    assert "\x1b" not in text


def test_account_list_columns_and_search(cli: Cli) -> None:
    cli("add", "A", "--account", "株式会社サンプル", "--amount", "100")
    cli("add", "B", "--account", "Globex")
    cli("close", "2")
    cli("log", "1", "called")
    cli("contact", "add", "Taro", "--account", "サンプル")
    csv_text = cli("account", "list", "--format", "csv")
    assert csv_text.splitlines() == [
        ",".join(ACCOUNT_COLUMNS),
        csv_text.splitlines()[1],
        csv_text.splitlines()[2],
    ]
    rows = _json(cli, "account", "list")
    assert [tuple(r) for r in rows] == [ACCOUNT_COLUMNS] * 2
    assert [
        (r["number"], r["name"], r["open_deals"], r["won_deals"], r["lost_deals"], r["contacts"])
        for r in rows
    ] == [(1, "株式会社サンプル", 1, 0, 0, 1), (2, "Globex", 0, 1, 0, 0)]
    assert rows[0]["last_contact_at"] == "2026-12-03T09:00:00+09:00"
    assert [r["number"] for r in _json(cli, "account", "list", "--search", "ｻﾝﾌﾟﾙ")] == [1]
    jsonl = cli("account", "list", "--format", "jsonl").splitlines()
    assert [tuple(json.loads(line)) for line in jsonl] == [ACCOUNT_COLUMNS] * 2
    assert cli("account", "list", "--format", "tsv").splitlines()[0] == "\t".join(ACCOUNT_COLUMNS)
    assert "株式会社サンプル" in cli("account", "list", "--format", "table")


def test_documented_columns_match(cli: Cli) -> None:
    documented = _documented_tables()
    assert documented["account list"] == ACCOUNT_COLUMNS
    assert documented["account dupes"] == DUPE_COLUMNS
    assert documented["account show --format json"] == VIEW_KEYS
    assert documented["totals"] == TOTAL_KEYS


# --- one reference rule wherever an account is named -------------------------------------------


def _five_accounts(cli: Cli) -> None:
    for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo"):
        cli("account", "add", name)


def test_an_account_number_is_that_account_wherever_an_account_is_named(cli: Cli) -> None:
    _five_accounts(cli)
    for typed in ("#5", "5", "＃５", "５"):  # NFKC first: full-width forms are numbers too
        cli("contact", "add", f"c{typed}", "-a", typed)
    cli("contact", "add", "Taro", "-a", "Alpha")
    assert cli("contact", "edit", "Taro", "-a", "＃５") == "contact Taro: account changed\n"
    assert [c["account"] for c in _json(cli, "contact", "list", "-a", "＃５")] == ["Echo"] * 5
    assert _json(cli, "account", "show", "＃５")["name"] == "Echo"
    # An unknown number is an error naming it, whichever command and however typed; it is
    # never taken for a new account's name.
    for command in (
        ("contact", "add", "x", "-a", "#9"),
        ("contact", "add", "x", "-a", "９"),
        ("contact", "edit", "Taro", "-a", "9"),
        ("contact", "list", "-a", "#9"),
        ("account", "show", "9"),
        ("account", "edit", "#9", "--notes", "x"),
        ("account", "merge", "1", "＃９"),
    ):
        cli(*command, code=3)
        assert cli.stderr == "dealctl: no account #9\n", command
    assert [a["name"] for a in _json(cli, "account", "list")] == [
        "Alpha",
        "Bravo",
        "Charlie",
        "Delta",
        "Echo",
    ]
    # A name is matched as before: by its company key, and a new name makes an account.
    cli("contact", "add", "Hanako", "-a", "株式会社 ALPHA")
    cli("contact", "add", "Jiro", "-a", "Foxtrot")
    assert [(c["name"], c["account"]) for c in _json(cli, "contact", "list")][-2:] == [
        ("Hanako", "Alpha"),
        ("Jiro", "Foxtrot"),
    ]


def test_add_edit_and_list_read_account_numbers_as_contacts_do(cli: Cli) -> None:
    _five_accounts(cli)
    cli("add", "X", "--account", "#5")
    cli("add", "Y", "--account", "Alpha")
    # ... and `edit` names the fields as its options do, not as columns.
    assert cli("edit", "2", "--account", "＃５", "--stage", "proposal") == (
        "deal 2: account, stage changed\n"
    )
    assert [(d["number"], d["account"]) for d in _json(cli, "list")] == [(1, "Echo"), (2, "Echo")]
    assert [d["number"] for d in _json(cli, "list", "--account", "5")] == [1, 2]
    assert [d["number"] for d in _json(cli, "list", "--account", "#5")] == [1, 2]
    for command in (
        ("add", "Z", "--account", "#9"),
        ("edit", "1", "--account", "9"),
        ("list", "--account", "#9"),
    ):
        cli(*command, code=3)
        assert cli.stderr == "dealctl: no account #9\n", command
    assert len(_json(cli, "account", "list")) == 5


def test_an_account_merged_away_says_where_it_went(cli: Cli) -> None:
    _five_accounts(cli)
    cli("contact", "add", "Taro", "-a", "Echo")
    assert cli("account", "merge", "1", "5") == (
        "merged 5 Echo into 1 Alpha: 0 deals and 1 contact moved\n"
    )
    for command in (
        ("account", "show", "5"),
        ("account", "show", "#5"),
        ("contact", "add", "x", "-a", "#5"),
        ("contact", "list", "-a", "5"),
    ):
        cli(*command, code=3)
        assert cli.stderr == "dealctl: account #5 Echo was merged into #1 Alpha\n", command
    # Merging it again, by number or by its old name, says it is done already.
    for ref in ("5", "#5", "Echo", "echo"):
        cli("account", "merge", "1", ref, code=1)
        assert cli.stderr == "dealctl: account #5 Echo was merged into #1 Alpha already\n", ref
    cli("account", "merge", "1", "1", code=2)
    assert cli.stderr == "dealctl: account 1 Alpha cannot be merged into itself\n"
    # Into another account, the merged-away number still says where it went ...
    cli("account", "merge", "2", "5", code=3)
    assert cli.stderr == "dealctl: account #5 Echo was merged into #1 Alpha\n"
    # ... while its old name, which leads to account 1, merges account 1.
    assert cli("account", "merge", "2", "Echo").startswith("merged 1 Alpha into 2 Bravo:")
    cli("account", "show", "5", code=3)
    assert cli.stderr == "dealctl: account #5 Echo was merged into #2 Bravo\n"
    assert cli("undo").startswith("undid account merge")
    assert _json(cli, "account", "show", "Echo")["number"] == 1


def test_account_show_gives_each_deal_s_bant_and_what_is_missing(cli: Cli) -> None:
    cli("add", "A", "--account", "Alpha")
    cli("add", "B", "--account", "Alpha")
    cli("qualify", "1", "--budget", "100万", "--need", "x", "--authority", "部長")
    deals = _json(cli, "account", "show", "Alpha")["deals"]
    assert [(d["qualification"], d["qualification_missing"]) for d in deals] == [
        (3, "timing"),
        (0, "budget,authority,need,timing"),
    ]
    assert list(deals[0])[-3:] == ["weighted_amount", "qualification", "qualification_missing"]
    table = cli("account", "show", "Alpha")
    assert "│ 3/4 −T" in table
    assert "│ 0/4 −BANT" in table
