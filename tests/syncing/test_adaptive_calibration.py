"""Adaptive polling's online calibration (syncing.adaptive.late_evidence and calibrate): the
engine's estimate of the late share its p95 rule causes, and each tier's threshold moved to
keep it at the tier's target; then through the engine: real syncs add their evidence to the
tier's row and the tier's dispatch run moves the threshold the next allocations use."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from calendars.kinds import FEED, FEED_KIND, FEED_POLICY
from calendars.models import Feed
from syncing.adaptive import (
    Adaptive,
    Calibration,
    ChangeStats,
    allocate,
    calibrate,
    dispatch_tick,
    expected_changes,
    hot_interval,
    hot_threshold,
    late_evidence,
    late_target,
    observe,
    planning_rate,
)
from syncing.models import Tier
from syncing.services import schedule, tiers
from syncing.services.dispatch import dispatch_tier
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    make_feed,
    make_listing,
    run_sync,
)
from tests.support.http import local_server
from tests.syncing.test_adaptive import sync_after, zone_at

HOUR = timedelta(hours=1)
FLAT = Adaptive(
    rule="p95",
    hot_rate=0.01,
    after_change=1.0,
    floor_factor=1.25,
    ceiling_factor=12,
    late_target=0.04,
    calibration_gain=0.05,
    calibration_span=4.0,
)


# What a check tells about the late share.


def test_a_check_that_saw_nothing_tells_nothing():
    assert late_evidence(0.1, base=HOUR, policy=FLAT, hours=10, changed=False) == (0.0, 0.0)


def test_a_change_seen_within_the_target_is_on_time():
    changes, late = late_evidence(0.001, base=HOUR, policy=FLAT, hours=0.9, changed=True)
    assert changes == pytest.approx(1.0, abs=1e-3)
    assert late == 0.0


def test_a_slow_items_change_after_a_long_wait_is_late_by_the_late_parts_share():
    # Flat: a lone change fell anywhere in the 10 hours; late if in the first 10 - 0.95.
    changes, late = late_evidence(1e-6, base=HOUR, policy=FLAT, hours=10, changed=True)
    assert changes == pytest.approx(1.0, abs=1e-4)
    assert late == pytest.approx((10 - 0.95) / 10, abs=1e-4)


def test_a_busy_items_check_saw_more_than_one_change():
    changes, late = late_evidence(2.0, base=HOUR, policy=FLAT, hours=3, changed=True)
    assert changes == pytest.approx(6 / (1 - math.exp(-6)))
    assert late == pytest.approx(2.0 * (3 - 0.95) / (1 - math.exp(-6)))


def test_a_check_that_counted_its_changes_counts_them_not_the_rate():
    # Three changes seen after 10 hours: three, each late with the late part's share,
    # whatever the rate (a burst a long wait saw at once counts as the short checks would).
    for rate in (1e-6, 0.05, 2.0):
        changes, late = late_evidence(rate, base=HOUR, policy=FLAT, hours=10, changed=True, seen=3)
        assert changes == 3.0
        assert late == pytest.approx(3 * (10 - 0.95) / 10)
    # Within the target: all on time; and a count of 0 (unknown) falls back to the rate.
    assert late_evidence(2.0, base=HOUR, policy=FLAT, hours=0.9, changed=True, seen=4) == (4, 0)
    assert late_evidence(2.0, base=HOUR, policy=FLAT, hours=3, changed=True, seen=0) == (
        late_evidence(2.0, base=HOUR, policy=FLAT, hours=3, changed=True)
    )
    # A feed re-published whole counts at most calibration_max_seen.
    many = late_evidence(0.01, base=HOUR, policy=FLAT, hours=0.5, changed=True, seen=400)
    assert many == (FLAT.calibration_max_seen, 0.0)


def test_an_item_still_learning_adds_no_evidence():
    policy = replace(FLAT, calibration_min_checks=4.0)
    common = {"base": HOUR, "policy": policy, "hours": 10, "changed": True, "seen": 1}
    assert late_evidence(0.01, checks=3.4, **common) == (0.0, 0.0)
    assert late_evidence(0.01, checks=4.0, **common) == (1.0, pytest.approx(0.905))
    assert late_evidence(0.01, **common) == (1.0, pytest.approx(0.905))  # checks unknown


def test_an_item_watched_less_than_a_day_adds_no_evidence():
    # Learning is judged in hours watched, not in checks: four checks of the 5-minute plan
    # are twenty minutes, too little to know a rate of a few changes a week.
    policy = replace(FLAT, calibration_min_checks=4.0, calibration_min_hours=24.0)
    common = {"base": HOUR, "policy": policy, "hours": 10, "changed": True, "seen": 1}
    assert late_evidence(0.01, checks=40.0, watched=20.0, **common) == (0.0, 0.0)
    assert late_evidence(0.01, checks=3.0, watched=200.0, **common) == (0.0, 0.0)
    assert late_evidence(0.01, checks=40.0, watched=24.0, **common) == (
        1.0,
        pytest.approx(0.905),
    )
    assert late_evidence(0.01, checks=40.0, **common) == (1.0, pytest.approx(0.905))


def test_a_tier_may_have_its_own_hours_watched_gate():
    policy = replace(FLAT, calibration_min_hours=24.0, calibration_min_hours_by=((6 * HOUR, 0.0),))
    common = {"policy": policy, "hours": 10, "changed": True, "seen": 1, "watched": 5.0}
    assert late_evidence(0.01, base=HOUR, **common) == (0.0, 0.0)
    assert late_evidence(0.01, base=6 * HOUR, **common)[0] == 1.0


def test_the_calendars_policy_judges_learning_by_hours_watched():
    # Every plan waits for a day's watching (one turn of the daily profile), which an item
    # at the free plan's ceiling (a day, a week's memory: ~180 decayed hours) reaches.
    assert FEED_POLICY.calibration_min_hours >= 24.0
    at_ceiling = ChangeStats()
    for _ in range(60):
        at_ceiling = observe(at_ceiling, hours=24.0, changed=False, memory_hours=7 * 24)
    assert at_ceiling.c + at_ceiling.u > FEED_POLICY.calibration_min_hours


def test_the_late_part_follows_the_daily_profile():
    # A wait from 22:00 to 13:00: the quiet night (late) weighs less than the busy morning.
    hours, end = 15.0, 13.0
    changes, late = late_evidence(
        1e-6, base=6 * HOUR, policy=FEED_POLICY, hours=hours, changed=True, local_hour=end
    )
    whole = expected_changes(1.0, FEED_POLICY, end - hours, hours)
    early = expected_changes(1.0, FEED_POLICY, end - hours, hours - 6 * 0.95)
    assert changes == pytest.approx(1.0, abs=1e-4)
    assert late == pytest.approx(early / whole, abs=1e-4)
    assert late < (hours - 6 * 0.95) / hours  # less than a flat profile's share


# The threshold's calibration.


def test_more_late_than_the_target_lowers_the_threshold_and_less_raises_it():
    start = hot_threshold(HOUR, FLAT)
    more = calibrate(Calibration(), late=10, changes=100, hours=1, base=HOUR, policy=FLAT)
    less = calibrate(Calibration(), late=1, changes=100, hours=1, base=HOUR, policy=FLAT)
    on = calibrate(Calibration(), late=4, changes=100, hours=1, base=HOUR, policy=FLAT)
    assert more.threshold < start < less.threshold
    assert on.threshold == pytest.approx(start)
    # The pace is per hour: one step of two hours moves as far as two of one (same share).
    two = calibrate(Calibration(), late=0, changes=100, hours=2, base=HOUR, policy=FLAT)
    assert math.log(two.threshold / start) == pytest.approx(2 * 0.05)


def test_the_threshold_stays_within_the_span_and_needs_enough_changes():
    start = hot_threshold(HOUR, FLAT)
    state = Calibration()
    for _ in range(500):
        state = calibrate(state, late=50, changes=100, hours=1, base=HOUR, policy=FLAT)
    assert state.threshold == pytest.approx(start / 4)
    for _ in range(500):
        state = calibrate(state, late=0, changes=100, hours=1, base=HOUR, policy=FLAT)
    assert state.threshold == pytest.approx(start * 4)
    # Too few changes known: the threshold stays; the totals still decay and add.
    few = calibrate(Calibration(0.02, 5, 10), late=5, changes=5, hours=1, base=HOUR, policy=FLAT)
    assert few.threshold == 0.02
    keep = math.exp(-1 / 24)
    assert (few.late, few.changes) == (pytest.approx(5 * keep + 5), pytest.approx(10 * keep + 5))


def test_without_a_target_only_the_totals_move():
    policy = replace(FLAT, late_target=None)
    state = calibrate(Calibration(), late=50, changes=100, hours=1, base=HOUR, policy=policy)
    assert state.threshold == hot_threshold(HOUR, policy)
    assert state.share == 0.5


def test_every_plan_is_calibrated_and_may_have_its_own_target():
    assert late_target(6 * HOUR, FEED_POLICY) == 0.044
    assert late_target(3 * HOUR, FEED_POLICY) == 0.038
    assert late_target(HOUR, FEED_POLICY) == 0.045
    assert late_target(timedelta(minutes=15), FEED_POLICY) == 0.048
    assert late_target(timedelta(minutes=5), FEED_POLICY) == FEED_POLICY.late_target == 0.045
    assert late_target(HOUR, FLAT) == 0.04
    assert late_target(HOUR, replace(FLAT, late_target=None)) is None


def test_calibration_converges_on_a_synthetic_stream():
    """A world where the late share grows with the threshold (share = 0.04 x (t / t*)), with
    Poisson noise in the hourly counts: the threshold settles near t*, whatever the start."""
    rng = random.Random(7)
    best = 0.013

    def poisson(mean: float) -> int:
        count, total = 0, rng.expovariate(1.0)
        while total < mean:
            count, total = count + 1, total + rng.expovariate(1.0)
        return count

    for start in (0.004, 0.03):
        policy = replace(FLAT, hot_rate=start)
        state, late_days = Calibration(), []
        for hour in range(24 * 30):
            threshold = state.threshold or start
            changes = poisson(60)
            late = poisson(changes * 0.04 * threshold / best)
            state = calibrate(state, late=late, changes=changes, hours=1, base=HOUR, policy=policy)
            if hour >= 24 * 20:
                late_days.append(state.threshold)
        mean = sum(late_days) / len(late_days)
        assert mean == pytest.approx(best, rel=0.1)
        assert max(late_days) < best * 1.5 and min(late_days) > best / 1.5


def test_a_calibrated_threshold_is_the_one_allocation_uses():
    # An item changing 0.015 times an hour: quiet at a threshold of 0.02, busy at 0.01.
    rate = 0.015
    quiet = allocate(rate, base=HOUR, policy=FLAT, threshold=0.02)
    busy = allocate(rate, base=HOUR, policy=FLAT, threshold=0.01)
    assert busy <= HOUR * FLAT.hot_factor < HOUR * 4 < quiet


def test_the_realtime_tier_dispatches_every_half_minute():
    five = timedelta(minutes=5)
    assert dispatch_tick(five, FEED_POLICY) == timedelta(seconds=30)
    assert dispatch_tick(HOUR, FEED_POLICY) == timedelta(minutes=1)
    # Its busy interval: 4.5 minutes on the half-minute grid (4 on a minute's).
    tick = dispatch_tick(five, FEED_POLICY)
    served = tick * -(-(hot_interval(five, FEED_POLICY) / tick) // 1)
    assert served == timedelta(minutes=4, seconds=30)
    # ... as the kind's 5m tier (its beat entry runs dispatch every 30 s).
    spec = next(spec for spec in FEED.tiers if spec.interval == five)
    assert spec.dispatch_every == timedelta(seconds=30)
    others = [spec.dispatch_every for spec in FEED.tiers if spec.interval != five]
    assert set(others) == {timedelta(minutes=1)}


# Through the engine: real syncs add their evidence, the dispatch run moves the threshold.


def tier_row(name: str) -> Tier:
    return Tier.objects.get(kind=FEED_KIND, name=name)


@pytest.mark.django_db
def test_real_syncs_add_evidence_and_dispatch_moves_the_tiers_threshold(alice, allow_private_urls):
    tiers.forget_cached_intervals()
    route = Body(airbnb_feed(airbnb_event("r0", 10, 12)))
    with local_server({"/feed.ics": route}) as server:
        feed = make_feed(make_listing(alice, tz=zone_at(12)), f"{server.url}/feed.ics")
        # The free plan's tier (calibrated: FEED_POLICY.late_targets).
        Feed.objects.filter(pk=feed.pk).update(tier="6h")
        feed.refresh_from_db()
        run_sync(feed)  # the baseline: no evidence yet
        assert (tier_row("6h").adaptive_changes, tier_row("6h").adaptive_late) == (0.0, 0.0)
        assert sync_after(feed, 1).outcome == "not_modified"  # nothing seen: nothing added
        assert tier_row("6h").adaptive_changes == 0.0
        # A change seen on a new feed (two checks known): still learning, no evidence.
        assert FEED_POLICY.calibration_min_checks > 2
        route.body = airbnb_feed(airbnb_event("r0", 10, 12), airbnb_event("r1", 20, 22))
        route.etag = '"v2"'
        assert sync_after(feed, 0.5).items_changed == 1
        assert tier_row("6h").adaptive_changes == 0.0
        # Once it has enough checks, a change seen half an hour after the previous check:
        # the changes the import counted (one), on time, whatever the feed's estimate.
        Feed.objects.filter(pk=feed.pk).update(
            change_stats={"n": 10.0, "x": 2.0, "c": 4.0, "u": 100.0}
        )
        route.body = airbnb_feed(airbnb_event("r0", 10, 12), airbnb_event("r3", 25, 27))
        route.etag = '"v3"'
        seen = sync_after(feed, 0.5).items_changed
        assert seen >= 1
        row = tier_row("6h")
        on_time = row.adaptive_changes
        assert on_time == pytest.approx(seen)
        assert row.adaptive_late == 0.0
        # Changes seen 20 hours after the previous check (16:00 to noon, its local time):
        # each late if it fell before 06:18 (0.95 x 6 hours before noon): ~63% of the waking
        # profile's weight over those 20 hours.
        route.body = airbnb_feed(airbnb_event("r2", 30, 32))
        route.etag = '"v4"'
        seen = sync_after(feed, 20).items_changed
        assert seen >= 1
    row = tier_row("6h")
    added = row.adaptive_changes - on_time
    assert added == pytest.approx(seen)
    assert 0.55 * added < row.adaptive_late < 0.7 * added
    assert row.adaptive_threshold is None  # finishes only add; dispatch moves it

    # The first dispatch run starts the calibration's clock; one an hour later moves it.
    Tier.objects.filter(pk=row.pk).update(adaptive_changes=100.0, adaptive_late=20.0)
    dispatch_tier(FEED_KIND, "6h")
    started = tier_row("6h")
    assert started.adaptive_calibrated_at is not None
    assert started.adaptive_threshold is None
    Tier.objects.filter(pk=row.pk).update(
        adaptive_calibrated_at=started.adaptive_calibrated_at - HOUR
    )
    dispatch_tier(FEED_KIND, "6h")
    moved = tier_row("6h")
    start = hot_threshold(6 * HOUR, FEED_POLICY)
    # 20% late against the target (a few %): the threshold comes down, by the gain for an hour.
    assert late_target(6 * HOUR, FEED_POLICY) < 0.1
    assert moved.adaptive_threshold == pytest.approx(
        start * math.exp(-FEED_POLICY.calibration_gain), rel=0.01
    )
    keep = math.exp(-1 / 24)
    assert moved.adaptive_changes == pytest.approx(100 * keep, rel=0.01)
    assert moved.adaptive_late == pytest.approx(20 * keep, rel=0.01)
    # Other tiers are not touched by the 6h tier's run; pro's own run moves pro's (every
    # plan is calibrated).
    assert tier_row("3h").adaptive_threshold is None
    dispatch_tier(FEED_KIND, "1h")
    Tier.objects.filter(kind=FEED_KIND, name="1h").update(
        adaptive_calibrated_at=timezone.now() - HOUR, adaptive_changes=100.0, adaptive_late=20.0
    )
    dispatch_tier(FEED_KIND, "1h")
    assert tier_row("1h").adaptive_threshold == pytest.approx(
        hot_threshold(HOUR, FEED_POLICY) * math.exp(-FEED_POLICY.calibration_gain), rel=0.01
    )

    # The next allocations use the tier's threshold (read through a short cache).
    tiers.forget_cached_intervals()
    assert tiers.tier_thresholds(FEED_KIND)["6h"] == moved.adaptive_threshold
    feed = Feed.objects.get(pk=feed.pk)
    assert feed.effective_interval is not None


@pytest.mark.django_db
def test_the_tiers_threshold_decides_a_borderline_feed(alice):
    """The same item-hour, quiet at a threshold above its intensity, busy at one below."""
    feed = make_feed(make_listing(alice, tz=zone_at(12)), "http://127.0.0.1:9/x.ics")
    now = timezone.now()
    Feed.objects.filter(pk=feed.pk).update(last_success_at=now - HOUR)
    feed.refresh_from_db()
    feed.change_stats = {"n": 50, "x": 10, "c": 40.0, "u": 1960.0}
    stats = observe(
        ChangeStats.from_json(feed.change_stats),
        hours=1,
        changed=False,
        memory_hours=FEED_POLICY.memory.total_seconds() / 3600,
    )
    intensity = planning_rate(stats, FEED_POLICY) * FEED_POLICY.daily_profile[12]
    common = {"interval": HOUR, "changed": False, "now": now}
    quiet = schedule.adaptive_after_success(FEED, feed, threshold=1.5 * intensity, **common)
    busy = schedule.adaptive_after_success(FEED, feed, threshold=0.5 * intensity, **common)
    assert busy["effective_interval"] < HOUR < quiet["effective_interval"]
    assert busy["late_evidence"] == quiet["late_evidence"] == (0.0, 0.0)  # nothing seen


@pytest.mark.django_db
def test_the_5m_tiers_beat_entry_runs_every_half_minute():
    from django_celery_beat.models import PeriodicTask

    from syncing.services.beat import periodic_task_name, sync_periodic_task

    tier = tier_row("5m")
    assert tier.dispatch_period == timedelta(seconds=30)
    sync_periodic_task(tier)
    task = PeriodicTask.objects.get(name=periodic_task_name(tier))
    assert (task.interval.every, task.interval.period) == (30, "seconds")
    assert tier_row("1h").dispatch_period == timedelta(minutes=1)


@pytest.mark.django_db
def test_the_engine_passes_the_hours_watched_to_the_late_evidence(alice):
    """Many checks but few hours watched (a busy plan's first hours): no evidence yet; the
    same checks over days: the change seen counts."""
    feed = make_feed(make_listing(alice, tz=zone_at(12)), "http://127.0.0.1:9/x.ics")
    now = timezone.now()
    Feed.objects.filter(pk=feed.pk).update(last_success_at=now - 10 * HOUR)
    feed.refresh_from_db()
    five = timedelta(minutes=5)  # a tier with the hours-watched gate
    common = {"interval": five, "changed": True, "now": now, "seen": 1}
    feed.change_stats = {"n": 40, "x": 2, "c": 1.0, "u": 3.0}  # 40 checks in 4 hours
    assert FEED_POLICY.calibration_min_hours > 14
    young = schedule.adaptive_after_success(FEED, feed, **common)
    assert young["late_evidence"] == (0.0, 0.0)
    feed.change_stats = {"n": 40, "x": 2, "c": 10.0, "u": 190.0}  # 40 checks over days
    settled = schedule.adaptive_after_success(FEED, feed, **common)
    changes, late = settled["late_evidence"]
    assert changes == 1.0
    assert late > 0  # ten hours after the previous check: likely past 0.95 x 5 minutes
    # The 1-hour tier has no gate (calibration_min_hours_by): the young feed counts there.
    feed.change_stats = {"n": 40, "x": 2, "c": 1.0, "u": 3.0}
    young_pro = schedule.adaptive_after_success(FEED, feed, **{**common, "interval": HOUR})
    assert young_pro["late_evidence"][0] == 1.0
