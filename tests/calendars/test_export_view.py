"""The public merged export: GET /calendars/<token>.ics."""

from __future__ import annotations

import gzip
import http.client
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock
from urllib.parse import urlsplit

import icalendar
import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.http import http_date, parse_http_date

from calendars.models import Event, EventStatus, Listing, Source
from calendars.services import export as export_service
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


def test_regenerated_token_keeps_the_old_url_for_the_grace_period(client, listing_with_events):
    """Issue 12 point 4 (this test pinned "404 at once" before)."""
    first = listing_with_events.export_token
    listing_with_events.regenerate_export_token()
    second = listing_with_events.export_token
    old = client.get(f"/calendars/{first}.ics")
    new = client.get(f"/calendars/{second}.ics")
    assert old.status_code == 200 and new.status_code == 200
    assert old.content == new.content
    expires = listing_with_events.previous_export_expires_at
    assert timedelta(days=6, hours=23) < expires - timezone.now() <= timedelta(days=7)
    # Past the grace period the old link answers 404.
    Listing.objects.filter(pk=listing_with_events.pk).update(
        previous_export_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(f"/calendars/{first}.ics").status_code == 404
    assert client.get(f"/calendars/{second}.ics").status_code == 200


def test_a_second_rotation_replaces_the_previous_link(client, listing_with_events):
    first = listing_with_events.export_token
    listing_with_events.regenerate_export_token()
    second = listing_with_events.export_token
    listing_with_events.regenerate_export_token()
    third = listing_with_events.export_token
    assert client.get(f"/calendars/{first}.ics").status_code == 404
    assert client.get(f"/calendars/{second}.ics").status_code == 200
    assert client.get(f"/calendars/{third}.ics").status_code == 200


def test_no_grace_period_when_the_setting_is_zero(client, listing_with_events, settings):
    settings.EXPORT_LINK_GRACE_DAYS = 0
    old = listing_with_events.export_token
    listing_with_events.regenerate_export_token()
    assert listing_with_events.previous_export_token is None
    assert client.get(f"/calendars/{old}.ics").status_code == 404


def test_empty_listing_exports_a_valid_calendar(client, alice):
    listing = make_listing(alice)
    response = client.get(f"/calendars/{listing.export_token}.ics")
    assert response.status_code == 200
    assert events_of(response.content) == []
    assert icalendar.Calendar.from_ical(response.content)["X-WR-CALNAME"] == listing.name


# --- issue 9 point 16: validators, zero-length events, control characters, gzip ----------


def test_if_modified_since_gets_304_and_if_none_match_wins(client, listing_with_events):
    url = f"/calendars/{listing_with_events.export_token}.ics"
    first = client.get(url)
    last_modified, etag = first["Last-Modified"], first["ETag"]
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    later = http_date(parse_http_date(last_modified) + 3600)
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=later).status_code == 304
    earlier = http_date(parse_http_date(last_modified) - 1)
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200
    assert client.get(url, HTTP_IF_MODIFIED_SINCE="not a date").status_code == 200
    # RFC 9110 13.2.2: when If-None-Match is sent, If-Modified-Since is ignored.
    stale_tag = client.get(url, HTTP_IF_NONE_MATCH='"other"', HTTP_IF_MODIFIED_SINCE=later)
    assert stale_tag.status_code == 200
    fresh_tag = client.get(url, HTTP_IF_NONE_MATCH=etag, HTTP_IF_MODIFIED_SINCE=earlier)
    assert fresh_tag.status_code == 304
    assert fresh_tag["Last-Modified"] == last_modified and fresh_tag["ETag"] == etag


def test_last_modified_rises_when_the_body_changes_and_only_then(client, listing_with_events):
    url = f"/calendars/{listing_with_events.export_token}.ics"
    first = client.get(url)
    assert client.get(url)["Last-Modified"] == first["Last-Modified"]  # same body
    seen = [parse_http_date(first["Last-Modified"])]
    # An event cancelled, then a whole feed deleted: Max(changed_at) would go back; the
    # export's Last-Modified goes forward each time.
    Event.objects.filter(uid="v1").update(status=EventStatus.CANCELLED, blocking=False)
    after_cancel = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert after_cancel.status_code == 200
    seen.append(parse_http_date(after_cancel["Last-Modified"]))
    listing_with_events.feeds.filter(source=Source.AIRBNB).delete()
    after_delete = client.get(url, HTTP_IF_MODIFIED_SINCE=after_cancel["Last-Modified"])
    assert after_delete.status_code == 200 and events_of(after_delete.content) == []
    seen.append(parse_http_date(after_delete["Last-Modified"]))
    assert seen == sorted(set(seen))  # strictly rising
    assert len({first["ETag"], after_cancel["ETag"], after_delete["ETag"]}) == 3
    state = Listing.objects.get(pk=listing_with_events.pk).export_state[""]
    assert set(state) >= {"digest", "modified", "fetched"}
    assert after_delete["ETag"] == f'"{state["digest"][:40]}"'


