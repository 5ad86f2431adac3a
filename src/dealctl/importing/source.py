"""Reading an import file: its bytes, its encoding, and its table of cells.

The whole file is read and decoded at once, so the encoding is decided over every byte
(a CP932 character on the last line counts), and a bad file is refused before anything
is written. CSV, dealctl's TSV, JSON and JSON Lines all become one :class:`Table`.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dealctl.errors import InvalidInput, NotFound

FORMATS = ("csv", "tsv", "json", "jsonl")
STDIN = "-"

_BOM = codecs.BOM_UTF8
# A UTF-16 or UTF-32 file's byte-order marks (UTF-32's start with UTF-16's).
_WIDE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
# Names people give for Windows' Japanese code page; Python's strict 'shift_jis' lacks
# ①, ㈱, №, 髙 and 﨑, which every Japanese Excel writes, so they all mean CP932.
_CP932_NAMES = frozenset(
    {"cp932", "ms932", "sjis", "s-jis", "shift-jis", "shiftjis", "windows-31j", "mskanji",
     "x-sjis", "csshiftjis", "cswindows31j", "ms-kanji"}
)  # fmt: skip
_UTF8_NAMES = frozenset({"utf-8", "utf8", "utf-8-sig", "utf8-sig"})

# Never in a text CSV: NUL (a UTF-16 file, or binary data)...
_NOT_TEXT = re.compile("\x00")
# ...nor, when guessing CP932, what only stray bytes decode to: 0x80 (U+0080) and the
# private-use characters Python's cp932 gives 0xA0, 0xFD-0xFF and the user-defined area.
_NOT_CP932_TEXT = re.compile("[\x00\x80\ue000-\uf8ff]")
# Control characters a cell may not hold (TAB and line breaks are text).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What a control character is written as in JSON text (which may hold none as it is):
# \u0000-\u001f, \u007f, \b or \f. (Also TAB and line breaks, and a backslash written
# twice before a b or f: a match only says the cells must be looked at.)
_JSON_CONTROL = re.compile(r"\\(?:u00[01][0-9a-fA-F]|u007[fF]|[bf])")
# A cell an export for spreadsheets neutralised: apostrophes, then = + - @ TAB or CR.
NEUTRALISED = re.compile("'+[=+\\-@\t\r]")


@dataclass
class Table:
    """A file's header and records, every cell as text ('' when empty).

    Every record has at least a cell per header: the cells a short row lacks (a
    spreadsheet drops trailing empty cells) are there, empty. A longer row keeps its extra
    cells (a cell beyond the last header is refused when the rows are checked).
    """

    name: str
    headers: list[str]
    records: list[list[str]]
    rows: list[int]  # the spreadsheet row of each record (the header is row 1)
    encoding: str
    fmt: str
    bom: bool = False
    has_controls: bool = False
    has_returns: bool = False
    folder: Path | None = None  # where the file lives (sibling files such as Account.csv)
    notes: list[str] = field(default_factory=list)
    blank_rows: int = 0  # rows of empty cells only (``,,,``) that were skipped


def encoding_name(given: str) -> str:
    """The codec for ``--encoding``: the Shift_JIS family is CP932, UTF-8 drops a BOM."""
    wanted = given.strip().lower().replace("_", "-")
    if wanted in _CP932_NAMES:
        return "cp932"
    if wanted in _UTF8_NAMES:
        return "utf-8-sig"
    try:
        return codecs.lookup(wanted).name
    except LookupError:
        raise InvalidInput(f"unknown encoding {given!r}") from None


def read_bytes(path: str, stdin: BinaryIO | None = None) -> bytes:
    """The file's bytes; ``-`` is standard input."""
    if path == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        return stream.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no file {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a folder without deals.csv") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def decode(raw: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    """The whole file as text and the encoding used: UTF-8 (a BOM is dropped), else CP932.

    Without ``encoding`` a candidate must also read as text: CP932 decodes almost any
    bytes (a UTF-16 file too) into control and private-use characters, which are refused.
    Never a lossy fallback such as latin-1. A NUL byte is in neither UTF-8 nor CP932 text:
    outside a file marked as UTF-16 or UTF-32, it is named where it is."""
    if encoding:
        codec = encoding_name(encoding)
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{name} is not {encoding} text: byte 0x{raw[exc.start]:02x} at offset"
                f" {exc.start} cannot be read"
            ) from None
    nul = raw.find(b"\x00")
    if nul >= 0 and not raw.startswith(_WIDE_BOMS):
        line = raw.count(b"\n", 0, nul) + 1
        raise InvalidInput(
            f"{name} contains a NUL byte (line {line}, byte offset {nul}): binary data, or text"
            " in an encoding such as UTF-16 (give --encoding)"
        )
    for codec in ("utf-8-sig", "cp932"):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        odd = _NOT_CP932_TEXT if codec == "cp932" else _NOT_TEXT
        if not odd.search(text):
            return text, codec
    raise InvalidInput(f"{name} is neither UTF-8 nor CP932 text: give --encoding")


def guess_format(name: str, text: str) -> str:
    """csv, tsv, json or jsonl: from the file name, else from the first line."""
    suffix = Path(name).suffix.lower() if name != STDIN else ""
    by_suffix = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".tsv": "tsv"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    start = text.lstrip("\ufeff \t\r\n")[:1]
    if start == "[":
        return "json"
    if start == "{":
        return "jsonl"
    first = text.split("\n", 1)[0]
    if "\t" in first and "," not in first:
        return "tsv"
    return "csv"


def load(
    path: str,
    *,
    encoding: str | None = None,
    fmt: str | None = None,
    own_fields: frozenset[str] = frozenset(),
    stdin: BinaryIO | None = None,
) -> Table:
    """Read, decode and split a file into a :class:`Table`."""
    name = "standard input" if path == STDIN else path
    raw = read_bytes(path, stdin)
    text, codec = decode(raw, name, encoding)
    bom = raw.startswith(_BOM)
    del raw  # the text is all that is read from here on
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInput(f"unknown import format {fmt!r}: use one of {', '.join(FORMATS)}")
    chosen = fmt or guess_format(path, text)
    text = text.removeprefix("\ufeff")
    blank = 0  # rows of empty cells (,,,) skipped
    if chosen == "csv":
        headers, records, rows, blank = _csv(text, ",")
    elif chosen == "tsv":
        first = text.split("\n", 1)[0].rstrip("\r").split("\t")
        if set(first) <= own_fields:
            headers, records, rows, blank = _dealctl_tsv(text)
        else:
            headers, records, rows, blank = _csv(text, "\t")
    else:
        headers, records, rows = _json(text, name, lines=chosen == "jsonl")
    for column, header in enumerate(headers, start=1):
        if CONTROL.search(header):  # it would be shown as a column no field takes, or none
            raise InvalidInput(
                f"{name}: the header of column {column} ({header!r}) contains a control"
                " character: remove it; nothing was written"
            )
    folder = None if path == STDIN else Path(path).resolve().parent
    controls = CONTROL.search(text) is not None
    if chosen in ("json", "jsonl") and not controls:
        controls = _JSON_CONTROL.search(text) is not None  # its cells hold what escapes say
    return Table(
        name=name,
        headers=headers,
        records=records,
        rows=rows,
        encoding=codec,
        fmt=chosen,
        bom=bom,
        has_controls=controls,
        has_returns="\r" in text,
        folder=folder,
        blank_rows=blank,
    )


def _clean_headers(headers: list[str]) -> list[str]:
    return [h.replace("\ufeff", "").strip() for h in headers]


def _blank(cells: list[str]) -> bool:
    """A row with no text: an empty line, or a spreadsheet's row of empty cells (``,,,``)."""
    return not any(map(str.strip, cells))


# The rest of a quoted cell after its opening quote, up to its closing quote ("" is a
# quote inside it); possessive, so that a doubled quote is never read as the closing one.
_QUOTED_REST = re.compile(r'(?:[^"]++|"")*+"')
_LINE_BREAK = re.compile("[\r\n]")


def _bad_quote(text: str, start: int, delimiter: str) -> tuple[int, bool] | None:
    """The column (from 0) of a quoted cell in the record starting at ``start`` that never
    closes, or that closes where no cell ends (text follows its closing quote), and whether
    it is taken as never closing; None when the record's quoted cells are sound.

    A quote followed by text on a later line than the one its cell opened on is the
    opening quote of a later cell: the quote that should have closed this one is missing
    and the cell took every line between. Follows the csv module: a quote opens a quoted
    cell only as the first character of a cell."""
    stop = re.compile(f"[{re.escape(delimiter)}\r\n]")
    pos, column = start, 0
    while pos < len(text):
        if text[pos] == '"':
            closing = _QUOTED_REST.match(text, pos + 1)
            if closing is None:
                return column, True
            end = closing.end()
            if end < len(text) and text[end] not in (delimiter, "\r", "\n"):
                return column, _LINE_BREAK.search(text, pos + 1, end) is not None
            pos = end
        found = stop.search(text, pos)
        if found is None or found[0] != delimiter:
            return None  # the record ends here
        pos = found.end()
        column += 1
    return None


# A line break where a lone \r may also end a line.
_BREAK = re.compile("\r\n?|\n")


class _Lines:
    """The lines of a text with their breaks, as ``io.StringIO(text, newline="")`` reads
    them (\n, \r\n or \r; never U+2028), without its copy of the whole text at four bytes
    a character. ``pos`` is where the line after the last one read starts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lone_returns = text.count("\r") != text.count("\r\n")  # a \r without a \n

    def __iter__(self) -> Iterator[str]:
        text = self.text
        lone_returns = self.lone_returns
        pos, size = 0, len(text)
        while pos < size:
            if lone_returns:
                found = _BREAK.search(text, pos)
                end = found.end() if found else size
            else:
                end = text.find("\n", pos) + 1 or size
            self.pos = end
            yield text[pos:end]
            pos = end


def _csv(text: str, delimiter: str) -> tuple[list[str], list[list[str]], list[int], int]:
    # Lines end only at \n, \r\n and \r (never at U+2028), and quoted cells keep their
    # line breaks. The reader is strict: a quoted cell must close, and its closing quote be
    # followed by a delimiter or the end of the line. A quoted cell that never closes would
    # take the rest of the file as its value; one whose quote is missing in a file with
    # other quoted cells would take every line up to the next one's opening quote, which is
    # then followed by text. Either stops the file, naming where the cell opens.
    stream = _Lines(text)
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    try:
        headers = _clean_headers(next(reader))
    except StopIteration:
        return [], [], [], 0
    except csv.Error as exc:
        _check_quotes(text, 0, delimiter, [], None)
        raise InvalidInput(f"cannot read the header line: {exc}") from None
    # The header line's break says how lines end. A lone \r ends one in an old Mac file (the
    # header line ends with it); in a file whose lines end with LF or CRLF, a lone \r
    # outside a quoted cell is in the middle of a line, where it would end its row: refused.
    ending = text[stream.pos - 2 : stream.pos]
    stray_returns = stream.lone_returns and ending.endswith("\n")
    records: list[list[str]] = []
    rows: list[int] = []
    width = len(headers)
    row = 1
    blank = 0
    start = stream.pos  # where the record being read begins
    try:
        for cells in reader:
            row += 1
            if stray_returns and cells and _ends_at_stray_return(text, stream.pos):
                line = text.count("\n", 0, stream.pos - 1) + 1
                column = len(cells) - 1
                name = repr(headers[column]) if column < width else str(column + 1)
                breaks = "CRLF" if ending == "\r\n" else "LF"
                raise InvalidInput(
                    f"record {len(records) + 1} (row {row}), line {line}: a carriage return (CR)"
                    f" outside quotes in column {name}, in a file whose lines end with {breaks}:"
                    " it would split the row (quote the cell, or remove the CR); nothing was"
                    " written"
                )
            start = stream.pos
            if _blank(cells):
                blank += cells not in ([], [""])  # an empty line is no row at all
                continue
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            records.append(cells)
            rows.append(row)
    except csv.Error as exc:
        _check_quotes(text, start, delimiter, headers, (len(records) + 1, row + 1))
        raise InvalidInput(f"cannot read row {row + 1}: {exc}") from None
    return headers, records, rows, blank


def _ends_at_stray_return(text: str, end: int) -> bool:
    """Whether the line ending at ``end`` ends with a lone \r that text follows on the same
    line (a lone \r just before another line break, at the end, or after an empty line,
    splits no row)."""
    return text[end - 1 : end] == "\r" and text[end : end + 1] not in ("", "\r", "\n")


def _check_quotes(
    text: str, start: int, delimiter: str, headers: list[str], where: tuple[int, int] | None
) -> None:
    """Refuse the file when the record starting at ``start`` (the header line when
    ``where`` is None) has a quoted cell that never closes, or text after a closing quote:
    where, never what it took."""
    found = _bad_quote(text, start, delimiter)
    if found is None:
        return
    column, unclosed = found
    # (the header line's own cells hold what its quote swallowed: named by number)
    named = where is not None and column < len(headers)
    name = repr(headers[column]) if named else str(column + 1)
    place = "the header line" if where is None else f"record {where[0]} (row {where[1]})"
    if unclosed:
        raise InvalidInput(
            f'{place}: a quoted cell opened in column {name} never closes (a " is missing);'
            " nothing was written"
        )
    raise InvalidInput(
        f"{place}: the quoted cell in column {name} has text after its closing quote (a quote"
        ' inside a quoted cell is written twice: ""); nothing was written'
    )


_TSV_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_TSV_ESCAPE = re.compile(r"\\(.)")


def _tsv_cell(cell: str) -> str:
    if "\\" not in cell:
        return cell
    return _TSV_ESCAPE.sub(lambda m: _TSV_ESCAPES.get(m[1], m[0]), cell)


def _dealctl_tsv(text: str) -> tuple[list[str], list[list[str]], list[int], int]:
    """dealctl's TSV: one record per line, ``\\\\ \\t \\n \\r`` escaped, no quoting."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return [], [], [], 0
    headers = _clean_headers(lines[0].rstrip("\r").split("\t"))
    records: list[list[str]] = []
    rows: list[int] = []
    blank = 0
    for index, line in enumerate(lines[1:], start=2):
        line = line.removesuffix("\r")
        if not line:
            continue
        cells = [_tsv_cell(c) for c in line.split("\t")]
        if _blank(cells):
            blank += 1
            continue
        if len(cells) < len(headers):
            cells += [""] * (len(headers) - len(cells))
        records.append(cells)
        rows.append(index)
    return headers, records, rows, blank


def _json_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ValueError


def _json(text: str, name: str, *, lines: bool) -> tuple[list[str], list[list[str]], list[int]]:
    """A JSON array of objects, or JSON Lines: keys are the headers, in first-seen order."""
    objects: list[object] = []
    number = 0
    try:
        if lines:
            for number, line in enumerate(text.split("\n"), start=1):  # noqa: B007
                if line.strip():
                    objects.append(json.loads(line))
        else:
            loaded = json.loads(text) if text.strip() else []
            if not isinstance(loaded, list):
                raise InvalidInput(f"{name}: a JSON import is an array of objects")
            objects = loaded
    except json.JSONDecodeError as exc:
        where = f"line {number}" if lines else f"line {exc.lineno}"
        raise InvalidInput(f"{name} is not valid JSON ({where}: {exc.msg})") from None
    headers: dict[str, None] = {}
    for item in objects:
        if not isinstance(item, dict):
            raise InvalidInput(f"{name}: every JSON record must be an object")
        headers.update(dict.fromkeys(item))
    names = list(headers)
    records: list[list[str]] = []
    for index, item in enumerate(objects, start=1):
        assert isinstance(item, dict)
        try:
            records.append([_json_cell(item.get(h)) for h in names])
        except ValueError:
            raise InvalidInput(
                f"{name}: record {index} holds a list or object; values must be text,"
                " numbers or null"
            ) from None
    return names, records, list(range(2, len(records) + 2))
