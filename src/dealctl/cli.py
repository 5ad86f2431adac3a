"""The ``dealctl`` command line: parses arguments, calls the domain, hands rows to the renderer.

Nothing here knows SQL or Rich. Errors from the domain are ``DealctlError``
values, caught once in :class:`DealctlGroup` and printed as one line on stderr.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.exceptions import UsageError

from dealctl import __version__
from dealctl.errors import EXIT_ERROR, EXIT_INTERRUPTED, DealctlError, InvalidInput
from dealctl.render import COLOR_MODES, Column, Output
from dealctl.session import Session, open_session

DEBUG_ENV = "DEALCTL_DEBUG"


class DealctlGroup(typer.core.TyperGroup):
    """The one place where dealctl errors become a message and an exit status."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DealctlError as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted; nothing was written", EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader (`| head`) has what it wanted: leave quietly, with success.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except UsageError as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            where = exc.ctx.command_path if exc.ctx is not None else "dealctl"
            _fail(f"{exc.format_message()} (see {where} -h)", exc.exit_code)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_ENV) or exc.__class__.__module__.startswith(("typer", "click")):
                raise
            _fail(
                f"internal error ({exc.__class__.__name__}); nothing was written."
                f" Run with {DEBUG_ENV}=1 to see the traceback",
                EXIT_ERROR,
            )


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"dealctl: {' '.join(message.split())}\n")
    raise typer.Exit(code)


app = typer.Typer(
    cls=DealctlGroup,
    name="dealctl",
    help="A local-first deal manager (案件管理): one SQLite file, a fast CLI.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


class State:
    """Global options, kept on the Typer context."""

    def __init__(self, db: Path | None, color: str) -> None:
        self.db = db
        self.color = color


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"dealctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            help="Database file (default: $DEALCTL_DB, else the data folder).",
            show_default=False,
        ),
    ] = None,
    color: Annotated[
        str, typer.Option("--color", help="Styling: auto (terminal only), always or never.")
    ] = "auto",
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """A local-first deal manager (案件管理): one SQLite file, a fast CLI.

    Example: dealctl add "基幹システム更新" -a サンプル --amount 120万 --due fri --next 見積送付
    """
    if color not in COLOR_MODES:
        raise typer.BadParameter(f"use one of {', '.join(COLOR_MODES)}", param_hint="--color")
    ctx.obj = State(db, color)


def _state(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state


def _out(ctx: typer.Context) -> Output:
    return Output(stream=sys.stdout, color=_state(ctx).color)


@contextmanager
def reading(ctx: typer.Context) -> Iterator[Session]:
    """A session for a read command: never creates the database."""
    session = open_session(_state(ctx).db, write=False)
    try:
        yield session
    finally:
        session.close()


@contextmanager
def writing(ctx: typer.Context) -> Iterator[Session]:
    """A session for a write command; the command is one transaction.

    A database file created for a command that then fails is removed again, so
    bad input leaves nothing behind.
    """
    from dealctl import catalogue

    session = open_session(_state(ctx).db, write=True)
    args = [f"{k}={v}" for k, v in ctx.params.items() if v not in (None, False, [], ())]
    try:
        with session.store.transaction(ctx.command_path.split(" ", 1)[-1], args, session.stamp):
            catalogue.sync(session.store, session.config, session.stamp)
            yield session
    except BaseException:
        session.close()
        if session.created:
            session.store.remove_files()
        raise
    session.close()
    if session.created:
        sys.stderr.write(f"dealctl: created database {session.store.path}\n")


# --- shared options -------------------------------------------------------------------------

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table, csv, tsv, json or jsonl (default: table on a terminal, tsv in a pipe).",
        show_default=False,
    ),
]
AllOption = Annotated[bool, typer.Option("--all", help="Show every row on a terminal.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the numbers.")]


def _money(row: Mapping[str, Any], key: str = "amount") -> str:
    from dealctl.money import format_amount

    value = row.get(key)
    return "" if value is None else f"{format_amount(value, row['currency'])} {row['currency']}"


def _due(row: Mapping[str, Any]) -> str:
    due = row.get("next_due") or ""
    return due.replace("T", " ")[:16]


