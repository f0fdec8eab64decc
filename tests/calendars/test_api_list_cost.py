"""What an API list costs: the owner's plan comes with the token (no query of its own), and
a page of feeds shares one import-summary serializer while each row keeps its own figures."""

from __future__ import annotations

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
