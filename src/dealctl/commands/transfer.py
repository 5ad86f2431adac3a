"""Import and export commands."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from dealctl.cli import (
    app,
    output_for,
    reading,
    state_of,
    writing,
)
from dealctl.errors import DealctlError, InvalidInput
from dealctl.render import Column, Output
from dealctl.session import Session, open_session


@app.command(name="import")
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV file, a dealctl book folder (deals.csv ...), or - for standard input.",
            show_default=False,
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
    if str(path) == "-":
        with _stdin_copy() as copy:
            try:
                _import(ctx, copy, preset, encoding, dry_run)
            except DealctlError as exc:
                raise type(exc)(str(exc).replace(str(copy), "standard input")) from None
        return
    _import(ctx, path, preset, encoding, dry_run)


@contextmanager
def _stdin_copy() -> Iterator[Path]:
    """Standard input saved to a private temporary file, removed afterwards.

    The bytes are kept as they came, so encoding detection works as for a file.
    """
    import tempfile

    if sys.stdin is None:
        raise InvalidInput("no standard input to import from")
    with tempfile.TemporaryDirectory(prefix="dealctl-") as folder:
        copy = Path(folder) / "stdin.csv"
        copy.write_bytes(sys.stdin.buffer.read())
        yield copy


def _import(
    ctx: typer.Context, path: Path, preset: str | None, encoding: str | None, dry_run: bool
) -> None:
    from dealctl import transfer

    out = output_for(ctx)
    if dry_run:
        session = open_session(state_of(ctx).db, write=False) if _db_exists(ctx) else None
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
