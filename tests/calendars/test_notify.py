"""The double-booking email stays short however many conflicts one import finds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from calendars.models import Conflict, Event, Feed, Listing, Source
from calendars.services.dismissals import conflict_dismiss
from calendars.services.notify import MAX_LISTED, notify_new_conflicts
from syncing.models import WebhookDelivery
from syncing.webhooks.services import endpoint_create
from tests.calendars.test_import import Body, make_feed, run_sync
from tests.calendars.test_nights import all_day, calendar, local, timed
from tests.support.http import local_server

pytestmark = pytest.mark.django_db


def make_conflicts(owner, count: int) -> Listing:
    listing = Listing.objects.create(owner=owner, name="Busy flat")
    feeds = [
        Feed.objects.create(listing=listing, url=f"https://example.com/{n}.ics", tier="6h")
        for n in range(2)
    ]
    base = datetime(2030, 1, 1, tzinfo=UTC)
    for n in range(count):
        start = base + timedelta(days=3 * n)
        a, b = (
            Event.objects.create(
                feed=feed, uid=f"{n}-{feed.pk}", start=start, end=start + timedelta(days=2)
            )
            for feed in feeds
        )
        Conflict.objects.create(
            listing=listing,
            event_a=a,
            event_b=b,
            overlap_start=start,
            overlap_end=start + timedelta(days=2),
        )
    return listing


def test_email_lists_at_most_twenty_conflicts_then_links_to_the_rest(alice, settings):
    settings.SITE_URL = "https://syncbeat.example"
    listing = make_conflicts(alice, MAX_LISTED + 14)
    assert notify_new_conflicts(listing.pk) == MAX_LISTED + 14
    (email,) = mail.outbox
    assert f"{MAX_LISTED + 14} double bookings" in email.subject
    assert email.body.count("\n- ") == MAX_LISTED
    assert "and 14 more" in email.body
    assert f"https://syncbeat.example{reverse('calendars:conflicts')}" in email.body
    assert Conflict.objects.filter(notified_at__isnull=True).count() == 0


def test_email_with_few_conflicts_lists_them_all(alice):
    listing = make_conflicts(alice, 3)
    assert notify_new_conflicts(listing.pk) == 3
    (email,) = mail.outbox
    assert email.body.count("\n- ") == 3
    assert "more" not in email.body


def test_a_dismissed_conflict_is_never_announced(alice):
    listing = make_conflicts(alice, 3)
    first = Conflict.objects.order_by("overlap_start").first()
    conflict_dismiss(first, note="Same family")
    assert notify_new_conflicts(listing.pk) == 2
    (email,) = mail.outbox
    assert email.body.count("\n- ") == 2
    assert Conflict.objects.get(pk=first.pk).notified_at is None


def test_only_real_double_bookings_email_and_call_webhooks(
    alice, allow_private_urls, django_capture_on_commit_callbacks
):
    """Two channels blocking the same dates, a cleaning slot on a check-out morning and an
    evening before check-in say nothing; a reservation on a night of another's stay does."""
    hook = endpoint_create(alice, url="https://hooks.example.com/c", events=["conflict.opened"])
    tz = "America/Los_Angeles"
    stay = all_day("r1", date(2027, 6, 10), date(2027, 6, 13), "Reserved")
    quiet = calendar(
        all_day("b1", date(2027, 6, 20), date(2027, 6, 22), "Blocked"),
        timed("c1", local(tz, date(2027, 6, 13), 10), local(tz, date(2027, 6, 13), 13), "Busy"),
        timed("e1", local(tz, date(2027, 6, 9), 18), local(tz, date(2027, 6, 9), 21), "Busy"),
    )
    airbnb = Body(
        calendar(
            stay, all_day("b0", date(2027, 6, 20), date(2027, 6, 22), "Airbnb (Not available)")
        )
    )
    other = Body(quiet)
    with local_server({"/a.ics": airbnb, "/o.ics": other}) as server:
        listing = Listing.objects.create(owner=alice, name="Canyon house", timezone=tz)
        feeds = [
            make_feed(listing, f"{server.url}/a.ics", Source.AIRBNB),
            make_feed(listing, f"{server.url}/o.ics", Source.VRBO),
        ]
        with django_capture_on_commit_callbacks(execute=True):
            for feed in feeds:
                run_sync(feed)
        assert not Conflict.objects.exists()
        assert mail.outbox == [] and not WebhookDelivery.objects.filter(endpoint=hook).exists()

        other.body = calendar(all_day("v1", date(2027, 6, 12), date(2027, 6, 15)))
        other.etag = '"v2"'
        with django_capture_on_commit_callbacks(execute=True):
            run_sync(feeds[1])
    conflict = Conflict.objects.get()
    assert len(mail.outbox) == 1
    assert [d.payload["conflict"] for d in WebhookDelivery.objects.filter(endpoint=hook)] == [
        conflict.pk
    ]
