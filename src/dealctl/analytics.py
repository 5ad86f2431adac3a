"""Reports computed from structured data: due list, pipeline, funnel.

Definitions are written out in ``docs/analytics.md``; every figure here follows
from them and from the ``deals`` and ``stage_changes`` tables, never from text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dealctl import dates
from dealctl.catalogue import Catalogue, Stage
from dealctl.deals import DEAL_VIEW
from dealctl.errors import InvalidInput
from dealctl.session import Session


def _half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero (weighted amounts)."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def weighted(amount: int | None, probability: int) -> int:
    """amount × probability, in minor units, rounded half up."""
    return 0 if amount is None else _half_up(amount * probability, 100)


def deal_row(row: Any, today: date, zone: Any) -> dict[str, Any]:
    """A deal as the listing commands show it (the documented ``list`` columns)."""
    due = row["next_due"]
    due_day = dates.due_date(due, zone) if due else None
    return {
        "number": row["number"],
        "id": row["id"],
        "title": row["title"],
        "account": row["account"],
        "contact": row["contact"],
        "pipeline": row["pipeline"],
        "stage": row["stage"],
        "stage_name": row["stage_name"],
        "status": row["status"],
        "amount": row["amount"],
        "currency": row["currency"],
        "probability": row["effective_probability"],
        "close_date": row["close_date"],
        "next_action": row["next_action"],
        "next_due": due,
        "days_overdue": (today - due_day).days if due_day and row["status"] == "open" else None,
        "owner": row["owner"],
        "tags": row["tags"],
        "source": row["source"],
        "lost_reason": row["lost_reason"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "last_contact_at": row["last_contact_at"],
    }


@dataclass
class DueList:
    """Open deals by next-action deadline, and open deals with no next action."""

    due: list[dict[str, Any]]
    missing: list[dict[str, Any]]


def due(session: Session, *, only: str | None, within: int, owner: str | None) -> DueList:
    """Next actions due by today + ``within`` days; ``only`` is 'overdue' or 'today'."""
    today = session.today
    horizon = today + timedelta(days=within)
    # Stored values are local dates or local date-times; one extra day of margin
    # covers a date-time written with another offset, then the exact local date decides.
    limit = (horizon + timedelta(days=2)).isoformat()
    params: list[Any] = [limit]
    owner_sql = ""
    if owner:
        owner_sql = " AND d.owner = ?"
        params.append(owner)
    rows = session.store.query(
        DEAL_VIEW
        + " AND d.status = 'open' AND d.next_due IS NOT NULL AND d.next_due < ?"
        + owner_sql
        + " ORDER BY d.next_due, d.number",
        params,
    )
    listed = []
    for row in rows:
        item = deal_row(row, today, session.zone)
        overdue = item["days_overdue"]
        if only == "overdue" and overdue <= 0:
            continue
        if only == "today" and overdue != 0:
            continue
        if overdue < -within:
            continue
        listed.append(item)
    listed.sort(key=lambda r: (-r["days_overdue"], r["next_due"], r["number"]))
    missing_rows = session.store.query(
        DEAL_VIEW
        + " AND d.status = 'open' AND (d.next_action IS NULL OR d.next_due IS NULL)"
        + owner_sql
        + " ORDER BY d.number",
        params[1:],
    )
    return DueList(listed, [deal_row(r, today, session.zone) for r in missing_rows])


def _pipeline_stages(session: Session, pipeline: str | None) -> tuple[Catalogue, list[Stage]]:
    catalogue = Catalogue.load(session.store)
    if not catalogue.stages:
        return catalogue, []
    pipeline_id = catalogue.pipeline_id(pipeline or session.config.default_pipeline)
    return catalogue, catalogue.in_pipeline(pipeline_id)


def idle_days(row: Any, today: date) -> int:
    """Days since the latest of: last follow-up, last stage change, creation."""
    latest = max(t for t in (row["last_contact_at"], row["moved_at"], row["created_at"]) if t)
    return (today - date.fromisoformat(latest[:10])).days


def open_deals(
    session: Session, where: str = "", params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """Open deals with what analytics derive for each: ``idle_days``, ``stale``, ``rot_days``,
    ``days_in_stage``, ``weighted_amount`` and ``slipped`` (expected close date passed).

    ``where`` is an extra SQL condition on the deal view (built by callers, never from input).
    """
    rows = session.store.query(
        "SELECT v.*, (SELECT MAX(at) FROM stage_changes sc WHERE sc.deal_id = v.id"
        " AND sc.deleted_at IS NULL) AS moved_at FROM ("
        + DEAL_VIEW
        + " AND d.status = 'open'"
        + (f" AND ({where})" if where else "")
        + ") v ORDER BY v.stage_position, v.number",
        params,
    )
    today = session.today
    deals = []
    for row in rows:
        item = deal_row(row, today, session.zone)
        idle = idle_days(row, today)
        item.update(
            stage_id=row["stage_id"],
            rot_days=row["rot_days"],
            days_in_stage=(today - date.fromisoformat(row["moved_at"][:10])).days,
            idle_days=idle,
            stale=row["rot_days"] is not None and idle > row["rot_days"],
            slipped=row["close_date"] is not None and row["close_date"] < today.isoformat(),
            weighted_amount=weighted(row["amount"], row["effective_probability"]),
        )
        deals.append(item)
    return deals


def _owner(owner: str | None) -> tuple[str, list[Any]]:
    return ("d.owner = ?", [owner]) if owner else ("", [])


def stale(session: Session, owner: str | None = None) -> list[dict[str, Any]]:
    """Open deals idle longer than their stage's rot days, longest idle first."""
    rows = [d for d in open_deals(session, *_owner(owner)) if d["stale"]]
    return sorted(rows, key=lambda d: (-d["idle_days"], d["number"]))


