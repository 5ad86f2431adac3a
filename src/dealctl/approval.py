"""The approval route (稟議) of a deal: an ordered list of steps, each checked off with a date.

Steps are approved in order, so the done steps are always the first ones: checking a
step needs every step before it done (and its date on or after theirs), unchecking a
step needs every step after it open. Where the deal is on its route is the first step
not done. A route is typed step by step or copied from a template in the config
(``[routes]``: name = list of steps).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from dealctl import dates, records
from dealctl.config import Config
from dealctl.deals import DEAL_VIEW, checked_text, resolve
from dealctl.errors import InvalidInput, NotFound, StateError
from dealctl.session import Session
from dealctl.storage import new_id
from dealctl.text import norm


def templates(config: Config) -> dict[str, list[str]]:
    """The configured route templates, name -> steps (checked when the config was loaded)."""
    return config.routes


def steps(session: Session, deal_id: str) -> list[sqlite3.Row]:
    """A deal's live steps, in route order."""
    return session.store.query(
        "SELECT * FROM approval_steps WHERE deal_id = ? AND deleted_at IS NULL"
        " ORDER BY position, id",
        (deal_id,),
    )


def progress(rows: list[Any]) -> dict[str, Any]:
    """Where a deal is on its route: steps done, the total, the current (first open) step."""
    done = [r for r in rows if r["done_on"]]
    current = next((r for r in rows if not r["done_on"]), None)
    return {
        "done": len(done),
        "total": len(rows),
        "current": current["name"] if current is not None else None,
        "current_position": current["position"] if current is not None else None,
        "complete": bool(rows) and current is None,
        "last_done_on": max((r["done_on"] for r in done), default=None),
    }


def route_of(session: Session, deal_id: str) -> dict[str, Any]:
    """A deal's route for its card and for JSON: the steps with their state, and progress."""
    rows = steps(session, deal_id)
    info = progress(rows)
    return {
        **info,
        "steps": [
            {
                "position": r["position"],
                "name": r["name"],
                "status": _status(r, info),
                "done_on": r["done_on"],
                "note": r["note"],
            }
            for r in rows
        ],
    }


def _status(row: Any, info: Mapping[str, Any]) -> str:
    if row["done_on"]:
        return "done"
    return "current" if row["position"] == info["current_position"] else "pending"


def _names(names: list[str]) -> list[str]:
    cleaned = [checked_text(n, "the step") for n in names]
    if not cleaned or not all(cleaned):
        raise InvalidInput("a route needs steps, each with a name")
    seen: set[str] = set()
    for name in cleaned:
        if norm(name) in seen:
            raise InvalidInput(f"step {name!r} appears twice: give each step once")
        seen.add(norm(name))
    return cleaned


def _insert(session: Session, deal: sqlite3.Row, position: int, name: str) -> None:
    records.insert(
        session,
        "approval_steps",
        {
            "id": new_id(),
            "deal_id": deal["id"],
            "position": position,
            "name": name,
            "done_on": None,
            "note": None,
            "created_at": session.stamp,
            "updated_at": session.stamp,
            "command_id": session.store.command_id,
        },
        f"#{deal['number']} {position}. {name}",
    )


