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
    # Re-imports (see parse_feed's ``known``): uids of VEVENT blocks left undecoded because
    # their text did not change (the event is still there, as stored), and for the next
    # import: uid -> raw hash of every block that may be skipped then, and the digest of
    # what every block's reading depends on (the rest of the feed, the zone used).
    unchanged_uids: list[str] = field(default_factory=list)
    raw_hashes: dict[str, str] = field(default_factory=dict)
    context_hash: str = ""
    decoded: int = 0  # VEVENT components icalendar decoded (a measure of the work done)