def slipped(session: Session, owner: str | None = None) -> list[dict[str, Any]]:
    """Open deals whose expected close date has passed, oldest first."""
    rows = [d for d in open_deals(session, *_owner(owner)) if d["slipped"]]
    return sorted(rows, key=lambda d: (d["close_date"], d["number"]))


def weighted_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Weighted amount per currency of some deals (never adding currencies together)."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["currency"]] += row["weighted_amount"]
    return dict(sorted(totals.items()))


def pipeline(
    session: Session, pipeline_key: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per open stage and currency: count, amount, weighted amount, stale count.

    Returns (stage rows, deal rows); deal rows carry ``days_in_stage`` and ``idle_days``.
    """
    _, stages = _pipeline_stages(session, pipeline_key)
    open_stages = [s for s in stages if s.kind == "open"]
    if not open_stages:
        return [], []
    marks = ", ".join("?" for _ in open_stages)
    deals = open_deals(session, f"d.stage_id IN ({marks})", [s.id for s in open_stages])
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for row in deals:
        bucket = totals.setdefault(
            (row["stage_id"], row["currency"]),
            {"count": 0, "amount": 0, "weighted": 0, "stale": 0},
        )
        bucket["count"] += 1
        bucket["amount"] += row["amount"] or 0
        bucket["weighted"] += (row["amount"] or 0) * row["probability"]
        bucket["stale"] += row["stale"]
    currencies = sorted({c for _, c in totals}) or [session.config.currency]
    out = []
    for stage in open_stages:
        for currency in currencies:
            found = totals.get((stage.id, currency))
            if found is None and len(currencies) > 1:
                continue
            bucket = found or {"count": 0, "amount": 0, "weighted": 0, "stale": 0}
            out.append(
                {
                    "pipeline": stage.pipeline_key,
                    "stage": stage.key,
                    "stage_name": stage.name,
                    "probability": stage.probability,
                    "currency": currency,
                    "count": bucket["count"],
                    "amount": bucket["amount"],
                    "weighted_amount": _half_up(bucket["weighted"], 100),
                    "stale": bucket["stale"],
                }
            )
    return out, deals


def totals_by_currency(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sum count, amount and weighted amount per currency (never across currencies)."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "amount": 0, "weighted": 0})
    for row in rows:
        total = sums[row["currency"]]
        total["count"] += row["count"]
        total["amount"] += row["amount"]
        total["weighted"] += row["weighted_amount"]
    return [
        {
            "currency": c,
            "count": t["count"],
            "amount": t["amount"],
            "weighted_amount": t["weighted"],
        }
        for c, t in sorted(sums.items())
    ]


@dataclass
class Funnel:
    """Per-stage funnel rows and the overall outcome counts."""

    rows: list[dict[str, Any]]
    won: int
    lost: int
    open: int

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return None if closed == 0 else self.won / closed


def funnel(session: Session, pipeline_key: str | None) -> Funnel:
    """Reached / moved on / lost from / conversion per stage, from ``stage_changes``.

    A deal reached stage k if it ever entered k or a later stage. A deal counts
    once, by its current outcome: only deals that are won now reach the won stage.
    """
    _, stages = _pipeline_stages(session, pipeline_key)
    if not stages:
        return Funnel([], 0, 0, 0)
    won_stage = next(s for s in stages if s.kind == "won")
    last_open = max(s.position for s in stages if s.kind == "open")
    rows = session.store.query(
        "SELECT d.id, d.status, d.stage_id, MAX(st.position) AS reached"
        " FROM deals d JOIN stage_changes sc ON sc.deal_id = d.id AND sc.deleted_at IS NULL"
        " JOIN stages st ON st.id = sc.to_stage_id"
        " WHERE d.deleted_at IS NULL AND d.pipeline_id = ? GROUP BY d.id",
        (won_stage.pipeline_id,),
    )
    reached: dict[int, int] = defaultdict(int)
    lost_from: dict[str, int] = defaultdict(int)
    counts = {"open": 0, "won": 0, "lost": 0}
    for row in rows:
        counts[row["status"]] += 1
        won = row["status"] == "won"
        reached[won_stage.position if won else min(row["reached"], last_open)] += 1
        if row["status"] == "lost":
            lost_from[row["stage_id"]] += 1
    out = []
    for index, stage in enumerate(stages):
        entered = sum(n for pos, n in reached.items() if pos >= stage.position)
        following = stages[index + 1] if index + 1 < len(stages) else None
        moved = (
            sum(n for pos, n in reached.items() if pos >= following.position) if following else None
        )
        out.append(
            {
                "pipeline": stage.pipeline_key,
                "stage": stage.key,
                "stage_name": stage.name,
                "reached": entered,
                "moved_on": moved,
                "lost": lost_from.get(stage.id, 0),
                "conversion_pct": (
                    None if moved is None or entered == 0 else round(100 * moved / entered, 1)
                ),
            }
        )
    return Funnel(out, counts["won"], counts["lost"], counts["open"])


def parse_within(text: str) -> int:
    """``7d`` / ``2w`` / ``7`` -> a number of days."""
    raw = text.strip().lower()
    factor = 7 if raw.endswith("w") else 1
    digits = raw.rstrip("dw")
    if not digits.isdigit():
        raise InvalidInput(f"invalid --within {text!r}: use a number of days such as 7d or 2w")
    return int(digits) * factor
