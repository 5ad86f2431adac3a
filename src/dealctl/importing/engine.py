"""The import itself: every row checked in Python, then written in bulk in one transaction.

Lookups (accounts by name key, contacts by e-mail and name, deals by id, external id and
title) are loaded once, so checking a row costs no query; new rows are written with
``executemany`` in dependency order (accounts, contacts, deals, history, change log),
into a table without its indexes when the import outgrows it (:func:`_indexes_rebuilt`).
Nothing is written until every row has been checked, so a rejected cell in the last row
of a large file leaves the database exactly as it was.
"""

from __future__ import annotations

import gc
import re
import sqlite3
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from dealctl import dates
from dealctl.catalogue import Catalogue, Stage
from dealctl.deals import (
    ACTIVITY_KINDS,
    parse_tags,
    record_stage_change,
    refresh_moved_at,
    update,
)
from dealctl.errors import InvalidInput
from dealctl.importing import cells as cell
from dealctl.importing import presets
from dealctl.importing.presets import ENTERED, PRESETS, Preset, header_key, stage_key
from dealctl.importing.report import Event, ImportReport, Rejection, clip
from dealctl.importing.source import CONTROL, NEUTRALISED, STDIN, Table, load
from dealctl.money import currency_code
from dealctl.session import Session
from dealctl.storage import Store, new_id
from dealctl.text import company_key, counted, email_key, norm
from dealctl.transfer import (
    ACCOUNT_FIELDS,
    ACTIVITY_FIELDS,
    CONTACT_FIELDS,
    DEAL_FIELDS,
    STAGE_CHANGE_FIELDS,
)

Progress = Callable[[str, int, int], None]  # (phase, done, total)

_INSERT_COLUMNS = (
    "id", "number", "title", "account_id", "contact_id", "pipeline_id", "stage_id", "status",
    "amount", "currency", "probability", "close_date", "next_action", "next_due", "owner",
    "source", "tags", "purpose", "proposal", "notes", "lost_reason", "lost_note", "created_at",
    "updated_at", "closed_at", "last_contact_at", "external_source", "external_id", "moved_at",
)  # fmt: skip
_INSERT_DEAL = (
    f"INSERT INTO deals ({', '.join(_INSERT_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)})"
)
_INSERT_HISTORY = (
    "INSERT INTO stage_changes (id, deal_id, from_stage_id, to_stage_id, from_status,"
    " to_status, at, command_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_CHANGE = (
    "INSERT INTO changes (id, command_id, entity, entity_id, field, old, new, at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_TEXT_FIELDS = (
    "next_action", "owner", "source", "purpose", "proposal", "lost_note", "external_source",
    "external_id",
)  # fmt: skip
_NOTES_HEADERS = frozenset(
    header_key(h)
    for h in ("notes", "note", "memo", "description", "comments", "メモ", "備考", "詳細")
)
_ON_DUPLICATE = ("skip", "update", "error")
_DATE_ORDERS = ("DMY", "MDY")
_TAG_SEPARATORS = re.compile(r"[,、;；]")
PROGRESS_EVERY = 2000
BIG_IMPORT_CACHE_KIB = 64 * 1024  # SQLite page cache while a large import writes
_MERGE_ACCOUNT = (
    "the same company once 株式会社 / (株) / ㈱ / 有限会社 / (有) / ㈲, full-width letters,"
    " case and spaces are set aside"
)
_MERGE_EMAIL = "the same e-mail address once NFKC-normalised, trimmed and case-folded"
_MERGE_NAME = "the same name (NFKC, case and spaces aside) at the same account"
_MERGE_PHONE = "the same phone number (its digits, after NFKC) at the same account"
_NOT_DIGITS = re.compile(r"[^0-9]")


def phone_key(phone: str) -> str:
    """A phone number as contacts are matched by it: its digits after NFKC (full-width
    digits count); a number written without digits is compared as :func:`norm` text."""
    return _NOT_DIGITS.sub("", unicodedata.normalize("NFKC", phone)) or norm(phone)


@dataclass
class ImportOptions:
    """Everything ``dealctl import`` can be told about a file."""

    preset: str | None = None
    encoding: str | None = None
    fmt: str | None = None
    maps: tuple[str, ...] = ()
    stage_maps: tuple[str, ...] = ()
    date_order: str | None = None
    default_year: int | None = None
    currency: str | None = None
    on_duplicate: str = "update"
    skip_invalid: bool = False
    excel: bool | None = None


@dataclass(slots=True)
class Contact:
    """A contact as the import knows it: stored, or created by this import."""

    id: str
    name: str
    email: str | None
    phone: str | None
    title: str | None
    account_id: str | None
    new: bool
    number: int = 0
    filled: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Built:
    """One checked record, ready to be matched and written."""

    record: int
    row: int | None
    values: dict[str, Any]
    stage: Stage
    entered: Stage
    account: str | None = None
    account_column: str = ""
    contact: tuple[str | None, str | None, str | None, str | None] | None = None
    contact_column: str = ""
    email_column: str = ""
    wanted_number: int | None = None
    number: int = 0
    moves: list[tuple[datetime, str, Stage]] = field(default_factory=list)
    closing: str | None = None  # the moment a won or lost deal closed, for its history
    # Closed at the import's moment: the row gives no close date, or one still ahead.
    closed_now: bool = False
    identity: tuple[Any, ...] = ()  # what a row without ids is matched by (title ...)
    cells: list[str] | None = None  # the cells as read, kept when a refusal may quote them
    key_column: str = ""  # the column holding the id the deal is matched by
    number_text: str = ""  # the deal's number as written (book folders refer to it)
    history: list[tuple[Any, ...]] = field(default_factory=list)  # rows made with the deal


class Columns:
    """Which column feeds which field, decided once from the header row."""

    def __init__(self, headers: list[str]) -> None:
        self.headers = headers
        self.fields: dict[str, list[int]] = {}
        self.ignored: list[str] = []
        self.duplicates: list[str] = []  # headers seen before, not read

    def add(self, target: str, index: int) -> None:
        self.fields.setdefault(target, []).append(index)

    def index(self, target: str) -> int | None:
        found = self.fields.get(target)
        return found[0] if found else None

    def has(self, target: str) -> bool:
        return target in self.fields

    def name(self, target: str) -> str:
        index = self.index(target)
        return self.headers[index] if index is not None else target


def _plan(table: Table, preset: Preset, maps: tuple[str, ...]) -> Columns:
    """Header -> field, from the preset's synonyms (or dealctl's own names) and ``--map``."""
    columns = Columns(table.headers)
    explicit = presets.parse_map(maps, table.headers)
    mapped: set[str] = set(explicit.values()) - {"ignore", "notes"}
    seen: set[str] = set()
    for index, header in enumerate(table.headers):
        key = header_key(header)
        again = key in seen
        seen.add(key)
        if header in explicit:
            target = explicit[header]
        elif preset.name == "dealctl":
            target = header if header in DEAL_FIELDS else "ignore"
        elif preset.name == "maven":
            target = header if header in presets.MAVEN_HEADERS else "ignore"
        else:
            target = preset.headers.get(key, "")
            stage = presets.entered_stage(key)
            if not target and stage is not None:
                target = ENTERED + stage
            if target in mapped:
                target = ""  # --map gave this field to another column
        unread = not target or target == "ignore"
        if not unread and (target == "notes" or not columns.has(target)):
            columns.add(target, index)
        elif again and header:
            columns.duplicates.append(header)
        elif header:
            columns.ignored.append(header)  # no field, or the first column with it wins
    return columns


