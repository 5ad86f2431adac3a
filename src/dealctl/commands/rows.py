"""Writing a listing in the asked format: shared by the account, contact, stakeholder and
route commands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import typer

from dealctl.cli import output_for, pick_columns
from dealctl.render import Column


def emit_rows(
    ctx: typer.Context,
    fmt: str | None,
    columns: list[Column],
    rows: Iterable[Mapping[str, Any]],
    table_keys: tuple[str, ...],
    *,
    title: str | None = None,
    empty: str = "nothing to show",
    show_all: bool = False,
    quiet: bool = False,
) -> str:
    """Every column in machine formats, ``table_keys`` in a table; returns the format used.
    ``quiet`` prints only each row's number."""
    from dealctl.render import write_rows

    out = output_for(ctx)
    if quiet:
        for row in rows:
            out.line(str(row["number"]))
        return "quiet"
    resolved = out.resolve(fmt)
    shown = pick_columns(columns, table_keys) if resolved == "table" else columns
    write_rows(out, resolved, shown, rows, title=title, empty=empty, show_all=show_all)
    return resolved


def money(value: int | None, currency: str | None) -> str:
    """``1,200,000 JPY`` for people; empty when there is no amount."""
    from dealctl.money import format_amount

    if value is None or not currency:
        return ""
    return f"{format_amount(value, currency)} {currency}"
