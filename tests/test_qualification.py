"""Qualification (BANT): what `qualify` records, the 0-4 score with what is missing, where it
is shown (`show`, `list`), and the scores `dealctl next` reads."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dealctl import qualification
from dealctl.session import open_session
from tests.conftest import Cli
from tests.test_contract import DEAL_COLUMNS, _documented_tables

LIST_COLUMNS = (*DEAL_COLUMNS, "qualification", "qualification_missing")
QUALIFY_KEYS = (
    "number",
    "score",
    "missing",
    "budget_status",
    "budget",
    "budget_currency",
    "authority",
    "authority_contact",
    "decision_makers",
    "decision_role",
    "need",
    "timing",
)


def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli(*args, "--format", "json"))


def _scores() -> dict[int, int]:
    """`qualification.scores` by deal number (the contract `dealctl next` uses)."""
    session = open_session(None, write=False)
    try:
        numbers = {
            r["id"]: r["number"] for r in session.store.query("SELECT id, number FROM deals")
        }
        return {numbers[k]: v for k, v in qualification.scores(session).items()}
    finally:
        session.close()


def test_qualify_records_each_part_and_scores_what_is_known(cli: Cli) -> None:
    cli("add", "基幹システム更新", "--account", "サンプル", "--amount", "300万")
    empty = _json(cli, "qualify", "1")
    assert tuple(empty) == QUALIFY_KEYS
    assert (empty["score"], empty["missing"]) == (0, ["budget", "authority", "need", "timing"])
    assert cli("qualify", "1", "--budget", "500万") == (
        "deal 1: BANT 1/4 · missing authority, need, timing\n  Budget    5,000,000 JPY\n"
    )
    assert cli("qualify", "1", "--need", "在庫管理の刷新", "--timing", "2027年3月") == (
        "deal 1: BANT 3/4 · missing authority\n"
        "  Budget    5,000,000 JPY\n"
        "  Need      在庫管理の刷新\n"
        "  Timing    2027-03\n"
    )
    assert cli("qualify", "1", "--authority", "情報システム部長") == (
        "deal 1: BANT 4/4\n"
        "  Budget    5,000,000 JPY\n"
        "  Authority 情報システム部長\n"
        "  Need      在庫管理の刷新\n"
        "  Timing    2027-03\n"
    )
    assert _json(cli, "qualify", "1") == {
        "number": 1,
        "score": 4,
        "missing": [],
        "budget_status": "known",
        "budget": 5000000,
        "budget_currency": "JPY",
        "authority": "情報システム部長",
        "authority_contact": None,
        "decision_makers": [],
        "decision_role": "決裁者",
        "need": "在庫管理の刷新",
        "timing": "2027-03",
    }
    # Asked but unknown still counts as missing; an empty value clears a part.
    cli("qualify", "1", "--budget", "unknown", "--timing", "")
    result = _json(cli, "qualify", "1")
    assert (result["score"], result["missing"]) == (2, ["budget", "timing"])
    assert (result["budget_status"], result["budget"], result["timing"]) == ("unknown", None, None)
    assert "  Budget    unknown (asked)\n" in cli("qualify", "1")
    changes = [r for r in _json(cli, "history") if r["entity"] == "qualification"]
    assert [(r["field"], r["old"], r["new"]) for r in changes] == [
        ("created", None, "#1"),
        ("budget_status", None, "known"),
        ("budget", None, "5000000"),
        ("budget_currency", None, "JPY"),
        ("need", None, "在庫管理の刷新"),
        ("timing", None, "2027-03"),
        ("authority", None, "情報システム部長"),
        ("budget_status", "known", "unknown"),
        ("budget", "5000000", None),
        ("budget_currency", "JPY", None),
        ("timing", "2027-03", None),
    ]
    cli("undo")  # dealctl undo puts the budget and the timing back
    assert _json(cli, "qualify", "1")["score"] == 4


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("2027-03", "2027-03"),
        ("2027/3", "2027-03"),
        ("２０２７年３月", "2027-03"),
        ("2027-03-15", "2027-03-15"),
        ("eoq", "2026-12-31"),
        ("+2m", "2027-02-03"),
    ],
)
def test_timing_is_a_month_or_a_date(cli: Cli, typed: str, stored: str) -> None:
    cli("add", "A")
    cli("qualify", "1", "--timing", typed)
    assert _json(cli, "qualify", "1")["timing"] == stored


def test_bad_values_are_refused_before_anything_is_written(cli: Cli) -> None:
    cli("add", "A", "--amount", "$100", "--currency", "USD")
    cli("qualify", "1", "--timing", "someday", code=2)
    assert cli.stderr == (
        "dealctl: invalid timing 'someday': give a month (2027-03, 2027年3月) or a date"
        " (2027-03-15, eoq, +2m)\n"
    )
    cli("qualify", "1", "--timing", "2027-13", code=2)
    assert cli.stderr == "dealctl: invalid timing '2027-13': the month must be 1-12\n"
    cli("qualify", "1", "--budget", "1.005", "--need", "x", code=2)
    assert cli.stderr.startswith("dealctl: invalid amount '1.005'")
    cli("qualify", "1", "--authority", "#9", code=3)
    assert cli.stderr == "dealctl: no contact #9\n"
    assert _json(cli, "qualify", "1")["score"] == 0
    cli("qualify", "1", "--budget", "$25,000.50")
    assert _json(cli, "qualify", "1")["budget"] == 2500050
    cli("qualify", "1", "--format", "xml", code=2)
    assert cli.stderr == "dealctl: unknown format 'xml' for qualify: use text or json\n"


def test_authority_is_a_contact_or_a_decision_maker_on_the_committee(cli: Cli) -> None:
    cli("add", "基幹", "--account", "サンプル")
    cli("contact", "add", "山田太郎", "-a", "サンプル", "--email", "yamada@sample.co.jp")
    cli("qualify", "1", "--authority", "yamada@sample.co.jp")
    result = _json(cli, "qualify", "1")
    assert (result["authority"], result["authority_contact"], result["score"]) == (
        None,
        "1 山田太郎",
        1,
    )
    cli("qualify", "1", "--authority", "")
    assert _json(cli, "qualify", "1")["missing"] == ["budget", "authority", "need", "timing"]
    # A decision maker on the committee answers "who decides" by itself.
    cli("stakeholder", "add", "1", "佐藤", "--role", "decision-maker")
    result = _json(cli, "qualify", "1")
    assert (result["score"], result["decision_makers"]) == (1, ["2 佐藤"])
    assert "  Authority 決裁者 #2 佐藤\n" in cli("qualify", "1")
    # A stakeholder's name given as authority links the contact.
    cli("qualify", "1", "--authority", "佐藤")
    assert _json(cli, "qualify", "1")["authority_contact"] == "2 佐藤"
    cli("stakeholder", "remove", "1", "佐藤")
    assert _json(cli, "qualify", "1")["score"] == 1  # still linked as authority


def test_the_score_is_on_the_card_in_list_and_in_the_priority_scores(cli: Cli) -> None:
    cli("add", "A", "--amount", "100万")
    cli("add", "B")
    cli("add", "C")
    cli("qualify", "1", "--budget", "80万", "--need", "刷新", "--timing", "2027-03")
    cli("qualify", "3", "--need", "x")
    cli("close", "3")
    assert _scores() == {1: 3, 2: 0}  # open deals only
    card = cli("show", "1")
    assert "BANT        3/4 · missing authority\nBudget      800,000 JPY\n" in card
    assert "Need        刷新\nTiming      2027-03\n" in card
    shown = _json(cli, "show", "1")["qualification"]
    assert (shown["score"], shown["missing"]) == (3, ["authority"])

    # The score and the parts missing are the last two columns, in every machine format.
    csv_rows = list(csv.reader(io.StringIO(cli("list", "--status", "all", "--format", "csv"))))
    assert tuple(csv_rows[0]) == LIST_COLUMNS
    assert [tuple(r[-2:]) for r in csv_rows[1:]] == [
        ("3", "authority"),
        ("0", "budget,authority,need,timing"),
        ("1", "budget,authority,timing"),
    ]
    rows = _json(cli, "ls")
    assert [tuple(r) for r in rows] == [LIST_COLUMNS] * 2
    assert [(r["number"], r["qualification"], r["qualification_missing"]) for r in rows] == [
        (1, 3, "authority"),
        (2, 0, "budget,authority,need,timing"),
    ]
    jsonl = [json.loads(x) for x in cli("list", "--format", "jsonl").splitlines()]
    assert [(r["qualification"], r["qualification_missing"]) for r in jsonl] == [
        (3, "authority"),
        (0, "budget,authority,need,timing"),
    ]
    tsv = cli("list", "--format", "tsv").splitlines()
    assert tsv[0] == "\t".join(LIST_COLUMNS)
    assert [line.split("\t")[-2:] for line in tsv[1:]] == [
        ["3", "authority"],
        ["0", "budget,authority,need,timing"],
    ]
    assert cli("list", "--tag", "none", "--format", "csv") == ",".join(LIST_COLUMNS) + "\n"
    # On a terminal: one compact BANT column, the score and the initials missing.
    table = cli("list", "--status", "all", "--format", "table").splitlines()
    assert table[0].split("┃")[-1].strip() == "BANT"
    assert [line.split("│")[-1].strip() for line in table[2:]] == [
        "3/4 −A",
        "0/4 −BANT",
        "1/4 −BAT",
    ]
    assert cli("list", "-q") == "1\n2\n"
    # `due` keeps its own 23 columns.
    cli("edit", "1", "--next", "call", "--due", "today")
    assert cli("due", "--format", "csv").splitlines()[0] == ",".join(DEAL_COLUMNS)


def test_documented_columns_match(cli: Cli) -> None:
    documented = _documented_tables()
    assert documented["list"] + documented["qualification"] == LIST_COLUMNS
    assert documented["qualify --format json"] == QUALIFY_KEYS


def test_many_deals_are_scored_in_one_pass(cli: Cli) -> None:
    cli("add", "A")
    cli("add", "B")
    cli("qualify", "2", "--need", "x")
    session = open_session(None, write=False)
    try:
        ids = {r["number"]: r["id"] for r in session.store.query("SELECT id, number FROM deals")}
        few = qualification.completeness(session, [ids[2]])
        many = qualification.completeness(session, [ids[1], ids[2], *["none"] * 600])
    finally:
        session.close()
    assert few == {ids[2]: (1, ["budget", "authority", "timing"])}
    assert many == {ids[1]: (0, list(qualification.PARTS)), **few}


def test_a_complete_qualification_has_nothing_missing(cli: Cli) -> None:
    cli("add", "A")
    cli("qualify", "1", "--budget", "1", "--authority", "部長", "--need", "x", "--timing", "eoq")
    assert [(r["qualification"], r["qualification_missing"]) for r in _json(cli, "list")] == [
        (4, "")
    ]
    assert cli("list", "--format", "csv").splitlines()[1].endswith(",4,")
    assert cli("list", "--format", "table").splitlines()[2].split("│")[-1].strip() == "4/4"


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("-100", "a budget cannot be negative"),
        ("△50,000", "a budget cannot be negative"),
        ("▲5万", "a budget cannot be negative"),
        ("(1,000)", "a budget cannot be negative"),
        ("0", "a budget of 0 is no budget; use --budget unknown when it is not known"),
        ("¥0", "a budget of 0 is no budget; use --budget unknown when it is not known"),
        ("-0", "a budget of 0 is no budget; use --budget unknown when it is not known"),
    ],
)
def test_a_budget_of_0_or_below_is_refused(cli: Cli, typed: str, why: str) -> None:
    cli("add", "A")
    cli("qualify", "1", "--budget", "300万")
    cli("qualify", "1", "--budget", typed, "--need", "x", code=2)
    assert cli.stderr == f"dealctl: invalid budget {typed!r}: {why}\n"
    result = _json(cli, "qualify", "1")  # nothing written, not even the need
    assert (result["budget"], result["need"], result["score"]) == (3000000, None, 1)


def test_a_budget_of_0_or_below_in_an_older_book_is_not_known(cli: Cli, db_path: Path) -> None:
    cli("add", "A")
    cli("add", "B")
    cli("qualify", "1", "--budget", "100")
    cli("qualify", "2", "--budget", "100")
    with sqlite3.connect(db_path) as conn:  # as `qualify` wrote them before it refused them
        for number, budget in ((1, -100), (2, 0)):
            conn.execute(
                "UPDATE qualifications SET budget = ?"
                " WHERE deal_id = (SELECT id FROM deals WHERE number = ?)",
                (budget, number),
            )
    conn.close()
    assert _scores() == {1: 0, 2: 0}
    assert _json(cli, "qualify", "1")["missing"] == list(qualification.PARTS)


def test_the_card_counts_one_day_in_the_singular(cli: Cli) -> None:
    cli("add", "A", "--next", "call", "--due", "tomorrow")
    cli("add", "B", "--next", "call", "--due", "yesterday")
    assert "due in 1 day;" in cli("show", "1")
    assert "1 day overdue;" in cli("show", "2")