class Run:
    """One import: the table, the session's lookups and everything checked so far."""

    def __init__(
        self,
        session: Session,
        table: Table,
        preset: Preset,
        options: ImportOptions,
        report: ImportReport,
        progress: Progress | None,
    ) -> None:
        self.session = session
        self.store = session.store
        self.table = table
        self.preset = preset
        self.options = options
        self.report = report
        self.progress = progress
        self.zone = session.zone
        self.stamp = session.stamp
        self.catalogue = Catalogue.load(session.store)
        self.columns = _plan(table, preset, options.maps)
        self.ix = {target: indexes[0] for target, indexes in self.columns.fields.items()}
        self.rowed = preset.name != "dealctl" and table.fmt in ("csv", "tsv")
        self.currency = currency_code(options.currency or session.config.currency)
        self.book_history = False
        self.phase = "checking"
        self._amount_parsers: dict[str, Callable[[str], int]] = {}
        self.pending_accounts: list[tuple[Any, ...]] = []
        self.pending_contacts: list[Contact] = []
        self.filled_contacts: list[Contact] = []
        self._merged_seen: set[tuple[str, str]] = set()
        self._load_accounts()
        self._load_contacts()
        self._load_deals()

    # --- lookups, loaded once ---------------------------------------------------------------

    def _load_accounts(self) -> None:
        info = {r["name"] for r in self.store.query("PRAGMA table_info(accounts)")}
        merged = "merged_into_id" if "merged_into_id" in info else "NULL"
        rows = self.store.query(
            f"SELECT id, name, name_key, number, deleted_at, {merged} AS merged_into_id"
            " FROM accounts ORDER BY number, id"
        )
        self.account_numbers = max((r["number"] for r in rows), default=0)
        live = {r["id"]: r["name"] for r in rows if r["deleted_at"] is None}
        self.accounts_by_key: dict[str, tuple[str, str]] = {}
        self.accounts_exact: dict[str, str] = {}
        for r in rows:
            if r["deleted_at"] is None:
                self.accounts_by_key.setdefault(r["name_key"], (r["id"], r["name"]))
                self.accounts_exact.setdefault(r["name"], r["id"])
        for r in rows:  # a name merged away (`account merge`) leads to where it went
            target = r["merged_into_id"]
            if r["deleted_at"] is not None and target in live:
                self.accounts_by_key.setdefault(r["name_key"], (target, live[target]))

    def _load_contacts(self) -> None:
        rows = self.store.query(
            "SELECT id, number, name, name_key, email, email_key, phone, title, account_id,"
            " deleted_at FROM contacts ORDER BY number, id"
        )
        self.contact_numbers = max((r["number"] for r in rows), default=0)
        self.contacts_by_email: dict[str, Contact] = {}
        self.contacts_by_name: dict[tuple[str, str | None], Contact] = {}
        self.contacts_by_phone: dict[tuple[str, str | None], Contact] = {}
        for r in rows:
            if r["deleted_at"] is not None:
                continue
            contact = Contact(
                r["id"], r["name"], r["email"], r["phone"], r["title"], r["account_id"], False
            )
            if r["email_key"]:
                self.contacts_by_email.setdefault(r["email_key"], contact)
            self.contacts_by_name.setdefault((r["name_key"], r["account_id"]), contact)
            if r["phone"]:
                self.contacts_by_phone.setdefault((phone_key(r["phone"]), r["account_id"]), contact)

    def _load_deals(self) -> None:
        self.numbers: set[int] = set()
        self.deal_ids: set[str] = set()
        self.deleted_ids: set[str] = set()  # soft-deleted deals (removed by undo, say)
        self.by_external: dict[tuple[str, str], str] = {}
        self.by_title_created: dict[tuple[str, str], list[str]] = {}
        self._title_rows: list[tuple[str, str, str | None]] = []
        for r in self.store.conn.execute(
            "SELECT id, number, title, created_at, account_id, external_source, external_id,"
            " deleted_at FROM deals ORDER BY number, id"
        ):
            self.numbers.add(r[1])
            self.deal_ids.add(r[0])
            if r[7] is not None:
                self.deleted_ids.add(r[0])
                continue
            if r[5] is not None and r[6] is not None:
                self.by_external.setdefault((r[5], r[6]), r[0])
            self.by_title_created.setdefault((r[2], r[3]), []).append(r[0])
            self._title_rows.append((r[0], r[2], r[4]))
        self.next_number = max(self.numbers, default=0) + 1
        self._by_title_account: dict[tuple[str, str | None], list[str]] | None = None

    def by_title_account(self) -> dict[tuple[str, str | None], list[str]]:
        if self._by_title_account is None:
            found: dict[tuple[str, str | None], list[str]] = {}
            for deal_id, title, account_id in self._title_rows:
                found.setdefault((norm(title), account_id), []).append(deal_id)
            self._by_title_account = found
        return self._by_title_account

    # --- cells --------------------------------------------------------------------------------

    def reject(
        self, record: int, row: int | None, column: str, value: str, reason: str, file: str = ""
    ) -> None:
        """A rejected cell; ``file`` names a book folder's other file it is in."""
        self.report.rejected.append(
            Rejection(record, column, value, reason, row if self.rowed else None, file)
        )

    def reject_cell(
        self, record: int, row: int | None, cells: list[str], target: str, reason: str
    ) -> None:
        """A rejected cell named by its field: the column as headed and the value as written."""
        index = self.ix.get(target)
        column = self.columns.headers[index] if index is not None else target
        value = cells[index] if index is not None and index < len(cells) else ""
        self.reject(record, row, column, value, reason)

    def source_of(self, field: str) -> str:
        """The target of the column a stored field comes from (``stage_id``: ``stage``)."""
        targets = _SOURCES.get(field, (_FIELD_NAMES.get(field, field),))
        return next((t for t in targets if t in self.ix), targets[0])

    def event(
        self, record: int, row: int | None, column: str, value: str, outcome: str, reason: str
    ) -> None:
        self.report.events.append(
            Event(record, row if self.rowed else None, column, value, outcome, reason)
        )

    def amount_parser(self, currency: str) -> Callable[[str], int]:
        parser = self._amount_parsers.get(currency)
        if parser is None:
            parser = self._amount_parsers[currency] = cell.amount_parser(currency)
        return parser

    def tick(self, done: int, total: int) -> None:
        if self.progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
            self.progress(self.phase, done, total)

    # --- accounts and contacts ---------------------------------------------------------------

    def account_id(self, name: str | None, record: int, row: int | None, column: str) -> str | None:
        """The account named ``name``: matched by its company key, created when new."""
        if not name:
            return None
        exact = self.accounts_exact.get(name)
        if exact is not None:
            return exact
        key = company_key(name)
        found = self.accounts_by_key.get(key)
        if found is not None:
            account_id, stored = found
            self.accounts_exact[name] = account_id
            if (key, name) not in self._merged_seen:
                self._merged_seen.add((key, name))
                reason = f"{clip(name)!r} is account {clip(stored)!r}: {_MERGE_ACCOUNT}"
                self.event(record, row, column, name, "merged", reason)
            return account_id
        account_id = new_id()
        self.account_numbers += 1
        self.pending_accounts.append(
            (account_id, self.account_numbers, name, key, self.stamp, self.stamp)
        )
        self.accounts_by_key[key] = (account_id, name)
        self.accounts_exact[name] = account_id
        self.report.accounts += 1
        return account_id

    def contact_id(
        self,
        spec: tuple[str | None, str | None, str | None, str | None],
        account_id: str | None,
        item: Built,
    ) -> str | None:
        """A contact matched by normalised e-mail, then by name within the account, and
        one with only a phone number by its digits within the account.

        A contact matched through a different spelling is reported as merged; the e-mail,
        phone and job title a matched contact lacks are filled from the file.
        """
        name, email, phone, title = spec
        found: Contact | None = None
        by_email = False
        ekey = email_key(email) if email else None
        if ekey:
            found = self.contacts_by_email.get(ekey)
            by_email = found is not None
        name_key = norm(name) if name else None
        if found is None and name_key is not None:
            candidate = self.contacts_by_name.get((name_key, account_id))
            if candidate is not None and (
                ekey is None or not candidate.email or email_key(candidate.email) == ekey
            ):
                found = candidate
        by_phone = False
        if phone is not None and name is None and email is None:
            found = self.contacts_by_phone.get((phone_key(phone), account_id))
            by_phone = True
        label = name or email or phone
        if label is None:
            return None
        if found is None:
            self.contact_numbers += 1
            contact = Contact(
                new_id(), label, email, phone, title, account_id, True, self.contact_numbers
            )
            self.pending_contacts.append(contact)
            if ekey:
                self.contacts_by_email[ekey] = contact
            key = name_key if name_key is not None else norm(label)
            self.contacts_by_name.setdefault((key, account_id), contact)
            if phone:
                self.contacts_by_phone.setdefault((phone_key(phone), account_id), contact)
            self.report.contacts += 1
            return contact.id
        self.report.contacts_matched += 1
        for key, value in (("email", email), ("phone", phone), ("title", title)):
            if value and not getattr(found, key):
                setattr(found, key, value)
                if key == "email" and ekey:
                    self.contacts_by_email.setdefault(ekey, found)
                if not found.new:
                    if not found.filled:
                        self.filled_contacts.append(found)
                    found.filled[key] = value
                    self.report.filled += 1
        renamed = name is not None and name != found.name
        merged: tuple[str, str, str] | None = None  # (column, value, reason)
        if by_phone:
            if phone != found.phone:
                merged = (self.columns.name("contact_phone"), phone or "", _MERGE_PHONE)
        elif renamed or (email is not None and email != found.email):
            column = item.email_column if by_email else item.contact_column
            shown = (email if by_email else name) or ""
            merged = (column, shown, _MERGE_EMAIL if by_email else _MERGE_NAME)
        if merged is not None:
            column, shown, reason = merged
            self.event(item.record, item.row, column, shown, "merged",
                       f"{clip(shown)!r} is contact {clip(found.name)!r}: {reason}")  # fmt: skip
        return found.id

    # --- building rows ------------------------------------------------------------------------

    def builder(self) -> DealctlRows | MavenRows | HumanRows:
        """The row builder of this preset (a people's layout checks its stage values now)."""
        if self.preset.name == "dealctl":
            return DealctlRows(self)
        if self.preset.name == "maven":
            return MavenRows(self)
        return HumanRows(self)

    def cleaned_records(
        self, table: Table | None = None, file: str = ""
    ) -> Iterator[tuple[int, int, list[str]]]:
        """(record, row, cells) of the file imported, or of a book folder's ``table`` named
        ``file``, one cell per header, with line endings and formula guards undone. A record
        with a cell beyond the last header or a control character in a cell is rejected
        (each such cell) and not yielded: nothing of it is imported."""
        table = table or self.table
        headers = table.headers
        width = len(headers)
        records = table.records
        rows = table.rows
        clean = _cleaner(table, self.options)
        controls = table.has_controls
        total = len(records)
        for index, cells in enumerate(records):
            record = index + 1
            row = rows[index]
            refused = False
            if len(cells) != width:
                cells, refused = self._fit(cells, width, record, row, file)
            if clean is not None:
                cells = clean(cells)
            records[index] = []  # read once: let the cells go
            if controls:
                refused = self._controls(cells, headers, record, row, file) or refused
            if refused:
                continue
            yield record, row, cells
            if not file:
                self.tick(record, total)

    def build_all(self, builder: DealctlRows | MavenRows | HumanRows) -> list[Built]:
        """Every record checked; rejections collected in the report. The cells are let go
        as they are read: the checked values are all a large import keeps."""
        build = builder.build
        built: list[Built] = []
        keep = self.options.on_duplicate == "error"  # a refused row quotes its cells
        for record, row, cells in self.cleaned_records():
            item = build(record, row, cells)
            if item is not None:
                built.append(item)
                if keep:
                    item.cells = cells
        self.table.records = []
        return built

    def _fit(
        self, cells: list[str], width: int, record: int, row: int, file: str
    ) -> tuple[list[str], bool]:
        """The cells of a record, one per header, and whether it was rejected: for a
        non-empty cell beyond the last header (empty ones a spreadsheet left are dropped)."""
        if len(cells) < width:
            return cells + [""] * (width - len(cells)), False
        extra = next((i for i in range(width, len(cells)) if cells[i].strip()), None)
        if extra is not None:
            self.reject(
                record,
                row,
                f"column {extra + 1}",
                cells[extra],
                "a cell beyond the last header",
                file,
            )
        return cells[:width], extra is not None

    def _controls(
        self, cells: list[str], headers: list[str], record: int, row: int, file: str
    ) -> bool:
        bad = False
        for index, value in enumerate(cells):
            if CONTROL.search(value):
                name = headers[index] if index < len(headers) else ""
                self.reject(
                    record, row, name, value, "contains a control character: remove it", file
                )
                bad = True
        return bad

    def new_number(self, wanted: int | None) -> int:
        if wanted is not None and wanted > 0 and wanted not in self.numbers:
            number = wanted
        else:
            number = self.next_number
        self.numbers.add(number)
        self.next_number = max(self.next_number, number + 1)
        return number


