"""The feed row on the calendars page (issue 12, points 2 and 4): it polls while a sync is
queued or running and stops when idle, says the result in words, and "Sync now" on a paused
feed does not resume it: Resume is its own button."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from calendars.models import Feed
from calendars.services.listings import feed_create, listing_create
from tests.support.worker import purge_broker

pytestmark = pytest.mark.django_db

POLL = 'hx-trigger="every 3s"'


@pytest.fixture
def feed(alice):
    cache.clear()
    listing = listing_create(owner=alice, name="Lake house")
    yield feed_create(listing=listing, url="https://www.airbnb.com/calendar/ical/1.ics")
    purge_broker()
    cache.clear()


def row(client, feed) -> str:
    response = client.get(f"/calendars/feeds/{feed.pk}/row/")
    assert response.status_code == 200
    return response.content.decode()


def words(html: str) -> str:
    """The row's text as read, tags left out."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ,", ",")


def test_a_new_feed_waits_for_its_first_sync_and_the_row_polls(client, alice, feed):
    client.force_login(alice)
    html = row(client, feed)
    assert "Waiting for first sync" in html and POLL in html
    assert "due now" not in html and "never" not in html and "0 minutes" not in html


def test_a_synced_feed_says_its_result_and_stops_polling(client, alice, feed):
    now = timezone.now()
    Feed.objects.filter(pk=feed.pk).update(
        last_success_at=now,
        next_sync_at=now + timedelta(hours=1),
        last_import={"at": now.isoformat(), "events": 30, "updated": 2, "unchanged": 28},
    )
    client.force_login(alice)
    html = row(client, feed)
    assert "30 events: 2 changed, just now" in words(html) and POLL not in html
    Feed.objects.filter(pk=feed.pk).update(leased_until=now + timedelta(minutes=1))
    assert POLL in row(client, feed)  # queued or running: poll again


def test_a_failing_feed_counts_failures_in_words(client, alice, feed):
    Feed.objects.filter(pk=feed.pk).update(
        consecutive_failures=1, last_error="timed out", next_sync_at=timezone.now()
    )
    client.force_login(alice)
    html = row(client, feed)
    assert "1 failure in a row" in html and "failure(s)" not in html
    assert "Next try any moment now" in words(html)


def test_sync_now_leaves_a_paused_feed_paused_and_resume_resumes_it(client, alice, bob, feed):
    Feed.objects.filter(pk=feed.pk).update(paused=True, pause_reason="Paused after 10 failures.")
    client.force_login(alice)
    html = row(client, feed)
    assert "Resume syncing" in html and "Sync now" not in html
    reply = client.post(f"/calendars/feeds/{feed.pk}/sync/", HTTP_HX_REQUEST="true")
    assert "resume it to sync again" in reply.content.decode()
    assert Feed.objects.get(pk=feed.pk).paused
    client.force_login(bob)
    assert client.post(f"/calendars/feeds/{feed.pk}/resume/").status_code == 404
    client.force_login(alice)
    reply = client.post(f"/calendars/feeds/{feed.pk}/resume/", HTTP_HX_REQUEST="true")
    html = reply.content.decode()
    assert "Resumed; syncing now." in html and POLL in html  # queued: the row polls
    resumed = Feed.objects.get(pk=feed.pk)
    assert not resumed.paused and resumed.pause_reason == "" and resumed.leased_until
