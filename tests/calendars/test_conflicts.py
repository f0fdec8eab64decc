"""Double bookings across channels: opened once, emailed once, resolved by themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail

from calendars.models import Conflict, Event, EventKind, EventStatus, Source
from calendars.services.conflicts import NightRun, detect_conflicts, night_pairs
from calendars.services.nights import StayWindow
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
    # The shared nights, from the first one's check-in to the last one's check-out, in the
    # listing's zone (Europe/Lisbon, 15:00 and 11:00).
    window = StayWindow.of(listing)
    assert conflict.overlap_start == window.check_in_at(b.start_value)
    assert conflict.overlap_end == window.check_out_at(a.end_value - timedelta(days=1))
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
    end = start.replace(year=start.year + 1)
    e1, e2 = (
        Event.objects.create(feed=f, uid=uid, start=start, end=end, kind=EventKind.RESERVATION)
        for f, uid in ((f1, "1"), (f2, "2"))
    )
    assert detect_conflicts(listing.pk, now=now).opened == 1
    Event.objects.filter(pk=e2.pk).update(status=EventStatus.CANCELLED, blocking=False)
    assert detect_conflicts(listing.pk, now=now).resolved == 1
    Event.objects.filter(pk=e2.pk).update(status=EventStatus.CONFIRMED, blocking=True)
    assert detect_conflicts(listing.pk, now=now).opened == 1
    assert Conflict.objects.filter(event_a=e1, event_b=e2).count() == 2
    assert Conflict.objects.filter(resolved_at__isnull=True).count() == 1


def test_night_pairs_sweep_by_kind():
    d = [date(2030, 1, n) for n in range(1, 12)]
    res, block, owner, care = (
        EventKind.RESERVATION,
        EventKind.BLOCK,
        EventKind.OWNER_STAY,
        EventKind.MAINTENANCE,
    )
    runs = [
        NightRun(1, 1, res, d[0], d[4]),  # feed 1: nights 1..4
        NightRun(2, 2, res, d[3], d[5]),  # feed 2: shares night 4 with 1
        NightRun(3, 3, block, d[4], d[6]),  # feed 3 block: shares night 5 with 2, touches 1
        NightRun(4, 2, block, d[0], d[2]),  # feed 2 block vs feed 1 reservation: real
        NightRun(5, 3, block, d[0], d[2]),  # block + block (4): never
        NightRun(6, 1, care, d[4], d[5]),  # maintenance: never
        NightRun(7, 4, owner, d[8], d[10]),  # owner stay vs reservation 8: like a block
        NightRun(8, 1, res, d[9], d[10]),
        NightRun(9, 1, block, d[9], d[10]),  # same feed as 8: never
    ]
    assert night_pairs(runs) == {
        (1, 2): (d[3], d[4]),
        (2, 3): (d[4], d[5]),
        (1, 4): (d[0], d[2]),
        (1, 5): (d[0], d[2]),
        (7, 8): (d[9], d[10]),
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
