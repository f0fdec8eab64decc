"""Models, registration with the engine, the demo seeder, the admin and the pause notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from calendars.demo import seed
from calendars.kinds import FEED_KIND
from calendars.models import (
    Conflict,
    Event,
    Listing,
    Source,
    guess_source,
    validate_feed_url,
    validate_timezone,
)
from calendars.services.notify import feed_paused
from syncing.demo import seeders
from syncing.kinds import get_kind
from syncing.models import Tier
from tests.calendars.test_import import make_feed, make_listing

pytestmark = pytest.mark.django_db


def test_kind_is_registered_with_its_tiers():
    kind = get_kind(FEED_KIND)
    assert kind.queue == "io" and kind.owner_path == "listing__owner"
    assert kind.plan_tiers == {
        "free": "6h",
        "starter": "3h",
        "pro": "1h",
        "business": "15m",
        "realtime": "5m",
    }
    intervals = dict(Tier.objects.filter(kind=FEED_KIND).values_list("name", "interval"))
    assert intervals == {
        "6h": timedelta(hours=6),
        "3h": timedelta(hours=3),
        "1h": timedelta(hours=1),
        "15m": timedelta(minutes=15),
        "5m": timedelta(minutes=5),
    }
    assert "calendars" in dict(seeders())


def test_export_tokens_are_long_random_and_unique(alice):
    a, b = make_listing(alice), make_listing(alice, name="Other")
    assert len(a.export_token) >= 32 and a.export_token != b.export_token
    old = a.export_token
    a.regenerate_export_token()
    a.refresh_from_db()
    assert a.export_token != old


@pytest.mark.parametrize("value", ["Europe/Lisbon", "UTC", "America/Argentina/Buenos_Aires"])
def test_known_time_zones_pass(value):
    validate_timezone(value)


@pytest.mark.parametrize("value", ["Mars/Olympus", "", "../etc/passwd", "Europe/"])
def test_unknown_time_zones_fail(value):
    with pytest.raises(ValidationError):
        validate_timezone(value)


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://www.airbnb.com/calendar/ical/1.ics?s=abc", True),
        ("http://example.com/a.ics", True),
        ("webcal://p01-calendars.icloud.com/x", True),
        ("ftp://example.com/a.ics", False),
        ("https:///nohost", False),
        ("https://a:b@example.com/", False),
    ],
)
def test_feed_url_validation(url, ok):
    if ok:
        validate_feed_url(url)
    else:
        with pytest.raises(ValidationError):
            validate_feed_url(url)


@pytest.mark.parametrize(
    "url, source",
    [
        ("https://www.airbnb.co.uk/calendar/ical/1.ics", Source.AIRBNB),
        ("http://www.vrbo.com/icalendar/abc.ics", Source.VRBO),
        ("https://admin.booking.com/hotel/hoteladmin/ical.html?t=x", Source.BOOKING),
        ("https://calendar.google.com/calendar/ical/x/basic.ics", Source.GOOGLE),
        ("http://127.0.0.1:8200/feeds/3.ics?style=booking", Source.BOOKING),
        ("https://example.com/cal.ics", Source.OTHER),
    ],
)
def test_source_is_guessed_from_the_url(url, source):
    assert guess_source(url) == source


def test_event_uid_is_unique_per_feed(alice):
    feed = make_feed(make_listing(alice), "https://www.airbnb.com/calendar/ical/1.ics")
    start = datetime(2030, 1, 1, tzinfo=UTC)
    Event.objects.create(feed=feed, uid="x", start=start, end=start)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(feed=feed, uid="x", start=start, end=start)


def test_conflict_pair_is_ordered_and_open_once(alice):
    listing = make_listing(alice)
    feed = make_feed(listing, "https://www.airbnb.com/calendar/ical/1.ics")
    start = datetime(2030, 1, 1, tzinfo=UTC)
    a = Event.objects.create(feed=feed, uid="a", start=start, end=start)
    b = Event.objects.create(feed=feed, uid="b", start=start, end=start)
    span = {"overlap_start": start, "overlap_end": start}
    with pytest.raises(IntegrityError), transaction.atomic():
        Conflict.objects.create(listing=listing, event_a=b, event_b=a, **span)
    Conflict.objects.create(listing=listing, event_a=a, event_b=b, **span)
    with pytest.raises(IntegrityError), transaction.atomic():
        Conflict.objects.create(listing=listing, event_a=a, event_b=b, **span)
    Conflict.objects.filter(event_a=a).update(resolved_at=start)
    Conflict.objects.create(listing=listing, event_a=a, event_b=b, **span)  # a new episode


def test_demo_seeder_is_idempotent(alice):
    assert seed(alice) == 5
    assert seed(alice) == 0
    assert Listing.objects.filter(owner=alice).count() == 2
    urls = list(alice.listings.values_list("feeds__url", flat=True))
    assert all(u.startswith("http://127.0.0.1:8200/feeds/") for u in urls)
    assert {guess_source(u) for u in urls} == {"airbnb", "vrbo", "booking", "google"}


def test_pause_hook_emails_the_owner(alice):
    feed = make_feed(make_listing(alice), "https://www.airbnb.com/calendar/ical/1.ics")
    feed_paused(feed, "Paused after 10 failures in a row. Last error: HTTP 404")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "HTTP 404" in mail.outbox[0].body and "paused" in mail.outbox[0].subject


def test_admin_pages_render(client, staff, alice):
    listing = make_listing(alice)
    feed = make_feed(listing, "https://www.airbnb.com/calendar/ical/1.ics")
    client.force_login(staff)
    for url in (
        "/admin/calendars/listing/",
        f"/admin/calendars/listing/{listing.pk}/change/",
        "/admin/calendars/feed/",
        f"/admin/calendars/feed/{feed.pk}/change/",
        "/admin/calendars/event/",
        "/admin/calendars/conflict/?state=open",
        "/admin/calendars/feed/?q=airbnb",
    ):
        assert client.get(url).status_code == 200, url
    response = client.post(
        "/admin/calendars/feed/",
        {"action": "set_tier_5m", "_selected_action": [feed.pk]},
    )
    assert response.status_code == 302
    feed.refresh_from_db()
    assert feed.tier == "5m"


def test_an_event_reads_as_its_summary_and_dates_or_utc_minutes():
    start = datetime(2030, 1, 1, 15, 0, 7, 494544, tzinfo=UTC)
    timed = Event(uid="t", summary="Reserved", start=start, end=start + timedelta(days=3))
    assert str(timed) == "Reserved (2030-01-01 15:00 to 2030-01-04 15:00 UTC)"
    midnight = datetime(2030, 1, 1, tzinfo=UTC)
    day = Event(uid="d", start=midnight, end=midnight + timedelta(days=2), all_day=True)
    assert str(day) == "d (2030-01-01 to 2030-01-03)"
    # The end of the range, and an instant given in another zone (read in UTC).
    last = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    paris = datetime(2030, 7, 1, 2, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert str(Event(uid="x", start=paris, end=last)) == (
        "x (2030-07-01 00:30 to 9999-12-31 23:59 UTC)"
    )