def test_each_variant_records_when_it_was_fetched_at_most_every_few_minutes(
    client, listing_with_events
):
    url = f"/calendars/{listing_with_events.export_token}.ics"
    client.get(url, {"for": "booking"})
    listing = Listing.objects.get(pk=listing_with_events.pk)
    assert set(listing.export_state) == {"booking"}
    fetched = datetime.fromisoformat(listing.export_state["booking"]["fetched"])
    assert timezone.now() - fetched < timedelta(seconds=30)
    # Polled again a moment later: no write.
    client.get(url, {"for": "booking"})
    listing.refresh_from_db()
    assert datetime.fromisoformat(listing.export_state["booking"]["fetched"]) == fetched
    # Six minutes on, the next poll (a 304 too) is recorded.
    old = (fetched - timedelta(minutes=6)).isoformat()
    states = listing.export_state
    states["booking"]["fetched"] = old
    Listing.objects.filter(pk=listing.pk).update(export_state=states)
    etag = client.get(url, {"for": "booking"})["ETag"]
    response = client.get(url, {"for": "booking"}, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    listing.refresh_from_db()
    assert datetime.fromisoformat(listing.export_state["booking"]["fetched"]) > fetched
    client.get(url)
    listing.refresh_from_db()
    assert set(listing.export_state) == {"booking", ""}


def test_timed_events_that_hold_no_night_are_left_out(client, alice, allow_private_urls):
    """A zero-length event and a cleaning between check-out (11:00) and check-in (15:00)
    take no night; an evening event does. In the listing's zone (New York)."""
    day = (timezone.now() + timedelta(days=3)).strftime("%Y%m%d")

    def vevent(uid: str, start: str, end: str, summary: str) -> str:
        return (
            f"BEGIN:VEVENT\r\nUID:{uid}@google.com\r\nDTSTART;TZID=America/New_York:{day}T"
            f"{start}\r\nDTEND;TZID=America/New_York:{day}T{end}\r\nSUMMARY:{summary}\r\n"
            "END:VEVENT\r\n"
        )

    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar//EN\r\n"
        + vevent("zero", "100000", "100000", "Key handover")
        + vevent("clean", "110000", "140000", "Cleaning")
        + vevent("evening", "180000", "210000", "Owner visit")
        + "END:VCALENDAR\r\n"
    ).encode()
    with local_server({"/g.ics": Body(body)}) as server:
        listing = make_listing(alice, tz="America/New_York")
        run_sync(make_feed(listing, f"{server.url}/g.ics", Source.GOOGLE))
    zero = Event.objects.get(uid="zero@google.com")
    assert zero.start == zero.end  # imported as it is, left out of the export only
    assert Event.objects.filter(uid="clean@google.com", blocking=True).exists()
    exported = events_of(client.get(f"/calendars/{listing.export_token}.ics").content)
    assert len(exported) == 1
    assert exported[0].decoded("DTSTART").hour == 23  # 18:00 in New York, in UTC
    # The stay window decides: with check-in at 10:00 the cleaning holds a night.
    Listing.objects.filter(pk=listing.pk).update(check_in_time=clock(10, 0))
    assert len(events_of(client.get(f"/calendars/{listing.export_token}.ics").content)) == 2


def test_control_characters_in_the_listing_name_never_break_the_feed(client, listing_with_events):
    Listing.objects.filter(pk=listing_with_events.pk).update(
        # (PostgreSQL text holds no NUL; the builder's own test covers it.)
        name="Beach\r\nhouse \x07 \x1bsea\tview\x7f"
    )
    response = client.get(f"/calendars/{listing_with_events.export_token}.ics")
    assert response.status_code == 200
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "Beach house sea view"
    assert len(calendar.walk("VEVENT")) == 3
    for byte in range(32):
        if byte not in (10, 13):
            assert bytes([byte]) not in response.content


