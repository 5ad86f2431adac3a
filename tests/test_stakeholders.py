"""Contacts, the buying committee and the approval route (稟議).

Contacts keep their e-mail addresses unique; one contact holds different roles on different
deals; the missing-decision-maker flag follows the stakeholders added and removed; approval
steps keep their order and their dates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dealctl import stakeholders
from dealctl.session import open_session
from tests.conftest import Cli, set_clock
from tests.test_contract import _documented_tables

CONTACT_COLUMNS = (
    "number",
    "id",
    "name",
    "account",
    "email",
    "phone",
    "title",
    "deals",
    "roles",
    "notes",
    "created_at",
    "updated_at",
)
STAKEHOLDER_COLUMNS = (
    "deal",
    "deal_title",
    "contact",
    "name",
    "account",
    "job_title",
    "email",
    "phone",
    "role",
    "role_name",
    "notes",
    "added_at",
)
STEP_COLUMNS = ("deal", "position", "name", "status", "done_on", "note")
ROUTE_COLUMNS = (
    "number",
    "id",
    "title",
    "account",
    "stage",
    "status",
    "done",
    "total",
    "current",
    "last_done_on",
)


def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli(*args, "--format", "json"))


# --- contacts ---------------------------------------------------------------------------------


def test_e_mails_are_normalised_and_kept_unique(cli: Cli) -> None:
    cli("contact", "add", "山田太郎", "-a", "株式会社サンプル", "-e", " Taro.Yamada@Example.com ")
    full_width = "ｔａｒｏ．ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ"
    cli("contact", "add", "山田花子", "-a", "サンプル", "--email", full_width, code=1)
    assert cli.stderr == (
        "dealctl: contact 1 山田太郎 (株式会社サンプル) has the e-mail"
        " Taro.Yamada@Example.com already\n"
    )
    cli("contact", "add", "山田花子", "-a", "サンプル", "--email", "hanako@example.com")
    cli("contact", "edit", "2", "--email", "TARO.YAMADA@example.com", code=1)
    assert cli.stderr.startswith("dealctl: contact 1 山田太郎 (株式会社サンプル) has the e-mail")
    # A deal naming the address finds the contact instead of making a second one.
    cli("add", "基幹", "--contact", "taro.yamada@EXAMPLE.com")
    assert [(c["number"], c["email"]) for c in _json(cli, "contact", "list")] == [
        (1, "Taro.Yamada@Example.com"),
        (2, "hanako@example.com"),
    ]
    assert _json(cli, "list")[0]["contact"] == "山田太郎"
    cli("contact", "add", "X", "--email", "not-an-address", code=2)
    assert cli.stderr == (
        "dealctl: invalid e-mail 'not-an-address': use an address such as taro@example.com\n"
    )
    cli("contact", "add", "  ", code=2)
    assert cli.stderr == "dealctl: a contact needs a name\n"
    # A contact may respell its own address; clearing an address frees it for another.
    assert cli("contact", "edit", "1", "--email", "taro.yamada@example.com") == (
        "contact 1: email changed\n"
    )
    cli("contact", "edit", "1", "--email", "")
    cli("contact", "edit", "2", "--email", "taro.yamada@example.com")


def test_contact_edit_show_and_list(cli: Cli) -> None:
    cli("contact", "add", "佐藤", "-a", "Globex", "--title", "課長", "--phone", "03-1234-5678")
    cli("contact", "add", "田中", "--notes", "紹介者")
    assert cli("contact", "edit", "佐藤", "--title", "部長", "--account", "#1", "--notes", "x") == (
        "contact 佐藤: title, notes changed\n"
    )
    cli("add", "A", "--account", "Globex")
    cli("stakeholder", "add", "1", "佐藤", "--role", "key-person", "--role", "approver")
    rows = _json(cli, "contact", "list")
    assert [tuple(r) for r in rows] == [CONTACT_COLUMNS] * 2
    assert [(r["name"], r["account"], r["title"], r["deals"], r["roles"]) for r in rows] == [
        ("佐藤", "Globex", "部長", 1, "approver,key-person"),
        ("田中", None, None, 0, ""),
    ]
    assert cli("contact", "list", "--format", "csv").splitlines()[0] == ",".join(CONTACT_COLUMNS)
    assert [r["name"] for r in _json(cli, "contact", "list", "--role", "承認者")] == ["佐藤"]
    assert [r["name"] for r in _json(cli, "contact", "list", "--account", "globex")] == ["佐藤"]
    assert [r["name"] for r in _json(cli, "contact", "list", "--search", "紹介")] == []
    assert [r["name"] for r in _json(cli, "contact", "list", "--search", "03-1234")] == ["佐藤"]
    card = _json(cli, "contact", "show", "1")
    assert card["deals"] == [
        {
            "number": 1,
            "id": card["deals"][0]["id"],
            "title": "A",
            "account": "Globex",
            "stage": "approach",
            "status": "open",
            "roles": [
                {"role": "key-person", "role_name": "キーパーソン"},
                {"role": "approver", "role_name": "承認者"},
            ],
            "main_contact": False,
        }
    ]
    assert cli("contact", "show", "佐藤").splitlines() == [
        "Contact     #1 佐藤",
        "Account     Globex (#1)",
        "Title       部長",
        "Phone       03-1234-5678",
        "Notes       x",
        f"Id          {card['id']}",
        "",
        "Deals",
        "  #1 A · approach · open · キーパーソン, 承認者",
    ]
    cli("contact", "show", "nobody", code=3)
    assert cli.stderr == "dealctl: no contact nobody\n"


# --- stakeholders -----------------------------------------------------------------------------


def _flagged(cli: Cli) -> list[int]:
    """Deal numbers flagged by the contract function used by `stale` and `digest`, checked
    against the digest's "no decision maker" section."""
    session = open_session(None, write=False)
    try:
        rows = stakeholders.missing_decision_maker(session)
        assert all({"number", "id", "title", "account", "stage", "owner"} <= set(r) for r in rows)
        numbers = [r["number"] for r in rows]
    finally:
        session.close()
    digest = _json(cli, "digest")["sections"].get("no_decision_maker", [])
    assert [r["number"] for r in digest] == numbers
    return numbers


