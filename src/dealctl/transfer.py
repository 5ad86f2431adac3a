"""Export: every record of one kind, streamed from a cursor in a documented column order.

Machine formats (CSV, TSV, JSON, JSON Lines) carry the stored values unchanged. An export
meant for a spreadsheet (``excel=True``) starts with a UTF-8 byte-order mark and guards
text cells that Excel would run as a formula (``=``, ``+``, ``-``, ``@``, TAB, CR) with a
leading apostrophe; ``dealctl import`` takes the apostrophe off again. A CP932 export maps
the characters with a clear CP932 equivalent (¥ → ￥, — → ―) and refuses, naming each cell,
what has none: never a silent ``?``.

Imports live in :mod:`dealctl.importing`.
"""

from __future__ import annotations

import codecs
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from dealctl.errors import InvalidInput
from dealctl.render import CsvWriter, _tsv_cell
from dealctl.session import Session

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
EXPORT_FORMATS = ("csv", "tsv", "json", "jsonl")
_BATCH = 100  # rows handed to the CSV writer at once: its C loop, with memory that stays flat

# Characters Excel reads as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Unicode characters without a CP932 code whose CP932 twin is unmistakable. These are the
# classic differences between Unicode's JIS mapping and Windows' (the "wave dash problem").
CP932_EQUIVALENTS = str.maketrans(
    {
        "\u00a5": "\uffe5",  # ¥ YEN SIGN -> ￥ FULLWIDTH YEN SIGN
        "\u2014": "\u2015",  # — EM DASH -> ― HORIZONTAL BAR
        "\u203e": "\uffe3",  # ‾ OVERLINE -> ￣ FULLWIDTH MACRON
        "\u2016": "\u2225",  # ‖ DOUBLE VERTICAL LINE -> ∥ PARALLEL TO
        "\u2212": "\uff0d",  # − MINUS SIGN -> － FULLWIDTH HYPHEN-MINUS
        "\u301c": "\uff5e",  # 〜 WAVE DASH -> ～ FULLWIDTH TILDE
        "\u00a2": "\uffe0",  # ¢ -> ￠
        "\u00a3": "\uffe1",  # £ -> ￡
        "\u00ac": "\uffe2",  # ¬ -> ￢
        "\u00a6": "\uffe4",  # ¦ -> ￤
    }
)


@dataclass(frozen=True)
class Column:
    """An exported column: its name, the SQL giving it, and whether it holds text."""

    name: str
    sql: str
    text: bool = True


def _columns(spec: str) -> tuple[Column, ...]:
    """``name=sql`` pairs, one per line; ``#`` after the SQL marks a number column."""
    out = []
    for line in spec.strip().splitlines():
        name, _, sql = line.strip().partition("=")
        number = sql.endswith("#")
        out.append(Column(name.strip(), sql.removesuffix("#").strip(), text=not number))
    return tuple(out)


_DEALS = _columns(
    """
    number=d.number#
    id=d.id
    title=d.title
    account=a.name
    contact=c.name
    pipeline=p.key
    stage=s.key
    status=d.status
    amount=d.amount#
    currency=d.currency
    probability=d.probability#
    close_date=d.close_date
    next_action=d.next_action
    next_due=d.next_due
    owner=d.owner
    source=d.source
    tags=d.tags
    purpose=d.purpose
    proposal=d.proposal
    notes=d.notes
    lost_reason=d.lost_reason
    lost_note=d.lost_note
    created_at=d.created_at
    updated_at=d.updated_at
    closed_at=d.closed_at
    last_contact_at=d.last_contact_at
    external_source=d.external_source
    external_id=d.external_id
    """
)
_ACCOUNTS = _columns(
    """
    number=number#
    id=id
    name=name
    notes=notes
    created_at=created_at
    updated_at=updated_at
    """
)
_CONTACTS = _columns(
    """
    number=c.number#
    id=c.id
    account=a.name
    name=c.name
    email=c.email
    phone=c.phone
    title=c.title
    notes=c.notes
    created_at=c.created_at
    updated_at=c.updated_at
    """
)
_ACTIVITIES = _columns(
    """
    id=ac.id
    deal_id=ac.deal_id
    deal_number=d.number#
    kind=ac.kind
    at=ac.at
    text=ac.text
    """
)
_STAGE_CHANGES = _columns(
    """
    id=sc.id
    deal_id=sc.deal_id
    deal_number=d.number#
    from_stage=fs.key
    to_stage=ts.key
    from_status=sc.from_status
    to_status=sc.to_status
    at=sc.at
    """
)

