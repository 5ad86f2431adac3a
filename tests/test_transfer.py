"""Import and export: the Maven CRM file against figures computed here from the CSV,
dealctl's own book round-tripped through fresh databases, the export formats, and the
all-or-nothing safety of a rejected or unreadable file."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from statistics import median
from typing import Any

import pytest

from dealctl.transfer import DEAL_FIELDS
from tests.conftest import EXAMPLES, NOW, SHARED, Cli, set_clock

MAVEN = SHARED / "data" / "maven-crm" / "sales_pipeline.csv"
MAVEN_HEADER = (
    "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n"
)
BOOK = EXAMPLES / "book"
TODAY = date(2026, 12, 3)
OFFSET = "+09:00"

# The default b2b pipeline (config defaults): key, name, probability, rot_days, kind.
B2B = (
    ("approach", "アプローチ", 10, 14, "open"),
    ("hearing", "ヒアリング", 20, 14, "open"),
    ("proposal", "提案", 40, 21, "open"),
    ("negotiation", "交渉", 70, 21, "open"),
    ("contract", "契約", 100, None, "won"),
)
POSITION = {stage[0]: index for index, stage in enumerate(B2B)}
# Maven deal_stage -> (dealctl stage, status).
MAVEN_STAGE = {
    "Prospecting": ("approach", "open"),
    "Engaging": ("hearing", "open"),
    "Lost": ("hearing", "lost"),
    "Won": ("contract", "won"),
}


# --- helpers ----------------------------------------------------------------------------------


def _mean(values: list[int]) -> float | None:
    """The mean to one decimal place, halves up (docs/analytics.md)."""
    if not values:
        return None
    return float((Decimal(sum(values)) / len(values)).quantize(Decimal("0.1"), ROUND_HALF_UP))


@cache
def maven_rows() -> tuple[dict[str, str], ...]:
    with MAVEN.open(encoding="utf-8", newline="") as stream:
        return tuple(csv.DictReader(stream))


def maven_expected(row: dict[str, str], number: int) -> dict[str, Any]:
    """The export row (every column but the generated id) a Maven row must become."""
    stage, status = MAVEN_STAGE[row["deal_stage"]]
    engaged = row["engage_date"]
    created = f"{engaged}T00:00:00{OFFSET}" if engaged else NOW
    closed = f"{row['close_date']}T00:00:00{OFFSET}" if status != "open" else None
    account = row["account"] or None
    return {
        "number": number,
        "title": f"{row['product']} — {account}" if account else row["product"],
        "account": account,
        "contact": None,
        "pipeline": "b2b",
        "stage": stage,
        "status": status,
        # close_value is whole dollars; dealctl keeps cents. Empty is unknown, not zero.
        "amount": int(row["close_value"]) * 100 if row["close_value"] else None,
        "currency": "USD",
        "probability": None,
        "close_date": row["close_date"] or None,
        "next_action": None,
        "next_due": None,
        "owner": row["sales_agent"],
        "source": "maven",
        "tags": "",
        "purpose": None,
        "proposal": None,
        "notes": None,
        "lost_reason": None,
        "lost_note": None,
        "created_at": created,
        "updated_at": closed or created,
        "closed_at": closed,
        "last_contact_at": None,
        "external_source": "maven",
        "external_id": row["opportunity_id"],
    }


def export_json(cli: Cli, *db: str, kind: str = "deals") -> list[dict[str, Any]]:
    rows = json.loads(cli(*db, "export", kind, "--format", "json"))
    assert isinstance(rows, list)
    return rows


def without(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in keys} for row in rows]


def csv_without_column(text: str, column: str) -> list[list[str]]:
    table = list(csv.reader(io.StringIO(text)))
    index = table[0].index(column)
    return [row[:index] + row[index + 1 :] for row in table]


def numbers(cli: Cli, status: str) -> list[int]:
    return [int(n) for n in cli("list", "--status", status, "-q").split()]


def write_deals(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    """A dealctl deals.csv with the documented header; cells not given are empty."""
    with path.open("w", encoding=encoding, newline="") as stream:
        writer = csv.DictWriter(stream, DEAL_FIELDS, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def book_counts() -> tuple[int, int, int, int]:
    """Deals, distinct accounts, activities and stage changes in the example book."""
    with (BOOK / "deals.csv").open(encoding="utf-8", newline="") as stream:
        deals = list(csv.DictReader(stream))
    counts = []
    for name in ("activities.csv", "stage-changes.csv"):
        with (BOOK / name).open(encoding="utf-8", newline="") as stream:
            counts.append(sum(1 for _ in csv.DictReader(stream)))
    accounts = len({d["account"] for d in deals if d["account"]})
    return len(deals), accounts, counts[0], counts[1]


def snapshot(cli: Cli, db_path: Path) -> tuple[bytes, dict[str, str]]:
    """The database file's bytes and every export, to prove nothing was written."""
    kinds = ("deals", "activities", "stage-changes", "accounts", "contacts")
    exports = {kind: cli("export", kind) for kind in kinds}
    return db_path.read_bytes(), exports


