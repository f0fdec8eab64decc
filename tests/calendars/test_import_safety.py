"""Nothing a channel sent is lost (issue 9, points 1-4, 6, 7 and 12).

Every test serves feeds on 127.0.0.1 and imports them through the engine (claim_one +
run_claimed), exactly as a worker would.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from calendars.models import Conflict, Event, EventKind, EventStatus, Feed, Source
from calendars.services import feed_sync
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    day,
    make_feed,
    make_listing,
    run_sync,
    vrbo_feed,
)
from tests.support.http import local_server

pytestmark = pytest.mark.django_db

BROKEN = (
    "BEGIN:VEVENT\nUID:{uid}@airbnb.com\nSUMMARY:Reserved\n"
    "DTSTART;VALUE=DATE:nonsense\nDTEND;VALUE=DATE:20990101\nEND:VEVENT\n"
)


def status_of(uid: str) -> str:
    return Event.objects.get(uid=uid).status


# --- 1. an unreadable VEVENT keeps its event's last good state ------------------------------


def test_known_event_turning_unreadable_keeps_its_last_good_state(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9), airbnb_event("r2", 12, 15)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        before = Event.objects.filter(uid="r2@airbnb.com").values().get()
        route.body = airbnb_feed(airbnb_event("r1", 5, 9), BROKEN.format(uid="r2"))
        route.etag = '"v2"'
        attempt = run_sync(feed)
    assert attempt.outcome == "ok"
    assert attempt.counts["cancelled"] == 0
    after = Event.objects.filter(uid="r2@airbnb.com").values().get()
    # Not cancelled, not touched: its last good state. Only the bookkeeping says the
    # import did not read it (in_feed; last seen at the first import, as before).
    assert (before.pop("in_feed"), after.pop("in_feed")) == (True, False)
    assert after == before
    assert feed.last_import["skipped"] == [["r2@airbnb.com", "bad_dtstart"]]
    assert feed.last_import["skipped_count"] == 1
    assert feed.last_import["kept"] == {"unreadable": 1}


def test_unreadable_series_keeps_its_occurrences(alice, allow_private_urls):
    series = (
        "BEGIN:VEVENT\nUID:clean@example.org\nSUMMARY:Cleaning\n"
        f"DTSTART;VALUE=DATE:{day(3).strftime('%Y%m%d')}\n"
        "RRULE:FREQ=WEEKLY;COUNT=3\nEND:VEVENT\n"
    )
    broken = series.replace("FREQ=WEEKLY;COUNT=3", "FREQ=MINUTELY;COUNT=3")
    route = Body(airbnb_feed(series, airbnb_event("r1", 40, 44)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        assert Event.objects.filter(uid__startswith="clean@example.org#").count() == 3
        route.body, route.etag = airbnb_feed(broken, airbnb_event("r1", 40, 44)), '"v2"'
        attempt = run_sync(feed)
    assert attempt.counts["cancelled"] == 0
    occurrences = Event.objects.filter(uid__startswith="clean@example.org#")
    assert {e.status for e in occurrences} == {EventStatus.CONFIRMED}
    assert feed.last_import["skipped"] == [["clean@example.org", "unsupported_rrule"]]


# --- 2. only events that have not ended are cancelled by vanishing ---------------------------


def test_past_stays_dropped_by_the_channel_stay_as_they_were(alice, allow_private_urls):
    body = airbnb_feed(
        airbnb_event("past", -12, -8),
        airbnb_event("checked-out-today", -3, 0),
        airbnb_event("ongoing", -2, 3),
        airbnb_event("future", 10, 14),
        airbnb_event("stays", 20, 24),
    )
    route = Body(body)
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        first = feed.last_import
        route.body, route.etag = airbnb_feed(airbnb_event("stays", 20, 24)), '"v2"'
        attempt = run_sync(feed)
        kept = feed.last_import["kept"]
        route.body = airbnb_feed(airbnb_event("stays", 20, 25))
        route.etag = '"v3"'
        later = run_sync(feed)
    # The stays dropped at the second import are not counted (nor read) again at the third.
    assert later.counts.get("kept") is None and later.counts["updated"] == 1
    assert status_of("past@airbnb.com") == EventStatus.CONFIRMED
    assert status_of("checked-out-today@airbnb.com") == EventStatus.CONFIRMED
    assert status_of("ongoing@airbnb.com") == EventStatus.CANCELLED  # not over yet
    assert status_of("future@airbnb.com") == EventStatus.CANCELLED
    assert attempt.counts["cancelled"] == 2
    assert kept == {"ended": 2}
    # The kept rows were not in the feed: last seen at the first import, the one that held
    # them (the feed's last import is the third).
    past = Event.objects.get(uid="past@airbnb.com")
    stays = Event.objects.get(uid="stays@airbnb.com")
    assert not past.in_feed and stays.in_feed
    assert past.seen_at == past.last_seen == datetime.fromisoformat(first["at"])
    assert stays.seen_at == datetime.fromisoformat(feed.last_import["at"]) > past.seen_at


# --- 3. a feed that suddenly empties is held back until the next sync confirms it ----------


def three_stays() -> bytes:
    return airbnb_feed(
        airbnb_event("a", 5, 8), airbnb_event("b", 12, 15), airbnb_event("c", 30, 33)
    )


def test_suddenly_empty_feed_is_held_back_then_confirmed(alice, allow_private_urls):
    route = Body(three_stays())
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        # Still a valid calendar, with a past stay only: no future events at all.
        route.body, route.etag = airbnb_feed(airbnb_event("old", -9, -6)), '"v2"'
        first = run_sync(feed)
        assert first.outcome == "ok"
        assert first.counts["cancelled"] == 0 and first.counts["held_back"] == 3
        assert feed.empty_since is not None
        assert feed.last_import["held_back"] == 3
        assert Event.objects.filter(status=EventStatus.CONFIRMED).count() == 4
        assert feed.content_hash != "" and feed.etag == '"v1"'  # the body is read again

        second = run_sync(feed)  # the same body again: confirmed
    assert second.outcome == "ok"
    assert second.counts["cancelled"] == 3
    assert feed.empty_since is None and feed.last_import["held_back"] == 0
    assert {status_of(f"{uid}@airbnb.com") for uid in "abc"} == {EventStatus.CANCELLED}
    assert status_of("old@airbnb.com") == EventStatus.CONFIRMED


def test_events_coming_back_clear_the_suspicion(alice, allow_private_urls):
    route = Body(three_stays())
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        route.body, route.etag = airbnb_feed(), '"v2"'
        run_sync(feed)
        assert feed.empty_since is not None
        route.body, route.etag = airbnb_feed(airbnb_event("a", 5, 8)), '"v3"'
        attempt = run_sync(feed)
    assert feed.empty_since is None
    # A feed with events is believed: the two that left are cancelled now.
    assert attempt.counts["cancelled"] == 2
    assert status_of("a@airbnb.com") == EventStatus.CONFIRMED


def test_one_event_leaving_is_not_suspicious(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("a", 5, 8)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        route.body, route.etag = airbnb_feed(), '"v2"'
        attempt = run_sync(feed)
    assert attempt.counts["cancelled"] == 1
    assert feed.empty_since is None


# --- 4. a feed over the cap cancels only within the range it covered ------------------------


def test_capped_feed_cancels_only_within_the_covered_range(alice, allow_private_urls, monkeypatch):
    monkeypatch.setattr(feed_sync, "MAX_EVENTS", 4)
    stays = [airbnb_event(f"s{n}", 5 + 10 * n, 8 + 10 * n) for n in range(4)]
    route = Body(airbnb_feed(*stays))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        assert Event.objects.count() == 4
        # s1 vanishes; three later stays push the feed over the cap of 4 events.
        later = [airbnb_event(f"t{n}", 60 + 10 * n, 63 + 10 * n) for n in range(3)]
        route.body = airbnb_feed(stays[0], stays[2], stays[3], *later)
        route.etag = '"v2"'
        attempt = run_sync(feed)
    assert feed.last_import["left_out"] == 2
    assert feed.last_import["covered_until"] is not None
    assert attempt.counts["cancelled"] == 1
    assert status_of("s1@airbnb.com") == EventStatus.CANCELLED
    assert {status_of(f"s{n}@airbnb.com") for n in (0, 2, 3)} == {EventStatus.CONFIRMED}


def test_capped_feed_leaves_events_past_the_covered_range_alone(
    alice, allow_private_urls, monkeypatch
):
    monkeypatch.setattr(feed_sync, "MAX_EVENTS", 3)
    stays = [airbnb_event(f"s{n}", 5 + 10 * n, 8 + 10 * n) for n in range(3)]
    route = Body(airbnb_feed(*stays))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        last = Event.objects.filter(uid="s2@airbnb.com").values().get()
        early = [airbnb_event(f"e{n}", 1 + n, 2 + n) for n in range(3)]
        route.body, route.etag = airbnb_feed(*early, *stays), '"v2"'
        attempt = run_sync(feed)
    assert attempt.counts["cancelled"] == 0
    now = Event.objects.filter(uid="s2@airbnb.com").values().get()
    assert (last.pop("in_feed"), now.pop("in_feed")) == (True, False)  # not read this time
    assert now == last  # not touched
    assert feed.last_import["left_out"] == 3


def test_all_day_event_at_the_cut_is_not_cancelled_west_of_utc(
    alice, allow_private_urls, monkeypatch
):
    """All-day events are stored at midnight UTC; the cap's cut is midnight in the
    listing's zone (08:00 UTC in Los Angeles): the first stay left out is not "before" it."""
    stays = [airbnb_event(f"s{n}", 5 + 10 * n, 8 + 10 * n) for n in range(3)]
    route = Body(airbnb_feed(*stays))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice, tz="America/Los_Angeles"), f"{server.url}/a.ics")
        run_sync(feed)
        monkeypatch.setattr(feed_sync, "MAX_EVENTS", 2)
        route.body = airbnb_feed(airbnb_event("s0", 5, 9), *stays[1:])
        route.etag = '"v2"'
        attempt = run_sync(feed)
    assert feed.last_import["left_out"] == 1
    assert attempt.counts["cancelled"] == 0
    assert status_of("s2@airbnb.com") == EventStatus.CONFIRMED


