"""Open deals' next actions as an iCalendar (RFC 5545) file, for a phone or desktop calendar.

One event per open deal that has a next action with a due date. Its UID is derived from
the deal's UUID, so importing a newer file again updates the event instead of adding a
second one; SEQUENCE counts the recorded changes to the action, its date and the deal's
title, so calendars that compare revisions take the newer one. A due date is an all-day
event; a due moment is a timed event at that instant (written in UTC, the form every
calendar reads the same way). ``icalendar`` is imported only here, inside the function.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dealctl import __version__, dates
from dealctl.session import Session

UID_DOMAIN = "dealctl"
# How long a timed next action lasts in the calendar (the book stores only its start).
TIMED_EVENT = timedelta(minutes=30)


def event_uid(deal_id: str) -> str:
    """The event id of a deal's next action: stable for the deal's whole life."""
    return f"{deal_id}@{UID_DOMAIN}"


def next_actions(session: Session, owner: str | None = None) -> list[dict[str, Any]]:
    """Open deals with a dated next action (of ``owner``), in due order, with ``sequence``."""
    from dealctl import analytics

    where = "d.next_action IS NOT NULL AND d.next_due IS NOT NULL"
    params: list[Any] = []
    if owner:
        where += " AND d.owner = ?"
        params.append(owner)
    rows = analytics.open_deals(session, where, params)
    revisions = {
        row["entity_id"]: row["n"]
        for row in session.store.query(
            "SELECT entity_id, COUNT(*) AS n FROM changes WHERE entity = 'deal'"
            " AND field IN ('next_action', 'next_due', 'title') GROUP BY entity_id"
        )
    }
    for row in rows:
        row["sequence"] = revisions.get(row["id"], 0)
    return sorted(rows, key=lambda r: (r["next_due"], r["number"]))


def calendar_bytes(deals: Iterable[dict[str, Any]], *, zone_name: str) -> bytes:
    """The iCalendar file (UTF-8, CRLF line ends, long lines folded) for ``deals``."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", f"-//dealctl//dealctl {__version__}//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "dealctl next actions")
    calendar.add("x-wr-timezone", zone_name)
    for deal in deals:
        event = Event()
        event.add("uid", event_uid(deal["id"]))
        event.add("sequence", deal["sequence"])
        # DTSTAMP: when this event's information last changed, so the file is reproducible.
        updated = _utc(deal, "updated_at")
        event.add("dtstamp", updated)
        event.add("created", _utc(deal, "created_at"))
        event.add("last-modified", updated)
        event.add("summary", f"{deal['next_action']} — {deal['title']} #{deal['number']}")
        event.add("description", _description(deal))
        event.add("categories", ["dealctl"])
        due = deal["next_due"]
        if len(due) == 10:
            day = date.fromisoformat(due)
            event.add("dtstart", day)
            event.add("dtend", day + timedelta(days=1))
            event.add("transp", "TRANSPARENT")
        else:
            start = datetime.fromisoformat(due).astimezone(UTC)
            event.add("dtstart", start)
            event.add("dtend", start + TIMED_EVENT)
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def _utc(deal: dict[str, Any], field: str) -> datetime:
    return dates.stored_moment(deal[field], deal["number"], field).astimezone(UTC)


def _description(deal: dict[str, Any]) -> str:
    from dealctl.money import format_amount

    lines = [f"Deal {deal['number']}: {deal['title']}"]
    if deal.get("account"):
        lines.append(f"Account: {deal['account']}")
    lines.append(f"Stage: {deal['stage_name']}")
    if deal.get("amount") is not None:
        lines.append(
            f"Amount: {format_amount(deal['amount'], deal['currency'])} {deal['currency']}"
        )
    if deal.get("owner"):
        lines.append(f"Owner: {deal['owner']}")
    lines.append(f"dealctl show {deal['number']}")
    return "\n".join(lines)
