"""The ``dealctl`` command line: parses arguments, calls the domain, hands rows to the renderer.

Nothing here knows SQL or Rich. Errors from the domain are ``DealctlError``
values, caught once in :class:`DealctlGroup` and printed as one line on stderr.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError, NoSuchOption, UsageError

from dealctl import __version__
from dealctl.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, DealctlError
from dealctl.render import COLOR_MODES, TABLE_PAGE, Column, Output
from dealctl.session import Session, open_session

DEBUG_ENV = "DEALCTL_DEBUG"


class DealctlGroup(typer.core.TyperGroup):
    """The one place where dealctl errors become a message and an exit status."""

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            if _debugging():
                raise
            _fail(f"{exc.format_message()} (see dealctl -h)", exc.exit_code)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DealctlError as exc:
            if _debugging():
                raise
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            state = ctx.obj if isinstance(ctx.obj, State) else None
            if state is not None and state.saved:  # after the commit: closing, printing
                _fail("interrupted; the change was saved (dealctl history)", EXIT_INTERRUPTED)
            _fail("interrupted; nothing was written", EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader (`| head`) has what it wanted: leave quietly, with success.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            if _debugging():
                raise
            where = exc.ctx.command_path if exc.ctx is not None else "dealctl"
            if isinstance(exc, NoSuchOption) and any(
                exc.option_name in p.opts for p in self.params
            ):
                command = where.removeprefix("dealctl ")
                _fail(
                    f"{exc.option_name} is a global option: give it before the command"
                    f" (dealctl {exc.option_name} … {command})",
                    exc.exit_code,
                )
            _fail(f"{exc.format_message()} (see {where} -h)", exc.exit_code)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if _debugging() or exc.__class__.__module__.startswith(("typer", "click")):
                raise
            if isinstance(exc, OverflowError):  # a date past year 9999, a number past any use
                _fail("a date or number given is out of range; nothing was written", EXIT_USAGE)
            if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
                _fail(f"cannot write: {exc.strerror}; nothing was written", EXIT_ERROR)
            _fail(
                f"internal error ({exc.__class__.__name__}); nothing was written."
                f" Run with {DEBUG_ENV}=1 to see the traceback",
                EXIT_ERROR,
            )


# Errors of the disk rather than of dealctl: a full disk, a quota, a failing device.
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}


def _debugging() -> bool:
    """``DEALCTL_DEBUG`` set to anything but empty or 0 shows real tracebacks."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"dealctl: {' '.join(message.split())}\n")
    raise typer.Exit(code)


app = typer.Typer(
    cls=DealctlGroup,
    name="dealctl",
    help="A local-first deal manager (案件管理): one SQLite file, a fast CLI.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


class State:
    """Global options, kept on the Typer context."""

    def __init__(self, db: Path | None, color: str) -> None:
        self.db = db
        self.color = color
        self.saved = False  # the command's transaction has committed


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"dealctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            help="Database file (default: $DEALCTL_DB, else the data folder).",
            show_default=False,
        ),
    ] = None,
    color: Annotated[
        str, typer.Option("--color", help="Styling: auto (terminal only), always or never.")
    ] = "auto",
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """A local-first deal manager (案件管理): one SQLite file, a fast CLI.

    Example: dealctl add "基幹システム更新" -a サンプル --amount 120万 --due fri --next 見積送付
    """
    if color not in COLOR_MODES:
        raise typer.BadParameter(f"use one of {', '.join(COLOR_MODES)}", param_hint="--color")
    ctx.obj = State(db, color)


