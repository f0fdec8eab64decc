"""The public merged export: GET /calendars/<token>.ics."""

from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest
from django.utils import timezone

from calendars.models import Event, EventStatus, Source
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    day,
    make_feed,
    make_listing,
    run_sync,
    vrbo_feed,
)
from tests.support.http import local_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def listing_with_events(alice, allow_private_urls):
    airbnb = Body(
        airbnb_feed(airbnb_event("a1", 10, 14), airbnb_event("a2", 30, 33, reserved=False))
    )
    vrbo = Body(vrbo_feed(("v1", 20, 24)))
    with local_server({"/airbnb.ics": airbnb, "/vrbo.ics": vrbo}) as server:
        listing = make_listing(alice)
        for name, source in (("airbnb", Source.AIRBNB), ("vrbo", Source.VRBO)):
            run_sync(make_feed(listing, f"{server.url}/{name}.ics", source))
        yield listing


def events_of(body: bytes) -> list:
    return icalendar.Calendar.from_ical(body).walk("VEVENT")


def test_export_merges_blocking_events_with_validators(client, listing_with_events):
    response = client.get(f"/calendars/{listing_with_events.export_token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"]
    assert response["Cache-Control"] == "private, max-age=300"
    events = events_of(response.content)
    assert len(events) == 3
    first = events[0]
    assert first.decoded("DTSTART") == day(10) and first.decoded("DTEND") == day(14)
    assert str(first["UID"]).endswith("@syncbeat.app")
    assert "Maria" not in response.content.decode()  # guests' names stay private
    # Stable: the same request gives the same bytes and ETag.
    again = client.get(f"/calendars/{listing_with_events.export_token}.ics")
    assert again.content == response.content and again["ETag"] == response["ETag"]


def test_matching_if_none_match_gets_304(client, listing_with_events):
    url = f"/calendars/{listing_with_events.export_token}.ics"
    etag = client.get(url)["ETag"]
    response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_etag_changes_when_an_event_is_cancelled(client, listing_with_events):
    url = f"/calendars/{listing_with_events.export_token}.ics"
    before = client.get(url)
    Event.objects.filter(uid="v1").update(
        status=EventStatus.CANCELLED,
        blocking=False,
        changed_at=timezone.now() + timedelta(seconds=2),
    )
    after = client.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert len(events_of(after.content)) == 2


def test_for_channel_leaves_out_its_own_events(client, listing_with_events):
    url = f"/calendars/{listing_with_events.export_token}.ics"
    for_airbnb = events_of(client.get(url, {"for": "airbnb"}).content)
    assert [e.decoded("DTSTART") for e in for_airbnb] == [day(20)]
    for_vrbo = events_of(client.get(url, {"for": "vrbo"}).content)
    assert len(for_vrbo) == 2
    assert client.get(url, {"for": "myspace"}).status_code == 400


def test_feed_with_export_back_off_is_left_out(client, listing_with_events):
    listing_with_events.feeds.filter(source=Source.AIRBNB).update(export_back=False)
    body = client.get(f"/calendars/{listing_with_events.export_token}.ics").content
    assert len(events_of(body)) == 1


def test_export_reimported_as_a_feed_creates_no_events(
    client, listing_with_events, allow_private_urls
):
    body = client.get(f"/calendars/{listing_with_events.export_token}.ics").content
    with local_server({"/echo.ics": Body(body)}) as server:
        echo = make_feed(listing_with_events, f"{server.url}/echo.ics", Source.OTHER)
        attempt = run_sync(echo)
    assert attempt.outcome == "ok"
    assert echo.events.count() == 0
    assert attempt.counts["skipped"] == 3


def test_unknown_token_is_404(client, db):
    assert client.get("/calendars/not-a-real-token.ics").status_code == 404


def test_regenerated_token_retires_the_old_url(client, listing_with_events):
    old = listing_with_events.export_token
    listing_with_events.regenerate_export_token()
    assert client.get(f"/calendars/{old}.ics").status_code == 404
    assert client.get(f"/calendars/{listing_with_events.export_token}.ics").status_code == 200


def test_empty_listing_exports_a_valid_calendar(client, alice):
    listing = make_listing(alice)
    response = client.get(f"/calendars/{listing.export_token}.ics")
    assert response.status_code == 200
    assert events_of(response.content) == []
    assert icalendar.Calendar.from_ical(response.content)["X-WR-CALNAME"] == listing.name
