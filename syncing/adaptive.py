"""Adaptive polling: each item's change rate learnt from its own checks, and the interval
it earns from it. Pure functions (no database, no clock): the engine calls them after each
sync (syncing.services.schedule), bench/adaptive.py in simulated time.

**Estimator** (Cho & Garcia-Molina, "Estimating Frequency of Change", 2003). A check only
shows whether *at least one* change happened since the previous check, so the naive
"changes seen / time watched" underestimates busy items (two changes between checks count
as one). For checks at a regular interval I their estimator is
``r = -log((n - X + 0.5) / (n + 0.5)) / I`` (n checks, X of them saw a change). Our checks
are irregular (the interval adapts), so we keep four exponentially decayed sums: checks n,
changed checks x, hours watched by changed checks c and by unchanged ones u. Their
irregular-interval maximum-likelihood equation ``sum_changed t/(e^(r t) - 1) = sum_unchanged t``
with the changed intervals replaced by their mean ``c/x`` solves in closed form, and with
their half-check correction it reads ``r = log((c + u + I/2) / (u + I/2)) / (c/x)``,
``I = (c + u)/n``: exactly their regular estimator when every interval is I.

Recency: before each observation the sums are multiplied by ``exp(-dt/memory)``, so a feed
that was busy last month and is quiet now drifts to its new rate within about a memory.

**Allocation** ("Effective Page Refresh Policies for Web Crawlers", 2003): with a fixed
budget of checks the best split is not proportional to the change rate. Our promise is the
time to detect a change (a change at a uniformly random moment waits I/2 on average), so
the owners' mean wait ``sum(rate_i * I_i / 2)`` under a budget ``sum(1/I_i)`` is least
when ``I_i`` is proportional to ``1/sqrt(rate_i)``: the square-root rule, sub-proportional
like theirs. Scaled so that an item changing once per tier interval T keeps T, the
interval is ``sqrt(T / rate)``: the geometric mean of the tier interval and the mean time
between changes. It is then bounded: never shorter than ``T / floor_factor`` (the very fast
changers that their freshness curve gives up on get the floor, not more), never longer than
``T * ceiling_factor`` nor ``longest`` (the plan's promise to quiet feeds). A change seen by
this check, or a signal of the kind (calendars: a check-in soon) shortens it further.

**Planning rate** (the p95 rule): the rate's gamma posterior (Jeffreys prior) summarised
by its median (``upper_rate``, ``confidence`` sigmas up) or by its mean
(``posterior_mean_rate``, ``Adaptive.rate_statistic``). The cost the rule weighs (a check
against the changes a longer wait makes late) is linear in the rate, so its expectation
is the cost at the posterior mean: the mean ranks feed-hours by what waiting will cost.

**Calibration** (the p95 rule): the threshold that splits busy item-hours from quiet ones
prices a late change; how many late changes a threshold causes depends on the population.
So each (kind, tier) moves its own threshold online (``calibrate``) by the engine's estimate
of the late share it causes: each check that saw a change counts the changes it saw (as
the kind counted them: a calendar import's changed events) and the expected share of them
that fell more than the target before it (``late_evidence``, by the daily profile), once
the item has a few checks and, where the policy says, a few days watched (one still
learning its rate adds nothing). The engine keeps the decayed totals and the moved
threshold on the tier's row (``Tier.adaptive_*``): chunk finishes add to the totals, the
tier's dispatch runs decay them and move the threshold (syncing.services.schedule).
Counted changes, not the rate's expectation: a burst that one long wait sees at once
counts as short checks would see it (counted by the rate, the estimate was 0.8x to 1.4x
the true share, by plan).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Adaptive:
    """A kind's opt-in to adaptive polling (``Kind.adaptive``) and its bounds."""

    # Shortest interval: the tier's interval divided by this.
    floor_factor: float = 4.0
    # Longest interval: the tier's interval times this, and never longer than ``longest``.
    ceiling_factor: float = 4.0
    longest: timedelta = timedelta(hours=24)
    # Recency weighting: observations older than this count e (2.7) times less.
    memory: timedelta = timedelta(days=7)
    # Until this many (decayed) checks are known, the item keeps the tier's interval.
    min_checks: float = 3.0
    # An item that changes once per this many tier intervals keeps the tier's interval
    # (the square-root rule's scale: busier items get less, quieter ones more).
    keep_at: float = 1.0
    # Or, when set, the changes per hour at which an item keeps the tier's interval
    # whatever the tier (the kind's typical rate: the same split for every plan).
    reference_rate: float | None = None
    # The interval is multiplied by this after a check that saw a change (changes cluster).
    after_change: float = 0.5
    # The allocation: "p95" (all-or-nothing around the tier's interval, for a promise on the
    # p95 time to detect: ``allocate_p95``) or "sqrt" (the square-root rule, for the mean).
    rule: str = "sqrt"
    # p95 rule: an item-hour whose estimated intensity (the rate's upper bound times the
    # daily profile's factor for that hour) reaches ``hot_rate`` changes per hour is "hot"
    # and checked every ``hot_factor`` x the tier's interval; any other waits up to the
    # ceiling (but is checked ``hot_factor`` x the interval after its next hot hour starts).
    hot_rate: float | None = None
    # p95 rule: ``hot_rate`` for particular tier intervals, as ((interval, rate), ...). Each
    # plan's p95 is its own budget (5% of *its* changes may be late), so each has its own
    # price of a late change; what share a threshold makes late depends on the plan's
    # geometry (how far the ceiling is past the target, how a burst's follow-ups fall
    # against the interval), so one threshold for all leaves budget unused on some plans.
    hot_rates: tuple[tuple[timedelta, float], ...] = ()
    hot_factor: float = 0.95
    # p95 rule: the rate is judged by the ``confidence``-sigma upper bound of its gamma
    # posterior (0: the estimate itself), so an item with little evidence is not put at
    # the ceiling on a lucky quiet streak.
    confidence: float = 1.0
    # p95 rule: plan with the posterior's "median" (``confidence`` sigmas above it) or its
    # "mean". A late change costs in proportion to the rate, so the expected cost of an
    # interval is the cost at the posterior mean: the mean ranks feed-hours by what
    # waiting will cost (the median puts a feed with no change seen 2.2x lower than the
    # mean does, one with one change seen 1.3x: it favours the never-changed ones).
    rate_statistic: str = "median"
    # ``rate_statistic`` for particular tier intervals, as ((interval, statistic), ...).
    rate_statistics: tuple[tuple[timedelta, str], ...] = ()
    # Relative change intensity by the item's local hour (24 values, mean 1), used with the
    # ``local_hour`` of the kind's signal; None: flat.
    daily_profile: tuple[float, ...] | None = None
    # How often dispatch runs for the kind's tiers (its ``TierSpec.dispatch_every``): the
    # grid the p95 rule's intervals are whole steps of. None: the engine's default period.
    dispatch_every: timedelta | None = None
    # ``dispatch_every`` for particular tier intervals, as ((interval, period), ...): a
    # tier whose busy interval is only a few grid steps wastes a share of its checks to the
    # grid (5 minutes on a 1-minute grid: the busy interval is 4 minutes, 0.8x).
    dispatch_periods: tuple[tuple[timedelta, timedelta], ...] = ()
    # p95 rule, online calibration (``calibrate``): each (kind, tier) moves its threshold so
    # that the engine's own estimate of the share of changes seen later than the target
    # (``late_evidence``, decayed over ``calibration_memory``) stays at ``late_target``:
    # more late, a lower threshold (more item-hours busy). It starts at ``hot_threshold``
    # and stays within ``calibration_span`` times it either way. None: thresholds are fixed.
    late_target: float | None = None
    # ``late_target`` for particular tier intervals, as ((interval, target), ...).
    late_targets: tuple[tuple[timedelta, float], ...] = ()
    calibration_memory: timedelta = timedelta(days=1)
    # Log-threshold moved per hour at a relative error of 1 (share 0 or twice the target).
    calibration_gain: float = 0.05
    calibration_span: float = 4.0
    # Fewer (decayed) changes than this say too little: the threshold stays where it is.
    calibration_min_changes: float = 20.0
    # Cold start: an item adds evidence only once it has this many (decayed) checks, so
    # items still learning their rate (their late share is high while the estimate is
    # young) do not pull the threshold down for the settled ones. Kept low enough that an
    # item at the ceiling gets there (at most ``1 / (1 - e^(-ceiling/memory))``: 7.5 for a
    # day's ceiling and a week's memory), or its late changes would never count.
    calibration_min_checks: float = 0.0
    # ... and once it has watched this many (decayed) hours: a count of checks is hours on
    # the free plan but minutes on the 5-minute one (4 checks: 20 minutes, far too little
    # to tell a feed changing a few times a week from one changing daily), so learning is
    # judged in hours, the same for every plan. Reachable by every item: the decayed hours
    # watched tend to the memory (168 h for a week's), 48 h after ~56 h of watching.
    calibration_min_hours: float = 0.0
    # ``calibration_min_hours`` for particular tier intervals, as ((interval, hours), ...).
    calibration_min_hours_by: tuple[tuple[timedelta, float], ...] = ()
    # A check that saw more changes than this counts this many (one feed re-published
    # whole must not outweigh the tier's day of evidence).
    calibration_max_seen: float = 50.0
    # Dotted path to callable(item, now) -> float or Signal: the kind's own signal, a
    # multiplier of the interval (0.5: twice as often; 1.0: no opinion), and in a Signal the
    # item's local hour for ``daily_profile``. None: no signal.
    signal: str | None = None
    # Dotted path to callable([(item, now), ...]) -> [float, ...]: the same signal for many
    # items at once (one query instead of one per item); the engine uses it when set.
    signal_many: str | None = None


