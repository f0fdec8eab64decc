"""The calendars REST API: CRUD, read-only status fields, sync now, filters, formats, IDOR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils.dateparse import parse_datetime

from calendars.models import Conflict, Event, EventKind, EventStatus, Feed, Listing
from calendars.services.conflicts import detect_conflicts
from calendars.services.listings import feed_create
from syncing.models import Account, Plan
from tests.calendars.test_import import day, make_listing
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def midnight(d):
    return datetime.combine(d, datetime.min.time(), UTC)


@pytest.fixture
def alice_data(alice):
    return build_alice_data(alice)


def build_alice_data(alice) -> dict:
    """Alice's listing, two feeds, four events (one timed, one cancelled) and a conflict."""
    listing = make_listing(alice)
    airbnb = feed_create(listing=listing, url="https://www.airbnb.com/calendar/ical/1.ics")
    vrbo = feed_create(listing=listing, url="https://www.vrbo.com/icalendar/abc.ics")
    a = Event.objects.create(
        feed=airbnb,
        uid="a1@airbnb.com",
        start=midnight(day(10)),
        end=midnight(day(14)),
        all_day=True,
        summary="Reserved",
        kind=EventKind.RESERVATION,
    )
    v = Event.objects.create(
        feed=vrbo,
        uid="v1",
        start=midnight(day(12)),
        end=midnight(day(16)),
        all_day=True,
        summary="Reserved - Maria",
        kind=EventKind.RESERVATION,
    )
    timed_start = datetime(2031, 3, 4, 15, 30, tzinfo=UTC)
    t = Event.objects.create(
        feed=airbnb,
        uid="t1",
        start=timed_start,
        end=timed_start + timedelta(hours=2),
        summary="Cleaning",
    )
    c = Event.objects.create(
        feed=vrbo,
        uid="gone",
        start=midnight(day(40)),
        end=midnight(day(42)),
        all_day=True,
        status=EventStatus.CANCELLED,
        blocking=False,
    )
    detect_conflicts(listing.pk, now=datetime.now(UTC))
    return {
        "listing": listing,
        "airbnb": airbnb,
        "vrbo": vrbo,
        "events": (a, v, t, c),
        "conflict": Conflict.objects.get(),
    }


# --- listings -----------------------------------------------------------------------------


def test_listing_crud(alice_api, alice):
    created = alice_api.post("/api/v1/listings/", {"name": "Loft", "timezone": "Europe/Paris"})
    assert created.status_code == 201, created.data
    data = created.json()
    assert set(data) == {
        "id",
        "name",
        "timezone",
        "check_in_time",
        "check_out_time",
        "export_url",
        "previous_export_expires_at",
        "created_at",
    }
    assert data["previous_export_expires_at"] is None
    assert (data["check_in_time"], data["check_out_time"]) == ("15:00:00", "11:00:00")
    listing = Listing.objects.get(pk=data["id"])
    assert listing.owner == alice
    assert data["export_url"] == f"http://testserver/calendars/{listing.export_token}.ics"
    assert alice_api.get(f"/api/v1/listings/{listing.pk}/").json()["name"] == "Loft"
    patched = alice_api.patch(f"/api/v1/listings/{listing.pk}/", {"name": "Big loft"})
    assert patched.status_code == 200 and patched.json()["name"] == "Big loft"
    assert alice_api.get("/api/v1/listings/").json()["count"] == 1
    assert alice_api.delete(f"/api/v1/listings/{listing.pk}/").status_code == 204
    assert not Listing.objects.exists()


def test_listing_rejects_unknown_time_zone(alice_api):
    response = alice_api.post("/api/v1/listings/", {"name": "Loft", "timezone": "Mars/Olympus"})
    assert response.status_code == 400
    assert "timezone" in response.json()


def test_listing_allowance(alice_api, alice):
    Account.objects.filter(user=alice).update(plan=Plan.FREE)  # one listing
    assert alice_api.post("/api/v1/listings/", {"name": "One"}).status_code == 201
    response = alice_api.post("/api/v1/listings/", {"name": "Two"})
    assert response.status_code == 400
    assert "allows 1 listing" in response.json()["detail"]


def test_regenerate_export_url(alice_api, alice):
    listing = make_listing(alice)
    old = listing.export_token
    response = alice_api.post(f"/api/v1/listings/{listing.pk}/regenerate-export-url/")
    assert response.status_code == 200
    listing.refresh_from_db()
    assert listing.export_token != old and listing.export_token in response.json()["export_url"]
    # The old link keeps working for the grace period, and the API says until when.
    expires = response.json()["previous_export_expires_at"]
    assert parse_datetime(expires) == listing.previous_export_expires_at


