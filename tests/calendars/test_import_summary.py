"""The host sees what happened (issue 9, points 14 and 15): the last import in figures and
words (row, page, API) and "Sync all feeds" for a listing and for the account.

Imports go through the engine against feeds served on 127.0.0.1.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from calendars.models import Feed, Source
from calendars.services.listings import feed_create
from syncing.models import Account, Plan
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    day,
    make_feed,
    make_listing,
    run_sync,
)
from tests.calendars.test_import_safety import BROKEN
from tests.conftest import api_client_for
from tests.support.http import local_server
from tests.support.worker import celery_worker, purge_broker

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # the manual-sync allowance is counted in the cache
    yield
    cache.clear()


def imported_twice(owner, server_url: str, route: Body) -> Feed:
    """r1..r3, then: r1 as it was, r2 moved, r3 gone, r4 new, one unreadable VEVENT."""
    feed = make_feed(make_listing(owner), f"{server_url}/a.ics")
    run_sync(feed)
    route.body = airbnb_feed(
        airbnb_event("r1", 5, 9),
        airbnb_event("r2", 13, 15),
        airbnb_event("r4", 30, 33),
        BROKEN.format(uid="junk"),
    )
    route.etag = '"v2"'
    run_sync(feed)
    return feed


def first_body() -> bytes:
    return airbnb_feed(
        airbnb_event("r1", 5, 9), airbnb_event("r2", 12, 15), airbnb_event("r3", 20, 24)
    )


def test_last_import_figures_words_and_page(alice, bob, allow_private_urls, client):
    route = Body(first_body())
    with local_server({"/a.ics": route}) as server:
        feed = imported_twice(alice, server.url, route)
    last = feed.last_import
    assert {k: last[k] for k in ("events", "created", "updated", "cancelled", "unchanged")} == {
        "events": 3,
        "created": 1,
        "updated": 1,
        "cancelled": 1,
        "unchanged": 1,
    }
    assert last["skipped"] == [["junk@airbnb.com", "bad_dtstart"]]
    assert last["skipped_count"] == 1
    assert last["held_back"] == 0 and last["left_out"] == 0 and last["unknown_tzids"] == []
    assert last["at"].endswith("Z")

    client.force_login(alice)
    words = "3 events: 1 new, 1 changed, 1 cancelled, 1 skipped"
    assert words in client.get("/calendars/").content.decode()
    page = client.get(f"/calendars/feeds/{feed.pk}/import/")
    html = page.content.decode()
    assert page.status_code == 200 and words in html
    assert "junk@airbnb.com" in html and "its start date could not be read" in html
    client.force_login(bob)
    assert client.get(f"/calendars/feeds/{feed.pk}/import/").status_code == 404


def test_held_back_cancellation_is_said_on_the_row_and_the_page(alice, allow_private_urls, client):
    route = Body(first_body())
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        route.body, route.etag = airbnb_feed(), '"v2"'
        run_sync(feed)
    client.force_login(alice)
    row = client.get("/calendars/").content.decode()
    assert "0 events, no changes" in row
    assert "suddenly had no future events; 3 bookings not cancelled" in row
    page = client.get(f"/calendars/feeds/{feed.pk}/import/").content.decode()
    assert 'id="empty-since"' in page


def test_truncation_and_unknown_zones_are_shown(alice, allow_private_urls, client, monkeypatch):
    from calendars.services import feed_sync

    monkeypatch.setattr(feed_sync, "MAX_EVENTS", 2)
    when = day(1).strftime("%Y%m%d")
    outlook = (
        "BEGIN:VEVENT\nUID:o1@example.org\nSUMMARY:Stay\n"
        f"DTSTART;TZID=Nowhere Standard Time:{when}T150000\n"
        f"DTEND;TZID=Nowhere Standard Time:{when}T180000\nEND:VEVENT\n"
    )
    body = airbnb_feed(*[airbnb_event(f"s{n}", 5 + 5 * n, 8 + 5 * n) for n in range(4)], outlook)
    with local_server({"/a.ics": Body(body)}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
    last = feed.last_import
    assert last["truncated"] is True and last["left_out"] == 3
    assert last["unknown_tzids"] == ["Nowhere Standard Time"]
    client.force_login(alice)
    page = client.get(f"/calendars/feeds/{feed.pk}/import/").content.decode()
    assert 'id="left-out"' in page and "3 events left out" in page
    assert "Nowhere Standard Time" in page
    assert "Unknown time zones: Nowhere Standard Time" in client.get("/calendars/").content.decode()


def test_last_import_in_the_api_is_read_only(alice, alice_api, allow_private_urls):
    route = Body(first_body())
    with local_server({"/a.ics": route}) as server:
        feed = imported_twice(alice, server.url, route)
    data = alice_api.get(f"/api/v1/feeds/{feed.pk}/").json()
    last = data["last_import"]
    assert last["summary"] == "3 events: 1 new, 1 changed, 1 cancelled, 1 skipped"
    assert last["skipped"] == [
        {
            "uid": "junk@airbnb.com",
            "reason": "bad_dtstart",
            "text": "its start date could not be read",
        }
    ]
    assert (last["created"], last["cancelled"], last["held_back"]) == (1, 1, 0)
    assert data["empty_since"] is None
    patched = alice_api.patch(
        f"/api/v1/feeds/{feed.pk}/", {"last_import": {"events": 99}}, format="json"
    )
    assert patched.status_code == 200
    feed.refresh_from_db()
    assert feed.last_import["events"] == 3


def test_feed_never_imported_has_null_last_import(alice, alice_api):
    feed = feed_create(listing=make_listing(alice), url="https://www.airbnb.com/calendar/1.ics")
    assert alice_api.get(f"/api/v1/feeds/{feed.pk}/").json()["last_import"] is None


def test_schema_documents_last_import_and_sync_all():
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator(patterns=[path("api/v1/", include("calendars.api_urls"))])
    schema = generator.get_schema(request=None, public=True)
    feed = schema["components"]["schemas"]["Feed"]["properties"]
    assert feed["last_import"]["readOnly"] is True
    last = schema["components"]["schemas"]["LastImport"]["properties"]
    assert {"skipped", "skipped_count", "left_out", "held_back", "summary"} <= set(last)
    assert "/api/v1/listings/{id}/sync/" in schema["paths"]
    assert "/api/v1/feeds/sync-all/" in schema["paths"]
    assert "429" in schema["paths"]["/api/v1/feeds/sync-all/"]["post"]["responses"]


# --- 15. sync all feeds -------------------------------------------------------------------


def two_listings(owner) -> tuple[list[Feed], list[Feed]]:
    first, second = make_listing(owner, name="One"), make_listing(owner, name="Two")
    return (
        [
            feed_create(listing=first, url=f"https://www.airbnb.com/calendar/{n}.ics")
            for n in range(2)
        ],
        [feed_create(listing=second, url="https://www.vrbo.com/icalendar/x.ics")],
    )


def leased(feeds: list[Feed]) -> list[bool]:
    return [Feed.objects.get(pk=f.pk).leased_until is not None for f in feeds]


def test_api_sync_listing_then_account_then_429(alice, alice_api, bob):
    Account.objects.filter(user=alice).update(plan=Plan.FREE)  # 2 manual syncs an hour
    one, two = two_listings(alice)
    (bobs,) = two_listings(bob)[1:]
    Feed.objects.filter(pk=one[1].pk).update(paused=True, pause_reason="x")
    listing = one[0].listing_id
    first = alice_api.post(f"/api/v1/listings/{listing}/sync/")
    assert first.status_code == 202
    assert first.json() == {
        "queued": 1,
        "already_syncing": 0,
        "paused": 1,
        "detail": "1 feed queued; 1 paused feed left paused (resume it first).",
    }
    # A paused feed is not resumed behind the owner's back: resuming is its own button.
    assert leased(one) == [True, False] and leased(two) == [False]
    assert Feed.objects.get(pk=one[1].pk).paused

    everything = alice_api.post("/api/v1/feeds/sync-all/")
    assert everything.status_code == 202
    assert everything.json()["queued"] == 1 and everything.json()["already_syncing"] == 1
    assert everything.json()["paused"] == 1
    assert leased(two) == [True] and leased(bobs) == [False]  # Bob's feeds are Bob's

    third = alice_api.post("/api/v1/feeds/sync-all/")
    assert third.status_code == 429
    assert "allowance" in third.json()["detail"]
    assert 0 < int(third["Retry-After"]) <= 3600


def test_sync_all_buttons(alice, client):
    Account.objects.filter(user=alice).update(plan=Plan.FREE)
    one, two = two_listings(alice)
    client.force_login(alice)
    index = client.get("/calendars/").content.decode()
    assert 'action="/calendars/feeds/sync-all/"' in index
    assert f'action="/calendars/listings/{one[0].listing_id}/sync/"' in index
    response = client.post(f"/calendars/listings/{one[0].listing_id}/sync/", follow=True)
    assert "2 feeds queued." in response.content.decode()
    assert leased(one) == [True, True] and leased(two) == [False]
    client.post("/calendars/feeds/sync-all/")
    assert leased(two) == [True]
    over = client.post("/calendars/feeds/sync-all/")
    assert over.status_code == 302 and int(over["Retry-After"]) > 0
    assert "allowance used up" in client.get("/calendars/").content.decode()
    assert client.get("/calendars/feeds/sync-all/").status_code == 405


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_sync_all_imports_every_feed_through_a_worker(alice):
    purge_broker()
    route = Body(first_body())
    with local_server({"/a.ics": route, "/b.ics": Body(airbnb_feed())}) as server:
        listing = make_listing(alice)
        feeds = [
            feed_create(listing=listing, url=f"{server.url}/{name}.ics", source=Source.OTHER)
            for name in ("a", "b")
        ]
        # Not due for an hour: only "sync all" makes them sync now.
        Feed.objects.update(next_sync_at=timezone.now() + timedelta(hours=1))
        with celery_worker(env={"ALLOW_PRIVATE_URLS": "true"}) as worker:
            response = api_client_for(alice).post(f"/api/v1/listings/{listing.pk}/sync/")
            assert response.status_code == 202 and response.json()["queued"] == 2
            assert wait_until(
                lambda: all(
                    Feed.objects.filter(pk=f.pk, last_import__has_key="at").exists() for f in feeds
                )
            ), worker.log[-3000:]
    purge_broker()
    assert Feed.objects.get(pk=feeds[0].pk).last_import["created"] == 3
    assert Feed.objects.get(pk=feeds[1].pk).last_import["events"] == 0


def wait_until(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_kept_events_routine_on_the_page_unreadable_on_the_row(alice, allow_private_urls, client):
    route = Body(airbnb_feed(airbnb_event("past", -9, -6), airbnb_event("r1", 5, 9)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        route.body, route.etag = airbnb_feed(BROKEN.format(uid="r1")), '"v2"'
        run_sync(feed)
    assert feed.last_import["kept"] == {"ended": 1, "unreadable": 1}
    client.force_login(alice)
    row = client.get("/calendars/").content.decode()
    assert "1 event kept as last read (the feed&#x27;s copy of it could not be read)" in row
    assert "already over" not in row  # channels drop past stays: routine
    page = client.get(f"/calendars/feeds/{feed.pk}/import/").content.decode()
    assert "1 event no longer in the feed but already over, so kept." in page


def test_staff_see_the_last_import_in_the_admin(staff, alice, allow_private_urls, client):
    route = Body(first_body())
    with local_server({"/a.ics": route}) as server:
        feed = imported_twice(alice, server.url, route)
    client.force_login(staff)
    page = client.get(f"/admin/calendars/feed/{feed.pk}/change/")
    assert page.status_code == 200
    assert "junk@airbnb.com" in page.content.decode()


def test_sync_now_of_a_paused_feed_resumes_only_when_asked(alice):
    """The service decides: the pages leave a paused feed paused and count nothing; the API
    asks to resume (its documented "asking is trying again")."""
    from calendars.services.listings import request_manual_sync

    Account.objects.filter(user=alice).update(plan=Plan.FREE)  # 2 manual syncs an hour
    (feed, _other), _two = two_listings(alice)
    Feed.objects.filter(pk=feed.pk).update(paused=True, pause_reason="x")
    feed.refresh_from_db()
    for _ in range(3):  # more than the allowance: a refusal for being paused costs nothing
        outcome = request_manual_sync(feed, owner=alice)
        assert (outcome.paused, outcome.accepted, outcome.queued) == (True, False, False)
    assert Feed.objects.get(pk=feed.pk).paused and leased([feed]) == [False]

    outcome = request_manual_sync(feed, owner=alice, resume=True)
    assert (outcome.paused, outcome.accepted, outcome.queued) == (False, True, True)
    assert not Feed.objects.get(pk=feed.pk).paused and leased([feed]) == [True]
