"""Echoes of our own export (issue 9, point 11).

Booking.com fetches our merged export and re-publishes every date in it as its own
"CLOSED - Not available" block under its own UIDs. The test plays that channel for real:
our export is fetched through its URL, its events are re-published by a local "Booking.com"
feed server, and that feed is imported through the engine.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta

import icalendar
import pytest

from calendars.demo import DEMO_LISTINGS, farm_id, seed
from calendars.feedfarm import serving
from calendars.feedfarm.generate import published_stays
from calendars.models import Conflict, Event, EventKind, EventStatus, Feed, Listing, Source
from calendars.services.conflicts import NightRun, night_pairs
from tests.calendars.test_import import Body, make_feed, run_sync
from tests.calendars.test_nights import all_day, calendar, pair
from tests.support.http import local_server

pytestmark = pytest.mark.django_db

CLOSED = "CLOSED - Not available"


def day(offset: int) -> date:
    return date.today() + timedelta(days=offset)


def fetch_export(client, listing: Listing, variant: str) -> bytes:
    """Our export as the channel fetches it (``?for=variant``, or the plain one)."""
    url = listing.export_path + (f"?for={variant}" if variant else "")
    response = client.get(url)
    assert response.status_code == 200
    return response.content


def republish(export: bytes) -> list[str]:
    """Booking.com's copy of what it imported: its own UIDs, its own wording."""
    copies = []
    for n, component in enumerate(icalendar.Calendar.from_ical(export).walk("VEVENT")):
        first, stop = component.decoded("DTSTART"), component.decoded("DTEND")
        copies.append(all_day(f"{n}-copy@booking.com", first, stop, CLOSED))
    return copies


def export_spans(client, listing: Listing, variant: str) -> set[tuple[date, date]]:
    export = fetch_export(client, listing, variant)
    return {
        (c.decoded("DTSTART"), c.decoded("DTEND"))
        for c in icalendar.Calendar.from_ical(export).walk("VEVENT")
    }


@pytest.mark.parametrize("variant", ["booking", ""])
def test_booking_com_copy_of_our_export_is_an_echo_not_a_conflict_nor_exported(
    variant, alice, client, allow_private_urls, django_capture_on_commit_callbacks
):
    airbnb = Body(calendar(all_day("a1@airbnb.com", day(10), day(14), "Reserved")))
    booking = Body(calendar())
    routes = {"/airbnb.ics": airbnb, "/booking.ics": booking}
    with local_server(routes) as server, django_capture_on_commit_callbacks(execute=True):
        listing = Listing.objects.create(owner=alice, name="Loft", timezone="Europe/Madrid")
        feed_a = make_feed(listing, f"{server.url}/airbnb.ics", Source.AIRBNB)
        feed_b = make_feed(listing, f"{server.url}/booking.ics", Source.BOOKING)
        run_sync(feed_a)
        # Booking.com fetches our export, then publishes its copy next to a real booking
        # of its own (Booking.com shows its bookings as CLOSED too) that overlaps a1.
        copies = republish(fetch_export(client, listing, variant))
        assert len(copies) == 1
        real = all_day("b-real@booking.com", day(12), day(16), CLOSED)
        booking.body, booking.etag = calendar(*copies, real), '"b2"'
        run_sync(feed_b)

        echo = Event.objects.get(feed=feed_b, uid="0-copy@booking.com")
        a1 = Event.objects.get(feed=feed_a, uid="a1@airbnb.com")
        assert echo.echo_of_id == a1.pk
        assert Event.objects.get(uid="b-real@booking.com").echo_of_id is None
        # One double booking, the real one; the echo shares every night with a1 and is none.
        assert [pair(c) for c in Conflict.objects.all()] == [
            {"a1@airbnb.com", "b-real@booking.com"}
        ]
        # The echo never goes back to Airbnb; Booking.com's real booking does.
        assert export_spans(client, listing, "airbnb") == {(day(12), day(16))}

        # Airbnb's guest cancels: the copy is still ours, still not exported, still no
        # conflict (Booking.com drops it at its next fetch).
        airbnb.body, airbnb.etag = calendar(), '"a2"'
        run_sync(feed_a)
        assert Event.objects.get(pk=a1.pk).status == EventStatus.CANCELLED
        echo.refresh_from_db()
        assert echo.echo_of_id == a1.pk and echo.status == EventStatus.CONFIRMED
        assert export_spans(client, listing, "airbnb") == {(day(12), day(16))}
        assert not Conflict.objects.filter(resolved_at__isnull=True).exists()


