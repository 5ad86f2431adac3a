"""``dealctl doctor``: checks a database file and explains how to fix what it finds.

Checks, in order: SQLite's own ``integrity_check`` (and a file too damaged to open,
see :func:`unreadable`) and ``foreign_key_check`` (a deal whose stage or pipeline does
not exist, which no command can see, gets a fix of its own); orphans (live records that
point at a deleted or missing record, change-log rows about records that no longer
exist); impossible states (a won deal with a lost reason, a status that disagrees with
the stage's kind, a stage that is not in the deal's pipeline, a deal at a retired
stage, a due date without a next action, a stage history that does not end where the
deal is, a stored last stage change that is not the history's latest, a stored date or
moment not in its documented form); and numbers used twice.

Like :mod:`dealctl.undo`, the generic checks read tables and foreign keys from the
file itself, so tables added later are checked too. Every identifier put into SQL
here comes from ``sqlite_master`` or ``PRAGMA`` output or from this module's own
constants, never from input. The SQL that fixes print for the person to run is only
shown; the values in it are quoted as literals (:func:`_quoted`).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dealctl import dates
from dealctl.deals import LAST_MOVE
from dealctl.errors import DatabaseError
from dealctl.storage import Store
from dealctl.undo import CATALOGUE, Schema, entity_of

CHECKS = ("integrity", "foreign_keys", "orphans", "states", "numbers")
LIMIT = 50  # problems listed per check; the count says how many more there are


@dataclass(frozen=True)
class Problem:
    """One thing wrong, where it is, and what to do about it."""

    check: str
    table: str
    number: int | None
    id: str | None
    problem: str
    fix: str


@dataclass
class Report:
    """Every check's problems (an empty list: the check passed)."""

    path: Path
    schema: int | None  # None: the file could not be read far enough to tell
    found: dict[str, list[Problem]]
    more: dict[str, int]

    @classmethod
    def blank(cls, path: Path, schema: int | None) -> Report:
        """A report with every check passed, to be filled in."""
        return cls(path, schema, {c: [] for c in CHECKS}, dict.fromkeys(CHECKS, 0))

    def record(self, check: str, found: list[Problem]) -> None:
        """What ``check`` found: the first :data:`LIMIT` problems, and how many more."""
        self.found[check] = found[:LIMIT]
        self.more[check] = max(0, len(found) - LIMIT)

    @property
    def problems(self) -> list[Problem]:
        return [p for check in CHECKS for p in self.found[check]]

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.found.values()) + sum(self.more.values())


def run(store: Store) -> Report:
    """Run every check (reads only)."""
    version_row = store.one("PRAGMA user_version")
    report = Report.blank(store.path, int(version_row[0]) if version_row else 0)
    checks: dict[str, Callable[[Store, Schema], list[Problem]]] = {
        "foreign_keys": _foreign_keys,
        "orphans": _orphans,
        "states": _states,
        "numbers": _numbers,
    }
    damaged = _integrity(store)
    report.record("integrity", damaged)
    if damaged:
        return report  # the other checks would read damaged pages
    try:
        schema = Schema(store)
        for name, check in checks.items():
            report.record(name, check(store, schema))
    except DatabaseError as exc:
        message = damage(exc)
        if message is None:
            raise
        return _unreadable_report(store.path, report.schema, message)
    return report


_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER = 100  # bytes of SQLite's file header


def damage(error: DatabaseError) -> str | None:
    """SQLite's own message when ``error`` came from a damaged file, else None.

    :func:`dealctl.storage.translate` raises the dealctl error while the SQLite one is
    being handled, so that one is the context: damage is its ``SQLITE_CORRUPT`` (a page
    that makes no sense, the schema included, or a file cut short) or ``SQLITE_NOTADB``
    (a header that is not SQLite's).
    """
    cause = error.__cause__ or error.__context__
    code = getattr(cause, "sqlite_errorcode", None)  # absent when raised by Python code
    damaged = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    if isinstance(cause, sqlite3.Error) and isinstance(code, int) and code & 0xFF in damaged:
        return str(cause)
    return None


