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