def state_of(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state


def output_for(ctx: typer.Context) -> Output:
    return Output(stream=sys.stdout, color=state_of(ctx).color)


@contextmanager
def reading(ctx: typer.Context) -> Iterator[Session]:
    """A session for a read command: never creates the database."""
    session = open_session(state_of(ctx).db, write=False)
    try:
        yield session
    finally:
        session.close()


@contextmanager
def writing(ctx: typer.Context) -> Iterator[Session]:
    """A session for a write command; the command is one transaction.

    A database file created for a command that then fails is removed again, so
    bad input leaves nothing behind.
    """
    from dealctl import catalogue

    session = open_session(state_of(ctx).db, write=True)
    args = [f"{k}={v}" for k, v in ctx.params.items() if v not in (None, False, [], ())]
    try:
        with session.store.transaction(ctx.command_path.split(" ", 1)[-1], args, session.stamp):
            catalogue.sync(session.store, session.config, session.stamp)
            yield session
    except BaseException:
        session.close()
        if session.created:
            session.store.remove_files()
        raise
    state_of(ctx).saved = True
    session.close()
    if session.created:
        sys.stderr.write(f"dealctl: created database {session.store.path}\n")


# --- shared options -------------------------------------------------------------------------

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table, csv, tsv, json or jsonl (default: table on a terminal, tsv in a pipe).",
        show_default=False,
    ),
]
AllOption = Annotated[bool, typer.Option("--all", help="Show every row on a terminal.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the numbers.")]


def money_text(row: Mapping[str, Any], key: str = "amount") -> str:
    from dealctl.money import format_amount

    value = row.get(key)
    return "" if value is None else f"{format_amount(value, row['currency'])} {row['currency']}"


def due_text(row: Mapping[str, Any]) -> str:
    """The due date, or date and time, in the user's zone (``due_shown`` of a deal row)."""
    return str(row.get("due_shown") or "")


def _bant_cell(row: Mapping[str, Any]) -> str:
    """``3/4 −T``: the BANT score and the initials of the parts missing."""
    from dealctl.qualification import short_text

    return short_text(row["qualification"], row["qualification_missing"])


# The BANT score and the parts missing, as `list` and `account show` print it.
BANT_COLUMN = Column("qualification", "BANT", show=_bant_cell)


DEAL_COLUMNS = [
    Column("number", "#", justify="right"),
    Column("id", "id"),
    Column("title", "Title", wide=True),
    Column("account", "Account"),
    Column("contact", "Contact"),
    Column("pipeline", "Pipeline"),
    Column("stage", "Stage", show=lambda r: str(r["stage_name"])),
    Column("stage_name", "Stage name"),
    Column("status", "Status"),
    Column("amount", "Amount", justify="right", show=money_text),
    Column("currency", "Currency"),
    Column("probability", "%", justify="right"),
    Column("close_date", "Close"),
    Column("next_action", "Next action"),
    Column("next_due", "Due", show=due_text),
    Column("days_overdue", "Overdue", justify="right"),
    Column("owner", "Owner"),
    Column("tags", "Tags"),
    Column("source", "Source"),
    Column("lost_reason", "Lost reason"),
    Column("created_at", "Created"),
    Column("updated_at", "Updated"),
    Column("last_contact_at", "Last contact"),
]
# Columns a person sees in a table; machine formats carry every column above.
LIST_TABLE = (
    "number",
    "title",
    "account",
    "stage",
    "status",
    "amount",
    "close_date",
    "next_action",
    "next_due",
    "qualification",  # `list` only: its BANT score and the initials missing (3/4 −T)
)


def pick_columns(columns: list[Column], keys: tuple[str, ...]) -> list[Column]:
    by_key = {c.key: c for c in columns}
    return [by_key[k] for k in keys]


def emit_deals(
    ctx: typer.Context,
    rows: Iterable[dict[str, Any]],
    fmt: str | None,
    table_keys: tuple[str, ...],
    *,
    quiet: bool = False,
    show_all: bool = False,
    title: str | None = None,
    empty: str = "no deals",
    page: int = TABLE_PAGE,
    total: Callable[[], int] | None = None,
) -> None:
    out = output_for(ctx)
    if quiet:
        for row in rows:
            out.line(str(row["number"]))
        return
    resolved = out.resolve(fmt)
    from dealctl.render import write_rows

    columns = pick_columns(DEAL_COLUMNS, table_keys) if resolved == "table" else DEAL_COLUMNS
    write_rows(
        out,
        resolved,
        columns,
        rows,
        title=title,
        empty=empty,
        show_all=show_all,
        page=page,
        total=total,
    )


