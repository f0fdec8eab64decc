"""Adaptive polling (issue 14, part 1): the change-rate estimator, the bounded allocation,
and the calendars kind's opt-in through a real import (feeds served on 127.0.0.1, synced
inline by the engine, PostgreSQL).

Elapsed time between syncs is played by moving the feed's ``last_success_at`` back (the
engine measures each check's interval from it), never by mocking the clock.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from calendars.kinds import FEED_KIND, FEED_POLICY, FEED_POLICY_SQRT
from calendars.models import Feed
from syncing.adaptive import (
    Adaptive,
    ChangeStats,
    allocate,
    bounds,
    dispatch_tick,
    estimate_rate,
    hot_interval,
    known_rate,
    naive_rate,
    observe,
    waking_hours_factor,
)
from syncing.humane import change_rate_words, polling_words
from syncing.kinds import get_kind
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    make_feed,
    make_listing,
    run_sync,
)
from tests.support.http import local_server

NO_DECAY = 0.0  # memory_hours=0: every check counts the same


def checks(rng: random.Random, rate: float, intervals: list[float]) -> ChangeStats:
    """Checks after ``intervals`` (hours) of a Poisson process of ``rate`` changes/hour."""
    stats = ChangeStats()
    for hours in intervals:
        changed = rng.random() < 1 - math.exp(-rate * hours)
        stats = observe(stats, hours=hours, changed=changed, memory_hours=NO_DECAY)
    return stats


@pytest.mark.parametrize("rate", [0.05, 0.3, 1.0, 2.0])
def test_estimator_finds_known_rates_at_regular_checks(rate):
    stats = checks(random.Random(14), rate, [1.0] * 3000)
    assert estimate_rate(stats) == pytest.approx(rate, rel=0.1)


def test_naive_estimator_is_biased_low_for_busy_items():
    # Two changes an hour, checked hourly: a check sees "changed" 86% of the time, so
    # changes/time says 0.86 where the truth is 2.
    stats = checks(random.Random(14), 2.0, [1.0] * 3000)
    assert naive_rate(stats) < 0.95
    assert estimate_rate(stats) == pytest.approx(2.0, rel=0.1)


def test_estimator_at_irregular_intervals():
    rng = random.Random(7)
    intervals = [rng.choice([0.25, 0.5, 1.0, 2.0, 3.0]) for _ in range(4000)]
    stats = checks(random.Random(8), 1.0, intervals)
    assert estimate_rate(stats) == pytest.approx(1.0, rel=0.15)
    assert naive_rate(stats) < 0.75


def test_three_decayed_checks_are_enough():
    policy = Adaptive(min_checks=3, memory=timedelta(days=7))
    stats = ChangeStats()
    for _ in range(3):
        stats = observe(stats, hours=6, changed=False, memory_hours=7 * 24)
    assert stats.n < 3
    assert known_rate(stats, policy) == 0.0


def test_no_change_seen_is_rate_zero_and_too_few_checks_is_unknown():
    quiet = checks(random.Random(1), 0.0, [6.0] * 10)
    assert estimate_rate(quiet) == 0.0
    policy = Adaptive(min_checks=3)
    two = checks(random.Random(1), 1.0, [1.0, 1.0])
    assert known_rate(two, policy) is None
    assert known_rate(checks(random.Random(1), 1.0, [1.0] * 3), policy) is not None


def test_recency_weighting_forgets_an_old_busy_spell():
    rng = random.Random(3)
    memory = 7 * 24.0
    stats = ChangeStats()
    for _ in range(24 * 14):  # two busy weeks, hourly checks, a change an hour
        stats = observe(stats, hours=1, changed=rng.random() < 0.63, memory_hours=memory)
    busy = estimate_rate(stats)
    for _ in range(4 * 21):  # three quiet weeks, checked every 6 hours
        stats = observe(stats, hours=6, changed=False, memory_hours=memory)
    assert busy == pytest.approx(1.0, rel=0.25)
    assert estimate_rate(stats) < busy / 20


def test_stats_round_trip_through_json():
    stats = checks(random.Random(2), 0.5, [1.0, 2.0, 3.0])
    assert ChangeStats.from_json(stats.to_json()) == pytest.approx(stats)
    assert ChangeStats.from_json(None) == ChangeStats()


@pytest.mark.parametrize(
    "base",
    [timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=6)],
)
def test_allocation_stays_within_the_bounds(base):
    policy = FEED_POLICY_SQRT
    floor, ceiling = bounds(base, policy)
    assert floor == base / policy.floor_factor
    assert ceiling <= policy.longest and ceiling <= base * policy.ceiling_factor
    rates = [None, 0.0, 1e-9, 1e-4, 0.01, 0.3, 1.0, 10.0, 1e6]
    for rate in rates:
        for changed in (False, True):
            for signal in (1.0, 0.5, 0.01, 100.0):
                got = allocate(rate, base=base, policy=policy, changed=changed, signal=signal)
                assert floor <= got <= ceiling, (rate, changed, signal, got)
    assert allocate(0.0, base=base, policy=policy) == ceiling
    assert allocate(1e6, base=base, policy=policy) == floor
    assert allocate(None, base=base, policy=policy) == base


def test_the_plans_longest_interval_is_never_passed():
    policy = Adaptive(ceiling_factor=10, longest=timedelta(hours=24))
    assert allocate(0.0, base=timedelta(hours=6), policy=policy) == timedelta(hours=24)
    # A tier slower than ``longest`` keeps its own interval as the longest.
    assert allocate(0.0, base=timedelta(hours=48), policy=policy) == timedelta(hours=48)


def test_an_item_at_the_kinds_reference_rate_keeps_the_plans_interval():
    base = timedelta(hours=1)
    policy = FEED_POLICY_SQRT
    assert allocate(policy.reference_rate, base=base, policy=policy) == base
    assert allocate(policy.reference_rate / 4, base=base, policy=policy) == 2 * base


def test_waking_hours():
    assert [waking_hours_factor(h) for h in (3, 7, 8, 12, 21, 22)] == [2, 2, 0.8, 0.8, 0.8, 2]


def test_allocation_is_sub_proportional():
    # The square-root rule: four times the rate earns half the interval, not a quarter.
    policy = Adaptive(floor_factor=1000, ceiling_factor=1000, longest=timedelta(days=365))
    base = timedelta(hours=1)
    slow = allocate(0.01, base=base, policy=policy)
    fast = allocate(0.04, base=base, policy=policy)
    assert slow / fast == pytest.approx(2.0)


# Through the engine: the calendars kind opted in.


def sync_after(feed: Feed, hours: float):
    """Sync ``feed`` as if ``hours`` had passed since its last successful sync."""
    back = timezone.now() - timedelta(hours=hours)
    Feed.objects.filter(pk=feed.pk).update(last_success_at=back, next_sync_at=back)
    feed.refresh_from_db()
    return run_sync(feed)


def test_calendars_opted_in():
    assert get_kind(FEED_KIND).adaptive is FEED_POLICY


def zone_at(local_hour: int) -> str:
    """A time zone where it is now ``local_hour`` o'clock (Etc/GMT-N is UTC+N)."""
    offset = (local_hour - timezone.now().hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}"