# --- 12. UID churn: the same dates under a new UID are the same event -----------------------


def test_block_back_with_a_new_uid_keeps_its_row_and_its_conflict(alice, allow_private_urls):
    airbnb = Body(airbnb_feed(airbnb_event("r1", 10, 14)))
    vrbo = Body(vrbo_feed(("v-old", 12, 16), ("v-other", 30, 33)))
    with local_server({"/a.ics": airbnb, "/v.ics": vrbo}) as server:
        listing = make_listing(alice)
        run_sync(make_feed(listing, f"{server.url}/a.ics", Source.AIRBNB))
        vrbo_row = make_feed(listing, f"{server.url}/v.ics", Source.VRBO)
        run_sync(vrbo_row)
        conflict = Conflict.objects.get()
        pk = Event.objects.get(uid="v-old").pk
        vrbo.body, vrbo.etag = vrbo_feed(("v-new", 12, 16), ("v-other", 30, 33)), '"v2"'
        attempt = run_sync(vrbo_row)
    assert attempt.counts["created"] == 0 and attempt.counts["cancelled"] == 0
    assert attempt.counts["renamed"] == 1
    assert attempt.counts["conflicts_opened"] == 0
    assert Event.objects.get(pk=pk).uid == "v-new"
    assert not Event.objects.filter(uid="v-old").exists()
    assert list(Conflict.objects.values_list("pk", "resolved_at")) == [(conflict.pk, None)]


