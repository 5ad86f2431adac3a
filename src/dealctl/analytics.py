"""Reports computed from structured data: due list, pipeline, funnel, forecast, stale deals,
lost deals and deals worth another try.

Definitions are written out in ``docs/analytics.md``; every figure here follows from them
and from the ``deals``, ``stages``, ``stage_changes`` and ``activities`` tables, never from
text. Counts and sums are SQL aggregates (``GROUP BY``); Python only combines the few
aggregate rows and builds the deal rows a report displays.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from dealctl import dates
from dealctl.catalogue import Catalogue, Stage
from dealctl.deals import DEAL_VIEW
from dealctl.errors import InvalidInput, NotFound
from dealctl.session import Session

# --- numbers ---------------------------------------------------------------------------------


def _half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero (weighted amounts)."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def tenths(numerator: int, denominator: int) -> float | None:
    """numerator ÷ denominator to one decimal place, halves away from zero; None for 0/0."""
    if denominator == 0:
        return None
    return _half_up(numerator * 10, denominator) / 10


def weighted(amount: int | None, probability: int) -> int:
    """amount × probability, in minor units, rounded half up."""
    return 0 if amount is None else _half_up(amount * probability, 100)


@dataclass(frozen=True)
class Spread:
    """Median and mean of whole-day durations, from a histogram {days: how many}."""

    count: int
    median: float | None
    mean: float | None

    @classmethod
    def of(cls, histogram: Mapping[int, int]) -> Spread:
        count = sum(histogram.values())
        if count == 0:
            return cls(0, None, None)
        values = sorted(histogram.items())

        def nth(index: int) -> int:
            seen = 0
            for value, n in values:
                seen += n
                if index < seen:
                    return value
            raise AssertionError("index beyond the histogram")

        low, high = nth((count - 1) // 2), nth(count // 2)
        total = sum(value * n for value, n in values)
        return cls(count, (low + high) / 2, tenths(total, count))


# --- periods and filters ---------------------------------------------------------------------


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    return add_months(_month_start(day), 1) - timedelta(days=1)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months; the day of month is clamped (31 Aug + 6 → 28/29 Feb)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month0 + 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (following - timedelta(days=1)).day))


def _quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _this_week(today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


def _shift(span: Callable[[date], tuple[date, date]], back: Callable[[date], date]) -> Any:
    return lambda today: span(back(span(today)[0]))


def _month(today: date) -> tuple[date, date]:
    return _month_start(today), _month_end(today)


def _quarter(today: date) -> tuple[date, date]:
    start = _quarter_start(today)
    return start, add_months(start, 3) - timedelta(days=1)


def _year(today: date) -> tuple[date, date]:
    return date(today.year, 1, 1), date(today.year, 12, 31)


# Named periods for --since / --until: each is (first day, last day) relative to today.
PERIODS: dict[str, Callable[[date], tuple[date, date]]] = {
    "this-week": _this_week,
    "last-week": _shift(_this_week, lambda d: d - timedelta(days=7)),
    "this-month": _month,
    "last-month": _shift(_month, lambda d: d - timedelta(days=1)),
    "this-quarter": _quarter,
    "last-quarter": _shift(_quarter, lambda d: d - timedelta(days=1)),
    "this-year": _year,
    "last-year": _shift(_year, lambda d: d - timedelta(days=1)),
}


def period_bound(text: str, today: date, *, end: bool, what: str = "date") -> date:
    """A ``--since`` (``end=False``) or ``--until`` (``end=True``) value as a date.

    A named period (``this-month``, ``last-quarter``, …) gives its first day for --since
    and its last day for --until; anything else is a date as :func:`dates.parse_date`
    reads it (``2026-10-01``, ``today``, ``-30d``, ``eom``).
    """
    key = "-".join(text.strip().lower().replace("_", "-").split())
    if key in PERIODS:
        first, last = PERIODS[key](today)
        return last if end else first
    forms = f"use a date (YYYY-MM-DD, today, -30d, eom) or a period ({', '.join(PERIODS)})"
    return dates.parse_date(text, today, what=what, forms=forms)


@dataclass(frozen=True)
class Filters:
    """What every report can be narrowed to: a pipeline, an owner, a period (inclusive).

    What the period selects depends on the report (docs/analytics.md#periods-and-filters).
    """

    pipeline: str | None = None
    owner: str | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(
        cls,
        today: date,
        *,
        pipeline: str | None = None,
        owner: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Filters:
        start = period_bound(since, today, end=False, what="--since") if since else None
        stop = period_bound(until, today, end=True, what="--until") if until else None
        if start and stop and stop < start:
            raise InvalidInput(f"--until {stop.isoformat()} is before --since {start.isoformat()}")
        return cls(
            pipeline=pipeline.strip() if pipeline and pipeline.strip() else None,
            owner=owner.strip() if owner and owner.strip() else None,
            since=start,
            until=stop,
        )

    @property
    def bounds(self) -> tuple[str, str]:
        """The period as text bounds for SQL: '' and '9999-12-31' when open-ended."""
        return (
            self.since.isoformat() if self.since else "",
            self.until.isoformat() if self.until else "9999-12-31",
        )

    @property
    def has_period(self) -> bool:
        return self.since is not None or self.until is not None


def check_owner(session: Session, owner: str) -> None:
    """Refuse an owner no deal has: a typo in a crontab's ``--owner`` would otherwise give
    a clear day every morning, and ``--fail-on`` would never fire."""
    if session.store.one(
        "SELECT 1 FROM deals WHERE owner = ? AND deleted_at IS NULL LIMIT 1", (owner,)
    ):
        return
    rows = session.store.query(
        "SELECT DISTINCT owner FROM deals WHERE owner IS NOT NULL AND owner != ''"
        " AND deleted_at IS NULL ORDER BY owner LIMIT 11"
    )
    known = ", ".join(r["owner"] for r in rows[:10]) + (", …" if len(rows) > 10 else "")
    raise NotFound(f"no deal has owner {owner!r}" + (f" (owners: {known})" if known else ""))


def where_for(
    session: Session,
    filters: Filters,
    *,
    period_column: str | None,
    all_pipelines: bool = True,
) -> tuple[str, list[Any]]:
    """SQL conditions on the deals alias ``d`` for ``filters`` (never built from input text).

    ``period_column`` is the SQL expression the period applies to (a date or moment column;
    its first ten characters are compared). ``all_pipelines`` False leaves the pipeline to
    the caller.
    """
    parts: list[str] = []
    params: list[Any] = []
    if filters.pipeline and all_pipelines:
        catalogue = Catalogue.load(session.store)
        parts.append("d.pipeline_id = ?")
        params.append(catalogue.pipeline_id(filters.pipeline))
    if filters.owner:
        check_owner(session, filters.owner)
        parts.append("d.owner = ?")
        params.append(filters.owner)
    if period_column and filters.has_period:
        parts.append(f"substr({period_column}, 1, 10) BETWEEN ? AND ?")
        params.extend(filters.bounds)
    return " AND ".join(parts), params


# --- deal rows -------------------------------------------------------------------------------


def _column(row: Any, key: str) -> Any:
    """``row[key]``, or None when the row (sqlite3.Row or mapping) has no such column."""
    keys = row.keys() if hasattr(row, "keys") else ()
    return row[key] if key in keys else None


def probability_source(row: Any) -> str:
    """Where a deal's probability in effect comes from: ``deal`` (set by hand), ``stage``,
    or ``outcome`` (100 won, 0 lost)."""
    if row["status"] != "open":
        return "outcome"
    return "deal" if _column(row, "probability") is not None else "stage"


def deal_row(row: Any, today: date, zone: Any) -> dict[str, Any]:
    """A deal as the listing commands show it (the documented ``list`` columns).

    Also carries ``probability_source`` (see :func:`probability_source`) and ``due_shown``
    (the due value in the zone, as tables show it), which are not ``list`` columns.
    """
    due = row["next_due"]
    moment = dates.stored_due_moment(due, zone, row["number"]) if due else None
    due_day = dates.day_of(moment) if moment else None
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
        "probability_source": probability_source(row),
        "due_shown": dates.due_shown(moment) if moment else None,
    }


# --- due ---------------------------------------------------------------------------------------


@dataclass
class DueList:
    """Open deals by next-action deadline, streamed in the listed order (``count()`` says
    how many without reading them), and the open deals with no next action or no date for
    it: how many, and a stream of them by number (``missing(n)`` gives the first n,
    ``missing(None)`` all)."""

    due: Iterator[dict[str, Any]]
    count: Callable[[], int]
    missing_count: int
    missing: Callable[[int | None], Iterator[dict[str, Any]]]


# A date-time stored with another offset than the zone's can fall on a local day up to two
# days either side of the date it starts with (offsets run from -12:00 to +14:00).
_DAYS_APART = 2
# The SQL function that gives a stored due value's local day, registered for `due`.
_LOCAL_DAY = "dealctl_local_day"


def due(session: Session, *, only: str | None, within: int, owner: str | None) -> DueList:
    """Next actions due by today + ``within`` days; ``only`` is 'overdue' or 'today'.

    The listed order is the local due day (most overdue first), then the stored value, then
    the number. Rows come one at a time and SQLite orders them, so memory stays flat however
    many are due. The stored value starts with the local day for everything written in the
    zone, so its index gives the order. When some value falls on another local day (a
    date-time written with another offset), SQLite sorts by the local day instead.
    """
    today = session.today
    zone = session.zone
    # Listed: days_overdue from `least` (the furthest ahead) to `most` (None: no bound).
    least = {"overdue": 1, "today": 0}.get(only or "", -within)
    most = 0 if only == "today" else None
    last_day = (today - timedelta(days=least)).isoformat()
    first_day = "" if most is None else (today - timedelta(days=most)).isoformat()
    owner_sql, owner_params = "", []
    owner = owner.strip() if owner else None
    if owner:
        check_owner(session, owner)
        owner_sql, owner_params = " AND d.owner = ?", [owner]
    near = " AND d.status = 'open' AND d.next_due < ?" + owner_sql
    near_params = [(today + timedelta(days=_DAYS_APART + 1 - least)).isoformat(), *owner_params]

    # Every date-time (and damaged date) that may be listed is read first: a damaged value
    # stops the command here, before anything is written. (SQLite takes 2026-11-31 as it
    # is, but moves it to 12-01 when asked to add 0 days.)
    # So is every value that starts with no digit, which sorts after every date and so
    # would never be due (`garbage`): a seek in the index deals_next finds those.
    elsewhere = False
    for row in session.store.iterate(
        "SELECT d.number, d.next_due FROM deals d WHERE d.deleted_at IS NULL"
        + near
        + " AND (length(d.next_due) > 10 OR date(d.next_due, '+0 days') IS NOT d.next_due)"
        " UNION ALL SELECT d.number, d.next_due FROM deals d WHERE d.deleted_at IS NULL"
        " AND d.status = 'open' AND d.next_due >= ':'" + owner_sql,
        [*near_params, *owner_params],
    ):
        day = dates.stored_due_date(row["next_due"], zone, row["number"]).isoformat()
        elsewhere = elsewhere or day != row["next_due"][:10]

    if elsewhere:
        session.store.conn.create_function(
            _LOCAL_DAY, 1, lambda value: dates.due_date(value, zone).isoformat(), deterministic=True
        )
        where = near + f" AND {_LOCAL_DAY}(d.next_due) BETWEEN ? AND ?"
        params = [*near_params, first_day, last_day]
        order = f" ORDER BY {_LOCAL_DAY}(d.next_due), d.next_due, d.number"
    else:
        after_last = (today + timedelta(days=1 - least)).isoformat()
        where = " AND d.status = 'open' AND d.next_due >= ? AND d.next_due < ?" + owner_sql
        params = [first_day, after_last, *owner_params]
        order = " ORDER BY d.next_due, d.number"

    def count() -> int:
        found = session.store.one(
            "SELECT COUNT(*) FROM deals d WHERE d.deleted_at IS NULL" + where, params
        )
        return found[0] if found else 0

    missing_scope = (
        " AND d.status = 'open' AND (d.next_action IS NULL OR d.next_due IS NULL)" + owner_sql
    )
    # Counted from the partial index of exactly these deals, which the planner would pass
    # over for the wider report index (reading every open deal's row: 30× slower).
    missing_count = session.store.one(
        "SELECT COUNT(*) FROM deals d INDEXED BY deals_no_next WHERE d.deleted_at IS NULL"
        + missing_scope,
        owner_params,
    )

    def missing(first: int | None) -> Iterator[dict[str, Any]]:
        rows = session.store.iterate(
            DEAL_VIEW + missing_scope + " ORDER BY d.number LIMIT ?",
            [*owner_params, -1 if first is None else first],
        )
        return (deal_row(row, today, zone) for row in rows)

    listed = session.store.iterate(DEAL_VIEW + where + order, params)
    return DueList(
        (deal_row(row, today, zone) for row in listed),
        count,
        missing_count[0] if missing_count else 0,
        missing,
    )


def _pipeline_stages(session: Session, pipeline: str | None) -> tuple[Catalogue, list[Stage]]:
    catalogue = Catalogue.load(session.store)
    if not catalogue.stages:
        return catalogue, []
    pipeline_id = catalogue.pipeline_id(pipeline or session.config.default_pipeline)
    return catalogue, catalogue.in_pipeline(pipeline_id)


# --- open deals: idle days, stale, days in stage ---------------------------------------------

# The day a deal was last active: the latest of creation, last follow-up and last stage
# change (``moved_at``), compared as stored text (as Python's max() does in idle_days).
# The very expression the index deals_open_idle holds (migration 0006): keep them alike.
_LAST_ACTIVE = (
    "substr(MAX(d.created_at, COALESCE(d.last_contact_at, ''), COALESCE(d.moved_at, '')), 1, 10)"
)
# 1 when a stage change's moment starts with a calendar day, the day the reports count by;
# a row whose moment does not stops them, naming the deal and this field.
_DATED_AT = dates.sql_starts_with_day("sc.at")
STAGE_CHANGE_AT = "stage change at"
# Whole days the deal has spent open at its current stage, over every visit: each stage
# change row at that stage with status open lasts until the deal's next row (or today).
# When a row's moment does not start with a calendar day, the first such moment instead
# (text where the days are a number): the days cannot be counted.
_STAGE_DAYS_SQL = (
    """(SELECT CASE WHEN MIN(seg.dated) THEN
 CAST(SUM(CASE WHEN seg.stage_id = v.stage_id AND seg.status = 'open'
               THEN julianday(COALESCE(seg.d1, ?)) - julianday(seg.d0) END) AS INTEGER)
 ELSE MIN(CASE WHEN NOT seg.dated THEN seg.at END) END
 FROM (SELECT sc.to_stage_id AS stage_id, sc.to_status AS status, sc.at,
              substr(sc.at, 1, 10) AS d0,
              LEAD(substr(sc.at, 1, 10)) OVER (ORDER BY sc.at, sc.rowid) AS d1, """
    + _DATED_AT
    + """ AS dated
       FROM stage_changes sc WHERE sc.deal_id = v.id AND sc.deleted_at IS NULL) seg)"""
)


def last_active_day(row: Any) -> date:
    """The day a deal was last active (``_LAST_ACTIVE``, the same latest value); when that
    value is damaged, the :func:`dates.damaged` error names the deal and its field."""
    latest, field = row["created_at"], "created_at"
    contact, moved = row["last_contact_at"], row["moved_at"]
    if contact is not None and contact > latest:
        latest, field = contact, "last_contact_at"
    if moved is not None and moved > latest:
        latest, field = moved, "moved_at"
    return dates.stored_day(latest, row["number"], field)


def idle_days(row: Any, today: date) -> int:
    """Days since the latest of: last follow-up, last stage change, creation."""
    return (today - last_active_day(row)).days


def open_deals(
    session: Session, where: str = "", params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """Open deals with what analytics derive for each: ``idle_days``, ``stale``, ``rot_days``,
    ``days_in_stage``, ``weighted_amount`` and ``slipped`` (expected close date passed).

    ``days_in_stage`` is the time at the current stage so far, summed over every visit
    (a reopened deal keeps the days it spent there before). ``where`` is an extra SQL
    condition on the deal view (built by callers, never from input).
    """
    today = session.today
    rows = session.store.query(
        "SELECT v.*, "
        + _STAGE_DAYS_SQL
        + " AS stage_days FROM ("
        + DEAL_VIEW
        + " AND d.status = 'open'"
        + (f" AND ({where})" if where else "")
        + ") v ORDER BY v.stage_position, v.number",
        [today.isoformat(), *params],
    )
    deals = []
    for row in rows:
        item = deal_row(row, today, session.zone)
        idle = idle_days(row, today)
        in_stage = row["stage_days"]
        if isinstance(in_stage, str):  # a stage change's moment that starts with no day
            raise dates.damaged(row["number"], STAGE_CHANGE_AT, in_stage)
        if in_stage is None:  # no history at this stage: count from the last move or creation
            field = "moved_at" if row["moved_at"] else "created_at"
            in_stage = (today - dates.stored_day(row[field], row["number"], field)).days
        item.update(
            stage_id=row["stage_id"],
            rot_days=row["rot_days"],
            days_in_stage=in_stage,
            idle_days=idle,
            stale=row["rot_days"] is not None and idle > row["rot_days"],
            slipped=row["close_date"] is not None
            and dates.stored_day(row["close_date"], row["number"], "close_date") < today,
            weighted_amount=weighted(row["amount"], row["effective_probability"]),
        )
        deals.append(item)
    return deals


def stale_among(deals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Those of some :func:`open_deals` rows idle longer than their stage's rot days, with
    ``days_over``, longest idle first (copies: the rows given are left as they are)."""
    return sorted(
        ({**d, "days_over": d["idle_days"] - d["rot_days"]} for d in deals if d["stale"]),
        key=lambda d: (-d["idle_days"], d["number"]),
    )


def slipped_among(deals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Those of some :func:`open_deals` rows whose expected close date has passed, oldest
    first."""
    return sorted((d for d in deals if d["slipped"]), key=lambda d: (d["close_date"], d["number"]))


def weighted_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Weighted amount per currency of some deals (never adding currencies together)."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["currency"]] += row["weighted_amount"]
    return dict(sorted(totals.items()))


# --- pipeline ----------------------------------------------------------------------------------


def pipeline(
    session: Session,
    pipeline_key: str | None,
    *,
    filters: Filters | None = None,
    with_deals: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per open stage and currency: count, amount, weighted amount, stale count, average
    idle days (one SQL ``GROUP BY``).

    Returns (stage rows, deal rows); deal rows (only with ``with_deals``) carry
    ``days_in_stage`` and ``idle_days``. A period keeps deals expected to close in it.
    """
    filters = filters or Filters()
    _, stages = _pipeline_stages(session, pipeline_key or filters.pipeline)
    open_stages = [s for s in stages if s.kind == "open"]
    if not open_stages:
        return [], []
    marks = ", ".join("?" for _ in open_stages)
    extra, extra_params = where_for(
        session, filters, period_column="d.close_date", all_pipelines=False
    )
    where = f"d.stage_id IN ({marks})" + (f" AND {extra}" if extra else "")
    where_params = [s.id for s in open_stages] + extra_params
    # One row per stage, currency and day last active, read in the order of the index
    # deals_open_idle (no sort); idle days, stale counts, idle sums and the stage's
    # probability are applied here, so no row is read twice and no table is joined.
    groups = session.store.query(
        f"SELECT d.stage_id, d.currency, {_LAST_ACTIVE} AS day, COUNT(*) AS n,"
        " SUM(COALESCE(d.amount, 0)) AS amount,"
        " SUM(COALESCE(d.amount, 0) * d.probability) AS by_hand,"
        " SUM(CASE WHEN d.probability IS NULL THEN COALESCE(d.amount, 0) ELSE 0 END) AS by_stage"
        " FROM deals d WHERE d.deleted_at IS NULL AND d.status = 'open' AND "
        + where
        + " GROUP BY 1, 2, 3",
        where_params,
    )
    by_id = {s.id: s for s in open_stages}
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for group in groups:
        stage = by_id[group["stage_id"]]
        try:
            idle = (session.today - date.fromisoformat(group["day"])).days
        except ValueError:  # a deal's damaged date: the error names the deal and field
            last_active_day(_first_active_on(session, group, where, where_params))
            raise
        bucket = totals.setdefault(
            (stage.id, group["currency"]),
            {"n": 0, "amount": 0, "weighted": 0, "stale": 0, "idle": 0},
        )
        n = group["n"]
        bucket["n"] += n
        bucket["amount"] += group["amount"]
        bucket["weighted"] += (group["by_hand"] or 0) + group["by_stage"] * stage.probability
        bucket["idle"] += idle * n
        if stage.rot_days is not None and idle > stage.rot_days:
            bucket["stale"] += n
    currencies = sorted({c for _, c in totals}) or [session.config.currency]
    out = []
    for stage in open_stages:
        for currency in currencies:
            found = totals.get((stage.id, currency))
            if found is None and len(currencies) > 1:
                continue
            count = found["n"] if found else 0
            out.append(
                {
                    "pipeline": stage.pipeline_key,
                    "stage": stage.key,
                    "stage_name": stage.name,
                    "probability": stage.probability,
                    "currency": currency,
                    "count": count,
                    "amount": found["amount"] if found else 0,
                    "weighted_amount": _half_up(found["weighted"], 100) if found else 0,
                    "stale": found["stale"] if found else 0,
                    "avg_idle_days": tenths(found["idle"], count) if found else None,
                }
            )
    deals = open_deals(session, where, where_params) if with_deals else []
    return out, deals


def _first_active_on(session: Session, group: Any, where: str, params: Sequence[Any]) -> Any:
    """The first deal of a :func:`pipeline` group (stage, currency, day last active)."""
    row = session.store.one(
        "SELECT d.number, d.created_at, d.last_contact_at, d.moved_at FROM deals d"
        " WHERE d.deleted_at IS NULL AND d.status = 'open' AND d.stage_id = ?"
        " AND d.currency = ? AND " + _LAST_ACTIVE + " = ? AND " + where + " ORDER BY d.number",
        [group["stage_id"], group["currency"], group["day"], *params],
    )
    assert row is not None  # the group was made of such deals
    return row


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


# --- funnel ------------------------------------------------------------------------------------


@dataclass
class Funnel:
    """Per-stage funnel rows and the overall outcome counts.

    ``won`` and ``lost`` count the deals closed in the period (all closed deals without
    one); ``open`` the open deals among those the stage rows count; ``cycle`` is the sales
    cycle of the won ones.
    """

    rows: list[dict[str, Any]]
    won: int
    lost: int
    open: int
    cycle: Spread = field(default_factory=lambda: Spread(0, None, None))
    pipeline: str | None = None

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return None if closed == 0 else self.won / closed

    def overall(self) -> dict[str, Any]:
        """The one-row summary (``funnel --overall``)."""
        return {
            "pipeline": self.pipeline,
            "won": self.won,
            "lost": self.lost,
            "open": self.open,
            "win_rate_pct": tenths(100 * self.won, self.won + self.lost),
            "cycle_count": self.cycle.count,
            "cycle_median_days": self.cycle.median,
            "cycle_mean_days": self.cycle.mean,
        }


def funnel(session: Session, pipeline_key: str | None, *, filters: Filters | None = None) -> Funnel:
    """Reached / moved on / lost from / conversion / days in stage per stage, from
    ``stage_changes``; win rate and sales cycle.

    A deal reached stage k if it ever entered k or a later stage. A deal counts once, by
    its current outcome: only deals that are won now reach the won stage. With a period,
    the stage rows count deals that started in it, and the win rate and sales cycle count
    deals closed in it.
    """
    filters = filters or Filters()
    _, stages = _pipeline_stages(session, pipeline_key or filters.pipeline)
    if not stages:
        return Funnel([], 0, 0, 0)
    won_stage = next(s for s in stages if s.kind == "won")
    last_open = max(s.position for s in stages if s.kind == "open")
    owner_sql, owner_params = where_for(session, filters, period_column=None, all_pipelines=False)
    scope = " AND d.pipeline_id = ?" + (f" AND {owner_sql}" if owner_sql else "")
    scope_params = [won_stage.pipeline_id, *owner_params]
    since, until = filters.bounds
    open_stages = [s for s in stages if s.kind == "open"]
    reached: dict[int, int] = defaultdict(int)
    lost_from: dict[str, int] = defaultdict(int)
    counts = {"open": 0, "won": 0, "lost": 0}
    cycles: dict[int, int] = defaultdict(int)
    stage_days: dict[str, tuple[dict[int, int], dict[int, int]]] = {
        s.id: ({}, {}) for s in open_stages
    }
    open_count = 0
    sql, params = _funnel_sql(stages, open_stages, scope, scope_params, since, until, session)
    for group in session.store.query(sql, params):
        n = group["n"]
        if group["part"] == "outcome" and not group["dated"]:
            raise _damaged_stage_change(session, scope, scope_params)
        if group["part"] != "outcome":
            days = group["days"]
            if days is not None and 0 <= days <= _MAX_DAYS:
                done, so_far = stage_days[group["stage"]]
                (so_far if group["current"] else done)[days] = n
            continue
        status = group["status"]
        if group["cohort"]:
            won = status == "won"
            reached[won_stage.position if won else min(group["reached"], last_open)] += n
            if status == "lost":
                lost_from[group["stage"]] += n
            if status == "open":
                open_count += n
        if group["closed"]:
            counts[status] += n
            if status == "won" and group["days"] is not None:
                cycles[group["days"]] += n
    out = []
    for index, stage in enumerate(stages):
        entered = sum(n for pos, n in reached.items() if pos >= stage.position)
        following = stages[index + 1] if index + 1 < len(stages) else None
        moved = (
            sum(n for pos, n in reached.items() if pos >= following.position) if following else None
        )
        done, so_far = stage_days.get(stage.id, ({}, {}))
        completed, current = Spread.of(done), Spread.of(so_far)
        is_open = stage.kind == "open"
        out.append(
            {
                "pipeline": stage.pipeline_key,
                "stage": stage.key,
                "stage_name": stage.name,
                "reached": entered,
                "moved_on": moved,
                "lost": lost_from.get(stage.id, 0),
                "conversion_pct": None if moved is None else tenths(100 * moved, entered),
                "median_days": completed.median if is_open else None,
                "mean_days": completed.mean if is_open else None,
                "open_now": current.count if is_open else None,
                "median_days_so_far": current.median if is_open else None,
            }
        )
    return Funnel(
        out,
        counts["won"],
        counts["lost"],
        open_count,
        Spread.of(cycles),
        won_stage.pipeline_key,
    )


# A stage change row's day, and whether the row enters or leaves the stage given (``?``) as
# an open deal, for the funnel's sums of days.
_DAY = "julianday(substr(sc.at, 1, 10))"
_ENTERS = "sc.to_stage_id = ? AND sc.to_status = 'open'"
_LEAVES = "sc.from_stage_id = ? AND sc.from_status = 'open'"


def _damaged_stage_change(session: Session, scope: str, params: Sequence[Any]) -> Exception:
    """The :func:`dates.damaged` error for the first deal (by number) ``scope`` selects whose
    live stage history has a moment that does not start with a calendar day."""
    found = session.store.one(
        "SELECT d.number, sc.at FROM deals d"
        " JOIN stage_changes sc ON sc.deal_id = d.id AND sc.deleted_at IS NULL"
        " WHERE d.deleted_at IS NULL"
        + scope
        + " AND NOT "
        + _DATED_AT
        + " ORDER BY d.number, sc.at, sc.rowid LIMIT 1",
        params,
    )
    assert found is not None  # the funnel found such a row in the same scope
    return dates.damaged(found["number"], STAGE_CHANGE_AT, found["at"])


# Whole days in a stage beyond this mean a history that does not add up (an entry with no
# leaving row, as an inconsistent import could give): such a deal is left out of that stage.
_MAX_DAYS = 36_500


def _funnel_sql(
    stages: list[Stage],
    open_stages: list[Stage],
    scope: str,
    scope_params: list[Any],
    since: str,
    until: str,
    session: Session,
) -> tuple[str, list[Any]]:
    """One statement for the whole funnel: a pass over each deal's stage changes, then small
    aggregates of it (``part`` 'outcome', or 'days' per open stage).

    Per deal: the furthest stage position entered, the first day, the moment of the
    latest move to its current status, whether every row's moment starts with a calendar
    day (``dated``: 0 stops the funnel), and for each open stage the days spent there:
    Σ days of the rows leaving it − Σ days of the rows entering it (+ today while the deal
    is open there), which sums every visit without ordering the rows. It is one sum per
    stage, NULL for a deal that never entered or left the stage (one that left it without
    entering, as a broken import can, has a total out of range and is left out): one
    aggregate per stage and row instead of three pays for testing every row's day.
    """
    params: list[Any] = []
    position = "CASE sc.to_stage_id " + " ".join("WHEN ? THEN ?" for _ in stages) + " ELSE -1 END"
    for stage in stages:
        params.extend([stage.id, stage.position])
    columns = [f"MIN({_DATED_AT}) AS dated"]
    for index, stage in enumerate(open_stages):
        columns.append(
            f"SUM(CASE WHEN {_ENTERS} THEN (CASE WHEN {_LEAVES} THEN {_DAY} ELSE 0 END) - {_DAY}"
            f" WHEN {_LEAVES} THEN {_DAY} END) AS t{index}"
        )
        params.extend([stage.id, stage.id, stage.id])
    per = (
        f"SELECT d.status, d.stage_id, MAX({position}) AS reached,"
        " MIN(substr(MIN(sc.at), 1, 10), substr(d.created_at, 1, 10)) AS start_day,"
        " MAX(CASE WHEN sc.to_status = d.status THEN sc.at END) AS closed_at"
        + "".join(f", {c}" for c in columns)
        + " FROM deals d JOIN stage_changes sc ON sc.deal_id = d.id AND sc.deleted_at IS NULL"
        " WHERE d.deleted_at IS NULL" + scope + " GROUP BY d.id"
    )
    params.extend(scope_params)
    parts = [
        "SELECT 'outcome' AS part, status, stage_id AS stage, reached,"
        " start_day BETWEEN ? AND ? AS cohort,"
        " status != 'open' AND COALESCE(substr(closed_at, 1, 10), '') BETWEEN ? AND ? AS closed,"
        " NULL AS current, CASE WHEN status = 'won' AND closed_at IS NOT NULL THEN"
        " CAST(julianday(substr(closed_at, 1, 10)) - julianday(start_day) AS INTEGER) END"
        " AS days, COUNT(*) AS n, MIN(dated) AS dated FROM per GROUP BY 2, 3, 4, 5, 6, 8"
    ]
    params.extend([since, until, since, until])
    for index, stage in enumerate(open_stages):
        parts.append(
            "SELECT 'days', NULL, ?, NULL, NULL, NULL, current,"
            f" CAST(ROUND(t{index} + current * julianday(?)) AS INTEGER), COUNT(*), NULL"
            " FROM (SELECT *, status = 'open' AND stage_id = ? AS current FROM per)"
            f" WHERE t{index} IS NOT NULL AND start_day BETWEEN ? AND ? GROUP BY 7, 8"
        )
        params.extend([stage.id, session.today.isoformat(), stage.id, since, until])
    return f"WITH per AS MATERIALIZED ({per}) " + " UNION ALL ".join(parts), params


# --- forecast ----------------------------------------------------------------------------------

FORECAST_BUCKETS = ("slipped", "later", "undated")


@dataclass
class Forecast:
    """Rows per currency and bucket: ``slipped``, each month ``YYYY-MM``, ``later``, ``undated``."""

    months: list[str]
    rows: list[dict[str, Any]]


def forecast(session: Session, *, months: int = 6, filters: Filters | None = None) -> Forecast:
    """Open deals by expected close month (count, amount, weighted amount) beside what was
    won in each month, per currency; open deals past their expected close date are
    ``slipped``, those after the last month ``later``, those with no date ``undated``."""
    filters = filters or Filters()
    if not 1 <= months <= 120:
        raise InvalidInput(f"invalid --months {months}: use 1 to 120")
    today = session.today
    first = _month_start(filters.since or today)
    last = _month_end(filters.until) if filters.until else _month_end(add_months(first, months - 1))
    if last < first:
        raise InvalidInput(
            f"--until {filters.until} is before the first month shown ({first:%Y-%m});"
            " give --since too"
        )
    span = (last.year - first.year) * 12 + last.month - first.month + 1
    if span > 120:
        raise InvalidInput(
            f"--until {filters.until} is {span} months after {first:%Y-%m}: a forecast shows"
            " at most 120 months"
        )
    labels = []
    cursor = first
    while cursor <= last:
        labels.append(cursor.strftime("%Y-%m"))
        cursor = add_months(cursor, 1)
    where, params = where_for(session, filters, period_column=None)
    scope = f" AND {where}" if where else ""
    # One row per currency and expected close date (one per day in use, not per deal), put in
    # their buckets here: every date is read as one, so a damaged one stops the report.
    by_date = session.store.query(
        "SELECT d.currency, d.close_date, COUNT(*) AS n, SUM(COALESCE(d.amount, 0)) AS amount,"
        " SUM(COALESCE(d.amount, 0) * COALESCE(d.probability, s.probability)) AS weighted"
        " FROM deals d JOIN stages s ON s.id = d.stage_id"
        " WHERE d.deleted_at IS NULL AND d.status = 'open'" + scope + " GROUP BY 1, 2",
        params,
    )
    open_by: dict[tuple[str, str], dict[str, int]] = {}
    for row in by_date:
        bucket = _close_bucket(session, row, today, first, last, scope, params)
        sums = open_by.setdefault((row["currency"], bucket), {"n": 0, "amount": 0, "weighted": 0})
        for key in sums:
            sums[key] += row[key]
    won = session.store.query(
        "SELECT d.currency, substr(d.closed_at, 1, 7) AS bucket, COUNT(*) AS n,"
        " SUM(COALESCE(d.amount, 0)) AS amount FROM deals d"
        " WHERE d.deleted_at IS NULL AND d.status = 'won'"
        " AND substr(d.closed_at, 1, 10) BETWEEN ? AND ?" + scope + " GROUP BY 1, 2",
        [first.isoformat(), last.isoformat(), *params],
    )
    won_by = {(r["currency"], r["bucket"]): r for r in won}
    currencies = sorted({c for c, _ in open_by} | {c for c, _ in won_by})
    rows = []
    for currency in currencies:
        for bucket in ["slipped", *labels, "later", "undated"]:
            found = open_by.get((currency, bucket))
            gained = won_by.get((currency, bucket))
            is_month = bucket not in FORECAST_BUCKETS
            rows.append(
                {
                    "currency": currency,
                    "month": bucket,
                    "open_count": found["n"] if found else 0,
                    "amount": found["amount"] if found else 0,
                    "weighted_amount": _half_up(found["weighted"], 100) if found else 0,
                    "won_count": (gained["n"] if gained else 0) if is_month else None,
                    "won_amount": (gained["amount"] if gained else 0) if is_month else None,
                }
            )
    return Forecast(labels, rows)


def _close_bucket(
    session: Session,
    row: Any,
    today: date,
    first: date,
    last: date,
    scope: str,
    params: Sequence[Any],
) -> str:
    """The :func:`forecast` bucket of open deals expected on ``row["close_date"]`` (``before``:
    from today to the first month shown, in no row); when that is no date, the
    :func:`dates.damaged` error names the first deal that has it."""
    value = row["close_date"]
    if value is None:
        return "undated"
    day = dates.stored_date(value)
    if day is None:
        found = session.store.one(
            "SELECT MIN(d.number) FROM deals d WHERE d.deleted_at IS NULL AND d.status = 'open'"
            " AND d.currency = ? AND d.close_date = ?" + scope,
            [row["currency"], value, *params],
        )
        raise dates.damaged(found[0] if found else 0, "close_date", value)
    if day < today:
        return "slipped"
    if day > last:
        return "later"
    return "before" if day < first else day.strftime("%Y-%m")


def forecast_totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per currency: open deals, amount and weighted amount over every bucket, and won."""
    sums: dict[str, dict[str, int]] = {}
    for row in rows:
        total = sums.setdefault(
            row["currency"],
            {"open_count": 0, "amount": 0, "weighted_amount": 0, "won_count": 0, "won_amount": 0},
        )
        for key in total:
            total[key] += row[key] or 0
    return [{"currency": c, **t} for c, t in sorted(sums.items())]


# --- stale, no next action, no decision maker --------------------------------------------------


@dataclass
class StaleReport:
    """Deals to chase: stale ones, open ones with no next action, and (when stakeholders are
    recorded) deals at or past the configured stage with no decision maker (None: not
    available in this build)."""

    stale: list[dict[str, Any]]
    no_next_action: list[dict[str, Any]]
    no_decision_maker: list[dict[str, Any]] | None

    @property
    def empty(self) -> bool:
        return not (self.stale or self.no_next_action or self.no_decision_maker)


def stale_report(session: Session, filters: Filters | None = None) -> StaleReport:
    """The three lists of ``dealctl stale`` (a period keeps deals expected to close in it)."""
    filters = filters or Filters()
    where, params = where_for(session, filters, period_column="d.close_date")
    deals = open_deals(session, where, params)
    stale_rows = stale_among(deals)
    missing = sorted(
        (d for d in deals if not d["next_action"] or not d["next_due"]),
        key=lambda d: d["number"],
    )
    return StaleReport(stale_rows, missing, _no_decision_maker(session, filters, deals))


def _no_decision_maker(
    session: Session, filters: Filters, deals: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """Deals the stakeholders module flags, limited to ``deals`` (the report's filters)."""
    try:
        stakeholders = importlib.import_module("dealctl.stakeholders")
    except ImportError:
        return None
    missing = getattr(stakeholders, "missing_decision_maker", None)
    if missing is None:
        return None
    flagged = missing(session, owner=filters.owner)
    by_id = {d["id"]: d for d in deals}
    by_number = {d["number"]: d for d in deals}
    out = []
    for row in flagged:
        deal = by_id.get(row.get("id")) or by_number.get(row.get("number"))
        if deal is not None:
            out.append(deal)
    return sorted(out, key=lambda d: d["number"])


# --- lost and revisit --------------------------------------------------------------------------


def lost(session: Session, filters: Filters | None = None) -> list[dict[str, Any]]:
    """Lost deals by reason and by the stage they were lost from, per currency, with amounts.

    Rows have ``by`` = ``reason`` or ``stage``. A period keeps deals lost in it.
    """
    filters = filters or Filters()
    where, params = where_for(session, filters, period_column="d.closed_at")
    scope = " WHERE d.deleted_at IS NULL AND d.status = 'lost'" + (f" AND {where}" if where else "")
    by_reason = session.store.query(
        "SELECT d.lost_reason AS key, d.currency, COUNT(*) AS n, SUM(COALESCE(d.amount, 0))"
        " AS amount FROM deals d" + scope + " GROUP BY 1, 2",
        params,
    )
    by_stage = session.store.query(
        "SELECT d.stage_id AS key, d.currency, COUNT(*) AS n, SUM(COALESCE(d.amount, 0))"
        " AS amount FROM deals d" + scope + " GROUP BY 1, 2",
        params,
    )
    total = sum(r["n"] for r in by_reason)
    reasons = session.config.lost_reasons
    order = {key: index for index, key in enumerate(reasons)}
    per_reason: dict[str | None, int] = defaultdict(int)
    for row in by_reason:
        per_reason[row["key"]] += row["n"]

    def reason_order(row: Any) -> tuple[Any, ...]:
        key = row["key"]
        rank = order.get(key, len(order))
        return (-per_reason[key], key is None, rank, key or "", row["currency"])

    out = []
    for row in sorted(by_reason, key=reason_order):
        key = row["key"]
        out.append(
            {
                "by": "reason",
                "pipeline": None,
                "key": key,
                "name": reasons.get(key, key) if key else None,
                "currency": row["currency"],
                "count": row["n"],
                "amount": row["amount"],
                "share_pct": tenths(100 * row["n"], total),
            }
        )
    catalogue = Catalogue.load(session.store)
    place = {s.id: (index, s) for index, s in enumerate(catalogue.stages)}
    for row in sorted(
        by_stage, key=lambda r: (place.get(r["key"], (len(place), None))[0], r["currency"])
    ):
        stage = place.get(row["key"], (0, None))[1]
        out.append(
            {
                "by": "stage",
                "pipeline": stage.pipeline_key if stage else None,
                "key": stage.key if stage else row["key"],
                "name": stage.name if stage else None,
                "currency": row["currency"],
                "count": row["n"],
                "amount": row["amount"],
                "share_pct": tenths(100 * row["n"], total),
            }
        )
    return out


def _months_between(start: date, today: date) -> int:
    """Whole months from ``start`` to ``today``: the most m with add_months(start, m) ≤ today."""
    months = (today.year - start.year) * 12 + today.month - start.month
    while months > 0 and add_months(start, months) > today:
        months -= 1
    return max(months, 0)


def _latest_lost_day(today: date, months: int) -> date:
    """The latest day a deal may have been lost on and be ``months`` months behind today."""
    day = add_months(today, -months)
    while add_months(day + timedelta(days=1), months) <= today:
        day += timedelta(days=1)
    return day


def revisit(
    session: Session, owner: str | None = None, *, filters: Filters | None = None
) -> list[dict[str, Any]]:
    """Lost deals ripe for re-approach (掘り起こし): lost at least N months ago, N from the
    ``[revisit]`` table for the deal's lost reason (a reason not in it is never ripe).

    Each row is a ``list`` row plus ``lost_reason_name``, ``lost_note``, ``notes``,
    ``closed_at``, ``lost_on``, ``months_since_lost``, ``revisit_after_months`` and
    ``revisit_on`` (the day it became ripe). Longest ripe first. A period keeps deals
    lost in it.
    """
    filters = filters or Filters()
    if owner:
        filters = replace(filters, owner=owner)
    today = session.today
    months = session.config.revisit_months
    if not months:
        return []
    one = "(d.lost_reason = ? AND substr(d.closed_at, 1, 10) <= ?)"
    ripe_sql = " OR ".join(one for _ in months)
    ripe_params: list[Any] = []
    for reason, n in months.items():
        ripe_params.extend([reason, _latest_lost_day(today, n).isoformat()])
    period, period_params = where_for(
        session, Filters(since=filters.since, until=filters.until), period_column="d.closed_at"
    )
    if period:
        ripe_sql = f"({ripe_sql}) AND {period}"
    where, params = where_for(session, replace(filters, since=None, until=None), period_column=None)
    # Also every candidate whose closed_at starts with no day, which the comparisons as
    # text would pass over (`garbage` sorts after every date): it stops the command below.
    damaged = "NOT " + dates.sql_day("substr(d.closed_at, 1, 10)")
    rows = session.store.query(
        DEAL_VIEW
        + " AND d.status = 'lost' AND d.closed_at IS NOT NULL"
        + f" AND d.lost_reason IN ({', '.join('?' for _ in months)})"
        + f" AND ({ripe_sql} OR {damaged})"
        + (f" AND {where}" if where else ""),
        [*months, *ripe_params, *period_params, *params],
    )
    names = session.config.lost_reasons
    out = []
    for row in rows:
        lost_on = dates.stored_day(row["closed_at"], row["number"], "closed_at")
        after = months[row["lost_reason"]]
        item = deal_row(row, today, session.zone)
        item.update(
            lost_reason_name=names.get(row["lost_reason"], row["lost_reason"]),
            lost_note=row["lost_note"],
            notes=row["notes"],
            closed_at=row["closed_at"],
            lost_on=lost_on.isoformat(),
            months_since_lost=_months_between(lost_on, today),
            revisit_after_months=after,
            revisit_on=add_months(lost_on, after).isoformat(),
        )
        out.append(item)
    return sorted(out, key=lambda d: (d["revisit_on"], d["number"]))


def parse_within(text: str) -> int:
    """``7d`` / ``2w`` / ``7`` -> a number of days."""
    raw = text.strip().lower()
    digits, unit = (raw[:-1], raw[-1]) if raw.endswith(("d", "w")) else (raw, "d")
    if not (digits.isdecimal() and digits.isascii()) or len(digits) > 6:
        raise InvalidInput(f"invalid --within {text!r}: use a number of days such as 7d or 2w")
    days = int(digits) * (7 if unit == "w" else 1)
    if days > _MAX_DAYS:
        raise InvalidInput(f"invalid --within {text!r}: at most {_MAX_DAYS} days")
    return days
