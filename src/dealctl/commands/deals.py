"""Commands on single deals: add, edit, advance, lose, close, reopen, log, list, show, history."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dealctl.cli import (
    BANT_COLUMN,
    DEAL_COLUMNS,
    LIST_TABLE,
    AccountOpt,
    AllOption,
    AmountOpt,
    CloseOpt,
    ContactOpt,
    CurrencyOpt,
    DealArg,
    DueOpt,
    FormatOption,
    NextOpt,
    NotesOpt,
    OwnerOpt,
    PipelineOpt,
    ProbabilityOpt,
    ProposalOpt,
    PurposeOpt,
    QuietOption,
    SourceOpt,
    StageOpt,
    TagOpt,
    TitleArg,
    app,
    due_text,
    emit_deals,
    money_text,
    output_for,
    pick_columns,
    reading,
    writing,
)
from dealctl.errors import InvalidInput
from dealctl.render import BY_COLUMN, Column, Output


@app.command()
def add(
    ctx: typer.Context,
    title: TitleArg,
    account: AccountOpt = None,
    contact: ContactOpt = None,
    amount: AmountOpt = None,
    currency: CurrencyOpt = None,
    pipeline: PipelineOpt = None,
    stage: StageOpt = None,
    close: CloseOpt = None,
    next_action: NextOpt = None,
    due: DueOpt = None,
    owner: OwnerOpt = None,
    tag: TagOpt = None,
    source: SourceOpt = None,
    probability: ProbabilityOpt = None,
    purpose: PurposeOpt = None,
    proposal: ProposalOpt = None,
    notes: NotesOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the number.")] = False,
) -> None:
    """Add a deal.

    Example: dealctl add "基幹システム更新" -a サンプル --amount 120万 --next 見積送付 --due fri
    """
    from dealctl import deals

    fields = deals.DealFields(
        title=title,
        account=account,
        contact=contact,
        amount=amount,
        currency=currency,
        pipeline=pipeline,
        stage=stage,
        close=close,
        next_action=next_action,
        due=due,
        owner=owner,
        source=source,
        probability=probability,
        purpose=purpose,
        proposal=proposal,
        notes=notes,
        tags=tag or [],
    )
    with writing(ctx) as session:
        number = deals.add(session, fields)
    output_for(ctx).line(str(number) if quiet else f"added deal {number}")


@app.command()
def edit(
    ctx: typer.Context,
    deal: DealArg,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    account: AccountOpt = None,
    contact: ContactOpt = None,
    amount: AmountOpt = None,
    currency: Annotated[str | None, typer.Option("--currency", help="ISO code.")] = None,
    pipeline: PipelineOpt = None,
    stage: StageOpt = None,
    close: CloseOpt = None,
    next_action: NextOpt = None,
    due: DueOpt = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Owner.")] = None,
    tag: TagOpt = None,
    untag: Annotated[list[str] | None, typer.Option("--untag", help="Remove a tag.")] = None,
    source: SourceOpt = None,
    probability: ProbabilityOpt = None,
    purpose: PurposeOpt = None,
    proposal: ProposalOpt = None,
    notes: NotesOpt = None,
) -> None:
    """Change any field of a deal (an empty value clears it).

    Example: dealctl edit 12 --amount 150万 --close eom --tag hot
    """
    from dealctl import deals

    fields = deals.DealFields(
        title=title,
        account=account,
        contact=contact,
        amount=amount,
        currency=currency,
        pipeline=pipeline,
        stage=stage,
        close=close,
        next_action=next_action,
        due=due,
        owner=owner,
        source=source,
        probability=probability,
        purpose=purpose,
        proposal=proposal,
        notes=notes,
        tags=tag or [],
        untags=untag or [],
    )
    with writing(ctx) as session:
        changed = deals.edit(session, deal, fields)
    output_for(ctx).line(
        f"deal {deal}: " + (", ".join(changed) + " changed" if changed else "no change")
    )


@app.command()
def advance(
    ctx: typer.Context,
    deal: DealArg,
    stage: Annotated[
        str | None, typer.Argument(help="Stage to move to (default: the next one).")
    ] = None,
    next_action: NextOpt = None,
    due: DueOpt = None,
) -> None:
    """Move a deal to the next stage, or to a named one (backwards is allowed and recorded).

    Example: dealctl advance 12 --next "提案書送付" --due +3d
    """
    from dealctl import deals

    with writing(ctx) as session:
        target = deals.advance(session, deal, stage, next_action, due)
    won = " (won)" if target.kind == "won" else ""
    output_for(ctx).line(f"deal {deal} → {target.label}{won}")


@app.command()
def lose(
    ctx: typer.Context,
    deal: DealArg,
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            "-r",
            help="A configured lost reason, by key or name (dealctl config get lost_reasons).",
        ),
    ],
    note: Annotated[str | None, typer.Option("--note", help="What happened.")] = None,
) -> None:
    """Mark a deal lost, with a reason from the configured list.

    Example: dealctl lose 12 --reason price --note "競合が2割安い"
    """
    from dealctl import deals

    with writing(ctx) as session:
        key = deals.lose(session, deal, reason, note)
    output_for(ctx).line(f"deal {deal} lost ({key})")


@app.command(name="close")
def close_(
    ctx: typer.Context,
    deal: DealArg,
    amount: Annotated[str | None, typer.Option("--amount", help="Final amount.")] = None,
    on: Annotated[str | None, typer.Option("--date", help="Date won (default: today).")] = None,
) -> None:
    """Mark a deal won (it moves to the won stage). Alias: win.

    Example: dealctl close 12 --amount 1,150,000
    """
    from dealctl import deals

    with writing(ctx) as session:
        deals.close(session, deal, amount, on)
    output_for(ctx).line(f"deal {deal} won")


app.command(name="win", help="Mark a deal won (same as close).")(close_)


@app.command()
def reopen(
    ctx: typer.Context,
    deal: DealArg,
    stage: Annotated[str | None, typer.Option("--stage", "-s", help="Stage to reopen at.")] = None,
) -> None:
    """Reopen a won or lost deal (掘り起こし); recorded in its history.

    Example: dealctl reopen 12 --stage hearing
    """
    from dealctl import deals

    with writing(ctx) as session:
        target = deals.reopen(session, deal, stage)
    output_for(ctx).line(f"deal {deal} reopened at {target.label}")


@app.command(name="log")
def log_(
    ctx: typer.Context,
    deal: DealArg,
    text: Annotated[str, typer.Argument(help="What happened.", show_default=False)],
    kind: Annotated[
        str, typer.Option("--kind", "-k", help="call, email, meeting, demo, document or note.")
    ] = "note",
    at: Annotated[str | None, typer.Option("--at", help="When (default: now).")] = None,
    next_action: NextOpt = None,
    due: DueOpt = None,
    done: Annotated[bool, typer.Option("--done", help="Clear the next action.")] = False,
) -> None:
    """Log a follow-up; it can set (--next/--due) or clear (--done) the next action.

    Example: dealctl log 12 "見積書を送付" --kind email --next "電話で確認" --due fri
    """
    from dealctl import deals

    with writing(ctx) as session:
        deals.log(session, deal, text, kind, at, next_action, due, done)
    output_for(ctx).line(f"logged on deal {deal}")


# --- commands that read -----------------------------------------------------------------------


# `list` adds to the deal columns its BANT score and the parts missing (docs/output.md).
LIST_COLUMNS = [
    *DEAL_COLUMNS,
    BANT_COLUMN,
    Column("qualification_missing", "Missing"),
]


@app.command(name="list")
def list_(
    ctx: typer.Context,
    status: Annotated[str, typer.Option("--status", help="open, won, lost or all.")] = "open",
    stage: StageOpt = None,
    account: Annotated[
        str | None,
        typer.Option("--account", "-a", help="Only this account's deals: number (#3) or name."),
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Owner.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Tag.")] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Text in title, account...")
    ] = None,
    sort: Annotated[
        str,
        typer.Option("--sort", help="number, due, amount, close, created, updated, stage, title."),
    ] = "number",
    fmt: FormatOption = None,
    quiet: QuietOption = False,
    show_all: AllOption = False,
) -> None:
    """List deals (open ones unless --status says otherwise). Alias: ls.

    Example: dealctl list --stage proposal --sort amount
    """
    from dealctl.queries import ListFilter, list_deals

    spec = ListFilter(
        status=status, stage=stage, account=account, owner=owner, tag=tag, search=search, sort=sort
    )
    out = output_for(ctx)
    resolved = None if quiet else out.resolve(fmt)  # -q ignores --format
    with reading(ctx) as session:
        rows = list_deals(session, spec)
        if not quiet:  # the BANT score and the parts missing, in one query for every row
            from dealctl.qualification import completeness, missing_text

            scores = completeness(session, [r["id"] for r in rows])
            for row in rows:
                row["qualification"], missing = scores[row["id"]]
                row["qualification_missing"] = missing_text(missing)
    if resolved is None:
        emit_deals(ctx, rows, fmt, LIST_TABLE, quiet=True)
        return
    from dealctl.render import write_rows

    columns = pick_columns(LIST_COLUMNS, LIST_TABLE) if resolved == "table" else LIST_COLUMNS
    write_rows(out, resolved, columns, rows, empty="no deals", show_all=show_all)


app.command(name="ls", help="List deals (same as list).")(list_)


@app.command()
def show(
    ctx: typer.Context,
    deal: DealArg,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="text or json.")] = None,
) -> None:
    """Show a deal's card and its timeline.

    Example: dealctl show 12
    """
    from dealctl.analytics import deal_row
    from dealctl.commands.card import extras as committee
    from dealctl.deals import resolve
    from dealctl.priority import breakdown
    from dealctl.queries import timeline

    with reading(ctx) as session:
        row = resolve(session.store, deal)
        card = deal_row(row, session.today, session.zone)
        card.update(
            purpose=row["purpose"],
            proposal=row["proposal"],
            notes=row["notes"],
            lost_note=row["lost_note"],
            closed_at=row["closed_at"],
        )
        events = timeline(session, row["id"])
        card["priority"] = breakdown(session, row["id"])
        card.update(committee(session, row))
    out = output_for(ctx)
    if fmt == "json":
        out.json({**card, "timeline": events})
        return
    if fmt not in (None, "text"):
        raise InvalidInput(f"unknown format {fmt!r} for show: use text or json")
    _print_card(out, card, events)


SOURCES = {"deal": "set by hand", "stage": "the stage's", "outcome": "closed"}


def _print_priority(out: Output, priority: dict[str, Any]) -> None:
    """The score of `dealctl next`, term by term: points = coefficient × value."""
    out.line(f"{'Priority':<12}{priority['score']:.2f}")
    for term in priority["terms"]:
        out.line(
            f"  {term['term']:<15}{term['points']:>7.2f} = {term['coefficient']:g}"
            f" × {term['value']:.3f}  {term['detail']}"
        )


def _print_card(out: Output, card: dict[str, Any], events: list[dict[str, Any]]) -> None:
    from dealctl.commands.card import print_extras

    fields = [
        ("Deal", f"#{card['number']} {card['title']}"),
        ("Account", card["account"]),
        ("Contact", card["contact"]),
        ("Stage", f"{card['stage']} ({card['stage_name']}) · {card['status']}"),
        ("Amount", money_text(card) or None),
        ("Probability", f"{card['probability']}% ({SOURCES[card['probability_source']]})"),
        ("Close", card["close_date"]),
        ("Next", f"{card['next_action']} — due {due_text(card)}" if card["next_action"] else None),
        ("Owner", card["owner"]),
        ("Tags", card["tags"]),
        ("Source", card["source"]),
        ("Purpose", card["purpose"]),
        ("Proposal", card["proposal"]),
        ("Notes", card["notes"]),
        (
            "Lost",
            f"{card['lost_reason']} {card['lost_note'] or ''}".strip()
            if card["lost_reason"]
            else None,
        ),
        ("Id", card["id"]),
    ]
    for label, value in fields:
        if value:
            out.line(f"{label:<12}{value}")
    print_extras(out, card)  # committee, BANT, approval route
    if card.get("priority"):
        _print_priority(out, card["priority"])
    out.line()
    out.line("Timeline")
    for event in events:
        out.line(f"  {event['at'][:16].replace('T', ' ')}  {event['kind']:<8}  {event['text']}")


HISTORY_COLUMNS = [
    Column("at", "When"),
    Column("number", "#", justify="right"),
    Column("command", "Command"),
    Column("entity", "Record"),
    Column("field", "Field"),
    Column("old", "From"),
    Column("new", "To"),
    BY_COLUMN,
]


@app.command()
def history(
    ctx: typer.Context,
    deal: Annotated[str | None, typer.Argument(help="Deal number or id (default: all).")] = None,
    fmt: FormatOption = None,
    show_all: AllOption = False,
) -> None:
    """Show what changed, when, from what to what, and who ran the command.

    Example: dealctl history 12
    """
    from dealctl.queries import history as read_history
    from dealctl.render import write_rows

    with reading(ctx) as session:
        rows = read_history(session, deal)
    out = output_for(ctx)
    write_rows(out, out.resolve(fmt), HISTORY_COLUMNS, rows, empty="no history", show_all=show_all)