def test_same_dates_are_a_real_block_when_our_export_never_went_there(
    alice, allow_private_urls, django_capture_on_commit_callbacks
):
    """Nobody fetched the export: a Booking.com block on a1's exact dates is a real
    booking there, a double booking."""
    routes = {
        "/airbnb.ics": Body(calendar(all_day("a1@airbnb.com", day(10), day(14), "Reserved"))),
        "/booking.ics": Body(calendar(all_day("b1@booking.com", day(10), day(14), CLOSED))),
    }
    with local_server(routes) as server, django_capture_on_commit_callbacks(execute=True):
        listing = Listing.objects.create(owner=alice, name="Loft", timezone="Europe/Madrid")
        run_sync(make_feed(listing, f"{server.url}/airbnb.ics", Source.AIRBNB))
        run_sync(make_feed(listing, f"{server.url}/booking.ics", Source.BOOKING))
    assert Event.objects.get(uid="b1@booking.com").echo_of_id is None
    assert [pair(c) for c in Conflict.objects.all()] == [{"a1@airbnb.com", "b1@booking.com"}]


def test_the_variant_for_another_channel_does_not_reach_booking_com(
    alice, client, allow_private_urls, django_capture_on_commit_callbacks
):
    """Only VRBO fetched (?for=vrbo): what Booking.com shows was not sent by us."""
    routes = {
        "/airbnb.ics": Body(calendar(all_day("a1@airbnb.com", day(10), day(14), "Reserved"))),
        "/booking.ics": Body(calendar(all_day("b1@booking.com", day(10), day(14), CLOSED))),
    }
    with local_server(routes) as server, django_capture_on_commit_callbacks(execute=True):
        listing = Listing.objects.create(owner=alice, name="Loft", timezone="Europe/Madrid")
        run_sync(make_feed(listing, f"{server.url}/airbnb.ics", Source.AIRBNB))
        fetch_export(client, listing, "vrbo")
        run_sync(make_feed(listing, f"{server.url}/booking.ics", Source.BOOKING))
    assert Event.objects.get(uid="b1@booking.com").echo_of_id is None
    assert Conflict.objects.count() == 1


def farm_double_bookings(today: date, events: int) -> set[frozenset]:
    """The demo's real double bookings from the farm's own ground truth (what each feed
    publishes, without cleanings or echoes), over the nights the import looks at."""
    expected: set[frozenset] = set()
    for index, spec in enumerate(DEMO_LISTINGS):
        runs, keys = [], {}
        for position, feed in enumerate(spec.feeds):
            stays = published_stays(
                farm_id(index, position),
                style=feed.source,
                events=events,
                today=today,
                doubles=feed.doubles,
            )
            for first, stop, kind in stays:
                if stop > today - timedelta(days=30) and first < today + timedelta(days=365):
                    keys[len(keys)] = (feed.source, first, stop)
                    runs.append(NightRun(len(keys) - 1, position, kind, first, stop))
        for a, b in night_pairs(runs):
            expected.add(frozenset({(spec.name, *keys[a]), (spec.name, *keys[b])}))
    return expected


def our_double_bookings(today: date) -> set[frozenset]:
    found = set()
    for conflict in Conflict.objects.filter(resolved_at__isnull=True).select_related(
        "listing", "event_a__feed", "event_b__feed"
    ):
        tz = zoneinfo.ZoneInfo(conflict.listing.timezone)
        sides = set()
        for event in (conflict.event_a, conflict.event_b):
            assert event.echo_of_id is None and event.effective_kind != EventKind.MAINTENANCE
            first, stop = (
                (event.start.date(), event.end.date())
                if event.all_day
                else (event.start.astimezone(tz).date(), event.end.astimezone(tz).date())
            )
            sides.add((conflict.listing.name, event.feed.source, first, stop))
        if min(side[2] for side in sides) < today + timedelta(days=365):
            found.add(frozenset(sides))
    return found


@pytest.mark.django_db(transaction=True)
def test_the_demo_opens_only_real_double_bookings(alice, live_server, settings, allow_private_urls):
    """The demo against the feed farm: VRBO and Booking.com really fetch the cottage's
    export (from the live server) and re-publish it; the cabin's Google calendar cleans on
    every checkout day. The double bookings opened are exactly the real ones in what the
    farm publishes (its deliberate ones and its odd stay in a neighbour's lane): none from
    an echo, a cleaning or the garden maintenance."""
    settings.SITE_URL = live_server.url
    with serving(feeds=200, today=date.today()) as farm:
        settings.FEEDFARM_URL = farm.base_url
        seed(alice)
        feeds = list(Feed.objects.filter(listing__owner=alice).order_by("pk"))
        for _round in range(2):  # the channels' copies of each other settle
            for feed in feeds:
                assert run_sync(feed).outcome in {"ok", "not_modified"}
    echoes = Event.objects.filter(echo_of__isnull=False)
    assert {e.feed.source for e in echoes} == {Source.VRBO, Source.BOOKING}
    cleanings = Event.objects.filter(kind=EventKind.MAINTENANCE, summary="Cleaning")
    assert cleanings.count() > 3
    expected = farm_double_bookings(date.today(), events=farm.farm.events)
    assert len(expected) >= 2  # the deliberate ones at least
    assert our_double_bookings(date.today()) == expected