def busy_feed(owner, server, route) -> Feed:
    """A feed synced five times an hour apart, with a new booking each time."""
    feed = make_feed(make_listing(owner), f"{server.url}/busy.ics")
    run_sync(feed)
    assert feed.effective_interval is None  # the first sync only sets the baseline
    for n in range(1, 5):
        route.body = airbnb_feed(
            *(airbnb_event(f"r{i}", 10 + 3 * i, 12 + 3 * i) for i in range(n + 1))
        )
        route.etag = f'"v{n + 1}"'
        attempt = sync_after(feed, 1)
        assert attempt.items_changed == 1
    return feed


@pytest.mark.django_db
def test_a_busy_feed_gets_a_shorter_interval_after_a_few_syncs(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r0", 10, 12)))
    with local_server({"/busy.ics": route}) as server:
        feed = busy_feed(alice, server, route)
    assert feed.tier == "1h"
    assert feed.change_rate > 1.0  # changes per hour
    # Hot: the largest dispatch step (a minute: calendars dispatch every minute) within
    # 0.95 x 1h, half a step early (56.5 minutes).
    busy = hot_interval(timedelta(hours=1), FEED_POLICY)
    assert feed.effective_interval == busy < timedelta(hours=1) * FEED_POLICY.hot_factor
    due_in = feed.next_sync_at - timezone.now()
    assert busy - timedelta(minutes=1) < due_in <= busy


def quiet_feed(owner, server, path: str, tz: str) -> Feed:
    """A feed synced six times a day apart, never changed."""
    feed = make_feed(make_listing(owner, tz=tz), f"{server.url}{path}")
    run_sync(feed)
    for _ in range(6):
        assert sync_after(feed, 24).outcome == "not_modified"
    return feed


@pytest.mark.django_db
def test_a_quiet_feed_is_checked_less_but_never_past_the_longest(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r1", 10, 12)))
    with local_server({"/quiet.ics": route}) as server:
        feed = make_feed(make_listing(alice, tz=zone_at(12)), f"{server.url}/quiet.ics")
        run_sync(feed)
        intervals = []
        for hours in (1, 1, 1, 24, 24, 24, 24):
            attempt = sync_after(feed, hours)
            assert attempt.outcome == "not_modified"
            intervals.append(feed.effective_interval)
    assert feed.change_rate == 0.0
    # Too few checks to know yet: the plan's 1h.
    assert intervals[:2] == [timedelta(hours=1)] * 2
    # Quiet for hours only: not enough evidence to wait longer than the busy interval.
    assert intervals[2] == hot_interval(timedelta(hours=1), FEED_POLICY)
    # Quiet for days: the ceiling, 12 x 1h (half a dispatch step early), and never longer.
    ceiling = bounds(timedelta(hours=1), FEED_POLICY)[1]
    assert ceiling == timedelta(hours=12)
    assert intervals[-1] == ceiling - dispatch_tick(timedelta(hours=1), FEED_POLICY) / 2
    assert all(interval <= ceiling for interval in intervals)
    assert feed.next_sync_at - timezone.now() <= ceiling


@pytest.mark.django_db
def test_a_checkin_soon_halves_the_interval(alice, allow_private_urls):
    routes = {
        "/later.ics": Body(airbnb_feed(airbnb_event("later", 10, 12))),
        "/soon.ics": Body(airbnb_feed(airbnb_event("soon", 1, 3))),
    }
    with local_server(routes) as server:
        later = quiet_feed(alice, server, "/later.ics", zone_at(12))
        soon = quiet_feed(alice, server, "/soon.ics", zone_at(12))
    assert later.change_rate == soon.change_rate == 0.0
    # Quiet for days: the ceiling, 12 x 1h (half a dispatch step early); a check-in soon x 0.5.
    ceiling = bounds(timedelta(hours=1), FEED_POLICY)[1]
    assert later.effective_interval == ceiling - dispatch_tick(timedelta(hours=1), FEED_POLICY) / 2
    assert soon.effective_interval == later.effective_interval / 2


@pytest.mark.django_db
def test_a_failure_keeps_the_estimate_and_backs_off(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("r1", 10, 12)))
    with local_server({"/f.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/f.ics")
        run_sync(feed)
        for _ in range(4):
            sync_after(feed, 1)
        stats, rate = feed.change_stats, feed.change_rate
        route.status = 404
        attempt = sync_after(feed, 1)
    assert attempt.outcome == "failed"
    assert feed.change_stats == stats and feed.change_rate == rate
    assert feed.consecutive_failures == 1


@pytest.mark.django_db
def test_owner_and_staff_see_the_rate_and_interval(
    alice, bob, staff, alice_api, bob_api, client, allow_private_urls
):
    route = Body(airbnb_feed(airbnb_event("r0", 10, 12)))
    with local_server({"/busy.ics": route}) as server:
        feed = busy_feed(alice, server, route)
    busy = hot_interval(timedelta(hours=1), FEED_POLICY)
    minutes = round(busy.total_seconds() / 60)
    data = alice_api.get(f"/api/v1/feeds/{feed.pk}/").json()
    assert data["effective_interval_seconds"] == busy.total_seconds()
    assert data["change_rate"] == pytest.approx(feed.change_rate)
    assert bob_api.get(f"/api/v1/feeds/{feed.pk}/").status_code == 404
    client.force_login(alice)
    row = client.get(f"/calendars/feeds/{feed.pk}/row/").content.decode()
    assert f"Checked every {minutes} minutes: about 2 changes an hour" in row
    client.force_login(staff)
    page = client.get("/admin/calendars/feed/").content.decode()
    assert "Adaptive polling" in page and f"Checked every {minutes} minutes" in page


@pytest.mark.django_db
def test_a_new_feed_shows_no_adaptive_words(alice):
    feed = make_feed(make_listing(alice), "https://www.airbnb.com/calendar/ical/9.ics")
    assert feed.polling_words == ""


def test_rates_and_intervals_in_words():
    assert change_rate_words(None) == ""
    assert change_rate_words(0.0) == "no change seen lately"
    assert change_rate_words(3.0) == "about 3 changes an hour"
    assert change_rate_words(2 / 24) == "about 2 changes a day"
    assert change_rate_words(1 / 168) == "about 1 change a week"
    assert change_rate_words(1 / 1000) == "less than one change a week"
    assert polling_words(None, None) == ""
    assert polling_words(None, 3600) == "Checked every 1 hour (learning how often it changes)"
    assert polling_words(0.0, 4 * 3600) == "Checked every 4 hours: no change seen lately"


@pytest.mark.django_db
def test_freshness_follows_the_interval_each_feed_earned(alice):
    from syncing.models import Tier
    from syncing.monitoring.freshness import interval_freshness

    now = timezone.now()
    listing = make_listing(alice)
    earned = {"quiet": timedelta(hours=6), "busy": timedelta(minutes=48), "new": None}
    for name, interval in earned.items():
        feed = make_feed(listing, f"https://www.airbnb.com/calendar/ical/{name}.ics")
        Feed.objects.filter(pk=feed.pk).update(
            last_success_at=now - timedelta(hours=3), effective_interval=interval
        )
    tier = Tier.objects.get(kind=FEED_KIND, name="1h")
    fresh = interval_freshness(get_kind(FEED_KIND), tier, now)
    # Synced 3 hours ago: on time for a 6-hour feed; late for a 48-minute one and for one
    # still on the tier's 1 hour.
    assert (fresh.items, fresh.on_time) == (3, 1)


@pytest.mark.django_db
def test_the_chunks_signal_in_one_query_is_each_feeds_signal(alice, django_assert_num_queries):
    from calendars.models import Event, EventStatus
    from calendars.services.adaptive_signals import feed_signal, feed_signals

    now = timezone.now()
    feeds = [
        make_feed(make_listing(alice, tz=zone_at(hour)), f"http://127.0.0.1:9/{n}.ics")
        for n, hour in enumerate((12, 3, 12, 3))
    ]
    soon = now + timedelta(hours=20)
    Event.objects.create(feed=feeds[0], uid="soon", start=soon, end=soon + timedelta(days=2))
    Event.objects.create(feed=feeds[1], uid="soon", start=soon, end=soon + timedelta(days=2))
    Event.objects.create(  # a cancelled stay is no check-in
        feed=feeds[2], uid="gone", start=soon, end=soon, status=EventStatus.CANCELLED
    )
    later = now + timedelta(days=5)
    Event.objects.create(feed=feeds[3], uid="later", start=later, end=later + timedelta(days=1))
    edge = now + timedelta(hours=48)  # the window's end is not in it
    Event.objects.create(feed=feeds[3], uid="edge", start=edge, end=edge + timedelta(days=1))
    # A listing's check-in counts for each of its feeds: the stay is on the second feed only.
    shared = make_listing(alice, tz=zone_at(12))
    quiet, busy = (make_feed(shared, f"http://127.0.0.1:9/s{n}.ics") for n in range(2))
    Event.objects.create(feed=busy, uid="soon", start=soon, end=soon + timedelta(days=2))
    feeds += [quiet]
    # The same feed twice, at moments on either side of its check-in window.
    pairs = [(feed, now) for feed in feeds] + [(feeds[0], soon + timedelta(hours=1))]
    expected = [feed_signal(feed, at) for feed, at in pairs]
    # One query on PostgreSQL; SQLite asks feed by feed.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else len(pairs)):
        assert feed_signals(pairs) == expected
    # A check-in soon halves the interval; the time of day goes to the daily profile.
    assert [signal.factor for signal in expected] == [0.5, 0.5, 1.0, 1.0, 0.5, 1.0]
    assert [int(signal.local_hour) for signal in expected[:4]] == [12, 3, 12, 3]
