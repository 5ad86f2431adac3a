"""Each preset imports a file in its layout: the real Salesforce export (BOM, names with
commas, Account.csv beside it), and small HubSpot, Pipedrive and Japanese-header files
written here; detection, --map, --stage-map, history from the file's dates, re-imports
and --on-duplicate."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import NOW, SHARED, Cli
from tests.fixtures.dbstate import moved_at_astray

SALESFORCE = SHARED / "data" / "salesforce-export"
TOKYO = ZoneInfo("Asia/Tokyo")

HUBSPOT = (
    "Record ID,Deal Name,Deal Stage,Close Date,Create Date,Deal owner,Amount,Pipeline,"
    'Associated Company,Closed Lost Reason,Date entered "Qualified To Buy (Sales Pipeline)",'
    'Date entered "Presentation Scheduled (Sales Pipeline)",'
    'Date entered "Closed Won (Sales Pipeline)"\n'
    "1001,Warehouse sensors,presentationscheduled,2026-12-20,2026-10-01 10:15,Aiko Sato,"
    '"1,200,000",Sales Pipeline,Acme Robotics Inc.,,2026-10-08 09:00,2026-11-02 14:30,\n'
    "1002,Support renewal,closedwon,2026-11-15,2026-09-01 09:00,Aiko Sato,450000,"
    "Sales Pipeline,ACME ROBOTICS,,2026-09-05 10:00,2026-10-01 10:00,2026-11-15 16:00\n"
    "1003,Pilot project,closedlost,2026-11-30,2026-10-15 11:00,Ken Ito,300000,Sales Pipeline,"
    "Globex,Went with a competitor,2026-10-20 10:00,,\n"
    "1004,Upsell,Appointment Scheduled,,2026-11-20 09:30,Ken Ito,,Sales Pipeline,Globex,,,,\n"
)
PIPEDRIVE = (
    "Deal - ID,Deal - Title,Deal - Value,Deal - Currency,Deal - Stage,Deal - Status,"
    "Deal - Organization,Deal - Contact person,Deal - Expected close date,Deal - Lost reason,"
    "Deal - Won time,Deal - Lost time,Deal - Next activity date,Deal - Owner,"
    "Deal - Deal created\n"
    '17,Berlin office rollout,"12,500.50",EUR,Proposal Made,open,Muster GmbH,Jana Klein,'
    "2026-12-31,,,,2026-12-07,Max,2026-10-01 08:00:00\n"
    "18,Tokyo kiosk,3000000,JPY,Negotiations Started,won,東京商事株式会社,佐藤 花子,2026-11-30,,"
    "2026-11-28 15:00:00,,,Max,2026-09-15 10:00:00\n"
    "19,Lyon pilot,8000,EUR,Demo Scheduled,lost,Exemple SARL,,2026-11-15,Price,,"
    "2026-11-10 12:00:00,,Lea,2026-09-20 09:00:00\n"
)
JAPANESE = (
    "案件名,顧客名,担当者,金額,受注予定日,フェーズ,次回アクション,期日,失注理由,メモ,登録日\n"
    '基幹システム更新,株式会社山城精機,佐藤,120万円,2026/12/25,提案,見積提出,2026年12月10日,,"第二工場\n'
    '含む",2026/10/01\n'
    '保守契約,（株）山城精機,佐藤,"￥480,000",令和8年11月30日,受注,,,,,2026/09/01\n'
    "展示会リード,㈲みなと商店,鈴木,50万,R8.12.20,失注,,,予算なし,価格で見送り,2026/10/15\n"
)
KEYS = ("number", "title", "account", "contact", "stage", "status", "amount", "currency",
        "close_date", "next_action", "next_due", "owner", "lost_reason", "lost_note",
        "created_at", "closed_at", "external_source", "external_id")  # fmt: skip
HISTORY = ("deal_number", "from_stage", "to_stage", "from_status", "to_status", "at")


def export(cli: Cli, kind: str = "deals", *db: str) -> list[dict[str, Any]]:
    rows = json.loads(cli(*db, "export", kind, "--format", "json"))
    assert isinstance(rows, list)
    return rows


def pick(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [tuple(row[k] for k in keys) for row in rows]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def everything(cli: Cli) -> dict[str, str]:
    kinds = ("deals", "accounts", "contacts", "activities", "stage-changes")
    return {kind: cli("export", kind, "--format", "csv") for kind in kinds}


# --- Salesforce -----------------------------------------------------------------------------------


def _salesforce_expected() -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    with (SALESFORCE / "Account.csv").open(encoding="utf-8-sig", newline="") as stream:
        names = {row["Id"]: row["Name"] for row in csv.DictReader(stream)}
    with (SALESFORCE / "Opportunity.csv").open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    stages = {
        "Qualification": ("hearing", "open"),
        "Discovery": ("hearing", "open"),
        "Proposal/Quote": ("proposal", "open"),
        "Negotiation": ("negotiation", "open"),
        "Closed Won": ("contract", "won"),
        "Closed Lost": ("approach", "lost"),  # the file does not say where it was lost
    }

    def local(stamp: str) -> str:
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")
        return moment.astimezone(TOKYO).isoformat(timespec="seconds")

    deals: list[dict[str, Any]] = []
    history: list[tuple[Any, ...]] = []
    for number, row in enumerate(rows, start=1):
        stage, status = stages[row["StageName"]]
        closed = f"{row['CloseDate']}T00:00:00+09:00" if status != "open" else None
        created = local(row["CreatedDate"])
        deals.append(
            {
                "number": number,
                "title": row["Name"],
                "account": names[row["AccountId"]],
                "contact": None,
                "stage": stage,
                "status": status,
                "amount": int(Decimal(row["Amount"]) * 100),
                "currency": "USD",
                "close_date": row["CloseDate"],
                "next_action": row["NextStep"] or None,
                "next_due": None,
                "owner": None,
                "lost_reason": None,
                "lost_note": None,
                "created_at": created,
                "closed_at": closed,
                "external_source": "salesforce",
                "external_id": row["Id"],
            }
        )
        entered = "negotiation" if status == "won" else stage
        start = min(created, closed) if closed else created  # all +09:00: text order is time
        history.append((number, None, entered, None, "open", start))
        if status != "open":
            history.append((number, entered, stage, "open", status, closed))
    return deals, history


def test_salesforce_export_needs_its_currency_and_never_rounds(cli: Cli, db_path: Path) -> None:
    cli("import", str(SALESFORCE / "Opportunity.csv"), code=2)
    lines = cli.stderr.splitlines()
    assert lines[0] == (
        "dealctl: record 1 (row 2), column 'Amount', value '1124741.15': JPY has no minor unit,"
        " so the amount must be whole; amounts are never rounded; is the currency right?"
        " (a currency column or --currency)"
    )
    assert lines[-1] == "dealctl: import stopped: 48 rejected cells; nothing was written"
    assert not db_path.exists()


def test_salesforce_export_imports_every_opportunity(cli: Cli) -> None:
    expected, history = _salesforce_expected()
    accounts = len({d["account"] for d in expected})

    out = cli("import", str(SALESFORCE / "Opportunity.csv"), "--currency", "USD")

    lines = out.splitlines()
    assert lines[0] == (
        f"imported (salesforce): 50 deals created, 0 updated, 0 unchanged; {accounts} accounts,"
        " 0 follow-ups, 65 stage changes"
    )
    assert lines[1].startswith("  ignored columns: Type, ForecastCategory, ForecastCategoryName,")
    assert lines[2:] == [
        "  accounts: named from Account.csv next to the file",
        "  3 lost deals have no stage in the file: kept at approach (--stage-map"
        " 'VALUE=lost:STAGE' says where they were lost)",
    ]
    deals = export(cli)
    assert pick(deals, KEYS) == pick(expected, KEYS)
    assert sum(1 for d in expected if "," in d["title"]) == 26  # quoted names survive
    assert pick(export(cli, "stage-changes"), HISTORY) == history

    before = everything(cli)
    again = cli("import", str(SALESFORCE / "Opportunity.csv"), "--currency", "USD")
    assert again.splitlines()[0] == (
        "imported (salesforce): 0 deals created, 0 updated, 50 unchanged; 0 accounts,"
        " 0 follow-ups, 0 stage changes"
    )
    assert everything(cli) == before


def test_salesforce_without_account_csv_keeps_the_account_ids(cli: Cli, tmp_path: Path) -> None:
    copy = tmp_path / "Opportunity.csv"
    copy.write_bytes((SALESFORCE / "Opportunity.csv").read_bytes())
    out = cli("import", str(copy), "--currency", "USD", "--stage-map", "Closed Lost=lost:proposal")
    assert (
        "  accounts: AccountId values kept as account names (put Account.csv from the same" in out
    )
    assert "lost deals have no stage" not in out
    deals = export(cli)
    assert deals[0]["account"] == "001Ec00000GGw3iIAD"
    assert {d["stage"] for d in deals if d["status"] == "lost"} == {"proposal"}


# --- HubSpot --------------------------------------------------------------------------------------


def test_hubspot_deals_with_stage_dates(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "hubspot-deals.csv", HUBSPOT)
    out = cli("import", str(path))
    assert out == (
        "imported (hubspot): 4 deals created, 0 updated, 0 unchanged; 2 accounts, 0 follow-ups,"
        " 8 stage changes\n"
        "  ignored columns: Pipeline\n"
        "  merged: record 2 (row 3), Associated Company: 'ACME ROBOTICS' is account"
        " 'Acme Robotics Inc.': the same company once 株式会社 / (株) / ㈱ / 有限会社 / (有) / ㈲,"
        " full-width letters, case and spaces are set aside\n"
    )
    acme, globex = "Acme Robotics Inc.", "Globex"
    assert pick(export(cli), KEYS) == [
        (1, "Warehouse sensors", acme, None, "proposal", "open", 1200000, "JPY", "2026-12-20",
         None, None, "Aiko Sato", None, None, "2026-10-01T10:15:00+09:00", None, "hubspot",
         "1001"),
        (2, "Support renewal", acme, None, "contract", "won", 450000, "JPY", "2026-11-15",
         None, None, "Aiko Sato", None, None, "2026-09-01T09:00:00+09:00",
         "2026-11-15T16:00:00+09:00", "hubspot", "1002"),
        # A free-text reason is kept as the note of the configured "other" reason; the
        # deal was lost where its last stage date says it was.
        (3, "Pilot project", globex, None, "hearing", "lost", 300000, "JPY", "2026-11-30",
         None, None, "Ken Ito", "other", "Went with a competitor", "2026-10-15T11:00:00+09:00",
         "2026-11-30T00:00:00+09:00", "hubspot", "1003"),
        (4, "Upsell", globex, None, "approach", "open", None, "JPY", None, None, None,
         "Ken Ito", None, None, "2026-11-20T09:30:00+09:00", None, "hubspot", "1004"),
    ]  # fmt: skip
    assert pick(export(cli, "stage-changes"), HISTORY) == [
        (1, None, "hearing", None, "open", "2026-10-08T09:00:00+09:00"),
        (1, "hearing", "proposal", "open", "open", "2026-11-02T14:30:00+09:00"),
        (2, None, "hearing", None, "open", "2026-09-05T10:00:00+09:00"),
        (2, "hearing", "proposal", "open", "open", "2026-10-01T10:00:00+09:00"),
        (2, "proposal", "contract", "open", "won", "2026-11-15T16:00:00+09:00"),
        (3, None, "hearing", None, "open", "2026-10-20T10:00:00+09:00"),
        (3, "hearing", "hearing", "open", "lost", "2026-11-30T00:00:00+09:00"),
        (4, None, "approach", None, "open", "2026-11-20T09:30:00+09:00"),
    ]
    funnel = json.loads(cli("funnel", "--format", "json"))
    assert [(f["stage"], f["reached"], f["lost"]) for f in funnel] == [
        ("approach", 4, 0),
        ("hearing", 3, 1),
        ("proposal", 2, 0),
        ("negotiation", 1, 0),
        ("contract", 1, 0),
    ]
    before = everything(cli)
    assert cli("import", str(path)).startswith(
        "imported (hubspot): 0 deals created, 0 updated, 4 unchanged; 0 accounts"
    )
    assert everything(cli) == before


# --- Pipedrive ------------------------------------------------------------------------------------


def test_pipedrive_deals_with_won_and_lost_times(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "deals.csv", PIPEDRIVE)
    assert cli("import", str(path)) == (
        "imported (pipedrive): 3 deals created, 0 updated, 0 unchanged; 3 accounts,"
        " 0 follow-ups, 5 stage changes\n"
    )
    assert pick(export(cli), KEYS) == [
        (1, "Berlin office rollout", "Muster GmbH", "Jana Klein", "proposal", "open", 1250050,
         "EUR", "2026-12-31", None, "2026-12-07", "Max", None, None,
         "2026-10-01T08:00:00+09:00", None, "pipedrive", "17"),
        (2, "Tokyo kiosk", "東京商事株式会社", "佐藤 花子", "contract", "won", 3000000, "JPY",
         "2026-11-30", None, None, "Max", None, None, "2026-09-15T10:00:00+09:00",
         "2026-11-28T15:00:00+09:00", "pipedrive", "18"),
        (3, "Lyon pilot", "Exemple SARL", None, "proposal", "lost", 800000, "EUR", "2026-11-15",
         None, None, "Lea", "price", None, "2026-09-20T09:00:00+09:00",
         "2026-11-10T12:00:00+09:00", "pipedrive", "19"),
    ]  # fmt: skip
    assert pick(export(cli, "stage-changes"), HISTORY) == [
        (1, None, "proposal", None, "open", "2026-10-01T08:00:00+09:00"),
        (2, None, "negotiation", None, "open", "2026-09-15T10:00:00+09:00"),
        (2, "negotiation", "contract", "open", "won", "2026-11-28T15:00:00+09:00"),
        (3, None, "proposal", None, "open", "2026-09-20T09:00:00+09:00"),
        (3, "proposal", "proposal", "open", "lost", "2026-11-10T12:00:00+09:00"),
    ]
    before = everything(cli)
    assert cli("import", str(path)).startswith(
        "imported (pipedrive): 0 deals created, 0 updated, 3 unchanged;"
    )
    assert everything(cli) == before


def test_a_pipedrive_deal_won_from_a_stage_keeps_that_stage_in_its_history(
    cli: Cli, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "won.csv",
        "Deal - ID,Deal - Title,Deal - Stage,Deal - Status,Deal - Deal created,Deal - Won time\n"
        "21,Kiosk,Proposal Made,won,2026-09-01 10:00:00,2026-11-20 15:00:00\n"
        "22,Signage,Negotiations Started,won,2026-09-02 10:00:00,2026-11-21 15:00:00\n",
    )
    cli("import", str(path))
    assert pick(export(cli), ("title", "stage", "status")) == [
        ("Kiosk", "contract", "won"),
        ("Signage", "contract", "won"),
    ]
    assert pick(export(cli, "stage-changes"), HISTORY) == [
        (1, None, "proposal", None, "open", "2026-09-01T10:00:00+09:00"),
        (1, "proposal", "contract", "open", "won", "2026-11-20T15:00:00+09:00"),
        (2, None, "negotiation", None, "open", "2026-09-02T10:00:00+09:00"),
        (2, "negotiation", "contract", "open", "won", "2026-11-21T15:00:00+09:00"),
    ]


# --- Japanese headers -----------------------------------------------------------------------------


def test_japanese_headers_stage_names_and_values(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "案件一覧.csv", JAPANESE)
    out = cli("import", str(path))
    assert out.splitlines()[0] == (
        "imported (japanese): 3 deals created, 0 updated, 0 unchanged; 2 accounts, 0 follow-ups,"
        " 5 stage changes"
    )
    deals = export(cli)
    assert pick(deals, KEYS) == [
        (1, "基幹システム更新", "株式会社山城精機", None, "proposal", "open", 1200000, "JPY",
         "2026-12-25", "見積提出", "2026-12-10", "佐藤", None, None,
         "2026-10-01T00:00:00+09:00", None, None, None),
        (2, "保守契約", "株式会社山城精機", None, "contract", "won", 480000, "JPY", "2026-11-30",
         None, None, "佐藤", None, None, "2026-09-01T00:00:00+09:00",
         "2026-11-30T00:00:00+09:00", None, None),
        # Lost on a close date still ahead: closed when imported (never in the future).
        (3, "展示会リード", "㈲みなと商店", None, "approach", "lost", 500000, "JPY", "2026-12-20",
         None, None, "鈴木", "no-budget", None, "2026-10-15T00:00:00+09:00", NOW, None, None),
    ]  # fmt: skip
    assert deals[0]["notes"] == "第二工場\n含む"  # a quoted line break is one value
    assert deals[2]["notes"] == "価格で見送り"
    # No ids in the file: a re-import matches title and creation date.
    before = everything(cli)
    assert cli("import", str(path)).startswith(
        "imported (japanese): 0 deals created, 0 updated, 3 unchanged;"
    )
    assert everything(cli) == before


def test_close_dates_after_now_close_now_and_no_deal_is_created_after_it_closed(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        "closed.csv",
        "商談名,取引先,担当者,金額,受注予定日,ステージ\n"
        "先行受注,株式会社A,佐藤,100万,2027/01/20,受注\n"
        "失注案件,株式会社B,佐藤,50万,2026/10/1,失注\n"
        "提案中,株式会社C,佐藤,30万,2026/12/20,提案\n"
        "日付なし,株式会社D,佐藤,10万,,受注\n",
    )
    report = tmp_path / "report.csv"
    out = cli("import", str(path), "--report", str(report))
    assert out.splitlines()[-1] == (
        "  1 won or lost deal dated after now (受注予定日 1): closed when imported instead, as"
        " no deal closes in the future"
    )
    with report.open(encoding="utf-8", newline="") as stream:
        assert list(csv.reader(stream))[1] == [
            "1", "2", "受注予定日", "2027/01/20", "adjusted",
            "a close moment after now (2027-01-20T00:00:00+09:00): closed now instead",
        ]  # fmt: skip
    lost = "2026-10-01T00:00:00+09:00"
    assert pick(export(cli), ("title", "status", "created_at", "updated_at", "closed_at")) == [
        ("先行受注", "won", NOW, NOW, NOW),
        ("失注案件", "lost", lost, lost, lost),  # created no later than it closed
        ("提案中", "open", NOW, NOW, None),
        ("日付なし", "won", NOW, NOW, NOW),
    ]
    assert pick(export(cli, "stage-changes"), HISTORY) == [
        (1, None, "negotiation", None, "open", NOW),
        (1, "negotiation", "contract", "open", "won", NOW),
        (2, None, "approach", None, "open", lost),
        (2, "approach", "approach", "open", "lost", lost),
        (3, None, "proposal", None, "open", NOW),
        (4, None, "negotiation", None, "open", NOW),
        (4, "negotiation", "contract", "open", "won", NOW),
    ]
    assert json.loads(cli("doctor", "--format", "json")) == []
    forecast = json.loads(cli("forecast", "--format", "json"))
    assert [(f["month"], f["won_count"]) for f in forecast if f["won_count"]] == [("2026-12", 2)]

    # Later, while the date is still ahead (or still not given), the same file changes nothing.
    before = everything(cli)
    monkeypatch.setenv("DEALCTL_NOW", "2026-12-10T09:00:00+09:00")
    assert cli("import", str(path)).startswith(
        "imported (japanese): 0 deals created, 0 updated, 4 unchanged;"
    )
    assert everything(cli) == before


def test_rows_sharing_a_title_are_never_swapped_on_reimport(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    header = "商談名,取引先,金額,メモ\n"
    path = write(
        tmp_path, "twins.csv", header + "保守,株式会社X,100,東館\n保守,株式会社X,200,西館\n"
    )
    cli("import", str(path))
    stored = pick(export(cli), ("number", "title", "amount", "notes"))
    assert stored == [(1, "保守", 100, "東館"), (2, "保守", 200, "西館")]
    before = db_path.read_bytes()

    # Re-sorted: each row is still its own deal, unchanged.
    swapped = write(
        tmp_path, "swapped.csv", header + "保守,株式会社X,200,西館\n保守,株式会社X,100,東館\n"
    )
    assert cli("import", str(swapped)).startswith(
        "imported (japanese): 0 deals created, 0 updated, 2 unchanged;"
    )
    assert db_path.read_bytes() == before

    # A changed twin: nothing says which deal it is, so it is refused, not guessed.
    changed = write(
        tmp_path, "changed.csv", header + "保守,株式会社X,250,西館\n保守,株式会社X,100,東館\n"
    )
    cli("import", str(changed), code=2)
    assert cli.stderr == (
        "dealctl: record 1 (row 2), column '商談名', value '保守': ambiguous: 2 rows of the file"
        " and 2 stored deals (#1, #2) have this title at this account, and no id tells which is"
        " which; give the file an id column (--map 'COLUMN=external_id') or distinct titles\n"
        "dealctl: import stopped: 1 rejected cells; nothing was written\n"
    )
    assert db_path.read_bytes() == before
    # A third twin added to the sheet is a new deal.
    third = write(tmp_path, "third.csv", swapped.read_text("utf-8") + "保守,株式会社X,300,南館\n")
    assert cli("import", str(third)).startswith(
        "imported (japanese): 1 deal created, 0 updated, 2 unchanged;"
    )
    assert pick(export(cli), ("number", "title", "amount", "notes")) == [
        *stored,
        (3, "保守", 300, "南館"),
    ]


def test_a_sheet_without_ids_or_dates_matches_title_and_account_on_reimport(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "list.csv", "商談名,取引先,金額\nA,株式会社X,100\nA,株式会社Y,200\n")
    cli("import", str(path))
    before = everything(cli)
    monkeypatch.setenv("DEALCTL_NOW", "2027-01-05T10:00:00+09:00")
    assert cli("import", str(path)).startswith(
        "imported (japanese): 0 deals created, 0 updated, 2 unchanged;"
    )
    assert everything(cli) == before


# --- detection, --map, --stage-map ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "row", "preset"),
    [
        ("opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value",
         "X1,Anna,GTX,Acme,Prospecting,2016-10-20,,", "maven"),
        ("title,stage,status", "A,approach,open", "dealctl"),
        ("Deal - Title,Deal - Stage", "A,Lead In", "pipedrive"),
        ("Id,Name,StageName,CloseDate", "006A,A,Prospecting,2026-12-20", "salesforce"),
        ("Opportunity Name,Account Name,Stage,Close Date,Probability (%)",
         "A,Acme,Prospecting,2026-12-20,10", "salesforce"),
        ("Record ID,Deal Name,Deal Stage", "1,A,appointmentscheduled", "hubspot"),
        ("商談名,取引先,金額", "A,B社,100", "japanese"),
        ("Deal name,Company,Value", "A,B,100", "spreadsheet"),
    ],
)  # fmt: skip
def test_the_preset_is_detected_from_the_headers_and_named(
    cli: Cli, tmp_path: Path, header: str, row: str, preset: str
) -> None:
    path = write(tmp_path, "file.csv", f"{header}\n{row}\n")
    assert (
        cli("import", str(path), "--dry-run")
        .splitlines()[1]
        .startswith(f"dry run, would import ({preset}): 1 deal created")
    )


def test_unknown_headers_ask_for_a_preset_or_a_map(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "odd.csv", "foo,bar\n1,2\n")
    cli("import", str(path), code=2)
    assert cli.stderr == (
        "dealctl: cannot tell the layout from the headers ('foo', 'bar'): give --preset"
        " (dealctl, maven, salesforce, hubspot, pipedrive, japanese, spreadsheet) or --map"
        " 'COLUMN=FIELD'\n"
    )
    out = cli("import", str(path), "--preset", "spreadsheet", "--map", "foo=title",
              "--map", "bar=amount")  # fmt: skip
    assert out.splitlines()[0].startswith("imported (spreadsheet): 1 deal created")
    assert pick(export(cli), ("title", "amount")) == [("1", 2)]


def test_duplicate_headers_are_named_as_duplicates(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "dup.csv", "deal,amount,deal,amount,Type\nA,1,B,2,x\n")
    assert cli("import", str(path)) == (
        "imported (spreadsheet): 1 deal created, 0 updated, 0 unchanged; 0 accounts,"
        " 0 follow-ups, 1 stage change\n"
        "  ignored columns: Type\n"
        "  duplicate columns: deal, amount (each heads an earlier column too; only the first is"
        " read)\n"
    )
    assert pick(export(cli), ("title", "amount")) == [("A", 1)]


def test_map_overrides_the_preset(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "商談名,金額,金額表記\nA,100,¥300000\n")
    cli("import", str(path), "--map", "金額表記=amount")
    assert pick(export(cli), ("title", "amount")) == [("A", 300000)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--map", "nowhere=title"), "--map 'nowhere=title': the file has no column 'nowhere'"),
        (("--map", "商談名=bogus"), "--map '商談名=bogus': unknown field 'bogus'; fields are"),
        (("--map", "no-equals"), "invalid --map 'no-equals': use --map 'CSV column=field'"),
        (("--stage-map", "x=nowhere"), "unknown stage 'nowhere': this pipeline's stages are"),
        (("--date-order", "YDM"), "invalid --date-order 'YDM': use DMY or MDY"),
        (("--date-order", "YMD"), "invalid --date-order 'YMD': use DMY or MDY (year-first"),
        (("--on-duplicate", "merge"), "invalid --on-duplicate 'merge': use skip, update or error"),
        (("--preset", "excel"), "unknown preset 'excel': use one of dealctl, maven,"),
        (("--currency", "yen!"), "invalid currency 'yen!'"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(
    cli: Cli, tmp_path: Path, db_path: Path, args: tuple[str, ...], message: str
) -> None:
    path = write(tmp_path, "x.csv", "商談名,金額\nA,100\n")
    cli("import", str(path), *args, code=2)
    assert cli.stderr.startswith(f"dealctl: {message}")
    assert cli.stderr.count("\n") == 1
    assert not db_path.exists()


def test_unmapped_stage_values_stop_before_writing_with_their_counts(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    path = write(
        tmp_path,
        "s.csv",
        "Deal name,Stage\nA,Engaging\nB,Engaging\nC,Prospecting\nD,hearing\nE,Stalled\n",
    )
    cli("import", str(path), code=2)
    assert cli.stderr == (
        "dealctl: import stopped: unmapped stage values in column 'Stage': 'Engaging' (2 rows),"
        " 'Prospecting' (1 row), 'Stalled' (1 row); map each with --stage-map 'VALUE=STAGE'"
        " (stages: approach (アプローチ), hearing (ヒアリング), proposal (提案),"
        " negotiation (交渉), contract (契約); or won, lost, lost:STAGE); nothing was written\n"
    )
    assert not db_path.exists()
    cli("import", str(path), "--stage-map", "Engaging=hearing", "--stage-map",
        "prospecting=アプローチ", "--stage-map", "Stalled=lost:proposal")  # fmt: skip
    assert pick(export(cli), ("title", "stage", "status")) == [
        ("A", "hearing", "open"),
        ("B", "hearing", "open"),
        ("C", "approach", "open"),
        ("D", "hearing", "open"),
        ("E", "proposal", "lost"),
    ]


# --- re-imports and --on-duplicate ----------------------------------------------------------------


def _changed_pipedrive(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "later.csv",
        PIPEDRIVE.replace('"12,500.50",EUR,Proposal Made', "14000,EUR,Negotiations Started"),
    )


def test_on_duplicate_update_is_the_default_and_is_reported(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path, "deals.csv", PIPEDRIVE)))
    out = cli("import", str(_changed_pipedrive(tmp_path)))
    assert out == (
        "imported (pipedrive): 0 deals created, 1 updated, 2 unchanged; 0 accounts,"
        " 0 follow-ups, 1 stage change\n"
    )
    assert cli.stderr == "dealctl: updated: record 1 (row 2), amount, stage: deal #1\n"
    deal = export(cli)[0]
    assert (deal["amount"], deal["stage"]) == (1400000, "negotiation")
    history = json.loads(cli("history", "1", "--format", "json"))
    assert [(h["field"], h["old"], h["new"]) for h in history if h["command"] == "import"][-2:] == [
        ("amount", "1250050", "1400000"),
        ("stage", "proposal", "negotiation"),
    ]


def test_imported_deals_carry_their_last_stage_change(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    """moved_at of created deals (history written in bulk) and of updated ones (a new
    stage change) is the latest moment of their history; undo takes both back."""
    cli("import", str(write(tmp_path, "deals.csv", PIPEDRIVE)))
    assert moved_at_astray(db_path) == []
    cli("import", str(_changed_pipedrive(tmp_path)))
    assert moved_at_astray(db_path) == []
    cli("undo")
    assert moved_at_astray(db_path) == []
    cli("undo")
    assert moved_at_astray(db_path) == []


def test_on_duplicate_skip_leaves_stored_deals_alone(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path, "deals.csv", PIPEDRIVE)))
    before = everything(cli)
    out = cli("import", str(_changed_pipedrive(tmp_path)), "--on-duplicate", "skip")
    assert out == (
        "imported (pipedrive): 0 deals created, 0 updated, 2 unchanged; 0 accounts,"
        " 0 follow-ups, 0 stage changes\n"
        "  skipped: 1 changed rows left as they are (--on-duplicate skip)\n"
    )
    assert cli.stderr == (
        "dealctl: skipped: record 1 (row 2), amount, stage: deal #1 differs; left as it is\n"
    )
    assert everything(cli) == before


def test_on_duplicate_error_refuses_the_whole_file(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path, "deals.csv", PIPEDRIVE)))
    before = everything(cli)
    cli("import", str(_changed_pipedrive(tmp_path)), "--on-duplicate", "error", code=2)
    # The file's own column and value, and every column that differs.
    assert cli.stderr == (
        "dealctl: record 1 (row 2), column 'Deal - Value', value '14000': deal #1 exists and"
        " differs (Deal - Value, Deal - Stage); --on-duplicate update or skip\n"
        "dealctl: import stopped: 1 rejected cells; nothing was written\n"
    )
    assert everything(cli) == before


def test_the_same_id_twice_in_one_file_is_refused(cli: Cli, tmp_path: Path) -> None:
    lines = PIPEDRIVE.splitlines()
    path = write(tmp_path, "twice.csv", "\n".join([*lines, lines[1]]) + "\n")
    cli("import", str(path), code=2)
    assert cli.stderr.splitlines()[0] == (
        "dealctl: record 4 (row 5), column 'Deal - ID', value '17': the same id as record 1"
    )


def test_import_time_is_the_session_clock(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path, "x.csv", "Deal name\nA\n")))
    deal = export(cli)[0]
    assert (deal["created_at"], deal["updated_at"]) == (NOW, NOW)
