"""The owner's flows clicked through in a real browser (issue 12): add a listing and a feed
and see its first sync's result appear, "Sync now" and see the new result appear, resume a
paused feed (its own button) — all without reloading, with a real Celery worker importing
feeds served on 127.0.0.1; rotate the export link and see the old one still answer; Remove,
Delete and Revoke ask first.
"""

from __future__ import annotations

import os
import re

import pytest
from django.utils import timezone
from knox.models import AuthToken

from alarms.models import Alarm
from calendars.models import Feed, Listing
from calendars.services.listings import listing_create
from tests.calendars.test_import import Body, airbnb_event, airbnb_feed
from tests.e2e.browser import chromium, new_page, screenshot, session_for
from tests.e2e.seed import seed_account
from tests.support.http import local_server
from tests.support.worker import celery_worker, purge_broker

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SYNC_TIMEOUT = 45_000  # ms: the first sync of a new feed is promised within a minute


def feed_row(page):
    return page.locator("tr.feed-row").first


@pytest.mark.worker
def test_add_a_feed_sync_now_and_resume_see_results_without_reload(
    live_server, alice, allow_private_urls
):
    purge_broker()
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9), airbnb_event("r2", 12, 15)))
    base = live_server.url
    with (
        local_server({"/a.ics": route}) as feeds,
        celery_worker(env={"ALLOW_PRIVATE_URLS": "true"}) as worker,
        chromium() as browser,
    ):
        page = new_page(browser, base, width="phone", session=session_for(alice))
        page.goto(base + "/calendars/")
        page.click("text=Add a listing")
        page.fill("#id_name", "Lake house")
        page.click("main form button[type=submit]")
        assert Listing.objects.get(owner=alice).timezone == "Europe/Paris"  # the browser's
        page.click(f"#listing-{Listing.objects.get(owner=alice).pk} >> text=Add a feed")
        page.fill("#id_url", f"{feeds.url}/a.ics")
        page.click("main form button[type=submit]")
        page.wait_for_url(base + "/calendars/")
        page.evaluate("window.notReloaded = true")
        row = feed_row(page)
        # The first sync's result appears in the row by itself: htmx polls while it waits.
        row.locator("text=/2 events: 2 new, just now/").wait_for(timeout=SYNC_TIMEOUT)
        assert "Waiting for first sync" not in row.inner_text()

        route.body = airbnb_feed(
            airbnb_event("r1", 5, 9), airbnb_event("r2", 13, 15), airbnb_event("r3", 20, 22)
        )
        route.etag = '"v2"'
        row.locator("button", has_text="Sync now").click()
        row.locator("text=/3 events: 1 new, 1 changed, just now/").wait_for(timeout=SYNC_TIMEOUT)
        screenshot(page, "flow-synced", "phone")

        # Paused (after failures): "Sync now" is gone, Resume is its own button.
        feed = Feed.objects.get(listing__owner=alice)
        Feed.objects.filter(pk=feed.pk).update(
            paused=True, consecutive_failures=10, pause_reason="Paused after 10 failures."
        )
        page.reload()
        page.evaluate("window.notReloaded = true")
        row = feed_row(page)
        assert row.locator("button", has_text="Sync now").count() == 0
        paused_at = timezone.now()
        row.locator("button", has_text="Resume syncing").click()
        row.locator("text=Resumed; syncing now.").wait_for()
        row.locator(".badge.ok").wait_for(timeout=SYNC_TIMEOUT)  # synced again (304: same)
        assert "Last checked just now" in row.inner_text()
        assert page.evaluate("window.notReloaded") is True
        feed.refresh_from_db()
        assert not feed.paused and feed.consecutive_failures == 0, worker.log[-2000:]
        assert feed.last_success_at > paused_at
    purge_broker()


def test_rotate_the_export_link_and_the_old_one_still_answers(live_server, alice):
    listing = listing_create(owner=alice, name="Lake house", timezone_name="Europe/Paris")
    base = live_server.url
    with chromium() as browser:
        page = new_page(browser, base, session=session_for(alice))
        page.goto(base + "/calendars/")
        old = page.input_value(f"#export-{listing.pk}")
        # One click does nothing irreversible: the button sits behind a question.
        assert not page.locator("text=Make a new link").is_visible()
        page.click("summary:has-text('New export link')")
        page.click("text=Make a new link")
        page.wait_for_load_state()
        new = page.input_value(f"#export-{listing.pk}")
        assert new != old
        assert re.search(r"old link keeps working until \w{3} \d+ \w{3} \d{4}", page.content())
        assert page.request.get(old).status == 200  # the channels still polling it
        assert page.request.get(new).status == 200
        screenshot(page, "flow-new-export-link", "desktop")


def test_remove_delete_and_revoke_ask_first(live_server, alice):
    seeded = seed_account(alice)
    base = live_server.url
    with chromium() as browser:
        page = new_page(browser, base, width="phone", session=session_for(alice))
        page.goto(base + "/alarms/")
        page.click("summary:has-text('Delete')")
        page.click("text=Delete alarm")
        page.wait_for_load_state()
        assert not Alarm.objects.filter(pk=seeded.alarm_id).exists()

        page.goto(base + "/account/tokens/")
        page.click("summary:has-text('Revoke')")
        page.click("text=Revoke token")
        page.wait_for_load_state()
        assert not AuthToken.objects.filter(user=alice).exists()

        feed = seeded.feeds["ok"]
        page.goto(base + "/calendars/")
        page.click(f"#feed-{feed.pk} >> text=Remove")
        assert "This cannot be undone" in page.content()
        page.click("text=Cancel, keep it")
        assert Feed.objects.filter(pk=feed.pk).exists()
        page.click(f"#feed-{feed.pk} >> text=Remove")
        page.click("main button:has-text('Remove feed')")
        page.wait_for_url(base + "/calendars/")
        assert not Feed.objects.filter(pk=feed.pk).exists()
    purge_broker()
