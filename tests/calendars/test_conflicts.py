"""Double bookings across channels: opened once, emailed once, resolved by themselves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail

from calendars.models import Conflict, Event, EventStatus, Source
from calendars.services.conflicts import detect_conflicts, overlapping_pairs
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    ics_date,
    make_feed,
    make_listing,
    run_sync,
    vrbo_feed,
)
from tests.support.http import local_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_channels(alice, allow_private_urls):
    """Alice's listing with an Airbnb feed and a VRBO feed served locally."""
    airbnb = Body(airbnb_feed(airbnb_event("a1", 10, 14)))
    vrbo = Body(vrbo_feed(("v1", 20, 24)))
    with local_server({"/airbnb.ics": airbnb, "/vrbo.ics": vrbo}) as server:
        listing = make_listing(alice)
        feeds = {
            "airbnb": make_feed(listing, f"{server.url}/airbnb.ics", Source.AIRBNB),
            "vrbo": make_feed(listing, f"{server.url}/vrbo.ics", Source.VRBO),
        }
        yield listing, feeds, {"airbnb": airbnb, "vrbo": vrbo}


def sync_all(feeds, capture):
    with capture(execute=True):
        return {name: run_sync(feed) for name, feed in feeds.items()}


def test_overlap_across_channels_opens_once_emails_once_then_resolves(
    two_channels, django_capture_on_commit_callbacks
):
    listing, feeds, routes = two_channels
    sync_all(feeds, django_capture_on_commit_callbacks)
    assert not Conflict.objects.exists()

    # VRBO takes a booking that overlaps Airbnb's 10..14 (12..16).
    routes["vrbo"].body, routes["vrbo"].etag = vrbo_feed(("v1", 20, 24), ("v2", 12, 16)), '"v2"'
    attempts = sync_all(feeds, django_capture_on_commit_callbacks)
    assert attempts["vrbo"].counts["conflicts_opened"] == 1
    conflict = Conflict.objects.get()
    a, b = Event.objects.get(uid="a1@airbnb.com"), Event.objects.get(uid="v2")
    assert (conflict.event_a_id, conflict.event_b_id) == tuple(sorted([a.pk, b.pk]))
    assert conflict.overlap_start == datetime.combine(b.start_value, datetime.min.time(), UTC)
    assert conflict.overlap_end == datetime.combine(a.end_value, datetime.min.time(), UTC)
    assert conflict.listing == listing and conflict.notified_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert listing.name in mail.outbox[0].subject

    # Another change elsewhere in the feed: the conflict stays one, no second email.
    routes["vrbo"].body, routes["vrbo"].etag = (
        vrbo_feed(("v1", 21, 24), ("v2", 12, 16)),
        '"v3"',
    )
    sync_all(feeds, django_capture_on_commit_callbacks)
    assert Conflict.objects.count() == 1
    assert len(mail.outbox) == 1

    # Airbnb's guest cancels: the conflict resolves itself.
    routes["airbnb"].body, routes["airbnb"].etag = airbnb_feed(), '"a2"'
    attempts = sync_all(feeds, django_capture_on_commit_callbacks)
    assert attempts["airbnb"].counts["conflicts_resolved"] == 1
    conflict.refresh_from_db()
    assert conflict.resolved_at is not None
    assert Event.objects.get(uid="a1@airbnb.com").status == EventStatus.CANCELLED


def test_checkout_day_equal_to_checkin_day_is_not_a_conflict(
    two_channels, django_capture_on_commit_callbacks
):
    listing, feeds, routes = two_channels
    # Airbnb 10..14 (checkout on the 14th), VRBO checks in on the 14th.
    routes["vrbo"].body = vrbo_feed(("v1", 14, 18), ("v0", 6, 10))
    sync_all(feeds, django_capture_on_commit_callbacks)
    assert Event.objects.filter(blocking=True).count() == 3
    assert not Conflict.objects.exists()
    assert mail.outbox == []


def test_overlap_within_one_feed_is_not_a_conflict(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("a1", 10, 14), airbnb_event("a2", 12, 16)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
    assert not Conflict.objects.exists()


def test_non_blocking_events_never_conflict(two_channels, django_capture_on_commit_callbacks):
    listing, feeds, routes = two_channels
    transparent = (
        "BEGIN:VEVENT\nUID:t1@airbnb.com\nTRANSP:TRANSPARENT\nSUMMARY:Note\n"
        f"DTSTART;VALUE=DATE:{ics_date(20)}\n"
        "DURATION:P2D\nEND:VEVENT\n"
    )
    routes["airbnb"].body = airbnb_feed(transparent)
    sync_all(feeds, django_capture_on_commit_callbacks)
    assert Event.objects.get(uid="t1@airbnb.com").blocking is False
    assert not Conflict.objects.exists()


def test_detection_reopens_after_a_resolved_overlap_returns(alice):
    listing = make_listing(alice)
    f1 = make_feed(listing, "https://www.airbnb.com/calendar/ical/1.ics")
    f2 = make_feed(listing, "https://www.vrbo.com/icalendar/2.ics")
    now = datetime.now(UTC)
    start = now.replace(microsecond=0)
    e1 = Event.objects.create(feed=f1, uid="1", start=start, end=start.replace(year=start.year + 1))
    e2 = Event.objects.create(feed=f2, uid="2", start=start, end=start.replace(year=start.year + 1))
    assert detect_conflicts(listing.pk, now=now).opened == 1
    Event.objects.filter(pk=e2.pk).update(status=EventStatus.CANCELLED, blocking=False)
    assert detect_conflicts(listing.pk, now=now).resolved == 1
    Event.objects.filter(pk=e2.pk).update(status=EventStatus.CONFIRMED, blocking=True)
    assert detect_conflicts(listing.pk, now=now).opened == 1
    assert Conflict.objects.filter(event_a=e1, event_b=e2).count() == 2
    assert Conflict.objects.filter(resolved_at__isnull=True).count() == 1


def test_overlapping_pairs_sweep():
    t = [datetime(2030, 1, d, tzinfo=UTC) for d in range(1, 11)]
    events = [
        (1, 1, t[0], t[4]),  # feed 1: 1..5
        (2, 2, t[3], t[5]),  # feed 2: 4..6 overlaps 1
        (3, 3, t[4], t[6]),  # feed 3: 5..7 overlaps 2 only (touches 1)
        (4, 1, t[7], t[7]),  # zero length
        (5, 2, t[8], t[9]),
    ]
    assert overlapping_pairs(events) == {
        (1, 2): (t[3], t[4]),
        (2, 3): (t[4], t[5]),
    }


def test_the_owner_status_page_names_open_double_bookings(
    two_channels, django_capture_on_commit_callbacks, client, alice, bob
):
    listing, feeds, routes = two_channels
    routes["vrbo"].body, routes["vrbo"].etag = vrbo_feed(("v2", 12, 16)), '"v2"'
    sync_all(feeds, django_capture_on_commit_callbacks)
    client.force_login(alice)
    page = client.get("/status/").content.decode()
    assert f"{listing.name}: 1 double booking between channels to sort out." in page
    client.force_login(bob)
    assert "double booking" not in client.get("/status/").content.decode()
