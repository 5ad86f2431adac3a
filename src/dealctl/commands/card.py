"""The buying-committee part of a deal card (``dealctl show``): stakeholders with their
roles, the BANT qualification with its score, and the approval route."""

from __future__ import annotations

from typing import Any

from dealctl.commands.rows import money
from dealctl.render import Output
from dealctl.session import Session

_LABEL = 12
_COMMITTEE_KEYS = (
    "contact", "name", "account", "job_title", "email", "phone", "role", "role_name", "notes",
)  # fmt: skip


def extras(session: Session, deal: Any) -> dict[str, Any]:
    """What ``show`` adds to a deal: ``stakeholders``, ``decision_maker_missing``,
    ``qualification`` and ``route`` (the keys of ``show --format json``)."""
    from dealctl import approval, qualification, stakeholders

    committee = [
        {k: r[k] for k in _COMMITTEE_KEYS} for r in stakeholders.listing(session, deal["id"])
    ]
    return {
        "stakeholders": committee,
        "decision_maker_missing": stakeholders.needs_decision_maker(session, deal),
        "qualification": qualification.of_deal(session, deal),
        "route": approval.route_of(session, deal["id"]),
    }


def bant_lines(bant: dict[str, Any]) -> list[tuple[str, str]]:
    """Label and text of each BANT line, the score first."""
    missing = bant["missing"]
    score = f"{bant['score']}/4" + (f" · missing {', '.join(missing)}" if missing else "")
    lines = [("BANT", score)]
    if bant["budget_status"] == "known":
        lines.append(("Budget", money(bant["budget"], bant["budget_currency"])))
    elif bant["budget_status"] == "unknown":
        lines.append(("Budget", "unknown (asked)"))
    who = bant["authority_contact"] or bant["authority"]
    if who or bant["decision_makers"]:
        deciders = ", ".join(f"#{d}" for d in bant["decision_makers"])
        text = who or ""
        if deciders:
            text = (
                f"{text} · {bant['decision_role']} {deciders}"
                if text
                else (f"{bant['decision_role']} {deciders}")
            )
        lines.append(("Authority", text))
    if bant["need"]:
        lines.append(("Need", bant["need"]))
    if bant["timing"]:
        lines.append(("Timing", bant["timing"]))
    return lines


def route_line(route: dict[str, Any]) -> str:
    """The route in one line, the current step in brackets: where the deal is on it."""
    parts = []
    for step in route["steps"]:
        if step["status"] == "done":
            parts.append(f"{step['name']} ✓{step['done_on']}")
        elif step["status"] == "current":
            parts.append(f"[{step['name']}]")
        else:
            parts.append(step["name"])
    state = "complete" if route["complete"] else f"{route['done']}/{route['total']} done"
    return " → ".join(parts) + f" · {state}"


def print_extras(out: Output, extras: dict[str, Any]) -> None:
    """The committee, BANT and route lines of a deal card."""
    people: dict[int, dict[str, Any]] = {}
    for row in extras["stakeholders"]:
        person = people.setdefault(row["contact"], {**row, "roles": []})
        person["roles"].append(row["role_name"])
    label = "Committee"
    for number, person in people.items():
        title = f" ({person['job_title']})" if person["job_title"] else ""
        roles = ", ".join(person["roles"])
        out.line(f"{label:<{_LABEL}}#{number} {person['name']}{title}: {roles}")
        label = ""
    if extras["decision_maker_missing"]:
        role = extras["qualification"]["decision_role"]
        label = "" if people else "Committee"
        out.line(f"{label:<{_LABEL}}! no decision maker ({role}) recorded")
    for name, text in bant_lines(extras["qualification"]):
        out.line(f"{name:<{_LABEL}}{text}")
    if extras["route"]["steps"]:
        out.line(f"{'Route':<{_LABEL}}{route_line(extras['route'])}")
