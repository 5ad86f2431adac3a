"""Accounts (companies): add, edit, the account view, duplicate detection and merging.

Names are matched by :func:`dealctl.text.company_key` (NFKC, case, spacing and the
株式会社 / (株) / ㈱ / Inc. variants), so one company typed several ways is one
account. Duplicates can still exist (a copy merged from another machine, an
account added with ``--force``); ``dupes`` finds them and ``merge`` joins them,
every change logged so that it can be undone.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections import defaultdict
from typing import Any

from dealctl import records
from dealctl.analytics import deal_row, weighted
from dealctl.deals import DEAL_VIEW, account_id_for, checked_text, next_number
from dealctl.deals import update as update_deal
from dealctl.errors import InvalidInput, NotFound, StateError
from dealctl.session import Session
from dealctl.storage import Store, new_id
from dealctl.text import company_key, norm, reference_number

_ID_PREFIX = re.compile(r"^[0-9a-f][0-9a-f-]{7,35}$")
_LIVE = "SELECT * FROM accounts WHERE deleted_at IS NULL"


def _label(row: Any) -> str:
    return f"{row['number']} {row['name']}"


def _merged_away(store: Store, number: int) -> sqlite3.Row | None:
    """Account ``number`` if it was merged into a live account, with ``into_*`` columns for
    the account it went into."""
    return store.one(
        "SELECT a.*, m.id AS into_id, m.number AS into_number, m.name AS into_name"
        " FROM accounts a JOIN accounts m ON m.id = a.merged_into_id"
        " WHERE a.number = ? AND a.deleted_at IS NOT NULL AND m.deleted_at IS NULL"
        " ORDER BY a.id LIMIT 1",
        (number,),
    )


def _by_number(store: Store, number: int) -> sqlite3.Row:
    if number < 10**18:
        row = store.one(_LIVE + " AND number = ? ORDER BY id LIMIT 1", (number,))
        if row is not None:
            return row
        gone = _merged_away(store, number)
        if gone is not None:
            raise NotFound(
                f"account #{number} {gone['name']} was merged into"
                f" #{gone['into_number']} {gone['into_name']}"
            )
    raise NotFound(f"no account #{number}")


def referenced(store: Store, ref: str) -> sqlite3.Row | None:
    """The account a reference names by number or id, or None when it is a name.

    ``#N`` and a bare ``N`` are account number N: an unknown number is an error (``no
    account #N``, exit 3), never a name. An id, or its first 8+ characters, names the one
    live account with that id; text that matches no id is a name.
    """
    number = reference_number(ref)
    if number is not None:
        return _by_number(store, number)
    text = ref.strip().lower()
    if _ID_PREFIX.match(text):
        rows = store.query(_LIVE + " AND id LIKE ?", (text + "%",))
        if len(rows) == 1:
            return rows[0]
    return None


def _find(store: Store, ref: str) -> tuple[sqlite3.Row, sqlite3.Row | None]:
    """The live account ``ref`` names, and the merged-away account that led to it (when a
    name merged away was given)."""
    text = checked_text(ref, "the account")
    if not text:
        raise InvalidInput("give an account: its number, id or name")
    row = referenced(store, text)
    if row is not None:
        return row, None
    key = company_key(text)
    rows = store.query(_LIVE + " AND name_key = ? ORDER BY number", (key,))
    exact = [r for r in rows if r["name"] == text]
    if len(rows) == 1 or len(exact) == 1:
        return (rows[0] if len(rows) == 1 else exact[0]), None
    if rows:
        listed = ", ".join(f"#{_label(r)}" for r in rows)
        raise InvalidInput(f"account {ref!r} is ambiguous ({listed}): give the number")
    gone = store.one(
        "SELECT * FROM accounts WHERE name_key = ? AND deleted_at IS NOT NULL"
        " AND merged_into_id IN (SELECT id FROM accounts WHERE deleted_at IS NULL)"
        " ORDER BY number LIMIT 1",
        (key,),
    )
    if gone is None:
        raise NotFound(f"no account {ref}")
    target = store.one(_LIVE + " AND id = ?", (gone["merged_into_id"],))
    assert target is not None
    return target, gone


def resolve(store: Store, ref: str) -> sqlite3.Row:
    """An account by number (``3``, ``#3``), id (or its first 8+ characters) or name.

    A number is exact: an unknown one is ``no account #N``, one merged away says where it
    went. A name is matched by its company key; among several accounts with the same key
    the exact spelling wins, otherwise the reference is ambiguous. A name that was merged
    away leads to the account it was merged into.
    """
    return _find(store, ref)[0]


def account_for(session: Session, text: str) -> str | None:
    """The account a person named with ``--account``: a number (``#3``, ``3``) or an id picks
    that account (an unknown number is an error); a name is matched as
    :func:`dealctl.deals.account_id_for` matches it, and created when new. Empty text means
    no account.
    """
    text = checked_text(text, "the account")
    if not text:
        return None
    row = referenced(session.store, text)
    if row is not None:
        return str(row["id"])
    return account_id_for(session, text)


def _same_name(store: Store, key: str, other_than: str | None = None) -> sqlite3.Row | None:
    return store.one(
        _LIVE + " AND name_key = ? AND id IS NOT ? ORDER BY number LIMIT 1", (key, other_than)
    )


def _name(text: str) -> str:
    name = checked_text(text, "the account name")
    if not name:
        raise InvalidInput("an account needs a name")
    return name


def _notes(text: str | None) -> str | None:
    return None if text is None else (checked_text(text, "the notes") or None)


def add(session: Session, name: str, notes: str | None = None, *, force: bool = False) -> int:
    """Create an account; returns its number.

    A name that matches an existing account is refused (naming it) unless ``force``:
    two companies may really share a name.
    """
    name = _name(name)
    key = company_key(name)
    existing = _same_name(session.store, key)
    if existing is not None and not force:
        raise StateError(
            f"account {_label(existing)} has that name already: use it, or pass --force"
            " to add another company of the same name"
        )
    number = next_number(session.store, "accounts")
    records.insert(
        session,
        "accounts",
        {
            "id": new_id(),
            "number": number,
            "name": name,
            "name_key": key,
            "notes": _notes(notes),
            "created_at": session.stamp,
            "updated_at": session.stamp,
        },
        name,
    )
    return number


def edit(
    session: Session,
    ref: str,
    name: str | None = None,
    notes: str | None = None,
    *,
    force: bool = False,
) -> list[str]:
    """Rename an account or change its notes; returns the changed fields."""
    row = resolve(session.store, ref)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = _name(name)
        values["name_key"] = company_key(values["name"])
        clash = _same_name(session.store, values["name_key"], row["id"])
        if clash is not None and not force:
            raise StateError(
                f"account {_label(clash)} has that name already: merge the two"
                f" (dealctl account merge {clash['number']} {row['number']}), or pass --force"
            )
    if notes is not None:
        values["notes"] = _notes(notes)
    changed = records.update(session, "accounts", row, values)
    return [c for c in changed if c != "name_key"]


_ACCOUNTS = """
SELECT number, id, name, name_key, notes, created_at, updated_at
FROM accounts WHERE deleted_at IS NULL ORDER BY number
"""
# Per account, in one pass over deals and one over contacts.
_DEAL_COUNTS = """
SELECT account_id, SUM(status = 'open') AS open_deals, SUM(status = 'won') AS won_deals,
       SUM(status = 'lost') AS lost_deals, MAX(last_contact_at) AS last_contact_at
FROM deals WHERE deleted_at IS NULL AND account_id IS NOT NULL GROUP BY account_id
"""
_CONTACT_COUNTS = """
SELECT account_id, COUNT(*) AS contacts FROM contacts
WHERE deleted_at IS NULL AND account_id IS NOT NULL GROUP BY account_id
"""
_NO_DEALS = {"open_deals": 0, "won_deals": 0, "lost_deals": 0, "last_contact_at": None}


def list_accounts(session: Session, search: str | None = None) -> list[dict[str, Any]]:
    """Every account with its deal and contact counts, by number; ``search`` in the name."""
    deals = {r["account_id"]: dict(r) for r in session.store.query(_DEAL_COUNTS)}
    contacts = {r["account_id"]: r["contacts"] for r in session.store.query(_CONTACT_COUNTS)}
    rows = []
    for account in session.store.query(_ACCOUNTS):
        counts = deals.get(account["id"], _NO_DEALS)
        rows.append(
            {
                **dict(account),
                **{k: counts[k] for k in _NO_DEALS},
                "contacts": contacts.get(account["id"], 0),
            }
        )
    if search:
        needle = norm(search)
        wanted = company_key(search)
        rows = [r for r in rows if needle in norm(r["name"]) or wanted in r["name_key"]]
    return rows


def loose_key(name: str) -> str:
    """The company key without any punctuation or symbol (``Acme-Systems`` = ``Acme Systems``)."""
    return "".join(
        c for c in company_key(name) if unicodedata.category(c)[0] not in ("P", "S", "Z")
    )


def dupes(session: Session) -> list[dict[str, Any]]:
    """Accounts that are likely the same company, in groups.

    Two accounts are grouped when their names give the same company key (``exact``), or
    the same key once punctuation and symbols are dropped too (``similar``). In each
    group the account with the most deals (then the lowest number) comes first: the one
    to merge the others into.
    """
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in list_accounts(session):
        row["key"] = company_key(row["name"])
        row["deals"] = row["open_deals"] + row["won_deals"] + row["lost_deals"]
        groups[loose_key(row["name"]) or row["key"]].append(row)
    found = [g for g in groups.values() if len(g) > 1]
    found.sort(key=lambda g: min(r["number"] for r in g))
    out: list[dict[str, Any]] = []
    for index, group in enumerate(found, start=1):
        group.sort(key=lambda r: (-r["deals"], r["number"]))
        match = "exact" if len({r["key"] for r in group}) == 1 else "similar"
        out.extend({**row, "group": index, "match": match} for row in group)
    return out


def merge(session: Session, target_ref: str, source_refs: list[str]) -> dict[str, Any]:
    """Move every deal and contact of each source account to the target; delete the sources.

    Each source is soft-deleted and remembers the target (``merged_into_id``), so its
    name keeps leading to the target. Every change is in the change log.
    """
    if not source_refs:
        raise InvalidInput("give the account to merge into the first one")
    target = resolve(session.store, target_ref)
    sources: list[sqlite3.Row] = []
    for ref in source_refs:
        number = reference_number(ref)
        gone = _merged_away(session.store, number) if number is not None else None
        if gone is None or gone["into_id"] != target["id"]:
            source, gone = _find(session.store, ref)
        else:
            source = target
        if source["id"] == target["id"]:
            if gone is not None:  # its number or name was merged into the target before
                raise StateError(
                    f"account #{_label(gone)} was merged into #{_label(target)} already"
                )
            raise InvalidInput(f"account {_label(source)} cannot be merged into itself")
        if all(s["id"] != source["id"] for s in sources):
            sources.append(source)
    moved_deals = moved_contacts = 0
    notes = target["notes"]
    for source in sources:
        for deal in session.store.query(
            "SELECT * FROM deals WHERE account_id = ? ORDER BY number", (source["id"],)
        ):
            update_deal(session, deal, {"account_id": target["id"]})
            moved_deals += deal["deleted_at"] is None
        for contact in session.store.query(
            "SELECT * FROM contacts WHERE account_id = ? ORDER BY number", (source["id"],)
        ):
            records.update(session, "contacts", contact, {"account_id": target["id"]})
            moved_contacts += contact["deleted_at"] is None
        for earlier in session.store.query(
            "SELECT * FROM accounts WHERE merged_into_id = ?", (source["id"],)
        ):
            records.update(session, "accounts", earlier, {"merged_into_id": target["id"]})
        if source["notes"] and source["notes"] not in (notes or ""):
            notes = f"{notes}\n{source['notes']}" if notes else source["notes"]
        records.update(
            session,
            "accounts",
            source,
            {"deleted_at": session.stamp, "merged_into_id": target["id"]},
        )
    records.update(session, "accounts", target, {"notes": notes})
    return {
        "number": target["number"],
        "name": target["name"],
        "merged": [_label(s) for s in sources],
        "deals": moved_deals,
        "contacts": moved_contacts,
    }


_STATUS_ORDER = "CASE d.status WHEN 'open' THEN 0 WHEN 'won' THEN 1 ELSE 2 END"


def view(session: Session, ref: str) -> dict[str, Any]:
    """The whole relationship with one company (アカウント営業).

    Every deal (open, won, lost) with its amount and next action; per currency the won
    total, the open amount and the weighted pipeline (Σ amount × probability in effect
    ÷ 100 over open deals, rounded once per currency); the contacts with their roles
    across deals; and the last contact.
    """
    from dealctl import qualification, stakeholders

    account = resolve(session.store, ref)
    rows = session.store.query(
        DEAL_VIEW + f" AND d.account_id = ? ORDER BY {_STATUS_ORDER}, d.number",
        (account["id"],),
    )
    scores = qualification.completeness(session, [r["id"] for r in rows])
    deals = []
    totals: dict[str, dict[str, int]] = {}
    products: dict[str, int] = defaultdict(int)
    for row in rows:
        item = deal_row(row, session.today, session.zone)
        is_open = row["status"] == "open"
        item["weighted_amount"] = (
            weighted(row["amount"], row["effective_probability"]) if is_open else None
        )
        item["qualification"], missing = scores[row["id"]]
        item["qualification_missing"] = qualification.missing_text(missing)
        deals.append(item)
        total = totals.setdefault(
            row["currency"],
            {
                "open_count": 0,
                "open_amount": 0,
                "weighted_amount": 0,
                "won_count": 0,
                "won_amount": 0,
                "lost_count": 0,
                "lost_amount": 0,
            },
        )
        total[f"{row['status']}_count"] += 1
        total[f"{row['status']}_amount"] += row["amount"] or 0
        if is_open:
            products[row["currency"]] += (row["amount"] or 0) * row["effective_probability"]
    for currency, total in totals.items():
        # weighted(x, 1) is x ÷ 100 rounded half up: one rounding per currency.
        total["weighted_amount"] = weighted(products[currency], 1)
    return {
        "number": account["number"],
        "id": account["id"],
        "name": account["name"],
        "notes": account["notes"],
        "created_at": account["created_at"],
        "updated_at": account["updated_at"],
        "totals": [{"currency": c, **t} for c, t in sorted(totals.items())],
        "deals": deals,
        "contacts": stakeholders.people_of_account(session, account["id"]),
        "last_contact": _last_contact(session, account["id"], deals),
    }


def _last_contact(
    session: Session, account_id: str, deals: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The latest follow-up on any of the account's deals.

    A deal imported with a last-contact moment but no follow-up rows still counts, as a
    contact without kind or text.
    """
    row = session.store.one(
        "SELECT ac.at, ac.kind, ac.text, d.number FROM activities ac"
        " JOIN deals d ON d.id = ac.deal_id"
        " WHERE d.account_id = ? AND ac.deleted_at IS NULL AND d.deleted_at IS NULL"
        " ORDER BY ac.at DESC, ac.id DESC LIMIT 1",
        (account_id,),
    )
    found = (
        {"at": row["at"], "deal": row["number"], "kind": row["kind"], "text": row["text"]}
        if row is not None
        else None
    )
    for deal in deals:
        at = deal["last_contact_at"]
        if at and (found is None or at > found["at"]):
            found = {"at": at, "deal": deal["number"], "kind": None, "text": None}
    return found
