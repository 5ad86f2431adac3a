"""Import and export commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from dealctl.cli import app, output_for, reading, state_of, writing
from dealctl.errors import InvalidInput
from dealctl.render import Output
from dealctl.session import Session, open_session
from dealctl.text import counted

if TYPE_CHECKING:
    from dealctl.importing import ImportOptions, ImportReport

# Files this long get a progress bar on a terminal; shorter ones finish before it would show.
PROGRESS_MIN_ROWS = 5000


@app.command(name="import")
def import_(
    ctx: typer.Context,
    path: Annotated[
        str,
        typer.Argument(
            help="CSV/TSV/JSON/JSONL file, a dealctl book folder, or - for standard input.",
            show_default=False,
        ),
    ],
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            help="dealctl, maven, salesforce, hubspot, pipedrive, japanese or spreadsheet"
            " (default: from the headers).",
        ),
    ] = None,
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", help="'CSV column=field' (repeatable); overrides the preset."),
    ] = None,
    stage_maps: Annotated[
        list[str] | None,
        typer.Option(
            "--stage-map", help="'File value=stage' (repeatable); stage may be won, lost[:STAGE]."
        ),
    ] = None,
    date_order: Annotated[
        str | None,
        typer.Option(
            "--date-order", help="DMY or MDY for 01/04/2024 (default: config, else inferred)."
        ),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="The year of dates written without one (4月1日).")
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency", help="Currency of amounts when the file has no currency column."
        ),
    ] = None,
    on_duplicate: Annotated[
        str,
        typer.Option(
            "--on-duplicate", help="A stored deal whose row changed: skip, update or error."
        ),
    ] = "update",
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Import the valid rows; report and skip the rest."),
    ] = False,
    report_path: Annotated[
        Path | None,
        typer.Option("--report", help="Write every rejected cell, merge and update as CSV (0600)."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="csv, tsv, json or jsonl (default: from the file)."),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="Force an encoding (default: UTF-8, else CP932)."),
    ] = None,
    excel: Annotated[
        bool | None,
        typer.Option(
            "--excel/--no-excel",
            help="Take off the apostrophe an export for Excel put before = + - @"
            " (default: for files with a BOM or in CP932).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; write nothing.")
    ] = False,
) -> None:
    """Import deals (or contacts) from dealctl, CRM exports and spreadsheets.

    All rows or none: a rejected cell stops the import before anything is written.
    Example: dealctl import deals.csv --dry-run
    """
    from dealctl.importing import ImportOptions

    options = ImportOptions(
        preset=preset,
        encoding=encoding,
        fmt=fmt,
        maps=tuple(maps or ()),
        stage_maps=tuple(stage_maps or ()),
        date_order=date_order,
        default_year=year,
        currency=currency,
        on_duplicate=on_duplicate,
        skip_invalid=skip_invalid,
        excel=excel,
    )
    out = output_for(ctx)
    with _progress() as progress:
        if dry_run:
            report = _dry_run(ctx, out, path, options, progress)
        else:
            try:
                with writing(ctx) as session:
                    report = _run_import(session, path, options, progress, report_path)
                    if report.wrote_nothing:
                        # Not even a commands row: the same file again changes no byte,
                        # and a database created for the import is removed again.
                        raise _NothingChanged(report)
            except _NothingChanged as unchanged:
                report = unchanged.report
    _print(out, report, dry_run)


class _NothingChanged(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__()
        self.report = report


def _run_import(
    session: Session,
    path: str,
    options: ImportOptions,
    progress: Callable[[str, int, int], None] | None,
    report_path: Path | None,
) -> ImportReport:
    from dealctl.importing import import_file, write_report
    from dealctl.outputs import output_file
    from dealctl.storage import is_database_file

    # Checked again by output_file; here too, so a long import is not run for nothing.
    if report_path is not None and is_database_file(report_path, session.store.path):
        raise InvalidInput(f"{report_path} is the database itself: choose another file")
    report = import_file(session, path, options, progress=progress)
    if report_path is not None:
        with output_file(report_path, session.store.path) as stream:
            write_report(stream, report)
    _check(report, report_path)
    return report


def _dry_run(
    ctx: typer.Context,
    out: Output,
    path: str,
    options: ImportOptions,
    progress: Callable[[str, int, int], None] | None,
) -> ImportReport:
    """The same import, rolled back; without a database, against a temporary empty one."""
    report_path = ctx.params.get("report_path")
    if not _db_exists(ctx):
        out.line("dry run: no database yet; checking the file against an empty book")
        with _scratch_session() as scratch:
            return _rolled_back(scratch, path, options, progress, report_path)
    session = open_session(state_of(ctx).db, write=False)
    try:
        return _rolled_back(session, path, options, progress, report_path)
    finally:
        session.close()


def _rolled_back(
    session: Session,
    path: str,
    options: ImportOptions,
    progress: Callable[[str, int, int], None] | None,
    report_path: Path | None,
) -> ImportReport:
    from dealctl import catalogue

    class _Rollback(Exception):
        pass

    holder: list[ImportReport] = []
    try:
        with session.store.transaction("import --dry-run", [path], session.stamp):
            catalogue.sync(session.store, session.config, session.stamp)
            holder.append(_run_import(session, path, options, progress, report_path))
            raise _Rollback
    except _Rollback:
        pass
    return holder[0]


def _check(report: ImportReport, report_path: Path | None) -> None:
    """Stop (the transaction rolls back) when a cell was refused or the file cannot map."""
    see = f" (every one in {report_path})" if report_path is not None else ""
    if report.stopped:
        raise InvalidInput(f"import stopped: {report.stopped}; nothing was written")
    for line in report.rejection_lines():
        sys.stderr.write(f"dealctl: {line}\n")
    if report.rejected and not report.invalid_rows:
        raise InvalidInput(
            f"import stopped: {len(report.rejected)} rejected cells; nothing was written{see}"
        )
    if report.invalid_rows:
        sys.stderr.write(
            f"dealctl: warning: {counted(report.invalid_rows, 'row')} with rejected cells were not"
            f" imported{see}\n"
        )


def _print(out: Output, report: ImportReport, dry_run: bool) -> None:
    for line in report.summary(dry_run):
        out.line(line)
    for line in report.change_lines():
        sys.stderr.write(f"dealctl: {line}\n")


def _db_exists(ctx: typer.Context) -> bool:
    from dealctl.storage import default_db_path

    path = state_of(ctx).db or default_db_path(os.environ)
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


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None] | None]:
    """A Rich progress bar on stderr for long files, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(file=sys.stderr, highlight=False, markup=False),
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def tick(phase: str, done: int, total: int) -> None:
        if total < PROGRESS_MIN_ROWS:
            return
        if not tasks:
            bar.start()
        if phase not in tasks:
            tasks[phase] = bar.add_task(f"import: {phase}", total=total)
        bar.update(tasks[phase], completed=done, total=total)

    try:
        yield tick
    finally:
        if tasks:
            bar.stop()


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
    excel: Annotated[
        bool,
        typer.Option(
            "--excel",
            help="For spreadsheets: UTF-8 BOM, and text starting with = + - @ guarded by '.",
        ),
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="utf-8 (default) or cp932 for Japanese Excel."),
    ] = None,
) -> None:
    """Export records with stable, documented columns (streams: memory stays flat).

    Example: dealctl export deals --format jsonl > deals.jsonl
    """
    from dealctl import transfer

    transfer.fields_of(kind)
    if fmt not in transfer.EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}: use csv, tsv, json or jsonl")
    codec = transfer.export_encoding(encoding)

    def write(session: Session, stream: BinaryIO) -> int:
        try:
            return transfer.write_export(session, kind, fmt, stream, excel=excel, encoding=codec)
        except transfer.Unencodable as exc:
            for line in exc.lines:
                sys.stderr.write(f"dealctl: {line}\n")
            raise

    from dealctl.outputs import is_stdout, output_file

    # An export is data, not display: the encoding asked for, whatever the locale.
    target = output or Path("-")
    with reading(ctx) as session, output_file(target, session.store.path) as stream:
        count = write(session, stream)
    if not is_stdout(target):
        sys.stderr.write(f"dealctl: wrote {count} {kind} to {target}\n")
