"""`dealctl contact`: add, list, show and edit contacts (people at accounts)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dealctl.cli import AllOption, FormatOption, QuietOption, app, output_for, reading, writing
from dealctl.commands.rows import emit_rows
from dealctl.errors import InvalidInput
from dealctl.render import Column, Output

contact_app = typer.Typer(help="Contacts: the people at your accounts.", no_args_is_help=True)
app.add_typer(contact_app, name="contact")

ContactArg = Annotated[
    str, typer.Argument(help="Contact number (5), e-mail, id or name.", show_default=False)
]
AccountOpt = Annotated[
    str | None,
    typer.Option("--account", "-a", help="Account number (#3) or name (a new name is added)."),
]
EmailOpt = Annotated[str | None, typer.Option("--email", "-e", help="E-mail address.")]
PhoneOpt = Annotated[str | None, typer.Option("--phone", help="Phone number.")]
JobOpt = Annotated[str | None, typer.Option("--title", help="Job title (部長, CTO).")]
NotesOpt = Annotated[str | None, typer.Option("--notes", help="Notes.")]

CONTACT_COLUMNS = [
    Column("number", "#", justify="right"),
    Column("id", "id"),
    Column("name", "Name"),
    Column("account", "Account"),
    Column("email", "E-mail"),
    Column("phone", "Phone"),
    Column("title", "Title"),
    Column("deals", "Deals", justify="right"),
    Column("roles", "Roles"),
    Column("notes", "Notes"),
    Column("created_at", "Created"),
    Column("updated_at", "Updated"),
]
CONTACT_TABLE = ("number", "name", "account", "title", "email", "phone", "deals", "roles")


@contact_app.command("add")
def contact_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The person's name.", show_default=False)],
    account: AccountOpt = None,
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    title: JobOpt = None,
    notes: NotesOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the number.")] = False,
) -> None:
    """Add a contact (a person at an account).

    An e-mail address another contact has is refused, naming them.

    Example: dealctl contact add 山田太郎 -a サンプル --email yamada@sample.co.jp --title 部長
    """
    from dealctl import contacts

    with writing(ctx) as session:
        number = contacts.add(
            session, name, account=account, email=email, phone=phone, title=title, notes=notes
        )
    output_for(ctx).line(str(number) if quiet else f"added contact {number}")


@contact_app.command("edit")
def contact_edit(
    ctx: typer.Context,
    contact: ContactArg,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    account: AccountOpt = None,
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    title: JobOpt = None,
    notes: NotesOpt = None,
) -> None:
    """Change any field of a contact.

    An empty value clears a field.

    Example: dealctl contact edit 5 --title 本部長 --phone 03-1234-5678
    """
    from dealctl import contacts

    with writing(ctx) as session:
        changed = contacts.edit(
            session,
            contact,
            name=name,
            account=account,
            email=email,
            phone=phone,
            title=title,
            notes=notes,
        )
    output_for(ctx).line(
        f"contact {contact}: " + (", ".join(changed) + " changed" if changed else "no change")
    )


@contact_app.command("list")
def contact_list(
    ctx: typer.Context,
    account: Annotated[
        str | None,
        typer.Option("--account", "-a", help="Only this account's contacts: number (#3) or name."),
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Text in name, e-mail, title, account.")
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", help="Only contacts holding this role on a deal.")
    ] = None,
    fmt: FormatOption = None,
    show_all: AllOption = False,
    quiet: QuietOption = False,
) -> None:
    """List contacts with their deals and roles.

    Example: dealctl contact list --account サンプル --role decision-maker
    """
    from dealctl import contacts, stakeholders

    with reading(ctx) as session:
        key = stakeholders.role_key(session.config, role) if role is not None else None
        rows = contacts.list_contacts(session, account=account, search=search, role=key)
    emit_rows(
        ctx,
        fmt,
        CONTACT_COLUMNS,
        rows,
        CONTACT_TABLE,
        empty="no contacts",
        show_all=show_all,
        quiet=quiet,
    )


@contact_app.command("show")
def contact_show(
    ctx: typer.Context,
    contact: ContactArg,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="text or json.")] = None,
) -> None:
    """Show a contact and their roles on deals.

    Example: dealctl contact show yamada@sample.co.jp
    """
    from dealctl import contacts, stakeholders

    if fmt not in (None, "text", "json"):
        raise InvalidInput(f"unknown format {fmt!r} for contact show: use text or json")
    with reading(ctx) as session:
        row = contacts.resolve(session.store, contact)
        card: dict[str, Any] = {
            key: row[key]
            for key in (
                "number", "id", "name", "account", "account_number", "email", "phone",
                "title", "notes", "created_at", "updated_at",
            )
        }  # fmt: skip
        card["deals"] = stakeholders.deals_of_contact(session, row["id"])
    out = output_for(ctx)
    if fmt == "json":
        out.json(card)
        return
    _print_card(out, card)


def _print_card(out: Output, card: dict[str, Any]) -> None:
    account = f"{card['account']} (#{card['account_number']})" if card["account"] else None
    for label, value in (
        ("Contact", f"#{card['number']} {card['name']}"),
        ("Account", account),
        ("Title", card["title"]),
        ("E-mail", card["email"]),
        ("Phone", card["phone"]),
        ("Notes", card["notes"]),
        ("Id", card["id"]),
    ):
        if value:
            out.line(f"{label:<12}{value}")
    out.line()
    out.line("Deals" if card["deals"] else "Deals: none")
    for deal in card["deals"]:
        roles = [r["role_name"] for r in deal["roles"]]
        if deal["main_contact"]:
            roles.append("main contact")
        out.line(
            f"  #{deal['number']} {deal['title']} · {deal['stage']} · {deal['status']}"
            f" · {', '.join(roles)}"
        )