def _cleaner(table: Table, options: ImportOptions) -> Callable[[list[str]], list[str]] | None:
    """Line endings inside cells become LF; an export's formula guard comes off."""
    excel = options.excel
    if excel is None:
        excel = table.fmt in ("csv", "tsv") and (table.bom or table.encoding == "cp932")
    excel = excel and table.fmt in ("csv", "tsv")
    returns = table.has_returns
    if not excel and not returns:
        return None

    def clean(cells: list[str]) -> list[str]:
        out = cells
        if returns:
            out = [c.replace("\r\n", "\n").replace("\r", "\n") if "\r" in c else c for c in out]
        if excel:
            out = [c[1:] if c[:1] == "'" and NEUTRALISED.match(c) else c for c in out]
        return out

    return clean


class _Cells:
    """Checked access to one record's cells by field; problems become rejections."""

    __slots__ = ("cells", "ix", "record", "rejected", "row", "run", "v")

    def __init__(self, run: Run, record: int, row: int, cells: list[str]) -> None:
        self.run = run
        self.ix = run.ix
        self.record = record
        self.row = row
        self.cells = cells
        self.v = list(map(str.strip, cells))
        self.v.append("")  # what a field without a column reads (index -1)
        self.rejected = False

    def raw(self, target: str) -> str:
        return self.v[self.ix.get(target, -1)]

    def text(self, target: str) -> str | None:
        return self.v[self.ix.get(target, -1)] or None

    def reject(self, target: str, reason: str) -> None:
        self.run.reject_cell(self.record, self.row, self.cells, target, reason)
        self.rejected = True

    def parsed(self, target: str, parse: Callable[[str], Any]) -> Any:
        value = self.v[self.ix.get(target, -1)]
        if not value:
            return None
        try:
            return parse(value)
        except cell.CellError as exc:
            self.reject(target, str(exc))
        except InvalidInput as exc:
            self.reject(target, cell.reason_of(exc, value))
        except (ValueError, OverflowError):
            self.reject(target, "not a valid value")
        return None

    def required(self, target: str) -> str:
        value = self.v[self.ix.get(target, -1)]
        if not value:
            self.reject(target, "required")
        return value


# --- dealctl's own layout -----------------------------------------------------------------------


def _moment(value: str) -> bool:
    """An ISO 8601 moment with an offset (dealctl's own files)."""
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


_STATUSES = frozenset({"open", "won", "lost"})
_OWN_TEXT = (*_TEXT_FIELDS, "notes", "lost_reason")


class DealctlRows:
    """Rows of dealctl's own deals.csv: stage keys, ISO dates, amounts in minor units.

    The fast path of big round trips: each cell is read once, with no call per field.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self.catalogue = run.catalogue
        self.default_pipeline = run.session.config.default_pipeline
        self.zone = run.zone
        self.ix = {f: run.ix.get(f, -1) for f in DEAL_FIELDS}
        self.pipelines: dict[str, str | None] = {}
        self.stages: dict[tuple[str, str], Stage | None] = {}
        self.currencies: dict[str, str | None] = {}
        self.won_from: dict[str, Stage] = {}
        self.account_column = run.columns.name("account")
        self.contact_column = run.columns.name("contact")
        self.id_column = run.columns.name("id")
        self.external_column = run.columns.name("external_id")

    def _pipeline(self, key: str) -> str | None:
        if key not in self.pipelines:
            try:
                self.pipelines[key] = self.catalogue.pipeline_id(key)
            except InvalidInput:
                self.pipelines[key] = None
        return self.pipelines[key]

    def _stage(self, pipeline_id: str, text: str) -> Stage | None:
        key = (pipeline_id, text)
        if key not in self.stages:
            try:
                self.stages[key] = self.catalogue.find(pipeline_id, text)
            except InvalidInput:
                self.stages[key] = None
        return self.stages[key]

    def _currency(self, text: str) -> str | None:
        if text not in self.currencies:
            try:
                self.currencies[text] = currency_code(text)
            except InvalidInput:
                self.currencies[text] = None
        return self.currencies[text]

    def build(self, record: int, row: int, cells: list[str]) -> Built | None:
        run = self.run
        ix = self.ix
        v = list(map(str.strip, cells))
        v.append("")
        errors: list[tuple[str, str]] = []
        pipeline_id = self._pipeline(v[ix["pipeline"]] or self.default_pipeline)
        if pipeline_id is None:
            errors.append(("pipeline", "unknown pipeline"))
        stage: Stage | None = None
        stage_text = v[ix["stage"]]
        if not stage_text:
            errors.append(("stage", "required"))
        elif pipeline_id is not None:
            stage = self._stage(pipeline_id, stage_text)
            if stage is None:
                errors.append(("stage", "not a stage of this pipeline"))
        status = v[ix["status"]]
        if not status:
            errors.append(("status", "required"))
        elif status not in _STATUSES:
            errors.append(("status", "use open, won or lost"))
        elif stage is not None and (stage.kind == "won") != (status == "won"):
            errors.append(("status", f"does not agree with stage {stage.key}"))
        currency = run.currency
        if text := v[ix["currency"]]:
            found = self._currency(text)
            if found is None:
                try:
                    currency_code(text)
                except InvalidInput as exc:
                    errors.append(("currency", cell.reason_of(exc, text)))
            else:
                currency = found
        moments: dict[str, str | None] = {}
        for name in ("created_at", "updated_at", "closed_at", "last_contact_at"):
            text = v[ix[name]]
            if not text:
                moments[name] = None
            elif _moment(text):
                moments[name] = text
            else:
                moments[name] = None
                try:
                    cell.strict_moment(text)
                except cell.CellError as exc:
                    errors.append((name, str(exc)))
                except ValueError:
                    errors.append((name, "not a valid value"))
        amount = probability = wanted = None
        close_date = next_due = None
        try:
            if text := v[ix["amount"]]:
                amount = int(text)
        except ValueError:
            errors.append(("amount", "not a valid value"))
        try:
            if text := v[ix["probability"]]:
                probability = int(text)
                if not 0 <= probability <= 100:
                    errors.append(("probability", "a probability is 0-100"))
        except ValueError:
            errors.append(("probability", "not a valid value"))
        try:
            if text := v[ix["close_date"]]:
                close_date = date.fromisoformat(text).isoformat()
        except ValueError:
            errors.append(("close_date", "not a valid value"))
        if text := v[ix["next_due"]]:
            try:
                dates.due_date(text, self.zone)
                next_due = text
            except InvalidInput as exc:
                errors.append(("next_due", cell.reason_of(exc, text)))
        try:
            if text := v[ix["number"]]:
                wanted = int(text)
        except ValueError:
            errors.append(("number", "not a valid value"))
        title = v[ix["title"]]
        if not title:
            errors.append(("title", "required"))
        if errors or stage is None:
            for target, reason in errors:
                run.reject_cell(record, row, cells, target, reason)
            return None
        created = moments["created_at"]
        tags = v[ix["tags"]]
        if "," in tags:  # one tag, or none, is the stripped cell itself
            tags = ",".join(t for t in tags.split(",") if t.strip())
        values: dict[str, Any] = {
            "title": title,
            "pipeline_id": pipeline_id,
            "stage_id": stage.id,
            "status": status,
            "amount": amount,
            "currency": currency,
            "probability": probability,
            "close_date": close_date,
            "next_due": next_due,
            "created_at": created or run.stamp,
            "tags": tags,
            # Left empty when the file has no date for it (see Writer.compare).
            "updated_at": moments["updated_at"] or created,
            "closed_at": moments["closed_at"],
            "last_contact_at": moments["last_contact_at"],
        }
        for name in _OWN_TEXT:
            values[name] = v[ix[name]] or None
        deal_id = v[ix["id"]]
        if deal_id:
            values["id"] = deal_id
        contact = v[ix["contact"]] or None
        spec = None
        if contact is not None:
            spec = (contact, contact if "@" in contact else None, None, None)
        entered = stage
        if status == "won":
            entered = (
                self.won_from.get(stage.pipeline_id)
                or self.catalogue.in_pipeline(stage.pipeline_id)[-2]
            )
            self.won_from[stage.pipeline_id] = entered
        return Built(
            record,
            row,
            values,
            stage,
            entered,
            account=v[ix["account"]] or None,
            account_column=self.account_column,
            contact=spec,
            contact_column=self.contact_column,
            email_column=self.contact_column,
            wanted_number=wanted,
            closing=values["closed_at"] or values["updated_at"],
            key_column=self.id_column if deal_id else self.external_column,
            number_text=v[ix["number"]],
        )


# --- Maven CRM -----------------------------------------------------------------------------------


class MavenRows:
    """Rows of the Maven "CRM Sales Opportunities" sales_pipeline.csv (amounts in USD)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        catalogue = run.catalogue
        self.pipeline_id = catalogue.pipeline_id(run.session.config.default_pipeline)
        self.won = catalogue.won(self.pipeline_id)
        self.targets = {**run.preset.stage_targets(), **_stage_maps(run)}
        self.stages: dict[str, tuple[str, Stage]] = {}
        self.offset = run.stamp[19:]
        self.usd = cell.amount_parser("USD")
        self.engaged = catalogue.find(self.pipeline_id, "hearing")

    def stage(self, value: str) -> tuple[str, Stage] | None:
        found = self.stages.get(value)
        if found is None:
            found = _target(self.run, self.pipeline_id, self.targets, value)
            if found is None:
                return None
            self.stages[value] = found
        return found

    def build(self, record: int, row: int, cells: list[str]) -> Built | None:
        run = self.run
        c = _Cells(run, record, row, cells)
        raw_stage = c.required("deal_stage")
        engage = c.parsed("engage_date", cell.strict_day)
        closed = c.parsed("close_date", cell.strict_day)
        resolved = self.stage(raw_stage) if raw_stage else None
        if raw_stage and resolved is None:
            c.reject("deal_stage", "use Prospecting, Engaging, Won or Lost")
        status, stage = resolved if resolved is not None else ("open", self.engaged)
        if status != "open" and closed is None:
            c.reject("close_date", "a won or lost deal needs its close date")
        value = c.parsed("close_value", self.usd)
        product = c.text("product") or "deal"
        account = c.text("account")
        external = c.required("opportunity_id")
        if c.rejected:
            return None
        created = f"{engage}T00:00:00{self.offset}" if engage else run.stamp
        closed_at = f"{closed}T00:00:00{self.offset}" if closed and status != "open" else None
        values: dict[str, Any] = {
            "title": f"{product} — {account}" if account else product,
            "pipeline_id": self.pipeline_id,
            "stage_id": stage.id,
            "status": status,
            "amount": value,
            "currency": "USD",
            "close_date": closed,
            "owner": c.text("sales_agent"),
            "source": "maven",
            "tags": "",
            "created_at": created,
            "closed_at": closed_at,
            "external_source": "maven",
            "external_id": external,
            # Without any date in the file, left empty (see Writer.update): a re-import
            # at another moment must not rewrite it.
            "updated_at": closed_at or (created if engage else None),
        }
        entered = self.engaged if status == "won" else stage
        return Built(
            record,
            row,
            values,
            stage,
            entered,
            account=account,
            account_column="account",
            closing=closed_at,
            key_column="opportunity_id",
        )


