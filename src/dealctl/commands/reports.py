"""Report commands: due, pipeline, funnel."""

from __future__ import annotations

import sys
from typing import Annotated

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
from dealctl.render import Column

DUE_TABLE = ("number", "title", "account", "stage", "next_action", "next_due", "days_overdue")


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
    days = analytics.parse_within(within) if within else 0
    with reading(ctx) as session:
        listing = analytics.due(
            session,
            only="overdue" if overdue else "today" if today else None,
            within=days,
            owner=owner,
        )
    out = output_for(ctx)
    resolved = out.resolve(fmt)
    if resolved != "table" or quiet:
        emit_deals(ctx, listing.due, fmt, DUE_TABLE, quiet=quiet)
        if listing.missing:
            numbers = ", ".join(str(r["number"]) for r in listing.missing)
            sys.stderr.write(
                f"dealctl: warning: {len(listing.missing)} open deals have no next action:"
                f" {numbers}\n"
            )
        return
    emit_deals(
        ctx, listing.due, fmt, DUE_TABLE, show_all=show_all, title="Due", empty="nothing due"
    )
    if listing.missing:
        emit_deals(
            ctx,
            listing.missing,
            fmt,
            ("number", "title", "account", "stage"),
            show_all=show_all,
            title=f"No next action ({len(listing.missing)})",
        )


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
]


@app.command()
def pipeline(
    ctx: typer.Context,
    name: PipelineOpt = None,
    summary: Annotated[bool, typer.Option("--summary", help="Stage rows only.")] = False,
    fmt: FormatOption = None,
    show_all: AllOption = False,
) -> None:
    """Show open deals per stage: count, amount and weighted amount, per currency.

    Example: dealctl pipeline --summary
    """
    from dealctl import analytics
    from dealctl.render import write_rows

    with reading(ctx) as session:
        stages, deal_rows = analytics.pipeline(session, name)
    out = output_for(ctx)
    resolved = out.resolve(fmt)
    if resolved != "table":
        write_rows(out, resolved, PIPELINE_COLUMNS, stages)
        return
    table_columns = [c for c in PIPELINE_COLUMNS if c.key not in ("pipeline", "stage_name")]
    write_rows(out, "table", table_columns, stages, title="Pipeline", empty="no stages yet")
    for total in analytics.totals_by_currency(stages):
        out.line(
            f"Total {total['currency']}: {total['count']} deals, {money_text(total)},"
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
            emit_deals(
                ctx,
                rows,
                "table",
                ("number", "title", "account", "amount", "next_action", "next_due"),
                show_all=show_all,
                title=f"{stage['stage_name']} ({stage['currency']})",
            )


FUNNEL_COLUMNS = [
    Column("pipeline", "Pipeline"),
    Column("stage", "Stage", show=lambda r: str(r["stage_name"])),
    Column("stage_name", "Stage name"),
    Column("reached", "Reached", justify="right"),
    Column("moved_on", "Moved on", justify="right"),
    Column("lost", "Lost from", justify="right"),
    Column("conversion_pct", "Conversion %", justify="right"),
]


@app.command()
def funnel(
    ctx: typer.Context,
    name: PipelineOpt = None,
    fmt: FormatOption = None,
) -> None:
    """Show how deals move through the stages, from their recorded history, and the win rate.

    Example: dealctl funnel --format json
    """
    from dealctl import analytics
    from dealctl.render import write_rows

    with reading(ctx) as session:
        result = analytics.funnel(session, name)
    out = output_for(ctx)
    resolved = out.resolve(fmt)
    if resolved != "table":
        write_rows(out, resolved, FUNNEL_COLUMNS, result.rows)
        return
    columns = [c for c in FUNNEL_COLUMNS if c.key not in ("pipeline", "stage_name")]
    write_rows(out, "table", columns, result.rows, title="Funnel", empty="no deals yet")
    if result.win_rate is not None:
        out.line(
            f"Win rate {100 * result.win_rate:.1f}% ({result.won} won / "
            f"{result.won + result.lost} closed); {result.open} open"
        )
