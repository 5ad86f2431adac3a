"""What to work on next: a priority score per open deal, in the spirit of Taskwarrior's urgency.

score = Σ coefficient × term, over the terms in :data:`TERMS`. Each term is a number from 0
to 1 computed from the deal's structured fields; the coefficients (and the ends of the due
ramp) come from the ``[priority]`` table of the configuration. ``docs/analytics.md#priority``
defines every term; :func:`breakdown` explains one deal's score term by term.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

from dealctl import analytics
from dealctl.config import Config
from dealctl.money import format_amount
from dealctl.session import Session
from dealctl.text import counted

TERMS = ("due", "probability", "size", "stale", "no_next_action", "qualification", "hot")
HOT_TAG = "hot"
# Orders of magnitude below the largest open amount over which the size term falls to 0.
SIZE_DECADES = 3


@dataclass(frozen=True)
class Weights:
    """Coefficients per term and the due ramp's ends, from ``[priority]``."""

    coefficients: dict[str, float]
    due_far_days: int
    due_overdue_days: int

    @classmethod
    def from_config(cls, config: Config) -> Weights:
        table = config.priority
        return cls(
            coefficients={term: table[term] for term in TERMS},
            due_far_days=int(table["due_far_days"]),
            due_overdue_days=int(table["due_overdue_days"]),
        )


def due_term(days_overdue: int | None, far: int, overdue: int) -> float:
    """0 when due ``far`` or more days ahead (or no due date), rising in a straight line to 1
    at ``overdue`` days late, and 1 beyond."""
    if days_overdue is None:
        return 0.0
    span = far + overdue
    if span == 0:
        return 1.0 if days_overdue >= 0 else 0.0
    return min(1.0, max(0.0, (days_overdue + far) / span))


def size_term(amount: int | None, largest: int | None) -> float:
    """Log-scaled size against the largest open amount in the deal's currency: 1 for the
    largest, 2/3 for a tenth of it, 1/3 for a hundredth, 0 for a thousandth or less."""
    if not amount or amount <= 0 or not largest or largest <= 0:
        return 0.0
    return min(1.0, max(0.0, 1 + math.log10(amount / largest) / SIZE_DECADES))


def qualification_scores(session: Session) -> dict[str, int] | None:
    """BANT completeness (0-4) per deal id, or None when this build records no qualification."""
    try:
        module = importlib.import_module("dealctl.qualification")
    except ImportError:
        return None
    scores = getattr(module, "scores", None)
    if scores is None:
        return None
    return dict(scores(session))


def largest_amounts(session: Session) -> dict[str, int]:
    """The largest open amount per currency, over every open deal (filters do not change it)."""
    rows = session.store.query(
        "SELECT currency, MAX(amount) AS top FROM deals"
        " WHERE deleted_at IS NULL AND status = 'open' AND amount > 0 GROUP BY currency"
    )
    return {r["currency"]: r["top"] for r in rows}


def _round(value: float, places: int) -> float:
    """Round half away from zero (floats from sums such as 8.125 stay predictable)."""
    scale = 10.0**places
    return math.floor(abs(value) * scale + 0.5 + 1e-9) / scale * (1 if value >= 0 else -1)


def terms(
    deal: dict[str, Any],
    weights: Weights,
    largest: dict[str, int],
    qualification: dict[str, int] | None,
) -> dict[str, float]:
    """Each term's value, 0 to 1, for one open deal row (from :func:`analytics.open_deals`)."""
    tags = [t for t in (deal.get("tags") or "").split(",") if t]
    bant = qualification.get(deal["id"], 0) if qualification is not None else 0
    return {
        "due": due_term(deal["days_overdue"], weights.due_far_days, weights.due_overdue_days),
        "probability": deal["probability"] / 100,
        "size": size_term(deal["amount"], largest.get(deal["currency"])),
        "stale": 1.0 if deal["stale"] else 0.0,
        "no_next_action": 1.0 if not deal["next_action"] or not deal["next_due"] else 0.0,
        "qualification": max(0, min(4, bant)) / 4,
        "hot": 1.0 if HOT_TAG in tags else 0.0,
    }


def score(values: dict[str, float], weights: Weights) -> tuple[float, dict[str, float]]:
    """(score, points per term): points = coefficient × term to two places; score = their sum."""
    points = {t: _round(weights.coefficients[t] * values[t], 2) for t in TERMS}
    return _round(sum(points.values()), 2), points