# --- people's spreadsheets and CRM exports -------------------------------------------------------


def _stage_maps(run: Run) -> dict[str, str]:
    return presets.parse_stage_map(run.options.stage_maps)


def _target(
    run: Run, pipeline_id: str, targets: dict[str, str], value: str
) -> tuple[str, Stage] | None:
    """(status, stage) for a stage value, or None when nothing maps it."""
    catalogue = run.catalogue
    target = targets.get(stage_key(value))
    if target is None:
        try:
            stage = catalogue.find(pipeline_id, value)
        except InvalidInput:
            return None
        return ("won" if stage.kind == "won" else "open"), stage
    return _resolve_target(run, pipeline_id, target)


def _resolve_target(run: Run, pipeline_id: str, target: str) -> tuple[str, Stage]:
    catalogue = run.catalogue
    name, _, where = target.partition(":")
    if name.lower() == "won":
        return "won", catalogue.won(pipeline_id)
    if name.lower() == "lost":
        stage = catalogue.find(pipeline_id, where) if where else catalogue.first(pipeline_id)
        if stage.kind == "won":
            raise InvalidInput(f"stage map {target!r}: a deal is not lost at the won stage")
        return "lost", stage
    stage = catalogue.find(pipeline_id, target)
    return ("won" if stage.kind == "won" else "open"), stage