_EXPORTS: dict[str, tuple[tuple[Column, ...], str]] = {
    "deals": (
        _DEALS,
        "FROM deals d JOIN stages s ON s.id = d.stage_id JOIN pipelines p ON p.id = d.pipeline_id"
        " LEFT JOIN accounts a ON a.id = d.account_id LEFT JOIN contacts c ON c.id = d.contact_id"
        " WHERE d.deleted_at IS NULL ORDER BY d.number, d.id",
    ),
    "accounts": (_ACCOUNTS, "FROM accounts WHERE deleted_at IS NULL ORDER BY number, id"),
    "contacts": (
        _CONTACTS,
        "FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id"
        " WHERE c.deleted_at IS NULL ORDER BY c.number, c.id",
    ),
    "activities": (
        _ACTIVITIES,
        "FROM activities ac JOIN deals d ON d.id = ac.deal_id"
        " WHERE ac.deleted_at IS NULL AND d.deleted_at IS NULL ORDER BY d.number, ac.at, ac.id",
    ),
    "stage-changes": (
        _STAGE_CHANGES,
        "FROM stage_changes sc JOIN deals d ON d.id = sc.deal_id"
        " LEFT JOIN stages fs ON fs.id = sc.from_stage_id JOIN stages ts ON ts.id = sc.to_stage_id"
        " WHERE sc.deleted_at IS NULL AND d.deleted_at IS NULL ORDER BY d.number, sc.at, sc.rowid",
    ),
}


def fields_of(kind: str) -> tuple[str, ...]:
    """The documented columns of an export kind."""
    _check_kind(kind)
    return tuple(c.name for c in _EXPORTS[kind][0])


def _check_kind(kind: str) -> None:
    if kind not in EXPORT_KINDS:
        raise InvalidInput(f"unknown export {kind!r}: use one of {', '.join(EXPORT_KINDS)}")


def _guarded(sql: str) -> str:
    """SQL for a text column as a spreadsheet should get it: a cell Excel would run as a
    formula gets a leading apostrophe. Apostrophes already in front count too, so that
    taking one off on import always gives back the original text."""
    starts = ", ".join(f"char({ord(c)})" for c in FORMULA_STARTS)
    return (
        f"CASE WHEN substr(ltrim({sql}, ''''), 1, 1) IN ({starts})"
        f" THEN '''' || {sql} ELSE {sql} END"
    )


def _cursor(session: Session, kind: str, excel: bool) -> tuple[tuple[str, ...], sqlite3.Cursor]:
    columns, rest = _EXPORTS[kind]
    select = ", ".join(_guarded(c.sql) if excel and c.text else c.sql for c in columns)
    cursor = session.store.conn.cursor()
    cursor.row_factory = None  # plain tuples: the writers hand them straight to csv
    try:
        cursor.execute(f"SELECT {select} {rest}")
    except sqlite3.Error as exc:
        from dealctl.storage import translate

        raise translate(exc, session.store.path) from None
    return tuple(c.name for c in columns), cursor


def export_rows(session: Session, kind: str, excel: bool = False) -> Iterator[dict[str, Any]]:
    """Rows of one export kind as dicts, streamed in a stable order."""
    _check_kind(kind)
    names, cursor = _cursor(session, kind, excel)
    with _closing(cursor):
        for values in cursor:
            yield dict(zip(names, values, strict=True))


class _closing:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.cursor = cursor

    def __enter__(self) -> sqlite3.Cursor:
        return self.cursor

    def __exit__(self, *exc: object) -> None:
        self.cursor.close()


class Unencodable(InvalidInput):
    """Cells a CP932 export cannot carry; ``lines`` names each one."""

    def __init__(self, message: str, lines: list[str]) -> None:
        super().__init__(message)
        self.lines = lines


