"""Keeping the book safe: undo (and redo), backup, doctor."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dealctl.cli import AllOption, FormatOption, app, output_for, reading, state_of, writing
from dealctl.errors import DatabaseError, DealctlError, InvalidInput
from dealctl.render import BY_COLUMN, Column
from dealctl.text import counted

UNDO_COLUMNS = [
    Column("step", "#", justify="right"),
    Column("at", "When"),
    Column("command", "Command", show=lambda r: str(r["label"])),
    Column("created", "Removes", justify="right"),
    Column("changed", "Restores", justify="right"),
    Column("id", "Command id"),
    BY_COLUMN,
]
# Machine formats carry these keys (docs/output.md); `label` is the table cell only.
UNDO_KEYS = ("step", "id", "at", "command", "args", "created", "changed", "by")


def _step_rows(steps: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "step": position,
            "id": step.id,
            "at": step.at,
            "command": step.name,
            "args": " ".join(step.args),
            "label": step.label,
            "created": step.created,
            "changed": step.changed,
            "by": step.by,
        }
        for position, step in enumerate(steps, start=1)
    ]


@app.command()
def undo(
    ctx: typer.Context,
    redo: Annotated[
        bool, typer.Option("--redo", help="Take back the latest undo (undo of an undo).")
    ] = False,
    list_: Annotated[
        bool, typer.Option("--list", "-l", help="Show what undo (or --redo) would do next.")
    ] = False,
    fmt: FormatOption = None,
    show_all: AllOption = False,
) -> None:
    """Undo the latest write command (repeat to go further back); --redo takes an undo back.

    Removes what the command created and restores every field it changed, as one new,
    recorded command. Example: dealctl undo --list
    """
    from dealctl import undo as undo_mod

    if list_:
        with reading(ctx) as session:
            limit = None if show_all else 20
            steps = (
                undo_mod.redo_list(session.store, limit)
                if redo
                else undo_mod.undo_list(session.store, limit)
            )
        from dealctl.render import write_rows

        out = output_for(ctx)
        resolved = out.resolve(fmt)
        rows = _step_rows(steps)
        columns = UNDO_COLUMNS if resolved == "table" else [Column(k, k) for k in UNDO_KEYS]
        empty = "nothing to redo" if redo else "nothing to undo"
        write_rows(out, resolved, columns, rows, empty=empty, show_all=True)
        return
    if fmt is not None or show_all:
        raise InvalidInput("--format and --all go with --list")
    with writing(ctx) as session:
        outcome = undo_mod.redo(session) if redo else undo_mod.undo(session)
    when = outcome.step.at[:16].replace("T", " ")
    if redo:
        summary = f"redid {outcome.step.label} ({when}): {counted(outcome.restored, 'change')}"
    else:
        summary = (
            f"undid {outcome.step.label} ({when}): {counted(outcome.removed, 'record')} removed,"
            f" {counted(outcome.restored, 'change')} reverted"
        )
    output_for(ctx).line(summary)


@app.command()
def backup(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="File to write, or a folder to put a dated copy in.", show_default=False
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Copy the database with SQLite's online backup: safe while other commands run.

    The copy is written beside its final name and renamed when complete (mode 0600).
    Example: dealctl backup ~/backups/
    """
    from dealctl.doctor import check_copy
    from dealctl.storage import is_database_file

    with reading(ctx) as session:
        source = session.store.path
        target = path.expanduser()
        if target.is_dir():
            target = target / f"{source.stem}-{session.now.strftime('%Y%m%d-%H%M%S')}.db"
        if is_database_file(target, source):
            raise InvalidInput(f"{target} is the database itself: choose another file")
        if target.exists() and not target.is_file():
            raise InvalidInput(f"{target} is not a regular file: choose a file or a folder")
        if target.exists() and not force:
            raise InvalidInput(f"{target} exists: pass --force to replace it")
        if not target.parent.is_dir():
            raise InvalidInput(f"cannot write {target}: no folder {target.parent}")
        import secrets

        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            session.store.backup(partial)
            result, deals = check_copy(partial)
            if result != "ok":
                raise DealctlError(f"the copy failed its check ({result}); {target} not written")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    sys.stderr.write(f"dealctl: backed up {source} to {target} ({deals} deals)\n")
    output_for(ctx).line(str(target))


DOCTOR_COLUMNS = [
    Column("check", "check"),
    Column("table", "table"),
    Column("number", "number"),
    Column("id", "id"),
    Column("problem", "problem"),
    Column("fix", "fix"),
]


@app.command()
def doctor(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Check the database: integrity, foreign keys, orphans, impossible states, numbers.

    Explains how to fix each problem; exit status 1 when there is one.
    Example: dealctl doctor
    """
    from dealctl import doctor as doctor_mod

    try:
        with reading(ctx) as session:
            report = doctor_mod.run(session.store)
    except DatabaseError as exc:  # a file too damaged to open is doctor's to report
        from dealctl.storage import default_db_path

        path = state_of(ctx).db or default_db_path(os.environ)
        unreadable = doctor_mod.unreadable(path, exc)
        if unreadable is None:
            raise
        report = unreadable
    out = output_for(ctx)
    resolved = out.resolve(fmt)
    rows = [vars(p) for p in report.problems]
    if resolved == "table":
        schema = "unknown" if report.schema is None else report.schema
        out.line(f"{report.path} (schema {schema})")
        for check in doctor_mod.CHECKS:
            count = len(report.found[check]) + report.more[check]
            out.line(f"  {check:<13} {counted(count, 'problem') if count else 'ok'}")
        for problem in report.problems:
            where = f" [{problem.table} {problem.id}]" if problem.id else ""
            out.line(f"\n{problem.check}: {problem.problem}{where}\n  fix: {problem.fix}")
    else:
        from dealctl.render import write_rows

        write_rows(out, resolved, DOCTOR_COLUMNS, rows)
    if report.total:
        more = sum(report.more.values())
        extra = f" ({more} more not listed)" if more else ""
        raise DealctlError(f"doctor found {counted(report.total, 'problem')}{extra}")
    if resolved == "table":
        out.line("no problems found")
