"""Read-side views of deals: the filtered list, the deal card and timeline, history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dealctl.analytics import deal_row
from dealctl.catalogue import Catalogue
from dealctl.deals import STATUSES, resolve, select
from dealctl.errors import InvalidInput
from dealctl.session import Session
from dealctl.text import company_key, norm

# --sort names -> SQL; only these ever reach the query text.
SORTS = {
    "number": "d.number",
    "due": "d.next_due IS NULL, d.next_due, d.number",
    "amount": "d.amount IS NULL, d.currency, d.amount DESC, d.number",  # never across currencies
    "close": "d.close_date IS NULL, d.close_date, d.number",
    "created": "d.created_at, d.number",
    "updated": "d.updated_at DESC, d.number",
    "stage": "p.position, s.position, d.number",
    "title": "d.title, d.number",
}


@dataclass
class ListFilter:
    """What ``dealctl list`` was asked to show."""

    status: str = "open"
    stage: str | None = None
    account: str | None = None
    owner: str | None = None
    tag: str | None = None
    search: str | None = None
    sort: str = "number"


def list_deals(session: Session, spec: ListFilter) -> list[dict[str, Any]]:
    """Deals matching the filter, in the asked order."""
    where: list[str] = []
    params: list[Any] = []
    if spec.status != "all":
        if spec.status not in STATUSES:
            raise InvalidInput(f"invalid --status {spec.status!r}: use open, won, lost or all")
        where.append("d.status = ?")
        params.append(spec.status)
    if spec.sort not in SORTS:
        raise InvalidInput(f"invalid --sort {spec.sort!r}: use one of {', '.join(SORTS)}")
    if spec.stage:
        wanted = norm(spec.stage)
        stage_ids = [
            s.id
            for s in Catalogue.load(session.store).stages
            if wanted in (norm(s.key), norm(s.name))
        ]
        if not stage_ids:
            raise InvalidInput(f"unknown stage {spec.stage!r}")
        where.append(f"d.stage_id IN ({', '.join('?' for _ in stage_ids)})")
        params.extend(stage_ids)
    if spec.account:
        from dealctl.accounts import referenced

        account = referenced(session.store, spec.account)  # #3 and 3 are account 3
        if account is not None:
            where.append("d.account_id = ?")
            params.append(account["id"])
        else:
            where.append("a.name_key = ?")
            params.append(company_key(spec.account))
    if spec.owner and spec.owner.strip():
        from dealctl.analytics import check_owner

        check_owner(session, spec.owner.strip())  # a typo is an error, as in every report
        where.append("d.owner = ?")
        params.append(spec.owner.strip())
    if spec.tag:
        where.append("(',' || d.tags || ',') LIKE ?")
        params.append(f"%,{norm(spec.tag)},%")
    rows = select(session.store, where, params, SORTS[spec.sort])
    out = [deal_row(r, session.today, session.zone) for r in rows]
    if spec.search:
        needle = norm(spec.search)
        fields = ("title", "account", "contact", "next_action", "tags", "source")
        out = [r for r in out if any(needle in norm(str(r[f] or "")) for f in fields)]
    return out


def _names(session: Session) -> dict[str, str]:
    """Display names for ids found in the change log (stages, accounts, contacts, pipelines)."""
    names = {i: s.key for i, s in Catalogue.load(session.store).by_id.items()}
    for table in ("accounts", "contacts", "pipelines"):
        column = "key" if table == "pipelines" else "name"
        for row in session.store.query(f"SELECT id, {column} AS label FROM {table}"):
            names[row["id"]] = row["label"]
    return names


def history(session: Session, ref: str | None) -> list[dict[str, Any]]:
    """What changed, when, from what to what, and who ran the command: one deal, or the
    whole book."""
    params: list[Any] = []
    where = ""
    if ref is not None:
        deal = resolve(session.store, ref)
        where = (
            " AND (ch.entity_id = ?"
            " OR ch.entity_id IN (SELECT id FROM activities WHERE deal_id = ?))"
        )
        params = [deal["id"], deal["id"]]
    rows = session.store.query(
        "SELECT ch.at, ch.entity, ch.entity_id, ch.field, ch.old, ch.new, cm.name AS command,"
        " cm.actor,"
        " COALESCE(d.number, ad.number) AS number"
        " FROM changes ch LEFT JOIN commands cm ON cm.id = ch.command_id"
        " LEFT JOIN deals d ON d.id = ch.entity_id"
        " LEFT JOIN activities ac ON ac.id = ch.entity_id"
        " LEFT JOIN deals ad ON ad.id = ac.deal_id"
        " WHERE 1 = 1" + where + " ORDER BY ch.at, ch.rowid",
        params,
    )
    names = _names(session)
    out = []
    for row in rows:
        field = row["field"].removesuffix("_id") if row["field"].endswith("_id") else row["field"]
        out.append(
            {
                "at": row["at"],
                "command": row["command"],
                "entity": row["entity"],
                "number": row["number"],
                "field": field,
                "old": names.get(row["old"] or "", row["old"]),
                "new": names.get(row["new"] or "", row["new"]),
                "by": row["actor"],  # None for commands recorded before migration 0004
            }
        )
    return out


def timeline(session: Session, deal_id: str) -> list[dict[str, Any]]:
    """Stage moves and follow-ups of one deal, oldest first."""
    names = {i: s.key for i, s in Catalogue.load(session.store).by_id.items()}
    events: list[dict[str, Any]] = []
    for row in session.store.query(
        "SELECT * FROM stage_changes WHERE deal_id = ? AND deleted_at IS NULL ORDER BY at, rowid",
        (deal_id,),
    ):
        to_stage = names.get(row["to_stage_id"], "?")
        if row["from_status"] is None:
            text = f"created at {to_stage}"
        elif row["to_status"] != row["from_status"]:
            text = f"{row['from_status']} → {row['to_status']} ({to_stage})"
        else:
            text = f"{names.get(row['from_stage_id'], '?')} → {to_stage}"
        events.append({"at": row["at"], "kind": "stage", "text": text, "id": row["id"]})
    for row in session.store.query(
        "SELECT id, at, kind, text FROM activities WHERE deal_id = ? AND deleted_at IS NULL"
        " ORDER BY at, rowid",
        (deal_id,),
    ):
        events.append({"at": row["at"], "kind": row["kind"], "text": row["text"], "id": row["id"]})
    # Edits other than stage moves (shown above), each with its old and new value.
    edits = session.store.query(
        "SELECT ch.id, ch.at, ch.field, ch.old, ch.new FROM changes ch"
        " JOIN commands cm ON cm.id = ch.command_id"
        " WHERE ch.entity_id = ? AND cm.name NOT IN ('add', 'import')"
        " AND ch.field NOT IN ('stage_id', 'status', 'closed_at', 'last_contact_at', 'updated_at')"
        " ORDER BY ch.at, ch.rowid",
        (deal_id,),
    )
    if edits:
        labels = _names(session)
        for row in edits:
            old = labels.get(row["old"] or "", row["old"]) or "—"
            new = labels.get(row["new"] or "", row["new"]) or "—"
            field = row["field"].removesuffix("_id")
            events.append(
                {
                    "at": row["at"],
                    "kind": "edit",
                    "text": f"{field}: {old} → {new}",
                    "id": row["id"],
                }
            )
    # Ids are UUID v7: within one moment they keep the order things were recorded in.
    events.sort(key=lambda e: (e["at"], e["id"]))
    return events
