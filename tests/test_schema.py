"""The storage rules that keep the file sync-ready, readable by any SQLite tool, and safe."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from dealctl import migrations
from dealctl.errors import DatabaseError
from dealctl.storage import Store, new_id
from tests.conftest import Cli

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# sqlite-utils' record of applied migrations: rebuilt by 0005 with a UUID text key (random,
# made by SQLite itself, as sqlite-utils inserts its rows) and no UNIQUE index.
BOOKKEEPING = {"_sqlite_migrations"}


def _tables(conn: sqlite3.Connection, *, bookkeeping: bool = False) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return [r[0] for r in rows if bookkeeping or r[0] not in BOOKKEEPING]


@pytest.fixture
def conn(cli: Cli, db_path: Path) -> sqlite3.Connection:
    cli(
        "add", "A", "--account", "X", "--contact", "a@example.com", "--next", "call", "--due", "fri"
    )
    cli("log", "1", "called")
    return sqlite3.connect(db_path)


def test_every_primary_key_is_a_uuid_text_column(conn: sqlite3.Connection) -> None:
    tables = _tables(conn)
    assert set(tables) >= {
        "accounts",
        "contacts",
        "pipelines",
        "stages",
        "deals",
        "deal_contacts",
        "activities",
        "stage_changes",
        "changes",
        "commands",
    }
    for table in tables:
        columns = conn.execute(f"PRAGMA table_info({table})").fetchall()
        keys = [(c[1], c[2]) for c in columns if c[5]]
        assert keys == [("id", "TEXT")], table
        for (value,) in conn.execute(f"SELECT id FROM {table}"):
            assert UUID7.match(value), (table, value)


def test_the_migration_record_follows_the_same_rules(conn: sqlite3.Connection) -> None:
    columns = conn.execute("PRAGMA table_info(_sqlite_migrations)").fetchall()
    assert [(c[1], c[2]) for c in columns if c[5]] == [("id", "TEXT")]
    ids = [value for (value,) in conn.execute("SELECT id FROM _sqlite_migrations")]
    assert len(ids) == len(migrations.STEPS) and all(UUID4.match(value) for value in ids)


def test_no_unique_constraint_besides_primary_keys(conn: sqlite3.Connection) -> None:
    assert "_sqlite_migrations" in _tables(conn, bookkeeping=True)
    for table in _tables(conn, bookkeeping=True):
        for index in conn.execute(f"PRAGMA index_list({table})").fetchall():
            unique, origin = index[2], index[3]
            assert not (unique and origin != "pk"), (table, index)


def test_foreign_keys_reference_uuids_and_deletes_are_soft(conn: sqlite3.Connection) -> None:
    for table in _tables(conn):
        for fk in conn.execute(f"PRAGMA foreign_key_list({table})").fetchall():
            assert fk[4] == "id", (table, fk)
        columns = {c[1] for c in conn.execute(f"PRAGMA table_info({table})")}
        if table not in ("changes", "commands"):
            assert "deleted_at" in columns, table


def test_change_log_is_insert_only(conn: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="insert-only"):
        conn.execute("UPDATE changes SET new = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="insert-only"):
        conn.execute("DELETE FROM changes")


def test_file_mode_pragmas_and_version(conn: sqlite3.Connection, db_path: Path) -> None:
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    store, created = Store.open(db_path, create=False)
    assert not created
    assert store.one("PRAGMA foreign_keys")[0] == 1  # type: ignore[index]
    assert store.one("PRAGMA busy_timeout")[0] >= 5000  # type: ignore[index]
    store.close()


def test_docs_list_every_migration_in_order(conn: sqlite3.Connection) -> None:
    """docs/schema.md's table of migrations, ``migrations.STEPS`` and what a new file records
    in ``_sqlite_migrations`` agree: schema N is the Nth migration."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "schema.md").read_text("utf-8")
    section = docs.split("## Schema version", 1)[1].split("\n## ", 1)[0]
    documented = [
        (int(m[1]), m[2]) for m in re.finditer(r"^\| (\d+) \| `(\d{4}_\w+)` \|", section, re.M)
    ]
    steps = [name for name, _ in migrations.STEPS]
    assert documented == list(enumerate(steps, start=1))
    applied = [n for (n,) in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    assert applied == steps
    assert len(steps) == migrations.SCHEMA_VERSION


def test_a_newer_database_is_refused(conn: sqlite3.Connection, db_path: Path, cli: Cli) -> None:
    conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    conn.commit()
    with pytest.raises(DatabaseError, match="newer dealctl"):
        Store.open(db_path, create=False)
    cli("list", code=5)
    assert "was written by a newer dealctl" in cli.stderr


def test_uuid7_is_time_ordered() -> None:
    ids = [new_id() for _ in range(200)]
    assert all(UUID7.match(i) for i in ids)
    assert ids == sorted(ids)  # in creation order, even within one millisecond


def test_uuid7_carries_the_millisecond_and_a_random_tail() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(20_000)]
    after = time.time_ns() // 1_000_000
    assert all(UUID7.match(i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stamps = {int(i[:8] + i[9:13], 16) for i in ids}
    # a millisecond's 4,096 counter values used up move the time on by one
    assert before <= min(stamps) and max(stamps) <= after + len(ids) // 4096
    assert {i[19] for i in ids} == set("89ab")  # the variant, 10, then two random bits
    assert len({i[-12:] for i in ids}) == len(ids)


def test_a_forked_process_never_repeats_its_parents_random_bits() -> None:
    new_id()  # random bytes read ahead in this process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then gone
        os.write(write, " ".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as stream:
        child = stream.read().split()
    os.waitpid(pid, 0)
    parent = [new_id() for _ in range(50)]
    assert len(child) == 50
    # The random tail of an id: none of the child's is one of the parent's.
    assert not {i[-16:] for i in child} & {i[-16:] for i in parent}
