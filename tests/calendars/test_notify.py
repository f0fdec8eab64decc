"""The double-booking email stays short however many conflicts one import finds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from calendars.models import Conflict, Event, Feed, Listing
from calendars.services.notify import MAX_LISTED, notify_new_conflicts

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
