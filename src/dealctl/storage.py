"""Opening the database file and running transactions on it.

The stdlib ``sqlite3`` connection serves every command; sqlite-utils is imported
only when a migration is pending (a new or older file), which keeps start-up
light. Each user command is one transaction (:meth:`Store.transaction`).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dealctl import migrations
from dealctl.errors import DatabaseBusy, DatabaseError

DB_ENV = "DEALCTL_DB"
BUSY_ENV = "DEALCTL_BUSY_TIMEOUT"
ACTOR_ENV = "DEALCTL_ACTOR"
DEFAULT_BUSY_SECONDS = 5.0
ACTOR_MAX = 200  # characters of ``commands.actor`` kept

Params = Sequence[Any] | Mapping[str, Any]

# The sqlite3 module binds int, float and str as they are, but sends every other value,
# None included, through its adapter protocol: a registry lookup, then an `__adapt__`
# lookup on its protocol type that fails with a formatted AttributeError, then one for
# `__conform__`. That is about half the cost of binding a row of mostly NULL columns (a
# deal has some twenty optional fields). A registered adapter is found in the first step:
# this one maps None to None, which binds as NULL, as before.
_NO_ADAPTER: dict[object, None] = {}
sqlite3.register_adapter(type(None), _NO_ADAPTER.get)


# The previous id in this process: its millisecond, its 12-bit counter, and the text of
# its first 15 characters (time and version), kept while the millisecond is unchanged.
_last_id: list[Any] = [0, 0, ""]
_TIME_MASK = (1 << 48) - 1
# The first character of the random tail with its two highest bits set to the variant, 10.
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


# Random hex digits for ids, read from the system's source 4,096 ids at a time (a bulk
# import makes hundreds of thousands; one read each cost a quarter of the time of an id),
# and how many of them are used. A forked child starts afresh, so it never repeats its
# parent's.
_ID_POOL_BYTES = 8 * 4096
_id_pool: list[Any] = ["", 0]


def _fresh_id_pool() -> None:
    _id_pool[:] = ["", 0]


os.register_at_fork(after_in_child=_fresh_id_pool)


def new_id() -> str:
    """A UUID version 7 as text: time-ordered, so new rows land at the end of the index.

    Within one millisecond the 12 bits after the time count up (RFC 9562, method 1),
    so ids made by one command sort in the order they were made. The text is put together
    from hex digits (16 random ones for the tail, 3 more to seed a millisecond's counter)
    rather than formatted from a 128-bit number: a bulk import makes hundreds of thousands.
    """
    millis = time.time_ns() // 1_000_000
    pool, used = _id_pool
    if used + 19 > len(pool):
        pool, used = os.urandom(_ID_POOL_BYTES).hex(), 0
        _id_pool[0] = pool
    last_millis, counter, head = _last_id
    if millis <= last_millis:
        counter += 1
        if counter < 1 << 12:
            millis = last_millis
        else:
            millis, counter, head = last_millis + 1, 0, ""
    else:
        counter, head = int(pool[used + 16 : used + 19], 16) >> 1, ""
        used += 3
    if not head:
        text = f"{millis & _TIME_MASK:012x}"
        head = f"{text[:8]}-{text[8:]}-7"
    _last_id[:] = millis, counter, head
    _id_pool[1] = used + 16
    tail = pool[used : used + 16]
    return f"{head}{counter:03x}-{_VARIANT[tail[0]]}{tail[1:4]}-{tail[4:]}"


def default_db_path(environ: Mapping[str, str]) -> Path:
    """``$DEALCTL_DB``, else ``$XDG_DATA_HOME/dealctl/deals.db``, else ``~/.local/share/...``."""
    if environ.get(DB_ENV):
        return Path(environ[DB_ENV]).expanduser()
    return _data_home_path(environ)


def _data_home_path(environ: Mapping[str, str]) -> Path:
    data_home = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "dealctl" / "deals.db"


def _busy_seconds(environ: Mapping[str, str]) -> float:
    raw = environ.get(BUSY_ENV, "")
    try:
        seconds = float(raw) if raw else DEFAULT_BUSY_SECONDS
    except ValueError:
        return DEFAULT_BUSY_SECONDS
    return min(max(0.0, seconds), 3600.0) if math.isfinite(seconds) else DEFAULT_BUSY_SECONDS


_DROPPED = ("Cc", "Cf", "Cs")  # control, format (bidi, zero width) and surrogate code points


def _one_line(text: str) -> str:
    """``text`` as one line of plain text: each run of whitespace (newlines, tabs, U+2028…)
    becomes one space; other control and format characters (escapes, bidi overrides, zero
    widths) and lone surrogates (undecodable bytes in the environment) are dropped; at most
    :data:`ACTOR_MAX` characters."""
    words = (
        "".join(c for c in word if unicodedata.category(c) not in _DROPPED) for word in text.split()
    )
    return " ".join(word for word in words if word)[:ACTOR_MAX].rstrip()


def _login() -> str:
    """The login name, else the numeric user id (no name, no passwd entry, no pwd module)."""
    import getpass  # only commands that write need these

    try:
        name = _one_line(getpass.getuser())
    except (OSError, KeyError, ImportError):
        name = ""
    if name:
        return name
    getuid = getattr(os, "getuid", None)
    return str(getuid()) if getuid is not None else "unknown"


def _host() -> str:
    import socket

    try:
        return _one_line(socket.gethostname()) or "localhost"
    except OSError:
        return "localhost"


def _on_terminal() -> bool:
    """Whether standard input and output are both terminals (typed, not cron or a pipe)."""
    try:
        return bool(
            sys.stdin is not None
            and sys.stdout is not None
            and sys.stdin.isatty()
            and sys.stdout.isatty()
        )
    except (AttributeError, ValueError, OSError):  # replaced or closed streams
        return False


def actor(environ: Mapping[str, str] | None = None) -> str:
    """Who runs this command, as ``commands.actor`` records it.

    ``$DEALCTL_ACTOR`` when it is set and not blank (as one line, see :func:`_one_line`);
    otherwise ``user@host (terminal)`` when standard input and output are both terminals,
    else ``user@host (script)`` (cron, a pipe, another program). It is what the process
    says about itself, not a proof of identity.
    """
    env = os.environ if environ is None else environ
    given = _one_line(env.get(ACTOR_ENV, ""))
    if given:
        return given
    how = "terminal" if _on_terminal() else "script"
    return f"{_login()}@{_host()} ({how})"


def _create_file(path: Path, *, folders: bool = False) -> bool:
    """Create an empty database file readable by its owner only (it holds contact data),
    and its missing folders (0700) when ``folders``; otherwise a missing folder is an error
    (a mistyped ``--db`` should not grow a tree of folders). False when another process
    made it first."""
    if folders:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    elif not path.parent.is_dir():
        raise DatabaseError(f"cannot create database {path}: no folder {path.parent}")
    try:
        _create_new(path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise DatabaseError(f"cannot create database {path}: {exc.strerror}") from None
    return True


_MAX_KEPT = 1000  # names tried for the copy kept before an upgrade


def _create_new(path: Path) -> None:
    """Create ``path`` empty and private (0600); ``FileExistsError`` when anything is there
    already, a symlink included (``O_EXCL`` never follows one)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    os.close(os.open(path, flags, 0o600))


def _use_wal(conn: sqlite3.Connection, busy: float) -> None:
    """Switch a rollback-journal file (a new one, or one from the first schema) to WAL.

    The switch needs the file to itself, and SQLite reports a clash with another process
    opening the same old file as busy at once, without its busy handler (waiting could
    deadlock): so it is retried here until the busy timeout runs out.
    """
    deadline = time.monotonic() + busy
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def is_database_file(path: Path | str, database: Path) -> bool:
    """Whether writing ``path`` would overwrite the database or one of its companion files
    (``-wal``, ``-shm``, ``-journal``): commands that write a file refuse those."""
    try:
        target = Path(path).expanduser().resolve()
        base = database.expanduser().resolve()
    except (OSError, RuntimeError):
        return False
    names = {base.name, *(base.name + suffix for suffix in ("-wal", "-shm", "-journal"))}
    if target.parent == base.parent and target.name in names:
        return True
    try:
        return target.exists() and base.exists() and target.samefile(base)
    except OSError:
        return False


def translate(exc: sqlite3.Error, path: Path) -> Exception:
    """The dealctl error for a low-level SQLite failure."""
    message = str(exc)
    if "locked" in message or "busy" in message:
        return DatabaseBusy(f"database busy: {path} is locked by another dealctl; try again")
    return DatabaseError(f"database error in {path}: {message}")


class Store:
    """One open database file."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, environ: Mapping[str, str] | None = None
    ) -> None:
        self.conn = conn
        self.path = path
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.command_id: str | None = None

    @classmethod
    def open(
        cls, path: Path, *, create: bool, environ: Mapping[str, str] | None = None
    ) -> tuple[Store, bool]:
        """Open ``path``; create it only when ``create``. Returns the store and whether it was new.

        Pending migrations are applied, after a backup copy of an older file.
        """
        env = os.environ if environ is None else environ
        created = False
        if not path.exists():
            if not create:
                raise DatabaseError(
                    f"no database at {path}: add a deal or import first, or pass --db"
                )
            # Two first uses at once: only the one that made the file says so.
            created = _create_file(path, folders=path == _data_home_path(env))
        elif path.is_dir():
            raise DatabaseError(f"{path} is a folder, not a database file")
        elif not path.is_file():
            raise DatabaseError(f"{path} is not a regular file, not a database file")
        elif create and path.stat().st_size == 0:
            path.chmod(0o600)  # an empty file made beforehand is about to hold contact data
        busy = _busy_seconds(env)
        try:
            conn = sqlite3.connect(path, timeout=busy, isolation_level=None)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        store = cls(conn, path, env)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > migrations.SCHEMA_VERSION:
                conn.close()
                raise DatabaseError(
                    f"{path} was written by a newer dealctl (schema {version}, this one knows "
                    f"{migrations.SCHEMA_VERSION}); upgrade dealctl to use it"
                )
            if version == 0 and (
                not create or conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
            ):
                conn.close()
                raise DatabaseError(f"{path} is not a dealctl database")
            _use_wal(conn, busy)
            if version < migrations.SCHEMA_VERSION:
                store._migrate(version)
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, path) from None
        return store, created

    def _migrate(self, version: int) -> None:
        # Under the write lock, in one transaction with the new user_version: two dealctl
        # starting on the same old (or new) file migrate it once, the backup is a copy of
        # exactly what gets migrated, and a crash part-way leaves the old schema intact.
        self.conn.execute("BEGIN IMMEDIATE")
        kept: Path | None = None
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version < migrations.SCHEMA_VERSION:
                if version > 0:
                    kept = self._keep_before_upgrade(version)
                migrations.apply(self.conn)
                self.conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION}")
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if kept is not None:
                kept.unlink(missing_ok=True)  # the file was not upgraded: nothing to keep
            raise
        if kept is not None:
            sys.stderr.write(
                f"dealctl: upgraded {self.path} from schema {version} to"
                f" {migrations.SCHEMA_VERSION}; the old file is kept as {kept}\n"
            )

    def _keep_before_upgrade(self, version: int) -> Path:
        """Copy the file, before it is upgraded from ``version``, to a name of its own.

        ``FILE.schemaN.bak``, or ``FILE.schemaN-2.bak``, ``-3``… when that name is taken:
        an earlier copy (or anything else there, a symlink included) is never followed,
        written into or replaced. Called under the write lock, so two dealctl upgrading
        the same file at once make one copy.
        """
        for attempt in range(1, _MAX_KEPT + 1):
            suffix = "" if attempt == 1 else f"-{attempt}"
            target = self.path.with_name(f"{self.path.name}.schema{version}{suffix}.bak")
            try:
                self.backup(target)
            except FileExistsError:
                continue
            except DatabaseError as exc:
                raise DatabaseError(
                    f"{exc} (the copy kept before upgrading {self.path}); the file was not upgraded"
                ) from None
            return target
        raise DatabaseError(
            f"cannot upgrade {self.path}: {self.path.name}.schema{version}.bak to"
            f" .schema{version}-{_MAX_KEPT}.bak are all taken; move the old copies away"
        )

    def backup(self, target: Path) -> None:
        """Copy the whole database to ``target`` with SQLite's online backup (mode 0600).

        ``target`` must not exist (``FileExistsError`` otherwise): nothing there is followed
        or written into. A copy that fails part-way is removed.

        The copy is read through a connection of its own, so it is the last committed
        state, whatever this connection is doing (a backup from a connection that holds
        the write lock would wait forever), and other commands go on meanwhile (WAL).
        """
        try:
            _create_new(target)
        except FileExistsError:
            raise
        except OSError as exc:
            raise DatabaseError(f"cannot write {target}: {exc.strerror}") from None
        try:
            source = sqlite3.connect(self.path)
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            finally:
                dest.close()
                source.close()
        except BaseException as exc:
            target.unlink(missing_ok=True)
            if isinstance(exc, sqlite3.Error):
                raise DatabaseError(f"cannot write {target}: {exc}") from None
            raise

    def close(self) -> None:
        self.conn.close()

    def remove_files(self) -> None:
        """Delete the (closed) database file and its WAL companions."""
        for suffix in ("", "-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    @contextmanager
    def transaction(self, name: str, args: Sequence[str], at: str) -> Iterator[str]:
        """One user command: ``BEGIN IMMEDIATE`` (the write lock is taken up front, so a
        busy database fails before any work), a ``commands`` row, commit or roll back.

        The row records who ran it (:func:`actor`, read from the environment the store was
        opened with). Yields the command id that change-log rows refer to.
        """
        who = actor(self.environ)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None
        command_id = new_id()
        self.command_id = command_id
        try:
            self.conn.execute(
                "INSERT INTO commands (id, name, args, at, actor) VALUES (?, ?, ?, ?, ?)",
                (command_id, name, json.dumps(list(args), ensure_ascii=False), at, who),
            )
            yield command_id
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.path) from None
            raise
        finally:
            self.command_id = None

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """All rows of a read query."""
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None

    def iterate(self, sql: str, params: Params = ()) -> Iterator[sqlite3.Row]:
        """Rows of a read query, streamed (for exports of any size). A stream left unread
        (a table shows its first page) may be dropped after the connection closes."""
        try:
            # Not `yield from`, which closes the cursor when the stream is dropped: after
            # the connection has closed, that raises.
            for row in self.conn.execute(sql, params):  # noqa: UP028
                yield row
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None

    def one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a read query, or None."""
        try:
            row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None
        return row

    def execute(self, sql: str, params: Params = ()) -> None:
        """A write; only inside :meth:`transaction`."""
        assert self.conn.in_transaction, "writes happen inside Store.transaction()"
        self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        """A bulk write; only inside :meth:`transaction`. ``rows`` may be a generator, so
        a large import never holds every prepared row at once. Returns the rows written."""
        assert self.conn.in_transaction, "writes happen inside Store.transaction()"
        return self.conn.executemany(sql, rows).rowcount

    def log_change(
        self, entity: str, entity_id: str, field: str, old: object, new: object, at: str
    ) -> None:
        """Append one row to the insert-only change log."""
        self.execute(
            "INSERT INTO changes (id, command_id, entity, entity_id, field, old, new, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (new_id(), self.command_id, entity, entity_id, field, _text(old), _text(new), at),
        )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
