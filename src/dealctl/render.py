"""Everything that writes rows for people or programs.

Rich is imported only for tables on a terminal. Machine formats (csv, tsv, json,
jsonl) write each row as it comes, so memory stays flat; their columns are the
``key`` of each :class:`Column` and are documented in ``docs/output.md``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from dealctl.errors import InvalidInput

FORMATS = ("table", "csv", "tsv", "json", "jsonl")
COLOR_MODES = ("auto", "always", "never")
TABLE_PAGE = 50

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """One output column: ``key`` in machine formats, ``header`` in tables.

    ``show`` turns a row into the table cell; machine formats use the raw value.
    """

    key: str
    header: str
    justify: str = "left"
    show: Callable[[Row], str] | None = None
    wide: bool = False

    def cell(self, row: Row) -> str:
        if self.show is not None:
            return self.show(row)
        value = row.get(self.key)
        return "" if value is None else str(value)


# Who ran a command (`history`, `undo --list`): ``commands.actor``, which is NULL for commands
# recorded before migration 0004 (null or empty in machine formats, "unknown" in a table).
BY_COLUMN = Column("by", "By", show=lambda r: str(r.get("by") or "unknown"))


@dataclass
class Output:
    """Where and how this invocation writes: decided per run, never at import time."""

    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    color: str = "auto"
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    @property
    def is_terminal(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    @property
    def styled(self) -> bool:
        """Colour and bold: only on a terminal (or when forced), never with NO_COLOR."""
        if self.color == "never":
            return False
        if self.color == "always":
            return True
        return self.is_terminal and not self.environ.get("NO_COLOR")

    def resolve(self, fmt: str | None) -> str:
        """The format to use: as asked, else a table on a terminal and TSV in a pipe."""
        if fmt is None:
            return "table" if self.is_terminal else "tsv"
        if fmt not in FORMATS:
            raise InvalidInput(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        return fmt

    def console(self) -> Any:
        from rich.console import Console

        styled = self.styled
        console = Console(
            file=self.stream,
            highlight=False,
            markup=False,
            emoji=False,
            force_terminal=styled if self.color == "always" else None,
            color_system="auto" if styled else None,
            no_color=not styled,
            width=None if self.is_terminal else 10_000,
        )
        # Rich's own handling exits with status 1 when the reader goes (`| head -1`); the
        # broken pipe goes to dealctl's handler instead, which ends quietly with 0.
        console.on_broken_pipe = _reader_gone  # type: ignore[method-assign]
        return console

    def json(self, document: Any) -> None:
        """One JSON document, indented; non-ASCII kept as is where the stream can encode
        it, else written as \\u escapes (which lose nothing)."""
        ascii_only = not _carries_unicode(self.stream)
        self.stream.write(json.dumps(document, ensure_ascii=ascii_only, indent=1) + "\n")

    def line(self, text: str = "") -> None:
        """A plain line of text (user text is never read as markup)."""
        self.stream.write(text + "\n")

    def styled_lines(self, lines: Iterable[tuple[str, str]]) -> None:
        """Lines of text, each with a Rich style name ('' for none).

        Styled only when :attr:`styled` allows it; otherwise written as they are, and Rich
        is not imported. Lines are never wrapped or cut.
        """
        if not self.styled:
            for _, text in lines:
                self.line(text)
            return
        from rich.text import Text

        console = self.console()
        for style, text in lines:
            console.print(Text(_visible(text), style=style or ""), soft_wrap=True)


_CONTROLS = dict.fromkeys((*range(9), *range(11, 32), 127), "�")


def _visible(text: str) -> str:
    """A table cell as text only: control characters never reach the terminal."""
    return text.translate(_CONTROLS)


def _machine_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value


# A TSV cell in one pass: control characters as in tables, tab, newline and backslash
# escaped (a carriage return is a control character, so it is replaced too).
_TSV_CELL = str.maketrans({**_CONTROLS, 9: "\\t", 10: "\\n", 92: "\\\\"})


def _tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is int:
        return str(value)
    return str(_machine_value(value)).translate(_TSV_CELL)


class CsvWriter:
    """``csv.writer`` with ``\\n`` line endings that also quotes a field holding a carriage
    return, as RFC 4180 asks. The csv module quotes only the characters of its own line
    ending, and a lone CR left bare splits the record for most readers."""

    def __init__(self, stream: IO[str] | Any) -> None:
        import csv
        import io

        self._stream = stream
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")

    def writerows(self, rows: Sequence[Sequence[Any]]) -> None:
        self._writer.writerows(rows)  # the C writer; the rare CR is redone in Python
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        if "\r" in text:
            text = "".join(_csv_line(row) for row in rows)
        self._stream.write(text)

    def writerow(self, row: Sequence[Any]) -> None:
        self.writerows([row])


def _csv_line(row: Sequence[Any]) -> str:
    """One CSV record as csv.writer writes it, with CR counted as a line break."""
    fields = []
    for value in row:
        text = "" if value is None else str(value)
        if any(c in text for c in ',"\r\n') or (text == "" and len(row) == 1):
            text = '"' + text.replace('"', '""') + '"'
        fields.append(text)
    return ",".join(fields) + "\n"


def write_rows(
    out: Output,
    fmt: str,
    columns: list[Column],
    rows: Iterable[Row],
    *,
    title: str | None = None,
    empty: str = "nothing to show",
    show_all: bool = False,
    page: int = TABLE_PAGE,
    total: Callable[[], int] | None = None,
) -> int:
    """Write ``rows`` in ``fmt``; returns how many rows were written.

    A table on a terminal shows ``page`` rows and says how many more there are: ``total``,
    when given, counts them without reading the rest of ``rows``.
    """
    if fmt == "table":
        return _table(
            out, columns, rows, title=title, empty=empty, show_all=show_all, page=page, total=total
        )
    keys = [c.key for c in columns]
    count = 0
    stream = out.stream
    if fmt in ("csv", "tsv"):
        if fmt == "csv":
            writer = CsvWriter(stream)
            writer.writerow(keys)
            for row in rows:
                writer.writerow(
                    ["" if row.get(k) is None else _machine_value(row[k]) for k in keys]
                )
                count += 1
        else:
            stream.write("\t".join(keys) + "\n")
            for row in rows:
                stream.write("\t".join(_tsv_cell(row.get(k)) for k in keys) + "\n")
                count += 1
        return count
    # JSON keeps every character even on a stream that cannot encode it: as \u escapes.
    plain = not _carries_unicode(stream)
    if fmt == "jsonl":
        for row in rows:
            stream.write(json.dumps({k: row.get(k) for k in keys}, ensure_ascii=plain) + "\n")
            count += 1
        return count
    stream.write("[")
    for row in rows:
        stream.write(",\n " if count else "\n ")
        stream.write(json.dumps({k: row.get(k) for k in keys}, ensure_ascii=plain))
        count += 1
    stream.write("\n]\n" if count else "]\n")
    return count


def _table(
    out: Output,
    columns: list[Column],
    rows: Iterable[Row],
    *,
    title: str | None,
    empty: str,
    show_all: bool,
    page: int,
    total: Callable[[], int] | None,
) -> int:
    from rich.table import Table
    from rich.text import Text

    iterator: Iterator[Row] = iter(rows)
    table = Table(title=title, title_justify="left", header_style="bold", show_edge=False)
    for column in columns:
        table.add_column(
            column.header,
            justify=column.justify,  # type: ignore[arg-type]
            overflow="fold",
            ratio=2 if column.wide else None,
        )
    shown = 0
    hidden = 0
    show_all = show_all or not out.is_terminal  # a pipe or file gets every row
    for row in iterator:
        if show_all or shown < page:
            table.add_row(*(Text(_visible(column.cell(row))) for column in columns))
            shown += 1
        elif total is not None:
            hidden = total() - shown
            break
        else:
            hidden += 1
    console = out.console()
    if shown == 0:
        console.print(Text(empty))
        return 0
    console.print(table)
    if hidden:
        console.print(Text(f"{hidden} more — use --all to show every row"))
    return shown + hidden


def _reader_gone() -> None:
    raise BrokenPipeError


def _carries_unicode(stream: IO[str]) -> bool:
    """Whether ``stream`` encodes every character (UTF-8, UTF-16...), not ASCII or EUC-JP."""
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
    return encoding.startswith("utf")