class HumanRows:
    """Rows written by people and CRMs: synonyms, Japanese dates, amounts with ¥ and 万."""

    def __init__(self, run: Run) -> None:
        self.run = run
        columns = run.columns
        session = run.session
        self.zone = run.zone
        self.catalogue = run.catalogue
        self.default_pipeline = self.catalogue.pipeline_id(session.config.default_pipeline)
        self.targets = {**run.preset.stage_targets(), **_stage_maps(run)}
        for target in set(_stage_maps(run).values()):
            _resolve_target(run, self.default_pipeline, target)  # an unknown stage fails now
        self.stage_cache: dict[tuple[str, str], tuple[str, Stage] | None] = {}
        self.has_created = columns.has("created_at")
        self.has_stage = columns.has("stage") or columns.has("status") or columns.has("is_won")
        self.reasons = {norm(k): k for k in session.config.lost_reasons} | {
            norm(v): k for k, v in session.config.lost_reasons.items()
        }
        self.notes = [
            (i, header_key(columns.headers[i]) not in _NOTES_HEADERS, columns.headers[i])
            for i in columns.fields.get("notes", [])
        ]
        self.entered = [
            (target.removeprefix(ENTERED), indexes[0])
            for target, indexes in columns.fields.items()
            if target.startswith(ENTERED)
        ]
        self.account_names = self._account_names()
        self.orders = self._orders()
        self.lost_without_stage = 0
        self.future_closes: Counter[str] = Counter()  # column -> close dates after now
        self.now = datetime.fromisoformat(run.stamp)
        self.check_stages()

    def _account_names(self) -> dict[str, str] | None:
        """Salesforce's AccountId, named from Account.csv next to the file when it is there."""
        run = self.run
        if not run.columns.has("account_ref") or run.columns.has("account"):
            return None
        folder = run.table.folder
        sibling = folder / "Account.csv" if folder is not None else None
        if sibling is None or not sibling.is_file():
            run.report.notes.append(
                "accounts: AccountId values kept as account names (put Account.csv from the"
                " same export next to the file to use the account names)"
            )
            return {}
        accounts = load(str(sibling), encoding=run.options.encoding)
        keys = [header_key(h) for h in accounts.headers]
        if "id" not in keys or "name" not in keys:
            return {}
        at_id, at_name = keys.index("id"), keys.index("name")
        # (a row without a name, its trailing cells dropped or empty, leaves the id as it is)
        names = {
            r[at_id].strip(): r[at_name].strip() for r in accounts.records if r[at_name].strip()
        }
        run.report.notes.append(f"accounts: named from {sibling.name} next to the file")
        return names

    def _orders(self) -> dict[str, tuple[str | None, bool]]:
        """One day/month order per date column: option, else config, else the column's values."""
        run = self.run
        given = run.options.date_order or run.session.config.date_order
        order = given if given in (cell.DAY_FIRST, cell.MONTH_FIRST) else None
        orders: dict[str, tuple[str | None, bool]] = {}
        for target, indexes in run.columns.fields.items():
            if not (
                target in presets.DATE_FIELDS
                or target in presets.DUE_FIELDS
                or target in presets.MOMENT_FIELDS
                or target.startswith(ENTERED)
            ):
                continue
            if order is not None:
                orders[target] = (order, False)
                continue
            index = indexes[0]
            orders[target] = cell.infer_order(r[index] for r in run.table.records)
        return orders

    def pipeline(self, c: _Cells) -> str | None:
        value = c.text("pipeline")
        if value is None:
            return self.default_pipeline
        try:
            return self.catalogue.pipeline_id(value)
        except InvalidInput:
            c.reject("pipeline", "unknown pipeline")
            return None

    def check_stages(self) -> None:
        """Every stage value must map; otherwise stop before anything, listing them all."""
        run = self.run
        index = run.columns.index("stage")
        if index is None:
            return
        pindex = run.columns.index("pipeline")
        counts: Counter[tuple[str, str]] = Counter()
        for cells in run.table.records:
            if index >= len(cells):
                continue
            value = cells[index].strip()
            if not value:
                continue
            pipeline_id = self.default_pipeline
            if pindex is not None and pindex < len(cells) and cells[pindex].strip():
                try:
                    pipeline_id = self.catalogue.pipeline_id(cells[pindex].strip())
                except InvalidInput:
                    continue  # rejected with its row
            counts[(pipeline_id, value)] += 1
        unmapped: Counter[str] = Counter()
        for (pipeline_id, value), count in counts.items():
            found = self.stage_of(pipeline_id, value)
            if found is None:
                unmapped[value] += count
        if unmapped:
            listed = ", ".join(
                f"{clip(v)!r} ({counted(n, 'row')})" for v, n in unmapped.most_common()
            )
            stages = ", ".join(s.label for s in self.catalogue.in_pipeline(self.default_pipeline))
            column = run.columns.headers[index]
            run.report.stopped = (
                f"unmapped stage values in column {column!r}: {listed}; map each with"
                f" --stage-map 'VALUE=STAGE' (stages: {stages}; or won, lost, lost:STAGE)"
            )
            for value, count in unmapped.items():
                run.report.events.append(Event(0, None, column, value, "unmapped", f"{count} rows"))

    def stage_of(self, pipeline_id: str, value: str) -> tuple[str, Stage] | None:
        key = (pipeline_id, value)
        if key not in self.stage_cache:
            self.stage_cache[key] = _target(self.run, pipeline_id, self.targets, value)
        return self.stage_cache[key]

    def moment(self, c: _Cells, target: str) -> cell.Moment | None:
        value = c.text(target)
        if value is None:
            return None
        order, conflict = self.orders.get(target, (None, False))
        try:
            moment = cell.parse_moment(
                value, order, default_year=self.run.options.default_year, conflict=conflict
            )
        except cell.CellError as exc:
            c.reject(target, str(exc))
            return None
        if moment.serial:
            self.run.report.serials[self.run.columns.name(target)] += 1
        return moment

    def status_and_stage(self, c: _Cells, pipeline_id: str) -> tuple[str, Stage, bool] | None:
        """(status, stage, unplaced): ``unplaced`` is a lost deal the file does not say
        where it was lost (it stays at the first stage unless stage dates tell)."""
        catalogue = self.catalogue
        found: tuple[str, Stage] | None = None
        value = c.text("stage")
        if value is not None:
            found = self.stage_of(pipeline_id, value)
            if found is None:
                c.reject("stage", "not mapped to a stage")
                return None
        status: str | None = None
        raw_status = c.text("status")
        if raw_status is not None:
            status = Preset.status(raw_status)
            if status is None:
                c.reject("status", "use open, won or lost")
                return None
        won = c.parsed("is_won", cell.flag)
        closed = c.parsed("is_closed", cell.flag)
        if won is not None or closed is not None:
            flagged = "won" if won else ("lost" if closed else "open")
            if status is not None and status != flagged:
                c.reject("status", "does not agree with the won/closed flags")
                return None
            status = flagged
        if found is None:
            stage = catalogue.first(pipeline_id)
            kind = status or "open"
            if kind == "won":
                return "won", catalogue.won(pipeline_id), False
            return kind, stage, kind == "lost"
        kind, stage = found
        unplaced = kind == "lost" and self.targets.get(stage_key(value or "")) == "lost"
        if status is None or status == kind or status == "deleted":
            return (status or kind), stage, unplaced
        if status == "won":
            return "won", catalogue.won(pipeline_id), False
        if kind == "won":
            column = "status" if c.text("status") is not None else "is_won"
            c.reject(column, f"does not agree with the stage ({stage.key})")
            return None
        return status, stage, unplaced and status == "lost"

    def notes_text(self, c: _Cells) -> str | None:
        parts = []
        for index, labelled, header in self.notes:
            value = c.cells[index].strip()
            if value:
                parts.append(f"{header}: {value}" if labelled else value)
        return "\n".join(parts) or None

    def build(self, record: int, row: int, cells: list[str]) -> Built | None:
        run = self.run
        c = _Cells(run, record, row, cells)
        columns = run.columns
        if c.parsed("is_deleted", cell.flag):
            run.event(record, row, columns.name("is_deleted"), "", "skipped", "deleted there")
            return None
        title = c.required("title")
        pipeline_id = self.pipeline(c)
        resolved = self.status_and_stage(c, pipeline_id) if pipeline_id else None
        if resolved is not None and resolved[0] == "deleted":
            run.event(record, row, columns.name("status"), "", "skipped", "deleted there")
            return None
        currency = c.parsed("currency", currency_code) or run.currency
        values: dict[str, Any] = {"title": title}
        if columns.has("amount"):
            values["amount"] = c.parsed("amount", run.amount_parser(currency))
            values["currency"] = currency
        elif columns.has("currency"):
            values["currency"] = currency
        if columns.has("probability"):
            values["probability"] = c.parsed("probability", cell.percent)
        close = self.moment(c, "close_date")
        if columns.has("close_date"):
            values["close_date"] = close.date_in(self.zone).isoformat() if close else None
        due = self.moment(c, "next_due")
        if columns.has("next_due"):
            values["next_due"] = due.due(self.zone) if due else None
        stamps: dict[str, str | None] = {}
        for target in ("created_at", "updated_at", "closed_at", "won_at", "lost_at",
                       "last_contact_at"):  # fmt: skip
            moment = self.moment(c, target)
            stamps[target] = moment.stamp(self.zone) if moment else None
        moves: list[tuple[datetime, str, Stage]] = []
        for stage_value, _ in self.entered:
            moment = self.moment(c, ENTERED + stage_value)
            if moment is None or pipeline_id is None:
                continue
            found = self.stage_of(pipeline_id, stage_value)
            if found is None:
                continue
            if found[0] == "open":
                moves.append((moment.local(self.zone), moment.stamp(self.zone), found[1]))
            else:  # the date a deal entered "Closed Won" or "Closed Lost" is when it closed
                target = "won_at" if found[0] == "won" else "lost_at"
                stamps[target] = stamps[target] or moment.stamp(self.zone)
        moves.sort(key=lambda m: (m[0], m[2].position))
        for target in _TEXT_FIELDS:
            if columns.has(target):
                values[target] = c.text(target)
        if self.notes:
            values["notes"] = self.notes_text(c)
        if columns.has("tags"):
            values["tags"] = ",".join(parse_tags(_TAG_SEPARATORS.split(c.text("tags") or "")))
        if columns.has("lost_reason"):
            self.lost_reason(c, values)
        if values.get("external_id") and not values.get("external_source"):
            values["external_source"] = run.preset.source
        wanted = c.parsed("number", int) if columns.has("number") else None
        if c.rejected or resolved is None or pipeline_id is None:
            return None
        status, stage, unplaced = resolved
        if unplaced and moves:
            stage = moves[-1][2]  # lost where its last stage date says it was
        elif unplaced:
            self.lost_without_stage += 1
        values["pipeline_id"] = pipeline_id
        if self.has_stage:
            values["stage_id"] = stage.id
            values["status"] = status
        if columns.has("updated_at"):
            values["updated_at"] = stamps["updated_at"]
        if columns.has("last_contact_at"):
            values["last_contact_at"] = stamps["last_contact_at"]
        if close is not None:
            stamps["close_date"] = close.stamp(self.zone)
        closing, at_import = self.closing(c, status, stamps) if status != "open" else (None, False)
        created = stamps["created_at"]
        if created is None and status != "open":
            created = self.earliest(moves, closing, stamps)
        values["created_at"] = created or run.stamp
        if status != "open" and closing is None:  # no date in the row: closed when imported
            closing, at_import = values["created_at"], created is None
        if self.has_stage or columns.has("closed_at"):
            values["closed_at"] = closing
        entered = self.won_from(c, pipeline_id) if status == "won" else stage
        account = c.text("account")
        if account is None and self.account_names is not None:
            ref = c.text("account_ref")
            account = self.account_names.get(ref, ref) if ref else None
        spec = None
        if any(columns.has(t) for t in ("contact", "contact_email", "contact_phone")):
            spec = (
                c.text("contact"),
                c.text("contact_email"),
                c.text("contact_phone"),
                c.text("contact_title"),
            )
        key_column = "id" if columns.has("id") else "external_id"
        return Built(
            record,
            row,
            values,
            stage,
            entered,
            account=account,
            account_column=columns.name("account" if columns.has("account") else "account_ref"),
            contact=spec,
            contact_column=columns.name(
                "contact_email" if columns.has("contact_email") else "contact"
            ),
            wanted_number=wanted,
            moves=moves,
            closing=closing,
            key_column=columns.name(key_column),
            closed_now=at_import,
        )

    def closing(
        self, c: _Cells, status: str, stamps: dict[str, str | None]
    ) -> tuple[str | None, bool]:
        """When a won or lost row closed, from the first of its dates that says, and whether
        that date was after now: a close moment is never in the future, so it is now then."""
        for target in ("won_at" if status == "won" else "lost_at", "closed_at", "close_date",
                       "updated_at"):  # fmt: skip
            stamp = stamps.get(target)
            if stamp is None:
                continue
            if datetime.fromisoformat(stamp) <= self.now:
                return stamp, False
            column = self.run.columns.name(target)
            self.future_closes[column] += 1
            self.run.event(c.record, c.row, column, c.raw(target), "adjusted",
                           f"a close moment after now ({stamp}): closed now instead")  # fmt: skip
            return self.run.stamp, True
        return None, False

    def earliest(
        self,
        moves: list[tuple[datetime, str, Stage]],
        closing: str | None,
        stamps: dict[str, str | None],
    ) -> str | None:
        """The creation moment of a closed row without one: the earliest moment the row
        gives (a deal neither moves nor closes before it exists) when that is before now."""
        given = [(at, stamp) for at, stamp, _ in moves]
        given += [(datetime.fromisoformat(t), t) for t in (closing, stamps["updated_at"]) if t]
        first = min(given, default=None, key=lambda pair: pair[0])
        return first[1] if first is not None and first[0] < self.now else None

    def won_from(self, c: _Cells, pipeline_id: str) -> Stage:
        """The stage a won deal was won from: the open stage its row gives (Pipedrive's
        stage beside status won), else the pipeline's last open stage."""
        value = c.text("stage")
        found = self.stage_of(pipeline_id, value) if value is not None else None
        if found is not None and found[0] == "open":
            return found[1]
        return self.catalogue.in_pipeline(pipeline_id)[-2]

    def lost_reason(self, c: _Cells, values: dict[str, Any]) -> None:
        """A configured reason (by key or display name), else ``other`` with the text kept."""
        text = c.text("lost_reason")
        if text is None:
            values["lost_reason"] = None
            return
        key = self.reasons.get(norm(text))
        if key is None:
            key = "other" if "other" in self.run.session.config.lost_reasons else None
            if key is None:
                c.reject("lost_reason", "not a configured lost reason")
                return
            if not values.get("lost_note"):
                values["lost_note"] = text
        values["lost_reason"] = key


# --- matching and writing ----------------------------------------------------------------------


