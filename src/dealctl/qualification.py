"""Qualification (BANT): budget, authority, need and timing of a deal, and its score.

The score is how many of the four are known, 0–4:

- **budget**: an amount above 0 was recorded (``--budget unknown`` records that it was
  asked and is not known, which still counts as missing; a negative budget or one of 0 is
  refused);
- **authority**: who decides is recorded, as text, as a contact, or by a stakeholder
  in the decision role (``dealctl stakeholder add 12 山田 --role decision-maker``);
- **need**: what the customer needs, as text;
- **timing**: when they mean to buy, a date or a month.

One qualification row per deal, kept so by dealctl (no UNIQUE constraint); every
change is logged with its old and new value.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from datetime import date
from typing import Any

from dealctl import dates, records
from dealctl.contacts import is_email, label
from dealctl.contacts import resolve as resolve_contact
from dealctl.deals import checked_text, resolve
from dealctl.errors import InvalidInput
from dealctl.money import parse_amount
from dealctl.session import Session
from dealctl.stakeholders import decision_role, role_name
from dealctl.storage import new_id
from dealctl.text import norm, reference_number

PARTS = ("budget", "authority", "need", "timing")
UNKNOWN = ("unknown", "?", "不明", "未定")
_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
# Deals in one IN (...) list at most; beyond that every deal is read at once.
_MANY = 500


def parse_timing(text: str, today: date) -> str | None:
    """When the customer means to buy: ``YYYY-MM`` for a month (``2027-03``, ``2027/3``,
    ``2027年3月``), ``YYYY-MM-DD`` for any date ``dealctl`` understands; empty clears."""
    raw = unicodedata.normalize("NFKC", text).strip()
    if not raw:
        return None
    month = _MONTH.match(raw)
    if month:
        year, number = int(month[1]), int(month[2])
        if not 1 <= number <= 12:
            raise InvalidInput(f"invalid timing {text!r}: the month must be 1-12")
        return f"{year:04d}-{number:02d}"
    try:
        return dates.parse_date(raw, today, what="timing").isoformat()
    except InvalidInput:
        raise InvalidInput(
            f"invalid timing {text!r}: give a month (2027-03, 2027年3月) or a date"
            " (2027-03-15, eoq, +2m)"
        ) from None


def _budget(text: str, currency: str) -> int:
    """A budget amount: above 0 (a budget not known is ``--budget unknown``)."""
    amount = parse_amount(text, currency)
    if amount < 0:
        raise InvalidInput(f"invalid budget {text!r}: a budget cannot be negative")
    if amount == 0:
        raise InvalidInput(
            f"invalid budget {text!r}: a budget of 0 is no budget;"
            " use --budget unknown when it is not known"
        )
    return amount


def _current(session: Session, deal_id: str) -> sqlite3.Row | None:
    return session.store.one(
        "SELECT * FROM qualifications WHERE deal_id = ? AND deleted_at IS NULL"
        " ORDER BY updated_at DESC, id DESC LIMIT 1",
        (deal_id,),
    )


def _authority_contact(session: Session, deal: sqlite3.Row, text: str) -> sqlite3.Row | None:
    """The contact meant by ``--authority``: a number or e-mail names one; a name is a
    contact only when a stakeholder of this deal has it. Anything else is free text."""
    if reference_number(text) is not None or is_email(text):
        return resolve_contact(session.store, text)
    for row in session.store.query(
        "SELECT c.* FROM deal_contacts dc JOIN contacts c ON c.id = dc.contact_id"
        " WHERE dc.deal_id = ? AND dc.deleted_at IS NULL AND c.deleted_at IS NULL"
        " AND c.name_key = ? ORDER BY c.number LIMIT 1",
        (deal["id"], norm(text)),
    ):
        return row
    return None


def qualify(
    session: Session,
    ref: str,
    *,
    budget: str | None = None,
    authority: str | None = None,
    need: str | None = None,
    timing: str | None = None,
) -> dict[str, Any]:
    """Record any of B, A, N, T for a deal (empty text clears one); returns the result."""
    deal = resolve(session.store, ref)
    values: dict[str, Any] = {}
    if budget is not None:
        raw = checked_text(budget, "the budget")
        if not raw:
            values.update(budget_status=None, budget=None, budget_currency=None)
        elif norm(raw) in UNKNOWN:
            values.update(budget_status="unknown", budget=None, budget_currency=None)
        else:
            amount = _budget(raw, deal["currency"])
            values.update(budget_status="known", budget=amount, budget_currency=deal["currency"])
    if authority is not None:
        text = checked_text(authority, "the authority")
        contact = _authority_contact(session, deal, text) if text else None
        values["authority_contact_id"] = contact["id"] if contact is not None else None
        values["authority"] = text if text and contact is None else None
    if need is not None:
        values["need"] = checked_text(need, "the need") or None
    if timing is not None:
        values["timing"] = parse_timing(checked_text(timing, "the timing"), session.today)
    if not values:
        return of_deal(session, deal)
    row = _current(session, deal["id"])
    if row is None:
        records.insert(
            session,
            "qualifications",
            {
                "id": new_id(),
                "deal_id": deal["id"],
                **dict.fromkeys(("budget_status", "budget", "budget_currency", "authority"), None),
                **dict.fromkeys(("authority_contact_id", "need", "timing"), None),
                "created_at": session.stamp,
                "updated_at": session.stamp,
                "command_id": session.store.command_id,
            },
            f"#{deal['number']}",
        )
        row = _current(session, deal["id"])
    records.update(session, "qualifications", row, values)
    return of_deal(session, deal)


_STATE = """
SELECT d.id, q.budget_status, q.budget, q.authority, q.need, q.timing,
       q.authority_contact_id IS NOT NULL AND EXISTS (
           SELECT 1 FROM contacts c WHERE c.id = q.authority_contact_id
           AND c.deleted_at IS NULL) AS authority_contact,
       EXISTS (SELECT 1 FROM deal_contacts dc JOIN contacts c ON c.id = dc.contact_id
               WHERE dc.deal_id = d.id AND dc.role = ? AND dc.deleted_at IS NULL
               AND c.deleted_at IS NULL) AS decider
