"""The buying committee: contacts on a deal, each with a role.

Roles are configured (``[stakeholders.roles]``: key = display name; by default
information gatherer, key person, decision maker, approver, influencer, user). One
contact may hold several roles on one deal and different roles on different deals.
An open deal at or past the configured stage (``stakeholders.decision_maker_from``,
default ``proposal``) with no contact in the decision role is flagged.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from dealctl import records
from dealctl.analytics import deal_row
from dealctl.catalogue import Catalogue
from dealctl.config import Config
from dealctl.contacts import find_or_create, label
from dealctl.contacts import resolve as resolve_contact
from dealctl.deals import DEAL_VIEW, checked_text, resolve
from dealctl.errors import InvalidInput, NotFound
from dealctl.session import Session
from dealctl.storage import new_id
from dealctl.text import email_key, norm


def roles(config: Config) -> dict[str, str]:
    """The configured roles, key -> display name, in configured order."""
    return config.roles


def decision_role(config: Config) -> str:
    """The role key whose holder decides (``decision-maker``)."""
    return config.decision_role


def decision_stage(config: Config) -> str:
    """The stage (key or name) from which a deal needs a decision maker (``proposal``)."""
    return config.decision_maker_from


def role_key(config: Config, text: str) -> str:
    """A configured role by key or display name; spaces and ``_`` count as ``-``."""
    wanted = norm(text).replace(" ", "-").replace("_", "-")
    for key, name in roles(config).items():
        if wanted in (norm(key), norm(name)):
            return key
    known = ", ".join(f"{k} ({v})" for k, v in roles(config).items())
    raise InvalidInput(f"unknown role {text!r}: use one of {known}")


def role_name(config: Config, key: str) -> str:
    """A role's display name (a role no longer configured shows its key)."""
    return roles(config).get(key, key)


def add(
    session: Session, deal_ref: str, contact_ref: str, role_texts: list[str], note: str | None
) -> dict[str, Any]:
    """Put a contact on a deal's committee with one or more roles.

    The contact is found by number, e-mail or name (within the deal's account) and
    created when new. A role the contact already holds on the deal is left as it is.
    """
    if not role_texts:
        raise InvalidInput("give the contact's role: --role ROLE")
    keys = list(dict.fromkeys(role_key(session.config, r) for r in role_texts))
    note_text = None if note is None else (checked_text(note, "the note") or None)
    deal = resolve(session.store, deal_ref)
    contact, created = find_or_create(session, contact_ref, deal["account_id"])
    held = {
        r["role"]: r
        for r in session.store.query(
            "SELECT * FROM deal_contacts WHERE deal_id = ? AND contact_id = ?"
            " AND deleted_at IS NULL",
            (deal["id"], contact["id"]),
        )
    }
    added = []
    for key in keys:
        if key in held:
            if note is not None:
                records.update(session, "deal_contacts", held[key], {"notes": note_text})
            continue
        records.insert(
            session,
            "deal_contacts",
            {
                "id": new_id(),
                "deal_id": deal["id"],
                "contact_id": contact["id"],
                "role": key,
                "notes": note_text,
                "created_at": session.stamp,
                "updated_at": session.stamp,
                "command_id": session.store.command_id,
            },
            f"#{deal['number']} {contact['name']}: {key}",
        )
        added.append(key)
    return {
        "deal": deal["number"],
        "contact": label(contact),
        "created_contact": created,
        "added": added,
        "already": [k for k in keys if k not in added],
    }


def remove(session: Session, deal_ref: str, contact_ref: str, role_text: str | None) -> list[str]:
    """Take a contact off a deal's committee: one role, or every role they hold there."""
    deal = resolve(session.store, deal_ref)
    contact = _on_committee(session, deal, contact_ref) or resolve_contact(
        session.store, contact_ref
    )
    key = role_key(session.config, role_text) if role_text is not None else None
    rows = [
        r
        for r in session.store.query(
            "SELECT * FROM deal_contacts WHERE deal_id = ? AND contact_id = ?"
            " AND deleted_at IS NULL ORDER BY created_at, id",
            (deal["id"], contact["id"]),
        )
        if key is None or r["role"] == key
    ]
    if not rows:
        what = f"{key} on" if key else "a stakeholder on"
        raise NotFound(f"contact {label(contact)} is not {what} deal {deal['number']}")
    for row in rows:
        records.soft_delete(session, "deal_contacts", row)
    return [r["role"] for r in rows]


