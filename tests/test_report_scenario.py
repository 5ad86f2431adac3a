"""Every report on a hand-built book of 13 deals with known histories, on 2026-12-03.

The book is built once per module, through the command line, each step at its own moment
(dates below are 2026-MM-DD, Tokyo time). The default b2b stages are approach 10% (stale after
14 idle days), hearing 20% (14), proposal 40% (21), negotiation 70% (21) and contract (won).

1. Delta, $10,000, 鈴木: approach 05-20, hearing 05-27, lost (price) 06-03.
   Now lost; ripe for a revisit on 12-03.
2. Echo, ¥500,000, 佐藤: approach 05-21, lost (price) 06-04.
   Now lost; ripe only on 12-04.
3. Alpha, ¥1,000,000, 佐藤: approach 06-01, hearing 06-08, proposal 06-22,
   negotiation 07-06, won 07-20.
4. Bravo, ¥2,000,000, 佐藤: approach 06-01, proposal 06-15 (hearing skipped),
   negotiation 07-13, won 11-10 for ¥2,200,000.
5. Charlie, ¥3,000,000, 鈴木: approach 06-02, hearing 06-09, proposal 06-30,
   lost (price) 07-14, reopened at proposal 11-16, set to 60% by hand, negotiation 11-20.
   Now open, next action due 12-01, no expected close date.
6. Foxtrot, ¥800,000, 鈴木: starts at hearing 07-01, lost (timing) 08-20.
   Now lost; ripe on 11-20.
7. Golf, ¥1,200,000, 佐藤: approach 09-01, hearing 09-15, lost (no-budget) 10-01.
   Now lost.
8. Hotel, ¥5,000,000, tagged hot, 佐藤: approach 10-01, hearing 10-05, proposal 10-19,
   meeting 11-12, a decision maker and BANT 3/4; close 12-20.
   Now open, idle 21 = its rot days; due 12-04.
9. India, ¥4,000,000, 鈴木: approach 10-01, hearing 10-10, call 11-18; close 11-30.
   Now open, idle 15 > 14: stale; slipped; due 11-25.
10. Mike, $3,000, 鈴木: approach 10-15, won 12-01.
11. Juliet, $25,000, 佐藤: approach 11-02, negotiation 11-09 (two stages skipped);
    close 2027-01-15. Now open, idle 24 > 21: stale; due 12-10.
12. Kilo, ¥600,000, 鈴木: approach 11-25; close 2027-02-26.
    Now open, no next action.
13. Lima, ¥9,000,000 at 25% by hand, 佐藤: starts at proposal 11-30; close 2027-09-30.
    Now open, due today.

Every expected figure below is worked out by hand from that list (the comments show how).
"a → b = n" counts the calendar days from date a to date b.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from typer.testing import CliRunner

from dealctl.cli import app
from tests.conftest import SHARED, Cli
from tests.fixtures.clicache import build_once
from tests.test_contract import FUNNEL_COLUMNS, PIPELINE_COLUMNS, _documented_tables

TODAY = date(2026, 12, 3)
MAVEN = SHARED / "data" / "maven-crm" / "sales_pipeline.csv"
MACHINE_FORMATS = ("csv", "tsv", "json", "jsonl")

STEPS: list[tuple[str, tuple[str, ...]]] = [
    ("05-20 10:00", ("add", "Delta", "-a", "Delta Corp", "--currency", "USD", "--amount",
                     "10000", "--owner", "鈴木")),
    ("05-21 10:00", ("add", "Echo", "-a", "株式会社エコー", "--amount", "500000", "--owner",
                     "佐藤")),
    ("05-27 10:00", ("advance", "1")),
    ("06-01 10:00", ("add", "Alpha", "-a", "株式会社アルファ", "--amount", "100万", "--owner",
                     "佐藤")),
    ("06-01 11:00", ("add", "Bravo", "-a", "Bravo KK", "--amount", "200万", "--owner", "佐藤")),
    ("06-02 10:00", ("add", "Charlie", "-a", "チャーリー商事", "--amount", "300万", "--owner",
                     "鈴木")),
    ("06-03 15:00", ("lose", "1", "--reason", "price", "--note", "Budget went to a competitor")),
    ("06-04 10:00", ("lose", "2", "--reason", "price", "--note", "見送り")),
    ("06-08 10:00", ("advance", "3")),
    ("06-09 10:00", ("advance", "5")),
    ("06-15 11:00", ("advance", "4", "proposal")),
    ("06-22 10:00", ("advance", "3")),
    ("06-30 10:00", ("advance", "5")),
    ("07-01 10:00", ("add", "Foxtrot", "-a", "Foxtrot Ltd", "--stage", "hearing", "--amount",
                     "800000", "--owner", "鈴木")),
    ("07-06 10:00", ("advance", "3")),
    ("07-13 11:00", ("advance", "4")),
    ("07-14 10:00", ("lose", "5", "--reason", "price", "--note", "競合が2割安い")),
    ("07-20 10:00", ("close", "3")),
    ("08-20 10:00", ("lose", "6", "--reason", "timing", "--note", "来期に再検討")),
    ("09-01 10:00", ("add", "Golf", "-a", "Golf Inc.", "--amount", "120万", "--owner", "佐藤")),
    ("09-15 10:00", ("advance", "7")),
    ("10-01 10:00", ("lose", "7", "--reason", "no-budget")),
    ("10-01 10:30", ("add", "Hotel", "-a", "株式会社ホテル", "--amount", "500万", "--owner",
                     "佐藤", "--tag", "hot", "--close", "2026-12-20", "--next", "初回訪問",
                     "--due", "2026-10-05")),
    ("10-01 11:00", ("add", "India", "-a", "India Trading", "--amount", "400万", "--owner",
                     "鈴木", "--close", "2026-11-30", "--next", "電話", "--due", "2026-11-25")),
    ("10-05 10:00", ("advance", "8")),
    ("10-10 11:00", ("advance", "9")),
    ("10-15 10:00", ("add", "Mike", "-a", "Mike LLC", "--currency", "USD", "--amount", "3000",
                     "--owner", "鈴木")),
    ("10-19 10:00", ("advance", "8", "--next", "提案書送付", "--due", "2026-12-04")),
    ("11-02 10:00", ("add", "Juliet", "-a", "Juliet Corp", "--currency", "USD", "--amount",
                     "25000", "--owner", "佐藤", "--close", "2027-01-15", "--next",
                     "Send deck", "--due", "2026-12-10")),
    ("11-09 10:00", ("advance", "11", "negotiation")),
    ("11-10 11:00", ("close", "4", "--amount", "2,200,000")),
    ("11-12 10:00", ("log", "8", "提案内容の説明", "--kind", "meeting")),
    ("11-12 10:30", ("stakeholder", "add", "8", "山田太郎", "--role", "decision-maker")),
    ("11-12 10:31", ("qualify", "8", "--budget", "500万", "--need", "在庫管理の刷新")),
    ("11-16 10:00", ("reopen", "5")),
    ("11-16 10:05", ("edit", "5", "--probability", "60")),
    ("11-18 11:00", ("log", "9", "電話で状況確認", "--kind", "call")),
    ("11-20 10:00", ("advance", "5", "negotiation", "--next", "条件確認", "--due",
                     "2026-12-01")),
    ("11-25 10:00", ("add", "Kilo", "-a", "株式会社キロ", "--amount", "600000", "--owner",
                     "鈴木", "--close", "2027-02-26")),
    ("11-30 10:00", ("add", "Lima", "-a", "Lima KK", "--stage", "proposal", "--amount", "900万",
                     "--owner", "佐藤", "--close", "2027-09-30", "--next", "見積作成", "--due",
                     "2026-12-03", "--probability", "25")),
    ("12-01 10:00", ("close", "10")),
]  # fmt: skip


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("scenario")
    db = folder / "deals.db"
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        build_once(patch)
        for moment, args in STEPS:
            env = {
                "DEALCTL_NOW": f"2026-{moment.replace(' ', 'T')}:00+09:00",
                "TZ": "Asia/Tokyo",
                "DEALCTL_CONFIG": str(folder / "none.toml"),
            }
            result = runner.invoke(app, ["--db", str(db), *args], env=env)
            assert result.exit_code == 0, (moment, args, result.output)
    yield db


@pytest.fixture(scope="module")
def ids(book: Path) -> dict[int, str]:
    """Deal number -> id, read from the file itself."""
    conn = sqlite3.connect(book)
    try:
        return dict(conn.execute("SELECT number, id FROM deals").fetchall())
    finally:
        conn.close()


@pytest.fixture
def run(cli: Cli, book: Path) -> Any:
    """dealctl on the book, on 2026-12-03 09:00 in Tokyo (the conftest clock)."""

    def invoke(*args: str, code: int = 0) -> str:
        return cli("--db", str(book), *args, code=code)

    return invoke


def as_json(run: Any, *args: str) -> Any:
    return json.loads(run(*args, "--format", "json"))


def table(run: Any, *args: str) -> str:
    """The table output with trailing spaces removed from each line."""
    text = run(*args, "--format", "table")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def pick(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(row[k] for k in keys) for row in rows]


def with_ids(rows: list[dict[str, Any]], ids: dict[int, str]) -> list[dict[str, Any]]:
    """The rows, once each row's id is checked to be its deal's."""
    assert [row["id"] for row in rows] == [ids[row["number"]] for row in rows]
    return rows


def test_the_book_is_built_as_described(run: Any) -> None:
    deals = as_json(run, "list", "--status", "all")
    assert pick(deals, "number", "title", "status", "stage", "amount", "currency") == [
        (1, "Delta", "lost", "hearing", 1000000, "USD"),
        (2, "Echo", "lost", "approach", 500000, "JPY"),
        (3, "Alpha", "won", "contract", 1000000, "JPY"),
        (4, "Bravo", "won", "contract", 2200000, "JPY"),
        (5, "Charlie", "open", "negotiation", 3000000, "JPY"),
        (6, "Foxtrot", "lost", "hearing", 800000, "JPY"),
        (7, "Golf", "lost", "hearing", 1200000, "JPY"),
        (8, "Hotel", "open", "proposal", 5000000, "JPY"),
        (9, "India", "open", "hearing", 4000000, "JPY"),
        (10, "Mike", "won", "contract", 300000, "USD"),
        (11, "Juliet", "open", "negotiation", 2500000, "USD"),
        (12, "Kilo", "open", "approach", 600000, "JPY"),
        (13, "Lima", "open", "proposal", 9000000, "JPY"),
    ]


# --- pipeline ----------------------------------------------------------------------------------
#
# Open deals and their idle days (today − the latest of last follow-up, last stage change,
# creation): Kilo 11-25 → 12-03 = 8, India 11-18 (call) → 15, Hotel 11-12 (meeting) → 21,
# Lima 11-30 → 3, Charlie 11-20 (negotiation) → 13, Juliet 11-09 (negotiation) → 24.

PIPELINE_KEYS = PIPELINE_COLUMNS  # every column of the pipeline report


def test_pipeline_stage_rows(run: Any) -> None:
    # Open deals in two currencies: a stage and currency without deals has no row.
    assert pick(as_json(run, "pipeline"), *PIPELINE_KEYS) == [
        # Kilo: 600,000 × 10% = 60,000; idle 8 ≤ 14
        ("b2b", "approach", "アプローチ", 10, "JPY", 1, 600_000, 60_000, 0, 8.0),
        # India: 4,000,000 × 20% = 800,000; idle 15 > 14
        ("b2b", "hearing", "ヒアリング", 20, "JPY", 1, 4_000_000, 800_000, 1, 15.0),
        # Hotel + Lima: 5,000,000 + 9,000,000; 5,000,000 × 40% + 9,000,000 × 25% (by hand)
        # = 2,000,000 + 2,250,000; Hotel's 21 idle days are not > 21; (21 + 3) ÷ 2 = 12.0
        ("b2b", "proposal", "提案", 40, "JPY", 2, 14_000_000, 4_250_000, 0, 12.0),
        # Charlie: 3,000,000 × 60% (set by hand; the move to negotiation keeps it); idle 13
        ("b2b", "negotiation", "交渉", 70, "JPY", 1, 3_000_000, 1_800_000, 0, 13.0),
        # Juliet: $25,000 = 2,500,000 cents × 70% = 1,750,000; idle 24 > 21
        ("b2b", "negotiation", "交渉", 70, "USD", 1, 2_500_000, 1_750_000, 1, 24.0),
    ]


def test_pipeline_table_with_totals_and_deals(run: Any) -> None:
    # Totals: JPY 1 + 1 + 2 + 1 = 5 deals, 600,000 + 4,000,000 + 14,000,000 + 3,000,000
    # = 21,600,000, weighted 60,000 + 800,000 + 4,250,000 + 1,800,000 = 6,910,000.
    # Days in stage: Kilo 11-25 → 12-03 = 8, India 10-10 → 54, Hotel 10-19 → 45, Lima 11-30
    # → 3, Charlie 11-20 → 13 (its one visit to negotiation), Juliet 11-09 → 24.
    assert table(run, "pipeline") == (
        "Pipeline b2b\n"
        " Stage      ┃  % ┃ Currency ┃ Deals ┃         Amount ┃      Weighted ┃ Stale ┃ Avg idle\n"
        "━━━━━━━━━━━━╇━━━━╇━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━\n"
        " アプローチ │ 10 │ JPY      │     1 │    600,000 JPY │    60,000 JPY │     0 │      8.0\n"
        " ヒアリング │ 20 │ JPY      │     1 │  4,000,000 JPY │   800,000 JPY │     1 │     15.0\n"
        " 提案       │ 40 │ JPY      │     2 │ 14,000,000 JPY │ 4,250,000 JPY │     0 │     12.0\n"
        " 交渉       │ 70 │ JPY      │     1 │  3,000,000 JPY │ 1,800,000 JPY │     0 │     13.0\n"
        " 交渉       │ 70 │ USD      │     1 │  25,000.00 USD │ 17,500.00 USD │     1 │     24.0\n"
        "Total JPY: 5 deals, 21,600,000 JPY, weighted 6,910,000 JPY\n"
        "Total USD: 1 deal, 25,000.00 USD, weighted 17,500.00 USD\n"
        "アプローチ (JPY)\n"
        "  # ┃ Title ┃ Account      ┃      Amount ┃ In stage ┃ Idle ┃ Next action ┃ Due\n"
        "━━━━╇━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━╇━━━━━\n"
        " 12 │ Kilo  │ 株式会社キロ │ 600,000 JPY │        8 │    8 │             │\n"
        "ヒアリング (JPY)\n"
        " # ┃ Title ┃ Account       ┃        Amount ┃ In stage ┃     Idle ┃ Next action ┃ Due\n"
        "━━━╇━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━╇"
        "━━━━━━━━━━━━\n"
        " 9 │ India │ India Trading │ 4,000,000 JPY │       54 │ 15 stale │ 電話        │"
        " 2026-11-25\n"
        "提案 (JPY)\n"
        "  # ┃ Title ┃ Account        ┃        Amount ┃ In stage ┃ Idle ┃ Next action ┃ Due\n"
        "━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━╇"
        "━━━━━━━━━━━━\n"
        "  8 │ Hotel │ 株式会社ホテル │ 5,000,000 JPY │       45 │   21 │ 提案書送付  │"
        " 2026-12-04\n"
        " 13 │ Lima  │ Lima KK        │ 9,000,000 JPY │        3 │    3 │ 見積作成    │"
        " 2026-12-03\n"
        "交渉 (JPY)\n"
        " # ┃ Title   ┃ Account        ┃        Amount ┃ In stage ┃ Idle ┃ Next action ┃ Due\n"
        "━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━╇"
        "━━━━━━━━━━━━\n"
        " 5 │ Charlie │ チャーリー商事 │ 3,000,000 JPY │       13 │   13 │ 条件確認    │"
        " 2026-12-01\n"
        "交渉 (USD)\n"
        "  # ┃ Title  ┃ Account     ┃        Amount ┃ In stage ┃     Idle ┃ Next action ┃ Due\n"
        "━━━━╇━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━╇"
        "━━━━━━━━━━━━\n"
        " 11 │ Juliet │ Juliet Corp │ 25,000.00 USD │       24 │ 24 stale │ Send deck   │"
        " 2026-12-10\n"
    )


def test_pipeline_for_one_owner(run: Any) -> None:
    # 鈴木's open deals are Kilo, India and Charlie, all in yen: one currency, so every open
    # stage has a row, proposal with zeros.
    assert pick(as_json(run, "pipeline", "--owner", "鈴木"), *PIPELINE_KEYS) == [
        ("b2b", "approach", "アプローチ", 10, "JPY", 1, 600_000, 60_000, 0, 8.0),
        ("b2b", "hearing", "ヒアリング", 20, "JPY", 1, 4_000_000, 800_000, 1, 15.0),
        ("b2b", "proposal", "提案", 40, "JPY", 0, 0, 0, 0, None),
        ("b2b", "negotiation", "交渉", 70, "JPY", 1, 3_000_000, 1_800_000, 0, 13.0),
    ]
    # 600,000 + 4,000,000 + 3,000,000 = 7,600,000; 60,000 + 800,000 + 1,800,000 = 2,660,000
    assert table(run, "pipeline", "--owner", "鈴木", "--summary") == (
        "Pipeline b2b\n"
        " Stage      ┃  % ┃ Currency ┃ Deals ┃        Amount ┃      Weighted ┃ Stale ┃ Avg idle\n"
        "━━━━━━━━━━━━╇━━━━╇━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━\n"
        " アプローチ │ 10 │ JPY      │     1 │   600,000 JPY │    60,000 JPY │     0 │      8.0\n"
        " ヒアリング │ 20 │ JPY      │     1 │ 4,000,000 JPY │   800,000 JPY │     1 │     15.0\n"
        " 提案       │ 40 │ JPY      │     0 │         0 JPY │         0 JPY │     0 │\n"
        " 交渉       │ 70 │ JPY      │     1 │ 3,000,000 JPY │ 1,800,000 JPY │     0 │     13.0\n"
        "Total JPY: 3 deals, 7,600,000 JPY, weighted 2,660,000 JPY\n"
    )


def test_pipeline_for_a_period_of_expected_close(run: Any) -> None:
    # Expected to close from 2026-12-01 to 2027-01-31: Hotel (12-20) and Juliet (2027-01-15);
    # India (11-30) is before, Kilo, Lima after, Charlie has no date.
    args = ("pipeline", "--since", "this-month", "--until", "2027-01-31")
    assert pick(as_json(run, *args), *PIPELINE_KEYS) == [
        ("b2b", "proposal", "提案", 40, "JPY", 1, 5_000_000, 2_000_000, 0, 21.0),
        ("b2b", "negotiation", "交渉", 70, "USD", 1, 2_500_000, 1_750_000, 1, 24.0),
    ]
    assert table(run, *args, "--summary") == (
        "Pipeline b2b\n"
        " Stage ┃  % ┃ Currency ┃ Deals ┃        Amount ┃      Weighted ┃ Stale ┃ Avg idle\n"
        "━━━━━━━╇━━━━╇━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━\n"
        " 提案  │ 40 │ JPY      │     1 │ 5,000,000 JPY │ 2,000,000 JPY │     0 │     21.0\n"
        " 交渉  │ 70 │ USD      │     1 │ 25,000.00 USD │ 17,500.00 USD │     1 │     24.0\n"
        "Total JPY: 1 deal, 5,000,000 JPY, weighted 2,000,000 JPY\n"
        "Total USD: 1 deal, 25,000.00 USD, weighted 17,500.00 USD\n"
    )


# --- funnel ------------------------------------------------------------------------------------
#
# Furthest stage of each deal (a deal won now reaches contract; any other never goes past
# negotiation; a skipped stage counts as passed):
#   approach: Echo (lost), Kilo;  hearing: Delta, Foxtrot, Golf (lost), India;
#   proposal: Hotel, Lima;  negotiation: Charlie (reopened: counted once, as open), Juliet;
#   contract: Alpha, Bravo, Mike.
# Days of each finished visit (entering → leaving; a loss ends the visit), and the visits
# still going ("so far"):
#   approach: Delta 05-20 → 05-27 = 7, Echo 05-21 → 06-04 = 14, Alpha 06-01 → 06-08 = 7,
#     Bravo 06-01 → 06-15 = 14, Charlie 06-02 → 06-09 = 7, Golf 09-01 → 09-15 = 14,
#     Hotel 10-01 → 10-05 = 4, India 10-01 → 10-10 = 9, Mike 10-15 → 12-01 = 47,
#     Juliet 11-02 → 11-09 = 7; so far: Kilo 11-25 → 12-03 = 8
#   hearing: Delta 05-27 → 06-03 = 7, Alpha 06-08 → 06-22 = 14, Charlie 06-09 → 06-30 = 21,
#     Foxtrot 07-01 → 08-20 = 50, Golf 09-15 → 10-01 = 16, Hotel 10-05 → 10-19 = 14;
#     so far: India 10-10 → 12-03 = 54
#   proposal: Alpha 06-22 → 07-06 = 14, Bravo 06-15 → 07-13 = 28, Charlie 06-30 → 07-14 = 14
#     plus 11-16 → 11-20 = 4, so 18; so far: Hotel 10-19 → 12-03 = 45, Lima 11-30 → 3
#   negotiation: Alpha 07-06 → 07-20 = 14, Bravo 07-13 → 11-10 = 120;
#     so far: Charlie 11-20 → 12-03 = 13, Juliet 11-09 → 24
# Sales cycle (creation → won): Alpha 06-01 → 07-20 = 49, Bravo 06-01 → 11-10 = 162,
# Mike 10-15 → 12-01 = 47.

FUNNEL_KEYS = (FUNNEL_COLUMNS[1], *FUNNEL_COLUMNS[3:])  # all but pipeline and stage_name


def test_funnel_stage_rows(run: Any) -> None:
    rows = as_json(run, "funnel")
    assert {(row["pipeline"], row["stage_name"]) for row in rows} == {
        ("b2b", "アプローチ"),
        ("b2b", "ヒアリング"),
        ("b2b", "提案"),
        ("b2b", "交渉"),
        ("b2b", "契約"),
    }
    assert pick(rows, *FUNNEL_KEYS) == [
        # all 13; 11 went on (not Echo, Kilo), 11 ÷ 13 = 84.6%; Echo lost here;
        # 4 7 7 7 7 | 9 14 14 14 47: median (7 + 9) ÷ 2 = 8.0, mean 130 ÷ 10 = 13.0; Kilo 8
        ("approach", 13, 11, 1, 84.6, 8.0, 13.0, 1, 8.0),
        # 11; 7 went on (Hotel, Lima, Charlie, Juliet and the 3 won: Bravo skipped hearing but
        # passed it), 7 ÷ 11 = 63.6%; Delta, Foxtrot, Golf lost here;
        # 7 14 14 | 16 21 50: (14 + 16) ÷ 2 = 15.0, 122 ÷ 6 = 20.3; India 54
        ("hearing", 11, 7, 3, 63.6, 15.0, 20.3, 1, 54.0),
        # 7; 5 went on (Charlie, Juliet, 3 won), 5 ÷ 7 = 71.4%; none lost here (Charlie was,
        # but it is open now); 14 18 28: 18.0, 60 ÷ 3 = 20.0; Hotel 45, Lima 3: 24.0
        ("proposal", 7, 5, 0, 71.4, 18.0, 20.0, 2, 24.0),
        # 5; the 3 won, 3 ÷ 5 = 60.0%; 14 120: 67.0 and 67.0; Charlie 13, Juliet 24: 18.5
        ("negotiation", 5, 3, 0, 60.0, 67.0, 67.0, 2, 18.5),
        ("contract", 3, None, 0, None, None, None, None, None),
    ]


def test_funnel_table_with_sales_cycle_and_win_rate(run: Any) -> None:
    # Sales cycle 47 49 162: median 49.0, mean 258 ÷ 3 = 86.0.
    # Win rate: 3 won ÷ (3 won + 4 lost: Delta, Echo, Foxtrot, Golf) = 42.857… = 42.9%;
    # open: Charlie, Hotel, India, Juliet, Kilo, Lima = 6.
    assert table(run, "funnel") == (
        "Funnel b2b\n"
        " Stage      ┃ Reached ┃ Moved on ┃ Lost from ┃ Conversion % ┃ Median days ┃ Mean days ┃"
        " Open now ┃ So far (median)\n"
        "━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━╇"
        "━━━━━━━━━━╇━━━━━━━━━━━━━━━━━\n"
        " アプローチ │      13 │       11 │         1 │         84.6 │         8.0 │      13.0 │"
        "        1 │             8.0\n"
        " ヒアリング │      11 │        7 │         3 │         63.6 │        15.0 │      20.3 │"
        "        1 │            54.0\n"
        " 提案       │       7 │        5 │         0 │         71.4 │        18.0 │      20.0 │"
        "        2 │            24.0\n"
        " 交渉       │       5 │        3 │         0 │         60.0 │        67.0 │      67.0 │"
        "        2 │            18.5\n"
        " 契約       │       3 │          │         0 │              │             │           │"
        "          │\n"
        "Sales cycle: median 49.0 days, mean 86.0 days (3 won)\n"
        "Win rate 42.9% (3 won / 7 closed); 6 open\n"
    )


def test_funnel_overall(run: Any) -> None:
    assert as_json(run, "funnel", "--overall") == [
        {
            "pipeline": "b2b",
            "won": 3,
            "lost": 4,
            "open": 6,
            "win_rate_pct": 42.9,  # 3 ÷ 7
            "cycle_count": 3,
            "cycle_median_days": 49.0,  # 47 49 162
            "cycle_mean_days": 86.0,  # 258 ÷ 3
        }
    ]
    assert table(run, "funnel", "--overall") == (
        "Funnel b2b\n"
        " Pipeline ┃ Won ┃ Lost ┃ Open ┃ Win rate % ┃ Cycles ┃ Cycle median days ┃"
        " Cycle mean days\n"
        "━━━━━━━━━━╇━━━━━╇━━━━━━╇━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇"
        "━━━━━━━━━━━━━━━━━\n"
        " b2b      │   3 │    4 │    6 │       42.9 │      3 │              49.0 │"
        "            86.0\n"
    )


def test_funnel_for_deals_started_in_a_period(run: Any) -> None:
    # Stage rows count the deals started since 10-01: Hotel, India (10-01), Mike (10-15),
    # Juliet (11-02), Kilo (11-25), Lima (11-30). Win rate and sales cycle count the deals
    # closed since 10-01: Golf lost 10-01, Bravo won 11-10, Mike won 12-01.
    args = ("funnel", "--since", "2026-10-01")
    assert pick(as_json(run, *args), *FUNNEL_KEYS) == [
        # 6; 5 went on (not Kilo), 5 ÷ 6 = 83.3%; Hotel 4, Juliet 7, India 9, Mike 47:
        # (7 + 9) ÷ 2 = 8.0, 67 ÷ 4 = 16.75 → 16.8; Kilo 8
        ("approach", 6, 5, 0, 83.3, 8.0, 16.8, 1, 8.0),
        # all but Kilo: 5 (Lima started at proposal, Juliet and Mike skipped hearing); 4 went
        # on (Hotel, Lima, Juliet, Mike), 4 ÷ 5 = 80.0%; Hotel 14 (the only one to leave it);
        # India 54
        ("hearing", 5, 4, 0, 80.0, 14.0, 14.0, 1, 54.0),
        # 4; Juliet and Mike went on, 2 ÷ 4 = 50.0%; none finished; Hotel 45, Lima 3: 24.0
        ("proposal", 4, 2, 0, 50.0, None, None, 2, 24.0),
        # 2; Mike won, 1 ÷ 2 = 50.0%; Juliet 24
        ("negotiation", 2, 1, 0, 50.0, None, None, 1, 24.0),
        ("contract", 1, None, 0, None, None, None, None, None),
    ]
    # Bravo 162 and Mike 47: median and mean (162 + 47) ÷ 2 = 104.5; 2 won ÷ 3 closed = 66.7%;
    # open among the deals counted: Hotel, India, Juliet, Kilo, Lima = 5.
    assert as_json(run, *args, "--overall") == [
        {
            "pipeline": "b2b",
            "won": 2,
            "lost": 1,
            "open": 5,
            "win_rate_pct": 66.7,
            "cycle_count": 2,
            "cycle_median_days": 104.5,
            "cycle_mean_days": 104.5,
        }
    ]
    assert table(run, *args) == (
        "Funnel b2b\n"
        " Stage      ┃ Reached ┃ Moved on ┃ Lost from ┃ Conversion % ┃ Median days ┃ Mean days ┃"
        " Open now ┃ So far (median)\n"
        "━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━╇"
        "━━━━━━━━━━╇━━━━━━━━━━━━━━━━━\n"
        " アプローチ │       6 │        5 │         0 │         83.3 │         8.0 │      16.8 │"
        "        1 │             8.0\n"
        " ヒアリング │       5 │        4 │         0 │         80.0 │        14.0 │      14.0 │"
        "        1 │            54.0\n"
        " 提案       │       4 │        2 │         0 │         50.0 │             │           │"
        "        2 │            24.0\n"
        " 交渉       │       2 │        1 │         0 │         50.0 │             │           │"
        "        1 │            24.0\n"
        " 契約       │       1 │          │         0 │              │             │           │"
        "          │\n"
        "Sales cycle: median 104.5 days, mean 104.5 days (2 won)\n"
        "Win rate 66.7% (2 won / 3 closed); 5 open\n"
    )


def test_funnel_for_one_owner(run: Any) -> None:
    # 佐藤's deals: Echo (lost at approach), Alpha, Bravo (won), Golf (lost at hearing),
    # Hotel (proposal), Juliet (negotiation), Lima (proposal).
    assert pick(as_json(run, "funnel", "--owner", "佐藤"), *FUNNEL_KEYS) == [
        # 7; 6 went on (not Echo, lost here), 6 ÷ 7 = 85.7%; Hotel 4, Alpha 7, Juliet 7,
        # Echo 14, Bravo 14, Golf 14: (7 + 14) ÷ 2 = 10.5, 60 ÷ 6 = 10.0; none open here
        ("approach", 7, 6, 1, 85.7, 10.5, 10.0, 0, None),
        # all but Echo: 6 (Bravo, Juliet and Lima passed it without entering it); 5 went on,
        # 5 ÷ 6 = 83.3%; Golf lost here; Alpha 14, Hotel 14, Golf 16: 14.0, 44 ÷ 3 = 14.7
        ("hearing", 6, 5, 1, 83.3, 14.0, 14.7, 0, None),
        # 5; Alpha, Bravo, Juliet went on, 3 ÷ 5 = 60.0%; Alpha 14, Bravo 28: 21.0; Hotel 45,
        # Lima 3: 24.0
        ("proposal", 5, 3, 0, 60.0, 21.0, 21.0, 2, 24.0),
        # 3; 2 won, 2 ÷ 3 = 66.7%; Alpha 14, Bravo 120: 67.0; Juliet 24
        ("negotiation", 3, 2, 0, 66.7, 67.0, 67.0, 1, 24.0),
        ("contract", 2, None, 0, None, None, None, None, None),
    ]
    # Alpha 49 and Bravo 162: (49 + 162) ÷ 2 = 105.5; 2 won ÷ (2 + Echo, Golf) = 50.0%;
    # Hotel, Juliet, Lima open.
    assert table(run, "funnel", "--owner", "佐藤") == (
        "Funnel b2b\n"
        " Stage      ┃ Reached ┃ Moved on ┃ Lost from ┃ Conversion % ┃ Median days ┃ Mean days ┃"
        " Open now ┃ So far (median)\n"
        "━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━╇"
        "━━━━━━━━━━╇━━━━━━━━━━━━━━━━━\n"
        " アプローチ │       7 │        6 │         1 │         85.7 │        10.5 │      10.0 │"
        "        0 │\n"
        " ヒアリング │       6 │        5 │         1 │         83.3 │        14.0 │      14.7 │"
        "        0 │\n"
        " 提案       │       5 │        3 │         0 │         60.0 │        21.0 │      21.0 │"
        "        2 │            24.0\n"
        " 交渉       │       3 │        2 │         0 │         66.7 │        67.0 │      67.0 │"
        "        1 │            24.0\n"
        " 契約       │       2 │          │         0 │              │             │           │"
        "          │\n"
        "Sales cycle: median 105.5 days, mean 105.5 days (2 won)\n"
        "Win rate 50.0% (2 won / 4 closed); 3 open\n"
    )


# --- forecast ----------------------------------------------------------------------------------

FORECAST_KEYS = (
    "currency",
    "month",
    "open_count",
    "amount",
    "weighted_amount",
    "won_count",
    "won_amount",
)


def test_forecast(run: Any) -> None:
    # Six months from this month, 2026-12 to 2027-05. Open deals by expected close date:
    # India 11-30 has passed (slipped), Hotel 12-20, Juliet 2027-01-15 (USD), Kilo 2027-02-26,
    # Lima 2027-09-30 (later), Charlie none (undated). Won in those months: Mike 12-01 (USD);
    # Bravo's 11-10 is before them.
    assert pick(as_json(run, "forecast"), *FORECAST_KEYS) == [
        ("JPY", "slipped", 1, 4_000_000, 800_000, None, None),  # India × 20%
        ("JPY", "2026-12", 1, 5_000_000, 2_000_000, 0, 0),  # Hotel × 40%
        ("JPY", "2027-01", 0, 0, 0, 0, 0),
        ("JPY", "2027-02", 1, 600_000, 60_000, 0, 0),  # Kilo × 10%
        ("JPY", "2027-03", 0, 0, 0, 0, 0),
        ("JPY", "2027-04", 0, 0, 0, 0, 0),
        ("JPY", "2027-05", 0, 0, 0, 0, 0),
        ("JPY", "later", 1, 9_000_000, 2_250_000, None, None),  # Lima × 25% (by hand)
        ("JPY", "undated", 1, 3_000_000, 1_800_000, None, None),  # Charlie × 60% (by hand)
        ("USD", "slipped", 0, 0, 0, None, None),
        ("USD", "2026-12", 0, 0, 0, 1, 300_000),  # Mike, $3,000
        ("USD", "2027-01", 1, 2_500_000, 1_750_000, 0, 0),  # Juliet × 70%
        ("USD", "2027-02", 0, 0, 0, 0, 0),
        ("USD", "2027-03", 0, 0, 0, 0, 0),
        ("USD", "2027-04", 0, 0, 0, 0, 0),
        ("USD", "2027-05", 0, 0, 0, 0, 0),
        ("USD", "later", 0, 0, 0, None, None),
        ("USD", "undated", 0, 0, 0, None, None),
    ]
    # Totals: JPY 5 open, 4,000,000 + 5,000,000 + 600,000 + 9,000,000 + 3,000,000 =
    # 21,600,000, weighted 800,000 + 2,000,000 + 60,000 + 2,250,000 + 1,800,000 = 6,910,000.
    assert table(run, "forecast") == (
        "Forecast (JPY)\n"
        " Month   ┃ Open ┃        Amount ┃      Weighted ┃ Won ┃ Won amount\n"
        "━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━╇━━━━━━━━━━━━\n"
        " slipped │    1 │ 4,000,000 JPY │   800,000 JPY │     │\n"
        " 2026-12 │    1 │ 5,000,000 JPY │ 2,000,000 JPY │   0 │      0 JPY\n"
        " 2027-01 │    0 │         0 JPY │         0 JPY │   0 │      0 JPY\n"
        " 2027-02 │    1 │   600,000 JPY │    60,000 JPY │   0 │      0 JPY\n"
        " 2027-03 │    0 │         0 JPY │         0 JPY │   0 │      0 JPY\n"
        " 2027-04 │    0 │         0 JPY │         0 JPY │   0 │      0 JPY\n"
        " 2027-05 │    0 │         0 JPY │         0 JPY │   0 │      0 JPY\n"
        " later   │    1 │ 9,000,000 JPY │ 2,250,000 JPY │     │\n"
        " undated │    1 │ 3,000,000 JPY │ 1,800,000 JPY │     │\n"
        "Total JPY: 5 open, 21,600,000 JPY, weighted 6,910,000 JPY; won 0, 0 JPY\n"
        "Forecast (USD)\n"
        " Month   ┃ Open ┃        Amount ┃      Weighted ┃ Won ┃   Won amount\n"
        "━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━╇━━━━━━━━━━━━━━\n"
        " slipped │    0 │      0.00 USD │      0.00 USD │     │\n"
        " 2026-12 │    0 │      0.00 USD │      0.00 USD │   1 │ 3,000.00 USD\n"
        " 2027-01 │    1 │ 25,000.00 USD │ 17,500.00 USD │   0 │     0.00 USD\n"
        " 2027-02 │    0 │      0.00 USD │      0.00 USD │   0 │     0.00 USD\n"
        " 2027-03 │    0 │      0.00 USD │      0.00 USD │   0 │     0.00 USD\n"
        " 2027-04 │    0 │      0.00 USD │      0.00 USD │   0 │     0.00 USD\n"
        " 2027-05 │    0 │      0.00 USD │      0.00 USD │   0 │     0.00 USD\n"
        " later   │    0 │      0.00 USD │      0.00 USD │     │\n"
        " undated │    0 │      0.00 USD │      0.00 USD │     │\n"
        "Total USD: 1 open, 25,000.00 USD, weighted 17,500.00 USD; won 1, 3,000.00 USD\n"
    )


def test_forecast_from_a_given_month(run: Any) -> None:
    # 2026-11 and 2026-12: India's 11-30 is in November but has passed, so it is slipped;
    # Kilo and Lima are later: 600,000 + 9,000,000 = 9,600,000, weighted once for the row:
    # (600,000 × 10 + 9,000,000 × 25) ÷ 100 = 2,310,000; Juliet (2027-01) is later too.
    # Won: Bravo ¥2,200,000 on 11-10, Mike $3,000 on 12-01.
    rows = as_json(run, "forecast", "--since", "2026-11-01", "--months", "2")
    assert pick(rows, *FORECAST_KEYS) == [
        ("JPY", "slipped", 1, 4_000_000, 800_000, None, None),
        ("JPY", "2026-11", 0, 0, 0, 1, 2_200_000),
        ("JPY", "2026-12", 1, 5_000_000, 2_000_000, 0, 0),
        ("JPY", "later", 2, 9_600_000, 2_310_000, None, None),
        ("JPY", "undated", 1, 3_000_000, 1_800_000, None, None),
        ("USD", "slipped", 0, 0, 0, None, None),
        ("USD", "2026-11", 0, 0, 0, 0, 0),
        ("USD", "2026-12", 0, 0, 0, 1, 300_000),
        ("USD", "later", 1, 2_500_000, 1_750_000, None, None),
        ("USD", "undated", 0, 0, 0, None, None),
    ]


# --- stale -------------------------------------------------------------------------------------

STALE_KEYS = (
    "reason",
    "number",
    "stage",
    "owner",
    "amount",
    "currency",
    "idle_days",
    "rot_days",
    "days_over",
    "next_action",
    "next_due",
    "close_date",
)


def test_stale(run: Any, ids: dict[int, str]) -> None:
    rows = with_ids(as_json(run, "stale"), ids)
    assert pick(rows, *STALE_KEYS) == [
        # longest idle first: Juliet 24 − 21 = 3 days over, India 15 − 14 = 1
        ("stale", 11, "negotiation", "佐藤", 2_500_000, "USD", 24, 21, 3, "Send deck",
         "2026-12-10", "2027-01-15"),
        ("stale", 9, "hearing", "鈴木", 4_000_000, "JPY", 15, 14, 1, "電話", "2026-11-25",
         "2026-11-30"),
        # Hotel (idle 21, limit 21) is not stale. Kilo has no next action.
        ("no-next-action", 12, "approach", "鈴木", 600_000, "JPY", 8, 14, None, None, None,
         "2027-02-26"),
        # At proposal or later without a decision maker: all but Hotel.
        ("no-decision-maker", 5, "negotiation", "鈴木", 3_000_000, "JPY", 13, 21, None,
         "条件確認", "2026-12-01", None),
        ("no-decision-maker", 11, "negotiation", "佐藤", 2_500_000, "USD", 24, 21, None,
         "Send deck", "2026-12-10", "2027-01-15"),
        ("no-decision-maker", 13, "proposal", "佐藤", 9_000_000, "JPY", 3, 21, None,
         "見積作成", "2026-12-03", "2027-09-30"),
    ]  # fmt: skip
    assert table(run, "stale") == (
        "Stale (2)\n"
        "  # ┃ Title  ┃ Account       ┃ Stage      ┃ Idle ┃ Limit ┃ Over ┃ Next action\n"
        "━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━╇━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━\n"
        " 11 │ Juliet │ Juliet Corp   │ 交渉       │   24 │    21 │    3 │ Send deck\n"
        "  9 │ India  │ India Trading │ ヒアリング │   15 │    14 │    1 │ 電話\n"
        "No next action (1)\n"
        "  # ┃ Title ┃ Account      ┃ Stage      ┃ Idle ┃ Next action ┃ Due\n"
        "━━━━╇━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━╇━━━━━\n"
        " 12 │ Kilo  │ 株式会社キロ │ アプローチ │    8 │             │\n"
        "No decision maker (3)\n"
        "  # ┃ Title   ┃ Account        ┃ Stage ┃        Amount ┃ Close\n"
        "━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━\n"
        "  5 │ Charlie │ チャーリー商事 │ 交渉  │ 3,000,000 JPY │\n"
        " 11 │ Juliet  │ Juliet Corp    │ 交渉  │ 25,000.00 USD │ 2027-01-15\n"
        " 13 │ Lima    │ Lima KK        │ 提案  │ 9,000,000 JPY │ 2027-09-30\n"
    )
    assert pick(as_json(run, "stale", "--owner", "鈴木"), "reason", "number") == [
        ("stale", 9),
        ("no-next-action", 12),
        ("no-decision-maker", 5),
    ]


# --- lost and revisit --------------------------------------------------------------------------

LOST_KEYS = ("by", "pipeline", "key", "name", "currency", "count", "amount", "share_pct")


def test_lost(run: Any) -> None:
    # Lost now: Delta ($10,000, price, hearing), Echo (¥500,000, price, approach), Foxtrot
    # (¥800,000, timing, hearing), Golf (¥1,200,000, no-budget, hearing). Charlie's loss was
    # undone by its reopening. Each share is of the 4.
    assert pick(as_json(run, "lost"), *LOST_KEYS) == [
        # price has the most deals (2), then the configured order: timing, no-budget
        ("reason", None, "price", "価格", "JPY", 1, 500_000, 25.0),
        ("reason", None, "price", "価格", "USD", 1, 1_000_000, 25.0),
        ("reason", None, "timing", "時期", "JPY", 1, 800_000, 25.0),
        ("reason", None, "no-budget", "予算なし", "JPY", 1, 1_200_000, 25.0),
        ("stage", "b2b", "approach", "アプローチ", "JPY", 1, 500_000, 25.0),
        # Foxtrot + Golf: 800,000 + 1,200,000; 2 of 4
        ("stage", "b2b", "hearing", "ヒアリング", "JPY", 2, 2_000_000, 50.0),
        ("stage", "b2b", "hearing", "ヒアリング", "USD", 1, 1_000_000, 25.0),
    ]
    # 500,000 + 800,000 + 1,200,000 = 2,500,000 JPY and $10,000
    assert table(run, "lost") == (
        "Lost by reason\n"
        " Reason   ┃ Currency ┃ Deals ┃        Amount ┃ Share %\n"
        "━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━\n"
        " 価格     │ JPY      │     1 │   500,000 JPY │    25.0\n"
        " 価格     │ USD      │     1 │ 10,000.00 USD │    25.0\n"
        " 時期     │ JPY      │     1 │   800,000 JPY │    25.0\n"
        " 予算なし │ JPY      │     1 │ 1,200,000 JPY │    25.0\n"
        "Lost from stage\n"
        " Lost from  ┃ Currency ┃ Deals ┃        Amount ┃ Share %\n"
        "━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━\n"
        " アプローチ │ JPY      │     1 │   500,000 JPY │    25.0\n"
        " ヒアリング │ JPY      │     2 │ 2,000,000 JPY │    50.0\n"
        " ヒアリング │ USD      │     1 │ 10,000.00 USD │    25.0\n"
        "Total: 4 lost deals; 2,500,000 JPY, 10,000.00 USD\n"
    )
    # Lost since 07-01: Foxtrot (08-20) and Golf (10-01), each half of the two.
    assert pick(as_json(run, "lost", "--since", "2026-07-01"), *LOST_KEYS) == [
        ("reason", None, "timing", "時期", "JPY", 1, 800_000, 50.0),
        ("reason", None, "no-budget", "予算なし", "JPY", 1, 1_200_000, 50.0),
        ("stage", "b2b", "hearing", "ヒアリング", "JPY", 2, 2_000_000, 100.0),
    ]


# The revisit columns of docs/output.md (pinned here: tests/test_contract.py leaves them out,
# as its book has no deal lost long enough ago).
REVISIT_COLUMNS = (
    "number",
    "id",
    "title",
    "account",
    "owner",
    "pipeline",
    "stage",
    "stage_name",
    "amount",
    "currency",
    "lost_reason",
    "lost_reason_name",
    "lost_on",
    "months_since_lost",
    "revisit_after_months",
    "revisit_on",
    "lost_note",
    "notes",
)


def test_revisit(run: Any, ids: dict[int, str]) -> None:
    # [revisit] defaults: price 6 months, timing 3, no-budget 12. Ripe on 12-03: Foxtrot (lost
    # 08-20 + 3 months = 11-20) and Delta (06-03 + 6 = 12-03, today), longest ripe first.
    # Not ripe: Echo (06-04 + 6 = 12-04), Golf (10-01 + 12 = 2027-10-01).
    rows = with_ids(as_json(run, "revisit"), ids)
    assert [tuple(row.values()) for row in rows] == [
        (6, ids[6], "Foxtrot", "Foxtrot Ltd", "鈴木", "b2b", "hearing", "ヒアリング", 800_000,
         "JPY", "timing", "時期", "2026-08-20", 3, 3, "2026-11-20", "来期に再検討", None),
        (1, ids[1], "Delta", "Delta Corp", "鈴木", "b2b", "hearing", "ヒアリング", 1_000_000,
         "USD", "price", "価格", "2026-06-03", 6, 6, "2026-12-03",
         "Budget went to a competitor", None),
    ]  # fmt: skip
    assert table(run, "revisit") == (
        "Revisit (2)\n"
        " # ┃ Title   ┃ Account     ┃ Lost from  ┃        Amount ┃ Reason ┃ Lost on    ┃"
        " Months ┃ Lost note                   ┃ Notes\n"
        "━━━╇━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━╇"
        "━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━\n"
        " 6 │ Foxtrot │ Foxtrot Ltd │ ヒアリング │   800,000 JPY │ 時期   │ 2026-08-20 │"
        "      3 │ 来期に再検討                │\n"
        " 1 │ Delta   │ Delta Corp  │ ヒアリング │ 10,000.00 USD │ 価格   │ 2026-06-03 │"
        "      6 │ Budget went to a competitor │\n"
    )
    assert run("revisit", "-q") == "6\n1\n"
    # 佐藤's lost deals (Echo, Golf) are not ripe yet.
    assert table(run, "revisit", "--owner", "佐藤") == (
        "no lost deals ripe for another try for 佐藤\n"
    )


def _header_and_rows(text: str, fmt: str) -> tuple[list[str] | None, list[list[str]]]:
    """(header, each row's keys or cells) of a listing in one machine format."""
    if fmt == "csv":
        lines = list(csv.reader(io.StringIO(text)))
        return lines[0], lines[1:]
    if fmt == "tsv":
        lines = [line.split("\t") for line in text.split("\n")[:-1]]
        return lines[0], lines[1:]
    objects = json.loads(text) if fmt == "json" else [json.loads(x) for x in text.splitlines()]
    return None, [list(o) for o in objects]


@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_revisit_carries_exactly_the_documented_columns(run: Any, fmt: str) -> None:
    assert _documented_tables()["revisit"] == REVISIT_COLUMNS
    header, rows = _header_and_rows(run("revisit", "--format", fmt), fmt)
    assert len(rows) == 2
    if header is not None:
        assert tuple(header) == REVISIT_COLUMNS
        assert all(len(cells) == len(REVISIT_COLUMNS) for cells in rows)
    else:
        assert all(tuple(keys) == REVISIT_COLUMNS for keys in rows)


# --- next --------------------------------------------------------------------------------------
#
# score = Σ coefficient × term, each product rounded to two places (dealctl/priority.py; the
# `next` columns in docs/output.md). Default coefficients: due 12, probability 4, size 3,
# stale 5, no_next_action 6, qualification 2, hot 4. The due term ramps from 0 when due 14 or
# more days ahead to 1 at 7 days late: (days_overdue + 14) ÷ 21, within 0..1. The size term is
# 1 + log10(amount ÷ the largest open amount of its currency) ÷ 3 (JPY: Lima's 9,000,000;
# USD: Juliet's 2,500,000). Qualification is BANT ÷ 4; hot is 1 for the `hot` tag.

NEXT_KEYS = (
    "rank",
    "number",
    "score",
    "probability",
    "probability_source",
    "days_overdue",
    "idle_days",
    "due_points",
    "probability_points",
    "size_points",
    "stale_points",
    "no_next_action_points",
    "qualification_points",
    "hot_points",
    "why",
)


def test_next(run: Any, ids: dict[int, str]) -> None:
    rows = with_ids(as_json(run, "next"), ids)
    assert pick(rows, *NEXT_KEYS) == [
        # India: 8 days late, (8 + 14) ÷ 21 > 1 → 12 × 1; 4 × 0.2; 3 × (1 + log10(4/9) ÷ 3)
        # = 3 × 0.8826 = 2.65; stale 5 → 12 + 0.8 + 2.65 + 5 = 20.45
        (1, 9, 20.45, 20, "stage", 8, 15, 12.0, 0.8, 2.65, 5.0, 0.0, 0.0, 0.0,
         "due 12.00, stale 5.00, size 2.65"),
        # Hotel: due tomorrow, 12 × 13/21 = 7.43; 4 × 0.4 = 1.6; 3 × (1 + log10(5/9) ÷ 3)
        # = 3 × 0.9149 = 2.74; BANT 3/4 × 2 = 1.5; hot 4 → 17.27
        (2, 8, 17.27, 40, "stage", -1, 21, 7.43, 1.6, 2.74, 0.0, 0.0, 1.5, 4.0,
         "due 7.43, hot 4.00, size 2.74"),
        # Juliet: due in 7 days, 12 × 7/21 = 4; 4 × 0.7 = 2.8; the largest USD, 3 × 1; stale 5
        # → 14.8
        (3, 11, 14.8, 70, "stage", -7, 24, 4.0, 2.8, 3.0, 5.0, 0.0, 0.0, 0.0,
         "stale 5.00, due 4.00, size 3.00"),
        # Charlie: 2 days late, 12 × 16/21 = 9.14; 4 × 0.6 (by hand) = 2.4;
        # 3 × (1 + log10(3/9) ÷ 3) = 3 × 0.8410 = 2.52 → 14.06
        (4, 5, 14.06, 60, "deal", 2, 13, 9.14, 2.4, 2.52, 0.0, 0.0, 0.0, 0.0,
         "due 9.14, size 2.52, probability 2.40"),
        # Lima: due today, 12 × 14/21 = 8; 4 × 0.25 (by hand) = 1; the largest JPY, 3 → 12
        (5, 13, 12.0, 25, "deal", 0, 3, 8.0, 1.0, 3.0, 0.0, 0.0, 0.0, 0.0,
         "due 8.00, size 3.00, probability 1.00"),
        # Kilo: no due date, 0; 4 × 0.1 = 0.4; 3 × (1 + log10(0.6/9) ÷ 3) = 3 × 0.6080 = 1.82;
        # no next action 6 → 8.22
        (6, 12, 8.22, 10, "stage", None, 8, 0.0, 0.4, 1.82, 0.0, 6.0, 0.0, 0.0,
         "no_next_action 6.00, size 1.82, probability 0.40"),
    ]  # fmt: skip
    assert table(run, "next") == (
        "Next\n"
        " Rank ┃  # ┃ Score ┃ Title   ┃ Account        ┃ Stage      ┃        Amount ┃"
        " Next action ┃ Due        ┃ Why\n"
        "━━━━━━╇━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇"
        "━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━\n"
        "    1 │  9 │ 20.45 │ India   │ India Trading  │ ヒアリング │ 4,000,000 JPY │"
        " 電話        │ 2026-11-25 │ due 12.00, stale 5.00, size 2.65\n"
        "    2 │  8 │ 17.27 │ Hotel   │ 株式会社ホテル │ 提案       │ 5,000,000 JPY │"
        " 提案書送付  │ 2026-12-04 │ due 7.43, hot 4.00, size 2.74\n"
        "    3 │ 11 │ 14.80 │ Juliet  │ Juliet Corp    │ 交渉       │ 25,000.00 USD │"
        " Send deck   │ 2026-12-10 │ stale 5.00, due 4.00, size 3.00\n"
        "    4 │  5 │ 14.06 │ Charlie │ チャーリー商事 │ 交渉       │ 3,000,000 JPY │"
        " 条件確認    │ 2026-12-01 │ due 9.14, size 2.52, probability 2.40\n"
        "    5 │ 13 │ 12.00 │ Lima    │ Lima KK        │ 提案       │ 9,000,000 JPY │"
        " 見積作成    │ 2026-12-03 │ due 8.00, size 3.00, probability 1.00\n"
        "    6 │ 12 │  8.22 │ Kilo    │ 株式会社キロ   │ アプローチ │   600,000 JPY │"
        "             │            │ no_next_action 6.00, size 1.82, probability 0.40\n"
    )
    assert run("next", "--owner", "佐藤", "-q") == "8\n11\n13\n"


DEFAULT_ORDER = [(9, 20.45), (8, 17.27), (11, 14.8), (5, 14.06), (13, 12.0), (12, 8.22)]


@pytest.mark.parametrize(
    ("settings", "order"),
    [
        # Hotel loses its 4 hot points: 17.27 − 4 = 13.27, below Juliet and Charlie.
        ("hot = 0", [(9, 20.45), (11, 14.8), (5, 14.06), (8, 13.27), (13, 12.0), (12, 8.22)]),
        # No due term, size × 10: India 0.8 + 8.83 + 5 = 14.63; Hotel 1.6 + 9.15 + 1.5 + 4
        # = 16.25; Juliet 2.8 + 10 + 5 = 17.8; Charlie 2.4 + 8.41 = 10.81; Lima 1 + 10 = 11;
        # Kilo 0.4 + 6.08 + 6 = 12.48.
        (
            "due = 0\nsize = 10",
            [(11, 17.8), (8, 16.25), (9, 14.63), (12, 12.48), (13, 11.0), (5, 10.81)],
        ),
        # The ramp starts at the due date: (days_overdue + 0) ÷ 7. Charlie 12 × 2/7 = 3.43
        # → 8.35; Hotel, Juliet and Lima lose their due points (7.43, 4, 8): 9.84, 10.8, 4.
        (
            "due_far_days = 0",
            [(9, 20.45), (11, 10.8), (8, 9.84), (5, 8.35), (12, 8.22), (13, 4.0)],
        ),
    ],
)
def test_next_order_follows_the_priority_coefficients(
    run: Any, isolated: Path, settings: str, order: list[tuple[int, float]]
) -> None:
    assert pick(as_json(run, "next"), "number", "score") == DEFAULT_ORDER
    (isolated / "config.toml").write_text(f"[priority]\n{settings}\n", encoding="utf-8")
    assert pick(as_json(run, "next"), "number", "score") == order


# --- due ---------------------------------------------------------------------------------------


def test_due(run: Any, cli: Cli, ids: dict[int, str]) -> None:
    keys = ("number", "stage", "probability", "next_action", "next_due", "days_overdue", "owner")
    # Due today or earlier, most overdue first: India 11-25 → 12-03 = 8, Charlie 12-01 → 2,
    # Lima today 0. Kilo has no next action.
    rows = with_ids(as_json(run, "due"), ids)
    assert pick(rows, *keys) == [
        (9, "hearing", 20, "電話", "2026-11-25", 8, "鈴木"),
        (5, "negotiation", 60, "条件確認", "2026-12-01", 2, "鈴木"),
        (13, "proposal", 25, "見積作成", "2026-12-03", 0, "佐藤"),
    ]
    assert cli.stderr == "dealctl: warning: no next action or no due date on 1 open deal: 12\n"
    assert table(run, "due") == (
        "Due\n"
        "  # ┃ Title   ┃ Account        ┃ Stage      ┃ Next action ┃ Due        ┃ Overdue\n"
        "━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━\n"
        "  9 │ India   │ India Trading  │ ヒアリング │ 電話        │ 2026-11-25 │       8\n"
        "  5 │ Charlie │ チャーリー商事 │ 交渉       │ 条件確認    │ 2026-12-01 │       2\n"
        " 13 │ Lima    │ Lima KK        │ 提案       │ 見積作成    │ 2026-12-03 │       0\n"
        "No next action or no due date (1)\n"
        "  # ┃ Title ┃ Account      ┃ Stage\n"
        "━━━━╇━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━\n"
        " 12 │ Kilo  │ 株式会社キロ │ アプローチ\n"
    )
    # Within 7 days also: Hotel 12-04 (−1) and Juliet 12-10 (−7).
    assert pick(as_json(run, "due", "--within", "7d"), "number", "days_overdue") == [
        (9, 8),
        (5, 2),
        (13, 0),
        (8, -1),
        (11, -7),
    ]
    assert table(run, "due", "--within", "7d") == (
        "Due\n"
        "  # ┃ Title   ┃ Account        ┃ Stage      ┃ Next action ┃ Due        ┃ Overdue\n"
        "━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━\n"
        "  9 │ India   │ India Trading  │ ヒアリング │ 電話        │ 2026-11-25 │       8\n"
        "  5 │ Charlie │ チャーリー商事 │ 交渉       │ 条件確認    │ 2026-12-01 │       2\n"
        " 13 │ Lima    │ Lima KK        │ 提案       │ 見積作成    │ 2026-12-03 │       0\n"
        "  8 │ Hotel   │ 株式会社ホテル │ 提案       │ 提案書送付  │ 2026-12-04 │      -1\n"
        " 11 │ Juliet  │ Juliet Corp    │ 交渉       │ Send deck   │ 2026-12-10 │      -7\n"
        "No next action or no due date (1)\n"
        "  # ┃ Title ┃ Account      ┃ Stage\n"
        "━━━━╇━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━\n"
        " 12 │ Kilo  │ 株式会社キロ │ アプローチ\n"
    )
    assert pick(as_json(run, "due", "--owner", "佐藤"), "number", "days_overdue") == [(13, 0)]
    assert cli.stderr == ""  # 佐藤 has a next action with a due date on every open deal


# --- an empty book -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database whose only deal was added and undone: it exists and has no deals."""
    folder = tmp_path_factory.mktemp("empty")
    db = folder / "deals.db"
    env = {
        "DEALCTL_NOW": "2026-12-03T09:00:00+09:00",
        "TZ": "Asia/Tokyo",
        "DEALCTL_CONFIG": str(folder / "none.toml"),
    }
    runner = CliRunner()
    steps = [("add", "Gone", "--amount", "100万", "--next", "call", "--due", "today"), ("undo",)]
    with pytest.MonkeyPatch.context() as patch:
        build_once(patch)
        for args in steps:
            result = runner.invoke(app, ["--db", str(db), *args], env=env)
            assert result.exit_code == 0, (args, result.output)
    return db


EMPTY_STATES: dict[tuple[str, ...], str] = {
    ("pipeline",): "no open deals in pipeline b2b: add one with dealctl add TITLE",
    ("funnel",): "no deals in pipeline b2b yet: nothing to measure",
    ("funnel", "--overall"): "no deals in pipeline b2b yet: nothing to measure",
    ("forecast",): "nothing to forecast: no open deals and none won in these months",
    ("stale",): (
        "nothing to chase: no stale deals, and every open deal has a next action and a"
        " decision maker"
    ),
    ("lost",): "no lost deals",
    ("revisit",): "no lost deals ripe for another try",
    ("next",): "no open deals: nothing to work on",
    ("due",): "nothing due",
}


@pytest.mark.parametrize("command", list(EMPTY_STATES), ids=" ".join)
def test_reports_on_an_empty_book_say_so_in_one_line(
    cli: Cli, empty: Path, command: tuple[str, ...]
) -> None:
    assert cli("--db", str(empty), *command, "--format", "table") == EMPTY_STATES[command] + "\n"
    assert cli.stderr == ""


def test_digest_on_an_empty_book_is_a_clear_day(cli: Cli, empty: Path) -> None:
    # The digest is a document, not a report table: its headline, then the documented
    # "a clear day" line (docs/output.md#digest), then the (empty) pipeline.
    assert cli("--db", str(empty), "digest") == (
        "Digest for Thu 2026-12-03 (Asia/Tokyo)\n"
        "Nothing due, overdue or waiting: a clear day.\n"
        "Open pipeline: no open deals\n"
    )
    assert cli.stderr == ""


# --- percentages -------------------------------------------------------------------------------


def test_percentages_round_halves_up_in_every_form(cli: Cli, tmp_path: Path) -> None:
    # 1 won and 15 lost: 1 ÷ 16 = 6.25%, which one decimal place rounds up to 6.3 (as the
    # means and win_rate_pct do), in the conversion, the --overall row and the table's line.
    lines = [
        "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value",
        "W,A,GTX,Acme,Won,2026-10-01,2026-11-02,100",
    ]
    lines += [f"L{n},A,GTX,Acme,Lost,2026-10-01,2026-11-{n + 1:02d},0" for n in range(15)]
    (tmp_path / "ties.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli("import", str(tmp_path / "ties.csv"))
    funnel = as_json(cli, "funnel")
    assert pick(funnel, "stage", "reached", "moved_on", "conversion_pct")[:2] == [
        ("approach", 16, 16, 100.0),
        ("hearing", 16, 1, 6.3),
    ]
    assert as_json(cli, "funnel", "--overall")[0]["win_rate_pct"] == 6.3
    assert table(cli, "funnel").splitlines()[-1] == "Win rate 6.3% (1 won / 16 closed); 0 open"


# --- the Maven CRM file ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def maven(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Maven CRM pipeline imported once into a database of its own."""
    if not SHARED.is_dir():
        pytest.skip(f"no shared data folder at {SHARED}")
    db = tmp_path_factory.mktemp("maven") / "deals.db"
    env = {
        "DEALCTL_NOW": "2026-12-03T09:00:00+09:00",
        "TZ": "Asia/Tokyo",
        "DEALCTL_CONFIG": str(db.with_name("none.toml")),
    }
    with pytest.MonkeyPatch.context() as patch:
        build_once(patch)
        result = CliRunner().invoke(app, ["--db", str(db), "import", str(MAVEN)], env=env)
    assert result.exit_code == 0, result.output
    return db


def test_maven_win_rate_and_engage_to_close_time(cli: Cli, maven: Path) -> None:
    with MAVEN.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    won = [r for r in rows if r["deal_stage"] == "Won"]
    lost = [r for r in rows if r["deal_stage"] == "Lost"]
    assert (len(won), len(won) + len(lost)) == (4238, 6711)
    # A Maven deal starts on its engage_date; a won one's sales cycle runs to its close_date.
    days = [
        (date.fromisoformat(r["close_date"]) - date.fromisoformat(r["engage_date"])).days
        for r in won
    ]
    mean = (Decimal(sum(days)) / len(days)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert as_json(cli, "--db", str(maven), "funnel", "--overall") == [
        {
            "pipeline": "b2b",
            "won": 4238,
            "lost": 2473,
            "open": 2089,  # 8800 − 6711
            "win_rate_pct": 63.2,  # 4238 ÷ 6711 = 63.15…%
            "cycle_count": 4238,
            "cycle_median_days": float(median(days)),
            "cycle_mean_days": float(mean),
        }
    ]
    assert table(cli, "--db", str(maven), "funnel").splitlines()[-2:] == [
        f"Sales cycle: median {float(median(days)):.1f} days, mean {mean} days (4238 won)",
        "Win rate 63.2% (4238 won / 6711 closed); 2089 open",
    ]


def test_forecast_shows_at_most_120_months_however_they_are_asked_for(run: Any, cli: Cli) -> None:
    months = run("forecast", "--since", "2026-12-01", "--until", "2036-11-30", "-f", "csv")
    assert {line.split(",")[1] for line in months.splitlines()[1:]} >= {"2026-12", "2036-11"}
    run("forecast", "--since", "2026-12-01", "--until", "2036-12-01", code=2)
    assert cli.stderr == (
        "dealctl: --until 2036-12-01 is 121 months after 2026-12: a forecast shows at most"
        " 120 months\n"
    )