# --- feeds --------------------------------------------------------------------------------


def test_feed_crud_and_source_guess(alice_api, alice):
    listing = make_listing(alice)
    created = alice_api.post(
        "/api/v1/feeds/",
        {"listing": listing.pk, "url": "webcal://www.airbnb.com/calendar/ical/9.ics?s=x"},
    )
    assert created.status_code == 201, created.data
    data = created.json()
    assert data["source"] == "airbnb"
    assert data["tier"] == "1h"  # alice is on pro
    assert data["export_back"] is True
    for field in (
        "id",
        "listing",
        "url",
        "name",
        "last_synced_at",
        "last_success_at",
        "next_sync_at",
        "consecutive_failures",
        "paused",
        "last_error",
    ):
        assert field in data
    feed_id = data["id"]
    patched = alice_api.patch(
        f"/api/v1/feeds/{feed_id}/", {"name": "Airbnb main", "export_back": False}
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Airbnb main" and patched.json()["export_back"] is False
    assert alice_api.get("/api/v1/feeds/", {"listing": listing.pk}).json()["count"] == 1
    assert alice_api.delete(f"/api/v1/feeds/{feed_id}/").status_code == 204
    assert not Feed.objects.exists()


def test_feed_status_fields_are_read_only(alice_api, alice_data):
    feed = alice_data["airbnb"]
    response = alice_api.patch(
        f"/api/v1/feeds/{feed.pk}/",
        {
            "tier": "5m",
            "paused": True,
            "consecutive_failures": 99,
            "last_error": "x",
            "next_sync_at": "2000-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 200
    feed.refresh_from_db()
    assert feed.tier == "1h" and not feed.paused and feed.consecutive_failures == 0
    assert feed.last_error == "" and feed.next_sync_at.year > 2000


def test_changing_a_feed_url_resets_its_validators(alice_api, alice_data):
    feed = alice_data["airbnb"]
    Feed.objects.filter(pk=feed.pk).update(
        etag='"x"', content_hash="abc", paused=True, consecutive_failures=10
    )
    response = alice_api.patch(
        f"/api/v1/feeds/{feed.pk}/", {"url": "https://www.airbnb.com/calendar/ical/2.ics"}
    )
    assert response.status_code == 200
    feed.refresh_from_db()
    assert (feed.etag, feed.content_hash, feed.paused, feed.consecutive_failures) == (
        "",
        "",
        False,
        0,
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.ics",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "not a url",
        "https://user:pw@example.com/a.ics",
        "https://example.com/" + "a" * 2000,
    ],
)
def test_feed_url_must_be_http_https_or_webcal(alice_api, alice, url):
    listing = make_listing(alice)
    response = alice_api.post("/api/v1/feeds/", {"listing": listing.pk, "url": url})
    assert response.status_code == 400
    assert "url" in response.json()


def test_sync_now_202_then_429_with_retry_after(alice_api, alice, alice_data):
    Account.objects.filter(user=alice).update(plan=Plan.FREE)  # 2 manual syncs per hour
    feed = alice_data["airbnb"]
    first = alice_api.post(f"/api/v1/feeds/{feed.pk}/sync/")
    assert first.status_code == 202
    assert first.json()["queued"] is True
    feed.refresh_from_db()
    assert feed.leased_until is not None  # claimed at the front of the queue
    second = alice_api.post(f"/api/v1/feeds/{feed.pk}/sync/")
    assert second.status_code == 202
    assert second.json()["queued"] is False  # already under way
    third = alice_api.post(f"/api/v1/feeds/{feed.pk}/sync/")
    assert third.status_code == 429
    assert 0 < int(third["Retry-After"]) <= 3600


def test_sync_now_resumes_a_paused_feed(alice_api, alice_data):
    feed = alice_data["airbnb"]
    Feed.objects.filter(pk=feed.pk).update(paused=True, consecutive_failures=10)
    assert alice_api.post(f"/api/v1/feeds/{feed.pk}/sync/").status_code == 202
    feed.refresh_from_db()
    assert not feed.paused and feed.leased_until is not None


# --- events and conflicts -----------------------------------------------------------------


def test_event_fields_and_date_formats(alice_api, alice_data):
    a, v, t, c = alice_data["events"]
    rows = {row["uid"]: row for row in alice_api.get("/api/v1/events/").json()["results"]}
    assert set(rows["a1@airbnb.com"]) == {
        "id",
        "uid",
        "feed",
        "listing",
        "start",
        "end",
        "all_day",
        "summary",
        "status",
        "blocking",
        "kind",
        "kind_override",
        "effective_kind",
        "echo_of",
    }
    assert rows["a1@airbnb.com"]["start"] == day(10).isoformat()
    assert rows["a1@airbnb.com"]["end"] == day(14).isoformat()
    assert rows["a1@airbnb.com"]["listing"] == alice_data["listing"].pk
    assert rows["t1"]["start"] == "2031-03-04T15:30:00Z"
    assert rows["t1"]["end"] == "2031-03-04T17:30:00Z"
    assert rows["t1"]["all_day"] is False


def test_event_filters(alice_api, alice_data):
    a, v, t, c = alice_data["events"]

    def uids(**params):
        return {r["uid"] for r in alice_api.get("/api/v1/events/", params).json()["results"]}

    assert uids(feed=alice_data["vrbo"].pk) == {"v1", "gone"}
    assert uids(listing=alice_data["listing"].pk) == {"a1@airbnb.com", "v1", "t1", "gone"}
    assert uids(status="cancelled") == {"gone"}
    assert uids(start_after=day(11).isoformat(), end_before=day(20).isoformat()) == {"v1"}
    assert uids(start_after="2031-03-04") == {"t1"}
    assert alice_api.get("/api/v1/events/", {"start_after": "soon"}).status_code == 400


def test_conflicts_endpoint_and_state_filter(alice_api, alice_data):
    conflict = alice_data["conflict"]
    data = alice_api.get(f"/api/v1/conflicts/{conflict.pk}/").json()
    assert data["open"] is True and data["listing"] == alice_data["listing"].pk
    assert {e["uid"] for e in data["events"]} == {"a1@airbnb.com", "v1"}
    assert alice_api.get("/api/v1/conflicts/", {"state": "open"}).json()["count"] == 1
    assert alice_api.get("/api/v1/conflicts/", {"state": "resolved"}).json()["count"] == 0


def test_events_and_conflicts_are_read_only(alice_api, alice_data):
    a = alice_data["events"][0]
    assert alice_api.delete(f"/api/v1/events/{a.pk}/").status_code == 405
    assert alice_api.post("/api/v1/conflicts/", {}).status_code == 405


# --- IDOR: Bob never sees Alice's objects -------------------------------------------------


def test_bob_lists_only_his_own(bob_api, bob, alice_data):
    mine = make_listing(bob, name="Bob's barn")
    for url in ("/api/v1/listings/", "/api/v1/feeds/", "/api/v1/events/", "/api/v1/conflicts/"):
        results = bob_api.get(url).json()["results"]
        if url == "/api/v1/listings/":
            assert [r["id"] for r in results] == [mine.pk]
        else:
            assert results == [], url
    # Filtering on Alice's ids reveals nothing either.
    assert (
        bob_api.get("/api/v1/events/", {"listing": alice_data["listing"].pk}).json()["results"]
        == []
    )
    assert (
        bob_api.get("/api/v1/feeds/", {"listing": alice_data["listing"].pk}).json()["results"] == []
    )


def test_bob_cannot_create_or_move_a_feed_onto_alices_listing(bob_api, bob, alice_data):
    response = bob_api.post(
        "/api/v1/feeds/",
        {"listing": alice_data["listing"].pk, "url": "https://www.vrbo.com/icalendar/x.ics"},
    )
    assert response.status_code == 400
    assert "does not exist" in str(response.json()["listing"])
    nobody = bob_api.post(
        "/api/v1/feeds/", {"listing": 999999, "url": "https://www.vrbo.com/icalendar/x.ics"}
    )
    # The same answer as for an id nobody has.
    alice_pk = f'"{alice_data["listing"].pk}"'
    assert nobody.json()["listing"] == [
        m.replace(alice_pk, '"999999"') for m in response.json()["listing"]
    ]
    own = make_listing(bob)
    feed = feed_create(listing=own, url="https://www.vrbo.com/icalendar/y.ics")
    moved = bob_api.patch(f"/api/v1/feeds/{feed.pk}/", {"listing": alice_data["listing"].pk})
    assert moved.status_code == 400
    assert Feed.objects.filter(listing=alice_data["listing"]).count() == 2


def test_anonymous_is_refused(anon_api, alice_data):
    for url in ("/api/v1/listings/", "/api/v1/feeds/", "/api/v1/events/", "/api/v1/conflicts/"):
        assert anon_api.get(url).status_code in (401, 403)


def test_schema_builds_for_the_calendars_endpoints():
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator(patterns=[path("api/v1/", include("calendars.api_urls"))])
    schema = generator.get_schema(request=None, public=True)
    assert "/api/v1/feeds/{id}/sync/" in schema["paths"]
    event = schema["components"]["schemas"]["Event"]["properties"]
    assert event["start"]["type"] == "string"


def test_api_client_for_staff(staff):
    assert api_client_for(staff).get("/api/v1/listings/").status_code == 200