class Writer:
    """Matches checked rows to stored deals, then writes everything in bulk, in order."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.session = run.session
        self.store = run.store
        self.report = run.report
        self.command_id = run.store.command_id
        self.stamp = run.stamp
        self.seen: dict[str, int] = {}
        self.new: list[Built] = []
        self.new_ids: dict[str, str] = {}  # id of a deal this import creates -> pipeline id
        self.by_number: dict[str, str | None] = {}  # number as written -> deal id
        self.updates: list[tuple[Built, sqlite3.Row, dict[str, Any]]] = []
        # rows matched by title: identity -> (the rows, the stored deals with it)
        self.titled: dict[tuple[Any, ...], tuple[list[Built], list[str]]] = {}

    def match(self, item: Built) -> str | None:
        """The stored deal a row stands for: by id, else by source and external id. A row
        with neither is matched by title later (:meth:`by_title`), once every row is seen."""
        run = self.run
        values = item.values
        deal_id = values.get("id")
        source, external = values.get("external_source"), values.get("external_id")
        if deal_id:
            key = "id:" + deal_id
            found = deal_id if deal_id in run.deal_ids else None
            if deal_id in run.deleted_ids:  # updating it would leave it deleted, unseen
                run.reject(item.record, item.row, item.key_column, deal_id,
                           "a deleted deal has this id (taken back by dealctl undo?):"
                           " dealctl undo --redo brings it back, or leave the id out to"
                           " import the row as a new deal")  # fmt: skip
                return None
        elif source and external:
            key = f"ext:{source}\x00{external}"
            found = run.by_external.get((source, external))
        else:
            if run.columns.has("created_at"):
                item.identity = ("created", values["title"], values["created_at"])
                stored = run.by_title_created.get((values["title"], values["created_at"]))
            else:
                item.identity = ("account", norm(values["title"]), values.get("account_id"))
                stored = run.by_title_account().get(item.identity[1:])
            self.titled.setdefault(item.identity, ([], stored or []))[0].append(item)
            return None
        first = self.seen.get(key)
        if first is not None:
            run.reject(item.record, item.row, item.key_column, deal_id or external or "",
                       f"the same id as record {first}")  # fmt: skip
            return None
        self.seen[key] = item.record
        return found

    def by_title(self) -> dict[int, str | None]:
        """The stored deal of each row matched by title (None: a new deal), by record.

        A title (at an account, or with a creation moment) that one row and at most one
        stored deal have is that deal. When more share it, rows are paired with stored
        deals they equal exactly (a re-sorted sheet is unchanged); a row left over is a new
        deal when no stored deal is left over, and is refused otherwise: nothing says which
        of them it stands for, and guessing by row order would swap their data.
        """
        found: dict[int, str | None] = {}
        shared = {k: v for k, v in self.titled.items() if len(v[0]) > 1 or len(v[1]) > 1}
        stored = self.stored([d for _, ids in shared.values() for d in ids])
        for rows, ids in self.titled.values():
            if len(rows) == 1 and len(ids) <= 1:
                found[rows[0].record] = ids[0] if ids else None
                continue
            left = list(ids)
            unpaired: list[Built] = []
            for item in rows:
                twin = next((d for d in left if not self.changes(item, stored[d])[1]), None)
                if twin is None:
                    unpaired.append(item)
                    continue
                left.remove(twin)
                found[item.record] = twin
            for item in unpaired:
                if not left:
                    found[item.record] = None
                    continue
                numbers = ", ".join(f"#{stored[d]['number']}" for d in ids[:5])
                numbers += ", …" if len(ids) > 5 else ""
                where = (
                    "at this account" if item.identity[0] == "account" else "and creation moment"
                )
                self.run.reject(item.record, item.row, self.run.columns.name("title"),
                                item.values["title"],
                                f"ambiguous: {counted(len(rows), 'row')} of the file and"
                                f" {counted(len(ids), 'stored deal')} ({numbers}) have this"
                                f" title {where}, and no id tells which is which; give the"
                                " file an id column (--map 'COLUMN=external_id') or"
                                " distinct titles")  # fmt: skip
        return found

    def resolve(self, items: list[Built]) -> list[tuple[Built, str]]:
        """Accounts, contacts and the matching stored deal of every row; new deals get their
        id and number. Returns the rows that match a stored deal."""
        run = self.run
        columns = run.columns
        own = run.preset.name in ("dealctl", "maven")
        has_account = own or columns.has("account") or columns.has("account_ref")
        has_contact = own or any(
            columns.has(t) for t in ("contact", "contact_email", "contact_phone")
        )
        matched: list[tuple[Built, str]] = []
        run.phase = "matching"
        total = len(items)
        checked: list[tuple[Built, str | None]] = []
        account_id, contact_id, match, tick = run.account_id, run.contact_id, self.match, run.tick
        rejected = run.report.rejected
        for done, item in enumerate(items, start=1):
            values = item.values
            if has_account:
                values["account_id"] = account_id(
                    item.account, item.record, item.row, item.account_column
                )
            if has_contact:
                values["contact_id"] = (
                    contact_id(item.contact, values.get("account_id"), item)
                    if item.contact is not None
                    else None
                )
            before = len(rejected)
            found = match(item)
            if len(rejected) == before:
                checked.append((item, found))
            tick(done, total)
        titled = self.by_title() if self.titled else {}
        for item, found in checked:
            values = item.values
            if item.identity:
                if item.record not in titled:
                    continue  # refused: ambiguous
                found = titled[item.record]
            if found is None:
                values["id"] = values.get("id") or new_id()
                item.number = run.new_number(item.wanted_number)
                run.deal_ids.add(values["id"])
                self.new.append(item)
                self.new_ids[values["id"]] = values["pipeline_id"]
                found_id: str | None = values["id"]
            else:
                matched.append((item, found))
                found_id = found
            if item.number_text:
                self.by_number[item.number_text] = found_id
        return matched

    def stored(self, ids: list[str]) -> dict[str, sqlite3.Row]:
        """Stored deals by id, read 500 at a time."""
        current: dict[str, sqlite3.Row] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for r in self.store.query(f"SELECT * FROM deals WHERE id IN ({marks})", chunk):
                current[r["id"]] = r
        return current

    @staticmethod
    def changes(item: Built, stored: sqlite3.Row) -> tuple[dict[str, Any], list[str]]:
        """The fields a row gives a stored deal, and those that differ from it."""
        fields = {k: v for k, v in item.values.items() if k not in ("id", "created_at")}
        if fields.get("updated_at") is None:
            # No date in the file: update() stamps it only if something else changed.
            fields.pop("updated_at", None)
        if item.closed_now and stored["closed_at"] and stored["status"] == fields.get("status"):
            # No close date in the file yet (none, or one still ahead): the deal stays
            # closed when it was first imported, or closed by hand.
            fields.pop("closed_at", None)
        return fields, [k for k, v in fields.items() if stored[k] != v]

    def compare(self, matched: list[tuple[Built, str]]) -> None:
        """Stored deals against their rows: unchanged, or to update / skip / refuse."""
        current = self.stored([deal_id for _, deal_id in matched])
        mode = self.run.options.on_duplicate
        for item, deal_id in matched:
            stored = current[deal_id]
            fields, changed = self.changes(item, stored)
            if not changed:
                self.report.unchanged += 1
                continue
            names = ", ".join(_FIELD_NAMES.get(k, k) for k in changed)
            number = stored["number"]
            if mode == "skip":
                self.report.skipped += 1
                self.run.event(item.record, item.row, names, "", "skipped",
                               f"deal #{number} differs; left as it is")  # fmt: skip
            elif mode == "error":
                targets = [self.run.source_of(k) for k in changed]
                headers = ", ".join(dict.fromkeys(self.run.columns.name(t) for t in targets))
                self.run.reject_cell(item.record, item.row, item.cells or [], targets[0],
                                     f"deal #{number} exists and differs ({headers});"
                                     " --on-duplicate update or skip")  # fmt: skip
            else:
                self.updates.append((item, stored, fields))
                self.run.event(item.record, item.row, names, "", "updated", f"deal #{number}")

    def only_what_is_written(self) -> None:
        """Accounts and contacts that only rows left unwritten name (rows refused when
        matched, or left as they are by ``--on-duplicate skip``) are not created, and stored
        contacts are not filled from them; the accounts and contacts created are numbered
        without gaps."""
        run = self.run
        report = self.report
        written = [item.values for item in self.new] + [fields for _, _, fields in self.updates]
        contact_ids = {values.get("contact_id") for values in written}
        contacts = [c for c in run.pending_contacts if c.id in contact_ids]
        account_ids = {values.get("account_id") for values in written}
        account_ids.update(c.account_id for c in contacts)
        accounts = [a for a in run.pending_accounts if a[0] in account_ids]
        if len(accounts) < len(run.pending_accounts):
            first = run.pending_accounts[0][1]
            accounts = [(a[0], first + n, *a[2:]) for n, a in enumerate(accounts)]
        if len(contacts) < len(run.pending_contacts):
            first = run.pending_contacts[0].number
            for n, contact in enumerate(contacts):
                contact.number = first + n
        run.pending_accounts, run.pending_contacts = accounts, contacts
        run.filled_contacts = [c for c in run.filled_contacts if c.id in contact_ids]
        report.accounts, report.contacts = len(accounts), len(contacts)
        report.filled = sum(len(c.filled) for c in run.filled_contacts)
        refused = {r.record for r in report.rejected if not r.file}
        if refused:
            report.events = [
                e for e in report.events if not (e.outcome == "merged" and e.record in refused)
            ]

    def write(self) -> None:
        """Everything checked, written: accounts, contacts, deals, history, the change log."""
        run = self.run
        store = self.store
        stamp = self.stamp
        command = self.command_id
        changes: list[tuple[Any, ...]] = [
            (new_id(), command, "account", a[0], "created", None, a[2], stamp)
            for a in run.pending_accounts
        ]
        store.executemany(
            "INSERT INTO accounts (id, number, name, name_key, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            run.pending_accounts,
        )
        store.executemany(
            "INSERT INTO contacts (id, number, account_id, name, name_key, email, email_key,"
            " phone, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (c.id, c.number, c.account_id, c.name, norm(c.name), c.email,
                 email_key(c.email) if c.email else None, c.phone, c.title, stamp, stamp)
                for c in run.pending_contacts
            ],
        )  # fmt: skip
        changes.extend(
            (new_id(), command, "contact", c.id, "created", None, c.name, stamp)
            for c in run.pending_contacts
        )
        self._fill_contacts()
        store.executemany(_INSERT_CHANGE, changes)
        # Generators all: executemany takes each prepared row as it is made, so a large
        # import never holds every tuple of every table at once (only the stage history,
        # made with each deal row for its moved_at, waits for the deals to be written).
        run.phase = "writing"
        store.executemany(_INSERT_DEAL, self._deal_rows())
        if not run.book_history:
            history = (row for item in self.new for row in item.history)
            self.report.stage_changes += store.executemany(_INSERT_HISTORY, history)
        store.executemany(
            _INSERT_CHANGE,
            (
                (new_id(), command, "deal", item.values["id"], "imported", None,
                 f"#{item.number}", stamp)
                for item in self.new
            ),
        )  # fmt: skip
        self.report.created += len(self.new)
        self._apply_updates()

    def rows(self) -> Counter[str]:
        """The rows :meth:`write` adds, by table (stage history: at least one a new deal)."""
        run = self.run
        deals = len(self.new)
        rows = Counter(accounts=len(run.pending_accounts), contacts=len(run.pending_contacts))
        rows.update(deals=deals, stage_changes=0 if run.book_history else deals)
        rows["changes"] = rows["accounts"] + rows["contacts"] + deals
        return rows

    def _deal_rows(self) -> Iterator[tuple[Any, ...]]:
        run = self.run
        total = len(self.new)
        for done, item in enumerate(self.new, start=1):
            row = self._new_row(item)
            if not run.book_history:  # else the book's own history is written, and read back
                item.history = self._history(item, row)
                row["moved_at"] = max(r[6] for r in item.history)  # the latest at
            yield tuple(map(row.get, _INSERT_COLUMNS))
            if done % PROGRESS_EVERY == 0:
                run.tick(done, total)
        run.tick(total, total)

    def _fill_contacts(self) -> None:
        """E-mail, phone and job title a stored contact lacked, from the file."""
        for contact in self.run.filled_contacts:
            for column, value in contact.filled.items():
                self.store.execute(
                    f"UPDATE contacts SET {column} = ?, updated_at = ? WHERE id = ?",
                    (value, self.stamp, contact.id),
                )
                if column == "email":
                    self.store.execute(
                        "UPDATE contacts SET email_key = ? WHERE id = ?",
                        (email_key(value), contact.id),
                    )
                    # logged too, so that undo clears it with the e-mail
                    self.store.log_change(
                        "contact", contact.id, "email_key", None, email_key(value), self.stamp
                    )
                self.store.log_change("contact", contact.id, column, None, value, self.stamp)

    def _new_row(self, item: Built) -> dict[str, Any]:
        """The values of a new deal, completed with defaults (in place: history reads them)."""
        row = item.values
        row["number"] = item.number
        row.setdefault("stage_id", item.stage.id)
        row.setdefault("status", "open")
        row.setdefault("currency", self.run.currency)
        if row.get("tags") is None:
            row["tags"] = ""
        if row.get("updated_at") is None:  # last changed when it closed, else created
            closed = item.closing if self.run.preset.name not in ("dealctl", "maven") else None
            later = closed is not None and _before(row["created_at"], closed)
            row["updated_at"] = closed if later else row["created_at"]
        return row

    def _history(self, item: Built, row: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Stage history from the file's dates: entered, moved on, then won or lost."""
        command = self.command_id
        deal_id = row["id"]
        status = row["status"]
        stage = item.stage
        created = row["created_at"]
        path: list[tuple[str, Stage]] = []
        for _, at, moved in item.moves:
            if moved.kind == "won" or (path and path[-1][1].id == moved.id):
                continue
            path.append((at, moved))
        if not path:
            start = created
            if (
                item.closing is not None
                and status != "open"
                and self.run.preset.name not in ("dealctl", "maven")
                and _before(item.closing, created)
            ):
                start = item.closing  # closed before the file says it was created
            path = [(start, item.entered)]
        rows: list[tuple[Any, ...]] = []
        previous: Stage | None = None
        for at, moved in path:
            rows.append((new_id(), deal_id, previous.id if previous else None, moved.id,
                         "open" if previous else None, "open", at, command))  # fmt: skip
            previous = moved
        assert previous is not None
        if status == "open" and previous.id != stage.id:
            at = row.get("updated_at") or path[-1][0]
            rows.append((new_id(), deal_id, previous.id, stage.id, "open", "open", at, command))
        elif status != "open":
            at = item.closing or row.get("updated_at") or created
            rows.append((new_id(), deal_id, previous.id, stage.id, "open", status, at, command))
        return rows

    def _apply_updates(self) -> None:
        session = self.session
        for _item, stored, fields in self.updates:
            update(session, stored, fields)
            self.report.updated += 1
            new_stage = fields.get("stage_id", stored["stage_id"])
            new_status = fields.get("status", stored["status"])
            if (stored["stage_id"], stored["status"]) != (new_stage, new_status):
                closed = new_status != "open" and fields.get("closed_at")
                record_stage_change(session, stored["id"], stored["stage_id"], new_stage,
                                    stored["status"], new_status, closed or self.stamp)  # fmt: skip
                self.report.stage_changes += 1