@dataclass(frozen=True)
class ChangeStats:
    """Decayed sums of an item's checks: n checks, x that saw a change, hours watched by
    the changed ones (c) and by the unchanged ones (u)."""

    n: float = 0.0
    x: float = 0.0
    c: float = 0.0
    u: float = 0.0

    @classmethod
    def from_json(cls, data: Mapping | None) -> ChangeStats:
        data = data or {}
        return cls(*(float(data.get(k, 0.0)) for k in ("n", "x", "c", "u")))

    def to_json(self) -> dict:
        return {k: round(getattr(self, k), 6) for k in ("n", "x", "c", "u")}


def observe(stats: ChangeStats, *, hours: float, changed: bool, memory_hours: float) -> ChangeStats:
    """The sums after one more check that watched ``hours`` since the previous check."""
    hours = max(hours, 0.0)
    keep = math.exp(-hours / memory_hours) if memory_hours > 0 else 1.0
    return ChangeStats(
        n=stats.n * keep + 1,
        x=stats.x * keep + (1 if changed else 0),
        c=stats.c * keep + (hours if changed else 0.0),
        u=stats.u * keep + (0.0 if changed else hours),
    )


def estimate_rate(stats: ChangeStats) -> float:
    """Changes per hour, by Cho & Garcia-Molina's estimator (irregular-interval form); 0.0
    with no checks or no change seen."""
    if stats.n <= 0 or stats.x <= 0 or stats.c <= 0:
        return 0.0
    half = (stats.c + stats.u) / stats.n / 2
    return math.log((stats.c + stats.u + half) / (stats.u + half)) / (stats.c / stats.x)


