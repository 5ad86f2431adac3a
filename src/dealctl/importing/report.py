"""What an import did, or would do: counts, rejected cells, merges, updates, conversions.

Rejected cells carry their record number, column, value and reason and nothing else, so
no message ever shows another cell of the file (an e-mail address or a token in a note).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

from dealctl.render import CsvWriter
from dealctl.text import counted

REPORT_COLUMNS = ("record", "row", "column", "value", "outcome", "reason")
SHOWN = 50  # rejected cells printed on stderr; --report FILE has them all
SHOWN_EVENTS = 20
CLIP = 60  # characters of a cell a message shows; --report FILE has the cell whole
_LINE_BREAK = re.compile("[\r\n]")


def clip(value: str) -> str:
    """A cell as messages show it: up to its first line break and at most :data:`CLIP`
    characters, ``…`` marking what was cut, so that no message carries a whole note
    (or the rest of a file) on the terminal or in cron mail."""
    head = _LINE_BREAK.split(value, 1)[0][:CLIP]
    return value if head == value else head + "…"


@dataclass(frozen=True)
class Rejection:
    """One cell that could not be imported."""

    record: int
    column: str
    value: str
    reason: str
    row: int | None = None  # the spreadsheet row (header = row 1), for people's files
    file: str = ""  # a book folder's activities.csv or stage-changes.csv; "" for the file

    @property
    def where(self) -> str:
        where = f"record {self.record}" + (f" (row {self.row})" if self.row is not None else "")
        return f"{self.file} {where}" if self.file else where


@dataclass(frozen=True)
class Event:
    """Something an import did that a person may want to check: a merge, an update..."""

    record: int
    row: int | None
    column: str
    value: str
    outcome: str  # merged, updated, skipped, converted
    reason: str

    @property
    def where(self) -> str:
        return f"record {self.record}" + (f" (row {self.row})" if self.row is not None else "")


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    preset: str
    kind: str = "deals"
    encoding: str = "utf-8"
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # changed rows left alone (--on-duplicate skip)
    accounts: int = 0
    contacts: int = 0
    contacts_matched: int = 0
    filled: int = 0  # stored contacts given an e-mail, phone or job title they lacked
    activities: int = 0
    stage_changes: int = 0
    invalid_rows: int = 0  # rows not imported because of a rejected cell (--skip-invalid)
    rejected: list[Rejection] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    serials: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None  # why nothing was written, for problems of the whole file

    @property
    def failed(self) -> bool:
        return self.stopped is not None

    @property
    def wrote_nothing(self) -> bool:
        """True when the import found every row already stored exactly as in the file."""
        return not (
            self.created
            or self.updated
            or self.accounts
            or self.contacts
            or self.activities
            or self.stage_changes
            or self.filled
        )

    def summary(self, dry_run: bool) -> list[str]:
        """The lines printed on standard output."""
        prefix = "dry run, would import" if dry_run else "imported"
        if self.kind == "contacts":
            lines = [
                f"{prefix} contacts ({self.preset}): {self.contacts} created,"
                f" {self.contacts_matched} matched; {counted(self.accounts, 'account')}"
            ]
        else:
            lines = [
                f"{prefix} ({self.preset}): {counted(self.created, 'deal')} created,"
                f" {self.updated} updated, {self.unchanged} unchanged;"
                f" {counted(self.accounts, 'account')}, {counted(self.activities, 'follow-up')},"
                f" {counted(self.stage_changes, 'stage change')}"
            ]
        details = list(self.notes)
        if self.skipped:
            details.append(
                f"skipped: {self.skipped} changed rows left as they are (--on-duplicate skip)"
            )
        if self.invalid_rows:
            details.append(
                f"not imported: {counted(self.invalid_rows, 'row')} with rejected cells"
                " (--skip-invalid)"
            )
        if self.serials:
            columns = ", ".join(f"{c} {n}" for c, n in self.serials.items())
            details.append(
                f"converted: {sum(self.serials.values())} Excel date numbers ({columns})"
            )
        merged = [e for e in self.events if e.outcome == "merged"]
        details.extend(_event_lines(merged))
        return lines + [f"  {line}" for line in details]

    def change_lines(self) -> list[str]:
        """Stored deals this import updated or left alone, for standard error."""
        return _event_lines([e for e in self.events if e.outcome in ("updated", "skipped")])

    def rejection_lines(self) -> list[str]:
        """The rejected cells as printed on standard error (the first :data:`SHOWN`)."""
        lines = [
            f"{item.where}, column {item.column!r}, value {clip(item.value)!r}: {item.reason}"
            for item in self.rejected[:SHOWN]
        ]
        if len(self.rejected) > SHOWN:
            lines.append(f"... and {len(self.rejected) - SHOWN} more rejected cells")
        return lines


def write_report(out: BinaryIO, report: ImportReport) -> None:
    """Every rejected cell and event as CSV, UTF-8 (``--report FILE``)."""
    stream = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        writer = CsvWriter(stream)
        writer.writerow(REPORT_COLUMNS)
        for item in report.rejected:
            # (a book folder's other files: the reason names the file the record is in)
            reason = f"{item.file}: {item.reason}" if item.file else item.reason
            writer.writerow(
                [item.record, item.row or "", item.column, item.value, "rejected", reason]
            )
        for event in report.events:
            writer.writerow(
                [event.record, event.row or "", event.column, event.value, event.outcome,
                 event.reason]
            )  # fmt: skip
    finally:
        stream.flush()
        stream.detach()  # the caller owns ``out`` (standard output, a file, a pipe)


def _event_lines(events: list[Event]) -> list[str]:
    lines = [f"{e.outcome}: {e.where}, {e.column}: {e.reason}" for e in events[:SHOWN_EVENTS]]
    if len(events) > SHOWN_EVENTS:
        lines.append(f"... and {len(events) - SHOWN_EVENTS} more (see --report FILE)")
    return lines
