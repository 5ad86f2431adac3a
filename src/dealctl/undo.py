"""Undo and redo of whole commands, built only on what every write already records.

A write command leaves a ``commands`` row and, in the insert-only ``changes`` log,
one row per field it changed (with the old and the new value) and one ``created``
or ``imported`` row per record it inserted; rows of tables that have a
``command_id`` column name their command too. Undoing a command is one new
command that, in its own transaction:

- restores every field the command changed to its old value, newest change first;
- soft-deletes (``deleted_at``) every record the command inserted;
- logs each of those writes as ordinary change rows, plus one row
  ``("command", <undone command id>, "undone")``.

Nothing here knows a table by name: tables, columns and entities are read from the
database, so commands added later are undone the same way. Pipelines and stages are
left alone: they follow ``config.toml`` and are brought back in line by every write.

``undo`` never undoes an undo; it steps further back. Undoing an undo is a *redo*:
:func:`redo` reverts the latest undo (``("command", <id>, "redone")``), as long as no
other write came after it. The stacks are replayed from the ``commands`` table, so
they are the same for every process and survive restarts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from dealctl.errors import StateError
from dealctl.session import Session
from dealctl.storage import Store

UNDO_COMMAND = "undo"  # the name `dealctl undo` is recorded under in `commands`
INSERTED = ("created", "imported")
MARKS = ("undone", "redone")
# Configuration mirrored into the database: never undone (the next write would re-sync it).
CATALOGUE = ("pipeline", "stage")
BOOKKEEPING = ("changes", "commands", "_sqlite_migrations")


def entity_of(table: str) -> str:
    """The change-log name of a table's records: ``activities`` → ``activity``."""
    if table.endswith("ies"):
        return table[:-3] + "y"
    return table[:-1] if table.endswith("s") else table


class Schema:
    """Tables and columns as stored in this file (so later tables are covered too)."""

    def __init__(self, store: Store) -> None:
        self.columns: dict[str, dict[str, str]] = {}
        for row in store.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        ):
            name = str(row["name"])
            if name in BOOKKEEPING:
                continue
            # The name comes from sqlite_master itself, never from input.
            info = store.query(f'PRAGMA table_info("{name}")')
            self.columns[name] = {str(c["name"]): str(c["type"]).upper() for c in info}
        # ``activity`` for activities; also the plain ``-s``-less name some writers log.
        self.tables = {t.removesuffix("s"): t for t in self.columns}
        self.tables.update((entity_of(t), t) for t in self.columns)

    def table(self, entity: str) -> str | None:
        return self.tables.get(entity)

    def with_command_id(self) -> list[str]:
        return [t for t, cols in self.columns.items() if "command_id" in cols]


@dataclass(frozen=True)
class Record:
    """One record a command touched."""

    table: str
    entity: str
    id: str


@dataclass
class Effects:
    """What a command did, as far as undo is concerned."""

    inserted: list[Record] = field(default_factory=list)
    updates: list[sqlite3.Row] = field(default_factory=list)  # newest first

    @property
    def empty(self) -> bool:
        return not self.inserted and not self.updates


@dataclass(frozen=True)
class Step:
    """A command on the undo (or redo) stack."""

    id: str
    name: str
    args: tuple[str, ...]
    at: str
    created: int  # records it created: undo removes them
    changed: int  # field changes it made: undo restores the old values
    by: str | None = None  # who ran it (``commands.actor``); None before migration 0004

    @property
    def label(self) -> str:
        return " ".join((self.name, *self.args))


@dataclass(frozen=True)
class Outcome:
    """What one undo or redo did."""

    step: Step
    removed: int
    restored: int


def _effects(store: Store, schema: Schema, command_id: str) -> Effects:
    effects = Effects()
    seen: set[str] = set()
    for row in store.query(
        "SELECT entity, entity_id FROM changes WHERE command_id = ? AND field IN (?, ?)"
        " ORDER BY rowid",
        (command_id, *INSERTED),
    ):
        entity, row_id = str(row["entity"]), str(row["entity_id"])
        if entity in CATALOGUE or row_id in seen:
            continue
        table = schema.table(entity)
        if table is None or "deleted_at" not in schema.columns[table]:
            raise StateError(
                f"cannot undo: it created a {entity} record, which cannot be deleted softly"
            )
        seen.add(row_id)
        effects.inserted.append(Record(table, entity, row_id))
    for table in schema.with_command_id():
        if entity_of(table) in CATALOGUE or "deleted_at" not in schema.columns[table]:
            continue
        for row in store.query(
            f'SELECT id FROM "{table}" WHERE command_id = ? ORDER BY rowid', (command_id,)
        ):
            if row["id"] not in seen:
                seen.add(str(row["id"]))
                effects.inserted.append(Record(table, entity_of(table), str(row["id"])))
    effects.updates = [
        row
        for row in store.query(
            "SELECT entity, entity_id, field, old, new FROM changes WHERE command_id = ?"
            " AND field NOT IN (?, ?, ?, ?) ORDER BY rowid DESC",
            (command_id, *INSERTED, *MARKS),
        )
        if row["entity"] not in CATALOGUE
        and row["entity"] != "command"
        and row["entity_id"] not in seen
    ]
    return effects


