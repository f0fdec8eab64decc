"""What an API list costs: the owner's plan comes with the token (no query of its own), and
a page of feeds shares one import-summary serializer while each row keeps its own figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendars.models import Feed
from tests.calendars.test_import import make_feed, make_listing
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def test_a_token_request_reads_the_plan_with_the_token(alice):
    api = api_client_for(alice)
    make_listing(alice)
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/listings/").status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    token_reads = [q for q in sql if 'WHERE "knox_authtoken"."token_key"' in q]
    assert len(token_reads) == 1
    assert '"syncing_account"' in token_reads[0]
    assert not [q for q in sql if 'FROM "syncing_account"' in q]


def test_an_owner_without_an_account_still_authenticates(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("noacct@example.com", "noacct@example.com", "p")
    assert api_client_for(user).get("/api/v1/listings/").status_code == 200


def test_each_feed_row_keeps_its_own_last_import(alice):
    listing = make_listing(alice)
    first = make_feed(listing, "https://www.airbnb.com/calendar/ical/1.ics")
    second = make_feed(listing, "https://www.vrbo.com/icalendar/2.ics")
    never = make_feed(listing, "https://admin.booking.com/hotel/3.ics")
    Feed.objects.filter(pk=first.pk).update(
        last_import={"at": "2026-12-01T10:00:00Z", "events": 30, "created": 2}
    )
    Feed.objects.filter(pk=second.pk).update(
        last_import={"at": "2026-12-01T11:00:00Z", "events": 7, "skipped": [["u1", "bad_dtend"]]}
    )
    rows = {row["id"]: row for row in api_client_for(alice).get("/api/v1/feeds/").json()["results"]}
    assert rows[first.pk]["last_import"]["events"] == 30
    assert rows[first.pk]["last_import"]["created"] == 2
    assert rows[first.pk]["last_import"]["skipped"] == []
    assert rows[second.pk]["last_import"]["events"] == 7
    assert rows[second.pk]["last_import"]["skipped"][0]["uid"] == "u1"
    assert rows[second.pk]["last_import"]["summary"] != rows[first.pk]["last_import"]["summary"]
    assert rows[never.pk]["last_import"] is None


def test_an_events_page_costs_the_same_queries_for_3_rows_or_30(alice):
    """The events list defers the columns it does not show; every field it does show must
    come with the page, or each row would pay a query of its own."""
    from calendars.models import Event

    listing = make_listing(alice)
    feed = make_feed(listing, "https://www.airbnb.com/calendar/ical/1.ics")
    api = api_client_for(alice)

    def page() -> tuple[int, list]:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"/api/v1/events/?listing={listing.pk}")
        assert response.status_code == 200
        return len(queries.captured_queries), response.json()["results"]

    def add(numbers):
        Event.objects.bulk_create(
            Event(
                feed=feed,
                uid=f"e{n}",
                start=f"2027-01-{n + 1:02d}T15:00Z",
                end=f"2027-01-{n + 2:02d}T11:00Z",
                summary="Reserved",
                kind_override="block" if n % 2 else "",
            )
            for n in numbers
        )

    add(range(3))
    few, rows = page()
    assert len(rows) == 3
    add(range(3, 27))
    many, rows = page()
    assert len(rows) == 27 and few == many
    first = rows[0]
    assert first["listing"] == listing.pk and first["feed"] == feed.pk
    assert first["start"].startswith("2027-01-01T15:00") and first["summary"] == "Reserved"
    assert {row["effective_kind"] for row in rows} >= {"block"}


def test_a_feeds_page_costs_the_same_queries_for_3_rows_or_27(alice):
    """Every field of a feed row comes with the page (its listing's id, its last import,
    its interval): no row costs a query of its own."""
    listings = [make_listing(alice, name=f"Flat {n}") for n in range(9)]
    api = api_client_for(alice)

    def page() -> tuple[int, list]:
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/v1/feeds/")
        assert response.status_code == 200
        return len(queries.captured_queries), response.json()["results"]

    def add(listing_group):
        for listing in listing_group:
            for host in ("www.airbnb.com/calendar/ical", "www.vrbo.com/icalendar", "x.test/c"):
                make_feed(listing, f"https://{host}/{listing.pk}.ics")
        Feed.objects.filter(listing__owner=alice).update(
            last_import={"at": "2026-12-01T10:00:00Z", "events": 3},
            effective_interval=timedelta(minutes=20),
            change_rate=0.5,
            change_stats={"n": 3},
        )

    add(listings[:1])
    few, rows = page()
    assert len(rows) == 3
    add(listings[1:])
    many, rows = page()
    assert len(rows) == 27 and few == many
    assert {row["effective_interval_seconds"] for row in rows} == {1200}
    assert {row["change_rate"] for row in rows} == {0.5}
    assert {row["last_import"]["summary"] for row in rows} == {"3 events, no changes"}


def _stock(monkeypatch):
    """DRF's own Serializer.to_representation in place of the one-plan-per-serializer one."""
    from rest_framework import serializers

    from syncing.serializers import FastRepresentationMixin

    monkeypatch.setattr(
        FastRepresentationMixin, "to_representation", serializers.Serializer.to_representation
    )


def test_lists_answer_exactly_what_stock_drf_answers(alice, monkeypatch):
    """Feeds (every shape of last import, nulls included), events (timed, all-day, an echo)
    and listings: the same JSON through DRF's own per-field path."""
    from calendars.models import Event

    listing = make_listing(alice)
    listing.regenerate_export_token()
    feeds = [make_feed(listing, f"https://x.test/{n}.ics") for n in range(4)]
    imports = [
        {},
        {"at": "2026-12-01T10:00:00Z", "events": 30, "created": 2},
        {
            "at": "2026-12-01T11:00:00Z",
            "events": 7,
            "skipped": [["u1", "bad_dtend"], ["u2", "mystery"]],
            "skipped_count": 2,
            "unknown_tzids": ["Mars/Base"],
            "left_out": 3,
            "truncated": True,
            "covered_until": "2027-06-01T00:00:00Z",
            "held_back": 1,
            "kept": {"ended": 4, "unreadable": 1},
        },
        {"at": "2026-12-01T12:00:00Z", "kept": {"ended": None}},
    ]
    for feed, last_import in zip(feeds, imports, strict=True):
        Feed.objects.filter(pk=feed.pk).update(last_import=last_import)
    Feed.objects.filter(pk=feeds[1].pk).update(
        effective_interval=timedelta(minutes=20), change_rate=0.25, paused=True
    )
    first = Event.objects.create(
        feed=feeds[0], uid="a", start="2027-01-01T15:00Z", end="2027-01-03T11:00Z"
    )
    Event.objects.create(
        feed=feeds[1],
        uid="b",
        start="2027-01-01T00:00Z",
        end="2027-01-03T00:00Z",
        all_day=True,
        kind_override="owner_stay",
        echo_of=first,
    )
    api = api_client_for(alice)
    paths = ["/api/v1/feeds/", "/api/v1/feeds/?cursor=", f"/api/v1/feeds/{feeds[2].pk}/"]
    paths += ["/api/v1/events/", "/api/v1/listings/", f"/api/v1/listings/{listing.pk}/"]
    fast = {path: api.get(path).json() for path in paths}
    _stock(monkeypatch)
    stock = {path: api.get(path).json() for path in paths}
    assert fast == stock
    assert fast["/api/v1/feeds/"]["count"] == 4 and fast["/api/v1/events/"]["count"] == 2
