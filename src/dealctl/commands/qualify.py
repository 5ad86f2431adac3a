"""`dealctl qualify`: a deal's BANT — budget, authority, need, timing — and its score."""

from __future__ import annotations

from typing import Annotated

import typer

from dealctl.cli import DealArg, app, output_for, reading, writing
from dealctl.commands.card import bant_lines
from dealctl.errors import InvalidInput


@app.command()
def qualify(
    ctx: typer.Context,
    deal: DealArg,
    budget: Annotated[
        str | None,
        typer.Option("--budget", help="Budget amount (500万), or 'unknown' if asked."),
    ] = None,
    authority: Annotated[
        str | None,
        typer.Option("--authority", help="Who decides: text, or a contact (#5, e-mail)."),
    ] = None,
    need: Annotated[str | None, typer.Option("--need", help="What they need.")] = None,
    timing: Annotated[
        str | None,
        typer.Option("--timing", help="When they buy: a month (2027-03) or a date."),
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="text or json.")] = None,
) -> None:
    """Record or show a deal's BANT and its score.

    The score is 0-4, the parts known, followed by what is missing.

    With no option it only prints. An empty value clears one part. A decision maker on
    the committee (dealctl stakeholder add) counts as authority.
    Example: dealctl qualify 12 --budget 500万 --need "在庫管理の刷新" --timing 2027-03
    """
    from dealctl import qualification
    from dealctl.deals import resolve

    if fmt not in (None, "text", "json"):
        raise InvalidInput(f"unknown format {fmt!r} for qualify: use text or json")
    given = any(v is not None for v in (budget, authority, need, timing))
    if given:
        with writing(ctx) as session:
            result = qualification.qualify(
                session, deal, budget=budget, authority=authority, need=need, timing=timing
            )
            number = resolve(session.store, deal)["number"]
    else:
        with reading(ctx) as session:
            row = resolve(session.store, deal)
            result = qualification.of_deal(session, row)
            number = row["number"]
    out = output_for(ctx)
    if fmt == "json":
        out.json({"number": number, **result})
        return
    lines = bant_lines(result)
    out.line(f"deal {number}: {lines[0][0]} {lines[0][1]}")
    for label, text in lines[1:]:
        out.line(f"  {label:<10}{text}")