DEAL_COLUMNS = [
    Column("number", "#", justify="right"),
    Column("id", "id"),
    Column("title", "Title", wide=True),
    Column("account", "Account"),
    Column("contact", "Contact"),
    Column("pipeline", "Pipeline"),
    Column("stage", "Stage", show=lambda r: str(r["stage_name"])),
    Column("stage_name", "Stage name"),
    Column("status", "Status"),
    Column("amount", "Amount", justify="right", show=_money),
    Column("currency", "Currency"),
    Column("probability", "%", justify="right"),
    Column("close_date", "Close"),
    Column("next_action", "Next action"),
    Column("next_due", "Due", show=_due),
    Column("days_overdue", "Overdue", justify="right"),
    Column("owner", "Owner"),
    Column("tags", "Tags"),
    Column("source", "Source"),
    Column("lost_reason", "Lost reason"),
    Column("created_at", "Created"),
    Column("updated_at", "Updated"),
    Column("last_contact_at", "Last contact"),
]
# Columns a person sees in a table; machine formats carry every column above.
LIST_TABLE = (
    "number",
    "title",
    "account",
    "stage",
    "status",
    "amount",
    "close_date",
    "next_action",
    "next_due",
)


def _pick(columns: list[Column], keys: tuple[str, ...]) -> list[Column]:
    by_key = {c.key: c for c in columns}
    return [by_key[k] for k in keys]


def _emit_deals(
    ctx: typer.Context,
    rows: list[dict[str, Any]],
    fmt: str | None,
    table_keys: tuple[str, ...],
    *,
    quiet: bool = False,
    show_all: bool = False,
    title: str | None = None,
    empty: str = "no deals",
) -> None:
    out = _out(ctx)
    if quiet:
        for row in rows:
            out.line(str(row["number"]))
        return
    resolved = out.resolve(fmt)
    from dealctl.render import write_rows

    columns = _pick(DEAL_COLUMNS, table_keys) if resolved == "table" else DEAL_COLUMNS
    write_rows(out, resolved, columns, rows, title=title, empty=empty, show_all=show_all)


# --- commands that write ----------------------------------------------------------------------

