"""Issue 13 goal 2: the export answers from its stored validators while the listing's
ExportVersion counter (raised by PostgreSQL triggers) is the one they were made at; every
write that changes the export raises it, whatever path made it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendars.models import Event, EventKind, EventStatus, ExportVersion, Feed, Source
from calendars.services import export as export_service
from tests.calendars.test_import import make_feed, make_listing

pytestmark = pytest.mark.postgres  # the triggers are PostgreSQL's


@pytest.fixture
def listing(alice, allow_private_urls):
    listing = make_listing(alice)
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    for offset, source in enumerate((Source.AIRBNB, Source.VRBO)):
        feed = make_feed(listing, f"https://example.com/{source}.ics", source)
        for n in range(3):
            start = midnight + timedelta(days=10 * n + offset)
            Event.objects.create(
                feed=feed,
                uid=f"{source}-{n}",
                start=start,
                end=start + timedelta(days=2),
                all_day=True,
                kind=EventKind.RESERVATION,
            )
    return listing


def version(listing) -> int:
    row = ExportVersion.objects.filter(listing=listing).first()
    return row.version if row else 0


def get(client, listing, **headers):
    return client.get(f"/calendars/{listing.export_token}.ics", **headers)


def test_an_unchanged_export_costs_the_token_lookup_only(client, listing):
    etag = get(client, listing)["ETag"]
    get(client, listing)  # the state now holds the current counter
    with CaptureQueriesContext(connection) as queries:
        response = get(client, listing, HTTP_IF_NONE_MATCH=etag)
        assert get(client, listing).status_code == 200
    assert response.status_code == 304
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 2, statements  # one lookup per request: no rows read
    assert all("calendars_event" not in sql for sql in statements)


def test_every_kind_of_write_raises_the_counter_and_changes_the_export(client, listing):
    seen = {get(client, listing)["ETag"]}
    before = version(listing)
    writes = [
        lambda: Event.objects.filter(uid="airbnb-0").update(end=timezone.now() + timedelta(9)),
        lambda: Event.objects.filter(uid="airbnb-1").update(kind=EventKind.BLOCK),
        lambda: Event.objects.filter(uid="airbnb-2").update(status=EventStatus.CANCELLED),
        lambda: Event.objects.filter(uid="vrbo-0").delete(),
        lambda: Feed.objects.filter(source=Source.VRBO).update(export_back=False),
        lambda: Event.objects.create(
            feed=Feed.objects.get(source=Source.AIRBNB),
            uid="airbnb-new",
            start=timezone.now() + timedelta(days=40),
            end=timezone.now() + timedelta(days=42),
        ),
    ]
    for write in writes:
        write()
        now = version(listing)
        assert now > before
        before = now
        response = get(client, listing)
        assert response["ETag"] not in seen
        seen.add(response["ETag"])
        assert get(client, listing, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_writes_that_change_nothing_exported_leave_the_counter(client, listing):
    get(client, listing)
    before = version(listing)
    Event.objects.update(last_seen=timezone.now(), description="seen again")
    Feed.objects.update(last_import={"n": 1})
    assert version(listing) == before


def test_a_listing_rename_is_seen_without_a_counter(client, listing):
    etag = get(client, listing)["ETag"]
    listing.name = "Renamed"
    listing.save()
    response = get(client, listing, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and b"Renamed" in response.content


def test_the_state_expires_when_its_oldest_event_leaves_the_window(client, listing):
    first = get(client, listing)
    state = export_service.listing_for_token(listing.export_token).export_state[""]
    until = datetime.fromisoformat(state["fresh_until"])
    oldest = Event.objects.order_by("end").first().end
    assert until == oldest.astimezone(UTC) + timedelta(days=export_service.WINDOW_DAYS)
    later = export_service.listing_for_token(listing.export_token)
    document = export_service.export_document(later, now=until + timedelta(seconds=1))
    assert document.body is not None  # built again: that event is gone from it
    assert document.etag != first["ETag"]


def test_an_import_that_changes_the_feed_changes_the_export(client, alice, allow_private_urls):
    """The import's own writes (its bulk upsert, its cancellations) raise the counter."""
    from tests.calendars.test_import import Body, airbnb_event, airbnb_feed, run_sync
    from tests.support.http import local_server

    route = Body(airbnb_feed(airbnb_event("a1", 10, 14), airbnb_event("a2", 20, 22)))
    with local_server({"/airbnb.ics": route}) as server:
        listing = make_listing(alice)
        feed = make_feed(listing, f"{server.url}/airbnb.ics", Source.AIRBNB)
        run_sync(feed)
        first = get(client, listing)
        assert get(client, listing, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
        route.body, route.etag = airbnb_feed(airbnb_event("a1", 10, 15)), '"v2"'  # a2 gone
        run_sync(feed)
        moved = get(client, listing, HTTP_IF_NONE_MATCH=first["ETag"])
        assert moved.status_code == 200 and moved["ETag"] != first["ETag"]
        assert moved.content.count(b"BEGIN:VEVENT") == 1
