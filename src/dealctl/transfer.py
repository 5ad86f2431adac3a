"""Import and export: dealctl's own CSV book (round-trip exact) and the Maven CRM layout.

An import is one transaction: all rows or none. Every rejected cell is reported
with its record number, column, value and reason; error text never echoes
other cells. A dry run performs the same import and rolls it back.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dealctl import dates
from dealctl.catalogue import Catalogue, Stage
from dealctl.deals import (
    DEAL_VIEW,
    account_id_for,
    contact_id_for,
    insert,
    record_stage_change,
    update,
)
from dealctl.errors import InvalidInput, NotFound
from dealctl.money import currency_code, parse_amount
from dealctl.session import Session
from dealctl.storage import new_id
from dealctl.text import company_key

DEAL_FIELDS = (
    "number", "id", "title", "account", "contact", "pipeline", "stage", "status", "amount",
    "currency", "probability", "close_date", "next_action", "next_due", "owner", "source",
    "tags", "purpose", "proposal", "notes", "lost_reason", "lost_note", "created_at",
    "updated_at", "closed_at", "last_contact_at", "external_source", "external_id",
)  # fmt: skip
ACTIVITY_FIELDS = ("id", "deal_id", "deal_number", "kind", "at", "text")
STAGE_CHANGE_FIELDS = (
    "id", "deal_id", "deal_number", "from_stage", "to_stage", "from_status", "to_status", "at",
)  # fmt: skip
ACCOUNT_FIELDS = ("number", "id", "name", "notes", "created_at", "updated_at")
CONTACT_FIELDS = (
    "number", "id", "account", "name", "email", "phone", "title", "notes", "created_at",
    "updated_at",
)  # fmt: skip
EXPORT_KINDS = ("deals", "accounts", "contacts", "activities", "stage-changes")
PRESETS = ("dealctl", "maven")
MAVEN_HEADERS = {"opportunity_id", "deal_stage", "engage_date", "close_date", "close_value"}
MAVEN_STAGES = {"Prospecting": "approach", "Engaging": "hearing"}


# --- export -----------------------------------------------------------------------------------


def fields_of(kind: str) -> tuple[str, ...]:
    """The documented columns of an export kind."""
    return {
        "deals": DEAL_FIELDS,
        "accounts": ACCOUNT_FIELDS,
        "contacts": CONTACT_FIELDS,
        "activities": ACTIVITY_FIELDS,
        "stage-changes": STAGE_CHANGE_FIELDS,
    }[kind]


_EXPORT_SQL = {
    "deals": DEAL_VIEW + " ORDER BY d.number, d.id",
    "accounts": "SELECT * FROM accounts WHERE deleted_at IS NULL ORDER BY number, id",
    "contacts": "SELECT c.*, a.name AS account FROM contacts c"
    " LEFT JOIN accounts a ON a.id = c.account_id WHERE c.deleted_at IS NULL"
    " ORDER BY c.number, c.id",
    "activities": "SELECT ac.*, d.number AS deal_number FROM activities ac"
    " JOIN deals d ON d.id = ac.deal_id WHERE ac.deleted_at IS NULL AND d.deleted_at IS NULL"
    " ORDER BY d.number, ac.at, ac.id",
    "stage-changes": "SELECT sc.*, d.number AS deal_number, fs.key AS from_stage,"
    " ts.key AS to_stage FROM stage_changes sc JOIN deals d ON d.id = sc.deal_id"
    " LEFT JOIN stages fs ON fs.id = sc.from_stage_id JOIN stages ts ON ts.id = sc.to_stage_id"
    " WHERE sc.deleted_at IS NULL AND d.deleted_at IS NULL ORDER BY d.number, sc.at, sc.rowid",
}


def export_rows(session: Session, kind: str) -> Generator[dict[str, Any], None, None]:
    """Rows of one export kind, streamed in a stable order."""
    if kind not in EXPORT_KINDS:
        raise InvalidInput(f"unknown export {kind!r}: use one of {', '.join(EXPORT_KINDS)}")
    columns = fields_of(kind)
    for row in session.store.iterate(_EXPORT_SQL[kind]):
        keys = row.keys()
        yield {c: row[c] if c in keys else None for c in columns}


# --- reading files ----------------------------------------------------------------------------


# Never in a text CSV: NUL (a UTF-16 file, or binary data)...
_NOT_TEXT = re.compile("\x00")
# ...nor, when guessing CP932, what only stray bytes decode to: 0x80 (U+0080) and the
# private-use characters Python's cp932 gives 0xA0, 0xFD-0xFF and the user-defined area.
_NOT_CP932_TEXT = re.compile("[\x00\x80\ue000-\uf8ff]")


def read_text(path: Path, encoding: str | None) -> str:
    """The whole file decoded: UTF-8 (a BOM is dropped), else CP932; never a lossy fallback.

    Without ``encoding`` a candidate must also read as text: CP932 decodes almost any
    bytes (a UTF-16 file too) into control and private-use characters, which are refused.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no file {path}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    candidates = [encoding] if encoding else ["utf-8-sig", "cp932"]
    for name in candidates:
        try:
            text = raw.decode(name)
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise InvalidInput(f"unknown encoding {name!r}") from None
        odd = _NOT_CP932_TEXT if name == "cp932" else _NOT_TEXT
        if encoding or not odd.search(text):
            return text
    raise InvalidInput(f"{path} is neither UTF-8 nor CP932 text: give --encoding")


