"""Echoes of our own export (issue 9, point 11).

Booking.com fetches our merged export and re-publishes every date in it as its own
"CLOSED - Not available" block under its own UIDs. The test plays that channel for real:
our export is fetched through its URL, its events are re-published by a local "Booking.com"
feed server, and that feed is imported through the engine.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import icalendar
import pytest

from calendars.models import Conflict, Event, EventStatus, Listing, Source
from tests.calendars.test_import import Body, make_feed, run_sync
from tests.calendars.test_nights import all_day, calendar, local, pair, timed
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
    alice, client, allow_private_urls, django_capture_on_commit_callbacks
):
    """Nobody fetched the export: a Booking.com block on a1's exact dates is a real
    booking there, a double booking; it stays one after Booking.com starts fetching."""
    booking = Body(calendar(all_day("b1@booking.com", day(10), day(14), CLOSED)))
    routes = {
        "/airbnb.ics": Body(calendar(all_day("a1@airbnb.com", day(10), day(14), "Reserved"))),
        "/booking.ics": booking,
    }
    with local_server(routes) as server, django_capture_on_commit_callbacks(execute=True):
        listing = Listing.objects.create(owner=alice, name="Loft", timezone="Europe/Madrid")
        run_sync(make_feed(listing, f"{server.url}/airbnb.ics", Source.AIRBNB))
        feed_b = make_feed(listing, f"{server.url}/booking.ics", Source.BOOKING)
        run_sync(feed_b)
        assert Event.objects.get(uid="b1@booking.com").echo_of_id is None
        assert [pair(c) for c in Conflict.objects.all()] == [{"a1@airbnb.com", "b1@booking.com"}]

        fetch_export(client, listing, "booking")
        # Booking.com edits its block (a new wording) and adds another.
        booking.body = calendar(
            all_day("b1@booking.com", day(10), day(14), "CLOSED \u2013 Not available"),
            all_day("b2@booking.com", day(30), day(31), CLOSED),
        )
        booking.etag = '"b2"'
        run_sync(feed_b)
    b1 = Event.objects.get(uid="b1@booking.com")
    assert b1.echo_of_id is None and "\u2013" in b1.summary
    assert Conflict.objects.get().is_open


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


def test_a_timed_stay_copied_as_dates_is_an_echo(
    alice, client, allow_private_urls, django_capture_on_commit_callbacks
):
    """OwnerRez publishes a timed stay (16:00 to 11:00); Booking.com, which keeps dates
    only, copies our export of it as an all-day block over the same nights."""
    madrid = "Europe/Madrid"
    booked = timed("or1", local(madrid, day(10), 16), local(madrid, day(13), 11), "Booked")
    booking = Body(calendar())
    routes = {"/or.ics": Body(calendar(booked)), "/booking.ics": booking}
    with local_server(routes) as server, django_capture_on_commit_callbacks(execute=True):
        listing = Listing.objects.create(owner=alice, name="Loft", timezone=madrid)
        run_sync(make_feed(listing, f"{server.url}/or.ics", Source.OTHER))
        export = icalendar.Calendar.from_ical(fetch_export(client, listing, "booking"))
        (stay,) = export.walk("VEVENT")
        assert isinstance(stay.decoded("DTSTART"), datetime)  # our export keeps it timed
        booking.body = calendar(all_day("copy@booking.com", day(10), day(13), CLOSED))
        booking.etag = '"b2"'
        run_sync(make_feed(listing, f"{server.url}/booking.ics", Source.BOOKING))
    copy = Event.objects.get(uid="copy@booking.com")
    assert copy.echo_of_id == Event.objects.get(uid="or1").pk
    assert not Conflict.objects.exists()