def _on_committee(session: Session, deal: sqlite3.Row, ref: str) -> sqlite3.Row | None:
    """The one contact on this deal's committee with this name or e-mail, if exactly one:
    a name shared with people elsewhere is still clear within one deal."""
    text = checked_text(ref, "the contact")
    rows = session.store.query(
        "SELECT DISTINCT c.* FROM deal_contacts dc JOIN contacts c ON c.id = dc.contact_id"
        " WHERE dc.deal_id = ? AND dc.deleted_at IS NULL AND c.deleted_at IS NULL"
        " AND (c.name_key = ? OR c.email_key = ?)",
        (deal["id"], norm(text), email_key(text)),
    )
    return rows[0] if len(rows) == 1 else None


_COMMITTEE = """
SELECT dc.id, dc.role, dc.notes, dc.created_at AS added_at, d.number AS deal,
       d.title AS deal_title, d.status AS deal_status, d.id AS deal_id,
       c.number AS contact, c.id AS contact_id, c.name, c.title AS job_title, c.email,
       c.phone, a.name AS account
FROM deal_contacts dc
JOIN deals d ON d.id = dc.deal_id AND d.deleted_at IS NULL
JOIN contacts c ON c.id = dc.contact_id AND c.deleted_at IS NULL
LEFT JOIN accounts a ON a.id = c.account_id
WHERE dc.deleted_at IS NULL
"""


def listing(
    session: Session,
    deal_ref: str | None = None,
    *,
    role: str | None = None,
    contact_ref: str | None = None,
) -> list[dict[str, Any]]:
    """Committee rows (one per contact and role): of one deal, one contact, or every deal.

    Ordered by deal number, then the configured role order, then when they were added.
    """
    where = ""
    params: list[Any] = []
    if deal_ref is not None:
        where += " AND d.id = ?"
        params.append(resolve(session.store, deal_ref)["id"])
    if contact_ref is not None:
        where += " AND c.id = ?"
        params.append(resolve_contact(session.store, contact_ref)["id"])
    if role is not None:
        where += " AND dc.role = ?"
        params.append(role_key(session.config, role))
    order = {key: i for i, key in enumerate(roles(session.config))}
    rows = [dict(r) for r in session.store.query(_COMMITTEE + where, params)]
    for row in rows:
        row["role_name"] = role_name(session.config, row["role"])
    rows.sort(key=lambda r: (r["deal"], order.get(r["role"], len(order)), r["added_at"], r["id"]))
    return rows


def people_of_account(session: Session, account_id: str) -> list[dict[str, Any]]:
    """The account's contacts and everyone on its deals' committees, with their roles.

    Each person: number, name, title, e-mail, phone, account, ``roles`` (deal number,
    role key and display name, across the account's deals) and ``main_contact_of`` (the
    deals that name them as main contact).
    """
    people: dict[str, dict[str, Any]] = {}

    def person(row: Any) -> dict[str, Any]:
        return people.setdefault(
            row["id"],
            {
                "number": row["number"],
                "id": row["id"],
                "name": row["name"],
                "title": row["title"],
                "email": row["email"],
                "phone": row["phone"],
                "account": row["account"],
                "roles": [],
                "main_contact_of": [],
            },
        )

    base = (
        "SELECT c.*, a.name AS account FROM contacts c LEFT JOIN accounts a ON a.id ="
        " c.account_id WHERE c.deleted_at IS NULL"
    )
    for row in session.store.query(base + " AND c.account_id = ? ORDER BY c.number", (account_id,)):
        person(row)
    for row in session.store.query(
        "SELECT c.*, a.name AS account, d.number AS deal, dc.role FROM deal_contacts dc"
        " JOIN deals d ON d.id = dc.deal_id AND d.deleted_at IS NULL"
        " JOIN contacts c ON c.id = dc.contact_id AND c.deleted_at IS NULL"
        " LEFT JOIN accounts a ON a.id = c.account_id"
        " WHERE dc.deleted_at IS NULL AND d.account_id = ? ORDER BY d.number, dc.created_at",
        (account_id,),
    ):
        person(row)["roles"].append(
            {
                "deal": row["deal"],
                "role": row["role"],
                "role_name": role_name(session.config, row["role"]),
            }
        )
    for row in session.store.query(
        "SELECT c.*, a.name AS account, d.number AS deal FROM deals d"
        " JOIN contacts c ON c.id = d.contact_id AND c.deleted_at IS NULL"
        " LEFT JOIN accounts a ON a.id = c.account_id"
        " WHERE d.deleted_at IS NULL AND d.account_id = ? ORDER BY d.number",
        (account_id,),
    ):
        person(row)["main_contact_of"].append(row["deal"])
    return sorted(people.values(), key=lambda p: p["number"])


