"""Round trip: a random book exported, imported into a fresh database and exported again
gives the same bytes, in every format, with and without --excel; and an export streams
(its memory does not grow with the book)."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dealctl.cli import app
from dealctl.session import open_session
from dealctl.transfer import DEAL_FIELDS, EXPORT_FORMATS, write_export

# Text as people type it, with what breaks exports: quotes, commas, separators, line
# breaks and tabs inside, formula starts, apostrophes, backslashes, full-width and emoji.
_CHARS = st.one_of(
    st.sampled_from(list("=+-@'\",;\\ \t\n株式会社㈱ｱｲ①〜—¥🙏")),
    st.characters(blacklist_categories=("Cs", "Cc"), max_codepoint=0x2FFFF),
)
TEXT = st.text(_CHARS, max_size=14).map(str.strip)
NAME = TEXT.filter(bool)
STAGES = {
    "b2b": ("approach", "hearing", "proposal", "negotiation"),
    "b2c": ("lead", "contacted", "offer"),
}
WON = {"b2b": "contract", "b2c": "purchase"}


@st.composite
def moments(draw: Any) -> str:
    day = draw(st.dates(min_value=date(2000, 1, 1)))
    hour, minute, second = (
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
    )
    offset = draw(st.sampled_from(["+09:00", "+00:00", "-05:00", "+05:30"]))
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}{offset}"


@st.composite
def books(draw: Any) -> list[dict[str, str]]:
    """A dealctl deals.csv: every column, values as dealctl stores them."""
    count = draw(st.integers(1, 5))
    numbers = draw(st.lists(st.integers(1, 10**6), min_size=count, max_size=count, unique=True))
    rows = []
    for index, number in enumerate(numbers):
        pipeline = draw(st.sampled_from(sorted(STAGES)))
        status = draw(st.sampled_from(["open", "won", "lost"]))
        stage = WON[pipeline] if status == "won" else draw(st.sampled_from(STAGES[pipeline]))
        optional = st.one_of(st.just(""), TEXT)
        due = draw(
            st.one_of(
                st.just(""),
                st.dates().map(lambda d: d.isoformat()),
                moments().map(lambda m: m[:16] + m[19:]),
            )
        )
        tags = draw(st.lists(NAME.filter(lambda t: "," not in t), max_size=3, unique=True))
        external = draw(st.booleans())
        rows.append(
            {
                "number": str(number),
                "title": draw(NAME),
                "account": draw(optional),
                "contact": draw(optional),
                "pipeline": pipeline,
                "stage": stage,
                "status": status,
                "amount": draw(st.one_of(st.just(""), st.integers(-(10**12), 10**12).map(str))),
                "currency": draw(st.sampled_from(["JPY", "USD", "EUR", "KWD"])),
                "probability": draw(st.one_of(st.just(""), st.integers(0, 100).map(str))),
                "close_date": draw(st.one_of(st.just(""), st.dates().map(lambda d: d.isoformat()))),
                "next_action": draw(optional),
                "next_due": due,
                "owner": draw(optional),
                "source": draw(optional),
                "tags": ",".join(tags),
                "purpose": draw(optional),
                "proposal": draw(optional),
                "notes": draw(optional),
                "lost_reason": draw(optional) if status == "lost" else "",
                "lost_note": draw(optional),
                "created_at": draw(moments()),
                "updated_at": draw(st.one_of(st.just(""), moments())),
                "closed_at": draw(moments()) if status != "open" else "",
                "last_contact_at": draw(st.one_of(st.just(""), moments())),
                "external_source": "crm" if external else "",
                "external_id": f"X-{index}" if external else "",
            }
        )
    return rows


def _cli(*args: str) -> bytes:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout_bytes


def _template(folder: Path) -> Path:
    """An empty database with the schema: each 'fresh database' is a copy of it."""
    path = folder / "empty.db"
    open_session(path, write=True).close()
    return path


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(book=books())
def test_export_import_export_is_identical_in_every_format(book: list[dict[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        empty = _template(folder)
        source = folder / "book.csv"
        with source.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, DEAL_FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(book)
        first = folder / "first.db"
        shutil.copy(empty, first)
        _cli("--db", str(first), "import", str(source))
        for fmt in EXPORT_FORMATS:
            for excel in ((), ("--excel",)):
                exported = _cli("--db", str(first), "export", "deals", "--format", fmt, *excel)
                path = folder / f"deals-{fmt}{len(excel)}.{fmt}"
                path.write_bytes(exported)
                fresh = folder / f"{fmt}{len(excel)}.db"
                shutil.copy(empty, fresh)
                _cli("--db", str(fresh), "import", str(path))
                again = _cli("--db", str(fresh), "export", "deals", "--format", fmt, *excel)
                assert again == exported, (fmt, excel)


# --- streaming ------------------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """Counts bytes and keeps none of them."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


def _book(folder: Path, deals: int) -> Path:
    source = folder / f"{deals}.csv"
    with source.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, DEAL_FIELDS, restval="", lineterminator="\n")
        writer.writeheader()
        for n in range(1, deals + 1):
            writer.writerow(
                {
                    "title": f"案件 {n} " + "詳細" * 20,
                    "account": f"株式会社{n % 50}",
                    "stage": "proposal",
                    "status": "open",
                    "amount": str(n),
                    "notes": "メモ " * 30,
                    "created_at": "2026-11-01T10:00:00+09:00",
                }
            )
    db = folder / f"{deals}.db"
    _cli("--db", str(db), "import", str(source))
    return db


def _peak(db: Path, fmt: str) -> tuple[int, int]:
    session = open_session(db, write=False)
    try:
        sink = _Sink()
        tracemalloc.start()
        write_export(session, "deals", fmt, sink, excel=fmt == "csv")  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        session.close()
    return peak, sink.size


def test_an_export_streams_memory_does_not_grow_with_the_book(tmp_path: Path) -> None:
    small, large = _book(tmp_path, 100), _book(tmp_path, 4000)
    for fmt in EXPORT_FORMATS:
        small_peak, small_size = _peak(small, fmt)
        large_peak, large_size = _peak(large, fmt)
        assert large_size > 35 * small_size  # forty times the data...
        assert large_peak < small_peak * 1.5 + 64 * 1024, (fmt, small_peak, large_peak)
        assert large_peak < 2 * 1024 * 1024  # ...in the same couple of hundred kilobytes