def unreadable(path: Path, error: DatabaseError) -> Report | None:
    """The report for a file too damaged to open, or None when ``error`` is not damage
    (a missing file, a newer schema, a busy file...: those stop doctor as any command)."""
    message = damage(error)
    header = _header(path)
    if message is None and header.startswith(_SQLITE_MAGIC) and len(header) < _HEADER:
        # SQLite reads a file shorter than its header as an empty database.
        message = f"cut short: {len(header)} bytes, less than an SQLite header"
    if message is None:
        return None
    if not header.startswith(_SQLITE_MAGIC):
        message += "; it does not begin as an SQLite file does: is it the right file?"
    schema = int.from_bytes(header[60:64], "big") if len(header) >= 64 else None
    return _unreadable_report(path, schema if header.startswith(_SQLITE_MAGIC) else None, message)


def _header(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(_HEADER)
    except OSError:
        return b""


def _unreadable_report(path: Path, schema: int | None, message: str) -> Report:
    """The report on a file SQLite cannot read: one integrity problem, nothing else run."""
    report = Report.blank(path, schema)
    problem = f"damaged: SQLite cannot read the file ({message}), so no other check can run"
    report.record("integrity", [Problem("integrity", "", None, None, problem, _RESTORE)])
    return report


_RESTORE = (
    "restore your latest copy (dealctl backup PATH makes one; an upgrade keeps the old file"
    " as FILE.schemaN.bak), or rescue what is readable: sqlite3 FILE .recover | sqlite3 NEW.db"
)


def _integrity(store: Store) -> list[Problem]:
    try:
        messages = [str(r[0]) for r in store.query("PRAGMA integrity_check")]
    except DatabaseError as exc:  # damage bad enough that the check itself stops
        messages = [str(exc).rsplit(": ", 1)[-1]]
    if messages == ["ok"]:
        return []
    return [Problem("integrity", "", None, None, f"damaged: {m}", _RESTORE) for m in messages]


def _quoted(text: object) -> str:
    """An SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _update_sql(table: str, assignments: str, row_id: object) -> str:
    """The ``UPDATE`` of one record that a fix tells the person to run (doctor only shows
    it): ``table`` comes from the file's catalogue, the id is quoted as a literal."""
    return f'sqlite3 FILE "UPDATE {table} SET {assignments} WHERE id = {_quoted(row_id)}"'


def _soft_delete_sql(table: str, row_id: str) -> str:
    return _update_sql(table, "deleted_at = strftime('%Y-%m-%dT%H:%M:%SZ')", row_id)


def _label(table: str, row: Any) -> tuple[int | None, str]:
    columns = row.keys()  # a sqlite3.Row: `in row` would look at the values
    number = row["number"] if "number" in columns else None
    entity = entity_of(table)
    return number, (f"{entity} {number}" if number is not None else entity)


_DEAL_HOME = ("stage_id", "pipeline_id")  # a deal without either is seen by no command


def _foreign_keys(store: Store, schema: Schema) -> list[Problem]:
    out = _lost_deals(store)
    lost = {p.id for p in out}
    columns: dict[str, dict[int, str]] = {}
    for row in store.query("PRAGMA foreign_key_check"):
        table, rowid, parent, fkid = str(row[0]), row[1], str(row[2]), int(row[3])
        if table not in columns:
            columns[table] = {
                int(fk["id"]): str(fk["from"])
                for fk in store.query(f'PRAGMA foreign_key_list("{table}")')
            }
        record = store.one(f'SELECT * FROM "{table}" WHERE rowid = ?', (rowid,))
        keys = record.keys() if record is not None else []
        row_id = str(record["id"]) if record is not None and "id" in keys else None
        if table == "deals" and row_id in lost and columns[table].get(fkid) in _DEAL_HOME:
            continue  # reported by _lost_deals, with a fix that does not need the deal
        number, label = _label(table, record) if record is not None else (None, table)
        out.append(
            Problem(
                "foreign_keys",
                table,
                number,
                row_id,
                f"{label} points at a {entity_of(parent)} that does not exist"
                " (written by another tool?)",
                "restore your latest copy, or retire the record: "
                + _soft_delete_sql(table, row_id or "?"),
            )
        )
    return out


def _lost_deals(store: Store) -> list[Problem]:
    """Live deals whose stage or pipeline does not exist: every command reads deals
    joined to both, so none of them can show, name or change such a deal."""
    out = []
    for deal in store.query(
        "SELECT d.id, d.number, d.status, d.stage_id, d.pipeline_id,"
        " s.id IS NOT NULL AS has_stage, p.id IS NOT NULL AS has_pipeline, s.key AS stage,"
        " sp.key AS stage_pipeline FROM deals d LEFT JOIN stages s ON s.id = d.stage_id"
        " LEFT JOIN pipelines p ON p.id = d.pipeline_id"
        " LEFT JOIN pipelines sp ON sp.id = s.pipeline_id"
        " WHERE d.deleted_at IS NULL AND (s.id IS NULL OR p.id IS NULL) ORDER BY d.number, d.id"
    ):
        missing = []
        if not deal["has_stage"]:
            missing.append(f"at a stage that does not exist (stage_id {_quoted(deal['stage_id'])})")
        if not deal["has_pipeline"]:
            missing.append(
                f"in a pipeline that does not exist (pipeline_id {_quoted(deal['pipeline_id'])})"
            )
        how, assignments = _new_home(store, deal)
        out.append(
            Problem(
                "foreign_keys",
                "deals",
                deal["number"],
                str(deal["id"]),
                f"deal {deal['number']} is " + " and ".join(missing) + ", so no dealctl"
                " command can see it (written by another tool?)",
                f"restore your latest copy from before this happened, or {how}: "
                + _update_sql("deals", assignments, deal["id"]),
            )
        )
    return out


def _new_home(store: Store, deal: Any) -> tuple[str, str]:
    """Where a deal whose stage or pipeline is missing can go back: ``(what the fix does,
    the assignments of its UPDATE)``. Stages and pipelines are named by key, so another
    stage can be typed in instead."""
    if deal["has_stage"] and deal["stage_pipeline"] is not None:
        return (
            f"put it back in the pipeline of its stage {deal['stage']} ({deal['stage_pipeline']})",
            "pipeline_id = (SELECT pipeline_id FROM stages WHERE id = deals.stage_id)",
        )
    kind = "won" if deal["status"] == "won" else "open"
    live = (
        "SELECT s.key, p.key AS pipeline, s.pipeline_id FROM stages s"
        " JOIN pipelines p ON p.id = s.pipeline_id"
        " WHERE s.deleted_at IS NULL AND p.deleted_at IS NULL AND s.kind = ?"
    )
    same_pipeline = " AND s.pipeline_id = ?" if deal["has_pipeline"] else ""
    pipeline_id = [deal["pipeline_id"]] if deal["has_pipeline"] else []
    # Where its stage history last put it, when that stage exists and fits its status...
    target = store.one(
        live + " AND s.id = (SELECT sc.to_stage_id FROM stage_changes sc"
        " JOIN stages x ON x.id = sc.to_stage_id"
        " WHERE sc.deal_id = ? AND sc.deleted_at IS NULL ORDER BY sc.rowid DESC LIMIT 1)"
        + same_pipeline,
        (kind, deal["id"], *pipeline_id),
    )
    why = "where its stage history last put it"
    if target is None:  # ... else the first stage of that kind (of its pipeline, if it has one)
        target = store.one(
            live + same_pipeline + " ORDER BY p.position, s.position LIMIT 1",
            (kind, *pipeline_id),
        )
        why = "the won stage, as the deal is won" if kind == "won" else "the first open stage"
    if target is None:
        return "retire it", "deleted_at = strftime('%Y-%m-%dT%H:%M:%SZ')"
    stage, pipeline = _quoted(target["key"]), _quoted(target["pipeline"])
    how = f"put it at stage {target['key']} of {target['pipeline']} ({why})"
    if deal["has_pipeline"]:
        return how, (
            "stage_id = (SELECT id FROM stages WHERE pipeline_id = deals.pipeline_id"
            f" AND key = {stage} AND deleted_at IS NULL)"
        )
    return how, (
        f"pipeline_id = (SELECT id FROM pipelines WHERE key = {pipeline} AND deleted_at IS NULL),"
        " stage_id = (SELECT s.id FROM stages s JOIN pipelines p ON p.id = s.pipeline_id"
        f" WHERE p.key = {pipeline} AND p.deleted_at IS NULL AND s.key = {stage}"
        " AND s.deleted_at IS NULL)"
    )


def _orphans(store: Store, schema: Schema) -> list[Problem]:
    out: list[Problem] = []
    for table, columns in schema.columns.items():
        if "deleted_at" not in columns:
            continue
        for fk in store.query(f'PRAGMA foreign_key_list("{table}")'):
            parent, column = str(fk["table"]), str(fk["from"])
            if parent not in schema.columns or "deleted_at" not in schema.columns[parent]:
                continue
            if entity_of(parent) in CATALOGUE or parent == table:
                continue  # retired stages keep history; self-references (merges) are links
            for row in store.query(
                f'SELECT t.* FROM "{table}" t JOIN "{parent}" p ON p.id = t."{column}"'
                " WHERE t.deleted_at IS NULL AND p.deleted_at IS NOT NULL ORDER BY t.rowid"
            ):
                number, label = _label(table, row)
                out.append(
                    Problem(
                        "orphans",
                        table,
                        number,
                        str(row["id"]),
                        f"{label} belongs to a deleted {entity_of(parent)}"
                        f" ({column} = {row[column]})",
                        "dealctl undo --list shows whether undoing a recent command brings the"
                        f" {entity_of(parent)} back; otherwise retire this record too: "
                        + _soft_delete_sql(table, str(row["id"])),
                    )
                )
    for entity, table in sorted(schema.tables.items()):
        count_row = store.one(
            "SELECT COUNT(*) FROM changes ch WHERE ch.entity = ?"
            f' AND NOT EXISTS (SELECT 1 FROM "{table}" t WHERE t.id = ch.entity_id)',
            (entity,),
        )
        missing = int(count_row[0]) if count_row else 0
        if missing:
            out.append(
                Problem(
                    "orphans",
                    "changes",
                    None,
                    None,
                    f"{missing} change-log rows are about {entity} records that no longer"
                    " exist (removed by another tool: dealctl only deletes softly)",
                    "nothing to repair in the log itself; restore your latest copy if those"
                    " records were removed by mistake",
                )
            )
    return out


# (what is wrong, how to fix it, the condition on deals `d` with stage `s`, pipeline `p`)
_DEAL_STATES: list[tuple[str, str, str]] = [
    (
        "won, but has a lost reason ({lost_reason})",
        "dealctl reopen {number} && dealctl close {number} (reopen clears the lost reason)",
        "d.status = 'won' AND (d.lost_reason IS NOT NULL OR d.lost_note IS NOT NULL)",
    ),
    (
        "status {status} disagrees with its stage {stage} ({kind} stage)",
        "dealctl reopen {number} --stage STAGE, or dealctl edit {number} --stage STAGE"
        " (a won stage means won)",
        "(d.status = 'won') <> (s.kind = 'won')",
    ),
    (
        "stage {stage} is not a stage of its pipeline {pipeline}",
        "dealctl edit {number} --pipeline {pipeline} --stage STAGE",
        "s.pipeline_id <> d.pipeline_id",
    ),
    (
        "is at a retired stage or pipeline ({stage})",
        "dealctl edit {number} --stage STAGE (dealctl config show lists the stages)",
        "(s.deleted_at IS NOT NULL OR p.deleted_at IS NOT NULL)",
    ),
    (
        "has a due date ({next_due}) but no next action",
        'dealctl edit {number} --next "WHAT" (or --due "" to drop the date)',
        "d.next_due IS NOT NULL AND d.next_action IS NULL",
    ),
]


def _states(store: Store, schema: Schema) -> list[Problem]:
    out: list[Problem] = []
    base = (
        "SELECT d.*, s.key AS stage, s.kind AS kind, p.key AS pipeline FROM deals d"
        " JOIN stages s ON s.id = d.stage_id JOIN pipelines p ON p.id = d.pipeline_id"
        " WHERE d.deleted_at IS NULL"  # a deal with neither is _lost_deals' (foreign keys)
    )
    for problem, fix, condition in _DEAL_STATES:
        for row in store.query(f"{base} AND {condition} ORDER BY d.number, d.id"):
            values = dict(zip(row.keys(), tuple(row), strict=True))
            out.append(_deal_state(row, problem.format(**values), fix.format(**values)))
    # The stage history must end where the deal is: analytics read only that history.
    # The latest row is the last recorded one, or the latest in time: `close --date` in
    # the past records a row dated before the moves recorded earlier.
    latest = (
        "(SELECT sc.to_stage_id || ' ' || sc.to_status FROM stage_changes sc"
        " WHERE sc.deal_id = d.id AND sc.deleted_at IS NULL ORDER BY {} LIMIT 1)"
    )
    for row in store.query(
        "SELECT d.id, d.number, d.stage_id, d.status, s.key AS stage, "
        + latest.format("sc.rowid DESC")
        + " AS last_recorded, "
        + latest.format("sc.at DESC, sc.rowid DESC")
        + " AS last_in_time FROM deals d JOIN stages s ON s.id = d.stage_id"
        " JOIN pipelines p ON p.id = d.pipeline_id"
        " WHERE d.deleted_at IS NULL ORDER BY d.number, d.id"
    ):
        expected = f"{row['stage_id']} {row['status']}"
        if expected in (row["last_recorded"], row["last_in_time"]):
            continue
        what = (
            "has no stage history"
            if row["last_recorded"] is None
            else "has a stage history that does not end at its stage and status"
            f" ({row['stage']}, {row['status']})"
        )
        out.append(
            _deal_state(
                row,
                what,
                f"dealctl history {row['number']} shows its moves; re-enter the last one with"
                f" dealctl advance {row['number']} STAGE (funnel and pipeline ages read"
                " this history)",
            )
        )
    # moved_at repeats the latest live moment of that history, for the reports that age
    # open deals (migration 0006): one that disagrees gives wrong idle days.
    for row in store.query(
        f"SELECT id, number, moved_at, {LAST_MOVE} AS latest FROM deals"
        f" WHERE deleted_at IS NULL AND moved_at IS NOT {LAST_MOVE} ORDER BY number, id"
    ):
        latest = row["latest"]
        if latest is not None and not well_formed(latest, "moment"):
            continue  # the history's moment is wrong: the date check reports it
        out.append(
            _deal_state(
                row,
                f"has a last stage change of {row['moved_at'] or 'none'} stored, but its stage"
                f" history's latest is {latest or 'none'}",
                _update_sql(
                    "deals", f"moved_at = {_quoted(latest) if latest else 'NULL'}", row["id"]
                ),
            )
        )
    return out + _dates(store, schema)


def _deal_state(row: sqlite3.Row, what: str, fix: str) -> Problem:
    """A ``states`` problem of one deal: ``deal N <what>``."""
    return Problem(
        "states", "deals", row["number"], str(row["id"]), f"deal {row['number']} {what}", fix
    )


# Every stored date or moment that commands read back as one (docs/schema.md, "Value
# formats"): table -> (column, form). A value in another form stops the commands that
# read it as a date (`list`, `show`, `due`, reports, digest, calendar) with an error,
# except in the tables of _SHOWN (docs/reliability.md, "Backups and checks").
_DATED: dict[str, list[tuple[str, str]]] = {
    "deals": [
        ("next_due", "due"),
        ("close_date", "date"),
        ("closed_at", "moment"),
        ("created_at", "moment"),
        ("updated_at", "moment"),
        ("last_contact_at", "moment"),
    ],
    "activities": [("at", "moment"), ("created_at", "moment")],
    "stage_changes": [("at", "moment")],
    "approval_steps": [("done_on", "date")],
}
# Tables whose dates no command reads as one: a follow-up's moments are shown as stored
# (a timeline, an account's last contact) and exported, and nothing is counted by them.
_SHOWN = {"activities": "commands show it as stored and count nothing by it"}
_STOPS = "commands that read it stop with an error"
_FORMATS = {
    "date": ("a date (YYYY-MM-DD)", "YYYY-MM-DD"),
    "moment": (
        "a moment with its offset (2026-12-03T09:00:00+09:00)",
        "YYYY-MM-DDTHH:MM:SS+HH:MM",
    ),
    "due": (
        "a date (YYYY-MM-DD) or a moment with its offset (2026-12-04T14:00+09:00)",
        "YYYY-MM-DD",
    ),
}
# Deal fields a command sets, for a deal that commands can see.
_EDITS = {
    "next_due": 'dealctl edit {number} --due DATE (or --due "" to drop it)',
    "close_date": 'dealctl edit {number} --close DATE (or --close "" to clear it)',
}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def well_formed(value: object, form: str) -> bool:
    """Whether a stored value is in its documented form: ``date``, ``moment`` or ``due``
    (either). A moment is what the commands read: a date, then ``T`` (or a space) and the
    time, with its offset (`fromisoformat` gives an aware datetime)."""
    if not isinstance(value, str):
        return False
    try:
        if _DAY.fullmatch(value):
            date.fromisoformat(value)
            return form in ("date", "due")
        if form == "date" or not (_DAY.match(value) and value[10:11] in ("T", " ")):
            return False
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def surely_well_formed(expr: str, form: str) -> str:
    """SQL that is true (1) for a value (``expr``, a column of ``_DATED``) certainly in
    ``form`` and false (0, never NULL) for any other value that is not NULL: the forms
    dealctl writes, a subset of what :func:`well_formed` accepts. A big book
    holds millions of dates, and the good ones are passed over without leaving SQLite;
    :func:`well_formed` judges the rest."""
    day = dates.sql_day(expr)
    clock, offset = "[0-2][0-9]:[0-5][0-9]", "[+-][0-2][0-9]:[0-5][0-9]"
    moment = (
        f"(({expr} GLOB '????-??-??T{clock}:[0-5][0-9]{offset}'"
        f" OR {expr} GLOB '????-??-??T{clock}{offset}')"
        f" AND substr({expr}, 12, 2) < '24' AND substr({expr}, -5, 2) < '24'"
        f" AND {dates.sql_day(f'substr({expr}, 1, 10)')})"
    )
    return {"date": day, "moment": moment, "due": f"({day} OR {moment})"}[form]


def _dates(store: Store, schema: Schema) -> list[Problem]:
    out: list[Problem] = []
    for table, dated in _DATED.items():
        columns = schema.columns.get(table, {})
        dated = [(column, form) for column, form in dated if column in columns]
        if not dated:
            continue
        # One pass over the table; only rows with a value in doubt come back.
        alias = "d" if table == "deals" else "t"
        values = [f'{alias}."{column}"' for column, _ in dated]
        doubtful = " OR ".join(
            f"({value} IS NOT NULL AND NOT {surely_well_formed(value, form)})"
            for value, (_, form) in zip(values, dated, strict=True)
        )
        if table == "deals":
            sql = (
                f"SELECT d.id, d.number, {', '.join(values)},"
                " s.id IS NOT NULL AND p.id IS NOT NULL AS visible FROM deals d"
                " LEFT JOIN stages s ON s.id = d.stage_id"
                " LEFT JOIN pipelines p ON p.id = d.pipeline_id"
                f" WHERE d.deleted_at IS NULL AND ({doubtful}) ORDER BY d.rowid"
            )
        else:
            live = "t.deleted_at IS NULL AND " if "deleted_at" in columns else ""
            sql = (
                f'SELECT t.id, d.number AS deal, {", ".join(values)} FROM "{table}" t'
                f" LEFT JOIN deals d ON d.id = t.deal_id WHERE {live}({doubtful})"
                " ORDER BY t.rowid"
            )
        for row in store.iterate(sql):
            for column, form in dated:
                value = row[column]
                if value is not None and not well_formed(value, form):
                    out.append(_bad_date(table, column, form, row))
    return out


def _bad_date(table: str, column: str, form: str, row: Any) -> Problem:
    what, placeholder = _FORMATS[form]
    shown = repr(row[column])
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    fix = _update_sql(table, f"{column} = '{placeholder}'", row["id"]) + " with the right value"
    if table == "deals":
        number = row["number"]
        label = f"deal {number}"
        if row["visible"] and column in _EDITS:  # a deal no command sees cannot be edited
            fix = _EDITS[column].format(number=number)
    else:
        number = None
        entity = entity_of(table).replace("_", " ")
        label = f"{entity} {str(row['id'])[:8]} of deal {row['deal']}"
    return Problem(
        "states",
        table,
        number,
        str(row["id"]),
        f"{label} has {column} {shown}, which is not {what}; {_SHOWN.get(table, _STOPS)}",
        fix,
    )


def _numbers(store: Store, schema: Schema) -> list[Problem]:
    out: list[Problem] = []
    for table, columns in schema.columns.items():
        if "number" not in columns or "deleted_at" not in columns:
            continue
        for row in store.query(
            f"SELECT number, COUNT(*) AS n, GROUP_CONCAT(id, ', ') AS ids FROM \"{table}\""
            " WHERE deleted_at IS NULL GROUP BY number HAVING COUNT(*) > 1 ORDER BY number"
        ):
            entity = entity_of(table)
            out.append(
                Problem(
                    "numbers",
                    table,
                    row["number"],
                    None,
                    f"{entity} number {row['number']} is used by {row['n']} records ({row['ids']})",
                    f'refer to them by id; give one a free number: sqlite3 FILE "UPDATE {table}'
                    f" SET number = (SELECT MAX(number) + 1 FROM {table}) WHERE id = 'ID'\"",
                )
            )
    return out


def check_copy(path: Path) -> tuple[str, int]:
    """A written copy's ``quick_check`` result and its number of live deals."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = str(conn.execute("PRAGMA quick_check").fetchone()[0])
        deals = int(
            conn.execute("SELECT COUNT(*) FROM deals WHERE deleted_at IS NULL").fetchone()[0]
        )
    finally:
        conn.close()
    return result, deals
