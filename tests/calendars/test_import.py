"""Importing feeds through the engine: fetch, parse, upsert, cancel, fail safely.

Feeds are served by a local HTTP server in each channel's style; the engine runs inline
(claim_one + run_claimed), exactly as a worker would.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta

import pytest

from calendars.kinds import FEED_KIND
from calendars.models import Event, EventKind, EventStatus, Feed, Listing, Source
from calendars.services.listings import feed_create
from syncing.kinds import get_kind
from syncing.services.claims import claim_one
from syncing.services.runs import run_claimed
from tests.support.http import Reply, local_server

pytestmark = pytest.mark.django_db

ICS_TYPE = {"Content-Type": "text/calendar; charset=utf-8"}


def day(offset: int) -> date:
    return date.today() + timedelta(days=offset)


def ics_date(offset: int) -> str:
    return day(offset).strftime("%Y%m%d")


def airbnb_event(uid: str, start: int, end: int, *, reserved: bool = True) -> str:
    if reserved:
        summary = "Reserved"
        description = (
            "DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/"
            "details/HM4XQ2\\nPhone Number (Last 4 Digits): 4321\n"
        )
    else:
        summary, description = "Airbnb (Not available)", ""
    return (
        "BEGIN:VEVENT\n"
        f"DTEND;VALUE=DATE:{ics_date(end)}\n"
        f"DTSTART;VALUE=DATE:{ics_date(start)}\n"
        f"UID:{uid}@airbnb.com\n"
        f"{description}"
        f"SUMMARY:{summary}\n"
        "END:VEVENT\n"
    )


def airbnb_feed(*events: str) -> bytes:
    text = (
        "BEGIN:VCALENDAR\nPRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN\n"
        "CALSCALE:GREGORIAN\nVERSION:2.0\n" + "".join(events) + "END:VCALENDAR\n"
    )
    return text.replace("\n", "\r\n").encode()


def vrbo_feed(*events: tuple[str, int, int]) -> bytes:
    parts = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//HomeAway.com, Inc.//EN",
        "CALSCALE:GREGORIAN",
    ]
    for uid, start, end in events:
        parts += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20250101T000000Z",
            f"DTSTART;VALUE=DATE:{ics_date(start)}",
            f"DTEND;VALUE=DATE:{ics_date(end)}",
            "SUMMARY:Reserved - Maria",
            "END:VEVENT",
        ]
    parts.append("END:VCALENDAR")
    return ("\r\n".join(parts) + "\r\n").encode()


def make_listing(owner, name: str = "Seaside cottage", tz: str = "Europe/Lisbon") -> Listing:
    return Listing.objects.create(owner=owner, name=name, timezone=tz)


def make_feed(listing: Listing, url: str, source: str = "") -> Feed:
    return feed_create(listing=listing, url=url, source=source)


def run_sync(feed: Feed):
    """One inline sync of ``feed`` through the engine; returns the saved SyncAttempt."""
    claim = claim_one(get_kind(FEED_KIND), feed.pk, force=True)
    assert claim.pks == [feed.pk]
    report = run_claimed(FEED_KIND, claim.token, claim.pks)
    assert len(report.attempts) == 1
    feed.refresh_from_db()
    return report.attempts[0]


class Body:
    """A mutable route: the feed's current body, with an ETag, honouring If-None-Match."""

    def __init__(
        self, body: bytes, *, etag: str = '"v1"', content_type: str = ICS_TYPE["Content-Type"]
    ):
        self.body = body
        self.etag = etag
        self.content_type = content_type
        self.status = 200

    def __call__(self, seen) -> Reply:
        if self.status != 200:
            return Reply(self.status, b"gone")
        if self.etag and seen.headers.get("if-none-match") == self.etag:
            return Reply(304, b"", {"ETag": self.etag})
        headers = {"Content-Type": self.content_type}
        if self.etag:
            headers["ETag"] = self.etag
        return Reply(200, self.body, headers)


def test_first_import_creates_events_with_channel_semantics(alice, allow_private_urls):
    body = airbnb_feed(airbnb_event("r1", 5, 9), airbnb_event("b1", 20, 23, reserved=False))
    with local_server({"/airbnb.ics": Body(body)}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/airbnb.ics", Source.AIRBNB)
        attempt = run_sync(feed)
    assert attempt.outcome == "ok", attempt.message
    assert attempt.counts["created"] == 2
    assert attempt.items_changed == 2
    reserved = Event.objects.get(feed=feed, uid="r1@airbnb.com")
    assert reserved.all_day is True
    assert reserved.start_value == day(5) and reserved.end_value == day(9)
    assert reserved.kind == EventKind.RESERVATION
    assert reserved.status == EventStatus.CONFIRMED and reserved.blocking
    block = Event.objects.get(feed=feed, uid="b1@airbnb.com")
    assert block.kind == EventKind.BLOCK
    assert feed.etag == '"v1"' and feed.content_hash
    assert feed.last_success_at is not None


def test_feed_tier_follows_the_owner_plan(alice, charlie):
    assert make_feed(make_listing(alice), "https://www.airbnb.com/calendar/ical/1.ics").tier == "1h"
    feed = make_feed(make_listing(charlie), "https://www.airbnb.com/calendar/ical/2.ics")
    assert feed.tier == "6h"
    assert feed.source == Source.AIRBNB  # guessed from the host


def test_304_is_not_modified_and_writes_nothing(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        before = list(Event.objects.values_list("pk", "last_seen", "changed_at"))
        attempt = run_sync(feed)
        assert server.requests[-1].headers.get("if-none-match") == '"v1"'
    assert attempt.outcome == "not_modified"
    assert attempt.http_status == 304
    assert list(Event.objects.values_list("pk", "last_seen", "changed_at")) == before


def test_same_body_without_validators_is_not_modified_by_hash(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9)), etag="")
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        before = list(Event.objects.values_list("pk", "last_seen"))
        attempt = run_sync(feed)
    assert attempt.outcome == "not_modified"
    assert set(attempt.counts) == {"cpu_ms"}  # nothing parsed, nothing counted
    assert list(Event.objects.values_list("pk", "last_seen")) == before


