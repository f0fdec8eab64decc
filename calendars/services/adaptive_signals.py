"""The calendars kind's own signal for adaptive polling (syncing.adaptive), a multiplier of
the interval a feed earned from its change rate:

- a check-in soon (any live stay starting within 48 hours on the listing): 0.5, twice as
  often: last-minute bookings, changes and cancellations happen then, and a double booking
  found late costs the most;
- the time of day in the listing's own zone: 0.8 in waking hours, 2 at night (channel
  calendars change while people are awake).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from calendars.models import Event, EventStatus, Feed
from syncing.adaptive import waking_hours_factor

CHECKIN_WINDOW = timedelta(hours=48)
CHECKIN_FACTOR = 0.5


def feed_signal(feed: Feed, now: datetime) -> float:
    """The product of the check-in and time-of-day factors for ``feed`` at ``now``."""
    return upcoming_checkin(feed, now) * local_time_of_day(feed, now)


def upcoming_checkin(feed: Feed, now: datetime) -> float:
    """0.5 (twice as often) when any feed of the feed's listing has a live stay starting
    within the next 48 hours; 1.0 (no opinion) otherwise."""
    soon = Event.objects.filter(
        feed__listing_id=feed.listing_id,
        start__gte=now,
        start__lt=now + CHECKIN_WINDOW,
    ).exclude(status=EventStatus.CANCELLED)
    return CHECKIN_FACTOR if soon.exists() else 1.0


def local_time_of_day(feed: Feed, now: datetime) -> float:
    """0.8 in waking hours of the listing's zone, 2.0 at night (UTC for an unknown zone)."""
    try:
        zone = zoneinfo.ZoneInfo(feed.listing.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return waking_hours_factor(now.astimezone(zone).hour)
