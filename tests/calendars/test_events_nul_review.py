"""Odd values in a feed must not fail the import: a NUL character (PostgreSQL's text columns
refuse it), a SEQUENCE past a 32-bit integer (the column's size): either failed every sync
of the feed on PostgreSQL, so none of its bookings was written."""

from __future__ import annotations

from datetime import UTC, date, datetime

from calendars.ics.parse import parse_feed
from calendars.models import Event
from calendars.services.events_upsert import upsert_feed_events
from tests.calendars.test_import import make_feed, make_listing

BODY = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VEVENT\r\nUID:n\x00@x\r\n"
    b"DTSTART;VALUE=DATE:20261210\r\nDTEND;VALUE=DATE:20261212\r\nSUMMARY:Reserved\x00 (Ann)\r\n"
    b"DESCRIPTION:c\x00d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_a_nul_in_the_text_is_dropped_and_the_booking_written(alice, allow_private_urls):
    feed = make_feed(make_listing(alice), "https://example.com/a.ics", "airbnb")
    parsed = parse_feed(BODY, today=date(2026, 12, 1))
    counts = upsert_feed_events(feed, parsed.events, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert counts.created == 1
    event = Event.objects.get(feed=feed)
    assert (event.uid, event.summary, event.description) == ("n@x", "Reserved (Ann)", "cd")


def test_a_sequence_past_a_32_bit_integer_does_not_fail_the_import(alice, allow_private_urls):
    feed = make_feed(make_listing(alice), "https://example.com/a.ics", "airbnb")
    body = BODY.replace(b"DESCRIPTION", b"SEQUENCE:1733000000000\r\nDESCRIPTION")
    parsed = parse_feed(body, today=date(2026, 12, 1))
    counts = upsert_feed_events(feed, parsed.events, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert counts.created == 1
    assert Event.objects.get(feed=feed).sequence == 2**31 - 1