@pytest.mark.django_db(transaction=True)
def test_gzip_over_http_with_validators_per_representation(live_server, listing_with_events):
    url = f"{live_server.url}/calendars/{listing_with_events.export_token}.ics"
    plain = http_get(url)
    assert plain.status == 200 and "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    zipped = http_get(url, {"Accept-Encoding": "gzip, deflate"})
    assert zipped.status == 200 and zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.body) == plain.body
    assert len(zipped.body) < len(plain.body)
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # two representations
    assert zipped.headers["Last-Modified"] == plain.headers["Last-Modified"]
    for headers in (
        {"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]},
        {"Accept-Encoding": "gzip", "If-Modified-Since": zipped.headers["Last-Modified"]},
        {"If-None-Match": plain.headers["ETag"]},
    ):
        again = http_get(url, headers)
        assert again.status == 304 and again.body == b""
        assert again.headers["Vary"] == "Accept-Encoding"
    refused = http_get(url, {"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers and refused.body == plain.body
    # The same bytes twice (mtime=0): the gzip ETag names one byte sequence.
    assert http_get(url, {"Accept-Encoding": "gzip"}).body == zipped.body


@dataclass
class Got:
    status: int
    headers: dict
    body: bytes


def http_get(url: str, headers: dict | None = None) -> Got:
    """A plain GET over a real socket; no decoding of the body."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}", headers=headers or {})
        response = connection.getresponse()
        return Got(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


@pytest.mark.postgres  # row locks (SQLite locks the whole database)
@pytest.mark.django_db(transaction=True)
def test_an_import_holding_the_listing_lock_never_blocks_the_export(client, listing_with_events):
    url = f"/calendars/{listing_with_events.export_token}.ics"
    Listing.objects.filter(pk=listing_with_events.pk).update(export_state={})
    held, release = threading.Event(), threading.Event()

    def hold_the_lock():  # what an import does for its whole transaction
        try:
            with transaction.atomic():
                Listing.objects.select_for_update().get(pk=listing_with_events.pk)
                held.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        during = client.get(url)
        assert during.status_code == 200 and time.monotonic() - started < 2
        assert Listing.objects.get(pk=listing_with_events.pk).export_state == {}  # not saved
    finally:
        release.set()
        holder.join(10)
    after = client.get(url)
    assert after["ETag"] == during["ETag"]
    assert parse_http_date(after["Last-Modified"]) >= parse_http_date(during["Last-Modified"])
    assert set(Listing.objects.get(pk=listing_with_events.pk).export_state) == {""}


def test_an_unchanged_export_is_answered_without_building_the_body(client, listing_with_events):
    """Issue 13 goal 2: the validators come from export_state while the rows' digest is the
    one the body was built from; the 200 body comes from the cache."""
    first = export_service.export_document(listing_with_events)
    assert first.body is not None  # built once
    listing = Listing.objects.get(pk=listing_with_events.pk)
    again = export_service.export_document(listing)
    assert again.body is None and again.digest == first.digest
    assert export_service.export_body(listing, again) == first.body  # from the cache
    zipped = export_service.export_body(listing, again, gzipped=True)
    assert gzip.decompress(zipped) == first.body
    cache.clear()  # evicted: built again, the same bytes
    assert export_service.export_body(listing, again) == first.body
    assert export_service.export_body(listing, again, gzipped=True) == zipped
    # Any change to what the body is built from is seen without building it.
    Event.objects.filter(uid="v1").update(changed_at=timezone.now() + timedelta(seconds=5))
    changed = export_service.export_document(Listing.objects.get(pk=listing.pk))
    assert changed.body is not None and changed.digest != first.digest
    Listing.objects.filter(pk=listing.pk).update(name="Renamed")
    renamed = export_service.export_document(Listing.objects.get(pk=listing.pk))
    assert renamed.body is not None and b"Renamed" in renamed.body
    url = f"/calendars/{listing.export_token}.ics"
    assert client.get(url).content == renamed.body


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("br;q=1, *;q=0.1", True),
        ("", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *", False),
        ("*;q=0", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_with_its_q_values(header, gzip_ok):
    assert export_service.accepts_gzip(header) is gzip_ok


def test_the_owners_kind_names_what_is_exported(client, listing_with_events):
    """A block the owner marks as a reservation is exported as "Reserved", and a booking
    marked as a block as "Not available" (the owner's word over the channel's wording)."""
    url = f"/calendars/{listing_with_events.export_token}.ics"

    def summaries() -> dict:
        return {e.decoded("DTSTART"): str(e["SUMMARY"]) for e in events_of(client.get(url).content)}

    before = summaries()
    assert before[day(10)] == "Reserved" and before[day(30)] == "Not available"
    Event.objects.filter(uid__startswith="a2").update(kind_override="reservation")
    Event.objects.filter(uid__startswith="a1").update(kind_override="block")
    after = summaries()
    assert after[day(30)] == "Reserved" and after[day(10)] == "Not available"