# --- commands that write ----------------------------------------------------------------------

TitleArg = Annotated[str, typer.Argument(help="What the deal is called.", show_default=False)]
DealArg = Annotated[str, typer.Argument(help="Deal number (12) or id.", show_default=False)]
AccountOpt = Annotated[
    str | None,
    typer.Option("--account", "-a", help="Account number (#3) or name (a new name is added)."),
]
ContactOpt = Annotated[str | None, typer.Option("--contact", help="Contact name or e-mail.")]
AmountOpt = Annotated[
    str | None, typer.Option("--amount", help="1,200,000 / ¥1,200,000 / 120万 / 1,200.50.")
]
CurrencyOpt = Annotated[str | None, typer.Option("--currency", help="ISO code (default: config).")]
PipelineOpt = Annotated[str | None, typer.Option("--pipeline", help="Pipeline key.")]
StageOpt = Annotated[str | None, typer.Option("--stage", "-s", help="Stage key or name.")]
CloseOpt = Annotated[str | None, typer.Option("--close", help="Expected close date.")]
NextOpt = Annotated[str | None, typer.Option("--next", "-n", help="Next action.")]
DueOpt = Annotated[
    str | None, typer.Option("--due", "-d", help="Next action due: date, +3d, fri, fri 14:00.")
]
OwnerOpt = Annotated[str | None, typer.Option("--owner", help="Owner (default: config owner).")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag (repeatable).")]
SourceOpt = Annotated[str | None, typer.Option("--source", help="Source or channel.")]
ProbabilityOpt = Annotated[
    str | None,
    typer.Option("--probability", help="Win % set by hand; 'stage' to follow the stage."),
]
PurposeOpt = Annotated[str | None, typer.Option("--purpose", help="What the customer wants.")]
ProposalOpt = Annotated[str | None, typer.Option("--proposal", help="What was proposed.")]
NotesOpt = Annotated[str | None, typer.Option("--notes", help="Free notes.")]


def run() -> int:
    """Run the app on this process's arguments; returns the exit status."""
    try:
        with _only_the_command(sys.argv[1:]):
            app(standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


@contextmanager
def _only_the_command(argv: list[str]) -> Iterator[None]:
    """Let Typer build only the command that runs.

    Typer turns every registered command into a Click command on each run, which costs
    about as much as the rest of start-up. When the command line names a command, the
    others are set aside for this run; help, completion and unknown words see them all.
    """
    word = _command_word(argv)
    commands = [c for c in app.registered_commands if word and _name_of(c) == word]
    groups = [g for g in app.registered_groups if word and g.name == word]
    version = word is None and "--version" in argv and not {"-h", "--help"} & set(argv)
    if not (commands or groups or version) or "_DEALCTL_COMPLETE" in os.environ:
        yield
        return
    saved = app.registered_commands, app.registered_groups
    app.registered_commands, app.registered_groups = commands, groups
    try:
        yield
    finally:
        app.registered_commands, app.registered_groups = saved


def _command_word(argv: list[str]) -> str | None:
    """The command named after the global options, if any."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in ("--db", "--color"):
            index += 2
        elif arg.startswith("-"):
            index += 1
        else:
            return arg
    return None


def _name_of(command: typer.models.CommandInfo) -> str:
    if command.name:
        return command.name
    assert command.callback is not None
    return typer.main.get_command_name(command.callback.__name__)


# Command modules register themselves on `app`; imported last, once `app` exists.
from dealctl.commands import (  # noqa: E402, F401
    accounts,
    config,
    contacts,
    deals,
    digest,
    maintenance,
    qualify,
    reports,
    route,
    stakeholders,
    transfer,
)
