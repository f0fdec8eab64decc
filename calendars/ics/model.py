"""What the parser hands back: plain, frozen values the calendars services store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


class InvalidCalendar(ValueError):
    """The body is not iCalendar at all (HTML, empty, garbage, truncated, no VCALENDAR)."""

    reason = "invalid_ics"


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """One event or one recurrence occurrence, normalised (slots: a big feed's 5,000 kept
    events took 0.3 KB each less than with a ``__dict__``).

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
    """A parsed feed: what to import, what was left out and why.

    - ``events``: the events and recurrence occurrences to import, in file order: every one
      whose span overlaps the window, earliest first up to the cap (see ``covered_until``).
      Plain events wholly outside the window are not returned. UIDs are unique in the list
      and at most 512 characters (see calendars.ics.uids). Where an instant is needed, an
      all-day date stands for its midnight in the listing's zone.
    - ``skipped``: (uid or "?", reason) of the VEVENTs (or whole series) that could not be
      read, and of our own export's echoes (reason "own_export").
    - ``window``: (start, end), aware UTC instants: midnight of today - 30 days and of
      today + 730 days in the listing's zone (``default_tz``); events and occurrences are
      imported when they overlap it.
    - ``covered_until``: None when the whole window was read; else the cap's cut (UTC, the
      start of the first event dropped, events kept earliest-first): every event starting
      before it was imported, none starting after it (of those starting exactly at it, some
      may be), so only events that start before it can be judged gone from the feed. On
      hostile input past the hard bounds (``left_out`` counts the blocks left unread and
      the recurring series left unexpanded) it is ``window[0]``: nothing can be judged gone.
    - ``left_out``: events and occurrences in the window that the cap dropped (blocks past the
      hard bound on hostile input, never read, count one each). ``truncated`` is
      ``left_out > 0``.
    - ``unknown_tzids``: TZIDs (sorted) that neither IANA, CLDR's Windows ids, the Outlook
      display-name table nor a VTIMEZONE of the feed defines: their times were read as
      floating times (the feed's X-WR-TIMEZONE, else the listing's zone).
    - ``unchanged_uids``, ``raw_hashes``, ``context_hash``: re-imports (see parse_feed's
      ``known``): uids of VEVENT blocks left undecoded because their text did not change
      (the event is still there, as stored; they count towards the cap), and for the next
      import: uid -> raw hash of every block that may be skipped then, and the digest of
      what every block's reading depends on (the rest of the feed, the zone used).
    - ``decoded``: VEVENT components icalendar decoded (a measure of the work done).

    An event neither in ``events`` nor in ``unchanged_uids`` has gone from the feed only if
    its span overlaps the window and it starts before ``covered_until`` (when set).
    """

    events: list[ParsedEvent] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (uid or "?", reason)
    calendar_name: str = ""
    truncated: bool = False
    unchanged_uids: list[str] = field(default_factory=list)
    raw_hashes: dict[str, str] = field(default_factory=dict)
    context_hash: str = ""
    decoded: int = 0
    window: tuple[datetime, datetime] | None = None
    covered_until: datetime | None = None
    left_out: int = 0
    unknown_tzids: list[str] = field(default_factory=list)
