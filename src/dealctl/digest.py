"""The daily digest: one message for the day, built from the analytics reports.

A digest is a list of sections (overdue, due today, due soon, waiting for a first
response, no next action, stale, past expected close, ...) and a headline with the
counts and the open weighted pipeline. Every section comes from a report in
:mod:`dealctl.analytics` (or :mod:`dealctl.stakeholders`); this module only chooses,
orders and words them. It renders plain text, Markdown and a JSON document; the
command decides where they go. Definitions are in ``docs/analytics.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dealctl import analytics, dates, stakeholders
from dealctl.config import Config
from dealctl.errors import InvalidInput
from dealctl.money import format_amount
from dealctl.session import Session
from dealctl.text import counted

FORMATS = ("text", "markdown", "json")
FAIL_ON = ("overdue", "due", "any")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Section keys in the order a digest shows them: what needs doing now first.
SECTION_KEYS = (
    "overdue",
    "today",
    "upcoming",
    "first_response",
    "no_next_action",
    "stale",
    "slipped",
    "no_decision_maker",
    "revisit",
)
# The keys of every deal in a JSON digest: the `list` columns, then two of the digest's own.
DEAL_KEYS = (
    "number",
    "id",
    "title",
    "account",
    "contact",
    "pipeline",
    "stage",
    "stage_name",
    "status",
    "amount",
    "currency",
    "probability",
    "close_date",
    "next_action",
    "next_due",
    "days_overdue",
    "owner",
    "tags",
    "source",
    "lost_reason",
    "created_at",
    "updated_at",
    "last_contact_at",
    "idle_days",
    "note",
)

Deal = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    """The digest's settings in force: ``digest.days`` and ``sla.first_response_hours``."""

    days: int
    first_response_hours: int


def settings(config: Config) -> Settings:
    """The digest settings in force (checked when the configuration was loaded)."""
    return Settings(days=config.digest_days, first_response_hours=config.first_response_hours)


@dataclass
class Section:
    """One part of the digest: its key, its heading and its deals, in order."""

    key: str
    title: str
    label: str  # how the headline counts it: "3 overdue"
    deals: list[Deal] = field(default_factory=list)


@dataclass
class Digest:
    """Everything one digest says, whatever the format."""

    today: date
    now: datetime
    zone: str
    owner: str | None
    days: int
    first_response_hours: int
    open_deals: int
    weighted: dict[str, int]
    sections: list[Section]

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)

    def count(self, key: str) -> int:
        found = self.section(key)
        return 0 if found is None else len(found.deals)

    @property
    def shown(self) -> list[Section]:
        """The sections with deals in them: empty sections are left out of text and Markdown."""
        return [s for s in self.sections if s.deals]

    def fails(self, on: str | None) -> bool:
        """Whether ``--fail-on`` ``on`` should make the exit status 1.

        ``overdue``: the Overdue section has deals. ``due``: Overdue or Due today has deals.
        ``any``: any section has deals.
        """
        if on is None:
            return False
        if on == "overdue":
            return self.count("overdue") > 0
        if on == "due":
            return self.count("overdue") + self.count("today") > 0
        return bool(self.shown)


