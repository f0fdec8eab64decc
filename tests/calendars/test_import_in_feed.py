"""An import writes the rows that changed and no others (``Event.in_feed``).

A changed import used to rewrite every unchanged row of the feed to bump ``last_seen``: on
PostgreSQL a new row version with its index entries for each, ~94 of a farm feed's 100
events when 6 had changed (4 of the 7.6 ms of statement time and ~77 of the 90 KB of WAL
per feed, bench/bare_compare.py's round of changed feeds). Now only the rows that left the
body or came back change ``in_feed``; ``Event.seen_at`` still says when each was last seen.
Every test imports real bodies served on 127.0.0.1 through the engine, as a worker would.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.admin.utils import display_for_value

from calendars.models import Event, EventStatus
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    make_feed,
    make_listing,
    run_sync,
)
from tests.support.http import local_server
from tests.support.rows import row_versions

pytestmark = pytest.mark.django_db


def _imported_at(feed) -> datetime:
    return datetime.fromisoformat(feed.last_import["at"])


def _stays(*moved: int, without: tuple[int, ...] = ()) -> bytes:
    """Ten future stays r0..r9; those in ``moved`` a day later, those in ``without`` gone."""
    return airbnb_feed(
        *(
            airbnb_event(f"r{n}", 10 * n + 5 + (n in moved), 10 * n + 8 + (n in moved))
            for n in range(10)
            if n not in without
        )
    )


@pytest.mark.postgres  # row versions (ctid) are PostgreSQL's
def test_a_changed_import_rewrites_only_the_rows_that_changed(alice, allow_private_urls):
    route = Body(_stays())
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        before = row_versions("calendars_event", "uid")
        # r2 moves a day, r7 leaves the feed (cancelled); the other eight are as they were.
        route.body, route.etag = _stays(2, without=(7,)), '"v2"'
        attempt = run_sync(feed)
    assert (attempt.counts["updated"], attempt.counts["cancelled"]) == (1, 1)
    after = row_versions("calendars_event", "uid")
    rewritten = {uid for uid, version in after.items() if version != before[uid]}
    assert rewritten == {"r2@airbnb.com", "r7@airbnb.com"}
    # Every unchanged row still reads as seen by the latest import.
    now_seen = _imported_at(feed)
    for event in Event.objects.select_related("feed").exclude(uid="r7@airbnb.com"):
        assert event.in_feed and event.seen_at == now_seen
    gone = Event.objects.get(uid="r7@airbnb.com")
    assert not gone.in_feed and gone.status == EventStatus.CANCELLED
    assert gone.seen_at == gone.last_seen < now_seen  # the first import, the last that held it


def test_a_feed_held_back_empty_that_returns_whole_is_in_the_feed_again(alice, allow_private_urls):
    route = Body(_stays())
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        first_at = _imported_at(feed)
        route.body, route.etag = airbnb_feed(), '"v2"'
        held = run_sync(feed)
        assert held.counts["held_back"] == 10
        # Held back, nothing cancelled, but the empty body held none of them.
        assert Event.objects.filter(in_feed=True).count() == 0
        assert {e.seen_at for e in Event.objects.select_related("feed")} == {first_at}
        route.body, route.etag = _stays(), '"v3"'
        back = run_sync(feed)
    assert back.counts["cancelled"] == 0 and back.counts["unchanged"] == 10
    assert feed.empty_since is None
    latest = _imported_at(feed)
    events = list(Event.objects.select_related("feed"))
    assert len(events) == 10
    assert all(e.in_feed and e.status == EventStatus.CONFIRMED for e in events)
    assert {e.seen_at for e in events} == {latest}
    assert {e.last_seen for e in events} == {latest}  # written when they came back


def test_a_dropped_past_stay_that_comes_back_unchanged_is_counted_once_and_seen_again(
    alice, allow_private_urls
):
    past, future = airbnb_event("past", -12, -8), airbnb_event("future", 20, 24)
    route = Body(airbnb_feed(past, future))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        first_at = _imported_at(feed)
        route.body, route.etag = airbnb_feed(future), '"v2"'
        dropped = run_sync(feed)
        route.body, route.etag = airbnb_feed(future, airbnb_event("future2", 30, 32)), '"v3"'
        still_gone = run_sync(feed)
        stay = Event.objects.select_related("feed").get(uid="past@airbnb.com")
        assert not stay.in_feed and stay.seen_at == first_at
        route.body, route.etag = airbnb_feed(past, future), '"v4"'
        returned = run_sync(feed)
    assert dropped.counts["kept"] == {"ended": 1}
    assert still_gone.counts.get("kept") is None  # counted once, when it left
    assert returned.counts["unchanged"] == 2 and returned.counts.get("kept") is None
    stay = Event.objects.select_related("feed").get(uid="past@airbnb.com")
    assert stay.in_feed and stay.status == EventStatus.CONFIRMED
    assert stay.seen_at == stay.last_seen == _imported_at(feed)


def test_a_feed_that_empties_twice_with_its_full_body_between_is_held_back_both_times(
    alice, allow_private_urls
):
    """The full body coming back is the one whose validators are remembered: read as "not
    modified", it left the first emptying's suspicion set, and the second empty body was
    taken as its confirmation (all ten future stays cancelled)."""
    route = Body(_stays())
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        route.body, route.etag = airbnb_feed(), '"v2"'
        assert run_sync(feed).counts["held_back"] == 10
        route.body, route.etag = _stays(), '"v1"'  # the same body, its ETag as before
        back = run_sync(feed)
        assert back.outcome == "ok" and back.counts["unchanged"] == 10
        assert feed.empty_since is None
        route.body, route.etag = airbnb_feed(), '"v2"'
        again = run_sync(feed)
    assert again.counts["held_back"] == 10 and again.counts["cancelled"] == 0
    assert Event.objects.filter(status=EventStatus.CANCELLED).count() == 0


def test_staff_see_one_last_seen_read_from_the_feed_while_the_event_is_in_it(
    client, staff, alice, allow_private_urls
):
    """The admin shows "last seen" as Event.seen_at, read only and formatted as its other
    dates; the raw column (stale while the event is in its feed) is not an input."""
    route = Body(_stays())
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        route.body, route.etag = _stays(without=(7,)), '"v2"'
        run_sync(feed)
    client.force_login(staff)
    changelist = client.get("/admin/calendars/event/?in_feed__exact=0").content.decode()
    assert changelist.count('class="field-uid"') == 1 and "r7@airbnb.com" in changelist
    held = Event.objects.get(uid="r0@airbnb.com")
    page = client.get(f"/admin/calendars/event/{held.pk}/change/").content.decode()
    assert 'name="last_seen' not in page  # not an input
    assert page.count(">Last seen:<") == 1
    shown = display_for_value(held.seen_at, "-")
    assert held.seen_at == _imported_at(feed) > held.last_seen and shown in page