@dataclass
class Stacks:
    """Commands that can be undone (oldest first) and undos that can be redone."""

    done: list[str]
    redo: list[tuple[str, str]]  # (undone command, the undo that undid it), oldest first
    commands: dict[str, sqlite3.Row]


def stacks(store: Store) -> Stacks:
    """Replay the command log: every write pushes, an undo pops, a redo pushes back."""
    marks: dict[str, list[tuple[str, str]]] = {}
    for row in store.query(
        "SELECT ch.command_id, ch.entity_id, ch.field FROM commands cm"
        " JOIN changes ch ON ch.command_id = cm.id"
        " WHERE cm.name = ? AND ch.entity = 'command' AND ch.field IN (?, ?)"
        " ORDER BY ch.rowid",
        (UNDO_COMMAND, *MARKS),
    ):
        marks.setdefault(str(row["command_id"]), []).append(
            (str(row["entity_id"]), str(row["field"]))
        )
    done: list[str] = []
    redo: list[tuple[str, str]] = []
    commands: dict[str, sqlite3.Row] = {}
    for row in store.query("SELECT id, name, args, at, actor FROM commands ORDER BY rowid"):
        command_id = str(row["id"])
        commands[command_id] = row
        if command_id in marks:
            for target, how in marks[command_id]:
                if how == "undone":
                    if done and done[-1] == target:
                        done.pop()
                    elif target in done:
                        done.remove(target)
                    redo.append((target, command_id))
                else:
                    redo = [r for r in redo if r[0] != target]
                    done.append(target)
        elif row["name"] != UNDO_COMMAND:
            done.append(command_id)
            redo.clear()
    return Stacks(done, redo, commands)


def _step(row: sqlite3.Row, effects: Effects) -> Step:
    try:
        args = tuple(str(a) for a in json.loads(row["args"]))
    except (ValueError, TypeError):
        args = ()
    return Step(
        id=str(row["id"]),
        name=str(row["name"]),
        args=args,
        at=str(row["at"]),
        created=len(effects.inserted),
        changed=len(effects.updates),
        by=None if row["actor"] is None else str(row["actor"]),
    )


def _undoable(store: Store, schema: Schema, found: Stacks) -> Iterator[tuple[Step, Effects]]:
    """The undo stack from the top, skipping commands that changed nothing undo can see."""
    for command_id in reversed(found.done):
        effects = _effects(store, schema, command_id)
        if not effects.empty:
            yield _step(found.commands[command_id], effects), effects


def undo_list(store: Store, limit: int | None = None) -> list[Step]:
    """What ``dealctl undo`` would undo, next first."""
    schema = Schema(store)
    out: list[Step] = []
    for step, _ in _undoable(store, schema, stacks(store)):
        if limit is not None and len(out) >= limit:
            break
        out.append(step)
    return out


def redo_list(store: Store, limit: int | None = None) -> list[Step]:
    """What ``dealctl undo --redo`` would bring back, next first."""
    schema = Schema(store)
    found = stacks(store)
    out: list[Step] = []
    for target, undo_id in reversed(found.redo):
        if limit is not None and len(out) >= limit:
            break
        effects = _effects(store, schema, target)
        step = _step(found.commands[target], effects)
        undo_effects = _effects(store, schema, undo_id)
        out.append(replace(step, changed=len(undo_effects.updates)))
    return out


def undo(session: Session) -> Outcome:
    """Undo the latest command not undone yet (inside the caller's transaction)."""
    store = session.store
    schema = Schema(store)
    for step, effects in _undoable(store, schema, stacks(store)):
        removed, restored = _revert(session, schema, effects, step)
        store.log_change("command", step.id, "undone", None, step.label, session.stamp)
        return Outcome(step, removed, restored)
    raise StateError("nothing to undo")