FROM deals d
LEFT JOIN qualifications q ON q.id = (
    SELECT id FROM qualifications WHERE deal_id = d.id AND deleted_at IS NULL
    ORDER BY updated_at DESC, id DESC LIMIT 1)
WHERE d.deleted_at IS NULL
"""


def _missing(row: Any) -> list[str]:
    known = {
        # A budget of 0 or below (refused since; an older book may have one) is not known.
        "budget": row["budget_status"] == "known" and (row["budget"] or 0) > 0,
        "authority": bool(row["authority"] or row["authority_contact"] or row["decider"]),
        "need": bool(row["need"]),
        "timing": bool(row["timing"]),
    }
    return [part for part in PARTS if not known[part]]


def completeness(
    session: Session, deal_ids: list[str] | None = None, *, open_only: bool = False
) -> dict[str, tuple[int, list[str]]]:
    """Deal id -> (score 0–4, the parts missing) for the given deals (default: every deal)."""
    sql = _STATE + (" AND d.status = 'open'" if open_only else "")
    params: list[Any] = [decision_role(session.config)]
    if deal_ids is not None and len(deal_ids) <= _MANY:
        if not deal_ids:
            return {}
        sql += f" AND d.id IN ({', '.join('?' for _ in deal_ids)})"
        params.extend(deal_ids)
    out = {}
    for row in session.store.iterate(sql, params):
        missing = _missing(row)
        out[row["id"]] = (len(PARTS) - len(missing), missing)
    return out


def missing_text(missing: list[str]) -> str:
    """The parts missing as ``list`` prints them: ``authority,timing``; empty when none."""
    return ",".join(missing)


def short_text(score: int, missing: str) -> str:
    """The score for a table cell, from the score and :func:`missing_text`: ``4/4``,
    ``3/4 −T``, ``1/4 −ANT`` (the initials of the parts missing)."""
    initials = "".join(part[0].upper() for part in missing.split(",") if part)
    return f"{score}/{len(PARTS)}" + (f" −{initials}" if initials else "")


def scores(session: Session) -> dict[str, int]:
    """Deal id -> BANT completeness 0–4, for every open deal."""
    return {k: v[0] for k, v in completeness(session, open_only=True).items()}


def of_deal(session: Session, deal: sqlite3.Row) -> dict[str, Any]:
    """A deal's qualification as shown on its card: each part, the score, what is missing."""
    score, missing = completeness(session, [deal["id"]])[deal["id"]]
    row = _current(session, deal["id"])
    contact = None
    if row is not None and row["authority_contact_id"]:
        found = session.store.one(
            "SELECT number, name FROM contacts WHERE id = ? AND deleted_at IS NULL",
            (row["authority_contact_id"],),
        )
        contact = label(found) if found is not None else None
    deciders = [
        f"{label(r)}"
        for r in session.store.query(
            "SELECT c.number, c.name FROM deal_contacts dc JOIN contacts c ON c.id = dc.contact_id"
            " WHERE dc.deal_id = ? AND dc.role = ? AND dc.deleted_at IS NULL"
            " AND c.deleted_at IS NULL ORDER BY dc.created_at, dc.id",
            (deal["id"], decision_role(session.config)),
        )
    ]
    return {
        "score": score,
        "missing": missing,
        "budget_status": row["budget_status"] if row is not None else None,
        "budget": row["budget"] if row is not None else None,
        "budget_currency": row["budget_currency"] if row is not None else None,
        "authority": row["authority"] if row is not None else None,
        "authority_contact": contact,
        "decision_makers": deciders,
        "decision_role": role_name(session.config, decision_role(session.config)),
        "need": row["need"] if row is not None else None,
        "timing": row["timing"] if row is not None else None,
    }
