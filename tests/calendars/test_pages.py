"""Owner pages: they render for the owner, 404 for everybody else, and do what they say."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from calendars.models import Feed, Listing
from syncing.models import Account, Plan
from tests.calendars.test_api import build_alice_data
from tests.calendars.test_import import day

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice_data(alice):
    return build_alice_data(alice)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(client, bob):
    client.force_login(bob)
    return client


def owner_urls(data) -> list[str]:
    listing, feed = data["listing"].pk, data["airbnb"].pk
    return [
        f"/calendars/listings/{listing}/edit/",
        f"/calendars/listings/{listing}/delete/",
        f"/calendars/listings/{listing}/month/",
        f"/calendars/listings/{listing}/feeds/new/",
        f"/calendars/feeds/{feed}/edit/",
        f"/calendars/feeds/{feed}/delete/",
    ]


def test_pages_render_for_the_owner(alice_client, alice_data):
    index = alice_client.get("/calendars/")
    assert index.status_code == 200
    html = index.content.decode()
    assert "Seaside cottage" in html
    assert alice_data["listing"].export_token in html
    assert f'id="feed-{alice_data["airbnb"].pk}"' in html
    assert "1 double booking" in html
    for url in owner_urls(alice_data):
        assert alice_client.get(url).status_code == 200, url
    conflicts = alice_client.get("/calendars/conflicts/")
    assert conflicts.status_code == 200 and "Reserved - Maria" in conflicts.content.decode()


def test_pages_are_404_for_another_owner(bob_client, alice_data):
    for url in owner_urls(alice_data):
        assert bob_client.get(url).status_code == 404, url
    listing, feed = alice_data["listing"].pk, alice_data["airbnb"].pk
    for url in (
        f"/calendars/listings/{listing}/delete/",
        f"/calendars/feeds/{feed}/delete/",
        f"/calendars/feeds/{feed}/sync/",
        f"/calendars/listings/{listing}/regenerate-export/",
    ):
        assert bob_client.post(url).status_code == 404, url
    assert Listing.objects.filter(pk=listing).exists() and Feed.objects.filter(pk=feed).exists()
    html = bob_client.get("/calendars/").content.decode()
    assert "Seaside cottage" not in html
    assert "Reserved - Maria" not in bob_client.get("/calendars/conflicts/").content.decode()


def test_pages_need_a_login(client, alice_data):
    response = client.get("/calendars/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_month_view_shows_each_sources_events(alice_client, alice_data):
    month = day(10).strftime("%Y-%m")
    response = alice_client.get(
        f"/calendars/listings/{alice_data['listing'].pk}/month/", {"month": month}
    )
    html = response.content.decode()
    assert "ev source-airbnb" in html and "ev source-vrbo" in html
    weeks = response.context["weeks"]
    cells = {cell.day: cell for week in weeks for cell in week}
    assert [e.uid for e in cells[day(13)].events] == ["a1@airbnb.com", "v1"]
    assert all(
        e.uid != "a1@airbnb.com" for e in cells.get(day(14), type("C", (), {"events": []})).events
    )
    # A malformed month falls back to this month.
    assert (
        alice_client.get(
            f"/calendars/listings/{alice_data['listing'].pk}/month/", {"month": "x"}
        ).status_code
        == 200
    )


def test_add_edit_remove_listing_and_feed(alice_client, alice):
    response = alice_client.post(
        "/calendars/listings/new/", {"name": "Loft", "timezone": "Europe/Paris"}
    )
    assert response.status_code == 302
    listing = Listing.objects.get(owner=alice)
    response = alice_client.post(
        f"/calendars/listings/{listing.pk}/feeds/new/",
        {
            "url": "https://www.airbnb.com/calendar/ical/5.ics",
            "name": "",
            "source": "",
            "export_back": "on",
        },
    )
    assert response.status_code == 302
    feed = Feed.objects.get(listing=listing)
    assert feed.source == "airbnb" and feed.tier == "1h" and feed.export_back
    response = alice_client.post(
        f"/calendars/feeds/{feed.pk}/edit/",
        {"url": "https://www.vrbo.com/icalendar/5.ics", "name": "VRBO", "source": ""},
    )
    assert response.status_code == 302
    feed.refresh_from_db()
    assert feed.source == "vrbo" and feed.name == "VRBO" and not feed.export_back
    assert alice_client.post(f"/calendars/feeds/{feed.pk}/delete/").status_code == 302
    assert not Feed.objects.exists()
    assert alice_client.post(f"/calendars/listings/{listing.pk}/delete/").status_code == 302
    assert not Listing.objects.exists()


def test_listing_form_rejects_bad_time_zone_and_respects_allowance(alice_client, alice):
    response = alice_client.post(
        "/calendars/listings/new/", {"name": "Loft", "timezone": "Nowhere/Land"}
    )
    assert response.status_code == 200 and "not a known time zone" in response.content.decode()
    Account.objects.filter(user=alice).update(plan=Plan.FREE)
    alice_client.post("/calendars/listings/new/", {"name": "One", "timezone": "UTC"})
    response = alice_client.post("/calendars/listings/new/", {"name": "Two", "timezone": "UTC"})
    assert response.status_code == 200 and "allows 1 listing" in response.content.decode()
    assert Listing.objects.count() == 1


def test_sync_now_button_swaps_the_row_and_counts_against_the_allowance(
    alice_client, alice, alice_data
):
    Account.objects.filter(user=alice).update(plan=Plan.FREE)  # 2 per hour
    feed = alice_data["airbnb"]
    url = f"/calendars/feeds/{feed.pk}/sync/"
    first = alice_client.post(url, HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    html = first.content.decode()
    assert html.strip().startswith(f'<tr id="feed-{feed.pk}"') and "Sync queued." in html
    alice_client.post(url, HTTP_HX_REQUEST="true")
    third = alice_client.post(url, HTTP_HX_REQUEST="true")
    assert "allowance used up" in third.content.decode()
    assert int(third["Retry-After"]) > 0
    plain = alice_client.post(url)
    assert plain.status_code == 302


def test_regenerate_export_link(alice_client, alice_data):
    old = alice_data["listing"].export_token
    alice_client.post(f"/calendars/listings/{alice_data['listing'].pk}/regenerate-export/")
    alice_data["listing"].refresh_from_db()
    assert alice_data["listing"].export_token != old


def test_dashboard_shows_conflicts_and_feed_health(alice_client, alice_data):
    Feed.objects.filter(pk=alice_data["vrbo"].pk).update(
        consecutive_failures=2, last_error="The feed URL returned an HTML page"
    )
    html = alice_client.get("/dashboard/").content.decode()
    assert 'id="calendars"' in html
    assert "1 open double booking" in html
    assert "returned an HTML page" in html


def test_dashboard_without_listings_has_no_calendars_section(client, charlie):
    client.force_login(charlie)
    assert 'id="calendars"' not in client.get("/dashboard/").content.decode()
