"""What the parser hands back: plain, frozen values the calendars services store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


class InvalidCalendar(ValueError):
    """The body is not iCalendar at all (HTML, empty, garbage, truncated, no VCALENDAR)."""

    reason = "invalid_ics"


@dataclass(frozen=True)
class ParsedEvent:
    """One event or one recurrence occurrence, normalised.

    Timed events: ``start``/``end`` are aware UTC datetimes. All-day events: dates, ``end``
    exclusive (the checkout day).
    """

    uid: str
    start: date | datetime
    end: date | datetime
    all_day: bool
    summary: str
    description: str
    status: str  # "confirmed" | "pending" | "cancelled"
    blocking: bool
    kind: str  # "reservation" | "block"
    sequence: int
    dtstamp: datetime | None


@dataclass
class ParsedFeed:
    """A parsed feed: its events, the VEVENTs skipped and why, and whether the cap was hit."""

    events: list[ParsedEvent] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (uid or "?", reason)
    calendar_name: str = ""
    truncated: bool = False
