"""Issue 9 point 17: the demo, once everything has synced, shows only real double bookings.

The demo's listings are seeded against a real feed farm on 127.0.0.1, whose VRBO and
Booking.com feeds fetch the listing's export from a live Syncbeat server (the echo path),
and every feed is imported through the engine. The open conflicts must be exactly the
double bookings the farm published on purpose: a reservation overlapping another channel's
reservation, block or owner stay, night for night; never a cleaning, never an echo.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from calendars.demo import DEMO_LISTINGS, farm_id, seed
from calendars.feedfarm import serving
from calendars.feedfarm.generate import published_stays
from calendars.models import Conflict, Event, EventKind, Feed, Listing, Source
from tests.calendars.test_import import run_sync

FARM_EVENTS = 30
# Pairs whose shared nights end this close to the conflict window's edge (30 days back) are
# left out of both sides of the comparison.
EDGE_DAYS = 28


def nights(event: Event, zone) -> tuple[date, date]:
    """(first night, checkout day) of an imported event, in the listing's zone."""
    if event.all_day:
        return event.start_value, event.end_value
    return event.start.astimezone(zone).date(), event.end.astimezone(zone).date()


def intended_double_bookings(today: date) -> set[frozenset]:
    """The farm's ground truth: per demo listing, pairs of stays from different channels
    sharing a night, one of them a reservation."""
    wanted = set()
    for index, spec in enumerate(DEMO_LISTINGS):
        stays = []
        for position, feed in enumerate(spec.feeds):
            for start, end, kind in published_stays(
                farm_id(index, position),
                style=feed.source,
                events=FARM_EVENTS,
                today=today,
                doubles=feed.doubles,
            ):
                stays.append((feed.source, start, end, kind))
        for i, (source_a, start_a, end_a, kind_a) in enumerate(stays):
            for source_b, start_b, end_b, kind_b in stays[i + 1 :]:
                if source_a == source_b or EventKind.RESERVATION not in (kind_a, kind_b):
                    continue
                if start_a < end_b and start_b < end_a and min(end_a, end_b) > edge(today):
                    wanted.add(
                        frozenset(
                            {
                                (spec.name, source_a, start_a, end_a),
                                (spec.name, source_b, start_b, end_b),
                            }
                        )
                    )
    return wanted


def edge(today: date) -> date:
    return today - timedelta(days=EDGE_DAYS)


def double_bookings(owner, today: date, *, open_only: bool = True) -> set[frozenset]:
    found = set()
    conflicts = Conflict.objects.filter(listing__owner=owner).select_related(
        "listing", "event_a__feed", "event_b__feed"
    )
    if open_only:
        conflicts = conflicts.filter(resolved_at__isnull=True)
    for conflict in conflicts:
        zone = zoneinfo.ZoneInfo(conflict.listing.timezone)
        sides = []
        for event in (conflict.event_a, conflict.event_b):
            first, checkout = nights(event, zone)
            sides.append((conflict.listing.name, event.feed.source, first, checkout))
        if min(sides[0][3], sides[1][3]) > edge(today):
            found.add(frozenset(sides))
    return found


def sync_everything(owner) -> None:
    """Airbnb first (its stays are what the other channels copy), then the rest; three
    rounds: a channel's feed shows what its previous poll of our export held (echo.py), so
    by the third every channel re-publishes every other channel's stays."""
    feeds = sorted(
        Feed.objects.filter(listing__owner=owner), key=lambda f: (f.source != "airbnb", f.pk)
    )
    for _round in range(3):
        for feed in feeds:
            attempt = run_sync(feed)
            assert attempt.outcome in ("ok", "not_modified"), (feed.url, attempt.message)


@pytest.mark.django_db(transaction=True)
def test_the_demo_shows_only_real_double_bookings(live_server, alice, settings):
    settings.ALLOW_PRIVATE_URLS = True
    settings.SITE_URL = live_server.url
    today = datetime.now(tz=timezone.get_current_timezone()).date()
    with serving(feeds=200, events=FARM_EVENTS, today=today) as farm:
        settings.FEEDFARM_URL = farm.base_url
        assert seed(alice) == sum(len(spec.feeds) for spec in DEMO_LISTINGS)
        sync_everything(alice)
        assert farm.farm.echo_source.fetches >= 4  # VRBO and Booking.com, every round

    wanted = intended_double_bookings(today)
    # Each listing has at least one deliberate double booking (``doubles``), whatever the day.
    assert {side[0] for pair in wanted for side in pair} == {s.name for s in DEMO_LISTINGS}
    assert double_bookings(alice, today) == wanted
    # Never a false alarm on the way either (no conflict opened, then resolved).
    assert double_bookings(alice, today, open_only=False) == wanted

    # The echo path was the real one: the export saw both channels poll it, and their
    # copies of other channels' stays were recognised as ours.
    cottage = Listing.objects.get(owner=alice, name="Seaside cottage")
    for source in (Source.VRBO, Source.BOOKING):
        assert cottage.export_state[source]["fetched"]
        echoes = Event.objects.filter(feed__listing=cottage, feed__source=source)
        assert echoes.filter(echo_of__isnull=False).count() >= 5
    # Airbnb's copies of the owner's timed stays (as days) are recognised too.
    cabin = Listing.objects.get(owner=alice, name="Mountain cabin")
    copies = Event.objects.filter(feed__listing=cabin, feed__source=Source.AIRBNB)
    assert copies.filter(echo_of__feed__source=Source.GOOGLE, all_day=True).count() >= 5
    # Cleanings came in, in the cabin's zone, and hold no double booking.
    cleanings = Event.objects.filter(feed__listing=cabin, summary="Cleaning")
    denver = zoneinfo.ZoneInfo("America/Denver")
    assert cleanings.count() >= 10
    assert {c.start.astimezone(denver).hour for c in cleanings} == {11}
    assert not Conflict.objects.filter(event_a__in=cleanings).exists()
    assert not Conflict.objects.filter(event_b__in=cleanings).exists()
