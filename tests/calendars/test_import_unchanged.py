"""Re-imports decode only the VEVENT blocks whose raw text changed (issue 3, CPU target).

Every test runs the engine inline against a local HTTP server and checks both the work done
(``decoded`` / ``not_decoded`` counts) and that the stored rows are exactly those of a fresh
full import of the same body.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time

import pytest
from django.utils import timezone

from calendars.ics.parse import parse_feed
from calendars.models import Event, EventStatus, Source
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    day,
    ics_date,
    make_feed,
    make_listing,
    run_sync,
)
from tests.support.http import local_server

pytestmark = pytest.mark.django_db

COMPARED = (
    "uid",
    "start",
    "end",
    "all_day",
    "summary",
    "description",
    "status",
    "blocking",
    "kind",
    "sequence",
    "fingerprint",
    "raw_hash",
)


def rows(feed) -> dict[str, tuple]:
    return {
        row[0]: row
        for row in Event.objects.filter(feed=feed).values_list(*COMPARED, "cancelled_at")
    }


def assert_same_as_fresh_import(feed, body: bytes, server, route_name: str, routes) -> None:
    """A fresh full import of ``body`` into a new feed stores the same rows, field by field
    (cancelled rows aside: a fresh feed never saw them)."""
    routes[route_name] = Body(body)
    fresh = make_feed(make_listing(feed.listing.owner, name="Fresh"), f"{server.url}/{route_name}")
    attempt = run_sync(fresh)
    assert attempt.counts["not_decoded"] == 0
    live = {uid: row[:-1] for uid, row in rows(feed).items() if row[6] != EventStatus.CANCELLED}
    assert live == {uid: row[:-1] for uid, row in rows(fresh).items()}


def timed_event(uid: str, start: int, hour: int = 15, *, extra: str = "") -> str:
    return (
        "BEGIN:VEVENT\n"
        f"DTSTART;TZID=Europe/Paris:{ics_date(start)}T{hour:02d}0000\n"
        f"DTEND;TZID=Europe/Paris:{ics_date(start + 2)}T110000\n"
        f"UID:{uid}@google.com\n"
        "SUMMARY:Family stay\n"
        f"{extra}"
        "END:VEVENT\n"
    )


def recurring_event(uid: str, start: int) -> str:
    return (
        "BEGIN:VEVENT\n"
        f"DTSTART;TZID=Europe/Paris:{ics_date(start)}T110000\n"
        f"DTEND;TZID=Europe/Paris:{ics_date(start)}T140000\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\n"
        f"UID:{uid}@google.com\n"
        "SUMMARY:Cleaning\n"
        "END:VEVENT\n"
    )


def google_feed(*events: str, offset: str = "+0100", xwr: str = "Europe/Paris") -> bytes:
    text = (
        "BEGIN:VCALENDAR\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\nVERSION:2.0\n"
        f"X-WR-TIMEZONE:{xwr}\n"
        "BEGIN:VTIMEZONE\nTZID:Europe/Paris\nBEGIN:STANDARD\n"
        f"TZOFFSETFROM:{offset}\nTZOFFSETTO:{offset}\nDTSTART:19700101T000000\n"
        "END:STANDARD\nEND:VTIMEZONE\n" + "".join(events) + "END:VCALENDAR\n"
    )
    return text.replace("\n", "\r\n").encode()


def five_stays(moved: int | None = None) -> bytes:
    events = []
    for n in range(5):
        start = 5 + n * 10 + (1 if n == moved else 0)
        events.append(airbnb_event(f"r{n}", start, start + 4, reserved=n % 2 == 0))
    return airbnb_feed(*events)


def test_reimport_decodes_only_the_changed_block_and_matches_a_full_import(
    alice, allow_private_urls
):
    routes = {"a.ics": Body(five_stays())}
    with local_server(_router(routes)) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        first = run_sync(feed)
        assert (first.counts["created"], first.counts["decoded"]) == (5, 5)
        assert feed.parse_context_hash
        assert Event.objects.filter(feed=feed).exclude(raw_hash="").count() == 5

        routes["a.ics"].body, routes["a.ics"].etag = five_stays(moved=2), '"v2"'
        started = timezone.now()
        second = run_sync(feed)
        assert second.counts["decoded"] == 1
        assert second.counts["not_decoded"] == 4
        assert (second.counts["updated"], second.counts["unchanged"]) == (1, 4)
        assert second.counts["cancelled"] == 0
        assert Event.objects.filter(feed=feed, status=EventStatus.CANCELLED).count() == 0
        assert all(event.seen_at >= started for event in Event.objects.filter(feed=feed))
        assert Event.objects.filter(feed=feed, in_feed=False).count() == 0
        assert_same_as_fresh_import(feed, five_stays(moved=2), server, "fresh.ics", routes)


def _router(routes: dict[str, Body]) -> dict:
    """Routes whose Body can be swapped or edited while the server runs."""
    return {f"/{name}": (lambda seen, name=name: routes[name](seen)) for name in list(routes)} | {
        "/fresh.ics": lambda seen: routes["fresh.ics"](seen)
    }


def test_vtimezone_change_forces_a_full_parse(alice, allow_private_urls):
    stays = [timed_event(f"g{n}", 5 + 5 * n) for n in range(3)]
    routes = {"g.ics": Body(google_feed(*stays))}
    with local_server(_router(routes)) as server:
        feed = make_feed(make_listing(alice, tz="UTC"), f"{server.url}/g.ics", Source.GOOGLE)
        assert run_sync(feed).counts["decoded"] == 3

        # The zone's definition changes; no VEVENT does.
        routes["g.ics"].body, routes["g.ics"].etag = google_feed(*stays, offset="+0300"), '"v2"'
        attempt = run_sync(feed)
        assert (attempt.counts["decoded"], attempt.counts["not_decoded"]) == (3, 0)
        assert_same_as_fresh_import(
            feed, google_feed(*stays, offset="+0300"), server, "fresh.ics", routes
        )


def test_listing_time_zone_change_forces_a_full_parse(alice, allow_private_urls):
    floating = [
        "BEGIN:VEVENT\n"
        f"DTSTART:{ics_date(5 + n)}T150000\nDTEND:{ics_date(6 + n)}T110000\n"
        f"UID:f{n}@example.org\nSUMMARY:Stay\nEND:VEVENT\n"
        for n in range(3)
    ]
    routes = {"f.ics": Body(airbnb_feed(*floating))}
    with local_server(_router(routes)) as server:
        listing = make_listing(alice, tz="Europe/Lisbon")
        feed = make_feed(listing, f"{server.url}/f.ics")
        run_sync(feed)
        listing.timezone = "America/New_York"
        listing.save()
        # One block changes so the body differs; all three are decoded in the new zone.
        floating[0] = floating[0].replace("SUMMARY:Stay", "SUMMARY:Stay (moved)")
        routes["f.ics"].body, routes["f.ics"].etag = airbnb_feed(*floating), '"v2"'
        feed.refresh_from_db()
        attempt = run_sync(feed)
    assert (attempt.counts["decoded"], attempt.counts["not_decoded"]) == (3, 0)
    assert attempt.counts["updated"] == 3
    new_york = zoneinfo.ZoneInfo("America/New_York")
    for n in range(3):
        event = Event.objects.get(feed=feed, uid=f"f{n}@example.org")
        local = datetime.combine(day(5 + n), time(15), tzinfo=new_york)
        assert event.start == local.astimezone(UTC)


def test_recurring_and_duplicate_blocks_are_always_decoded(alice, allow_private_urls):
    dup_old = timed_event("dup", 30, extra="SEQUENCE:1\n")
    dup_new = timed_event("dup", 31, extra="SEQUENCE:2\n")
    plain = [timed_event("p1", 5), timed_event("p2", 10)]
    body = google_feed(recurring_event("clean", 1), dup_old, dup_new, *plain)
    routes = {"g.ics": Body(body)}
    with local_server(_router(routes)) as server:
        feed = make_feed(make_listing(alice, tz="UTC"), f"{server.url}/g.ics", Source.GOOGLE)
        first = run_sync(feed)
        assert first.counts["decoded"] == 5
        plain[0] = timed_event("p1", 6)
        changed = google_feed(recurring_event("clean", 1), dup_old, dup_new, *plain)
        routes["g.ics"].body, routes["g.ics"].etag = changed, '"v2"'
        attempt = run_sync(feed)
        # The recurring series, both copies of "dup" and the changed p1; p2 is not decoded.
        assert (attempt.counts["decoded"], attempt.counts["not_decoded"]) == (4, 1)
        assert attempt.counts["cancelled"] == 0
        assert Event.objects.get(feed=feed, uid="dup@google.com").sequence == 2
        assert Event.objects.filter(feed=feed, uid__startswith="clean@google.com#").count() == 4
        assert_same_as_fresh_import(feed, changed, server, "fresh.ics", routes)


def test_cancelled_event_reappearing_is_decoded(alice, allow_private_urls):
    routes = {"a.ics": Body(five_stays())}
    with local_server(_router(routes)) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        without_r1 = airbnb_feed(
            *[
                airbnb_event(f"r{n}", 5 + n * 10, 9 + n * 10, reserved=n % 2 == 0)
                for n in (0, 2, 3, 4)
            ]
        )
        routes["a.ics"].body, routes["a.ics"].etag = without_r1, '"v2"'
        gone = run_sync(feed)
        assert (gone.counts["cancelled"], gone.counts["decoded"]) == (1, 0)
        assert Event.objects.get(uid="r1@airbnb.com").raw_hash == ""

        routes["a.ics"].body, routes["a.ics"].etag = five_stays(), '"v3"'
        back = run_sync(feed)
        assert (back.counts["decoded"], back.counts["not_decoded"]) == (1, 4)
        assert back.counts["updated"] == 1
        event = Event.objects.get(uid="r1@airbnb.com")
        assert event.status == EventStatus.CONFIRMED and event.cancelled_at is None
        assert_same_as_fresh_import(feed, five_stays(), server, "fresh.ics", routes)


def test_parse_feed_skips_only_known_hashes_and_counts_them_toward_the_cap():
    body = google_feed(timed_event("a", 5), timed_event("b", 9), recurring_event("r", 1))
    full = parse_feed(body, default_tz="UTC", max_events=3, today=date.today())
    assert full.decoded == 3 and full.unchanged_uids == []
    assert set(full.raw_hashes) == {"a@google.com", "b@google.com"}  # the series: never

    known = dict(full.raw_hashes)
    again = parse_feed(
        body,
        default_tz="UTC",
        max_events=6,
        today=date.today(),
        known=known,
        known_context=full.context_hash,
    )
    assert sorted(again.unchanged_uids) == ["a@google.com", "b@google.com"]
    assert again.decoded == 1
    # Two unchanged events count toward the cap of 6: the series' 4 occurrences fit.
    assert len(again.events) == 4 and all("#" in e.uid for e in again.events)
    assert again.truncated is False
    # Over the cap (issue 9: the earliest events are kept), which events are kept depends on
    # the dates of all of them: nothing is left undecoded.
    capped = parse_feed(
        body,
        default_tz="UTC",
        max_events=3,
        today=date.today(),
        known=known,
        known_context=full.context_hash,
    )
    assert capped.unchanged_uids == [] and capped.decoded == 3
    assert [e.uid for e in capped.events] == [e.uid for e in full.events]
    assert capped.truncated is full.truncated is True

    known["a@google.com"] = "0" * 32
    partly = parse_feed(
        body, default_tz="UTC", max_events=6, known=known, known_context=full.context_hash
    )
    assert partly.unchanged_uids == ["b@google.com"]
    other_zone = parse_feed(
        body, default_tz="Europe/Paris", max_events=6, known=known, known_context=full.context_hash
    )
    assert other_zone.unchanged_uids == [] and other_zone.decoded == 3
