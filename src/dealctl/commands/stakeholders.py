"""`dealctl stakeholder`: the buying committee of a deal — who holds which role."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dealctl.cli import AllOption, DealArg, FormatOption, app, output_for, reading, writing
from dealctl.commands.rows import emit_rows
from dealctl.render import Column
from dealctl.session import Session

stakeholder_app = typer.Typer(
    help="The buying committee: contacts on a deal with their roles.", no_args_is_help=True
)
app.add_typer(stakeholder_app, name="stakeholder")

ContactArg = Annotated[
    str,
    typer.Argument(
        help="Contact number (#5), e-mail or name (a new name is added as a contact).",
        show_default=False,
    ),
]

STAKEHOLDER_COLUMNS = [
    Column("deal", "Deal", justify="right"),
    Column("deal_title", "Deal title"),
    Column("contact", "#", justify="right"),
    Column("name", "Name"),
    Column("account", "Account"),
    Column("job_title", "Title"),
    Column("email", "E-mail"),
    Column("phone", "Phone"),
    Column("role", "Role key"),
    Column("role_name", "Role"),
    Column("notes", "Notes"),
    Column("added_at", "Added"),
]
STAKEHOLDER_TABLE = ("deal", "deal_title", "contact", "name", "account", "job_title", "role_name")


def _warn_if_flagged(session: Session, deal_ref: str) -> None:
    from dealctl import stakeholders
    from dealctl.deals import resolve

    deal = resolve(session.store, deal_ref)
    if stakeholders.needs_decision_maker(session, deal):
        role = stakeholders.role_name(session.config, stakeholders.decision_role(session.config))
        sys.stderr.write(
            f"dealctl: warning: deal {deal['number']} is at {deal['stage']} with no"
            f" decision maker ({role}) recorded\n"
        )


@stakeholder_app.command("add")
def stakeholder_add(
    ctx: typer.Context,
    deal: DealArg,
    contact: ContactArg,
    role: Annotated[
        list[str],
        typer.Option("--role", "-r", help="Role (repeatable): key or display name."),
    ],
    note: Annotated[str | None, typer.Option("--note", help="Note on their part.")] = None,
) -> None:
    """Put a contact on a deal's committee.

    Roles (configurable, dealctl config get stakeholders.roles): information-gatherer,
    key-person, decision-maker, approver, influencer, user. One contact may hold
    several roles, and different roles on different deals.
    Example: dealctl stakeholder add 12 山田太郎 --role decision-maker
    """
    from dealctl import stakeholders

    with writing(ctx) as session:
        result = stakeholders.add(session, deal, contact, role, note)
    new = " (new)" if result["created_contact"] else ""
    out = output_for(ctx)
    if result["added"]:
        out.line(
            f"deal {result['deal']}: contact {result['contact']}{new} added as"
            f" {', '.join(result['added'])}"
        )
    if result["already"]:
        out.line(
            f"deal {result['deal']}: contact {result['contact']} is already"
            f" {', '.join(result['already'])}"
        )


@stakeholder_app.command("remove")
def stakeholder_remove(
    ctx: typer.Context,
    deal: DealArg,
    contact: Annotated[
        str, typer.Argument(help="Contact number (#5), e-mail or name.", show_default=False)
    ],
    role: Annotated[
        str | None, typer.Option("--role", "-r", help="Only this role (default: every role).")
    ] = None,
) -> None:
    """Take a contact off a deal's committee.

    One role with --role, otherwise every role they hold on the deal.

    Example: dealctl stakeholder remove 12 山田太郎 --role approver
    """
    from dealctl import stakeholders

    with writing(ctx) as session:
        removed = stakeholders.remove(session, deal, contact, role)
        _warn_if_flagged(session, deal)
    output_for(ctx).line(f"deal {deal}: {contact} removed ({', '.join(removed)})")


@stakeholder_app.command("list")
def stakeholder_list(
    ctx: typer.Context,
    deal: Annotated[
        str | None, typer.Argument(help="Deal number or id (default: every deal).")
    ] = None,
    role: Annotated[str | None, typer.Option("--role", "-r", help="Only this role.")] = None,
    contact: Annotated[
        str | None, typer.Option("--contact", help="Only this contact's roles.")
    ] = None,
    fmt: FormatOption = None,
    show_all: AllOption = False,
) -> None:
    """List the buying committee of deals.

    One row per contact and role, by deal.

    With a deal at or past the configured stage (default: proposal) and no decision
    maker, a warning says so on stderr.
    Example: dealctl stakeholder list 12
    """
    from dealctl import stakeholders

    with reading(ctx) as session:
        rows = stakeholders.listing(session, deal, role=role, contact_ref=contact)
        if deal is not None:
            _warn_if_flagged(session, deal)
    emit_rows(
        ctx,
        fmt,
        STAKEHOLDER_COLUMNS,
        rows,
        STAKEHOLDER_TABLE,
        empty="no stakeholders",
        show_all=show_all,
    )
