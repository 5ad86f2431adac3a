"""The whole life of one deal, day by day, with every report checked exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Cli, set_clock


def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli(*args, "--format", "json"))


def test_a_deal_from_first_call_to_contract(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    set_clock(monkeypatch, "2026-11-02T10:00:00+09:00")  # a Monday
    assert (
        cli(
            "add",
            "基幹システム更新 [2026]",
            "--account",
            "株式会社サンプル",
            "--amount",
            "120万",
            "--next",
            "初回訪問",
            "--due",
            "fri",
            "-q",
        )
        == "1\n"
    )
    assert "created database" in cli.stderr
    cli(
        "add",
        "Renewal",
        "--account",
        "Example Inc.",
        "--amount",
        "$18,500.00",
        "--currency",
        "USD",
        "--stage",
        "proposal",
        "--next",
        "Send quote",
        "--due",
        "+2d",
    )

    set_clock(monkeypatch, "2026-11-06T15:00:00+09:00")
    cli("log", "1", "初回訪問。課題をヒアリング", "--kind", "meeting")
    cli("advance", "1", "--next", "提案書送付", "--due", "+5d")

    set_clock(monkeypatch, "2026-11-11T11:00:00+09:00")
    cli("log", "1", "提案書を送付", "--kind", "document", "--next", "電話で確認", "--due", "fri")
    cli("advance", "1")
    set_clock(monkeypatch, "2026-11-20T18:00:00+09:00")
    cli("lose", "1", "--reason", "価格", "--note", "競合が2割安い")

    set_clock(monkeypatch, "2026-12-01T09:30:00+09:00")
    cli("reopen", "1")
    cli("advance", "1", "negotiation", "--next", "契約条件の確認", "--due", "2026-12-02")

    set_clock(monkeypatch, "2026-12-03T09:00:00+09:00")
    due = _json(cli, "due")
    assert [(d["number"], d["next_action"], d["days_overdue"]) for d in due] == [
        (1, "契約条件の確認", 1),
        (2, "Send quote", 29),
    ][::-1]

    pipeline = _json(cli, "pipeline")
    assert [
        (r["stage"], r["currency"], r["count"], r["amount"], r["weighted_amount"]) for r in pipeline
    ] == [
        ("proposal", "USD", 1, 1850000, 740000),
        ("negotiation", "JPY", 1, 1200000, 840000),
    ]

    cli("close", "1", "--amount", "1,150,000")
    card = _json(cli, "show", "1")
    assert (card["status"], card["stage"], card["amount"], card["close_date"]) == (
        "won",
        "contract",
        1150000,
        "2026-12-03",
    )
    assert card["next_action"] is None
    assert [(e["at"][:16], e["kind"], e["text"]) for e in card["timeline"] if e["kind"] == "edit"][
        :3
    ] == [
        ("2026-11-06T15:00", "edit", "next_due: 2026-11-06 → 2026-11-11"),
        ("2026-11-06T15:00", "edit", "next_action: 初回訪問 → 提案書送付"),
        ("2026-11-11T11:00", "edit", "next_due: 2026-11-11 → 2026-11-13"),
    ]
    assert ("2026-11-20T18:00", "edit", "lost_note: — → 競合が2割安い") in [
        (e["at"][:16], e["kind"], e["text"]) for e in card["timeline"]
    ]
    assert [
        (e["at"][:16], e["kind"], e["text"]) for e in card["timeline"] if e["kind"] != "edit"
    ] == [
        ("2026-11-02T10:00", "stage", "created at approach"),
        ("2026-11-06T15:00", "meeting", "初回訪問。課題をヒアリング"),
        ("2026-11-06T15:00", "stage", "approach → hearing"),
        ("2026-11-11T11:00", "document", "提案書を送付"),
        ("2026-11-11T11:00", "stage", "hearing → proposal"),
        ("2026-11-20T18:00", "stage", "open → lost (proposal)"),
        ("2026-12-01T09:30", "stage", "lost → open (proposal)"),
        ("2026-12-01T09:30", "stage", "proposal → negotiation"),
        ("2026-12-03T09:00", "stage", "open → won (contract)"),
    ]

    funnel = _json(cli, "funnel")
    assert [
        (r["stage"], r["reached"], r["moved_on"], r["lost"], r["conversion_pct"]) for r in funnel
    ] == [
        ("approach", 2, 2, 0, 100.0),
        ("hearing", 2, 2, 0, 100.0),
        ("proposal", 2, 1, 0, 50.0),
        ("negotiation", 1, 1, 0, 100.0),
        ("contract", 1, None, 0, None),
    ]
    table = cli("funnel", "--format", "table")
    assert "Win rate 100.0% (1 won / 1 closed); 1 open" in table

    changes = _json(cli, "history", "1")
    moves = [
        (c["field"], c["old"], c["new"])
        for c in changes
        if c["field"] in ("stage", "status", "amount", "lost_reason")
    ]
    assert moves == [
        ("stage", None, "approach"),
        ("status", None, "open"),
        ("amount", None, "1200000"),
        ("stage", "approach", "hearing"),
        ("stage", "hearing", "proposal"),
        ("status", "open", "lost"),
        ("lost_reason", None, "price"),
        ("status", "lost", "open"),
        ("lost_reason", "price", None),
        ("stage", "proposal", "negotiation"),
        ("amount", "1200000", "1150000"),
        ("stage", "negotiation", "contract"),
        ("status", "open", "won"),
    ]
    assert {c["command"] for c in changes} == {"add", "log", "advance", "lose", "reopen", "close"}


def test_closed_deals_refuse_to_move(cli: Cli) -> None:
    cli("add", "A", "-q")
    cli("close", "1")
    cli("advance", "1", code=1)
    assert cli.stderr == "dealctl: deal 1 is won: reopen it first (dealctl reopen 1)\n"
    cli("lose", "1", "--reason", "price", code=1)
    cli("reopen", "1")
    assert _json(cli, "show", "1")["stage"] == "approach"  # where it was won from


def test_lost_reason_must_be_configured(cli: Cli) -> None:
    cli("add", "A")
    cli("lose", "1", "--reason", "weather", code=2)
    assert cli.stderr.startswith("dealctl: unknown lost reason 'weather': use one of price (価格),")
    assert cli.stderr.count("\n") == 1
    assert _json(cli, "show", "1")["status"] == "open"


def test_backwards_move_is_recorded(cli: Cli) -> None:
    cli("add", "A", "--stage", "negotiation")
    cli("advance", "1", "hearing")
    assert _json(cli, "show", "1")["timeline"][-1]["text"] == "negotiation → hearing"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "A", "--due", "someday"), "invalid due date 'someday'"),
        (("add", "A", "--amount", "12O,000"), "invalid amount '12O,000'"),
        (("add", "A", "--close", "03/04/2026"), "ambiguous close date '03/04/2026'"),
        (("add", "A", "--stage", "dreaming"), "unknown stage 'dreaming'"),
        (("add", "A", "--due", "fri"), "a due date needs a next action"),
        (("add", "  "), "a deal needs a title"),
        (("log", "1", "x", "--kind", "fax"), "unknown kind 'fax'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    cli("add", "existing")
    before = cli("export")
    cli(*args, code=2)
    assert cli.stderr.startswith(f"dealctl: {message}")
    assert cli.stderr.count("\n") == 1
    assert cli("export") == before


def test_unknown_deal_is_not_found(cli: Cli) -> None:
    cli("add", "A")
    cli("show", "99", code=3)
    assert cli.stderr == "dealctl: no deal 99\n"


def test_read_commands_never_create_the_database(cli: Cli, db_path: Any) -> None:
    cli("list", code=5)
    assert "no database at" in cli.stderr
    assert not db_path.exists()


def test_accounts_match_after_normalisation(cli: Cli) -> None:
    cli("add", "A", "--account", "株式会社サンプル")
    cli("add", "B", "--account", "㈱サンプル")
    cli("add", "C", "--account", "(株)ｻﾝﾌﾟﾙ")
    accounts = {r["account"] for r in _json(cli, "list")}
    assert accounts == {"株式会社サンプル"}
    assert [r["number"] for r in _json(cli, "list", "--account", "サンプル")] == [1, 2, 3]


def test_list_filters_and_quiet(cli: Cli) -> None:
    cli("add", "Alpha", "--tag", "hot", "--owner", "佐藤", "--amount", "300000")
    cli("add", "Beta", "--stage", "proposal", "--amount", "500000")
    cli("add", "Ｇａｍｍａ renewal", "--amount", "100000")
    cli("lose", "3", "--reason", "timing")
    assert cli("list", "-q") == "1\n2\n"
    assert cli("ls", "--status", "all", "-q", "--sort", "amount") == "2\n1\n3\n"
    assert cli("list", "--tag", "HOT", "-q") == "1\n"
    assert cli("list", "--stage", "提案", "-q") == "2\n"
    assert cli("list", "--owner", "佐藤", "-q") == "1\n"
    assert cli("list", "--status", "lost", "--search", "gamma", "-q") == "3\n"
