"""The reports read indexes, not the whole deals table: `EXPLAIN QUERY PLAN` of their SQL.

The SQL is not copied here: each command runs for real with SQLite's trace callback on
the connection dealctl opens, and every statement it sent that reads deals or stage
changes is explained. A report that starts scanning the wide deals rows (or whose query
no longer matches the index shaped for it, see migrations 0003_report_indexes
and 0006_deal_moved_at) fails.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dealctl.storage import Store
from tests.conftest import EXAMPLES, Cli

# What each report's queries must use between them.
INTENDED = {
    "due": {"deals_next", "deals_no_next"},
    "pipeline": {"deals_open_idle"},
    "funnel": {"deals_pipeline", "stage_changes_live"},
    "forecast": {"deals_open_idle"},
}
_READS = re.compile(r"\b(deals|stage_changes)\b")
# A plan step that reads a table's rows one after another, with no index or only the
# primary key's (`SCAN d`, `SCAN sc USING INDEX sqlite_autoindex_...`).
_FULL_SCAN = re.compile(r"^SCAN (\w+)(?: USING (?:COVERING )?INDEX sqlite_autoindex_\w+)?$")


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement sent on a database dealctl opens during the test."""
    statements: list[str] = []
    original: Any = Store.__dict__["open"]

    def open_traced(cls: type[Store], path: Path, **kwargs: Any) -> tuple[Store, bool]:
        store, created = original.__func__(cls, path, **kwargs)
        store.conn.set_trace_callback(statements.append)
        return store, created

    monkeypatch.setattr(Store, "open", classmethod(open_traced))
    yield statements


def _plans(db_path: Path, statements: list[str]) -> list[tuple[str, list[str]]]:
    conn = sqlite3.connect(db_path)
    try:
        out = []
        for sql in statements:
            text = sql.strip()
            if not text.upper().startswith(("SELECT", "WITH")) or not _READS.search(text):
                continue
            steps = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + text)]
            out.append((text, steps))
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("command", sorted(INTENDED))
def test_reports_use_their_indexes(
    command: str, cli: Cli, db_path: Path, traced: list[str]
) -> None:
    _needs(command)
    cli("import", str(EXAMPLES / "book"))
    traced.clear()
    cli(command, "--format", "json")
    plans = _plans(db_path, traced)
    assert plans, f"{command} sent no query on deals or stage_changes"
    used: set[str] = set()
    for sql, steps in plans:
        for step in steps:
            used.update(re.findall(r"INDEX (\w+)", step))
            full = _FULL_SCAN.match(step)
            assert full is None or full.group(1) not in ("d", "sc", "deals", "stage_changes"), (
                f"{command} reads a whole table: {step}\n{sql}"
            )
    missing = INTENDED[command] - used
    assert not missing, f"{command} does not use {sorted(missing)}; plans: {plans}"


@pytest.mark.parametrize("args", [(), ("--owner", "佐藤"), ("--today",), ("-q",)])
def test_every_due_query_reads_a_due_index(
    args: tuple[str, ...], cli: Cli, db_path: Path, traced: list[str]
) -> None:
    cli("import", str(EXAMPLES / "book"))
    traced.clear()
    cli("due", *args)
    plans = [(sql, steps) for sql, steps in _plans(db_path, traced) if "next_" in sql]
    assert len(plans) >= 3, plans  # the offsets, the listing, the deals with no next action
    for sql, steps in plans:  # each read of the deals, in each part (a UNION has two)
        reads = [step for step in steps if step.startswith(("SEARCH d ", "SCAN d "))]
        assert reads, (steps, sql)
        for step in reads:
            assert re.search(r"INDEX deals_(next|no_next)\b", step), (steps, sql)


def test_the_funnel_reads_stage_history_from_the_index_alone(
    cli: Cli, db_path: Path, traced: list[str]
) -> None:
    cli("import", str(EXAMPLES / "book"))
    traced.clear()
    cli("funnel", "--format", "json")
    steps = [step for _, plan in _plans(db_path, traced) for step in plan if " sc " in f" {step} "]
    assert steps, "the funnel read no stage history"
    for step in steps:
        assert step.startswith("SEARCH sc USING COVERING INDEX stage_changes_live"), step


@pytest.mark.parametrize("args", [("pipeline", "--summary"), ("forecast",)])
def test_report_totals_read_only_the_covering_index(
    args: tuple[str, ...], cli: Cli, db_path: Path, traced: list[str]
) -> None:
    _needs(args[0])
    cli("import", str(EXAMPLES / "book"))
    traced.clear()
    cli(*args, "--format", "json")
    grouped = [
        steps
        for sql, steps in _plans(db_path, traced)
        if "GROUP BY" in sql and "status = 'open'" in sql
    ]
    if not grouped:
        pytest.skip(f"{args[0]} totals open deals in Python: no SQL aggregate to check")
    for steps in grouped:
        assert any(
            step.startswith("SEARCH d USING COVERING INDEX deals_open_idle") for step in steps
        ), steps
        # Idle days come from the deal's own moved_at: no deal's stage history is read.
        assert not any(re.search(r"\bsc\b|stage_changes", step) for step in steps), steps


def _needs(command: str) -> None:
    from dealctl.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    if command not in names:
        pytest.skip(f"no `{command}` command yet")
