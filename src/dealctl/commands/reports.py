"""Report commands: due, pipeline, funnel, forecast, stale, lost, revisit, next."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dealctl.cli import (
    AllOption,
    FormatOption,
    PipelineOpt,
    QuietOption,
    app,
    emit_deals,
    money_text,
    output_for,
    reading,
)
from dealctl.errors import InvalidInput
from dealctl.render import Column, Output
from dealctl.text import counted

if TYPE_CHECKING:
    from dealctl.analytics import Filters
    from dealctl.session import Session

DUE_TABLE = ("number", "title", "account", "stage", "next_action", "next_due", "days_overdue")


_NUMBERS_SHOWN = 20
_MISSING_PAGE = 10


@app.command()
def due(
    ctx: typer.Context,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue actions.")] = False,
    today: Annotated[bool, typer.Option("--today", help="Only actions due today.")] = False,
    within: Annotated[
        str | None, typer.Option("--within", help="Also what is due in the next N days (7d).")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="One owner's deals.")] = None,
    fmt: FormatOption = None,
    quiet: QuietOption = False,
    show_all: AllOption = False,
) -> None:
    """List next actions due: overdue first (with days overdue), then today.

    Open deals with no next action are listed after, as a warning.
    Example: dealctl due --within 7d
    """
    from dealctl import analytics

    if overdue and today:
        raise InvalidInput("--overdue and --today exclude each other")
    days = 0 if within is None else analytics.parse_within(within)
    with reading(ctx) as session:  # rows are written as they are read
        listing = analytics.due(
            session,
            only="overdue" if overdue else "today" if today else None,
            within=days,
            owner=owner,
        )
        missing = listing.missing_count
        if quiet or output_for(ctx).resolve(fmt) != "table":
            emit_deals(ctx, listing.due, fmt, DUE_TABLE, quiet=quiet)
            if missing:
                # A line for a person (or a cron mail), not a list: `dealctl stale` lists them.
                shown = [str(r["number"]) for r in listing.missing(_NUMBERS_SHOWN)]
                more = missing - len(shown)
                numbers = ", ".join(shown) + (f" and {more} more (dealctl stale)" if more else "")
                sys.stderr.write(
                    "dealctl: warning: no next action or no due date on"
                    f" {counted(missing, 'open deal')}: {numbers}\n"
                )
            return
        emit_deals(
            ctx,
            listing.due,
            fmt,
            DUE_TABLE,
            show_all=show_all,
            title="Due",
            empty="nothing due",
            total=listing.count,
        )
        if missing:
            # A shorter page, so that a long list of them does not push the due list away.
            emit_deals(
                ctx,
                listing.missing(None),
                fmt,
                ("number", "title", "account", "stage"),
                show_all=show_all,
                title=f"No next action or no due date ({missing})",
                page=_MISSING_PAGE,
                total=lambda: missing,
            )


# --- shared report options and helpers -------------------------------------------------------

ReportOwnerOpt = Annotated[str | None, typer.Option("--owner", help="One owner's deals.")]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Period start: a date (2026-10-01, -30d) or this-month, last-quarter, this-year ...",
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until", help="Period end (inclusive): a date or a named period (its last day)."
    ),
]


def _filters(
    session: Session,
    pipeline: str | None,
    owner: str | None,
    since: str | None,
    until: str | None,
) -> Filters:
    from dealctl.analytics import Filters

    return Filters.parse(session.today, pipeline=pipeline, owner=owner, since=since, until=until)


def _scope(filters: Filters, pipeline: str | None = None) -> str:
    """The filters in words, for empty-state messages: ' in b2b for 佐藤 from 2026-10-01'."""
    parts = []
    if pipeline or filters.pipeline:
        parts.append(f" in pipeline {pipeline or filters.pipeline}")
    if filters.owner:
        parts.append(f" for {filters.owner}")
    if filters.since:
        parts.append(f" from {filters.since.isoformat()}")
    if filters.until:
        parts.append(f" to {filters.until.isoformat()}")
    return "".join(parts)


def _days(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


def bar_chart(out: Output, items: list[tuple[str, int, str]]) -> None:
    """A horizontal bar chart of (label, value, text) on a terminal; nothing elsewhere."""
    import shutil

    from dealctl.text import display_width

    if not out.is_terminal or not items:
        return
    top = max(value for _, value, _ in items)
    label_width = max(display_width(label) for label, _, _ in items)
    text_width = max(len(text) for _, _, text in items)
    room = max(10, shutil.get_terminal_size().columns - label_width - text_width - 4)
    out.line()
    for label, value, text in items:
        length = 0 if top <= 0 else round(room * value / top)
        pad = " " * (label_width - display_width(label))
        out.line(f"{label}{pad}  {'█' * length}{' ' if length else ''}{text}")


# --- pipeline ----------------------------------------------------------------------------------

PIPELINE_COLUMNS = [
    Column("pipeline", "Pipeline"),
    Column("stage", "Stage", show=lambda r: str(r["stage_name"])),
    Column("stage_name", "Stage name"),
    Column("probability", "%", justify="right"),
    Column("currency", "Currency"),
    Column("count", "Deals", justify="right"),
    Column("amount", "Amount", justify="right", show=money_text),
    Column(
        "weighted_amount",
        "Weighted",
        justify="right",
        show=lambda r: money_text(r, "weighted_amount"),
    ),
    Column("stale", "Stale", justify="right"),
    Column("avg_idle_days", "Avg idle", justify="right", show=lambda r: _days(r, "avg_idle_days")),
]
PIPELINE_DEAL_COLUMNS = [
    Column("number", "#", justify="right"),
    Column("title", "Title", wide=True),
    Column("account", "Account"),
    Column("amount", "Amount", justify="right", show=money_text),
    Column("days_in_stage", "In stage", justify="right"),
    Column(
        "idle_days",
        "Idle",
        justify="right",
        show=lambda r: f"{r['idle_days']} stale" if r["stale"] else str(r["idle_days"]),
    ),
    Column("next_action", "Next action"),
    Column("next_due", "Due", show=lambda r: (r.get("next_due") or "").replace("T", " ")[:16]),
]


@app.command()
def pipeline(
    ctx: typer.Context,
    name: PipelineOpt = None,
    owner: ReportOwnerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    summary: Annotated[bool, typer.Option("--summary", help="Stage rows only.")] = False,
    fmt: FormatOption = None,
    show_all: AllOption = False,
) -> None:
    """Show open deals per stage: count, amount, weighted amount, stale, idle days, per currency.

    A period keeps the deals expected to close in it.
    Example: dealctl pipeline --summary --since this-quarter --until this-quarter
    """
    from dealctl import analytics
    from dealctl.render import write_rows

    out = output_for(ctx)
    resolved = out.resolve(fmt)
    with reading(ctx) as session:
        filters = _filters(session, name, owner, since, until)
        stages, deal_rows = analytics.pipeline(
            session, name, filters=filters, with_deals=resolved == "table" and not summary
        )
        key = name or session.config.default_pipeline
    if resolved != "table":
        write_rows(out, resolved, PIPELINE_COLUMNS, stages)
        return
    if not any(s["count"] for s in stages):
        out.line(f"no open deals{_scope(filters, key)}: add one with dealctl add TITLE")
        return
    table_columns = [c for c in PIPELINE_COLUMNS if c.key not in ("pipeline", "stage_name")]
    write_rows(out, "table", table_columns, stages, title=f"Pipeline {key}")
    for total in analytics.totals_by_currency(stages):
        out.line(
            f"Total {total['currency']}: {counted(total['count'], 'deal')}, {money_text(total)},"
            f" weighted {money_text(total, 'weighted_amount')}"
        )
    if summary:
        return
    for stage in stages:
        rows = [
            r
            for r in deal_rows
            if r["stage"] == stage["stage"] and r["currency"] == stage["currency"]
        ]
        if rows:
            write_rows(
                out,
                "table",
                PIPELINE_DEAL_COLUMNS,
                rows,
                title=f"{stage['stage_name']} ({stage['currency']})",
                show_all=show_all,
            )


# --- funnel ------------------------------------------------------------------------------------

FUNNEL_COLUMNS = [
    Column("pipeline", "Pipeline"),
    Column("stage", "Stage", show=lambda r: str(r["stage_name"])),
    Column("stage_name", "Stage name"),
    Column("reached", "Reached", justify="right"),
    Column("moved_on", "Moved on", justify="right"),
    Column("lost", "Lost from", justify="right"),
    Column("conversion_pct", "Conversion %", justify="right"),
    Column("median_days", "Median days", justify="right", show=lambda r: _days(r, "median_days")),
    Column("mean_days", "Mean days", justify="right", show=lambda r: _days(r, "mean_days")),
    Column("open_now", "Open now", justify="right"),
    Column(
        "median_days_so_far",
        "So far (median)",
        justify="right",
        show=lambda r: _days(r, "median_days_so_far"),
    ),
]
OVERALL_COLUMNS = [
    Column("pipeline", "Pipeline"),
    Column("won", "Won", justify="right"),
    Column("lost", "Lost", justify="right"),
    Column("open", "Open", justify="right"),
    Column("win_rate_pct", "Win rate %", justify="right"),
    Column("cycle_count", "Cycles", justify="right"),
    Column("cycle_median_days", "Cycle median days", justify="right"),
    Column("cycle_mean_days", "Cycle mean days", justify="right"),
]


@app.command()
def funnel(
    ctx: typer.Context,
    name: PipelineOpt = None,
    owner: ReportOwnerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    overall: Annotated[
        bool, typer.Option("--overall", help="One row: won, lost, win rate and sales cycle.")
    ] = False,
    fmt: FormatOption = None,
) -> None:
    """Show how deals move through the stages, from their recorded history, and the win rate.

    Per stage: reached, moved on, lost from, conversion and days in stage. With a period,
    stages count deals that started in it; win rate and sales cycle, deals closed in it.
    Example: dealctl funnel --since last-quarter --until last-quarter
    """
    from dealctl import analytics
    from dealctl.render import write_rows

    out = output_for(ctx)
    resolved = out.resolve(fmt)
    with reading(ctx) as session:
        filters = _filters(session, name, owner, since, until)
        result = analytics.funnel(session, name, filters=filters)
        key = name or session.config.default_pipeline
    if overall:
        summary = result.overall()
        if resolved == "table" and result.won + result.lost + result.open == 0:
            out.line(f"no deals{_scope(filters, key)} yet: nothing to measure")
            return
        write_rows(out, resolved, OVERALL_COLUMNS, [summary], title=f"Funnel {key}")
        return
    if resolved != "table":
        write_rows(out, resolved, FUNNEL_COLUMNS, result.rows)
        return
    counted = result.rows[0]["reached"] if result.rows else 0
    if counted == 0 and result.won + result.lost == 0:
        out.line(f"no deals{_scope(filters, key)} yet: nothing to measure")
        return
    columns = [c for c in FUNNEL_COLUMNS if c.key not in ("pipeline", "stage_name")]
    write_rows(out, "table", columns, result.rows, title=f"Funnel {key}")
    bar_chart(
        out,
        [(str(r["stage_name"]), r["reached"], str(r["reached"])) for r in result.rows],
    )
    cycle = result.cycle
    if cycle.count:
        out.line(
            f"Sales cycle: median {cycle.median:.1f} days, mean {cycle.mean:.1f} days"
            f" ({cycle.count} won)"
        )
    win_rate = result.overall()["win_rate_pct"]
    if win_rate is not None:
        out.line(
            f"Win rate {win_rate:.1f}% ({result.won} won / "
            f"{result.won + result.lost} closed); {result.open} open"
        )


# --- forecast ----------------------------------------------------------------------------------

FORECAST_COLUMNS = [
    Column("currency", "Currency"),
    Column("month", "Month"),
    Column("open_count", "Open", justify="right"),
    Column("amount", "Amount", justify="right", show=money_text),
    Column(
        "weighted_amount",
        "Weighted",
        justify="right",
        show=lambda r: money_text(r, "weighted_amount"),
    ),
    Column("won_count", "Won", justify="right"),
    Column("won_amount", "Won amount", justify="right", show=lambda r: money_text(r, "won_amount")),
]


@app.command()
def forecast(
    ctx: typer.Context,
    months: Annotated[
        int, typer.Option("--months", "-m", help="How many months to show (default 6).")
    ] = 6,
    name: PipelineOpt = None,
    owner: ReportOwnerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: FormatOption = None,
) -> None:
    """Forecast by expected close month: open deals, amount and weighted amount beside what
    was won that month, per currency; deals past their close date are 'slipped'.

    Months run from this month (or --since) for --months, or to --until.
    Example: dealctl forecast --months 3
    """
    from dealctl import analytics
    from dealctl.render import write_rows

    out = output_for(ctx)
    resolved = out.resolve(fmt)
    with reading(ctx) as session:
        filters = _filters(session, name, owner, since, until)
        result = analytics.forecast(session, months=months, filters=filters)
    if resolved != "table":
        write_rows(out, resolved, FORECAST_COLUMNS, result.rows)
        return
    if not result.rows:
        out.line(
            f"nothing to forecast{_scope(filters)}: no open deals and none won in these months"
        )
        return
    columns = [c for c in FORECAST_COLUMNS if c.key != "currency"]
    for total in analytics.forecast_totals(result.rows):
        currency = total["currency"]
        rows = [r for r in result.rows if r["currency"] == currency]
        write_rows(out, "table", columns, rows, title=f"Forecast ({currency})", show_all=True)
        out.line(
            f"Total {currency}: {total['open_count']} open, {money_text(total)},"
            f" weighted {money_text(total, 'weighted_amount')};"
            f" won {total['won_count']}, {money_text(total, 'won_amount')}"
        )
        bar_chart(
            out,
            [
                (r["month"], r["weighted_amount"], money_text(r, "weighted_amount"))
                for r in rows
                if r["month"] not in ("later", "undated")
            ],
        )


# --- stale -------------------------------------------------------------------------------------

STALE_COLUMNS = [
    Column("reason", "Reason"),
    Column("number", "#", justify="right"),
    Column("id", "id"),
    Column("title", "Title", wide=True),
    Column("account", "Account"),
    Column("pipeline", "Pipeline"),
    Column("stage", "Stage", show=lambda r: str(r["stage_name"])),
    Column("stage_name", "Stage name"),
    Column("owner", "Owner"),
    Column("amount", "Amount", justify="right", show=money_text),
    Column("currency", "Currency"),
    Column("idle_days", "Idle", justify="right"),
    Column("rot_days", "Limit", justify="right"),
    Column("days_over", "Over", justify="right"),
    Column("next_action", "Next action"),
    Column("next_due", "Due", show=lambda r: (r.get("next_due") or "").replace("T", " ")[:16]),
    Column("close_date", "Close"),
]
STALE_SECTIONS = (
    (
        "stale",
        "Stale",
        (
            "number",
            "title",
            "account",
            "stage",
            "idle_days",
            "rot_days",
            "days_over",
            "next_action",
        ),
    ),
    (
        "no-next-action",
        "No next action",
        ("number", "title", "account", "stage", "idle_days", "next_action", "next_due"),
    ),
    (
        "no-decision-maker",
        "No decision maker",
        ("number", "title", "account", "stage", "amount", "close_date"),
    ),
)


@app.command()
def stale(
    ctx: typer.Context,
    name: PipelineOpt = None,
    owner: ReportOwnerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: FormatOption = None,
    show_all: AllOption = False,
    quiet: QuietOption = False,
) -> None:
    """List deals to chase: stale ones (idle beyond their stage's rot days), open ones with
    no next action, and ones at proposal or later with no decision maker recorded.

    Example: dealctl stale --owner 佐藤
    """
    from dealctl import analytics
    from dealctl.render import write_rows

    out = output_for(ctx)
    resolved = out.resolve(fmt)
    with reading(ctx) as session:
        filters = _filters(session, name, owner, since, until)
        report = analytics.stale_report(session, filters)
    sections = [
        ("stale", report.stale),
        ("no-next-action", report.no_next_action),
        ("no-decision-maker", report.no_decision_maker),
    ]
    if quiet:  # each deal once, in the order of the sections
        numbers = dict.fromkeys(d["number"] for _, deals in sections for d in deals or [])
        for number in numbers:
            out.line(str(number))
        return
    if resolved != "table":
        rows = [{**d, "reason": key} for key, deals in sections for d in deals or []]
        write_rows(out, resolved, STALE_COLUMNS, rows)
        return
    if report.empty:
        out.line(
            f"nothing to chase{_scope(filters)}: no stale deals, and every open deal has a"
            " next action"
            + (" and a decision maker" if report.no_decision_maker is not None else "")
        )
        return
    by_key = {c.key: c for c in STALE_COLUMNS}
    for (_, deals), (_, title, keys) in zip(sections, STALE_SECTIONS, strict=True):
        if deals:
            write_rows(
                out,
                "table",
                [by_key[k] for k in keys],
                deals,
                title=f"{title} ({len(deals)})",
                show_all=show_all,
            )


# --- lost and revisit --------------------------------------------------------------------------

LOST_COLUMNS = [
    Column("by", "By"),
    Column("pipeline", "Pipeline"),
    Column("key", "Key"),
    Column("name", "Name"),
    Column("currency", "Currency"),
    Column("count", "Deals", justify="right"),
    Column("amount", "Amount", justify="right", show=money_text),
    Column("share_pct", "Share %", justify="right"),
]


@app.command()
def lost(
    ctx: typer.Context,
    name: PipelineOpt = None,
    owner: ReportOwnerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: FormatOption = None,
) -> None:
    """Show lost deals by reason and by the stage they were lost from, with amounts.

    A period keeps the deals lost in it.
    Example: dealctl lost --since this-year
    """
    from dealctl import analytics
    from dealctl.render import write_rows

    out = output_for(ctx)
    resolved = out.resolve(fmt)
    with reading(ctx) as session:
        filters = _filters(session, name, owner, since, until)
        rows = analytics.lost(session, filters)
    if resolved != "table":
        write_rows(out, resolved, LOST_COLUMNS, rows)
        return
    if not rows:
        out.line(f"no lost deals{_scope(filters)}")
        return
    by_key = {c.key: c for c in LOST_COLUMNS}
    reasons = [r for r in rows if r["by"] == "reason"]
    stages = [r for r in rows if r["by"] == "stage"]
    reason_cols = [Column("key", "Reason", show=lambda r: str(r["name"] or r["key"] or "(none)"))]
    stage_cols = [Column("key", "Lost from", show=lambda r: str(r["name"] or r["key"]))]
    tail = [by_key[k] for k in ("currency", "count", "amount", "share_pct")]
    write_rows(out, "table", reason_cols + tail, reasons, title="Lost by reason", show_all=True)
    write_rows(out, "table", stage_cols + tail, stages, title="Lost from stage", show_all=True)
    count = sum(r["count"] for r in reasons)
    amounts = analytics.totals_by_currency([{**r, "weighted_amount": 0} for r in reasons])
    out.line(f"Total: {counted(count, 'lost deal')}; " + ", ".join(money_text(t) for t in amounts))


REVISIT_COLUMNS = [
    Column("number", "#", justify="right"),
    Column("id", "id"),
    Column("title", "Title", wide=True),
    Column("account", "Account"),
    Column("owner", "Owner"),
    Column("pipeline", "Pipeline"),
    Column("stage", "Lost from", show=lambda r: str(r["stage_name"])),
    Column("stage_name", "Stage name"),
    Column("amount", "Amount", justify="right", show=money_text),
    Column("currency", "Currency"),
    Column("lost_reason", "Reason", show=lambda r: str(r["lost_reason_name"])),
    Column("lost_reason_name", "Reason name"),
    Column("lost_on", "Lost on"),
    Column("months_since_lost", "Months", justify="right"),
    Column("revisit_after_months", "After", justify="right"),
    Column("revisit_on", "Ripe since"),
    Column("lost_note", "Lost note", wide=True),
    Column("notes", "Notes"),
]
REVISIT_TABLE = (
    "number",
    "title",
    "account",
    "stage",
    "amount",
    "lost_reason",
    "lost_on",
    "months_since_lost",
    "lost_note",
    "notes",
)


@app.command()
def revisit(
    ctx: typer.Context,
    name: PipelineOpt = None,
    owner: ReportOwnerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: FormatOption = None,
    quiet: QuietOption = False,
    show_all: AllOption = False,
) -> None:
    """List lost deals ripe for another try (掘り起こし), with the notes from when they were lost.

    Ripe: lost at least as many months ago as [revisit] in the config gives for the reason.
    Example: dealctl revisit --format csv
    """
    from dealctl import analytics
    from dealctl.render import write_rows

    out = output_for(ctx)
    resolved = out.resolve(fmt)
    with reading(ctx) as session:
        filters = _filters(session, name, owner, since, until)
        rows = analytics.revisit(session, filters=filters)
    if quiet:
        for row in rows:
            out.line(str(row["number"]))
        return
    if resolved != "table":
        write_rows(out, resolved, REVISIT_COLUMNS, rows)
        return
    by_key = {c.key: c for c in REVISIT_COLUMNS}
    write_rows(
        out,
        "table",
        [by_key[k] for k in REVISIT_TABLE],
        rows,
        title=f"Revisit ({len(rows)})",
        empty=f"no lost deals ripe for another try{_scope(filters)}",
        show_all=show_all,
    )


# --- next ----------------------------------------------------------------------------------

NEXT_COLUMNS = [
    Column("rank", "Rank", justify="right"),
    Column("number", "#", justify="right"),
    Column("id", "id"),
    Column("score", "Score", justify="right", show=lambda r: f"{r['score']:.2f}"),
    Column("title", "Title", wide=True),
    Column("account", "Account"),
    Column("pipeline", "Pipeline"),
    Column("stage", "Stage", show=lambda r: str(r["stage_name"])),
    Column("stage_name", "Stage name"),
    Column("owner", "Owner"),
    Column("amount", "Amount", justify="right", show=money_text),
    Column("currency", "Currency"),
    Column("probability", "%", justify="right"),
    Column("probability_source", "% from"),
    Column("next_action", "Next action"),
    Column("next_due", "Due", show=lambda r: (r.get("next_due") or "").replace("T", " ")[:16]),
    Column("days_overdue", "Overdue", justify="right"),
    Column("idle_days", "Idle", justify="right"),
    *(
        Column(f"{term}_points", term, justify="right")
        for term in (
            "due",
            "probability",
            "size",
            "stale",
            "no_next_action",
            "qualification",
            "hot",
        )
    ),
    Column("why", "Why"),
]
NEXT_TABLE = (
    "rank",
    "number",
    "score",
    "title",
    "account",
    "stage",
    "amount",
    "next_action",
    "next_due",
    "why",
)


@app.command(name="next")
def next_(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="How many deals (default 10; 0 for all).")
    ] = 10,
    name: PipelineOpt = None,
    owner: ReportOwnerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: FormatOption = None,
    quiet: QuietOption = False,
) -> None:
    """Rank open deals by priority: what to work on next (coefficients in [priority]).

    Score = Σ coefficient × term (due, probability, size, stale, no next action,
    qualification, hot); dealctl show ID explains one deal's score.
    Example: dealctl next --limit 5
    """
    from dealctl import priority
    from dealctl.render import write_rows

    if limit < 0:
        raise InvalidInput(f"invalid --limit {limit}: use 0 (all) or more")
    out = output_for(ctx)
    resolved = out.resolve(fmt)
    with reading(ctx) as session:
        filters = _filters(session, name, owner, since, until)
        rows = priority.rank(session, filters, limit)
    if quiet:
        for row in rows:
            out.line(str(row["number"]))
        return
    if resolved != "table":
        write_rows(out, resolved, NEXT_COLUMNS, rows)
        return
    by_key = {c.key: c for c in NEXT_COLUMNS}
    write_rows(
        out,
        "table",
        [by_key[k] for k in NEXT_TABLE],
        rows,
        title="Next",
        empty=f"no open deals{_scope(filters)}: nothing to work on",
        show_all=True,
    )
