"""``dealctl doctor``: checks a database file and explains how to fix what it finds.

Checks, in order: SQLite's own ``integrity_check`` and ``foreign_key_check``;
orphans (live records that point at a deleted or missing record, change-log rows
about records that no longer exist); impossible states (a won deal with a lost
reason, a status that disagrees with the stage's kind, a stage that is not in the
deal's pipeline, a deal at a retired stage, a due date without a next action, a
stage history that does not end where the deal is); and numbers used twice.

Like :mod:`dealctl.undo`, the generic checks read tables and foreign keys from the
file itself, so tables added later are checked too. Every identifier put into SQL
here comes from ``sqlite_master`` or ``PRAGMA`` output, never from input.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    schema: int
    found: dict[str, list[Problem]]
    more: dict[str, int]

    @property
    def problems(self) -> list[Problem]:
        return [p for check in CHECKS for p in self.found[check]]

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.found.values()) + sum(self.more.values())


def run(store: Store) -> Report:
    """Run every check (reads only)."""
    version_row = store.one("PRAGMA user_version")
    report = Report(
        path=store.path,
        schema=int(version_row[0]) if version_row else 0,
        found={c: [] for c in CHECKS},
        more=dict.fromkeys(CHECKS, 0),
    )
    checks: dict[str, Callable[[Store, Schema], list[Problem]]] = {
        "foreign_keys": _foreign_keys,
        "orphans": _orphans,
        "states": _states,
        "numbers": _numbers,
    }
    damaged = _integrity(store)
    report.found["integrity"] = damaged[:LIMIT]
    report.more["integrity"] = max(0, len(damaged) - LIMIT)
    if damaged:
        return report  # the other checks would read damaged pages
    schema = Schema(store)
    for name, check in checks.items():
        found = check(store, schema)
        report.found[name] = found[:LIMIT]
        report.more[name] = max(0, len(found) - LIMIT)
    return report


_RESTORE = (
    "restore your latest copy (dealctl backup PATH makes one; an upgrade leaves"
    " FILE.schemaN.bak), or rescue what is readable: sqlite3 FILE .recover | sqlite3 NEW.db"
)


def _integrity(store: Store) -> list[Problem]:
    try:
        messages = [str(r[0]) for r in store.query("PRAGMA integrity_check")]
    except DatabaseError as exc:  # damage bad enough that the check itself stops
        messages = [str(exc).rsplit(": ", 1)[-1]]
    if messages == ["ok"]:
        return []
    return [Problem("integrity", "", None, None, f"damaged: {m}", _RESTORE) for m in messages]


def _soft_delete_sql(table: str, row_id: str) -> str:
    return (
        f"sqlite3 FILE \"UPDATE {table} SET deleted_at = strftime('%Y-%m-%dT%H:%M:%SZ')"
        f" WHERE id = '{row_id}'\""
    )


def _label(table: str, row: Any) -> tuple[int | None, str]:
    columns = row.keys()  # a sqlite3.Row: `in row` would look at the values
    number = row["number"] if "number" in columns else None
    entity = entity_of(table)
    return number, (f"{entity} {number}" if number is not None else entity)


def _foreign_keys(store: Store, schema: Schema) -> list[Problem]:
    out = []
    for row in store.query("PRAGMA foreign_key_check"):
        table, rowid, parent = str(row[0]), row[1], str(row[2])
        record = store.one(f'SELECT * FROM "{table}" WHERE rowid = ?', (rowid,))
        columns = record.keys() if record is not None else []
        row_id = str(record["id"]) if record is not None and "id" in columns else None
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
        " LEFT JOIN stages s ON s.id = d.stage_id LEFT JOIN pipelines p ON p.id = d.pipeline_id"
        " WHERE d.deleted_at IS NULL"
    )
    for problem, fix, condition in _DEAL_STATES:
        for row in store.query(f"{base} AND {condition} ORDER BY d.number, d.id"):
            values = dict(zip(row.keys(), tuple(row), strict=True))
            out.append(
                Problem(
                    "states",
                    "deals",
                    row["number"],
                    str(row["id"]),
                    f"deal {row['number']} " + problem.format(**values),
                    fix.format(**values),
                )
            )
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
        + " AS last_in_time FROM deals d LEFT JOIN stages s ON s.id = d.stage_id"
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
            Problem(
                "states",
                "deals",
                row["number"],
                str(row["id"]),
                f"deal {row['number']} {what}",
                f"dealctl history {row['number']} shows its moves; re-enter the last one with"
                f" dealctl advance {row['number']} STAGE (funnel and pipeline ages read"
                " this history)",
            )
        )
    return out


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
