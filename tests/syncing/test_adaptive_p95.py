"""Adaptive polling's p95 rule (syncing.adaptive, ``rule="p95"``): all or nothing around the
plan's interval, by the item-hour's intensity, within the bounds; the cautious rate; the
daily profile; after a change. Pure functions: no database."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from calendars.kinds import FEED_POLICY
from syncing.adaptive import (
    Adaptive,
    ChangeStats,
    Signal,
    allocate,
    as_signal,
    bounds,
    dispatch_tick,
    estimate_rate,
    expected_changes,
    hot_interval,
    hot_threshold,
    observe,
    planning_rate,
    posterior_mean_rate,
    upper_rate,
)

HOUR = timedelta(hours=1)
# A flat policy (no daily profile): the rule's steady-rate behaviour.
FLAT = Adaptive(rule="p95", hot_rate=0.01, after_change=1.0, floor_factor=1.25, ceiling_factor=6)
PLANS = [timedelta(minutes=5), timedelta(minutes=15), HOUR, 3 * HOUR, 6 * HOUR]


def ceiling_step(base: timedelta, policy: Adaptive) -> timedelta:
    """The ceiling, due half a dispatch step early."""
    return bounds(base, policy)[1] - dispatch_tick(base, policy) / 2


@pytest.mark.parametrize("base", PLANS)
def test_every_interval_is_within_the_bounds(base):
    floor, ceiling = bounds(base, FEED_POLICY)
    rates = [None, 0.0, 1e-6, 1e-3, 0.006, 0.01, 0.1, 10.0, 1e6]
    for rate in rates:
        for hour in (None, 0.0, 3.5, 7.9, 8.0, 13.25, 21.99, 23.0):
            for factor in (1.0, 0.5, 0.01, 100.0):
                for changed in (False, True):
                    signal = Signal(factor=factor, local_hour=hour)
                    got = allocate(
                        rate, base=base, policy=FEED_POLICY, changed=changed, signal=signal
                    )
                    assert floor <= got <= ceiling, (rate, hour, factor, changed, got)


# The engine's default grid (a tenth of the interval, 1 to 15 minutes).
DEFAULT_GRID = replace(FEED_POLICY, dispatch_every=None, dispatch_periods=())


@pytest.mark.parametrize(
    ("base", "policy", "expected"),
    [
        (timedelta(minutes=5), DEFAULT_GRID, timedelta(minutes=3.5)),  # 1 min: 4 within 4.75
        (timedelta(minutes=15), DEFAULT_GRID, timedelta(minutes=12.75)),  # 1.5: 9 in 14.25
        (HOUR, DEFAULT_GRID, timedelta(minutes=51)),  # steps of 6 min: 9 within 57
        (6 * HOUR, DEFAULT_GRID, timedelta(minutes=322.5)),  # steps of 15 min: 22 within 342
        # Calendars dispatch every minute (every 30 s on the 5-minute plan): 0.95 x the
        # interval, to the minute (to the half minute).
        (timedelta(minutes=5), FEED_POLICY, timedelta(minutes=4.25)),  # 9 half minutes
        (timedelta(minutes=15), FEED_POLICY, timedelta(minutes=13.5)),
        (HOUR, FEED_POLICY, timedelta(minutes=56.5)),
        (6 * HOUR, FEED_POLICY, timedelta(minutes=341.5)),
    ],
)
def test_the_busy_interval_is_the_largest_dispatch_step_within_the_target(base, policy, expected):
    assert hot_interval(base, policy) == expected
    # Served by the dispatch run at or after it: a whole number of steps, within the target.
    tick = dispatch_tick(base, policy)
    served = tick * -(-(expected / tick) // 1)
    assert served <= base * policy.hot_factor


def test_the_grid_is_the_kinds_dispatch_period_when_it_says():
    assert FEED_POLICY.dispatch_every == timedelta(minutes=1)
    assert dispatch_tick(6 * HOUR, FEED_POLICY) == timedelta(minutes=1)
    assert dispatch_tick(6 * HOUR) == dispatch_tick(6 * HOUR, DEFAULT_GRID) == timedelta(minutes=15)


def walked_interval(rate, base, policy, hour):
    """The least-cost interval by walking every step of the grid (what the candidates skip)."""
    tick = dispatch_tick(base, policy).total_seconds() / 3600
    target = base.total_seconds() / 3600 * policy.hot_factor
    price = 1 / (hot_threshold(base, policy) * target)
    floor, ceiling = (b.total_seconds() / 3600 for b in bounds(base, policy))
    best, best_cost = None, float("inf")
    for step in range(max(1, -int(-floor // tick)), int(ceiling / tick + 1e-9) + 1):
        late_hours = step * tick - target
        late = expected_changes(rate, policy, hour, late_hours) if late_hours > 0 else 0.0
        cost = (1 + price * late) / (step * tick)
        if cost < best_cost * (1 - 1e-9):
            best, best_cost = step * tick, cost
    due = timedelta(hours=max(best - tick / 2, tick / 2))
    return min(max(due, bounds(base, policy)[0]), bounds(base, policy)[1])


@pytest.mark.parametrize("policy", [FEED_POLICY, DEFAULT_GRID, FLAT])
@pytest.mark.parametrize("base", PLANS)
def test_the_candidate_steps_find_the_walks_least_cost(base, policy):
    rng = random.Random(14)
    for _ in range(150):
        rate = 10 ** rng.uniform(-4, 0.5)
        hour = rng.choice([None, rng.uniform(0, 24), float(rng.randrange(24))])
        got = allocate(rate, base=base, policy=policy, signal=Signal(local_hour=hour))
        assert got == walked_interval(rate, base, policy, hour), (rate, hour)


def busy_step(base: timedelta, policy: Adaptive) -> timedelta:
    return max(hot_interval(base, policy), bounds(base, policy)[0])


@pytest.mark.parametrize("base", PLANS)
def test_a_steady_rate_is_all_or_nothing_at_the_threshold(base):
    busy = {allocate(r, base=base, policy=FLAT) for r in (50.0, 500.0)}
    quiet = {allocate(r, base=base, policy=FLAT) for r in (0.0, 1e-4, 0.005, 0.0099)}
    assert busy == {busy_step(base, FLAT)}
    assert quiet == {ceiling_step(base, FLAT)}
    # Above the threshold a dispatch step just past the target (a few late changes, up to
    # the plan's own interval) may cost less than the busy step; nothing in between the
    # plan's interval and the ceiling is ever chosen.
    for rate in (0.0101, 0.011, 0.013, 0.02, 0.05, 0.5):
        got = allocate(rate, base=base, policy=FLAT)
        assert busy_step(base, FLAT) <= got <= base - dispatch_tick(base, FLAT) / 2, rate
    # Unknown yet: the plan's own interval.
    assert allocate(None, base=base, policy=FLAT) == base


def test_a_quiet_night_is_waited_out_until_the_busy_morning():
    # 6h plan: 0.01 changes an hour on average is 0.0154 in waking hours (busy, above
    # 0.006) and 0.0024 at night (quiet).
    base = 6 * HOUR
    at_ten_pm = allocate(0.01, base=base, policy=FEED_POLICY, signal=Signal(local_hour=22.0))
    # Not the day's ceiling (it would miss the whole morning): 08:00 + about 0.95 x 6h.
    morning = 10 * HOUR + base * FEED_POLICY.hot_factor
    assert morning - HOUR <= at_ten_pm <= morning
    at_noon = allocate(0.01, base=base, policy=FEED_POLICY, signal=Signal(local_hour=12.0))
    assert hot_interval(base, FEED_POLICY) <= at_noon < base
    # A quieter feed is quiet by day too: the ceiling (24h on the 6h plan).
    quiet = allocate(0.002, base=base, policy=FEED_POLICY, signal=Signal(local_hour=12.0))
    assert quiet == ceiling_step(base, FEED_POLICY)


def test_expected_changes_follow_the_daily_profile():
    profile = FEED_POLICY.daily_profile
    assert sum(profile) / 24 == pytest.approx(1.0)
    assert expected_changes(0.1, FEED_POLICY, 0.0, 24.0) == pytest.approx(2.4)
    night = expected_changes(0.1, FEED_POLICY, 22.0, 10.0)
    assert night == pytest.approx(0.1 * 0.24 * 10)
    assert expected_changes(0.1, FEED_POLICY, 7.5, 1.0) == pytest.approx(
        0.1 * (0.5 * 0.24 + 0.5 * profile[8])
    )


def unchanged(hours: float, times: int) -> ChangeStats:
    stats = ChangeStats()
    for _ in range(times):
        stats = observe(stats, hours=hours, changed=False, memory_hours=7 * 24)
    return stats


def test_little_evidence_is_not_put_at_the_ceiling():
    base = HOUR
    # Four unchanged hourly checks: the estimate says 0, the cautious rate does not.
    thin = unchanged(1, 4)
    assert estimate_rate(thin) == 0.0
    assert planning_rate(thin, FEED_POLICY, base=base) > FEED_POLICY.hot_rate
    signal = Signal(local_hour=12.0)
    thin_rate = planning_rate(thin, FEED_POLICY, base=base)
    assert allocate(thin_rate, base=base, policy=FEED_POLICY, signal=signal) == hot_interval(
        base, FEED_POLICY
    )
    # Four unchanged daily checks: enough to call it quiet (the 1h plan plans with the
    # posterior's median).
    days = unchanged(24, 4)
    days_rate = planning_rate(days, FEED_POLICY, base=base)
    assert days_rate < FEED_POLICY.hot_rate
    assert allocate(days_rate, base=base, policy=FEED_POLICY, signal=signal) == ceiling_step(
        base, FEED_POLICY
    )


def test_the_cautious_rate_is_an_upper_bound_that_narrows_with_evidence():
    few = observe(unchanged(1, 3), hours=1, changed=True, memory_hours=0)
    many = ChangeStats(n=400, x=100, c=100, u=300)  # the same share, a hundred times more
    for stats in (few, many):
        assert upper_rate(stats, 1.0) > upper_rate(stats, 0.0) > 0
        assert upper_rate(stats, 1.0) > estimate_rate(stats)
    spread_few = upper_rate(few, 1.0) / estimate_rate(few)
    spread_many = upper_rate(many, 1.0) / estimate_rate(many)
    assert spread_few > 1.5 > 1.15 > spread_many
    # Unchanged for longer: lower, never zero.
    assert upper_rate(unchanged(24, 8), 0.0) < upper_rate(unchanged(24, 2), 0.0)
    assert upper_rate(unchanged(24, 8), 0.0) > 0
    # The square-root rule plans with the estimate itself.
    sqrt = Adaptive(rule="sqrt")
    assert planning_rate(few, sqrt) == estimate_rate(few)


def test_the_calendars_policy_plans_by_tier_with_the_mean_or_the_median():
    once = observe(unchanged(24, 4), hours=24, changed=True, memory_hours=7 * 24)
    for base in (timedelta(minutes=5), 3 * HOUR):
        assert planning_rate(once, FEED_POLICY, base=base) == posterior_mean_rate(once)
    for base in (timedelta(minutes=15), HOUR, 6 * HOUR):
        assert planning_rate(once, FEED_POLICY, base=base) == upper_rate(once, 0.0)


def test_the_posterior_mean_weighs_an_unchanged_feed_more_than_the_median_does():
    # Jeffreys prior: (x + 1/2) changed checks over the hours watched, corrected as the
    # estimate corrects the naive rate.
    quiet = unchanged(24, 4)
    assert posterior_mean_rate(quiet) == pytest.approx(0.5 / (quiet.c + quiet.u))
    once = observe(unchanged(24, 4), hours=24, changed=True, memory_hours=7 * 24)
    correction = estimate_rate(once) / (once.x / (once.c + once.u))
    assert posterior_mean_rate(once) == pytest.approx(
        (once.x + 0.5) / (once.c + once.u) * correction
    )
    # The median (confidence 0) puts the unchanged feed ~2.2x under the mean, the feed
    # seen changing once ~1.3x: the mean ranks them closer, as their expected late changes.
    median_ratio = upper_rate(quiet, 0.0) / upper_rate(once, 0.0)
    mean_ratio = posterior_mean_rate(quiet) / posterior_mean_rate(once)
    assert posterior_mean_rate(quiet) / upper_rate(quiet, 0.0) == pytest.approx(2.2, rel=0.05)
    assert mean_ratio > 1.5 * median_ratio
    # The policy chooses which the p95 rule plans with; the square-root rule keeps the estimate.
    mean = replace(FLAT, rate_statistic="mean", min_checks=3)
    median = replace(FLAT, rate_statistic="median", confidence=0.0, min_checks=3)
    assert planning_rate(once, mean) == posterior_mean_rate(once)
    assert planning_rate(once, median) == upper_rate(once, 0.0)
    sqrt = replace(mean, rule="sqrt")
    assert planning_rate(once, sqrt) == estimate_rate(once)


@pytest.mark.parametrize("base", PLANS)
def test_a_change_brings_the_next_check_to_the_busy_interval(base):
    quiet = allocate(0.0, base=base, policy=FLAT, changed=True)
    assert quiet == busy_step(base, FLAT)
    halving = Adaptive(rule="p95", hot_rate=0.01, after_change=0.5, floor_factor=4)
    assert allocate(0.0, base=base, policy=halving, changed=True) == max(
        hot_interval(base, halving) / 2, bounds(base, halving)[0]
    )


def test_the_kinds_multiplier_applies_and_a_number_is_a_multiplier():
    base = HOUR
    assert as_signal(0.5) == Signal(factor=0.5)
    assert as_signal(None) == Signal()
    soon = allocate(0.0, base=base, policy=FLAT, signal=Signal(factor=0.5))
    assert soon == ceiling_step(base, FLAT) / 2
    assert allocate(0.0, base=base, policy=FLAT, signal=0.5) == soon


def test_a_plan_may_have_its_own_threshold():
    assert hot_threshold(6 * HOUR, FEED_POLICY) == 0.0055
    assert hot_threshold(timedelta(minutes=5), FEED_POLICY) == 0.009
    assert hot_threshold(HOUR, FEED_POLICY) == 0.0045
    assert hot_threshold(3 * HOUR, FEED_POLICY) == FEED_POLICY.hot_rate == 0.0068
    assert hot_threshold(HOUR, FLAT) == 0.01
    # A feed-hour between the two thresholds is busy on the 1h plan, quiet on the 6h one.
    signal = Signal(local_hour=12.0)
    rate = 0.005 / FEED_POLICY.daily_profile[12]
    assert allocate(rate, base=HOUR, policy=FEED_POLICY, signal=signal) < HOUR
    assert allocate(rate, base=6 * HOUR, policy=FEED_POLICY, signal=signal) > 6 * HOUR
