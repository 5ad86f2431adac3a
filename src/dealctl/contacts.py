"""Contacts (people at accounts): add, edit, find, list.

E-mail addresses are kept unique by dealctl, not by the schema (no UNIQUE constraint:
see the identity rules in docs/schema.md): they are compared by
:func:`dealctl.text.email_key` (trimmed, NFKC, case-folded), and a second contact with
an address already in use is refused, naming the contact that has it.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from typing import Any

from dealctl import records
from dealctl.accounts import account_for
from dealctl.accounts import resolve as resolve_account
from dealctl.deals import checked_text, contact_id_for, next_number
from dealctl.errors import InvalidInput, NotFound, StateError
from dealctl.session import Session
from dealctl.storage import Store, new_id
from dealctl.text import email_key, norm, reference_number

_ID_PREFIX = re.compile(r"^[0-9a-f][0-9a-f-]{7,35}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
CONTACT_VIEW = """
SELECT c.*, a.name AS account, a.number AS account_number
FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id
WHERE c.deleted_at IS NULL
"""


def label(row: Any) -> str:
    """``5 山田太郎``: how messages name a contact."""
    return f"{row['number']} {row['name']}"


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def is_email(ref: str) -> bool:
    """Whether a reference is an e-mail address: it has an ``@`` once NFKC-normalised, so
    ``taro＠example.com`` is one."""
    return "@" in _plain(ref)


def resolve(store: Store, ref: str) -> sqlite3.Row:
    """A contact by number (``5``, ``#5``), id (or its first 8+ characters), e-mail or name.

    The reference is NFKC-normalised before it is told apart, so full-width digits, ``＃``
    and ``＠`` count as typed in ASCII.
    """
    text = checked_text(ref, "the contact")
    if not text:
        raise InvalidInput("give a contact: its number, e-mail or name")
    number = reference_number(text)
    if number is not None:
        row = (
            store.one(CONTACT_VIEW + " AND c.number = ? ORDER BY c.id LIMIT 1", (number,))
            if number < 10**18
            else None
        )
        if row is None:
            raise NotFound(f"no contact #{number}")
        return row
    if is_email(text):
        rows = store.query(
            CONTACT_VIEW + " AND c.email_key = ? ORDER BY c.number", (email_key(text),)
        )
    else:
        rows = []
        plain = _plain(text).lower()
        if _ID_PREFIX.match(plain):
            rows = store.query(CONTACT_VIEW + " AND c.id LIKE ?", (plain + "%",))
        if len(rows) != 1:
            rows = store.query(
                CONTACT_VIEW + " AND c.name_key = ? ORDER BY c.number", (norm(text),)
            )
    if not rows:
        raise NotFound(f"no contact {ref}")
    if len(rows) > 1:
        listed = ", ".join(
            f"#{label(r)}" + (f" ({r['account']})" if r["account"] else "") for r in rows
        )
        raise InvalidInput(f"contact {ref!r} is ambiguous ({listed}): give the number")
    return rows[0]


def find_or_create(session: Session, text: str, account_id: str | None) -> tuple[sqlite3.Row, bool]:
    """A contact by number, e-mail or name (within ``account_id``), created when new.

    Returns the contact and whether it was created. A number must exist; a name
    matching contacts only elsewhere is a new person at this account.
    """
    text = checked_text(text, "the contact")
    if not text:
        raise InvalidInput("give a contact: its number, e-mail or name")
    if reference_number(text) is not None:
        return resolve(session.store, text), False
    # A contact made now gets a number above every existing one.
    before = next_number(session.store, "contacts")
    if is_email(text):
        # Found, or stored, as `contact add --email` stores it (NFKC, trimmed).
        text = _email(text)[0] or text
    contact_id = contact_id_for(session, text, account_id)
    row = session.store.one(CONTACT_VIEW + " AND c.id = ?", (contact_id,))
    assert row is not None
    return row, row["number"] >= before


def _email(text: str) -> tuple[str | None, str | None]:
    """An e-mail address as stored (NFKC, trimmed) and its key; empty means none."""
    address = unicodedata.normalize("NFKC", checked_text(text, "the e-mail")).strip()
    if not address:
        return None, None
    if not _EMAIL.match(address):
        raise InvalidInput(f"invalid e-mail {text!r}: use an address such as taro@example.com")
    return address, email_key(address)


def _email_free(store: Store, key: str, other_than: str | None = None) -> None:
    """Refuse an address another live contact already has."""
    row = store.one(
        CONTACT_VIEW + " AND c.email_key = ? AND c.id IS NOT ? ORDER BY c.number LIMIT 1",
        (key, other_than),
    )
    if row is not None:
        at = f" ({row['account']})" if row["account"] else ""
        raise StateError(f"contact {label(row)}{at} has the e-mail {row['email']} already")


def _name(text: str) -> str:
    name = checked_text(text, "the contact name")
    if not name:
        raise InvalidInput("a contact needs a name")
    return name


def _text(value: str | None, what: str) -> str | None:
    return None if value is None else (checked_text(value, what) or None)


def add(
    session: Session,
    name: str,
    *,
    account: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    title: str | None = None,
    notes: str | None = None,
) -> int:
    """Create a contact; returns its number."""
    name = _name(name)
    address, key = _email(email or "")
    if key is not None:
        _email_free(session.store, key)
    number = next_number(session.store, "contacts")
    records.insert(
        session,
        "contacts",
        {
            "id": new_id(),
            "number": number,
            "account_id": account_for(session, account) if account else None,
            "name": name,
            "name_key": norm(name),
            "email": address,
            "email_key": key,
            "phone": _text(phone, "the phone"),
            "title": _text(title, "the title"),
            "notes": _text(notes, "the notes"),
            "created_at": session.stamp,
            "updated_at": session.stamp,
        },
        name,
    )
    return number


# Columns reported by the name of their option (`--account`), not their column.
_FIELD_NAMES = {"account_id": "account"}


def edit(
    session: Session,
    ref: str,
    *,
    name: str | None = None,
    account: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    title: str | None = None,
    notes: str | None = None,
) -> list[str]:
    """Change any field of a contact (empty text clears it); returns the changed fields."""
    row = resolve(session.store, ref)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = _name(name)
        values["name_key"] = norm(values["name"])
    if account is not None:
        values["account_id"] = account_for(session, account)
    if email is not None:
        values["email"], values["email_key"] = _email(email)
        if values["email_key"] is not None:
            _email_free(session.store, values["email_key"], row["id"])
    for column, value in (("phone", phone), ("title", title), ("notes", notes)):
        if value is not None:
            values[column] = _text(value, f"the {column}")
    changed = records.update(session, "contacts", row, values)
    return [_FIELD_NAMES.get(c, c) for c in changed if c not in ("name_key", "email_key")]


_LISTING = """
SELECT c.number, c.id, c.name, a.name AS account, a.number AS account_number, c.email,
       c.phone, c.title, c.notes, c.created_at, c.updated_at
FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id
WHERE c.deleted_at IS NULL
"""
# Deals each contact is on, as main contact or stakeholder, and the roles they hold: one
# pass over deals and deal_contacts each, whatever the number of contacts.
_DEALS_PER_CONTACT = """
SELECT contact_id, COUNT(*) AS deals FROM (
    SELECT dc.contact_id, dc.deal_id FROM deal_contacts dc JOIN deals d ON d.id = dc.deal_id
    WHERE dc.deleted_at IS NULL AND d.deleted_at IS NULL
    UNION
    SELECT contact_id, id FROM deals WHERE contact_id IS NOT NULL AND deleted_at IS NULL
) GROUP BY contact_id
"""
_ROLES_PER_CONTACT = """
SELECT DISTINCT dc.contact_id, dc.role FROM deal_contacts dc JOIN deals d ON d.id = dc.deal_id
WHERE dc.deleted_at IS NULL AND d.deleted_at IS NULL
"""


def list_contacts(
    session: Session,
    *,
    account: str | None = None,
    search: str | None = None,
    role: str | None = None,
) -> list[dict[str, Any]]:
    """Contacts by number: of one account, with ``search`` in name, e-mail, title or account,
    or holding ``role`` (a role key) on some deal."""
    where, params = "", []
    if account is not None:
        where = " AND c.account_id = ?"
        params.append(resolve_account(session.store, account)["id"])
    rows = [dict(r) for r in session.store.query(_LISTING + where + " ORDER BY c.number", params)]
    deals = {r["contact_id"]: r["deals"] for r in session.store.query(_DEALS_PER_CONTACT)}
    roles: dict[str, list[str]] = {}
    for r in session.store.query(_ROLES_PER_CONTACT):
        roles.setdefault(r["contact_id"], []).append(r["role"])
    for row in rows:
        row["deals"] = deals.get(row["id"], 0)
        row["roles"] = ",".join(sorted(roles.get(row["id"], [])))
    if search:
        needle = norm(search)
        fields = ("name", "email", "title", "account", "phone")
        rows = [r for r in rows if any(needle in norm(str(r[f] or "")) for f in fields)]
    if role is not None:
        rows = [r for r in rows if role in r["roles"].split(",")]
    return rows