def read_csv(path: Path, encoding: str | None) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file; quoted cells may hold line breaks."""
    reader = csv.DictReader(io.StringIO(read_text(path, encoding), newline=""))
    headers = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = headers
    rows = [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]
    return headers, rows


# --- importing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """One cell that could not be imported."""

    record: int
    column: str
    value: str
    reason: str


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    preset: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    accounts: int = 0
    activities: int = 0
    stage_changes: int = 0
    rejected: list[Rejection] = field(default_factory=list)


class Cells:
    """Checked access to one record's cells; problems become :class:`Rejection` rows."""

    def __init__(self, record: int, row: dict[str, str], report: ImportReport) -> None:
        self.record = record
        self.row = row
        self.report = report

    def reject(self, column: str, reason: str) -> None:
        self.report.rejected.append(
            Rejection(self.record, column, self.row.get(column, ""), reason)
        )

    def text(self, column: str) -> str | None:
        value = self.row.get(column, "").strip()
        return value or None

    def parsed(self, column: str, parse: Callable[[str], Any]) -> Any:
        value = self.text(column)
        if value is None:
            return None
        try:
            return parse(value)
        except (ValueError, InvalidInput) as exc:
            reason = str(exc) if isinstance(exc, InvalidInput) else "not a valid value"
            self.reject(column, reason)
            return None

    def required(self, column: str) -> str:
        value = self.text(column)
        if value is None:
            self.reject(column, "required")
            return ""
        return value


def _iso_date(text: str) -> str:
    return date.fromisoformat(text).isoformat()


def _iso_moment(text: str) -> str:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise InvalidInput("a date-time needs its offset, e.g. 2026-12-03T09:00:00+09:00")
    return text


def _integer(text: str) -> int:
    return int(text)