def _why(points: dict[str, float]) -> str:
    """The terms that add most, largest first (``due 8.00, stale 5.00``)."""
    ranked = sorted(
        ((p, t) for t, p in points.items() if p), key=lambda x: (-x[0], TERMS.index(x[1]))
    )
    return ", ".join(f"{t} {p:.2f}" for p, t in ranked[:3])


def rank(
    session: Session, filters: analytics.Filters | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """Open deals by score, highest first (ties: most overdue, then deal number).

    Each row is an ``open_deals`` row plus ``rank``, ``score``, ``why`` and ``<term>_points``
    for every term. ``limit`` 0 keeps every deal.
    """
    filters = filters or analytics.Filters()
    where, params = analytics.where_for(session, filters, period_column="d.close_date")
    deals = analytics.open_deals(session, where, params)
    weights = Weights.from_config(session.config)
    largest = largest_amounts(session)
    qualification = qualification_scores(session)
    scored = []
    for deal in deals:
        total, points = score(terms(deal, weights, largest, qualification), weights)
        row = {**deal, "score": total, "why": _why(points)}
        row.update({f"{t}_points": p for t, p in points.items()})
        scored.append(row)
    scored.sort(
        key=lambda d: (
            -d["score"],
            -(d["days_overdue"] if d["days_overdue"] is not None else -(10**9)),
            d["number"],
        )
    )
    if limit:
        scored = scored[:limit]
    for index, row in enumerate(scored, start=1):
        row["rank"] = index
    return scored


def _detail(term: str, deal: dict[str, Any], weights: Weights, largest: dict[str, int]) -> str:
    """Why a term has its value, in words."""
    if term == "due":
        late = deal["days_overdue"]
        if late is None:
            return "no due date"
        when = (
            f"{counted(late, 'day')} overdue"
            if late > 0
            else "due today"
            if late == 0
            else f"due in {counted(-late, 'day')}"
        )
        return (
            f"{when}; ramp {counted(weights.due_far_days, 'day')} ahead"
            f" → {weights.due_overdue_days} late"
        )
    if term == "probability":
        source = "set by hand" if deal["probability_source"] == "deal" else "the stage's"
        return f"{deal['probability']}% ({source})"
    if term == "size":
        top = largest.get(deal["currency"])
        if not deal["amount"] or not top:
            return "no amount"
        currency = deal["currency"]
        return (
            f"{format_amount(deal['amount'], currency)} of largest open"
            f" {format_amount(top, currency)} {currency} (log scale, 3 decades)"
        )
    if term == "stale":
        limit = deal["rot_days"]
        rot = "no rot limit" if limit is None else f"stage limit {limit}"
        return f"idle {counted(deal['idle_days'], 'day')}, {rot}"
    if term == "no_next_action":
        return (
            "has a next action with a due date"
            if deal["next_action"] and deal["next_due"]
            else ("no next action" if not deal["next_action"] else "next action has no due date")
        )
    if term == "hot":
        return (
            f"tagged {HOT_TAG}"
            if HOT_TAG in (deal.get("tags") or "").split(",")
            else "not tagged hot"
        )
    return ""


def breakdown(session: Session, deal_id: str) -> dict[str, Any] | None:
    """One open deal's score explained term by term; None for a won or lost deal.

    ``{"score": 14.5, "terms": [{"term", "value", "coefficient", "points", "detail"}, …]}``
    """
    deals = analytics.open_deals(session, "d.id = ?", [deal_id])
    if not deals:
        return None
    deal = deals[0]
    weights = Weights.from_config(session.config)
    largest = largest_amounts(session)
    qualification = qualification_scores(session)
    values = terms(deal, weights, largest, qualification)
    total, points = score(values, weights)
    rows = []
    for term in TERMS:
        if term == "qualification":
            detail = (
                "not recorded in this build"
                if qualification is None
                else f"BANT {qualification.get(deal['id'], 0)}/4"
            )
        else:
            detail = _detail(term, deal, weights, largest)
        rows.append(
            {
                "term": term,
                "value": _round(values[term], 3),
                "coefficient": weights.coefficients[term],
                "points": points[term],
                "detail": detail,
            }
        )
    return {"score": total, "terms": rows}
