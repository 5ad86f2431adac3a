"""Run one dealctl command in-process and record every SQL statement it sent to SQLite.

    python bench/trace_sql.py OUT.json -- due
    python bench/trace_sql.py OUT.json -- --db deals.db export deals --format csv

The statements are SQLite's expanded text (parameters bound), so each can be run as it
is by the ``sqlite3`` command line: that is how bench/run.py gets "the same query" for
its floors, and how tests/test_query_plans.py finds the SQL of a report without copying
it. The command's own output goes to /dev/null; OUT.json gets
``{"exit": N, "statements": [...]}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """Every statement run on a database dealctl opens while inside the block."""
    from dealctl.storage import Store

    statements: list[str] = []
    original: Any = Store.__dict__["open"]

    def traced(cls: type[Store], path: Path, **kwargs: Any) -> tuple[Store, bool]:
        store, created = original.__func__(cls, path, **kwargs)
        store.conn.set_trace_callback(statements.append)
        return store, created

    Store.open = classmethod(traced)  # type: ignore[method-assign,assignment]
    try:
        yield statements
    finally:
        Store.open = original  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] != "--":
        sys.stderr.write("usage: trace_sql.py OUT.json -- DEALCTL-ARGS...\n")
        return 2
    out, args = Path(argv[0]), argv[2:]
    from dealctl.cli import app

    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    code = 0
    with recording() as statements:
        sys.stdout.flush()
        os.dup2(devnull, 1)
        try:
            app(args, prog_name="dealctl", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
    out.write_text(
        json.dumps({"exit": code, "statements": statements}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