def check_options(fmt: str, fail_on: str | None) -> None:
    """Refuse an unknown format or --fail-on value (exit status 2) before any work."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fail_on is not None and fail_on not in FAIL_ON:
        raise InvalidInput(f"unknown --fail-on {fail_on!r}: use one of {', '.join(FAIL_ON)}")


def set_today(session: Session, text: str) -> None:
    """Make the session's day ``text`` (any date form), keeping the clock's time of day."""
    day = dates.parse_date(
        text, session.today, what="--today date", order=session.config.date_order
    )
    session.now = datetime.combine(day, session.now.timetz())


def build(session: Session, *, owner: str | None = None, days: int | None = None) -> Digest:
    """The digest for the session's day in its zone, for ``owner`` (everyone when None)."""
    config = settings(session.config)
    days = config.days if days is None else days
    if days < 0:
        raise InvalidInput(f"invalid --days {days}: use 0 or more")
    today = session.today
    owner = owner.strip() if owner else None
    where, params = ("d.owner = ?", [owner]) if owner else ("", [])
    open_rows = analytics.open_deals(session, where, params)
    by_id = {row["id"]: row for row in open_rows}

    listing = analytics.due(session, only=None, within=days, owner=owner)
    listed = list(listing.due)
    overdue = [d for d in listed if d["days_overdue"] > 0]
    due_today = [d for d in listed if d["days_overdue"] == 0]
    upcoming = [d for d in listed if d["days_overdue"] < 0]

    zone = session.zone
    plural = "" if days == 1 else f" {days}"
    sections = [
        _section("overdue", "Overdue", "overdue", overdue, by_id, lambda d: _overdue(d, zone)),
        _section("today", "Due today", "due today", due_today, by_id, lambda d: _today(d, zone)),
        _section(
            "upcoming",
            f"Due in the next{plural} day{'s' if days != 1 else ''}",
            f"due in the next{plural} day{'s' if days != 1 else ''}",
            upcoming,
            by_id,
            lambda d: _upcoming(d, zone),
        ),
        _section(
            "first_response",
            f"No first response within {config.first_response_hours} h",
            "waiting for a first response",
            first_response(session, config.first_response_hours, where, params),
            by_id,
            lambda d: f"added {counted(d['waiting_hours'], 'hour')} ago, nothing logged since",
        ),
        _section(
            "no_next_action",
            "No next action",
            "without a next action",
            list(listing.missing(None)),
            by_id,
            lambda d: "no next action" if not d["next_action"] else "next action has no date",
        ),
        _section(
            "stale",
            "Stale",
            "stale",
            analytics.stale_among(open_rows),
            by_id,
            lambda d: f"idle {counted(d['idle_days'], 'day')} (stage limit {d['rot_days']})",
        ),
        _section(
            "slipped",
            "Past expected close",
            "past expected close",
            analytics.slipped_among(open_rows),
            by_id,
            lambda d: (
                f"expected close {d['close_date']},"
                f" {counted((today - _close_day(d)).days, 'day')} ago"
            ),
        ),
    ]
    sections.append(
        _section(
            "no_decision_maker",
            "No decision maker",
            "without a decision maker",
            stakeholders.missing_decision_maker(session, owner=owner),
            by_id,
            lambda d: "no decision maker among the deal's contacts",
        )
    )
    sections.extend(_optional_sections(session, owner, by_id))
    return Digest(
        today=today,
        now=session.now,
        zone=getattr(zone, "key", None) or str(zone),
        owner=owner,
        days=days,
        first_response_hours=config.first_response_hours,
        open_deals=len(open_rows),
        weighted=analytics.weighted_totals(open_rows),
        sections=sections,
    )


