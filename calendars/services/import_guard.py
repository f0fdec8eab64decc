"""What an import may cancel (issue 9, "nothing a channel sent is lost").

An event that is missing from a feed is cancelled only when the feed really dropped it:

- its VEVENT is still there but unreadable: it keeps its last good state;
- it has ended: channels drop past stays, which stay as they were;
- it lies outside the range the import covered (before the window, or at/after the point
  where the event cap stopped the import): it was not looked at;
- the feed suddenly holds no future events while it held several: nothing is cancelled until
  the next sync sees the same (``Feed.empty_since`` records the first one).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from calendars.ics.model import ParsedFeed
from calendars.models import Event, EventStatus, Feed

# A feed that held at least this many live future events and now holds none is suspicious.
EMPTIED_MIN_EVENTS = 2
# Skipped VEVENTs whose UID is not one of the feed's own events to protect: our own export
# coming back is read as "not an event of this feed", so its old row may go.
NOT_PROTECTING = frozenset({"own_export"})
UID_MAX = 512  # Event.uid's column
# Rows that ended longer ago than this are not even read when looking for future events.
NOT_ENDED_MARGIN = timedelta(days=2)


# Why a missing event was kept instead of cancelled (keys of last_import["kept"]).
KEPT_UNREADABLE = "unreadable"
KEPT_ENDED = "ended"
KEPT_NOT_COVERED = "not_covered"
KEPT_HELD_BACK = "held_back"


@dataclass(frozen=True)
class CancelScope:
    """Which missing events one import may cancel; see ``kept_reason``."""

    now: datetime
    today: date  # in the listing's zone: an all-day event has ended once its end date comes
    hold_back: bool = False  # the feed suddenly emptied: cancel nothing this time
    since: datetime | None = None  # the import window's start
    until: datetime | None = None  # nothing starting at/after this was imported
    kept_uids: frozenset[str] = frozenset()  # unreadable now: keep their last good state
    # The listing's zone: the parser places all-day events at midnight there (they are
    # stored at midnight UTC), so that is where they meet the covered range.
    zone: tzinfo = UTC

    def has_ended(self, end: datetime, all_day: bool) -> bool:
        if all_day:
            return end.date() <= self.today
        return end <= self.now

    def kept_reason(self, uid: str, start: datetime, end: datetime, all_day: bool) -> str | None:
        """None when the missing event ``uid`` may be cancelled, else why it is kept."""
        if self.protects(uid):
            return KEPT_UNREADABLE
        if self.has_ended(end, all_day):
            return KEPT_ENDED
        if all_day:
            start, end = self._local_midnight(start), self._local_midnight(end)
        if (self.until is not None and start >= self.until) or (
            self.since is not None and end <= self.since
        ):
            return KEPT_NOT_COVERED
        if self.hold_back:
            return KEPT_HELD_BACK
        return None

    def _local_midnight(self, stored: datetime) -> datetime:
        return datetime.combine(stored.date(), time(), tzinfo=self.zone).astimezone(UTC)

    def protects(self, uid: str) -> bool:
        """True when ``uid``'s VEVENT is in the feed but could not be read."""
        return uid in self.kept_uids or uid.partition("#")[0] in self.kept_uids


def listing_zone(timezone_name: str) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(timezone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def unreadable_uids(skipped: list[tuple[str, str]]) -> frozenset[str]:
    """The stored uids of events whose VEVENT (or whole series) the parser had to skip."""
    return frozenset(
        uid[:UID_MAX]
        for uid, reason in skipped
        if uid and uid != "?" and reason not in NOT_PROTECTING
    )


def cancel_scope(parsed: ParsedFeed, *, now: datetime, timezone_name: str) -> CancelScope:
    """The scope of one import from what the parser covered: a feed cut by the cap cancels
    only within [window start, covered_until)."""
    since = until = None
    if parsed.window:
        since, until = parsed.window
    if parsed.covered_until is not None:
        until = parsed.covered_until if until is None else min(until, parsed.covered_until)
    zone = listing_zone(timezone_name)
    return CancelScope(
        now=now,
        today=now.astimezone(zone).date(),
        zone=zone,
        since=since,
        until=until,
        kept_uids=unreadable_uids(parsed.skipped),
    )


def feed_emptied(feed: Feed, parsed: ParsedFeed, scope: CancelScope) -> int:
    """How many live, not-ended events the feed had when it now holds no event that has not
    ended (and at least EMPTIED_MIN_EVENTS of them); 0 when the feed does not look emptied.

    Cheap when the feed holds a future event among those decoded (the usual case); else one
    or two indexed queries.
    """
    for event in parsed.events:
        end = event.end if isinstance(event.end, datetime) else None
        if end is None:
            if event.end > scope.today:
                return 0
        elif not scope.has_ended(end, False):
            return 0
    live = Event.objects.filter(feed=feed, end__gt=scope.now - NOT_ENDED_MARGIN).exclude(
        status=EventStatus.CANCELLED
    )
    if parsed.unchanged_uids:
        # Present, as stored: does any of them lie ahead? (Only the uids, not the rows.)
        ahead = live.filter(uid__in=parsed.unchanged_uids).values_list("end", "all_day")
        if any(not scope.has_ended(end, all_day) for end, all_day in ahead):
            return 0
    held = [
        uid
        for uid, end, all_day in live.values_list("uid", "end", "all_day")
        if not scope.has_ended(end, all_day) and not scope.protects(uid)
    ]
    return len(held) if len(held) >= EMPTIED_MIN_EVENTS else 0