_FIELD_NAMES = {"stage_id": "stage", "account_id": "account", "contact_id": "contact",
                "pipeline_id": "pipeline"}  # fmt: skip
# The columns (targets) a stored field may come from, in each layout, first found first.
_SOURCES = {
    "title": ("title", "product"),
    "stage_id": ("stage", "deal_stage"),
    "status": ("status", "is_won", "is_closed", "stage", "deal_stage"),
    "account_id": ("account", "account_ref"),
    "contact_id": ("contact", "contact_email", "contact_phone"),
    "pipeline_id": ("pipeline",),
    "amount": ("amount", "close_value"),
    "owner": ("owner", "sales_agent"),
    "closed_at": ("won_at", "lost_at", "closed_at", "close_date"),
}


def _before(first: str, second: str) -> bool:
    try:
        return datetime.fromisoformat(first) < datetime.fromisoformat(second)
    except ValueError:
        return False


# --- the whole import ---------------------------------------------------------------------------


# dealctl's other exports: given alone, their rows are not deals.
_OWN_EXPORTS = {
    frozenset(ACCOUNT_FIELDS): "accounts",
    frozenset(CONTACT_FIELDS): "contacts",
    frozenset(ACTIVITY_FIELDS): "activities",
    frozenset(STAGE_CHANGE_FIELDS): "stage-changes",
}


def _check_table(table: Table, options: ImportOptions) -> None:
    """Refuse a file with nothing to import, or one of dealctl's exports of other rows."""
    if not any(table.headers) and not table.records:
        raise InvalidInput(f"{table.name} is empty: nothing to import")
    kind = _OWN_EXPORTS.get(frozenset(table.headers)) if options.preset is None else None
    if kind is not None:
        raise InvalidInput(
            f"{table.name} is dealctl's {kind} export, not deals: import takes dealctl's deals"
            " export or a book folder (deals.csv, with activities.csv and stage-changes.csv"
            " beside it), a CRM export, or a spreadsheet of deals or of contacts; nothing was"
            " written"
        )
    if not table.records:
        blank = f" ({counted(table.blank_rows, 'blank row')})" if table.blank_rows else ""
        raise InvalidInput(
            f"{table.name} has no rows to import: only its header line{blank}; nothing was written"
        )


def _choose_preset(table: Table, options: ImportOptions) -> Preset:
    name = options.preset or presets.detect(table.headers, DEAL_FIELDS)
    if name not in PRESETS:
        raise InvalidInput(f"unknown preset {name!r}: use one of {', '.join(presets.PRESET_NAMES)}")
    return PRESETS[name]


def _check_options(options: ImportOptions) -> None:
    if options.on_duplicate not in _ON_DUPLICATE:
        raise InvalidInput(
            f"invalid --on-duplicate {options.on_duplicate!r}: use skip, update or error"
        )
    if options.date_order is not None:
        order = options.date_order.strip().upper()
        if order not in _DATE_ORDERS:
            raise InvalidInput(
                f"invalid --date-order {options.date_order!r}: use DMY or MDY (year-first"
                " dates such as 2024/04/01 are always read year-month-day)"
            )
        options.date_order = order
    if options.currency is not None:
        options.currency = currency_code(options.currency)


def import_file(
    session: Session,
    path: str,
    options: ImportOptions | None = None,
    *,
    progress: Progress | None = None,
    stdin: BinaryIO | None = None,
) -> ImportReport:
    """Import a file (or a dealctl book folder, or ``-`` for standard input) inside the
    session's open transaction.

    Every row is checked before anything is written. When the report has rejected cells
    (and ``skip_invalid`` is off) or ``report.stopped`` is set, nothing was written and
    the caller rolls the transaction back.
    """
    with _cycle_collection_paused():
        return _import(session, path, options or ImportOptions(), progress, stdin)


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector off while a file is read, checked and written. A large
    file makes millions of objects (cells, checked values, prepared rows) and none of them
    form cycles: each collection would only walk them all again, about a sixth of the
    time of a 100k-row import. Objects are still freed as their last reference goes."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _import(
    session: Session,
    path: str,
    options: ImportOptions,
    progress: Progress | None,
    stdin: BinaryIO | None,
) -> ImportReport:
    _check_options(options)
    folder = Path(path) if path != STDIN and Path(path).is_dir() else None
    source = str(folder / "deals.csv") if folder is not None else path
    table = load(source, encoding=options.encoding, fmt=options.fmt,
                 own_fields=frozenset(DEAL_FIELDS), stdin=stdin)  # fmt: skip
    _check_table(table, options)
    preset = _choose_preset(table, options)
    report = ImportReport(preset.name, encoding=table.encoding)
    if table.encoding == "cp932" and not options.encoding:
        report.notes.append("read as CP932 (Windows Japanese)")
    if table.blank_rows:
        report.notes.append(f"{counted(table.blank_rows, 'blank row')} skipped")
    run = Run(session, table, preset, options, report, progress)
    run.book_history = folder is not None and (folder / "stage-changes.csv").exists()
    columns = run.columns
    own = preset.name in ("dealctl", "maven")
    if columns.ignored and not own:
        report.notes.append(f"ignored columns: {_listed(columns.ignored)}")
    if columns.duplicates:
        report.notes.append(
            f"duplicate columns: {_listed(columns.duplicates)} (each heads an earlier column"
            " too; only the first is read)"
        )
    if not own and not columns.has("title"):
        if columns.has("contact") or columns.has("contact_email"):
            return _import_contacts(run)
        raise InvalidInput(f"no title column in {table.name}: map one with --map 'COLUMN=title'")
    builder = run.builder()
    if report.stopped:
        return report
    items = run.build_all(builder)
    if isinstance(builder, HumanRows) and builder.lost_without_stage:
        first = run.catalogue.first(builder.default_pipeline)
        report.notes.append(
            f"{builder.lost_without_stage} lost deals have no stage in the file: kept at"
            f" {first.key} (--stage-map 'VALUE=lost:STAGE' says where they were lost)"
        )
    if isinstance(builder, HumanRows) and builder.future_closes:
        counts = builder.future_closes
        report.notes.append(
            f"{counted(sum(counts.values()), 'won or lost deal')} dated after now"
            f" ({', '.join(f'{c} {n}' for c, n in counts.items())}): closed when imported"
            " instead, as no deal closes in the future"
        )
    writer = Writer(run)
    matched = writer.resolve(items)
    related = _related(run, folder, writer) if folder is not None else None
    writer.compare(matched)
    if report.rejected:
        if not options.skip_invalid:
            return report
        report.invalid_rows = len({(r.file, r.record) for r in report.rejected})
    writer.only_what_is_written()
    rows = writer.rows()
    if related is not None:
        rows.update(related.rows)
    with _page_cache(session, len(items)), _indexes_rebuilt(run.store, rows):
        writer.write()
        if related is not None:
            related.write()
    if run.book_history:  # the new deals' history came from the book: moved_at from it
        # (after the indexes are back: it reads each deal's history through them)
        refresh_moved_at(
            session.store,
            "id IN (SELECT entity_id FROM changes WHERE command_id = ? AND field = 'imported')",
            (session.store.command_id,),
        )
    return report


