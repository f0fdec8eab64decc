"""The calendars kind's own signal for adaptive polling (syncing.adaptive): a listing with
a check-in soon is checked more often (last-minute bookings, changes and cancellations
happen then, and a double booking found late costs the most)."""

from __future__ import annotations

from datetime import datetime, timedelta

from calendars.models import Event, EventStatus, Feed

CHECKIN_WINDOW = timedelta(hours=48)
CHECKIN_FACTOR = 0.5


def upcoming_checkin(feed: Feed, now: datetime) -> float:
    """0.5 (twice as often) when any feed of the feed's listing has a live stay starting
    within the next 48 hours; 1.0 (no opinion) otherwise."""
    soon = Event.objects.filter(
        feed__listing_id=feed.listing_id,
        start__gte=now,
        start__lt=now + CHECKIN_WINDOW,
    ).exclude(status=EventStatus.CANCELLED)
    return CHECKIN_FACTOR if soon.exists() else 1.0