def test_missing_decision_maker_flag_follows_the_committee(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("add", "基幹", "--account", "サンプル", "--stage", "hearing", "--owner", "佐藤")  # 1
    cli("add", "保守", "--account", "サンプル", "--stage", "negotiation", "--owner", "田中")  # 2
    cli("add", "B2C", "--pipeline", "b2c", "--stage", "offer")  # 3: no proposal stage there
    assert _flagged(cli) == [2]
    cli("advance", "1")  # hearing -> proposal: now it needs a decision maker
    assert _flagged(cli) == [1, 2]
    assert _json(cli, "show", "1")["decision_maker_missing"] is True
    assert "! no decision maker (決裁者) recorded" in cli("show", "1")

    cli("stakeholder", "add", "1", "山田", "--role", "approver")
    assert _flagged(cli) == [1, 2]  # an approver is not the decision maker
    out = cli("stakeholder", "add", "1", "山田", "--role", "decision maker")
    assert out == "deal 1: contact 1 山田 added as decision-maker\n"
    assert _flagged(cli) == [2]
    assert _json(cli, "show", "1")["decision_maker_missing"] is False
    assert "no decision maker" not in cli("show", "1")

    assert cli("stakeholder", "remove", "1", "山田", "--role", "decision-maker") == (
        "deal 1: 山田 removed (decision-maker)\n"
    )
    assert cli.stderr == (
        "dealctl: warning: deal 1 is at proposal with no decision maker (決裁者) recorded\n"
    )
    assert _flagged(cli) == [1, 2]
    cli("stakeholder", "add", "1", "#1", "--role", "決裁者")
    assert _flagged(cli) == [2]
    cli("stakeholder", "remove", "1", "#1")  # every role
    assert _flagged(cli) == [1, 2]

    session = open_session(None, write=False)
    assert [r["number"] for r in stakeholders.missing_decision_maker(session, owner="田中")] == [2]
    session.close()
    cli("lose", "2", "--reason", "price")  # closed deals are not flagged
    assert _flagged(cli) == [1]
    cli("stakeholder", "list", "1", "--format", "csv")
    assert cli.stderr == (
        "dealctl: warning: deal 1 is at proposal with no decision maker (決裁者) recorded\n"
    )
    cli("config", "set", "stakeholders.decision_maker_from", "negotiation")
    assert _flagged(cli) == []
    cli("advance", "1")
    assert _flagged(cli) == [1]


def test_one_contact_holds_different_roles_on_different_deals(cli: Cli) -> None:
    cli("add", "基幹", "--account", "株式会社サンプル")
    cli("add", "保守", "--account", "株式会社サンプル")
    cli(
        "contact",
        "add",
        "山田太郎",
        "-a",
        "サンプル",
        "-e",
        "yamada@sample.co.jp",
        "--title",
        "部長",
    )
    cli(
        "stakeholder",
        "add",
        "1",
        "yamada@sample.co.jp",
        "-r",
        "decision-maker",
        "--note",
        "最終決裁",
    )
    cli("stakeholder", "add", "2", "山田太郎", "--role", "influencer")
    cli("stakeholder", "add", "1", "鈴木", "--role", "information-gatherer")  # new contact
    assert cli("stakeholder", "add", "1", "#1", "--role", "decision-maker") == (
        "deal 1: contact 1 山田太郎 is already decision-maker\n"
    )
    rows = _json(cli, "stakeholder", "list")
    assert [tuple(r) for r in rows] == [STAKEHOLDER_COLUMNS] * 3
    keys = ("deal", "contact", "name", "account", "job_title", "role", "role_name", "notes")
    assert [tuple(r[k] for k in keys) for r in rows] == [
        (1, 2, "鈴木", "株式会社サンプル", None, "information-gatherer", "情報収集者", None),
        (1, 1, "山田太郎", "株式会社サンプル", "部長", "decision-maker", "決裁者", "最終決裁"),
        (2, 1, "山田太郎", "株式会社サンプル", "部長", "influencer", "影響者", None),
    ]  # fmt: skip
    assert [r["deal"] for r in _json(cli, "stakeholder", "list", "--contact", "#1")] == [1, 2]
    assert [r["name"] for r in _json(cli, "stakeholder", "list", "2")] == ["山田太郎"]
    assert [r["deal"] for r in _json(cli, "stakeholder", "list", "--role", "影響者")] == [2]
    assert cli("stakeholder", "list", "--format", "tsv").splitlines()[0] == "\t".join(
        STAKEHOLDER_COLUMNS
    )
    card = cli("show", "1")
    assert "Committee   #2 鈴木: 情報収集者\n            #1 山田太郎 (部長): 決裁者\n" in card
    assert [(s["name"], s["role"]) for s in _json(cli, "show", "1")["stakeholders"]] == [
        ("鈴木", "information-gatherer"),
        ("山田太郎", "decision-maker"),
    ]
    cli("stakeholder", "add", "1", "#1", "--role", "boss", code=2)
    assert cli.stderr.startswith(
        "dealctl: unknown role 'boss': use one of information-gatherer (情報収集者),"
    )
    cli("stakeholder", "remove", "2", "鈴木", code=3)
    assert cli.stderr == "dealctl: contact 2 鈴木 is not a stakeholder on deal 2\n"
    cli("config", "set", "stakeholders.roles.champion", "推進者")
    assert cli("stakeholder", "add", "2", "鈴木", "--role", "推進者") == (
        "deal 2: contact 2 鈴木 added as champion\n"
    )


def test_a_name_shared_across_accounts_is_clear_within_one_deal(cli: Cli) -> None:
    cli("add", "基幹", "--account", "サンプル")
    cli("contact", "add", "田中", "-a", "Globex")
    cli("stakeholder", "add", "1", "田中", "--role", "user")  # a new 田中, at サンプル
    cli("contact", "show", "田中", code=2)
    assert cli.stderr == (
        "dealctl: contact '田中' is ambiguous (#1 田中 (Globex), #2 田中 (サンプル)):"
        " give the number\n"
    )
    assert cli("stakeholder", "remove", "1", "田中") == "deal 1: 田中 removed (user)\n"
    assert _json(cli, "stakeholder", "list") == []


def test_committee_writes_are_in_the_change_log(cli: Cli) -> None:
    cli("add", "基幹")
    cli("stakeholder", "add", "1", "山田", "--role", "decision-maker")
    cli("stakeholder", "remove", "1", "山田")
    rows = [r for r in _json(cli, "history") if r["entity"] == "deal_contact"]
    assert [(r["command"], r["field"], r["old"], r["new"]) for r in rows] == [
        ("stakeholder add", "created", None, "#1 山田: decision-maker"),
        ("stakeholder remove", "deleted_at", None, "2026-12-03T09:00:00+09:00"),
    ]


# --- approval route ---------------------------------------------------------------------------


def _steps(cli: Cli, deal: str = "1") -> list[tuple[Any, ...]]:
    return [
        (s["position"], s["name"], s["status"], s["done_on"])
        for s in _json(cli, "route", "show", deal)
    ]


def test_approval_steps_keep_their_order_and_dates(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_clock(monkeypatch, "2026-11-30T10:00:00+09:00")
    cli("add", "基幹システム更新", "--account", "サンプル")
    assert cli("route", "set", "1", "--template", "ringi") == (
        "deal 1: [現場承認] → 課長決裁 → 本部長承認 → 稟議書 → 契約 · 0/5 done\n"
    )
    assert cli("route", "check", "1", "--date", "2026-11-27", "--note", "現場OK") == (
        "deal 1: 現場承認 ✓2026-11-27 → [課長決裁] → 本部長承認 → 稟議書 → 契約 · 1/5 done\n"
    )
    cli("route", "check", "1", "本部長承認", code=1)
    assert cli.stderr == "dealctl: step 2. 課長決裁 comes first: steps are approved in order\n"
    cli("route", "check", "1", "--date", "2026-11-26", code=2)
    assert cli.stderr == (
        "dealctl: 2026-11-26 is before the previous step's date 2026-11-27: steps are approved"
        " in order\n"
    )
    cli("route", "check", "1", "--date", "tomorrow", code=2)
    assert cli.stderr.startswith("dealctl: date 'tomorrow' is in the future")
    cli("route", "check", "1", "課長決裁")  # today, 2026-11-30
    cli("route", "add", "1", "法務確認", "--before", "稟議書")
    cli("route", "add", "1", "検収")
    cli("route", "add", "1", "再見積", "--before", "1", code=1)
    assert cli.stderr == (
        "dealctl: step 1. 現場承認 is done already: steps go in order, so add new ones after"
        " the steps done\n"
    )
    set_clock(monkeypatch, "2026-12-03T09:00:00+09:00")
    assert _steps(cli) == [
        (1, "現場承認", "done", "2026-11-27"),
        (2, "課長決裁", "done", "2026-11-30"),
        (3, "本部長承認", "current", None),
        (4, "法務確認", "pending", None),
        (5, "稟議書", "pending", None),
        (6, "契約", "pending", None),
        (7, "検収", "pending", None),
    ]
    cli("route", "remove", "1", "検収")
    cli("route", "check", "1", "--date", "yesterday")
    cli("route", "uncheck", "1", "現場承認", code=1)
    assert cli.stderr == "dealctl: step 3. 本部長承認 is done after it: uncheck that first\n"
    cli("route", "uncheck", "1")
    cli("route", "check", "1", "3", "--date", "2026-12-01")
    cli("route", "remove", "1", "法務確認")
    assert _steps(cli) == [
        (1, "現場承認", "done", "2026-11-27"),
        (2, "課長決裁", "done", "2026-11-30"),
        (3, "本部長承認", "done", "2026-12-01"),
        (4, "稟議書", "current", None),
        (5, "契約", "pending", None),
    ]
    assert _json(cli, "route", "show", "1")[0]["note"] == "現場OK"
    card = cli("show", "1")
    assert (
        "Route       現場承認 ✓2026-11-27 → 課長決裁 ✓2026-11-30 → 本部長承認 ✓2026-12-01"
        " → [稟議書] → 契約 · 3/5 done\n"
    ) in card
    route = _json(cli, "show", "1")["route"]
    assert [route[k] for k in ("done", "total", "current", "complete")] == [3, 5, "稟議書", False]

    csv_text = cli("route", "show", "1", "--format", "csv")
    assert csv_text.splitlines() == [
        ",".join(STEP_COLUMNS),
        "1,1,現場承認,done,2026-11-27,現場OK",
        "1,2,課長決裁,done,2026-11-30,",
        "1,3,本部長承認,done,2026-12-01,",
        "1,4,稟議書,current,,",
        "1,5,契約,pending,,",
    ]
    table = cli("route", "show", "1", "--format", "table")
    assert table.splitlines()[0].strip() == "Route of deal 1 · 3/5 done"
    cli("route", "check", "1", "稟議書")
    cli("route", "check", "1")
    assert cli("route", "check", "1", code=1) == ""
    assert cli.stderr == "dealctl: deal 1's route is complete\n"

    cli("add", "保守", "--account", "Globex")
    cli("route", "set", "2", "課長決裁", "契約")
    cli("add", "no route")
    rows = _json(cli, "route", "list")
    assert [tuple(r) for r in rows] == [ROUTE_COLUMNS] * 2
    assert [
        (r["number"], r["account"], r["done"], r["total"], r["current"], r["last_done_on"])
        for r in rows
    ] == [(1, "サンプル", 5, 5, None, "2026-12-03"), (2, "Globex", 0, 2, "課長決裁", None)]
    assert cli("route", "list", "--format", "tsv").splitlines()[0] == "\t".join(ROUTE_COLUMNS)


def test_setting_a_route_twice_needs_replace(cli: Cli) -> None:
    cli("add", "A")
    cli("route", "set", "1", "現場承認", "契約")
    cli("route", "check", "1")
    cli("route", "set", "1", "--template", "ringi", code=1)
    assert cli.stderr == (
        "dealctl: deal 1 has a route already (1 of 2 done): pass --replace to set a new one\n"
    )
    cli("route", "set", "1", "--template", "nosuch", code=2)
    assert cli.stderr == "dealctl: unknown route template 'nosuch': use one of ringi\n"
    cli("route", "set", "1", "A", "a", "--replace", code=2)
    assert cli.stderr == "dealctl: step 'a' appears twice: give each step once\n"
    cli("route", "set", "1", "稟議", "契約", "--replace")
    assert _steps(cli) == [(1, "稟議", "current", None), (2, "契約", "pending", None)]
    assert cli("route", "remove", "1", "--all") == "deal 1: route removed (2 steps)\n"
    assert cli("route", "show", "1", "--format", "table") == "deal 1 has no route\n"
    cli("route", "check", "1", code=3)
    assert cli.stderr == "dealctl: deal 1 has no route: dealctl route set 1\n"


def test_route_templates_come_from_the_config(cli: Cli, isolated: Path) -> None:
    (isolated / "config.toml").write_text(
        '[routes]\nshort = ["課長決裁", "契約"]\n', encoding="utf-8"
    )
    cli("add", "A")
    cli("route", "set", "1", "--template", "SHORT")
    assert _steps(cli) == [(1, "課長決裁", "current", None), (2, "契約", "pending", None)]
    cli("route", "set", "1", "--template", "ringi", "--replace")  # the default is still there
    assert len(_steps(cli)) == 5


def test_documented_columns_match(cli: Cli) -> None:
    documented = _documented_tables()
    assert documented["contact list"] == CONTACT_COLUMNS
    assert documented["stakeholder list"] == STAKEHOLDER_COLUMNS
    assert documented["route show"] == STEP_COLUMNS
    assert documented["route list"] == ROUTE_COLUMNS


def test_dealctl_undo_reverts_each_committee_command(cli: Cli) -> None:
    cli("add", "基幹", "--account", "サンプル", "--stage", "proposal")
    cli("stakeholder", "add", "1", "山田", "--role", "decision-maker")
    assert _flagged(cli) == []
    cli("undo")  # the role and the contact made for it are gone
    assert (_flagged(cli), _json(cli, "contact", "list")) == ([1], [])
    cli("route", "set", "1", "現場承認", "契約")
    cli("route", "check", "1", "--date", "2026-12-01")
    cli("route", "add", "1", "課長決裁", "--before", "契約")
    cli("undo")
    assert _steps(cli) == [(1, "現場承認", "done", "2026-12-01"), (2, "契約", "current", None)]
    cli("undo")
    assert _steps(cli)[0] == (1, "現場承認", "current", None)
    cli("contact", "add", "佐藤", "-e", "sato@example.com")
    cli("contact", "edit", "佐藤", "--email", "")
    cli("undo")
    assert [c["email"] for c in _json(cli, "contact", "list")] == ["sato@example.com"]


# --- contacts named in full-width forms -------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "taro＠example.com", " Taro@Example.com "],
    ids=["full-width", "full-width-at", "ascii"],
)
def test_a_contact_is_found_by_its_e_mail_typed_in_full_width(cli: Cli, typed: str) -> None:
    cli("add", "基幹", "--account", "サンプル")
    cli("contact", "add", "山田太郎", "-a", "#1", "--email", "ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯＭ")
    assert _json(cli, "contact", "show", "1")["email"] == "TARO@EXAMPLE.COM"
    assert _json(cli, "contact", "show", typed)["number"] == 1
    assert cli("stakeholder", "add", "1", typed, "--role", "user") == (
        "deal 1: contact 1 山田太郎 added as user\n"
    )
    cli("qualify", "1", "--authority", typed)
    assert _json(cli, "qualify", "1")["authority_contact"] == "1 山田太郎"
    assert [r["contact"] for r in _json(cli, "stakeholder", "list", "--contact", typed)] == [1]
    assert cli("stakeholder", "remove", "1", typed) == f"deal 1: {typed} removed (user)\n"
    assert [c["number"] for c in _json(cli, "contact", "list")] == [1]  # no second contact


def test_a_new_contact_by_full_width_e_mail_is_stored_as_contact_add_stores_it(cli: Cli) -> None:
    cli("add", "基幹")
    typed = "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"
    assert cli("stakeholder", "add", "1", typed, "--role", "user") == (
        "deal 1: contact 1 hanako@example.com (new) added as user\n"
    )
    card = _json(cli, "contact", "show", "hanako@example.com")
    assert (card["name"], card["email"]) == ("hanako@example.com", "hanako@example.com")
    # One address, one contact.
    cli("contact", "add", "花子", "--email", "HANAKO@example.com", code=1)
    cli("stakeholder", "add", "1", "ｂａｄ＠", "--role", "user", code=2)
    assert cli.stderr == (
        "dealctl: invalid e-mail 'ｂａｄ＠': use an address such as taro@example.com\n"
    )


def test_a_contact_number_may_be_typed_in_full_width(cli: Cli) -> None:
    cli("add", "基幹")
    cli("contact", "add", "山田太郎")
    assert _json(cli, "contact", "show", "＃１")["name"] == "山田太郎"
    assert cli("stakeholder", "add", "1", "＃１", "--role", "user") == (
        "deal 1: contact 1 山田太郎 added as user\n"
    )
    cli("qualify", "1", "--authority", "＃１")
    assert _json(cli, "qualify", "1")["authority_contact"] == "1 山田太郎"
    for typed in ("＃９", "９", "9"):
        cli("contact", "show", typed, code=3)
        assert cli.stderr == "dealctl: no contact #9\n"
    assert [c["number"] for c in _json(cli, "contact", "list")] == [1]
