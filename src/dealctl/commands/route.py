"""`dealctl route`: a deal's approval route (稟議) — ordered steps checked off with dates."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dealctl.cli import AllOption, DealArg, FormatOption, app, output_for, reading, writing
from dealctl.commands.card import route_line
from dealctl.commands.rows import emit_rows
from dealctl.render import Column

route_app = typer.Typer(
    help="Approval routes (稟議): steps checked off with dates.",
    no_args_is_help=True,
)
app.add_typer(route_app, name="route")

StepArg = Annotated[str, typer.Argument(help="Step number (2) or name.", show_default=False)]

STEP_COLUMNS = [
    Column("deal", "Deal", justify="right"),
    Column("position", "#", justify="right"),
    Column("name", "Step"),
    Column("status", "Status"),
    Column("done_on", "Done"),
    Column("note", "Note"),
]
STEP_TABLE = ("position", "name", "status", "done_on", "note")

ROUTE_COLUMNS = [
    Column("number", "#", justify="right"),
    Column("id", "id"),
    Column("title", "Title", wide=True),
    Column("account", "Account"),
    Column("stage", "Stage"),
    Column("status", "Status"),
    Column("done", "Done", justify="right"),
    Column("total", "Steps", justify="right"),
    Column("current", "At step"),
    Column("last_done_on", "Last done"),
]
ROUTE_TABLE = ("number", "title", "account", "status", "done", "total", "current", "last_done_on")


def _report(ctx: typer.Context, deal: str, route: dict[str, Any]) -> None:
    output_for(ctx).line(f"deal {deal}: {route_line(route)}")


@route_app.command("set")
def route_set(
    ctx: typer.Context,
    deal: DealArg,
    steps: Annotated[
        list[str] | None, typer.Argument(help="The steps, in order.", show_default=False)
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="Copy a route from config [routes].")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the deal's route (its dates go too).")
    ] = False,
) -> None:
    """Give a deal its approval route.

    Type the steps, or copy them from a template in the config.

    Templates are in the config ([routes]); ringi is 現場承認 → 課長決裁 → 本部長承認 →
    稟議書 → 契約.
    Example: dealctl route set 12 --template ringi
    """
    from dealctl import approval

    with writing(ctx) as session:
        route = approval.set_route(session, deal, steps or [], template=template, replace=replace)
    _report(ctx, deal, route)


@route_app.command("add")
def route_add(
    ctx: typer.Context,
    deal: DealArg,
    step: Annotated[str, typer.Argument(help="The new step's name.", show_default=False)],
    before: Annotated[
        str | None, typer.Option("--before", help="Put it before this step (not yet done).")
    ] = None,
) -> None:
    """Add a step to a deal's route.

    At the end, or with --before before a step not yet done.

    Example: dealctl route add 12 法務確認 --before 稟議書
    """
    from dealctl import approval

    with writing(ctx) as session:
        route = approval.add_step(session, deal, step, before)
    _report(ctx, deal, route)


@route_app.command("remove")
def route_remove(
    ctx: typer.Context,
    deal: DealArg,
    step: Annotated[str | None, typer.Argument(help="Step number or name.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Remove the whole route.")] = False,
) -> None:
    """Remove a step, or the whole route.

    The steps after it close up, keeping their dates.

    Example: dealctl route remove 12 本部長承認
    """
    from dealctl import approval

    with writing(ctx) as session:
        count, route = approval.remove_step(session, deal, step, every=every)
    if route["steps"]:
        _report(ctx, deal, route)
    else:
        output_for(ctx).line(f"deal {deal}: route removed ({count} steps)")


@route_app.command("check")
def route_check(
    ctx: typer.Context,
    deal: DealArg,
    step: Annotated[str | None, typer.Argument(help="The step (default: the current one).")] = None,
    on: Annotated[str | None, typer.Option("--date", help="When it was approved (today).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note on the step.")] = None,
) -> None:
    """Check off the current step, with its date.

    Steps are approved in order: the current step is the first one not done.

    Example: dealctl route check 12 --date 2026-12-01 --note "課長OK"
    """
    from dealctl import approval

    with writing(ctx) as session:
        route = approval.check(session, deal, step, on=on, note=note)
    _report(ctx, deal, route)


@route_app.command("uncheck")
def route_uncheck(
    ctx: typer.Context,
    deal: DealArg,
    step: Annotated[
        str | None, typer.Argument(help="The step (default: the last one done).")
    ] = None,
) -> None:
    """Reopen the last step done.

    Example: dealctl route uncheck 12
    """
    from dealctl import approval

    with writing(ctx) as session:
        route = approval.uncheck(session, deal, step)
    _report(ctx, deal, route)


@route_app.command("show")
def route_show(
    ctx: typer.Context,
    deal: DealArg,
    fmt: FormatOption = None,
) -> None:
    """List a deal's route steps in order.

    Each is done (with its date), current (where the deal is) or pending.

    Example: dealctl route show 12
    """
    from dealctl import approval
    from dealctl.deals import resolve

    with reading(ctx) as session:
        row = resolve(session.store, deal)
        route = approval.route_of(session, row["id"])
    rows = [{"deal": row["number"], **step} for step in route["steps"]]
    state = "complete" if route["complete"] else f"{route['done']}/{route['total']} done"
    emit_rows(
        ctx,
        fmt,
        STEP_COLUMNS,
        rows,
        STEP_TABLE,
        title=f"Route of deal {row['number']} · {state}",
        empty=f"deal {row['number']} has no route",
        show_all=True,
    )


@route_app.command("list")
def route_list(
    ctx: typer.Context,
    fmt: FormatOption = None,
    show_all: AllOption = False,
) -> None:
    """List deals with a route, and where each is.

    Example: dealctl route list --format csv
    """
    from dealctl import approval

    with reading(ctx) as session:
        rows = approval.routes(session)
    emit_rows(ctx, fmt, ROUTE_COLUMNS, rows, ROUTE_TABLE, empty="no routes", show_all=show_all)