def naive_rate(stats: ChangeStats) -> float:
    """Changed checks per hour watched: biased low for items that change between checks
    more than once (kept for comparison, in tests and the bench)."""
    watched = stats.c + stats.u
    return stats.x / watched if watched > 0 else 0.0


def bounds(base: timedelta, policy: Adaptive) -> tuple[timedelta, timedelta]:
    """(shortest, longest) interval allowed for a tier interval ``base``."""
    floor = base / policy.floor_factor
    ceiling = max(base, min(base * policy.ceiling_factor, policy.longest))
    return floor, ceiling


@dataclass(frozen=True)
class Signal:
    """What a kind's signal may return instead of a bare multiplier: the multiplier of the
    interval (``factor``) and the item's local time of day in hours (``local_hour``, for the
    policy's ``daily_profile``; None: unknown)."""

    factor: float = 1.0
    local_hour: float | None = None


def as_signal(value: float | Signal | None) -> Signal:
    """A kind signal's return value as a Signal (a number is a bare multiplier)."""
    if isinstance(value, Signal):
        return value
    return Signal(factor=1.0 if value is None else float(value))


def profile_factor(policy: Adaptive, local_hour: float | None) -> float:
    """The daily profile's relative intensity at ``local_hour`` (1.0 without either)."""
    if policy.daily_profile is None or local_hour is None:
        return 1.0
    profile = policy.daily_profile
    return profile[int(local_hour % 24 * len(profile) / 24) % len(profile)]


