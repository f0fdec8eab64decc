"""An export whose events all end near 9999-12-31 (a block "forever") must not fail: the
stored state's ``fresh_until`` (its oldest row's end + 30 days) overflowed, a 500 on every
poll, so the channels never saw the listing's calendar."""

from __future__ import annotations

from datetime import UTC, datetime

from calendars.models import Event, EventKind, Source
from tests.calendars.test_import import make_feed, make_listing


def test_a_block_until_the_end_of_time_is_exported(client, alice, allow_private_urls):
    listing = make_listing(alice)
    feed = make_feed(listing, "https://example.com/a.ics", Source.AIRBNB)
    Event.objects.create(
        feed=feed,
        uid="forever",
        start=datetime(2026, 12, 1, tzinfo=UTC),
        end=datetime(9999, 12, 31, tzinfo=UTC),
        all_day=True,
        kind=EventKind.BLOCK,
    )
    url = f"/calendars/{listing.export_token}.ics"
    first = client.get(url)
    assert first.status_code == 200
    assert b"DTEND;VALUE=DATE:99991231" in first.content
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_a_feed_blocking_until_the_end_of_time_imports_and_is_a_double_booking(
    alice, allow_private_urls
):
    """Conflict detection padded the changed events' spans by two days: past 9999-12-29 that
    overflowed, and every import of the feed failed (its bookings never written)."""
    from calendars.ics.parse import parse_feed
    from calendars.services.feed_sync import import_parsed_feed
    from tests.calendars.test_import import airbnb_event, airbnb_feed

    listing = make_listing(alice)
    airbnb = make_feed(listing, "https://example.com/a.ics", Source.AIRBNB)
    other = make_feed(listing, "https://example.com/o.ics", Source.OTHER)
    today = datetime.now(UTC).date()
    import_parsed_feed(airbnb, parse_feed(airbnb_feed(airbnb_event("a1", 10, 14)), today=today))
    forever = (
        "BEGIN:VEVENT\nUID:f@x\nDTSTART;VALUE=DATE:20200101\nDTEND;VALUE=DATE:99991231\n"
        "SUMMARY:Not available\nEND:VEVENT\n"
    )
    counts = import_parsed_feed(other, parse_feed(airbnb_feed(forever), today=today))
    assert Event.objects.filter(feed=other, uid="f@x").exists()
    assert counts["conflicts_opened"] == 1
