"""`dealctl account`: add, list, show, edit, merge and find duplicate accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from dealctl.cli import (
    BANT_COLUMN,
    AllOption,
    FormatOption,
    QuietOption,
    app,
    due_text,
    output_for,
    reading,
    writing,
)
from dealctl.commands.rows import emit_rows, money
from dealctl.errors import InvalidInput
from dealctl.render import Column, Output
from dealctl.text import counted

account_app = typer.Typer(
    help="Accounts: the whole relationship with one customer.",
    no_args_is_help=True,
)
app.add_typer(account_app, name="account")

AccountArg = Annotated[
    str, typer.Argument(help="Account number (3), id or name.", show_default=False)
]
NotesOpt = Annotated[str | None, typer.Option("--notes", help="Notes on the account.")]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Allow a name another account has (a different company)."),
]

ACCOUNT_COLUMNS = [
    Column("number", "#", justify="right"),
    Column("id", "id"),
    Column("name", "Name", wide=True),
    Column("open_deals", "Open", justify="right"),
    Column("won_deals", "Won", justify="right"),
    Column("lost_deals", "Lost", justify="right"),
    Column("contacts", "Contacts", justify="right"),
    Column("last_contact_at", "Last contact", show=lambda r: (r["last_contact_at"] or "")[:10]),
    Column("notes", "Notes"),
    Column("created_at", "Created"),
    Column("updated_at", "Updated"),
]
ACCOUNT_TABLE = (
    "number",
    "name",
    "open_deals",
    "won_deals",
    "lost_deals",
    "contacts",
    "last_contact_at",
)

DUPE_COLUMNS = [
    Column("group", "Group", justify="right"),
    Column("match", "Match"),
    Column("number", "#", justify="right"),
    Column("id", "id"),
    Column("name", "Name", wide=True),
    Column("key", "Key"),
    Column("deals", "Deals", justify="right"),
    Column("contacts", "Contacts", justify="right"),
    Column("created_at", "Created"),
]
DUPE_TABLE = ("group", "match", "number", "name", "deals", "contacts")


@account_app.command("add")
def account_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Company name.", show_default=False)],
    notes: NotesOpt = None,
    force: ForceOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the number.")] = False,
) -> None:
    """Add an account (a company).

    A name that matches an existing account is refused, naming it, unless --force.

    Example: dealctl account add 株式会社サンプル --notes "製造業・従業員300名"
    """
    from dealctl import accounts

    with writing(ctx) as session:
        number = accounts.add(session, name, notes, force=force)
    output_for(ctx).line(str(number) if quiet else f"added account {number}")


@account_app.command("edit")
def account_edit(
    ctx: typer.Context,
    account: AccountArg,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    notes: NotesOpt = None,
    force: ForceOpt = False,
) -> None:
    """Rename an account or change its notes.

    An empty --notes clears the notes.

    Example: dealctl account edit 3 --name "株式会社サンプル ホールディングス"
    """
    from dealctl import accounts

    with writing(ctx) as session:
        changed = accounts.edit(session, account, name, notes, force=force)
    output_for(ctx).line(
        f"account {account}: " + (", ".join(changed) + " changed" if changed else "no change")
    )


@account_app.command("list")
def account_list(
    ctx: typer.Context,
    search: Annotated[str | None, typer.Option("--search", help="Text in the name.")] = None,
    fmt: FormatOption = None,
    show_all: AllOption = False,
    quiet: QuietOption = False,
) -> None:
    """List accounts with their deals and contacts.

    Example: dealctl account list --search サンプル
    """
    from dealctl import accounts

    with reading(ctx) as session:
        rows = accounts.list_accounts(session, search)
    emit_rows(
        ctx,
        fmt,
        ACCOUNT_COLUMNS,
        rows,
        ACCOUNT_TABLE,
        empty="no accounts",
        show_all=show_all,
        quiet=quiet,
    )


@account_app.command("dupes")
def account_dupes(
    ctx: typer.Context,
    fmt: FormatOption = None,
    show_all: AllOption = False,
) -> None:
    """List likely duplicate accounts, in groups.

    Names are compared after normalisation: full-width and half-width forms, case,
    spacing and 株式会社 / (株) / ㈱ / Inc. variants (match "exact"), and also without
    punctuation (match "similar"). The first account of each group has the most deals.
    Example: dealctl account dupes
    """
    from dealctl import accounts

    with reading(ctx) as session:
        rows = accounts.dupes(session)
    used = emit_rows(
        ctx, fmt, DUPE_COLUMNS, rows, DUPE_TABLE, empty="no likely duplicates", show_all=show_all
    )
    if used == "table":
        groups: dict[int, list[str]] = {}
        for row in rows:
            groups.setdefault(row["group"], []).append(str(row["number"]))
        out = output_for(ctx)
        for numbers in groups.values():
            out.line(f"merge: dealctl account merge {' '.join(numbers)}")


@account_app.command("merge")
def account_merge(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="The account to keep.", show_default=False)],
    sources: Annotated[
        list[str], typer.Argument(help="Accounts to merge into it.", show_default=False)
    ],
) -> None:
    """Merge accounts into the first one given.

    Their deals and contacts move to it and they are deleted. Everything is in the
    change log (dealctl history), and a name merged away keeps leading to the account
    it went into.
    Example: dealctl account merge 1 2 5
    """
    from dealctl import accounts

    with writing(ctx) as session:
        result = accounts.merge(session, target, sources)
    output_for(ctx).line(
        f"merged {', '.join(result['merged'])} into {result['number']} {result['name']}:"
        f" {counted(result['deals'], 'deal')} and {counted(result['contacts'], 'contact')} moved"
    )


@account_app.command("show")
def account_show(
    ctx: typer.Context,
    account: AccountArg,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="text or json.")] = None,
) -> None:
    """Show an account: deals, totals and people.

    Every deal, totals per currency, the contacts and their roles, the last contact.

    Example: dealctl account show サンプル
    """
    from dealctl import accounts

    if fmt not in (None, "text", "json"):
        raise InvalidInput(f"unknown format {fmt!r} for account show: use text or json")
    with reading(ctx) as session:
        view = accounts.view(session, account)
    out = output_for(ctx)
    if fmt == "json":
        out.json(view)
        return
    _print_view(out, view)


VIEW_DEALS = [
    Column("number", "#", justify="right"),
    Column("title", "Title", wide=True),
    Column("stage", "Stage", show=lambda r: str(r["stage_name"])),
    Column("status", "Status"),
    Column("amount", "Amount", justify="right", show=lambda r: money(r["amount"], r["currency"])),
    Column("probability", "%", justify="right"),
    Column(
        "weighted_amount",
        "Weighted",
        justify="right",
        show=lambda r: money(r["weighted_amount"], r["currency"]),
    ),
    Column("close_date", "Close"),
    Column("next_action", "Next action"),
    Column("next_due", "Due", show=due_text),
    BANT_COLUMN,
]


def _roles_text(person: Mapping[str, Any]) -> str:
    parts = [f"#{r['deal']} {r['role_name']}" for r in person["roles"]]
    parts += [f"#{n} main contact" for n in person["main_contact_of"]]
    return ", ".join(parts)


VIEW_CONTACTS = [
    Column("number", "#", justify="right"),
    Column("name", "Name"),
    Column("title", "Title"),
    Column("email", "E-mail"),
    Column("phone", "Phone"),
    Column("roles", "Roles", wide=True, show=_roles_text),
]


def _print_view(out: Output, view: dict[str, Any]) -> None:
    from dealctl.render import write_rows

    out.line(f"{'Account':<13}#{view['number']} {view['name']}")
    if view["notes"]:
        out.line(f"{'Notes':<13}{view['notes']}")
    for label, key in (("Open", "open"), ("Won", "won"), ("Lost", "lost")):
        for total in view["totals"]:
            count = total[f"{key}_count"]
            if not count:
                continue
            text = f"{counted(count, 'deal')} · {money(total[f'{key}_amount'], total['currency'])}"
            if key == "open":
                text += f" · weighted {money(total['weighted_amount'], total['currency'])}"
            out.line(f"{label:<13}{text}")
            label = ""
    last = view["last_contact"]
    if last is not None:
        what = f" · {last['kind']} · {last['text']}" if last["kind"] else ""
        out.line(f"{'Last contact':<13}{last['at'][:16].replace('T', ' ')} · #{last['deal']}{what}")
    out.line(f"{'Id':<13}{view['id']}")
    out.line()
    write_rows(
        out, "table", VIEW_DEALS, view["deals"], title="Deals", empty="no deals", show_all=True
    )
    out.line()
    write_rows(
        out,
        "table",
        VIEW_CONTACTS,
        view["contacts"],
        title="People",
        empty="no contacts",
        show_all=True,
    )
