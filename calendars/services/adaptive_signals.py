"""The calendars kind's own signal for adaptive polling (syncing.adaptive), a multiplier of
the interval a feed earned from its change rate:

- a check-in soon (any live stay starting within 48 hours on the listing): 0.5, twice as
  often: last-minute bookings, changes and cancellations happen then, and a double booking
  found late costs the most;
- the time of day in the listing's own zone, as ``Signal.local_hour``: the feed policy's
  daily profile (channel calendars change while people are awake) turns it into the hour's
  share of the changes. A policy without a profile (the square-root rule) takes it as a
  multiplier instead: 0.8 in waking hours, 2 at night.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.db import connection

from calendars.kinds import FEED_POLICY
from calendars.models import Event, EventStatus, Feed
from syncing.adaptive import Signal, waking_hours_factor

CHECKIN_WINDOW = timedelta(hours=48)
CHECKIN_FACTOR = 0.5
_CANCELLED = EventStatus.CANCELLED.value
_SOON_SQL = f"""
    SELECT 1 FROM {Event._meta.db_table} e
    JOIN {Feed._meta.db_table} f ON f.id = e.feed_id
    WHERE f.listing_id = %s AND e.start >= %s AND e.start < %s AND e.status <> %s
    LIMIT 1
"""  # noqa: S608 - table names from model metadata, values are parameters


# The check-in question for many (listing, moment) pairs at once: the ordinals that have one.
# The lateral probe per feed lets the start range be a condition of the (feed, start) index:
# written as one EXISTS over the join, the planner probes by feed only and filters every
# event of the feed (4.6-5.9 ms for 50 feeds of 100 events, 1.3 ms so).
_SOON_MANY_SQL = f"""
    SELECT w.n FROM unnest(%s::bigint[], %s::timestamptz[]) WITH ORDINALITY AS w(listing, at, n)
    WHERE EXISTS (
        SELECT 1 FROM {Feed._meta.db_table} f
        CROSS JOIN LATERAL (
            SELECT 1 FROM {Event._meta.db_table} e
            WHERE e.feed_id = f.id AND e.start >= w.at AND e.start < w.at + %s
              AND e.status <> %s
            LIMIT 1
        ) AS soon
        WHERE f.listing_id = w.listing
    )
"""  # noqa: S608 - table names from model metadata, values are parameters


def feed_signal(feed: Feed, now: datetime) -> Signal:
    """The check-in factor and the local time of day for ``feed`` at ``now``."""
    return _signal(feed, now, upcoming_checkin(feed, now))


def feed_signals(pairs: list[tuple[Feed, datetime]]) -> list[Signal]:
    """``feed_signal`` for each (feed, now) pair, the check-ins of all in one query (the
    engine asks for a chunk's feeds at once: one query per flush, not one per sync)."""
    if not pairs:
        return []
    if connection.vendor != "postgresql":
        return [feed_signal(feed, now) for feed, now in pairs]
    with connection.cursor() as cursor:
        listings = [feed.listing_id for feed, _now in pairs]
        moments = [now for _feed, now in pairs]
        cursor.execute(_SOON_MANY_SQL, [listings, moments, CHECKIN_WINDOW, _CANCELLED])
        soon = {row[0] for row in cursor.fetchall()}
    return [
        _signal(feed, now, CHECKIN_FACTOR if n in soon else 1.0)
        for n, (feed, now) in enumerate(pairs, start=1)
    ]


def _signal(feed: Feed, now: datetime, checkin: float) -> Signal:
    hour = local_hour(feed, now)
    if FEED_POLICY.daily_profile is None:
        checkin *= waking_hours_factor(int(hour))
    return Signal(factor=checkin, local_hour=hour)


def upcoming_checkin(feed: Feed, now: datetime) -> float:
    """0.5 (twice as often) when any feed of the feed's listing has a live stay starting
    within the next 48 hours; 1.0 (no opinion) otherwise."""
    # Raw SQL: this runs after every sync of every feed, and building the ORM's query
    # cost most of the adaptive step's CPU (0.84 ms per sync with it, 0.19 without).
    with connection.cursor() as cursor:
        moment = connection.ops.adapt_datetimefield_value
        params = [feed.listing_id, moment(now), moment(now + CHECKIN_WINDOW), _CANCELLED]
        cursor.execute(_SOON_SQL, params)
        return CHECKIN_FACTOR if cursor.fetchone() else 1.0


def local_hour(feed: Feed, now: datetime) -> float:
    """The time of day at the listing, in hours (UTC for an unknown zone)."""
    try:
        zone = zoneinfo.ZoneInfo(feed.listing.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = now.astimezone(zone)
    return local.hour + local.minute / 60 + local.second / 3600