def _listed(headers: list[str], most: int = 12) -> str:
    more = len(headers) - most
    return ", ".join(headers[:most]) + (f" and {more} more" if more > 0 else "")


# A table's own indexes are set aside while an import writes many rows into it, and built
# again afterwards from the SQL stored for them: building an index once from every row (one
# sort) costs less than inserting each new row into it, a B-tree descent and page writes per
# row and index. It pays when the rows written are many and outnumber the rows already
# there, as measured: 100,000 deals into an empty book take about 1 s less (7.3 -> 6.2 s of
# CPU); as many rows as the table holds (20,000 or 50,000 into as many) come out even; into
# a bigger table, rebuilding the entries already stored costs more than it saves (2,000
# deals into a 100,000-deal book: 1.1 s, 2.9 s if rebuilt); under 5,000 rows the saving is
# a few hundredths of a second, not worth the statements. Nothing reads the tables while
# the import writes (every lookup was loaded, and every row matched, before the first
# write); the primary keys that rows are updated by and foreign keys are checked against
# have no SQL of their own and are never set aside.
BULK_INDEX_ROWS = 5_000


@contextmanager
def _indexes_rebuilt(store: Store, rows: Counter[str]) -> Iterator[None]:
    """The indexes of each table that gets at least ``BULK_INDEX_ROWS`` new rows, and more
    than it holds, dropped while the block writes and created again from their stored SQL
    (a partial index with its ``WHERE``), all inside the command's transaction. A failure
    in the block rolls that transaction back, and the dropped indexes with it."""
    aside: list[sqlite3.Row] = []
    for table, count in rows.items():
        if count < BULK_INDEX_ROWS or store.query(f"SELECT count(*) FROM {table}")[0][0] >= count:
            continue
        aside += store.query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL ORDER BY rowid",
            (table,),
        )
    for name, _sql in aside:
        store.execute('DROP INDEX "' + name.replace('"', '""') + '"')
    yield
    for _name, sql in aside:
        store.execute(sql)


@contextmanager
def _page_cache(session: Session, rows: int) -> Iterator[None]:
    """A bigger page cache while a large import writes: each new row also goes into the
    indexes of its table, and an index that fits in memory is not re-read page by page."""
    conn = session.store.conn
    if rows < 10_000:
        yield
        return
    before = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = -{BIG_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {int(before)}")


def _import_contacts(run: Run) -> ImportReport:
    """A file of people (name, e-mail, company, phone): contacts matched and merged."""
    report = run.report
    report.kind = "contacts"
    columns = run.columns
    for record, row, cells in run.cleaned_records():
        c = _Cells(run, record, row, cells)
        spec = (
            c.text("contact"),
            c.text("contact_email"),
            c.text("contact_phone"),
            c.text("contact_title"),
        )
        if spec[0] is None and spec[1] is None:
            c.reject("contact", "a contact needs a name or an e-mail")
            continue
        account_id = run.account_id(c.text("account"), record, row, columns.name("account"))
        item = Built(record, row, {}, run.catalogue.stages[0], run.catalogue.stages[0],
                     contact_column=columns.name("contact"),
                     email_column=columns.name("contact_email"))  # fmt: skip
        run.contact_id(spec, account_id, item)
    if report.rejected:
        if not run.options.skip_invalid:
            return report
        report.invalid_rows = len({r.record for r in report.rejected})
    writer = Writer(run)
    with _indexes_rebuilt(run.store, writer.rows()):
        writer.write()
    return report


class _Related(NamedTuple):
    write: Callable[[], None]
    rows: Counter[str]  # rows it writes, by table


class _BookRecord:
    """One record of a book folder's activities.csv or stage-changes.csv, read by column;
    problems become rejections naming the file."""

    __slots__ = ("cells", "file", "index", "record", "refused", "row", "run")

    def __init__(
        self, run: Run, file: str, index: dict[str, int], record: int, row: int, cells: list[str]
    ) -> None:
        self.run = run
        self.file = file
        self.index = index
        self.record = record
        self.row = row
        self.cells = cells
        self.refused = False

    def get(self, column: str) -> str | None:
        at = self.index.get(column)
        return (self.cells[at].strip() or None) if at is not None else None

    def reject(self, column: str, reason: str) -> None:
        self.run.reject(self.record, self.row, column, self.get(column) or "", reason, self.file)
        self.refused = True

    def moment(self) -> str | None:
        """The record's ``at``: ISO 8601 with an offset, as in deals.csv."""
        try:
            return cell.strict_moment(self.get("at") or "")
        except cell.CellError as exc:
            self.reject("at", str(exc))
        except ValueError:
            self.reject("at", "not a valid value" if self.get("at") else "required")
        return None

    def status(self, column: str, required: bool) -> str | None:
        value = self.get(column)
        if value is None and required:
            self.reject(column, "required")
        elif value is not None and value not in _STATUSES:
            self.reject(column, "use open, won or lost")
        return value


def _related(run: Run, folder: Path, writer: Writer) -> _Related:
    """activities.csv and stage-changes.csv of a book folder, for the deals just created:
    checked now as deals.csv is (a cell beyond the last header, control characters, every
    value), written after the deals.

    With ``--skip-invalid``, a rejected follow-up is left out, and so is a deal whose stage
    history has a rejected row, with all its follow-ups and history: a history with a gap
    would say the deal moved where it never did."""
    stage_ids = {(s.pipeline_id, s.key): s.id for s in run.catalogue.stages}
    command = run.store.command_id
    activities: list[tuple[Any, ...]] = []
    history: list[tuple[Any, ...]] = []
    broken: dict[str, tuple[int, str]] = {}  # deal id -> its first rejected history row
    files = (
        ("activities.csv", "activities", "a follow-up"),
        ("stage-changes.csv", "stage_changes", "a stage change"),
    )
    for name, stored, what in files:
        if not (folder / name).exists():
            continue
        table = load(str(folder / name), encoding=run.options.encoding)
        index = {h: i for i, h in enumerate(table.headers)}
        taken = _stored_ids(run.store, stored, table, index.get("id"))
        seen: dict[str, int] = {}  # id -> the record that gives it first
        for record, row, cells in run.cleaned_records(table, name):
            r = _BookRecord(run, name, index, record, row, cells)
            deal_id = r.get("deal_id")
            if deal_id is None:
                number = r.get("deal_number") or ""
                if number not in writer.by_number:
                    r.reject("deal_number", "no deal with this number is imported from deals.csv")
                    continue
                deal_id = writer.by_number[number]
            if deal_id is None or deal_id not in writer.new_ids:
                continue
            at = r.moment()
            row_id = r.get("id")
            if row_id is not None and seen.setdefault(row_id, record) != record:
                r.reject("id", f"the same id as record {seen[row_id]}")
            elif row_id in taken:
                r.reject("id", f"{what} with this id is stored already")
            row_id = row_id or new_id()
            if name == "activities.csv":
                kind = r.get("kind")
                if kind is None:
                    r.reject("kind", "required")
                elif kind not in ACTIVITY_KINDS:
                    r.reject("kind", f"use one of {', '.join(ACTIVITY_KINDS)}")
                if not r.refused:
                    activities.append((row_id, deal_id, kind, at, r.get("text") or "", at, command))
                continue
            pipeline_id = writer.new_ids[deal_id]
            stages: dict[str, str | None] = {}
            for column in ("from_stage", "to_stage"):
                key = r.get(column)
                stages[column] = stage_ids.get((pipeline_id, key or ""))
                if key is None and column == "to_stage":
                    r.reject(column, "required")
                elif key is not None and stages[column] is None:
                    r.reject(column, "not a stage of the deal's pipeline")
            from_status = r.status("from_status", required=False)
            to_status = r.status("to_status", required=True)
            if r.refused:
                broken.setdefault(deal_id, (record, name))
                continue
            history.append((row_id, deal_id, stages["from_stage"], stages["to_stage"],
                            from_status, to_status, at, command))  # fmt: skip
    if broken and run.options.skip_invalid:  # (else nothing is written)
        activities = [a for a in activities if a[1] not in broken]
        history = [h for h in history if h[1] not in broken]
        _leave_out(run, writer, broken)

    def write() -> None:
        run.store.executemany(
            "INSERT INTO activities (id, deal_id, kind, at, text, created_at, command_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            activities,
        )
        run.store.executemany(_INSERT_HISTORY, history)
        run.report.activities += len(activities)
        run.report.stage_changes += len(history)

    return _Related(write, Counter(activities=len(activities), stage_changes=len(history)))


def _stored_ids(store: Store, name: str, table: Table, column: int | None) -> set[str]:
    """The ids in ``column`` of ``table`` that rows of ``activities`` or ``stage_changes``
    (``name``) already have."""
    if column is None:
        return set()
    ids = list({r[column].strip() for r in table.records if column < len(r) and r[column].strip()})
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        if name == "activities":
            query = f"SELECT id FROM activities WHERE id IN ({marks})"
        else:
            query = f"SELECT id FROM stage_changes WHERE id IN ({marks})"
        found.update(r[0] for r in store.query(query, chunk))
    return found


def _leave_out(run: Run, writer: Writer, broken: dict[str, tuple[int, str]]) -> None:
    """The new deals whose stage history has a rejected row: rejected, on their deals.csv
    record, and not written (what only they name is not created either)."""
    kept: list[Built] = []
    for item in writer.new:
        found = broken.get(item.values["id"])
        if found is None:
            kept.append(item)
            continue
        record, name = found
        column = "number" if item.number_text else "title"
        run.reject(item.record, item.row, run.columns.name(column),
                   item.number_text or item.values["title"],
                   f"its stage history has a rejected row ({name} record {record})")  # fmt: skip
    writer.new = kept