def allocate(
    rate: float | None,
    *,
    base: timedelta,
    policy: Adaptive,
    changed: bool = False,
    signal: float | Signal = 1.0,
    threshold: float | None = None,
) -> timedelta:
    """The interval until the next check of an item changing ``rate`` times per hour
    (None: not known yet, the tier's interval ``base``), by the policy's rule, shortened
    after a change and by the kind's ``signal``, within ``bounds``. ``threshold``: the p95
    rule's threshold when calibrated (``calibrate``), else ``hot_threshold``'s."""
    signal = as_signal(signal)
    if policy.rule == "p95":
        interval = _p95_interval(
            rate, base=base, policy=policy, local_hour=signal.local_hour, threshold=threshold
        )
        if changed:
            interval = min(interval, hot_interval(base, policy)) * policy.after_change
    else:
        interval = _sqrt_interval(rate, base=base, policy=policy, local_hour=signal.local_hour)
        if changed:
            interval *= policy.after_change
    if signal.factor and signal.factor > 0:
        interval *= signal.factor
    floor, ceiling = bounds(base, policy)
    return min(max(interval, floor), ceiling)


def _sqrt_interval(
    rate: float | None, *, base: timedelta, policy: Adaptive, local_hour: float | None
) -> timedelta:
    """The square-root rule: ``base * sqrt(reference / rate)`` (rate by the hour's profile)."""
    if rate is None:
        return base
    rate *= profile_factor(policy, local_hour)
    if rate <= 0:
        return bounds(base, policy)[1]
    return base * math.sqrt(reference_rate(base, policy) / rate)


def _p95_interval(
    rate: float | None,
    *,
    base: timedelta,
    policy: Adaptive,
    local_hour: float | None,
    threshold: float | None = None,
) -> timedelta:
    """The interval, among the dispatch grid's steps within the bounds, with the least cost
    per hour: one check, plus the expected changes it would see later than the target
    (``hot_factor`` x ``base``: a change in the first ``interval - target`` hours waits
    longer), priced so that an item-hour of intensity ``hot_rate`` is indifferent between
    the target and the ceiling. For a steady rate this is all or nothing: the largest step
    within the target above ``hot_rate``, the ceiling below (``allocate_p95`` in the module
    docstring); with a daily profile a quiet night is waited out up to its busy morning."""
    if rate is None:
        return base
    tick = dispatch_tick(base, policy).total_seconds() / 3600
    target = base.total_seconds() / 3600 * policy.hot_factor
    price = 1 / ((threshold or hot_threshold(base, policy)) * target)
    best, best_cost = None, math.inf
    late, counted = 0.0, 0.0  # expected late changes, over the first ``counted`` hours
    for hours in _candidate_steps(base, policy, tick, target, local_hour):
        if hours - target > counted:
            at = None if local_hour is None else local_hour + counted
            late += expected_changes(rate, policy, at, hours - target - counted)
            counted = hours - target
        cost = (1 + price * late) / hours
        if cost < best_cost * (1 - 1e-9):
            best, best_cost = hours, cost
    # Half a step early: due just before the dispatch run that should pick it up.
    return timedelta(hours=max(best - tick / 2, tick / 2))