def redo(session: Session) -> Outcome:
    """Undo the latest undo, bringing its command back (inside the caller's transaction)."""
    store = session.store
    schema = Schema(store)
    found = stacks(store)
    if not found.redo:
        raise StateError("nothing to redo: redo takes back an undo, until another command writes")
    target, undo_id = found.redo[-1]
    step = _step(found.commands[target], _effects(store, schema, target))
    effects = _effects(store, schema, undo_id)
    removed, restored = _revert(session, schema, effects, step)
    store.log_change("command", target, "redone", None, step.label, session.stamp)
    return Outcome(step, removed, restored)


def _revert(session: Session, schema: Schema, effects: Effects, step: Step) -> tuple[int, int]:
    """Restore every changed field (newest first), then soft-delete every inserted record."""
    store = session.store
    stamp = session.stamp
    current: dict[tuple[str, str, str], Any] = {}
    touched: set[tuple[str, str]] = set()
    for change in effects.updates:
        entity, row_id, column = str(change["entity"]), str(change["entity_id"]), change["field"]
        table = schema.table(entity)
        if table is None or column not in schema.columns[table]:
            raise StateError(
                f"cannot undo {step.label}: it changed {entity} {column}, which dealctl"
                " cannot restore; nothing was undone"
            )
        key = (table, row_id, column)
        if key in current:
            now = current[key]
        else:
            row = store.one(f'SELECT "{column}" FROM "{table}" WHERE id = ?', (row_id,))
            if row is None:
                raise StateError(
                    f"cannot undo {step.label}: its {entity} {row_id} no longer exists;"
                    " nothing was undone"
                )
            now = row[0]
        if not _same(now, change["new"]):
            raise StateError(
                f"cannot undo {step.label}: {_describe(store, table, entity, row_id)}'s"
                f" {column} was changed since (it is {_show(now)}, the command left"
                f" {_show(change['new'])}); nothing was undone"
            )
        value = _typed(schema.columns[table][column], change["old"])
        store.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE id = ?', (value, row_id))
        store.log_change(entity, row_id, column, now, value, stamp)
        current[key] = value
        if column != "deleted_at":  # a record brought back by a redo keeps its time
            touched.add((table, row_id))
    for table, row_id in sorted(touched):
        if "updated_at" in schema.columns[table] and (table, row_id, "updated_at") not in current:
            store.execute(f'UPDATE "{table}" SET updated_at = ? WHERE id = ?', (stamp, row_id))
    removed = 0
    for record in effects.inserted:
        row = store.one(f'SELECT deleted_at FROM "{record.table}" WHERE id = ?', (record.id,))
        if row is None or row["deleted_at"] is not None:
            continue
        store.execute(
            f'UPDATE "{record.table}" SET deleted_at = ? WHERE id = ?', (stamp, record.id)
        )
        store.log_change(record.entity, record.id, "deleted_at", None, stamp, stamp)
        removed += 1
    return removed, len(effects.updates)


def _same(now: Any, logged: str | None) -> bool:
    """Whether a stored value is the one the change log says a command left."""
    if now is None or logged is None:
        return now is None and logged is None
    if str(now) == logged:
        return True
    if isinstance(now, int) and logged in ("True", "False"):
        return now == (logged == "True")
    if isinstance(now, (int, float)):
        try:
            return float(logged) == now
        except ValueError:
            return False
    return False


def _typed(declared: str, text: str | None) -> Any:
    """A logged (text) value back in its column's type."""
    if text is None:
        return None
    if "INT" in declared or declared in ("NUMERIC", "BOOLEAN"):
        if text in ("True", "False"):
            return int(text == "True")
        try:
            return int(text)
        except ValueError:
            return text
    if any(kind in declared for kind in ("REAL", "FLOA", "DOUB")):
        try:
            return float(text)
        except ValueError:
            return text
    return text


def _show(value: Any) -> str:
    return "empty" if value is None else repr(str(value))


def _describe(store: Store, table: str, entity: str, row_id: str) -> str:
    """``deal 12`` where the table has numbers, else the entity and its id."""
    row = store.one(f'SELECT * FROM "{table}" WHERE id = ?', (row_id,))
    columns = row.keys() if row is not None else []
    if row is not None and "number" in columns:
        return f"{entity} {row['number']}"
    return f"{entity} {row_id}"