def _percent(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise InvalidInput("a probability is 0-100")
    return value


class Importer:
    """Writes checked deals into the session's open transaction."""

    def __init__(self, session: Session, report: ImportReport) -> None:
        self.session = session
        self.report = report
        self.catalogue = Catalogue.load(session.store)
        self.accounts: dict[str, str | None] = {
            r["name_key"]: r["id"]
            for r in session.store.query(
                "SELECT id, name_key FROM accounts WHERE deleted_at IS NULL ORDER BY number DESC"
            )
        }
        self.numbers = {r["number"] for r in session.store.query("SELECT number FROM deals")}
        self.next_number = max(self.numbers, default=0) + 1

    def account(self, name: str | None) -> str | None:
        """The account's id, matched by normalised name (cached for the whole file)."""
        if not name:
            return None
        key = company_key(name)
        if key not in self.accounts:
            self.accounts[key] = account_id_for(self.session, name)
            self.report.accounts += 1
        return self.accounts[key]

    def number(self, wanted: int | None) -> int:
        if wanted is not None and wanted > 0 and wanted not in self.numbers:
            number = wanted
        else:
            number = self.next_number
        self.numbers.add(number)
        self.next_number = max(self.next_number, number + 1)
        return number

    def existing(self, values: dict[str, Any]) -> Any:
        """The stored deal a row stands for: by id, else by source and external id, else
        (a hand-written file without ids) by title and creation time."""
        if values.get("id"):
            return self.session.store.one("SELECT * FROM deals WHERE id = ?", (values["id"],))
        if values.get("external_source") and values.get("external_id"):
            return self.session.store.one(
                "SELECT * FROM deals WHERE external_source = ? AND external_id = ?"
                " AND deleted_at IS NULL",
                (values["external_source"], values["external_id"]),
            )
        return self.session.store.one(
            "SELECT * FROM deals WHERE title = ? AND created_at = ? AND deleted_at IS NULL",
            (values["title"], values["created_at"]),
        )

    def save(self, values: dict[str, Any], wanted_number: int | None) -> tuple[str, bool]:
        """Insert a new deal or update the matching one; returns (id, created)."""
        current = self.existing(values)
        if current is not None:
            fields = {k: v for k, v in values.items() if k not in ("id", "created_at")}
            if fields.get("updated_at") is None:
                # No date in the file: update() stamps it only if something else changed.
                fields.pop("updated_at", None)
            if all(current[k] == v for k, v in fields.items()):
                self.report.unchanged += 1
                return str(current["id"]), False
            update(self.session, current, fields)
            self.report.updated += 1
            moved = (current["stage_id"], current["status"]) != (
                fields["stage_id"],
                fields["status"],
            )
            if moved:
                closed = fields["status"] != "open" and fields.get("closed_at")
                record_stage_change(
                    self.session,
                    current["id"],
                    current["stage_id"],
                    fields["stage_id"],
                    current["status"],
                    fields["status"],
                    closed or self.session.stamp,
                )
                self.report.stage_changes += 1
            return str(current["id"]), False
        if values.get("updated_at") is None:
            values["updated_at"] = values["created_at"]
        row = {"id": values.get("id") or new_id(), "number": self.number(wanted_number)}
        row.update((k, v) for k, v in values.items() if k != "id")
        insert(self.session, row, "imported")
        self.report.created += 1
        return str(row["id"]), True

    def stage(self, cells: Cells, pipeline_id: str | None, column: str) -> Stage | None:
        key = cells.text(column)
        if key is None:
            cells.reject(column, "required")
            return None
        if pipeline_id is None:
            return None
        try:
            return self.catalogue.find(pipeline_id, key)
        except InvalidInput:
            cells.reject(column, "not a stage of this pipeline")
            return None


def _dealctl_deal(importer: Importer, cells: Cells) -> tuple[dict[str, Any], Stage | None]:
    """Column values for one row of dealctl's own deals.csv."""
    session = importer.session
    pipeline_key = cells.text("pipeline") or session.config.default_pipeline
    try:
        pipeline_id: str | None = importer.catalogue.pipeline_id(pipeline_key)
    except InvalidInput:
        cells.reject("pipeline", "unknown pipeline")
        pipeline_id = None
    stage = importer.stage(cells, pipeline_id, "stage")
    status = cells.required("status")
    if status and status not in ("open", "won", "lost"):
        cells.reject("status", "use open, won or lost")
    elif stage is not None and (stage.kind == "won") != (status == "won"):
        cells.reject("status", f"does not agree with stage {stage.key}")
    currency = cells.parsed("currency", currency_code) or session.config.currency
    created = cells.parsed("created_at", _iso_moment)
    values: dict[str, Any] = {
        "title": cells.required("title"),
        "pipeline_id": pipeline_id,
        "stage_id": stage.id if stage else None,
        "status": status,
        "amount": cells.parsed("amount", _integer),
        "currency": currency,
        "probability": cells.parsed("probability", _percent),
        "close_date": cells.parsed("close_date", _iso_date),
        "next_due": cells.parsed("next_due", lambda v: (dates.due_date(v, session.zone), v)[1]),
        "created_at": created or session.stamp,
        "tags": ",".join(t for t in (cells.text("tags") or "").split(",") if t.strip()),
    }
    for column in ("updated_at", "closed_at", "last_contact_at"):
        values[column] = cells.parsed(column, _iso_moment)
    # Left empty when the file has no date for it (see Importer.save).
    values["updated_at"] = values["updated_at"] or created
    for column in (
        "next_action",
        "owner",
        "source",
        "purpose",
        "proposal",
        "notes",
        "lost_reason",
        "lost_note",
        "external_source",
        "external_id",
    ):
        values[column] = cells.text(column)
    deal_id = cells.text("id")
    if deal_id:
        values["id"] = deal_id
    return values, stage


def _maven_deal(importer: Importer, cells: Cells) -> tuple[dict[str, Any], Stage | None]:
    """Column values for one row of the Maven "CRM Sales Opportunities" pipeline file."""
    session = importer.session
    pipeline_id = importer.catalogue.pipeline_id(session.config.default_pipeline)
    raw_stage = cells.required("deal_stage")
    engage = cells.parsed("engage_date", _iso_date)
    closed = cells.parsed("close_date", _iso_date)
    status = {"Won": "won", "Lost": "lost"}.get(raw_stage, "open")
    if status == "won":
        stage: Stage | None = importer.catalogue.won(pipeline_id)
    elif raw_stage in MAVEN_STAGES or status == "lost":
        stage = importer.catalogue.find(pipeline_id, MAVEN_STAGES.get(raw_stage, "hearing"))
    else:
        cells.reject("deal_stage", "use Prospecting, Engaging, Won or Lost")
        stage = None
    if status != "open" and closed is None:
        cells.reject("close_date", "a won or lost deal needs its close date")
    value = cells.parsed("close_value", lambda v: parse_amount(v, "USD"))
    offset = session.stamp[19:]
    product = cells.text("product") or "deal"
    account = cells.text("account")
    values: dict[str, Any] = {
        "title": f"{product} — {account}" if account else product,
        "account_name": account,
        "pipeline_id": pipeline_id,
        "stage_id": stage.id if stage else None,
        "status": status,
        "amount": value,
        "currency": "USD",
        "close_date": closed,
        "owner": cells.text("sales_agent"),
        "source": "maven",
        "tags": "",
        "created_at": f"{engage}T00:00:00{offset}" if engage else session.stamp,
        "closed_at": f"{closed}T00:00:00{offset}" if closed and status != "open" else None,
        "external_source": "maven",
        "external_id": cells.required("opportunity_id"),
    }
    # Without any date in the file, left empty (see Importer.save): a re-import at
    # another moment must not rewrite it.
    values["updated_at"] = values["closed_at"] or (values["created_at"] if engage else None)
    return values, stage


def detect_preset(headers: list[str]) -> str:
    """The preset a header row belongs to, or an error listing what is known."""
    names = set(headers)
    if names >= MAVEN_HEADERS:
        return "maven"
    if {"title", "stage", "status"} <= names:
        return "dealctl"
    raise InvalidInput(
        f"cannot tell the layout from the headers: use --preset ({', '.join(PRESETS)})"
    )


def import_path(
    session: Session, path: Path, preset: str | None, encoding: str | None
) -> ImportReport:
    """Import a file (or a dealctl book folder) inside the session's open transaction.

    Raises ``InvalidInput`` after collecting every rejected cell, so the caller's
    transaction rolls back and nothing is written.
    """
    book = path / "deals.csv" if path.is_dir() else path
    headers, rows = read_csv(book, encoding)
    chosen = preset or detect_preset(headers)
    if chosen not in PRESETS:
        raise InvalidInput(f"unknown preset {chosen!r}: use one of {', '.join(PRESETS)}")
    report = ImportReport(chosen)
    importer = Importer(session, report)
    build = _maven_deal if chosen == "maven" else _dealctl_deal
    history = path.is_dir() and (path / "stage-changes.csv").exists()
    by_number: dict[str, str] = {}
    created_ids: set[str] = set()
    for record, row in enumerate(rows, start=1):
        cells = Cells(record, row, report)
        before = len(report.rejected)
        values, stage = build(importer, cells)
        if len(report.rejected) > before or stage is None:
            continue
        account_name = (
            values.pop("account_name", None) if chosen == "maven" else cells.text("account")
        )
        values["account_id"] = importer.account(account_name)
        contact = cells.text("contact") if chosen == "dealctl" else None
        values["contact_id"] = (
            contact_id_for(session, contact, values["account_id"]) if contact else None
        )
        wanted = cells.parsed("number", _integer) if chosen == "dealctl" else None
        deal_id, created = importer.save(values, wanted)
        by_number[row.get("number", "").strip()] = deal_id
        if created:
            created_ids.add(deal_id)
            if not history:
                entered = stage
                if values["status"] == "won":
                    # Maven's won deals were engaged; others came from the last open stage.
                    pipeline = importer.catalogue.in_pipeline(stage.pipeline_id)
                    entered = (
                        importer.catalogue.find(stage.pipeline_id, MAVEN_STAGES["Engaging"])
                        if chosen == "maven"
                        else pipeline[-2]
                    )
                _synthesise_history(session, deal_id, values, entered, stage)
                report.stage_changes += 1 + (values["status"] != "open")
    if report.rejected:
        return report
    if path.is_dir():
        _import_related(session, path, encoding, by_number, created_ids, importer, report)
    return report


def _synthesise_history(
    session: Session, deal_id: str, values: dict[str, Any], entered: Stage, stage: Stage
) -> None:
    """Stage history for a deal whose file gives only dates: entered at creation, then closed."""
    status = values["status"]
    record_stage_change(session, deal_id, None, entered.id, None, "open", values["created_at"])
    if status != "open":
        at = values["closed_at"] or values["updated_at"]
        record_stage_change(session, deal_id, entered.id, stage.id, "open", status, at)


def _import_related(
    session: Session,
    folder: Path,
    encoding: str | None,
    by_number: dict[str, str],
    created_ids: set[str],
    importer: Importer,
    report: ImportReport,
) -> None:
    """activities.csv and stage-changes.csv of a book folder, for the deals just created."""
    stage_ids = {(s.pipeline_id, s.key): s.id for s in importer.catalogue.stages}
    pipelines = {
        r["id"]: r["pipeline_id"] for r in session.store.query("SELECT id, pipeline_id FROM deals")
    }
    for name, kind in (("activities.csv", "activities"), ("stage-changes.csv", "stage-changes")):
        if not (folder / name).exists():
            continue
        _, rows = read_csv(folder / name, encoding)
        for record, row in enumerate(rows, start=1):
            cells = Cells(record, row, report)
            deal_id = cells.text("deal_id") or by_number.get(row.get("deal_number", "").strip())
            if deal_id is None:
                cells.reject("deal_number", f"{name}: no such deal in deals.csv")
                continue
            if deal_id not in created_ids:
                continue
            at = cells.parsed("at", _iso_moment)
            row_id = cells.text("id") or new_id()
            if kind == "activities":
                session.store.execute(
                    "INSERT INTO activities (id, deal_id, kind, at, text, created_at, command_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        row_id,
                        deal_id,
                        cells.required("kind"),
                        at,
                        cells.text("text") or "",
                        at,
                        session.store.command_id,
                    ),
                )
                report.activities += 1
                continue
            pipeline_id = pipelines[deal_id]
            from_stage = stage_ids.get((pipeline_id, cells.text("from_stage") or ""))
            to_stage = stage_ids.get((pipeline_id, cells.text("to_stage") or ""))
            if to_stage is None:
                cells.reject("to_stage", f"{name}: not a stage of the deal's pipeline")
                continue
            session.store.execute(
                "INSERT INTO stage_changes (id, deal_id, from_stage_id, to_stage_id, from_status,"
                " to_status, at, command_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    deal_id,
                    from_stage,
                    to_stage,
                    cells.text("from_status"),
                    cells.required("to_status"),
                    at,
                    session.store.command_id,
                ),
            )
            report.stage_changes += 1


def integrity_error(exc: sqlite3.IntegrityError) -> InvalidInput:
    """A constraint the checks above missed, as a one-line input error."""
    return InvalidInput(f"import refused by the database: {exc}")