def test_several_events_back_with_new_uids_are_renamed_in_one_statement(alice, allow_private_urls):
    """Three stays re-published under new UIDs in one import (one new UID is an old one's
    with its letters moved): each row keeps its key under its new UID, nothing is created or
    cancelled, and on PostgreSQL the export's counter moves once for the renames."""
    from calendars.models import ExportVersion

    stays = [("v-1", 10, 12), ("v-2", 14, 16), ("v-3", 20, 23)]
    vrbo = Body(vrbo_feed(*stays))
    with local_server({"/v.ics": vrbo}) as server:
        listing = make_listing(alice)
        feed = make_feed(listing, f"{server.url}/v.ics", Source.VRBO)
        run_sync(feed)
        keys = {uid: Event.objects.get(uid=uid).pk for uid, _s, _e in stays}
        version = ExportVersion.objects.filter(listing=listing).values_list("version", flat=True)
        before = version.first()
        vrbo.body = vrbo_feed(("n-1", 10, 12), ("1-v", 14, 16), ("n-3", 20, 23))
        vrbo.etag = '"v2"'
        attempt = run_sync(feed)
    assert attempt.counts["renamed"] == 3
    assert attempt.counts["created"] == 0 and attempt.counts["cancelled"] == 0
    after = dict(Event.objects.filter(feed=feed).values_list("uid", "pk"))
    assert after == {"n-1": keys["v-1"], "1-v": keys["v-2"], "n-3": keys["v-3"]}
    if before is not None:  # PostgreSQL's triggers keep the counter
        assert version.first() == before + 1


