"""The day's digest and the calendar of next actions: for cron jobs, e-mail and phones."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dealctl.cli import app, output_for, reading

DigestOwner = Annotated[
    str | None, typer.Option("--owner", help="One owner's deals (default: everyone's).")
]


@app.command()
def digest(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="text, markdown or json.", show_default=True)
    ] = "text",
    owner: DigestOwner = None,
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            help="Also what is due in the next N days (default: config digest.days).",
            show_default=False,
            min=0,
            max=3650,
        ),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            help="The day to report on (2026-12-03, tomorrow...; default: today in the zone).",
            show_default=False,
        ),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when there is something: overdue, due (today or overdue) or any.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the day's digest: overdue and due next actions, stale and slipping deals.

    Plain text by default, made for a cron job's e-mail; empty sections are left out.
    Example: dealctl digest --fail-on overdue
    """
    from dealctl import digest as digest_mod

    digest_mod.check_options(fmt, fail_on)
    with reading(ctx) as session:
        if today is not None:
            digest_mod.set_today(session, today)
        result = digest_mod.build(session, owner=owner, days=days)
    out = output_for(ctx)
    if fmt == "json":
        out.json(digest_mod.as_json(result))
    elif fmt == "markdown":
        out.stream.write(digest_mod.markdown(result))
    else:
        out.styled_lines(digest_mod.text_lines(result, terminal=out.is_terminal))
    if result.fails(fail_on):
        raise typer.Exit(1)


@app.command()
def calendar(
    ctx: typer.Context,
    owner: DigestOwner = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to a file (mode 0600) instead of stdout."),
    ] = None,
) -> None:
    """Write the open deals' next actions as an iCalendar (.ics) file for your calendar.

    Each deal keeps one event id, so importing a newer file updates its event.
    Example: dealctl calendar -o ~/dealctl.ics
    """
    from dealctl import ical

    with reading(ctx) as session:
        deals = ical.next_actions(session, owner)
        zone = getattr(session.zone, "key", None) or str(session.zone)
        database = session.store.path
    data = ical.calendar_bytes(deals, zone_name=zone)
    from dealctl.outputs import is_stdout, output_file

    # iCalendar is UTF-8 with CRLF line ends, whatever the locale says.
    target = output or Path("-")
    with output_file(target, database) as stream:
        stream.write(data)
    if not is_stdout(target):
        sys.stderr.write(f"dealctl: wrote {len(deals)} next actions to {target}\n")