def _candidate_steps(
    base: timedelta, policy: Adaptive, tick: float, target: float, local_hour: float | None
) -> list[float]:
    """The dispatch steps (hours, increasing) that can cost least. The expected late
    changes grow linearly in the interval between breakpoints (the target, then each
    change of the profile's hour), so there the cost per hour ``(a + b I) / I`` is monotone
    and its least is at the first or the last step: those, and the bounds' own steps, are
    the only candidates (at most ~50 for a day's profile, whatever the grid's fineness)."""
    floor, ceiling = (b.total_seconds() / 3600 for b in bounds(base, policy))
    first = max(1, math.ceil(floor / tick - 1e-9))
    last = max(first, int(ceiling / tick + 1e-9))
    breaks = [target]
    if policy.daily_profile is not None and local_hour is not None:
        step = 24 / len(policy.daily_profile)
        edge = (math.floor(local_hour / step + 1e-9) + 1) * step - local_hour
        while target + edge < ceiling:
            breaks.append(target + edge)
            edge += step
    steps = {first, last}
    for at in breaks:
        for step in (math.floor(at / tick + 1e-9), math.ceil(at / tick - 1e-9)):
            if first <= step <= last:
                steps.add(step)
    return [step * tick for step in sorted(steps)]


def hot_threshold(base: timedelta, policy: Adaptive) -> float:
    """The p95 rule's threshold (changes per hour) for a tier of interval ``base``: its entry
    in ``hot_rates``, else ``hot_rate``, else the kind's reference rate."""
    rate = by_tier(policy.hot_rates, base, policy.hot_rate)
    return rate if rate is not None else reference_rate(base, policy)


def hot_interval(base: timedelta, policy: Adaptive) -> timedelta:
    """The p95 rule's busy interval: the dispatch grid's largest step within ``hot_factor`` x
    ``base``, half a step early (due just before the run that serves it)."""
    tick = dispatch_tick(base, policy)
    steps = max(1, math.floor(base * policy.hot_factor / tick + 1e-9))
    return tick * (steps - 0.5)


def expected_changes(
    rate: float, policy: Adaptive, local_hour: float | None, hours: float
) -> float:
    """Changes expected in the next ``hours`` of an item changing ``rate`` times per hour on
    average, by the daily profile from ``local_hour`` on."""
    if policy.daily_profile is None or local_hour is None:
        return rate * hours
    total, at, left = 0.0, local_hour, hours
    while left > 1e-12:
        span = min(left, math.floor(at) + 1 - at)
        total += rate * profile_factor(policy, at) * span
        at, left = at + span, left - span
    return total


def dispatch_tick(base: timedelta, policy: Adaptive | None = None) -> timedelta:
    """How often dispatch runs for a tier of interval ``base``: the kind's own period when
    its policy says (``Adaptive.dispatch_periods`` for this interval, else
    ``Adaptive.dispatch_every``: as its tiers' ``TierSpec.dispatch_every``),
    else ``Tier.dispatch_period``'s default, a tenth of the interval between one and fifteen
    minutes. A due time is served at the first run at or after it, so intervals are in
    effect whole steps of this."""
    if policy is not None:
        period = by_tier(policy.dispatch_periods, base, policy.dispatch_every)
        if period:
            return period
    return max(timedelta(minutes=1), min(timedelta(minutes=15), base / 10))


def upper_rate(stats: ChangeStats, confidence: float) -> float:
    """A cautious change rate: the ``confidence``-sigma upper bound of the gamma posterior
    of the rate (Jeffreys prior: x + 1/2 changed checks over the hours watched, by the
    Wilson-Hilferty cube-root approximation), times Cho & Garcia-Molina's correction of
    the naive rate (estimate / naive) when a change was seen."""
    watched = stats.c + stats.u
    if watched <= 0:
        return 0.0
    shape = stats.x + 0.5
    cube = 1 - 1 / (9 * shape) + confidence / (3 * math.sqrt(shape))
    return shape * max(cube, 0.0) ** 3 / watched * _correction(stats)