def test_removed_event_is_cancelled_and_comes_back(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9), airbnb_event("r2", 12, 15)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        route.body, route.etag = airbnb_feed(airbnb_event("r1", 5, 9)), '"v2"'
        attempt = run_sync(feed)
        gone = Event.objects.get(uid="r2@airbnb.com")
        assert attempt.counts["cancelled"] == 1
        assert attempt.counts["unchanged"] == 1
        assert gone.status == EventStatus.CANCELLED
        assert gone.blocking is False and gone.cancelled_at is not None
        assert Event.objects.get(uid="r1@airbnb.com").status == EventStatus.CONFIRMED

        route.body, route.etag = (
            airbnb_feed(airbnb_event("r1", 5, 9), airbnb_event("r2", 12, 15)),
            '"v3"',
        )
        attempt = run_sync(feed)
    back = Event.objects.get(uid="r2@airbnb.com")
    assert attempt.counts["updated"] == 1
    assert back.status == EventStatus.CONFIRMED and back.blocking and back.cancelled_at is None


def test_moved_event_is_updated_in_place(alice, allow_private_urls):
    route = Body(vrbo_feed(("v-1", 3, 6)))
    with local_server({"/v.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/v.ics", Source.VRBO)
        run_sync(feed)
        pk = Event.objects.get().pk
        route.body, route.etag = vrbo_feed(("v-1", 4, 8)), '"v2"'
        attempt = run_sync(feed)
    event = Event.objects.get()
    assert event.pk == pk
    assert (event.start_value, event.end_value) == (day(4), day(8))
    assert event.kind == EventKind.RESERVATION
    assert attempt.counts["updated"] == 1


def test_valid_calendar_without_events_cancels_everything(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        route.body, route.etag = airbnb_feed(), '"v2"'
        attempt = run_sync(feed)
    assert attempt.outcome == "ok"
    assert Event.objects.get().status == EventStatus.CANCELLED


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"<!DOCTYPE html><html><body>Please log in</body></html>", "text/html"),
        (b"", "text/calendar"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\n", "text/calendar"),
    ],
    ids=["html", "empty", "truncated"],
)
def test_invalid_body_fails_and_leaves_events_untouched(
    alice, allow_private_urls, body, content_type
):
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        before = list(Event.objects.values())
        hash_before = feed.content_hash
        route.body, route.etag, route.content_type = body, '"broken"', content_type
        attempt = run_sync(feed)
    assert attempt.outcome == "failed"
    assert attempt.reason == "invalid_ics"
    assert list(Event.objects.values()) == before
    assert feed.consecutive_failures == 1
    assert feed.content_hash == hash_before  # the next attempt parses again


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream"])
def test_calendar_served_with_generic_content_types_imports(
    alice, allow_private_urls, content_type
):
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9)), content_type=content_type)
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        attempt = run_sync(feed)
    assert attempt.outcome == "ok"
    assert Event.objects.count() == 1


def test_404_fails_with_http_404(alice, allow_private_urls):
    with local_server({}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/missing.ics")
        attempt = run_sync(feed)
    assert attempt.outcome == "failed"
    assert attempt.reason == "http_404"
    assert feed.consecutive_failures == 1 and feed.last_error


def test_broken_event_is_skipped_and_counted(alice, allow_private_urls):
    broken = (
        "BEGIN:VEVENT\nUID:broken@airbnb.com\nSUMMARY:Reserved\n"
        "DTSTART;VALUE=DATE:nonsense\nEND:VEVENT\n"
    )
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9), broken))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        attempt = run_sync(feed)
    assert attempt.outcome == "ok"
    assert attempt.counts["created"] == 1
    assert attempt.counts["skipped"] == 1
    assert attempt.counts["skipped_reasons"][0][0].startswith("broken")


def test_floating_times_read_in_the_listing_time_zone(alice, allow_private_urls):
    start = day(10).strftime("%Y%m%d")
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
        "BEGIN:VEVENT\r\nUID:g1@google.com\r\n"
        f"DTSTART:{start}T150000\r\nDTEND:{start}T170000\r\nSUMMARY:Cleaning\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    with local_server({"/g.ics": Body(body)}) as server:
        listing = make_listing(alice, tz="America/New_York")
        feed = make_feed(listing, f"{server.url}/g.ics", Source.GOOGLE)
        run_sync(feed)
    event = Event.objects.get()
    assert event.all_day is False
    local = event.start.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (15, 0)


@pytest.mark.parametrize("style", ["airbnb", "vrbo", "booking", "google"])
def test_feed_farm_styles_import_and_reimport_quietly(alice, allow_private_urls, style):
    from calendars.feedfarm import generate_feed

    route = Body(generate_feed(7, style=style, events=30, version=0, today=date.today()), etag="")
    with local_server({"/f.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/f.ics?style={style}")
        assert feed.source == style
        first = run_sync(feed)
        assert first.outcome == "ok", first.message
        assert first.counts["created"] >= 20
        assert Event.objects.filter(feed=feed).exists()
        route.body = generate_feed(7, style=style, events=30, version=1, today=date.today())
        second = run_sync(feed)
    assert second.outcome in ("ok", "not_modified")
    if second.outcome == "ok":
        # Only what the new version changed is written; nothing is lost.
        assert second.counts["unchanged"] > 0