NEW_DEALS = [
    {
        "title": "Warehouse Sensors",
        "account": "Fresh Account Ltd.",
        "stage": "hearing",
        "status": "open",
        "amount": "2500000",
        "currency": "JPY",
        "created_at": "2026-11-30T10:00:00+09:00",
    },
    {
        "title": "Sensor Maintenance",
        "account": "Fresh Account Ltd.",
        "stage": "proposal",
        "status": "open",
        "amount": "900000",
        "currency": "JPY",
        "created_at": "2026-12-01T10:00:00+09:00",
    },
]


# --- Maven CRM ---------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [(), ("--preset", "maven")], ids=["detected", "preset"])
def test_maven_import_matches_the_csv_row_for_row(cli: Cli, preset: tuple[str, ...]) -> None:
    rows = maven_rows()
    stages = Counter(r["deal_stage"] for r in rows)
    accounts = {r["account"] for r in rows if r["account"]}
    closed = stages["Won"] + stages["Lost"]

    out = cli("import", str(MAVEN), *preset)

    assert out == (
        f"imported (maven): {len(rows)} deals created, 0 updated, 0 unchanged;"
        f" {len(accounts)} accounts, 0 follow-ups, {len(rows) + closed} stage changes\n"
    )
    assert (len(rows), stages["Won"], stages["Lost"]) == (8800, 4238, 2473)
    assert stages["Prospecting"] + stages["Engaging"] == 2089
    assert len(numbers(cli, "all")) == 8800
    assert len(numbers(cli, "won")) == 4238
    assert len(numbers(cli, "lost")) == 2473
    assert len(numbers(cli, "open")) == 2089

    exported = export_json(cli)
    assert list(exported[0]) == list(DEAL_FIELDS)
    assert without(exported, "id") == [maven_expected(r, n) for n, r in enumerate(rows, 1)]
    assert len({d["id"] for d in exported}) == 8800
    # Spot checks of the conversion the comparison above relies on.
    first = exported[0]
    assert (first["external_id"], first["amount"], first["status"]) == ("1C1I7A6R", 105400, "won")
    empty = [d for d, r in zip(exported, rows, strict=True) if r["close_value"] == ""]
    assert len(empty) == 2089
    assert {d["amount"] for d in empty} == {None}
    lost = [d for d in exported if d["status"] == "lost"]
    assert {d["amount"] for d in lost} == {0}  # the file says 0 for every lost deal
    won_cents = sum(int(r["close_value"]) for r in rows if r["deal_stage"] == "Won") * 100
    assert sum(d["amount"] for d in exported if d["status"] == "won") == won_cents


