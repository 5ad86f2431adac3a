"""Deals through their whole life: add, edit, advance, lose, close, reopen, log.

Every function here that writes runs inside the caller's transaction
(``Store.transaction``) and records what it changed in the change log, and
every stage or status move in ``stage_changes``.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dealctl import dates
from dealctl.catalogue import Catalogue, Stage
from dealctl.errors import InvalidInput, NotFound, StateError
from dealctl.money import currency_code, parse_amount
from dealctl.session import Session
from dealctl.storage import Store, new_id
from dealctl.text import company_key, email_key, norm

ACTIVITY_KINDS = ("call", "email", "meeting", "demo", "document", "note")
STATUSES = ("open", "won", "lost")

DEAL_VIEW = """
SELECT d.*, a.name AS account, c.name AS contact, p.key AS pipeline,
       s.key AS stage, s.name AS stage_name, s.position AS stage_position,
       s.probability AS stage_probability, s.rot_days AS rot_days,
       CASE d.status WHEN 'won' THEN 100 WHEN 'lost' THEN 0
            ELSE COALESCE(d.probability, s.probability) END AS effective_probability
FROM deals d
JOIN stages s ON s.id = d.stage_id
JOIN pipelines p ON p.id = d.pipeline_id
LEFT JOIN accounts a ON a.id = d.account_id
LEFT JOIN contacts c ON c.id = d.contact_id
WHERE d.deleted_at IS NULL
"""


@dataclass
class DealFields:
    """What a person typed for a deal; ``None`` means "not given"."""

    title: str | None = None
    account: str | None = None
    contact: str | None = None
    amount: str | None = None
    currency: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    close: str | None = None
    next_action: str | None = None
    due: str | None = None
    owner: str | None = None
    source: str | None = None
    probability: str | None = None
    purpose: str | None = None
    proposal: str | None = None
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    untags: list[str] = field(default_factory=list)


_CONTROL = {c for c in range(32) if c not in (9, 10)} | {127}


def checked_text(text: str, what: str) -> str:
    """User text with no control characters (they would reach terminals as escape codes)."""
    if any(ord(c) in _CONTROL for c in text):
        raise InvalidInput(f"{what} contains a control character: remove it")
    return text.strip()


def _clean(text: str | None, what: str = "text") -> str | None:
    """User text trimmed; empty means "clear"."""
    if text is None:
        return None
    return checked_text(text, what)


def parse_tags(values: Iterable[str]) -> list[str]:
    """Tags as typed: NFKC, trimmed; commas separate several in one value."""
    tags: list[str] = []
    for value in values:
        for part in checked_text(value, "a tag").split(","):
            tag = norm(part).replace(" ", "-")
            if tag and tag not in tags:
                tags.append(tag)
    return tags


def _probability(text: str) -> int | None:
    if text.strip() in ("", "stage", "auto"):
        return None
    raw = text.strip().rstrip("%")
    if not raw.isdecimal() or not 0 <= int(raw) <= 100:
        raise InvalidInput(f"invalid probability {text!r}: use a whole percent 0-100, or 'stage'")
    return int(raw)


def resolve(store: Store, ref: str) -> sqlite3.Row:
    """A deal by its short number or its id (or the start of its id, 8+ characters)."""
    text = ref.strip().lstrip("#")
    if text.isdecimal() and len(text) > 18:
        raise NotFound(f"no deal {ref}")
    if text.isdecimal():
        rows = store.query(DEAL_VIEW + " AND d.number = ?", (int(text),))
    elif len(text) >= 8:
        rows = store.query(DEAL_VIEW + " AND d.id LIKE ?", (text.lower() + "%",))
    else:
        raise InvalidInput(f"invalid deal {ref!r}: give its number (12) or its id")
    if not rows:
        raise NotFound(f"no deal {ref}")
    if len(rows) > 1:
        ids = ", ".join(r["id"] for r in rows)
        raise InvalidInput(f"deal {ref} is ambiguous ({ids}): give the id")
    return rows[0]


def next_number(store: Store, table: str) -> int:
    """The number a new row of ``table`` gets: one above every number used, deleted rows too."""
    row = store.one(f"SELECT COALESCE(MAX(number), 0) + 1 FROM {table}")
    assert row is not None
    return int(row[0])


def account_id_for(session: Session, name: str) -> str | None:
    """The account ``name`` refers to: a number (``#3``, ``3``) or an id picks that account
    (an unknown number is an error, never a new name); a name is matched after
    normalisation, created if new."""
    name = checked_text(name, "the account")
    if not name:
        return None
    from dealctl.accounts import referenced  # dealctl.accounts imports this module

    found = referenced(session.store, name)
    if found is not None:
        return str(found["id"])
    key = company_key(name)
    # Exact spelling first among same-key accounts; a name merged away (`account merge`)
    # leads to the account it was merged into.
    row = session.store.one(
        "SELECT COALESCE(m.id, a.id) AS id FROM accounts a"
        " LEFT JOIN accounts m ON m.id = a.merged_into_id AND m.deleted_at IS NULL"
        " WHERE a.name_key = ? AND (a.deleted_at IS NULL OR m.id IS NOT NULL)"
        " ORDER BY a.deleted_at IS NOT NULL, a.name = ? DESC, a.number LIMIT 1",
        (key, name),
    )
    if row is not None:
        return str(row["id"])
    account_id = new_id()
    number = next_number(session.store, "accounts")
    session.store.execute(
        "INSERT INTO accounts (id, number, name, name_key, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (account_id, number, name, key, session.stamp, session.stamp),
    )
    session.store.log_change("account", account_id, "created", None, name, session.stamp)
    return account_id


def contact_id_for(session: Session, text: str, account_id: str | None) -> str | None:
    """A contact by e-mail (when ``text`` has an @) or by name within the account.

    Created when new.
    """
    text = checked_text(text, "the contact")
    if not text:
        return None
    if "@" in (folded := unicodedata.normalize("NFKC", text)):  # ＠ too
        text = folded
        row = session.store.one(
            "SELECT id FROM contacts WHERE email_key = ? AND deleted_at IS NULL LIMIT 1",
            (email_key(text),),
        )
        name, email = text, text
    else:
        row = session.store.one(
            "SELECT id FROM contacts WHERE name_key = ? AND account_id IS ? AND deleted_at IS NULL"
            " LIMIT 1",
            (norm(text), account_id),
        )
        name, email = text, None
    if row is not None:
        return str(row["id"])
    contact_id = new_id()
    session.store.execute(
        "INSERT INTO contacts (id, number, account_id, name, name_key, email, email_key,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            contact_id,
            next_number(session.store, "contacts"),
            account_id,
            name,
            norm(name),
            email,
            email_key(email) if email else None,
            session.stamp,
            session.stamp,
        ),
    )
    session.store.log_change("contact", contact_id, "created", None, name, session.stamp)
    return contact_id


# A deal's latest live stage-change moment: what ``deals.moved_at`` holds (migration 0006)
# and analytics age open deals by. Commands that write stage history refresh it; undo and
# redo, which soft-delete and bring back history rows, leave it to the schema's trigger.
LAST_MOVE = (
    "(SELECT MAX(sc.at) FROM stage_changes sc WHERE sc.deal_id = deals.id"
    " AND sc.deleted_at IS NULL)"
)


def refresh_moved_at(store: Store, where: str, params: Sequence[Any]) -> None:
    """Set ``moved_at`` of the deals ``where`` selects (SQL from callers, never from input)
    from their stage history."""
    store.execute(f"UPDATE deals SET moved_at = {LAST_MOVE} WHERE {where}", params)


def record_stage_change(
    session: Session,
    deal_id: str,
    from_stage: str | None,
    to_stage: str,
    from_status: str | None,
    to_status: str,
    at: str | None = None,
) -> None:
    """One row of structured stage history (analytics read only this)."""
    session.store.execute(
        "INSERT INTO stage_changes (id, deal_id, from_stage_id, to_stage_id, from_status,"
        " to_status, at, command_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new_id(),
            deal_id,
            from_stage,
            to_stage,
            from_status,
            to_status,
            at or session.stamp,
            session.store.command_id,
        ),
    )
    refresh_moved_at(session.store, "id = ?", (deal_id,))


def _values(session: Session, fields: DealFields, deal: sqlite3.Row | None) -> dict[str, Any]:
    """Column values for what was given, parsed and checked; nothing is written here."""
    values: dict[str, Any] = {}
    if fields.title is not None:
        title = checked_text(fields.title, "the title")
        if not title:
            raise InvalidInput("a deal needs a title")
        values["title"] = title
    currency = deal["currency"] if deal is not None else session.config.currency
    if fields.currency is not None:
        currency = currency_code(fields.currency)
        values["currency"] = currency
    if fields.amount is not None:
        values["amount"] = parse_amount(fields.amount, currency) if fields.amount.strip() else None
    elif deal is not None and deal["amount"] is not None and currency != deal["currency"]:
        raise InvalidInput("changing the currency needs the amount too (--amount)")
    if fields.close is not None:
        values["close_date"] = (
            dates.parse_date(
                fields.close, session.today, what="close date", order=session.config.date_order
            ).isoformat()
            if fields.close.strip()
            else None
        )
    if fields.due is not None:
        values["next_due"] = (
            dates.parse_due(fields.due, session.now, session.config.date_order)
            if fields.due.strip()
            else None
        )
    for name in ("next_action", "owner", "source", "purpose", "proposal", "notes"):
        given = _clean(getattr(fields, name), name.replace("_", " "))
        if given is not None:
            values[name] = given or None
    if fields.probability is not None:
        values["probability"] = _probability(fields.probability)
    if fields.tags or fields.untags:
        current = [t for t in (deal["tags"] if deal is not None else "").split(",") if t]
        removed = set(parse_tags(fields.untags))
        tags = [t for t in current + parse_tags(fields.tags) if t not in removed]
        values["tags"] = ",".join(dict.fromkeys(tags))
    if "next_action" in values:
        action = values["next_action"]
        if action is None:
            values["next_due"] = None  # clearing the action clears its deadline
    else:
        action = deal["next_action"] if deal is not None else None
    if fields.due and not action:
        raise InvalidInput("a due date needs a next action: add --next TEXT")
    return values


def add(session: Session, fields: DealFields) -> int:
    """Create a deal; returns its number."""
    if not fields.title or not fields.title.strip():
        raise InvalidInput("a deal needs a title")
    catalogue = Catalogue.load(session.store)
    pipeline_id = catalogue.pipeline_id(fields.pipeline or session.config.default_pipeline)
    stage = (
        catalogue.find(pipeline_id, fields.stage) if fields.stage else catalogue.first(pipeline_id)
    )
    if stage.kind == "won":
        raise InvalidInput(f"a new deal cannot start at {stage.key}: add it, then close it")
    values = _values(session, fields, None)
    values.setdefault("currency", session.config.currency)
    values.setdefault("owner", session.config.owner)
    account_id = account_id_for(session, fields.account) if fields.account else None
    contact_id = contact_id_for(session, fields.contact, account_id) if fields.contact else None
    deal_id = new_id()
    number = next_number(session.store, "deals")
    row: dict[str, Any] = {
        "id": deal_id,
        "number": number,
        "account_id": account_id,
        "contact_id": contact_id,
        "pipeline_id": pipeline_id,
        "stage_id": stage.id,
        "status": "open",
        "tags": "",
        "created_at": session.stamp,
        "updated_at": session.stamp,
        **values,
    }
    insert(session, row, "created")
    for column, value in row.items():
        if column in _LOGGED and value not in (None, ""):
            session.store.log_change("deal", deal_id, column, None, value, session.stamp)
    record_stage_change(session, deal_id, None, stage.id, None, "open")
    return number


# Columns whose every change is written to the change log (and so shown by `history`).
_LOGGED = (
    "title",
    "account_id",
    "contact_id",
    "amount",
    "currency",
    "probability",
    "close_date",
    "next_action",
    "next_due",
    "owner",
    "source",
    "tags",
    "purpose",
    "proposal",
    "notes",
    "stage_id",
    "status",
    "lost_reason",
    "lost_note",
    "closed_at",
    "pipeline_id",
    "last_contact_at",
)


def insert(session: Session, row: dict[str, Any], how: str) -> None:
    """Insert one deal row (column names come from this module, never from input)."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    session.store.execute(f"INSERT INTO deals ({columns}) VALUES ({marks})", tuple(row.values()))
    session.store.log_change("deal", row["id"], how, None, f"#{row['number']}", session.stamp)


def update(session: Session, deal: sqlite3.Row, values: dict[str, Any]) -> list[str]:
    """Write changed columns of one deal, each logged; returns the changed column names.

    ``updated_at`` becomes the command's moment unless ``values`` gives it.
    """
    changed = {k: v for k, v in values.items() if deal[k] != v}
    if not changed:
        return []
    if "updated_at" not in values:
        changed["updated_at"] = session.stamp
    assignments = ", ".join(f"{column} = ?" for column in changed)
    session.store.execute(
        f"UPDATE deals SET {assignments} WHERE id = ?",
        (*changed.values(), deal["id"]),
    )
    for column, value in changed.items():
        if column in _LOGGED:
            session.store.log_change("deal", deal["id"], column, deal[column], value, session.stamp)
    return [c for c in changed if c != "updated_at"]


def edit(session: Session, ref: str, fields: DealFields) -> list[str]:
    """Change any fields of a deal; returns what changed."""
    deal = resolve(session.store, ref)
    values = _values(session, fields, deal)
    if fields.account is not None:
        values["account_id"] = account_id_for(session, fields.account)
    if fields.contact is not None:
        account = values.get("account_id", deal["account_id"])
        values["contact_id"] = contact_id_for(session, fields.contact, account)
    catalogue = Catalogue.load(session.store)
    if fields.pipeline is not None:
        pipeline_id = catalogue.pipeline_id(fields.pipeline)
        if pipeline_id != deal["pipeline_id"] and fields.stage is None:
            raise InvalidInput("moving a deal to another pipeline needs --stage too")
        values["pipeline_id"] = pipeline_id
    changed = update(session, deal, values)
    if fields.stage is not None:
        deal = resolve(session.store, ref)
        move(session, deal, catalogue.find(deal["pipeline_id"], fields.stage))
        changed.append("stage_id")
    # Reported by the option's name (`--account`), not the column's.
    return [c.removesuffix("_id") for c in changed]


def require_open(deal: sqlite3.Row) -> None:
    """Refuse to work on a closed deal, saying how to reopen it."""
    if deal["status"] != "open":
        raise StateError(
            f"deal {deal['number']} is {deal['status']}: reopen it first (dealctl reopen"
            f" {deal['number']})"
        )


def move(session: Session, deal: sqlite3.Row, stage: Stage) -> None:
    """Move an open deal to ``stage`` (forwards, backwards or to the won stage)."""
    require_open(deal)
    if stage.id == deal["stage_id"]:
        raise StateError(f"deal {deal['number']} is already at {stage.key}")
    status = "won" if stage.kind == "won" else "open"
    values: dict[str, Any] = {"stage_id": stage.id, "status": status}
    if status == "won":
        values.update(closed_at=session.stamp, close_date=session.today.isoformat())
    update(session, deal, values)
    record_stage_change(session, deal["id"], deal["stage_id"], stage.id, "open", status)


def advance(
    session: Session, ref: str, stage_name: str | None, next_action: str | None, due: str | None
) -> Stage:
    """To the next stage, or to a named one; optionally setting the next action."""
    deal = resolve(session.store, ref)
    catalogue = Catalogue.load(session.store)
    require_open(deal)
    current = catalogue.by_id[deal["stage_id"]]
    if stage_name:
        target = catalogue.find(deal["pipeline_id"], stage_name)
    elif current not in catalogue.stages:
        # Its old place among the configured stages would be a guess: ask for the stage.
        stages = ", ".join(s.key for s in catalogue.in_pipeline(deal["pipeline_id"]))
        raise StateError(
            f"deal {deal['number']} is at {current.key}, a stage no longer configured:"
            f" name the stage, dealctl advance {deal['number']} STAGE ({stages})"
        )
    else:
        following = catalogue.following(current)
        if following is None:
            raise StateError(f"deal {deal['number']} is at the last stage")
        target = following
    if target.kind == "won" and (next_action or due):
        raise InvalidInput(
            f"advancing deal {deal['number']} to {target.key} wins it, and a won deal has no"
            " next action: leave out --next and --due"
        )
    next_values = _values(session, DealFields(next_action=next_action, due=due), deal)
    move(session, deal, target)
    if target.kind == "won":
        next_values.update(next_action=None, next_due=None)
    if next_values:
        update(session, resolve(session.store, ref), next_values)
    return target


def lose(session: Session, ref: str, reason: str, note: str | None) -> str:
    """Mark an open deal lost with a configured reason; it keeps the stage it was lost from."""
    reasons = session.config.lost_reasons
    wanted = norm(reason)
    key = next((k for k, v in reasons.items() if wanted in (norm(k), norm(v))), None)
    if key is None:
        valid = ", ".join(f"{k} ({v})" for k, v in reasons.items())
        raise InvalidInput(f"unknown lost reason {reason!r}: use one of {valid}")
    deal = resolve(session.store, ref)
    require_open(deal)
    update(
        session,
        deal,
        {
            "status": "lost",
            "lost_reason": key,
            "lost_note": checked_text(note or "", "the note") or None,
            "closed_at": session.stamp,
            "next_action": None,
            "next_due": None,
        },
    )
    record_stage_change(session, deal["id"], deal["stage_id"], deal["stage_id"], "open", "lost")
    return key


def close(session: Session, ref: str, amount: str | None, on: str | None) -> None:
    """Mark an open deal won: it moves to its pipeline's won stage."""
    deal = resolve(session.store, ref)
    require_open(deal)
    values: dict[str, Any] = {}
    if amount is not None:
        values["amount"] = parse_amount(amount, deal["currency"])
    at = session.stamp
    if on is not None:
        day = dates.parse_date(
            on, session.today, what="close date", order=session.config.date_order
        )
        if day > session.today:
            raise InvalidInput(f"close date {on!r} is in the future: a won deal closed already")
        # The deal's last live move (moves taken back by undo do not count), or its creation.
        moments = [
            (dates.stored_moment(deal[field], deal["number"], field), deal[field])
            for field in ("created_at", "moved_at")
            if deal[field]
        ]
        last_moment, latest = max(moments, key=lambda pair: pair[0])
        since = last_moment.astimezone(session.zone).date()
        if day < since:
            raise InvalidInput(
                f"close date {on!r} is before deal {deal['number']}'s last stage change"
                f" ({since.isoformat()}): its history would run backwards"
            )
        values["close_date"] = day.isoformat()
        if day != session.today:
            # Noon of that day, or the last move itself when it came later that day: the
            # win never comes before the move that led to it.
            noon = f"{day.isoformat()}T12:00:00{session.stamp[19:]}"
            at = max(noon, latest, key=datetime.fromisoformat)
    else:
        values["close_date"] = session.today.isoformat()
    catalogue = Catalogue.load(session.store)
    won = catalogue.won(deal["pipeline_id"])
    values.update(stage_id=won.id, status="won", closed_at=at, next_action=None, next_due=None)
    update(session, deal, values)
    record_stage_change(session, deal["id"], deal["stage_id"], won.id, "open", "won", at)


def reopen(session: Session, ref: str, stage_name: str | None) -> Stage:
    """Back to open: a lost deal at the stage it was lost from, a won one where it was won from."""
    deal = resolve(session.store, ref)
    if deal["status"] == "open":
        raise StateError(f"deal {deal['number']} is already open")
    catalogue = Catalogue.load(session.store)
    if stage_name:
        stage = catalogue.find(deal["pipeline_id"], stage_name)
    elif deal["status"] == "lost":
        stage = catalogue.by_id[deal["stage_id"]]
    else:
        previous = session.store.one(
            "SELECT from_stage_id FROM stage_changes WHERE deal_id = ? AND to_status = 'won'"
            " AND deleted_at IS NULL ORDER BY at DESC, rowid DESC LIMIT 1",
            (deal["id"],),
        )
        stage_id = previous["from_stage_id"] if previous and previous["from_stage_id"] else None
        stage = (
            catalogue.by_id.get(stage_id or "") or catalogue.in_pipeline(deal["pipeline_id"])[-2]
        )
    if stage.kind == "won":
        raise InvalidInput(f"reopen to an open stage, not {stage.key}")
    values: dict[str, Any] = {
        "status": "open",
        "stage_id": stage.id,
        "lost_reason": None,
        "lost_note": None,
        "closed_at": None,
    }
    if deal["status"] == "won":
        # Winning set the close date to the day of the win; the expected close date it
        # replaced comes back, so an open deal is forecast by what was expected of it.
        expected = session.store.one(
            "SELECT old FROM changes WHERE entity = 'deal' AND entity_id = ?"
            " AND field = 'close_date' AND command_id = (SELECT command_id FROM changes"
            " WHERE entity = 'deal' AND entity_id = ? AND field = 'status' AND new = 'won'"
            " ORDER BY at DESC, rowid DESC LIMIT 1)",
            (deal["id"], deal["id"]),
        )
        if expected is not None:
            values["close_date"] = expected["old"]
    update(session, deal, values)
    record_stage_change(session, deal["id"], deal["stage_id"], stage.id, deal["status"], "open")
    return stage


def log(
    session: Session,
    ref: str,
    text: str,
    kind: str,
    at: str | None,
    next_action: str | None,
    due: str | None,
    clear_next: bool,
) -> None:
    """Record a follow-up; it updates the last contact and may set or clear the next action."""
    if kind not in ACTIVITY_KINDS:
        raise InvalidInput(f"unknown kind {kind!r}: use one of {', '.join(ACTIVITY_KINDS)}")
    if not checked_text(text, "the follow-up"):
        raise InvalidInput("a follow-up needs some text")
    if clear_next and (next_action or due):
        raise InvalidInput("--done clears the next action; do not give --next or --due with it")
    deal = resolve(session.store, ref)
    when = dates.parse_when(at, session.now, session.config.date_order) if at else session.now
    if when > session.now:
        raise InvalidInput(f"--at {at!r} is in the future: log what happened")
    stamp = dates.iso_now(when)
    values = _values(session, DealFields(next_action=next_action, due=due), deal)
    if clear_next:
        values.update(next_action=None, next_due=None)
    last = deal["last_contact_at"]  # compared as a moment: a damaged one stops the command
    if last is None or when.replace(microsecond=0) > dates.stored_moment(
        last, deal["number"], "last_contact_at"
    ):
        values["last_contact_at"] = stamp
    activity_id = new_id()
    session.store.execute(
        "INSERT INTO activities (id, deal_id, kind, at, text, created_at, command_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            activity_id,
            deal["id"],
            kind,
            stamp,
            text.strip(),
            session.stamp,
            session.store.command_id,
        ),
    )
    session.store.log_change("activity", activity_id, "created", None, kind, session.stamp)
    update(session, deal, values)


def select(
    store: Store, where: Sequence[str] = (), params: Sequence[Any] = (), order: str = "d.number"
) -> list[sqlite3.Row]:
    """Deals from the deal view with extra conditions (built by callers from an allow-list)."""
    sql = DEAL_VIEW + "".join(f" AND ({w})" for w in where) + f" ORDER BY {order}"
    return store.query(sql, params)
