"""Double bookings: blocking events of one listing, from different feeds, that overlap.

Overlap is end-exclusive: a checkout on the day of the next check-in is not a conflict.
Detection is a sweep over the listing's blocking events sorted by start (O(n log n)), then
a diff against the open Conflict rows: new pairs open a conflict once, pairs that stopped
overlapping (moved or cancelled) are resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Min, Q

from calendars.models import Conflict, Event, EventStatus

# Events that ended before this many days ago no longer matter (the export's window too).
WINDOW_DAYS = 30


@dataclass(frozen=True)
class ConflictChanges:
    opened: int
    resolved: int

    @property
    def any(self) -> bool:
        return bool(self.opened or self.resolved)


def overlapping_pairs(
    events: list[tuple[int, int, datetime, datetime]],
) -> dict[tuple[int, int], tuple[datetime, datetime]]:
    """Pairs (smaller pk, larger pk) of events from different feeds that overlap.

    ``events`` are ``(pk, feed_id, start, end)``. Returns each pair's overlap span.
    """
    pairs: dict[tuple[int, int], tuple[datetime, datetime]] = {}
    active: list[tuple[int, int, datetime, datetime]] = []
    for event in sorted(events, key=lambda e: (e[2], e[3], e[0])):
        pk, feed_id, start, end = event
        active = [a for a in active if a[3] > start]
        for other_pk, other_feed, other_start, other_end in active:
            if other_feed == feed_id:
                continue
            if start < other_end and other_start < end:
                key = (min(pk, other_pk), max(pk, other_pk))
                pairs[key] = (max(start, other_start), min(end, other_end))
        if end > start:
            active.append(event)
    return pairs


def detect_conflicts(
    listing_id: int, *, now: datetime, changed_event_ids: list[int] | None = None
) -> ConflictChanges:
    """Open and resolve the listing's conflicts; call inside the import's transaction.

    With ``changed_event_ids`` (the events an import created, moved or cancelled) only the
    span those events cover is re-examined, with the open conflicts that involve them or
    overlap that span: a one-booking change in a busy listing reads a handful of rows.
    Without it, the whole listing. Raises nothing of its own (database errors propagate).
    """
    events_qs = Event.objects.filter(
        feed__listing_id=listing_id, blocking=True, end__gt=now - timedelta(days=WINDOW_DAYS)
    ).exclude(status=EventStatus.CANCELLED)
    open_qs = Conflict.objects.filter(listing_id=listing_id, resolved_at__isnull=True)
    if changed_event_ids is not None:
        if not changed_event_ids:
            return ConflictChanges(opened=0, resolved=0)
        span = events_qs.filter(pk__in=changed_event_ids).aggregate(lo=Min("start"), hi=Max("end"))
        involved = Q(event_a_id__in=changed_event_ids) | Q(event_b_id__in=changed_event_ids)
        if span["lo"] is None:  # all of them cancelled or out of the window
            events_qs = events_qs.none()
            open_qs = open_qs.filter(involved)
        else:
            lo, hi = span["lo"], span["hi"]
            events_qs = events_qs.filter(start__lt=hi, end__gt=lo)
            open_qs = open_qs.filter(involved | Q(overlap_start__lt=hi, overlap_end__gt=lo))
    pairs = overlapping_pairs(list(events_qs.values_list("pk", "feed_id", "start", "end")))
    open_rows = {
        (a, b): (pk, start, end)
        for pk, a, b, start, end in open_qs.values_list(
            "pk", "event_a_id", "event_b_id", "overlap_start", "overlap_end"
        )
    }
    gone = [pk for key, (pk, _s, _e) in open_rows.items() if key not in pairs]
    resolved = 0
    if gone:
        resolved = Conflict.objects.filter(pk__in=gone, resolved_at__isnull=True).update(
            resolved_at=now
        )
    new = []
    for key, (start, end) in pairs.items():
        current = open_rows.get(key)
        if current is None:
            new.append(
                Conflict(
                    listing_id=listing_id,
                    event_a_id=key[0],
                    event_b_id=key[1],
                    overlap_start=start,
                    overlap_end=end,
                    detected_at=now,
                )
            )
        elif (current[1], current[2]) != (start, end):
            Conflict.objects.filter(pk=current[0]).update(overlap_start=start, overlap_end=end)
    if new:
        # Another import of the same listing may have opened the same pair a moment ago.
        Conflict.objects.bulk_create(new, ignore_conflicts=True)
    return ConflictChanges(opened=len(new), resolved=resolved)