def export_encoding(name: str | None) -> str:
    """``utf-8`` or ``cp932`` (the Shift_JIS names mean CP932 too)."""
    if name is None:
        return "utf-8"
    from dealctl.importing.source import encoding_name

    codec = encoding_name(name)
    if codec in ("utf-8-sig", "utf-8"):
        return "utf-8"
    if codec == "cp932":
        return "cp932"
    raise InvalidInput(f"unsupported export encoding {name!r}: use utf-8 or cp932")


def check_cp932(session: Session, kind: str, excel: bool, shown: int = 50) -> None:
    """Refuse a CP932 export with every cell it could not carry (after the equivalents)."""
    names, cursor = _cursor(session, kind, excel)
    problems: list[str] = []
    count = 0
    with _closing(cursor):
        for index, values in enumerate(cursor, start=1):
            for name, value in zip(names, values, strict=True):
                if not isinstance(value, str) or value.isascii():
                    continue
                mapped = value.translate(CP932_EQUIVALENTS)
                try:
                    mapped.encode("cp932")
                except UnicodeEncodeError:
                    bad = [c for c in dict.fromkeys(mapped) if not _cp932_ok(c)]
                    count += 1
                    if len(problems) < shown:
                        chars = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad)
                        problems.append(
                            f"record {index} (row {index + 1}), column {name!r}: {chars} has"
                            " no CP932 code"
                        )
    if count:
        if count > shown:
            problems.append(f"... and {count - shown} more cells")
        raise Unencodable(
            f"export refused: {count} cells have characters CP932 cannot hold; nothing was"
            " written (change the text, or export UTF-8 for Excel with --excel)",
            problems,
        )


def _cp932_ok(char: str) -> bool:
    try:
        char.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


class _Translated:
    """A text stream that maps CP932 equivalents before writing (the CSV writer's target)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text.translate(CP932_EQUIVALENTS))


def write_export(
    session: Session,
    kind: str,
    fmt: str,
    out: BinaryIO,
    *,
    excel: bool = False,
    encoding: str = "utf-8",
) -> int:
    """Write every record of ``kind`` to ``out``; returns how many were written.

    Rows come from the cursor one at a time, so memory stays flat for any book size.
    ``excel`` adds the UTF-8 byte-order mark and the formula guard to CSV and TSV (JSON
    and JSON Lines are machine formats and never change). A CP932 export is checked
    first (:func:`check_cp932`), so a refusal writes nothing.
    """
    _check_kind(kind)
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}: use csv, tsv, json or jsonl")
    machine = fmt in ("json", "jsonl")
    if encoding == "cp932" and machine:
        raise InvalidInput("JSON is always UTF-8: use --encoding cp932 with csv or tsv")
    # CP932 is for Japanese Excel only: it gets Excel's formula guard too, which an import
    # of a CP932 file takes off again.
    guard = (excel or encoding == "cp932") and not machine
    if encoding == "cp932":
        check_cp932(session, kind, guard)
    names, cursor = _cursor(session, kind, guard)
    stream = io.TextIOWrapper(out, encoding=encoding, errors="strict", newline="")
    target: Any = _Translated(stream) if encoding == "cp932" else stream
    count = 0
    try:
        with _closing(cursor):
            if guard and encoding == "utf-8":
                stream.write(codecs.BOM_UTF8.decode("utf-8"))
            if fmt == "csv":
                writer = CsvWriter(target)
                writer.writerow(names)
                for batch in iter(lambda: cursor.fetchmany(_BATCH), []):
                    writer.writerows(batch)
                    count += len(batch)
            elif fmt == "tsv":
                target.write("\t".join(names) + "\n")
                for values in cursor:
                    target.write("\t".join(map(_tsv_cell, values)) + "\n")
                    count += 1
            elif fmt == "jsonl":
                for values in cursor:
                    stream.write(
                        json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False) + "\n"
                    )
                    count += 1
            else:
                stream.write("[")
                for values in cursor:
                    stream.write(",\n " if count else "\n ")
                    stream.write(
                        json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False)
                    )
                    count += 1
                stream.write("\n]\n" if count else "]\n")
    finally:
        # Detached, never closed: the caller's stream (standard output) stays usable, and
        # a reader that left early (`| head`) is reported once, by the command line.
        try:
            stream.flush()
        finally:
            stream.detach()
    return count
