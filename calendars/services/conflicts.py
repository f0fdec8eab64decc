"""Double bookings: blocking events of one listing, from different feeds, that overlap.

Overlap is end-exclusive: a checkout on the day of the next check-in is not a conflict.
Detection is a sweep over the listing's blocking events sorted by start (O(n log n)), then
a diff against the open Conflict rows: new pairs open a conflict once, pairs that stopped
overlapping (moved or cancelled) are resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q

from calendars.models import Conflict, Event, EventStatus, Feed
from calendars.serializers import format_instant

# Events that ended before this many days ago no longer matter (the export's window too).
WINDOW_DAYS = 30
# Up to this many changed events, read the events overlapping each; past it, their bounds.
SPAN_CLAUSES = 25


@dataclass(frozen=True)
class ConflictChanges:
    opened: int
    resolved: int
    # ("conflict.opened" | "conflict.resolved", payload) for webhooks.
    webhook_events: list[tuple[str, dict]] = field(default_factory=list)

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
    pairs involving those events can have changed: the events overlapping one of them and
    the open conflicts that involve them are read (a handful of rows however busy the
    listing), and pairs between two unchanged events are left as they are. Without it, the
    whole listing. Raises nothing of its own (database errors propagate).
    """
    # The listing's feed ids first: with them PostgreSQL reads the events through the feed
    # index; a join on the listing can make it scan the whole event table.
    feed_ids = list(Feed.objects.filter(listing_id=listing_id).values_list("pk", flat=True))
    events_qs = Event.objects.filter(
        feed_id__in=feed_ids, blocking=True, end__gt=now - timedelta(days=WINDOW_DAYS)
    ).exclude(status=EventStatus.CANCELLED)
    open_qs = Conflict.objects.filter(listing_id=listing_id, resolved_at__isnull=True)
    if changed_event_ids is not None:
        if not changed_event_ids:
            return ConflictChanges(opened=0, resolved=0)
        changed = set(changed_event_ids)
        spans = list(events_qs.filter(pk__in=changed).values_list("pk", "feed_id", "start", "end"))
        open_qs = open_qs.filter(Q(event_a_id__in=changed) | Q(event_b_id__in=changed))
        spans = [(start, end) for _pk, _feed, start, end in spans if end > start]
        if len(spans) > SPAN_CLAUSES:  # many changes (a new feed): one bounding span
            spans = [(min(s for s, _e in spans), max(e for _s, e in spans))]
        near: Q | None = None
        for start, end in spans:
            clause = Q(start__lt=end, end__gt=start)
            near = clause if near is None else near | clause
        rows = (
            list(events_qs.filter(near).values_list("pk", "feed_id", "start", "end"))
            if near
            else []
        )
        pairs = {
            key: span
            for key, span in overlapping_pairs(rows).items()
            if key[0] in changed or key[1] in changed
        }
    else:
        pairs = overlapping_pairs(list(events_qs.values_list("pk", "feed_id", "start", "end")))
    open_rows = {
        (a, b): (pk, start, end)
        for pk, a, b, start, end in open_qs.values_list(
            "pk", "event_a_id", "event_b_id", "overlap_start", "overlap_end"
        )
    }
    gone = [pk for key, (pk, _s, _e) in open_rows.items() if key not in pairs]
    resolved = 0
    events: list[tuple[str, dict]] = []
    if gone:
        resolved = Conflict.objects.filter(pk__in=gone, resolved_at__isnull=True).update(
            resolved_at=now
        )
        for key, (pk, start, end) in open_rows.items():
            if key not in pairs:
                events.append(
                    ("conflict.resolved", conflict_payload(listing_id, pk, key, start, end))
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
        # ignore_conflicts returns no keys: read back the pairs this import opened.
        opened_rows = (
            Conflict.objects.filter(
                listing_id=listing_id,
                resolved_at__isnull=True,
                detected_at=now,
                event_a_id__in={c.event_a_id for c in new},
            )
            .order_by("overlap_start", "pk")
            .values_list("pk", "event_a_id", "event_b_id", "overlap_start", "overlap_end")
        )
        wanted = {(c.event_a_id, c.event_b_id) for c in new}
        for pk, a, b, start, end in opened_rows:
            if (a, b) in wanted:
                events.append(
                    ("conflict.opened", conflict_payload(listing_id, pk, (a, b), start, end))
                )
    return ConflictChanges(opened=len(new), resolved=resolved, webhook_events=events)


def conflict_payload(
    listing_id: int, pk: int, pair: tuple[int, int], start: datetime, end: datetime
) -> dict:
    """A conflict as webhooks carry it: ISO 8601 UTC instants, the two events' ids."""
    return {
        "listing": listing_id,
        "conflict": pk,
        "overlap_start": format_instant(start),
        "overlap_end": format_instant(end),
        "events": [pair[0], pair[1]],
    }