def test_new_uid_with_other_dates_is_a_new_event(alice, allow_private_urls):
    route = Body(vrbo_feed(("v-old", 12, 16)))
    with local_server({"/v.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/v.ics", Source.VRBO)
        run_sync(feed)
        route.body, route.etag = vrbo_feed(("v-new", 12, 17)), '"v2"'
        attempt = run_sync(feed)
    assert (attempt.counts["created"], attempt.counts["cancelled"]) == (1, 1)
    assert status_of("v-old") == EventStatus.CANCELLED


# --- 6. the feed's event kind, and the owner's per-event word -------------------------------


def test_feed_event_kind_applies_and_event_override_survives(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9), airbnb_event("r2", 12, 15)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        Feed.objects.filter(pk=feed.pk).update(event_kind=EventKind.MAINTENANCE)
        feed.refresh_from_db()
        run_sync(feed)
        assert set(Event.objects.values_list("kind", flat=True)) == {EventKind.MAINTENANCE}
        Event.objects.filter(uid="r1@airbnb.com").update(kind_override=EventKind.OWNER_STAY)
        route.body = airbnb_feed(airbnb_event("r1", 6, 9), airbnb_event("r2", 12, 15))
        route.etag = '"v2"'
        attempt = run_sync(feed)
    assert attempt.counts["updated"] == 1
    moved = Event.objects.get(uid="r1@airbnb.com")
    assert moved.kind == EventKind.MAINTENANCE
    assert moved.kind_override == EventKind.OWNER_STAY
    assert moved.effective_kind == EventKind.OWNER_STAY


def test_new_feed_kind_makes_the_next_import_read_every_event(alice, alice_api, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r1", 5, 9), airbnb_event("r2", 12, 15)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
        response = alice_api.patch(
            f"/api/v1/feeds/{feed.pk}/", {"event_kind": EventKind.BLOCK}, format="json"
        )
        assert response.status_code == 200
        feed.refresh_from_db()
        assert (feed.parse_context_hash, feed.content_hash, feed.etag) == ("", "", "")
        attempt = run_sync(feed)  # the same body: read again, every block decoded
    assert attempt.outcome == "ok" and attempt.counts["not_decoded"] == 0
    assert set(Event.objects.values_list("kind", flat=True)) == {EventKind.BLOCK}
    assert attempt.counts["cancelled"] == 0


# --- 11. echoes by UID are scoped to this listing's own export -------------------------------


def test_sibling_listing_export_is_read_and_own_export_is_not(alice, allow_private_urls, client):
    channel = Body(airbnb_feed(airbnb_event("r1", 5, 9)))
    routes = {"/a.ics": channel}
    with local_server(routes) as server:
        parent = make_listing(alice, name="Whole house")
        run_sync(make_feed(parent, f"{server.url}/a.ics", Source.AIRBNB))
        exported = client.get(parent.export_path).content  # the real public export
        assert b"BEGIN:VEVENT" in exported
        routes["/parent-export.ics"] = Body(exported)
        child = make_listing(alice, name="Upstairs room")
        sibling = make_feed(child, f"{server.url}/parent-export.ics")
        from_sibling = run_sync(sibling)
        own = make_feed(parent, f"{server.url}/parent-export.ics")
        from_itself = run_sync(own)
    assert from_sibling.counts["created"] == 1  # the parent's stay blocks the room
    assert Event.objects.filter(feed=sibling).count() == 1
    assert from_itself.counts["created"] == 0
    assert own.last_import["skipped"][0][1] == "own_export"