def deals_of_contact(session: Session, contact_id: str) -> list[dict[str, Any]]:
    """The deals a contact is on, by number: each with its roles and whether the contact
    is its main contact."""
    deals: dict[str, dict[str, Any]] = {}

    def deal(row: Any) -> dict[str, Any]:
        return deals.setdefault(
            row["id"],
            {
                "number": row["number"],
                "id": row["id"],
                "title": row["title"],
                "account": row["account"],
                "stage": row["stage"],
                "status": row["status"],
                "roles": [],
                "main_contact": False,
            },
        )

    for row in session.store.query(
        DEAL_VIEW + " AND d.contact_id = ? ORDER BY d.number", (contact_id,)
    ):
        deal(row)["main_contact"] = True
    for row in session.store.query(
        "SELECT v.*, dc.role FROM deal_contacts dc JOIN (" + DEAL_VIEW + ") v ON v.id = dc.deal_id"
        " WHERE dc.contact_id = ? AND dc.deleted_at IS NULL ORDER BY dc.created_at, dc.id",
        (contact_id,),
    ):
        deal(row)["roles"].append(
            {"role": row["role"], "role_name": role_name(session.config, row["role"])}
        )
    return sorted(deals.values(), key=lambda d: d["number"])


def _threshold(session: Session) -> dict[str, int]:
    """Per pipeline id, the position of the stage from which a decision maker is needed.

    A pipeline without that stage (key or display name) is not checked.
    """
    wanted = norm(decision_stage(session.config))
    found = {}
    for stage in Catalogue.load(session.store).stages:
        if stage.pipeline_id not in found and wanted in (norm(stage.key), norm(stage.name)):
            found[stage.pipeline_id] = stage.position
    return found


def _has_decider_sql() -> str:
    return (
        "EXISTS (SELECT 1 FROM deal_contacts dc JOIN contacts c ON c.id = dc.contact_id"
        " WHERE dc.deal_id = d.id AND dc.role = ? AND dc.deleted_at IS NULL"
        " AND c.deleted_at IS NULL)"
    )


def needs_decision_maker(session: Session, deal: sqlite3.Row) -> bool:
    """Whether this deal is flagged: open, at or past the stage, no decision maker."""
    threshold = _threshold(session).get(deal["pipeline_id"])
    if deal["status"] != "open" or threshold is None or deal["stage_position"] < threshold:
        return False
    row = session.store.one(
        "SELECT " + _has_decider_sql() + " FROM deals d WHERE d.id = ?",
        (decision_role(session.config), deal["id"]),
    )
    return row is not None and not row[0]


def missing_decision_maker(session: Session, owner: str | None = None) -> list[dict[str, Any]]:
    """Open deals at or past the configured stage with no decision maker recorded.

    Each is a deal as ``list`` shows it (number, id, title, account, stage, owner, …),
    by deal number; ``owner`` keeps one owner's deals.
    """
    thresholds = _threshold(session)
    if not thresholds:
        return []
    params: list[Any] = [decision_role(session.config)]
    owner_sql = ""
    if owner:
        owner_sql = " AND d.owner = ?"
        params.append(owner)
    rows = session.store.query(
        DEAL_VIEW
        + " AND d.status = 'open' AND NOT "
        + _has_decider_sql()
        + owner_sql
        + " ORDER BY d.number",
        params,
    )
    return [
        deal_row(r, session.today, session.zone)
        for r in rows
        if r["pipeline_id"] in thresholds and r["stage_position"] >= thresholds[r["pipeline_id"]]
    ]