def first_response(
    session: Session, hours: int, where: str = "", params: list[Any] | None = None
) -> list[Deal]:
    """Open deals added more than ``hours`` ago with no activity at all since.

    No activity: no follow-up logged, no last-contact time and no stage move after the
    deal was created. ``hours`` 0 turns the check off. Longest waiting first; each deal
    carries ``waiting_hours`` (whole hours since it was added).
    """
    if hours <= 0:
        return []
    quiet = (
        "d.last_contact_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM activities a"
        " WHERE a.deal_id = d.id AND a.deleted_at IS NULL)"
        " AND NOT EXISTS (SELECT 1 FROM stage_changes sc"
        " WHERE sc.deal_id = d.id AND sc.deleted_at IS NULL AND sc.from_status IS NOT NULL)"
    )
    rows = analytics.open_deals(session, f"{quiet} AND ({where})" if where else quiet, params or [])
    waiting = []
    for row in rows:
        waited = session.now - dates.stored_moment(row["created_at"], row["number"], "created_at")
        if waited >= timedelta(hours=hours):
            waiting.append({**row, "waiting_hours": int(waited.total_seconds() // 3600)})
    return sorted(waiting, key=lambda d: (-d["waiting_hours"], d["number"]))


def _optional_sections(
    session: Session, owner: str | None, by_id: dict[str, Deal]
) -> list[Section]:
    """Sections from reports a build may not have yet: each appears when its report does."""
    revisit: Callable[..., list[Deal]] | None = getattr(analytics, "revisit", None)
    if revisit is None:
        return []
    return [
        _section(
            "revisit",
            "Lost deals to revisit",
            "lost to revisit",
            revisit(session, owner=owner),
            by_id,
            _revisit_note,
        )
    ]


def _section(
    key: str,
    title: str,
    label: str,
    rows: list[Deal],
    by_id: dict[str, Deal],
    note: Callable[[Deal], str],
) -> Section:
    deals = []
    for row in rows:
        known = by_id.get(row["id"], {})
        idle = row.get("idle_days", known.get("idle_days"))
        deal = {k: row.get(k) for k in DEAL_KEYS[:-2]}
        deal["idle_days"] = idle
        deal["note"] = note({**known, **row, "idle_days": idle})
        deals.append(deal)
    return Section(key, title, label, deals)


def _revisit_note(deal: Deal) -> str:
    reason = deal.get("lost_reason_name") or deal.get("lost_reason")
    lost = f"lost {deal['lost_on']}" if deal.get("lost_on") else "lost"
    note = f"{lost} ({reason})" if reason else lost
    return f"{note}, to revisit since {deal['revisit_on']}" if deal.get("revisit_on") else note


def _close_day(deal: Deal) -> date:
    return dates.stored_day(deal["close_date"], deal["number"], "close_date")


def _due_parts(deal: Deal, zone: Any) -> tuple[date, str]:
    """The due date in the zone, and the local time of day when one was given ('' if not)."""
    value = deal["next_due"]
    day = dates.stored_due_date(value, zone, deal["number"])
    if len(value) == 10:
        return day, ""
    moment = datetime.fromisoformat(value)
    local = moment.astimezone(zone) if moment.tzinfo else moment
    return day, local.strftime("%H:%M")


def _day_name(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.isoformat()}"


def _due_on(deal: Deal, zone: Any) -> str:
    day, clock = _due_parts(deal, zone)
    return f"{_day_name(day)} {clock}" if clock else _day_name(day)


def _overdue(deal: Deal, zone: Any) -> str:
    return f"{counted(deal['days_overdue'], 'day')} overdue (due {_due_on(deal, zone)})"


def _today(deal: Deal, zone: Any) -> str:
    _, clock = _due_parts(deal, zone)
    return f"due today at {clock}" if clock else "due today"


def _upcoming(deal: Deal, zone: Any) -> str:
    return f"due {_due_on(deal, zone)}"


# --- rendering ------------------------------------------------------------------------------


def _money(amount: int, currency: str) -> str:
    return f"{format_amount(amount, currency)} {currency}"


def headline(digest: Digest) -> list[str]:
    """Three lines: the day, the counts (or that the day is clear), the open pipeline."""
    first = f"Digest for {_day_name(digest.today)} ({digest.zone})"
    if digest.owner:
        first += f", owner {digest.owner}"
    counts = [f"{len(s.deals)} {s.label}" for s in digest.shown]
    second = ", ".join(counts) if counts else "Nothing due, overdue or waiting: a clear day."
    if digest.open_deals:
        totals = ", ".join(_money(v, c) for c, v in digest.weighted.items())
        deals = "1 deal" if digest.open_deals == 1 else f"{digest.open_deals} deals"
        third = f"Open pipeline: {deals}, weighted {totals}"
    else:
        third = "Open pipeline: no open deals"
    return [first, second, third]


def _plain(text: Any) -> str:
    """User text on one line: control characters (imported data may hold them) become spaces."""
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in str(text))


def deal_line(deal: Deal, key: str, escape: Callable[[str], str] = _plain) -> str:
    """One deal on one line: number, title, account, stage, amount, next action, why listed."""
    parts = [f"#{deal['number']} {escape(deal['title'])}"]
    if deal["account"]:
        parts[0] += f" ({escape(deal['account'])})"
    parts.append(escape(deal["stage_name"]))
    if deal["amount"] is not None:
        parts.append(_money(deal["amount"], deal["currency"]))
    if deal["next_action"] and key != "no_next_action":
        parts.append(f"next: {escape(deal['next_action'])}")
    parts.append(deal["note"])
    return " · ".join(parts)


def text_lines(digest: Digest, *, terminal: bool = False) -> Iterator[tuple[str, str]]:
    """The text digest as (style, line) pairs; style is '' or 'bold'.

    Plain enough for an e-mail: no escape codes here, and box drawing (a rule under the
    first line) only when ``terminal`` says the reader is a terminal.
    """
    lines = headline(digest)
    yield "bold", lines[0]
    if terminal:
        from dealctl.text import display_width

        yield "", "─" * display_width(lines[0])
    yield "", lines[1]
    yield "", lines[2]
    for section in digest.shown:
        yield "", ""
        yield "bold", f"{section.title} ({len(section.deals)})"
        for deal in section.deals:
            yield "", "  " + deal_line(deal, section.key)


_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~"})


def _markdown_text(text: Any) -> str:
    return _plain(text).translate(_MARKDOWN_SPECIAL)


def markdown(digest: Digest) -> str:
    """The digest as Markdown: a heading per section, a list item per deal."""
    lines = headline(digest)
    out = [f"# {_markdown_text(lines[0])}", "", _markdown_text(lines[1]) + "  ", lines[2]]
    for section in digest.shown:
        out += ["", f"## {_markdown_text(section.title)} ({len(section.deals)})", ""]
        out += [f"- {deal_line(d, section.key, _markdown_text)}" for d in section.deals]
    return "\n".join(out) + "\n"


def as_json(digest: Digest) -> dict[str, Any]:
    """The digest as one JSON document (keys documented in docs/output.md).

    Every section the build knows is present, empty ones as ``[]``, so scripts can rely
    on ``.sections.overdue`` existing.
    """
    return {
        "date": digest.today.isoformat(),
        "generated_at": dates.iso_now(digest.now),
        "timezone": digest.zone,
        "owner": digest.owner,
        "days": digest.days,
        "first_response_hours": digest.first_response_hours,
        "open_deals": digest.open_deals,
        "weighted_pipeline": digest.weighted,
        "counts": {s.key: len(s.deals) for s in digest.sections},
        "sections": {s.key: s.deals for s in digest.sections},
    }