def test_maven_pipeline_and_funnel_equal_figures_from_the_csv(cli: Cli) -> None:
    rows = maven_rows()
    cli("import", str(MAVEN))

    # Pipeline: open deals per open stage; USD cents; stale when idle beyond rot_days.
    expected_pipeline = []
    for key, name, probability, rot_days, kind in B2B:
        if kind != "open":
            continue
        here = [r for r in rows if MAVEN_STAGE[r["deal_stage"]] == (key, "open")]
        amount = sum(int(r["close_value"]) * 100 for r in here if r["close_value"])
        idle = [
            (TODAY - (date.fromisoformat(r["engage_date"]) if r["engage_date"] else TODAY)).days
            for r in here
        ]
        weighted, remainder = divmod(amount * probability, 100)
        expected_pipeline.append(
            {
                "pipeline": "b2b",
                "stage": key,
                "stage_name": name,
                "probability": probability,
                "currency": "USD",
                "count": len(here),
                "amount": amount,
                "weighted_amount": weighted + (remainder * 2 >= 100),
                "stale": sum(1 for days in idle if rot_days is not None and days > rot_days),
                "avg_idle_days": _mean(idle),
            }
        )
    pipeline = json.loads(cli("pipeline", "--format", "json"))
    assert pipeline == expected_pipeline
    assert [(p["stage"], p["count"]) for p in pipeline][:2] == [
        ("approach", 500),
        ("hearing", 1589),
    ]

    # Funnel (analytics.funnel): a deal reached every stage up to the furthest it entered;
    # Prospecting deals entered approach, Engaging and Lost ones hearing (lost from there),
    # won deals reached contract.
    furthest = Counter(POSITION[MAVEN_STAGE[r["deal_stage"]][0]] for r in rows)
    lost_from = Counter(MAVEN_STAGE[r["deal_stage"]][0] for r in rows if r["deal_stage"] == "Lost")

    # Days in stage: Prospecting deals are open at approach since they were imported (today),
    # Engaging ones at hearing since engage_date; won and lost deals spent engage_date to
    # close_date at hearing. No deal visits proposal or negotiation.
    def engaged(row: dict[str, str]) -> date:
        return date.fromisoformat(row["engage_date"]) if row["engage_date"] else TODAY

    closed_days = [
        (date.fromisoformat(r["close_date"]) - engaged(r)).days
        for r in rows
        if r["deal_stage"] in ("Won", "Lost")
    ]
    so_far = {
        key: [
            (TODAY - engaged(r)).days for r in rows if MAVEN_STAGE[r["deal_stage"]] == (key, "open")
        ]
        for key, *_ in B2B
    }
    expected_funnel = []
    for index, (key, name, _, _, _) in enumerate(B2B):
        reached = sum(n for pos, n in furthest.items() if pos >= index)
        moved = (
            sum(n for pos, n in furthest.items() if pos >= index + 1)
            if index + 1 < len(B2B)
            else None
        )
        expected_funnel.append(
            {
                "pipeline": "b2b",
                "stage": key,
                "stage_name": name,
                "reached": reached,
                "moved_on": moved,
                "lost": lost_from[key],
                "conversion_pct": None if moved is None else round(100 * moved / reached, 1),
                "median_days": float(median(closed_days)) if key == "hearing" else None,
                "mean_days": _mean(closed_days) if key == "hearing" else None,
                "open_now": len(so_far[key]) if key != "contract" else None,
                "median_days_so_far": float(median(so_far[key])) if so_far[key] else None,
            }
        )
    funnel = json.loads(cli("funnel", "--format", "json"))
    assert funnel == expected_funnel
    assert [f["reached"] for f in funnel] == [8800, 8300, 4238, 4238, 4238]

    won = sum(1 for r in rows if r["deal_stage"] == "Won")
    lost = sum(1 for r in rows if r["deal_stage"] == "Lost")
    table = cli("funnel", "--format", "table")
    assert table.splitlines()[-1] == (
        f"Win rate {100 * won / (won + lost):.1f}% ({won} won / {won + lost} closed);"
        f" {len(rows) - won - lost} open"
    )
    assert table.splitlines()[-1] == "Win rate 63.2% (4238 won / 6711 closed); 2089 open"