def set_route(
    session: Session,
    ref: str,
    names: list[str],
    *,
    template: str | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Give a deal its route, typed or copied from a template; returns the route.

    A deal that has a route keeps it unless ``replace``: then the old steps (and their
    dates) are deleted, as the change log records.
    """
    if template is not None and names:
        raise InvalidInput("give the steps or --template, not both")
    if template is not None:
        known = templates(session.config)
        wanted = norm(template)
        key = next((k for k in known if norm(k) == wanted), None)
        if key is None:
            listed = ", ".join(known) or "none configured"
            raise InvalidInput(f"unknown route template {template!r}: use one of {listed}")
        names = known[key]
    names = _names(names)
    deal = resolve(session.store, ref)
    existing = steps(session, deal["id"])
    if existing and not replace:
        info = progress(existing)
        raise StateError(
            f"deal {deal['number']} has a route already ({info['done']} of {info['total']}"
            " done): pass --replace to set a new one"
        )
    for row in existing:
        records.soft_delete(session, "approval_steps", row)
    for position, name in enumerate(names, start=1):
        _insert(session, deal, position, name)
    return route_of(session, deal["id"])


def _find(rows: list[sqlite3.Row], ref: str, deal: sqlite3.Row) -> sqlite3.Row:
    """A step by its position (``2``) or its name."""
    text = ref.strip()
    for row in rows:
        if (text.isdecimal() and int(text) == row["position"]) or norm(text) == norm(row["name"]):
            return row
    listed = " → ".join(f"{r['position']}. {r['name']}" for r in rows) or "no route"
    raise NotFound(f"no step {ref!r} on deal {deal['number']} ({listed})")


def _renumber(session: Session, rows: list[Any]) -> None:
    for position, row in enumerate(rows, start=1):
        records.update(session, "approval_steps", row, {"position": position})


def add_step(session: Session, ref: str, name: str, before: str | None = None) -> dict[str, Any]:
    """Add a step at the end of the route, or before a step not yet done; returns the route."""
    name = _names([name])[0]
    deal = resolve(session.store, ref)
    rows = steps(session, deal["id"])
    if any(norm(r["name"]) == norm(name) for r in rows):
        raise InvalidInput(f"deal {deal['number']} has a step {name!r} already")
    if before is None:
        position = len(rows) + 1
    else:
        target = _find(rows, before, deal)
        if target["done_on"]:
            raise StateError(
                f"step {target['position']}. {target['name']} is done already: steps go in"
                " order, so add new ones after the steps done"
            )
        position = target["position"]
    for row in rows:  # the steps after the new one move down a place
        if row["position"] >= position:
            records.update(session, "approval_steps", row, {"position": row["position"] + 1})
    _insert(session, deal, position, name)
    return route_of(session, deal["id"])


def remove_step(
    session: Session, ref: str, step: str | None, *, every: bool = False
) -> tuple[int, dict[str, Any]]:
    """Remove one step (the others close up) or, with ``every``, the whole route.

    Returns how many steps went, and the route left.
    """
    deal = resolve(session.store, ref)
    rows = steps(session, deal["id"])
    if not rows:
        raise NotFound(f"deal {deal['number']} has no route")
    if every == (step is not None):
        raise InvalidInput("give one step to remove, or --all")
    gone = rows if every else [_find(rows, step or "", deal)]
    for row in gone:
        records.soft_delete(session, "approval_steps", row)
    _renumber(session, steps(session, deal["id"]))
    return len(gone), route_of(session, deal["id"])


def check(
    session: Session,
    ref: str,
    step: str | None = None,
    *,
    on: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Check off the current step (or the one named, which must be the current one)."""
    deal = resolve(session.store, ref)
    rows = steps(session, deal["id"])
    if not rows:
        raise NotFound(f"deal {deal['number']} has no route: dealctl route set {deal['number']}")
    info = progress(rows)
    if info["complete"]:
        raise StateError(f"deal {deal['number']}'s route is complete")
    current = next(r for r in rows if not r["done_on"])
    if step is not None:
        wanted = _find(rows, step, deal)
        if wanted["done_on"]:
            raise StateError(
                f"step {wanted['position']}. {wanted['name']} was done on {wanted['done_on']}:"
                " uncheck it first to change it"
            )
        if wanted["id"] != current["id"]:
            raise StateError(
                f"step {current['position']}. {current['name']} comes first: steps are"
                " approved in order"
            )
    day = (
        dates.parse_date(on, session.today, what="date", order=session.config.date_order)
        if on
        else session.today
    )
    if day > session.today:
        raise InvalidInput(f"date {on!r} is in the future: check a step off once it is done")
    earlier = info["last_done_on"]
    field = "approval step done_on"
    if earlier is not None and day < dates.stored_day(earlier, deal["number"], field):
        raise InvalidInput(
            f"{day.isoformat()} is before the previous step's date {earlier}: steps are"
            " approved in order"
        )
    values: dict[str, Any] = {"done_on": day.isoformat()}
    if note is not None:
        values["note"] = checked_text(note, "the note") or None
    records.update(session, "approval_steps", current, values)
    return route_of(session, deal["id"])


def uncheck(session: Session, ref: str, step: str | None = None) -> dict[str, Any]:
    """Reopen the last step done (or the one named, which must be the last one done)."""
    deal = resolve(session.store, ref)
    rows = steps(session, deal["id"])
    done = [r for r in rows if r["done_on"]]
    if not done:
        raise StateError(f"deal {deal['number']} has no step done")
    last = done[-1]
    if step is not None:
        wanted = _find(rows, step, deal)
        if not wanted["done_on"]:
            raise StateError(f"step {wanted['position']}. {wanted['name']} is not done")
        if wanted["id"] != last["id"]:
            raise StateError(
                f"step {last['position']}. {last['name']} is done after it: uncheck that first"
            )
    records.update(session, "approval_steps", last, {"done_on": None})
    return route_of(session, deal["id"])


def routes(session: Session) -> list[dict[str, Any]]:
    """Every deal with a route, by number: where it is, steps done and the total."""
    rows = session.store.query(
        "SELECT v.number, v.id, v.title, v.account, v.stage, v.status, s.position, s.name,"
        " s.done_on FROM approval_steps s JOIN (" + DEAL_VIEW + ") v ON v.id = s.deal_id"
        " WHERE s.deleted_at IS NULL ORDER BY v.number, s.position, s.id"
    )
    out: dict[str, dict[str, Any]] = {}
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row["id"], []).append(row)
        out.setdefault(
            row["id"],
            {k: row[k] for k in ("number", "id", "title", "account", "stage", "status")},
        )
    for deal_id, deal_steps in grouped.items():
        info = progress(deal_steps)
        out[deal_id].update(
            done=info["done"],
            total=info["total"],
            current=info["current"],
            last_done_on=info["last_done_on"],
        )
    return list(out.values())