def planning_rate(
    stats: ChangeStats, policy: Adaptive, base: timedelta | None = None
) -> float | None:
    """The rate the allocation plans with: None while fewer than ``policy.min_checks``
    checks are known; the estimate for the square-root rule; for the p95 rule, by the
    statistic of the tier of interval ``base`` (``rate_statistics``, else
    ``rate_statistic``): the posterior mean, or its cautious upper bound (``upper_rate``)."""
    rate = known_rate(stats, policy)
    if rate is None or policy.rule != "p95":
        return rate
    if by_tier(policy.rate_statistics, base, policy.rate_statistic) == "mean":
        return posterior_mean_rate(stats)
    return upper_rate(stats, policy.confidence)


def by_tier(table: tuple, base: timedelta | None, default):
    """A per-tier policy table's entry for the tier of interval ``base``, else ``default``."""
    for interval, value in table:
        if interval == base:
            return value
    return default


def posterior_mean_rate(stats: ChangeStats) -> float:
    """The mean of the rate's gamma posterior (Jeffreys prior: x + 1/2 changed checks over
    the hours watched), times Cho & Garcia-Molina's correction of the naive rate, as
    ``upper_rate``."""
    watched = stats.c + stats.u
    if watched <= 0:
        return 0.0
    return (stats.x + 0.5) / watched * _correction(stats)


def _correction(stats: ChangeStats) -> float:
    """Cho & Garcia-Molina's correction of the naive rate (estimate / naive; 1 before a
    change is seen)."""
    naive = naive_rate(stats)
    return estimate_rate(stats) / naive if naive > 0 else 1.0


def reference_rate(base: timedelta, policy: Adaptive) -> float:
    """Changes per hour at which an item keeps the tier's interval ``base``."""
    if policy.reference_rate:
        return policy.reference_rate
    return 3600 / (base.total_seconds() * policy.keep_at)


# Waking hours: channel calendars change mostly while people are awake (bookings, edits).
# With ~90% of changes between 08:00 and 22:00 local time, the rate is ~1.5x the day's
# mean by day and ~0.25x by night; the square-root rule turns that into intervals of
# 1/sqrt(those): ~0.8x by day and ~2x by night.
WAKING_HOURS = (8, 22)
WAKING_FACTOR = 0.8
SLEEPING_FACTOR = 2.0


def waking_hours_factor(local_hour: int) -> float:
    """A kind signal's share for the time of day in the item's own zone: 0.8 (checked a
    little more often) from 08:00 to 22:00, 2.0 (half as often) at night."""
    start, end = WAKING_HOURS
    return WAKING_FACTOR if start <= local_hour < end else SLEEPING_FACTOR


def known_rate(stats: ChangeStats, policy: Adaptive) -> float | None:
    """The estimate, or None while fewer than ``policy.min_checks`` checks are known (the
    count is decayed: three recent checks count a little under 3, hence the half)."""
    return estimate_rate(stats) if stats.n >= policy.min_checks - 0.5 else None


