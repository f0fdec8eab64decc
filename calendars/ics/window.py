"""The import window and the event cap (issue 9, point 4).

    window = import_window(today, listing_zone)     # (start, end), UTC instants
    cap = Cap(max_events, window, listing_zone)
    cap.add(event)  ...  events, covered_until, left_out = cap.result()

The cap counts what is imported (events and occurrences overlapping the window) and keeps
the earliest (ties in the order offered): when more are there, the cut (``covered_until``)
is the start of the first one dropped: every event starting before it is kept, none
starting after it is (of events starting exactly at it, some may be kept). Memory stays
bounded: the kept list is trimmed whenever it doubles the cap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from calendars.ics.model import ParsedEvent

WINDOW_BEFORE = timedelta(days=30)
WINDOW_AFTER = timedelta(days=730)


def import_window(today: date, listing_zone: tzinfo) -> tuple[datetime, datetime]:
    """Midnight of today - 30 days and of today + 730 days in the listing's zone, in UTC."""
    return (
        day_start(today - WINDOW_BEFORE, listing_zone),
        day_start(today + WINDOW_AFTER, listing_zone),
    )


def day_start(day: date, listing_zone: tzinfo) -> datetime:
    """The instant (UTC) a calendar day starts in ``listing_zone``."""
    return datetime.combine(day, time(), tzinfo=listing_zone).astimezone(UTC)


def instant(value: date | datetime, listing_zone: tzinfo) -> datetime:
    """A ParsedEvent's start or end as a UTC instant: dates at midnight in the listing's
    zone."""
    if isinstance(value, datetime):
        return value
    return day_start(value, listing_zone)


def overlaps(event: ParsedEvent, window: tuple[datetime, datetime], listing_zone: tzinfo) -> bool:
    """True when the event's span [start, end) meets the window [start, end); a
    zero-length event counts when its instant lies in the window."""
    start = instant(event.start, listing_zone)
    end = instant(event.end, listing_zone)
    if start >= window[1]:
        return False
    return end > window[0] or (end == start and start >= window[0])


class Cap:
    """Keeps the earliest ``limit`` events offered (see the module)."""

    def __init__(self, limit: int, listing_zone: tzinfo):
        self.limit = max(0, limit)
        self.zone = listing_zone
        self.kept: list[tuple[datetime, int, ParsedEvent]] = []
        self.hard_cut: datetime | None = None  # nothing at or after it is kept
        self.cut: datetime | None = None  # the first start the cap dropped (ties may stay)
        self.left_out = 0
        self._order = 0

    def lower_cut(self, cut: datetime | None, count: int = 0) -> None:
        """Nothing at or after ``cut`` may be kept; ``count`` more were left out unread."""
        self.left_out += count
        if cut is not None and (self.hard_cut is None or cut < self.hard_cut):
            self.hard_cut = cut

    def add(self, event: ParsedEvent) -> None:
        start = instant(event.start, self.zone)
        if (self.hard_cut is not None and start >= self.hard_cut) or (
            self.cut is not None and start > self.cut
        ):
            self.left_out += 1
            return
        self._order += 1
        self.kept.append((start, self._order, event))
        if len(self.kept) > 2 * self.limit + 100:
            self._trim()

    def _trim(self) -> None:
        self.kept.sort(key=lambda item: (item[0], item[1]))
        if len(self.kept) > self.limit:
            first_dropped = self.kept[self.limit][0]
            self.cut = first_dropped if self.cut is None else min(self.cut, first_dropped)
            self.left_out += len(self.kept) - self.limit
            del self.kept[self.limit :]

    def covered_until(self) -> datetime | None:
        """Events starting before it are all kept; None when nothing was dropped."""
        cuts = [cut for cut in (self.hard_cut, self.cut) if cut is not None]
        return min(cuts) if cuts else None

    def result(self) -> tuple[list[ParsedEvent], datetime | None, int]:
        """(events in the order offered, covered_until, left_out)."""
        self._trim()
        self.kept.sort(key=lambda item: item[1])
        return [event for _, _, event in self.kept], self.covered_until(), self.left_out