TitleArg = Annotated[str, typer.Argument(help="What the deal is called.", show_default=False)]
DealArg = Annotated[str, typer.Argument(help="Deal number (12) or id.", show_default=False)]
AccountOpt = Annotated[
    str | None, typer.Option("--account", "-a", help="Company (created if new).")
]
ContactOpt = Annotated[str | None, typer.Option("--contact", help="Contact name or e-mail.")]
AmountOpt = Annotated[
    str | None, typer.Option("--amount", help="1,200,000 / ¥1,200,000 / 120万 / 1,200.50.")
]
CurrencyOpt = Annotated[str | None, typer.Option("--currency", help="ISO code (default: config).")]
PipelineOpt = Annotated[str | None, typer.Option("--pipeline", help="Pipeline key.")]
StageOpt = Annotated[str | None, typer.Option("--stage", "-s", help="Stage key or name.")]
CloseOpt = Annotated[str | None, typer.Option("--close", help="Expected close date.")]
NextOpt = Annotated[str | None, typer.Option("--next", "-n", help="Next action.")]
DueOpt = Annotated[
    str | None, typer.Option("--due", "-d", help="Next action due: date, +3d, fri, fri 14:00.")
]
OwnerOpt = Annotated[str | None, typer.Option("--owner", help="Owner (default: config owner).")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag (repeatable).")]
SourceOpt = Annotated[str | None, typer.Option("--source", help="Source or channel.")]
ProbabilityOpt = Annotated[
    str | None,
    typer.Option("--probability", help="Win % set by hand; 'stage' to follow the stage."),
]
PurposeOpt = Annotated[str | None, typer.Option("--purpose", help="What the customer wants.")]
ProposalOpt = Annotated[str | None, typer.Option("--proposal", help="What was proposed.")]
NotesOpt = Annotated[str | None, typer.Option("--notes", help="Free notes.")]


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
    _out(ctx).line(str(number) if quiet else f"added deal {number}")


@app.command()
def edit(
    ctx: typer.Context,
    deal: DealArg,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
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
    _out(ctx).line(f"deal {deal}: " + (", ".join(changed) + " changed" if changed else "no change"))


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
    _out(ctx).line(f"deal {deal} → {target.label}")


@app.command()
def lose(
    ctx: typer.Context,
    deal: DealArg,
    reason: Annotated[str, typer.Option("--reason", "-r", help="A configured lost reason.")],
    note: Annotated[str | None, typer.Option("--note", help="What happened.")] = None,
) -> None:
    """Mark a deal lost, with a reason from the configured list.

    Example: dealctl lose 12 --reason price --note "競合が2割安い"
    """
    from dealctl import deals

    with writing(ctx) as session:
        key = deals.lose(session, deal, reason, note)
    _out(ctx).line(f"deal {deal} lost ({key})")


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
    _out(ctx).line(f"deal {deal} won")


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
    _out(ctx).line(f"deal {deal} reopened at {target.label}")


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
    _out(ctx).line(f"logged on deal {deal}")


# --- commands that read -----------------------------------------------------------------------


@app.command(name="list")
def list_(
    ctx: typer.Context,
    status: Annotated[str, typer.Option("--status", help="open, won, lost or all.")] = "open",
    stage: StageOpt = None,
    account: AccountOpt = None,
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
    with reading(ctx) as session:
        rows = list_deals(session, spec)
    _emit_deals(ctx, rows, fmt, LIST_TABLE, quiet=quiet, show_all=show_all)


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
    from dealctl.deals import resolve
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
    out = _out(ctx)
    if fmt == "json":
        import json

        out.line(json.dumps({**card, "timeline": events}, ensure_ascii=False, indent=1))
        return
    if fmt not in (None, "text"):
        raise InvalidInput(f"unknown format {fmt!r} for show: use text or json")
    _print_card(out, card, events)


def _print_card(out: Output, card: dict[str, Any], events: list[dict[str, Any]]) -> None:
    fields = [
        ("Deal", f"#{card['number']} {card['title']}"),
        ("Account", card["account"]),
        ("Contact", card["contact"]),
        ("Stage", f"{card['stage']} ({card['stage_name']}) · {card['status']}"),
        ("Amount", _money(card) or None),
        ("Probability", f"{card['probability']}%"),
        ("Close", card["close_date"]),
        ("Next", f"{card['next_action']} — due {_due(card)}" if card["next_action"] else None),
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
]


@app.command()
def history(
    ctx: typer.Context,
    deal: Annotated[str | None, typer.Argument(help="Deal number or id (default: all).")] = None,
    fmt: FormatOption = None,
    show_all: AllOption = False,
) -> None:
    """Show what changed, when, from what to what.

    Example: dealctl history 12
    """
    from dealctl.queries import history as read_history
    from dealctl.render import write_rows

    with reading(ctx) as session:
        rows = read_history(session, deal)
    out = _out(ctx)
    write_rows(out, out.resolve(fmt), HISTORY_COLUMNS, rows, empty="no history", show_all=show_all)


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
    out = _out(ctx)
    resolved = out.resolve(fmt)
    if resolved != "table" or quiet:
        _emit_deals(ctx, listing.due, fmt, DUE_TABLE, quiet=quiet)
        if listing.missing:
            numbers = ", ".join(str(r["number"]) for r in listing.missing)
            sys.stderr.write(
                f"dealctl: warning: {len(listing.missing)} open deals have no next action:"
                f" {numbers}\n"
            )
        return
    _emit_deals(
        ctx, listing.due, fmt, DUE_TABLE, show_all=show_all, title="Due", empty="nothing due"
    )
    if listing.missing:
        _emit_deals(
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
    Column("amount", "Amount", justify="right", show=_money),
    Column(
        "weighted_amount", "Weighted", justify="right", show=lambda r: _money(r, "weighted_amount")
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
    out = _out(ctx)
    resolved = out.resolve(fmt)
    if resolved != "table":
        write_rows(out, resolved, PIPELINE_COLUMNS, stages)
        return
    table_columns = [c for c in PIPELINE_COLUMNS if c.key not in ("pipeline", "stage_name")]
    write_rows(out, "table", table_columns, stages, title="Pipeline", empty="no stages yet")
    for total in analytics.totals_by_currency(stages):
        out.line(
            f"Total {total['currency']}: {total['count']} deals, {_money(total)},"
            f" weighted {_money(total, 'weighted_amount')}"
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
            _emit_deals(
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
    out = _out(ctx)
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


# --- import, export, config --------------------------------------------------------------------


@app.command(name="import")
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV file, or a dealctl book folder (deals.csv ...).", show_default=False
        ),
    ],
    preset: Annotated[
        str | None, typer.Option("--preset", help="dealctl or maven (default: from the headers).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Force an encoding (default: UTF-8, CP932).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; write nothing.")
    ] = False,
) -> None:
    """Import deals: dealctl's own CSV or book folder, or the Maven CRM layout.

    All rows or none: a rejected cell stops the import before anything is written.
    Example: dealctl import examples/book
    """
    from dealctl import transfer

    out = _out(ctx)
    if dry_run:
        session = open_session(_state(ctx).db, write=False) if _db_exists(ctx) else None
        if session is None:
            out.line("dry run: no database yet; checking the file against an empty book")
            with _scratch_session() as scratch:
                report = _import_rolled_back(scratch, path, preset, encoding)
        else:
            try:
                report = _import_rolled_back(session, path, preset, encoding)
            finally:
                session.close()
    else:
        with writing(ctx) as session:
            report = transfer.import_path(session, path, preset, encoding)
            if report.rejected:
                _report_rejections(report)
    _print_import(out, report, dry_run)


def _db_exists(ctx: typer.Context) -> bool:
    from dealctl.storage import default_db_path

    path = _state(ctx).db or default_db_path(os.environ)
    return path.exists()


@contextmanager
def _scratch_session() -> Iterator[Session]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        session = open_session(Path(folder) / "dry-run.db", write=True)
        try:
            yield session
        finally:
            session.close()


def _import_rolled_back(
    session: Session, path: Path, preset: str | None, encoding: str | None
) -> Any:
    from dealctl import catalogue, transfer

    class _Rollback(Exception):
        pass

    holder: list[Any] = []
    try:
        with session.store.transaction("import --dry-run", [str(path)], session.stamp):
            catalogue.sync(session.store, session.config, session.stamp)
            holder.append(transfer.import_path(session, path, preset, encoding))
            raise _Rollback
    except _Rollback:
        pass
    report = holder[0]
    if report.rejected:
        _report_rejections(report)
    return report


def _report_rejections(report: Any) -> None:
    for item in report.rejected[:50]:
        sys.stderr.write(
            f"dealctl: record {item.record}, column {item.column!r}, value {item.value!r}:"
            f" {item.reason}\n"
        )
    if len(report.rejected) > 50:
        sys.stderr.write(f"dealctl: ... and {len(report.rejected) - 50} more rejected cells\n")
    raise InvalidInput(
        f"import stopped: {len(report.rejected)} rejected cells; nothing was written"
    )


def _print_import(out: Output, report: Any, dry_run: bool) -> None:
    prefix = "dry run, would import" if dry_run else "imported"
    out.line(
        f"{prefix} ({report.preset}): {report.created} deals created, {report.updated} updated,"
        f" {report.unchanged} unchanged; {report.accounts} accounts,"
        f" {report.activities} follow-ups, {report.stage_changes} stage changes"
    )


@app.command()
def export(
    ctx: typer.Context,
    kind: Annotated[
        str, typer.Argument(help="deals, accounts, contacts, activities or stage-changes.")
    ] = "deals",
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, tsv, json or jsonl.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file (mode 0600).")
    ] = None,
) -> None:
    """Export records with stable, documented columns (streams: memory stays flat).

    Example: dealctl export deals --format jsonl > deals.jsonl
    """
    from dealctl import transfer
    from dealctl.render import write_rows

    if fmt not in ("csv", "tsv", "json", "jsonl"):
        raise InvalidInput(f"unknown export format {fmt!r}: use csv, tsv, json or jsonl")
    columns = (
        [Column(k, k) for k in transfer.fields_of(kind)] if kind in transfer.EXPORT_KINDS else []
    )
    with reading(ctx) as session, closing(transfer.export_rows(session, kind)) as rows:
        if output is None:
            # An export is data, not display: always UTF-8, whatever the locale says.
            stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
            try:
                write_rows(Output(stream=stream, color="never"), fmt, columns, rows)
            finally:
                stream.detach()
            return
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
        except OSError as exc:
            raise InvalidInput(f"cannot write {output}: {exc.strerror}") from None
        with open(fd, "w", encoding="utf-8", newline="") as stream:
            count = write_rows(Output(stream=stream, color="never"), fmt, columns, rows)
    sys.stderr.write(f"dealctl: wrote {count} {kind} to {output}\n")


config_app = typer.Typer(help="Read and change settings (config.toml).", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("path")
def config_path() -> None:
    """Print where the config file is (it need not exist).

    Example: dealctl config path
    """
    from dealctl.config import config_path as path_of

    sys.stdout.write(f"{path_of(os.environ)}\n")


@config_app.command("show")
def config_show() -> None:
    """Print the settings in force (defaults merged with the file) as TOML.

    Example: dealctl config show
    """
    import tomli_w

    from dealctl.config import load

    sys.stdout.write(tomli_w.dumps(load().data))


@config_app.command("get")
def config_get(key: Annotated[str, typer.Argument(help="Dotted key, e.g. timezone.")]) -> None:
    """Print one setting.

    Example: dealctl config get lost_reasons
    """
    import tomli_w

    from dealctl.config import get_value, load

    value = get_value(load(), key)
    text = tomli_w.dumps(value) if isinstance(value, dict) else f"{value}\n"
    sys.stdout.write(text)


@config_app.command("set")
def config_set(
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. timezone.")],
    value: Annotated[str, typer.Argument(help="New value (TOML syntax for numbers, lists).")],
) -> None:
    """Change one setting in the config file (comments in the file are not kept).

    Example: dealctl config set timezone Asia/Tokyo
    """
    from dealctl import dates
    from dealctl.config import config_path as path_of
    from dealctl.config import set_value

    if key == "timezone" and value:
        dates.local_zone(value)
    path = path_of(os.environ)
    set_value(path, key, value)
    sys.stderr.write(f"dealctl: {key} set in {path} (comments in that file are not kept)\n")


def run() -> int:
    """Run the app on this process's arguments; returns the exit status."""
    try:
        app(standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