def late_evidence(
    rate: float,
    *,
    base: timedelta,
    policy: Adaptive,
    hours: float,
    changed: bool,
    local_hour: float | None = None,
    seen: float | None = None,
    checks: float | None = None,
    watched: float | None = None,
) -> tuple[float, float]:
    """What one check tells about the p95 rule's late share: (changes, late), the changes
    it saw and those of them seen later than the target (``hot_factor`` x ``base``), in
    expectation given what it saw. A check that saw none adds nothing, nor does one of an
    item with fewer than ``calibration_min_checks`` (decayed) ``checks`` or fewer than
    ``calibration_min_hours`` (decayed) hours ``watched`` (still learning; None: not
    known; ``calibration_min_hours_by`` per tier). ``seen``: how many changes the check saw
    (a calendar import's changed events; at most ``calibration_max_seen``), each late with
    the chance that it fell in the interval's first ``hours - target`` hours:
    ``L_late / L``, ``L`` the changes expected over the interval at ``rate`` by the daily
    profile (ending at ``local_hour``), so the rate only shapes where in the interval a
    change fell. Unknown (None or 0): by the rate, ``L / (1 - e^-L)`` changes of which
    ``L_late / (1 - e^-L)`` late.

    Conditioned on the observation, not on the rate alone: an item put at the ceiling
    because its estimate is low mostly has a true rate above it (that is why it was
    picked), so the rate alone would underestimate the late changes the rule causes; a
    check that saw a change after a long wait counts it, whatever the estimate. Counted,
    the changes of a burst count one by one whether short checks saw them one at a time
    or one long wait saw them at once; by the rate a long wait counts a burst about once,
    which biased the share by plan (0.8x-1.4x the true one on bench/adaptive.py)."""
    if not changed or hours <= 0:
        return 0.0, 0.0
    if checks is not None and checks < policy.calibration_min_checks:
        return 0.0, 0.0
    min_hours = by_tier(policy.calibration_min_hours_by, base, policy.calibration_min_hours)
    if watched is not None and watched < min_hours:
        return 0.0, 0.0
    start = None if local_hour is None else local_hour - hours
    rate = max(rate, 1e-9)
    expected = expected_changes(rate, policy, start, hours)
    late_hours = hours - base.total_seconds() / 3600 * policy.hot_factor
    late = expected_changes(rate, policy, start, late_hours) if late_hours > 0 else 0.0
    if seen is not None and seen >= 1:
        seen = min(float(seen), policy.calibration_max_seen)
        return seen, seen * (late / expected if expected > 0 else 0.0)
    observed = -math.expm1(-expected)
    if observed <= 0:
        return 1.0, 0.0
    return expected / observed, late / observed


def late_target(base: timedelta, policy: Adaptive) -> float | None:
    """The calibration's target for a tier of interval ``base``: its entry in
    ``late_targets``, else ``late_target`` (None: no calibration)."""
    return by_tier(policy.late_targets, base, policy.late_target)


@dataclass(frozen=True)
class Calibration:
    """One (kind, tier)'s calibrated threshold (None: not moved yet, ``hot_threshold``'s)
    and the decayed totals of ``late_evidence`` it was moved by."""

    threshold: float | None = None
    late: float = 0.0
    changes: float = 0.0

    @property
    def share(self) -> float | None:
        return self.late / self.changes if self.changes > 0 else None


def calibrate(
    state: Calibration,
    *,
    late: float,
    changes: float,
    hours: float,
    base: timedelta,
    policy: Adaptive,
) -> Calibration:
    """The tier's calibration after ``hours`` more, in which its checks added ``late`` and
    ``changes`` (sums of ``late_evidence``). The totals decay by ``exp(-hours/memory)``;
    then, with at least ``calibration_min_changes`` known, the threshold moves by
    ``exp(gain x hours x (target - share) / target)`` (the relative error capped at 1
    either way, so one burst of late changes cannot swing it): more late changes than the
    target, a lower threshold: an integral controller on the decayed share, at a pace set
    per hour so the engine may call it as often as it likes (its dispatch runs: every
    minute or half minute; bench/adaptive.py: every simulated hour). The pace is slow on
    purpose: a threshold moved now shows in the late share up to a ceiling later (a day
    on the free plan), and the share is itself a day's average, so a faster loop swings
    (0.04 an hour undershot on bench/adaptive.py's seeds 1-2). It stays within
    ``calibration_span`` times ``hot_threshold`` either way. Without a target (``late_target``
    and ``late_targets``) only the totals move."""
    start = hot_threshold(base, policy)
    threshold = state.threshold or start
    memory = policy.calibration_memory.total_seconds() / 3600
    keep = math.exp(-max(hours, 0.0) / memory) if memory > 0 else 0.0
    total_late = state.late * keep + max(late, 0.0)
    total = state.changes * keep + max(changes, 0.0)
    target = late_target(base, policy)
    if target and total >= policy.calibration_min_changes and hours > 0:
        error = max(-1.0, min(1.0, (target - total_late / total) / target))
        threshold *= math.exp(policy.calibration_gain * hours * error)
        span = max(policy.calibration_span, 1.0)
        threshold = min(max(threshold, start / span), start * span)
    return Calibration(threshold=threshold, late=total_late, changes=total)
