"""Logged writes on accounts, contacts and the buying-committee tables.

Every write here runs inside the caller's transaction and is recorded in the change
log with the table's singular as the entity (``deal_contacts`` -> ``deal_contact``):
an insert as one ``created`` row, an update as one row per changed column with its
old and new value, a soft delete as a change of ``deleted_at``. That is all a
generic undo needs: soft-delete what a command created, put back the old values of
what it changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dealctl.session import Session

# Tables written here; the names reach SQL text, so only these are accepted.
TABLES = ("accounts", "contacts", "deal_contacts", "qualifications", "approval_steps")
# Columns that change with every write and are not worth a change-log row of their own.
_UNLOGGED = ("updated_at",)


def entity(table: str) -> str:
    """The change-log entity of a table: its singular (``approval_steps`` -> ``approval_step``)."""
    return table.removesuffix("s")


def _checked(table: str, columns: Any) -> None:
    assert table in TABLES, table
    assert all(str(c).replace("_", "").isalnum() for c in columns), columns


def insert(session: Session, table: str, row: Mapping[str, Any], label: str) -> None:
    """Insert one row (its ``id`` given) and log it as ``created`` with ``label``."""
    _checked(table, row)
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    session.store.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))
    session.store.log_change(entity(table), str(row["id"]), "created", None, label, session.stamp)


def update(session: Session, table: str, row: Any, values: Mapping[str, Any]) -> list[str]:
    """Write the columns of ``values`` that differ from ``row``, each logged old -> new.

    ``updated_at`` becomes the command's moment. Returns the changed column names.
    """
    _checked(table, values)
    changed = {k: v for k, v in values.items() if row[k] != v}
    if not changed:
        return []
    written = {**changed, "updated_at": session.stamp}
    assignments = ", ".join(f"{column} = ?" for column in written)
    session.store.execute(
        f"UPDATE {table} SET {assignments} WHERE id = ?", (*written.values(), row["id"])
    )
    for column, value in changed.items():
        if column not in _UNLOGGED:
            session.store.log_change(
                entity(table), str(row["id"]), column, row[column], value, session.stamp
            )
    return list(changed)


def soft_delete(session: Session, table: str, row: Any) -> None:
    """Mark one row deleted (kept in the file, logged as a change of ``deleted_at``)."""
    update(session, table, row, {"deleted_at": session.stamp})