def test_maven_reimport_later_changes_nothing(
    cli: Cli, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("import", str(MAVEN))
    before = [cli("export", kind) for kind in ("deals", "stage-changes", "accounts")]

    # A later day: deals without any date in the file (Prospecting) must not be touched.
    set_clock(monkeypatch, "2027-01-15T10:30:00+09:00")
    out = cli("import", str(MAVEN))

    assert out == (
        "imported (maven): 0 deals created, 0 updated, 8800 unchanged;"
        " 0 accounts, 0 follow-ups, 0 stage changes\n"
    )
    assert [cli("export", kind) for kind in ("deals", "stage-changes", "accounts")] == before


def test_maven_reimport_with_progress_records_the_moves(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "week1.csv"
    first.write_text(
        MAVEN_HEADER
        + "AAA00001,Ann Agent,GTX Basic,Acme,Prospecting,,,\n"
        + "BBB00002,Bob Agent,MG Special,Acme,Engaging,2017-01-02,,\n",
        encoding="utf-8",
    )
    later = tmp_path / "week2.csv"
    later.write_text(
        MAVEN_HEADER
        + "AAA00001,Ann Agent,GTX Basic,Acme,Lost,2017-01-05,2017-02-01,\n"
        + "BBB00002,Bob Agent,MG Special,Acme,Won,2017-01-02,2017-03-01,500\n",
        encoding="utf-8",
    )
    cli("import", str(first))
    set_clock(monkeypatch, "2026-12-05T09:00:00+09:00")
    out = cli("import", str(later))

    assert out == (
        "imported (maven): 0 deals created, 2 updated, 0 unchanged;"
        " 0 accounts, 0 follow-ups, 2 stage changes\n"
    )
    deals = {d["external_id"]: d for d in export_json(cli)}
    # A lost deal whose close_value is empty has an unknown amount, not 0.
    assert (deals["AAA00001"]["status"], deals["AAA00001"]["amount"]) == ("lost", None)
    assert deals["AAA00001"]["closed_at"] == "2017-02-01T00:00:00+09:00"
    assert (deals["BBB00002"]["stage"], deals["BBB00002"]["amount"]) == ("contract", 50000)
    history = without(export_json(cli, kind="stage-changes"), "id", "deal_id")
    assert sorted(history, key=lambda h: (h["deal_number"], h["at"])) == [
        {
            "deal_number": 1,
            "from_stage": "approach",
            "to_stage": "hearing",
            "from_status": "open",
            "to_status": "lost",
            "at": "2017-02-01T00:00:00+09:00",
        },
        {
            "deal_number": 1,
            "from_stage": None,
            "to_stage": "approach",
            "from_status": None,
            "to_status": "open",
            "at": NOW,
        },
        {
            "deal_number": 2,
            "from_stage": None,
            "to_stage": "hearing",
            "from_status": None,
            "to_status": "open",
            "at": "2017-01-02T00:00:00+09:00",
        },
        {
            "deal_number": 2,
            "from_stage": "hearing",
            "to_stage": "contract",
            "from_status": "open",
            "to_status": "won",
            "at": "2017-03-01T00:00:00+09:00",
        },
    ]
    funnel = json.loads(cli("funnel", "--format", "json"))
    assert [(f["stage"], f["reached"], f["lost"]) for f in funnel] == [
        ("approach", 2, 0),
        ("hearing", 2, 1),
        ("proposal", 1, 0),
        ("negotiation", 1, 0),
        ("contract", 1, 0),
    ]
    # The same file again, another day: nothing to do.
    set_clock(monkeypatch, "2026-12-06T09:00:00+09:00")
    assert cli("import", str(later)) == (
        "imported (maven): 0 deals created, 0 updated, 2 unchanged;"
        " 0 accounts, 0 follow-ups, 0 stage changes\n"
    )


# --- dealctl's own book: round trip ------------------------------------------------------------


def test_book_round_trips_through_fresh_databases(cli: Cli, tmp_path: Path) -> None:
    deals, accounts, activities, changes = book_counts()
    assert cli("import", str(BOOK)) == (
        f"imported (dealctl): {deals} deals created, 0 updated, 0 unchanged; {accounts}"
        f" accounts, {activities} follow-ups, {changes} stage changes\n"
    )
    assert (deals, activities, changes) == (45, 106, 148)
    folder = tmp_path / "export"
    folder.mkdir()
    kinds = ("deals", "activities", "stage-changes", "accounts", "contacts")
    original = {}
    for kind in kinds:
        original[kind] = cli("export", kind, "--format", "csv")
        (folder / f"{kind}.csv").write_text(original[kind], encoding="utf-8", newline="")
    closed = sum(
        1 for row in csv.DictReader(io.StringIO(original["deals"])) if row["status"] != "open"
    )

    # deals.csv alone: every column identical, ids and numbers included; history is
    # synthesised (entered at creation, then closed).
    alone = ("--db", str(tmp_path / "alone.db"))
    assert cli(*alone, "import", str(folder / "deals.csv")) == (
        f"imported (dealctl): {deals} deals created, 0 updated, 0 unchanged; {accounts}"
        f" accounts, 0 follow-ups, {deals + closed} stage changes\n"
    )
    assert cli(*alone, "export", "deals", "--format", "csv") == original["deals"]

    # The whole folder: deals, follow-ups and stage changes keep their ids.
    book = ("--db", str(tmp_path / "book.db"))
    assert cli(*book, "import", str(folder)) == (
        f"imported (dealctl): {deals} deals created, 0 updated, 0 unchanged; {accounts}"
        f" accounts, {activities} follow-ups, {changes} stage changes\n"
    )
    for kind in ("deals", "activities", "stage-changes"):
        assert cli(*book, "export", kind, "--format", "csv") == original[kind], kind
    # Accounts and contacts are rebuilt from deals.csv: the same rows, with new ids.
    for kind in ("accounts", "contacts"):
        again = cli(*book, "export", kind, "--format", "csv")
        assert csv_without_column(again, "id") == csv_without_column(original[kind], "id")

    # Importing the folder again changes nothing.
    assert cli(*book, "import", str(folder)) == (
        f"imported (dealctl): 0 deals created, 0 updated, {deals} unchanged;"
        " 0 accounts, 0 follow-ups, 0 stage changes\n"
    )
    for kind in ("deals", "activities", "stage-changes"):
        assert cli(*book, "export", kind, "--format", "csv") == original[kind], kind
    assert (tmp_path / "alone.db").is_file() and (tmp_path / "book.db").is_file()


# --- export formats ----------------------------------------------------------------------------


def _tsv(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def test_export_formats_carry_exactly_the_documented_columns(cli: Cli) -> None:
    cli("import", str(BOOK))
    as_json = export_json(cli)
    assert len(as_json) == 45
    assert all(isinstance(row, dict) and list(row) == list(DEAL_FIELDS) for row in as_json)
    assert [row["number"] for row in as_json] == list(range(1, 46))

    lines = cli("export", "deals", "--format", "jsonl").splitlines()
    assert len(lines) == 45
    as_jsonl = [json.loads(line) for line in lines]
    assert all(list(row) == list(DEAL_FIELDS) for row in as_jsonl)
    assert as_jsonl == as_json

    table = list(csv.reader(io.StringIO(cli("export", "deals", "--format", "csv"))))
    assert tuple(table[0]) == DEAL_FIELDS
    assert table[1:] == [["" if v is None else str(v) for v in row.values()] for row in as_json]

    tsv = cli("export", "deals", "--format", "tsv").split("\n")
    assert tuple(tsv[0].split("\t")) == DEAL_FIELDS
    assert tsv[1:] == ["\t".join(_tsv(v) for v in row.values()) for row in as_json] + [""]

    cli("export", "deals", "--format", "xml", code=2)
    assert cli.stderr == "dealctl: unknown export format 'xml': use csv, tsv, json or jsonl\n"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_to_a_file_is_private_and_counted(cli: Cli, tmp_path: Path, fmt: str) -> None:
    cli("import", str(BOOK))
    target = tmp_path / f"deals.{fmt}"
    assert cli("export", "deals", "--format", fmt, "--output", str(target)) == ""
    assert cli.stderr == f"dealctl: wrote 45 deals to {target}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text(encoding="utf-8") == cli("export", "deals", "--format", fmt)


def test_export_over_an_existing_file_makes_it_private(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(BOOK))
    target = tmp_path / "deals.csv"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o644)
    cli("export", "deals", "--output", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# --- safety: all or nothing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "bad", "reason"),
    [
        ("amount", "12O,000", "not a valid value"),
        ("status", "maybe", "use open, won or lost"),
        ("close_date", "2026-02-30", "not a valid value"),
    ],
)
def test_a_bad_last_row_writes_nothing_and_names_only_its_cell(
    cli: Cli, tmp_path: Path, db_path: Path, column: str, bad: str, reason: str
) -> None:
    cli("import", str(BOOK))
    before = snapshot(cli, db_path)
    last = {
        "title": "Confidential Expansion",
        "account": "Secret Holdings",
        "contact": "hidden.person@example.com",
        "stage": "hearing",
        "status": "open",
        "amount": "1200000",
        "currency": "JPY",
        "notes": "call private.mobile@example.org after 6pm",
        "created_at": "2026-12-02T10:00:00+09:00",
        column: bad,
    }
    path = write_deals(tmp_path / "bad.csv", [*NEW_DEALS, last])

    assert cli("import", str(path), code=2) == ""

    assert cli.stderr == (
        f"dealctl: record 3, column {column!r}, value {bad!r}: {reason}\n"
        "dealctl: import stopped: 1 rejected cells; nothing was written\n"
    )
    for secret in ("hidden.person", "private.mobile", "Confidential", "Secret Holdings", "@"):
        assert secret not in cli.stderr
    assert snapshot(cli, db_path) == before
    assert len(numbers(cli, "all")) == 45


def test_dry_run_on_a_database_reports_and_writes_nothing(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    cli("import", str(BOOK))
    before = snapshot(cli, db_path)
    path = write_deals(tmp_path / "new.csv", NEW_DEALS)

    assert cli("import", str(path), "--dry-run") == (
        "dry run, would import (dealctl): 2 deals created, 0 updated, 0 unchanged;"
        " 1 account, 0 follow-ups, 2 stage changes\n"
    )
    assert snapshot(cli, db_path) == before
    assert len(numbers(cli, "all")) == 45
    # The same file for real does what the dry run said.
    assert cli("import", str(path)).startswith("imported (dealctl): 2 deals created,")


def test_dry_run_without_a_database_creates_none(cli: Cli, db_path: Path) -> None:
    deals, accounts, activities, changes = book_counts()
    assert cli("import", str(BOOK), "--dry-run") == (
        "dry run: no database yet; checking the file against an empty book\n"
        f"dry run, would import (dealctl): {deals} deals created, 0 updated, 0 unchanged;"
        f" {accounts} accounts, {activities} follow-ups, {changes} stage changes\n"
    )
    assert not db_path.exists()
    assert not list(db_path.parent.glob("deals.db*"))


@pytest.mark.parametrize("kind", ["accounts", "contacts", "activities", "stage-changes"])
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_dealctls_other_exports_alone_are_refused_not_taken_for_deals(
    cli: Cli, tmp_path: Path, kind: str, fmt: str
) -> None:
    cli("import", str(BOOK))
    path = tmp_path / f"{kind}.{fmt}"
    cli("export", kind, "--format", fmt, "-o", str(path))
    other = tmp_path / "other.db"
    assert cli("--db", str(other), "import", str(path), code=2) == ""
    assert cli.stderr == (
        f"dealctl: {path} is dealctl's {kind} export, not deals: import takes dealctl's deals"
        " export or a book folder (deals.csv, with activities.csv and stage-changes.csv beside"
        " it), a CRM export, or a spreadsheet of deals or of contacts; nothing was written\n"
    )
    assert not other.exists()


def test_a_missing_file_exits_3_with_one_line(cli: Cli, tmp_path: Path, db_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    assert cli("import", str(missing), code=3) == ""
    assert cli.stderr == f"dealctl: no file {missing}\n"
    assert not db_path.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00bad",
        # A deals file saved as UTF-16: CP932 "decodes" it into NULs and private use.
        "title,stage,status\nSensors,hearing,open\n".encode("utf-16"),
    ],
    ids=["junk", "utf-16"],
)
def test_a_file_neither_utf8_nor_cp932_is_refused(
    cli: Cli, tmp_path: Path, db_path: Path, raw: bytes
) -> None:
    path = tmp_path / "strange.csv"
    path.write_bytes(raw)
    assert cli("import", str(path), code=2) == ""
    assert cli.stderr == f"dealctl: {path} is neither UTF-8 nor CP932 text: give --encoding\n"
    assert not db_path.exists()


def test_an_explicit_encoding_reads_what_detection_refuses(cli: Cli, tmp_path: Path) -> None:
    path = write_deals(tmp_path / "utf16.csv", NEW_DEALS, encoding="utf-16")
    cli("import", str(path), code=2)
    out = cli("import", str(path), "--encoding", "utf-16")
    assert out.startswith("imported (dealctl): 2 deals created,")
    assert [d["title"] for d in export_json(cli)] == ["Warehouse Sensors", "Sensor Maintenance"]


# --- CP932 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("option", [(), ("--encoding", "cp932")], ids=["detected", "forced"])
def test_a_cp932_file_imports_every_character(
    cli: Cli, tmp_path: Path, option: tuple[str, ...]
) -> None:
    rows = [
        {
            "title": "㈱テスト 基幹システム更新①",
            "account": "㈱テスト",
            "contact": "髙橋 一郎（情報システム部）",
            "owner": "髙橋",
            "stage": "hearing",
            "status": "open",
            "amount": "1200000",
            "currency": "JPY",
            "notes": "納期～３月末、山﨑様同席 ⅰ№",
            "created_at": "2026-11-02T10:00:00+09:00",
        },
        {
            "title": "髙島屋 ～ 店舗端末",
            "account": "株式会社髙島",
            "stage": "proposal",
            "status": "open",
            "notes": "ｶﾞｲﾄﾞ 半角カナ ≒ ∵",
            "created_at": "2026-11-03T10:00:00+09:00",
        },
    ]
    path = write_deals(tmp_path / "sjis.csv", rows, encoding="cp932")
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")

    assert cli("import", str(path), *option).startswith("imported (dealctl): 2 deals created,")

    exported = export_json(cli)
    for key in ("title", "account", "contact", "owner", "notes"):
        assert [d[key] for d in exported] == [r.get(key) for r in rows], key
    assert [a["name"] for a in export_json(cli, kind="accounts")] == ["㈱テスト", "株式会社髙島"]
